"""What Firmao receives for each hub document and option, and how its answers are read."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from providers.base import Choice, Problem, RateTotal
from providers.firmao_mapping import (
    build_transaction,
    created_transaction,
    default_payment_type,
    entries_of,
    next_number_from,
    number_from_label,
    parse_transaction,
    payment_types,
    preflight,
    references_in,
    series_choices,
    split_nets,
    totals_from_entries,
)

from .factories import company_buyer, consumer_buyer, make_correction, make_doc, make_line, settings

BUYER = {
    "customerName": "Hurtownia Żółw Sp. z o.o.",
    "createCustomerIfNeeded": True,
    "emails": ["zakupy@zolw.example"],
    "nipNumber": "6272616681",
    "customerAddress.street": "ul. Świętokrzyska 12",
    "customerAddress.postCode": "00-916",
    "customerAddress.city": "Łódź",
    "customerAddress.country": "Polska",
}
MUG = {
    "product": "Kubek ceramiczny",
    "quantity": 1,
    "unit": "szt",
    "vatPercent": 23,
    "unitNettoPrice": "8.13",
    "unitBruttoPrice": "10.00",
    "nettoPrice": "8.13",
    "vatPrice": "1.87",
    "bruttoPrice": "10.00",
}
BASE = {
    "type": "INVOICE",
    "mode": "SALE",
    "transactionNumber": "FV 5/2025",
    "invoiceDate": "2025-05-14",
    "transactionDate": "2025-05-13",
    "paymentDate": "2025-05-28",
    "paymentType": "TRANSFER",
    "paid": False,
    "paidValue": "0.00",
    "restOfPaidValue": "10.00",
    "currency": "PLN",
    "calculateFromGross": True,
    **BUYER,
    "description": "Invoice Bridge ref: IB-12-3456",
    "transactionNettoPrice": "8.13",
    "transactionVatPrice": "1.87",
    "transactionBruttoPrice": "10.00",
    "transactionEntries": [MUG],
}


def body(doc=None, export=None, options=None, **kwargs):
    kwargs.setdefault("number", "FV 5/2025")
    return build_transaction(doc or make_doc(), export or settings(), options or {}, **kwargs)


def without(payload: dict, *keys: str) -> dict:
    return {k: v for k, v in payload.items() if k not in keys}


# ------------------------------------------------------------------ invoices and receipts


def test_plain_invoice():
    assert body() == BASE


def test_no_number_leaves_the_field_out_for_the_service_to_fill():
    assert body(number=None) == without(BASE, "transactionNumber")


def test_receipt_is_a_receipt_transaction_and_the_type_can_be_changed():
    doc = make_doc(kind="receipt")
    assert body(doc)["type"] == "RECEIPT"
    assert body(doc, options={"receipt_type": "bill"})["type"] == "BILL"


def test_receipt_without_a_buyer_name_goes_to_the_retail_customer():
    anonymous = consumer_buyer(name="", first_name="", last_name="", email="", phone="")
    payload = body(make_doc(kind="receipt", buyer=anonymous))
    assert payload["customerName"] == "Klient detaliczny"
    assert "emails" not in payload and "nipNumber" not in payload


@pytest.mark.parametrize("shop_name, code", [
    ("Przelew", "TRANSFER"), ("PayU", "TRANSFER"), ("BLIK", "TRANSFER"), ("Karta", "TRANSFER"),
    ("Gotówka", "CASH"), ("gotówka przy odbiorze", "CASH"), ("Cash", "CASH"),
])
def test_shop_payment_names_map_to_the_two_confirmed_codes(shop_name, code):
    assert default_payment_type(shop_name) == code
    assert body(make_doc(payment_method=shop_name))["paymentType"] == code


def test_payment_type_linked_in_settings_wins():
    assert body(export=settings(payment_type="CARD"))["paymentType"] == "CARD"


def test_payment_type_choices_are_the_confirmed_ones_plus_the_accounts_own():
    assert payment_types({}) == [Choice("TRANSFER", "Przelew"), Choice("CASH", "Gotówka")]
    extra = payment_types({"extra_payment_types": "card=Karta płatnicza; COD = Za pobraniem;;TRANSFER=x"})
    assert extra[2:] == [Choice("CARD", "Karta płatnicza"), Choice("COD", "Za pobraniem")]


def test_hidden_payment_date_is_left_out():
    assert body(make_doc(hide_payment_date=True)) == without(BASE, "paymentDate")


def test_paid_document_says_paid_in_full():
    payload = body(make_doc(paid=True, paid_date=date(2025, 5, 14)))
    assert (payload["paid"], payload["paidValue"], payload["restOfPaidValue"]) == (True, "10.00", "0.00")


def test_euro_invoice_carries_the_exchange_rate():
    payload = body(make_doc(currency="EUR", exchange_rate=Decimal("4.2718")))
    assert (payload["currency"], payload["exchangeRate"]) == ("EUR", "4.2718")


def test_consumer_is_named_by_first_and_last_name_without_nip():
    payload = body(make_doc(buyer=consumer_buyer()))
    assert payload == {
        **without(BASE, *BUYER),
        "customerName": "Małgorzata Wójcik",
        "createCustomerIfNeeded": True,
        "emails": ["gosia@example.pl"],
        "phones": ["+48600100200"],
        "customerAddress.street": "ul. Źródlana 3/5",
        "customerAddress.postCode": "30-001",
        "customerAddress.city": "Kraków",
        "customerAddress.country": "Polska",
    }


@pytest.mark.parametrize("tax_id, country, sent_id, country_name", [
    ("PL 627-261-66-81", "PL", "6272616681", "Polska"),
    ("DE136695976", "DE", "DE136695976", "Niemcy"),
    ("CHE-123.456.788", "CH", "CHE123456788", "Szwajcaria"),
])
def test_buyer_tax_id_and_country_name(tax_id, country, sent_id, country_name):
    payload = body(make_doc(buyer=company_buyer(tax_id=tax_id, country=country)))
    assert (payload["nipNumber"], payload["customerAddress.country"]) == (sent_id, country_name)


def test_an_existing_customer_is_linked_instead_of_created():
    payload = body(customer_id=51)
    assert payload["customer"] == 51
    assert "createCustomerIfNeeded" not in payload and "emails" not in payload
    assert payload["nipNumber"] == "6272616681"  # still printed on the document


def test_exempt_lines_send_zw_and_print_the_basis_with_the_notes():
    doc = make_doc(lines=[make_line(vat_rate="zw")], notes="Dziękujemy!",
                   exemption_basis="art. 43 ust. 1 pkt 29 lit. a ustawy o VAT")
    payload = body(doc)
    assert payload["transactionEntries"][0]["vatPercent"] == "zw"
    assert payload["invoiceAnnotations"] == "Dziękujemy!\nPodstawa zwolnienia z VAT: art. 43 ust. 1 pkt 29 lit. a ustawy o VAT"
    fallback = body(replace(doc, exemption_basis="", notes=""), options={"exempt_basis": "art. 113 ust. 1"})
    assert fallback["invoiceAnnotations"] == "Podstawa zwolnienia z VAT: art. 113 ust. 1"


@pytest.mark.parametrize("rate", ["zw", "np", "oo"])
def test_rates_without_tax_are_sent_as_their_symbol_or_the_configured_code(rate):
    doc = make_doc(lines=[make_line(vat_rate=rate)], exemption_basis="art. 113")
    entry = body(doc)["transactionEntries"][0]
    assert (entry["vatPercent"], entry["nettoPrice"], entry["vatPrice"], entry["bruttoPrice"]) == (
        rate, "10.00", "0.00", "10.00")
    assert body(doc, options={f"vat_code_{rate}": rate.upper()})["transactionEntries"][0]["vatPercent"] == rate.upper()


def test_notes_and_the_reference_go_to_separate_fields():
    payload = body(make_doc(notes="Zamówienie z Allegro", order_id="77"))
    assert payload["invoiceAnnotations"] == "Zamówienie z Allegro"
    assert payload["description"] == "Invoice Bridge ref: IB-12-3456; zamówienie 77"


def test_reference_also_goes_to_the_configured_custom_field():
    payload = body(options={"reference_custom_field": "custom5"})
    assert payload["customFields.custom5"] == "IB-12-3456"


def test_account_options_fill_issuer_bank_account_and_stock_update():
    payload = body(options={"issuing_person": "Anna Nowak", "bank_account_id": "2",
                            "storage_state_update": "AUTO_UPDATE", "warehouse_id": "3"})
    assert (payload["issuingPerson"], payload["bankAccount"], payload["storageStateUpdate"]) == (
        "Anna Nowak", 2, "AUTO_UPDATE")
    assert "warehouse" not in payload  # only when SKUs are sent
    assert body(export=settings(send_sku=True), options={"warehouse_id": "3"})["warehouse"] == {"id": 3}


# ------------------------------------------------------------------ money


def test_per_rate_rounding_is_kept_where_per_line_rounding_differs():
    # 3 × 0.99 at 23 %: each line alone rounds to 0.80 net (2.40), the hub's rate net is 2.41.
    doc = make_doc(lines=[make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)])
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)
    entries = body(doc)["transactionEntries"]
    assert [e["nettoPrice"] for e in entries] == ["0.81", "0.80", "0.80"]
    assert [e["vatPrice"] for e in entries] == ["0.18", "0.19", "0.19"]
    assert [e["bruttoPrice"] for e in entries] == ["0.99"] * 3
    assert [e["unitBruttoPrice"] for e in entries] == ["0.99"] * 3


def test_residual_goes_to_the_largest_line_and_quantities_keep_exact_unit_nets():
    lines = [make_line("Kubek", "3", "19.99", "23"), make_line("Łyżka", "7", "0.33", "23"),
             make_line("Książka", "1", "49.00", "5"), make_line("Zeszyt", "2", "4.99", "5")]
    doc = make_doc(lines=lines)
    payload = body(doc)
    by_rate: dict[str, list[Decimal]] = {}
    for sent, line in zip(payload["transactionEntries"], lines, strict=True):
        net = Decimal(sent["nettoPrice"])
        assert (Decimal(sent["unitNettoPrice"]) * line.quantity).quantize(Decimal("0.01")) == net
        assert net + Decimal(sent["vatPrice"]) == line.gross
        by_rate.setdefault(line.vat_rate, []).append(net)
    assert {rate: sum(nets) for rate, nets in by_rate.items()} == {t.rate: t.net for t in doc.totals}
    assert payload["transactionNettoPrice"] == f"{doc.total_net}"
    assert payload["transactionVatPrice"] == f"{doc.total_vat}"


@settings_hypothesis(max_examples=150, deadline=None)
@given(st.lists(
    st.tuples(st.integers(1, 40), st.integers(1, 50000), st.sampled_from(["23", "8", "5", "0", "zw"])),
    min_size=1, max_size=8,
))
def test_sent_line_splits_add_up_to_the_hubs_rate_totals(rows):
    lines = [make_line(f"P{i}", str(qty), f"{Decimal(grosze) / 100:.2f}", rate)
             for i, (qty, grosze, rate) in enumerate(rows)]
    doc = make_doc(lines=lines)
    splits = split_nets(doc.lines, doc.totals)
    for total in doc.totals:
        picked = [split for split, line in zip(splits, lines, strict=True) if line.vat_rate == total.rate]
        assert sum(net for net, _ in picked) == total.net
        assert sum(vat for _, vat in picked) == total.vat
    for (net, vat), line in zip(splits, lines, strict=True):
        assert net + vat == line.gross
        assert abs(vat - (line.gross - line.net)) <= Decimal("0.05")  # moved by grosze, never more


def test_net_mode_sends_no_gross_prices():
    payload = body(options={"price_mode": "net"})
    assert payload["calculateFromGross"] is False
    assert "unitBruttoPrice" not in payload["transactionEntries"][0]
    assert payload["transactionEntries"][0]["unitNettoPrice"] == "8.13"


def test_fractional_quantity_is_a_json_number():
    entry = body(make_doc(lines=[make_line("Ser", "1.5", "40.00", "5")]))["transactionEntries"][0]
    # 60.00 gross at 5 % is 57.14 net; 57.14 / 1.5 = 38.0933…, and 38.0933 × 1.5 rounds back to 57.14.
    assert entry["quantity"] == 1.5 and entry["unitNettoPrice"] == "38.0933"
    assert entry["nettoPrice"] == "57.14"


# ------------------------------------------------------------------ SKU


def test_sku_links_the_catalogue_product_by_its_id():
    doc = make_doc(lines=[make_line(sku="KUB-01"), make_line("Spinacz", sku="SPI-9")])
    entries = body(doc, settings(send_sku=True), product_ids={"KUB-01": 52})["transactionEntries"]
    assert (entries[0]["product"], entries[0]["productCode"]) == (52, "KUB-01")
    assert (entries[1]["product"], entries[1]["productCode"]) == ("Spinacz", "SPI-9")  # not in the catalogue


def test_sku_off_sends_free_text_lines_only():
    doc = make_doc(lines=[make_line(sku="KUB-01")])
    entry = body(doc, settings(send_sku=False), product_ids={"KUB-01": 52})["transactionEntries"][0]
    assert entry["product"] == "Kubek ceramiczny" and "productCode" not in entry


# ------------------------------------------------------------------ preflight


def fields(problems: list[Problem]) -> list[str]:
    return [p.field for p in problems]


def test_a_good_document_has_no_problems():
    assert preflight(make_doc(), settings()) == []
    assert preflight(make_doc(kind="receipt", buyer=consumer_buyer(name="", first_name="", last_name="")),
                     settings()) == []


@pytest.mark.parametrize("buyer, field, text", [
    (company_buyer(tax_id="1234567890"), "buyer.tax_id", "zła suma kontrolna"),
    (company_buyer(tax_id=""), "buyer.tax_id", "Brak NIP"),
    (company_buyer(tax_id="DE123", country="DE"), "buyer.tax_id", "VAT UE"),
    (company_buyer(company_name="", name=""), "buyer.company_name", "nazwy firmy"),
    (consumer_buyer(name="", first_name="", last_name=""), "buyer.name", "imienia i nazwiska"),
    (company_buyer(country="Polska"), "buyer.country", "2-literowy"),
])
def test_buyer_problems_name_the_fix(buyer, field, text):
    problems = preflight(make_doc(buyer=buyer), settings())
    assert fields(problems) == [field]
    assert text in problems[0].message


def test_line_problems():
    doc = make_doc(lines=[make_line(name=" ", sku="A"), make_line("Bez SKU"), make_line("Minus", quantity="-1")])
    problems = preflight(doc, settings(send_sku=True), vat_rates=frozenset({"8"}))
    assert fields(problems) == [
        "lines[0].name", "lines[0].vat_rate", "lines[1].vat_rate", "lines[1].sku", "lines[2].vat_rate",
        "lines[2].quantity", "lines[2].sku",
    ]
    assert "wybierz jedną z: 8" in problems[1].message
    assert "uzupełnij SKU produktu albo wyłącz tę opcję" in problems[3].message


def test_document_level_problems():
    doc = make_doc(lines=[make_line(vat_rate="zw")], currency="EUR", exchange_rate=None, number="")
    problems = preflight(doc, settings(numbering="hub"))
    assert fields(problems) == ["exchange_rate", "exemption_basis", "number"]
    assert preflight(replace(make_doc(), lines=()), settings())[0] == Problem(
        "lines", "Dokument nie ma pozycji – dodaj co najmniej jedną pozycję.")
    assert fields(preflight(make_doc(currency="zł"), settings())) == ["currency"]


def test_exemption_basis_from_the_options_is_enough():
    doc = make_doc(lines=[make_line(vat_rate="zw")])
    assert preflight(doc, settings(), {"exempt_basis": "art. 113 ust. 1"}) == []


def test_corrections_are_not_passed_to_firmao():
    problems = preflight(make_correction([(make_line(quantity="2"), make_line())]), settings())
    assert fields(problems) == ["kind"]
    assert "bezpośrednio w Firmao" in problems[0].message


def test_bad_option_values_are_reported():
    problems = preflight(make_doc(), settings(), {"price_mode": "brutto", "service_numbering": "auto",
                                                  "unknown_sku": "skip", "reference_custom_field": "pole5"})
    assert fields(problems) == ["options.price_mode", "options.service_numbering", "options.unknown_sku",
                                "options.reference_custom_field"]


# ------------------------------------------------------------------ answers


CHANGELOG = {"changelog": [
    {"modification": "CREATE", "objectClass": "commisionuser", "objectId": 35},
    {"modification": "CHANGE", "objectClass": "customer", "objectId": 50, "property": "transactionsCount"},
    {"modification": "CREATE", "objectClass": "transaction", "objectId": 50035,
     "objectLabel": "FV 5/2025 - Hurtownia Żółw"},
], "showCustomVatWarning": "true"}


def test_new_id_is_the_created_transaction_in_the_changelog():
    assert created_transaction(CHANGELOG) == ("50035", "FV 5/2025 - Hurtownia Żółw")
    assert created_transaction({"id": 7}) == ("7", "")
    assert created_transaction({"changelog": []}) == (None, "")
    assert number_from_label("1/8/2012 - Internet Center") == "1/8/2012"
    assert number_from_label("") is None


@pytest.mark.parametrize("data, text, number", [
    ("FV 6/2025", "", "FV 6/2025"),
    ({"number": "FV 6/2025"}, "", "FV 6/2025"),
    ({"data": {"nextNumber": "PAR 2/2025"}}, "", "PAR 2/2025"),
    (None, "FV 6/2025\n", "FV 6/2025"),
    (None, "<html>login</html>", None),
    ({"unexpected": 1}, "", None),
])
def test_next_number_is_read_from_any_of_the_plausible_shapes(data, text, number):
    assert next_number_from(data, text) == number


def test_series_choices_keep_invoice_and_receipt_series():
    records = [
        {"id": 1, "name": "Faktury", "type": "invoice", "pattern": "FV {nr}/{rok}"},
        {"id": 2, "name": "Paragony", "type": "RECEIPT", "objectClass": "transaction"},
        {"id": 3, "name": "Oferty", "type": "offer", "objectClass": "offer"},
        {"id": 4, "name": "Korekty", "type": "correction"},
        {"id": 5, "label": "Sklep"},
        {"id": 6, "name": "Stare", "type": "invoice", "deleted": True},
        {"id": 9, "name": "Faktury zakupu", "type": "invoice", "mode": "PURCHASE"},
    ]
    assert series_choices(records) == [
        Choice("1", "Faktura: Faktury (FV {nr}/{rok})"), Choice("2", "Paragon: Paragony"), Choice("5", "Sklep"),
    ]


def test_references_are_read_from_the_description_and_the_custom_field():
    record = {"description": "Invoice Bridge ref: IB-1-2; zamówienie 5", "customFields": {"custom5": "IB-9"}}
    assert references_in(record) == {"IB-1-2"}
    assert references_in(record, {"reference_custom_field": "custom5"}) == {"IB-1-2", "IB-9"}
    assert references_in({"customFields.custom5": "IB-8"}, {"reference_custom_field": "custom5"}) == {"IB-8"}
    assert references_in({"description": "Invoice Bridge ref: IB-1-23"}) != {"IB-1-2"}


def entry(rate, net, vat, gross, **extra):
    return {"vatPercent": rate, "nettoPrice": net, "vatPrice": vat, "bruttoPrice": gross, "quantity": 1, **extra}


def test_totals_of_a_gross_document_follow_per_rate_rounding_while_the_header_agrees():
    lines = [entry(23, 0.80, 0.19, 0.99)] * 3 + [entry("zw", 3, 0, 3)]
    printed = (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),
               RateTotal("zw", Decimal("3.00"), Decimal("0.00"), Decimal("3.00")))
    assert totals_from_entries(lines, True, Decimal("0.56")) == printed
    # The document's own VAT total says the lines' sums are what it holds: report those.
    assert totals_from_entries(lines, True, Decimal("0.57"))[0] == RateTotal(
        "23", Decimal("2.40"), Decimal("0.57"), Decimal("2.97"))
    assert totals_from_entries(lines, False, None)[0].net == Decimal("2.40")


def test_totals_fill_in_missing_line_amounts_from_unit_prices():
    lines = [{"vatPercent": "8", "quantity": 2, "unitNettoPrice": "10.00"}]
    assert totals_from_entries(lines, False, None) == (
        RateTotal("8", Decimal("20.00"), Decimal("1.60"), Decimal("21.60")),)


def test_entries_of_drops_lines_of_other_transactions():
    items = [{"id": 1, "transaction": {"id": 9}}, {"id": 2, "transaction": 10}, {"id": 3}]
    assert [i["id"] for i in entries_of(items, "9")] == [1, 3]


def test_parse_transaction():
    record = {"id": 50035, "transactionNumber": "FV 5/2025", "paymentStatus": "NOT_PAID",
              "transactionBruttoPrice": 38.0, "transactionVatPrice": 5.98, "calculateFromGross": True}
    remote = parse_transaction(record, [entry(23, 24.39, 5.61, 30), entry(8, 4.63, 0.37, 5),
                                        entry("zw", 3, 0, 3)])
    assert (remote.remote_id, remote.number, remote.status, remote.total_gross) == (
        "50035", "FV 5/2025", "not_paid", Decimal("38.0"))
    assert [t.rate for t in remote.totals] == ["23", "8", "zw"]
    assert remote.view_url is None and remote.ksef is None
    assert parse_transaction({"id": 1, "documentNumber": "PAR 1", "paid": True}).number == "PAR 1"
    assert parse_transaction({"id": 1, "paid": True}).status == "paid"
