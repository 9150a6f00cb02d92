"""Fakturownia invoice rules, written from the API contract alone.

Reads a create/update payload, validates it the way the service answers
(field -> list of Polish messages), and computes line and invoice amounts the
way a Polish invoice does: per VAT rate, from gross sums when the lines were
given gross, else from net sums. No storage here: the blueprint passes a
``Catalog`` to look things up and stores the ``Draft`` it gets back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .money import NotANumber, money_str, parse_decimal, quantity_str, round_money

KINDS = (
    "vat",
    "proforma",
    "bill",
    "receipt",
    "advance",
    "final",
    "correction",
    "invoice_other",
    "vat_margin",
    "kp",
    "kw",
    "estimate",
    "vat_mp",
    "vat_rr",
    "correction_note",
    "accounting_note",
    "client_order",
    "dw",
    "wnt",
    "wdt",
    "import_service",
    "import_service_eu",
    "import_products",
    "export_products",
)
STATUSES = ("issued", "sent", "paid", "partial", "rejected")
#: kinds that go to KSeF (structured e-invoices); receipts and internal documents do not
KSEF_KINDS = frozenset(
    {"vat", "correction", "advance", "final", "vat_margin", "vat_mp", "wdt", "export_products"}
)
#: kinds that need a buyer
BUYER_KINDS = KSEF_KINDS | {"proforma", "bill", "invoice_other"}
#: kinds that move stock when a warehouse is involved
STOCK_KINDS = frozenset(
    {
        "vat",
        "receipt",
        "bill",
        "correction",
        "final",
        "vat_margin",
        "vat_mp",
        "invoice_other",
        "wdt",
        "export_products",
    }
)

TAX_ALIASES = {
    "23": "23",
    "8": "8",
    "5": "5",
    "0": "0",
    "zw": "zw",
    "oo": "oo",
    "disabled": "disabled",
    "np": "np",
    "n/a": "np",
    "na": "np",
    "nie podlega": "np",
    "not applicable": "np",
}
RATE_FRACTIONS = {"23": Decimal("0.23"), "8": Decimal("0.08"), "5": Decimal("0.05")}
RATE_ORDER = ("23", "8", "5", "0", "zw", "np", "oo", "disabled")
PRICE_KEYS = ("total_price_gross", "price_gross", "total_price_net", "price_net")

# Messages as the Polish-language service words them (the KSeF guide shows the "- " prefix).
BLANK = "- nie może być puste"
NOT_IN_LIST = "- nie znajduje się na liście"
INVALID = "- jest nieprawidłowe"
NOT_A_NUMBER = "- nie jest liczbą"
NOT_FOUND = "- nie istnieje"
TOO_LONG_256 = "- jest za długie (maksymalnie 256 znaków)"
TAKEN = "- zostało już zajęte"
DIFFERS_FROM_ORIGINAL = "- nie może różnić się od danych na fakturze korygowanej"
BUYER_KIND_UNKNOWN = "- należy określić, czy nabywca jest firmą (buyer_company)"

BUYER_TEXT_FIELDS = (
    "buyer_name",
    "buyer_tax_no",
    "buyer_tax_no_kind",
    "buyer_street",
    "buyer_city",
    "buyer_post_code",
    "buyer_country",
    "buyer_email",
    "buyer_phone",
    "buyer_note",
    "buyer_first_name",
    "buyer_last_name",
    "buyer_person",
)
SELLER_TEXT_FIELDS = (
    "seller_name",
    "seller_tax_no",
    "seller_tax_no_kind",
    "seller_street",
    "seller_post_code",
    "seller_city",
    "seller_country",
    "seller_email",
    "seller_phone",
    "seller_fax",
    "seller_www",
    "seller_bank",
    "seller_bank_account",
    "seller_person",
    "seller_bdo_no",
)
RECIPIENT_TEXT_FIELDS = (
    "recipient_name",
    "recipient_street",
    "recipient_post_code",
    "recipient_city",
    "recipient_country",
    "recipient_email",
    "recipient_phone",
    "recipient_note",
)
OTHER_TEXT_FIELDS = (
    "place",
    "payment_type",
    "currency",
    "exchange_currency",
    "exchange_kind",
    "exchange_currency_rate",
    "exchange_note",
    "lang",
    "description",
    "description_footer",
    "description_long",
    "internal_note",
    "oid",
    "correction_reason",
    "corrected_content_before",
    "corrected_content_after",
    "exempt_tax_kind",
    "np_tax_kind",
    "split_payment",
    "show_discount",
    "discount_kind",
    "use_oss",
    "transaction_date",
)
ID_FIELDS = (
    "client_id",
    "department_id",
    "category_id",
    "warehouse_id",
    "invoice_id",
    "from_invoice_id",
    "recipient_id",
    "invoice_template_id",
)
BOOL_FIELDS = ("reverse_charge", "exclude_from_stock_level")


@dataclass
class Catalog:
    """Lookups into the account's data that the rules need."""

    product: Callable[[int], dict | None]
    department: Callable[[int], dict | None]
    default_department: Callable[[], dict]
    warehouse: Callable[[int], dict | None]
    category: Callable[[int], dict | None]
    client: Callable[[int], dict | None]
    invoice: Callable[[int], dict | None]


