"""The Firmao emulator behaves like the contract says the real "svc/v1" API does.

Most tests use the Flask test client on an account without the one-call-a-second limit;
the rate-limit tests step a fake clock, and the last tests talk to a real server process
through ``running_sandbox``.
"""

from __future__ import annotations

import base64
import io
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from pypdf import PdfReader

from providers.sandbox import create_sandbox_app
from providers.sandbox.pdf import find_font
from tests.sandbox_server import running_sandbox

LOGIN, PASSWORD = "acme.api@firmao.pl", "0123456789abcdef"
BASE = "/firmao/acme/svc/v1"


def basic(login: str = LOGIN, password: str = PASSWORD) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


@pytest.fixture
def app(tmp_path):
    return create_sandbox_app(tmp_path / "sandbox.sqlite3")


def add_account(client, prefix: str = "acme", password: str = PASSWORD, **options):
    response = client.post(
        "/_sandbox/firmao/accounts", json={"prefix": prefix, "api_token": password, "options": options}
    )
    assert response.status_code == 201, response.json
    return response


@pytest.fixture
def client(app):
    test_client = app.test_client()
    add_account(test_client, rate_limit=None)
    return test_client


def call(client, method: str, path: str, prefix: str = "acme", **kwargs):
    headers = {**basic(kwargs.pop("login", f"{prefix}.api@firmao.pl")), **kwargs.pop("headers", {})}
    return client.open(f"/firmao/{prefix}/svc/v1{path}", method=method, headers=headers, **kwargs)


def get(client, path: str, **params):
    return call(client, "GET", path, query_string=params)


def invoice(**overrides) -> dict:
    body = {
        "type": "INVOICE",
        "mode": "SALE",
        "invoiceDate": "2026-03-10",
        "transactionDate": "2026-03-09",
        "paymentDate": "2026-03-17",
        "paymentType": "TRANSFER",
        "currency": "PLN",
        "createCustomerIfNeeded": True,
        "customerName": "Hurtownia Żółw Sp. z o.o.",
        "nipNumber": "5260250274",
        "customerAddress.street": "ul. Długa 5",
        "customerAddress.postCode": "31-147",
        "customerAddress.city": "Kraków",
        "customerAddress.country": "Polska",
        "emails": ["faktury@zolw.example"],
        "transactionEntries": [
            {"product": "Usługa pakowania", "quantity": 2, "vatPercent": 23, "unitNettoPrice": "24.38"}
        ],
    }
    body.update(overrides)
    return body


def post(client, body: dict, prefix: str = "acme"):
    return call(client, "POST", "/transactions", prefix=prefix, json=body)


def created_id(response) -> int:
    assert response.status_code == 201, response.json
    [entry] = [
        e
        for e in response.json["changelog"]
        if e["modification"] == "CREATE" and e["objectClass"] == "transaction"
    ]
    return entry["objectId"]


def create(client, body: dict) -> dict:
    """POST a transaction and GET it back the documented way (list filtered by id)."""
    transaction_id = created_id(post(client, body))
    found = get(client, "/transactions", **{"id(eq)": transaction_id}).json
    assert found["totalSize"] == 1
    return found["data"][0]


def lines_of(client, transaction_id: int) -> list[dict]:
    return get(client, "/transactionentries", **{"transaction(eq)": transaction_id}).json["data"]


def product(client, code: str) -> dict:
    [found] = get(client, "/products", **{"productCode(eq)": code}).json["data"]
    return found


def today() -> datetime:
    return datetime.now(ZoneInfo("Europe/Warsaw"))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# ---------------------------------------------------------------------------
# creating transactions


def test_create_answers_201_with_a_changelog_and_the_get_shows_the_computed_invoice(client):
    response = post(client, invoice())

    changelog = response.json["changelog"]
    assert response.status_code == 201 and "id" not in response.json
    # The new buyer card is created first: a client must pick the transaction by class.
    assert [(e["modification"], e["objectClass"]) for e in changelog[:2]] == [
        ("CREATE", "customer"),
        ("CREATE", "transaction"),
    ]
    assert changelog[1]["objectLabel"] == "1/3/2026 - Hurtownia Żółw Sp. z o.o."
    doc = get(client, "/transactions", **{"id(eq)": changelog[1]["objectId"]}).json["data"][0]
    assert doc["transactionNumber"] == "1/3/2026" and doc["type"] == "INVOICE" and doc["mode"] == "SALE"
    assert (doc["invoiceDate"], doc["transactionDate"], doc["paymentDate"]) == (
        "2026-03-10",
        "2026-03-09",
        "2026-03-17",
    )
    assert (doc["transactionNettoPrice"], doc["transactionVatPrice"], doc["transactionBruttoPrice"]) == (
        48.76,
        11.21,
        59.97,
    )
    assert (doc["paymentStatus"], doc["paid"], doc["restOfPaidValue"]) == ("NOT_PAID", False, 59.97)
    assert doc["customer"]["label"] == "Hurtownia Żółw Sp. z o.o." and doc["customerName"].startswith(
        "Hurtownia"
    )
    assert doc["customerAddress"]["city"] == "Kraków" and doc["nipNumber"] == "5260250274"
    assert doc["warehouse"] == {"id": 1, "name": "Magazyn 1"} and doc["documentGenerated"] is False
    assert doc["creationDate"].endswith("Z") and doc["permissions"]["edit"] is True
    [line] = lines_of(client, doc["id"])
    assert line["product"] is None and line["name"] == "Usługa pakowania" and line["type"] == "ACTUAL"
    assert (line["unitNettoPrice"], line["unitBruttoPrice"], line["nettoPrice"], line["vatPrice"]) == (
        24.38,
        29.99,
        48.76,
        11.21,
    )


