"""The Fakturownia emulator behaves like the contract says the real service does.

Most tests use the Flask test client; the last ones talk to a real server
process (connection reset, timeout after store) through ``running_sandbox``.
"""

from __future__ import annotations

import io
import threading
from decimal import Decimal

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from providers.sandbox import create_sandbox_app
from providers.sandbox.pdf import PdfDocument, PdfLine, find_font, render_pdf
from tests.sandbox_server import running_sandbox

TOKEN = "secret-1"
BASE = "/fakturownia/acme"
LOGIN_MESSAGE = "You must be logged in to gain access to the site"


@pytest.fixture
def app(tmp_path):
    return create_sandbox_app(tmp_path / "sandbox.sqlite3")


@pytest.fixture
def client(app):
    test_client = app.test_client()
    created = test_client.post("/_sandbox/fakturownia/accounts", json={"prefix": "acme", "api_token": TOKEN})
    assert created.status_code == 201
    return test_client


def company_invoice(**overrides) -> dict:
    invoice = {
        "kind": "vat",
        "issue_date": "2026-03-10",
        "sell_date": "2026-03-10",
        "payment_to_kind": 7,
        "buyer_name": "Hurtownia Żółw Sp. z o.o.",
        "buyer_tax_no": "5260250274",
        "buyer_company": True,
        "buyer_street": "ul. Długa 5",
        "buyer_post_code": "31-147",
        "buyer_city": "Kraków",
        "buyer_country": "PL",
        "buyer_email": "faktury@zolw.example",
        "positions": [{"name": "Kubek ceramiczny", "quantity": 2, "total_price_gross": "59.98", "tax": 23}],
    }
    invoice.update(overrides)
    return invoice


def post_invoice(client, invoice: dict, prefix: str = "acme", token: str = TOKEN, **top_level):
    return client.post(
        f"/fakturownia/{prefix}/invoices.json", json={"api_token": token, "invoice": invoice, **top_level}
    )


def get_json(client, path: str, **params):
    return client.get(f"{BASE}{path}", query_string={"api_token": TOKEN, **params})


def created(client, invoice: dict, **top_level) -> dict:
    response = post_invoice(client, invoice, **top_level)
    assert response.status_code == 201, response.json
    return response.json


# ---------------------------------------------------------------------------
# create / read


def test_create_answers_201_with_the_full_invoice(client):
    body = created(client, company_invoice(oid="IB-1-0001"))

    assert isinstance(body["id"], int)
    assert body["number"] == "1/03/2026"
    assert body["kind"] == "vat" and body["status"] == "issued" and body["oid"] == "IB-1-0001"
    assert body["token"] and body["view_url"].endswith(f"/fakturownia/acme/invoice/{body['token']}")
    assert body["payment_to"] == "2026-03-17"
    assert (body["price_net"], body["price_tax"], body["price_gross"]) == ("48.76", "11.22", "59.98")
    assert body["seller_name"] and body["seller_tax_no"] and body["department_id"]
    [line] = body["positions"]
    assert line["tax"] == "23" and line["quantity"] == "2.0"
    assert (line["price_gross"], line["price_net"]) == ("29.99", "24.38")
    assert (line["total_price_net"], line["total_price_tax"], line["total_price_gross"]) == (
        "48.76",
        "11.22",
        "59.98",
    )


def test_get_returns_the_stored_invoice_and_unknown_ids_are_404(client):
    body = created(client, company_invoice())

    fetched = get_json(client, f"/invoices/{body['id']}.json")
    missing = get_json(client, "/invoices/999999.json")

    assert fetched.status_code == 200
    assert (
        fetched.json["number"] == body["number"]
        and fetched.json["positions"][0]["name"] == "Kubek ceramiczny"
    )
    assert missing.status_code == 404 and missing.json == {"code": "error", "message": "Not found"}


def test_gross_lines_are_totalled_per_vat_rate_not_line_by_line(client):
    # Three lines of 1.00 gross at 23%: each line nets 0.81 (sum 2.43), but the
    # invoice computes VAT once from the rate's gross sum: 3.00 / 1.23 = 2.44 net.
    lines = [
        {"name": f"Naklejka {n}", "quantity": 1, "total_price_gross": "1.00", "tax": "23"} for n in range(3)
    ]
    body = created(client, company_invoice(positions=lines))

    assert [line["total_price_net"] for line in body["positions"]] == ["0.81"] * 3
    assert (body["price_net"], body["price_tax"], body["price_gross"]) == ("2.44", "0.56", "3.00")


def test_net_lines_are_totalled_from_the_net_sum_per_rate(client):
    lines = [{"name": f"Usługa {n}", "quantity": 1, "price_net": "0.81", "tax": "23"} for n in range(3)]
    body = created(client, company_invoice(positions=lines))

    assert [line["total_price_tax"] for line in body["positions"]] == ["0.19"] * 3
    assert (body["price_net"], body["price_tax"], body["price_gross"]) == ("2.43", "0.56", "2.99")


