"""Run the sandbox as a real HTTP server for a test: ``with running_sandbox(tmp_path / "s.db") as url: ...``

Starts ``python -m providers.sandbox`` on a free 127.0.0.1 port in a subprocess,
waits (up to 10 s) until ``/_sandbox/health`` answers, yields the base URL and
stops the process afterwards. Its output goes to ``<db>.log``, which is quoted
if the server does not come up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 60.0  # generous: on a loaded 2-core machine the import alone can take seconds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_sandbox(db_path: str | os.PathLike, *, quiet: bool = True) -> Iterator[str]:
    """Yield ``http://127.0.0.1:<port>`` of a sandbox keeping its state in ``db_path``."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = db_path.with_name(db_path.name + ".log")
    command = [
        sys.executable,
        "-m",
        "providers.sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--db",
        str(db_path),
    ] + (["--quiet"] if quiet else [])
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, base_url, log_path)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _wait_until_healthy(process: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(f"{base_url}/_sandbox/health", timeout=1) as response:
                if json.load(response).get("status") == "ok":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
            pass
        time.sleep(0.05)
    raise RuntimeError(
        f"sandbox did not answer /_sandbox/health within {STARTUP_TIMEOUT:.0f} s:\n{_tail(log_path)}"
    )


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
