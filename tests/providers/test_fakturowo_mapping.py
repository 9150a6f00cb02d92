"""What Fakturowo receives for each kind of hub document and option, and how its text answers read."""

from collections import defaultdict
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import settings as settings_hypothesis
from hypothesis import strategies as st

from providers.base import VAT_RATES, Problem, RateTotal
from providers.fakturowo_mapping import (
    DEFAULT_LIST_COLUMNS,
    PAYMENT_CODES,
    Answer,
    agrees,
    build_fields,
    default_payment_code,
    field_of_message,
    fingerprint_matches,
    mentions,
    number_matches,
    pack_remote_id,
    parse_answer,
    parse_created,
    parse_list,
    preflight,
    remote_document,
    unpack_remote_id,
)

from .factories import company_buyer, consumer_buyer, make_correction, make_doc, make_line, settings

API = "https://konto.fakturowo.pl/api"
SELLER = {
    "sprzedawca_nazwa": "Sklep Ąę Sp. j.",
    "sprzedawca_nip": "5252445767",
    "sprzedawca_ulica": "ul. Polna 1",
    "sprzedawca_kod": "00-001",
    "sprzedawca_miasto": "Warszawa",
    "sprzedawca_panstwo": "Polska",
}
BUYER = {
    "nabywca_osoba": "0",
    "nabywca_nazwa": "Hurtownia Żółw Sp. z o.o.",
    "nabywca_nip": "6272616681",
    "nabywca_ulica": "ul. Świętokrzyska 12",
    "nabywca_kod": "00-916",
    "nabywca_miasto": "Łódź",
    "nabywca_panstwo": "Polska",
    "nabywca_email": "zakupy@zolw.example",
}
MUG = {
    "produkt_nazwa_1": "Kubek ceramiczny",
    "produkt_ilosc_1": "1",
    "produkt_jm_1": "2",
    "produkt_stawka_vat_1": "23",
    "produkt_wartosc_brutto_1": "10.00",
}
BASE = {
    "api_zadanie": "1",
    "dokument_rodzaj": "0",
    "dokument_dostep": "1",
    "dokument_data_w": "14-05-2025",
    "dokument_pokaz_data_w": "1",
    "dokument_data_s": "13-05-2025",
    "dokument_pokaz_data_s": "1",
    "dokument_data_s_oznaczenie": "0",
    "dokument_miejsce": "Warszawa",
    "dokument_pokaz_miejsce": "1",
    "dokument_zaplata": "0",
    "dokument_pokaz_zaplata": "1",
    "dokument_data_p": "28-05-2025",
    "dokument_pokaz_data_p": "1",
    "dokument_data_p_oznaczenie": "0",
    "dokument_status": "0",
    "dokument_waluta": "0",
    "dokument_uwagi_niewidoczne": "IB-12-3456",
    **SELLER,
    **BUYER,
    **MUG,
}


def without(payload: dict, *keys: str) -> dict:
    return {k: v for k, v in payload.items() if k not in keys}


def sent_gross_per_rate(fields: dict) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for key, value in fields.items():
        if key.startswith("produkt_wartosc_brutto"):
            rate = fields[key.replace("wartosc_brutto", "stawka_vat")]
            sums[rate] += Decimal(value)
    return dict(sums)


# ------------------------------------------------------------------ invoices and receipts


def test_plain_invoice_with_service_numbering():
    assert build_fields(make_doc(), settings()) == BASE


def test_hub_numbering_sends_and_shows_the_hub_number():
    fields = build_fields(make_doc(), settings(numbering="hub"))
    assert fields == {**BASE, "dokument_numer": "FV/7/05/2025", "dokument_pokaz_numer": "1"}