def test_comma_decimals_mixed_rates_and_exempt_lines(client):
    body = created(
        client,
        company_invoice(
            positions=[
                {"name": "Herbata", "quantity": "3", "price_gross": "18,50", "tax": "5"},
                {"name": "Kurs online", "quantity": 1, "total_price_gross": 100, "tax": "zw"},
                {"name": "Usługa poza UE", "quantity": 1, "total_price_gross": "40", "tax": "n/a"},
            ]
        ),
    )

    assert [line["tax"] for line in body["positions"]] == ["5", "zw", "np"]
    assert body["positions"][0]["total_price_gross"] == "55.50"
    assert (body["price_net"], body["price_tax"], body["price_gross"]) == ("192.86", "2.64", "195.50")


def test_receipt_needs_no_buyer_and_is_not_for_ksef(client):
    body = created(
        client,
        {
            "kind": "receipt",
            "issue_date": "2026-03-10",
            "positions": [{"name": "Kubek", "quantity": 1, "total_price_gross": "29.99", "tax": 23}],
        },
    )

    assert body["number"] == "PAR 1/03/2026"
    assert body["gov_status"] == "not_applicable"


# ---------------------------------------------------------------------------
# numbering


def test_numbers_follow_the_pattern_per_kind_department_and_month(client):
    departments = get_json(client, "/departments.json").json
    wholesale = next(d["id"] for d in departments if d["name"] == "Hurtownia")
    receipt = {
        "kind": "receipt",
        "positions": [{"name": "A", "quantity": 1, "total_price_gross": 5, "tax": 23}],
    }

    numbers = [
        created(client, company_invoice())["number"],
        created(client, company_invoice())["number"],
        created(client, {**receipt, "issue_date": "2026-03-11"})["number"],
        created(client, company_invoice(department_id=wholesale))["number"],
        created(client, company_invoice(issue_date="2026-04-01"))["number"],
    ]

    assert numbers == ["1/03/2026", "2/03/2026", "PAR 1/03/2026", "H/1/03/2026", "1/04/2026"]
    assert {d["name"] for d in departments} == {"Sklep internetowy", "Hurtownia"}


def test_a_given_number_is_kept_and_automatic_numbering_skips_it(client):
    manual = created(client, company_invoice(number="2/03/2026"))
    first = created(client, company_invoice(number=None))
    second = created(client, company_invoice())

    assert manual["number"] == "2/03/2026" and manual["pattern"] is None
    assert (first["number"], second["number"]) == ("1/03/2026", "3/03/2026")


# ---------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "change, field",
    [
        ({"buyer_name": None}, "buyer_name"),
        ({"positions": []}, "positions"),
        ({"positions": [{"name": "Kubek", "quantity": 1, "tax": 23}]}, "positions.total_price_gross"),
        ({"positions": [{"quantity": 1, "total_price_gross": 5, "tax": 23}]}, "positions.name"),
        ({"positions": [{"name": "Kubek", "total_price_gross": 5, "tax": 23}]}, "positions.quantity"),
        (
            {"positions": [{"name": "Kubek", "quantity": 1, "total_price_gross": 5, "tax": 7}]},
            "positions.tax",
        ),
        (
            {"positions": [{"name": "Kubek", "quantity": "dwa", "total_price_gross": 5, "tax": 23}]},
            "positions.quantity",
        ),
        ({"descriptions": [{"kind": "text", "content": "x" * 257}]}, "descriptions.content"),
        ({"kind": "faktura"}, "kind"),
        ({"department_id": 4242}, "department_id"),
        ({"warehouse_id": 4242}, "warehouse_id"),
        ({"positions": [{"product_id": 4242, "quantity": 1}]}, "positions.product_id"),
        ({"issue_date": "10.03.2026"}, "issue_date"),
    ],
)
def test_invalid_invoices_get_422_with_the_field_named(client, change, field):
    response = post_invoice(client, company_invoice(**change))

    assert response.status_code == 422
    assert response.json["code"] == "error"
    assert field in response.json["message"] and response.json["message"][field]
    assert get_json(client, "/invoices.json").json == []


