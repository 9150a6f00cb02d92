"""Fakturownia.pl emulator, mounted at ``/fakturownia/<prefix>``.

Written from the API contract notes alone: the base URL of a sandbox account is
``http://HOST:PORT/fakturownia/<prefix>`` where the real one is
``https://<prefix>.fakturownia.pl``. Invoice rules live in
``fakturownia_invoices``; this module is the HTTP surface and the storage.
"""

from __future__ import annotations

import hmac
import re
import secrets
import string
from datetime import date, datetime, timedelta
from decimal import Decimal
from html import escape
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, jsonify, request

from .fakturownia_invoices import (
    BLANK,
    INVALID,
    KSEF_KINDS,
    NOT_IN_LIST,
    STATUSES,
    TAKEN,
    Catalog,
    Errors,
    build_invoice,
    counter_period,
    normalise_tax,
    render_number,
    truthy,
)
from .money import money_str, parse_decimal, quantity_str
from .pdf import PdfDocument, PdfLine, render_pdf
from .service import EmulatedService
from .store import Account, Transaction

WARSAW = ZoneInfo("Europe/Warsaw")
UNAUTHORIZED_MESSAGE = "You must be logged in to gain access to the site"
PER_PAGE_DEFAULT, PER_PAGE_MAX = 25, 100
PERIODS = (
    "last_12_months",
    "this_month",
    "last_30_days",
    "last_month",
    "this_year",
    "last_year",
    "all",
    "more",
)
ORDER_KEYS = (
    "id",
    "number",
    "updated_at",
    "created_at",
    "issue_date",
    "sell_date",
    "paid_date",
    "oid",
    "price_gross",
    "buyer_name",
    "kind",
    "status",
)

#: per-account settings an admin may pass when creating a sandbox account
DEFAULT_OPTIONS = {
    "company_name": None,  # seller name on documents; default "Sandbox <prefix> sp. z o.o."
    "tax_no": "5252344078",  # seller NIP
    "ksef": "auto",  # auto: every KSeF kind is sent; on_request: only with gov_save_and_send; off
    "ksef_delay_reads": 0,  # GETs after creation that still show gov_status "processing"
    "ksef_outcome": "ok",  # "ok" or "send_error" (force KSeF to refuse)
    "validate_invoices_for_gov": False,  # True: KSeF problems are a 422 instead of gov_error_messages
    "list_default_period": "all",  # period used by GET /invoices.json when none is given (not documented)
}
OPTION_CHOICES = {
    "ksef": ("auto", "on_request", "off"),
    "ksef_outcome": ("ok", "send_error"),
    "list_default_period": PERIODS,
}

DEPARTMENTS = (
    {"name": "Sklep internetowy", "shortcut": "SKLEP", "main": True, "pattern_prefix": ""},
    {"name": "Hurtownia", "shortcut": "HURT", "main": False, "pattern_prefix": "H/"},
)
BASE_PATTERNS = {
    "vat": "nr-m/mm/yyyy",
    "proforma": "Pnr-m/mm/yyyy",
    "receipt": "PAR nr-m/mm/yyyy",
    "correction": "FK nr-m/mm/yyyy",
}
CATEGORIES = ("Sprzedaż detaliczna", "Sprzedaż hurtowa")
PRODUCTS = (
    ("SKU-001", "Kubek ceramiczny 330 ml", "29.99", "23", "100"),
    ("SKU-002", "Herbata zielona liściasta 100 g", "18.50", "5", "250"),
    ("SKU-003", "Książka „Zażółć gęślą jaźń”", "49.00", "5", "40"),
    ("SKU-004", "Świeca sojowa — las", "35.00", "23", "60"),
)
#: the fields a reader looks for first come first in a response
LEADING_KEYS = (
    "id",
    "kind",
    "number",
    "status",
    "issue_date",
    "sell_date",
    "payment_to",
    "payment_to_kind",
    "payment_type",
    "price_net",
    "price_tax",
    "price_gross",
    "currency",
    "paid",
    "paid_date",
    "oid",
    "token",
    "buyer_name",
    "buyer_tax_no",
    "buyer_company",
    "seller_name",
    "seller_tax_no",
    "client_id",
    "department_id",
    "warehouse_id",
    "gov_status",
    "gov_id",
)
TITLES = {
    "vat": "Faktura VAT",
    "receipt": "Paragon",
    "correction": "Faktura korygująca",
    "proforma": "Faktura pro forma",
    "bill": "Rachunek",
    "advance": "Faktura zaliczkowa",
    "final": "Faktura końcowa",
    "vat_margin": "Faktura VAT marża",
    "estimate": "Zamówienie",
}


