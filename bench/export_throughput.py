"""Export throughput: N documents pushed by W real RQ worker processes to the sandbox with latency
L and the account's concurrency cap C, against the bound min(W, C) / L; an account under a
write limit; the queue's own ceiling (L = 0, export jobs vs no-op jobs); and a healthy account
next to one whose service fails.

    .venv/bin/python bench/export_throughput.py                 # 10,000 documents, W = 1, 2, 4
    .venv/bin/python bench/export_throughput.py --quick         # the CI variant (40 documents, W = 1, 2)
    .venv/bin/python bench/export_throughput.py --workers 4 --documents 10000 --only throughput

"created/s" counts documents stored at the service (the POSTs, what the bound min(W, C)/L is
about); "done/s" counts them fetched back (number and PDF), which takes the fetch's requests
too. CPU is the worker processes' utime + stime (/proc) divided by the documents.
Writes bench/results/export_throughput[-quick].json; exits non-zero only on a crash."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    Bench,
    bench_env,
    clear_queues,
    connect_account,
    cpu_seconds,
    enqueue_exports,
    enqueue_noops,
    ensure_workers,
    export_states,
    load_average,
    sandbox_account_stats,
    sandbox_pid,
    seed_documents,
    write_results,
)

# The app's own timings (sweeper every 30 s, …): nothing is lost in these runs, and a faster
# sweeper only adds its own cost to the figures.
TUNING: dict[str, str] = {}
FINAL = ("fetched", "rejected")


def run_exports(bench: Bench, accounts: list, documents: int, workers: int, timeout: float,
                watch=None) -> dict:
    """Seed `documents` exports per account, have `workers` workers ready (booted, idle), queue the
    jobs and wait until every export of `watch` (default: all accounts) is final or `timeout`
    passes. Rates come from the rows' sent_at / fetched_at; CPU from /proc of the workers and the
    sandbox; requests and 429s from the sandbox's counters."""
    from webapp.extensions import db
    from webapp.models import Export

    watch = watch or accounts
    ids = {a.integration_id: seed_documents(a.merchant_id, documents, integration_ids=[a.integration_id],
                                            prefix=f"I{a.integration_id}") for a in accounts}
    for account in accounts:
        account.before = sandbox_account_stats(bench, account.service, account.account)
    processes = ensure_workers(bench, workers)
    sandbox = sandbox_pid(bench)
    cpu_before, sandbox_before = cpu_seconds([p.pid for p in processes]), cpu_seconds([sandbox])
    interleaved = [i for group in zip(*ids.values()) for i in group]
    started = time.time()
    enqueue_exports(interleaved)
    watched = {a.integration_id for a in watch}
    timed_out = False
    while True:
        db.session.rollback()
        pending = db.session.scalar(db.select(db.func.count(Export.id)).where(
            Export.integration_id.in_(watched), Export.state.notin_(FINAL)))
        if not pending:
            break
        if time.time() - started > timeout:
            timed_out = True
            break
        time.sleep(0.25)
    cpu = cpu_seconds([p.pid for p in processes]) - cpu_before
    sandbox_cpu = cpu_seconds([sandbox]) - sandbox_before
    if timed_out or len(watch) < len(accounts):
        clear_queues()  # what is left (a failing account's retries) must not run in the next scenario
    results = {}
    for account in accounts:
        rows = db.session.execute(db.select(Export.state, Export.sent_at, Export.fetched_at)
                                  .where(Export.integration_id == account.integration_id)).all()
        sent = sorted(r.sent_at.timestamp() for r in rows if r.sent_at)
        fetched = sorted(r.fetched_at.timestamp() for r in rows if r.fetched_at)
        after = sandbox_account_stats(bench, account.service, account.account)
        requests_made = after["requests"] - account.before["requests"]
        throttled = after["responses"].get("429", 0) - account.before["responses"].get("429", 0)
        results[account.integration_id] = {
            "documents": documents, "sent": len(sent), "fetched": len(fetched),
            "states": export_states(account.integration_id),
            "created_s": round(sent[-1] - started, 2) if sent else None,
            "done_s": round(fetched[-1] - started, 2) if fetched else None,
            "created_per_s": round(len(sent) / (sent[-1] - started), 2) if sent else 0.0,
            "done_per_s": round(len(fetched) / (fetched[-1] - started), 2) if fetched else 0.0,
            "sent_times": sent, "fetched_times": fetched, "started": started, "requests": requests_made,
            "writes": after["writes"] - account.before["writes"],
            "requests_per_doc": round(requests_made / len(fetched), 2) if fetched else "—", "429": throttled,
            "timed_out": timed_out,
        }
    fetched = sum(r["fetched"] for k, r in results.items() if isinstance(k, int))
    results["cpu_ms_per_doc"] = round(cpu * 1000 / fetched, 2) if fetched else "—"
    results["sandbox_cpu_ms_per_doc"] = round(sandbox_cpu * 1000 / fetched, 1) if fetched else "—"
    return results


