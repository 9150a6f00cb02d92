"""What iFirma receives for each hub document and option, and what pre-flight refuses."""

import json
from datetime import date
from decimal import Decimal

import pytest

from providers.base import RateTotal
from providers.ifirma_mapping import (
    CURRENCY_INVOICE,
    INVOICE,
    build_invoice,
    currency_resource,
    default_payment_code,
    has_reference,
    jsonable,
    parse_invoice,
    preflight,
    refusal_field_errors,
    remote_id_of,
    sequence_number,
    series_names,
    split_remote_id,
    totals_from_invoice,
)

from .factories import company_buyer, consumer_buyer, make_correction, make_doc, make_line, settings

KONTRAHENT = {
    "Nazwa": "Hurtownia Żółw Sp. z o.o.",
    "Identyfikator": None,
    "NIP": "6272616681",
    "OsobaFizyczna": False,
    "Ulica": "ul. Świętokrzyska 12",
    "KodPocztowy": "00-916",
    "Miejscowosc": "Łódź",
    "Kraj": "Polska",
    "KodKraju": "PL",
    "AdresZagraniczny": False,
    "Email": "zakupy@zolw.example",
}
MUG = {
    "NazwaPelna": "Kubek ceramiczny",
    "Jednostka": "szt",
    "Ilosc": Decimal(1),
    "CenaJednostkowa": Decimal("10.00"),
    "StawkaVat": Decimal("0.23"),
    "TypStawkiVat": "PRC",
    "PKWiU": "",
}
BASE = {
    "Zaplacono": Decimal("0.00"),
    "ZaplaconoNaDokumencie": Decimal("0.00"),
    "LiczOd": "BRT",
    "DataWystawienia": "2025-05-14",
    "DataSprzedazy": "2025-05-13",
    "FormatDatySprzedazy": "DZN",
    "TerminPlatnosci": "2025-05-28",
    "SposobZaplaty": "PRZ",
    "RodzajPodpisuOdbiorcy": "BPO",
    "WidocznyNumerGios": False,
    "Uwagi": "Nr ref.: IB-12-3456",
    "Numer": None,
    "Kontrahent": KONTRAHENT,
    "Pozycje": [MUG],
}


def without(payload: dict, *keys: str) -> dict:
    return {k: v for k, v in payload.items() if k not in keys}


def fields(problems) -> list[str]:
    return [p.field for p in problems]


# ------------------------------------------------------------------ payload


def test_plain_invoice_with_service_numbering():
    assert build_invoice(make_doc(), settings()) == BASE


def test_linked_series_is_sent_by_name_and_do_not_pass_leaves_it_out():
    assert build_invoice(make_doc(), settings(series_id="Sklep")) == {**BASE, "NazwaSeriiNumeracji": "Sklep"}
    assert "NazwaSeriiNumeracji" not in build_invoice(make_doc(), settings(series_id=None))


def test_hub_numbering_forces_the_sequence_number_within_the_series():
    payload = build_invoice(make_doc(number="FV/7/05/2025"), settings(numbering="hub"))
    assert payload["Numer"] == 7


@pytest.mark.parametrize("hub_number, sequence", [("FV/7/05/2025", 7), ("123", 123), ("PAR/0042/2025", 42),
                                                  ("FV/A/B", None), ("", None)])
def test_sequence_number_is_the_first_number(hub_number, sequence):
    assert sequence_number(hub_number) == sequence


@pytest.mark.parametrize(
    "shop_name, code",
    [
        ("Przelew", "PRZ"),
        ("Przelew bankowy", "PRZ"),
        ("Karta płatnicza", "KAR"),
        ("Gotówka", "GTK"),
        ("Za pobraniem", "POB"),
        ("Płatność przy odbiorze", "POB"),
        ("PayU", "ALG"),
        ("PayPal", "PAL"),
        ("Przelewy24", "P24"),
        ("P24", "P24"),
        ("tpay.com", "TPA"),
        ("DotPay", "DOT"),
        ("BLIK", "ELE"),
        ("Kompensata", "KOM"),
        ("kar", "KAR"),  # a code typed by hand
        ("", "PRZ"),  # no payment name: an ordinary transfer invoice
    ],
)
def test_shop_payment_names_map_to_ifirma_codes(shop_name, code):
    assert default_payment_code(shop_name) == code
    assert build_invoice(make_doc(payment_method=shop_name), settings())["SposobZaplaty"] == code


