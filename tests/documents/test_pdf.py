"""The hub's printed document: the PDF (read back with pypdf) and the HTML print view."""

import html
import io
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from jinja2 import Environment, FileSystemLoader
from PIL import Image
from pypdf import PdfReader

from webapp.documents import pdf as pdf_module
from webapp.documents.pdf import render_pdf
from webapp.documents.printable import (
    TITLE_CORRECTION,
    TITLE_INVOICE,
    TITLE_RECEIPT,
    Printable,
    PrintableParty,
    build_correction,
    build_lines,
)
from webapp.documents.totals import document_totals, vat_in_pln

D = Decimal
REPO = Path(__file__).resolve().parents[2]

SELLER = PrintableParty(
    name="Sklep Zażółć gęślą jaźń Sp. z o.o.",
    tax_id="5260250274",
    address_lines=("ul. Świętokrzyska 12", "00-916 Warszawa"),
    email="biuro@sklep.example",
    phone="+48 22 123 45 67",
    bank_account="PL61 1090 1014 0000 0712 1981 2874",
)
BUYER = PrintableParty(
    name="Łódzka Spółdzielnia Ćwiczeń",
    tax_id="7251801126",
    address_lines=("ul. Piotrkowska 1", "90-001 Łódź"),
)
LONG_NAME = ("Zażółć gęślą jaźń — książka o bardzo długiej nazwie, która nie mieści się w jednej linii "
             "kolumny Nazwa i musi się zawinąć")


def item(name, quantity, unit_gross, vat_rate, sku="SKU-1", unit="szt."):
    return SimpleNamespace(name=name, quantity=D(quantity), unit_gross=D(unit_gross), vat_rate=vat_rate,
                           sku=sku, unit=unit)


def invoice(items=None, **overrides) -> Printable:
    if items is None:
        items = [
            item(LONG_NAME, "2", "12.34", "23"),
            item("Chleb żytni", "1.5", "4.99", "5", unit="kg"),
            item("Usługa montażu", "1", "100.00", "8", sku=None),
            item("Szkolenie", "1", "500.00", "zw"),
        ]
    lines = build_lines(items)
    fields = {
        "title": TITLE_INVOICE, "number": "FV/12/05/2024",
        "issue_date": date(2024, 5, 17), "sell_date": date(2024, 5, 16), "place": "Warszawa",
        "payment_method": "przelew", "payment_due": date(2024, 5, 31), "seller": SELLER, "buyer": BUYER,
        "lines": lines, "totals": document_totals(lines), "notes": "Dziękujemy za zakupy!",
    }
    return Printable(**(fields | overrides))


def correction() -> Printable:
    fix = build_correction(
        "FV/12/05/2024", date(2024, 5, 17), "Zwrot towaru",
        before_items=[item("Kurtka", "2", "199.99", "23"), item("Książka", "1", "39.90", "5")],
        after_items=[item("Kurtka", "1", "199.99", "23"), item("Książka", "1", "39.90", "5")],
    )
    return invoice(title=TITLE_CORRECTION, number="FK/1/05/2024", issue_date=date(2024, 5, 20),
                   payment_due=None, lines=fix.after_lines, totals=fix.after_totals, correction=fix)


def euro_receipt() -> Printable:
    lines = build_lines([item("Widget", "3", "10.00", "23"), item("Gadżet", "1", "5.55", "8")])
    totals = document_totals(lines)
    return invoice(title=TITLE_RECEIPT, number="PAR/7/2024", buyer=None, lines=lines, totals=totals,
                   currency="EUR", exchange_rate=D("4.3210"), vat_in_pln=vat_in_pln(totals, D("4.3210")),
                   paid=True, paid_date=date(2024, 5, 17), payment_method="karta", payment_due=None)


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def pdf_pages(data: bytes) -> list[str]:
    return [squash(page.extract_text()) for page in PdfReader(io.BytesIO(data)).pages]


def html_text(markup: str) -> str:
    return squash(html.unescape(re.sub(r"<[^>]+>", " ", markup)))


def render_html(doc: Printable) -> str:
    # autoescape as Flask has it for .html templates
    env = Environment(loader=FileSystemLoader(REPO / "templates"), autoescape=True)
    env.globals["csp_nonce"] = lambda: "test-nonce"
    return env.get_template("documents/print.html").render(doc=doc)