def test_receipt_to_a_consumer_with_hidden_payment_date():
    doc = make_doc(kind="receipt", buyer=consumer_buyer(), hide_payment_date=True, payment_method="Karta",
                   paid=True, paid_date=date(2025, 5, 14))
    fields = build_fields(doc, settings())
    assert fields["dokument_rodzaj"] == "20"
    assert {k: v for k, v in fields.items() if k.startswith("nabywca_")} == {
        "nabywca_osoba": "1",
        "nabywca_imie": "Małgorzata",
        "nabywca_nazwisko": "Wójcik",
        "nabywca_ulica": "ul. Źródlana 3/5",
        "nabywca_kod": "30-001",
        "nabywca_miasto": "Kraków",
        "nabywca_panstwo": "Polska",
        "nabywca_email": "gosia@example.pl",
        "nabywca_telefon": "+48600100200",
    }
    assert (fields["dokument_pokaz_data_p"], fields["dokument_pokaz_termin"]) == ("0", "0")
    assert "dokument_data_p" not in fields
    assert (fields["dokument_zaplata"], fields["dokument_status"], fields["dokument_zaplacono"]) == ("21", "1", "10.00")


def test_a_consumer_known_only_by_full_name_is_split_into_first_and_last_name():
    buyer = consumer_buyer(first_name="", last_name="", name="Jan Maria Rokita")
    fields = build_fields(make_doc(buyer=buyer), settings())
    assert (fields["nabywca_imie"], fields["nabywca_nazwisko"]) == ("Jan", "Maria Rokita")


def test_paid_invoice_says_paid_with_the_amount():
    doc = make_doc(paid=True, paid_date=date(2025, 5, 14), lines=[make_line(quantity="3", unit_gross="19.99")])
    fields = build_fields(doc, settings())
    assert fields["dokument_zaplata"] == "14"  # "zapłacono przelewem"
    assert {k: fields[k] for k in ("dokument_status", "dokument_zaplacono", "dokument_pokaz_zaplacono",
                                   "dokument_zaplacono_oznaczenie")} == {
        "dokument_status": "1", "dokument_zaplacono": "59.97", "dokument_pokaz_zaplacono": "1",
        "dokument_zaplacono_oznaczenie": "0"}


@pytest.mark.parametrize("shop_name, paid, code", [
    ("Przelew", False, "0"),
    ("Przelew bankowy", True, "14"),
    ("Przelewy24", True, "20"),
    ("Przelewy24", False, "31"),
    ("PayU", True, "18"),
    ("PayPal", True, "16"),
    ("BLIK", True, "31"),
    ("Płatność przy odbiorze", False, "12"),
    ("Za pobraniem", True, "12"),
    ("Karta płatnicza", True, "21"),
    ("Gotówka", False, "13"),
    ("Gotówka", True, "15"),
    ("Kompensata", False, "25"),
    ("21", False, "21"),
    ("Coś nowego", False, "0"),
    ("", True, "14"),
])
def test_default_payment_codes(shop_name, paid, code):
    assert default_payment_code(shop_name, paid) == code
    assert code in PAYMENT_CODES


def test_linked_payment_type_wins_over_the_default_mapping():
    fields = build_fields(make_doc(payment_method="Przelew"), settings(payment_type="8"))
    assert fields["dokument_zaplata"] == "8"


def test_foreign_currency_sends_its_index_and_own_exchange_rate():
    doc = make_doc(currency="EUR", exchange_rate=Decimal("4.2718"))
    fields = build_fields(doc, settings())
    assert {k: fields[k] for k in fields if k.startswith(("dokument_waluta", "dokument_przelicz", "dokument_rodzaj_k",
                                                          "dokument_kurs"))} == {
        "dokument_waluta": "1", "dokument_przelicz_walute": "PLN", "dokument_rodzaj_kursu": "1",
        "dokument_kurs_wymiany": "4.2718"}
    assert build_fields(make_doc(currency="CZK", exchange_rate=Decimal("0.17")), settings())["dokument_waluta"] == "14"


