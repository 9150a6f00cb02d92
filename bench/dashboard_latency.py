"""Dashboard latency at 100,000 documents: gunicorn with 4 workers, 8 concurrent logged-in
clients, p50/p95/p99 of the pages a merchant watches while exports run, and the SQL statements
each page makes at two data sizes (they must not grow with the row count: asserted). "alone"
is one request at a time in-process (no queueing): its time, the part spent in SQL and the app's
CPU, which say where a page's time goes when the percentiles miss.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/x .venv/bin/python bench/dashboard_latency.py
    .venv/bin/python bench/dashboard_latency.py --quick       # 2,000 documents, SQLite unless DATABASE_URL

With DATABASE_URL set, the data goes to that server's `invoice_bridge_bench` database (created
when missing, its schema replaced). Rows are written with COPY (PostgreSQL) or executemany.
Writes bench/results/dashboard_latency[-quick].json; exits 1 when statements per request grow."""
from __future__ import annotations

import argparse
import random
import re
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    Bench,
    bench_env,
    load_average,
    logged_in_session,
    percentiles,
    seed_documents,
    start_gunicorn,
    write_results,
)

INTEGRATIONS = 20
PER_PAGE = 25  # the export section's page size
CHUNK = 10_000  # documents seeded per bulk round
# Most documents are done; some still move (their status fragment polls every second).
STATES = ("fetched",) * 16 + ("queued", "retrying", "rejected", "in_doubt")
TARGET_P95_MS = 50


