"""Hostile input everywhere: the intake API and every form never answer 500, every refusal names
its field, and a refused order leaves nothing behind."""
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import gen_order
from tests.web.test_access import ROUTE_SAMPLES
from webapp.documents.services import issue_document
from webapp.extensions import db
from webapp.models import Order
from webapp.settings.services import create_api_token

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
hostile_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(blacklist_categories=()), max_size=30),
    st.just("\u202eRTL\u202c ąćęłńóśźż"), st.just("x" * 5000), st.just("\x00\x07\x1b"), st.just("' OR 1=1 --"),
    st.just("<script>alert(1)</script>"), st.just("NaN"), st.just("Infinity"), st.just("-1e309"), st.just("1e309"),
)
hostile_number = st.one_of(st.integers(min_value=-10**12, max_value=10**12), st.just("12,50"), st.just("-3"),
                           st.just("0"), st.just("1e6"), st.just("9" * 40), hostile_text)
hostile_value = st.one_of(hostile_text, hostile_number, st.none(), st.booleans(),
                          st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))
item = st.fixed_dictionaries({}, optional={"name": hostile_value, "sku": hostile_value, "quantity": hostile_number,
                                           "unit_gross": hostile_number, "vat_rate": st.one_of(
                                               st.sampled_from(["23", "8", "5", "0", "zw", "np", "oo", "22", "ZW", ""]),
                                               hostile_value)})
payload = st.fixed_dictionaries({}, optional={
    "source": hostile_value, "shop_order_id": hostile_value, "ordered_at": hostile_value, "status": hostile_value,
    "currency": st.one_of(st.sampled_from(["PLN", "EUR", "usd", "XXXX"]), hostile_value),
    "exchange_rate": hostile_number,
    "buyer": st.one_of(hostile_value, st.fixed_dictionaries({}, optional={
        "type": st.one_of(st.sampled_from(["person", "company"]), hostile_value), "name": hostile_value,
        "company_name": hostile_value, "tax_id": st.one_of(st.sampled_from(["5260250274", "1234567890", "DE136695976"]),
                                                           hostile_value),
        "country": hostile_value, "email": hostile_value})),
    "payment": st.one_of(hostile_value, st.fixed_dictionaries({}, optional={
        "method": hostile_value, "paid": hostile_value, "paid_date": hostile_value})),
    "items": st.one_of(st.lists(item, max_size=4), hostile_value),
    "shipping": st.one_of(item, hostile_value),
})


@FUZZ
@given(body=payload)
def test_intake_api_never_fails_and_names_every_refused_field(app, client, merchant_user, body):
    token = create_api_token(merchant_user.merchant_id, "fuzz")
    before = db.session.scalar(db.select(db.func.count(Order.id)))
    response = client.post("/api/v1/orders", data=json.dumps(body), headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code in (200, 201, 422), response.get_data(as_text=True)[:500]
    after = db.session.scalar(db.select(db.func.count(Order.id)))
    if response.status_code == 422:
        errors = response.json["errors"]
        assert errors and all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in errors.items())
        assert after == before  # nothing half-saved
    elif response.status_code == 201:
        assert after == before + 1


@FUZZ
@given(raw=st.binary(max_size=300), content_type=st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data", ""]))
def test_intake_api_survives_any_bytes(app, client, merchant_user, raw, content_type):
    token = create_api_token(merchant_user.merchant_id, "fuzz")
    response = client.post("/api/v1/orders", data=raw, headers={"Authorization": f"Bearer {token}",
                                                                "Content-Type": content_type})
    assert response.status_code in (200, 201, 400, 415, 422)
    assert response.is_json


def test_ten_thousand_lines_are_refused_quickly(client, merchant_user):
    token = create_api_token(merchant_user.merchant_id, "fuzz")
    items = [{"name": "x", "quantity": 1, "unit_gross": 1, "vat_rate": "23"}] * 10000
    response = client.post("/api/v1/orders", json={"source": "s", "shop_order_id": "1", "items": items},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 422 and "items" in response.json["errors"]


form_data = st.dictionaries(
    st.one_of(st.sampled_from(["name", "kind", "format", "reset", "payment_days", "status_id", "series_id",
                               "order_ids", "template_id", "url", "host", "port", "sender", "reason", "subject",
                               "body", "trigger", "step_type", "numbering", "lines[0].quantity",
                               "lines[0].unit_gross", "buyer.tax_id", "items[0].quantity", "source",
                               "shop_order_id", "api_token", "base_url", "link_days", "trigger_status_id"]),
              st.text(max_size=8)),
    hostile_text, max_size=8)


def _own_objects(merchant_id):
    from webapp.crypto import encrypt_credentials
    from webapp.exports.services import create_integration
    from webapp.models import (
        ApiToken,
        AutomationRule,
        EmailTemplate,
        Export,
        OrderStatus,
        Series,
        Webhook,
    )

    order = gen_order(merchant_id)
    document = issue_document(order, "invoice")
    integration = create_integration(merchant_id, "fakturownia", "F", {"api_token": "t"},
                                     base_url="http://127.0.0.1:9/x", auto_export=False)
    export = Export(merchant_id=merchant_id, document_id=document.id, integration_id=integration.id,
                    state="rejected", field_errors={})
    objects = [
        AutomationRule(merchant_id=merchant_id, name="r", trigger="new_order", steps=[]),
        EmailTemplate(merchant_id=merchant_id, name="t", subject="s", body="b"),
        Webhook(merchant_id=merchant_id, url="https://example.com/h", secret_encrypted=encrypt_credentials({"secret": "x"})),
        ApiToken(merchant_id=merchant_id, name="x", token_hash="1" * 64, hint="ib_x"), export,
    ]
    db.session.add_all(objects)
    db.session.commit()
    first = lambda model: db.session.scalar(db.select(model.id).where(model.merchant_id == merchant_id))
    return {"order": order.id, "document": document.id, "integration": integration.id, "export": export.id,
            "series": first(Series), "status": first(OrderStatus), "token": first(ApiToken),
            "rule": first(AutomationRule), "template": first(EmailTemplate), "webhook": first(Webhook)}


def test_every_form_survives_hostile_input(app, browser, merchant_user):
    ids = _own_objects(merchant_user.merchant_id)
    rules = [r for r in app.url_map.iter_rules() if "POST" in r.methods and r.endpoint in ROUTE_SAMPLES
             and not r.endpoint.startswith("api.") and r.endpoint != "auth.logout"]
    assert len(rules) >= 20

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=form_data)
    def post_everywhere(data):
        for rule in rules:
            kind = ROUTE_SAMPLES[rule.endpoint]
            values = {arg: (ids[kind] if kind and arg.endswith("_id") else "retry") for arg in rule.arguments}
            if "provider_key" in rule.arguments:
                values["provider_key"] = "fakturownia"
            url = rule.build(values, append_unknown=False)[1]
            response = browser.post(url, data=data)
            assert response.status_code < 500, (rule.endpoint, data, response.status_code)
            db.session.rollback()

    post_everywhere()