def test_the_documented_example_body_is_accepted(client):
    [card] = get(client, "/customers", **{"nipNumber(eq)": "106-00-00-062"}).json["data"]
    catalogue = product(client, "ST0003")
    body = {
        "type": "INVOICE",
        "mode": "SALE",
        "transactionNumber": "1/8/2012",
        "invoiceDate": "2012-08-08",
        "transactionDate": "2012-08-08",
        "paymentDate": "2012-08-15",
        "paymentType": "CASH",
        "paid": False,
        "paidValue": 0,
        "restOfPaidValue": 1000,
        "currency": "PLN",
        "customer": card["id"],
        "nipNumber": "1060000062",
        "customerAddress.street": "Piotrkowska 147/8",
        "customerAddress.postCode": "91-477",
        "customerAddress.city": "Łódź",
        "customerAddress.country": "Polska",
        "issuingPerson": "Jacob Smith",
        "invoiceAnnotations": None,
        "transactionNettoPrice": "1000.00",
        "transactionBruttoPrice": "1000.00",
        "transactionVatPrice": "0.00",
        "transactionEntries": [
            {
                "product": catalogue["id"],
                "productCode": "ST0003",
                "quantity": 1,
                "unit": None,
                "vatPercent": 0,
                "unitNettoPrice": "1000.00",
                "discount": None,
                "classificationNumber": "",
            }
        ],
    }

    response = post(client, body)

    label = next(e["objectLabel"] for e in response.json["changelog"] if e["objectClass"] == "transaction")
    assert label == "1/8/2012 - Internet Center"
    doc = get(client, "/transactions", **{"transactionNumber(eq)": "1/8/2012"}).json["data"][0]
    assert (doc["transactionBruttoPrice"], doc["issuingPerson"], doc["customer"]["id"]) == (
        1000.0,
        "Jacob Smith",
        card["id"],
    )
    [line] = lines_of(client, doc["id"])
    assert (
        line["product"] == {"id": catalogue["id"], "name": "Szkolenie stacjonarne"} and line["unit"] == "usł."
    )


def test_vat_is_computed_once_per_rate_and_sent_totals_are_only_recorded(client):
    # Three lines of 0.81 net at 23 %: each line's VAT is 0.19 (0.57 together), but
    # the document's VAT comes once from the rate's net sum: 2.43 x 23 % = 0.56.
    lines = [
        {"product": f"Naklejka {n}", "quantity": 1, "vatPercent": "23", "unitNettoPrice": 0.81}
        for n in range(3)
    ]
    doc = create(
        client, invoice(transactionEntries=lines, transactionVatPrice="0.57", transactionNettoPrice=9)
    )

    assert [line["vatPrice"] for line in lines_of(client, doc["id"])] == [0.19] * 3
    assert (doc["transactionNettoPrice"], doc["transactionVatPrice"], doc["transactionBruttoPrice"]) == (
        2.43,
        0.56,
        2.99,
    )
    inspected = client.get(
        "/_sandbox/firmao/documents", query_string={"number": doc["transactionNumber"]}
    ).json
    sandbox = inspected["documents"][0]["_sandbox"]
    assert sandbox["sentTotals"]["transactionVatPrice"] == "0.57"
    assert sandbox["rateTotals"] == [{"rate": "23", "net": "2.43", "vat": "0.56", "gross": "2.99"}]


def test_per_line_totals_can_be_chosen_per_account(app):
    client = app.test_client()
    add_account(client, "lines", rate_limit=None, totals_method="per_line")
    lines = [
        {"product": f"Naklejka {n}", "quantity": 1, "vatPercent": 23, "unitNettoPrice": 0.81}
        for n in range(3)
    ]

    transaction_id = created_id(post(client, invoice(transactionEntries=lines), prefix="lines"))

    doc = call(client, "GET", "/transactions", prefix="lines", query_string={"id(eq)": transaction_id}).json
    assert doc["data"][0]["transactionVatPrice"] == 0.57


def test_gross_mode_discounts_mixed_and_exempt_rates(client):
    lines = [
        {"product": "Kartka 1", "quantity": 1, "vatPercent": 23, "unitBruttoPrice": "1.00"},
        {"product": "Kartka 2", "quantity": 1, "vatPercent": 23, "unitBruttoPrice": "1.00"},
        {"product": "Kartka 3", "quantity": 1, "vatPercent": 23, "unitBruttoPrice": "1.00"},
        {"product": "Herbata", "quantity": "3", "vatPercent": 5, "unitBruttoPrice": 20, "discount": 10},
        {"product": "Kurs", "quantity": 1, "vatPercent": "ZW", "unitBruttoPrice": "100"},
        {"product": "Usługa poza UE", "quantity": 1, "vatPercent": "np", "unitBruttoPrice": "50"},
    ]

    doc = create(client, invoice(calculateFromGross=True, transactionEntries=lines))

    entries = lines_of(client, doc["id"])
    assert [line["nettoPrice"] for line in entries[:3]] == [0.81] * 3
    assert (entries[3]["unitBruttoPrice"], entries[3]["bruttoPrice"]) == (18.0, 54.0)
    assert [line["vatPercent"] for line in entries] == [23, 23, 23, 5, "zw", "np"]
    rates = client.get("/_sandbox/firmao/documents").json["documents"][0]["_sandbox"]["rateTotals"]
    assert rates == [
        {"rate": "23", "net": "2.44", "vat": "0.56", "gross": "3.00"},
        {"rate": "5", "net": "51.43", "vat": "2.57", "gross": "54.00"},
        {"rate": "zw", "net": "100.00", "vat": "0.00", "gross": "100.00"},
        {"rate": "np", "net": "50.00", "vat": "0.00", "gross": "50.00"},
    ]
    assert doc["transactionBruttoPrice"] == 207.0


def test_a_receipt_needs_no_buyer_and_is_numbered_in_the_receipt_series(client):
    body = invoice(type="RECEIPT", paymentType="CASH", paid=True)
    for key in ("createCustomerIfNeeded", "customerName", "nipNumber", "emails"):
        body.pop(key)

    doc = create(client, body)

    assert doc["transactionNumber"] == "PAR/1/03/2026" and doc["customer"] is None
    assert (doc["paymentStatus"], doc["paidValue"], doc["restOfPaidValue"]) == ("PAID", 59.97, 0.0)
    assert doc["lastSelectedInvoiceReport"] == "Paragon" and doc["actualPaymentType"] == "CASH"


def test_an_invoice_needs_a_buyer(client):
    body = invoice()
    for key in ("createCustomerIfNeeded", "customerName"):
        body.pop(key)

    response = post(client, body)

    assert response.status_code == 400
    assert response.json == {"errorCode": "fieldRequired", "field": "customer"}


