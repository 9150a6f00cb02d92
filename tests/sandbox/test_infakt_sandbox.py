"""The inFakt emulator behaves like the contract says the real API v3 does.

Most tests use the Flask test client; the last ones talk to a real server
process (connection reset, timeout after store) through ``running_sandbox``.
All amounts are integer grosze, as in the API.
"""

from __future__ import annotations

import io

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from providers.sandbox import create_sandbox_app
from providers.sandbox.pdf import find_font
from tests.sandbox_server import running_sandbox

KEY = "infakt-key-1"
API = "/infakt/api/v3"
HEADERS = {"X-inFakt-ApiKey": KEY}
#: tests poll explicitly; nothing finishes by the clock unless a test asks for it
FAST = {"async_seconds": None}


@pytest.fixture
def app(tmp_path):
    return create_sandbox_app(tmp_path / "sandbox.sqlite3")


def make_account(client, prefix: str = "acme", key: str = KEY, **options):
    response = client.post(
        "/_sandbox/infakt/accounts", json={"prefix": prefix, "api_token": key, "options": {**FAST, **options}}
    )
    assert response.status_code == 201, response.json
    return response


@pytest.fixture
def client(app):
    test_client = app.test_client()
    make_account(test_client)
    return test_client


def company_invoice(**overrides) -> dict:
    invoice = {
        "payment_method": "transfer",
        "invoice_date": "2026-03-10",
        "sale_date": "2026-03-10",
        "client_company_name": "Hurtownia Żółw Sp. z o.o.",
        "client_tax_code": "5260250274",
        "client_street": "Długa",
        "client_street_number": "5",
        "client_post_code": "31-147",
        "client_city": "Kraków",
        "client_country": "PL",
        "services": [{"name": "Kubek ceramiczny", "quantity": 2, "gross_price": 5998, "tax_symbol": "23"}],
    }
    invoice.update(overrides)
    return invoice


def call(client, method: str, path: str, key: str = KEY, **kwargs):
    return client.open(f"{API}{path}", method=method, headers={"X-inFakt-ApiKey": key}, **kwargs)


def get(client, path: str, **params):
    return call(client, "GET", path, query_string=params)


def post(client, path: str, body: dict | None = None, **kwargs):
    return call(client, "POST", path, json=body, **kwargs)


def submit(client, invoice: dict, **top_level) -> str:
    response = post(client, "/async/invoices.json", {"invoice": invoice, **top_level})
    assert response.status_code == 201, response.json
    return response.json["invoice_task_reference_number"]


def poll(client, reference: str, family: str = "invoices", key: str = KEY) -> dict:
    response = call(client, "GET", f"/async/{family}/status/{reference}.json", key=key)
    assert response.status_code == 200, response.json
    return response.json


def finish(client, reference: str, family: str = "invoices") -> dict:
    """Poll until the task is no longer in progress (at most 5 polls)."""
    for _ in range(5):
        status = poll(client, reference, family)
        if status["processing_code"] not in (100, 120, 140):
            return status
    raise AssertionError("the task never finished")


def created(client, invoice: dict, **top_level) -> dict:
    status = finish(client, submit(client, invoice, **top_level))
    assert status["processing_code"] == 201, status
    response = get(client, f"/invoices/{status['invoice_uuid']}.json")
    assert response.status_code == 200
    return response.json


def documents(client, **params) -> list[dict]:
    return client.get("/_sandbox/infakt/documents", query_string=params).json["documents"]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# ---------------------------------------------------------------------------
# asynchronous creation


def test_async_create_answers_a_task_and_the_invoice_appears_after_a_poll(client):
    response = post(client, "/async/invoices.json", {"invoice": company_invoice(), "send_to_ksef": False})

    assert response.status_code == 201
    task = response.json
    assert (task["processing_code"], task["processing_description"]) == (100, "Zlecenie przyjęte")
    assert task["invoice_kind"] == "invoice" and task["timestamps"]["task_created_at"]
    assert "invoice_uuid" not in task and "invoice" not in task
    reference = task["invoice_task_reference_number"]
    assert documents(client, account="acme") == []  # still queued

    first, second = poll(client, reference), poll(client, reference)

    assert (first["processing_code"], "invoice_uuid" in first) == (140, False)
    assert second["processing_code"] == 201 and second["processing_description"] == "Faktura stworzona"
    assert set(second) >= {"invoice_uuid", "action", "invoice_kind"} and "number" not in second
    invoice = get(client, f"/invoices/{second['invoice_uuid']}.json").json
    assert invoice["uuid"] == second["invoice_uuid"] and isinstance(invoice["id"], int)
    assert (invoice["number"], invoice["kind"], invoice["status"]) == ("1/03/2026", "vat", "draft")
    assert (invoice["net_price"], invoice["tax_price"], invoice["gross_price"]) == (4876, 1122, 5998)
    [line] = invoice["services"]
    assert line["tax_symbol"] == "23" and (line["unit_net_price"], line["net_price"]) == (2438, 4876)
    assert invoice["payment_date"] == "2026-03-17" and invoice["left_to_pay"] == 5998
    assert "pdf_url" not in invoice and "view_url" not in invoice and invoice["ksef_data"] is None


def test_more_polls_and_the_clock_are_account_options(app):
    test_client = app.test_client()
    make_account(test_client, "slow", "slow-key", async_polls=3, async_create_status=202)
    make_account(test_client, "timed", "timed-key", async_seconds=0)

    response = call(
        test_client, "POST", "/async/invoices.json", key="slow-key", json={"invoice": company_invoice()}
    )
    codes = [
        poll(test_client, response.json["invoice_task_reference_number"], key="slow-key")["processing_code"]
        for _ in range(4)
    ]
    call(test_client, "POST", "/async/invoices.json", key="timed-key", json={"invoice": company_invoice()})
    listed = call(test_client, "GET", "/invoices.json", key="timed-key").json

    assert response.status_code == 202
    assert codes == [120, 120, 140, 201]
    assert listed["metainfo"]["total_count"] == 1  # finished in the background, never polled


def test_an_unknown_task_reference_is_404(client):
    assert get(client, "/async/invoices/status/00000000-0000-0000-0000-000000000000.json").status_code == 404


def test_a_body_without_the_invoice_object_is_400(client):
    response = post(client, "/async/invoices.json", {"services": []})
    garbage = call(client, "POST", "/async/invoices.json", data="{nope", content_type="application/json")

    assert response.status_code == 400 and "invoice" in response.json["error"]
    assert garbage.status_code == 400