class Errors:
    """422 ``message`` object: field -> list of messages."""

    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        messages = self.fields.setdefault(name, [])
        if message not in messages:
            messages.append(message)

    def merge(self, other: Errors) -> None:
        for name, messages in other.fields.items():
            for message in messages:
                self.add(name, message)


@dataclass(frozen=True)
class Amounts:
    """Computed amounts of one line."""

    rate: str
    quantity: Decimal
    unit_net: Decimal
    unit_gross: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal
    basis: str  # "gross" when the line was given gross prices, else "net"


@dataclass
class Draft:
    """A validated invoice, ready to be numbered and stored."""

    fields: dict
    positions: list[dict]
    rate_totals: list[dict]
    requested_number: str | None
    oid_unique: bool
    stock_moves: list[tuple[int, Decimal]]  # (product_id, quantity change)
    gov_problems: dict[str, list[str]]
    errors: Errors
    raw_header: dict  # invoice attributes as sent (merged over the stored ones on update)
    new_client: bool  # client_id -1: always create a new client card
    buyer_override: bool  # with client_id: update the client card from the buyer_* fields
    original: dict | None = None  # the invoice a correction corrects


# ---------------------------------------------------------------------------
# numbering


def render_number(pattern: str, counter: int, on: date) -> str:
    """Fill a numbering pattern such as ``nr-m/mm/yyyy`` (-> ``7/05/2026``)."""
    tokens = {
        "nr-m": str(counter),
        "nr-y": str(counter),
        "nr-d": str(counter),
        "nr": str(counter),
        "yyyy": f"{on.year:04d}",
        "yy": f"{on.year % 100:02d}",
        "mm": f"{on.month:02d}",
        "dd": f"{on.day:02d}",
    }
    return re.sub(r"nr-[myd]|nr|yyyy|yy|mm|dd", lambda match: tokens[match.group(0)], pattern)


def counter_period(pattern: str, on: date) -> str:
    """Which period a pattern's counter restarts in: month (nr-m), year (nr-y), day (nr-d) or never."""
    if "nr-m" in pattern:
        return f"{on.year:04d}-{on.month:02d}"
    if "nr-y" in pattern:
        return f"{on.year:04d}"
    if "nr-d" in pattern:
        return on.isoformat()
    return "all"


# ---------------------------------------------------------------------------
# small readers


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value).strip()
    return text or None


def truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "tak", "on"}


def _bool_or_none(value) -> bool | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return truthy(value)


def _decimal(value, name: str, errors: Errors) -> Decimal | None:
    try:
        return parse_decimal(value)
    except NotANumber:
        errors.add(name, NOT_A_NUMBER)
        return None