def test_payment_type_linked_in_settings_wins():
    payload = build_invoice(make_doc(payment_method="Przelew"), settings(payment_type="KOM"))
    assert payload == {**BASE, "SposobZaplaty": "KOM"}


def test_unknown_payment_name_needs_a_link_or_the_fallback_option():
    doc = make_doc(payment_method="Raty Santander")
    assert default_payment_code("Raty Santander") is None
    problems = preflight(doc, settings())
    assert fields(problems) == ["payment_method"]
    assert "Raty Santander" in problems[0].message and "Rodzaje płatności" in problems[0].message
    assert preflight(doc, settings(payment_type="PRZ")) == []
    assert preflight(doc, settings(), {"default_payment_type": "ele"}) == []
    assert build_invoice(doc, settings(), {"default_payment_type": "ele"})["SposobZaplaty"] == "ELE"


def test_a_payment_code_that_ifirma_does_not_have_is_refused():
    problems = preflight(make_doc(), settings(payment_type="transfer"))
    assert fields(problems) == ["payment_method"] and "PRZ" in problems[0].message


def test_hidden_payment_date_sends_no_due_date():
    assert build_invoice(make_doc(hide_payment_date=True), settings()) == without(BASE, "TerminPlatnosci")


def test_paid_document_sends_the_paid_amount_on_the_document():
    doc = make_doc(paid=True, paid_date=date(2025, 5, 14), lines=[make_line(quantity="3", unit_gross="19.99")])
    payload = build_invoice(doc, settings())
    assert (payload["Zaplacono"], payload["ZaplaconoNaDokumencie"]) == (Decimal("59.97"), Decimal("59.97"))


def test_recipient_signature_option():
    assert build_invoice(make_doc(), settings(), {"recipient_signature": "bwo"})["RodzajPodpisuOdbiorcy"] == "BWO"
    problems = preflight(make_doc(), settings(), {"recipient_signature": "XYZ"})
    assert fields(problems) == ["options.recipient_signature"]


def test_consumer_is_a_private_person_without_nip():
    payload = build_invoice(make_doc(buyer=consumer_buyer()), settings())
    assert payload["Kontrahent"] == {
        "Nazwa": "Małgorzata Wójcik",
        "Identyfikator": None,
        "OsobaFizyczna": True,
        "Ulica": "ul. Źródlana 3/5",
        "KodPocztowy": "30-001",
        "Miejscowosc": "Kraków",
        "Kraj": "Polska",
        "KodKraju": "PL",
        "AdresZagraniczny": False,
        "Email": "gosia@example.pl",
        "Telefon": "+48600100200",
    }


@pytest.mark.parametrize(
    "tax_id, country, prefix, number, country_name",
    [
        ("PL 627-261-66-81", "PL", None, "6272616681", "Polska"),
        ("DE136695976", "DE", "DE", "136695976", "Niemcy"),
        ("EL094259216", "GR", "EL", "094259216", "Grecja"),
        ("CHE-123.456.788", "CH", None, "CHE123456788", "Szwajcaria"),
    ],
)
def test_buyer_tax_id_is_split_into_eu_prefix_and_number(tax_id, country, prefix, number, country_name):
    buyer = build_invoice(make_doc(buyer=company_buyer(tax_id=tax_id, country=country)), settings())["Kontrahent"]
    assert (buyer.get("PrefiksUE"), buyer["NIP"], buyer["Kraj"], buyer["KodKraju"]) == (
        prefix, number, country_name, country,
    )
    assert buyer["AdresZagraniczny"] is (country != "PL")


