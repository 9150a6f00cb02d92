"""``{module}/find``: page, limit, fields, conditions (with or/and/not) and order.

Conditions name a field of the module's own model (``fullnumber`` or ``Invoice.fullnumber``)
or of a related model (``ContractorDetail.nip``, ``InvoiceContent.name``). A related model
with many rows matches when any row matches, like the SQL join behind it. Text compares
case-insensitively (MySQL's default collation); numbers compare as numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from .wfirma_format import InputError, items, pairs, text

OPERATORS = ("eq", "ne", "gt", "lt", "ge", "le", "like", "not like", "is null", "is not null", "in")
DEFAULT_LIMIT = 20


@dataclass
class Model:
    """How ``find`` sees one module: its model name and the rows of each model it may filter on."""

    name: str  # e.g. "Invoice"
    fields: frozenset[str]
    related: dict[str, tuple[frozenset[str], Callable[[dict], list[dict]]]] = field(default_factory=dict)

    def rows(self, record: dict, model: str) -> list[dict]:
        if model == self.name:
            return [flatten(record)]
        return [flatten(row) for row in self.related[model][1](record)]

    def known(self, model: str, name: str) -> bool:
        if model == self.name:
            return name in self.fields
        return model in self.related and name in self.related[model][0]


@dataclass
class Query:
    page: int
    limit: int
    fields: list[str]
    test: Callable[[dict], bool]
    order: list[tuple[str, str, bool]]  # (model, field, descending)


def flatten(record: dict) -> dict:
    """Scalar fields plus ``<relation>_id`` for related records given as ``{"id": …}``."""
    flat = {}
    for key, value in record.items():
        if key.startswith("_") or isinstance(value, list):
            continue
        if isinstance(value, dict):
            if "id" in value:
                flat[f"{key}_id"] = value["id"]
            continue
        flat[key] = value
    return flat


def parse_query(params: dict, model: Model) -> Query:
    page = _positive(params.get("page"), "page", 1)
    limit = _positive(params.get("limit"), "limit", DEFAULT_LIMIT)
    wanted = [text(value) for value in items(params.get("fields"), "field")]
    wanted = [value for value in wanted if value]
    for name in wanted:
        _field(name, model)
    test = _group("and", params.get("conditions"), model)
    order = []
    for direction, value in pairs(params.get("order")):
        if direction not in ("asc", "desc") or not text(value):
            raise InputError(f"Nieprawidłowe sortowanie: {direction}")
        order.append((*_field(text(value), model), direction == "desc"))
    return Query(page, limit, wanted, test, order)


def run(records: list[dict], query: Query, model: Model) -> tuple[list[dict], int]:
    """(records of the page, total matching)."""
    matching = [record for record in records if query.test(record)]
    if not query.order:
        matching.sort(key=lambda record: _sort_key(record.get("id")))
    for model_name, name, descending in reversed(query.order):
        matching.sort(
            key=lambda record: _sort_key(_first(record, model, model_name, name)), reverse=descending
        )
    start = (query.page - 1) * query.limit
    return matching[start : start + query.limit], len(matching)


def select_fields(record: dict, wanted: list[str], model: Model, nested: dict[str, str]) -> dict:
    """Narrow a rendered record to ``fields``; ``nested`` maps a related model to the record key
    holding it (``ContractorDetail`` -> ``contractor_detail``). ``id`` always stays."""
    if not wanted:
        return record
    chosen: dict = {"id": record.get("id")}
    for name in wanted:
        model_name, field_name = _field(name, model)
        if model_name == model.name:
            key = field_name[:-3] if field_name.endswith("_id") and field_name[:-3] in record else field_name
            if key in record:
                chosen[key] = record[key]
            continue
        key = nested.get(model_name)
        if key is None or key not in record:
            continue
        source = record[key]
        if isinstance(source, list):
            rows = chosen.setdefault(key, [{} for _ in source])
            for row, full in zip(rows, source, strict=True):
                row[field_name] = full.get(field_name)
        elif isinstance(source, dict):
            chosen.setdefault(key, {})[field_name] = source.get(field_name)
    return chosen


# ---------------------------------------------------------------------------


def _positive(value, name: str, default: int) -> int:
    raw = text(value)
    if raw is None:
        return default
    try:
        number = int(raw)
    except ValueError:
        raise InputError(f"Parametr {name} musi być liczbą") from None
    return number if number > 0 else default


def _field(name: str | None, model: Model) -> tuple[str, str]:
    if not name:
        raise InputError("Warunek bez nazwy pola")
    model_name, _, field_name = name.rpartition(".")
    model_name = model_name or model.name
    if not model.known(model_name, field_name):
        raise InputError(f"Nieznane pole: {name}")
    return model_name, field_name


def _group(join: str, container, model: Model) -> Callable[[dict], bool]:
    tests = []
    for tag, value in pairs(container):
        if tag == "condition":
            tests.append(_condition(value, model))
        elif tag in ("and", "or", "not"):
            tests.append(_group(tag, value, model))
        else:
            raise InputError(f"Nieznany element warunków: {tag}")
    if join == "or":
        return lambda record: any(test(record) for test in tests) if tests else True
    if join == "not":
        return lambda record: not all(test(record) for test in tests) if tests else True
    return lambda record: all(test(record) for test in tests)


def _condition(raw, model: Model) -> Callable[[dict], bool]:
    if not isinstance(raw, dict):
        raise InputError("Nieprawidłowy warunek")
    model_name, field_name = _field(text(raw.get("field")), model)
    operator = re.sub(r"[\s_]+", " ", (text(raw.get("operator")) or "eq").lower())
    if operator not in OPERATORS:
        raise InputError(f"Nieznany operator: {operator}")
    expected = "" if raw.get("value") is None else str(raw.get("value")).strip()

    def test(record: dict) -> bool:
        values = [row.get(field_name) for row in model.rows(record, model_name)]
        return any(_matches(value, operator, expected) for value in values or [None])

    return test


def _matches(actual, operator: str, expected: str) -> bool:
    empty = actual is None or actual == ""
    if operator == "is null":
        return empty
    if operator == "is not null":
        return not empty
    if actual is None:
        return False
    actual = str(actual)
    if operator == "in":
        return any(_equal(actual, option.strip()) for option in expected.split(","))
    if operator == "eq":
        return _equal(actual, expected)
    if operator == "ne":
        return not _equal(actual, expected)
    if operator in ("like", "not like"):
        found = _like(expected).fullmatch(actual) is not None
        return found if operator == "like" else not found
    left, right = _comparable(actual, expected)
    return {"gt": left > right, "lt": left < right, "ge": left >= right, "le": left <= right}[operator]


def _equal(actual: str, expected: str) -> bool:
    left, right = _comparable(actual, expected)
    return left == right


def _comparable(actual: str, expected: str):
    numbers = _number(actual), _number(expected)
    if None not in numbers:
        return numbers
    return actual.casefold(), expected.casefold()


def _number(value: str) -> Decimal | None:
    if not re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _like(pattern: str) -> re.Pattern:
    regex = "".join(".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


def _first(record: dict, model: Model, model_name: str, name: str):
    rows = model.rows(record, model_name)
    return rows[0].get(name) if rows else None


def _sort_key(value):
    text_value = "" if value is None else str(value)
    number = _number(text_value)
    return (0, number, "") if number is not None else (1, Decimal(0), text_value.casefold())