def test_exempt_lines_carry_the_basis_from_the_document_or_the_option():
    lines = [make_line(), make_line("Szkolenie", "1", "250.00", "zw")]
    from_doc = build_fields(make_doc(lines=lines, exemption_basis="art. 43 ust. 1 pkt 29 lit. b"), settings())
    assert (from_doc["dokument_rodzaj_podstawa_zw"], from_doc["dokument_podstawa_zw"]) == (
        "3", "art. 43 ust. 1 pkt 29 lit. b")
    from_option = build_fields(make_doc(lines=lines), settings(), {"exemption_basis": "art. 113 ust. 1",
                                                                   "exemption_basis_kind": "1"})
    assert (from_option["dokument_rodzaj_podstawa_zw"], from_option["dokument_podstawa_zw"]) == ("1", "art. 113 ust. 1")
    assert "dokument_podstawa_zw" not in build_fields(make_doc(), settings())


def test_notes_are_printed_with_service_line_breaks_and_the_reference_stays_hidden():
    fields = build_fields(make_doc(notes="Zamówienie 123\nDziękujemy!"), settings())
    assert fields["dokument_uwagi"] == "Zamówienie 123[n]Dziękujemy!"
    assert (fields["dokument_pokaz_uwagi"], fields["dokument_uwagi_oznaczenie"]) == ("1", "1")
    assert fields["dokument_uwagi_niewidoczne"] == "IB-12-3456"
    assert "dokument_uwagi" not in build_fields(make_doc(notes="  "), settings())


def test_bank_account_and_email_are_sent_only_when_configured():
    plain = build_fields(make_doc(), settings())
    assert "dokument_konto" not in plain and "dokument_email" not in plain
    fields = build_fields(make_doc(), settings(), {"bank_account": "PL61109010140000071219812874", "send_email": "1"})
    assert (fields["dokument_konto"], fields["dokument_pokaz_konto"]) == ("PL61109010140000071219812874", "1")
    assert fields["dokument_email"] == "zakupy@zolw.example"


def test_foreign_vat_id_keeps_its_prefix_and_a_pl_prefix_is_dropped():
    eu = build_fields(make_doc(buyer=company_buyer(tax_id="DE 136 695 976", country="DE")), settings())
    assert (eu["nabywca_nip"], eu["nabywca_panstwo"]) == ("DE136695976", "Niemcy")
    pl = build_fields(make_doc(buyer=company_buyer(tax_id="PL627-261-66-81")), settings())
    assert pl["nabywca_nip"] == "6272616681"


def test_sku_is_never_sent():
    fields = build_fields(make_doc(lines=[make_line(sku="KUB-01")]), settings(send_sku=True))
    assert not any("KUB-01" in value for value in fields.values())


# ------------------------------------------------------------------ lines


def test_several_lines_are_numbered_from_one():
    lines = [make_line("A"), make_line("B", "2", "5.55", "8"), make_line("C", "0.5", "3.00", "zw")]
    fields = build_fields(make_doc(lines=lines, exemption_basis="art. 43"), settings())
    assert [fields[f"produkt_nazwa_{i}"] for i in (1, 2, 3)] == ["A", "B", "C"]
    assert [fields[f"produkt_ilosc_{i}"] for i in (1, 2, 3)] == ["1", "2", "0.5"]
    assert [fields[f"produkt_wartosc_brutto_{i}"] for i in (1, 2, 3)] == ["10.00", "11.10", "1.50"]
    assert [fields[f"produkt_stawka_vat_{i}"] for i in (1, 2, 3)] == ["23", "8", "zw"]
    assert not any(k.startswith(("produkt_cena", "produkt_wartosc_netto")) for k in fields)


def test_first_line_without_suffix_when_asked():
    lines = [make_line("A"), make_line("B")]
    fields = build_fields(make_doc(lines=lines), settings(), {"line_suffix_style": "plain_first"})
    assert (fields["produkt_nazwa"], fields["produkt_nazwa_2"]) == ("A", "B")
    assert "produkt_nazwa_1" not in fields