def test_vat_rates_are_fractions_with_rate_type():
    doc = make_doc(lines=[make_line(vat_rate=r) for r in ("23", "8", "5", "0")])
    positions = build_invoice(doc, settings())["Pozycje"]
    assert [(p["StawkaVat"], p["TypStawkiVat"]) for p in positions] == [
        (Decimal("0.23"), "PRC"), (Decimal("0.08"), "PRC"), (Decimal("0.05"), "PRC"), (Decimal("0.00"), "PRC"),
    ]


def test_exempt_line_sends_zw_with_the_legal_basis():
    doc = make_doc(lines=[make_line(vat_rate="zw")], exemption_basis="Art. 43 ust. 1 pkt 29 lit. a")
    payload = build_invoice(doc, settings(), {"exemption_basis": "Art. 113 ust. 1"})
    assert payload["Pozycje"] == [{
        **without(MUG, "PKWiU"), "StawkaVat": None, "TypStawkiVat": "ZW", "PodstawaPrawna": "Art. 43 ust. 1 pkt 29 lit. a",
    }]
    fallback = build_invoice(make_doc(lines=[make_line(vat_rate="zw")]), settings(), {"exemption_basis": "Art. 113 ust. 1"})
    assert fallback["Pozycje"][0]["PodstawaPrawna"] == "Art. 113 ust. 1"


def test_not_subject_line_sends_np_or_the_configured_type():
    doc = make_doc(lines=[make_line(vat_rate="np")])
    assert build_invoice(doc, settings())["Pozycje"][0] == {**without(MUG, "PKWiU"), "StawkaVat": None,
                                                          "TypStawkiVat": "NP"}
    assert build_invoice(doc, settings(), {"np_rate_type": "np2"})["Pozycje"][0]["TypStawkiVat"] == "NP2"


def test_notes_and_our_reference_go_into_uwagi():
    payload = build_invoice(make_doc(notes="  Zamówienie nr 1234 – dziękujemy!  "), settings())
    assert payload["Uwagi"] == "Zamówienie nr 1234 – dziękujemy!\nNr ref.: IB-12-3456"
    assert has_reference(payload["Uwagi"], "IB-12-3456")
    assert not has_reference(payload["Uwagi"], "IB-12-345")  # a prefix of another reference
    assert not has_reference("Nr ref.: IB-12-34567", "IB-12-3456")
    assert not has_reference(None, "IB-12-3456")


def test_polish_text_and_fractional_quantities_pass_unchanged():
    line = make_line(name="Zażółć gęślą jaźń", quantity="2.500", unit_gross="4.00", unit="m")
    position = build_invoice(make_doc(lines=[line]), settings())["Pozycje"][0]
    assert (position["NazwaPelna"], position["Jednostka"], position["Ilosc"]) == ("Zażółć gęślą jaźń", "m",
                                                                                  Decimal("2.5"))


def test_payload_becomes_plain_json_numbers():
    payload = jsonable(build_invoice(make_doc(lines=[make_line(quantity="2.5", unit_gross="19.99")]), settings()))
    text = json.dumps(payload)
    assert '"Ilosc": 2.5' in text and '"CenaJednostkowa": 19.99' in text and '"StawkaVat": 0.23' in text
    assert '"Zaplacono": 0' in text and "Decimal" not in text


# ------------------------------------------------------------------ gross prices and totals


def test_gross_prices_give_the_hubs_per_rate_totals_where_per_line_rounding_differs():
    # 3 × 0.99 at 23 %: per-line nets 0.80 + 0.80 + 0.80 = 2.40, but the rate's net from its
    # gross sum is 2.97 − round(2.97 × 23/123) = 2.41 — what the hub prints.
    lines = [make_line(name=f"Naklejka {i}", unit_gross="0.99") for i in range(3)]
    doc = make_doc(lines=lines)
    assert sum(line.net for line in lines) == Decimal("2.40")
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)

    payload = build_invoice(doc, settings())

    assert payload["LiczOd"] == "BRT"
    assert [p["CenaJednostkowa"] for p in payload["Pozycje"]] == [Decimal("0.99")] * 3
    # iFirma's own rule for a gross-priced invoice, applied to exactly what we send:
    assert totals_from_invoice(jsonable(payload)) == doc.totals


