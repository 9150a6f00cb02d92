"""Each benchmark script runs once in its --quick variant, as a subprocess, so none of them can
rot: it must exit 0 and write bench/results/<name>-quick.json with figures that make sense.
The quick figures are not the benchmark (bench/results/<name>.json of a full run is); they only
show that every measurement still reaches a real worker, sandbox, Redis and database.

Always on a private SQLite file (DATABASE_URL is dropped), so a PostgreSQL run of the suite
never shares the bench database with anybody else."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from providers import PROVIDERS

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench" / "results"


@pytest.fixture(scope="module")
def quick_run():
    """Runs one script's --quick variant (once per module and script), one at a time: on a
    2-core machine several at once only make each of them wait for the CPU. Each works in its
    own folder, on tmpfs when there is one (SQLite commits without fsync)."""
    base = Path(tempfile.mkdtemp(prefix="ib-bench-quick-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done: dict[str, dict] = {}

    def run(script: str) -> dict:
        if script not in done:
            (base / script).mkdir()
            started = time.time()
            process = subprocess.run(
                [sys.executable, str(REPO / "bench" / f"{script}.py"), "--quick"], check=False, cwd=REPO,
                env={**env, "BENCH_TMP": str(base / script)}, capture_output=True, text=True, timeout=600)
            assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
            path = RESULTS / f"{script}-quick.json"
            assert path.stat().st_mtime >= started, f"{path.name} was not written by this run"
            figures = json.loads(path.read_text())
            assert figures["name"] == f"{script}-quick" and figures["machine"]["cpus"] >= 1
            assert "| " in process.stdout  # the Markdown table was printed
            done[script] = figures
        return done[script]

    yield run
    shutil.rmtree(base, ignore_errors=True)


def by(rows: list[dict], column: str, prefix: str) -> list[dict]:
    return [r for r in rows if str(r[column]).startswith(prefix)]


def test_export_throughput_quick(quick_run):
    figures = quick_run("export_throughput")
    rows = figures["rows"]
    throughput = by(rows, "scenario", "Fakturownia, W=")
    assert [r["W"] for r in throughput] == [1, 2]
    for r in throughput:
        assert r["created"] == r["fetched"] == r["docs"] == 40
        assert 0 < r["created/s"] <= r["bound/s"] * 1.05  # nothing beats min(W, C) / L
        assert r["requests/doc"] >= 2 and 0 < r["CPU ms/doc"] < 1000 and r["429s"] == 0
    limited = by(rows, "scenario", "infakt under") + by(rows, "scenario", "fakturownia under")
    assert len(limited) == 1 and limited[0]["created"] > 0
    assert "limited account" in figures["summary"]
    zero = by(rows, "scenario", "L=0")
    assert len(zero) == 2 and all(r["jobs/s"] > 0 for r in zero)
    assert figures["summary"]["L=0: export jobs/s ÷ no-op jobs/s"].endswith("%")
    pair = by(rows, "scenario", "healthy")
    assert len(pair) == 2 and all(r["fetched"] == r["docs"] for r in pair)
    assert figures["summary"]["failing neighbour: requests made to the failing account"] > 0


def test_service_limits_quick(quick_run):
    figures = quick_run("service_limits")
    rows, skipped = figures["rows"], figures["summary"]["skipped"]
    measured = {r["service"] for r in rows}
    listed = set(skipped) if isinstance(skipped, dict) else set()
    # every service is either measured or listed as skipped with a reason
    assert measured | {PROVIDERS[k].display_name for k in listed} == {p.display_name for p in PROVIDERS.values()}
    assert "Fakturownia" in measured
    for r in rows:
        assert r["fetched"] == r["docs"] == 10, r
        assert r["requests/doc"] >= r["writes/doc"] >= 1 and r["docs/s"] > 0 and r["bound docs/s"] > 0


def test_dashboard_latency_quick(quick_run):
    figures = quick_run("dashboard_latency")
    rows, summary = figures["rows"], figures["summary"]
    assert len(rows) == 6 and summary["documents"] == 2000 and summary["journal rows"] == 10000
    assert summary["statements per request constant"] is True
    for r in rows:
        assert r["requests"] == 24 and 0 < r["p50 ms"] <= r["p95 ms"] <= r["p99 ms"]
        small, big = (v for k, v in r.items() if k.startswith("SQL at"))
        assert small == big >= 1


def test_bulk_enqueue_quick(quick_run):
    figures = quick_run("bulk_enqueue")
    row = figures["rows"][0]
    assert row["documents"] >= 500 and row["POST ms"] > 0
    assert isinstance(row["all queued s"], float), row  # every document reached the queue
    assert figures["summary"]["jobs in the exports queue"] == row["documents"]


def test_worker_memory_quick(quick_run):
    figures = quick_run("worker_memory")
    row = figures["rows"][0]
    assert row["exports"] == 60
    assert 30 < row["RSS at start MB"] <= row["peak MB"] < 2000