# ---------------------------------------------------------------------------
# corrections


def test_a_correction_pairs_before_and_after_entries_and_gives_goods_back(client):
    mug = product(client, "SKU-001")
    original = create(
        client,
        invoice(transactionEntries=[{"product": mug["id"], "productCode": "SKU-001", "quantity": 3}]),
    )
    [line] = lines_of(client, original["id"])
    assert product(client, "SKU-001")["currentStoreState"] == mug["currentStoreState"] - 3

    correction = create(
        client,
        invoice(
            type="CORRECTION",
            invoiceDate="2026-03-20",
            transactionDate="2026-03-20",
            connectedDocNumber=original["transactionNumber"],
            connectedDocDate=original["invoiceDate"],
            correctionCause="Zwrot 2 sztuk",
            customer=original["customer"]["id"],
            createCustomerIfNeeded=False,
            transactionEntries=[
                {
                    "product": mug["id"],
                    "quantity": 3,
                    "vatPercent": 23,
                    "unitNettoPrice": line["unitNettoPrice"],
                    "baseEntryId": line["id"],
                    "recordId": 1,
                },
                {
                    "product": mug["id"],
                    "quantity": 1,
                    "vatPercent": 23,
                    "unitNettoPrice": line["unitNettoPrice"],
                    "recordId": 2,
                    "invalidRecordId": 1,
                },
            ],
        ),
    )

    assert correction["transactionNumber"] == "2026/03/001/KOR"
    assert correction["lastSelectedInvoiceReport"] == "Faktura_korygujaca2"
    assert (correction["transactionNettoPrice"], correction["transactionVatPrice"]) == (-48.76, -11.21)
    assert correction["transactionBruttoPrice"] == -59.97
    assert [e["type"] for e in lines_of(client, correction["id"])] == ["INVALID", "ACTUAL"]
    assert product(client, "SKU-001")["currentStoreState"] == mug["currentStoreState"] - 1
    pdf = get(client, "/reports/invoices/transaction/Faktura_korygujaca2/korekta.pdf", id=correction["id"])
    text = pdf_text(pdf.data)
    assert "2026/03/001/KOR" in text and original["transactionNumber"] in text


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            [
                {
                    "product": "X",
                    "quantity": 1,
                    "vatPercent": 23,
                    "unitNettoPrice": 1,
                    "baseEntryId": 1,
                    "recordId": 1,
                }
            ],
            {"errorCode": "entityNotFoundForId", "field": "transactionEntries[0].baseEntryId"},
        ),
        (
            [{"product": "X", "quantity": 1, "vatPercent": 23, "unitNettoPrice": 1, "invalidRecordId": 7}],
            {"errorCode": "invalidValue", "field": "transactionEntries[0].invalidRecordId"},
        ),
        (
            [
                {"product": "X", "quantity": 1, "vatPercent": 23, "unitNettoPrice": 1, "recordId": 1},
                {"product": "X", "quantity": 1, "vatPercent": 23, "unitNettoPrice": 1, "recordId": 1},
            ],
            {"errorCode": "invalidValue", "field": "transactionEntries[1].recordId"},
        ),
    ],
)
def test_correction_entries_must_pair_with_the_original(client, entries, expected):
    created_id(post(client, invoice(transactionNumber="FV-ORIG")))

    response = post(
        client, invoice(type="CORRECTION", connectedDocNumber="FV-ORIG", transactionEntries=entries)
    )

    assert response.status_code == 400
    assert {key: response.json[key] for key in expected} == expected


def test_a_correction_names_the_corrected_document(client):
    response = post(client, invoice(type="CORRECTION"))

    assert (response.status_code, response.json) == (
        400,
        {"errorCode": "fieldRequired", "field": "connectedDocNumber"},
    )


# ---------------------------------------------------------------------------
# numbering, duplicates, lookup


def test_series_are_listed_and_next_numbers_follow_them(client):
    series = get(client, "/invoicenumbers", dataFormat="MEDIUM").json
    now = today()
    first = get(client, "/invoicenumbers/next", objectClass="transaction", type="invoice", mode="SALE")
    shop = get(client, "/invoicenumbers/next", objectClass="transaction", type="invoice", mode="SALE", id=2)

    kinds = {(s["objectClass"], s["type"], s["mode"]) for s in series["data"]}
    assert {("transaction", "invoice", "SALE"), ("transaction", "receipt", "SALE")} <= kinds
    assert ("transaction", "correction", "SALE") in kinds and series["totalSize"] == len(series["data"])
    assert first.json == {"number": f"1/{now.month}/{now.year}"}
    assert shop.json == {"number": f"FV/1/{now.month:02d}/{now.year}/SKLEP"}

    created_id(
        post(client, invoice(invoiceDate=now.date().isoformat(), transactionNumber=first.json["number"]))
    )
    again = get(client, "/invoicenumbers/next", objectClass="transaction", type="invoice", mode="SALE")
    assert again.json == {"number": f"2/{now.month}/{now.year}"}


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"type": "invoice"}, 400, {"errorCode": "fieldRequired", "field": "objectClass"}),
        (
            {"objectClass": "transaction", "type": "faktura"},
            400,
            {"errorCode": "invalidValue", "field": "type"},
        ),
        (
            {"objectClass": "transaction", "type": "receipt", "id": 1},
            400,
            {"errorCode": "invalidValue", "field": "id"},
        ),
        (
            {"objectClass": "transaction", "type": "invoice", "id": 999},
            400,
            {"errorCode": "entityNotFoundForId"},
        ),
    ],
)
def test_next_number_checks_its_parameters(client, params, status, error):
    response = get(client, "/invoicenumbers/next", **params)

    assert response.status_code == status
    assert {key: response.json[key] for key in error} == error