def _id(value, name: str, errors: Errors) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        errors.add(name, INVALID)
        return None


def _date(value, name: str, errors: Errors) -> date | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else _bad(name, errors)
    except ValueError:
        return _bad(name, errors)


def _bad(name: str, errors: Errors) -> None:
    errors.add(name, INVALID)


def normalise_tax(value) -> str | None:
    """Canonical rate ("23", "zw", "np", ...) or None when the value is not an accepted rate."""
    text = _text(value)
    if text is None:
        return None
    text = text.lower().rstrip("%").strip()
    if text in TAX_ALIASES:
        return TAX_ALIASES[text]
    try:
        number = Decimal(text.replace(",", "."))
    except ArithmeticError:
        return None
    if number == number.to_integral_value() and str(int(number)) in RATE_FRACTIONS | {"0": 0}:
        return str(int(number))
    return None


def _as_list(value) -> list:
    """Rails-style nested params arrive as a list or as {"0": {...}, "1": {...}}."""
    if isinstance(value, dict):
        return [value[key] for key in sorted(value, key=lambda k: (len(str(k)), str(k)))]
    if isinstance(value, list):
        return value
    return []


def _digits(value) -> str:
    return re.sub(r"\D", "", value or "")


# ---------------------------------------------------------------------------
# lines


def compute_amounts(rate: str, quantity: Decimal, prices: dict[str, Decimal | None]) -> Amounts:
    """One line's unit and total amounts from whichever price the client gave."""
    fraction = RATE_FRACTIONS.get(rate, Decimal(0))
    factor = 1 + fraction
    given_gross = prices["total_price_gross"] is not None or prices["price_gross"] is not None
    if given_gross:
        gross = round_money(
            prices["total_price_gross"]
            if prices["total_price_gross"] is not None
            else prices["price_gross"] * quantity
        )
        net = round_money(gross / factor)
        vat = gross - net
        unit_gross = (
            round_money(prices["price_gross"])
            if prices["price_gross"] is not None
            else round_money(gross / quantity)
            if quantity
            else gross
        )
        unit_net = round_money(unit_gross / factor)
    else:
        net = round_money(
            prices["total_price_net"]
            if prices["total_price_net"] is not None
            else prices["price_net"] * quantity
        )
        vat = round_money(net * fraction)
        gross = net + vat
        unit_net = (
            round_money(prices["price_net"])
            if prices["price_net"] is not None
            else round_money(net / quantity)
            if quantity
            else net
        )
        unit_gross = round_money(unit_net * factor)
    return Amounts(rate, quantity, unit_net, unit_gross, net, vat, gross, "gross" if given_gross else "net")


def _line_json(raw: dict, name: str, amounts: Amounts, product: dict | None, kind: str) -> dict:
    return {
        "name": name,
        "description": _text(raw.get("description")),
        "additional_info": _text(raw.get("additional_info")),
        "code": _text(raw.get("code")) or (product or {}).get("code"),
        "gtu_code": _text(raw.get("gtu_code")),
        "kind": kind,
        "product_id": product["id"] if product else None,
        "quantity": quantity_str(amounts.quantity),
        "quantity_unit": _text(raw.get("quantity_unit")) or (product or {}).get("quantity_unit") or "szt",
        "tax": amounts.rate,
        "price_net": money_str(amounts.unit_net),
        "price_gross": money_str(amounts.unit_gross),
        "price_tax": money_str(amounts.unit_gross - amounts.unit_net),
        "total_price_net": money_str(amounts.net),
        "total_price_gross": money_str(amounts.gross),
        "total_price_tax": money_str(amounts.vat),
        "discount": _text(raw.get("discount")),
        "discount_percent": _text(raw.get("discount_percent")),
    }