def test_several_bad_lines_are_all_refused_together(client):
    response = post_invoice(
        client,
        company_invoice(
            positions=[
                {"name": "Kubek", "total_price_gross": 5, "tax": 23},
                {"name": "Herbata", "total_price_gross": 5, "tax": 23},
                {"quantity": 1, "price_net": "x", "tax": "23"},
            ]
        ),
    )

    assert response.status_code == 422
    assert response.json["message"]["positions.quantity"]
    assert set(response.json["message"]) >= {"positions.name", "positions.price_net"}


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["", "23", "zw", "n/a", "-1", "12,50", "abc", "2026-03-10", "2026-13-45", "ąę"]),
    st.text(max_size=20),
)
LINE_KEYS = ["name", "quantity", "tax", "total_price_gross", "price_gross", "price_net", "product_id", "id"]
LINES = st.lists(st.dictionaries(st.sampled_from(LINE_KEYS), SCALARS, max_size=6), max_size=3)
INVOICES = st.fixed_dictionaries(
    {"kind": st.sampled_from(["vat", "receipt", "correction", "proforma", "nonsense"]), "positions": LINES},
    optional={
        name: SCALARS
        for name in [
            "number",
            "issue_date",
            "sell_date",
            "payment_to_kind",
            "payment_to",
            "status",
            "paid",
            "buyer_name",
            "buyer_company",
            "buyer_tax_no",
            "department_id",
            "warehouse_id",
            "client_id",
            "invoice_id",
            "oid",
            "oid_unique",
            "descriptions",
        ]
    },
)


def test_arbitrary_payloads_get_a_201_or_a_422_never_a_crash(tmp_path):
    client = create_sandbox_app(tmp_path / "fuzz.sqlite3").test_client()
    client.post("/_sandbox/fakturownia/accounts", json={"prefix": "acme", "api_token": TOKEN})

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(invoice=INVOICES)
    def check(invoice):
        response = post_invoice(client, invoice)
        assert response.status_code in (201, 422), response.get_data(as_text=True)[:500]
        if response.status_code == 422:
            assert response.json["code"] == "error" and response.json["message"]

    check()


def test_a_private_buyer_may_be_given_by_first_and_last_name(client):
    body = created(
        client,
        company_invoice(
            buyer_name=None,
            buyer_company=False,
            buyer_tax_no=None,
            buyer_first_name="Łucja",
            buyer_last_name="Ćwik",
        ),
    )

    assert body["buyer_name"] == "Łucja Ćwik"


def test_256_characters_of_description_are_fine(client):
    body = created(client, company_invoice(descriptions=[{"kind": "text", "content": "ż" * 256}]))

    assert body["descriptions"][0]["content"] == "ż" * 256


def test_a_product_line_takes_name_price_and_rate_from_the_product_card(client):
    product = get_json(client, "/products.json").json[0]
    body = created(client, company_invoice(positions=[{"product_id": product["id"], "quantity": 2}]))

    [line] = body["positions"]
    assert (line["name"], line["code"], line["tax"]) == (product["name"], product["code"], product["tax"])
    assert Decimal(line["total_price_gross"]) == 2 * Decimal(product["price_gross"])


# ---------------------------------------------------------------------------
# authentication


def test_every_token_place_is_accepted_including_the_prefixed_form(client):
    path = f"{BASE}/invoices.json"
    body_token = client.post(path, json={"api_token": TOKEN, "invoice": company_invoice()})
    query_token = client.post(path, query_string={"api_token": TOKEN}, json={"invoice": company_invoice()})
    bearer = client.post(
        path, headers={"Authorization": f"Bearer {TOKEN}"}, json={"invoice": company_invoice()}
    )
    prefixed = client.get(path, query_string={"api_token": f"{TOKEN}/acme"})

    assert [r.status_code for r in (body_token, query_token, bearer, prefixed)] == [201, 201, 201, 200]


@pytest.mark.parametrize("place", ["missing", "query", "body", "bearer", "other_prefix", "other_account"])
def test_a_bad_or_missing_token_is_401_in_every_place(client, place):
    client.post("/_sandbox/fakturownia/accounts", json={"prefix": "other", "api_token": "secret-2"})
    path = f"{BASE}/invoices.json"
    payload = {"invoice": company_invoice()}
    if place == "missing":
        response = client.post(path, json=payload)
    elif place == "query":
        response = client.post(path, query_string={"api_token": "wrong"}, json=payload)
    elif place == "body":
        response = client.post(path, json={"api_token": "wrong", **payload})
    elif place == "bearer":
        response = client.post(path, headers={"Authorization": "Bearer wrong"}, json=payload)
    elif place == "other_prefix":
        response = client.post(path, json={"api_token": f"{TOKEN}/other", **payload})
    else:
        response = client.post(path, json={"api_token": "secret-2", **payload})

    assert response.status_code == 401
    assert response.json["message"] == LOGIN_MESSAGE
    assert client.get("/_sandbox/fakturownia/documents", query_string={"account": "acme"}).json["count"] == 0


def test_the_demo_account_exists_from_the_start(app):
    response = app.test_client().get(
        "/fakturownia/demo/invoices.json", query_string={"api_token": "demo-fakturownia-token"}
    )

    assert response.status_code == 200 and response.json == []


# ---------------------------------------------------------------------------
# duplicate guard