class BadRequest(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class FakturowniaEmulator(EmulatedService):
    name = "fakturownia"
    document_collection = "invoices"
    public_endpoints = frozenset(
        {"public_invoice", "public_invoice_pdf", "public_invoice_slug", "ksef_verification"}
    )
    demo_accounts = (("demo", "demo-fakturownia-token"),)

    # -- errors -------------------------------------------------------------
    def error_response(self, message, status: int) -> Response:
        return _json({"code": "error", "message": message}, status)

    def unauthorized(self) -> Response:
        return self.error_response(UNAUTHORIZED_MESSAGE, 401)

    def _invalid(self, errors: dict) -> Response:
        return self.error_response(errors, 422)

    # -- accounts -------------------------------------------------------------
    def check_account_options(self, options: dict) -> str | None:
        unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
        if unknown:
            return f"unknown options: {', '.join(unknown)}"
        for name, choices in OPTION_CHOICES.items():
            if name in options and options[name] not in choices:
                return f"{name} must be one of {', '.join(choices)}"
        return None

    def seed_account(self, tx: Transaction, account: Account) -> None:
        options = self._options(account)
        for spec in DEPARTMENTS:
            department_id = tx.next_value(self.name, "*", "departments", start=51)
            patterns = {kind: spec["pattern_prefix"] + pattern for kind, pattern in BASE_PATTERNS.items()}
            tx.insert(
                self.name,
                account.prefix,
                "departments",
                department_id,
                {
                    "id": department_id,
                    "name": spec["name"],
                    "shortcut": spec["shortcut"],
                    "company_name": options["company_name"],
                    "tax_no": options["tax_no"],
                    "street": "ul. Przykładowa 12/3",
                    "post_code": "00-950",
                    "city": "Warszawa",
                    "country": "PL",
                    "email": f"biuro@{account.prefix}.example",
                    "phone": "+48 22 000 00 00",
                    "bank": "Bank Testowy S.A.",
                    "bank_account": "PL61 1090 1014 0000 0712 1981 2874",
                    "main": spec["main"],
                    "_patterns": patterns,
                    "_pattern_prefix": spec["pattern_prefix"],
                },
            )
        for name in CATEGORIES:
            category_id = tx.next_value(self.name, "*", "categories", start=21)
            tx.insert(
                self.name,
                account.prefix,
                "categories",
                category_id,
                {"id": category_id, "name": name, "description": None},
            )
        warehouse_id = tx.next_value(self.name, "*", "warehouses", start=11)
        tx.insert(
            self.name,
            account.prefix,
            "warehouses",
            warehouse_id,
            {"id": warehouse_id, "name": "Magazyn główny", "kind": "main", "description": "Magazyn sklepu"},
        )
        for code, product_name, gross, tax, stock in PRODUCTS:
            product_id = tx.next_value(self.name, "*", "products", start=900001)
            net = money_str(Decimal(gross) / (1 + Decimal(tax) / 100))
            tx.insert(
                self.name,
                account.prefix,
                "products",
                product_id,
                {
                    "id": product_id,
                    "name": product_name,
                    "code": code,
                    "ean_code": None,
                    "price_net": net,
                    "price_gross": gross,
                    "tax": tax,
                    "quantity_unit": "szt",
                    "limited": "1",
                    "stock_level": quantity_str(Decimal(stock)),
                    "_stock": {str(warehouse_id): stock},
                },
                ref=code,
            )

    def _options(self, account: Account) -> dict:
        options = {**DEFAULT_OPTIONS, **account.options}
        options["company_name"] = options["company_name"] or f"Sandbox {account.prefix} sp. z o.o."
        return options

    # -- request plumbing -----------------------------------------------------
    def account_key(self) -> str:
        return g.sandbox_account

    def authenticate(self) -> Response | None:
        token = _request_token()
        with self.runtime.store.transaction(write=False) as tx:
            account = tx.get_account(self.name, g.sandbox_account)
        if not token or account is None:
            return self.unauthorized()
        bare, _, token_prefix = token.partition("/")
        accepted = hmac.compare_digest(token.encode(), account.api_token.encode()) or (
            token_prefix == account.prefix and hmac.compare_digest(bare.encode(), account.api_token.encode())
        )
        if not accepted:
            return self.unauthorized()
        g.account = account
        return None

    def _base_url(self, prefix: str) -> str:
        return f"{request.url_root.rstrip('/')}/{self.name}/{prefix}"

    def _catalog(self, tx: Transaction, prefix: str) -> Catalog:
        def lookup(collection):
            return lambda record_id: (
                tx.get(self.name, prefix, collection, int(record_id)) if record_id else None
            )

        departments = tx.select(self.name, prefix, "departments")
        main = next((d for d in departments if d.get("main")), departments[0] if departments else {})
        return Catalog(
            product=lookup("products"),
            department=lookup("departments"),
            default_department=lambda: main,
            warehouse=lookup("warehouses"),
            category=lookup("categories"),
            client=lookup("clients"),
            invoice=lookup("invoices"),
        )

    # -- rendering ------------------------------------------------------------
    def render_invoice(
        self, doc: dict, prefix: str, *, positions: bool = True, correction_full: bool = False
    ) -> dict:
        base = self._base_url(prefix)
        out = {key: doc[key] for key in LEADING_KEYS if key in doc}
        out.update(
            (key, value)
            for key, value in doc.items()
            if key not in out and not key.startswith("_") and key != "positions"
        )
        out["view_url"] = f"{base}/invoice/{doc['token']}"
        link = f"{base}/ksef/{doc['gov_id']}" if doc.get("gov_id") else None
        out["gov_verification_link"] = link
        out["gov_link"] = link
        if positions:
            out["positions"] = [_public_position(position, correction_full) for position in doc["positions"]]
        return out

    def render_document(self, record: dict, account: str) -> dict:
        rendered = self.render_invoice(record, account, correction_full=True)
        rendered["_sandbox"] = {
            "account": account,
            "emails": record.get("_emails", []),
            "ksef_reads": record.get("_ksef_reads", 0),
            "stock_moves": record.get("_stock_moves", []),
            "rate_totals": record.get("_rate_totals", []),
        }
        return rendered

    def inspect_documents(self, account: str | None, args) -> list[dict]:
        with self.runtime.store.transaction(write=False) as tx:
            records = tx.select(
                self.name, account, "invoices", ref=args.get("oid"), number=args.get("number")
            )
        kind = args.get("kind")
        return [
            self.render_document(record, record["_account"])
            for record in records
            if kind is None or record["kind"] == kind
        ]

    # -- blueprint ------------------------------------------------------------
    def build_blueprint(self) -> Blueprint:
        bp = Blueprint(self.name, __name__, url_prefix="/<prefix>")

        @bp.url_value_preprocessor
        def pull_account(_endpoint, values):
            g.sandbox_account = values.pop("prefix")

        @bp.errorhandler(BadRequest)
        def bad_request(error: BadRequest):
            return self.error_response(error.message, 400)

        @bp.errorhandler(404)
        def not_found(_error):
            return self.not_found()

        bp.add_url_rule("/invoices.json", "create_invoice", self.create_invoice, methods=["POST"])
        bp.add_url_rule("/invoices.json", "list_invoices", self.list_invoices, methods=["GET"])
        bp.add_url_rule("/invoices/<int:invoice_id>.json", "get_invoice", self.get_invoice, methods=["GET"])
        bp.add_url_rule(
            "/invoices/<int:invoice_id>.json", "update_invoice", self.update_invoice, methods=["PUT", "PATCH"]
        )
        bp.add_url_rule(
            "/invoices/<int:invoice_id>.json", "delete_invoice", self.delete_invoice, methods=["DELETE"]
        )
        bp.add_url_rule("/invoices/<int:invoice_id>.pdf", "invoice_pdf", self.invoice_pdf, methods=["GET"])
        bp.add_url_rule(
            "/invoices/<int:invoice_id>/change_status.json",
            "change_status",
            self.change_status,
            methods=["POST"],
        )
        bp.add_url_rule(
            "/invoices/<int:invoice_id>/send_by_email.json",
            "send_by_email",
            self.send_by_email,
            methods=["POST"],
        )
        bp.add_url_rule("/invoices/cancel.json", "cancel_invoice", self.cancel_invoice, methods=["POST"])
        bp.add_url_rule("/invoice/<token>", "public_invoice", self.public_invoice)
        bp.add_url_rule("/invoice/<token>.pdf", "public_invoice_pdf", self.public_invoice_pdf)
        bp.add_url_rule("/f/<slug>/<token>", "public_invoice_slug", self.public_invoice_slug)
        bp.add_url_rule("/ksef/<gov_id>", "ksef_verification", self.ksef_verification)
        for collection in ("departments", "categories", "warehouses", "products", "clients"):
            bp.add_url_rule(f"/{collection}.json", f"list_{collection}", self._lister(collection))
            bp.add_url_rule(
                f"/{collection}/<int:record_id>.json", f"get_{collection}", self._getter(collection)
            )
        bp.add_url_rule("/clients.json", "create_client", self.create_client, methods=["POST"])
        bp.add_url_rule("/products.json", "create_product", self.create_product, methods=["POST"])
        return bp

    # -- invoices: create / read / update / delete ---------------------------
    def create_invoice(self):
        body = _json_body()
        payload = body.get("invoice")
        if not isinstance(payload, dict):
            raise BadRequest("param is missing or the value is empty: invoice")
        account, prefix = g.account, g.sandbox_account
        options = self._options(account)
        with self.runtime.store.transaction() as tx:
            draft = build_invoice(payload, self._catalog(tx, prefix), _today(), options)
            oid = draft.fields["oid"]
            if draft.oid_unique and oid and tx.select(self.name, prefix, "invoices", ref=oid):
                draft.errors.add("oid", TAKEN)
            if draft.errors.fields:
                return self._invalid(draft.errors.fields)
            if options["validate_invoices_for_gov"] and draft.gov_problems:
                return self._invalid(draft.gov_problems)
            doc = self._store_new(tx, prefix, options, draft, truthy(body.get("gov_save_and_send", False)))
        self.document_stored(prefix)
        return _json(self.render_invoice(doc, prefix, correction_full=True), 201)

    def _store_new(self, tx: Transaction, prefix: str, options: dict, draft, send_to_ksef: bool) -> dict:
        fields = draft.fields
        invoice_id = tx.next_value(self.name, "*", "invoices", start=100001)
        if draft.requested_number:
            number, pattern, counter = draft.requested_number, None, None
        else:
            number, pattern, counter = self._next_number(tx, prefix, fields)
        self._resolve_client(tx, prefix, draft)
        now = _now()
        gov_status = _initial_gov_status(fields["kind"], options, send_to_ksef)
        doc = {
            "id": invoice_id,
            "kind": fields["kind"],
            "number": number,
            **fields,
            "token": _public_token(),
            "pattern": pattern,
            "pattern_nr": counter,
            "pattern_nr_m": counter if pattern and "nr-m" in pattern else None,
            "pattern_nr_d": counter if pattern and "nr-d" in pattern else None,
            "from_api": True,
            "cancelled": False,
            "created_at": now,
            "updated_at": now,
            "gov_status": gov_status,
            "gov_id": None,
            "gov_send_date": None,
            "gov_error_messages": _flat_messages(draft.gov_problems) or None,
            "positions": self._number_positions(tx, invoice_id, draft.positions),
            "_input": draft.raw_header,
            "_rate_totals": draft.rate_totals,
            "_gov_problems": draft.gov_problems,
            "_ksef_reads": 0,
            "_emails": [],
            "_account": prefix,
            "_stock_moves": [],
            "_original": _original_summary(draft.original),
        }
        doc["_stock_moves"] = self._move_stock(tx, prefix, draft.stock_moves, fields["warehouse_id"])
        tx.insert(
            self.name,
            prefix,
            "invoices",
            invoice_id,
            doc,
            number=number,
            ref=fields["oid"],
            token=doc["token"],
        )
        return doc

    def _next_number(self, tx: Transaction, prefix: str, fields: dict) -> tuple[str, str, int]:
        department = tx.get(self.name, prefix, "departments", fields["department_id"]) or {}
        kind = fields["kind"]
        pattern = department.get("_patterns", {}).get(kind) or (
            f"{department.get('_pattern_prefix', '')}{kind.upper()}/nr-m/mm/yyyy"
        )
        issue_date = date.fromisoformat(fields["issue_date"])
        scope = f"{prefix}:{fields['department_id']}:{kind}:{counter_period(pattern, issue_date)}"
        while True:  # skip numbers already taken by hand-numbered documents
            counter = tx.next_value(self.name, scope, "number")
            number = render_number(pattern, counter, issue_date)
            if not tx.select(self.name, prefix, "invoices", number=number):
                return number, pattern, counter

    def _number_positions(
        self, tx: Transaction, invoice_id: int, positions: list[dict], keep: frozenset | set = frozenset()
    ) -> list[dict]:
        """Give positions their ids; an edited position keeps its id if it is in ``keep``."""
        numbered = []
        for position in positions:
            position_id = position.pop("_position_id", None)
            try:
                position_id = int(position_id) if position_id is not None else None
            except (TypeError, ValueError):
                position_id = None
            if position_id is None or position_id not in keep:
                position_id = tx.next_value(self.name, "*", "positions", start=300001)
            numbered.append({"id": position_id, "invoice_id": invoice_id, **position})
        return numbered

    def _resolve_client(self, tx: Transaction, prefix: str, draft) -> None:
        """Link the buyer's client card, like the service: match by NIP, else by name + e-mail,
        else create one; ``buyer_override`` with ``client_id`` rewrites the card."""
        fields = draft.fields
        card = {
            "name": fields["buyer_name"],
            "tax_no": fields["buyer_tax_no"],
            "street": fields["buyer_street"],
            "post_code": fields["buyer_post_code"],
            "city": fields["buyer_city"],
            "country": fields["buyer_country"],
            "email": fields["buyer_email"],
            "phone": fields["buyer_phone"],
            "company": fields["buyer_company"] is not False,
            "first_name": fields["buyer_first_name"],
            "last_name": fields["buyer_last_name"],
        }
        key = _client_key(fields["buyer_tax_no"], fields["buyer_name"], fields["buyer_email"])
        if fields["client_id"]:
            client = tx.get(self.name, prefix, "clients", fields["client_id"])
            if draft.buyer_override and client is not None:
                client.update({name: value for name, value in card.items() if value is not None})
                tx.update(self.name, prefix, "clients", client["id"], client, ref=key)
            return
        if not fields["buyer_name"]:
            return  # e.g. a receipt without a buyer
        matches = [] if draft.new_client else tx.select(self.name, prefix, "clients", ref=key)
        if matches:
            fields["client_id"] = matches[0]["id"]
            return
        client_id = tx.next_value(self.name, "*", "clients", start=700001)
        tx.insert(
            self.name,
            prefix,
            "clients",
            client_id,
            {"id": client_id, **card, "external_id": None, "shortcut": fields["buyer_name"][:30]},
            ref=key,
        )
        fields["client_id"] = client_id

    def _move_stock(
        self, tx: Transaction, prefix: str, moves, warehouse_id: int | None, undo: bool = False
    ) -> list[list]:
        """Apply stock changes of an invoice's product lines; returns them for a later undo."""
        if warehouse_id is None and moves:
            warehouses = tx.select(self.name, prefix, "warehouses")
            warehouse_id = warehouses[0]["id"] if warehouses else None
        applied = []
        for move in moves:
            product_id, change = move[0], Decimal(str(move[-1]))
            where = str(move[1]) if undo else str(warehouse_id)
            product = tx.get(self.name, prefix, "products", product_id)
            if product is None or product.get("_stock") is None or where == "None":
                continue
            change = -change if undo else change
            stock = product["_stock"]
            stock[where] = str(Decimal(stock.get(where, "0")) + change)
            product["stock_level"] = quantity_str(sum((Decimal(v) for v in stock.values()), Decimal(0)))
            tx.update(self.name, prefix, "products", product_id, product, ref=product.get("code"))
            applied.append([product_id, int(where), str(change)])
        return applied

    def _load(self, tx: Transaction, invoice_id: int) -> dict | None:
        return tx.get(self.name, g.sandbox_account, "invoices", invoice_id)

    def get_invoice(self, invoice_id: int):
        prefix = g.sandbox_account
        options = self._options(g.account)
        with self.runtime.store.transaction() as tx:
            doc = self._load(tx, invoice_id)
            if doc is None:
                return self.not_found()
            changed = False
            if (
                request.args.get("send_to_ksef") == "yes"
                and doc["gov_status"] is None
                and doc["kind"] in KSEF_KINDS
                and options["ksef"] != "off"
            ):
                doc["gov_status"], changed = "processing", True
            changed = _advance_ksef(doc, options) or changed
            if changed:
                self._save(tx, prefix, doc)
        full = request.args.get("correction_positions") == "full"
        return _json(_selected_fields(self.render_invoice(doc, prefix, correction_full=full)), 200)

    def _save(self, tx: Transaction, prefix: str, doc: dict) -> None:
        tx.update(
            self.name,
            prefix,
            "invoices",
            doc["id"],
            doc,
            number=doc["number"],
            ref=doc["oid"],
            token=doc["token"],
        )

    def list_invoices(self):
        args, prefix = request.args, g.sandbox_account
        options = self._options(g.account)
        page = max(_int_arg("page", 1), 1)
        per_page = min(max(_int_arg("per_page", PER_PAGE_DEFAULT), 1), PER_PAGE_MAX)
        with self.runtime.store.transaction() as tx:
            docs = tx.select(self.name, prefix, "invoices", number=args.get("number") or None)
            docs = [doc for doc in docs if _listed(doc, args, options)]
            docs = _ordered(docs, args.get("order"))
            page_docs = docs[(page - 1) * per_page : page * per_page]
            for doc in page_docs:
                if _advance_ksef(doc, options):
                    self._save(tx, prefix, doc)
        with_positions = truthy(args.get("include_positions", False))
        return jsonify(
            [
                _selected_fields(self.render_invoice(doc, prefix, positions=with_positions))
                for doc in page_docs
            ]
        )

    def update_invoice(self, invoice_id: int):
        body = _json_body()
        payload = body.get("invoice")
        if not isinstance(payload, dict):
            raise BadRequest("param is missing or the value is empty: invoice")
        prefix, options = g.sandbox_account, self._options(g.account)
        with self.runtime.store.transaction() as tx:
            doc = self._load(tx, invoice_id)
            if doc is None:
                return self.not_found()
            draft = build_invoice(payload, self._catalog(tx, prefix), _today(), options, previous=doc)
            oid = draft.fields["oid"]
            if (
                draft.oid_unique
                and oid
                and any(
                    other["id"] != invoice_id for other in tx.select(self.name, prefix, "invoices", ref=oid)
                )
            ):
                draft.errors.add("oid", TAKEN)
            if draft.errors.fields:
                return self._invalid(draft.errors.fields)
            if options["validate_invoices_for_gov"] and draft.gov_problems:
                return self._invalid(draft.gov_problems)
            self._move_stock(tx, prefix, doc["_stock_moves"], None, undo=True)
            kept = {position["id"] for position in doc["positions"]}
            fields = draft.fields
            self._resolve_client(tx, prefix, draft)
            doc.update(fields)
            if draft.requested_number:
                doc["number"] = draft.requested_number
            doc["positions"] = self._number_positions(tx, invoice_id, draft.positions, kept)
            doc["_input"] = draft.raw_header
            doc["_rate_totals"], doc["_gov_problems"] = draft.rate_totals, draft.gov_problems
            doc["_original"] = _original_summary(draft.original)
            doc["_stock_moves"] = self._move_stock(tx, prefix, draft.stock_moves, fields["warehouse_id"])
            doc["updated_at"] = _now()
            if doc["gov_status"] != "ok":
                doc["gov_error_messages"] = _flat_messages(draft.gov_problems) or None
            if (
                truthy(body.get("gov_save_and_send", False))
                and doc["kind"] in KSEF_KINDS
                and doc["gov_status"] in (None, "send_error")
                and options["ksef"] != "off"
            ):
                doc["gov_status"], doc["_ksef_reads"] = "processing", 0
            self._save(tx, prefix, doc)
        return _json(self.render_invoice(doc, prefix, correction_full=True), 200)

    def delete_invoice(self, invoice_id: int):
        prefix = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            doc = self._load(tx, invoice_id)
            if doc is None:
                return self.not_found()
            self._move_stock(tx, prefix, doc["_stock_moves"], None, undo=True)
            tx.delete(self.name, prefix, "invoices", invoice_id)
        return _json({"code": "success", "message": "Faktura została usunięta"}, 200)

    def change_status(self, invoice_id: int):
        body = _json_body(required=False)
        status = request.args.get("status") or body.get("status")
        if status not in STATUSES:
            return self._invalid({"status": [BLANK if not status else NOT_IN_LIST]})
        with self.runtime.store.transaction() as tx:
            doc = self._load(tx, invoice_id)
            if doc is None:
                return self.not_found()
            doc["status"] = status
            if status == "paid":
                doc["paid"] = doc["price_gross"]
                doc["paid_date"] = doc["paid_date"] or _today().isoformat()
            doc["updated_at"] = _now()
            self._save(tx, g.sandbox_account, doc)
        return _json({"code": "success", "message": "Status został zmieniony"}, 200)

    def cancel_invoice(self):
        body = _json_body()
        try:
            invoice_id = int(body.get("cancel_invoice_id"))
        except (TypeError, ValueError):
            return self._invalid({"cancel_invoice_id": [BLANK]})
        with self.runtime.store.transaction() as tx:
            doc = self._load(tx, invoice_id)
            if doc is None:
                return self.not_found()
            if doc.get("gov_id"):  # under KSeF only a correction to zero "cancels"
                return self._invalid({"base": ["- faktura wysłana do KSeF nie może zostać anulowana"]})
            doc["cancelled"], doc["cancel_reason"] = True, body.get("cancel_reason")
            doc["updated_at"] = _now()
            self._save(tx, g.sandbox_account, doc)
        return _json({"code": "success", "message": "Faktura została anulowana"}, 200)

    def send_by_email(self, invoice_id: int):
        body = _json_body(required=False)
        options = self._options(g.account)
        with self.runtime.store.transaction() as tx:
            doc = self._load(tx, invoice_id)
            if doc is None:
                return self.not_found()
            if (
                options["ksef"] != "off"
                and doc["kind"] in KSEF_KINDS
                and _company_buyer(doc)
                and not doc.get("gov_id")
            ):
                # A business refusal that still answers HTTP 200: clients must read the body.
                return _json(
                    {"status": "error", "message": "Faktura nie może zostać wysłana - brak numeru KSeF"}, 200
                )
            recipients = _param("email_to", body) or doc.get("buyer_email") or ""
            addresses = [address.strip() for address in str(recipients).split(",") if address.strip()]
            if not addresses:
                return _json({"status": "error", "message": "Brak adresu e-mail odbiorcy"}, 200)
            if len(addresses) > 5:
                return _json({"status": "error", "message": "Można podać maksymalnie 5 adresów e-mail"}, 200)
            doc["_emails"].append(
                {
                    "to": addresses,
                    "cc": _param("email_cc", body),
                    "pdf": truthy(_param("email_pdf", body) or False),
                    "at": _now(),
                }
            )
            self._save(tx, g.sandbox_account, doc)
        return _json({"status": "ok"}, 200)

    # -- PDF and public links --------------------------------------------------
    def invoice_pdf(self, invoice_id: int):
        with self.runtime.store.transaction(write=False) as tx:
            doc = self._load(tx, invoice_id)
        if doc is None:
            return self.not_found()
        return self._pdf_response(doc, inline=True)

    def _by_token(self, token: str) -> dict | None:
        with self.runtime.store.transaction(write=False) as tx:
            if tx.get_account(self.name, g.sandbox_account) is None:
                return None
            return tx.find_by_token(self.name, g.sandbox_account, "invoices", token)

    def public_invoice(self, token: str):
        doc = self._by_token(token)
        return self.not_found() if doc is None else Response(_public_html(doc), mimetype="text/html")

    def public_invoice_slug(self, slug: str, token: str):
        return self.public_invoice(token)

    def public_invoice_pdf(self, token: str):
        doc = self._by_token(token)
        if doc is None:
            return self.not_found()
        return self._pdf_response(doc, inline=request.args.get("inline") == "yes")

    def _pdf_response(self, doc: dict, inline: bool) -> Response:
        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{TITLES.get(doc['kind'], 'Dokument')}_{doc['number']}")
        response = Response(render_pdf(_pdf_document(doc)), mimetype="application/pdf")
        response.headers["Content-Disposition"] = (
            f'{"inline" if inline else "attachment"}; filename="{filename}.pdf"'
        )
        return response

    def ksef_verification(self, gov_id: str):
        with self.runtime.store.transaction(write=False) as tx:
            docs = [
                doc
                for doc in tx.select(self.name, g.sandbox_account, "invoices")
                if doc.get("gov_id") == gov_id
            ]
        if not docs:
            return self.not_found()
        doc = docs[0]
        return Response(
            f"<!doctype html><meta charset=utf-8><title>KSeF {escape(gov_id)}</title>"
            f"<h1>Faktura {escape(doc['number'])} jest w KSeF (sandbox)</h1>"
            f"<p>Numer KSeF: {escape(gov_id)}</p>",
            mimetype="text/html",
        )

    # -- other resources ------------------------------------------------------
    def _lister(self, collection: str):
        def list_records():
            args = request.args
            page = max(_int_arg("page", 1), 1)
            per_page = min(max(_int_arg("per_page", PER_PAGE_DEFAULT), 1), PER_PAGE_MAX)
            with self.runtime.store.transaction(write=False) as tx:
                records = tx.select(self.name, g.sandbox_account, collection)
            records = [record for record in records if _resource_matches(collection, record, args)]
            chosen = records[(page - 1) * per_page : page * per_page]
            return jsonify([_public_resource(record, args.get("warehouse_id")) for record in chosen])

        list_records.__name__ = f"list_{collection}"
        return list_records

    def _getter(self, collection: str):
        def get_record(record_id: int):
            with self.runtime.store.transaction(write=False) as tx:
                record = tx.get(self.name, g.sandbox_account, collection, record_id)
            if record is None:
                return self.not_found()
            return jsonify(_public_resource(record, request.args.get("warehouse_id")))

        get_record.__name__ = f"get_{collection}"
        return get_record

    def create_client(self):
        client = _json_body().get("client")
        if not isinstance(client, dict):
            raise BadRequest("param is missing or the value is empty: client")
        if not str(client.get("name") or "").strip():
            return self._invalid({"name": [BLANK]})
        allowed = (
            "name",
            "tax_no",
            "street",
            "post_code",
            "city",
            "country",
            "email",
            "phone",
            "company",
            "first_name",
            "last_name",
            "external_id",
            "shortcut",
            "note",
        )
        with self.runtime.store.transaction() as tx:
            client_id = tx.next_value(self.name, "*", "clients", start=700001)
            record = {"id": client_id, **{key: client.get(key) for key in allowed}}
            record["company"] = truthy(client.get("company", True))
            tx.insert(
                self.name,
                g.sandbox_account,
                "clients",
                client_id,
                record,
                ref=_client_key(record["tax_no"], record["name"], record["email"]),
            )
        return _json(record, 201)

    def create_product(self):
        product = _json_body().get("product")
        if not isinstance(product, dict):
            raise BadRequest("param is missing or the value is empty: product")
        errors = Errors()
        if not str(product.get("name") or "").strip():
            errors.add("name", BLANK)
        tax = product.get("tax", "23")
        if normalise_tax(tax) is None:
            errors.add("tax", NOT_IN_LIST)
        try:
            net, gross = parse_decimal(product.get("price_net")), parse_decimal(product.get("price_gross"))
        except ValueError:
            errors.add("price_net", INVALID)
            net = gross = None
        if errors.fields:
            return self._invalid(errors.fields)
        rate = normalise_tax(tax)
        factor = 1 + (Decimal(rate) / 100 if rate.isdecimal() else Decimal(0))
        if gross is None and net is not None:
            gross = net * factor
        if net is None and gross is not None:
            net = gross / factor
        with self.runtime.store.transaction() as tx:
            product_id = tx.next_value(self.name, "*", "products", start=900001)
            warehouses = tx.select(self.name, g.sandbox_account, "warehouses")
            stock = str(parse_decimal(product.get("stock_level")) or 0)
            record = {
                "id": product_id,
                "name": product["name"],
                "code": product.get("code"),
                "ean_code": product.get("ean_code"),
                "price_net": money_str(net or Decimal(0)),
                "price_gross": money_str(gross or Decimal(0)),
                "tax": rate,
                "quantity_unit": product.get("quantity_unit") or "szt",
                "limited": str(product.get("limited", "0")),
                "stock_level": quantity_str(Decimal(stock)),
                "_stock": {str(warehouses[0]["id"]): stock} if warehouses else {},
            }
            tx.insert(self.name, g.sandbox_account, "products", product_id, record, ref=record["code"])
        return _json(_public_resource(record, None), 201)


# ---------------------------------------------------------------------------
# helpers


def _json(body, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _json_body(required: bool = True) -> dict:
    if not request.get_data(cache=True):
        if required:
            raise BadRequest("param is missing or the value is empty: invoice")
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadRequest("Invalid JSON in the request body")
    return body


def _request_token() -> str | None:
    """The API token from the query string, a Bearer header or the JSON body (in that order)."""
    token = request.args.get("api_token")
    if not token:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            token = header[7:].strip()
    if not token and request.get_data(cache=True):
        body = request.get_json(force=True, silent=True)
        if isinstance(body, dict) and body.get("api_token") is not None:
            token = str(body["api_token"])
    if not token and request.mimetype == "application/x-www-form-urlencoded":
        token = request.form.get("api_token")
    return token or None


def _param(name: str, body: dict):
    return request.args.get(name) or body.get(name)


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default


def _today() -> date:
    return datetime.now(WARSAW).date()


def _now() -> str:
    return datetime.now(WARSAW).isoformat(timespec="milliseconds")


def _public_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20))