def compute_line(
    raw, catalog: Catalog, errors: Errors, where: str, kind: str = "normal"
) -> tuple[dict, Amounts] | None:
    """Validate one position and compute it; None (with errors added) when it is not valid."""
    if not isinstance(raw, dict):
        errors.add(where, INVALID)
        return None
    # This line's own problems: the shared ``errors`` merges equal messages of several lines.
    problems = Errors()
    product = None
    product_id = _id(raw.get("product_id"), f"{where}.product_id", problems)
    if product_id is not None:
        product = catalog.product(product_id)
        if product is None:
            problems.add(f"{where}.product_id", NOT_FOUND)
    name = _text(raw.get("name")) or (product or {}).get("name")
    if not name:
        problems.add(f"{where}.name", BLANK)
    quantity = _decimal(raw.get("quantity"), f"{where}.quantity", problems)
    if quantity is None and f"{where}.quantity" not in problems.fields:
        problems.add(f"{where}.quantity", BLANK)
    tax_value = raw.get("tax") if _text(raw.get("tax")) is not None else (product or {}).get("tax")
    rate = normalise_tax(tax_value)
    if rate is None:
        problems.add(f"{where}.tax", BLANK if _text(tax_value) is None else NOT_IN_LIST)
    prices = {key: _decimal(raw.get(key), f"{where}.{key}", problems) for key in PRICE_KEYS}
    if all(value is None for value in prices.values()) and product:
        prices["price_gross"] = parse_decimal(product.get("price_gross"))
        if prices["price_gross"] is None:
            prices["price_net"] = parse_decimal(product.get("price_net"))
    if all(value is None for value in prices.values()) and not any(
        f"{where}.{key}" in problems.fields for key in PRICE_KEYS
    ):
        problems.add(f"{where}.total_price_gross", BLANK)
    if problems.fields:
        errors.merge(problems)
        return None
    amounts = compute_amounts(rate, quantity, prices)
    return _line_json(raw, name, amounts, product, kind), amounts


def _correction_line(raw, catalog: Catalog, errors: Errors) -> tuple[dict, list[tuple[Amounts, int]]] | None:
    """A corrected line: before and after states plus the difference as the outer line."""
    where = "positions"
    if not isinstance(raw, dict):
        errors.add(where, INVALID)
        return None
    states = {}
    for state in ("before", "after"):
        key = f"correction_{state}_attributes"
        if not isinstance(raw.get(key), dict):
            errors.add(f"{where}.{key}", BLANK)
            continue
        states[state] = compute_line(raw[key], catalog, errors, f"{where}.{key}", kind=f"correction_{state}")
    if len(states) < 2 or None in states.values():
        return None
    (before_json, before), (after_json, after) = states["before"], states["after"]
    quantity = after.quantity - before.quantity
    gross, net = after.gross - before.gross, after.net - before.net
    difference = Amounts(
        rate=after.rate,
        quantity=quantity,
        unit_gross=round_money(gross / quantity) if quantity else gross,
        unit_net=round_money(net / quantity) if quantity else net,
        net=net,
        vat=gross - net,
        gross=gross,
        basis=after.basis,
    )
    product = catalog.product(after_json["product_id"] or before_json["product_id"] or 0)
    outer = _line_json(raw, _text(raw.get("name")) or after_json["name"], difference, product, "correction")
    outer["correction_before_attributes"] = before_json
    outer["correction_after_attributes"] = after_json
    return outer, [(before, -1), (after, 1)]


def rate_totals(entries: list[tuple[Amounts, int]], basis: str) -> list[dict]:
    """Per-rate totals as a Polish invoice prints them.

    Gross basis: VAT = gross sum - gross sum / (1 + rate), rounded once per rate;
    net basis: VAT = net sum * rate, rounded once per rate. So the invoice VAT may
    differ by a cent from the sum of the line VATs, as on a real invoice.
    """
    sums: dict[str, Decimal] = {}
    for amounts, sign in entries:
        sums[amounts.rate] = sums.get(amounts.rate, Decimal(0)) + sign * (
            amounts.gross if basis == "gross" else amounts.net
        )
    totals = []
    for rate in sorted(sums, key=RATE_ORDER.index):
        fraction = RATE_FRACTIONS.get(rate, Decimal(0))
        if basis == "gross":
            gross = sums[rate]
            net = round_money(gross / (1 + fraction))
        else:
            net = sums[rate]
            gross = net + round_money(net * fraction)
        totals.append(
            {"rate": rate, "net": money_str(net), "vat": money_str(gross - net), "gross": money_str(gross)}
        )
    return totals