@pytest.mark.parametrize("unit, options, sent", [
    ("szt", {}, "2"),
    ("szt.", {}, "2"),
    ("usł", {}, "1"),
    ("usługa", {}, "1"),
    ("kg", {}, "15"),
    ("h", {}, "8"),
    ("m²", {}, "21"),
    ("wiadro", {}, "2"),  # unknown units print as pieces
    ("szt", {"unit_code_offset": "0"}, "1"),
    ("usł", {"unit_code_offset": "0"}, "0"),
    ("kpl", {"units_as_text": "1"}, "kpl"),
    ("abonament", {}, "abonament"),  # shifted 51 is beyond every known table: sent as text
    ("abonament", {"unit_code_offset": "0"}, "50"),
])
def test_unit_codes(unit, options, sent):
    fields = build_fields(make_doc(lines=[make_line(unit=unit)]), settings(), options)
    assert fields["produkt_jm_1"] == sent


def test_gross_per_rate_equals_the_hubs_where_per_line_rounding_would_differ():
    # 3 × 0.99 at 23 %: nets per line sum to 2.40, the rate's net from its gross is 2.41.
    lines = [make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)]
    doc = make_doc(lines=lines)
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)
    assert sum(line.net for line in lines) == Decimal("2.40")
    fields = build_fields(doc, settings())
    assert sent_gross_per_rate(fields) == {"23": Decimal("2.97")}


@settings_hypothesis(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(VAT_RATES), st.integers(1, 7), st.integers(1, 99_999)),
                min_size=1, max_size=12))
def test_sent_gross_per_rate_always_equals_the_hub_totals(specs):
    lines = [make_line(f"P{i}", str(qty), f"{Decimal(cents) / 100:.2f}", rate)
             for i, (rate, qty, cents) in enumerate(specs)]
    doc = make_doc(lines=lines, exemption_basis="art. 43")
    sent = sent_gross_per_rate(build_fields(doc, settings()))
    assert sent == {total.rate: total.gross for total in doc.totals}


# ------------------------------------------------------------------ preflight


def test_a_clean_document_has_no_problems():
    assert preflight(make_doc(), settings()) == []
    assert preflight(make_doc(kind="receipt", buyer=consumer_buyer(name="", first_name="", last_name="")),
                     settings()) == []


def test_corrections_are_refused_with_where_to_issue_them():
    problems = preflight(make_correction([(make_line(quantity="2"), make_line())]), settings())
    assert problems == [Problem("kind", "Fakturowo nie przyjmuje korekt przez API – wystaw je w panelu Fakturowo.")]


@pytest.mark.parametrize("overrides, field, words", [
    ({"buyer": company_buyer(tax_id="1234567890")}, "buyer.tax_id", "zła suma kontrolna"),
    ({"buyer": company_buyer(tax_id="")}, "buyer.tax_id", "wpisz 10-cyfrowy NIP"),
    ({"buyer": company_buyer(tax_id="DE123", country="DE")}, "buyer.tax_id", "prefiksem kraju"),
    ({"buyer": company_buyer(company_name="", name="")}, "buyer.company_name", "uzupełnij nazwę firmy"),
    ({"buyer": consumer_buyer(name="", first_name="", last_name="")}, "buyer.name", "uzupełnij dane klienta"),
    ({"currency": "ZWL", "exchange_rate": Decimal(1)}, "currency", "PLN, EUR"),
    ({"currency": "EUR"}, "exchange_rate", "podaj kurs"),
    ({"lines": [make_line(vat_rate="7")]}, "lines[0].vat_rate", "wybierz jedną z: 23, 8, 5, 0, zw, np, oo"),
    ({"lines": [make_line(name="  ")]}, "lines[0].name", "uzupełnij nazwę"),
    ({"lines": [make_line(name="x" * 257)]}, "lines[0].name", "skróć"),
    ({"lines": [make_line(quantity="0")]}, "lines[0].quantity", "większa od zera"),
    ({"lines": [make_line(vat_rate="zw")]}, "exemption_basis", "podstawy zwolnienia"),
    ({"notes": "ż" * 257}, "notes", "skróć je"),
    ({"seller": company_buyer(tax_id="")}, "seller.tax_id", "ustawieniach"),
])
def test_preflight_names_the_field_and_the_fix(overrides, field, words):
    problems = preflight(make_doc(**overrides), settings())
    assert [p.field for p in problems] == [field]
    assert words in problems[0].message


