import json
import threading

import pytest

from webapp.extensions import db
from webapp.models import Order
from webapp.settings.services import create_api_token


@pytest.fixture
def api(client, merchant_user):
    token = create_api_token(merchant_user.merchant_id, "Sklep A")

    def post(payload, raw=None, content_type="application/json"):
        return client.post("/api/v1/orders", data=raw if raw is not None else json.dumps(payload),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
    return post


def order_payload(**overrides):
    payload = {
        "source": "Sklep Łąka", "shop_order_id": "1001", "ordered_at": "2026-11-20T10:00:00+01:00",
        "buyer": {"type": "company", "name": "Jan Kowalski", "company_name": "Gęś i Żuraw Sp. z o.o.",
                  "tax_id": "526-025-02-74", "street": "ul. Świętokrzyska 5", "post_code": "00-360",
                  "city": "Warszawa", "country": "PL", "email": "jan@example.com"},
        "payment": {"method": "PayU", "paid": True, "paid_date": "2026-11-20"},
        "items": [{"name": "Kubek", "sku": "KUB-1", "quantity": 2, "unit_gross": 39.99, "vat_rate": "23"},
                  {"name": "Kurs", "quantity": "1", "unit_gross": "299,00", "vat_rate": "zw"}],
        "shipping": {"name": "Kurier", "gross": "14.99", "vat_rate": 23},
    }
    payload.update(overrides)
    return payload


def test_order_is_created_with_exact_decimals(api, merchant_user):
    response = api(order_payload())
    assert response.status_code == 201, response.json
    body = response.json
    assert body["buyer"]["tax_id"] == "5260250274"
    assert [i["unit_gross"] for i in body["items"]] == ["39.99", "299.00", "14.99"]
    assert body["items"][2]["shipping"] is True
    assert body["status"] == "Nowe"
    assert body["buyer"]["company_name"] == "Gęś i Żuraw Sp. z o.o."


def test_same_order_twice_returns_the_same_order(api, merchant_user):
    first = api(order_payload())
    second = api(order_payload(items=[{"name": "Inne", "quantity": 1, "unit_gross": 1, "vat_rate": "23"}]))
    assert first.status_code == 201 and second.status_code == 200
    assert first.json["id"] == second.json["id"]
    assert second.json["items"][0]["name"] == "Kubek"
    assert db.session.scalar(db.select(db.func.count(Order.id))) == 1


def test_concurrent_resends_make_one_order(app, api, merchant_user):
    results = []

    def send():
        with app.app_context():
            results.append(api(order_payload(shop_order_id="race-1")).status_code)
            db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and set(results) <= {200, 201}
    assert results.count(201) == 1
    assert db.session.scalar(db.select(db.func.count(Order.id)).where(Order.shop_order_id == "race-1")) == 1


@pytest.mark.parametrize(("change", "field", "fragment"), [
    ({"buyer": {"type": "company", "company_name": "X", "tax_id": "1234567890"}}, "buyer.tax_id", "NIP"),
    ({"items": [{"name": "A", "quantity": 0, "unit_gross": 1, "vat_rate": "23"}]}, "items[0].quantity", "większe od zera"),
    ({"items": [{"name": "A", "quantity": -3, "unit_gross": 1, "vat_rate": "23"}]}, "items[0].quantity", ""),
    ({"items": [{"name": "A", "quantity": 1, "unit_gross": "abc", "vat_rate": "23"}]}, "items[0].unit_gross", "liczba"),
    ({"items": [{"name": "A", "quantity": 1, "unit_gross": "1.999", "vat_rate": "23"}]}, "items[0].unit_gross", "2 miejsca"),
    ({"items": [{"name": "A", "quantity": 1, "unit_gross": 1, "vat_rate": "22"}]}, "items[0].vat_rate", "23, 8, 5"),
    ({"items": []}, "items", "co najmniej jedną"),
    ({"currency": "EUR"}, "exchange_rate", "wymagane"),
    ({"currency": "E1R"}, "currency", "ISO 4217"),
    ({"source": ""}, "source", "wymagane"),
    ({"buyer": {"type": "alien"}}, "buyer.type", "person"),
    ({"buyer": {"name": "a\x00b"}}, "buyer.name", "sterujące"),
    ({"buyer": {"name": "x" * 5000}}, "buyer.name", "najwyżej 200"),
    ({"buyer": {"email": "not-an-email"}}, "buyer.email", "e-mail"),
    ({"buyer": {"type": "company", "company_name": "Firma", "tax_id": "DE000000000", "country": "DE"}}, "buyer.tax_id", "VAT UE"),
    ({"ordered_at": "yesterday"}, "ordered_at", "ISO 8601"),
    ({"status": "Nieznany"}, "status", "Nieznany status"),
    ({"payment": {"paid": "maybe"}}, "payment.paid", "tak/nie"),
])
def test_bad_input_answers_422_naming_the_field(api, change, field, fragment):
    response = api(order_payload(**change))
    assert response.status_code == 422
    errors = response.json["errors"]
    assert field in errors, errors
    assert fragment in errors[field]
    assert db.session.scalar(db.select(db.func.count(Order.id))) == 0


def test_several_bad_fields_are_all_reported(api):
    response = api(order_payload(source="", items=[{"name": "", "quantity": "x", "unit_gross": -1, "vat_rate": "7"}]))
    assert response.status_code == 422
    assert {"source", "items[0].name", "items[0].quantity", "items[0].unit_gross", "items[0].vat_rate"} <= set(response.json["errors"])


def test_eu_company_with_vat_id_and_foreign_currency(api):
    response = api(order_payload(currency="EUR", exchange_rate="4.2718", buyer={
        "type": "company", "company_name": "Müller GmbH", "tax_id": "DE136695976", "country": "DE", "city": "Berlin"}))
    assert response.status_code == 201, response.json
    assert response.json["exchange_rate"] == "4.271800"
    assert response.json["buyer"]["tax_id"] == "DE136695976"


def test_too_many_lines_is_refused_not_half_saved(api):
    items = [{"name": f"P{i}", "quantity": 1, "unit_gross": 1, "vat_rate": "23"} for i in range(10000)]
    response = api(order_payload(items=items))
    assert response.status_code == 422 and "items" in response.json["errors"]


@pytest.mark.parametrize(("raw", "content_type", "status"), [
    ("{not json", "application/json", 400),
    ("[1, 2]", "application/json", 422),
    ("source=x", "application/x-www-form-urlencoded", 415),
    ("\xff\xfe", "application/json", 400),
])
def test_malformed_bodies_get_a_json_error(api, raw, content_type, status):
    response = api(None, raw=raw, content_type=content_type)
    assert response.status_code == status
    assert response.is_json and response.json["errors"]


def test_missing_or_revoked_token_is_401(client, merchant_user):
    from webapp.models import ApiToken
    from webapp.settings.services import revoke_api_token

    assert client.post("/api/v1/orders", json=order_payload()).status_code == 401
    token = create_api_token(merchant_user.merchant_id, "old")
    revoke_api_token(db.session.scalar(db.select(ApiToken)))
    response = client.post("/api/v1/orders", json=order_payload(), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and "unieważniony" in response.json["message"]


def test_token_is_stored_only_as_a_hash(merchant_user):
    from webapp.models import ApiToken

    token = create_api_token(merchant_user.merchant_id, "x")
    row = db.session.scalar(db.select(ApiToken))
    assert token not in (row.token_hash, row.hint) and row.token_hash == ApiToken.hash_token(token)