def test_oid_unique_refuses_a_second_invoice_for_the_same_order(client):
    first = post_invoice(client, company_invoice(oid="IB-7-0001", oid_unique="yes"))
    again = post_invoice(client, company_invoice(oid="IB-7-0001", oid_unique="yes"))
    other = post_invoice(client, company_invoice(oid="IB-7-0002", oid_unique=True))

    assert (first.status_code, again.status_code, other.status_code) == (201, 422, 201)
    assert again.json["code"] == "error" and "oid" in again.json["message"]
    assert (
        client.get(
            "/_sandbox/fakturownia/documents", query_string={"account": "acme", "oid": "IB-7-0001"}
        ).json["count"]
        == 1
    )


def test_without_oid_unique_the_same_oid_may_repeat(client):
    created(client, company_invoice(oid="IB-7-0001"))
    created(client, company_invoice(oid="IB-7-0001"))

    found = client.get("/_sandbox/fakturownia/documents", query_string={"oid": "IB-7-0001"}).json
    assert found["count"] == 2


# ---------------------------------------------------------------------------
# corrections


def correction_for(original_id, **overrides) -> dict:
    correction = {
        "kind": "correction",
        "issue_date": "2026-03-20",
        "correction_reason": "Zwrot jednej sztuki",
        "invoice_id": original_id,
        "from_invoice_id": original_id,
        "positions": [
            {
                "name": "Kubek ceramiczny",
                "quantity": -1,
                "total_price_gross": "-29.99",
                "tax": "23",
                "kind": "correction",
                "correction_before_attributes": {
                    "name": "Kubek ceramiczny",
                    "quantity": "2",
                    "total_price_gross": "59.98",
                    "tax": "23",
                    "kind": "correction_before",
                },
                "correction_after_attributes": {
                    "name": "Kubek ceramiczny",
                    "quantity": "1",
                    "total_price_gross": "29.99",
                    "tax": "23",
                    "kind": "correction_after",
                },
            }
        ],
    }
    correction.update(overrides)
    return correction


def test_a_correction_carries_the_difference_and_the_before_after_states(client):
    original = created(client, company_invoice())
    original_ksef = get_json(client, f"/invoices/{original['id']}.json").json["gov_id"]

    body = created(client, correction_for(original["id"]))

    assert body["number"] == "FK 1/03/2026"
    assert body["buyer_name"] == original["buyer_name"] and body["buyer_tax_no"] == original["buyer_tax_no"]
    assert (body["price_net"], body["price_tax"], body["price_gross"]) == ("-24.38", "-5.61", "-29.99")
    assert body["gov_corrected_invoice_number"] == original_ksef
    [line] = body["positions"]
    assert (line["kind"], line["quantity"], line["total_price_gross"]) == ("correction", "-1.0", "-29.99")
    assert line["correction_before_attributes"]["quantity"] == "2.0"
    assert line["correction_after_attributes"]["total_price_gross"] == "29.99"
    pdf = pdf_text(client.get(f"{BASE}/invoices/{body['id']}.pdf", query_string={"api_token": TOKEN}).data)
    assert body["number"] in pdf and f"Dotyczy faktury: {original['number']} z dnia 2026-03-10" in pdf
    plain = get_json(client, f"/invoices/{body['id']}.json").json["positions"][0]
    full = get_json(client, f"/invoices/{body['id']}.json", correction_positions="full").json["positions"][0]
    assert "correction_before_attributes" not in plain
    assert full["correction_before_attributes"]["kind"] == "correction_before"


@pytest.mark.parametrize("invoice_id, field", [(None, "invoice_id"), (987654, "invoice_id")])
def test_a_correction_must_point_at_an_existing_invoice(client, invoice_id, field):
    response = post_invoice(client, correction_for(invoice_id, from_invoice_id=None))

    assert response.status_code == 422 and field in response.json["message"]


def test_correction_lines_need_before_and_after_states(client):
    original = created(client, company_invoice())
    response = post_invoice(
        client,
        correction_for(
            original["id"],
            positions=[
                {
                    "name": "Kubek",
                    "quantity": -1,
                    "total_price_gross": "-29.99",
                    "tax": "23",
                    "kind": "correction",
                }
            ],
        ),
    )

    assert response.status_code == 422
    assert "positions.correction_before_attributes" in response.json["message"]
    assert "positions.correction_after_attributes" in response.json["message"]


def test_a_correction_may_not_change_the_buyers_tax_id(client):
    original = created(client, company_invoice())
    response = post_invoice(client, correction_for(original["id"], buyer_tax_no="1132853869"))

    assert response.status_code == 422 and "buyer_tax_no" in response.json["message"]


# ---------------------------------------------------------------------------
# KSeF and e-mail