# What a reader of the invoice above must find, computed by hand from the money rule:
# 23%: 2 × 12.34 = 24.68, VAT 24.68 × 23/123 = 4.6149 -> 4.61; 5%: 1.5 × 4.99 = 7.485 -> 7.49,
# VAT 0.3567 -> 0.36; 8%: 100.00, VAT 7.4074 -> 7.41; zw: 500.00 without VAT.
INVOICE_FIGURES = [
    "Faktura VAT nr FV/12/05/2024",
    "Data wystawienia: 2024-05-17",
    "Data sprzedaży: 2024-05-16",
    "Zażółć gęślą jaźń",
    "Łódzka Spółdzielnia Ćwiczeń",
    "NIP: 5260250274",
    "NIP: 7251801126",
    "Razem 619,79 12,38 632,17",
    "W tym 23% 20,07 4,61 24,68",
    "8% 92,59 7,41 100,00",
    "5% 7,13 0,36 7,49",
    "zw. 500,00 0,00 500,00",
    "Do zapłaty: 632,17 PLN",
    "sześćset trzydzieści dwa złote 17/100",
    "Termin płatności: 2024-05-31",
    "Sposób płatności: przelew",
    "PL61 1090 1014 0000 0712 1981 2874",
    "Dziękujemy za zakupy!",
]


def test_invoice_pdf_shows_parties_rates_and_total():
    text = " ".join(pdf_pages(render_pdf(invoice())))
    for figure in INVOICE_FIGURES:
        assert figure in text
    assert "2 Chleb żytni SKU-1 1,5 kg 4,99 5% 7,13 0,36 7,49" in text


def test_long_name_wraps_inside_its_cell():
    page = PdfReader(io.BytesIO(render_pdf(invoice()))).pages[0]
    lines_of_name = [line for line in page.extract_text().splitlines()
                     if any(word in line for word in ("Zażółć gęślą jaźń — książka", "musi się zawinąć"))]
    # the name is printed whole, but over several lines of the table
    assert len(lines_of_name) >= 2
    assert squash(" ".join(LONG_NAME.split())) in squash(page.extract_text().replace("\n", " "))


def test_payment_due_is_left_out_when_none():
    text = " ".join(pdf_pages(render_pdf(invoice(payment_due=None))))
    assert "Termin płatności" not in text
    assert "Do zapłaty: 632,17 PLN" in text


def test_many_lines_flow_onto_pages_with_the_header_repeated():
    items = [item(f"Produkt nr {n}", "1", "1.00", "23") for n in range(1, 121)]
    pages = pdf_pages(render_pdf(invoice(items)))
    assert len(pages) >= 3
    for page in pages:
        if "Produkt nr" in page:
            assert "Lp. Nazwa SKU Ilość j.m. Cena brutto Stawka VAT Wartość netto VAT Wartość brutto" in page
    everything = " ".join(pages)
    assert all(f"Produkt nr {n} " in everything for n in range(1, 121))
    # 120 × 1.00 gross at 23%: VAT 22.44 for the rate (the 120 line VATs of 0.19 would sum to 22.80)
    assert "Razem 97,56 22,44 120,00" in pages[-1]
    assert "Do zapłaty: 120,00 PLN" in pages[-1]
    assert f"strona {len(pages)}/{len(pages)}" in pages[-1]


def test_correction_pdf_shows_before_after_and_the_refund():
    text = " ".join(pdf_pages(render_pdf(correction())))
    assert "Faktura korygująca nr FK/1/05/2024" in text
    assert "Dotyczy dokumentu nr FV/12/05/2024 z dnia 2024-05-17" in text
    assert "Przyczyna korekty: Zwrot towaru" in text
    before, after = text.index("Przed korektą"), text.index("Po korekcie")
    assert before < after
    assert "1 Kurtka SKU-1 2 szt. 199,99 23% 325,19 74,79 399,98" in text[before:after]
    assert "1 Kurtka SKU-1 1 szt. 199,99 23% 162,59 37,40 199,99" in text[after:]
    assert "Razem 363,19 76,69 439,88" in text[before:after]
    assert "Razem 200,59 39,30 239,89" in text[after:]
    assert "Różnica -162,60 -37,39 -199,99" in text
    assert "Do zwrotu: 199,99 PLN" in text
    assert "sto dziewięćdziesiąt dziewięć złotych 99/100" in text


def test_euro_receipt_shows_exchange_rate_and_vat_in_pln_and_no_buyer():
    text = " ".join(pdf_pages(render_pdf(euro_receipt())))
    assert "Paragon nr PAR/7/2024" in text
    assert "Kurs wymiany: 1 EUR = 4,3210 PLN" in text
    # VAT 5.61 EUR × 4.3210 = 24.24 PLN; 0.41 EUR × 4.3210 = 1.77 PLN
    assert "23%: 24,24 PLN; 8%: 1,77 PLN; razem: 26,01 PLN" in text
    assert "Zapłacono: 35,55 EUR" in text
    assert "trzydzieści pięć euro 55/100" in text
    assert "Data zapłaty: 2024-05-17" in text
    assert "NABYWCA" not in text and "Łódzka" not in text