def test_next_number_body_style_is_an_account_option(app):
    client = app.test_client()
    add_account(client, "plain", rate_limit=None, next_number_format="text")
    add_account(client, "quoted", rate_limit=None, next_number_format="json_string")
    params = {"objectClass": "transaction", "type": "receipt", "mode": "SALE"}

    plain = call(client, "GET", "/invoicenumbers/next", prefix="plain", query_string=params)
    quoted = call(client, "GET", "/invoicenumbers/next", prefix="quoted", query_string=params)

    now = today()
    assert (
        plain.mimetype == "text/plain" and plain.get_data(as_text=True) == f"PAR/1/{now.month:02d}/{now.year}"
    )
    assert quoted.json == f"PAR/1/{now.month:02d}/{now.year}"


def test_a_taken_sales_number_is_refused_with_a_suggestion_and_found_by_lookup(client):
    first = created_id(post(client, invoice(transactionNumber="1/3/2026")))

    again = post(client, invoice(transactionNumber="1/3/2026"))
    purchase = post(client, invoice(transactionNumber="1/3/2026", mode="PURCHASE"))
    found = get(client, "/transactions", **{"transactionNumber(eq)": "1/3/2026", "mode(eq)": "SALE"}).json

    assert again.status_code == 400
    assert again.json == {
        "errorCode": "transactionNumberAlreadyExists",
        "additionalInfo": {"suggestedNumber": "2/3/2026"},
    }
    assert purchase.status_code == 201  # suppliers' numbers may repeat
    assert [doc["id"] for doc in found["data"]] == [first]
    assert client.get("/_sandbox/firmao/documents", query_string={"number": "1/3/2026"}).json["count"] == 2


def test_hub_numbers_and_references_can_be_looked_up(client):
    doc = create(
        client,
        invoice(
            transactionNumber="FV/2026/03/0007",
            description="Zamówienie IB-12-3456",
            customFields={"custom1": "IB-12-3456"},
        ),
    )

    by_field = get(client, "/transactions", **{"customFields.custom1(eq)": "IB-12-3456"}).json
    by_text = get(client, "/transactions", **{"description(contains)": "ib-12-3456"}).json
    inspected = client.get(
        "/_sandbox/firmao/documents", query_string={"account": "acme", "oid": "IB-12-3456"}
    )
    missing = get(client, "/transactions", **{"customFields.custom1(eq)": "IB-0"}).json

    assert doc["customFields"] == {"custom1": "IB-12-3456"}
    assert [d["id"] for d in by_field["data"]] == [doc["id"]] == [d["id"] for d in by_text["data"]]
    assert inspected.json["count"] == 1 and inspected.json["documents"][0]["transactionEntries"]
    assert missing == {"data": [], "dir": "ASC", "sort": "id", "totalSize": 0}


def test_number_required_option_refuses_a_transaction_without_a_number(app):
    client = app.test_client()
    add_account(client, "strict", rate_limit=None, number_required=True)

    response = post(client, invoice(), prefix="strict")

    assert (response.status_code, response.json) == (
        400,
        {"errorCode": "fieldRequired", "field": "transactionNumber"},
    )


# ---------------------------------------------------------------------------
# payment methods and validation


def test_payment_types_are_an_enumeration(client):
    accepted = [post(client, invoice(paymentType=kind)).status_code for kind in ("CASH", "TRANSFER", "CARD")]
    lower = post(client, invoice(paymentType="cash"))
    unknown = post(client, invoice(paymentType="PAYPAL_X"))

    assert accepted == [201, 201, 201]
    assert (lower.status_code, lower.json["errorCode"], lower.json["field"]) == (
        400,
        "invalidValue",
        "paymentType",
    )
    assert unknown.json == {"errorCode": "invalidValue", "field": "paymentType", "rejectedValue": "PAYPAL_X"}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"nip": "5260250274"}, {"errorCode": "unknownParameter", "field": "nip"}),
        ({"permissions": {"edit": True}}, {"errorCode": "unknownParameter", "field": "permissions"}),
        ({"type": "FAKTURA"}, {"errorCode": "invalidValue", "field": "type"}),
        ({"type": None}, {"errorCode": "fieldRequired", "field": "type"}),
        ({"invoiceDate": "10.03.2026"}, {"errorCode": "invalidValue", "field": "invoiceDate"}),
        ({"currency": "zł"}, {"errorCode": "invalidValue", "field": "currency"}),
        ({"customer": 999999}, {"errorCode": "entityNotFoundForId", "field": "customer"}),
        ({"bankAccount": {"id": 9}}, {"errorCode": "entityNotFoundForId", "field": "bankAccount"}),
        ({"transactionEntries": []}, {"errorCode": "fieldRequired", "field": "transactionEntries"}),
        (
            {"transactionEntries": [{"product": 999999, "quantity": 1}]},
            {
                "errorCode": "entityNotFoundForId",
                "field": "transactionEntries[0].product",
                "rejectedValue": "999999",
                "additionalInfo": {"id": "999999", "cls": "product"},
            },
        ),
        (
            {"transactionEntries": [{"product": "X", "quantity": 1, "vatPercent": 19, "unitNettoPrice": 1}]},
            {"errorCode": "invalidValue", "field": "transactionEntries[0].vatPercent"},
        ),
        (
            {
                "transactionEntries": [
                    {"product": "X", "quantity": "1,5", "vatPercent": 23, "unitNettoPrice": 1}
                ]
            },
            {"errorCode": "invalidValue", "field": "transactionEntries[0].quantity"},
        ),
        (
            {"transactionEntries": [{"product": "X", "vatPercent": 23, "unitNettoPrice": 1}]},
            {"errorCode": "fieldRequired", "field": "transactionEntries[0].quantity"},
        ),
        (
            {"transactionEntries": [{"product": "X", "quantity": 1, "vatPercent": 23}]},
            {"errorCode": "fieldRequired", "field": "transactionEntries[0].unitNettoPrice"},
        ),
        (
            {"transactionEntries": [{"name": "X", "quantity": 1, "vatPercent": 23, "unitNettoPrice": 1}]},
            {"errorCode": "unknownParameter", "field": "transactionEntries[0].name"},
        ),
    ],
)
def test_validation_errors_are_flat_objects_naming_the_field(client, overrides, error):
    response = post(client, invoice(**overrides))

    assert response.status_code == 400
    assert {key: response.json[key] for key in error} == error
    assert client.get("/_sandbox/firmao/documents").json["count"] == 0


