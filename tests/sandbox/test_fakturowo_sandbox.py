"""The Fakturowo emulator behaves like the contract says the real service does.

One form-encoded endpoint, ``api_zadanie`` picks the operation, answers are
plain-text lines: ``1`` + values or ``0`` + a Polish message, both HTTP 200.
Most tests use the Flask test client; the last ones talk to a real server.
"""

from __future__ import annotations

import io
import threading
import time
from datetime import date, timedelta

import pytest
import requests
from pypdf import PdfReader

from providers.sandbox import create_sandbox_app
from providers.sandbox import fakturowo as emulator
from providers.sandbox.pdf import find_font
from tests.sandbox_server import running_sandbox

KEY = "0f3a9c1d2e4b5a6978c0d1e2f3a4b5c6"
API = "/fakturowo/api"


@pytest.fixture
def app(tmp_path):
    return create_sandbox_app(tmp_path / "sandbox.sqlite3")


def add_account(client, prefix="acme", key=KEY, **options):
    response = client.post(
        "/_sandbox/fakturowo/accounts", json={"prefix": prefix, "api_token": key, "options": options}
    )
    assert response.status_code == 201, response.json
    return response


@pytest.fixture
def client(app):
    test_client = app.test_client()
    add_account(test_client)
    return test_client


def invoice(**overrides) -> dict:
    """The minimal working request of the contract, with a company buyer."""
    form = {
        "api_id": KEY,
        "api_zadanie": "1",
        "dokument_rodzaj": "0",
        "dokument_data_w": "10-03-2026",
        "dokument_data_s": "09-03-2026",
        "dokument_zaplata": "8",
        "sprzedawca_nazwa": "Sklep Łąkowy Sp. z o.o.",
        "sprzedawca_nip": "5252344078",
        "sprzedawca_ulica": "ul. Polna",
        "sprzedawca_budynek": "12",
        "sprzedawca_lokal": "3",
        "sprzedawca_kod": "00-950",
        "sprzedawca_miasto": "Warszawa",
        "nabywca_nazwa": "Hurtownia Żółw Sp. z o.o.",
        "nabywca_nip": "526-025-02-74",
        "nabywca_ulica": "ul. Długa 5",
        "nabywca_kod": "31-147",
        "nabywca_miasto": "Kraków",
        "nabywca_panstwo": "Polska",
        "produkt_nazwa": "Kubek ceramiczny",
        "produkt_ilosc": "2",
        "produkt_jm": "1",
        "produkt_stawka_vat": "23",
        "produkt_wartosc_brutto": "246.00",
    }
    form.update(overrides)
    return {name: value for name, value in form.items() if value is not None}


def call(client, form: dict, path: str = API):
    response = client.post(path, data=form)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return response.get_data(as_text=True).split("\n")


def issued(client, form: dict) -> list[str]:
    lines = call(client, form)
    assert lines[0] == "1", lines
    return lines


def refused(client, form: dict, path: str = API) -> str:
    lines = call(client, form, path)
    assert lines[0] == "0" and len(lines) == 2, lines
    return lines[1]


def documents(client, **filters) -> list[dict]:
    return client.get("/_sandbox/fakturowo/documents", query_string=filters).json["documents"]


def only_document(client, **filters) -> dict:
    [document] = documents(client, account="acme", **filters)
    return document


def listing(client, page=None, key=KEY) -> tuple[int, list[list[str]]]:
    form = {"api_id": key, "api_zadanie": "3", **({"p": str(page)} if page is not None else {})}
    lines = call(client, form)
    assert lines[0] == "1", lines
    return int(lines[1]), [line.split(";") for line in lines[2:]]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


# ---------------------------------------------------------------------------
# issuing documents