# ---------------------------------------------------------------------------
# the invoice


def merge_positions(previous: list[dict], edits) -> list[dict]:
    """PUT semantics: a position with ``id`` edits that line, ``_destroy`` removes it, others are added."""
    by_id = {position["id"]: dict(position["_input"], id=position["id"]) for position in previous}
    added = []
    for edit in _as_list(edits):
        if not isinstance(edit, dict):
            added.append(edit)
            continue
        position_id = edit.get("id")
        try:
            position_id = int(position_id) if position_id is not None else None
        except (TypeError, ValueError):
            position_id = None
        if position_id is None or position_id not in by_id:
            added.append({key: value for key, value in edit.items() if key != "id"})
        elif truthy(edit.get("_destroy", False)):
            del by_id[position_id]
        else:
            current = by_id[position_id]
            if any(key in edit for key in PRICE_KEYS):  # a new price replaces the old one entirely
                current = {key: value for key, value in current.items() if key not in PRICE_KEYS}
            by_id[position_id] = {**current, **{k: v for k, v in edit.items() if k != "_destroy"}}
    return list(by_id.values()) + added


def build_invoice(
    payload: dict, catalog: Catalog, today: date, options: dict, previous: dict | None = None
) -> Draft:
    """Validate and compute an invoice from a create (or, with ``previous``, an update) payload."""
    errors = Errors()
    raw = {key: value for key, value in payload.items() if key != "positions"}
    if previous is not None:
        raw = {**previous["_input"], **raw}
        raw_positions = (
            merge_positions(previous["positions"], payload["positions"])
            if "positions" in payload
            else [dict(p["_input"], id=p["id"]) for p in previous["positions"]]
        )
    else:
        raw_positions = _as_list(payload.get("positions"))

    kind = _text(raw.get("kind")) or "vat"
    if kind not in KINDS:
        errors.add("kind", NOT_IN_LIST)
    fields: dict = {"kind": kind}

    for name in BUYER_TEXT_FIELDS + SELLER_TEXT_FIELDS + RECIPIENT_TEXT_FIELDS + OTHER_TEXT_FIELDS:
        fields[name] = _text(raw.get(name))
    for name in ID_FIELDS:
        fields[name] = _id(raw.get(name), name, errors)
    for name in BOOL_FIELDS:
        fields[name] = truthy(raw.get(name, False))
    fields["buyer_company"] = _bool_or_none(raw.get("buyer_company"))
    fields["income"] = not (_text(raw.get("income")) in {"0", "false", "no"})
    fields["currency"] = fields["currency"] or "PLN"
    fields["lang"] = fields["lang"] or "pl"

    issue_date = _date(raw.get("issue_date"), "issue_date", errors) or today
    fields["issue_date"] = issue_date.isoformat()
    sell_date = _text(raw.get("sell_date"))
    if sell_date is not None and not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", sell_date):
        errors.add("sell_date", INVALID)
    fields["sell_date"] = sell_date or fields["issue_date"]
    _payment_terms(raw, fields, issue_date, errors)

    status = _text(raw.get("status")) or "issued"
    if status not in STATUSES:
        errors.add("status", NOT_IN_LIST)
    fields["status"] = status
    paid = _decimal(raw.get("paid"), "paid", errors)
    paid_date = _date(raw.get("paid_date"), "paid_date", errors)

    descriptions = []
    for entry in _as_list(raw.get("descriptions")):
        if not isinstance(entry, dict):
            errors.add("descriptions", INVALID)
            continue
        content = _text(entry.get("content")) or ""
        if len(content) > 256:
            errors.add("descriptions.content", TOO_LONG_256)
        descriptions.append(
            {"kind": entry.get("kind"), "content": content, "position_index": entry.get("position_index")}
        )
    fields["descriptions"] = descriptions

    _check_references(fields, catalog, errors)
    original = _correction_original(kind, fields, catalog, errors, options)
    _fill_buyer(kind, fields, catalog, errors)
    _fill_seller(fields, catalog)

    positions: list[dict] = []
    entries: list[tuple[Amounts, int]] = []
    stock_moves: list[tuple[int, Decimal]] = []
    if not raw_positions:
        errors.add("positions", BLANK)
    for raw_position in raw_positions:
        if kind == "correction":
            computed = _correction_line(raw_position, catalog, errors)
            if computed is None:
                continue
            line, line_entries = computed
        else:
            single = compute_line(raw_position, catalog, errors, "positions")
            if single is None:
                continue
            line, amounts = single
            line_entries = [(amounts, 1)]
        line["_input"] = {key: value for key, value in raw_position.items() if key != "id"}
        line["_position_id"] = raw_position.get("id")
        positions.append(line)
        entries.extend(line_entries)
        if line["product_id"] is not None:
            stock_moves.append((line["product_id"], -parse_decimal(line["quantity"])))

    basis = "gross" if any(amounts.basis == "gross" for amounts, _ in entries) else "net"
    totals = rate_totals(entries, basis)
    gross = sum((Decimal(total["gross"]) for total in totals), Decimal(0))
    fields["price_net"] = money_str(sum((Decimal(total["net"]) for total in totals), Decimal(0)))
    fields["price_tax"] = money_str(sum((Decimal(total["vat"]) for total in totals), Decimal(0)))
    fields["price_gross"] = money_str(gross)
    if status == "paid" and not paid:
        paid = gross
        paid_date = paid_date or issue_date
    fields["paid"] = money_str(paid or Decimal(0))
    fields["paid_date"] = paid_date.isoformat() if paid_date else None
    if original is not None:
        fields["gov_corrected_invoice_number"] = original.get("gov_id")
        fields["from_invoice_id"] = fields["from_invoice_id"] or original["id"]

    moves_stock = kind in STOCK_KINDS and not fields["exclude_from_stock_level"]
    return Draft(
        fields=fields,
        positions=positions,
        rate_totals=totals,
        requested_number=_text(payload.get("number")) if "number" in payload else None,
        oid_unique=truthy(raw.get("oid_unique", False)),
        stock_moves=stock_moves if moves_stock else [],
        gov_problems=_gov_problems(fields) if kind in KSEF_KINDS else {},
        errors=errors,
        raw_header=raw,
        new_client=_text(payload.get("client_id")) == "-1",
        buyer_override=truthy(raw.get("buyer_override", False)),
        original=original,
    )


