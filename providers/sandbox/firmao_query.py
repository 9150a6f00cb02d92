"""Firmao list mechanics: ``field(op)=value`` filters, ``sort``/``dir`` and ``start``/``limit`` paging.

Works on rendered records (what a GET shows), so any field a client can see can be
filtered on, dotted paths included (``customer(eq)=50`` compares the customer's id,
``customFields.custom5(eq)=x`` a custom field). A filter on a field the record does
not have matches nothing, so a typo gives an empty list rather than everything.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from .firmao_rules import invalid_value

FILTER_KEY = re.compile(r"^([A-Za-z_][\w.]*)\((\w+)\)$")
#: the undocumented ``filters=(productCode="X")`` syntax one third-party client sends
LEGACY_FILTER = re.compile(r'([A-Za-z_][\w.]*)\s*=\s*"([^"]*)"')
OPERATORS = (
    "contains",
    "notContains",
    "eq",
    "ne",
    "in",
    "notin",
    "gt",
    "ngt",
    "ge",
    "nge",
    "lt",
    "nlt",
    "le",
    "nle",
)
#: "not greater than" and friends are the plain comparisons the other way round
NEGATED = {"ngt": "le", "nge": "lt", "nlt": "ge", "nle": "gt"}
PAGING_KEYS = ("start", "limit", "sort", "dir", "dataFormat", "filters")


def parse_filters(args) -> list[tuple[str, str, str]]:
    """(field, operator, value) from the query string; an unknown operator is a 400."""
    filters = []
    for key in args:
        if key in PAGING_KEYS:
            continue
        match = FILTER_KEY.match(key)
        if not match:
            continue  # e.g. a plain ``id=5``: the service documents only field(op)=value
        name, op = match.groups()
        if op not in OPERATORS:
            raise invalid_value(key, args.get(key))
        for value in args.getlist(key):
            filters.append((name, op, value))
    legacy = args.get("filters")
    if legacy:
        filters.extend((name, "eq", value) for name, value in LEGACY_FILTER.findall(legacy))
    return filters


def lookup(record: dict, path: str):
    """A record's value at a dotted path; a reference object ``{"id": ...}`` stands for its id."""
    value = record
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    if isinstance(value, dict) and "id" in value:
        return value["id"]
    return value


_MISSING = object()


def _number(value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        return None


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _equal(actual, wanted: str, name: str) -> bool:
    if name == "nipNumber":  # NIPs are stored as sent, with or without dashes
        digits = re.sub(r"\D", "", _text(actual))
        if digits and digits == re.sub(r"\D", "", wanted):
            return True
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return left == right
    return _text(actual) == wanted


def _compare(actual, wanted: str) -> int | None:
    left, right = _number(actual), _number(wanted)
    if left is not None and right is not None:
        return (left > right) - (left < right)
    if actual is None:
        return None
    left_text = _text(actual)
    return (left_text > wanted) - (left_text < wanted)


def matches(record: dict, name: str, op: str, wanted: str) -> bool:
    actual = lookup(record, name)
    if actual is _MISSING:
        return False
    op = NEGATED.get(op, op)
    if isinstance(actual, list):  # e.g. emails: any element
        return any(matches({"v": item}, "v", op, wanted) for item in actual) if op != "ne" else True
    if op == "eq":
        return _equal(actual, wanted, name)
    if op == "ne":
        return not _equal(actual, wanted, name)
    if op in ("in", "notin"):
        found = any(_equal(actual, part, name) for part in wanted.split(";"))
        return found if op == "in" else not found
    if op in ("contains", "notContains"):
        found = wanted.lower() in _text(actual).lower()
        return found if op == "contains" else not found
    order = _compare(actual, wanted)
    if order is None:
        return False
    return {"gt": order > 0, "ge": order >= 0, "lt": order < 0, "le": order <= 0}[op]


def run_query(
    records: list[dict],
    args,
    *,
    default_sort: str,
    max_limit: int,
    default_limit: int,
    total_size: str = "exact",
    hide_deleted: bool = True,
) -> dict:
    """The list answer: ``{"data": [...], "dir", "sort", "totalSize"}``."""
    filters = parse_filters(args)
    if hide_deleted and not any(name == "deleted" for name, _, _ in filters):
        records = [record for record in records if not record.get("deleted")]
    for name, op, value in filters:
        records = [record for record in records if matches(record, name, op, value)]
    sort = args.get("sort") or default_sort
    direction = (args.get("dir") or "ASC").upper()
    if direction not in ("ASC", "DESC"):
        raise invalid_value("dir", args.get("dir"))

    def sort_key(record):
        value = lookup(record, sort)
        if value is _MISSING or value is None:
            return (1, 0, "")
        number = _number(value)
        return (0, number, "") if number is not None else (0, 0, _text(value).lower())

    present = [record for record in records if sort_key(record)[0] == 0]
    absent = [record for record in records if sort_key(record)[0] == 1]
    present.sort(key=sort_key, reverse=direction == "DESC")
    records = present + absent
    start = _paging_int(args, "start", 0)
    limit = min(_paging_int(args, "limit", default_limit), max_limit)
    page = records[start : start + limit] if limit > 0 else []
    size = len(records)
    if total_size == "unknown_when_more" and start + limit < size:
        size = -1  # "at least limit results, there is probably another page"
    return {"data": page, "dir": direction, "sort": sort, "totalSize": size}


def _paging_int(args, name: str, default: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_value(name, raw) from None
    if value < 0:
        raise invalid_value(name, raw)
    return value