def test_issue_answers_ok_the_api_numer_and_with_access_the_links(client):
    lines = issued(client, invoice(dokument_dostep="1"))

    assert len(lines) == 5 and lines[1].isdigit()
    assert lines[2].startswith("http://localhost/fakturowo/pobierz/")
    assert lines[3].startswith("http://localhost/fakturowo/pokaz/")
    assert lines[4].endswith(".pdf")
    stored = only_document(client, api_numer=lines[1])
    # api_numer is Fakturowo's id; the printed number is the service's own
    assert stored["number"] == "FV 1/2026" and stored["numbered_by"] == "service"
    assert (stored["total_net"], stored["total_vat"], stored["total_gross"]) == ("200.00", "46.00", "246.00")
    [line] = stored["lines"]
    assert (line["quantity"], line["unit_net"], line["net"], line["vat"], line["gross"]) == (
        "2.0",
        "100.00",
        "200.00",
        "46.00",
        "246.00",
    )
    assert (stored["payment_method"], stored["payment_due"]) == ("Przelew 14 dni", "2026-03-24")
    assert (stored["issue_date"], stored["sale_date"]) == ("2026-03-10", "2026-03-09")
    assert stored["buyer"]["nip"] == "5260250274"


def test_without_access_flag_the_answer_is_only_the_id(client):
    lines = issued(client, invoice())

    assert len(lines) == 2 and lines[1].isdigit()


def test_receipt_needs_no_buyer_and_has_its_own_numbering(client):
    issued(client, invoice())
    receipt = invoice(dokument_rodzaj="20", dokument_zaplata="15", nabywca_nazwa=None, nabywca_nip=None)

    lines = issued(client, receipt)

    stored = only_document(client, api_numer=lines[1])
    assert (stored["kind"], stored["title"], stored["number"]) == ("receipt", "Paragon", "PAR 1/2026")
    assert stored["payment_method"] == "Zapłacono gotówką" and stored["payment_due"] is None
    assert [d["number"] for d in documents(client, account="acme", kind="vat")] == ["FV 1/2026"]
    assert [d["number"] for d in documents(client, account="acme", kind="20")] == ["PAR 1/2026"]


def test_private_buyer_is_named_by_first_and_last_name_without_a_nip(client):
    person = invoice(nabywca_osoba="1", nabywca_nazwa=None, nabywca_imie="Zofia", nabywca_nazwisko="Gęślarz")

    stored = only_document(client, api_numer=issued(client, person)[1])
    nameless = refused(client, invoice(nabywca_osoba="1", nabywca_nazwa=None))

    assert stored["buyer_is_person"] and stored["buyer"]["imie"] == "Zofia"
    assert "nip" not in stored["buyer"]  # a private person carries no NIP
    assert "nabywca_imie" in nameless


def test_both_line_suffix_styles_are_read_and_a_gap_ends_the_lines(client):
    halfik = invoice(
        produkt_nazwa_2="Herbata zielona",
        produkt_ilosc_2="3",
        produkt_stawka_vat_2="5",
        produkt_wartosc_brutto_2="55.50",
    )
    del halfik["produkt_jm"]
    csharp = {key: value for key, value in invoice().items() if not key.startswith("produkt_")}
    csharp.update(
        produkt_nazwa_1="Kubek ceramiczny",
        produkt_ilosc_1="2",
        produkt_stawka_vat_1="23",
        produkt_wartosc_brutto_1="246.00",
        produkt_nazwa_2="Świeca",
        produkt_ilosc_2="1",
        produkt_stawka_vat_2="8",
        produkt_wartosc_brutto_2="10.80",
        produkt_nazwa_4="Za przerwą",
        produkt_ilosc_4="1",
        produkt_stawka_vat_4="23",
        produkt_wartosc_brutto_4="1.23",
    )

    first = only_document(client, api_numer=issued(client, halfik)[1])
    second = only_document(client, api_numer=issued(client, csharp)[1])

    assert [line["name"] for line in first["lines"]] == ["Kubek ceramiczny", "Herbata zielona"]
    assert [line["name"] for line in second["lines"]] == ["Kubek ceramiczny", "Świeca"]
    assert "produkt_nazwa_4" in second["unknown_parameters"]
    assert second["total_gross"] == "256.80"


def test_gross_lines_are_totalled_per_rate_from_the_gross_sum(client):
    # Three lines of 1.00 gross at 23%: each line nets 0.81 (2.43 together), but the
    # rate's net comes from its gross sum: 3.00 / 1.23 = 2.44.
    form = invoice(produkt_wartosc_brutto="1.00", produkt_ilosc="1")
    for n in (2, 3):
        form.update(
            {
                f"produkt_nazwa_{n}": f"Naklejka {n}",
                f"produkt_ilosc_{n}": "1",
                f"produkt_stawka_vat_{n}": "23",
                f"produkt_wartosc_brutto_{n}": "1.00",
            }
        )

    stored = only_document(client, api_numer=issued(client, form)[1])

    assert [line["net"] for line in stored["lines"]] == ["0.81"] * 3
    assert stored["rate_totals"] == [{"rate": "23", "net": "2.44", "vat": "0.56", "gross": "3.00"}]
    assert (stored["total_net"], stored["total_vat"], stored["total_gross"]) == ("2.44", "0.56", "3.00")


