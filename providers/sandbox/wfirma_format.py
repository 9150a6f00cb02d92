"""wFirma API2 envelopes: one tree, written as XML (the default) or JSON.

XML: ``<api><invoices><invoice>…</invoice></invoices><status><code>OK</code></status></api>``.
JSON: the same tree, but repeated singular branches are keyed by a number string even when
there is only one: ``{"invoices": {"0": {"invoice": {…}}}, "status": {"code": "OK"}}``.

Requests are read into plain dicts whichever way they came (numbered or not, XML or JSON);
``items`` and ``pairs`` then walk a container without caring about its shape. Responses are
built from dicts whose Python lists become repeated branches (``invoicecontents`` ->
``invoicecontent``), rendered by ``render``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal

FORMATS = ("xml", "json")

#: plural branch -> its singular record (``series`` is its own singular)
SINGULAR = {
    "invoices": "invoice",
    "invoicecontents": "invoicecontent",
    "series": "series",
    "goods": "good",
    "contractors": "contractor",
    "vat_codes": "vat_code",
    "errors": "error",
    "company_accounts": "company_account",
    "payment_cashboxes": "payment_cashbox",
    "declaration_countries": "declaration_country",
    "warehouses": "warehouse",
    "user_companies": "user_company",
    "payments": "payment",
}


class InputError(Exception):
    """The body is not well-formed XML/JSON or not an ``api`` tree (status ``INPUT ERROR``)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Branch:
    """A repeated branch: ``tag`` records, then extra children such as ``parameters``."""

    tag: str
    items: list
    extra: dict = field(default_factory=dict)


def singular(plural: str) -> str:
    return SINGULAR.get(plural, plural.removesuffix("s"))


# ---------------------------------------------------------------------------
# reading


def parse_body(raw: bytes, fmt: str) -> dict:
    """The request tree below ``<api>`` (XML) or the JSON object (an ``api`` wrapper is dropped)."""
    if not raw.strip():
        return {}
    if fmt == "json":
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as error:
            raise InputError(f"Nieprawidłowy format danych wejściowych (JSON): {error}") from None
        if not isinstance(data, dict):
            raise InputError("Nieprawidłowy format danych wejściowych (JSON): oczekiwano obiektu")
        if set(data) == {"api"} and isinstance(data["api"], dict):
            data = data["api"]
        return data
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as error:
        raise InputError(f"Nieprawidłowy format danych wejściowych (XML): {error}") from None
    if root.tag != "api":
        raise InputError("Nieprawidłowy format danych wejściowych (XML): główny element musi być <api>")
    tree = _from_element(root)
    return tree if isinstance(tree, dict) else {}


def _from_element(element: ET.Element):
    children = list(element)
    if not children:
        return (element.text or "").strip()
    counts: dict[str, int] = {}
    for child in children:
        counts[child.tag] = counts.get(child.tag, 0) + 1
    tree: dict = {}
    position = 0
    for child in children:
        value = _from_element(child)
        if counts[child.tag] > 1:  # repeated records get the JSON numbered form
            tree[str(position)] = {child.tag: value}
            position += 1
        else:
            tree[child.tag] = value
    return tree


def pairs(container) -> list[tuple[str, object]]:
    """``(tag, value)`` children of a container in any accepted shape: numbered
    (``{"0": {"invoice": …}}``), plain (``{"invoice": …}``), or JSON lists."""
    found: list[tuple[str, object]] = []
    if isinstance(container, list):
        for entry in container:
            found.extend(pairs(entry))
        return found
    if not isinstance(container, dict):
        return found
    for key, value in container.items():
        if key.isdecimal() and isinstance(value, dict):
            found.extend(pairs(value))
        elif isinstance(value, list):
            found.extend((key, item) for item in value)
        else:
            found.append((key, value))
    return found


def items(container, tag: str) -> list:
    """The ``tag`` records of a container (a bare JSON list of records is accepted too)."""
    if isinstance(container, list):
        found = []
        for entry in container:
            if isinstance(entry, dict) and set(entry) == {tag}:
                inner = entry[tag]
                found.extend(inner if isinstance(inner, list) else [inner])
            else:
                found.append(entry)
        return found
    return [value for key, value in pairs(container) if key == tag]


def read_parameters(branch) -> dict:
    """A module branch's ``parameters``: named children (``<page>1</page>``) and
    ``<parameter><name>page</name><value>invoice</value></parameter>`` pairs alike."""
    params = branch.get("parameters") if isinstance(branch, dict) else None
    found: dict = {}
    for key, value in pairs(params):
        if key == "parameter" and isinstance(value, dict) and "name" in value:
            found[str(value["name"]).strip()] = value.get("value")
        else:
            found[key] = value
    return found


def text(value) -> str | None:
    """A scalar as stripped text; None for missing, empty or nested values."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    stripped = str(value).strip()
    return stripped or None


def related_id(record: dict, name: str) -> str | None:
    """The id of a related record sent as ``<name><id>7</id></name>`` or ``name_id``."""
    nested = record.get(name)
    if isinstance(nested, dict):
        return text(nested.get("id"))
    return text(record.get(f"{name}_id"))


# ---------------------------------------------------------------------------
# writing


def scalar(value) -> str:
    """Every scalar goes out as a string: ids, amounts and flags alike; an empty value as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def to_json_tree(value, key: str = ""):
    if isinstance(value, Branch):
        tree = {str(n): {value.tag: to_json_tree(item, value.tag)} for n, item in enumerate(value.items)}
        tree.update((name, to_json_tree(child, name)) for name, child in value.extra.items())
        return tree
    if isinstance(value, list):
        return to_json_tree(Branch(singular(key), value), key)
    if isinstance(value, dict):
        return {name: to_json_tree(child, name) for name, child in value.items()}
    return scalar(value)


def _to_xml(parent: ET.Element, key: str, value) -> None:
    if isinstance(value, list):
        value = Branch(singular(key), value)
    if isinstance(value, Branch):
        element = ET.SubElement(parent, key)
        for item in value.items:
            _to_xml(element, value.tag, item)
        for name, child in value.extra.items():
            _to_xml(element, name, child)
    elif isinstance(value, dict):
        element = ET.SubElement(parent, key)
        for name, child in value.items():
            _to_xml(element, name, child)
    else:
        ET.SubElement(parent, key).text = scalar(value)


def render(tree: dict, fmt: str) -> tuple[str, str]:
    """(body, mimetype) of a response tree such as ``{"invoices": Branch(...), "status": {...}}``."""
    if fmt == "json":
        return json.dumps(to_json_tree(tree), ensure_ascii=False), "application/json"
    api = ET.Element("api")
    for name, child in tree.items():
        _to_xml(api, name, child)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
        api, encoding="unicode"
    ), "application/xml"


def envelope(code: str, message: str | None = None, **branches) -> dict:
    """The answer tree: module branches first, then ``status`` (with a message on errors)."""
    status = {"code": code}
    if message:
        status["message"] = message
    return {**branches, "status": status}