@pytest.mark.parametrize(
    "change, field",
    [
        ({"payment_method": "gotówka"}, "payment_method"),
        ({"services": []}, "services"),
        (
            {"services": [{"name": "Kubek", "quantity": 1, "gross_price": 100, "tax_symbol": "7"}]},
            "services.tax_symbol",
        ),
        ({"services": [{"name": "Kubek", "quantity": 1, "gross_price": 100}]}, "services.tax_symbol"),
        ({"services": [{"quantity": 1, "gross_price": 100, "tax_symbol": "23"}]}, "services.name"),
        (
            {"services": [{"name": "Kubek", "quantity": 1, "gross_price": 59.98, "tax_symbol": "23"}]},
            "services.gross_price",
        ),
        (
            {"services": [{"name": "Kubek", "quantity": 0, "gross_price": 100, "tax_symbol": "23"}]},
            "services.quantity",
        ),
        ({"services": [{"name": "Kubek", "quantity": 1, "tax_symbol": "23"}]}, "services.unit_net_price"),
        (
            {"services": [{"name": "Kubek", "quantity": "1e30", "unit_net_price": 100, "tax_symbol": "23"}]},
            "services.quantity",
        ),
        (
            {"services": [{"name": "Kubek", "quantity": 1, "gross_price": 10**20, "tax_symbol": "23"}]},
            "services.gross_price",
        ),
        (
            {"services": [{"name": "Kurs", "quantity": 1, "unit_net_price": 100, "tax_symbol": "zw"}]},
            "vat_exemption_reason",
        ),
        ({"client_company_name": None, "client_tax_code": None}, "client_company_name"),
        ({"client_tax_code": "5260250275"}, "client_tax_code"),
        ({"client_id": 4242}, "client_id"),
        ({"invoice_date": "10.03.2026"}, "invoice_date"),
        ({"payment_date": "2026-03-01"}, "payment_date"),
        ({"status": "wystawiona"}, "status"),
        ({"currency": "XYZ"}, "currency"),
        ({"bank_account": "PL 10 1020 1026 0000 0402 0305 5688"}, "bank_account"),
    ],
)
def test_invalid_invoices_fail_in_the_task_with_the_field_named(client, change, field):
    status = finish(client, submit(client, company_invoice(**change)))

    assert status["processing_code"] == 422
    assert status["processing_description"] == "Nie udało się stworzyć faktury"
    assert "invoice_uuid" not in status and status["invoice_kind"] == "invoice"
    assert isinstance(status["invoice_errors"][field], list) and status["invoice_errors"][field]
    assert documents(client, account="acme") == []


def test_a_wrong_payment_method_reads_as_the_contract_quotes_it(client):
    status = finish(client, submit(client, company_invoice(payment_method="przelew")))

    assert status["invoice_errors"] == {"payment_method": ["Proszę wybrać odpowiedni sposób płatności."]}


def test_the_legacy_synchronous_create_answers_the_invoice_or_errors(client):
    good = post(client, "/invoices.json", {"invoice": company_invoice()})
    bad = post(client, "/invoices.json", {"invoice": company_invoice(payment_method="x")})

    assert good.status_code == 201 and good.json["uuid"] and good.json["number"] == "1/03/2026"
    assert bad.status_code == 422 and bad.json == {
        "errors": {"payment_method": ["Proszę wybrać odpowiedni sposób płatności."]}
    }


def test_the_postman_number_form_of_tax_symbol_is_read_back_as_a_string(client):
    invoice = created(
        client,
        company_invoice(
            services=[
                {"name": "Herbata", "quantity": 3, "unit_net_price": 1762, "tax_symbol": 5},
                {"name": "Usługa poza UE", "quantity": 1, "net_price": 4000, "tax_symbol": "np"},
                {"name": "Kurs online", "quantity": 0.5, "unit_net_price": 20000, "tax_symbol": "zw"},
            ],
            vat_exemption_reason=2,
        ),
    )

    assert [line["tax_symbol"] for line in invoice["services"]] == ["5", "np", "zw"]
    assert [line["quantity"] for line in invoice["services"]] == [3, 1, 0.5]
    assert [line["net_price"] for line in invoice["services"]] == [5286, 4000, 10000]
    assert (invoice["net_price"], invoice["tax_price"], invoice["gross_price"]) == (19286, 264, 19550)
    assert invoice["vat_exemption_reason"] == 2


def test_gross_lines_are_totalled_per_rate_from_the_gross_sum(client):
    # Three lines of 1.00 gross at 23%: each line nets 0.81 (sum 2.43), but the
    # document computes VAT once from the rate's gross sum: 3.00 / 1.23 = 2.44 net.
    lines = [
        {"name": f"Naklejka {n}", "quantity": 1, "gross_price": 100, "tax_symbol": "23"} for n in range(3)
    ]
    invoice = created(client, company_invoice(services=lines))

    assert [line["net_price"] for line in invoice["services"]] == [81, 81, 81]
    assert (invoice["net_price"], invoice["tax_price"], invoice["gross_price"]) == (244, 56, 300)


def test_net_lines_are_totalled_from_the_net_sum(client):
    lines = [
        {"name": f"Usługa {n}", "quantity": 1, "unit_net_price": 81, "tax_symbol": "23"} for n in range(3)
    ]
    invoice = created(client, company_invoice(services=lines))

    assert [line["tax_price"] for line in invoice["services"]] == [19, 19, 19]
    assert (invoice["net_price"], invoice["tax_price"], invoice["gross_price"]) == (243, 56, 299)


def test_status_paid_and_currency_defaults(client):
    paid = created(client, company_invoice(status="paid"))
    euro = created(client, company_invoice(currency="eur"))
    plain = created(client, {k: v for k, v in company_invoice().items() if k != "currency"})

    assert (paid["status"], paid["paid_date"], paid["paid_price"], paid["left_to_pay"]) == (
        "paid",
        "2026-03-10",
        5998,
        0,
    )
    assert euro["currency"] == "EUR" and plain["currency"] == "PLN"


def test_an_invoice_without_currency_is_booked_in_the_account_currency(app):
    test_client = app.test_client()
    make_account(test_client, "euro", "euro-key", currency="EUR")
    response = call(
        test_client, "POST", "/invoices.json", key="euro-key", json={"invoice": company_invoice()}
    )

    assert response.json["currency"] == "EUR"


# ---------------------------------------------------------------------------
# numbering, kinds and the duplicate-number guard


def test_numbers_run_per_kind_and_month_and_the_preview_does_not_use_one(client):
    preview = get(client, "/invoices/next_number.json", kind="vat", date="2026-03-20").json
    numbers = [
        created(client, company_invoice())["number"],
        created(client, company_invoice(kind="proforma"))["number"],
        created(client, company_invoice())["number"],
        created(client, company_invoice(invoice_date="2026-04-01", sale_date="2026-04-01"))["number"],
    ]
    after = get(client, "/invoices/next_number.json", kind="vat", date="2026-03-20").json

    assert preview == {"invoice_date": "2026-03-20", "invoice_kind": "vat", "next_number": "1/03/2026"}
    assert numbers == ["1/03/2026", "1/PRO/03/2026", "2/03/2026", "1/04/2026"]
    assert after["next_number"] == "3/03/2026"
    assert get(client, "/invoices/next_number.json", kind="paragon").status_code == 400