def test_net_priced_lines_take_vat_from_the_net_sum_per_rate(client):
    form = invoice(produkt_wartosc_brutto=None, produkt_cena_netto="0.81", produkt_ilosc="1")
    for n in (2, 3):
        form.update(
            {
                f"produkt_nazwa_{n}": f"Usługa {n}",
                f"produkt_ilosc_{n}": "1",
                f"produkt_stawka_vat_{n}": "23",
                f"produkt_cena_netto_{n}": "0.81",
            }
        )

    stored = only_document(client, api_numer=issued(client, form)[1])

    assert [line["vat"] for line in stored["lines"]] == ["0.19"] * 3
    assert stored["rate_totals"] == [{"rate": "23", "net": "2.43", "vat": "0.56", "gross": "2.99"}]


def test_zero_and_non_vat_rates_carry_no_tax_and_are_totalled_apart(client):
    form = invoice(
        produkt_stawka_vat="zw",
        produkt_wartosc_brutto="100.00",
        dokument_podstawa_zw="art. 43 ust. 1 pkt 29 ustawy o VAT",
        produkt_nazwa_2="Usługa zagraniczna",
        produkt_ilosc_2="1",
        produkt_stawka_vat_2="np",
        produkt_wartosc_brutto_2="50.00",
        produkt_nazwa_3="Towar",
        produkt_ilosc_3="1",
        produkt_stawka_vat_3="8",
        produkt_wartosc_brutto_3="108.00",
    )

    stored = only_document(client, api_numer=issued(client, form)[1])

    assert [(t["rate"], t["vat"]) for t in stored["rate_totals"]] == [
        ("8", "8.00"),
        ("zw", "0.00"),
        ("np", "0.00"),
    ]
    assert stored["total_gross"] == "258.00"
    assert stored["exemption_basis"].startswith("art. 43")


def test_unit_codes_text_units_and_the_shifted_table_option(client):
    halfik = only_document(client, api_numer=issued(client, invoice(produkt_jm="1"))[1])
    text_unit = only_document(client, api_numer=issued(client, invoice(produkt_jm="kg"))[1])
    add_account(client, "shifted", key="k-shifted", unit_codes="shifted")
    shifted_lines = issued(client, invoice(api_id="k-shifted", produkt_jm="2"))
    [shifted] = documents(client, account="shifted", api_numer=shifted_lines[1])

    assert halfik["lines"][0]["unit"] == "szt." and halfik["lines"][0]["unit_code"] == 1
    assert text_unit["lines"][0]["unit"] == "kg"
    assert shifted["lines"][0]["unit"] == "szt."


def test_payment_term_from_code_days_or_date(client):
    by_code = only_document(client, api_numer=issued(client, invoice(dokument_zaplata="10"))[1])
    by_days = only_document(client, api_numer=issued(client, invoice(dokument_termin="3"))[1])
    by_date = only_document(
        client, api_numer=issued(client, invoice(dokument_termin="3", dokument_data_p="31-03-2026"))[1]
    )

    assert by_code["payment_due"] == "2026-04-09"  # transfer, 30 days
    assert by_days["payment_due"] == "2026-03-13"  # the explicit term wins over the code's 14 days
    assert by_date["payment_due"] == "2026-03-31"


def test_paid_status_currency_index_and_own_exchange_rate(client):
    form = invoice(
        dokument_status="1",
        dokument_waluta="1",
        dokument_przelicz_walute="PLN",
        dokument_rodzaj_kursu="1",
        dokument_kurs_wymiany="4.2718",
        dokument_data_wymiany="09-03-2026",
    )

    stored = only_document(client, api_numer=issued(client, form)[1])
    partial = refused(client, invoice(dokument_status="2"))

    assert (stored["status"], stored["paid_amount"], stored["currency"]) == (1, "246.00", "EUR")
    assert stored["exchange"] == {"to": "PLN", "source": "own", "rate": "4.2718", "date": "2026-03-09"}
    assert "dokument_zaplacono" in partial