def test_nested_objects_are_read_as_dotted_keys_on_create_and_bad_json_is_refused(client):
    body = invoice(customFields={"custom3": "x"})
    body["customerAddress"] = {"street": "ul. Krótka 1", "city": "Gdańsk"}
    for part in ("street", "postCode", "city", "country"):
        body.pop(f"customerAddress.{part}")

    doc = create(client, body)
    garbage = call(client, "POST", "/transactions", data="{not json", content_type="application/json")

    assert doc["customerAddress"]["city"] == "Gdańsk" and doc["customFields"] == {"custom3": "x"}
    assert (garbage.status_code, garbage.json) == (400, {"errorCode": "invalidJson"})


# ---------------------------------------------------------------------------
# modifying and soft delete


def test_put_changes_flat_keys_and_answers_a_changelog(client):
    doc = create(client, invoice())

    paid = call(client, "PUT", f"/transactions/{doc['id']}", json={"paid": True})
    nested = call(client, "PUT", f"/transactions/{doc['id']}", json={"customerAddress": {"city": "Gdynia"}})
    unknown = call(client, "PUT", f"/transactions/{doc['id']}", json={"email": "a@b.pl"})
    fixed = call(client, "PUT", f"/transactions/{doc['id']}", json={"type": "RECEIPT"})
    dotted = call(client, "PUT", f"/transactions/{doc['id']}", json={"customerAddress.city": "Gdynia"})

    [change] = paid.json["changelog"]
    assert paid.status_code == 200 and change["modification"] == "CHANGE"
    assert (change["property"], change["oldValueDisplay"], change["newValueDisplay"]) == (
        "paid",
        "false",
        "true",
    )
    assert nested.json == {"errorCode": "unknownParameter", "field": "customerAddress"}
    assert unknown.json == {"errorCode": "unknownParameter", "field": "email"}
    assert fixed.status_code == 400 and dotted.status_code == 200
    after = get(client, f"/transactions/{doc['id']}").json
    assert (after["paymentStatus"], after["paidValue"], after["restOfPaidValue"]) == ("PAID", 59.97, 0.0)
    assert after["customerAddress"]["city"] == "Gdynia"


def test_soft_delete_hides_the_transaction_and_returns_its_goods(client):
    mug = product(client, "SKU-001")
    doc = create(client, invoice(transactionEntries=[{"product": mug["id"], "quantity": 4}]))

    call(client, "PUT", f"/transactions/{doc['id']}", json={"deleted": True})

    assert get(client, "/transactions").json["totalSize"] == 0
    assert get(client, "/transactions", **{"deleted(eq)": "true"}).json["data"][0]["id"] == doc["id"]
    assert product(client, "SKU-001")["currentStoreState"] == mug["currentStoreState"]
    assert post(client, invoice(transactionNumber=doc["transactionNumber"])).status_code == 400
    assert get(client, "/transactions/999999").status_code == 404


# ---------------------------------------------------------------------------
# products, SKUs and stock


def test_only_lines_linked_by_product_id_move_stock(client):
    mug, tea = product(client, "SKU-001"), product(client, "SKU-002")

    response = post(
        client,
        invoice(
            transactionEntries=[
                {"product": mug["id"], "productCode": "SKU-001", "quantity": 2},
                {
                    "product": "Herbata (opis)",
                    "productCode": "SKU-002",
                    "quantity": 5,
                    "vatPercent": 5,
                    "unitNettoPrice": "17.62",
                },
            ]
        ),
    )

    stock_changes = [e for e in response.json["changelog"] if e["property"] == "currentStoreState"]
    assert [(e["objectId"], e["oldValueDisplay"], e["newValueDisplay"]) for e in stock_changes] == [
        (mug["id"], "100", "98")
    ]
    assert (stock_changes[0]["subClass"], stock_changes[0]["subId"], stock_changes[0]["subLabel"]) == (
        "warehouse",
        1,
        "Magazyn 1",
    )
    assert product(client, "SKU-001")["currentStoreState"] == 98.0
    assert product(client, "SKU-002")["currentStoreState"] == tea["currentStoreState"]
    [linked, free] = lines_of(client, created_id(response))
    # a linked line takes the catalogue's name, rate and sale price when they are not sent
    assert (linked["name"], linked["vatPercent"], linked["unitNettoPrice"]) == (
        "Kubek ceramiczny 330 ml",
        23,
        24.38,
    )
    assert free["product"] is None and free["productCode"] == "SKU-002"


def test_a_product_code_alone_links_nothing_unless_the_account_says_so(app):
    client = app.test_client()
    add_account(client, "acme", rate_limit=None)
    add_account(client, "bycode", rate_limit=None, link_by_product_code=True)
    line = {"productCode": "SKU-003", "quantity": 1}

    refused = post(client, invoice(transactionEntries=[line]))
    linked = post(client, invoice(transactionEntries=[line]), prefix="bycode")

    assert refused.json == {"errorCode": "fieldRequired", "field": "transactionEntries[0].product"}
    assert linked.status_code == 201
    stock = call(client, "GET", "/products", prefix="bycode", query_string={"productCode(eq)": "SKU-003"})
    assert stock.json["data"][0]["currentStoreState"] == 39.0


def test_no_update_proformas_and_a_switched_off_account_leave_stock_alone(app):
    client = app.test_client()
    add_account(client, "acme", rate_limit=None)
    add_account(client, "nostock", rate_limit=None, invoice_moves_stock=False)
    mug = product(client, "SKU-001")
    line = [{"product": mug["id"], "quantity": 1}]

    kept = create(client, invoice(transactionEntries=line, storageStateUpdate="NO_UPDATE"))
    proforma = create(client, invoice(type="PROFORMA", transactionEntries=line))
    other_mug = call(
        client, "GET", "/products", prefix="nostock", query_string={"productCode(eq)": "SKU-001"}
    )
    off = post(
        client,
        invoice(transactionEntries=[{"product": other_mug.json["data"][0]["id"], "quantity": 1}]),
        prefix="nostock",
    )

    assert (kept["storageStateUpdate"], proforma["storageStateUpdate"]) == ("NO_UPDATE", "NO_UPDATE")
    assert proforma["transactionNumber"] == "PF/1/2026"
    assert product(client, "SKU-001")["currentStoreState"] == mug["currentStoreState"]
    assert off.status_code == 201
    assert not [e for e in off.json["changelog"] if e["objectClass"] == "product"]