def test_mixed_rates_with_quantities_keep_every_rate_total():
    lines = [
        make_line("Kubek", "3", "19.99", "23"),
        make_line("Talerz", "7", "1.01", "23"),
        make_line("Ciasto", "2", "12.49", "8"),
        make_line("Książka", "1", "49.00", "5"),
        make_line("Eksport", "1", "100.00", "0"),
        make_line("Szkolenie", "1", "250.00", "zw"),
        make_line("Usługa poza Polską", "1", "80.00", "np"),
    ]
    doc = make_doc(lines=lines, exemption_basis="Art. 113 ust. 1")
    assert totals_from_invoice(jsonable(build_invoice(doc, settings()))) == doc.totals


def test_totals_of_a_net_priced_invoice_with_discounted_prices():
    data = {"LiczOd": "NET", "Pozycje": [
        {"Ilosc": 2, "CenaJednostkowa": 10, "CenaZRabatem": 9, "StawkaVat": 0.23, "TypStawkiVat": "PRC"},
        {"Ilosc": 1, "CenaJednostkowa": 5, "StawkaVat": None, "TypStawkiVat": "ZW"},
    ]}
    assert totals_from_invoice(data) == (
        RateTotal("23", Decimal("18.00"), Decimal("4.14"), Decimal("22.14")),
        RateTotal("zw", Decimal("5.00"), Decimal("0.00"), Decimal("5.00")),
    )


def test_parse_invoice_reads_number_totals_and_payment_state():
    data = {"PelnyNumer": "FV 12/05/2025", "LiczOd": "BRT", "Zaplacono": Decimal("30.00"), "Uwagi": "Nr ref.: X",
            "Pozycje": [{"Ilosc": Decimal(3), "CenaJednostkowa": Decimal("10.00"), "StawkaVat": Decimal("0.23"),
                         "TypStawkiVat": "PRC"}]}
    remote = parse_invoice("4321", data)
    assert (remote.remote_id, remote.number, remote.status) == ("4321", "FV 12/05/2025", "paid")
    assert remote.totals == (RateTotal("23", Decimal("24.39"), Decimal("5.61"), Decimal("30.00")),)
    assert remote.total_gross == Decimal("30.00")
    assert remote.ksef is None and remote.view_url is None
    assert parse_invoice("1", {**data, "Zaplacono": 0}).status == "issued"


# ------------------------------------------------------------------ preflight


def test_a_clean_invoice_passes():
    assert preflight(make_doc(), settings()) == []
    assert preflight(make_doc(buyer=consumer_buyer()), settings()) == []


@pytest.mark.parametrize("kind, words", [("receipt", "paragonów"), ("correction", "korekt")])
def test_receipts_and_corrections_are_not_taken(kind, words):
    doc = make_doc(kind=kind) if kind == "receipt" else make_correction([(make_line(quantity="2"), make_line())])
    problems = preflight(doc, settings())
    assert fields(problems) == ["kind"] and words in problems[0].message


@pytest.mark.parametrize(
    "buyer_fields, field, limit",
    [
        ({"company_name": "Ż" * 151}, "buyer.company_name", 150),
        ({"street": "ul. " + "Długa " * 13}, "buyer.street", 65),
        ({"post_code": "1" * 17}, "buyer.post_code", 16),
        ({"city": "Ś" * 66}, "buyer.city", 65),
        ({"email": "a" * 55 + "@example.pl"}, "buyer.email", 65),
        ({"phone": "+48 " + "1" * 30}, "buyer.phone", 32),
    ],
)
def test_too_long_buyer_fields_are_named_before_sending(buyer_fields, field, limit):
    problems = preflight(make_doc(buyer=company_buyer(**buyer_fields)), settings())
    assert fields(problems) == [field]
    assert f"najwyżej {limit}" in problems[0].message


