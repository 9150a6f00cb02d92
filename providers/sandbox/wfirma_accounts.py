"""wFirma sandbox accounts: the options an admin may set, and what a new company starts with.

An account is one wFirma login; it owns one or more companies, and every company has its own
numbering series, catalogue goods (SKU in ``code``, stock in ``count``), bank accounts, a cash
box and a warehouse.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from stdnum.pl import nip as pl_nip

from .store import Transaction
from .wfirma_data import (
    COMPANY_ACCOUNTS,
    GOODS,
    NO_VAT_PAYER_SERIES,
    PAYMENT_METHODS,
    PRICE_TYPES,
    VAT_PAYER_SERIES,
)
from .wfirma_invoices import VAT_BY_ID, quantity_text
from .wfirma_numbering import period_key

LIMIT_CODE = "TOTAL REQUESTS LIMIT EXCEEDED"
FORCEABLE = (
    "OUT OF SERVICE",
    "SNAPSHOT LOCK",
    LIMIT_CODE,
    "TOTAL EXECUTION TIME LIMIT EXCEEDED",
    "FATAL",
)
NUMBERING_MODES = ("refuse", "ignore", "off")
DEMO_OPTIONS = {"secret_key": "demo-wfirma-secret-key", "app_key": "demo-wfirma-app-key"}

DEFAULT_OPTIONS = {
    "secret_key": "sandbox-wfirma-secret-key",
    "app_key": "sandbox-wfirma-app-key",
    "oauth_token": None,
    "oauth_scopes": None,
    "companies": None,
    "numbering_control": "refuse",
    "ksef": "auto",
    "ksef_delay_reads": 0,
    "ksef_outcome": "accepted",
    "default_price_type": "netto",  # wFirma's default when price_type is not sent (assumed)
    "default_paymentmethod": "transfer",
    "payment_days": 7,
    "receipts_need_contractor": False,
    "contractor_requires_street": False,
    "contractor_matching": "nip",
    "auth_http_status": 401,
    "limit_http_status": 200,
    "request_limit": None,
    "auth_failure_limit": 5,
    "forced_status": None,
}
OPTION_CHOICES = {
    "numbering_control": NUMBERING_MODES,
    "ksef": ("auto", "off"),
    "ksef_outcome": ("accepted", "rejected"),
    "default_price_type": PRICE_TYPES,
    "default_paymentmethod": PAYMENT_METHODS,
    "contractor_matching": ("nip", "never"),
}
COMPANY_SPEC_KEYS = frozenset({"name", "nip", "vat_payer", "warehouse", "numbering_control"})


def check_options(options: dict) -> str | None:
    """Why these account options are not acceptable, or None."""
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        return f"unknown options: {', '.join(unknown)}"
    for name, choices in OPTION_CHOICES.items():
        if name in options and options[name] not in choices:
            return f"{name} must be one of {', '.join(choices)}"
    for name in ("secret_key", "app_key"):
        if name in options and (not isinstance(options[name], str) or not options[name]):
            return f"{name} must be a non-empty string"
    if options.get("oauth_token") is not None and not isinstance(options["oauth_token"], str):
        return "oauth_token must be a string"
    scopes = options.get("oauth_scopes")
    if scopes is not None and (not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes)):
        return "oauth_scopes must be a list of strings such as invoices-read"
    for name, lowest in (("ksef_delay_reads", 0), ("payment_days", 0), ("auth_failure_limit", 0)):
        if name in options and (not isinstance(options[name], int) or options[name] < lowest):
            return f"{name} must be a whole number >= {lowest}"
    for name in ("auth_http_status", "limit_http_status"):
        if name in options and (not isinstance(options[name], int) or not 200 <= options[name] <= 599):
            return f"{name} must be an HTTP status between 200 and 599"
    for name in ("receipts_need_contractor", "contractor_requires_street"):
        if name in options and not isinstance(options[name], bool):
            return f"{name} must be true or false"
    limit = options.get("request_limit")
    if limit is not None and not (
        isinstance(limit, dict)
        and isinstance(limit.get("count"), int)
        and limit["count"] >= 1
        and isinstance(limit.get("seconds"), (int, float))
        and limit["seconds"] > 0
    ):
        return 'request_limit must look like {"count": 100, "seconds": 60}'
    if options.get("forced_status") is not None and options["forced_status"] not in FORCEABLE:
        return f"forced_status must be one of {', '.join(FORCEABLE)}"
    return check_companies(options.get("companies"))


def check_companies(companies) -> str | None:
    if companies is None:
        return None
    if isinstance(companies, bool) or not isinstance(companies, (int, list)):
        return "companies must be a count or a list of company objects"
    if isinstance(companies, int):
        return None if 1 <= companies <= 10 else "companies: between 1 and 10"
    if not 1 <= len(companies) <= 10:
        return "companies: between 1 and 10"
    for spec in companies:
        if not isinstance(spec, dict) or set(spec) - COMPANY_SPEC_KEYS:
            return f"each company may have: {', '.join(sorted(COMPANY_SPEC_KEYS))}"
        if spec.get("nip") is not None and not pl_nip.is_valid(str(spec["nip"])):
            return f"company nip {spec['nip']!r} is not a valid NIP"
        if spec.get("warehouse", "simple") not in ("simple", "extended"):
            return "company warehouse must be simple or extended"
        if spec.get("numbering_control", "refuse") not in NUMBERING_MODES:
            return f"company numbering_control must be one of {', '.join(NUMBERING_MODES)}"
        if not isinstance(spec.get("vat_payer", True), bool):
            return "company vat_payer must be true or false"
    return None


def sample_nip(seed: int) -> str:
    """A valid, deterministic NIP for a seeded company."""
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    base = 525000000 + seed % 1000000
    while True:
        digits = [int(c) for c in f"{base:09d}"]
        check = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
        if check < 10:
            return f"{base:09d}{check}"
        base += 1


# ---------------------------------------------------------------------------
# seeding


def seed_companies(tx: Transaction, service: str, prefix: str, options: dict, now: str, today: date) -> None:
    specs = options["companies"] if options["companies"] is not None else 1
    if isinstance(specs, int):
        suffixes = [f" ({n + 1})" if specs > 1 else "" for n in range(specs)]
        specs = [{"name": f"Sandbox {prefix} sp. z o.o.{suffix}"} for suffix in suffixes]
    for spec in specs:
        _seed_company(tx, service, prefix, spec, options, now, today)


def insert_series(
    tx: Transaction, service: str, prefix: str, company_id: int, fields: dict, now: str, today: date
) -> dict:
    """Store a numbering series; ``fields``: name, template, type, reset, initnumber, visibility,
    and whether it is the default series of its type."""
    series_id = tx.next_value(service, "*", "series", start=501)
    record = {
        "id": series_id,
        "name": fields["name"],
        "template": fields["template"],
        "initnumber": str(fields.get("initnumber", 1)),
        "type": fields["type"],
        "reset": fields["reset"],
        "visibility": fields.get("visibility") or "visible",
        "created": now,
        "modified": now,
        "_company_id": company_id,
        "_default": fields.get("default", False),
        "_start_period": period_key(fields["reset"], today),  # initnumber counts from this period
        "_counters": {},
    }
    tx.insert(service, prefix, "series", series_id, record)
    return record


def _seed_company(
    tx: Transaction, service: str, prefix: str, spec: dict, options: dict, now: str, today: date
) -> None:
    company_id = tx.next_value(service, "*", "companies", start=885367)
    vat_payer = spec.get("vat_payer", True)
    warehouse_type = spec.get("warehouse", "simple")
    company = {
        "id": company_id,
        "name": spec.get("name") or f"Sandbox {prefix} sp. z o.o.",
        "nip": spec.get("nip") or sample_nip(company_id),
        "street": "ul. Przykładowa 12/3",
        "zip": "00-950",
        "city": "Warszawa",
        "country": "PL",
        "vat_payer": "1" if vat_payer else "0",
        "warehouse_type": warehouse_type,
        "_numbering_control": spec.get("numbering_control") or options["numbering_control"],
        "_company_id": company_id,
    }
    tx.insert(service, prefix, "companies", company_id, company)

    def insert(collection: str, start: int, record: dict, ref: str | None = None) -> None:
        record_id = tx.next_value(service, "*", collection, start=start)
        tx.insert(
            service,
            prefix,
            collection,
            record_id,
            {"id": record_id, **record, "_company_id": company_id},
            ref=ref,
        )

    for name, template, doc_type, reset, default in VAT_PAYER_SERIES if vat_payer else NO_VAT_PAYER_SERIES:
        fields = {"name": name, "template": template, "type": doc_type, "reset": reset, "default": default}
        insert_series(tx, service, prefix, company_id, fields, now, today)
    for code, name, unit, netto, brutto, vat_id, kind, stock in GOODS:
        counted = stock is not None
        good = {
            "name": name,
            "code": code,
            "unit": unit,
            "netto": netto,
            "brutto": brutto,
            "price_type": "netto",
            "type": kind,
            "vat": VAT_BY_ID[vat_id].code,
            "vat_code": {"id": str(vat_id)},
            **dict.fromkeys(("classification", "gtu", "lumpcode", "description")),
            "discount": "0",
            "count": quantity_text(Decimal(stock)) if counted else None,
            "reserved": quantity_text(Decimal(0)) if counted else None,
            **dict.fromkeys(("min", "max", "secure")),
            "visibility": "visible",
            "warehouse_type": warehouse_type,
            "created": now,
            "modified": now,
        }
        insert("goods", 7000001, good, ref=code)
    for name, bank, number, swift, currency in COMPANY_ACCOUNTS:
        account = {"name": name, "bank_name": bank, "number": number, "swift": swift, "currency": currency}
        insert("company_accounts", 51001, {**account, "address": "ul. Bankowa 1, 00-001 Warszawa"})
    insert("payment_cashboxes", 61001, {"name": "Kasa główna", "currency": "PLN"})
    insert("warehouses", 71001, {"name": "Magazyn główny", "default": "1"})