def test_logo_and_superseded_note_are_printed():
    buffer = io.BytesIO()
    Image.new("RGB", (60, 30), "navy").save(buffer, "PNG")
    doc = invoice(logo_png=buffer.getvalue(), superseded_note="Dokument zastąpiony korektą FK/1/05/2024")
    reader = PdfReader(io.BytesIO(render_pdf(doc)))
    assert len(reader.pages[0].images) == 1
    assert "Dokument zastąpiony korektą FK/1/05/2024" in reader.pages[0].extract_text()


def test_output_is_deterministic_and_dated_by_the_issue_date():
    first, second = render_pdf(invoice()), render_pdf(invoice())
    assert first == second
    assert PdfReader(io.BytesIO(first)).metadata.creation_date.date() == date(2024, 5, 17)


def test_only_the_vendored_fonts_are_used(monkeypatch):
    """A fresh machine may have no fonts: the PDF must open nothing but static/fonts files."""
    opened = []
    original = pdf_module.FPDF.add_font

    def recording_add_font(self, family=None, style="", fname=None, **kwargs):
        opened.append(Path(fname).resolve())
        return original(self, family, style, fname, **kwargs)

    monkeypatch.setattr(pdf_module.FPDF, "add_font", recording_add_font)
    data = render_pdf(invoice())
    assert sorted(path.name for path in opened) == ["DejaVuSans-Bold.ttf", "DejaVuSans.ttf"]
    assert all(path.parent == REPO / "static" / "fonts" for path in opened)
    assert (REPO / "static" / "fonts" / "LICENSE-DejaVu.txt").is_file()
    page_fonts = PdfReader(io.BytesIO(data)).pages[0]["/Resources"]["/Font"].values()
    fonts = {font["/BaseFont"] for font in page_fonts}
    assert fonts and all("DejaVuSans" in name for name in fonts)


# --- HTML print view --------------------------------------------------------------------------


def test_print_html_shows_the_same_figures_as_the_pdf():
    doc = invoice()
    markup = render_html(doc)
    assert markup.startswith("<!DOCTYPE html>")
    assert "@media print" in markup
    text = html_text(markup)
    pdf_text = " ".join(pdf_pages(render_pdf(doc)))
    for figure in INVOICE_FIGURES:
        assert figure in text
        assert figure in pdf_text
    assert "2 Chleb żytni SKU-1 1,5 kg 4,99 5% 7,13 0,36 7,49" in text


def test_print_html_leaves_out_payment_due_when_none_and_escapes_names():
    doc = invoice(payment_due=None, buyer=replace(BUYER, name="Firma <b>Ćma</b> & syn"))
    text = render_html(doc)
    assert "Termin płatności" not in text
    assert "Firma &lt;b&gt;Ćma&lt;/b&gt; &amp; syn" in text


def test_print_html_of_a_correction_and_a_euro_receipt():
    text = html_text(render_html(correction()))
    difference = text.index("Różnica -162,60 -37,39 -199,99")
    assert text.index("Przed korektą") < text.index("Po korekcie") < difference
    assert "Do zwrotu: 199,99 PLN" in text
    assert "Dotyczy dokumentu nr FV/12/05/2024 z dnia 2024-05-17" in text

    text = html_text(render_html(euro_receipt()))
    assert "Kurs wymiany: 1 EUR = 4,3210 PLN" in text
    assert "23%: 24,24 PLN; 8%: 1,77 PLN; razem: 26,01 PLN" in text
    assert "Zapłacono: 35,55 EUR" in text
    assert "Nabywca" not in text


@pytest.mark.parametrize(("quantity", "expected"), [("0.500", "0,5"), ("1000", "1000"), ("2.125", "2,125")])
def test_quantities_print_without_needless_zeros(quantity, expected):
    doc = invoice([item("Towar", quantity, "10.00", "23")])
    assert f"Towar SKU-1 {expected} szt." in " ".join(pdf_pages(render_pdf(doc)))
    assert f"Towar SKU-1 {expected} szt." in html_text(render_html(doc))


def test_print_html_keeps_all_css_in_one_style_element():
    # The app's CSP allows styles by source; one <style> element (no style="" attributes) can be
    # allowed by its hash or a nonce, inline attributes could not.
    markup = render_html(invoice(logo_png=b"\x89PNG fake"))
    assert markup.count("<style") == 1 and "nonce=\"test-nonce\"" in markup
    assert 'style="' not in markup
    assert "<script" not in markup
