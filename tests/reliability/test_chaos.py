"""The CI variant of the chaos run (bench/chaos.py --quick): 200 documents, 3 worker processes,
SIGKILLs every 1–3 s, injected 5xx/429/timeouts/resets, Redis restarted empty mid-run — and on
PostgreSQL (as root) the database restarted too. Zero duplicates, zero losses."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_chaos_run_ends_with_no_duplicates_and_no_losses(tmp_path):
    command = [sys.executable, str(REPO / "bench" / "chaos.py"), "--quick"]
    on_postgres = (os.environ.get("DATABASE_URL") or "").startswith("postgres")
    if on_postgres and shutil.which("pg_ctlcluster") and os.geteuid() == 0:
        command.append("--restart-postgres")
    env = {**os.environ, "BENCH_TMP": str(tmp_path)}
    result = subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads((REPO / "bench" / "results" / "chaos-quick.json").read_text())["summary"]
    assert figures["duplicates"] == 0 and figures["lost"] == 0
    assert figures["fetched"] + figures["rejected"] == figures["documents"] == 200
    assert figures["kills"] >= 3 and figures["redis restarted"] is True
    assert sum(figures["faults injected"].values()) > 50
    if "--restart-postgres" in command:
        assert figures["postgres restarted"] is True