def new_account(bench: Bench, merchant_id: int, service: str, latency_ms: int, cap: int | None,
                options: dict | None = None, faults: dict | None = None, **settings):
    account = connect_account(bench, merchant_id, service, f"{service} bench", options=options,
                              faults={"latency_ms": latency_ms, **(faults or {})}, max_concurrency=cap, **settings)
    account.merchant_id = merchant_id
    return account


def throughput_rows(bench, merchant_id, args) -> list[dict]:
    rows = []
    for workers in args.workers:
        account = new_account(bench, merchant_id, "fakturownia", args.latency_ms, args.cap)
        result = run_exports(bench, [account], args.documents, workers, args.timeout)
        r = result[account.integration_id]
        bound = min(workers, args.cap) / (args.latency_ms / 1000)
        rows.append(row(f"Fakturownia, W={workers}", workers, args.cap, args.latency_ms, r, bound,
                        result["cpu_ms_per_doc"], result["sandbox_cpu_ms_per_doc"]))
        print(rows[-1], flush=True)
    return rows


def row(scenario, workers, cap, latency_ms, r, bound, cpu_ms, sandbox_cpu_ms="—") -> dict:
    return {"scenario": scenario, "W": workers, "C": cap, "L ms": latency_ms, "docs": r["documents"],
            "created": r["sent"], "fetched": r["fetched"], "created/s": r["created_per_s"],
            "bound/s": round(bound, 2) if bound else "—",
            "created/s ÷ bound": f"{r['created_per_s'] / bound:.0%}" if bound else "—",
            "done/s": r["done_per_s"], "requests/doc": r["requests_per_doc"], "CPU ms/doc": cpu_ms,
            "sandbox CPU ms/doc": sandbox_cpu_ms, "429s": r["429"], "s": r["done_s"], "timed out": r["timed_out"]}


def sustained_rate(sent_times: list[float], limit: int) -> float:
    """Creates per second once the first window's burst is spent: (n − limit) / (last − first)."""
    if len(sent_times) <= limit or sent_times[-1] <= sent_times[0]:
        return 0.0
    return (len(sent_times) - limit) / (sent_times[-1] - sent_times[0])


def limited_rows(bench, merchant_id, args) -> tuple[list[dict], dict]:
    """An account under the inFakt write limit (150 / 60 s; quick: scaled down)."""
    from providers import PROVIDERS

    count, seconds = args.limit
    if PROVIDERS["infakt"].connectable:
        service, how = "infakt", "inFakt adapter against the inFakt sandbox (its own 429 limiter)"
        # The documented GET limit is twice the write limit (300 : 150); --quick relaxes it so the
        # smoke run does not sit out GET windows.
        get_limit = count * (10 if args.quick else 2)
        options = {"rate_limit_other": count, "rate_limit_window": seconds, "rate_limit_get": get_limit}
        account = new_account(bench, merchant_id, service, args.latency_ms, None, options=options,
                              rate_requests=count, rate_seconds=seconds)
    else:
        service, how = "fakturownia", ("EMULATED: the inFakt adapter is not connectable yet; a Fakturownia account "
                                       "with the integration's rate_requests/rate_seconds and the sandbox write_limit")
        account = new_account(bench, merchant_id, service, args.latency_ms, None,
                              faults={"write_limit": {"count": count, "seconds": seconds}},
                              rate_requests=count, rate_seconds=seconds)
    result = run_exports(bench, [account], args.limited_documents, args.limited_workers, args.timeout)
    r = result[account.integration_id]
    limit_rate = count / seconds
    # inFakt also caps GETs (300 / 60 s, twice the writes): with the task poll and the fetch-back
    # (document + PDF) every document needs reads too, and whichever cap binds first is the bound.
    reads_per_doc = (r["requests"] - r["writes"]) / max(r["fetched"], 1) if service == "infakt" else 0
    read_rate = get_limit / seconds / reads_per_doc if reads_per_doc else None
    bound = min(limit_rate, read_rate) if read_rate else limit_rate
    achieved = sustained_rate(r["sent_times"], count)
    done = sustained_rate(r["fetched_times"], count)
    out = row(f"{service} under {count} writes / {seconds:g} s", args.limited_workers, "—", args.latency_ms, r,
              bound, result["cpu_ms_per_doc"], result["sandbox_cpu_ms_per_doc"])
    out["created/s"], out["done/s"] = round(achieved, 3), round(done, 3)
    out["created/s ÷ bound"] = f"{achieved / bound:.0%}"
    print(out, flush=True)
    return [out], {"limited account": how, "limited: writes/doc": round(r["writes"] / max(r["sent"], 1), 2),
                   "limited: reads/doc": round(reads_per_doc, 2),
                   "limited: sustained create rate (docs/s)": round(achieved, 3),
                   "limited: sustained fetched rate (docs/s)": round(done, 3),
                   "limited: write-limit rate (docs/s)": round(limit_rate, 3),
                   "limited: read-limit rate (docs/s)": round(read_rate, 3) if read_rate else "—",
                   "limited: ratio to the binding limit (target ≥ 95 %, 0 × 429)": f"{achieved / bound:.1%}",
                   "limited: ratio to the write limit": f"{achieved / limit_rate:.1%}",
                   "limited: 429s": r["429"]}


