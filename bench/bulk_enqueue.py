""""Export all" over 10,000 documents: how long the POST takes (it must not wait for the
enqueue) and how long until every document is queued (its export row written and its job in
Redis). Workers run only the "default" queue, where Export all runs, so the export jobs stay
queued and can be counted.

    .venv/bin/python bench/bulk_enqueue.py              # 10,000 documents
    .venv/bin/python bench/bulk_enqueue.py --quick      # 500

Targets: response ≤ 200 ms; 10,000 queued ≤ 5 s. Writes bench/results/bulk_enqueue[-quick].json;
exits non-zero only on a crash."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    Bench,
    bench_env,
    connect_account,
    load_average,
    logged_in_session,
    seed_documents,
    start_gunicorn,
    start_queue_worker,
    wait_for_workers,
    write_results,
)

TARGET_RESPONSE_MS, TARGET_QUEUED_S = 200, 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--quick", action="store_true", help="CI variant: 500 documents")
    args = parser.parse_args()
    if args.quick:
        args.documents, args.timeout = 500, 120
    name = "bulk_enqueue-quick" if args.quick else "bulk_enqueue"

    with Bench(name, env=bench_env()) as bench:
        from rq import Queue

        from tests.conftest import PASSWORD, gen_merchant
        from webapp.exports.services import EXPORT_QUEUE
        from webapp.extensions import db
        from webapp.models import BulkRun, Document, Export
        from webapp.redis_conn import get_redis

        user = gen_merchant("Export all")
        account = connect_account(bench, user.merchant_id, "fakturownia", "Fakturownia")
        seed_documents(user.merchant_id, args.documents)
        expected = db.session.scalar(db.select(db.func.count(Document.id))
                                     .where(Document.merchant_id == user.merchant_id))
        start_queue_worker(bench, "default")
        wait_for_workers(bench, 1)
        _, base_url = start_gunicorn(bench, workers=2)
        session = logged_in_session(base_url, user.email, PASSWORD)
        module = f"{base_url}/integrations/{account.integration_id}"
        session.get(module, timeout=60).raise_for_status()  # warm the worker that will answer
        exports_queue = Queue(EXPORT_QUEUE, connection=get_redis(bench.app))

        started = time.perf_counter()
        response = session.post(f"{module}/bulk", data={"csrf_token": session.csrf_token},
                                headers={"HX-Request": "true"}, timeout=120)
        response_ms = (time.perf_counter() - started) * 1000
        response.raise_for_status()
        rows_at = queued_at = None
        while time.perf_counter() - started < args.timeout:
            db.session.rollback()
            rows = db.session.scalar(db.select(db.func.count(Export.id))
                                     .where(Export.integration_id == account.integration_id))
            if rows_at is None and rows >= expected:
                rows_at = time.perf_counter() - started
            if exports_queue.count >= expected:
                queued_at = time.perf_counter() - started
                break
            time.sleep(0.02)
        run = db.session.scalar(db.select(BulkRun).order_by(BulkRun.id.desc()))
        enqueued = exports_queue.count
        bench.stop_workers()

        rows = [{"documents": expected, "POST ms": round(response_ms, 1),
                 f"≤ {TARGET_RESPONSE_MS} ms": "yes" if response_ms <= TARGET_RESPONSE_MS else "NO",
                 "rows written s": round(rows_at, 2) if rows_at is not None else "not all",
                 "all queued s": round(queued_at, 2) if queued_at is not None else f"{enqueued} after timeout",
                 f"≤ {TARGET_QUEUED_S:g} s": "yes" if queued_at is not None and queued_at <= TARGET_QUEUED_S else "NO",
                 "queued/s": round(enqueued / queued_at) if queued_at else "—"}]
        summary = {"database": db.engine.dialect.name, "bulk run state": run.state if run else None,
                   "run counts": {"total": run.total, "enqueued": run.enqueued, "skipped": run.skipped} if run else None,
                   "jobs in the exports queue": enqueued, "load average at the end": load_average()}
        write_results(name, rows, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
