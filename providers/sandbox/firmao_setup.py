"""Firmao sandbox accounts: their options, starting data and the field lists of each object.

Kept apart from the HTTP surface (``firmao``) so the emulator module reads as behaviour.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from .firmao_rules import DICTIONARY_TYPE, PAYMENT_TYPES
from .money import round_money

DEFAULT_OPTIONS = {
    "login": None,
    "company_name": None,
    "nip": "5252344078",
    "rate_limit": {"requests": 1, "seconds": 1.0},
    "read_only": False,
    "invoice_moves_stock": True,
    "link_by_product_code": False,
    "number_required": False,
    "next_number_format": "json",
    "totals_method": "per_rate",
    "direct_stock_edit": True,
    "duplicate_nip_on_the_fly": "conflict",
    "total_size": "exact",
    "max_limit": 500,
    "payment_types": list(PAYMENT_TYPES),
}
OPTION_CHOICES = {
    "next_number_format": ("json", "text", "json_string"),
    "totals_method": ("per_rate", "per_line"),
    "duplicate_nip_on_the_fly": ("conflict", "link"),
    "total_size": ("exact", "unknown_when_more"),
}
BOOL_OPTIONS = (
    "read_only",
    "invoice_moves_stock",
    "link_by_product_code",
    "number_required",
    "direct_stock_edit",
)

WAREHOUSES = {1: "Magazyn 1"}
BANK_ACCOUNTS = {1: ("Rachunek główny", "PL61 1090 1014 0000 0712 1981 2874")}
#: (id, name, objectClass, type, mode or None for any, template, default of its kind)
SERIES = (
    (1, "Faktury VAT", "transaction", "invoice", "SALE", "[NR]/[M]/[RRRR]", True),
    (
        2,
        "Faktury VAT — sklep internetowy",
        "transaction",
        "invoice",
        "SALE",
        "FV/[NR]/[MM]/[RRRR]/SKLEP",
        False,
    ),
    (3, "Paragony", "transaction", "receipt", "SALE", "PAR/[NR]/[MM]/[RRRR]", True),
    (4, "Faktury korygujące", "transaction", "correction", "SALE", "[RRRR]/[MM]/[NNN]/KOR", True),
    (5, "Faktury pro forma", "transaction", "proforma", "SALE", "PF/[NR]/[RRRR]", True),
    (6, "Rachunki", "transaction", "bill", "SALE", "R/[NR]/[RRRR]", True),
    (7, "Faktury VAT marża", "transaction", "invoicemargin", "SALE", "FM/[NR]/[RRRR]", True),
    (8, "Faktury zaliczkowe", "transaction", "advance_invoice", "SALE", "FZAL/[NR]/[RRRR]", True),
    (9, "Faktury zakupu", "transaction", "invoice", "PURCHASE", "FZ/[NR]/[RRRR]", True),
    (10, "Korekty zakupu", "transaction", "correction", "PURCHASE", "KZ/[NR]/[RRRR]", True),
    (11, "Oferty", "offer", "offer", None, "OF/[NR]/[RRRR]", True),
    (12, "Zamówienia", "offer", "order", None, "ZAM/[NR]/[RRRR]", True),
    (13, "Umowy", "agreement", "agreement", None, "UM/[NR]/[RRRR]", True),
    (14, "Przyjęcia zewnętrzne", "storagedoc", "outside_income", None, "PZ [NR]/[RRRR]", True),
    (15, "Wydania zewnętrzne", "storagedoc", "outside_release", None, "WZ [NR]/[RRRR]", True),
    (16, "Rozchody wewnętrzne", "storagedoc", "inside_release", None, "RW [NR]/[RRRR]", True),
    (17, "Przychody wewnętrzne", "storagedoc", "inside_income", None, "PW [NR]/[RRRR]", True),
    (18, "Przesunięcia międzymagazynowe", "storagedoc", "warehouse_transfer", None, "MM [NR]/[RRRR]", True),
)
OBJECT_TYPES = {
    "transaction": tuple(DICTIONARY_TYPE.values()),
    "offer": ("offer", "order"),
    "agreement": ("agreement",),
    "storagedoc": (
        "outside_income",
        "outside_release",
        "inside_release",
        "inside_income",
        "warehouse_transfer",
    ),
}
#: storage document type -> which way its lines move stock
STORAGE_TYPES = {
    "OUTSIDE_INCOME": 1,
    "INSIDE_INCOME": 1,
    "OUTSIDE_RELEASE": -1,
    "INSIDE_RELEASE": -1,
    "WAREHOUSE_TRANSFER": 0,  # one warehouse in the sandbox: a transfer changes no total
}
#: (productCode, name, unit, vat, sale net, sale gross, stock)
PRODUCTS = (
    ("SKU-001", "Kubek ceramiczny 330 ml", "szt.", 23, "24.38", "29.99", "100"),
    ("SKU-002", "Herbata zielona liściasta 100 g", "szt.", 5, "17.62", "18.50", "250"),
    ("SKU-003", "Książka „Zażółć gęślą jaźń”", "szt.", 5, "46.67", "49.00", "40"),
    ("SKU-004", "Świeca sojowa — las", "szt.", 23, "28.46", "35.00", "60"),
    ("ST0003", "Szkolenie stacjonarne", "usł.", 0, "1000.00", "1000.00", "10"),
)
SEED_CUSTOMER = {
    "name": "Internet Center Sp. z o.o.",
    "label": "Internet Center",
    "nipNumber": "1060000062",
    "officeAddress": {
        "street": "Piotrkowska 147/8",
        "postCode": "91-477",
        "city": "Łódź",
        "country": "Polska",
    },
    "emails": ["biuro@internetcenter.example"],
    "phones": ["+48 42 000 00 00"],
}
#: header fields a PUT may change (flat keys only); everything else is fixed after creation
TRANSACTION_EDITABLE = frozenset(
    {
        "transactionNumber",
        "invoiceDate",
        "transactionDate",
        "paymentDate",
        "paymentType",
        "paid",
        "paidValue",
        "actualPaymentDate",
        "actualPaymentType",
        "description",
        "invoiceAnnotations",
        "issuingPerson",
        "customerName",
        "nipNumber",
        "customerAddress.street",
        "customerAddress.postCode",
        "customerAddress.city",
        "customerAddress.country",
        "splitPayment",
        "lastSelectedInvoiceReport",
        "deleted",
    }
)
CUSTOMER_TEXT = (
    "name",
    "label",
    "nipNumber",
    "identificationNumber",
    "krs",
    "customerType",
    "ownership",
    "bankAccountNumber",
    "website",
    "description",
)
ADDRESS_PARTS = ("street", "city", "postCode", "country", "county")
CUSTOMER_KEYS = frozenset(
    CUSTOMER_TEXT
    + ("emails", "phones", "customerGroups", "tags", "deleted")
    + tuple(f"{kind}.{part}" for kind in ("officeAddress", "correspondenceAddress") for part in ADDRESS_PARTS)
)
PRODUCT_KEYS = frozenset(
    {
        "name",
        "productCode",
        "unit",
        "vat",
        "netPrice",
        "grossPrice",
        "saleNetPrice",
        "saleGrossPrice",
        "currentStoreState",
        "warningStoreState",
        "netPriceInStore",
        "saleable",
        "classificationNumber",
        "description",
        "deleted",
    }
)
STORAGEDOC_KEYS = frozenset(
    {
        "type",
        "warehouse",
        "storageDocNumber",
        "paymentType",
        "currency",
        "calculateFromGross",
        "invoicePatternId",
        "storageStateUpdate",
        "description",
        "documentDate",
        "customer",
        "transactionEntries",
    }
)
STORAGEDOC_REFS = ("warehouse", "customer")


def options_problem(options: dict) -> str | None:
    """Why these account options are not acceptable, or None."""
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        return f"unknown options: {', '.join(unknown)}"
    for name, choices in OPTION_CHOICES.items():
        if name in options and options[name] not in choices:
            return f"{name} must be one of {', '.join(choices)}"
    for name in BOOL_OPTIONS:
        if name in options and not isinstance(options[name], bool):
            return f"{name} must be true or false"
    limit = options.get("rate_limit")
    if limit not in (None, False) and not valid_rate_limit(limit):
        return 'rate_limit must be null/false or like {"requests": 1, "seconds": 1.0}'
    if "max_limit" in options and (not isinstance(options["max_limit"], int) or options["max_limit"] < 1):
        return "max_limit must be a positive integer"
    types = options.get("payment_types")
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        return "payment_types must be a list of strings"
    for name in ("login", "company_name", "nip"):
        if options.get(name) is not None and not isinstance(options[name], str):
            return f"{name} must be a string"
    return None


def valid_rate_limit(limit) -> bool:
    return (
        isinstance(limit, dict)
        and isinstance(limit.get("requests"), int)
        and isinstance(limit.get("seconds"), (int, float))
        and limit["requests"] >= 1
        and limit["seconds"] > 0
    )


def new_customer(customer_id: int, data: dict) -> dict:
    now = _utc_now()
    card = {
        "id": customer_id,
        "name": data.get("name"),
        "label": data.get("label") or data.get("name"),
        "nipNumber": data.get("nipNumber"),
        "identificationNumber": data.get("identificationNumber"),
        "krs": data.get("krs"),
        "emails": list(data.get("emails") or []),
        "phones": list(data.get("phones") or []),
        "officeAddress": dict(data.get("officeAddress") or {}),
        "correspondenceAddress": dict(data.get("correspondenceAddress") or {}),
        "customerType": data.get("customerType") or "PARTNER",
        "ownership": data.get("ownership") or "PRIVATE",
        "customerGroups": list(data.get("customerGroups") or []),
        "bankAccountNumber": data.get("bankAccountNumber"),
        "website": data.get("website"),
        "description": data.get("description"),
        "tags": list(data.get("tags") or []),
        "transactionsCount": 0,
        "deleted": False,
        "creationDate": now,
        "lastUpdateDate": now,
    }
    return card


def new_product(product_id, name, code, unit, vat, net, gross, stock) -> dict:
    now = _utc_now()
    return {
        "id": product_id,
        "name": name,
        "productCode": code,
        "unit": unit,
        "vat": vat,
        "netPrice": str(round_money(Decimal(net) * Decimal("0.6"))),  # purchase price
        "grossPrice": str(round_money(Decimal(gross) * Decimal("0.6"))),
        "saleNetPrice": net,
        "saleGrossPrice": gross,
        "currentStoreState": stock,
        "warningStoreState": "5",
        "netPriceInStore": str(round_money(Decimal(net) * Decimal("0.6"))),
        "saleable": True,
        "classificationNumber": None,
        "margin": "40",
        "deleted": False,
        "creationDate": now,
        "lastUpdateDate": now,
    }


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
