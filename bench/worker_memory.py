"""Worker memory: the resident set of one RQ worker at start and after 10,000 exports to the
sandbox at latency 0 (create, fetch, PDF stored). Growth beyond a small constant means a leak.

    .venv/bin/python bench/worker_memory.py             # 10,000 exports
    .venv/bin/python bench/worker_memory.py --quick     # 60

Target: RSS growth ≤ 20 MB. RSS is VmRSS from /proc/<pid>/status, sampled while the worker runs.
Writes bench/results/worker_memory[-quick].json; exits non-zero only on a crash."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.export_throughput import TUNING, new_account
from bench.harness import (
    Bench,
    bench_env,
    enqueue_exports,
    export_states,
    load_average,
    rss_mb,
    seed_documents,
    wait_for_workers,
    write_results,
)

TARGET_GROWTH_MB = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--quick", action="store_true", help="CI variant: 60 exports")
    args = parser.parse_args()
    if args.quick:
        args.documents, args.timeout = 60, 60
    name = "worker_memory-quick" if args.quick else "worker_memory"

    with Bench(name, env=bench_env(**TUNING)) as bench:
        from tests.conftest import gen_merchant
        from webapp.extensions import db

        merchant_id = gen_merchant("Memory").merchant_id
        account = new_account(bench, merchant_id, "fakturownia", 0, None)
        export_ids = seed_documents(merchant_id, args.documents, integration_ids=[account.integration_id])
        worker = bench.start_worker()
        wait_for_workers(bench, 1)
        at_start = rss_mb(worker.pid)
        started = time.monotonic()
        enqueue_exports(export_ids)
        samples, done = [], 0  # (documents done, RSS MB)
        while time.monotonic() - started < args.timeout:
            states = export_states(account.integration_id)
            done = states.get("fetched", 0) + states.get("rejected", 0)
            samples.append((done, rss_mb(worker.pid)))
            if done >= args.documents:
                break
            time.sleep(0.5)
        time.sleep(1)  # let the last job's objects go
        at_end = rss_mb(worker.pid)
        seconds = round(time.monotonic() - started, 1)
        bench.stop_workers()

        after_tenth = next((rss for count, rss in samples if count >= args.documents / 10), at_start)
        growth = at_end - at_start
        rows = [{"exports": done, "RSS at start MB": round(at_start, 1),
                 f"RSS after {args.documents // 10:,} MB": round(after_tenth, 1), "RSS at end MB": round(at_end, 1),
                 "peak MB": round(max(rss for _, rss in samples), 1), "growth MB": round(growth, 1),
                 "growth after the first tenth MB": round(at_end - after_tenth, 1),
                 f"≤ {TARGET_GROWTH_MB} MB": "yes" if growth <= TARGET_GROWTH_MB else "NO", "s": seconds}]
        summary = {"database": db.engine.dialect.name, "sandbox latency ms": 0,
                   "load average at the end": load_average(), "states": export_states(),
                   "samples (documents done, RSS MB)": samples[::max(1, len(samples) // 20)]}
        write_results(name, rows, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
