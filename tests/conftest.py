"""Fixtures: a fresh app per test on a real database (SQLite file by default, PostgreSQL when
DATABASE_URL is set), schema made by the migrations once per run, rows wiped after each test."""
from __future__ import annotations

import os
import re
import socket
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from aiosmtpd.controller import Controller
from sqlalchemy import text

from webapp import create_app
from webapp.extensions import db
from webapp.models import Merchant, Order, OrderItem, Series, User
from webapp.settings.services import add_default_statuses

PASSWORD = "correct horse 1"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    """The instance folder of every app in the run. Without REDIS_URL the apps start a private
    Redis under it (webapp.redis_conn): shut down at the end of the session, so runs do not leave
    redis-servers behind. A Redis given by REDIS_URL is not ours to stop."""
    path = tmp_path_factory.mktemp("instance")
    socket_path = path / "redis" / "redis.sock"
    ours = not os.environ.get("REDIS_URL") and not _redis_answers(socket_path)
    yield path
    if ours and _redis_answers(socket_path):
        import redis

        redis.Redis(unix_socket_path=str(socket_path), socket_timeout=5).shutdown(nosave=True)


def _redis_answers(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return redis.Redis(unix_socket_path=str(socket_path), socket_connect_timeout=0.5).ping()
    except (redis.exceptions.ConnectionError, OSError):
        return False


@pytest.fixture(scope="session")
def database_url(instance_dir) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'test.sqlite3'}"


def _config(instance_dir: Path, database_url: str) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance_dir),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        # Pipeline timings shrunk so retries and reconciliation run within a test.
        "EXPORT_BACKOFF_BASE": 0.05,
        "EXPORT_BACKOFF_CAP": 0.2,
        "EXPORT_IN_DOUBT_GRACE": 0.3,
        "EXPORT_SEND_LEASE": 1,
        "SWEEPER_SETTLE_SECONDS": 0,
        "PROVIDER_TIMEOUT": (2, 2),
        "DEMO_MODE": True,  # the sandboxes live on loopback
    }


@pytest.fixture(scope="session")
def migrated(instance_dir, database_url):
    """Apply the migrations once: the schema in tests is the one production gets."""
    from flask_migrate import downgrade, upgrade

    app = create_app(_config(instance_dir, database_url))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # Start from an empty schema whatever an earlier run left behind.
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    yield
    with app.app_context():
        downgrade(revision="base")
        db.engine.dispose()