def test_correction_fields_posted_as_an_invoice_make_a_plain_vat_invoice(client):
    invoice = created(
        client,
        company_invoice(kind="correction", corrected_invoice_number="1/03/2026", correction_reason="other"),
    )

    assert invoice["kind"] == "vat" and invoice["number"] == "1/03/2026"
    assert "corrected_invoice_number" not in invoice


def test_check_duplicate_number_refuses_a_number_that_exists(client):
    own = created(client, company_invoice(number="FV/SKLEP/7"))
    again = finish(client, submit(client, company_invoice(number="FV/SKLEP/7", check_duplicate_number=True)))
    unchecked = created(client, company_invoice(number="FV/SKLEP/7"))
    automatic = created(client, company_invoice())

    assert own["number"] == "FV/SKLEP/7"
    assert again["processing_code"] == 422 and again["invoice_errors"]["number"]
    assert unchecked["number"] == "FV/SKLEP/7"
    assert automatic["number"] == "1/03/2026"


def test_own_numbers_can_be_switched_off(app):
    test_client = app.test_client()
    make_account(test_client, "auto", "auto-key", accept_own_number=False)
    response = call(
        test_client, "POST", "/invoices.json", key="auto-key", json={"invoice": company_invoice(number="X/1")}
    )

    assert response.json["number"] == "1/03/2026"


# ---------------------------------------------------------------------------
# lookup and lists


def test_lookup_by_number_and_other_documented_filters(client):
    first = created(client, company_invoice())
    second = created(
        client, company_invoice(client_tax_code="PL 526-000-12-46", invoice_date="2026-03-12", status="paid")
    )

    by_number = get(client, "/invoices.json", **{"q[number_eq]": "2/03/2026"}).json
    by_nip = get(client, "/invoices.json", **{"q[clean_client_nip_eq]": "5260001246"}).json
    since = get(client, "/invoices.json", **{"q[invoice_date_gteq]": "2026-03-11"}).json
    unpaid = get(client, "/invoices.json", **{"q[paid_date_null]": "true"}).json
    named = get(client, "/invoices.json", **{"q[client_company_name_cont]": "żółw"}).json

    assert by_number["metainfo"] == {"count": 1, "total_count": 1, "next": None, "previous": None}
    assert [e["uuid"] for e in by_number["entities"]] == [second["uuid"]]
    assert [e["uuid"] for e in by_nip["entities"]] == [second["uuid"]]
    assert [e["uuid"] for e in since["entities"]] == [second["uuid"]]
    assert [e["uuid"] for e in unpaid["entities"]] == [first["uuid"]]
    assert named["metainfo"]["total_count"] == 2


def test_unknown_filters_are_silently_ignored_like_the_service_does(client):
    created(client, company_invoice())
    created(client, company_invoice())

    unknown = get(client, "/invoices.json", **{"q[external_id_eq]": "IB-1"}).json
    bare = get(client, "/invoices.json", nip="0000000000").json
    wrong_modifier = get(client, "/invoices.json", **{"q[number_gteq]": "9"}).json
    bad_value = get(client, "/invoices.json", **{"q[invoice_date_gteq]": "wczoraj"})

    assert unknown["metainfo"]["total_count"] == bare["metainfo"]["total_count"] == 2
    assert wrong_modifier["metainfo"]["total_count"] == 2
    assert bad_value.status_code == 400


def test_lists_page_with_offset_and_limit_newest_invoice_date_first(client):
    for day in (3, 1, 2):
        created(client, company_invoice(invoice_date=f"2026-03-0{day}", sale_date=f"2026-03-0{day}"))

    first = get(client, "/invoices.json", limit=2).json
    rest = get(client, "/invoices.json", limit=2, offset=2).json
    capped = get(client, "/invoices.json", limit=500).json

    assert [e["invoice_date"] for e in first["entities"]] == ["2026-03-03", "2026-03-02"]
    assert first["metainfo"]["count"] == 2 and first["metainfo"]["total_count"] == 3
    assert "offset=2" in first["metainfo"]["next"] and first["metainfo"]["previous"] is None
    assert [e["invoice_date"] for e in rest["entities"]] == ["2026-03-01"] and rest["metainfo"][
        "next"
    ] is None
    assert capped["metainfo"]["count"] == 3
    ascending = get(client, "/invoices.json", order="invoice_date asc").json["entities"]
    assert [e["invoice_date"] for e in ascending] == ["2026-03-01", "2026-03-02", "2026-03-03"]


def test_fields_narrow_the_answer(client):
    invoice = created(client, company_invoice())

    one = get(client, f"/invoices/{invoice['uuid']}.json", fields="number,services(name,tax_symbol)").json

    assert one == {"number": "1/03/2026", "services": [{"name": "Kubek ceramiczny", "tax_symbol": "23"}]}


# ---------------------------------------------------------------------------
# corrections


def make_client(client, **overrides) -> dict:
    body = {
        "company_name": "Hurtownia Żółw Sp. z o.o.",
        "nip": "5260250274",
        "street": "Długa",
        "street_number": "5",
        "city": "Kraków",
        "postal_code": "31-147",
        "country": "PL",
        "email": "faktury@zolw.example",
    }
    body.update(overrides)
    response = post(client, "/clients.json", {"client": body})
    assert response.status_code == 201, response.json
    return response.json


def correction_body(original: dict, buyer_id: int | None, /, **overrides) -> dict:
    body = {
        "currency": "PLN",
        "payment_method": "transfer",
        "client_id": buyer_id,
        "invoice_date": "2026-03-20",
        "corrected_invoice_number": original["number"],
        "corrected_invoice_date": original["invoice_date"],
        "corrected_invoice_uuid": original["uuid"],
        "correction_reason": "other",
        "services": [
            {
                "group": "1",
                "correction": False,
                "name": "Kubek ceramiczny",
                "tax_symbol": "23",
                "quantity": 2,
                "gross_price": 5998,
            },
            {
                "group": "1",
                "correction": True,
                "name": "Kubek ceramiczny",
                "tax_symbol": "23",
                "quantity": 1,
                "gross_price": 2999,
            },
        ],
    }
    body.update(overrides)
    return body


def submit_correction(client, body: dict) -> dict:
    response = post(client, "/async/corrective_invoices.json", {"corrective_invoice": body})
    assert response.status_code == 201, response.json
    assert response.json["invoice_kind"] == "corrective_invoice"
    return finish(client, response.json["invoice_task_reference_number"], "corrective_invoices")