def test_ksef_status_goes_from_processing_to_ok_on_a_later_read(client):
    body = created(client, company_invoice())
    later = get_json(client, f"/invoices/{body['id']}.json").json
    again = get_json(client, f"/invoices/{body['id']}.json").json

    assert (body["gov_status"], body["gov_id"]) == ("processing", None)
    assert later["gov_status"] == "ok" and later["gov_id"].startswith(body["seller_tax_no"])
    assert later["gov_verification_link"] and again["gov_id"] == later["gov_id"]
    assert client.get(later["gov_verification_link"].replace("http://localhost", "")).status_code == 200


def test_ksef_can_be_slowed_down_per_account(client):
    client.post(
        "/_sandbox/fakturownia/accounts",
        json={"prefix": "slow", "api_token": "s", "options": {"ksef_delay_reads": 2}},
    )
    body = post_invoice(client, company_invoice(), prefix="slow", token="s").json
    path = f"/fakturownia/slow/invoices/{body['id']}.json"

    statuses = [client.get(path, query_string={"api_token": "s"}).json["gov_status"] for _ in range(3)]

    assert statuses == ["processing", "processing", "ok"]


def test_an_invoice_ksef_would_refuse_ends_in_send_error_with_the_reasons(client):
    body = created(client, company_invoice(buyer_company=None, buyer_street=None))

    later = get_json(client, f"/invoices/{body['id']}.json").json

    assert later["gov_status"] == "send_error" and later["gov_id"] is None
    assert any("buyer_company" in message for message in later["gov_error_messages"])


def test_with_gov_validation_on_a_ksef_problem_is_a_422(client):
    client.post(
        "/_sandbox/fakturownia/accounts",
        json={"prefix": "strict", "api_token": "s", "options": {"validate_invoices_for_gov": True}},
    )

    response = post_invoice(client, company_invoice(buyer_street=None), prefix="strict", token="s")

    assert response.status_code == 422 and "buyer_street" in response.json["message"]


def test_send_by_email_refuses_with_http_200_until_the_company_invoice_has_a_ksef_number(client):
    body = created(client, company_invoice())
    path = f"{BASE}/invoices/{body['id']}/send_by_email.json"

    refused = client.post(path, query_string={"api_token": TOKEN})
    get_json(client, f"/invoices/{body['id']}.json")
    sent = client.post(path, query_string={"api_token": TOKEN, "email_to": "ksiegowosc@zolw.example"})

    assert refused.status_code == 200
    assert refused.json == {
        "status": "error",
        "message": "Faktura nie może zostać wysłana - brak numeru KSeF",
    }
    assert sent.status_code == 200 and sent.json == {"status": "ok"}
    [document] = client.get("/_sandbox/fakturownia/documents", query_string={"account": "acme"}).json[
        "documents"
    ]
    assert [email["to"] for email in document["_sandbox"]["emails"]] == [["ksiegowosc@zolw.example"]]


def test_send_by_email_to_a_private_buyer_needs_no_ksef_number(client):
    body = created(client, company_invoice(buyer_company=False, buyer_tax_no=None))

    sent = client.post(f"{BASE}/invoices/{body['id']}/send_by_email.json", query_string={"api_token": TOKEN})

    assert sent.json == {"status": "ok"}


# ---------------------------------------------------------------------------
# list, update, delete, status


def test_list_pages_filters_and_ignores_an_oid_filter(client):
    for n in range(5):
        created(client, company_invoice(oid=f"IB-{n}"))
    created(client, company_invoice(issue_date="2025-12-30", oid="IB-old"))
    created(
        client,
        {
            "kind": "receipt",
            "issue_date": "2026-03-10",
            "positions": [{"name": "A", "quantity": 1, "total_price_gross": 5, "tax": 23}],
        },
    )

    everything = get_json(client, "/invoices.json", per_page=500).json
    page_two = get_json(client, "/invoices.json", per_page=2, page=2).json
    by_number = get_json(client, "/invoices.json", number="3/03/2026").json
    receipts = get_json(client, "/invoices.json", kind="receipt").json
    kinds = get_json(client, "/invoices.json", **{"kinds[]": ["receipt", "vat"]}).json
    december = get_json(
        client, "/invoices.json", period="more", date_from="2025-12-01", date_to="2025-12-31"
    ).json
    oid_filter = get_json(client, "/invoices.json", oid="IB-0").json
    with_lines = get_json(client, "/invoices.json", include_positions="true").json
    oldest_first = get_json(client, "/invoices.json", order="issue_date").json
    by_number_desc = get_json(client, "/invoices.json", order="number.desc", kind="vat").json
    narrowed = get_json(client, "/invoices.json", **{"fields[invoice]": "id,number"}).json

    assert len(everything) == 7 and len(page_two) == 2 and len(kinds) == 7
    assert [doc["oid"] for doc in by_number] == ["IB-2"]
    assert [doc["kind"] for doc in receipts] == ["receipt"]
    assert [doc["oid"] for doc in december] == ["IB-old"]
    assert len(oid_filter) == 7  # not a documented filter: the service ignores it
    assert "positions" not in everything[0] and with_lines[0]["positions"]
    assert oldest_first[0]["oid"] == "IB-old"
    assert [doc["number"] for doc in by_number_desc][:2] == ["5/03/2026", "4/03/2026"]
    assert set(narrowed[0]) == {"id", "number"}