def test_products_are_listed_filtered_paged_and_edited(client):
    everything = get(client, "/products").json
    page = get(client, "/products", start=1, limit=2, sort="productCode", dir="DESC").json
    chosen = get(client, "/products", **{"productCode(in)": "SKU-001;SKU-004"}).json
    legacy = get(client, "/products", filters='(productCode="SKU-002")').json
    cheap = get(client, "/products", **{"saleGrossPrice(nge)": "30"}).json
    bad_op = get(client, "/products", **{"name(like)": "x"})
    mug = product(client, "SKU-001")
    direct = call(client, "PUT", f"/products/{mug['id']}", json={"currentStoreState": 50})

    assert everything["totalSize"] == 5 and everything["sort"] == "name"
    assert [p["productCode"] for p in page["data"]] == ["SKU-004", "SKU-003"] and page["totalSize"] == 5
    assert sorted(p["productCode"] for p in chosen["data"]) == ["SKU-001", "SKU-004"]
    assert [p["productCode"] for p in legacy["data"]] == ["SKU-002"]
    assert sorted(p["productCode"] for p in cheap["data"]) == ["SKU-001", "SKU-002"]
    assert bad_op.status_code == 400 and bad_op.json["errorCode"] == "invalidValue"
    [change] = direct.json["changelog"]
    assert (change["newValueDisplay"], change["subClass"], change["subLabel"]) == (
        "50",
        "warehouse",
        "Magazyn 1",
    )
    assert product(client, "SKU-001")["currentStoreState"] == 50.0


def test_direct_stock_edit_and_paging_style_are_account_options(app):
    client = app.test_client()
    add_account(client, "locked", rate_limit=None, direct_stock_edit=False, total_size="unknown_when_more")

    listed = call(client, "GET", "/products", prefix="locked", query_string={"limit": 2}).json
    last = call(client, "GET", "/products", prefix="locked", query_string={"start": 4, "limit": 2}).json
    refused = call(
        client, "PUT", f"/products/{listed['data'][0]['id']}", prefix="locked", json={"currentStoreState": 1}
    )

    assert (len(listed["data"]), listed["totalSize"]) == (2, -1)
    assert (len(last["data"]), last["totalSize"]) == (1, 5)
    assert refused.status_code == 400 and refused.json["errorCode"] == "directStoreStateModificationDisabled"


def test_stock_documents_and_single_entries_move_stock(client):
    mug = product(client, "SKU-004")

    release = call(
        client,
        "POST",
        "/storagedocs",
        json={
            "type": "OUTSIDE_RELEASE",
            "warehouse": {"id": 1},
            "transactionEntries": [{"product": mug["id"], "quantity": 5}],
        },
    )
    income = call(client, "POST", "/storagedocs", json={"type": "OUTSIDE_INCOME", "warehouse": {"id": 1}})
    line = call(
        client,
        "POST",
        "/transactionentries",
        json={
            "storageDoc": {"id": income.json["id"]},
            "product": mug["id"],
            "quantity": 20,
            "unitNettoPrice": 10,
        },
    )
    listed = get(client, "/storagedocs").json

    assert release.status_code == 201 and income.status_code == 201 and line.status_code == 201
    assert isinstance(release.json["id"], int) and isinstance(line.json["id"], int)
    year = today().year
    assert [d["storageDocNumber"] for d in listed["data"]] == [f"WZ 1/{year}", f"PZ 1/{year}"]
    assert product(client, "SKU-004")["currentStoreState"] == mug["currentStoreState"] - 5 + 20


def test_entries_can_be_added_to_and_removed_from_a_transaction(client):
    mug = product(client, "SKU-001")
    doc = create(client, invoice())

    added = call(
        client,
        "POST",
        "/transactionentries",
        json={"transaction": {"id": doc["id"]}, "product": mug["id"], "quantity": 1},
    )
    with_line = get(client, f"/transactions/{doc['id']}").json
    removed = call(client, "DELETE", f"/transactionentries/{added.json['id']}")
    without = get(client, f"/transactions/{doc['id']}").json

    assert with_line["transactionBruttoPrice"] == 89.96
    assert product(client, "SKU-001")["currentStoreState"] == mug["currentStoreState"]
    assert removed.status_code == 200 and removed.json["changelog"][0]["modification"] == "DELETE"
    assert without["transactionBruttoPrice"] == 59.97 and len(lines_of(client, doc["id"])) == 1


# ---------------------------------------------------------------------------
# customers


def test_customers_are_unique_by_nip_and_need_name_and_label(client):
    first = call(
        client,
        "POST",
        "/customers",
        json={
            "name": "Firma Testowa sp. z o.o.",
            "label": "Testowa",
            "nipNumber": "729-107-78-43",
            "officeAddress.city": "Łódź",
        },
    )
    again = call(
        client, "POST", "/customers", json={"name": "Inna", "label": "Inna", "nipNumber": "7291077843"}
    )
    unlabeled = call(client, "POST", "/customers", json={"name": "Bez etykiety"})
    new_id = first.json["changelog"][0]["objectId"]
    card = get(client, f"/customers/{new_id}").json
    put_nested = call(client, "PUT", f"/customers/{new_id}", json={"officeAddress": {"city": "Kraków"}})
    put_phone = call(client, "PUT", f"/customers/{new_id}", json={"phone": "123"})

    assert first.status_code == 201 and card["vatUE"] == "PL 7291077843"
    assert card["officeAddress"]["city"] == "Łódź"
    assert again.status_code == 409
    assert again.json == {
        "errorCode": "duplicateValueFoundException",
        "objectName": "customer",
        "fieldName": "nipNumber",
        "duplicateValues": [{"lineNumber": -1, "objectId": new_id, "value": "729-107-78-43"}],
    }
    assert unlabeled.json == {"errorCode": "fieldRequired", "field": "label"}
    assert put_nested.json["errorCode"] == put_phone.json["errorCode"] == "unknownParameter"