def _client_key(tax_no, name, email) -> str:
    digits = re.sub(r"\D", "", tax_no or "")
    if digits:
        return f"tax:{digits}"
    return f"name:{(name or '').strip().lower()}|{(email or '').strip().lower()}"


def _initial_gov_status(kind: str, options: dict, send_requested: bool) -> str | None:
    if kind not in KSEF_KINDS:
        return "not_applicable"
    if options["ksef"] == "off" or (options["ksef"] == "on_request" and not send_requested):
        return None
    return "processing"


def _advance_ksef(doc: dict, options: dict) -> bool:
    """A read after creation moves a submitted document on from "processing". Returns True if it changed."""
    if doc.get("gov_status") != "processing":
        return False
    doc["_ksef_reads"] = doc.get("_ksef_reads", 0) + 1
    if doc["_ksef_reads"] <= int(options.get("ksef_delay_reads", 0)):
        return True
    if doc["_gov_problems"] or options.get("ksef_outcome") == "send_error":
        doc["gov_status"] = "send_error"
        doc["gov_error_messages"] = _flat_messages(doc["_gov_problems"]) or [
            "Faktura odrzucona przez KSeF (błąd symulowany w sandboksie)"
        ]
    else:
        issued = date.fromisoformat(doc["issue_date"])
        nip = re.sub(r"\D", "", doc.get("seller_tax_no") or "") or "0000000000"
        doc["gov_status"] = "ok"
        doc["gov_id"] = f"{nip}-{issued:%Y%m%d}-{secrets.token_hex(6).upper()}-{secrets.token_hex(1).upper()}"
        doc["gov_send_date"] = _now()
        doc["gov_error_messages"] = None
    return True


