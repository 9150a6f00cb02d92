"""Shared set-up for benchmarks and the chaos run: a private Redis, the sandbox, a migrated
database, worker processes, and the results writer (JSON + Markdown table)."""
from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Self

import redis

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateRedis:
    """A redis-server on a loopback port that keeps nothing on disk, so a restart loses all."""

    def __init__(self, folder: Path):
        from webapp.redis_conn import _redis_server_binary

        self.binary, self.folder, self.port = _redis_server_binary(), folder, free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def restart_empty(self) -> None:
        self.kill()
        self.start()


class Bench:
    """Everything a run needs; use as a context manager."""

    def __init__(self, name: str, env: dict[str, str] | None = None):
        self.name = name
        self.folder = Path(os.environ.get("BENCH_TMP") or f"/tmp/ib-bench-{name}-{os.getpid()}")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.stack = ExitStack()
        self.redis = PrivateRedis(self.folder)
        # Never the configured database itself: a benchmark drops and rebuilds its schema.
        self.database_url = bench_database_url(name) or f"sqlite:///{self.folder / 'bench.sqlite3'}"
        self.env = {"INSTANCE_PATH": str(self.folder), "DATABASE_URL": self.database_url, "SECRET_KEY": "bench",
                    "LOG_LEVEL": "WARNING", **(env or {})}
        self.workers: list[subprocess.Popen] = []

    def __enter__(self) -> Self:
        from tests.sandbox_server import running_sandbox

        self.redis.start()
        self.env["REDIS_URL"] = self.redis.url
        self.sandbox_url = self.stack.enter_context(running_sandbox(self.folder / "sandbox.sqlite3"))
        os.environ.update(self.env)
        from webapp import create_app

        self.app = create_app({"INSTANCE_PATH": str(self.folder)})
        self.context = self.app.app_context()
        self.context.push()
        self._migrate()
        return self

    def _migrate(self) -> None:
        from flask_migrate import upgrade
        from sqlalchemy import text

        from webapp.extensions import db

        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade(directory=str(REPO / "migrations"))

    def start_worker(self) -> subprocess.Popen:
        # The child keeps its own copy of the log's descriptor: ours can close at once.
        with open(self.folder / "workers.log", "ab") as log:
            process = subprocess.Popen([sys.executable, str(REPO / "worker.py")], cwd=REPO,
                                       env={**os.environ, **self.env}, stdout=subprocess.DEVNULL, stderr=log)
        self.workers.append(process)
        return process

    def stop_workers(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        for process in self.workers:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.workers = []

    def __exit__(self, *exc) -> None:
        self.stop_workers()
        self.context.pop()
        self.stack.close()
        self.redis.kill()

    def sandbox(self, method: str, path: str, **kwargs):
        import requests

        response = requests.request(method, f"{self.sandbox_url}{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None


def write_results(name: str, rows: list[dict], summary: dict) -> None:
    """bench/results/<name>.json and a Markdown table printed to stdout."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"name": name, "machine": machine(), "summary": summary, "rows": rows}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
    print(markdown_table(rows))
    print()
    for key, value in summary.items():
        print(f"- {key}: {value}")


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(row.get(h, "")) for h in headers) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> dict:
    import platform

    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


# --- helpers for the benchmark scripts (export throughput, limits, dashboard, bulk, memory) ------

BENCH_DATABASE = "invoice_bridge_bench"


def bench_database_url(suffix: str = "") -> str | None:
    """With DATABASE_URL pointing at PostgreSQL: the same server's `invoice_bridge_bench`
    database (created when missing), so a benchmark never drops the schema of the app's or the
    tests' database. None means SQLite (the harness default)."""
    url = os.environ.get("DATABASE_URL") or ""
    if not url.startswith(("postgres://", "postgresql://", "postgresql+psycopg://")):
        return None
    from sqlalchemy.engine import make_url

    name = BENCH_DATABASE + (f"_{suffix}".replace("-", "_") if suffix else "")  # one per benchmark: they may run at once
    target = make_url(url.replace("postgres://", "postgresql://", 1)).set(database=name)
    import psycopg

    admin = target.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return target.set(drivername="postgresql").render_as_string(hide_password=False)


def bench_env(**extra: str) -> dict[str, str]:
    """Environment for Bench(): the bench database when PostgreSQL is configured."""
    return dict(extra)  # Bench picks its own database (bench_database_url)


def noop() -> None:
    """An RQ job that does nothing: the queue's own ceiling."""


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (RQ's scheduler runs in a child of the worker)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes and their descendants, from /proc/<pid>/stat."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in {p for root in pids for p in process_tree(root)}:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_queue_worker(bench: Bench, *queues: str) -> subprocess.Popen:
    """A worker on the given queues only (e.g. "default": runs Export all, leaves exports queued)."""
    with open(bench.folder / "workers.log", "ab") as log:  # the child keeps its own copy
        process = subprocess.Popen([sys.executable, str(REPO / "worker.py"), *queues], cwd=REPO,
                                   env={**os.environ, **bench.env}, stdout=subprocess.DEVNULL, stderr=log)
    bench.workers.append(process)
    return process


def wait_for_workers(bench: Bench, count: int, timeout: float = 60) -> None:
    """Until `count` RQ workers have registered (booted, app imported): CPU measured from here on
    is work, not start-up."""
    from rq import Worker

    conn = redis.Redis.from_url(bench.redis.url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(Worker.all(connection=conn)) == count:
            time.sleep(0.3)
            return
        if any(w.poll() is not None for w in bench.workers):
            raise RuntimeError(f"a worker exited; see {bench.folder / 'workers.log'}")
        time.sleep(0.1)
    raise RuntimeError(f"{count} workers did not register in {timeout} s; see {bench.folder / 'workers.log'}")


def enqueue_exports(export_ids: list[int], generation: int = 0) -> None:
    """Queue export jobs exactly as enqueue_export() names them, in pipelined batches (the set-up
    of a throughput run must not take longer than the run)."""
    from flask import current_app
    from rq import Queue

    from webapp.exports.jobs import run_export
    from webapp.exports.services import EXPORT_QUEUE
    from webapp.redis_conn import get_redis

    queue = Queue(EXPORT_QUEUE, connection=get_redis(current_app))
    for start in range(0, len(export_ids), 1000):
        queue.enqueue_many([
            Queue.prepare_data(run_export, (export_id,), job_id=f"export-{export_id}-{generation}", result_ttl=0,
                               failure_ttl=7 * 24 * 3600, description=f"export {export_id}")
            for export_id in export_ids[start:start + 1000]])


def enqueue_noops(count: int, queue_name: str = "default") -> None:
    from flask import current_app
    from rq import Queue

    from webapp.redis_conn import get_redis

    queue = Queue(queue_name, connection=get_redis(current_app))
    for start in range(0, count, 1000):
        queue.enqueue_many([Queue.prepare_data(noop, result_ttl=0) for _ in range(min(1000, count - start))])


def bulk_insert(table, rows: list[dict]) -> None:
    """Many rows at once: COPY on PostgreSQL, executemany on SQLite. Rows carry every column."""
    from webapp.extensions import db

    if not rows:
        return
    if db.engine.dialect.name != "postgresql":
        for start in range(0, len(rows), 20000):
            db.session.execute(table.insert(), rows[start:start + 20000])
        return
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    connection = db.session.connection().connection.driver_connection  # the psycopg connection
    quoted = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[c]) if c in json_columns and row[c] is not None else row[c]
                            for c in columns])


def _complete(table, row: dict) -> dict:
    """Fill the columns a row leaves out with their model defaults (COPY applies none)."""
    full = {}
    for column in table.columns:
        if column.name in row:
            full[column.name] = row[column.name]
        elif column.default is not None and column.default.is_scalar:
            full[column.name] = column.default.arg
        elif column.default is not None and column.default.is_callable:
            full[column.name] = column.default.arg(None)
        else:
            full[column.name] = None
    return full


def _next_id(model) -> int:
    from webapp.extensions import db

    return (db.session.scalar(db.select(db.func.max(model.id))) or 0) + 1


def _fix_sequences(*models) -> None:
    from sqlalchemy import text

    from webapp.extensions import db

    if db.engine.dialect.name == "postgresql":
        for model in models:
            name = model.__table__.name
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                                    f"(SELECT max(id) FROM \"{name}\"))"))


