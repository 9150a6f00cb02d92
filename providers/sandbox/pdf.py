"""A plain PDF of an emulated document (number, parties, lines, totals).

fpdf2 needs a TrueType font for Polish letters; the project vendors DejaVu at
``static/fonts/DejaVuSans.ttf``. Without it we fall back to the core Helvetica
font and transliterate the letters it cannot encode, so a PDF is always produced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

REPO_ROOT = Path(__file__).resolve().parents[2]
FONT_CANDIDATES = (
    REPO_ROOT / "static" / "fonts" / "DejaVuSans.ttf",
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
)
POLISH_TO_ASCII = str.maketrans("ąćęłńśźżĄĆĘŁŃŚŹŻ", "acelnszzACELNSZZ")


@dataclass
class PdfLine:
    name: str
    quantity: str
    unit: str
    unit_net: str
    rate: str
    net: str
    vat: str
    gross: str


@dataclass
class PdfDocument:
    title: str  # e.g. "Faktura VAT"
    number: str
    details: list[tuple[str, str]] = field(default_factory=list)  # (label, value) under the title
    seller: list[str] = field(default_factory=list)
    buyer: list[str] = field(default_factory=list)
    lines: list[PdfLine] = field(default_factory=list)
    totals: list[tuple[str, str, str, str]] = field(default_factory=list)  # rate, net, vat, gross
    total_label: str = "Razem do zapłaty"
    total_gross: str = ""
    currency: str = "PLN"
    notes: list[str] = field(default_factory=list)
    banner: str = "SANDBOX — dokument testowy, bez mocy prawnej"
    # A service hands out the same file on every download: the PDF's own timestamp is fixed.
    created: datetime = datetime(2000, 1, 1, tzinfo=UTC)


def find_font() -> Path | None:
    return next((path for path in FONT_CANDIDATES if path.is_file()), None)


def render_pdf(doc: PdfDocument, font_path: Path | None | bool = None) -> bytes:
    """PDF bytes for ``doc``. ``font_path=False`` forces the core-font fallback."""
    if font_path is None:
        font_path = find_font()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(f"{doc.title} {doc.number}")
    pdf.set_creation_date(doc.created)
    if font_path:
        pdf.add_font("DejaVu", "", str(font_path))
        family, text = "DejaVu", (lambda value: value)
    else:
        family, text = "Helvetica", _latin1
    pdf.add_page()

    def write(
        value: str,
        size: float = 9,
        height: float = 5,
        width: float = 0,
        align: str = "L",
        newline: bool = True,
    ) -> None:
        pdf.set_font(family, size=size)
        pdf.cell(
            width,
            height,
            text(value),
            align=align,
            new_x=XPos.LMARGIN if newline else XPos.RIGHT,
            new_y=YPos.NEXT if newline else YPos.TOP,
        )

    write(doc.banner, size=7)
    write(f"{doc.title} nr {doc.number}", size=15, height=10)
    for label, value in doc.details:
        write(f"{label}: {value}")
    pdf.ln(3)

    top = pdf.get_y()
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    for column, (heading, rows) in enumerate((("Sprzedawca", doc.seller), ("Nabywca", doc.buyer))):
        pdf.set_xy(pdf.l_margin + column * half, top)
        pdf.set_font(family, size=10)
        pdf.multi_cell(half - 4, 5, text("\n".join([heading, *rows])), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), top + 5 * (1 + max(len(doc.seller), len(doc.buyer)))) + 4)

    headers = ("Nazwa", "Ilość", "J.m.", "Cena netto", "VAT", "Wartość netto", "Kwota VAT", "Brutto")
    pdf.set_font(family, size=8)
    # fpdf2's table wraps long line names instead of cutting them off.
    with pdf.table(
        col_widths=(62, 14, 10, 20, 12, 24, 20, 24),
        line_height=5,
        first_row_as_headings=False,
        text_align=("LEFT", "RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
    ) as table:
        for values in [headers] + [
            (line.name, line.quantity, line.unit, line.unit_net, line.rate, line.net, line.vat, line.gross)
            for line in doc.lines
        ]:
            row = table.row()
            for value in values:
                row.cell(text(value))
    pdf.ln(3)

    if doc.totals:
        write("Podsumowanie według stawek VAT", size=9)
        for rate, net, vat, gross in doc.totals:
            write(f"{rate}: netto {net}, VAT {vat}, brutto {gross}", size=9)
    write(f"{doc.total_label}: {doc.total_gross} {doc.currency}", size=12, height=8)
    for note in doc.notes:
        pdf.set_font(family, size=8)
        pdf.multi_cell(0, 4, text(note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


def _latin1(value: str) -> str:
    return value.translate(POLISH_TO_ASCII).replace("—", "-").encode("latin-1", "replace").decode("latin-1")
