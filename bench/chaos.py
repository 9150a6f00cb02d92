"""Chaos run: exports under worker kills, service faults and a Redis restart must end with every
document fetched (or rejected with a reason) and exactly one copy of each at the service.

    .venv/bin/python bench/chaos.py               # 2,000 documents, 3 workers
    .venv/bin/python bench/chaos.py --quick       # the CI variant: 200 documents
    DATABASE_URL=postgresql://… bench/chaos.py --restart-postgres

Prints the figures and writes bench/results/chaos[-quick].json; exits 1 on any duplicate or loss."""
from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Bench, write_results

FAULTS = {"error_5xx": 0.10, "rate_429": 0.05, "retry_after": 1, "timeout_after_store": 0.05, "hold_seconds": 3,
          "reset": 0.02}
TUNING = {"PROVIDER_TIMEOUT": "2,2", "EXPORT_SEND_LEASE": "4", "EXPORT_IN_DOUBT_GRACE": "1", "SWEEP_INTERVAL": "2",
          "BREAKER_THRESHOLD": "8", "BREAKER_COOLDOWN": "2", "EXPORT_BACKOFF_BASE": "0.5", "EXPORT_BACKOFF_CAP": "5"}


def issue_documents(merchant_id: int, integration_id: int, count: int) -> list[int]:
    """Invoices with their outbox rows, written the way issuing writes them (batch commits)."""
    from tests.conftest import gen_order
    from webapp.documents.services import issue_document
    from webapp.exports.services import enqueue_export
    from webapp.extensions import db
    from webapp.models import Export, Integration

    integration = db.session.get(Integration, integration_id)
    integration.auto_export = False
    db.session.commit()
    ids, exports = [], []
    for n in range(count):
        document = issue_document(gen_order(merchant_id, shop_order_id=f"C-{n}"), "invoice", trigger="chaos")
        export = Export(merchant_id=merchant_id, document=document, integration=integration, state="queued",
                        trigger="chaos", field_errors={})
        db.session.add(export)
        exports.append(export)
        ids.append(document.id)
    db.session.commit()
    for export in exports:
        enqueue_export(export)
    return ids


def states() -> Counter:
    from sqlalchemy.exc import DBAPIError

    from webapp.extensions import db
    from webapp.models import Export

    for _ in range(60):  # the database may be restarting: reconnect and ask again
        try:
            db.session.rollback()
            return Counter(dict(db.session.execute(db.select(Export.state, db.func.count(Export.id))
                                                   .group_by(Export.state)).all()))
        except DBAPIError:
            db.session.remove()
            time.sleep(1)
    raise RuntimeError("database did not come back")


def restart_postgres() -> bool:
    cluster = shutil.which("pg_ctlcluster")
    if not cluster or os.geteuid() != 0:
        return False
    version = min(os.listdir("/etc/postgresql"))
    subprocess.run([cluster, "--skip-systemctl-redirect", version, "main", "restart"], check=True,
                   capture_output=True)
    return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="CI variant: 200 documents")
    parser.add_argument("--restart-postgres", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    if args.quick:
        args.documents, args.timeout = 200, 240
    rng = random.Random(20261125)
    name = "chaos-quick" if args.quick else "chaos"

    with Bench(name, env=TUNING) as bench:
        from tests.conftest import gen_merchant
        from webapp.exports.services import create_integration
        from webapp.extensions import db

        prefix, token = f"chaos{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
        bench.sandbox("POST", "/_sandbox/fakturownia/accounts", json={"prefix": prefix, "api_token": token})
        user = gen_merchant("Chaos")
        integration = create_integration(user.merchant_id, "fakturownia", "Chaos",
                                         {"api_token": token, "account_prefix": prefix},
                                         base_url=f"{bench.sandbox_url}/fakturownia/{prefix}", max_concurrency=32)
        integration_id, merchant_id = integration.id, user.merchant_id
        document_ids = issue_documents(merchant_id, integration_id, args.documents)
        references = {f"IB-{merchant_id}-{i}" for i in document_ids}
        bench.sandbox("PUT", "/_sandbox/fakturownia/faults", json={"account": prefix, "seed": 7, **FAULTS})

        started = time.monotonic()
        for _ in range(args.workers):
            bench.start_worker()
        kills, redis_restarted, postgres_restarted = 0, False, False
        next_kill = time.monotonic() + rng.uniform(1, 3)
        final = Counter()
        while time.monotonic() - started < args.timeout:
            time.sleep(0.25)
            now = time.monotonic()
            if now >= next_kill:
                alive = [w for w in bench.workers if w.poll() is None]
                if alive:
                    rng.choice(alive).send_signal(signal.SIGKILL)
                    kills += 1
                bench.workers = [w for w in bench.workers if w.poll() is None]
                next_kill = now + rng.uniform(1, 3)
            while len([w for w in bench.workers if w.poll() is None]) < args.workers:
                bench.workers = [w for w in bench.workers if w.poll() is None]
                bench.start_worker()
            final = states()
            done = final["fetched"] + final["rejected"]
            if not redis_restarted and done >= len(document_ids) * 0.4:
                bench.redis.restart_empty()  # every queued job is gone: the outbox must bring them back
                redis_restarted = True
            if args.restart_postgres and not postgres_restarted and done >= len(document_ids) * 0.6:
                postgres_restarted = restart_postgres()
            if done == len(document_ids):
                break
        drain_seconds = round(time.monotonic() - started, 1)
        bench.stop_workers()

        stored = bench.sandbox("GET", "/_sandbox/fakturownia/documents", params={"account": prefix})["documents"]
        per_reference = Counter(d.get("oid") for d in stored)
        duplicates = sum(count - 1 for ref, count in per_reference.items() if count > 1)
        from webapp.models import Export

        db.session.rollback()
        exports = db.session.scalars(db.select(Export)).all()
        lost = [e.document_id for e in exports if e.state not in ("fetched", "rejected")
                or (e.state == "rejected" and not e.last_error)
                or (e.state == "fetched" and per_reference[f"IB-{merchant_id}-{e.document_id}"] != 1)]
        missing_at_service = len(references - set(per_reference))
        stats = bench.sandbox("GET", "/_sandbox/stats")["services"]["fakturownia"]["accounts"].get(prefix, {})
        faults = stats.get("faults", {})
        summary = {"documents": len(document_ids), "workers": args.workers, "kills": kills,
                   "redis restarted": redis_restarted, "postgres restarted": postgres_restarted,
                   "faults injected": dict(faults), "fetched": final["fetched"], "rejected": final["rejected"],
                   "duplicates": duplicates, "lost": len(lost), "fetched but absent at service": missing_at_service,
                   "time to drain (s)": drain_seconds, "database": db.engine.dialect.name,
                   "unfinished": {e.document_id: (e.state, e.attempts, e.last_error[:80]) for e in exports
                                  if e.state not in ("fetched", "rejected")}}
        rows = [{"documents": len(document_ids), "kills": kills, "5xx": faults.get("error_5xx", 0),
                 "429": faults.get("rate_429", 0), "timeouts after store": faults.get("timeout_after_store", 0),
                 "resets": faults.get("reset", 0), "duplicates": duplicates, "lost": len(lost),
                 "drain s": drain_seconds}]
        write_results(name, rows, summary)
        return 0 if duplicates == 0 and not lost and final["fetched"] + final["rejected"] == len(document_ids) else 1


if __name__ == "__main__":
    sys.exit(main())
