"""The hub's own PDF of a sales document: `render_pdf(printable) -> bytes` (fpdf2, A4).

Only the DejaVu fonts vendored in static/fonts are used: a fresh machine may have no fonts at
all, and PDF's built-in core fonts cannot print Polish letters. The output is deterministic
(creation date = issue date), so the same document renders to the same bytes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, time
from pathlib import Path

from fpdf import FPDF, FontFace

from webapp.documents.printable import (
    Printable,
    PrintableLine,
    PrintableParty,
    format_amount,
    format_date,
    format_exchange_rate,
    format_quantity,
)
from webapp.documents.totals import VAT_RATES, DocumentTotals

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parents[2] / "static" / "fonts"
FONT_FAMILY = "DejaVuSans"
FONT_FILES = {"": FONT_DIR / "DejaVuSans.ttf", "B": FONT_DIR / "DejaVuSans-Bold.ttf"}

_GREY = (230, 230, 230)
_HEADINGS = FontFace(emphasis="BOLD", fill_color=_GREY)

_LINE_COLUMNS = ("Lp.", "Nazwa", "SKU", "Ilość", "j.m.", "Cena brutto", "Stawka VAT",
                 "Wartość netto", "VAT", "Wartość brutto")
_LINE_WIDTHS = (8, 50, 20, 13, 10, 18, 13, 19, 17, 22)  # mm, sum = 190 = A4 width − margins
_LINE_ALIGN = ("RIGHT", "LEFT", "LEFT", "RIGHT", "LEFT", "RIGHT", "CENTER", "RIGHT", "RIGHT", "RIGHT")

_SUMMARY_COLUMNS = ("", "Stawka VAT", "Wartość netto", "Kwota VAT", "Wartość brutto")
_SUMMARY_WIDTHS = (20, 20, 28, 24, 28)  # a narrower table, aligned to the right margin
_SUMMARY_ALIGN = ("LEFT", "CENTER", "RIGHT", "RIGHT", "RIGHT")


class _DocumentPDF(FPDF):
    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._footer_text = footer_text
        for style, path in FONT_FILES.items():
            self.add_font(FONT_FAMILY, style=style, fname=path)
        self.set_margins(10, 10, 10)
        self.set_auto_page_break(auto=True, margin=15)
        self.set_font(FONT_FAMILY, size=9)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT_FAMILY, size=7)
        self.cell(0, 5, f"{self._footer_text} — strona {self.page_no()}/{{nb}}", align="C")


def render_pdf(doc: Printable) -> bytes:
    """The document as PDF bytes."""
    pdf = _DocumentPDF(footer_text=f"{doc.title} {doc.number}")
    pdf.set_title(f"{doc.title} {doc.number}")
    pdf.set_author(doc.seller.name)
    pdf.set_creator("Invoice Bridge")
    pdf.set_creation_date(datetime.combine(doc.issue_date, time(0), tzinfo=UTC))
    pdf.add_page()

    _header(pdf, doc)
    _parties(pdf, doc)
    if doc.correction is not None:
        _correction(pdf, doc)
    else:
        _line_table(pdf, doc.lines)
        _summary_table(pdf, doc.totals, doc.currency)
    _payment(pdf, doc)
    _foreign_currency(pdf, doc)
    _notes(pdf, doc)
    return bytes(pdf.output())


def _header(pdf: FPDF, doc: Printable) -> None:
    top = pdf.get_y()
    has_logo = bool(doc.logo_png) and _draw_logo(pdf, doc.logo_png, top)
    pdf.set_font(FONT_FAMILY, "B", 15)
    pdf.cell(0, 8, f"{doc.title} nr {doc.number}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, size=9)
    facts = []
    if doc.place:
        facts.append(("Miejsce wystawienia", doc.place))
    facts += [("Data wystawienia", format_date(doc.issue_date)),
              ("Data sprzedaży", format_date(doc.sell_date))]
    for label, value in facts:
        pdf.cell(0, 5, f"{label}: {value}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 20 if has_logo else 0) + 3)
    if doc.superseded_note:
        # local_context: the fill colour must not leak into the tables drawn later.
        with pdf.local_context(fill_color=(255, 235, 200)):
            pdf.set_font(FONT_FAMILY, "B", 10)
            pdf.multi_cell(0, 7, doc.superseded_note, border=1, align="C", fill=True,
                           new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT_FAMILY, size=9)
        pdf.ln(3)


def _draw_logo(pdf: FPDF, logo: bytes, top: float) -> bool:
    """Draw the seller's logo; a logo that cannot be read is left out rather than failing the PDF."""
    try:
        pdf.image(io.BytesIO(logo), x=pdf.l_margin, y=top, h=18)
    except Exception:  # any unreadable image: the document matters more than its logo
        log.warning("The seller's logo cannot be read: the PDF is rendered without it", exc_info=True)
        return False
    return True