def test_create_customer_if_needed_links_by_name_and_refuses_a_second_card_for_a_nip(app):
    client = app.test_client()
    add_account(client, "acme", rate_limit=None)
    add_account(client, "linker", rate_limit=None, duplicate_nip_on_the_fly="link")

    first = create(client, invoice())
    second = post(client, invoice())
    renamed = post(client, invoice(customerName="HURTOWNIA ŻÓŁW (nowa nazwa)"))
    linked = post(
        client,
        invoice(customerName="Internet Center Sp. z o.o. — oddział", nipNumber="1060000062"),
        prefix="linker",
    )

    assert not [
        e
        for e in second.json["changelog"]
        if e["modification"] == "CREATE" and e["objectClass"] == "customer"
    ]
    counts = [e for e in second.json["changelog"] if e["property"] == "transactionsCount"]
    assert counts[0]["objectId"] == first["customer"]["id"] and counts[0]["newValueDisplay"] == "2"
    assert (
        renamed.status_code == 409
        and renamed.json["duplicateValues"][0]["objectId"] == first["customer"]["id"]
    )
    assert linked.status_code == 201
    assert "Internet Center" in next(
        e["objectLabel"] for e in linked.json["changelog"] if e["objectClass"] == "transaction"
    )


# ---------------------------------------------------------------------------
# PDF and attachments


def test_pdf_report_carries_the_number_lines_and_marks_the_document_generated(client):
    doc = create(
        client,
        invoice(
            transactionEntries=[
                {
                    "product": "Książka „Zażółć gęślą jaźń”",
                    "quantity": 1,
                    "vatPercent": 5,
                    "unitNettoPrice": "46.67",
                }
            ]
        ),
    )
    path = "/reports/invoices/transaction/Faktura/FV-1-03-2026.pdf"

    pdf = get(client, path, original="true", id=doc["id"])
    missing_id = get(client, path)
    unknown = get(client, path, id=999999)
    anonymous = client.get(f"{BASE}{path}", query_string={"id": doc["id"]})

    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert 'filename="FV-1-03-2026.pdf"' in pdf.headers["Content-Disposition"]
    text = pdf_text(pdf.data)
    assert doc["transactionNumber"] in text and "49.00" in text and "ORYGINA" in text
    if find_font():
        assert "Zażółć gęślą jaźń" in text and "Hurtownia Żółw" in text
    assert get(client, f"/transactions/{doc['id']}").json["documentGenerated"] is True
    assert (missing_id.status_code, missing_id.json) == (400, {"errorCode": "fieldRequired", "field": "id"})
    assert unknown.status_code == 404 and unknown.json["errorCode"] == "entityNotFoundForId"
    assert anonymous.status_code == 401


def test_files_attach_to_a_transaction(client):
    doc = create(client, invoice())

    upload = call(
        client,
        "POST",
        f"/transactions/{doc['id']}/documentsUpload",
        data={"file": (io.BytesIO(b"%PDF-1.4 test"), "potwierdzenie.pdf"), "description": "Potwierdzenie"},
        content_type="multipart/form-data",
    )
    listed = get(client, "/documents", **{"objectId(eq)": doc["id"]}).json

    [attach] = upload.json["changelog"]
    assert upload.status_code == 201 and attach["modification"] == "ATTACH"
    assert listed["data"][0]["id"] == int(attach["newValueId"])
    assert (listed["data"][0]["name"], listed["data"][0]["fileSize"]) == ("potwierdzenie.pdf", 13)


# ---------------------------------------------------------------------------
# authentication, rights, rate limit, URL shape


def test_basic_auth_is_checked_against_the_organisation_in_the_path(client):
    anonymous = client.get(f"{BASE}/products")
    wrong_password = client.get(f"{BASE}/products", headers=basic(password="nope"))
    wrong_login = client.get(f"{BASE}/products", headers=basic(login="demo.api@firmao.pl"))
    bearer = client.get(f"{BASE}/products", headers={"Authorization": f"Bearer {PASSWORD}"})
    other_org = client.get("/firmao/nosuch/svc/v1/products", headers=basic())
    no_org = client.get("/firmao/svc/v1/products", headers=basic())
    login_case = client.get(f"{BASE}/products", headers=basic(login=LOGIN.upper()))

    for refused in (anonymous, wrong_password, wrong_login, bearer, other_org):
        assert refused.status_code == 401 and refused.json == {"errorCode": "unauthorized"}
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    assert no_org.status_code == 404
    assert login_case.status_code == 200


def test_the_demo_account_and_a_custom_login_work(client):
    demo = client.get(
        "/firmao/demo/svc/v1/products", headers=basic("demo.api@firmao.pl", "demo-firmao-password")
    )
    add_account(client, "custom", login="integracja@sklep.example", rate_limit=None)
    custom = client.get("/firmao/custom/svc/v1/products", headers=basic("integracja@sklep.example", PASSWORD))

    assert demo.status_code == 200 and demo.json["totalSize"] == 5
    assert custom.status_code == 200


def test_an_api_user_without_write_rights_gets_403_on_writes(app):
    client = app.test_client()
    add_account(client, "reader", rate_limit=None, read_only=True)

    read = call(client, "GET", "/transactions", prefix="reader")
    write = post(client, invoice(), prefix="reader")

    assert read.status_code == 200 and write.status_code == 403
    assert write.json == {"errorCode": "accessDenied"}


def test_the_double_slash_of_the_doc_examples_is_answered(client):
    mug = product(client, "SKU-001")

    direct = client.get(f"/firmao/acme//svc/v1/products/{mug['id']}", headers=basic())
    created = client.post("/firmao/acme//svc/v1/transactions", json=invoice(), headers=basic())

    assert direct.status_code == 200 and direct.json["productCode"] == "SKU-001"
    assert created.status_code == 201


class StepClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_rate_limit_allows_about_one_call_a_second_per_account(app):
    clock = StepClock()
    app.extensions["sandbox"].services["firmao"].clock = clock
    client = app.test_client()
    add_account(client, "acme")
    add_account(client, "other")

    first = get(client, "/products")
    burst = get(client, "/products")
    clock.now += 0.5
    still = post(client, invoice())
    elsewhere = call(client, "GET", "/products", prefix="other")
    clock.now += 0.5
    later = get(client, "/products")

    assert (first.status_code, burst.status_code, still.status_code, later.status_code) == (
        200,
        429,
        429,
        200,
    )
    assert burst.json == {"errorCode": "tooManyRequests"} and "Retry-After" not in burst.headers
    assert elsewhere.status_code == 200
    assert client.get("/_sandbox/firmao/documents").json["count"] == 0
    stats = client.get("/_sandbox/stats").json["services"]["firmao"]["accounts"]["acme"]
    assert stats["throttled"] == 2 and stats["faults"] == {"rate_limit": 2}


def test_the_rate_limit_window_is_an_account_option(app):
    clock = StepClock()
    app.extensions["sandbox"].services["firmao"].clock = clock
    client = app.test_client()
    add_account(client, "acme", rate_limit={"requests": 3, "seconds": 10})

    statuses = [get(client, "/products").status_code for _ in range(4)]
    clock.now += 10
    after = get(client, "/products")

    assert statuses == [200, 200, 200, 429] and after.status_code == 200


def test_invalid_account_options_are_refused(app):
    client = app.test_client()

    for options in (
        {"rate_limit": {"requests": 0, "seconds": 1}},
        {"totals_method": "x"},
        {"nope": 1},
        {"read_only": "yes"},
    ):
        response = client.post(
            "/_sandbox/firmao/accounts", json={"prefix": "bad", "api_token": "x", "options": options}
        )
        assert response.status_code == 400, options


# ---------------------------------------------------------------------------
# generic faults, stats, reset, restart


def set_faults(client, **settings):
    response = client.put("/_sandbox/firmao/faults", json=settings)
    assert response.status_code == 200, response.json


def test_generic_faults_apply_to_firmao(client):
    set_faults(client, account="acme", error_5xx=1.0)
    failing = get(client, "/products")
    set_faults(client, account="acme", auth_failure=True)
    refused = get(client, "/products")
    set_faults(client, account="acme", rate_429=1.0, retry_after=4)
    throttled = get(client, "/products")
    set_faults(client, account="acme", write_limit={"count": 1, "seconds": 60})
    writes = [post(client, invoice()).status_code for _ in range(2)]
    read = get(client, "/products")

    assert failing.status_code in (500, 502, 503) and failing.mimetype == "text/html"
    assert refused.status_code == 401 and refused.json == {"errorCode": "unauthorized"}
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "4"
    assert writes == [201, 429] and read.status_code == 200
    faults = client.get("/_sandbox/stats").json["services"]["firmao"]["accounts"]["acme"]["faults"]
    assert faults == {"error_5xx": 1, "auth_failure": 1, "rate_429": 1, "write_limit": 1}
    assert client.get("/_sandbox/stats").json["services"]["firmao"]["documents_held"] == {"acme": 1}


def test_reset_keeps_only_the_demo_account(client):
    created_id(post(client, invoice()))

    client.post("/_sandbox/reset")

    assert [a["prefix"] for a in client.get("/_sandbox/firmao/accounts").json["accounts"]] == ["demo"]
    assert client.get("/_sandbox/firmao/documents").json["count"] == 0
    assert get(client, "/products").status_code == 401


def test_state_survives_a_restart_on_the_same_file(tmp_path):
    db = tmp_path / "state.sqlite3"
    first = create_sandbox_app(db).test_client()
    add_account(first, rate_limit=None)
    before = create(first, invoice())
    stock = product(first, "SKU-001")["currentStoreState"]

    second = create_sandbox_app(db).test_client()
    again = get(second, f"/transactions/{before['id']}")
    next_one = create(second, invoice())

    assert again.status_code == 200 and again.json["transactionNumber"] == "1/3/2026"
    assert next_one["transactionNumber"] == "2/3/2026" and next_one["id"] > before["id"]
    assert product(second, "SKU-001")["currentStoreState"] == stock


# ---------------------------------------------------------------------------
# over real HTTP


def test_over_real_http_basic_auth_faults_and_the_rate_limit(tmp_path):
    with running_sandbox(tmp_path / "live.sqlite3") as base_url:
        admin = f"{base_url}/_sandbox/firmao"
        requests.post(
            f"{admin}/accounts",
            json={"prefix": "acme", "api_token": PASSWORD, "options": {"rate_limit": None}},
            timeout=5,
        )
        requests.post(
            f"{admin}/accounts",
            json={
                "prefix": "slow",
                "api_token": PASSWORD,
                "options": {"rate_limit": {"requests": 1, "seconds": 0.5}},
            },
            timeout=5,
        )
        url = f"{base_url}/firmao/acme//svc/v1/transactions"  # the doc examples' double slash
        auth = (LOGIN, PASSWORD)

        first = requests.post(url, json=invoice(), auth=auth, timeout=5)
        assert first.status_code == 201 and first.history == []  # answered, not redirected

        requests.put(f"{admin}/faults", json={"account": "acme", "reset": 1.0}, timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.post(url, json=invoice(description="IB-R"), auth=auth, timeout=5)
        requests.put(
            f"{admin}/faults",
            json={"account": "acme", "timeout_after_store": 1.0, "hold_seconds": 1},
            timeout=5,
        )
        with pytest.raises(requests.ReadTimeout):
            requests.post(url, json=invoice(description="IB-T"), auth=auth, timeout=0.3)
        requests.delete(f"{admin}/faults", timeout=5)

        assert requests.get(f"{admin}/documents", params={"oid": "IB-R"}, timeout=5).json()["count"] == 0
        assert requests.get(f"{admin}/documents", params={"oid": "IB-T"}, timeout=5).json()["count"] == 1

        slow = f"{base_url}/firmao/slow/svc/v1/products"
        slow_auth = ("slow.api@firmao.pl", PASSWORD)
        burst = [requests.get(slow, auth=slow_auth, timeout=5).status_code for _ in range(2)]
        assert burst == [200, 429]
        time.sleep(0.5)
        assert requests.get(slow, auth=slow_auth, timeout=5).status_code == 200