def test_a_correction_is_created_asynchronously_and_linked_to_the_original(client):
    buyer = make_client(client)
    original = created(client, company_invoice(client_id=buyer["id"]))

    status = submit_correction(client, correction_body(original, buyer["id"]))
    assert status["processing_code"] == 201, status
    fetched = get(client, f"/corrective_invoices/{status['invoice_uuid']}.json")
    as_invoice = get(client, f"/invoices/{status['invoice_uuid']}.json")
    listed = get(client, "/corrective_invoices.json").json

    body = fetched.json
    assert fetched.status_code == 200 and body["kind"] == "correction" and body["number"] == "1/KOR/03/2026"
    assert (
        body["corrected_invoice_uuid"],
        body["corrected_invoice_number"],
        body["corrected_invoice_date"],
    ) == (
        original["uuid"],
        "1/03/2026",
        "2026-03-10",
    )
    assert body["corrected_invoice_gross_price"] == 5998
    assert (body["correction_reason"], body["correction_reason_symbol"]) == ("Inna przyczyna", "other")
    assert [(s["group"], s["correction"], s["gross_price"]) for s in body["services"]] == [
        ("1", False, 5998),
        ("1", True, 2999),
    ]
    assert (body["net_price"], body["tax_price"], body["gross_price"]) == (-2438, -561, -2999)
    assert as_invoice.status_code == 404  # a corrective uuid is not an invoice
    assert [e["uuid"] for e in listed["entities"]] == [body["uuid"]]
    assert get(client, "/invoices.json").json["metainfo"]["total_count"] == 1


def test_an_unchanged_pair_gives_a_zero_correction(client):
    buyer = make_client(client)
    original = created(client, company_invoice(client_id=buyer["id"]))
    same = {"name": "Kubek ceramiczny", "tax_symbol": "23", "quantity": 2, "gross_price": 5998, "group": "1"}

    status = submit_correction(
        client,
        correction_body(
            original, buyer["id"], services=[{**same, "correction": False}, {**same, "correction": True}]
        ),
    )
    body = get(client, f"/corrective_invoices/{status['invoice_uuid']}.json").json

    assert body["gross_price"] == 0 and body["net_price"] == 0


@pytest.mark.parametrize(
    "change, field",
    [
        ({"client_id": None}, "client_id"),
        ({"correction_reason": "bo tak"}, "correction_reason"),
        ({"correction_reason": None}, "correction_reason"),
        ({"corrected_invoice_uuid": "5b0c7a0e-0000-4000-8000-000000000000"}, "corrected_invoice_uuid"),
        ({"corrected_invoice_number": "9/03/2026"}, "corrected_invoice_number"),
        ({"invoice_date": "2026-03-01"}, "invoice_date"),
        ({"sale_date_before_correction": "2026-03-09"}, "base"),
        (
            {
                "services": [
                    {
                        "group": "1",
                        "correction": True,
                        "name": "Kubek",
                        "tax_symbol": "23",
                        "quantity": 1,
                        "gross_price": 1,
                    }
                ]
            },
            "services",
        ),
        (
            {
                "services": [
                    {"correction": True, "name": "Kubek", "tax_symbol": "23", "quantity": 1, "gross_price": 1}
                ]
            },
            "services.group",
        ),
    ],
)
def test_invalid_corrections_fail_in_the_task(client, change, field):
    buyer = make_client(client)
    original = created(client, company_invoice(client_id=buyer["id"]))

    status = submit_correction(client, correction_body(original, buyer["id"], **change))

    assert status["processing_code"] == 422 and status["invoice_kind"] == "corrective_invoice"
    assert status["invoice_errors"][field]
    assert documents(client, account="acme", kind="correction") == []


def test_the_correction_endpoint_wants_its_own_wrapper_and_the_bare_route_fails(client):
    wrong_wrapper = post(client, "/async/corrective_invoices.json", {"invoice": {}})
    bare = post(client, "/corrective_invoices.json", {"corrective_invoice": {}})

    assert wrong_wrapper.status_code == 400
    assert bare.status_code == 500


def test_a_proforma_cannot_be_corrected(client):
    buyer = make_client(client)
    proforma = created(client, company_invoice(kind="proforma", client_id=buyer["id"]))

    status = submit_correction(client, correction_body(proforma, buyer["id"]))

    assert status["invoice_errors"]["corrected_invoice_uuid"]


# ---------------------------------------------------------------------------
# marking paid, edits, deletion


def test_mark_as_paid_is_a_task_and_a_second_time_fails_with_a_string_message(client):
    invoice = created(client, company_invoice())

    response = post(client, f"/async/invoices/{invoice['uuid']}/paid.json", {"paid_date": "2026-03-12"})
    done = finish(client, response.json["invoice_task_reference_number"])
    again = post(client, f"/async/invoices/{invoice['uuid']}/paid.json", {"paid_date": "2026-03-12"})
    refused = finish(client, again.json["invoice_task_reference_number"])
    after = get(client, f"/invoices/{invoice['uuid']}.json").json

    assert response.status_code == 201 and again.status_code == 201
    assert response.json["action"] == "mark_as_paid" and response.json["invoice_uuid"] == invoice["uuid"]
    assert (done["processing_code"], done["processing_description"]) == (
        200,
        "Faktura została oznaczona jako zapłacona",
    )
    assert (after["status"], after["paid_date"], after["paid_price"], after["left_to_pay"]) == (
        "paid",
        "2026-03-12",
        5998,
        0,
    )
    assert refused["processing_code"] == 422
    assert refused["invoice_errors"] == {"status": "Faktura już została oznaczona jako zapłacona."}


def test_a_paid_date_before_the_issue_date_is_refused(client):
    invoice = created(client, company_invoice())

    response = post(
        client, f"/async/invoices/{invoice['uuid']}/paid.json", query_string={"paid_date": "2026-03-01"}
    )
    status = finish(client, response.json["invoice_task_reference_number"])

    assert status["processing_code"] == 422 and isinstance(status["invoice_errors"]["paid_date"], str)
    assert post(client, "/async/invoices/nope/paid.json", {}).status_code == 404


def test_put_replaces_all_lines_and_delete_answers_204(client):
    invoice = created(client, company_invoice(notes="Zamówienie IB-1"))
    call(client, "GET", f"/invoices/{invoice['uuid']}/pdf.json", query_string={"document_type": "original"})

    edited = call(
        client,
        "PUT",
        f"/invoices/{invoice['uuid']}.json",
        json={
            "invoice": {
                "services": [{"name": "Świeca", "quantity": 1, "gross_price": 3500, "tax_symbol": "23"}]
            }
        },
    )
    renamed = call(
        client, "PUT", f"/invoices/{invoice['uuid']}.json", json={"invoice": {"notes": "Inna uwaga"}}
    )
    deleted = call(client, "DELETE", f"/invoices/{invoice['uuid']}.json")

    assert edited.status_code == 200
    assert [s["name"] for s in edited.json["services"]] == ["Świeca"] and edited.json["gross_price"] == 3500
    assert edited.json["number"] == invoice["number"] and edited.json["status"] == "printed"
    assert renamed.json["services"][0]["name"] == "Świeca" and renamed.json["notes"] == "Inna uwaga"
    assert deleted.status_code == 204 and deleted.data == b""
    assert get(client, f"/invoices/{invoice['uuid']}.json").status_code == 404