def test_per_page_is_capped_at_100(client):
    for _ in range(101):
        post_invoice(
            client,
            {
                "kind": "receipt",
                "positions": [{"name": "A", "quantity": 1, "total_price_gross": 5, "tax": 23}],
            },
        )

    assert len(get_json(client, "/invoices.json", per_page=1000).json) == 100


def test_update_edits_removes_and_adds_lines_and_recomputes_totals(client):
    body = created(
        client,
        company_invoice(
            positions=[
                {"name": "Kubek", "quantity": 1, "total_price_gross": "29.99", "tax": 23},
                {"name": "Herbata", "quantity": 1, "total_price_gross": "18.50", "tax": 5},
            ]
        ),
    )
    mug, tea = body["positions"]

    updated = client.put(
        f"{BASE}/invoices/{body['id']}.json",
        json={
            "api_token": TOKEN,
            "invoice": {
                "buyer_name": "Nowa Nazwa S.A.",
                "positions": [
                    {"id": mug["id"], "quantity": 2, "total_price_gross": "59.98"},
                    {"id": tea["id"], "_destroy": 1},
                    {"name": "Świeca", "quantity": 1, "total_price_gross": "35.00", "tax": 23},
                ],
            },
        },
    )

    assert updated.status_code == 200
    assert updated.json["number"] == body["number"] and updated.json["buyer_name"] == "Nowa Nazwa S.A."
    assert [(p["name"], p["total_price_gross"]) for p in updated.json["positions"]] == [
        ("Kubek", "59.98"),
        ("Świeca", "35.00"),
    ]
    assert updated.json["positions"][0]["id"] == mug["id"]
    assert updated.json["price_gross"] == "94.98"


def test_delete_removes_the_invoice(client):
    body = created(client, company_invoice())

    deleted = client.delete(f"{BASE}/invoices/{body['id']}.json", query_string={"api_token": TOKEN})

    assert deleted.status_code == 200 and deleted.json["code"] == "success"
    assert get_json(client, f"/invoices/{body['id']}.json").status_code == 404


def test_change_status_to_paid_records_the_payment(client):
    body = created(client, company_invoice())

    changed = client.post(
        f"{BASE}/invoices/{body['id']}/change_status.json",
        query_string={"api_token": TOKEN, "status": "paid"},
    )
    bad = client.post(
        f"{BASE}/invoices/{body['id']}/change_status.json",
        query_string={"api_token": TOKEN, "status": "zapłacona"},
    )

    after = get_json(client, f"/invoices/{body['id']}.json").json
    assert changed.status_code == 200 and bad.status_code == 422
    assert (after["status"], after["paid"]) == ("paid", body["price_gross"]) and after["paid_date"]


# ---------------------------------------------------------------------------
# PDF and public links


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_pdf_carries_the_number_and_the_lines(client):
    body = created(
        client,
        company_invoice(
            positions=[
                {"name": "Książka „Zażółć gęślą jaźń”", "quantity": 1, "total_price_gross": "49.00", "tax": 5}
            ]
        ),
    )

    pdf = client.get(f"{BASE}/invoices/{body['id']}.pdf", query_string={"api_token": TOKEN})
    unauthenticated = client.get(f"{BASE}/invoices/{body['id']}.pdf")

    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    assert body["number"] in text and "49.00" in text
    if find_font():  # with the DejaVu font the Polish letters survive
        assert "Zażółć gęślą jaźń" in text
    assert unauthenticated.status_code == 401


def test_public_links_work_without_a_token(client):
    body = created(client, company_invoice())
    path = body["view_url"].replace("http://localhost", "")

    view = client.get(path)
    pdf = client.get(f"{path}.pdf", query_string={"inline": "yes"})
    slug = client.get(f"{BASE}/f/1-03-2026/{body['token']}")
    unknown = client.get(f"{BASE}/invoice/nonexistent")

    assert view.status_code == 200 and body["number"] in view.get_data(as_text=True)
    assert pdf.data.startswith(b"%PDF") and pdf.headers["Content-Disposition"].startswith("inline")
    assert slug.status_code == 200
    assert unknown.status_code == 404


def test_pdf_falls_back_to_a_core_font_with_transliteration():
    document = PdfDocument(
        title="Faktura VAT",
        number="7/03/2026",
        seller=["Sprzedawca Łódź"],
        buyer=["Nabywca Gdańsk"],
        lines=[PdfLine("Żółta świeca", "1.0", "szt", "10.00", "23%", "10.00", "2.30", "12.30")],
        total_gross="12.30",
    )

    text = pdf_text(render_pdf(document, font_path=False))

    # ó exists in Latin-1 and stays; the other Polish letters lose their marks.
    assert "7/03/2026" in text and "Zólta swieca" in text and "Lódz" in text