def test_buyer_fields_at_their_limits_pass():
    buyer = company_buyer(company_name="Ż" * 150, street="U" * 65, post_code="1" * 16, city="Ł" * 65,
                          email="a" * 53 + "@example.pl", phone="1" * 32)
    assert preflight(make_doc(buyer=buyer), settings()) == []


def test_too_long_person_name_points_at_the_name():
    problems = preflight(make_doc(buyer=consumer_buyer(first_name="Ą" * 100, last_name="Ę" * 60)), settings())
    assert fields(problems) == ["buyer.name"]


@pytest.mark.parametrize(
    "buyer_fields, field, words",
    [
        ({"post_code": ""}, "buyer.post_code", "kodu pocztowego"),
        ({"city": "  "}, "buyer.city", "miejscowości"),
        ({"tax_id": ""}, "buyer.tax_id", "Brak NIP"),
        ({"tax_id": "1234567890"}, "buyer.tax_id", "suma kontrolna"),
        ({"tax_id": "DE000000000", "country": "DE"}, "buyer.tax_id", "VAT UE"),
        ({"tax_id": "CHE1234567890123", "country": "CH"}, "buyer.tax_id", "najwyżej 13"),
        ({"company_name": "", "name": ""}, "buyer.company_name", "nazwy firmy"),
        ({"country": "Polska"}, "buyer.country", "kod ISO"),
    ],
)
def test_required_and_malformed_buyer_fields(buyer_fields, field, words):
    problems = preflight(make_doc(buyer=company_buyer(**buyer_fields)), settings())
    assert fields(problems) == [field]
    assert words in problems[0].message


def test_line_limits_and_rates():
    lines = [
        make_line(name="N" * 301),
        make_line(unit="opakowanie"),  # 10 characters: fine
        make_line(unit="opakowania"[:9] + "ów"),  # 11
        make_line(vat_rate="oo"),
    ]
    problems = preflight(make_doc(lines=lines), settings())
    assert fields(problems) == ["lines[0].name", "lines[2].unit", "lines[3].vat_rate"]
    assert "najwyżej 300" in problems[0].message
    assert "23, 8, 5, 0, zw, np" in problems[2].message


def test_only_zero_value_lines_are_refused():
    problems = preflight(make_doc(lines=[make_line(unit_gross="0.00")]), settings())
    assert fields(problems) == ["lines"]


def test_exempt_lines_need_a_short_legal_basis():
    doc = make_doc(lines=[make_line(vat_rate="zw")])
    assert fields(preflight(doc, settings())) == ["exemption_basis"]
    long_basis = make_doc(lines=doc.lines, exemption_basis="art. 43 ust. 1 pkt 29 lit. a ustawy o VAT")
    problems = preflight(long_basis, settings())
    assert fields(problems) == ["exemption_basis"] and "najwyżej 30" in problems[0].message
    assert preflight(doc, settings(), {"exemption_basis": "Art. 113 ust. 1"}) == []


def test_notes_leave_room_for_our_reference():
    room = 1000 - len("\nNr ref.: IB-12-3456")
    assert preflight(make_doc(notes="x" * room), settings()) == []
    problems = preflight(make_doc(notes="x" * (room + 1)), settings())
    assert fields(problems) == ["notes"] and f"najwyżej {room}" in problems[0].message


# ------------------------------------------------------------------ currency invoices (fakturawaluta)


def eur_doc(**overrides):
    lines = [make_line("Kubek ceramiczny", "2", "12.30", "23"), make_line("Książka", "1", "8.40", "5")]
    return make_doc(**{"lines": lines, "currency": "EUR", "exchange_rate": Decimal("4.3125"), **overrides})