# ---------------------------------------------------------------------------
# PDF, XML, e-mail, share links


def test_pdf_is_bytes_with_the_number_and_printing_makes_a_draft_printed(client):
    invoice = created(
        client,
        company_invoice(
            services=[
                {"name": "Książka „Zażółć gęślą jaźń”", "quantity": 1, "gross_price": 4900, "tax_symbol": "5"}
            ]
        ),
    )

    pdf = get(client, f"/invoices/{invoice['uuid']}/pdf.json", document_type="original", locale="pl")
    missing_type = get(client, f"/invoices/{invoice['uuid']}/pdf.json")
    bad_locale = get(client, f"/invoices/{invoice['uuid']}/pdf.json", document_type="copy", locale="de")

    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    assert invoice["number"] in text and "49.00" in text
    if find_font():
        assert "Zażółć gęślą jaźń" in text
    assert missing_type.status_code == 400 and bad_locale.status_code == 400
    assert get(client, f"/invoices/{invoice['uuid']}.json").json["status"] == "printed"


def test_correction_pdf_and_ksef_xml(client):
    buyer = make_client(client)
    original = created(client, company_invoice(client_id=buyer["id"]))
    status = submit_correction(client, correction_body(original, buyer["id"]))

    pdf = get(client, f"/corrective_invoices/{status['invoice_uuid']}/pdf.json", document_type="original")
    xml = get(client, f"/invoices/{original['uuid']}/download_xml.json")

    assert "1/KOR/03/2026" in pdf_text(pdf.data) and "1/03/2026" in pdf_text(pdf.data)
    assert xml.status_code == 200 and b"<P_2>1/03/2026</P_2>" in xml.data and b"5260250274" in xml.data


def test_deliver_via_email_answers_202_and_marks_the_invoice_sent(client):
    buyer = make_client(client)
    with_card = created(client, company_invoice(client_id=buyer["id"]))
    inline = created(client, company_invoice())

    sent = post(client, f"/invoices/{with_card['uuid']}/deliver_via_email.json", {"print_type": "original"})
    unknown_address = post(
        client, f"/invoices/{inline['uuid']}/deliver_via_email.json", {"print_type": "original"}
    )
    no_type = post(client, f"/invoices/{inline['uuid']}/deliver_via_email.json", {"recipient": "a@b.pl"})

    assert sent.status_code == 202 and sent.data == b""
    assert get(client, f"/invoices/{with_card['uuid']}.json").json["status"] == "sent"
    assert (
        documents(client, uuid=with_card["uuid"])[0]["_sandbox"]["emails"][0]["to"] == "faktury@zolw.example"
    )
    assert unknown_address.status_code == 422
    assert unknown_address.json["errors"]["recipient"] == ["adres e-mail Klienta jest nieznany"]
    assert no_type.status_code == 422 and no_type.json["errors"]["print_type"]


def test_the_daily_e_mail_limit_and_automatic_ksef_sending_are_account_options(app):
    test_client = app.test_client()
    make_account(test_client, "mail", "mail-key", emails_per_day=1, ksef_auto_send=True)
    invoice = call(
        test_client, "POST", "/invoices.json", key="mail-key", json={"invoice": company_invoice()}
    ).json
    path = f"/invoices/{invoice['uuid']}/deliver_via_email.json"
    body = {"print_type": "original", "recipient": "a@b.pl"}

    first = call(test_client, "POST", path, key="mail-key", json=body)
    second = call(test_client, "POST", path, key="mail-key", json=body)

    assert invoice["ksef_data"]["status"] == "sent"
    assert first.status_code == 202 and second.status_code == 422 and second.json["errors"]["base"]


def test_share_links_give_a_public_page_and_can_be_removed(client):
    invoice = created(client, company_invoice())
    path = f"/invoices/{invoice['uuid']}/share_links.json"

    before = get(client, path)
    made = post(client, path)
    read = get(client, path)
    shown = get(client, f"/invoices/{invoice['uuid']}.json").json["extensions"]["shares"]
    public = client.get(made.json["share_link"].replace("http://localhost", ""))
    public_pdf = client.get(made.json["share_link"].replace("http://localhost", "") + "/pdf")
    prolonged = post(client, f"/invoices/{invoice['uuid']}/share_links/prolong.json")
    removed = call(client, "DELETE", path)

    assert before.status_code == 404
    assert made.status_code == 201 and "/infakt/app/twoja-faktura/" in made.json["share_link"]
    assert read.json == made.json and shown["link"] == made.json["share_link"] and shown["available"]
    assert public.status_code == 200 and invoice["number"] in public.get_data(as_text=True)
    assert public_pdf.data.startswith(b"%PDF")
    assert prolonged.json["expiration_date"] > made.json["expiration_date"]
    assert removed.status_code == 204 and get(client, path).status_code == 404
    assert client.get(made.json["share_link"].replace("http://localhost", "")).status_code == 404


# ---------------------------------------------------------------------------
# KSeF


def test_ksef_data_shows_sent_then_the_number_after_a_read(client):
    invoice = created(client, company_invoice(), send_to_ksef=True)  # that GET was the first read
    second = get(client, f"/invoices/{invoice['uuid']}.json").json

    assert invoice["ksef_data"]["status"] == "sent" and invoice["ksef_data"]["ksef_number"] is None
    assert second["ksef_data"]["status"] == "success"
    assert second["ksef_data"]["ksef_number"].startswith("5252344078-20260310-")
    assert second["ksef_data"]["invoice_uuid"] == invoice["uuid"]


def test_an_invoice_goes_to_ksef_only_when_asked(client):
    invoice = created(client, company_invoice())
    again = get(client, f"/invoices/{invoice['uuid']}.json").json

    sent = post(client, f"/invoices/{invoice['uuid']}/send_to_ksef.json", {})
    twice = post(client, f"/invoices/{invoice['uuid']}/send_to_ksef.json", {})
    locked_edit = call(client, "PUT", f"/invoices/{invoice['uuid']}.json", json={"invoice": {"notes": "x"}})
    locked_delete = call(client, "DELETE", f"/invoices/{invoice['uuid']}.json")

    assert again["ksef_data"] is None
    assert sent.status_code == 200
    assert (sent.json["status"], sent.json["ksef_number"], sent.json["invoice_uuid"]) == (
        "sent",
        None,
        invoice["uuid"],
    )
    assert twice.status_code == 422
    assert locked_edit.status_code == 423 and locked_delete.status_code == 423


