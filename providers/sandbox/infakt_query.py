"""List parameters of the inFakt API: ``q[field_modifier]`` filters, ``fields=``, ``order``, paging.

Filters follow the contract: modifiers ``_eq``, ``_cont`` (text), ``_lt``, ``_gt``,
``_lteq``, ``_gteq`` (dates, amounts) and ``_null``; not every field takes every
modifier, and an unknown ``q[...]`` key (or a bare ``?nip=``) is silently ignored,
so the client gets the unfiltered page back — as the real service does.
"""

from __future__ import annotations

import re
from datetime import date

from .infakt_documents import digits

TEXT, DATE, NUMBER, DIGITS = "text", "date", "number", "digits"
MODIFIERS = {
    TEXT: ("eq", "cont", "null"),
    DATE: ("eq", "lt", "gt", "lteq", "gteq", "null"),
    NUMBER: ("eq", "lt", "gt", "lteq", "gteq", "null"),
    DIGITS: ("eq",),
}
#: what GET /invoices.json (and /corrective_invoices.json) can filter on
INVOICE_FILTERS = {
    "number": TEXT,
    "uuid": TEXT,
    "status": TEXT,
    "kind": TEXT,
    "currency": TEXT,
    "payment_method": TEXT,
    "client_company_name": TEXT,
    "client_first_name": TEXT,
    "client_last_name": TEXT,
    "client_tax_code": TEXT,
    "clean_client_nip": DIGITS,
    "client_id": NUMBER,
    "invoice_date": DATE,
    "sale_date": DATE,
    "payment_date": DATE,
    "paid_date": DATE,
    "gross_price": NUMBER,
    "net_price": NUMBER,
    "corrected_invoice_number": TEXT,
    "corrected_invoice_uuid": TEXT,
}
CLIENT_FILTERS = {
    "company_name": TEXT,
    "first_name": TEXT,
    "last_name": TEXT,
    "nip": TEXT,
    "clean_nip": DIGITS,
    "email": TEXT,
    "city": TEXT,
    "country": TEXT,
}
#: a filter field that is computed from another one
DERIVED = {"clean_client_nip": "client_tax_code", "clean_nip": "nip"}
INVOICE_ORDER_KEYS = ("invoice_date", "sale_date", "payment_date", "paid_date", "number", "gross_price", "id")
DEFAULT_LIMIT, MAX_LIMIT = 10, 100
_KEY = re.compile(r"^q\[([a-z_]+?)_(eq|cont|null|lteq|gteq|lt|gt)\]$")


class BadParameter(Exception):
    """A parameter value the service answers 400 for."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse_filters(args, known: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """``(field, kind, modifier, value)`` for every supported ``q[...]`` key; the rest is ignored."""
    filters = []
    for key, value in args.items(multi=True):
        match = _KEY.match(key)
        if not match:
            continue
        name, modifier = match.groups()
        kind = known.get(name)
        if kind is None or modifier not in MODIFIERS[kind]:
            continue
        if kind == DATE and modifier != "null" and not _is_date(value):
            raise BadParameter(f"Nieprawidłowa wartość parametru {key}: oczekiwano daty RRRR-MM-DD.")
        if kind == NUMBER and modifier != "null" and not re.fullmatch(r"-?\d+", value.strip()):
            raise BadParameter(f"Nieprawidłowa wartość parametru {key}: oczekiwano liczby całkowitej.")
        filters.append((name, kind, modifier, value))
    return filters


def matches(record: dict, filters) -> bool:
    return all(_match(record, *spec) for spec in filters)


def _match(record: dict, name: str, kind: str, modifier: str, wanted: str) -> bool:
    value = record.get(DERIVED.get(name, name))
    if modifier == "null":
        return (value is None or value == "") == (wanted.strip().lower() in {"1", "true", "t", "yes"})
    if value is None:
        return False
    if kind == DIGITS:
        return digits(str(value)) == digits(wanted) and bool(digits(wanted))
    if kind == TEXT:
        if modifier == "cont":
            return wanted.lower() in str(value).lower()
        return str(value) == wanted
    left, right = (str(value)[:10], wanted.strip()) if kind == DATE else (int(value), int(wanted))
    return {
        "eq": left == right,
        "lt": left < right,
        "gt": left > right,
        "lteq": left <= right,
        "gteq": left >= right,
    }[modifier]


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value.strip())
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()))


def ordered(records: list[dict], order: str | None) -> list[dict]:
    """``order=invoice_date desc`` (also ``invoice_date.desc``, ``-invoice_date``); default newest invoice date first."""
    key, descending = "invoice_date", True
    if order:
        text = order.strip()
        parts = re.split(r"[\s.]+", text.lstrip("-"))
        if parts and parts[0] in INVOICE_ORDER_KEYS:
            key = parts[0]
            descending = text.startswith("-") or (len(parts) > 1 and parts[1].lower() == "desc")

    def sort_key(record):
        value = record.get(key)
        return (value is not None, value if value is not None else "", record["id"])

    return sorted(records, key=sort_key, reverse=descending)


def paging(args) -> tuple[int, int]:
    """``offset`` (default 0) and ``limit`` (default 10, at most 100)."""
    values = {}
    for name, default in (("offset", 0), ("limit", DEFAULT_LIMIT)):
        raw = args.get(name)
        if raw is None or raw == "":
            values[name] = default
            continue
        if not re.fullmatch(r"\d+", raw.strip()):
            raise BadParameter(f"Nieprawidłowa wartość parametru {name}.")
        values[name] = int(raw)
    return values["offset"], min(max(values["limit"], 1), MAX_LIMIT)


def parse_fields(text: str | None) -> list | None:
    """``number,services(name,tax_symbol)`` -> ``["number", ("services", ["name", "tax_symbol"])]``."""
    if not text or not text.strip():
        return None
    fields, _ = _fields(text.replace(" ", ""), 0)
    return fields


def _fields(text: str, at: int) -> tuple[list, int]:
    fields: list = []
    name = ""
    while at < len(text):
        char = text[at]
        if char == "(":
            nested, at = _fields(text, at + 1)
            fields.append((name, nested))
            name = ""
        elif char == ")":
            if name:
                fields.append(name)
            return fields, at
        elif char == ",":
            if name:
                fields.append(name)
            name = ""
        else:
            name += char
        at += 1
    if name:
        fields.append(name)
    return fields, at


def select_fields(record: dict, fields: list | None) -> dict:
    if fields is None:
        return record
    out = {}
    for spec in fields:
        if isinstance(spec, tuple):
            name, nested = spec
            value = record.get(name)
            if isinstance(value, list):
                out[name] = [
                    select_fields(item, nested) if isinstance(item, dict) else item for item in value
                ]
            elif isinstance(value, dict):
                out[name] = select_fields(value, nested)
            elif name in record:
                out[name] = value
        elif spec in record:
            out[spec] = record[spec]
    return out
