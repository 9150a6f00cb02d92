"""Browser tests: the real app served over HTTP on 127.0.0.1, driven by the system's headless Chromium.

Fixtures: `live_server` (base URL), `chromium_browser` (one Chromium per run), `page` (a fresh
context per test, base URL set, console problems recorded), `console_problems` (what the pages
reported), `artifacts_dir` (screenshots). Every test in this folder is marked `browser`."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from webapp.redis_conn import get_redis

BROWSER_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = BROWSER_DIR.parent / "artifacts"  # git-ignored

# Quiet, offline Chromium: no sandbox (containers/CI run as root), no calls home.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
DEFAULT_TIMEOUT_MS = 5_000  # a local page that takes longer is a failure, not something to wait for


def pytest_collection_modifyitems(config, items):
    for item in items:
        if BROWSER_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def find_chromium() -> str:
    """The system Chromium (Debian's `chromium` package). We never download a browser."""
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None)
    if not path:
        pytest.fail("Chromium not found: install the system package (`apt-get install chromium`). "
                    "Browser tests never download a browser.", pytrace=False)
    return path


@pytest.fixture
def live_server(app):
    """The test's app (same database, wiped after the test) served by werkzeug in a plain thread.

    Each request in the server thread pushes its own app context, so it gets its own scoped DB
    session, separate from the one the `app` fixture pushed in the test thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture(scope="session")
def chromium_browser():
    from playwright.sync_api import sync_playwright

    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def console_problems() -> list[str]:
    """Console errors, uncaught page errors and CSP violations seen by `page`; a test asserts it is empty."""
    return []


@pytest.fixture
def page(chromium_browser, live_server, console_problems):
    # Depending on live_server makes pytest close the context before the server stops.
    context = chromium_browser.new_context(base_url=live_server, locale="pl-PL", timezone_id="Europe/Warsaw")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    # CSP violations are also console errors in Chromium; the DOM event says which directive and URL.
    context.expose_binding("__reportCspViolation", lambda source, text: console_problems.append(f"CSP: {text}"))
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', function (e) {"
        " window.__reportCspViolation(e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline')"
        " + ' on ' + e.documentURI); });"
    )
    page = context.new_page()
    page.on("console", lambda message: message.type == "error"
            and console_problems.append(f"console error on {page.url}: {message.text}"))
    page.on("pageerror", lambda error: console_problems.append(f"uncaught error on {page.url}: {error}"))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS_DIR.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture
def worker(app, database_url, instance_dir):
    get_redis(app)  # makes sure REDIS_URL points at the running Redis
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=app.config["REDIS_URL"],
               INSTANCE_PATH=str(instance_dir), SECRET_KEY=app.config["SECRET_KEY"],
               DEMO_MODE="1")  # as `make run`: the sandbox and the SMTP sink live on loopback
    process = subprocess.Popen([sys.executable, "worker.py"], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    yield process
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def sandbox_account(sandbox_url):
    prefix, token = f"b{uuid.uuid4().hex[:10]}", f"tok-{uuid.uuid4().hex}"
    requests.post(f"{sandbox_url}/_sandbox/fakturownia/accounts", json={"prefix": prefix, "api_token": token},
                  timeout=5).raise_for_status()
    return {"prefix": prefix, "token": token, "base_url": f"{sandbox_url}/fakturownia/{prefix}"}