def test_ksef_outcome_error_and_missing_integration(app):
    test_client = app.test_client()
    make_account(test_client, "bad", "bad-key", ksef_outcome="error", ksef_reads=0)
    make_account(test_client, "none", "none-key", ksef_integration=False)

    failed = call(
        test_client,
        "POST",
        "/invoices.json",
        key="bad-key",
        json={"invoice": company_invoice(), "send_to_ksef": True},
    )
    read = call(test_client, "GET", f"/invoices/{failed.json['uuid']}.json", key="bad-key").json
    refused = call(
        test_client,
        "POST",
        "/invoices.json",
        key="none-key",
        json={"invoice": company_invoice(), "send_to_ksef": True},
    )
    plain = call(test_client, "POST", "/invoices.json", key="none-key", json={"invoice": company_invoice()})
    endpoint = call(
        test_client, "POST", f"/invoices/{plain.json['uuid']}/send_to_ksef.json", key="none-key", json={}
    )

    assert read["ksef_data"]["status"] == "error" and read["ksef_data"]["ksef_number"] is None
    assert refused.status_code == 422 and refused.json["errors"]["send_to_ksef"]
    assert endpoint.status_code == 422


# ---------------------------------------------------------------------------
# authentication, plan, IP block, lock


def test_the_key_goes_in_the_x_infakt_apikey_header_only(client):
    missing = client.get(f"{API}/invoices.json")
    wrong = call(client, "GET", "/invoices.json", key="wrong")
    bearer = client.get(f"{API}/invoices.json", headers={"Authorization": f"Bearer {KEY}"})
    query = client.get(f"{API}/invoices.json", query_string={"api_key": KEY})
    lower_case = client.get(f"{API}/invoices.json", headers={"x-infakt-apikey": KEY})

    assert [r.status_code for r in (missing, wrong, bearer, query)] == [401] * 4
    assert missing.json["error"] and wrong.json["error"]
    assert lower_case.status_code == 200  # HTTP header names are case-insensitive


def test_a_key_sees_only_its_own_account(client):
    make_account(client, "other", "other-key")
    invoice = created(client, company_invoice())

    theirs = call(client, "GET", f"/invoices/{invoice['uuid']}.json", key="other-key")
    their_list = call(client, "GET", "/invoices.json", key="other-key").json

    assert theirs.status_code == 404 and their_list["entities"] == []


def test_a_key_without_the_scope_is_401(app):
    test_client = app.test_client()
    make_account(test_client, "reader", "read-key", scopes=["api:invoices:read"])

    read = call(test_client, "GET", "/invoices.json", key="read-key")
    write = call(
        test_client, "POST", "/async/invoices.json", key="read-key", json={"invoice": company_invoice()}
    )
    bank = call(test_client, "POST", "/bank_accounts.json", key=KEY, json={"bank_account": {}})

    assert read.status_code == 200
    assert write.status_code == 401 and "api:invoices:write" in write.json["error"]
    assert bank.status_code == 401  # no such key at all


def test_ksef_sending_needs_the_ksef_scope(app):
    test_client = app.test_client()
    make_account(test_client, "noksef", "noksef-key", scopes=["api:invoices:read", "api:invoices:write"])

    refused = call(
        test_client,
        "POST",
        "/async/invoices.json",
        key="noksef-key",
        json={"invoice": company_invoice(), "send_to_ksef": True},
    )

    assert refused.status_code == 401 and "api:ksef:integration:write" in refused.json["error"]


@pytest.mark.parametrize(
    "options, method, status",
    [
        ({"api_access": False}, "GET", 402),
        ({"ip_blocked": True}, "GET", 403),
        ({"locked": True}, "POST", 423),
    ],
)
def test_plan_ip_block_and_lock_refusals(app, options, method, status):
    test_client = app.test_client()
    make_account(test_client, "acct", "acct-key", **options)

    response = call(
        test_client, method, "/invoices.json", key="acct-key", json={"invoice": company_invoice()}
    )

    assert response.status_code == status and response.json["error"]


def test_a_locked_account_can_still_read(app):
    test_client = app.test_client()
    make_account(test_client, "acct", "acct-key", locked=True)

    assert call(test_client, "GET", "/invoices.json", key="acct-key").status_code == 200


def test_the_monthly_document_limit_is_402(app):
    test_client = app.test_client()
    make_account(test_client, "small", "small-key", monthly_invoice_limit=1)

    first = call(
        test_client, "POST", "/async/invoices.json", key="small-key", json={"invoice": company_invoice()}
    )
    second = call(
        test_client, "POST", "/async/invoices.json", key="small-key", json={"invoice": company_invoice()}
    )

    assert first.status_code == 201
    assert second.status_code == 402 and second.json["error"]


def test_invalid_account_options_are_refused(app):
    test_client = app.test_client()
    for options in (
        {"rate_limit_status": 418},
        {"async_polls": -1},
        {"scopes": ["api:everything"]},
        {"nip": "123"},
        {"frobnicate": True},
    ):
        response = test_client.post(
            "/_sandbox/infakt/accounts", json={"prefix": "x", "api_token": "x-key", "options": options}
        )
        assert response.status_code == 400, options
    make_account(test_client, "first", "shared-key")
    clash = test_client.post(
        "/_sandbox/infakt/accounts", json={"prefix": "second", "api_token": "shared-key"}
    )
    assert clash.status_code == 400


def test_the_demo_account_exists_from_the_start(app):
    response = app.test_client().get(
        f"{API}/invoices.json", headers={"X-inFakt-ApiKey": "demo-infakt-api-key"}
    )

    assert response.status_code == 200 and response.json["entities"] == []


# ---------------------------------------------------------------------------
# the documented rate limits


def test_the_documented_limits_get_300_and_others_150_a_minute_per_account(client):
    make_account(client, "other", "other-key")
    reads = [get(client, "/vat_rates.json").status_code for _ in range(301)]
    writes = [post(client, "/clients.json", {}).status_code for _ in range(151)]
    other_account = call(client, "GET", "/vat_rates.json", key="other-key")

    assert set(reads[:300]) == {200} and reads[300] == 429
    assert set(writes[:150]) == {400} and writes[150] == 429
    throttled = get(client, "/vat_rates.json")
    assert throttled.json["error"] and "Retry-After" not in throttled.headers
    assert other_account.status_code == 200
    stats = client.get("/_sandbox/stats").json["services"]["infakt"]["accounts"]["acme"]
    assert stats["faults"]["rate_limit"] == 3 and stats["throttled"] == 3


