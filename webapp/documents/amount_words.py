"""An amount in Polish words, as invoices print it: "sto dwadzieścia trzy złote 45/100".

Written by hand (a page of tables) rather than pulling in a dependency: Polish needs three
plural forms (1 złoty, 2–4 złote, 5+ złotych; but 22 złote and 12 złotych) for the currency and
for thousands/millions, and feminine numerals for feminine currency names (dwie korony).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from webapp.documents.totals import money

_UNITS = ("", "jeden", "dwa", "trzy", "cztery", "pięć", "sześć", "siedem", "osiem", "dziewięć")
_TEENS = ("dziesięć", "jedenaście", "dwanaście", "trzynaście", "czternaście", "piętnaście",
          "szesnaście", "siedemnaście", "osiemnaście", "dziewiętnaście")
_TENS = ("", "", "dwadzieścia", "trzydzieści", "czterdzieści", "pięćdziesiąt", "sześćdziesiąt",
         "siedemdziesiąt", "osiemdziesiąt", "dziewięćdziesiąt")
_HUNDREDS = ("", "sto", "dwieście", "trzysta", "czterysta", "pięćset", "sześćset", "siedemset",
             "osiemset", "dziewięćset")


@dataclass(frozen=True)
class _Noun:
    one: str  # 1 złoty
    few: str  # 2–4 złote (but not 12–14)
    many: str  # 5+ złotych, 12–14, 0
    feminine: bool = False  # jedna/dwie instead of jeden/dwa

    def form(self, count: int) -> str:
        if count == 1:
            return self.one
        if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
            return self.few
        return self.many


# 10^3k -> name; groups above a billion are not expected on an invoice but cost nothing.
_SCALES = (
    _Noun("tysiąc", "tysiące", "tysięcy"),
    _Noun("milion", "miliony", "milionów"),
    _Noun("miliard", "miliardy", "miliardów"),
    _Noun("bilion", "biliony", "bilionów"),
)

CURRENCIES: dict[str, _Noun] = {
    "PLN": _Noun("złoty", "złote", "złotych"),
    "EUR": _Noun("euro", "euro", "euro"),
    "USD": _Noun("dolar", "dolary", "dolarów"),
    "GBP": _Noun("funt", "funty", "funtów"),
    "CHF": _Noun("frank", "franki", "franków"),
    "CZK": _Noun("korona", "korony", "koron", feminine=True),
    "SEK": _Noun("korona", "korony", "koron", feminine=True),
    "NOK": _Noun("korona", "korony", "koron", feminine=True),
    "DKK": _Noun("korona", "korony", "koron", feminine=True),
}


def _below_thousand(number: int, feminine: bool = False) -> list[str]:
    hundreds, rest = divmod(number, 100)
    words = [_HUNDREDS[hundreds]]
    if 10 <= rest < 20:
        words.append(_TEENS[rest - 10])
    else:
        tens, units = divmod(rest, 10)
        unit = _UNITS[units]
        if feminine and units == 2:
            unit = "dwie"
        words += [_TENS[tens], unit]
    return [word for word in words if word]


def number_in_words(number: int, feminine: bool = False) -> str:
    """A non-negative whole number in Polish words: 1234 -> "tysiąc dwieście trzydzieści cztery"."""
    if number < 0:
        raise ValueError("number_in_words takes a non-negative number")
    if number == 0:
        return "zero"
    if number == 1 and feminine:
        return "jedna"  # "jedna korona", but "dwadzieścia jeden koron", "sto jeden koron"
    groups = []
    while number:
        number, group = divmod(number, 1000)
        groups.append(group)
    if len(groups) > len(_SCALES) + 1:
        raise ValueError("number too large")
    words: list[str] = []
    for power in range(len(groups) - 1, 0, -1):
        group = groups[power]
        if not group:
            continue
        scale = _SCALES[power - 1]
        # "tysiąc", not "jeden tysiąc"; "dwa tysiące" (thousand and up are masculine).
        words += ([] if group == 1 else _below_thousand(group)) + [scale.form(group)]
    words += _below_thousand(groups[0], feminine)
    return " ".join(words)


def amount_in_words(amount: Decimal | int | str, currency: str = "PLN") -> str:
    """`amount` in words with the currency name and the grosze as a fraction.

    >>> amount_in_words(Decimal("123.45"))
    'sto dwadzieścia trzy złote 45/100'

    A currency without a Polish name in CURRENCIES is written as its code ("sto HUF 00/100").
    Negative amounts get "minus".
    """
    value = money(amount)
    sign = "minus " if value < 0 else ""
    whole, fraction = divmod(abs(value), 1)
    whole = int(whole)
    cents = int(fraction * 100)
    code = currency.upper()
    noun = CURRENCIES.get(code)
    if noun is None:
        return f"{sign}{number_in_words(whole)} {code} {cents:02d}/100"
    return f"{sign}{number_in_words(whole, noun.feminine)} {noun.form(whole)} {cents:02d}/100"
