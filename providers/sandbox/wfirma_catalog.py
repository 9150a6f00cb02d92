"""wFirma catalogue rules: ``series/add`` and ``goods/add|edit`` records, validated like the
service answers (problems per field, Polish messages). No storage here."""

from __future__ import annotations

from decimal import Decimal

from .money import NotANumber, money_str, parse_decimal
from .wfirma_data import ALL_TYPES, PRICE_TYPES, SERIES_RESETS
from .wfirma_format import related_id, text
from .wfirma_invoices import (
    BAD_RATE,
    DEFAULT_VAT_CODE_ID,
    INVALID_VALUE,
    LARGEST_AMOUNT,
    REQUIRED,
    VAT_BY_ID,
    Problems,
    quantity_text,
    truthy,
    vat_code_for_text,
)

GOOD_KINDS = ("good", "service", "set")


def read_series(raw: dict) -> tuple[dict, Problems]:
    """A new numbering series: the template must hold ``[numer]``, and a monthly or daily
    reset needs the month (and day) in it, or numbers would repeat."""
    problems = Problems()
    fields = {
        "name": text(raw.get("name")),
        "template": text(raw.get("template")),
        "type": text(raw.get("type")) or "normal",
        "reset": text(raw.get("reset")) or "yearly",
        "initnumber": text(raw.get("initnumber")) or "1",
        "visibility": text(raw.get("visibility")),
    }
    template = fields["template"]
    if not fields["name"]:
        problems.add("name", REQUIRED, "require")
    if not template:
        problems.add("template", REQUIRED, "require")
    elif "[numer]" not in template:
        problems.add("template", "Szablon musi zawierać znacznik [numer]")
    if fields["type"] not in ALL_TYPES:
        problems.add("type", INVALID_VALUE)
    if fields["reset"] not in SERIES_RESETS:
        problems.add("reset", INVALID_VALUE)
    elif template and fields["reset"] in ("monthly", "daily") and "[miesiąc]" not in template:
        problems.add("template", "Numeracja miesięczna i dzienna wymaga znacznika [miesiąc] w szablonie")
    elif template and fields["reset"] == "daily" and "[dzień]" not in template:
        problems.add("template", "Numeracja dzienna wymaga znacznika [dzień] w szablonie")
    if not fields["initnumber"].isdecimal() or int(fields["initnumber"]) < 1:
        problems.add("initnumber", INVALID_VALUE)
    else:
        fields["initnumber"] = int(fields["initnumber"])
    return fields, problems


def read_good(raw: dict, current: dict | None, warehouse_type: str) -> tuple[dict, Problems]:
    """A goods record from ``goods/add`` (``current`` None) or ``goods/edit`` (fields not sent keep
    their value). ``count`` (stock) is writable only without the warehouse module."""
    problems = Problems()
    current = current or {}
    sent = {key: value for key, value in raw.items() if text(value) is not None or isinstance(value, dict)}
    merged = {**current, **sent}
    name = text(merged.get("name"))
    if not name:
        problems.add("name", REQUIRED, "require")
    kind = text(merged.get("type")) or "good"
    if kind not in GOOD_KINDS:
        problems.add("type", INVALID_VALUE)
    vat = _vat(raw, current, problems)
    price_type = text(merged.get("price_type")) or "netto"
    if price_type not in PRICE_TYPES:
        problems.add("price_type", INVALID_VALUE)
    amounts = {}
    for name_ in ("netto", "brutto", "count", "min", "max", "secure"):
        try:
            value = parse_decimal(text(raw.get(name_)))
        except NotANumber:
            value = LARGEST_AMOUNT
        if value is not None and abs(value) >= LARGEST_AMOUNT:
            problems.add(name_, INVALID_VALUE)
        elif value is not None:
            amounts[name_] = value
    if problems:
        return {}, problems

    factor = 1 + vat.fraction
    netto, brutto = amounts.get("netto"), amounts.get("brutto")
    if netto is None and brutto is None and current:
        netto = Decimal(current["netto"])  # a new rate keeps the net price
        brutto = None if ("vat" in raw or "vat_code" in raw) else Decimal(current["brutto"])
    if brutto is None:
        netto = netto or Decimal(0)
        brutto = netto * factor
    elif netto is None:
        netto = brutto / factor
    count = current.get("count")
    if kind == "service":
        count = None
    elif "count" in amounts and warehouse_type != "extended":
        count = quantity_text(amounts["count"])
    elif count is None:
        count = quantity_text(Decimal(0))
    return {
        "name": name,
        "code": text(merged.get("code")),
        "unit": text(merged.get("unit")) or "szt.",
        "netto": money_str(netto),
        "brutto": money_str(brutto),
        "price_type": price_type,
        "type": kind,
        "vat": vat.code,
        "vat_code": {"id": str(vat.id)},
        **{key: text(merged.get(key)) for key in ("classification", "gtu", "lumpcode", "description")},
        "discount": "1" if truthy(merged.get("discount")) else "0",
        "count": count,
        "reserved": current.get("reserved") or (None if count is None else quantity_text(Decimal(0))),
        **{
            key: quantity_text(amounts[key]) if key in amounts else current.get(key)
            for key in ("min", "max", "secure")
        },
        "visibility": text(merged.get("visibility")) or "visible",
        "warehouse_type": warehouse_type,
    }, problems


def _vat(raw: dict, current: dict, problems: Problems):
    code_id = related_id(raw, "vat_code")
    if code_id:
        vat = VAT_BY_ID.get(int(code_id)) if code_id.isdecimal() else None
        if vat is None:
            problems.add("vat_code_id", BAD_RATE)
    elif text(raw.get("vat")):
        vat = vat_code_for_text(text(raw.get("vat")))
        if vat is None:
            problems.add("vat", BAD_RATE)
    else:
        vat = VAT_BY_ID[int(current["vat_code"]["id"]) if current else DEFAULT_VAT_CODE_ID]
    return vat or VAT_BY_ID[DEFAULT_VAT_CODE_ID]