def _original_summary(original: dict | None) -> dict | None:
    if original is None:
        return None
    return {
        "id": original["id"],
        "number": original["number"],
        "issue_date": original["issue_date"],
        "gov_id": original.get("gov_id"),
    }


def _selected_fields(rendered: dict) -> dict:
    """``fields[invoice]=id,number,gov_status`` narrows the answer to those fields."""
    wanted = request.args.get("fields[invoice]")
    if not wanted:
        return rendered
    names = [name.strip() for name in wanted.split(",") if name.strip()]
    return {name: rendered[name] for name in names if name in rendered}


def _flat_messages(problems: dict) -> list[str]:
    return [f"{field} {message}" for field, messages in problems.items() for message in messages]


def _company_buyer(doc: dict) -> bool:
    if doc.get("buyer_company") is None:
        return bool(doc.get("buyer_tax_no"))
    return bool(doc["buyer_company"])


def _public_position(position: dict, correction_full: bool) -> dict:
    out = {key: value for key, value in position.items() if not key.startswith("_")}
    if not correction_full:
        out.pop("correction_before_attributes", None)
        out.pop("correction_after_attributes", None)
    return out


def _public_resource(record: dict, warehouse_id: str | None) -> dict:
    out = {key: value for key, value in record.items() if not key.startswith("_")}
    if warehouse_id and record.get("_stock") is not None:
        out["stock_level"] = quantity_str(Decimal(record["_stock"].get(str(warehouse_id), "0")))
    return out