# ---------------------------------------------------------------------------
# other resources and stock


def test_reference_lists_are_seeded(client):
    assert len(get_json(client, "/warehouses.json").json) == 1
    assert get_json(client, "/categories.json").json
    codes = [product["code"] for product in get_json(client, "/products.json").json]
    assert codes[:2] == ["SKU-001", "SKU-002"]
    assert get_json(client, "/products/1.json").status_code == 404


def test_an_invoice_with_product_lines_takes_goods_from_the_warehouse(client):
    product = get_json(client, "/products.json").json[0]
    warehouse = get_json(client, "/warehouses.json").json[0]
    start = Decimal(product["stock_level"])
    line = {"product_id": product["id"], "quantity": 3}

    sold = created(client, company_invoice(warehouse_id=warehouse["id"], positions=[line]))
    created(
        client, company_invoice(warehouse_id=warehouse["id"], exclude_from_stock_level=True, positions=[line])
    )
    after_sale = Decimal(get_json(client, f"/products/{product['id']}.json").json["stock_level"])
    client.delete(f"{BASE}/invoices/{sold['id']}.json", query_string={"api_token": TOKEN})
    after_delete = Decimal(get_json(client, f"/products/{product['id']}.json").json["stock_level"])

    assert (after_sale, after_delete) == (start - 3, start)


def test_buyers_become_clients_matched_by_tax_id(client):
    created(client, company_invoice())
    created(client, company_invoice(buyer_name="Żółw (druga nazwa)"))

    clients = get_json(client, "/clients.json").json
    by_tax_no = get_json(client, "/clients.json", tax_no="526-025-02-74").json

    assert len(clients) == 1 and clients[0]["tax_no"] == "5260250274"
    assert by_tax_no == clients


# ---------------------------------------------------------------------------
# faults, limits, stats, inspection, reset, restart


def set_faults(client, **settings):
    response = client.put("/_sandbox/fakturownia/faults", json=settings)
    assert response.status_code == 200, response.json
    return response


def test_random_faults_are_repeatable_with_a_seed(client):
    def statuses():
        set_faults(client, account="acme", rate_429=0.5, retry_after=3, seed=7)
        return [get_json(client, "/invoices.json").status_code for _ in range(20)]

    first, second = statuses(), statuses()
    throttled = get_json(client, "/invoices.json")
    while throttled.status_code != 429:
        throttled = get_json(client, "/invoices.json")

    assert first == second and {200, 429} == set(first)
    assert throttled.headers["Retry-After"] == "3"


def test_server_errors_are_html_pages_and_auth_failure_is_401(client):
    set_faults(client, account="acme", error_5xx=1.0)
    failing = get_json(client, "/invoices.json")
    set_faults(client, account="acme", auth_failure=True)
    refused = get_json(client, "/invoices.json")

    assert failing.status_code in (500, 502, 503) and failing.mimetype == "text/html"
    assert refused.status_code == 401 and refused.json["message"] == LOGIN_MESSAGE


def test_faults_for_one_account_leave_others_alone_and_can_be_cleared(client):
    set_faults(client, account="acme", error_5xx=1.0)

    demo = client.get("/fakturownia/demo/invoices.json", query_string={"api_token": "demo-fakturownia-token"})
    acme = get_json(client, "/invoices.json")
    client.delete("/_sandbox/fakturownia/faults")
    cleared = get_json(client, "/invoices.json")

    assert (demo.status_code, acme.status_code >= 500, cleared.status_code) == (200, True, 200)


def test_invalid_fault_settings_are_refused(client):
    assert client.put("/_sandbox/fakturownia/faults", json={"rate_429": 2}).status_code == 400
    assert client.put("/_sandbox/fakturownia/faults", json={"rate_four_two_nine": 0.1}).status_code == 400
    assert client.put("/_sandbox/nope/faults", json={}).status_code == 404


def test_write_limit_throttles_writes_in_a_sliding_window_but_not_reads(client):
    set_faults(client, write_limit={"count": 2, "seconds": 60})

    writes = [post_invoice(client, company_invoice()) for _ in range(3)]
    read = get_json(client, "/invoices.json")

    assert [w.status_code for w in writes] == [201, 201, 429]
    assert 1 <= int(writes[2].headers["Retry-After"]) <= 60
    assert read.status_code == 200 and len(read.json) == 2


