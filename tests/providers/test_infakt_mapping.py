"""What inFakt receives for each hub document and option, what pre-flight refuses, and how
its answers are read back (amounts in grosze both ways)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from providers.base import KsefInfo, RateTotal
from providers.infakt_mapping import (
    build_corrective_invoice,
    build_invoice,
    client_body,
    default_payment_type,
    from_grosze,
    has_reference,
    parse_invoice,
    preflight,
    split_remote_id,
    split_street,
)

from .factories import company_buyer, consumer_buyer, make_correction, make_doc, make_line, settings

COMPANY = {
    "client_company_name": "Hurtownia Żółw Sp. z o.o.",
    "client_business_activity_kind": "other_business",
    "client_tax_code": "6272616681",
    "client_street": "ul. Świętokrzyska",
    "client_street_number": "12",
    "client_city": "Łódź",
    "client_post_code": "00-916",
    "client_country": "PL",
}
MUG = {"name": "Kubek ceramiczny", "tax_symbol": "23", "quantity": 1, "unit": "szt.", "gross_price": 1000}
BASE = {
    "invoice_date": "2025-05-14",
    "sale_date": "2025-05-13",
    "currency": "PLN",
    "payment_method": "transfer",
    "payment_date": "2025-05-28",
    "notes": "Nr ref.: IB-12-3456",
    **COMPANY,
    "services": [MUG],
}
ORIGINAL = {"uuid": "0f1e-orig", "number": "7/05/2025", "invoice_date": "2025-05-14", "sale_date": "2025-05-13",
            "client_id": 1090119}


def invoice(doc, export=None, options=None) -> dict:
    body = build_invoice(doc, export or settings(), options)
    assert set(body) == {"invoice", "send_to_ksef"}
    return body["invoice"]


# ------------------------------------------------------------------ invoices


def test_plain_company_invoice_with_service_numbering():
    body = build_invoice(make_doc(), settings())
    assert body == {"invoice": BASE, "send_to_ksef": False}


def test_hub_numbering_sends_the_number_and_asks_for_the_duplicate_check():
    payload = invoice(make_doc(), settings(numbering="hub"))
    assert payload == {**BASE, "number": "FV/7/05/2025", "check_duplicate_number": True}


def test_consumer_is_a_private_person_with_split_address():
    payload = invoice(make_doc(buyer=consumer_buyer()))
    client = {k: v for k, v in payload.items() if k.startswith("client_")}
    assert client == {
        "client_first_name": "Małgorzata",
        "client_last_name": "Wójcik",
        "client_business_activity_kind": "private_person",
        "client_street": "ul. Źródlana",
        "client_street_number": "3",
        "client_flat_number": "5",
        "client_city": "Kraków",
        "client_post_code": "30-001",
        "client_country": "PL",
    }


def test_consumer_known_only_by_full_name_is_split_into_first_and_last():
    buyer = consumer_buyer(first_name="", last_name="", name="Jan Maria Rokita")
    payload = invoice(make_doc(buyer=buyer))
    assert (payload["client_first_name"], payload["client_last_name"]) == ("Jan Maria", "Rokita")


def test_eu_company_keeps_its_vat_prefix_and_country():
    buyer = company_buyer(tax_id="DE 136695976", country="DE", street="Hauptstraße 5", post_code="10115",
                          city="Berlin")
    payload = invoice(make_doc(buyer=buyer, currency="EUR", exchange_rate=Decimal("4.2718")))
    assert payload["client_tax_code"] == "DE136695976"
    assert payload["client_country"] == "DE"
    assert payload["currency"] == "EUR"  # left out, the service would book PLN


def test_polish_nip_loses_pl_prefix_and_dashes():
    payload = invoice(make_doc(buyer=company_buyer(tax_id="PL 627-261-66-81")))
    assert payload["client_tax_code"] == "6272616681"


def test_client_email_only_when_the_option_asks_for_it():
    assert "client_email" not in invoice(make_doc())
    assert invoice(make_doc(), options={"send_client_email": "1"})["client_email"] == "zakupy@zolw.example"


def test_paid_invoice_is_created_paid_on_the_paid_date():
    paid = invoice(make_doc(paid=True, paid_date=date(2025, 5, 15)))
    assert (paid["status"], paid["paid_date"]) == ("paid", "2025-05-15")
    assert invoice(make_doc(paid=True))["paid_date"] == "2025-05-14"  # no date: the issue date


def test_unpaid_invoice_is_a_draft_unless_a_status_is_configured():
    assert "status" not in invoice(make_doc())
    assert invoice(make_doc(), options={"unpaid_status": "printed"})["status"] == "printed"
    assert "status" not in invoice(make_doc(), options={"unpaid_status": "wymyślony"})


def test_hidden_payment_date_is_left_out():
    assert "payment_date" not in invoice(make_doc(hide_payment_date=True))
    assert "payment_date" not in invoice(make_doc(payment_due=None))


def test_every_rate_goes_as_a_string_symbol_and_amounts_as_grosze():
    lines = [make_line(f"P{rate}", "1", "12.34", rate) for rate in ("23", "8", "5", "0", "zw", "np")]
    services = invoice(make_doc(lines=lines), options={"vat_exemption_reason": "3"})["services"]
    assert [s["tax_symbol"] for s in services] == ["23", "8", "5", "0", "zw", "np"]
    assert {s["gross_price"] for s in services} == {1234}
    assert all(isinstance(s["gross_price"], int) for s in services)
    assert not any("unit_net_price" in s or "net_price" in s for s in services)  # gross only


def test_fractional_quantity_and_units():
    line = make_line("Kabel", "2.5", "3.99", "23", unit="m")
    service = invoice(make_doc(lines=[line]))["services"][0]
    assert (service["quantity"], service["unit"], service["gross_price"]) == (2.5, "m", 998)
    hour = invoice(make_doc(lines=[make_line(unit="godz")]))["services"][0]
    assert hour["unit"] == "godz."


def test_ean_goes_as_gtin_and_sku_goes_nowhere():
    line = replace(make_line(sku="KUB-01"), ean="5901234123457")
    service = invoice(make_doc(lines=[line]), settings(send_sku=True))["services"][0]
    assert service["gtin"] == "5901234123457"
    assert "KUB-01" not in str(service)


def test_per_rate_gross_equals_the_hubs_where_per_line_rounding_differs():
    # 3 × 0.99 at 23 %: per line net 0.80 (sum 2.40), per rate 2.97 / 1.23 = 2.41.
    lines = [make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)]
    doc = make_doc(lines=lines)
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)
    services = invoice(doc)["services"]
    assert sum(s["gross_price"] for s in services) == 297


@settings_hypothesis(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["23", "8", "5", "0"]),
                          st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2),
                          st.integers(min_value=1, max_value=7)), min_size=1, max_size=6))
def test_sent_gross_per_rate_always_matches_the_hub_totals(rows):
    doc = make_doc(lines=[make_line(f"P{i}", str(qty), str(price), rate) for i, (rate, price, qty) in enumerate(rows)])
    sums: dict[str, int] = {}
    for service in invoice(doc)["services"]:
        sums[service["tax_symbol"]] = sums.get(service["tax_symbol"], 0) + service["gross_price"]
    assert sums == {t.rate: int(t.gross * 100) for t in doc.totals}


def test_exempt_lines_carry_the_configured_exemption_reason_id():
    doc = make_doc(lines=[make_line("Kurs", "1", "250.00", "zw")])
    assert invoice(doc, options={"vat_exemption_reason": " 12 "})["vat_exemption_reason"] == 12
    assert "vat_exemption_reason" not in invoice(make_doc(), options={"vat_exemption_reason": "12"})


def test_send_to_ksef_option_is_a_top_level_flag():
    assert build_invoice(make_doc(), settings(), {"send_to_ksef": "1"})["send_to_ksef"] is True
    assert build_invoice(make_doc(), settings(), {"send_to_ksef": "0"})["send_to_ksef"] is False


def test_notes_keep_the_merchants_text_and_end_with_our_reference():
    payload = invoice(make_doc(notes="  Dziękujemy za zakupy – zażółć gęślą jaźń  "))
    assert payload["notes"] == "Dziękujemy za zakupy – zażółć gęślą jaźń\nNr ref.: IB-12-3456"


@pytest.mark.parametrize(
    "shop_name, code",
    [
        ("Przelew", "transfer"),
        ("Przelew bankowy", "transfer"),
        ("Przelewy24", "przelewy24"),
        ("P24", "przelewy24"),
        ("PayU", "payu"),
        ("Tpay", "tpay"),
        ("Dotpay", "dotpay"),
        ("PayPal", "paypal"),
        ("BLIK", "card"),
        ("Karta płatnicza", "card"),
        ("Za pobraniem", "delivery"),
        ("Płatność przy odbiorze", "delivery"),
        ("Gotówka", "cash"),
        ("Raty", "instalment_sale"),
        ("Kompensata", "compensation"),
        ("cash", "cash"),
        ("Bon podarunkowy", "other"),
        ("", "other"),
    ],
)
def test_shop_payment_names_map_to_infakt_codes(shop_name, code):
    assert default_payment_type(shop_name) == code


def test_linked_payment_type_wins_over_the_default_mapping():
    assert invoice(make_doc(payment_method="Przelew"), settings(payment_type="payu"))["payment_method"] == "payu"


@pytest.mark.parametrize("street, parts", [
    ("ul. Świętokrzyska 12", ("ul. Świętokrzyska", "12", "")),
    ("ul. Źródlana 3/5", ("ul. Źródlana", "3", "5")),
    ("Al. Jerozolimskie 123A m. 4", ("Al. Jerozolimskie", "123A", "4")),
    ("ul. 3 Maja 5 lok. 2B", ("ul. 3 Maja", "5", "2B")),
    ("Rynek", ("Rynek", "", "")),
])
def test_street_lines_are_split_into_street_number_and_flat(street, parts):
    assert split_street(street) == parts


# ------------------------------------------------------------------ corrections


def test_correction_pairs_before_and_after_in_groups_against_the_services_original():
    removed = make_line("Talerz", "1", "20.00", "8")
    doc = make_correction([(make_line(quantity="2"), make_line()), (removed, None)], original_remote_id="0f1e-orig")
    body = build_corrective_invoice(doc, settings(), ORIGINAL, 1090119)
    assert body["send_to_ksef"] is False
    payload = body["corrective_invoice"]
    assert {k: v for k, v in payload.items() if k != "services"} == {
        "invoice_date": "2025-05-20",
        "sale_date": "2025-05-13",  # the original's: lines and sale date are not corrected together
        "currency": "PLN",
        "payment_method": "transfer",
        "payment_date": "2025-05-28",
        "notes": "Przyczyna korekty: Zwrot 1 szt.\nNr ref.: IB-12-3457",
        "client_id": 1090119,
        "corrected_invoice_number": "7/05/2025",  # the service's number, not the hub's FV/7/05/2025
        "corrected_invoice_date": "2025-05-14",
        "corrected_invoice_uuid": "0f1e-orig",
        "correction_reason": "other",
    }
    assert payload["services"] == [
        {"group": "1", "correction": False, **MUG, "quantity": 2, "gross_price": 2000},
        {"group": "1", "correction": True, **MUG},
        {"group": "2", "correction": False, "name": "Talerz", "tax_symbol": "8", "quantity": 1, "unit": "szt.",
         "gross_price": 2000},
        {"group": "2", "correction": True, "name": "Talerz", "tax_symbol": "8", "quantity": 0, "unit": "szt.",
         "gross_price": 0},
    ]


def test_a_line_added_by_the_correction_starts_from_zero():
    doc = make_correction([(None, make_line("Gratis", "1", "5.00", "23"))], original_remote_id="0f1e-orig")
    services = build_corrective_invoice(doc, settings(), ORIGINAL, 7)["corrective_invoice"]["services"]
    assert [(s["correction"], s["quantity"], s["gross_price"]) for s in services] == [(False, 0, 0), (True, 1, 500)]


def test_correction_reason_symbol_comes_from_the_options():
    doc = make_correction([(make_line(quantity="2"), make_line())], original_remote_id="0f1e-orig")
    payload = build_corrective_invoice(doc, settings(), ORIGINAL, 7, {"correction_reason": "price_change"})
    assert payload["corrective_invoice"]["correction_reason"] == "price_change"


def test_client_body_uses_the_client_resource_field_names():
    assert client_body(company_buyer()) == {"client": {
        "company_name": "Hurtownia Żółw Sp. z o.o.", "business_activity_kind": "other_business",
        "nip": "6272616681", "street": "ul. Świętokrzyska", "street_number": "12", "city": "Łódź",
        "postal_code": "00-916", "country": "PL", "email": "zakupy@zolw.example",
    }}
    person = client_body(consumer_buyer())["client"]
    assert (person["first_name"], person["last_name"], person["phone_number"]) == ("Małgorzata", "Wójcik",
                                                                                    "+48600100200")


# ------------------------------------------------------------------ preflight


def fields(problems) -> list[str]:
    return [p.field for p in problems]


def test_valid_documents_pass():
    assert preflight(make_doc(), settings()) == []
    assert preflight(make_doc(buyer=consumer_buyer()), settings()) == []
    assert preflight(make_correction([(make_line(quantity="2"), make_line())], original_remote_id="u"), settings()) == []


def test_receipts_are_refused_because_the_api_has_no_receipts():
    problems = preflight(make_doc(kind="receipt"), settings())
    assert fields(problems) == ["kind"] and "paragon" in problems[0].message


def test_reverse_charge_rate_is_refused_with_a_hint():
    problems = preflight(make_doc(lines=[make_line(vat_rate="oo")]), settings())
    assert fields(problems) == ["lines[0].vat_rate"]
    assert "np" in problems[0].message and "23, 8, 5, 0, zw, np" in problems[0].message


@pytest.mark.parametrize("buyer, field, words", [
    (company_buyer(tax_id="1234567890"), "buyer.tax_id", "suma kontrolna"),
    (company_buyer(tax_id=""), "buyer.tax_id", "10-cyfrowy NIP"),
    (company_buyer(tax_id="DE123", country="DE"), "buyer.tax_id", "VAT UE"),
    (company_buyer(company_name="", name=""), "buyer.company_name", "nazwę firmy"),
    (consumer_buyer(first_name="", last_name="", name=""), "buyer.name", "imienia i nazwiska"),
    (consumer_buyer(country="Polska"), "buyer.country", "2-literowy"),
])
def test_buyer_problems_name_the_fix(buyer, field, words):
    problems = preflight(make_doc(buyer=buyer), settings())
    assert fields(problems) == [field] and words in problems[0].message


def test_foreign_company_without_a_tax_id_is_fine():
    assert preflight(make_doc(buyer=company_buyer(tax_id="", country="US")), settings()) == []


def test_exempt_lines_need_a_numeric_exemption_reason_id():
    doc = make_doc(lines=[make_line("Kurs", "1", "250.00", "zw")])
    assert fields(preflight(doc, settings())) == ["options.vat_exemption_reason"]
    assert "numerem" in preflight(doc, settings(), {"vat_exemption_reason": "art. 43"})[0].message
    assert preflight(doc, settings(), {"vat_exemption_reason": "4"}) == []


def test_unknown_linked_payment_type_is_refused():
    problems = preflight(make_doc(), settings(payment_type="blik"))
    assert fields(problems) == ["payment_type"] and "Sposoby płatności" in problems[0].message


def test_line_rules():
    long_name = "Ż" * 513
    doc = make_doc(lines=[make_line(name=long_name), make_line(name="  "), make_line(quantity="0")])
    problems = preflight(doc, settings())
    assert fields(problems) == ["lines[0].name", "lines[1].name", "lines[2].quantity"]
    assert "513" in problems[0].message
    assert fields(preflight(replace(make_doc(), lines=()), settings())) == ["lines"]


def test_hub_numbering_needs_a_number():
    assert fields(preflight(make_doc(number=""), settings(numbering="hub"))) == ["number"]


def test_currency_must_be_an_iso_code():
    assert fields(preflight(make_doc(currency="zł"), settings())) == ["currency"]


def test_correction_rules():
    pairs = [(make_line(quantity="2"), make_line())]
    assert fields(preflight(make_correction(pairs, original_remote_id=None), settings())) == [
        "correction.original_remote_id"]
    problems = preflight(make_correction(pairs, original_remote_id="corrective:abc"), settings())
    assert "nie korekty" in problems[0].message
    assert fields(preflight(make_correction([], original_remote_id="u"), settings())) == ["correction.lines"]
    bad = make_correction(pairs, original_remote_id="u")
    assert fields(preflight(bad, settings(), {"correction_reason": "Zwrot towaru"})) == ["options.correction_reason"]


def test_correction_needs_a_client_friendly_polish_post_code_but_an_invoice_does_not():
    buyer = company_buyer(post_code="00916")
    assert preflight(make_doc(buyer=buyer), settings()) == []
    correction = make_correction([(make_line(quantity="2"), make_line())], original_remote_id="u", buyer=buyer)
    assert fields(preflight(correction, settings())) == ["buyer.post_code"]


# ------------------------------------------------------------------ responses


def infakt_invoice(**overrides) -> dict:
    data = {
        "id": 4321, "uuid": "af1f-uuid", "number": "12/05/2025", "kind": "vat", "status": "draft",
        "currency": "PLN", "net_price": 3209, "tax_price": 341, "gross_price": 3550, "notes": "Nr ref.: IB-12-3456",
        "services": [
            {"name": "Naklejka", "tax_symbol": "23", "quantity": 3, "net_price": 240, "tax_price": 57, "gross_price": 297},
            {"name": "Kubek", "tax_symbol": "23", "quantity": 1, "net_price": 813, "tax_price": 187, "gross_price": 1000},
            {"name": "Książka", "tax_symbol": "5", "quantity": 1, "net_price": 1948, "tax_price": 97, "gross_price": 2045},
            {"name": "Kurs", "tax_symbol": "zw", "quantity": 1, "net_price": 208, "tax_price": 0, "gross_price": 208},
        ],
        "extensions": {"payments": {"link": None, "available": False},
                       "shares": {"link": "https://app.infakt.pl/app/twoja-faktura/x1", "available": True}},
        "ksef_data": {"request_uuid": None, "ksef_number": None, "status": None},
    }
    data.update(overrides)
    return data


def test_parsed_invoice_reads_grosze_and_per_rate_values_that_add_up_to_the_document():
    remote = parse_invoice(infakt_invoice())
    assert (remote.remote_id, remote.number, remote.status) == ("af1f-uuid", "12/05/2025", "draft")
    assert remote.total_gross == Decimal("35.50")
    assert remote.view_url == "https://app.infakt.pl/app/twoja-faktura/x1" and remote.pdf_url is None
    assert remote.totals == (
        RateTotal("23", Decimal("10.53"), Decimal("2.44"), Decimal("12.97")),  # lines add up here
        RateTotal("5", Decimal("19.48"), Decimal("0.97"), Decimal("20.45")),
        RateTotal("zw", Decimal("2.08"), Decimal("0.00"), Decimal("2.08")),
    )
    assert remote.ksef is None


def test_lines_without_net_values_get_them_from_the_rate_gross():
    remote = parse_invoice(infakt_invoice(services=[{"tax_symbol": 23, "gross_price": 297}]))
    assert remote.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)


STICKERS_GROSS = [{"name": f"Naklejka {i}", "tax_symbol": "23", "quantity": 1, "net_price": 81, "tax_price": 19,
                   "gross_price": 100} for i in range(3)]


def test_a_document_totalled_per_rate_from_the_gross_sum_is_reported_that_way():
    # Each line nets 0.81 (sum 2.43), but the document says 2.44 net: VAT once from 3.00 gross.
    data = infakt_invoice(services=STICKERS_GROSS, net_price=244, tax_price=56, gross_price=300)
    assert parse_invoice(data).totals == (RateTotal("23", Decimal("2.44"), Decimal("0.56"), Decimal("3.00")),)


def test_a_document_totalled_per_rate_from_the_net_sum_is_reported_that_way():
    lines = [{**line, "gross_price": None} for line in STICKERS_GROSS]  # priced net: 3 × 0.81
    data = infakt_invoice(services=lines, net_price=243, tax_price=56, gross_price=299)
    assert parse_invoice(data).totals == (RateTotal("23", Decimal("2.43"), Decimal("0.56"), Decimal("2.99")),)


def test_a_document_whose_totals_are_the_line_sums_is_reported_line_by_line():
    data = infakt_invoice(services=STICKERS_GROSS, net_price=243, tax_price=57, gross_price=300)
    assert parse_invoice(data).totals == (RateTotal("23", Decimal("2.43"), Decimal("0.57"), Decimal("3.00")),)


def test_unavailable_share_link_is_not_a_view_url():
    shares = {"shares": {"link": "https://app.infakt.pl/x", "available": False}}
    assert parse_invoice(infakt_invoice(extensions=shares)).view_url is None


@pytest.mark.parametrize("ksef, expected", [
    ({"request_uuid": "r1", "ksef_number": "5252445767-20250514-ABCDEF-12", "status": "success"},
     KsefInfo("accepted", "5252445767-20250514-ABCDEF-12", None, None)),
    ({"request_uuid": "r1", "ksef_number": None, "status": "sent", "status_description": "Wysłano"},
     KsefInfo("processing", None, None, None)),
    ({"request_uuid": "r1", "status": "error", "status_description": "Błędny NIP nabywcy"},
     KsefInfo("error", None, None, "Błędny NIP nabywcy")),
    ({"request_uuid": "r1", "status": "weird"}, KsefInfo("error", None, None, "Nieznany status KSeF: weird")),
])
def test_ksef_data_is_read_back(ksef, expected):
    assert parse_invoice(infakt_invoice(ksef_data=ksef)).ksef == expected


def test_corrective_invoice_is_identified_by_kind_and_totals_its_after_state():
    data = infakt_invoice(kind="correction", net_price=-813, tax_price=-187, gross_price=-1000, services=[
        {"group": "1", "correction": False, "tax_symbol": "23", "net_price": 1626, "tax_price": 374, "gross_price": 2000},
        {"group": "1", "correction": True, "tax_symbol": "23", "net_price": 813, "tax_price": 187, "gross_price": 1000},
    ])
    remote = parse_invoice(data, "correction")
    assert remote.remote_id == "corrective:af1f-uuid"
    assert split_remote_id(remote.remote_id) == ("corrective_invoices", "af1f-uuid")
    assert split_remote_id("af1f-uuid") == ("invoices", "af1f-uuid")
    assert remote.total_gross == Decimal("-10.00")
    assert remote.totals == (RateTotal("23", Decimal("8.13"), Decimal("1.87"), Decimal("10.00")),)


@pytest.mark.parametrize("value, expected", [
    (12345, Decimal("123.45")), ("12345", Decimal("123.45")), ("123.45 PLN", Decimal("123.45")),
    ("-0,5", Decimal("-0.50")), (None, None), ("abc", None), (0, Decimal("0.00")),
])
def test_amounts_read_back(value, expected):
    assert from_grosze(value) == expected


def test_reference_marker_matches_whole_references_only():
    notes = "Dziękujemy\nNr ref.: IB-12-3456"
    assert has_reference(notes, "IB-12-3456")
    assert not has_reference(notes, "IB-12-345")
    assert not has_reference("Nr ref.: IB-12-34567", "IB-12-3456")
    assert not has_reference(None, "IB-12-3456")