EUR_LINES = [
    {**MUG, "Ilosc": Decimal(2), "CenaJednostkowa": Decimal("12.30")},
    {"NazwaPelna": "Książka", "Jednostka": "szt", "Ilosc": Decimal(1), "CenaJednostkowa": Decimal("8.40"),
     "StawkaVat": Decimal("0.05"), "TypStawkiVat": "PRC", "PKWiU": ""},
]


def test_a_document_in_euro_is_a_currency_invoice_with_the_orders_rate():
    payload = build_invoice(eur_doc(), settings())
    assert payload == {
        **BASE,
        "TypSprzedazy": "KRAJOWA",
        "Waluta": "EUR",
        "KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury": Decimal("4.3125"),
        "Pozycje": EUR_LINES,  # gross unit prices in euro, as for a domestic invoice (LiczOd BRT)
    }
    assert currency_resource(eur_doc()).name == "fakturawaluta"
    assert currency_resource(make_doc()).name == "fakturakraj"


def test_a_paid_currency_invoice_records_the_paid_amount_in_the_currency():
    payload = build_invoice(eur_doc(paid=True, paid_date=date(2025, 5, 14)), settings())
    assert (payload["Zaplacono"], payload["ZaplaconoNaDokumencie"]) == (Decimal("33.00"), Decimal("33.00"))
    assert "DataOtrzymaniaZaplaty" not in payload  # a domestic sale (KRAJOWA) has none


def test_currency_invoice_options_sale_type_language_and_ifirmas_own_rate():
    options = {"currency_sale_type": "wysylkowa", "currency_language": "EN", "send_exchange_rate": "0"}
    payload = build_invoice(eur_doc(paid=True, paid_date=date(2025, 5, 13)), settings(series_id="EXPORT"), options)
    assert payload["TypSprzedazy"] == "WYSYLKOWA" and payload["Jezyk"] == "en"
    assert payload["DataOtrzymaniaZaplaty"] == "2025-05-13"
    assert "KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury" not in payload
    # the same buyer, series and payment mapping as a domestic invoice
    assert payload["Kontrahent"] == KONTRAHENT and payload["NazwaSeriiNumeracji"] == "EXPORT"
    assert payload["SposobZaplaty"] == "PRZ" and payload["Uwagi"] == "Nr ref.: IB-12-3456"


def test_a_pln_document_carries_no_currency_fields():
    payload = build_invoice(make_doc(exchange_rate=Decimal(1)), settings(), {"currency_language": "en"})
    assert not {"TypSprzedazy", "Waluta", "Jezyk", "KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury"} & set(
        payload)


def test_a_currency_invoice_passes_preflight_and_without_a_rate_too():
    assert preflight(eur_doc(), settings()) == []
    assert preflight(eur_doc(exchange_rate=None), settings()) == []  # iFirma then takes its own rate
    assert "KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury" not in build_invoice(
        eur_doc(exchange_rate=None), settings())


def test_what_a_currency_invoice_cannot_take_is_refused_before_sending():
    problems = preflight(eur_doc(exchange_rate=Decimal(-1)), settings())
    assert fields(problems) == ["exchange_rate"] and "EUR/PLN" in problems[0].message
    assert fields(preflight(eur_doc(currency="euro"), settings())) == ["currency"]
    bad_options = {"currency_sale_type": "EKSPORT", "currency_language": "english"}
    assert fields(preflight(eur_doc(), settings(), bad_options)) == [
        "options.currency_sale_type", "options.currency_language"]
    reverse_charge = eur_doc(lines=[make_line(vat_rate="oo")])
    problems = preflight(reverse_charge, settings())
    assert fields(problems) == ["lines[0].vat_rate"]
    assert "fakturę w walucie iFirma" in problems[0].message and "23, 8, 5, 0, zw, np" in problems[0].message