def zero_latency_rows(bench, merchant_id, args) -> tuple[list[dict], dict]:
    """L = 0: how many export jobs/s the pipeline runs vs RQ no-op jobs on the same Redis."""
    from rq import Queue, Worker

    from webapp.redis_conn import get_redis

    workers = args.zero_workers
    account = new_account(bench, merchant_id, "fakturownia", 0, max(args.cap, workers))
    conn = get_redis(bench.app)
    result = run_exports(bench, [account], args.zero_documents, workers, args.timeout)
    r = result[account.integration_id]
    export_jobs = r["sent"] + r["fetched"]  # one export job and one fetch job per document
    export_jobs_per_s = export_jobs / r["done_s"] if r["done_s"] else 0.0

    processes = ensure_workers(bench, workers)
    cpu_before = cpu_seconds([p.pid for p in processes])
    done_before = sum(w.successful_job_count for w in Worker.all(connection=conn))
    noops = max(args.zero_documents * 2, 1000)  # enough to time the queue's own ceiling
    started = time.time()
    enqueue_noops(noops)
    queue = Queue("default", connection=conn)
    while time.time() - started < args.timeout:
        done = sum(w.successful_job_count for w in Worker.all(connection=conn)) - done_before
        if done >= noops and queue.count == 0:
            break
        time.sleep(0.02)
    noop_seconds = time.time() - started
    noop_cpu_ms = (cpu_seconds([p.pid for p in processes]) - cpu_before) * 1000 / noops
    noop_per_s = noops / noop_seconds
    rows = [{"scenario": f"L=0 export jobs, W={workers}", "W": workers, "C": account_cap(account), "L ms": 0,
             "docs": r["documents"], "created": r["sent"], "fetched": r["fetched"],
             "created/s": r["created_per_s"], "bound/s": "—", "created/s ÷ bound": "—",
             "done/s": r["done_per_s"], "requests/doc": r["requests_per_doc"], "CPU ms/doc": result["cpu_ms_per_doc"],
             "sandbox CPU ms/doc": result["sandbox_cpu_ms_per_doc"], "429s": r["429"], "s": r["done_s"],
             "timed out": r["timed_out"], "jobs/s": round(export_jobs_per_s, 1)},
            {"scenario": f"L=0 RQ no-op jobs, W={workers}", "W": workers, "C": "—", "L ms": 0, "docs": "—",
             "created": "—", "fetched": "—", "created/s": "—", "bound/s": "—", "created/s ÷ bound": "—",
             "done/s": "—", "requests/doc": "—", "CPU ms/doc": f"{noop_cpu_ms:.2f} per job", "429s": "—",
             "s": round(noop_seconds, 2),
             "timed out": False, "jobs/s": round(noop_per_s, 1)}]
    print(rows, flush=True)
    return rows, {"L=0: export jobs/s ÷ no-op jobs/s": f"{export_jobs_per_s / noop_per_s:.1%}"}


