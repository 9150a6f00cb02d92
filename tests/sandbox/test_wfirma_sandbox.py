"""The wFirma emulator behaves like the API2 contract says the real service does.

Most tests use the Flask test client with JSON (``inputFormat=json``); some speak the default
XML. The last ones talk to a real server process through ``running_sandbox``.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from providers.sandbox import create_sandbox_app
from providers.sandbox.pdf import find_font
from tests.sandbox_server import running_sandbox

ACCESS, SECRET, APP = "acme-access-key", "acme-secret-key", "acme-app-key"
KEYS = {"accessKey": ACCESS, "secretKey": SECRET, "appKey": APP}
BUYER = {
    "name": "Hurtownia Żółw Sp. z o.o.",
    "nip": "5260250274",
    "street": "ul. Długa 5",
    "zip": "31-147",
    "city": "Kraków",
    "country": "PL",
    "email": "faktury@zolw.example",
}


@pytest.fixture
def app(tmp_path):
    return create_sandbox_app(tmp_path / "sandbox.sqlite3")


@pytest.fixture
def client(app):
    test_client = app.test_client()
    make_account(test_client)
    return test_client


def make_account(client, prefix="acme", access=ACCESS, **options):
    response = client.post(
        "/_sandbox/wfirma/accounts",
        json={
            "prefix": prefix,
            "api_token": access,
            "options": {"secret_key": SECRET, "app_key": APP, **options},
        },
    )
    assert response.status_code in (200, 201), response.json
    return response


def call(client, path, body=None, *, keys=KEYS, fmt="json", method="POST", **params):
    """One API2 call; a dict body is sent as JSON, a str as XML."""
    query = {"inputFormat": fmt, "outputFormat": fmt, **params} if fmt else params
    data = json.dumps(body) if isinstance(body, dict) else body
    return client.open(f"/wfirma/{path}", method=method, headers=keys, query_string=query, data=data)


def api(client, path, body=None, **kwargs) -> dict:
    response = call(client, path, body, **kwargs)
    assert response.status_code == 200, response.data
    return response.json


def records(tree: dict, plural: str, tag: str) -> list[dict]:
    """The numbered records of a JSON answer: {"invoices": {"0": {"invoice": {...}}}}."""
    branch = tree.get(plural) or {}
    return [branch[key][tag] for key in sorted((k for k in branch if k.isdigit()), key=int)]


def lines_of(doc: dict) -> list[dict]:
    return records(doc, "invoicecontents", "invoicecontent")


def invoice(**overrides) -> dict:
    doc = {
        "type": "normal",
        "date": "2026-03-10",
        "contractor": dict(BUYER),
        "invoicecontents": {
            "0": {"invoicecontent": {"name": "Kubek ceramiczny", "count": "2", "price": "24.38", "vat": "23"}}
        },
    }
    doc.update(overrides)
    return doc


def lines(*contents: dict) -> dict:
    return {str(n): {"invoicecontent": content} for n, content in enumerate(contents)}


def add(client, doc: dict, **params) -> dict:
    tree = api(client, "invoices/add", {"invoices": {"0": {"invoice": doc}}}, **params)
    assert tree["status"]["code"] == "OK", tree
    [created] = records(tree, "invoices", "invoice")
    return created


def refused(client, doc: dict, **params) -> dict:
    tree = api(client, "invoices/add", {"invoices": {"0": {"invoice": doc}}}, **params)
    assert tree["status"]["code"] == "ERROR", tree
    [echo] = records(tree, "invoices", "invoice")
    return echo


def errors(node: dict) -> dict[str, str]:
    return {error["field"]: error["message"] for error in records(node, "errors", "error")}


def stored(client, **filters) -> list[dict]:
    return client.get("/_sandbox/wfirma/documents", query_string={"account": "acme", **filters}).json[
        "documents"
    ]


def find(client, module: str, parameters: dict, **params) -> dict:
    return api(client, f"{module}/find", {module: {"parameters": parameters}}, method="GET", **params)


def good_by_code(client, code: str) -> dict:
    condition = {"condition": {"field": "code", "operator": "eq", "value": code}}
    [good] = records(find(client, "goods", {"conditions": condition}), "goods", "good")
    return good


# ---------------------------------------------------------------------------
# envelope and formats


def test_add_answers_ok_with_the_full_record_in_numbered_json(client):
    tree = api(client, "invoices/add", {"invoices": {"0": {"invoice": invoice(id_external="IB-1-0001")}}})

    assert tree["status"] == {"code": "OK"}
    assert tree["invoices"]["parameters"] == {"limit": "20", "page": "1", "total": "1"}
    doc = tree["invoices"]["0"]["invoice"]
    assert doc["fullnumber"] == "FV 1/2026" and doc["number"] == "1" and doc["year"] == "2026"
    assert doc["type"] == "normal" and doc["id_external"] == "IB-1-0001" and doc["id"].isdigit()
    assert (doc["netto"], doc["tax"], doc["total"]) == ("48.76", "11.21", "59.97")
    assert doc["paymentmethod"] == "transfer" and doc["paymentdate"] == "2026-03-17"
    assert doc["paymentstate"] == "unpaid" and doc["remaining"] == "59.97"
    assert doc["contractor"]["id"] == doc["contractor_detail"]["id"] != "0"
    assert doc["contractor_detail"]["name"] == "Hurtownia Żółw Sp. z o.o."
    assert doc["company_detail"]["nip"] and doc["series"]["id"].isdigit()
    [line] = lines_of(doc)
    assert (line["count"], line["price"], line["vat"], line["netto"], line["brutto"]) == (
        "2.0000",
        "24.38",
        "23",
        "48.76",
        "59.97",
    )
    assert line["vat_code"] == {"id": "222"} and line["good"] == {"id": "0"}


def test_the_official_xml_example_works_without_any_format_parameter(client):
    body = """<?xml version="1.0" encoding="UTF-8"?>
    <api><invoices><invoice>
      <contractor><name>Testowy kontrahent</name><zip>10-100</zip><city>Wrocław</city></contractor>
      <type>normal</type><date>2026-03-10</date><price_type>brutto</price_type>
      <invoicecontents>
        <invoicecontent><name>123123</name><count>1.0000</count><unit_count>1.0000</unit_count>
          <price>9699.00</price><unit>szt.</unit></invoicecontent>
      </invoicecontents>
    </invoice></invoices></api>"""

    response = call(client, "invoices/add", body, fmt=None)

    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = ET.fromstring(response.data)
    assert root.tag == "api" and root.findtext("status/code") == "OK"
    doc = root.find("invoices/invoice")
    assert doc.findtext("fullnumber") == "FV 1/2026"
    assert (doc.findtext("total"), doc.findtext("netto"), doc.findtext("tax")) == (
        "9699.00",
        "7885.37",
        "1813.63",
    )
    assert doc.findtext("contractor_detail/city") == "Wrocław"
    assert doc.findtext("invoicecontents/invoicecontent/count") == "1.0000"
    assert root.findtext("invoices/parameters/total") == "1"


def test_json_without_numbered_keys_is_accepted_and_output_format_may_differ(client):
    body = {
        "invoices": {
            "invoice": invoice(invoicecontents={"invoicecontent": {"name": "A", "count": 1, "price": 10}})
        }
    }

    response = call(client, "invoices/add", body, fmt=None, inputFormat="json", outputFormat="xml")

    root = ET.fromstring(response.data)
    assert root.findtext("status/code") == "OK"
    assert root.findtext("invoices/invoice/total") == "12.30"


def test_output_format_defaults_to_the_input_format(client):
    response = call(client, "series/find", fmt=None, inputFormat="json", method="GET")

    assert response.mimetype == "application/json" and response.json["status"]["code"] == "OK"


def test_the_series_container_and_record_are_both_called_series(client):
    root = ET.fromstring(call(client, "series/find", fmt=None, method="GET").data)

    assert root.find("series/series/template") is not None


@pytest.mark.parametrize(
    "body, fmt, params",
    [
        ("<api><invoices><invoice>", "xml", {}),
        ('{"invoices": ', "json", {}),
        ("<invoices/>", "xml", {}),
        ({"invoices": {}}, "json", {}),
        ({"invoices": {"0": {"invoice": invoice()}}}, "json", {"inputFormat": "yaml"}),
    ],
)
def test_malformed_input_is_input_error_in_a_200_envelope(client, body, fmt, params):
    response = call(client, "invoices/add", body, fmt=fmt, **params)

    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "INPUT ERROR" in text
    assert stored(client) == []


def test_unknown_modules_actions_and_ids(client):
    unknown_action = api(client, "invoices/explode", method="GET")
    unknown_module = api(client, "spaceships/find", method="GET")
    missing = api(client, "invoices/get/999", method="GET")
    not_a_route = client.get("/wfirma/invoices", headers=KEYS)

    assert unknown_action["status"]["code"] == "ACTION NOT FOUND"
    assert unknown_module["status"]["code"] == "ACTION NOT FOUND"
    assert missing["status"]["code"] == "NOT FOUND"
    assert missing["status"]["message"].startswith("Nie znaleziono obiektu")
    assert b"ACTION NOT FOUND" in not_a_route.data


def test_get_and_find_work_with_post_and_delete_with_delete(client):
    doc = add(client, invoice(type="receipt_normal"))  # not sent to KSeF, so it may be deleted

    by_get = api(client, f"invoices/get/{doc['id']}", method="GET")
    by_post = api(client, f"invoices/get/{doc['id']}", method="POST")
    deleted = api(client, f"invoices/delete/{doc['id']}", method="DELETE")

    assert records(by_get, "invoices", "invoice")[0]["fullnumber"] == "DS 1/2026"
    assert records(by_post, "invoices", "invoice")[0]["id"] == doc["id"]
    assert deleted["status"]["code"] == "OK" and stored(client) == []


# ---------------------------------------------------------------------------
# amounts


def test_net_prices_are_totalled_per_rate_from_the_net_sum(client):
    net_lines = lines(*({"name": f"Usługa {n}", "count": 1, "price": "0.81", "vat": "23"} for n in range(3)))
    doc = add(client, invoice(invoicecontents=net_lines))

    assert [line["brutto"] for line in lines_of(doc)] == ["1.00"] * 3
    # VAT from the rate's net sum: 2.43 * 23% = 0.56, not 3 x 0.19.
    assert (doc["netto"], doc["tax"], doc["total"]) == ("2.43", "0.56", "2.99")


def test_gross_prices_are_totalled_per_rate_from_the_gross_sum(client):
    gross_lines = lines(
        *({"name": f"Naklejka {n}", "count": 1, "price": "1.00", "vat": "23"} for n in range(3))
    )
    doc = add(client, invoice(price_type="brutto", invoicecontents=gross_lines))

    assert [line["netto"] for line in lines_of(doc)] == ["0.81"] * 3
    assert (doc["netto"], doc["tax"], doc["total"]) == ("2.44", "0.56", "3.00")
    [row] = stored(client)[0]["_sandbox"]["rate_totals"]
    assert row == {"vat_code_id": "222", "code": "23", "netto": "2.44", "tax": "0.56", "brutto": "3.00"}


def test_mixed_rates_exempt_lines_discounts_and_vat_code_ids(client):
    doc = add(
        client,
        invoice(
            price_type="brutto",
            invoicecontents=lines(
                {"name": "Herbata", "count": "3", "price": "18,50", "vat": "5"},
                {"name": "Kurs online", "count": 1, "price": "100", "vat": "zw"},
                {"name": "Usługa poza UE", "count": 1, "price": "40", "vat_code": {"id": "227"}},
                {
                    "name": "Kubek",
                    "count": 2,
                    "price": "30",
                    "vat": "23",
                    "discount": 1,
                    "discount_percent": 50,
                },
            ),
        ),
    )

    assert [line["vat"] for line in lines_of(doc)] == ["5", "ZW", "NP", "23"]
    assert lines_of(doc)[3]["brutto"] == "30.00"
    assert (doc["netto"], doc["tax"], doc["total"]) == ("217.25", "8.25", "225.50")


def test_a_foreign_currency_carries_the_exchange_rate_picked_by_the_service(client):
    doc = add(client, invoice(currency="EUR", date="2026-03-10", disposaldate="2026-03-09"))

    assert doc["currency"] == "EUR" and Decimal(doc["currency_exchange"]) > 1
    assert doc["currency_date"] == "2026-03-06"  # the working day before the sale (a Monday)
    assert doc["currency_label"].endswith("/A/NBP/2026")


# ---------------------------------------------------------------------------
# document types, receipts


def test_receipts_need_no_contractor_and_fiscal_ones_have_no_pdf(client):
    line = lines({"name": "Kubek", "count": 1, "price": "29.99", "vat": "23"})
    receipt = add(client, {"type": "receipt_normal", "date": "2026-03-10", "invoicecontents": line})
    fiscal = add(client, {"type": "receipt_fiscal_normal", "date": "2026-03-10", "invoicecontents": line})

    assert receipt["fullnumber"] == "DS 1/2026" and receipt["contractor"] == {"id": "0"}
    assert fiscal["fullnumber"] == "PAR 1/03/2026" and fiscal["receipt_fiscal_printed"] == "0"
    assert receipt["paymentdate"] == "2026-03-10"
    assert call(client, f"invoices/download/{receipt['id']}").data.startswith(b"%PDF")
    no_pdf = api(client, f"invoices/download/{fiscal['id']}")
    assert no_pdf["status"]["code"] == "ERROR" and "paragonu fiskalnego" in no_pdf["status"]["message"]
    fiscalized = api(client, f"invoices/fiscalize/{fiscal['id']}", method="GET")
    assert records(fiscalized, "invoices", "invoice")[0]["receipt_fiscal_printed"] == "1"
    assert api(client, f"invoices/fiscalize/{receipt['id']}")["status"]["code"] == "ERROR"
    assert receipt["ksef_status"] == "" and fiscal["ksef_status"] == ""


def test_a_receipt_contractor_can_be_made_mandatory(client):
    make_account(client, "strict", access="strict-key", receipts_need_contractor=True)
    line = lines({"name": "Kubek", "count": 1, "price": "29.99"})

    echo = refused(
        client, {"type": "receipt_normal", "invoicecontents": line}, keys={**KEYS, "accessKey": "strict-key"}
    )

    assert errors(echo) == {"contractor": "Pole nie może być puste"}


def test_vat_and_non_vat_document_types_follow_the_company(client):
    make_account(
        client,
        "two",
        access="two-key",
        companies=[{"name": "Spółka VAT"}, {"name": "Jan Kowalski (zwolniony)", "vat_payer": False}],
    )
    keys = {**KEYS, "accessKey": "two-key"}
    vat_company, small = records(
        api(client, "user_companies/find", keys=keys), "user_companies", "user_company"
    )

    wrong = refused(client, invoice(), keys=keys, company_id=small["id"])
    bill = add(client, invoice(type="bill"), keys=keys, company_id=small["id"])
    no_bill = refused(client, invoice(type="bill"), keys=keys, company_id=vat_company["id"])

    assert (
        errors(wrong)["type"]
        == "Fakturę VAT/Pro Formę VAT/Dowód sprzedaży można wystawić, jedynie będąc płatnikiem VAT"
    )
    assert bill["fullnumber"] == "F 1/2026" and bill["tax"] == "0.00" and bill["total"] == "48.76"
    assert "type" in errors(no_bill)


def test_proforma_and_drafts_are_numbered_apart_and_take_no_stock(client):
    good = good_by_code(client, "SKU-001")
    line = lines({"good": {"id": good["id"]}, "count": 3})

    proforma = add(client, invoice(type="proforma", invoicecontents=line))
    draft = add(client, invoice(type="normal_draft", invoicecontents=line))

    assert proforma["fullnumber"] == "PRO 1/2026" and proforma["paymentstate"] == "undefined"
    assert draft["fullnumber"] == ""
    assert good_by_code(client, "SKU-001")["count"] == good["count"]


# ---------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "change, level, field",
    [
        ({"contractor": {"name": "Bez adresu"}}, "contractor", "zip"),
        ({"contractor": {**BUYER, "nip": "1234567890"}}, "contractor", "nip"),
        ({"contractor": {**BUYER, "country": "XX"}}, "contractor", "country"),
        ({"contractor": {"id": "424242"}}, "contractor", "id"),
        ({"contractor": None}, "invoice", "contractor"),
        ({"paymentmethod": "online"}, "invoice", "paymentmethod"),
        ({"date": "10.03.2026"}, "invoice", "date"),
        ({"paymentdate": "2026-02-30"}, "invoice", "paymentdate"),
        ({"price_type": "gross"}, "invoice", "price_type"),
        ({"currency": "XYZ"}, "invoice", "currency"),
        ({"type": "faktura"}, "invoice", "type"),
        ({"series": {"id": "999999"}}, "invoice", "series"),
        ({"company_account": {"id": "999999"}}, "invoice", "company_account"),
        ({"invoicecontents": {}}, "invoice", "invoicecontents"),
        ({"invoicecontents": lines({"count": 1, "price": 5})}, "line", "name"),
        ({"invoicecontents": lines({"name": "A", "price": 5})}, "line", "count"),
        ({"invoicecontents": lines({"name": "A", "count": 0, "price": 5})}, "line", "count"),
        ({"invoicecontents": lines({"name": "A", "count": 1})}, "line", "price"),
        ({"invoicecontents": lines({"name": "A", "count": "dwa", "price": 5})}, "line", "count"),
        ({"invoicecontents": lines({"name": "A", "count": 1, "price": 5, "vat": "19"})}, "line", "vat"),
        (
            {"invoicecontents": lines({"name": "A", "count": 1, "price": 5, "vat_code": {"id": "9"}})},
            "line",
            "vat_code_id",
        ),
        (
            {"invoicecontents": lines({"name": "A", "count": 1, "price": 5, "good": {"id": "1"}})},
            "line",
            "good",
        ),
        (
            {"invoicecontents": lines({"name": "A", "count": 1, "price": 5, "vat": "WDT"})},
            "contractor",
            "nip",
        ),
    ],
)
def test_invalid_documents_get_error_with_the_field_at_its_level(client, change, level, field):
    doc = invoice(**change)
    if doc["contractor"] is None:
        del doc["contractor"]

    echo = refused(client, doc)

    node = {
        "invoice": echo,
        "contractor": echo.get("contractor"),
        "line": lines_of(echo)[0] if level == "line" else None,
    }
    assert field in errors(node[level]), echo
    assert stored(client) == []


def test_the_error_echo_carries_the_input_messages_and_the_require_method(client):
    echo = refused(client, invoice(date="2026/03/10", contractor={"name": "X", "zip": "00-001"}))

    assert echo["date"] == "2026/03/10"
    assert errors(echo)["date"] == "Data musi być w formacie RRRR-MM-DD"
    [city] = records(echo["contractor"], "errors", "error")
    assert city == {
        "field": "city",
        "message": "Pole nie może być puste",
        "method": {"name": "require", "parameters": ""},
    }


def test_a_wdt_line_needs_an_eu_vat_number_with_its_country_prefix(client):
    eu_buyer = {**BUYER, "nip": "DE123456789", "country": "DE", "zip": "10115", "city": "Berlin"}
    line = lines({"name": "Kubek", "count": 1, "price": "24.38", "vat": "WDT"})

    accepted = add(client, invoice(contractor=eu_buyer, invoicecontents=line))
    echo = refused(client, invoice(invoicecontents=line))

    assert accepted["contractor_detail"]["tax_id_type"] == "vat" and accepted["tax"] == "0.00"
    assert errors(echo["contractor"])["nip"].startswith("Nieprawidłowy prefiks kraju Unii Europejskiej")


def test_oss_rates_cannot_be_mixed_with_polish_ones_and_need_a_vat_code(client):
    mixed = refused(
        client,
        invoice(
            invoicecontents=lines(
                {"name": "A", "count": 1, "price": 10, "vat_code": {"id": "401"}},
                {"name": "B", "count": 1, "price": 10, "vat": "23"},
            )
        ),
    )
    oss_only = add(
        client,
        invoice(invoicecontents=lines({"name": "A", "count": 1, "price": 10, "vat_code": {"id": "401"}})),
    )

    assert errors(mixed)["positions"] == "Nie można mieszać stawek zagranicznych (MOSS) z pozostałymi"
    assert oss_only["tax"] == "1.90"


def test_description_is_refused_on_fiscal_receipts(client):
    line = lines({"name": "Kubek", "count": 1, "price": "29.99"})

    echo = refused(
        client, {"type": "receipt_fiscal_normal", "description": "Dziękujemy", "invoicecontents": line}
    )

    assert "description" in errors(echo)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.sampled_from(["", "23", "zw", "WDT", "-1", "12,50", "abc", "2026-03-10", "2026-13-45", "ąę", "0"]),
    st.text(max_size=12),
)
LINE_KEYS = ["name", "count", "price", "vat", "discount", "discount_percent", "unit"]
LINE_DICTS = st.dictionaries(st.sampled_from(LINE_KEYS), SCALARS, max_size=5)
FUZZ_DOCS = st.fixed_dictionaries(
    {"type": st.sampled_from(["normal", "receipt_normal", "correction", "proforma", "bill", "nonsense"])},
    optional={
        "invoicecontents": st.lists(LINE_DICTS, max_size=3).map(lambda ls: lines(*ls)),
        "contractor": st.dictionaries(
            st.sampled_from(["name", "zip", "city", "nip", "country", "id"]), SCALARS
        ),
        "date": SCALARS,
        "paymentdate": SCALARS,
        "paymentmethod": SCALARS,
        "price_type": SCALARS,
        "currency": SCALARS,
        "number": SCALARS,
        "series": st.fixed_dictionaries({"id": SCALARS}),
        "parent_id": SCALARS,
        "alreadypaid_initial": SCALARS,
    },
)


def test_arbitrary_payloads_get_an_envelope_never_a_crash(tmp_path):
    client = create_sandbox_app(tmp_path / "fuzz.sqlite3").test_client()
    make_account(client)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(doc=FUZZ_DOCS)
    def check(doc):
        response = call(client, "invoices/add", {"invoices": {"0": {"invoice": doc}}})
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        assert response.json["status"]["code"] in ("OK", "ERROR", "INPUT ERROR")

    check()


# ---------------------------------------------------------------------------
# numbering series and numbering control


def series_by_name(client) -> dict[str, dict]:
    found = records(find(client, "series", {"limit": 100}), "series", "series")
    return {series["name"]: series for series in found}


def test_companies_start_with_several_series_with_templates(client):
    series = series_by_name(client)

    assert (
        series["Faktury VAT"]["template"] == "FV [numer]/[rok]" and series["Faktury VAT"]["reset"] == "yearly"
    )
    monthly = series["Faktury VAT – sklep (miesięczna)"]
    assert monthly["template"] == "FVS [numer]/[miesiąc]/[rok]" and monthly["reset"] == "monthly"
    assert {s["type"] for s in series.values()} >= {
        "normal",
        "receipt_normal",
        "receipt_fiscal_normal",
        "correction",
    }
    single = api(client, f"series/get/{monthly['id']}", method="GET")
    assert records(single, "series", "series")[0]["name"] == monthly["name"]


def test_numbers_follow_each_series_template_and_reset(client):
    series = series_by_name(client)
    monthly = {"id": series["Faktury VAT – sklep (miesięczna)"]["id"]}
    daily = {"id": series["Faktury VAT – dzienna"]["id"]}

    numbers = [
        add(client, invoice(date="2026-03-10"))["fullnumber"],
        add(client, invoice(date="2026-03-11"))["fullnumber"],
        add(client, invoice(date="2026-03-11", series=monthly))["fullnumber"],
        add(client, invoice(date="2026-04-01", series=monthly))["fullnumber"],
        add(client, invoice(date="2026-04-01", series=daily))["fullnumber"],
        add(client, invoice(date="2026-04-01", series=daily))["fullnumber"],
        add(client, invoice(date="2027-01-02"))["fullnumber"],
    ]

    assert numbers == [
        "FV 1/2026",
        "FV 2/2026",
        "FVS 1/03/2026",
        "FVS 1/04/2026",
        "FD 1/01/04/2026",
        "FD 2/01/04/2026",
        "FV 1/2027",
    ]


def test_a_series_for_another_document_type_is_refused(client):
    receipts = series_by_name(client)["Dowody sprzedaży"]

    echo = refused(client, invoice(series={"id": receipts["id"]}))

    assert errors(echo)["series"] == "Wybrana seria numeracji jest przeznaczona dla innego typu dokumentu"


def test_numbering_control_refuses_a_number_that_does_not_fit_the_series(client):
    add(client, invoice(date="2026-03-10"))

    gap = refused(client, invoice(date="2026-03-11", number="5"))
    taken = refused(client, invoice(date="2026-03-11", number="1"))
    wrong_year = refused(client, invoice(date="2026-03-11", number="2", year="2025"))
    fits = add(client, invoice(date="2026-03-11", number="2"))

    message = errors(gap)["number"]
    assert "FV 5/2026" in message and "kontrola numeracji" in message and "FV 2/2026" in message
    assert "number" in errors(taken) and "number" in errors(wrong_year)
    assert fits["fullnumber"] == "FV 2/2026"
    assert [doc["fullnumber"] for doc in stored(client)] == ["FV 1/2026", "FV 2/2026"]


def test_numbering_control_refuses_a_date_that_breaks_the_chronology(client):
    add(client, invoice(date="2026-03-10"))

    echo = refused(client, invoice(date="2026-03-09"))

    assert errors(echo)["date"] == (
        "Nie można wystawić faktury o numerze FV 2/2026 i dacie wystawienia 2026-03-09. Inna faktura o numerze "
        "FV 1/2026 ma wcześniejszy numer i późniejszą datę wystawienia 2026-03-10. Operacja naruszyłaby "
        "chronologię i poprawność numeracji."
    )
    assert add(client, invoice(date="2026-03-10"))["fullnumber"] == "FV 2/2026"


def test_numbering_control_in_ignore_mode_replaces_a_sent_number(client):
    make_account(client, "lax", access="lax-key", numbering_control="ignore")
    keys = {**KEYS, "accessKey": "lax-key"}

    doc = add(client, invoice(number="77"), keys=keys)

    assert doc["fullnumber"] == "FV 1/2026"


def test_with_numbering_control_off_numbers_are_writable_but_unique(client):
    make_account(client, "free", access="free-key", numbering_control="off")
    keys = {**KEYS, "accessKey": "free-key"}

    manual = add(client, invoice(number="2", date="2026-03-10"), keys=keys)
    first = add(client, invoice(date="2026-03-10"), keys=keys)
    skipped = add(client, invoice(date="2026-03-09"), keys=keys)
    duplicate = refused(client, invoice(number="2"), keys=keys)

    assert (manual["fullnumber"], first["fullnumber"], skipped["fullnumber"]) == (
        "FV 2/2026",
        "FV 3/2026",
        "FV 4/2026",
    )
    assert "już istnieje" in errors(duplicate)["number"]


def test_a_deleted_last_invoice_frees_its_number(client):
    add(client, invoice())
    second = add(client, invoice())

    api(client, f"invoices/delete/{second['id']}")

    assert add(client, invoice())["fullnumber"] == "FV 2/2026"


def test_series_add_checks_the_template_and_starts_at_initnumber(client):
    def add_series(**fields):
        return api(
            client, "series/add", {"series": {"series": {"name": "Allegro", "type": "normal", **fields}}}
        )

    no_number = add_series(template="ALL/[rok]")
    monthly_without_month = add_series(template="ALL [numer]/[rok]", reset="monthly")
    created = add_series(template="ALL [numer]/[rok]", initnumber="50")

    assert no_number["status"]["code"] == "ERROR"
    assert errors(records(no_number, "series", "series")[0]) == {
        "template": "Szablon musi zawierać znacznik [numer]"
    }
    assert monthly_without_month["status"]["code"] == "ERROR"
    [series] = records(created, "series", "series")
    assert series["template"] == "ALL [numer]/[rok]" and series["initnumber"] == "50"
    this_year = date.today().year
    doc = add(client, invoice(date=f"{this_year}-12-31", series={"id": series["id"]}))
    assert doc["fullnumber"] == f"ALL 50/{this_year}"


# ---------------------------------------------------------------------------
# payments


@pytest.mark.parametrize(
    "method, due",
    [
        ("transfer", "2026-03-17"),
        ("cash", "2026-03-10"),
        ("cod", "2026-03-17"),
        ("payment_card", "2026-03-10"),
        ("compensation", "2026-03-17"),
    ],
)
def test_every_documented_payment_method_is_accepted(client, method, due):
    doc = add(client, invoice(paymentmethod=method))

    assert doc["paymentmethod"] == method and doc["paymentdate"] == due


def test_an_explicit_payment_date_and_an_initial_payment(client):
    doc = add(client, invoice(paymentdate="2026-04-30", alreadypaid_initial="59.97"))

    assert doc["paymentdate"] == "2026-04-30"
    assert (doc["alreadypaid"], doc["remaining"], doc["paymentstate"]) == ("59.97", "0.00", "paid")


def test_payments_add_settles_the_invoice(client):
    doc = add(client, invoice())

    paid = api(
        client,
        "payments/add",
        {
            "payments": {
                "payment": {
                    "object_name": "invoice",
                    "object_id": doc["id"],
                    "value": "59.97",
                    "date": "2026-03-12",
                }
            }
        },
    )
    after = records(api(client, f"invoices/get/{doc['id']}", method="GET"), "invoices", "invoice")[0]

    [payment] = records(paid, "payments", "payment")
    assert (payment["type"], payment["payment_type"]) == ("income", "cashbox")
    assert (after["paymentstate"], after["alreadypaid"], after["remaining"]) == ("paid", "59.97", "0.00")
    bad = api(client, "payments/add", {"payments": {"payment": {"object_id": "1", "value": "5"}}})
    assert bad["status"]["code"] == "ERROR"


# ---------------------------------------------------------------------------
# contractors


def test_an_existing_contractor_is_used_by_id(client):
    created = api(client, "contractors/add", {"contractors": {"contractor": BUYER}})
    [card] = records(created, "contractors", "contractor")

    doc = add(client, invoice(contractor={"id": card["id"]}))

    assert doc["contractor"]["id"] == card["id"] and doc["contractor_detail"]["nip"] == "5260250274"


def test_an_inline_buyer_with_a_known_nip_reuses_the_contractor_card(client):
    first = add(client, invoice())
    second = add(client, invoice(contractor={**BUYER, "nip": "526-025-02-74", "name": "Żółw (nowa nazwa)"}))
    private = add(client, invoice(contractor={"name": "Łucja Ćwik", "zip": "00-001", "city": "Warszawa"}))

    assert first["contractor"]["id"] == second["contractor"]["id"] != private["contractor"]["id"]
    assert second["contractor_detail"]["name"] == "Żółw (nowa nazwa)"  # the invoice keeps its own snapshot
    condition = {"condition": {"field": "nip", "operator": "eq", "value": "5260250274"}}
    assert (
        len(records(find(client, "contractors", {"conditions": condition}), "contractors", "contractor")) == 1
    )


def test_contractors_add_validates_like_an_inline_buyer(client):
    tree = api(client, "contractors/add", {"contractors": {"contractor": {"name": "X", "nip": "123"}}})

    assert tree["status"]["code"] == "ERROR"
    assert set(errors(records(tree, "contractors", "contractor")[0])) == {"zip", "city", "nip"}


# ---------------------------------------------------------------------------
# goods and stock


def test_goods_are_found_by_sku_and_a_linked_line_takes_them_out_of_stock(client):
    good = good_by_code(client, "SKU-001")
    start = Decimal(good["count"])

    doc = add(client, invoice(invoicecontents=lines({"good": {"id": good["id"]}, "count": 3})))

    [line] = lines_of(doc)
    assert (line["name"], line["price"], line["good"]["id"]) == (good["name"], good["netto"], good["id"])
    assert Decimal(good_by_code(client, "SKU-001")["count"]) == start - 3
    api(client, f"invoices/delete/{doc['id']}")
    assert Decimal(good_by_code(client, "SKU-001")["count"]) == start


def test_services_have_no_stock_and_new_goods_may_be_added(client):
    service = good_by_code(client, "USL-PAK")
    created = api(
        client,
        "goods/add",
        {"goods": {"good": {"name": "Świeca", "code": "SKU-NEW", "netto": "10", "vat": "8", "count": "5"}}},
    )

    [good] = records(created, "goods", "good")
    add(
        client,
        invoice(
            invoicecontents=lines(
                {"good": {"id": good["id"]}, "count": 2}, {"good": {"id": service["id"]}, "count": 1}
            )
        ),
    )

    assert service["count"] == "" and good["brutto"] == "10.80"
    assert good_by_code(client, "SKU-NEW")["count"] == "3.0000"
    assert api(client, "goods/add", {"goods": {"good": {"code": "X"}}})["status"]["code"] == "ERROR"


def test_stock_is_read_only_with_the_warehouse_module(client):
    make_account(client, "wh", access="wh-key", companies=[{"warehouse": "extended"}])
    keys = {**KEYS, "accessKey": "wh-key"}

    created = api(
        client, "goods/add", {"goods": {"good": {"name": "Nowy", "netto": "1", "count": "99"}}}, keys=keys
    )

    [good] = records(created, "goods", "good")
    assert good["count"] == "0.0000" and good["warehouse_type"] == "extended"


# ---------------------------------------------------------------------------
# corrections


def correction(original: dict, **overrides) -> dict:
    [line] = lines_of(original)
    doc = {
        "type": "correction",
        "date": "2026-03-20",
        "parent_id": original["id"],
        "description": "Zwrot jednej sztuki",
        "invoicecontents": lines(
            {"parent_id": line["id"], "name": line["name"], "count": "1", "price": line["price"]}
        ),
    }
    doc.update(overrides)
    return doc


def test_a_correction_carries_the_state_after_and_the_difference(client):
    original = add(client, invoice())

    fixed = add(client, correction(original))

    assert fixed["fullnumber"] == "KOR 1/2026" and fixed["parent"]["id"] == original["id"]
    assert (fixed["netto"], fixed["tax"], fixed["total"]) == ("-24.38", "-5.60", "-29.98")
    [line] = lines_of(fixed)
    assert (line["count"], line["parent_id"], line["brutto"]) == (
        "1.0000",
        lines_of(original)[0]["id"],
        "29.99",
    )
    assert (
        fixed["contractor"]["id"] == original["contractor"]["id"]
        and fixed["description"] == "Zwrot jednej sztuki"
    )
    after = records(api(client, f"invoices/get/{original['id']}", method="GET"), "invoices", "invoice")[0]
    assert (after["corrections"], after["total_composed"]) == ("1", "29.99")


def test_a_correction_returns_goods_to_stock_and_can_add_lines(client):
    good = good_by_code(client, "SKU-002")
    original = add(client, invoice(invoicecontents=lines({"good": {"id": good["id"]}, "count": 4})))
    [line] = lines_of(original)

    add(
        client,
        correction(
            original,
            invoicecontents=lines(
                {"parent": {"id": line["id"]}, "count": "1"},  # the SDK's <parent><id> form
                {"name": "Dopłata za transport", "count": 1, "price": "10", "vat": "23"},
            ),
        ),
    )

    assert Decimal(good_by_code(client, "SKU-002")["count"]) == Decimal(good["count"]) - 1


def test_a_second_correction_must_point_at_the_latest_correction_lines(client):
    original = add(client, invoice())
    first = add(client, correction(original))
    original_line, latest_line = lines_of(original)[0], lines_of(first)[0]

    stale = refused(
        client, correction(original, invoicecontents=lines({"parent_id": original_line["id"], "count": "0"}))
    )
    second = add(
        client, correction(original, invoicecontents=lines({"parent_id": latest_line["id"], "count": "0"}))
    )

    assert errors(lines_of(stale)[0])["parent_id"].startswith("Pozycja korygowana musi wskazywać")
    assert second["total"] == "-29.99" and second["fullnumber"] == "KOR 2/2026"
    after = records(api(client, f"invoices/get/{original['id']}", method="GET"), "invoices", "invoice")[0]
    assert (after["corrections"], after["total_composed"]) == ("2", "0.00")


def test_correction_rules_are_enforced(client):
    original = add(client, invoice())
    [line] = lines_of(original)

    no_parent = refused(client, correction(original, parent_id=None))
    unknown = refused(client, correction(original, parent_id="987654"))
    renamed = refused(
        client,
        correction(
            original, invoicecontents=lines({"parent_id": line["id"], "name": "Inna nazwa", "count": 1})
        ),
    )

    assert errors(no_parent)["parent_id"] == "Pole nie może być puste"
    assert "parent_id" in errors(unknown)
    assert "name" in errors(lines_of(renamed)[0])
    assert api(client, f"invoices/delete/{original['id']}")["status"]["code"] == "OK"  # nothing was stored


def test_a_corrected_invoice_cannot_be_deleted_and_the_pdf_names_the_original(client):
    original = add(client, invoice())
    fixed = add(client, correction(original))

    refusal = api(client, f"invoices/delete/{original['id']}")
    pdf = pdf_text(call(client, f"invoices/download/{fixed['id']}").data)

    assert refusal["status"]["code"] == "ERROR"
    assert "KOR 1/2026" in pdf and "Dotyczy faktury: FV 1/2026 z dnia 2026-03-10" in pdf
    assert "przed korektą" in pdf and "Zwrot jednej sztuki" in pdf


# ---------------------------------------------------------------------------
# find


def test_find_by_id_external_fullnumber_type_and_buyer_nip(client):
    add(client, invoice(id_external="IB-1"))
    add(client, invoice(id_external="IB-2", contractor={**BUYER, "nip": "1132853869"}))
    add(
        client,
        {
            "type": "receipt_normal",
            "date": "2026-03-10",
            "id_external": "IB-3",
            "invoicecontents": invoice()["invoicecontents"],
        },
    )

    def found(conditions, **parameters):
        tree = find(client, "invoices", {"conditions": conditions, **parameters})
        return [doc["id_external"] for doc in records(tree, "invoices", "invoice")], tree["invoices"][
            "parameters"
        ]

    def cond(field, operator, value):
        return {"field": field, "operator": operator, "value": value}

    assert found({"condition": cond("id_external", "eq", "IB-2")})[0] == ["IB-2"]
    assert found({"condition": cond("Invoice.fullnumber", "like", "fv %/2026")})[0] == ["IB-1", "IB-2"]
    assert found({"condition": cond("type", "in", "receipt_normal,proforma")})[0] == ["IB-3"]
    assert found({"condition": cond("ContractorDetail.nip", "eq", "1132853869")})[0] == ["IB-2"]
    either = {
        "or": {
            "0": {"condition": cond("id_external", "eq", "IB-1")},
            "1": {"condition": cond("id_external", "eq", "IB-3")},
        }
    }
    assert found(either)[0] == ["IB-1", "IB-3"]
    paged, parameters = found({}, limit=2, page=2, order={"desc": "Invoice.id"})
    assert paged == ["IB-1"] and parameters == {"limit": "2", "page": "2", "total": "3"}
    assert found({"condition": cond("InvoiceContent.name", "like", "%kubek%")})[0] == ["IB-1", "IB-2", "IB-3"]
    assert found({"condition": cond("id_external", "is null", "")})[0] == []


def test_find_with_fields_narrows_the_records_and_unknown_fields_are_input_errors(client):
    add(client, invoice(id_external="IB-1"))

    narrowed = find(
        client, "invoices", {"fields": {"0": {"field": "Invoice.id"}, "1": {"field": "Invoice.fullnumber"}}}
    )
    unknown = find(
        client, "invoices", {"conditions": {"condition": {"field": "oid", "operator": "eq", "value": "x"}}}
    )

    assert set(records(narrowed, "invoices", "invoice")[0]) == {"id", "fullnumber"}
    assert unknown["status"]["code"] == "INPUT ERROR" and "oid" in unknown["status"]["message"]


def test_find_reads_conditions_sent_as_xml_in_a_get_body(client):
    add(client, invoice(id_external="IB-7"))
    body = """<api><invoices><parameters><page>1</page><limit>20</limit>
      <conditions><condition><field>id_external</field><operator>eq</operator><value>IB-7</value></condition></conditions>
    </parameters></invoices></api>"""

    root = ET.fromstring(call(client, "invoices/find", body, fmt=None, method="GET").data)

    assert [e.findtext("id_external") for e in root.findall("invoices/invoice")] == ["IB-7"]
    assert root.findtext("invoices/parameters/total") == "1"


def test_reference_lists(client):
    vat = records(find(client, "vat_codes", {"limit": 50}), "vat_codes", "vat_code")
    countries = records(
        find(client, "declaration_countries", {"limit": 100}), "declaration_countries", "declaration_country"
    )
    accounts = records(find(client, "company_accounts", {}), "company_accounts", "company_account")
    warehouses = records(find(client, "warehouses", {}), "warehouses", "warehouse")

    assert {
        "id": "222",
        "code": "23",
        "rate": "23.00",
        "type": "standard",
        "declaration_country_id": "0",
    } in vat
    assert {"PL", "DE"} <= {country["code"] for country in countries}
    assert accounts[0]["number"] and warehouses[0]["name"] == "Magazyn główny"


# ---------------------------------------------------------------------------
# authentication and companies


@pytest.mark.parametrize("broken", ["accessKey", "secretKey", "appKey", "all"])
def test_every_key_header_is_required(client, broken):
    keys = {} if broken == "all" else {**KEYS, broken: "wrong"}

    response = call(client, "invoices/add", {"invoices": {"0": {"invoice": invoice()}}}, keys=keys)

    assert response.status_code == 401 and response.json["status"]["code"] == "AUTH"
    assert stored(client) == []


def test_the_auth_http_status_is_configurable(client):
    make_account(client, "soft", access="soft-key", auth_http_status=200)

    response = call(client, "series/find", keys={"accessKey": "soft-key", "secretKey": "x", "appKey": APP})

    assert response.status_code == 200 and response.json["status"]["code"] == "AUTH"


def test_too_many_failed_logins_block_the_key_for_five_minutes(app, client):
    emulator = app.extensions["sandbox"].services["wfirma"]
    now = [1000.0]
    emulator.clock = lambda: now[0]
    wrong = {**KEYS, "secretKey": "wrong"}

    codes = [call(client, "series/find", keys=wrong).json["status"]["code"] for _ in range(5)]
    blocked = call(client, "series/find")
    now[0] += 301
    unblocked = call(client, "series/find")

    assert codes == ["AUTH"] * 5
    assert blocked.json["status"]["code"] == "AUTH FAILED LIMIT WAIT 5 MINUTES"
    assert unblocked.json["status"]["code"] == "OK"


def test_oauth_bearer_tokens_need_oauth_version_2_and_the_scope(client):
    make_account(client, "oauth", access="oauth-access", oauth_token="tok-1", oauth_scopes=["invoices-read"])
    bearer = {"Authorization": "Bearer tok-1"}

    without_version = call(client, "invoices/find", keys=bearer)
    read = call(client, "invoices/find", keys=bearer, oauth_version="2")
    write = call(client, "invoices/add", {"invoices": {"invoice": invoice()}}, keys=bearer, oauth_version="2")

    assert without_version.json["status"]["code"] == "AUTH"
    assert read.json["status"]["code"] == "OK"
    assert write.json["status"]["code"] == "DENIED SCOPE REQUESTED"


def test_an_account_with_several_companies_needs_company_id(client):
    make_account(client, "multi", access="multi-key", companies=2)
    keys = {**KEYS, "accessKey": "multi-key"}

    companies = records(api(client, "user_companies/find", keys=keys), "user_companies", "user_company")
    missing = api(client, "invoices/find", keys=keys)
    foreign = api(client, "invoices/find", keys=keys, company_id="1")
    first = add(client, invoice(), keys=keys, company_id=companies[0]["id"])
    second = add(client, invoice(), keys=keys, company_id=companies[1]["id"])
    in_second = find(client, "invoices", {}, keys=keys, company_id=companies[1]["id"])

    assert len(companies) == 2 and companies[0]["id"] != companies[1]["id"]
    assert missing["status"]["code"] == "COMPANY ID REQUIRED"
    assert foreign["status"]["code"] == "ACCESS DENIED"
    assert first["fullnumber"] == second["fullnumber"] == "FV 1/2026"  # each company numbers on its own
    assert [doc["id"] for doc in records(in_second, "invoices", "invoice")] == [second["id"]]


def test_the_demo_account_exists_from_the_start(app):
    keys = {
        "accessKey": "demo-wfirma-access-key",
        "secretKey": "demo-wfirma-secret-key",
        "appKey": "demo-wfirma-app-key",
    }

    tree = api(app.test_client(), "goods/find", keys=keys)

    assert tree["status"]["code"] == "OK" and tree["goods"]["parameters"]["total"] == "5"


def test_invalid_account_options_are_refused(client):
    for options in (
        {"numbering_control": "maybe"},
        {"companies": 0},
        {"colour": "red"},
        {"request_limit": {"count": 0}},
    ):
        response = client.post(
            "/_sandbox/wfirma/accounts", json={"prefix": "bad", "api_token": "k", "options": options}
        )
        assert response.status_code == 400, options


# ---------------------------------------------------------------------------
# limits and faults


def test_the_request_limit_answers_total_requests_limit_exceeded_in_a_200(client):
    make_account(client, "busy", access="busy-key", request_limit={"count": 2, "seconds": 60})
    keys = {**KEYS, "accessKey": "busy-key"}

    answers = [call(client, "series/find", keys=keys) for _ in range(3)]

    assert [a.json["status"]["code"] for a in answers] == ["OK", "OK", "TOTAL REQUESTS LIMIT EXCEEDED"]
    assert answers[2].status_code == 200 and "Retry-After" not in answers[2].headers


@pytest.mark.parametrize("code", ["SNAPSHOT LOCK", "OUT OF SERVICE", "TOTAL EXECUTION TIME LIMIT EXCEEDED"])
def test_a_forced_status_blocks_every_call(client, code):
    make_account(client, "acme", forced_status=code)

    tree = api(client, "invoices/add", {"invoices": {"invoice": invoice()}})

    assert tree["status"]["code"] == code and stored(client) == []


def set_faults(client, **faults):
    response = client.put("/_sandbox/wfirma/faults", json=faults)
    assert response.status_code == 200, response.json


def test_shared_faults_answer_in_wfirma_style(client):
    set_faults(client, account="acme", rate_429=1.0)
    throttled = call(client, "series/find")
    set_faults(client, account="acme", error_5xx=1.0)
    failing = call(client, "series/find")
    set_faults(client, account="acme", auth_failure=True)
    refused_auth = call(client, "series/find")
    make_account(client, "acme", limit_http_status=429)
    set_faults(client, account="acme", rate_429=1.0, retry_after=7)
    as_429 = call(client, "series/find")

    assert (
        throttled.status_code == 200 and throttled.json["status"]["code"] == "TOTAL REQUESTS LIMIT EXCEEDED"
    )
    assert failing.status_code in (500, 502, 503) and failing.mimetype == "text/html"
    assert refused_auth.status_code == 401 and refused_auth.json["status"]["code"] == "AUTH"
    assert as_429.status_code == 429 and as_429.headers["Retry-After"] == "7"
    faults = client.get("/_sandbox/stats").json["services"]["wfirma"]["accounts"]["acme"]["faults"]
    assert faults == {"rate_429": 2, "error_5xx": 1, "auth_failure": 1}


def test_write_limit_and_stats(client):
    client.delete("/_sandbox/stats")
    set_faults(client, account="acme", write_limit={"count": 1, "seconds": 60})

    first = api(client, "invoices/add", {"invoices": {"invoice": invoice()}})
    second = api(client, "invoices/add", {"invoices": {"invoice": invoice()}})
    read = api(client, "invoices/find", method="GET")
    read_by_post = api(client, "invoices/find", method="POST")  # an action that changes nothing

    assert (first["status"]["code"], second["status"]["code"]) == ("OK", "TOTAL REQUESTS LIMIT EXCEEDED")
    assert read["invoices"]["parameters"]["total"] == read_by_post["invoices"]["parameters"]["total"] == "1"
    stats = client.get("/_sandbox/stats").json["services"]["wfirma"]
    assert stats["accounts"]["acme"]["documents_stored"] == 1 and stats["documents_held"] == {"acme": 1}
    assert stats["accounts"]["acme"]["faults"] == {"write_limit": 1}
    assert (stats["accounts"]["acme"]["requests"], stats["accounts"]["acme"]["writes"]) == (4, 2)


# ---------------------------------------------------------------------------
# KSeF


def test_ksef_status_moves_from_processing_to_accepted_on_a_later_read(client):
    doc = add(client, invoice())

    later = records(api(client, f"invoices/get/{doc['id']}", method="GET"), "invoices", "invoice")[0]

    assert (doc["ksef_status"], doc["ksef_reference_number"]) == ("processing", "")
    assert later["ksef_status"] == "accepted" and later["ksef_registration_date"]
    assert later["ksef_reference_number"].startswith(f"{doc['company_detail']['nip']}-20260310-")
    assert api(client, f"invoices/delete/{doc['id']}")["status"]["code"] == "ERROR"


def test_ksef_can_be_slowed_rejected_or_switched_off(client):
    make_account(client, "slow", access="slow-key", ksef_delay_reads=1, ksef_outcome="rejected")
    make_account(client, "off", access="off-key", ksef="off")
    slow = {**KEYS, "accessKey": "slow-key"}

    doc = add(client, invoice(), keys=slow)
    statuses = [
        records(api(client, f"invoices/get/{doc['id']}", method="GET", keys=slow), "invoices", "invoice")[0][
            "ksef_status"
        ]
        for _ in range(2)
    ]
    off = add(client, invoice(), keys={**KEYS, "accessKey": "off-key"})

    assert statuses == ["processing", "rejected"] and off["ksef_status"] == ""


# ---------------------------------------------------------------------------
# PDF and e-mail


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_download_returns_the_pdf_bytes(client):
    doc = add(
        client,
        invoice(
            invoicecontents=lines(
                {"name": "Książka „Zażółć gęślą jaźń”", "count": 1, "price": "46.67", "vat": "5"}
            )
        ),
    )
    params = {
        "invoices": {
            "parameters": {
                "0": {"parameter": {"name": "page", "value": "invoiceCopy"}},
                "1": {"parameter": {"name": "duplicate", "value": "1"}},
            }
        }
    }

    response = call(client, f"invoices/download/{doc['id']}", params)
    bad_page = api(client, f"invoices/download/{doc['id']}", {"invoices": {"parameters": {"page": "cover"}}})

    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "FV 1/2026" in text and "49.00" in text and "KOPIA" in text and "DUPLIKAT" in text
    if find_font():
        assert "Zażółć gęślą jaźń" in text
    assert bad_page["status"]["code"] == "ERROR"


def test_send_records_the_email_and_refuses_an_address_with_extra_text(client):
    doc = add(client, invoice())
    path = f"invoices/send/{doc['id']}"

    to_buyer = api(client, path)
    to_other = api(
        client, path, {"invoices": {"parameters": {"email": "ksiegowa@zolw.example", "subject": "Faktura"}}}
    )
    messy = api(client, path, {"invoices": {"parameters": {"email": "Księgowa <ksiegowa@zolw.example>"}}})

    assert (to_buyer["status"]["code"], to_other["status"]["code"]) == ("OK", "OK")
    assert messy["status"]["code"] == "INPUT ERROR"
    emails = stored(client)[0]["_sandbox"]["emails"]
    assert [(e["to"], e["subject"]) for e in emails] == [
        ("faktury@zolw.example", None),
        ("ksiegowa@zolw.example", "Faktura"),
    ]


def test_auto_send_emails_the_contractor(client):
    add(client, invoice(auto_send="1"))

    [email] = stored(client)[0]["_sandbox"]["emails"]
    assert email["to"] == "faktury@zolw.example" and email["auto_send"] is True


# ---------------------------------------------------------------------------
# edit, duplicates, inspection, restart


def test_edit_recomputes_totals_and_stock_but_keeps_the_number(client):
    good = good_by_code(client, "SKU-004")
    doc = add(client, invoice(invoicecontents=lines({"good": {"id": good["id"]}, "count": 1})))

    edited = api(
        client,
        f"invoices/edit/{doc['id']}",
        {
            "invoices": {
                "invoice": {
                    "description": "Poprawka",
                    "invoicecontents": lines({"good": {"id": good["id"]}, "count": 5}),
                }
            }
        },
    )

    [after] = records(edited, "invoices", "invoice")
    assert after["fullnumber"] == doc["fullnumber"] and after["description"] == "Poprawka"
    assert after["netto"] == "142.30"
    assert Decimal(good_by_code(client, "SKU-004")["count"]) == Decimal(good["count"]) - 5


def test_there_is_no_duplicate_guard_on_id_external(client):
    add(client, invoice(id_external="IB-9"))
    add(client, invoice(id_external="IB-9"))

    assert len(stored(client, id_external="IB-9")) == 2
    assert len(stored(client, oid="IB-9")) == 2


def test_inspection_filters_by_number_and_type(client):
    add(client, invoice())
    add(
        client,
        {"type": "receipt_normal", "date": "2026-03-10", "invoicecontents": invoice()["invoicecontents"]},
    )

    assert [doc["type"] for doc in stored(client, fullnumber="FV 1/2026")] == ["normal"]
    assert [doc["fullnumber"] for doc in stored(client, kind="receipt_normal")] == ["DS 1/2026"]


def test_state_survives_a_restart_on_the_same_file(tmp_path):
    db = tmp_path / "state.sqlite3"
    first = create_sandbox_app(db).test_client()
    make_account(first)
    before = add(first, invoice())

    second = create_sandbox_app(db).test_client()
    again = records(api(second, f"invoices/get/{before['id']}", method="GET"), "invoices", "invoice")[0]
    next_one = add(second, invoice())

    assert again["fullnumber"] == "FV 1/2026" and next_one["fullnumber"] == "FV 2/2026"


def test_reset_keeps_only_the_demo_account(client):
    add(client, invoice())

    client.post("/_sandbox/reset")

    assert [a["prefix"] for a in client.get("/_sandbox/wfirma/accounts").json["accounts"]] == ["demo"]
    assert call(client, "series/find").status_code == 401


# ---------------------------------------------------------------------------
# over real HTTP


def test_real_http_find_with_a_get_body_reset_and_timeout_after_store(tmp_path):
    with running_sandbox(tmp_path / "live.sqlite3") as base_url:
        requests.post(
            f"{base_url}/_sandbox/wfirma/accounts",
            json={"prefix": "acme", "api_token": ACCESS, "options": {"secret_key": SECRET, "app_key": APP}},
            timeout=5,
        )
        params = {"inputFormat": "json", "outputFormat": "json"}
        url = f"{base_url}/wfirma/invoices"

        def post_invoice(ref, timeout=5):
            body = json.dumps({"invoices": {"0": {"invoice": invoice(id_external=ref)}}})
            return requests.post(f"{url}/add", params=params, headers=KEYS, data=body, timeout=timeout)

        assert post_invoice("IB-OK").json()["status"]["code"] == "OK"
        requests.put(f"{base_url}/_sandbox/wfirma/faults", json={"account": "acme", "reset": 1.0}, timeout=5)
        with pytest.raises(requests.ConnectionError):
            post_invoice("IB-R")
        requests.put(
            f"{base_url}/_sandbox/wfirma/faults",
            json={"account": "acme", "timeout_after_store": 1.0, "hold_seconds": 1},
            timeout=5,
        )
        with pytest.raises(requests.ReadTimeout):
            post_invoice("IB-T", timeout=0.3)
        # a find sent by POST (as an SDK does) is not held: it stored nothing
        condition = {"condition": {"field": "id_external", "operator": "eq", "value": "IB-T"}}
        body = json.dumps({"invoices": {"parameters": {"conditions": condition}}})
        by_post = requests.post(f"{url}/find", params=params, headers=KEYS, data=body, timeout=0.8).json()
        requests.delete(f"{base_url}/_sandbox/wfirma/faults", timeout=5)
        found = requests.get(f"{url}/find", params=params, headers=KEYS, data=body, timeout=5).json()

        assert [doc["id_external"] for doc in records(by_post, "invoices", "invoice")] == ["IB-T"]
        assert [doc["id_external"] for doc in records(found, "invoices", "invoice")] == ["IB-T"]
        inspect = f"{base_url}/_sandbox/wfirma/documents"
        assert requests.get(inspect, params={"id_external": "IB-R"}, timeout=5).json()["count"] == 0
        pdf = requests.post(
            f"{url}/download/{records(found, 'invoices', 'invoice')[0]['id']}",
            params=params,
            headers=KEYS,
            timeout=5,
        )
        assert pdf.headers["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
        stats = requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()["services"]["wfirma"][
            "accounts"
        ]["acme"]
        assert stats["faults"] == {"reset": 1, "timeout_after_store": 1}