def test_email_fields_record_an_outbox_entry(client):
    form = invoice(
        dokument_email="faktury@zolw.example", dokument_tytul="Faktura", dokument_tresc="W załączeniu"
    )

    stored = only_document(client, api_numer=issued(client, form)[1])

    assert stored["email"] == {"to": "faktury@zolw.example", "subject": "Faktura", "body": "W załączeniu"}


def test_unknown_parameters_are_ignored_but_listed_for_inspection(client):
    # No SKU and no numbering series exist: such fields are simply not read.
    form = invoice(produkt_sku="SKU-001", dokument_seria="7", dokument_data_wystawienia="2026-03-10")

    stored = only_document(client, api_numer=issued(client, form)[1])

    assert stored["unknown_parameters"] == ["dokument_data_wystawienia", "dokument_seria", "produkt_sku"]
    assert "api_id" not in stored["parameters"]


def test_get_with_query_parameters_and_multipart_bodies_work_too(client):
    by_get = client.get(API, query_string=invoice()).get_data(as_text=True).split("\n")
    multipart = client.post(API, data=invoice(), content_type="multipart/form-data")

    assert by_get[0] == "1"
    assert multipart.get_data(as_text=True).startswith("1\n")
    assert len(documents(client, account="acme")) == 2


def test_seller_comes_from_the_account_only_when_the_option_says_so(client):
    missing = refused(client, invoice(sprzedawca_nazwa=None, sprzedawca_nip=None))
    add_account(client, "own", key="k-own", seller_from_account=True, company_name="Pracownia Świec")

    lines = issued(client, invoice(api_id="k-own", sprzedawca_nazwa=None, sprzedawca_nip=None))

    [stored] = documents(client, account="own", api_numer=lines[1])
    assert "sprzedawca_nazwa" in missing
    assert stored["seller"]["nazwa"] == "Pracownia Świec" and stored["seller"]["nip"] == "5252344078"


# ---------------------------------------------------------------------------
# validation: "0" + one Polish message, HTTP 200, nothing stored


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"sprzedawca_nazwa": None}, "sprzedawca_nazwa"),
        ({"nabywca_nazwa": None}, "nabywca_nazwa"),
        ({"nabywca_nip": "1234567890"}, "nabywca_nip"),
        ({"sprzedawca_nip": "525-234-40-79"}, "sprzedawca_nip"),
        ({"dokument_data_w": "2026-03-10"}, "dokument_data_w"),
        ({"dokument_data_s": "31-02-2026"}, "dokument_data_s"),
        ({"dokument_rodzaj": "99"}, "dokument_rodzaj"),
        ({"dokument_zaplata": "45"}, "dokument_zaplata"),
        ({"dokument_waluta": "PLN"}, "dokument_waluta"),
        ({"dokument_status": "paid"}, "dokument_status"),
        ({"dokument_pokaz_termin": "tak"}, "dokument_pokaz_termin"),
        ({"dokument_data_p": "01-03-2026"}, "dokument_data_p"),
        ({"dokument_termin": "-5"}, "dokument_termin"),
        ({"produkt_stawka_vat": "7"}, "produkt_stawka_vat"),
        ({"produkt_stawka_vat": "23%"}, "produkt_stawka_vat"),
        ({"produkt_stawka_vat": None}, "produkt_stawka_vat"),
        ({"produkt_wartosc_brutto": "246,00"}, "produkt_wartosc_brutto"),
        ({"produkt_wartosc_brutto": None}, "produkt_wartosc_brutto"),
        ({"produkt_ilosc": "0"}, "produkt_ilosc"),
        ({"produkt_ilosc": None}, "produkt_ilosc"),
        ({"produkt_nazwa": "  "}, "produkt_nazwa"),
        ({"produkt_nazwa": None}, "produkt_nazwa"),
        ({"produkt_jm": "51"}, "produkt_jm"),
        ({"dokument_email": "nie-adres"}, "dokument_email"),
        ({"dokument_przelicz_walute": "PLN", "dokument_rodzaj_kursu": "1"}, "dokument_kurs_wymiany"),
        ({"dokument_dostep": "2"}, "dokument_dostep"),
        ({"api_zadanie": None}, "api_zadanie"),
        ({"api_zadanie": "2"}, "api_zadanie=2"),
    ],
)
def test_invalid_requests_are_refused_with_a_message_naming_the_parameter(client, overrides, named):
    message = refused(client, invoice(**overrides))

    assert named in message
    assert documents(client, account="acme") == []


