"""Money and VAT arithmetic every adapter does the same way: Decimal in, Decimal (or its text) out.

Polish invoices print one VAT amount per rate, computed once from that rate's gross sum (a
gross-priced document) or net sum (a net-priced one); `rate_totals` is that rule, so each
adapter reading a document back reports the totals the service prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar

from .base import VAT_RATES, RateTotal

CENT = Decimal("0.01")
RATE_ORDER = {rate: i for i, rate in enumerate(VAT_RATES)}

T = TypeVar("T")


def round_money(value: Decimal) -> Decimal:
    """To the grosz, halves up (as the hub rounds)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def money_text(value: Decimal) -> str:
    """'12.30': an amount as text with exactly two places."""
    return f"{round_money(value):f}"


def quantity_text(value: Decimal) -> str:
    """'2', '0.5': a quantity without trailing zeros or an exponent."""
    return f"{Decimal(value).normalize():f}"


def json_quantity(value: Decimal) -> int | float:
    """JSON has no decimal type: whole quantities go as integers, fractions as the float whose
    shortest repr is the same decimal (exact for quantities with up to 15 digits)."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value.normalize())


def decimal_or_none(value: Any) -> Decimal | None:
    """A number read from a service's answer ('12.30', '12,30', 12.3); None when it is not one."""
    if value is None or value == "" or isinstance(value, bool | dict | list):
        return None
    try:
        return Decimal(str(value).replace(",", ".").strip())
    except InvalidOperation:
        return None


def normalise_rate(value: Any, aliases: Mapping[str, str] | None = None) -> str:
    """A VAT rate read back, written as the hub writes it: '23.00', '23,0' or '23%' → '23';
    `aliases` maps a service's own words for the letter rates ('n/a' → 'np')."""
    text = str(value if value is not None else "").strip().lower()
    if aliases and text in aliases:
        return aliases[text]
    number = decimal_or_none(text.rstrip("%"))
    if number is not None and number == number.to_integral_value():
        return str(int(number))
    return text


def rate_percent(rate: str) -> Decimal:
    """23 for "23"; zw / np / oo carry no Polish VAT."""
    return Decimal(rate) if rate.isdecimal() else Decimal(0)


def by_rate(per_rate: Mapping[str, T]) -> list[tuple[str, T]]:
    """Per-rate items in the order invoices print them (23, 8, 5, 0, zw, np, oo, then others)."""
    return sorted(per_rate.items(), key=lambda item: (RATE_ORDER.get(item[0], len(RATE_ORDER)), item[0]))


def split_gross(rate: str, gross: Decimal) -> RateTotal:
    """One rate of a gross-priced document: its VAT computed once from the rate's gross sum."""
    gross = round_money(gross)
    percent = rate_percent(rate)
    vat = round_money(gross * percent / (100 + percent))
    return RateTotal(rate, gross - vat, vat, gross)


def split_net(rate: str, net: Decimal) -> RateTotal:
    """One rate of a net-priced document: its VAT computed once from the rate's net sum."""
    net = round_money(net)
    vat = round_money(net * rate_percent(rate) / 100)
    return RateTotal(rate, net, vat, net + vat)


def rate_totals(sums: Mapping[str, Decimal], from_net: bool = False) -> tuple[RateTotal, ...]:
    """Per-rate totals from each rate's gross sum (or net sum), in print order."""
    split = split_net if from_net else split_gross
    return tuple(split(rate, amount) for rate, amount in by_rate(sums))
