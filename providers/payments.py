"""Reading a shop's payment name ("Przelewy24", "Płatność kartą", "Za pobraniem") the same way
in every adapter.

The patterns below are matched against the name folded to lower-case ASCII (`ascii_fold`).
Each adapter keeps its own rule table — which of these become which of its service's codes,
in which order, and what an unknown name becomes — because the services' code lists differ.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

from .base import ascii_fold

T = TypeVar("T")

PRZELEWY24 = r"\bprzelewy\s*24\b|\bp24\b"
PAYU = r"\bpayu\b"
PAYPAL = r"\bpaypal\b"
DOTPAY = r"\bdotpay\b"
TPAY = r"\btpay\b"
BLIK = r"\bblik\b"
CASH_ON_DELIVERY = r"\bpobrani|\bprzy odbiorze\b|\bcash on delivery\b|\bcod\b"
CARD = r"\bkart|\bcard\b"
WALLET = r"\bapple pay\b|\bgoogle pay\b"  # card payments through a phone
CASH = r"\bgotowk|\bcash\b"
TRANSFER = r"\bprzelew|\btransfer\b"
COMPENSATION = r"\bkompensat"
BARTER = r"\bbarter\b"
CHEQUE = r"\bczek|\bcheque\b"


def any_of(*patterns: str) -> str:
    return "|".join(patterns)


def payment_code(shop_name: str, rules: Iterable[tuple[str, T]]) -> T | None:
    """The code of the first rule whose pattern the shop's payment name matches; None if none does."""
    folded = ascii_fold(shop_name)
    return next((code for pattern, code in rules if re.search(pattern, folded)), None)