def _resource_matches(collection: str, record: dict, args) -> bool:
    if collection != "clients":
        return True
    for name in ("email", "external_id", "shortcut"):
        if args.get(name) and str(record.get(name) or "").lower() != args[name].lower():
            return False
    if args.get("tax_no") and _digits(record.get("tax_no")) != _digits(args["tax_no"]):
        return False
    return not args.get("name") or args["name"].lower() in str(record.get("name") or "").lower()


def _digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def _listed(doc: dict, args, options: dict) -> bool:
    """GET /invoices.json filters. Unknown parameters (e.g. ``oid``) are ignored, as by the service."""
    expenses = args.get("income") == "no"
    if doc.get("income", True) == expenses:
        return False
    if args.get("kind") and doc["kind"] != args["kind"]:
        return False
    kinds = args.getlist("kinds[]") + args.getlist("kinds")
    if kinds and doc["kind"] not in kinds:
        return False
    if args.get("client_id") and str(doc.get("client_id")) != args["client_id"]:
        return False
    wanted_ids = {part.strip() for part in args.get("invoice_ids", "").split(",") if part.strip()}
    if wanted_ids and str(doc["id"]) not in wanted_ids:
        return False
    date_field = args.get("search_date_type") or "issue_date"
    if date_field not in ("issue_date", "paid_date", "transaction_date"):
        date_field = "issue_date"
    period = args.get("period") or options["list_default_period"]
    return _in_period(doc.get(date_field), period, args)