def test_max_concurrency_refuses_requests_beyond_the_cap(client):
    set_faults(client, account="acme", max_concurrency=1, latency_ms=300)
    statuses = []

    def call():
        statuses.append(
            client.application.test_client()
            .get(f"{BASE}/invoices.json", query_string={"api_token": TOKEN})
            .status_code
        )

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert 200 in statuses and 429 in statuses
    stats = client.get("/_sandbox/stats").json["services"]["fakturownia"]["accounts"]["acme"]
    assert stats["faults"]["max_concurrency"] == statuses.count(429)
    assert stats["max_in_flight"] >= 2


def test_stats_count_requests_statuses_throttling_and_documents(client):
    client.delete("/_sandbox/stats")
    set_faults(client, account="acme", write_limit={"count": 1, "seconds": 60})
    post_invoice(client, company_invoice())
    post_invoice(client, company_invoice())
    get_json(client, "/invoices.json")
    get_json(client, "/invoices/1.json")

    stats = client.get("/_sandbox/stats").json
    acme = stats["services"]["fakturownia"]["accounts"]["acme"]

    assert (acme["requests"], acme["writes"]) == (4, 2)
    assert acme["responses"] == {"200": 1, "201": 1, "404": 1, "429": 1}
    assert acme["throttled"] == 1 and acme["faults"] == {"write_limit": 1}
    assert acme["documents_stored"] == 1
    assert stats["services"]["fakturownia"]["documents_held"] == {"acme": 1}
    assert stats["totals"]["requests"] == 4


def test_inspection_finds_documents_by_account_and_oid(client):
    created(client, company_invoice(oid="IB-9"))
    post_invoice(client, company_invoice(oid="IB-9"), prefix="demo", token="demo-fakturownia-token")

    acme = client.get("/_sandbox/fakturownia/documents", query_string={"account": "acme", "oid": "IB-9"}).json
    everywhere = client.get("/_sandbox/fakturownia/documents", query_string={"oid": "IB-9"}).json

    assert acme["count"] == 1 and acme["documents"][0]["oid"] == "IB-9"
    assert acme["documents"][0]["positions"][0]["name"] == "Kubek ceramiczny"
    assert everywhere["count"] == 2


def test_reset_wipes_everything_but_the_demo_account(client):
    created(client, company_invoice())

    assert client.post("/_sandbox/reset").json == {"status": "ok"}

    accounts = client.get("/_sandbox/fakturownia/accounts").json["accounts"]
    assert [account["prefix"] for account in accounts] == ["demo"]
    assert client.get("/_sandbox/fakturownia/documents").json["count"] == 0
    assert get_json(client, "/invoices.json").status_code == 401


def test_state_survives_a_restart_on_the_same_file(tmp_path):
    db = tmp_path / "state.sqlite3"
    first = create_sandbox_app(db).test_client()
    first.post("/_sandbox/fakturownia/accounts", json={"prefix": "acme", "api_token": TOKEN})
    before = created(first, company_invoice())

    second = create_sandbox_app(db).test_client()
    again = get_json(second, f"/invoices/{before['id']}.json")
    next_one = created(second, company_invoice())

    assert again.status_code == 200 and again.json["number"] == "1/03/2026"
    assert next_one["number"] == "2/03/2026" and next_one["id"] > before["id"]


# ---------------------------------------------------------------------------
# over real HTTP


def test_connection_reset_and_timeout_after_store_over_real_http(tmp_path):
    with running_sandbox(tmp_path / "live.sqlite3") as base_url:
        requests.post(
            f"{base_url}/_sandbox/fakturownia/accounts", json={"prefix": "acme", "api_token": TOKEN}
        )
        url = f"{base_url}/fakturownia/acme/invoices.json"

        requests.put(f"{base_url}/_sandbox/fakturownia/faults", json={"account": "acme", "reset": 1.0})
        with pytest.raises(requests.ConnectionError) as reset:
            requests.post(url, json={"api_token": TOKEN, "invoice": company_invoice(oid="IB-R")}, timeout=5)

        requests.put(
            f"{base_url}/_sandbox/fakturownia/faults",
            json={"account": "acme", "timeout_after_store": 1.0, "hold_seconds": 1},
        )
        with pytest.raises(requests.ReadTimeout):
            requests.post(url, json={"api_token": TOKEN, "invoice": company_invoice(oid="IB-T")}, timeout=0.3)

        requests.delete(f"{base_url}/_sandbox/fakturownia/faults")
        inspect = f"{base_url}/_sandbox/fakturownia/documents"
        assert requests.get(inspect, params={"oid": "IB-R"}).json()["count"] == 0
        assert requests.get(inspect, params={"oid": "IB-T"}).json()["count"] == 1
        assert requests.get(url, params={"api_token": TOKEN}, timeout=5).status_code == 200
        faults = requests.get(f"{base_url}/_sandbox/stats").json()["services"]["fakturownia"]["accounts"][
            "acme"
        ]
        assert faults["faults"] == {"reset": 1, "timeout_after_store": 1}

    assert "reset" in repr(reset.value).lower() or "aborted" in repr(reset.value).lower()