def _payment_terms(raw: dict, fields: dict, issue_date: date, errors: Errors) -> None:
    payment_to = _date(raw.get("payment_to"), "payment_to", errors)
    term = raw.get("payment_to_kind")
    term_text = _text(term)
    if term_text is None:
        fields["payment_to_kind"] = "other_date" if payment_to else 7
        fields["payment_to"] = (payment_to or issue_date + timedelta(days=7)).isoformat()
    elif term_text == "off":
        fields["payment_to_kind"], fields["payment_to"] = "off", None
    elif term_text == "other_date":
        if payment_to is None and "payment_to" not in errors.fields:
            errors.add("payment_to", BLANK)
        fields["payment_to_kind"] = "other_date"
        fields["payment_to"] = payment_to.isoformat() if payment_to else None
    elif term_text.isdecimal():
        fields["payment_to_kind"] = int(term_text)
        fields["payment_to"] = (issue_date + timedelta(days=int(term_text))).isoformat()
    else:
        errors.add("payment_to_kind", INVALID)
        fields["payment_to_kind"], fields["payment_to"] = term, None


def _check_references(fields: dict, catalog: Catalog, errors: Errors) -> None:
    lookups = {
        "department_id": catalog.department,
        "warehouse_id": catalog.warehouse,
        "category_id": catalog.category,
    }
    for name, lookup in lookups.items():
        if fields[name] is not None and lookup(fields[name]) is None:
            errors.add(name, NOT_FOUND)
    if fields["client_id"] == -1:  # "-1" asks for a new client card
        fields["client_id"] = None
    elif fields["client_id"] is not None and catalog.client(fields["client_id"]) is None:
        errors.add("client_id", NOT_FOUND)


