"""What wFirma receives for each kind of hub document and option, and how its answers are read."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from providers.base import VAT_RATES, KsefInfo, RateTotal
from providers.wfirma_mapping import (
    build_invoice,
    children,
    collect_errors,
    contractor_matches,
    default_payment_method,
    document_totals,
    download_request,
    envelope,
    find_request,
    ksef_info,
    number_parts,
    parse_invoice,
    preflight,
    totals_from_contents,
)

from .factories import company_buyer, consumer_buyer, make_correction, make_doc, make_line, settings

CONTRACTOR = {
    "name": "Hurtownia Żółw Sp. z o.o.",
    "street": "ul. Świętokrzyska 12",
    "zip": "00-916",
    "city": "Łódź",
    "country": "PL",
    "tax_id_type": "nip",
    "nip": "6272616681",
    "email": "zakupy@zolw.example",
}
MUG = {"name": "Kubek ceramiczny", "count": "1", "unit_count": "1", "unit": "szt", "price": "10.00", "vat": "23"}
BASE = {
    "type": "normal",
    "id_external": "IB-12-3456",
    "date": "2025-05-14",
    "disposaldate": "2025-05-13",
    "price_type": "brutto",
    "currency": "PLN",
    "paymentmethod": "transfer",
    "paymentdate": "2025-05-28",
    "contractor": CONTRACTOR,
    "invoicecontents": {"0": {"invoicecontent": MUG}},
}


def without(payload: dict, *keys: str) -> dict:
    return {k: v for k, v in payload.items() if k not in keys}


def contents(*records: dict) -> dict:
    return {str(i): {"invoicecontent": r} for i, r in enumerate(records)}


# ------------------------------------------------------------------ envelopes


def test_plain_invoice_with_service_numbering():
    assert build_invoice(make_doc(), settings()) == BASE


def test_the_record_travels_in_the_numbered_json_envelope():
    assert envelope("invoices", "invoice", {"type": "normal"}) == {"invoices": {"0": {"invoice": {"type": "normal"}}}}


def test_find_request_pages_and_numbers_its_conditions():
    assert find_request("invoices", [("id_external", "eq", "IB-1"), ("date", "ge", "2025-05-13")], page=2) == {
        "invoices": {"parameters": {
            "page": "2",
            "limit": "100",
            "conditions": {
                "0": {"condition": {"field": "id_external", "operator": "eq", "value": "IB-1"}},
                "1": {"condition": {"field": "date", "operator": "ge", "value": "2025-05-13"}},
            },
        }}
    }
    assert find_request("series") == {"series": {"parameters": {"page": "1", "limit": "100"}}}


def test_download_asks_for_the_original_without_extras():
    parameters = download_request()["invoices"]["parameters"]
    assert [p["parameter"] for p in parameters.values()] == [
        {"name": "page", "value": "invoice"},
        {"name": "address", "value": "0"},
        {"name": "leaflet", "value": "0"},
        {"name": "duplicate", "value": "0"},
    ]


# ------------------------------------------------------------------ document types and numbering


def test_receipt_is_a_non_fiscal_receipt_by_default_and_the_option_picks_another_type():
    receipt = make_doc(kind="receipt")
    assert build_invoice(receipt, settings()) == {**BASE, "type": "receipt_normal"}
    assert build_invoice(receipt, settings(), {"receipt_type": "receipt_fiscal_normal"})["type"] == (
        "receipt_fiscal_normal")
    assert build_invoice(make_doc(), settings(), {"invoice_type": "bill"})["type"] == "bill"


def test_fiscal_receipt_carries_no_remarks():
    doc = make_doc(kind="receipt", notes="Dziękujemy")
    assert build_invoice(doc, settings())["description"] == "Dziękujemy"
    assert "description" not in build_invoice(doc, settings(), {"receipt_type": "receipt_fiscal_normal"})


def test_linked_series_is_sent_and_do_not_pass_leaves_it_out():
    assert build_invoice(make_doc(), settings(series_id="12")) == {**BASE, "series": {"id": "12"}}
    assert "series" not in build_invoice(make_doc(), settings(series_id=None))


def test_hub_numbering_sends_the_numbers_that_fill_the_series_template():
    parts = {"number": "7", "day": "14", "month": "05", "year": "2025"}
    assert build_invoice(make_doc(), settings(numbering="hub"), numbering=parts) == {**BASE, **parts}
    # Service numbering never sends a number, even when one is at hand.
    assert build_invoice(make_doc(), settings(), numbering=parts) == BASE


@pytest.mark.parametrize("hub_number, template, expected", [
    ("FV/7/05/2025", "FV/[numer]/[miesiąc]/[rok]", {"number": "7", "day": "14", "month": "05", "year": "2025"}),
    ("FV 12/2025", "FV [numer]/[rok]", {"number": "12", "day": "14", "month": "05", "year": "2025"}),
    ("PAR/003/2025", "PAR/[numer]/[rok]", {"number": "3", "day": "14", "month": "05", "year": "2025"}),
    ("F.V-1/14/5", "F.V-[numer]/[dzień]/[miesiąc]", {"number": "1", "day": "14", "month": "5", "year": "2025"}),
])
def test_hub_number_is_split_along_the_series_template(hub_number, template, expected):
    assert number_parts(hub_number, template, date(2025, 5, 14)) == expected


@pytest.mark.parametrize("hub_number, template", [
    ("FV/7/05/2025", "FV [numer]/[rok]"),  # wFirma's yearly series vs the hub's monthly one
    ("FXV-1", "F.V-[numer]"),  # template text is literal, not a pattern
    ("FV/7/2025", "FV/[numer]/[miesiąc]/[rok]"),
    ("FV 7/2025", "FV [rok]"),  # a template without [numer] cannot carry any number
])
def test_hub_number_that_cannot_fit_the_series_gives_none(hub_number, template):
    assert number_parts(hub_number, template, date(2025, 5, 14)) is None


# ------------------------------------------------------------------ payments and dates


@pytest.mark.parametrize("shop_name, method", [
    ("Przelew", "transfer"),
    ("Przelew bankowy", "transfer"),
    ("PayU", "transfer"),
    ("Przelewy24", "transfer"),
    ("P24", "transfer"),
    ("PayPal", "transfer"),
    ("BLIK", "payment_card"),
    ("Karta płatnicza", "payment_card"),
    ("Pobranie", "cod"),
    ("Za pobraniem", "cod"),
    ("Płatność przy odbiorze", "cod"),
    ("Gotówka", "cash"),
    ("Kompensata", "compensation"),
    ("payment_card", "payment_card"),
])
def test_shop_payment_names_map_to_the_documented_methods(shop_name, method):
    assert default_payment_method(shop_name) == method
    assert build_invoice(make_doc(payment_method=shop_name), settings())["paymentmethod"] == method


def test_unknown_payment_name_leaves_the_account_default():
    assert default_payment_method("Raty Santander") is None
    assert "paymentmethod" not in build_invoice(make_doc(payment_method="Raty Santander"), settings())


def test_payment_type_chosen_in_settings_wins_over_the_default_mapping():
    assert build_invoice(make_doc(), settings(payment_type="compensation"))["paymentmethod"] == "compensation"


def test_series_that_hides_the_payment_date_sends_none():
    assert build_invoice(make_doc(hide_payment_date=True), settings()) == without(BASE, "paymentdate")
    assert build_invoice(make_doc(payment_due=None), settings()) == without(BASE, "paymentdate")


def test_paid_document_marks_the_whole_gross_as_already_paid():
    doc = make_doc(paid=True, paid_date=date(2025, 5, 14), lines=[make_line(quantity="3", unit_gross="19.99")])
    assert build_invoice(doc, settings())["alreadypaid_initial"] == "59.97"


def test_foreign_currency_is_named_and_wfirma_picks_the_nbp_rate():
    payload = build_invoice(make_doc(currency="EUR", exchange_rate=Decimal("4.2718")), settings())
    assert payload["currency"] == "EUR"
    assert not [key for key in payload if "exchange" in key]  # read-only in wFirma


# ------------------------------------------------------------------ buyer


def test_consumer_is_sent_without_a_tax_id():
    payload = build_invoice(make_doc(buyer=consumer_buyer()), settings())
    assert payload["contractor"] == {
        "name": "Małgorzata Wójcik",
        "street": "ul. Źródlana 3/5",
        "zip": "30-001",
        "city": "Kraków",
        "country": "PL",
        "tax_id_type": "none",
        "email": "gosia@example.pl",
        "phone": "+48600100200",
    }


@pytest.mark.parametrize("tax_id, country, sent, kind", [
    ("PL 627-261-66-81", "PL", "6272616681", "nip"),
    ("DE136695976", "DE", "DE136695976", "vat"),
    ("EL094259216", "GR", "EL094259216", "vat"),
    ("CHE-123.456.788", "CH", "CHE123456788", "custom"),
])
def test_buyer_tax_id_type(tax_id, country, sent, kind):
    contractor = build_invoice(make_doc(buyer=company_buyer(tax_id=tax_id, country=country)), settings())["contractor"]
    assert (contractor["nip"], contractor["tax_id_type"], contractor["country"]) == (sent, kind, country)


def test_matched_contractor_is_sent_by_id_only():
    assert build_invoice(make_doc(), settings(), contractor_id="55")["contractor"] == {"id": "55"}


def test_stored_contractor_matches_only_with_the_same_nip_and_printed_data():
    stored = {"id": "55", **CONTRACTOR, "nip": "PL 627-261-66-81", "name": "HURTOWNIA ŻÓŁW  Sp. z o.o."}
    assert contractor_matches(stored, company_buyer())
    assert not contractor_matches({**stored, "zip": "00-917"}, company_buyer())  # moved: send the new address
    assert not contractor_matches({**stored, "nip": "5252445767"}, company_buyer())
    assert not contractor_matches(stored, consumer_buyer())


# ------------------------------------------------------------------ lines


def test_sku_on_links_each_line_to_its_catalogue_product():
    doc = make_doc(lines=[make_line(sku="KUB-01"), make_line(name="Talerz", sku="TAL-02")])
    payload = build_invoice(doc, settings(send_sku=True), good_ids={"KUB-01": "501", "TAL-02": "502"})
    assert payload["invoicecontents"] == contents(
        {**MUG, "good": {"id": "501"}}, {**MUG, "name": "Talerz", "good": {"id": "502"}},
    )


def test_sku_off_links_nothing():
    doc = make_doc(lines=[make_line(sku="KUB-01")])
    assert build_invoice(doc, settings(send_sku=False), good_ids={"KUB-01": "501"}) == BASE


def test_vat_codes_polish_text_units_and_fractional_quantities_pass_unchanged():
    lines = [make_line(name="Zażółć gęślą jaźń", unit="kpl", vat_rate=rate) for rate in ("8", "5", "0", "zw", "np")]
    lines.append(make_line(name="Kabel", quantity="2.500", unit_gross="4.00", unit="m", vat_rate="oo"))
    sent = [c["invoicecontent"] for c in build_invoice(make_doc(lines=lines), settings())["invoicecontents"].values()]
    assert [c["vat"] for c in sent] == ["8", "5", "0", "zw", "np", "oo"]
    assert sent[0]["name"] == "Zażółć gęślą jaźń" and sent[0]["unit"] == "kpl"
    assert (sent[-1]["count"], sent[-1]["unit_count"], sent[-1]["price"]) == ("2.5", "2.5", "4.00")


def test_unit_price_keeps_extra_decimals_only_when_the_hub_has_them():
    line = make_line(unit_gross="1.2345", quantity="4")
    assert build_invoice(make_doc(lines=[line]), settings())["invoicecontents"]["0"]["invoicecontent"]["price"] == (
        "1.2345")


def test_notes_and_the_exemption_basis_go_to_the_remarks():
    assert build_invoice(make_doc(notes="  Zamówienie 1234  "), settings())["description"] == "Zamówienie 1234"
    exempt = make_doc(lines=[make_line(vat_rate="zw")], notes="Zamówienie 1234",
                      exemption_basis="art. 43 ust. 1 pkt 29 lit. a ustawy o VAT")
    assert build_invoice(exempt, settings())["description"] == (
        "Zamówienie 1234\nPodstawa zwolnienia z VAT: art. 43 ust. 1 pkt 29 lit. a ustawy o VAT")
    default_basis = build_invoice(replace(exempt, notes="", exemption_basis=""), settings(),
                                  {"exemption_basis": "art. 113 ust. 1"})
    assert default_basis["description"] == "Podstawa zwolnienia z VAT: art. 113 ust. 1"
    assert "description" not in build_invoice(make_doc(), settings(), {"exemption_basis": "art. 113 ust. 1"})


def test_gross_prices_let_the_service_derive_each_rates_net_like_the_hub():
    # Three 1.00 PLN lines at 23 %: per-line nets sum to 3 × 0.81 = 2.43, while the hub (and a
    # Polish invoice) derives the rate's net from its gross: 3.00 − round(3.00 × 23/123) = 2.44.
    lines = [make_line(name=f"Naklejka {i}", unit_gross="1.00") for i in range(3)]
    doc = make_doc(lines=lines)
    assert sum(line.net for line in lines) == Decimal("2.43")
    assert doc.totals == (RateTotal("23", Decimal("2.44"), Decimal("0.56"), Decimal("3.00")),)

    payload = build_invoice(doc, settings())

    assert payload["price_type"] == "brutto"
    sent = [c["invoicecontent"] for c in payload["invoicecontents"].values()]
    assert all("netto" not in c for c in sent)
    echoed = [{**c, "brutto": c["price"]} for c in sent]  # what wFirma returns per line
    assert totals_from_contents(echoed, "brutto") == doc.totals


@settings_hypothesis(max_examples=60, deadline=None)
@given(st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=50),  # quantity
        st.integers(min_value=1, max_value=99_999),  # unit gross in grosze
        st.sampled_from(["23", "8", "5", "0", "zw"]),
    ),
    min_size=1, max_size=12,
))
def test_per_rate_gross_sent_always_equals_the_hubs_rate_totals(raw_lines):
    lines = [make_line(name=f"P{i}", quantity=str(q), unit_gross=str(Decimal(g) / 100), vat_rate=r)
             for i, (q, g, r) in enumerate(raw_lines)]
    doc = make_doc(lines=lines)
    sent: dict[str, Decimal] = {}
    for item in build_invoice(doc, settings())["invoicecontents"].values():
        content = item["invoicecontent"]
        sent[content["vat"]] = sent.get(content["vat"], Decimal(0)) + Decimal(content["count"]) * Decimal(
            content["price"])
    assert sent == {total.rate: total.gross for total in doc.totals}
    # …and reading the same lines back gives the hub's per-rate rows to the grosz.
    echoed = [{"vat": line.vat_rate, "brutto": str(line.gross)} for line in lines]
    assert totals_from_contents(echoed, "brutto") == doc.totals


# ------------------------------------------------------------------ preflight


def problem_fields(doc, export_settings=None, options=None):
    return [p.field for p in preflight(doc, export_settings or settings(), options)]


def test_clean_documents_have_no_problems():
    assert preflight(make_doc(), settings()) == []
    assert preflight(make_doc(kind="receipt", buyer=consumer_buyer()), settings()) == []
    assert preflight(make_doc(), settings(numbering="hub", series_id="21", payment_type="cod")) == []


def test_corrections_are_not_passed_to_wfirma():
    problems = preflight(make_correction([(make_line(quantity="2"), make_line())]), settings())
    assert [p.field for p in problems] == ["kind"] and "w wFirma" in problems[0].message


def test_buyer_needs_a_name_zip_and_city_and_by_default_a_street():
    assert problem_fields(make_doc(buyer=company_buyer(name="", company_name=""))) == ["buyer.company_name"]
    assert problem_fields(make_doc(buyer=consumer_buyer(name="", first_name="", last_name=""))) == ["buyer.name"]
    assert problem_fields(make_doc(buyer=consumer_buyer(post_code="", city=" "))) == ["buyer.post_code", "buyer.city"]
    no_street = make_doc(buyer=consumer_buyer(street=""))
    assert problem_fields(no_street) == ["buyer.street"]
    assert problem_fields(no_street, options={"require_street": "0"}) == []


def test_polish_company_needs_a_valid_nip_and_an_eu_one_a_valid_vat_id():
    problems = preflight(make_doc(buyer=company_buyer(tax_id="1234567890")), settings())
    assert [p.field for p in problems] == ["buyer.tax_id"] and "1234567890" in problems[0].message
    assert problem_fields(make_doc(buyer=company_buyer(tax_id=""))) == ["buyer.tax_id"]
    assert problem_fields(make_doc(buyer=company_buyer(tax_id="DE123456789", country="DE"))) == ["buyer.tax_id"]
    assert problem_fields(make_doc(buyer=company_buyer(tax_id="DE136695976", country="DE"))) == []


def test_an_email_with_extra_text_is_refused_before_wfirma_says_input_error():
    assert problem_fields(make_doc(buyer=company_buyer(email="a@b.pl, c@d.pl"))) == ["buyer.email"]
    assert problem_fields(make_doc(buyer=company_buyer(email="Jan <jan@firma.pl>"))) == ["buyer.email"]
    assert problem_fields(make_doc(buyer=company_buyer(email=""))) == []


def test_every_line_needs_a_sku_when_sku_is_sent():
    doc = make_doc(lines=[make_line(sku="A-1"), make_line(name="Bez kodu"), make_line(sku="C-3")])
    assert problem_fields(doc, settings(send_sku=True)) == ["lines[1].sku"]
    assert problem_fields(doc, settings(send_sku=False)) == []


def test_line_rules():
    assert problem_fields(make_doc(lines=[make_line(name=" ")])) == ["lines[0].name"]
    assert problem_fields(make_doc(lines=[make_line(), make_line(quantity="0")])) == ["lines[1].quantity"]
    assert problem_fields(make_doc(lines=[make_line(unit_gross="-5.00")])) == ["lines[0].unit_gross"]
    assert problem_fields(replace(make_doc(), lines=())) == ["lines"]
    problems = preflight(make_doc(lines=[make_line(vat_rate="7")]), settings())
    assert [p.field for p in problems] == ["lines[0].vat_rate"]
    assert "23, 8, 5, 0, zw, np, oo" in problems[0].message
    narrower = preflight(make_doc(lines=[make_line(vat_rate="oo")]), settings(), None, frozenset(VAT_RATES) - {"oo"})
    assert [p.field for p in narrower] == ["lines[0].vat_rate"]


def test_payment_type_outside_the_documented_methods():
    assert problem_fields(make_doc(), settings(payment_type="payu")) == ["payment_method"]


def test_fiscal_receipt_with_remarks():
    doc = make_doc(kind="receipt", notes="Dziękujemy")
    assert problem_fields(doc, options={"receipt_type": "receipt_fiscal_normal"}) == ["notes"]
    assert problem_fields(doc) == []


def test_hub_numbering_needs_a_linked_series_and_a_number_with_digits():
    hub = settings(numbering="hub", series_id="21")
    assert problem_fields(make_doc(number=""), hub) == ["number"]
    problems = preflight(make_doc(number="FV-BEZ"), hub)
    assert [p.field for p in problems] == ["number"]
    assert "użyj numeracji usługi albo połącz zgodną serię" in problems[0].message
    unlinked = preflight(make_doc(), settings(numbering="hub"))
    assert [p.field for p in unlinked] == ["series"]
    assert "użyj numeracji usługi albo połącz zgodną serię" in unlinked[0].message
    assert problem_fields(make_doc(number=""), settings()) == []
    assert problem_fields(replace(make_doc(), number=None), hub) == ["number"]  # not numbered yet


def test_unknown_option_values_and_currency():
    fields = problem_fields(make_doc(), options={"invoice_type": "faktura", "receipt_type": "x",
                                                 "contractor_match": "always", "unknown_sku": "skip"})
    assert fields == ["options.invoice_type", "options.receipt_type", "options.contractor_match",
                      "options.unknown_sku"]
    assert problem_fields(make_doc(currency="euro")) == ["currency"]


def test_problem_messages_are_polish_and_name_the_fix():
    doc = make_doc(buyer=company_buyer(tax_id="", post_code="", email="x"), currency="zł",
                   lines=[make_line(name="", vat_rate="7")])
    problems = preflight(doc, settings(send_sku=True, payment_type="payu", numbering="hub"), {"invoice_type": "x"})
    assert len(problems) >= 8
    for problem in problems:
        assert any(word in problem.message for word in (
            "wpisz", "popraw", "uzupełnij", "wybierz", "usuń", "dodaj", "użyj")), problem


# ------------------------------------------------------------------ responses


def test_children_reads_numbered_list_and_bare_forms():
    assert children({"0": {"invoice": {"id": "1"}}, "1": {"invoice": {"id": "2"}}, "parameters": {}}, "invoice") == [
        {"id": "1"}, {"id": "2"}]
    assert children({"invoice": {"id": "1"}}, "invoice") == [{"id": "1"}]
    assert children([{"invoice": {"id": "1"}}, {"id": "2"}], "invoice") == [{"id": "1"}, {"id": "2"}]
    assert children({"0": {"series": {"id": "9"}}}, "series") == [{"id": "9"}]
    assert children(None, "invoice") == [] and children("", "invoice") == []


def test_errors_attached_at_every_level_become_hub_field_errors():
    echoed = {"invoices": {"0": {"invoice": {
        "date": "14.05.2025",
        "errors": {"0": {"error": {"field": "date", "message": "Data musi być w formacie RRRR-MM-DD",
                                   "method": {"name": "require", "parameters": ""}}}},
        "contractor": {"nip": "123", "errors": {"0": {"error": {"field": "nip",
                                                                "message": "Nieprawidłowy identyfikator"}}}},
        "invoicecontents": {
            "0": {"invoicecontent": {"name": "Kubek"}},
            "1": {"invoicecontent": {"name": "", "errors": [{"error": {"field": "name",
                                                                        "message": "Treść nie może być pusta"}}]}},
        },
    }}}, "status": {"code": "ERROR"}}
    assert collect_errors(echoed) == {
        "issue_date": ["Data musi być w formacie RRRR-MM-DD"],
        "buyer.tax_id": ["Nieprawidłowy identyfikator"],
        "lines[1].name": ["Treść nie może być pusta"],
    }


def test_unknown_fields_keep_the_service_name():
    echoed = {"invoices": {"0": {"invoice": {"errors": {"error": {"field": "schema", "message": "Zły schemat"}}}}}}
    assert collect_errors(echoed) == {"invoice.schema": ["Zły schemat"]}


def test_totals_from_a_netto_document_are_computed_from_net():
    rows = [{"vat": "23", "netto": "8.13"}, {"vat": "23", "netto": "8.13"}, {"vat": "zw", "netto": "3.00"}]
    assert totals_from_contents(rows, "netto") == (
        RateTotal("23", Decimal("16.26"), Decimal("3.74"), Decimal("20.00")),
        RateTotal("zw", Decimal("3.00"), Decimal("0.00"), Decimal("3.00")),
    )


def test_line_without_brutto_falls_back_to_count_times_price():
    assert totals_from_contents([{"vat": "8", "count": "3.0000", "price": "1.99"}], "brutto") == (
        RateTotal("8", Decimal("5.53"), Decimal("0.44"), Decimal("5.97")),)


def test_single_rate_document_reports_the_services_own_sums():
    record = {"price_type": "brutto", "netto": "2.40", "tax": "0.57", "total": "2.97",
              "invoicecontents": contents(*[{"vat": "23", "brutto": "0.99"}] * 3)}
    # Whatever wFirma computed is what the hub compares (here it rounded per line).
    assert document_totals(record) == (RateTotal("23", Decimal("2.40"), Decimal("0.57"), Decimal("2.97")),)


def invoice_record(**overrides):
    record = {
        "id": "1207242", "fullnumber": "FV 12/2025", "paymentstate": "unpaid", "total": "38.00",
        "netto": "32.04", "tax": "5.96", "price_type": "brutto", "id_external": "IB-12-3456",
        "invoicecontents": contents(
            {"id": "1", "vat": "23", "brutto": "30.00", "netto": "24.39"},
            {"id": "2", "vat": "8", "brutto": "5.00", "netto": "4.63"},
            {"id": "3", "vat": "ZW", "brutto": "3.00", "netto": "3.00"},
        ),
    }
    record.update(overrides)
    return record


def test_parse_invoice():
    remote = parse_invoice(invoice_record())
    assert (remote.remote_id, remote.number, remote.status) == ("1207242", "FV 12/2025", "unpaid")
    assert remote.total_gross == Decimal("38.00")
    assert remote.totals == (
        RateTotal("23", Decimal("24.39"), Decimal("5.61"), Decimal("30.00")),
        RateTotal("8", Decimal("4.63"), Decimal("0.37"), Decimal("5.00")),
        RateTotal("zw", Decimal("3.00"), Decimal("0.00"), Decimal("3.00")),
    )
    assert remote.ksef is None and remote.view_url is None and remote.raw["id_external"] == "IB-12-3456"


@pytest.mark.parametrize("fields, expected", [
    ({"ksef_status": "accepted", "ksef_reference_number": "5252445767-20250514-ABCDEF-12",
      "ksef_registration_date": "2025-05-14 10:00:00"},
     KsefInfo("accepted", "5252445767-20250514-ABCDEF-12", None, None)),
    ({"ksef_reference_number": "5252445767-20250514-ABCDEF-12"},
     KsefInfo("accepted", "5252445767-20250514-ABCDEF-12", None, None)),
    ({"ksef_status": "processing"}, KsefInfo("processing", None, None, None)),
    ({"ksef_status": "sent"}, KsefInfo("processing", None, None, None)),
    ({"ksef_status": "error", "ksef_error": "Nieprawidłowy NIP nabywcy"},
     KsefInfo("error", None, None, "KSeF: error – Nieprawidłowy NIP nabywcy")),
    ({"ksef_status": "rejected"}, KsefInfo("error", None, None, "KSeF: rejected")),
    ({"ksef_status": "not_applicable"}, KsefInfo("not_applicable", None, None, None)),
    ({"ksef_status": ""}, None),
    ({}, None),
])
def test_ksef_fields_are_read_back(fields, expected):
    assert ksef_info(invoice_record(**fields)) == expected
    assert parse_invoice(invoice_record(**fields)).ksef == expected
