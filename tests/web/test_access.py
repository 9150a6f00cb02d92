"""Access control over the whole app, generated from app.url_map: a new route that is not in
ROUTE_SAMPLES fails test_every_route_is_in_the_matrix, so it cannot be forgotten."""
import re

import pytest

from tests.conftest import gen_order
from webapp.documents.services import issue_document
from webapp.extensions import db
from webapp.models import ApiToken, OrderStatus, Series

PUBLIC = {"static", "auth.login", "public.invoice_pdf"}  # the invoice link is signed, not logged in
# endpoint -> (kind of object its id refers to, or None)
ROUTE_SAMPLES = {
    "main.dashboard": None,
    "auth.logout": None, "auth.set_language": None,
    "orders.index": None, "orders.new": None, "orders.import_csv": None, "orders.csv_template": None,
    "orders.bulk_issue": None,
    "orders.card": "order", "orders.issue": "order", "orders.set_status": "order",
    "documents.index": None,
    "documents.card": "document", "documents.print_view": "document", "documents.pdf": "document",
    "documents.correct": "document", "documents.service_pdf": "document", "documents.export": "document",
    "integrations.index": None, "integrations.module": "integration", "integrations.bulk_preview": "integration",
    "integrations.bulk_start": "integration", "integrations.bulk_run": "integration",
    "integrations.journal": "integration", "integrations.capabilities": None, "integrations.choose": None,
    "integrations.connect_form": None, "integrations.credentials": "integration",
    "integrations.config_section": "integration", "integrations.series_section": "integration",
    "integrations.payments_section": "integration", "integrations.exports_section": "integration",
    "integrations.export_status": "export", "integrations.export_action": "export",
    "integrations.export_document_action": "integration",
    "settings.merchant": None, "settings.statuses": None, "settings.series_list": None,
    "settings.series_edit": "series", "settings.api_tokens": None,
    "settings.delete_status_view": "status", "settings.revoke_token": "token",
    "settings.rename_status_view": "status", "settings.move_status_view": "status",
    "automation.index": None, "automation.edit": "rule", "automation.delete": "rule",
    "delivery.mail": None, "delivery.mail_sink": None, "delivery.template_edit": "template",
    "delivery.webhooks": None, "delivery.webhook_toggle": "webhook",
    "documents.print_pdf": "document", "orders.send_email": "order",
    "api.create_order_endpoint": None, "api.get_order_endpoint": "order", "api.order_payment_endpoint": "order",
    "orders.set_paid": "order",
}
ID_ARGS = {"rule": "rule_id", "template": "template_id", "webhook": "webhook_id", "export": "export_id", "integration": "integration_id", "order": "order_id", "document": "document_id", "series": "series_id", "status": "status_id",
           "token": "token_id"}


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint not in PUBLIC]


MOUNTED = ("rq_dashboard.",)  # a mounted third-party blueprint: behind login, no merchant-owned ids


def _kind(endpoint: str):
    return None if endpoint.startswith(MOUNTED) else ROUTE_SAMPLES[endpoint]


def test_every_route_is_in_the_matrix(app):
    missing = {r.endpoint for r in _rules(app) if not r.endpoint.startswith(MOUNTED)} - set(ROUTE_SAMPLES)
    assert not missing, f"add these endpoints to ROUTE_SAMPLES: {sorted(missing)}"


def _url(rule, object_id=1):
    values = {arg: object_id for arg in rule.arguments}
    return rule.build(values, append_unknown=False)[1]


def _methods(rule):
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def _rules_at_collection():
    """(id, rule, method) for every protected rule and method, read from an app built only to list them."""
    import tempfile

    from webapp import create_app

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "TESTING": True, "SECRET_KEY": "x",
                          "SQLALCHEMY_DATABASE_URI": "sqlite://"})
        cases = []
        for rule in _rules(app):
            for method in _methods(rule):
                cases.append(pytest.param(rule.rule, method, rule.endpoint, id=f"{rule.endpoint}-{method}"))
        return cases