def _correction_original(
    kind: str, fields: dict, catalog: Catalog, errors: Errors, options: dict
) -> dict | None:
    """The corrected invoice; fills the parties from it and enforces the KSeF identity rule."""
    if kind != "correction":
        return None
    if fields["invoice_id"] is None:
        if "invoice_id" not in errors.fields:
            errors.add("invoice_id", BLANK)
        return None
    original = catalog.invoice(fields["invoice_id"])
    if original is None:
        errors.add("invoice_id", NOT_FOUND)
        return None
    if options.get("ksef", "auto") != "off":
        for name in ("buyer_tax_no", "seller_tax_no"):
            if fields[name] and original.get(name) and _digits(fields[name]) != _digits(original[name]):
                errors.add(name, DIFFERS_FROM_ORIGINAL)
    for name in BUYER_TEXT_FIELDS + SELLER_TEXT_FIELDS + ("department_id", "client_id"):
        if fields.get(name) is None:
            fields[name] = original.get(name)
    if fields["buyer_company"] is None:
        fields["buyer_company"] = original.get("buyer_company")
    return original


def _fill_buyer(kind: str, fields: dict, catalog: Catalog, errors: Errors) -> None:
    client = catalog.client(fields["client_id"]) if fields["client_id"] else None
    if client:
        for name, client_key in (
            ("buyer_name", "name"),
            ("buyer_tax_no", "tax_no"),
            ("buyer_street", "street"),
            ("buyer_city", "city"),
            ("buyer_post_code", "post_code"),
            ("buyer_country", "country"),
            ("buyer_email", "email"),
            ("buyer_phone", "phone"),
            ("buyer_first_name", "first_name"),
            ("buyer_last_name", "last_name"),
        ):
            if fields[name] is None:
                fields[name] = client.get(client_key)
        if fields["buyer_company"] is None:
            fields["buyer_company"] = client.get("company")
    person = " ".join(filter(None, (fields["buyer_first_name"], fields["buyer_last_name"])))
    if fields["buyer_name"] is None and fields["buyer_first_name"] and fields["buyer_last_name"]:
        fields["buyer_name"] = person
    if kind in BUYER_KINDS and not fields["buyer_name"]:
        errors.add("buyer_name", BLANK)


def _fill_seller(fields: dict, catalog: Catalog) -> None:
    department = (
        catalog.department(fields["department_id"]) if fields["department_id"] else None
    ) or catalog.default_department()
    if fields["department_id"] is None:
        fields["department_id"] = department["id"]
    if fields["seller_name"]:
        return  # an inline seller replaces the department's data
    for name in SELLER_TEXT_FIELDS:
        key = name.removeprefix("seller_")
        if fields[name] is None and department.get(key if key != "name" else "company_name"):
            fields[name] = department.get(key if key != "name" else "company_name")


def _gov_problems(fields: dict) -> dict[str, list[str]]:
    """What KSeF would refuse: unknown buyer type, incomplete company buyer or seller."""
    problems = Errors()
    if fields["buyer_company"] is None:
        problems.add("buyer_company", BUYER_KIND_UNKNOWN)
    elif fields["buyer_company"]:
        for name in ("buyer_tax_no", "buyer_street", "buyer_post_code", "buyer_city"):
            if not fields[name]:
                problems.add(name, BLANK)
    for name in ("seller_tax_no", "seller_street", "seller_city"):
        if not fields[name]:
            problems.add(name, BLANK)
    return problems.fields