def test_rate_limit_options_503_retry_after_and_off(app):
    test_client = app.test_client()
    make_account(test_client, "gate", "gate-key", rate_limit_get=2, rate_limit_status=503)
    make_account(test_client, "polite", "polite-key", rate_limit_other=1, rate_limit_retry_after=True)
    make_account(test_client, "free", "free-key", rate_limit_get=None)

    gate = [call(test_client, "GET", "/vat_rates.json", key="gate-key").status_code for _ in range(3)]
    call(test_client, "POST", "/clients.json", key="polite-key", json={})
    polite = call(test_client, "POST", "/clients.json", key="polite-key", json={})
    free = {call(test_client, "GET", "/vat_rates.json", key="free-key").status_code for _ in range(305)}

    assert gate == [200, 200, 503]
    assert polite.status_code == 429 and 1 <= int(polite.headers["Retry-After"]) <= 60
    assert free == {200}


def test_the_limit_can_count_per_source_ip_across_accounts(app):
    test_client = app.test_client()
    make_account(test_client, "ip-a", "ip-a-key", rate_limit_get=2, rate_limit_scope="ip")
    make_account(test_client, "ip-b", "ip-b-key", rate_limit_get=2, rate_limit_scope="ip")

    statuses = [
        call(test_client, "GET", "/vat_rates.json", key=key).status_code
        for key in ("ip-a-key", "ip-b-key", "ip-a-key")
    ]

    assert statuses == [200, 200, 429]


# ---------------------------------------------------------------------------
# clients, bank accounts, reference data


def test_clients_are_created_validated_and_searched(client):
    made = make_client(client)
    make_client(client, company_name="Inna Firma", nip="5260001246")

    by_nip = get(client, "/clients.json", **{"q[nip_eq]": "5260250274"}).json
    by_name = get(client, "/clients.json", **{"q[company_name_cont]": "inna"}).json
    ignored = get(client, "/clients.json", nip="5260250274").json
    invalid = post(
        client, "/clients.json", {"client": {"company_name": "X", "postal_code": "31147", "country": "PL"}}
    )
    no_country = post(client, "/clients.json", {"client": {"company_name": "X"}})
    wrong_type = get(client, "/clients/abc.json")

    assert made["nip"] == "5260250274" and made["postal_code"] == "31-147" and isinstance(made["id"], int)
    assert [c["id"] for c in by_nip["entities"]] == [made["id"]]
    assert [c["company_name"] for c in by_name["entities"]] == ["Inna Firma"]
    assert ignored["metainfo"]["total_count"] == 2  # a bare ?nip= is ignored
    assert invalid.status_code == 422 and invalid.json["errors"]["postal_code"]
    assert no_country.status_code == 422 and no_country.json["errors"]["country"]
    assert wrong_type.status_code == 406


def test_an_invoice_for_a_client_card_takes_its_data(client):
    buyer = make_client(client, payment_method="cash", days_to_payment=14)
    invoice = created(
        client,
        {"client_id": buyer["id"], "invoice_date": "2026-03-10", "services": company_invoice()["services"]},
    )

    assert (invoice["client_id"], invoice["client_company_name"], invoice["client_tax_code"]) == (
        buyer["id"],
        "Hurtownia Żółw Sp. z o.o.",
        "5260250274",
    )
    assert invoice["payment_method"] == "cash" and invoice["payment_date"] == "2026-03-24"


def test_only_verified_bank_accounts_may_go_on_an_invoice(client):
    seeded = get(client, "/bank_accounts.json").json["entities"]
    added = post(
        client,
        "/bank_accounts.json",
        {"bank_account": {"account_number": "PL 10 1020 1026 0000 0402 0305 5688", "bank_name": "Inny Bank"}},
    )
    with_seeded = created(client, company_invoice(bank_account=seeded[0]["account_number"]))
    with_new = finish(client, submit(client, company_invoice(bank_account=added.json["account_number"])))
    short = post(client, "/bank_accounts.json", {"bank_account": {"account_number": "123"}})

    assert len(seeded) == 1 and seeded[0]["default"] is True
    assert added.status_code == 201 and added.json["account_number"] == "10102010260000040203055688"
    assert with_seeded["bank_name"] == seeded[0]["bank_name"]
    assert with_new["invoice_errors"]["bank_account"]
    assert short.status_code == 422


def test_reference_data_vat_rates_exemptions_and_account(client):
    rates = get(client, "/vat_rates.json").json["entities"]
    exemptions = get(client, "/vat_exemptions.json").json["entities"]
    one = get(client, f"/vat_exemptions/{exemptions[0]['id']}.json").json
    details = get(client, "/account/details.json").json

    assert {rate["symbol"] for rate in rates} >= {"23", "8", "5", "0", "zw", "np"}
    assert all(isinstance(rate["symbol"], str) for rate in rates)
    assert one == exemptions[0]
    assert details["nip"] == "5252344078" and details["company_name"] == "Sandbox acme sp. z o.o."
    assert get(client, "/payment_methods.json").status_code == 404  # a fixed list, no endpoint
    assert post(client, "/async/receipts.json", {}).status_code == 404  # no receipts in the API


# ---------------------------------------------------------------------------
# fuzzing


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**7),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(
        ["", "23", "zw", "np", "-1", "12,50", "abc", "2026-03-10", "2026-13-45", "ąę", "transfer"]
    ),
    st.text(max_size=20),
)
LINE_KEYS = [
    "name",
    "quantity",
    "tax_symbol",
    "gross_price",
    "unit_net_price",
    "net_price",
    "discount",
    "group",
    "correction",
]
LINES = st.one_of(
    st.lists(st.dictionaries(st.sampled_from(LINE_KEYS), SCALARS, max_size=6), max_size=3), SCALARS
)
HEADER_KEYS = [
    "kind",
    "number",
    "invoice_date",
    "sale_date",
    "payment_date",
    "paid_date",
    "status",
    "payment_method",
    "currency",
    "client_id",
    "client_company_name",
    "client_tax_code",
    "client_country",
    "client_business_activity_kind",
    "bank_account",
    "vat_exemption_reason",
    "transaction_terms",
    "document_markings_ids",
    "corrected_invoice_uuid",
    "corrected_invoice_number",
    "corrected_invoice_date",
    "correction_reason",
]
DOCUMENTS = st.fixed_dictionaries({"services": LINES}, optional={name: SCALARS for name in HEADER_KEYS})


def test_arbitrary_payloads_never_crash_the_emulator(tmp_path):
    test_client = create_sandbox_app(tmp_path / "fuzz.sqlite3").test_client()
    make_account(test_client, async_polls=0)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(invoice=DOCUMENTS, corrective=st.booleans())
    def check(invoice, corrective):
        if corrective:
            response = post(test_client, "/async/corrective_invoices.json", {"corrective_invoice": invoice})
            family = "corrective_invoices"
        else:
            response = post(test_client, "/invoices.json", {"invoice": invoice})
            assert response.status_code in (201, 422), response.get_data(as_text=True)[:500]
            response = post(test_client, "/async/invoices.json", {"invoice": invoice})
            family = "invoices"
        assert response.status_code == 201
        status = poll(test_client, response.json["invoice_task_reference_number"], family)
        assert status["processing_code"] in (201, 422), status

    check()