def test_line_errors_name_the_suffixed_parameter(client):
    message = refused(
        client,
        invoice(
            produkt_nazwa_2="Drugi",
            produkt_ilosc_2="1",
            produkt_stawka_vat_2="22",
            produkt_wartosc_brutto_2="1.00",
        ),
    )

    assert "produkt_stawka_vat_2" in message


def test_corrections_do_not_exist(client):
    # No dokument_rodzaj code for a correction is known; the LOW-confidence "dokument_typ" is not read.
    message = refused(client, invoice(dokument_rodzaj="7", dokument_typ="FakturaKorygujaca"))

    assert "dokument_rodzaj" in message


def test_exemption_basis_is_required_only_with_the_option(client):
    add_account(client, "strict", key="k-strict", require_exemption_basis=True)
    form = invoice(produkt_stawka_vat="zw")

    lenient = call(client, form)
    strict = refused(client, {**form, "api_id": "k-strict"})

    assert lenient[0] == "1" and "dokument_podstawa_zw" in strict


# ---------------------------------------------------------------------------
# authentication and the per-account URL


def test_missing_or_wrong_key_is_a_zero_answer_with_http_200(client):
    missing = refused(client, invoice(api_id=None))
    wrong = refused(client, invoice(api_id="ffffffffffffffffffffffffffffffff"))

    assert "api_id" in missing and missing.startswith("Brak")
    assert wrong == emulator.WRONG_KEY_MESSAGE
    assert documents(client) == []


def test_the_demo_account_exists_from_the_start(client):
    lines = issued(client, invoice(api_id=emulator.DEMO_KEY))

    assert documents(client, account="demo", api_numer=lines[1])


def test_an_account_with_its_own_api_path_is_only_served_there(client):
    add_account(client, "other", key="k-other", api_path="konto2/api")

    at_own_path = call(client, invoice(api_id="k-other"), "/fakturowo/konto2/api")
    at_default = refused(client, invoice(api_id="k-other"))
    default_key_there = refused(client, invoice(), "/fakturowo/konto2/api")
    unused_path = client.post("/fakturowo/nikt/api", data=invoice())

    assert at_own_path[0] == "1"
    assert at_default == default_key_there == emulator.WRONG_KEY_MESSAGE
    assert unused_path.status_code == 404


def test_bad_account_options_are_refused(app):
    admin = app.test_client()
    for options in ({"concurrency": "parallel"}, {"api_path": "rest/v1"}, {"nope": 1}, {"list_page_size": 0}):
        response = admin.post(
            "/_sandbox/fakturowo/accounts", json={"prefix": "bad", "api_token": "x", "options": options}
        )
        assert response.status_code == 400, options


# ---------------------------------------------------------------------------
# numbering, duplicates, listing and lookup


def test_a_given_number_is_used_as_is_and_auto_numbering_skips_it(client):
    issued(client, invoice(dokument_numer="FV 2/2026"))
    issued(client, invoice())
    issued(client, invoice())

    assert [d["number"] for d in documents(client, account="acme")] == ["FV 2/2026", "FV 1/2026", "FV 3/2026"]
    assert documents(client, account="acme", number="FV 2/2026")[0]["numbered_by"] == "client"


def test_no_duplicate_guard_by_default_and_refusal_with_the_option(client):
    first = issued(client, invoice(dokument_numer="SKLEP/7"))
    again = issued(client, invoice(dokument_numer="SKLEP/7"))
    add_account(client, "strict", key="k-strict", duplicate_numbers="refuse")
    issued(client, invoice(api_id="k-strict", dokument_numer="SKLEP/7"))
    refusal = refused(client, invoice(api_id="k-strict", dokument_numer="SKLEP/7"))

    assert first[1] != again[1] and len(documents(client, account="acme", number="SKLEP/7")) == 2
    assert "SKLEP/7" in refusal and len(documents(client, account="strict")) == 1