def seed(merchant_id: int, integration_ids: list[int], documents: int, journal: int) -> None:
    while documents > 0:
        count = min(CHUNK, documents)
        seed_documents(merchant_id, count, integration_ids=integration_ids, export_state=STATES,
                       journal_rows=journal * count // documents, prefix=f"D{time.monotonic_ns()}")
        journal -= journal * count // documents
        documents -= count


def pages(integration_id: int, export_ids: list[int], deep_page: int, deep_cursor: int) -> dict[str, object]:
    """Page name → URL (or a function of the request number, for the status of many exports).
    The deep page twice: as the section's "next" links reach it (after the cursor row ending the
    page above it) and by its number (OFFSET, as links from before the cursors ask)."""
    return {
        "export section, first page": f"/integrations/{integration_id}/exports",
        f"export section, page {deep_page}": f"/integrations/{integration_id}/exports?page={deep_page}",
        f"export section, page {deep_page} by cursor": f"/integrations/{integration_id}/exports?after={deep_cursor}",
        "export status fragment": lambda n: f"/integrations/exports/{export_ids[n % len(export_ids)]}/status",
        "order list": "/orders/",
        "capability matrix": "/integrations/capabilities",
    }


def url_of(target, n: int) -> str:
    return target(n) if callable(target) else target


def in_process(email: str, password: str, targets: dict, repeat: int = 1) -> dict[str, dict]:
    """Per page, in a separate in-process app (test client, real login form with its CSRF token):
    the SQL statements one request makes (a before_cursor_execute listener) and, over `repeat`
    requests one at a time, the median time, the time inside SQL and the app's CPU per request:
    what a request costs without queueing behind others."""
    from sqlalchemy import event

    from webapp import create_app
    from webapp.extensions import db

    app = create_app()
    with app.app_context():
        engine = db.engine
    statements: list[float] = []

    def before(_conn, _cursor, _statement, _params, context, _many):
        context.bench_started = time.perf_counter()

    def after(_conn, _cursor, _statement, _params, context, _many):
        statements.append(time.perf_counter() - context.bench_started)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    figures = {}
    try:
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
        if response.status_code != 302:
            raise RuntimeError(f"in-process login failed: HTTP {response.status_code}")
        for name, target in targets.items():
            client.get(url_of(target, 0))  # warm caches (templates, first-use queries)
            walls, sqls, counts, cpu_started = [], [], [], time.process_time()
            for n in range(repeat):
                statements.clear()
                started = time.perf_counter()
                response = client.get(url_of(target, n + 1))
                walls.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{name}: HTTP {response.status_code}")
                sqls.append(sum(statements) * 1000)
                counts.append(len(statements))
            figures[name] = {"statements": max(counts), "ms": sorted(walls)[len(walls) // 2],
                             "sql ms": sorted(sqls)[len(sqls) // 2],
                             "cpu ms": (time.process_time() - cpu_started) * 1000 / repeat}
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        with app.app_context():
            db.engine.dispose()
    return figures


def measure(base_url: str, email: str, password: str, targets: dict, requests_per_page: int,
            concurrency: int) -> dict[str, list[float]]:
    """Each page in turn, `requests_per_page` times by `concurrency` threads with their own
    logged-in session; latency in ms as the client sees it."""
    sessions = [logged_in_session(base_url, email, password) for _ in range(concurrency)]
    samples: dict[str, list[float]] = {}
    for name, target in targets.items():
        for n in range(concurrency * 2):  # warm every gunicorn worker
            sessions[n % concurrency].get(base_url + url_of(target, n), timeout=60)
        samples[name] = hammer(base_url, sessions, name, target, requests_per_page)
    return samples


def hammer(base_url: str, sessions: list, name: str, target, count: int) -> list[float]:
    """`count` requests of one page shared out among the sessions' threads."""
    latencies: list[float] = []
    numbers = iter(range(count))
    lock = threading.Lock()
    errors: list[str] = []

    def client(session):
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            started = time.perf_counter()
            response = session.get(base_url + url_of(target, n), timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                if response.status_code != 200:
                    errors.append(f"{name}: HTTP {response.status_code}")

    threads = [threading.Thread(target=client, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--journal", type=int, default=500_000)
    parser.add_argument("--small-documents", type=int, default=1_000,
                        help="first data size for the statements check (≥ 2 full pages per integration)")
    parser.add_argument("--requests", type=int, default=400, help="per page")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--gunicorn-workers", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="CI variant: 2,000 documents, 10,000 journal rows")
    args = parser.parse_args()
    if args.quick:
        args.documents, args.journal, args.requests = 2_000, 10_000, 24
    name = "dashboard_latency-quick" if args.quick else "dashboard_latency"
    small = min(args.small_documents, args.documents // 2)

    with Bench(name, env=bench_env()) as bench:
        from providers import PROVIDERS
        from tests.conftest import PASSWORD, gen_merchant
        from webapp.exports.services import create_integration
        from webapp.extensions import db
        from webapp.models import Export

        user = gen_merchant("Dashboard")
        email, merchant_id = user.email, user.merchant_id
        keys = list(PROVIDERS)
        integration_ids = [create_integration(merchant_id, keys[n % len(keys)], f"Konto {n + 1}", {"api_key": "x"},
                                              auto_export=False, send_sku=n % 2 == 0).id
                           for n in range(INTEGRATIONS)]
        watched = integration_ids[0]

        def targets_now():
            total = db.session.scalar(db.select(db.func.count(Export.id)).where(Export.integration_id == watched))
            export_ids = db.session.scalars(db.select(Export.id).where(Export.integration_id == watched)
                                            .order_by(Export.id.desc()).limit(500)).all()
            random.Random(7).shuffle(export_ids)
            deep_page = max(2, total // PER_PAGE)
            # The section lists documents (with their export): its cursor is a document id.
            deep_cursor = db.session.scalar(db.select(Export.document_id).where(Export.integration_id == watched)
                                            .order_by(Export.document_id.desc())
                                            .offset((deep_page - 1) * PER_PAGE - 1).limit(1))
            return pages(watched, export_ids, deep_page, deep_cursor), total

        started = time.monotonic()
        seed(merchant_id, integration_ids, small, args.journal * small // args.documents)
        small_targets, _ = targets_now()
        counts_small = [f["statements"] for f in in_process(email, PASSWORD, small_targets).values()]
        seed(merchant_id, integration_ids, args.documents - small,
             args.journal - args.journal * small // args.documents)
        seconds_seeding = round(time.monotonic() - started, 1)
        with db.engine.begin() as conn:  # planner statistics for the bulk-loaded rows, as autovacuum would
            conn.exec_driver_sql("ANALYZE")
        targets, per_integration = targets_now()
        alone = in_process(email, PASSWORD, targets, repeat=5 if args.quick else 20)

        _, base_url = start_gunicorn(bench, workers=args.gunicorn_workers)
        samples = measure(base_url, email, PASSWORD, targets, args.requests, args.concurrency)

        rows, growing = [], []
        for position, (page_name, latencies) in enumerate(samples.items()):
            p = percentiles(latencies)
            statements_small, figures = counts_small[position], alone[page_name]
            if figures["statements"] != statements_small:
                growing.append(page_name)
            rows.append({"page": page_name, "requests": len(latencies), "p50 ms": round(p[50], 1),
                         "p95 ms": round(p[95], 1), "p99 ms": round(p[99], 1),
                         f"p95 ≤ {TARGET_P95_MS} ms": "yes" if p[95] <= TARGET_P95_MS else "NO",
                         "alone ms": round(figures["ms"], 1), "alone SQL ms": round(figures["sql ms"], 1),
                         "app CPU ms": round(figures["cpu ms"], 1),
                         f"SQL at {small:,} docs": statements_small,
                         f"SQL at {args.documents:,} docs": figures["statements"]})
        summary = {"database": db.engine.dialect.name, "documents": args.documents, "journal rows": args.journal,
                   "integrations": INTEGRATIONS, "exports in the watched integration": per_integration,
                   "gunicorn workers": args.gunicorn_workers, "concurrency": args.concurrency,
                   "seeding s": seconds_seeding, "load average at the end": load_average(),
                   "statements per request constant": not growing, "pages whose statements grow": growing}
        write_results(name, rows, summary)
        if growing:
            print(f"FAIL: SQL statements per request grow with the data: {', '.join(growing)}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