# ---------------------------------------------------------------------------
# faults, stats, inspection, reset, restart


def set_faults(client, **settings):
    response = client.put("/_sandbox/infakt/faults", json=settings)
    assert response.status_code == 200, response.json
    return response


def test_generic_faults_work_for_infakt(client):
    set_faults(client, account="acme", error_5xx=1.0)
    failing = get(client, "/invoices.json")
    set_faults(client, account="acme", rate_429=1.0, retry_after=3)
    throttled = get(client, "/invoices.json")
    set_faults(client, account="acme", auth_failure=True)
    refused = get(client, "/invoices.json")
    set_faults(client, account="acme", write_limit={"count": 1, "seconds": 60})
    writes = [
        post(client, "/async/invoices.json", {"invoice": company_invoice()}).status_code for _ in range(2)
    ]
    read = get(client, "/invoices.json")
    client.delete("/_sandbox/infakt/faults")

    assert failing.status_code in (500, 502, 503) and failing.mimetype == "text/html"
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert refused.status_code == 401
    assert writes == [201, 429] and read.status_code == 200
    assert get(client, "/invoices.json").status_code == 200
    faults = client.get("/_sandbox/stats").json["services"]["infakt"]["accounts"]["acme"]["faults"]
    assert faults == {"error_5xx": 1, "rate_429": 1, "auth_failure": 1, "write_limit": 1}


def test_inspection_finds_documents_by_reference_number_and_kind(client):
    created(
        client, company_invoice(transaction_terms={"orders": [{"number": "IB-9-0001", "date": "2026-03-09"}]})
    )
    created(client, company_invoice(notes="Dokument do zamówienia IB-9-0002"))
    call(
        client,
        "POST",
        "/invoices.json",
        key="demo-infakt-api-key",
        json={"invoice": company_invoice(transaction_terms={"orders": [{"number": "IB-9-0001"}]})},
    )

    by_order = documents(client, account="acme", oid="IB-9-0001")
    by_note = documents(client, oid="IB-9-0002")
    everywhere = documents(client, oid="IB-9-0001")
    by_number = documents(client, account="acme", number="2/03/2026")

    assert [d["number"] for d in by_order] == ["1/03/2026"] and by_order[0]["_sandbox"]["account"] == "acme"
    assert by_order[0]["_sandbox"]["rate_totals"] == [
        {"tax_symbol": "23", "net_price": 4876, "tax_price": 1122, "gross_price": 5998}
    ]
    assert [d["number"] for d in by_note] == ["2/03/2026"]
    assert len(everywhere) == 2
    assert [d["notes"] for d in by_number] == ["Dokument do zamówienia IB-9-0002"]
    assert documents(client, kind="correction") == []
    stats = client.get("/_sandbox/stats").json["services"]["infakt"]
    assert stats["documents_held"] == {"acme": 2, "demo": 1}


def test_reset_wipes_everything_but_the_demo_account(client):
    created(client, company_invoice())

    assert client.post("/_sandbox/reset").json == {"status": "ok"}

    accounts = client.get("/_sandbox/infakt/accounts").json["accounts"]
    assert [a["prefix"] for a in accounts] == ["demo"]
    assert documents(client) == []
    assert get(client, "/invoices.json").status_code == 401


def test_state_and_pending_tasks_survive_a_restart(tmp_path):
    db = tmp_path / "state.sqlite3"
    first = create_sandbox_app(db).test_client()
    make_account(first)
    before = created(first, company_invoice())
    waiting = submit(first, company_invoice())

    second = create_sandbox_app(db).test_client()
    again = get(second, f"/invoices/{before['uuid']}.json")
    status = finish(second, waiting)

    assert again.status_code == 200 and again.json["number"] == "1/03/2026"
    assert status["processing_code"] == 201
    assert get(second, f"/invoices/{status['invoice_uuid']}.json").json["number"] == "2/03/2026"


# ---------------------------------------------------------------------------
# over real HTTP


def test_async_flow_reset_and_timeout_after_store_over_real_http(tmp_path):
    with running_sandbox(tmp_path / "live.sqlite3") as base_url:
        requests.post(
            f"{base_url}/_sandbox/infakt/accounts",
            json={"prefix": "acme", "api_token": KEY, "options": {"async_seconds": 0}},
            timeout=5,
        )
        api = f"{base_url}{API}"
        invoice = company_invoice(transaction_terms={"orders": [{"number": "IB-OK"}]})
        task = requests.post(
            f"{api}/async/invoices.json", json={"invoice": invoice}, headers=HEADERS, timeout=5
        )
        status = requests.get(
            f"{api}/async/invoices/status/{task.json()['invoice_task_reference_number']}.json",
            headers=HEADERS,
            timeout=5,
        ).json()
        pdf = requests.get(
            f"{api}/invoices/{status['invoice_uuid']}/pdf.json",
            params={"document_type": "original"},
            headers=HEADERS,
            timeout=5,
        )

        faults = f"{base_url}/_sandbox/infakt/faults"
        requests.put(faults, json={"account": "acme", "reset": 1.0}, timeout=5)
        with pytest.raises(requests.ConnectionError) as reset:
            requests.post(
                f"{api}/async/invoices.json",
                json={"invoice": company_invoice(notes="IB-R")},
                headers=HEADERS,
                timeout=5,
            )
        requests.put(
            faults, json={"account": "acme", "timeout_after_store": 1.0, "hold_seconds": 1}, timeout=5
        )
        with pytest.raises(requests.ReadTimeout):
            requests.post(
                f"{api}/async/invoices.json",
                json={"invoice": company_invoice(notes="IB-T")},
                headers=HEADERS,
                timeout=0.3,
            )
        requests.delete(faults, timeout=5)

        inspect = f"{base_url}/_sandbox/infakt/documents"
        assert task.status_code == 201 and status["processing_code"] == 201
        assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        assert requests.get(inspect, params={"oid": "IB-R"}, timeout=5).json()["count"] == 0
        # The task was stored before the answer was held back; the worker then made the invoice.
        assert requests.get(inspect, params={"oid": "IB-T"}, timeout=5).json()["count"] == 1
        listed = requests.get(
            f"{api}/invoices.json", params={"q[number_eq]": "2/03/2026"}, headers=HEADERS, timeout=5
        )
        assert listed.json()["entities"][0]["notes"] == "IB-T"
        stats = requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()["services"]["infakt"][
            "accounts"
        ]["acme"]
        assert stats["faults"] == {"reset": 1, "timeout_after_store": 1}

    assert "reset" in repr(reset.value).lower() or "aborted" in repr(reset.value).lower()