@pytest.mark.parametrize("remote_id, resource, identifier", [
    ("34500001", "fakturakraj", "34500001"),  # ids stored before currency invoices: domestic
    ("fakturawaluta:34500002", "fakturawaluta", "34500002"),
    ("fakturakraj:7", "fakturakraj", "7"),
    ("inny:12", "fakturakraj", "inny:12"),  # not a resource of ours: the id as it is
])
def test_the_remote_id_names_the_resource(remote_id, resource, identifier):
    found, ident = split_remote_id(remote_id)
    assert (found.name, ident) == (resource, identifier)


def test_remote_ids_round_trip():
    assert remote_id_of(CURRENCY_INVOICE, 5) == "fakturawaluta:5"
    assert remote_id_of(INVOICE, 5) == "5"
    assert split_remote_id(remote_id_of(CURRENCY_INVOICE, 5)) == (CURRENCY_INVOICE, "5")


@pytest.mark.parametrize(
    "dates, field",
    [
        ({"issue_date": date(2025, 5, 12), "sell_date": date(2025, 5, 13), "payment_due": None}, "issue_date"),
        ({"issue_date": date(2025, 7, 16), "sell_date": date(2025, 6, 30), "payment_due": None}, "issue_date"),
        ({"issue_date": date(2026, 1, 16), "sell_date": date(2025, 12, 1), "payment_due": None}, "issue_date"),
        ({"payment_due": date(2025, 5, 1)}, "payment_due"),
    ],
)
def test_documented_date_rules(dates, field):
    assert fields(preflight(make_doc(**dates), settings())) == [field]


def test_issue_on_the_15th_of_the_next_month_passes():
    doc = make_doc(issue_date=date(2026, 1, 15), sell_date=date(2025, 12, 31), payment_due=None)
    assert preflight(doc, settings()) == []


def test_hub_numbering_needs_a_sequence_number():
    problems = preflight(make_doc(number="BEZ-NUMERU"), settings(numbering="hub"))
    assert fields(problems) == ["number"]


def test_series_names_from_options():
    assert series_names({"series_names": " Sklep, Hurt\nSklep ;Allegro "}) == ["Sklep", "Hurt", "Allegro"]
    assert series_names({}) == []


# ------------------------------------------------------------------ refusals


def test_refusal_text_becomes_field_errors():
    text = ("Data wystawienia faktury nie może być późniejsza niż 15 dzień miesiąca następnego\n"
            "Pole Podstawa prawna zwolnienia z podatku VAT jest wymagane\nNiepoprawny NIP kontrahenta\nInny błąd")
    assert refusal_field_errors(text) == {
        "issue_date": ["Data wystawienia faktury nie może być późniejsza niż 15 dzień miesiąca następnego"],
        "exemption_basis": ["Pole Podstawa prawna zwolnienia z podatku VAT jest wymagane"],
        "buyer.tax_id": ["Niepoprawny NIP kontrahenta"],
        "document": ["Inny błąd"],
    }
    assert list(refusal_field_errors("")) == ["document"]


@pytest.mark.parametrize("message, field", [
    ("Pole Kontrahent.Ulica może mieć maksymalnie 65 znaków.", "buyer.street"),
    ("Pole Kontrahent.KodPocztowy jest wymagane.", "buyer.post_code"),
    ("Pole Kontrahent.NIP musi zawierać 10 cyfr polskiego numeru NIP.", "buyer.tax_id"),
    ("Pole Pozycje[1].NazwaPelna może mieć maksymalnie 300 znaków.", "lines"),
    ("Pole Pozycje[2].PodstawaPrawna jest wymagane", "exemption_basis"),
    ("SposobZaplaty ma niedozwoloną wartość 'BLIK'", "payment_method"),
    ("Pole Uwagi może mieć maksymalnie 1000 znaków.", "notes"),
    ("Pole Zaplacono nie może być większe niż kwota brutto dokumentu (60.00).", "paid"),
])
def test_refusals_naming_an_ifirma_field_point_at_the_hub_field(message, field):
    assert refusal_field_errors(message) == {field: [message]}
