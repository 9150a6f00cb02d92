"""What a printed sales document shows, as plain frozen dataclasses.

The PDF renderer (`pdf.render_pdf`) and the HTML print view (`templates/documents/print.html`)
both take a `Printable` and decide nothing about money: every amount here was computed by
`totals.py`. Building a Printable from the models is the caller's job; `build_lines` and
`build_correction` do the arithmetic part of it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from webapp.documents.amount_words import amount_in_words as _amount_in_words
from webapp.documents.totals import DocumentTotals, correction_totals, line_amounts, normalise_rate

TITLE_INVOICE = "Faktura VAT"
TITLE_RECEIPT = "Paragon"
TITLE_CORRECTION = "Faktura korygująca"


@dataclass(frozen=True)
class PrintableParty:
    name: str
    tax_id: str | None = None  # NIP (or an EU VAT id); None for a consumer
    address_lines: tuple[str, ...] = ()
    email: str | None = None
    phone: str | None = None
    bank_account: str | None = None  # printed for the seller only


@dataclass(frozen=True)
class PrintableLine:
    no: int
    name: str
    sku: str | None
    quantity: Decimal
    unit: str  # "szt.", "kg", "usł." ...
    unit_gross: Decimal
    vat_rate: str  # rate code, see totals.VAT_RATES
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class PrintableCorrection:
    original_number: str
    original_issue_date: date
    reason: str
    before_lines: tuple[PrintableLine, ...]
    after_lines: tuple[PrintableLine, ...]
    before_totals: DocumentTotals
    after_totals: DocumentTotals
    difference_totals: DocumentTotals  # after − before


@dataclass(frozen=True, kw_only=True)
class Printable:
    title: str  # TITLE_INVOICE, TITLE_RECEIPT or TITLE_CORRECTION
    number: str
    issue_date: date
    sell_date: date
    seller: PrintableParty
    buyer: PrintableParty | None  # None: a receipt without a buyer
    lines: tuple[PrintableLine, ...]  # for a correction: the lines after it
    totals: DocumentTotals  # for a correction: the totals after it
    currency: str = "PLN"
    exchange_rate: Decimal | None = None  # PLN for one unit of `currency`
    place: str = ""
    payment_method: str = ""
    payment_due: date | None = None  # None: the due date is not printed
    paid: bool = False
    paid_date: date | None = None
    amount_in_words: str | None = None  # None: spelled out from payable_amount
    notes: str = ""
    logo_png: bytes | None = None
    correction: PrintableCorrection | None = None
    superseded_note: str | None = None  # e.g. "Dokument zastąpiony korektą FK/1/2024"
    # (rate code, VAT in PLN) per taxed rate, see totals.vat_in_pln; None: not printed
    vat_in_pln: tuple[tuple[str, Decimal], ...] | None = None

    @property
    def is_correction(self) -> bool:
        return self.correction is not None

    @property
    def payable_amount(self) -> Decimal:
        """The amount in the "Do zapłaty" / "Zapłacono" / "Do zwrotu" line (never negative)."""
        if self.correction is not None:
            return abs(self.correction.difference_totals.gross)
        return self.totals.gross

    @property
    def payable_label(self) -> str:
        if self.correction is not None:
            return "Do zwrotu" if self.correction.difference_totals.gross < 0 else "Do zapłaty"
        return "Zapłacono" if self.paid else "Do zapłaty"

    @property
    def payable_in_words(self) -> str:
        if self.amount_in_words is not None:
            return self.amount_in_words
        return _amount_in_words(self.payable_amount, self.currency)

    @property
    def vat_in_pln_total(self) -> Decimal | None:
        if self.vat_in_pln is None:
            return None
        return sum((amount for _, amount in self.vat_in_pln), Decimal("0.00"))

    @property
    def logo_data_uri(self) -> str | None:
        """The logo for an <img src>, so the print page needs no extra request."""
        if not self.logo_png:
            return None
        return "data:image/png;base64," + base64.b64encode(self.logo_png).decode("ascii")


def build_lines(items: Iterable[object]) -> tuple[PrintableLine, ...]:
    """Number the items from 1 and compute each line's amounts with the hub's rule.

    Each item needs `name`, `quantity`, `unit_gross`, `vat_rate` and may have `sku` and
    `unit` (default "szt.").
    """
    lines = []
    for no, item in enumerate(items, start=1):
        rate = normalise_rate(item.vat_rate)  # type: ignore[attr-defined]
        amounts = line_amounts(item.quantity, item.unit_gross, rate)  # type: ignore[attr-defined]
        lines.append(PrintableLine(
            no=no,
            name=item.name,  # type: ignore[attr-defined]
            sku=getattr(item, "sku", None) or None,
            quantity=Decimal(item.quantity),  # type: ignore[attr-defined]
            unit=getattr(item, "unit", None) or "szt.",
            unit_gross=Decimal(item.unit_gross),  # type: ignore[attr-defined]
            vat_rate=rate,
            net=amounts.net,
            vat=amounts.vat,
            gross=amounts.gross,
        ))
    return tuple(lines)


def build_correction(original_number: str, original_issue_date: date, reason: str,
                     before_items: Iterable[object], after_items: Iterable[object]) -> PrintableCorrection:
    """A PrintableCorrection with its lines and before/after/difference totals computed."""
    before_lines = build_lines(before_items)
    after_lines = build_lines(after_items)
    totals = correction_totals(before_lines, after_lines)
    return PrintableCorrection(
        original_number=original_number,
        original_issue_date=original_issue_date,
        reason=reason,
        before_lines=before_lines,
        after_lines=after_lines,
        before_totals=totals.before,
        after_totals=totals.after,
        difference_totals=totals.difference,
    )


def format_amount(amount: Decimal) -> str:
    """Polish notation with a space between thousands: Decimal("1234.5") -> "1 234,50"."""
    return f"{amount:,.2f}".replace(",", " ").replace(".", ",")


def format_quantity(quantity: Decimal) -> str:
    """No needless zeros: 2 -> "2", 1.500 -> "1,5"."""
    return f"{Decimal(quantity).normalize():f}".replace(".", ",")


def format_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def format_exchange_rate(rate: Decimal) -> str:
    """As published (NBP gives four places): Decimal("4.3210") -> "4,3210"."""
    return f"{rate:f}".replace(".", ",")