def test_preflight_checks_numbering_and_payment_links():
    assert [p.field for p in preflight(make_doc(number=""), settings(numbering="hub"))] == ["number"]
    assert [p.field for p in preflight(make_doc(), settings(payment_type="transfer"))] == ["payment_method"]
    assert preflight(make_doc(lines=[make_line(vat_rate="zw")]), settings(), {"exemption_basis": "art. 43"}) == []


def test_an_empty_document_is_refused():
    empty = replace(make_doc(), lines=())
    assert [p.field for p in preflight(empty, settings())] == ["lines"]


# ------------------------------------------------------------------ answers


def test_answers_are_read_line_by_line():
    assert parse_answer("1\r\n123\r\n") == Answer(True, ("123",))
    assert parse_answer("\ufeff0\nNieprawidłowy NIP nabywcy\n\n") == Answer(False, ("Nieprawidłowy NIP nabywcy",))
    assert parse_answer("0\nNieprawidłowy NIP\nnabywcy").message == "Nieprawidłowy NIP nabywcy"
    for body in ("", "<html>502</html>", "OK", "2\nx"):
        assert parse_answer(body) is None


def test_created_document_links_by_position_and_by_their_words():
    positional = parse_created(parse_answer("1\n5501\nhttps://f.pl/d/aa\nhttps://f.pl/v/aa\nFV_1_2025.pdf"))
    assert (positional.api_numer, positional.pdf_url, positional.view_url, positional.file_name) == (
        "5501", "https://f.pl/d/aa", "https://f.pl/v/aa", "FV_1_2025.pdf")
    # An answer that also echoes a free parameter is read by the words in the links.
    worded = parse_created(parse_answer("1\n5502\nIB-1\nhttps://f.pl/pokaz/bb\nhttps://f.pl/pobierz/bb\nx.pdf"))
    assert (worded.pdf_url, worded.view_url) == ("https://f.pl/pobierz/bb", "https://f.pl/pokaz/bb")
    bare = parse_created(parse_answer("1\n5503"))
    assert (bare.api_numer, bare.pdf_url, bare.view_url) == ("5503", None, None)
    assert parse_created(Answer(True, ())) is None


LIST_ROW = ("7001;0;FV 3/05/2025;2025-05-14;2025-05-13;0;8.13;1.87;10.00;Sklep Ąę Sp. j.;ul. Polna 1, Warszawa;"
            "5252445767;Hurtownia Żółw Sp. z o.o.;ul. Świętokrzyska 12, Łódź;6272616681;0;1;28-05-2025")


def test_list_page_count_and_rows_by_column_name():
    pages, rows = parse_list(parse_answer(f"1\n3\n{LIST_ROW}\n\n"))
    assert pages == 3 and len(rows) == 1
    row = rows[0]
    assert (row.api_numer, row.get("numer"), row.get("brutto"), row.get("nabywca_nip")) == (
        "7001", "FV 3/05/2025", "10.00", "6272616681")
    remote = remote_document(row, "7001", None, None)
    assert (remote.number, remote.status, remote.total_gross, remote.raw["currency"]) == (
        "FV 3/05/2025", "paid", Decimal("10.00"), "PLN")
    assert remote.totals == ()


def test_list_columns_can_be_reordered():
    columns = ("api_numer", "numer", "brutto")
    _, [row] = parse_list(parse_answer("1\n1\n9;PAR 1/2025;12,50"), columns)
    assert (row.get("numer"), row.get("brutto")) == ("PAR 1/2025", "12,50")
    assert DEFAULT_LIST_COLUMNS[:3] == ("api_numer", "rodzaj", "numer")


def test_list_without_a_page_count_is_an_error():
    with pytest.raises(ValueError):
        parse_list(parse_answer("1\nabc"))


def listed(row: str = LIST_ROW):
    return parse_list(parse_answer(f"1\n1\n{row}"))[1][0]


