"""An order paid after it came in: the card's button and the API mark it paid, and "order paid"
runs the chain once (issue → export → status → e-mail)."""
import json
from datetime import date

import pytest

from tests.conftest import gen_order, run_jobs
from tests.delivery.test_chain import recommended_chain
from webapp.extensions import db
from webapp.models import AutomationRun, EmailLog, Export, Order
from webapp.settings.services import create_api_token


def unpaid_order(merchant_id, n="700"):
    return gen_order(merchant_id, n=n, paid=False, buyer_email="zofia@example.com").id


def test_order_marked_paid_on_its_card_runs_the_chain_end_to_end(app, browser, fakturownia, mail_configured):
    recommended_chain(fakturownia.merchant_id)
    order_id = unpaid_order(fakturownia.merchant_id)
    run_jobs(app)
    assert db.session.scalar(db.select(Export)) is None  # unpaid: nothing issued
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Oznacz jako opłacone" in page and 'name="paid_date"' in page

    response = browser.post(f"/orders/{order_id}/paid", data={"paid_date": "2026-11-21"}, follow_redirects=True)
    assert "oznaczone jako opłacone" in response.get_data(as_text=True)
    browser.post(f"/orders/{order_id}/paid", data={"paid_date": "2026-11-22"})  # a second click
    run_jobs(app)

    order = db.session.get(Order, order_id)
    assert (order.paid, order.paid_date) == (True, date(2026, 11, 21))
    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched"
    assert order.status.name == "Faktura wystawiona"
    assert [m["To"] for m in mail_configured.messages] == ["zofia@example.com"]
    assert export.remote_number in mail_configured.messages[0]["Subject"]
    runs = db.session.scalars(db.select(AutomationRun).order_by(AutomationRun.id)).all()
    assert [(r.event, r.state) for r in runs] == [("order_paid", "done"), ("status_changed", "done")]
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Oznacz jako opłacone" not in page


def test_paid_form_refuses_a_bad_date_and_changes_nothing(app, browser, merchant_user):
    order_id = unpaid_order(merchant_user.merchant_id)
    response = browser.post(f"/orders/{order_id}/paid", data={"paid_date": "21.11.2026"}, follow_redirects=True)
    assert "RRRR-MM-DD" in response.get_data(as_text=True)
    assert db.session.get(Order, order_id).paid is False
    assert browser.client.post(f"/orders/{order_id}/paid", data={"paid_date": "2026-11-21"}).status_code == 400  # no CSRF


@pytest.fixture
def payment_api(client, merchant_user):
    token = create_api_token(merchant_user.merchant_id, "Sklep A")

    def post(order_id, payload=None, raw=None, content_type="application/json"):
        body = raw if raw is not None else (json.dumps(payload) if payload is not None else "")
        return client.post(f"/api/v1/orders/{order_id}/payment", data=body,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    return post


def test_api_marks_an_order_paid_once_and_fires_order_paid_once(app, fakturownia, mail_configured, client):
    token = create_api_token(fakturownia.merchant_id, "Sklep A")
    recommended_chain(fakturownia.merchant_id)
    order_id = unpaid_order(fakturownia.merchant_id, "701")
    headers = {"Authorization": f"Bearer {token}"}
    first = client.post(f"/api/v1/orders/{order_id}/payment", json={"paid_date": "2026-11-21"}, headers=headers)
    again = client.post(f"/api/v1/orders/{order_id}/payment", json={"paid_date": "2026-11-23"}, headers=headers)
    assert first.status_code == 200 and first.json["changed"] is True
    assert first.json["payment"] == {"method": "Przelew", "paid": True, "paid_date": "2026-11-21"}
    assert again.status_code == 200 and again.json["changed"] is False
    assert again.json["payment"]["paid_date"] == "2026-11-21"
    run_jobs(app)
    assert db.session.scalar(db.select(db.func.count(Export.id))) == 1
    assert len(mail_configured.messages) == 1
    assert db.session.scalar(db.select(db.func.count(AutomationRun.id)).where(AutomationRun.event == "order_paid")) == 1
    assert db.session.scalar(db.select(EmailLog.state)) == "sent"


def test_api_payment_without_a_body_means_today(app, payment_api, merchant_user):
    order_id = unpaid_order(merchant_user.merchant_id)
    response = payment_api(order_id)
    assert response.status_code == 200 and response.json["payment"]["paid"] is True
    assert response.json["payment"]["paid_date"] is not None


@pytest.mark.parametrize("payload", [{"paid_date": "2026-13-01"}, {"paid_date": 20261121}, {"paid_date": "jutro"}])
def test_api_payment_bad_date_is_422_naming_the_field(app, payment_api, merchant_user, payload):
    order_id = unpaid_order(merchant_user.merchant_id)
    response = payment_api(order_id, payload)
    assert response.status_code == 422
    assert response.json["error"] == "invalid" and "paid_date" in response.json["errors"]
    assert db.session.get(Order, order_id).paid is False


def test_api_payment_bad_bodies(app, payment_api, merchant_user):
    order_id = unpaid_order(merchant_user.merchant_id)
    assert payment_api(order_id, raw="{nope").status_code == 400
    assert payment_api(order_id, raw="[1]").status_code == 422
    assert payment_api(order_id, raw="paid_date=2026-11-21", content_type="text/plain").status_code == 415
    assert db.session.get(Order, order_id).paid is False


def test_api_payment_of_another_merchants_order_is_404(app, payment_api, merchant_user, other_user, client):
    foreign = unpaid_order(other_user.merchant_id, "702")
    assert payment_api(foreign, {"paid_date": "2026-11-21"}).status_code == 404
    assert payment_api(999999, {"paid_date": "2026-11-21"}).status_code == 404
    assert db.session.get(Order, foreign).paid is False
    assert client.post(f"/api/v1/orders/{foreign}/payment", json={}).status_code == 401  # no token