def test_list_pages_newest_first_with_id_number_and_status_columns(app):
    client = app.test_client()
    add_account(client, list_page_size=2)
    ids = [issued(client, invoice(nabywca_nazwa=f"Firma {n}; oddział"))[1] for n in range(4)]
    issued(client, invoice(dokument_status="1", dokument_numer="RĘCZNY/1"))

    pages, first_page = listing(client)
    _, third_page = listing(client, page=3)
    _, beyond = listing(client, page=4)
    bad_page = refused(client, {"api_id": KEY, "api_zadanie": "3", "p": "0"})

    assert pages == 3
    newest, second = first_page
    assert len(newest) == len(emulator.LIST_COLUMNS) == 18
    assert (newest[2], newest[16]) == ("RĘCZNY/1", "1")  # number, paid status
    assert (second[0], second[2], second[16]) == (ids[3], "FV 4/2026", "0")
    assert second[12] == "Firma 3, oddział"  # ";" inside a value would break the columns
    assert (second[3], second[8], second[14], second[15], second[17]) == (
        "10-03-2026",
        "246.00",
        "5260250274",
        "8",
        "24-03-2026",
    )
    assert [row[0] for row in third_page] == [ids[0]] and beyond == []
    assert "(p)" in bad_page


def test_a_document_is_found_by_its_number_through_the_list(client):
    wanted = issued(client, invoice(dokument_numer="IB-12-3456"))[1]
    issued(client, invoice())

    _, rows = listing(client)

    assert [row[0] for row in rows if row[2] == "IB-12-3456"] == [wanted]


def test_accounts_do_not_see_each_others_documents(client):
    issued(client, invoice())
    issued(client, invoice(api_id=emulator.DEMO_KEY))

    assert len(listing(client)[1]) == 1 and len(listing(client, key=emulator.DEMO_KEY)[1]) == 1


# ---------------------------------------------------------------------------
# drafts ("dokumenty do wystawienia")


def test_a_draft_echoes_the_free_parameters_and_is_not_issued(client):
    form = invoice(api_zadanie=None, api_status="0", api_parametr="IB-7-0001", api_parametr2="zamówienie 7")

    lines = issued(client, form)

    assert lines[2:] == ["IB-7-0001", "", "zamówienie 7"]
    assert listing(client) == (0, [])
    [draft] = documents(client, account="acme", collection="drafts", reference="IB-7-0001")
    assert draft["api_numer"] == lines[1] and draft["api_status"] == 0 and draft["number"] is None


def test_waiting_drafts_expire_after_the_configured_days(client, monkeypatch):
    issued(client, invoice(api_zadanie=None, api_status="0", api_parametr="old"))
    issued(client, invoice(api_zadanie=None, api_status="1", api_parametr="to-issue"))
    later = date.today() + timedelta(days=101)
    monkeypatch.setattr(emulator, "_today", lambda: later)

    issued(client, invoice(api_zadanie=None, api_status="0", api_parametr="new"))

    kept = [d["api_parametr"] for d in documents(client, account="acme", collection="drafts")]
    assert kept == ["to-issue", "new"]
    assert "api_status" in refused(client, invoice(api_zadanie=None, api_status="5"))


# ---------------------------------------------------------------------------
# PDF and public links


def test_pdf_link_works_without_the_key_and_carries_the_document(client):
    form = invoice(
        dokument_dostep="1",
        produkt_nazwa="Książka „Zażółć gęślą jaźń”",
        dokument_uwagi="Dziękujemy[n]Zapraszamy ponownie",
    )
    _, _, pdf_url, preview_url, file_name = issued(client, form)

    pdf = client.get(pdf_url.replace("http://localhost", ""))
    preview = client.get(preview_url.replace("http://localhost", ""))
    unknown = client.get("/fakturowo/pobierz/0000")

    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert file_name in pdf.headers["Content-Disposition"]
    text = pdf_text(pdf.data)
    assert "FV 1/2026" in text and "246.00" in text and "24-03-2026" in text
    assert "Dziękujemy\nZapraszamy ponownie" in text or "Dziekujemy\nZapraszamy ponownie" in text
    if find_font():
        assert "Zażółć gęślą jaźń" in text
    assert preview.status_code == 200 and "FV 1/2026" in preview.get_data(as_text=True)
    assert unknown.status_code == 404