def test_fingerprint_is_kind_date_total_and_buyer():
    doc = make_doc()  # 10.00 gross, issued 2025-05-14, buyer NIP 6272616681
    assert fingerprint_matches(listed(), doc)
    assert not fingerprint_matches(listed(LIST_ROW.replace(";10.00;", ";10.01;")), doc)
    assert not fingerprint_matches(listed(LIST_ROW.replace("2025-05-14", "2025-05-15")), doc)
    assert not fingerprint_matches(listed(LIST_ROW.replace("6272616681", "5252248481")), doc)
    assert not fingerprint_matches(listed(LIST_ROW.replace("7001;0;", "7001;20;")), doc)
    assert fingerprint_matches(listed(LIST_ROW.replace("2025-05-14", "14-05-2025")), doc)
    consumer = make_doc(kind="receipt", buyer=consumer_buyer())
    receipt_row = LIST_ROW.replace("7001;0;", "7001;20;").replace("Hurtownia Żółw Sp. z o.o.", "MAŁGORZATA  Wójcik")
    assert fingerprint_matches(listed(receipt_row.replace(";6272616681;", ";;")), consumer)
    assert not fingerprint_matches(listed(receipt_row.replace(";6272616681;", ";;").replace("Wójcik", "Nowak")),
                                   consumer)


def test_reference_and_number_matching():
    assert mentions(listed(LIST_ROW + ";IB-12-3456"), "IB-12-3456")
    assert mentions(listed(LIST_ROW + ";Invoice Bridge IB-12-3456"), "IB-12-3456")
    assert not mentions(listed(LIST_ROW + ";IB-12-34567"), "IB-12-3456")
    assert not mentions(listed(), "IB-12-3456")
    assert number_matches(listed(), "FV 3/05/2025")
    assert not number_matches(listed(), "FV 3/05/2024")
    assert not number_matches(listed(), "")


def test_a_number_match_is_confirmed_by_whatever_the_row_can_tell():
    doc = make_doc()
    assert agrees(listed(), doc)
    assert not agrees(listed(LIST_ROW.replace(";10.00;", ";12.00;")), doc)
    assert not agrees(listed(LIST_ROW.replace("2025-05-14", "2025-05-15")), doc)
    short_row = parse_list(parse_answer("1\n1\n7001;0;FV/7/05/2025"))[1][0]  # a list with fewer columns
    assert agrees(short_row, doc) and not fingerprint_matches(short_row, doc)


def test_remote_id_carries_the_links_compactly_and_round_trips():
    pdf, view = "https://konto.fakturowo.pl/pobierz/a1b2", "https://konto.fakturowo.pl/pokaz/a1b2"
    packed = pack_remote_id("7001", pdf, view, API)
    assert packed == "7001|/pobierz/a1b2"
    assert unpack_remote_id(packed, API) == ("7001", pdf, view)
    other_host = pack_remote_id("7002", "https://www.fakturowo.pl/d/x.pdf", "https://www.fakturowo.pl/v/x", API)
    assert unpack_remote_id(other_host, API) == ("7002", "https://www.fakturowo.pl/d/x.pdf",
                                                 "https://www.fakturowo.pl/v/x")
    assert pack_remote_id("7003", None, None, API) == "7003"
    assert unpack_remote_id("7003", API) == ("7003", None, None)


@pytest.mark.parametrize("message, field", [
    ("Nieprawidłowy NIP nabywcy", "buyer.tax_id"),
    ("Błędny parametr nabywca_nip", "buyer.tax_id"),
    ("Nieprawidłowy NIP sprzedawcy", "seller.tax_id"),
    ("Brak parametru produkt_nazwa_2", "lines[1].name"),
    ("Nieprawidłowa wartość produkt_stawka_vat_3", "lines[2].vat_rate"),
    ("Nieprawidłowa wartość produkt_jm", "lines[0].unit"),
    ("Nieprawidłowy kod pocztowy", "buyer.post_code"),
    ("Dokument o tym numerze już istnieje", "number"),
    ("Nieobsługiwana waluta", "currency"),
    ("Nieznany sposób zapłaty", "payment_method"),
    ("Coś poszło nie tak", "document"),
])
def test_refusal_messages_point_at_the_hub_field(message, field):
    assert field_of_message(message) == field