def account_cap(account) -> int:
    from webapp.exports.services import limits_of
    from webapp.extensions import db
    from webapp.models import Integration

    return limits_of(db.session.get(Integration, account.integration_id))[0]


def failing_neighbour_rows(bench, merchant_id, args) -> tuple[list[dict], dict]:
    """The healthy account's rate alone, then next to an account whose service answers 5xx."""
    workers = args.pair_workers
    alone = new_account(bench, merchant_id, "fakturownia", args.latency_ms, args.cap)
    result = run_exports(bench, [alone], args.pair_documents, workers, args.timeout)
    r_alone = result[alone.integration_id]
    healthy = new_account(bench, merchant_id, "fakturownia", args.latency_ms, args.cap)
    failing = new_account(bench, merchant_id, "fakturownia", args.latency_ms, args.cap, faults={"error_5xx": 1.0})
    both = run_exports(bench, [healthy, failing], args.pair_documents, workers, args.timeout, watch=[healthy])
    r_healthy, r_failing = both[healthy.integration_id], both[failing.integration_id]
    bound = min(workers, args.cap) / (args.latency_ms / 1000)
    rows = [row("healthy account alone", workers, args.cap, args.latency_ms, r_alone, bound,
                result["cpu_ms_per_doc"], result["sandbox_cpu_ms_per_doc"]),
            row("healthy next to a failing one", workers, args.cap, args.latency_ms, r_healthy, bound,
                both["cpu_ms_per_doc"], both["sandbox_cpu_ms_per_doc"])]
    change = r_healthy["done_per_s"] / r_alone["done_per_s"] - 1 if r_alone["done_per_s"] else 0.0
    print(rows, flush=True)
    return rows, {"failing neighbour: healthy done/s change (target within ±10 %)": f"{change:+.1%}",
                  "failing neighbour: requests made to the failing account": r_failing["requests"],
                  "failing neighbour: failing account's export states": r_failing["states"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--cap", type=int, default=4, help="the integration's max_concurrency (C)")
    parser.add_argument("--limit", type=float, nargs=2, default=[150, 60], metavar=("WRITES", "SECONDS"))
    parser.add_argument("--limited-documents", type=int, default=750)
    parser.add_argument("--limited-workers", type=int, default=4)
    parser.add_argument("--zero-documents", type=int, default=2000)
    parser.add_argument("--zero-workers", type=int, default=2)
    parser.add_argument("--pair-documents", type=int, default=1000)
    parser.add_argument("--pair-workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900, help="per scenario, seconds")
    parser.add_argument("--only", nargs="+", choices=("throughput", "limited", "zero", "pair"),
                        default=["throughput", "limited", "zero", "pair"])
    parser.add_argument("--quick", action="store_true",
                        help="CI variant (keeps the script from rotting, figures are rough): 40 documents, "
                             "W = 1, 2, L = 10 ms, limit 10 / 2 s, small side scenarios")
    args = parser.parse_args()
    if args.quick:
        args.documents, args.workers, args.latency_ms, args.limit = 40, [1, 2], 10, [10, 2]
        args.limited_documents, args.zero_documents, args.pair_documents, args.timeout = 10, 40, 30, 60
    args.limit = (int(args.limit[0]), args.limit[1])
    name = "export_throughput-quick" if args.quick else "export_throughput"

    with Bench(name, env=bench_env(**TUNING)) as bench:
        from tests.conftest import gen_merchant
        from webapp.extensions import db

        merchant_id = gen_merchant("Benchmark").merchant_id
        rows, summary = [], {"documents": args.documents, "latency ms": args.latency_ms, "cap C": args.cap,
                             "database": db.engine.dialect.name}
        if "throughput" in args.only:
            rows += throughput_rows(bench, merchant_id, args)
        if "limited" in args.only:
            more, notes = limited_rows(bench, merchant_id, args)
            rows, summary = rows + more, {**summary, **notes}
        if "zero" in args.only:
            more, notes = zero_latency_rows(bench, merchant_id, args)
            rows, summary = rows + more, {**summary, **notes}
        if "pair" in args.only:
            more, notes = failing_neighbour_rows(bench, merchant_id, args)
            rows, summary = rows + more, {**summary, **notes}
        bench.stop_workers()
        summary["load average at the end"] = load_average()
        columns = list(dict.fromkeys(key for r in rows for key in r))
        write_results(name, [{c: r.get(c, "—") for c in columns} for r in rows], summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