def test_hidden_payment_date_is_left_off_the_pdf(client):
    _, _, pdf_url, _, _ = issued(client, invoice(dokument_dostep="1", dokument_pokaz_termin="0"))

    text = pdf_text(client.get(pdf_url.replace("http://localhost", "")).data)

    assert "FV 1/2026" in text and "24-03-2026" not in text and "Termin płatności" not in text


# ---------------------------------------------------------------------------
# one request at a time


def concurrent_calls(app, forms: list[dict]) -> list[list[str]]:
    answers: list = [None] * len(forms)
    start_together = threading.Barrier(len(forms))

    def send(index: int) -> None:
        start_together.wait()
        answers[index] = app.test_client().post(API, data=forms[index]).get_data(as_text=True).split("\n")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(forms))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_concurrent_requests_of_one_account_are_served_one_after_another(app):
    client = app.test_client()
    add_account(client, processing_ms=150)
    started = time.monotonic()

    answers = concurrent_calls(app, [invoice() for _ in range(3)])

    assert [answer[0] for answer in answers] == ["1", "1", "1"]
    assert time.monotonic() - started >= 0.45  # three turns of 150 ms, not one
    numbers = sorted(d["number"] for d in documents(client, account="acme"))
    assert numbers == ["FV 1/2026", "FV 2/2026", "FV 3/2026"]
    faults = client.get("/_sandbox/stats").json["services"]["fakturowo"]["accounts"]["acme"]["faults"]
    assert faults["serialised"] >= 1  # at least one request waited for its turn


def test_concurrent_requests_are_refused_with_the_refuse_option(app):
    client = app.test_client()
    add_account(client, processing_ms=300, concurrency="refuse")

    answers = concurrent_calls(app, [invoice() for _ in range(3)])

    busy = [answer for answer in answers if answer[0] == "0"]
    assert busy and all(answer == ["0", emulator.BUSY_MESSAGE] for answer in busy)
    assert len(documents(client, account="acme")) == len(answers) - len(busy)


def test_other_accounts_are_not_held_up(app):
    client = app.test_client()
    add_account(client, processing_ms=300, concurrency="refuse")
    add_account(client, "other", key="k-other", processing_ms=300, concurrency="refuse")

    answers = concurrent_calls(app, [invoice(), invoice(api_id="k-other")])

    assert [answer[0] for answer in answers] == ["1", "1"]


# ---------------------------------------------------------------------------
# shared faults, stats, inspection, reset, restart


def set_faults(client, **settings):
    response = client.put("/_sandbox/fakturowo/faults", json=settings)
    assert response.status_code == 200, response.json


def test_generic_faults_answer_like_an_outage_and_a_bad_key(client):
    set_faults(client, account="acme", error_5xx=1.0)
    failing = client.post(API, data=invoice())
    set_faults(client, account="acme", rate_429=1.0, retry_after=4)
    throttled = client.post(API, data=invoice())
    set_faults(client, account="acme", auth_failure=True)
    auth = call(client, invoice())
    demo = call(client, invoice(api_id=emulator.DEMO_KEY))

    assert failing.status_code in (500, 502, 503) and failing.mimetype == "text/html"
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "4"
    assert auth == ["0", emulator.WRONG_KEY_MESSAGE]
    assert demo[0] == "1"  # faults of one account leave the others alone
    assert len(documents(client, account="acme")) == 0


def test_write_limit_and_stats_count_only_issuing_requests(client):
    client.delete("/_sandbox/stats")
    set_faults(client, account="acme", write_limit={"count": 1, "seconds": 60})

    first = call(client, invoice())
    second = client.post(API, data=invoice())
    listed = listing(client)

    assert first[0] == "1" and second.status_code == 429 and 1 <= int(second.headers["Retry-After"]) <= 60
    assert len(listed[1]) == 1
    stats = client.get("/_sandbox/stats").json["services"]["fakturowo"]
    acme = stats["accounts"]["acme"]
    assert (acme["requests"], acme["writes"], acme["documents_stored"]) == (3, 2, 1)
    assert acme["responses"] == {"200": 2, "429": 1} and acme["faults"] == {"write_limit": 1}
    assert stats["documents_held"] == {"acme": 1}