def _in_period(value: str | None, period: str, args) -> bool:
    if period not in PERIODS or period == "all":
        return True
    try:
        day = date.fromisoformat(value[:10]) if value else None
    except ValueError:
        day = None
    if day is None:
        return False
    today = _today()
    if period == "this_month":
        return (day.year, day.month) == (today.year, today.month)
    if period == "last_month":
        last = today.replace(day=1) - timedelta(days=1)
        return (day.year, day.month) == (last.year, last.month)
    if period == "last_30_days":
        return today - timedelta(days=30) <= day <= today
    if period == "last_12_months":
        return today - timedelta(days=365) <= day <= today
    if period == "this_year":
        return day.year == today.year
    if period == "last_year":
        return day.year == today.year - 1
    # period == "more": an explicit range, both ends inclusive and optional
    for bound, inside in (("date_from", lambda b: day >= b), ("date_to", lambda b: day <= b)):
        if args.get(bound):
            try:
                if not inside(date.fromisoformat(args[bound])):
                    return False
            except ValueError:
                pass
    return True


def _ordered(docs: list[dict], order: str | None) -> list[dict]:
    if not order:
        return sorted(docs, key=lambda doc: doc["id"], reverse=True)
    key, _, direction = order.partition(".")
    if key not in ORDER_KEYS:
        key = "id"

    def sort_key(doc):
        value = doc.get(key)
        if key == "price_gross":
            return Decimal(value or "0")
        return (value is not None, value if value is not None else "")

    return sorted(docs, key=sort_key, reverse=direction == "desc")


