"""The hub's money rule: how a sales document's amounts are computed, in one place.

Shops sell at gross prices, so the hub computes Polish invoices "from gross" (art. 106e ust. 7
and 8 of the VAT act allow computing the tax from the gross value of the sale):

1. Line gross      = round_half_up(quantity × unit_gross, 0.01)
2. Per VAT rate r  : gross_r = Σ line gross of the lines with rate r             (no rounding)
                     vat_r   = round_half_up(gross_r × r / (100 + r), 0.01)
                               (0 for the rates without tax: "0", "zw", "np", "oo")
                     net_r   = gross_r − vat_r
3. Document totals = the sums of the per-rate rows (net, vat, gross).

Line net and VAT are informational only: line_vat = round_half_up(line_gross × r / (100 + r)),
line_net = line_gross − line_vat. The sum of the line VATs may differ by a few grosze from the
per-rate VAT; the per-rate figure is the one printed in the summary, the one owed, and the one
sent to the accounting services.

Corrections print the document before and after, and the difference per rate is
after − before of each row (never recomputed from the difference of the gross), so that
before + difference == after holds to the grosz on the printed page.

A foreign-currency invoice shows its VAT converted to PLN (art. 106e ust. 11):
vat_pln_r = round_half_up(vat_r × exchange_rate, 0.01) per rate.

Rounding is half away from zero (ROUND_HALF_UP in `decimal`), as the act's "0.5 grosza and
more rounds up" reads for negative amounts too. Everything is `Decimal`: a float passed in is a
bug upstream and raises TypeError instead of being silently rounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

GROSZ = Decimal("0.01")
ZERO = Decimal("0.00")

# Rate code -> label printed on the document, in print order (dicts keep insertion order).
VAT_RATES: dict[str, str] = {
    "23": "23%",
    "8": "8%",
    "5": "5%",
    "0": "0%",
    "zw": "zw.",
    "np": "np.",
    "oo": "o.o.",
}

# Rates that carry tax: rate code -> percentage.
_PERCENT: dict[str, Decimal] = {"23": Decimal(23), "8": Decimal(8), "5": Decimal(5)}
_PRINT_ORDER: dict[str, int] = {code: index for index, code in enumerate(VAT_RATES)}


def _decimal(value: Decimal | int | str, what: str) -> Decimal:
    # bool is an int subclass; True as a price is certainly a mistake.
    if isinstance(value, float | bool):
        raise TypeError(f"{what} must be Decimal, int or str, not {type(value).__name__}: {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | str):
        return Decimal(value)
    raise TypeError(f"{what} must be Decimal, int or str, not {type(value).__name__}")


def money(value: Decimal | int | str) -> Decimal:
    """Round to grosze, half up (away from zero). Floats are refused with TypeError."""
    return _decimal(value, "amount").quantize(GROSZ, rounding=ROUND_HALF_UP)


def normalise_rate(rate: str | int) -> str:
    """Return the rate code ("23", "zw", ...) for 23, "23", "23%", "ZW", "o.o." and the like."""
    if isinstance(rate, float | bool):
        raise TypeError(f"VAT rate must be str or int, not {type(rate).__name__}")
    code = str(rate).strip().lower().rstrip("%").rstrip(".")
    code = {"o.o": "oo"}.get(code, code)
    if code not in VAT_RATES:
        raise ValueError(f"unknown VAT rate {rate!r}; expected one of {', '.join(VAT_RATES)}")
    return code


def rate_label(rate: str | int) -> str:
    """The rate as printed: "23%", "zw.", "np.", "o.o."."""
    return VAT_RATES[normalise_rate(rate)]


def rate_percent(rate: str | int) -> Decimal:
    """The tax percentage of a rate; 0 for the rates without tax."""
    return _PERCENT.get(normalise_rate(rate), Decimal(0))


def vat_from_gross(gross: Decimal, rate: str | int) -> Decimal:
    """VAT contained in a gross amount: round_half_up(gross × r / (100 + r))."""
    percent = rate_percent(rate)
    if not percent:
        return ZERO
    return money(_decimal(gross, "gross") * percent / (100 + percent))


@dataclass(frozen=True)
class LineAmounts:
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class RateTotal:
    rate: str  # rate code, see VAT_RATES
    net: Decimal
    vat: Decimal
    gross: Decimal

    @property
    def label(self) -> str:
        return VAT_RATES[self.rate]


@dataclass(frozen=True)
class DocumentTotals:
    rates: tuple[RateTotal, ...]  # in print order, only the rates the document uses
    net: Decimal
    vat: Decimal
    gross: Decimal

    def rate(self, code: str | int) -> RateTotal | None:
        """The row of one rate, or None when the document has no line at that rate."""
        wanted = normalise_rate(code)
        return next((row for row in self.rates if row.rate == wanted), None)


@dataclass(frozen=True)
class CorrectionTotals:
    before: DocumentTotals
    after: DocumentTotals
    difference: DocumentTotals  # after − before, per rate and overall


def line_amounts(quantity: Decimal | int | str, unit_gross: Decimal | int | str,
                 vat_rate: str | int) -> LineAmounts:
    """Gross of one line and its informational net/VAT split."""
    gross = money(_decimal(quantity, "quantity") * _decimal(unit_gross, "unit_gross"))
    vat = vat_from_gross(gross, vat_rate)
    return LineAmounts(net=gross - vat, vat=vat, gross=gross)


def _line_fields(line: object) -> tuple[Decimal | int | str, Decimal | int | str, str | int]:
    # Objects (models, dataclasses, named tuples) are read by attribute; plain 3-tuples by position.
    if hasattr(line, "quantity"):
        return line.quantity, line.unit_gross, line.vat_rate  # type: ignore[attr-defined]
    quantity, unit_gross, vat_rate = line  # type: ignore[misc]
    return quantity, unit_gross, vat_rate


def _totals_from_gross(gross_by_rate: dict[str, Decimal]) -> DocumentTotals:
    rows = []
    for code in sorted(gross_by_rate, key=_PRINT_ORDER.__getitem__):
        gross = gross_by_rate[code]
        vat = vat_from_gross(gross, code)
        rows.append(RateTotal(rate=code, net=gross - vat, vat=vat, gross=gross))
    return _sum_rows(rows)


def _sum_rows(rows: list[RateTotal]) -> DocumentTotals:
    return DocumentTotals(
        rates=tuple(rows),
        net=sum((row.net for row in rows), ZERO),
        vat=sum((row.vat for row in rows), ZERO),
        gross=sum((row.gross for row in rows), ZERO),
    )


def document_totals(lines: Iterable[object]) -> DocumentTotals:
    """Per-rate rows and document totals of `lines`.

    Each line is an object with `quantity`, `unit_gross`, `vat_rate` attributes, or a
    (quantity, unit_gross, vat_rate) tuple.
    """
    gross_by_rate: dict[str, Decimal] = {}
    for line in lines:
        quantity, unit_gross, vat_rate = _line_fields(line)
        code = normalise_rate(vat_rate)
        gross = line_amounts(quantity, unit_gross, code).gross
        gross_by_rate[code] = gross_by_rate.get(code, ZERO) + gross
    return _totals_from_gross(gross_by_rate)


def totals_difference(before: DocumentTotals, after: DocumentTotals) -> DocumentTotals:
    """after − before, row by row over the rates either side uses (a missing row counts as 0)."""
    codes = sorted({row.rate for row in before.rates} | {row.rate for row in after.rates},
                   key=_PRINT_ORDER.__getitem__)
    empty = RateTotal(rate="", net=ZERO, vat=ZERO, gross=ZERO)
    rows = []
    for code in codes:
        old = before.rate(code) or empty
        new = after.rate(code) or empty
        rows.append(RateTotal(rate=code, net=new.net - old.net, vat=new.vat - old.vat,
                              gross=new.gross - old.gross))
    return _sum_rows(rows)


def correction_totals(before_lines: Iterable[object], after_lines: Iterable[object]) -> CorrectionTotals:
    """Totals of a correction: before, after, and the difference after − before."""
    before = document_totals(before_lines)
    after = document_totals(after_lines)
    return CorrectionTotals(before=before, after=after, difference=totals_difference(before, after))


def to_pln(amount: Decimal | int | str, exchange_rate: Decimal | int | str) -> Decimal:
    """An amount in a foreign currency converted to PLN at `exchange_rate` (PLN per unit)."""
    return money(_decimal(amount, "amount") * _decimal(exchange_rate, "exchange_rate"))


def vat_in_pln(totals: DocumentTotals, exchange_rate: Decimal | int | str) -> tuple[tuple[str, Decimal], ...]:
    """(rate code, VAT in PLN) for each taxed rate of the document, in print order.

    Each rate's VAT is converted on its own; the printed PLN total is the sum of these rows.
    """
    return tuple((row.rate, to_pln(row.vat, exchange_rate)) for row in totals.rates if row.rate in _PERCENT)