def seed_documents(merchant_id: int, count: int, *, integration_ids: list[int] | None = None,
                   export_state: str | tuple[str, ...] = "queued", journal_rows: int = 0,
                   prefix: str = "B", variants: int = 50) -> list[int]:
    """`count` invoices (each with its order, 3 items and 3 lines) cloned with bulk SQL from
    `variants` invoices issued the ordinary way with different prices (so every figure is what
    issuing computes, and amounts repeat as in a shop with a few best sellers); optionally an
    export row per document (round-robin over `integration_ids`; states cycle through
    `export_state`) and `journal_rows` journal lines spread over those exports. Returns the export
    ids (or the document ids without exports)."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from tests.conftest import gen_order
    from webapp.documents.numbering import format_number
    from webapp.documents.services import issue_document
    from webapp.extensions import db
    from webapp.models import (
        Document,
        DocumentLine,
        Export,
        Integration,
        JournalEntry,
        Order,
        OrderItem,
        Series,
        SeriesCounter,
    )

    now = datetime.now(UTC)
    states = (export_state,) if isinstance(export_state, str) else tuple(export_state)
    if db.session.scalar(db.select(db.func.count()).select_from(Integration).where(
            Integration.merchant_id == merchant_id, Integration.auto_export.is_(True))):
        raise RuntimeError("seed_documents: switch automatic export off before seeding")
    tables = {m: m.__table__ for m in (Order, OrderItem, Document, DocumentLine, Export, JournalEntry)}

    def rows_of(model, column, value):
        return [dict(r) for r in db.session.execute(tables[model].select().where(column == value)).mappings()]

    templates = []
    for v in range(min(variants, count)):
        items = [("Kubek „Zażółć”", "2", str(Decimal("39.99") + v * Decimal("0.37")), "23"),
                 ("Książka", "1", "49.00", "5"), ("Wysyłka", "1", "14.99", "23")]
        document = issue_document(gen_order(merchant_id, items, shop_order_id=f"{prefix}-template-{v}",
                                            ordered_at=now), "invoice", trigger="bench")
        templates.append((rows_of(Order, Order.id, document.order_id)[0],
                           rows_of(OrderItem, OrderItem.order_id, document.order_id),
                           rows_of(Document, Document.id, document.id)[0],
                           rows_of(DocumentLine, DocumentLine.document_id, document.id)))
    first = templates[0][2]
    series = db.session.get(Series, first["series_id"])
    order_id, item_id = _next_id(Order), _next_id(OrderItem)
    document_id, line_id = _next_id(Document), _next_id(DocumentLine)
    export_id, journal_id = _next_id(Export), _next_id(JournalEntry)
    first_sequence = db.session.scalar(db.select(db.func.max(Document.sequence)).where(
        Document.series_id == series.id, Document.period == first["period"])) + 1

    orders, items, documents, lines, exports, journal = [], [], [], [], [], []
    for n in range(count):
        order_row, item_rows, document_row, line_rows = templates[n % len(templates)]
        oid, did, sequence = order_id + n, document_id + n, first_sequence + n
        orders.append({**order_row, "id": oid, "shop_order_id": f"{prefix}-{n}",
                       "ordered_at": now - timedelta(seconds=count - n)})
        for item in item_rows:
            items.append({**item, "id": item_id, "order_id": oid})
            item_id += 1
        documents.append({**document_row, "id": did, "order_id": oid, "sequence": sequence,
                          "number": format_number(series.format, sequence, document_row["issue_date"])})
        for line in line_rows:
            lines.append({**line, "id": line_id, "document_id": did})
            line_id += 1
        if integration_ids:
            state = states[n % len(states)]
            remote = {"remote_id": str(did), "remote_number": f"FV {sequence}/{document_row['issue_date']:%m/%Y}",
                      "sent_at": now} if state in ("sent", "fetched") else {}
            exports.append(_complete(tables[Export], {
                "id": export_id + n, "merchant_id": merchant_id, "document_id": did,
                "integration_id": integration_ids[n % len(integration_ids)], "state": state,
                "trigger": "benchmark", "field_errors": {}, "created_at": now, "updated_at": now, **remote}))
    for n in range(journal_rows if exports else 0):
        export = exports[n % len(exports)]
        journal.append(_complete(tables[JournalEntry], {
            "id": journal_id + n, "merchant_id": merchant_id, "integration_id": export["integration_id"],
            "export_id": export["id"], "document_id": export["document_id"], "trigger": "benchmark",
            "action": ("create", "fetch", "lookup")[n % 3], "started_at": now, "duration_ms": 100,
            "request_summary": "POST /invoices.json → 201 (100 ms)", "outcome": "ok",
            "message": "Dokument utworzony w usłudze.", "next_step": "pobranie numeru i PDF"}))
    for model, rows in ((Order, orders), (OrderItem, items), (Document, documents), (DocumentLine, lines),
                        (Export, exports), (JournalEntry, journal)):
        bulk_insert(tables[model], rows)
    db.session.execute(db.update(SeriesCounter).where(SeriesCounter.series_id == series.id,
                                                      SeriesCounter.period == first["period"])
                       .values(last_number=first_sequence + count - 1))
    _fix_sequences(Order, OrderItem, Document, DocumentLine, Export, JournalEntry)
    db.session.commit()
    return [e["id"] for e in exports] if exports else [d["id"] for d in documents]


def export_states(integration_id: int | None = None) -> dict[str, int]:
    from webapp.extensions import db
    from webapp.models import Export

    db.session.rollback()
    query = db.select(Export.state, db.func.count(Export.id)).group_by(Export.state)
    if integration_id is not None:
        query = query.where(Export.integration_id == integration_id)
    return dict(db.session.execute(query).all())


def sandbox_account_stats(bench: Bench, service: str, account: str) -> dict:
    stats = bench.sandbox("GET", "/_sandbox/stats")["services"].get(service, {})
    return stats.get("accounts", {}).get(account, {"requests": 0, "writes": 0, "responses": {}, "faults": {}})


def start_gunicorn(bench: Bench, workers: int = 4, threads: int = 1) -> tuple[subprocess.Popen, str]:
    """The dashboard as production runs it, on a free port; returns (process, base URL)."""
    import requests

    port = free_port()
    with open(bench.folder / "gunicorn.log", "ab") as log:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "--workers", str(workers), "--threads", str(threads),
             "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "webapp:create_app()"],
            cwd=REPO, env={**os.environ, **bench.env}, stdout=subprocess.DEVNULL, stderr=log)
    bench.stack.callback(_stop, process)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {bench.folder / 'gunicorn.log'}")
        try:
            requests.get(f"{url}/login", timeout=10)
            return process, url
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer in 60 s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def logged_in_session(base_url: str, email: str, password: str):
    """A requests.Session logged in through the login form, CSRF token included, as a browser."""
    import re

    import requests

    session = requests.Session()
    page = session.get(f"{base_url}/login", timeout=30).text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or \
        re.search(r'name="csrf-token" content="([^"]+)"', page)
    response = session.post(f"{base_url}/login", data={"email": email, "password": password,
                                                        "csrf_token": token.group(1)},
                            allow_redirects=False, timeout=30)
    if response.status_code != 302:
        raise RuntimeError(f"login failed: HTTP {response.status_code}")
    session.csrf_token = token.group(1)
    return session


def percentiles(samples: list[float], points=(50, 95, 99)) -> dict[int, float]:
    """Nearest-rank percentiles of the samples (ms in, ms out)."""
    ordered = sorted(samples)
    if not ordered:
        return {p: 0.0 for p in points}
    return {p: ordered[min(len(ordered), max(1, math.ceil(p / 100 * len(ordered)))) - 1] for p in points}


# --- sandbox accounts per service: (sandbox account options, integration credentials, base path) ---

def connect_account(bench: Bench, merchant_id: int, service: str, name: str, *, options: dict | None = None,
                    faults: dict | None = None, **settings):
    """A fresh sandbox account of `service` and an integration of the merchant to it (automatic
    export off). `settings` go to the integration (max_concurrency, rate_requests, rate_seconds)."""
    import secrets
    from types import SimpleNamespace

    from webapp.exports.services import create_integration

    prefix, token, second = f"b{secrets.token_hex(5)}", secrets.token_hex(12), secrets.token_hex(8)
    account_options, credentials, base = {
        "fakturownia": ({}, {"api_token": token, "account_prefix": prefix}, f"/fakturownia/{prefix}"),
        "infakt": ({}, {"api_key": token}, "/infakt"),
        "ifirma": ({"login": f"{prefix}@sklep.example", "key_abonent": second},
                   {"login": f"{prefix}@sklep.example", "invoice_key": token, "subscriber_key": second},
                   "/ifirma"),
        "wfirma": ({"secret_key": f"sec-{token}", "app_key": f"app-{token}"},
                   {"access_key": token, "secret_key": f"sec-{token}", "app_key": f"app-{token}"}, "/wfirma"),
        "firmao": ({}, {"organization_id": prefix, "login": f"{prefix}.api@firmao.pl", "password": token}, "/firmao"),
        "fakturowo": ({}, {"api_id": token}, "/fakturowo"),
    }[service]
    bench.sandbox("POST", f"/_sandbox/{service}/accounts",
                  json={"prefix": prefix, "api_token": token, "options": {**account_options, **(options or {})}})
    if faults:
        bench.sandbox("PUT", f"/_sandbox/{service}/faults", json={"account": prefix, **faults})
    integration = create_integration(merchant_id, service, name, credentials, base_url=f"{bench.sandbox_url}{base}",
                                     auto_export=False, **settings)
    return SimpleNamespace(service=service, account=prefix, integration_id=integration.id)


def ensure_workers(bench: Bench, count: int) -> list[subprocess.Popen]:
    """Exactly `count` running workers, reusing those already booted (a boot costs seconds of
    CPU that a short run should not wait for)."""
    bench.workers = [w for w in bench.workers if w.poll() is None]
    while len(bench.workers) > count:
        extra = bench.workers.pop()
        extra.terminate()
        extra.wait(timeout=30)
    while len(bench.workers) < count:
        bench.start_worker()
    wait_for_workers(bench, count)
    return list(bench.workers)


def clear_queues() -> None:
    """Drop every queued and scheduled job (a timed-out run must not leak work into the next)."""
    from flask import current_app
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    from webapp.redis_conn import get_redis

    conn = get_redis(current_app)
    for name in ("exports", "fetch", "default"):
        queue = Queue(name, connection=conn)
        queue.empty()
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_job_ids():
            registry.remove(job_id, delete_job=True)


def sandbox_pid(bench: Bench) -> int | None:
    """The sandbox server's process (found by its port), to read its CPU time."""
    port = bench.sandbox_url.rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"providers.sandbox" in argv and port.encode() in argv:
                return int(entry.name)
    return None


def load_average() -> str:
    """The machine's 1/5/15-minute load while a run ends: other work on the box skews timings."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())