def _rate_label(rate: str) -> str:
    return f"{rate}%" if rate.isdecimal() else rate


def _pdf_lines(position: dict) -> list[PdfLine]:
    def line(values: dict, suffix: str = "") -> PdfLine:
        return PdfLine(
            values["name"] + suffix,
            values["quantity"],
            values["quantity_unit"],
            values["price_net"],
            _rate_label(values["tax"]),
            values["total_price_net"],
            values["total_price_tax"],
            values["total_price_gross"],
        )

    if "correction_before_attributes" in position:
        return [
            line(position["correction_before_attributes"], " (przed korektą)"),
            line(position["correction_after_attributes"], " (po korekcie)"),
            line(position, " (korekta)"),
        ]
    return [line(position)]


def _pdf_document(doc: dict) -> PdfDocument:
    details = [("Data wystawienia", doc["issue_date"]), ("Data sprzedaży", doc["sell_date"])]
    if doc.get("payment_to"):
        details.append(("Termin płatności", doc["payment_to"]))
    if doc.get("payment_type"):
        details.append(("Sposób płatności", doc["payment_type"]))
    if doc["kind"] == "correction":
        original = doc.get("_original") or {}
        details.append(
            ("Dotyczy faktury", f"{original.get('number', '-')} z dnia {original.get('issue_date', '-')}")
        )
        if original.get("gov_id"):
            details.append(("Numer KSeF faktury korygowanej", original["gov_id"]))
        details.append(("Przyczyna korekty", doc.get("correction_reason") or "-"))
    if doc.get("gov_id"):
        details.append(("Numer KSeF", doc["gov_id"]))
    if doc.get("oid"):
        details.append(("Zamówienie", doc["oid"]))

    def party(prefix: str) -> list[str]:
        rows = [doc.get(f"{prefix}_name") or ""]
        if doc.get(f"{prefix}_tax_no"):
            rows.append(f"NIP: {doc[f'{prefix}_tax_no']}")
        rows.append(doc.get(f"{prefix}_street") or "")
        rows.append(" ".join(filter(None, (doc.get(f"{prefix}_post_code"), doc.get(f"{prefix}_city")))))
        return [row for row in rows if row]

    notes = [entry["content"] for entry in doc.get("descriptions") or [] if entry.get("content")]
    if doc.get("description"):
        notes.append(doc["description"])
    return PdfDocument(
        title=TITLES.get(doc["kind"], "Dokument"),
        number=doc["number"] or "",
        details=details,
        seller=party("seller"),
        buyer=party("buyer") or ["-"],
        lines=[line for position in doc["positions"] for line in _pdf_lines(position)],
        totals=[
            (_rate_label(t["rate"]), t["net"], t["vat"], t["gross"]) for t in doc.get("_rate_totals", [])
        ],
        total_label="Różnica" if doc["kind"] == "correction" else "Razem do zapłaty",
        total_gross=doc["price_gross"],
        currency=doc.get("currency") or "PLN",
        notes=notes,
    )


def _public_html(doc: dict) -> str:
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{escape(value)}</td>" for value in (p["name"], p["quantity"], _rate_label(p["tax"])))
        + f"<td>{escape(p['total_price_gross'])}</td></tr>"
        for p in doc["positions"]
    )
    title = f"{TITLES.get(doc['kind'], 'Dokument')} {doc['number']}"
    return (
        f"<!doctype html><html lang=pl><meta charset=utf-8><title>{escape(title)}</title>"
        f"<h1>{escape(title)}</h1><p>Sprzedawca: {escape(doc.get('seller_name') or '')}<br>"
        f"Nabywca: {escape(doc.get('buyer_name') or '-')}<br>"
        f"Data wystawienia: {escape(doc['issue_date'])}</p>"
        f"<table><tr><th>Nazwa</th><th>Ilość</th><th>VAT</th><th>Brutto</th></tr>{rows}</table>"
        f"<p>Razem: {escape(doc['price_gross'])} {escape(doc.get('currency') or 'PLN')}</p>"
        f'<p><a href="{escape(doc["token"])}.pdf">PDF</a></p></html>'
    )


EMULATOR = FakturowniaEmulator