def test_max_concurrency_fault_refuses_beyond_the_cap(app):
    client = app.test_client()
    add_account(client, concurrency="off")
    set_faults(client, account="acme", max_concurrency=1, latency_ms=300)
    statuses = []

    def send():
        statuses.append(app.test_client().post(API, data={"api_id": KEY, "api_zadanie": "3"}).status_code)

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert 200 in statuses and 429 in statuses


def test_inspection_filters_by_account_kind_number_and_reference(client):
    issued(client, invoice(dokument_uwagi_niewidoczne="ref IB-9-0001"))
    issued(client, invoice(dokument_rodzaj="20", api_parametr="IB-9-0002"))
    issued(client, invoice(api_id=emulator.DEMO_KEY, dokument_uwagi_niewidoczne="ref IB-9-0001"))

    assert len(documents(client, reference="IB-9-0001")) == 2
    assert only_document(client, reference="IB-9-0001")["notes_hidden"] == "ref IB-9-0001"
    assert only_document(client, reference="IB-9-0002")["kind"] == "receipt"
    assert only_document(client, kind="receipt")["number"] == "PAR 1/2026"
    assert only_document(client, number="FV 1/2026")["links"]["pdf"].startswith("http://localhost/fakturowo/")


def test_reset_wipes_everything_but_the_demo_account(client):
    issued(client, invoice())

    client.post("/_sandbox/reset")

    accounts = client.get("/_sandbox/fakturowo/accounts").json["accounts"]
    assert [account["prefix"] for account in accounts] == ["demo"]
    assert documents(client) == []
    assert refused(client, invoice()) == emulator.WRONG_KEY_MESSAGE


def test_state_survives_a_restart_on_the_same_file(tmp_path):
    db = tmp_path / "state.sqlite3"
    first = create_sandbox_app(db).test_client()
    add_account(first)
    before = issued(first, invoice())[1]

    second = create_sandbox_app(db).test_client()
    after = issued(second, invoice())[1]

    numbers = [row[2] for row in listing(second)[1]]
    assert numbers == ["FV 2/2026", "FV 1/2026"] and int(after) > int(before)


# ---------------------------------------------------------------------------
# over real HTTP


def test_real_http_form_posts_reset_and_timeout_after_store(tmp_path):
    with running_sandbox(tmp_path / "live.sqlite3") as base_url:
        admin = f"{base_url}/_sandbox/fakturowo"
        requests.post(f"{admin}/accounts", json={"prefix": "acme", "api_token": KEY}, timeout=5)
        url = f"{base_url}/fakturowo/api"

        ok = requests.post(url, data=invoice(dokument_dostep="1", api_parametr="IB-OK"), timeout=5)
        requests.put(f"{admin}/faults", json={"account": "acme", "reset": 1.0}, timeout=5)
        with pytest.raises(requests.ConnectionError):
            requests.post(url, data=invoice(api_parametr="IB-R"), timeout=5)
        requests.put(
            f"{admin}/faults",
            json={"account": "acme", "timeout_after_store": 1.0, "hold_seconds": 1},
            timeout=5,
        )
        with pytest.raises(requests.ReadTimeout):
            requests.post(url, data=invoice(api_parametr="IB-T"), timeout=0.3)
        # the lookup a client makes next is not held: listing stores nothing
        lookup = requests.post(url, data={"api_id": KEY, "api_zadanie": "3"}, timeout=0.8)
        requests.delete(f"{admin}/faults", timeout=5)
        pdf = requests.get(ok.text.split("\n")[2], timeout=5)

        assert ok.headers["Content-Type"].startswith("text/plain") and ok.text.startswith("1\n")
        assert pdf.content.startswith(b"%PDF")
        assert lookup.text.split("\n")[:2] == ["1", "1"] and len(lookup.text.split("\n")) == 4
        inspect = f"{admin}/documents"
        assert requests.get(inspect, params={"reference": "IB-R"}, timeout=5).json()["count"] == 0
        assert requests.get(inspect, params={"reference": "IB-T"}, timeout=5).json()["count"] == 1
        faults = requests.get(f"{base_url}/_sandbox/stats", timeout=5).json()["services"]["fakturowo"]
        assert faults["accounts"]["acme"]["faults"] == {"reset": 1, "timeout_after_store": 1}
