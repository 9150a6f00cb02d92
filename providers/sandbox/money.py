"""Decimal helpers the emulators use to read and print amounts."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


class NotANumber(ValueError):
    pass


def parse_decimal(value) -> Decimal | None:
    """Read an amount sent as a number or a string; accepts a comma decimal ("72,57").

    Returns None for a missing/blank value; raises NotANumber for garbage.
    """
    if value is None or isinstance(value, bool):
        if isinstance(value, bool):
            raise NotANumber(value)
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if not text:
        return None
    try:
        number = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise NotANumber(value) from None
    if not number.is_finite():
        raise NotANumber(value)
    return number


def round_money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money_str(amount: Decimal) -> str:
    """Amounts go out as decimal strings with two places, e.g. "60.23"."""
    return f"{round_money(amount):.2f}"


def quantity_str(quantity: Decimal) -> str:
    """Quantities print like Rails decimals: "2.0", "1.5", "0.125"."""
    text = format(quantity.normalize(), "f")
    return text if "." in text else f"{text}.0"