def _anonymous_csrf_token(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.mark.parametrize("rule_path, method, endpoint", _rules_at_collection())
def test_anonymous_is_sent_to_login_or_gets_401(app, client, rule_path, method, endpoint):
    rule = next(r for r in app.url_map.iter_rules() if r.rule == rule_path and r.endpoint == endpoint)
    url = _url(rule)
    if method == "GET":
        response = client.get(url)
    else:
        # With a valid token, so CSRF cannot be what stops it: only the login requirement can.
        token = _anonymous_csrf_token(client)
        response = client.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
    if endpoint.startswith("api."):
        assert response.status_code == 401 and response.is_json
    else:
        assert response.status_code == 302, response.status_code
        assert response.location.startswith("/login"), response.location


@pytest.fixture
def foreign_objects(other_user):
    """One object of each kind owned by the other merchant."""
    order = gen_order(other_user.merchant_id)
    document = issue_document(order, "invoice")
    series = db.session.scalar(db.select(Series).where(Series.merchant_id == other_user.merchant_id))
    status = db.session.scalar(db.select(OrderStatus).where(OrderStatus.merchant_id == other_user.merchant_id))
    token = ApiToken(merchant_id=other_user.merchant_id, name="x", token_hash="0" * 64, hint="ib_x")
    db.session.add(token)
    from webapp.exports.services import create_integration
    from webapp.models import Export

    integration = create_integration(other_user.merchant_id, "fakturownia", "x", {"api_token": "t"}, auto_export=False)
    export = Export(merchant_id=other_user.merchant_id, document_id=document.id, integration_id=integration.id,
                    state="in_doubt", field_errors={})
    db.session.add(export)
    from webapp.crypto import encrypt_credentials
    from webapp.models import AutomationRule, EmailTemplate, Webhook

    rule = AutomationRule(merchant_id=other_user.merchant_id, name="r", trigger="new_order", steps=[])
    template = EmailTemplate(merchant_id=other_user.merchant_id, name="t", subject="s", body="b")
    webhook = Webhook(merchant_id=other_user.merchant_id, url="https://example.com/h",
                      secret_encrypted=encrypt_credentials({"secret": "x"}))
    db.session.add_all([rule, template, webhook])
    db.session.commit()
    return {"rule": rule.id, "template": template.id, "webhook": webhook.id, "export": export.id, "integration": integration.id, "order": order.id, "document": document.id, "series": series.id, "status": status.id, "token": token.id}


def test_another_merchants_ids_answer_404(app, browser, foreign_objects):
    checked = 0
    for rule in _rules(app):
        kind = _kind(rule.endpoint)
        if kind is None or "<" not in rule.rule or rule.endpoint.startswith("api."):
            continue
        url = _url(rule, foreign_objects[kind])
        for method in _methods(rule):
            response = browser.post(url) if method == "POST" else browser.get(url)
            assert response.status_code == 404, (rule.endpoint, method, response.status_code)
            checked += 1
    assert checked >= 12


def test_unsafe_methods_without_csrf_token_are_refused(app, browser, merchant_user):
    order = gen_order(merchant_user.merchant_id)
    for rule in _rules(app):
        if "POST" not in rule.methods or rule.endpoint.startswith("api."):
            continue
        response = browser.client.post(_url(rule, order.id), data={"kind": "invoice"})
        assert response.status_code == 400, rule.endpoint
    assert order.documents == []


def test_api_token_reads_only_its_merchants_orders(app, client, merchant_user, other_user):
    from webapp.settings.services import create_api_token

    foreign = gen_order(other_user.merchant_id)
    own = gen_order(merchant_user.merchant_id)
    token = create_api_token(merchant_user.merchant_id, "shop")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/v1/orders/{own.id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/orders/{foreign.id}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/orders/{foreign.id}/payment", json={}, headers=headers).status_code == 404


def test_queue_dashboard_is_for_admins_only(app, browser, merchant_user):
    from webapp.models import User

    assert browser.get("/rq/").status_code == 200
    user = db.session.scalar(db.select(User))
    user.is_admin = False
    db.session.commit()
    assert browser.get("/rq/").status_code == 403


@pytest.fixture
def failed_job(app):
    """A job that failed on the default queue (RQ's failed registry), as a worker leaves it."""
    from rq import Queue, SimpleWorker

    from webapp.redis_conn import get_redis

    queue = Queue("default", connection=get_redis(app))
    job = queue.enqueue("builtins.int", "not a number")
    SimpleWorker([queue], connection=queue.connection).work(burst=True, logging_level="CRITICAL")
    assert job.id in queue.failed_job_registry.get_job_ids()
    return queue, job


def test_admin_requeues_a_failed_job_from_the_queue_dashboard(app, browser, failed_job):
    queue, job = failed_job
    page = browser.get("/rq/")
    assert page.status_code == 200
    # rq-dashboard's script sends X-CSRFToken from the "_csrf_token" cookie on every $.post.
    assert "getCookie(\"_csrf_token\")" in page.get_data(as_text=True)
    cookie = browser.client.get_cookie("_csrf_token", path="/rq")
    assert cookie is not None and not cookie.http_only
    assert browser.client.post(f"/rq/job/{job.id}/requeue").status_code == 400  # no token: refused
    response = browser.client.post(f"/rq/job/{job.id}/requeue", headers={"X-CSRFToken": cookie.value,
                                                                        "Origin": "http://localhost"})
    assert response.status_code == 200 and response.json == {"status": "OK"}
    assert job.id in queue.get_job_ids() and job.id not in queue.failed_job_registry.get_job_ids()


def test_queue_dashboard_refuses_posts_from_another_origin_and_state_changes_by_get(app, browser, failed_job):
    queue, job = failed_job
    browser.get("/rq/")
    token = browser.client.get_cookie("_csrf_token", path="/rq").value
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}):
        response = browser.client.post(f"/rq/job/{job.id}/requeue", headers={"X-CSRFToken": token, **headers})
        assert response.status_code == 403, headers
    assert browser.client.get("/rq/requeue/default").status_code == 405  # requeue all: never by a link
    assert job.id in queue.failed_job_registry.get_job_ids() and job.id not in queue.get_job_ids()