def _party_lines(party: PrintableParty) -> list[str]:
    lines = [*party.address_lines]
    if party.tax_id:
        lines.append(f"NIP: {party.tax_id}")
    if party.email:
        lines.append(f"E-mail: {party.email}")
    if party.phone:
        lines.append(f"Tel.: {party.phone}")
    return lines


def _party_block(pdf: FPDF, x: float, y: float, width: float, heading: str, party: PrintableParty) -> float:
    """Write one party's block at (x, y); return the y under it."""
    pdf.set_xy(x, y)
    pdf.set_font(FONT_FAMILY, "B", 8)
    pdf.set_text_color(90, 90, 90)
    pdf.multi_cell(width, 5, heading.upper(), align="LEFT", new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font(FONT_FAMILY, "B", 10)
    pdf.multi_cell(width, 5, party.name, align="LEFT", new_x="LEFT", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, size=9)
    for line in _party_lines(party):
        pdf.multi_cell(width, 4.5, line, align="LEFT", new_x="LEFT", new_y="NEXT")
    return pdf.get_y()


def _parties(pdf: FPDF, doc: Printable) -> None:
    top = pdf.get_y()
    half = (pdf.epw - 10) / 2
    bottom = _party_block(pdf, pdf.l_margin, top, half, "Sprzedawca", doc.seller)
    if doc.buyer is not None:
        bottom = max(bottom, _party_block(pdf, pdf.l_margin + half + 10, top, half, "Nabywca", doc.buyer))
    pdf.set_xy(pdf.l_margin, bottom + 5)


def _line_table(pdf: FPDF, lines: Sequence[PrintableLine]) -> None:
    pdf.set_font(FONT_FAMILY, size=7.5)
    with pdf.table(col_widths=_LINE_WIDTHS, width=sum(_LINE_WIDTHS), text_align=_LINE_ALIGN,
                   headings_style=_HEADINGS, line_height=4, padding=1, repeat_headings=1) as table:
        heading = table.row()
        for title in _LINE_COLUMNS:
            heading.cell(title, align="CENTER")
        for line in lines:
            row = table.row()
            for text in (str(line.no), line.name, line.sku or "", format_quantity(line.quantity), line.unit,
                         format_amount(line.unit_gross), VAT_RATES[line.vat_rate], format_amount(line.net),
                         format_amount(line.vat), format_amount(line.gross)):
                row.cell(text)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.ln(3)


def _keep_together(pdf: FPDF, height: float) -> None:
    """Start a new page unless `height` mm still fit on this one (a summary is not split)."""
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()


def _summary_table(pdf: FPDF, totals: DocumentTotals, currency: str, total_label: str = "Razem") -> None:
    _keep_together(pdf, 10 + 5 * (len(totals.rates) + 2))
    pdf.set_font(FONT_FAMILY, size=8)
    with pdf.table(col_widths=_SUMMARY_WIDTHS, width=sum(_SUMMARY_WIDTHS), align="RIGHT",
                   text_align=_SUMMARY_ALIGN, headings_style=_HEADINGS, line_height=4.5, padding=1) as table:
        heading = table.row()
        for title in _SUMMARY_COLUMNS:
            heading.cell(title, align="CENTER")
        # The classic Polish layout: the total first, then "W tym" (of which) one row per rate.
        row = table.row(style=FontFace(emphasis="BOLD"))
        for text in (total_label, "", format_amount(totals.net), format_amount(totals.vat),
                     format_amount(totals.gross)):
            row.cell(text)
        for index, row_total in enumerate(totals.rates):
            row = table.row()
            for text in ("W tym" if index == 0 else "", row_total.label, format_amount(row_total.net),
                         format_amount(row_total.vat), format_amount(row_total.gross)):
                row.cell(text)
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.set_x(pdf.l_margin)
    pdf.cell(0, 5, f"Kwoty w {currency}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _section_heading(pdf: FPDF, text: str) -> None:
    pdf.set_font(FONT_FAMILY, "B", 10)
    pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT_FAMILY, size=9)


def _correction(pdf: FPDF, doc: Printable) -> None:
    correction = doc.correction
    assert correction is not None
    pdf.multi_cell(0, 5, f"Dotyczy dokumentu nr {correction.original_number} "
                         f"z dnia {format_date(correction.original_issue_date)}",
                   align="LEFT", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(0, 5, f"Przyczyna korekty: {correction.reason}", align="LEFT",
                   new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _section_heading(pdf, "Przed korektą")
    _line_table(pdf, correction.before_lines)
    _summary_table(pdf, correction.before_totals, doc.currency)
    _section_heading(pdf, "Po korekcie")
    _line_table(pdf, correction.after_lines)
    _summary_table(pdf, correction.after_totals, doc.currency)
    _section_heading(pdf, "Różnica (po korekcie − przed korektą)")
    _summary_table(pdf, correction.difference_totals, doc.currency, total_label="Różnica")


def _labelled(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font(FONT_FAMILY, "B", 9)
    pdf.cell(pdf.get_string_width(label + ": ") + 1, 5, label + ":")
    pdf.set_font(FONT_FAMILY, size=9)
    pdf.multi_cell(0, 5, value, align="LEFT", new_x="LMARGIN", new_y="NEXT")


def _payment(pdf: FPDF, doc: Printable) -> None:
    _keep_together(pdf, 20)  # the amount and its words stay together
    pdf.ln(2)
    pdf.set_font(FONT_FAMILY, "B", 12)
    pdf.cell(0, 7, f"{doc.payable_label}: {format_amount(doc.payable_amount)} {doc.currency}",
             new_x="LMARGIN", new_y="NEXT")
    _labelled(pdf, "Słownie", doc.payable_in_words)
    if doc.paid and doc.paid_date and doc.correction is None:
        _labelled(pdf, "Data zapłaty", format_date(doc.paid_date))
    if doc.payment_method:
        _labelled(pdf, "Sposób płatności", doc.payment_method)
    if doc.payment_due is not None:
        _labelled(pdf, "Termin płatności", format_date(doc.payment_due))
    if doc.seller.bank_account:
        _labelled(pdf, "Numer konta", doc.seller.bank_account)


def _foreign_currency(pdf: FPDF, doc: Printable) -> None:
    if doc.currency == "PLN" or doc.exchange_rate is None:
        return
    pdf.ln(2)
    _labelled(pdf, "Kurs wymiany", f"1 {doc.currency} = {format_exchange_rate(doc.exchange_rate)} PLN")
    if doc.vat_in_pln:
        rows = "; ".join(f"{VAT_RATES[rate]}: {format_amount(amount)} PLN" for rate, amount in doc.vat_in_pln)
        _labelled(pdf, "Kwota VAT w PLN", f"{rows}; razem: {format_amount(doc.vat_in_pln_total)} PLN")


def _notes(pdf: FPDF, doc: Printable) -> None:
    if not doc.notes:
        return
    pdf.ln(2)
    _labelled(pdf, "Uwagi", doc.notes)