def _wipe() -> None:
    tables = [t for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(migrated, instance_dir, database_url):
    app = create_app(_config(instance_dir, database_url))
    with app.app_context():
        yield app
        db.session.rollback()
        _wipe()
        db.session.remove()
        if "redis" in app.extensions:
            app.extensions["redis"].flushdb()


@pytest.fixture(scope="session")
def sandbox_url(tmp_path_factory):
    """The provider sandboxes as a real HTTP server for the whole run."""
    from tests.sandbox_server import running_sandbox

    with running_sandbox(tmp_path_factory.mktemp("sandbox") / "sandbox.sqlite3") as url:
        yield url


def run_jobs(app, max_seconds: float = 15.0) -> None:
    """Run queued jobs in-process (SimpleWorker, burst) until nothing is queued or scheduled,
    moving scheduled retries onto their queues when they fall due."""
    import time

    from rq import Queue, SimpleWorker
    from rq.registry import ScheduledJobRegistry

    from webapp.redis_conn import get_redis

    conn = get_redis(app)
    names = ("exports", "fetch", "default")
    queues = [Queue(name, connection=conn) for name in names]
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        SimpleWorker(queues, connection=conn).work(burst=True, logging_level="WARNING")
        # The jobs ran in this thread's session: make the test see their commits, keep its objects.
        db.session.rollback()
        db.session.expire_all()
        scheduled = [(q, ScheduledJobRegistry(queue=q)) for q in queues]
        pending = [(q, r) for q, r in scheduled if r.count]
        rate_limited = sum(conn.zcard(k) for k in conn.scan_iter("rq:rl:*:rate_limited"))
        if not pending and not rate_limited and not any(q.count for q in queues):
            return
        time.sleep(0.05)
        for queue, registry in pending:
            for job_id in registry.get_jobs_to_schedule(time.time()):
                job = queue.fetch_job(job_id)
                registry.remove(job_id)
                if job is not None:
                    queue.enqueue_job(job)
    raise AssertionError("jobs did not drain in time")


def run_queue_once(app, name: str) -> None:
    """Run what is on one queue now (SimpleWorker, burst): no scheduled retries, no other queue."""
    from rq import Queue, SimpleWorker

    from webapp.redis_conn import get_redis

    conn = get_redis(app)
    SimpleWorker([Queue(name, connection=conn)], connection=conn).work(burst=True, logging_level="WARNING")


@pytest.fixture
def client(app):
    return app.test_client()


# --- factories ------------------------------------------------------------------------------

def gen_merchant(name: str = "Sklep Zażółć", email: str | None = None) -> User:
    merchant = Merchant(name=name, company_name=f"{name} Sp. z o.o.", tax_id="5252248481", street="ul. Gęślowa 7",
                        post_code="00-950", city="Warszawa", bank_account="PL61109010140000071219812874")
    db.session.add(merchant)
    db.session.flush()
    user = User(merchant_id=merchant.id, email=email or f"{re.sub(r'[^a-z]', '', name.lower()) or 'm'}{merchant.id}@example.com")
    user.set_password(PASSWORD)
    db.session.add(user)
    add_default_statuses(merchant.id)
    db.session.add_all([
        Series(merchant_id=merchant.id, name="Faktury", kind="invoice", format="FV/{nr}/{MM}/{YYYY}",
               reset="monthly", is_default=True),
        Series(merchant_id=merchant.id, name="Paragony", kind="receipt", format="PAR/{nr}/{YYYY}",
               reset="yearly", is_default=True, hide_payment_date=True),
        Series(merchant_id=merchant.id, name="Korekty", kind="correction", format="FK/{nr}/{YYYY}",
               reset="yearly", is_default=True),
    ])
    db.session.commit()
    return user


def gen_order(merchant_id: int, items=None, **fields) -> Order:
    defaults = {
        "source": "Sklep A", "shop_order_id": str(fields.pop("n", "")) or None, "buyer_is_company": True,
        "buyer_name": "Jan Kowalski", "buyer_company_name": "Łódzka Spółdzielnia Ćwiczeń", "buyer_tax_id": "7251801126",
        "buyer_street": "ul. Piotrkowska 12", "buyer_post_code": "90-001", "buyer_city": "Łódź", "buyer_country": "PL",
        "buyer_email": "jan@example.com", "currency": "PLN", "payment_method": "Przelew", "paid": True,
        "ordered_at": datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
    }
    defaults.update(fields)
    if not defaults["shop_order_id"]:
        defaults["shop_order_id"] = f"A-{db.session.scalar(db.select(db.func.count(Order.id))) + 1}"
    order = Order(merchant_id=merchant_id, **defaults)
    for position, (name, quantity, price, rate) in enumerate(items or [
        ("Kubek „Zażółć”", "2", "39.99", "23"), ("Książka", "1", "49.00", "5"), ("Wysyłka", "1", "14.99", "23"),
    ]):
        order.items.append(OrderItem(position=position, name=name, sku=f"SKU-{position}", quantity=Decimal(quantity),
                                     unit_gross=Decimal(price), vat_rate=rate))
    db.session.add(order)
    db.session.commit()
    return order


@pytest.fixture
def merchant_user(app) -> User:
    return gen_merchant()


@pytest.fixture
def other_user(app) -> User:
    return gen_merchant("Inny Sklep", email="inny@example.com")


class Browser:
    """A logged-in test client that posts forms with the CSRF token, as a browser does."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self) -> str:
        page = self.client.get("/login" if not self._logged_in else "/settings/")
        match = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))
        assert match, "no csrf meta tag"
        return match.group(1)

    _logged_in = False

    def login(self, email: str, password: str = PASSWORD):
        response = self.client.post("/login", data={"email": email, "password": password,
                                                     "csrf_token": self.csrf_token()})
        self._logged_in = response.status_code == 302
        return response

    @staticmethod
    def _forget_cached_user():
        # Requests share the test's app context (and its `g`): drop the user Flask-Login cached
        # there, which may belong to a session that run_jobs() has since closed.
        from flask import g

        g.pop("_login_user", None)

    def get(self, url, **kwargs):
        self._forget_cached_user()
        return self.client.get(url, **kwargs)

    def post(self, url, data=None, **kwargs):
        self._forget_cached_user()
        data = dict(data or {})
        data.setdefault("csrf_token", self.csrf_token())
        return self.client.post(url, data=data, **kwargs)


@pytest.fixture
def browser(client, merchant_user) -> Browser:
    b = Browser(client)
    assert b.login(merchant_user.email).status_code == 302
    return b


@pytest.fixture
def fakturownia(app, sandbox_url, merchant_user):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    token = f"tok-{uuid.uuid4().hex}"
    requests.post(f"{sandbox_url}/_sandbox/fakturownia/accounts", json={"prefix": prefix, "api_token": token},
                  timeout=5).raise_for_status()
    from webapp.exports.services import create_integration

    integration = create_integration(merchant_user.merchant_id, "fakturownia", "Fakturownia (test)",
                                     {"api_token": token, "account_prefix": prefix},
                                     base_url=f"{sandbox_url}/fakturownia/{prefix}", auto_export=True)

    def faults(**settings):
        requests.put(f"{sandbox_url}/_sandbox/fakturownia/faults", json={"account": prefix, **settings},
                     timeout=5).raise_for_status()

    def stored(reference):
        response = requests.get(f"{sandbox_url}/_sandbox/fakturownia/documents",
                                params={"account": prefix, "oid": reference}, timeout=5)
        return response.json()["count"]

    yield SimpleNamespace(integration=integration, integration_id=integration.id,
                          merchant_id=merchant_user.merchant_id, prefix=prefix, token=token, faults=faults, stored=stored)
    requests.delete(f"{sandbox_url}/_sandbox/fakturownia/faults", json={"account": prefix}, timeout=5)


class Collector:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    collector.port = port
    yield collector
    controller.stop()
