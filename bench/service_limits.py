"""Each service under its documented limit: documents exported to its sandbox with the limit
switched on; HTTP requests per document, minutes to export all, and the rate achieved against
the bound the limit allows. 429s received must be 0.

    .venv/bin/python bench/service_limits.py                  # 1,000 documents per service
    .venv/bin/python bench/service_limits.py --quick          # 10 per service, limits raised tenfold
    .venv/bin/python bench/service_limits.py --services ifirma --documents 300

Only services whose adapter is connectable and whose sandbox emulator is mounted run; the others
are listed as skipped. The bound: min(C / (R × L), limit / counted requests per document), with R
the requests per document the service's contract makes necessary (below), C the account's
concurrency cap and L the sandbox latency. A service whose run would outlast --max-minutes stops
there; its rate is then the steady rate so far and the minutes are extrapolated ("est.").
Writes bench/results/service_limits[-quick].json; exits non-zero only on a crash."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.export_throughput import TUNING, new_account, run_exports
from bench.harness import Bench, bench_env, load_average, write_results

# What each service documents, how the sandbox enforces it, and the fewest requests its contract
# allows per exported document (create → number → PDF):
#   rate: (requests, seconds) the limit allows, counting `counted` requests ("all" or "writes");
#   reads: a separate limit on GETs (inFakt); faults/options: how the sandbox is told to enforce it.
SERVICES = {
    "fakturownia": {"documented": "no published limit; the hub's default of 4 concurrent requests",
                    "faults": {"max_concurrency": 4}, "minimum": {"writes": 1, "reads": 1},
                    "why": "POST /invoices.json answers with the number; GET …pdf"},
    "wfirma": {"documented": "no published limit; the hub's default of 2 concurrent requests",
               "faults": {"max_concurrency": 2}, "minimum": {"writes": 1, "reads": 1},
               "why": "invoices/add answers with the full number; invoices/download for the PDF"},
    "ifirma": {"documented": "100 requests / minute per user (15,000 / day)", "rate": (100, 60), "counted": "all",
               "minimum": {"writes": 1, "reads": 2},
               "why": "POST fakturakraj.json answers with Identyfikator only; GET for PelnyNumer; GET PDF"},
    "infakt": {"documented": "150 writes + 300 GETs / 60 s", "rate": (150, 60), "counted": "writes",
               "reads": (300, 60), "minimum": {"writes": 1, "reads": 3},
               "why": "async POST; ≥ 1 status GET; GET invoice for the number; GET PDF"},
    "firmao": {"documented": "about one request a second", "rate": (1, 1), "counted": "all",
               "minimum": {"writes": 1, "reads": 2},
               "why": "POST /transactions answers with a changelog (id); GET the transaction for the number; GET PDF"},
    "fakturowo": {"documented": "one request at a time", "minimum": {"writes": 1, "reads": 2},
                  "why": "api_zadanie=1 answers with the id and PDF link; a list page for the printed number; PDF"},
}


# --quick only keeps the script from rotting: the limits are raised (tenfold, Firmao a hundredfold) so
# 10 documents never wait for a window (sandbox account options, integration settings, adapter options).
QUICK = {
    "ifirma": ({"rate_limit_per_minute": 1000}, {"rate_requests": 1000, "rate_seconds": 60}, {}),
    "infakt": ({"rate_limit_other": 1500, "rate_limit_get": 3000}, {"rate_requests": 1500, "rate_seconds": 60}, {}),
    "firmao": ({"rate_limit": {"requests": 100, "seconds": 1}}, {"rate_requests": 500, "rate_seconds": 5},
               {"min_request_interval": "0.01"}),
}


def bound(spec: dict, concurrency: int, latency_ms: int, scale: float = 1) -> float:
    """Documents per second the limit (and the concurrency cap at latency L) allow at best;
    `scale` multiplies the rate limits (--quick raises them)."""
    minimum = spec["minimum"]
    requests = minimum["writes"] + minimum["reads"]
    limits = [concurrency / (requests * max(latency_ms, 1) / 1000)]
    if "rate" in spec:
        count, seconds = spec["rate"]
        counted = minimum["writes"] if spec["counted"] == "writes" else requests
        limits.append(scale * count / seconds / counted)
    if "reads" in spec:
        count, seconds = spec["reads"]
        limits.append(scale * count / seconds / minimum["reads"])
    return min(limits)


def steady_rate(result: dict, window: float) -> float:
    """Documents fetched per second after the first window (whose burst the limit allows once)."""
    times, started = result["fetched_times"], result["started"]
    if not times:
        return 0.0
    end = times[-1]
    if end - started <= window * 1.5:
        return len(times) / (end - started)
    early = sum(1 for t in times if t <= started + window)
    return (len(times) - early) / (end - started - window)


def mounted(bench: Bench, service: str) -> bool:
    import requests

    return requests.get(f"{bench.sandbox_url}/_sandbox/{service}/accounts", timeout=10).status_code == 200


def main() -> int:
    from providers import PROVIDERS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--services", nargs="+", default=list(PROVIDERS))
    parser.add_argument("--max-minutes", type=float, default=12, help="per service")
    parser.add_argument("--quick", action="store_true", help="CI variant: 10 documents per service, limits raised tenfold")
    args = parser.parse_args()
    if args.quick:
        args.documents, args.max_minutes, args.latency_ms = 10, 1, 10
    name = "service_limits-quick" if args.quick else "service_limits"

    with Bench(name, env=bench_env(**TUNING)) as bench:
        from tests.conftest import gen_merchant
        from webapp.extensions import db
        from webapp.models import Integration

        rows, skipped = [], {}
        for service in args.services:
            cls, spec = PROVIDERS[service], SERVICES.get(service, {})
            if not cls.connectable:
                skipped[service] = "adapter not connectable yet"
                continue
            if not mounted(bench, service):
                skipped[service] = "no sandbox emulator mounted"
                continue
            if "minimum" not in spec:
                skipped[service] = "no benchmark recipe for this service yet"
                continue
            merchant_id = gen_merchant(f"Limits {service}").merchant_id
            concurrency = cls.default_limits.max_concurrency
            options, settings, adapter_options = QUICK.get(service, ({}, {}, {})) if args.quick else ({}, {}, {})
            account = new_account(bench, merchant_id, service, args.latency_ms, None, options=options,
                                  faults=spec.get("faults"), **settings)
            if adapter_options:
                db.session.get(Integration, account.integration_id).options = adapter_options
                db.session.commit()
            result = run_exports(bench, [account], args.documents, concurrency, args.max_minutes * 60)
            r = result[account.integration_id]
            window = spec["rate"][1] if "rate" in spec else 0.0
            rate = steady_rate(r, window)
            best = bound(spec, concurrency, args.latency_ms, (100 if service == "firmao" else 10) if args.quick else 1)
            finished = r["fetched"] == args.documents
            minutes = (r["done_s"] / 60) if finished else args.documents / rate / 60 if rate else float("inf")
            rows.append({
                "service": cls.display_name, "documented limit": spec["documented"], "W = C": concurrency,
                "docs": args.documents, "fetched": r["fetched"],
                "requests/doc": r["requests_per_doc"], "contract minimum": sum(spec["minimum"].values()),
                "writes/doc": round(r["writes"] / max(r["fetched"], 1), 2),
                "minutes": f"{minutes:.1f}" if finished else f"{minutes:.1f} est.",
                "docs/s": round(rate, 3), "bound docs/s": round(best, 3), "ratio": f"{rate / best:.0%}",
                "429s": r["429"], "CPU ms/doc": result["cpu_ms_per_doc"]})
            print(rows[-1], flush=True)
        summary = {"latency ms": args.latency_ms, "database": db.engine.dialect.name,
                   "load average at the end": load_average(),
                   "skipped": skipped or "none",
                   "contract minimum per document": {k: v["why"] for k, v in SERVICES.items() if "why" in v},
                   "targets": "ratio ≥ 95 %, 0 × 429, requests/doc = contract minimum",
                   "limits": "raised tenfold (--quick: figures are not meaningful)" if args.quick else "as documented"}
        write_results(name, rows, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
