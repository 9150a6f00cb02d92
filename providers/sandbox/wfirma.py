"""wFirma.pl API2 emulator, mounted at ``/wfirma``.

Written from the API contract notes alone. Clients use the base URL
``http://HOST:PORT/wfirma`` where the real one is ``https://api2.wfirma.pl``, with the same
``/{module}/{action}[/{id}]`` paths and query parameters, e.g.
``POST http://127.0.0.1:5050/wfirma/invoices/add?inputFormat=json&outputFormat=json&company_id=885367``.
Formats: ``inputFormat``/``outputFormat`` = ``xml`` (default) or ``json``; a missing
``outputFormat`` equals ``inputFormat``. Any HTTP method works for any action (the official
collection uses GET for find/get, an SDK sends everything as POST).

Authentication, per account:
- API key: headers ``accessKey`` (= the sandbox account's ``api_token``), ``secretKey``
  (option ``secret_key``) and ``appKey`` (option ``app_key``; one appKey may serve many accounts).
- OAuth 2.0: ``Authorization: Bearer <option oauth_token>`` plus the query ``oauth_version=2``;
  option ``oauth_scopes`` (e.g. ``["invoices-read", "invoices-write"]``) limits the modules.
Wrong or missing credentials -> status ``AUTH`` (HTTP 401 by default); after
``auth_failure_limit`` failures within 5 minutes the access key is blocked for 5 minutes
(``AUTH FAILED LIMIT WAIT 5 MINUTES``). Every other answer is HTTP 200 with the real
result in ``status/code`` (``OK``, ``ERROR`` with the input echoed and ``errors`` attached,
``INPUT ERROR``, ``NOT FOUND``, ``ACTION NOT FOUND``, ``COMPANY ID REQUIRED``, ...).

Companies: an account (a login) owns one or more companies; with several, every call except
``user_companies/find`` needs ``company_id`` (``COMPANY ID REQUIRED``; a foreign id is
``ACCESS DENIED``). Each company starts with numbering series for every document type (and
extra monthly/daily series for VAT invoices), catalogue goods with SKUs in ``code`` and stock
in ``count``, two bank accounts, a cash box and a warehouse.

Demo account: ``demo`` -- accessKey ``demo-wfirma-access-key``, secretKey
``demo-wfirma-secret-key``, appKey ``demo-wfirma-app-key``, one company.

Account options (``POST /_sandbox/wfirma/accounts {"prefix", "api_token": <accessKey>,
"options": {...}}``; posting again merges options, ``companies`` is read at creation only):
``secret_key``, ``app_key``, ``oauth_token``, ``oauth_scopes``, ``companies`` (a count or a
list of ``{"name", "nip", "vat_payer", "warehouse": "simple"|"extended",
"numbering_control"}``), ``numbering_control`` (``refuse``: a sent ``number`` that is not the
series' next number, or a date that breaks the series' chronology, is refused; ``ignore``: a
sent number is replaced by the next one; ``off``: numbers are writable), ``ksef``
(``auto``/``off``), ``ksef_delay_reads``, ``ksef_outcome`` (``accepted``/``rejected``),
``default_price_type``, ``default_paymentmethod``, ``payment_days``,
``receipts_need_contractor``, ``contractor_requires_street``, ``contractor_matching``
(``nip``: an inline buyer with a known NIP reuses that contractor; ``never``),
``auth_http_status`` (401), ``limit_http_status`` (200), ``request_limit``
(``{"count", "seconds"}``; wFirma publishes no numbers, so none by default; past it
``TOTAL REQUESTS LIMIT EXCEEDED``), ``auth_failure_limit`` (5; 0 = off), ``forced_status``
(``OUT OF SERVICE``, ``SNAPSHOT LOCK``, ``TOTAL REQUESTS LIMIT EXCEEDED``,
``TOTAL EXECUTION TIME LIMIT EXCEEDED``, ``FATAL``: every call answers that).

The shared faults apply as for every service; ``rate_429``/``write_limit``/``max_concurrency``
answer ``TOTAL REQUESTS LIMIT EXCEEDED`` with HTTP ``limit_http_status`` (a ``Retry-After``
header only when that is 429). A "write" is an action that changes data (add, edit, delete,
send, fiscalize), whatever the HTTP method, and ``timeout_after_store`` holds only calls that
changed data.
Inspection: ``GET /_sandbox/wfirma/documents?account=&id_external=&fullnumber=&type=&company_id=``
(``oid``/``number``/``kind`` work as aliases).
"""

from __future__ import annotations

import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, request

from .money import money_str
from .pdf import render_pdf
from .service import EmulatedService
from .store import Account, Transaction
from .wfirma_accounts import (
    DEFAULT_OPTIONS,
    DEMO_OPTIONS,
    LIMIT_CODE,
    check_options,
    insert_series,
    seed_companies,
)
from .wfirma_catalog import read_good, read_series
from .wfirma_data import (
    DECLARATION_COUNTRIES,
    FISCAL_RECEIPTS,
    KSEF_TYPES,
    PAYMENT_METHODS,
    VAT_CODES,
)
from .wfirma_find import parse_query, run, select_fields
from .wfirma_format import (
    FORMATS,
    Branch,
    InputError,
    envelope,
    items,
    parse_body,
    read_parameters,
    render,
    singular,
    text,
)
from .wfirma_invoices import (
    CONTRACTOR_FIELDS,
    INVALID_VALUE,
    REQUIRED,
    Books,
    Draft,
    Problems,
    build_document,
    parse_date,
    payment_state,
    quantity_text,
    read_contractor,
    tax_id_key,
    truthy,
)
from .wfirma_models import INVOICE_MODEL, INVOICE_NESTED, MODELS
from .wfirma_numbering import advance_counter, assign_number, recount_period
from .wfirma_pdf import pdf_document

WARSAW = ZoneInfo("Europe/Warsaw")
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
AUTH_BLOCK_SECONDS = 300.0
NOT_FOUND_MESSAGE = "Nie znaleziono obiektu. Wybrany zasób nie istnieje lub został usunięty."
READ_ACTIONS = frozenset({"get", "find", "download", "findmain"})
WRITE_ACTIONS = frozenset({"add", "edit", "delete", "send", "fiscalize", "unfiscalize"})
EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


class Refusal(Exception):
    """Stop a handler (rolling its transaction back) and answer this response instead."""

    def __init__(self, response: Response):
        super().__init__("refused")
        self.response = response


@dataclass
class Call:
    """What a handler needs about the current request."""

    account: Account
    options: dict
    company: dict | None
    body: dict
    out: str
    module: str

    @property
    def prefix(self) -> str:
        return self.account.prefix

    @property
    def branch(self):
        return self.body.get(self.module)


class WfirmaEmulator(EmulatedService):
    name = "wfirma"
    document_collection = "invoices"
    demo_accounts = (("demo", "demo-wfirma-access-key"),)

    def __init__(self, runtime):
        super().__init__(runtime)
        self.clock: Callable[[], float] = time.monotonic
        self._lock = threading.Lock()
        self._auth_failures: dict[str, deque] = {}
        self._blocked_until: dict[str, float] = {}
        self._request_windows: dict[str, deque] = {}

    # -- options and accounts -------------------------------------------------
    def check_account_options(self, options: dict) -> str | None:
        return check_options(options)

    def ensure_demo_accounts(self, tx: Transaction) -> None:
        for prefix, token in self.demo_accounts:
            if tx.get_account(self.name, prefix) is None:
                account, _ = tx.put_account(self.name, prefix, token, dict(DEMO_OPTIONS))
                self.seed_account(tx, account)

    def _options(self, account: Account) -> dict:
        return {**DEFAULT_OPTIONS, **account.options}

    def seed_account(self, tx: Transaction, account: Account) -> None:
        seed_companies(tx, self.name, account.prefix, self._options(account), _now(), _today())

    # -- envelopes ----------------------------------------------------------
    def _out_format(self) -> str:
        chosen = (request.args.get("outputFormat") or request.args.get("inputFormat") or "xml").lower()
        return chosen if chosen in FORMATS else "xml"

    def _status(self, code: str, message: str | None = None, http_status: int = 200, fmt: str | None = None):
        body, mimetype = render(envelope(code, message), fmt or self._out_format())
        return Response(body, status=http_status, mimetype=mimetype)

    def _answer(self, call: Call, code: str = "OK", message: str | None = None, **branches) -> Response:
        body, mimetype = render(envelope(code, message, **branches), call.out)
        return Response(body, status=200, mimetype=mimetype)

    def _account_options(self) -> dict:
        account = g.get("wfirma_account")
        return self._options(account) if account else dict(DEFAULT_OPTIONS)

    def error_response(self, message, status: int) -> Response:
        return self._status("FATAL" if status >= 500 else "ERROR", str(message), status)

    def unauthorized(self) -> Response:
        return self._status(
            "AUTH", "Nieprawidłowe dane autoryzacyjne", self._account_options()["auth_http_status"]
        )

    def throttled(self, retry_after: float) -> Response:
        status = self._account_options()["limit_http_status"]
        response = self._status(LIMIT_CODE, "Przekroczono limit zapytań. Spróbuj ponownie później.", status)
        if status == 429:
            response.headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
        return response

    def not_found(self) -> Response:
        return self._status("ACTION NOT FOUND", "Nieznany moduł lub akcja")

    # -- request plumbing -----------------------------------------------------
    def account_key(self) -> str:
        account = self._request_account()
        return account.prefix if account else "-"

    def _request_account(self) -> Account | None:
        if "wfirma_account" not in g:
            g.wfirma_account = self._find_account()
        return g.wfirma_account

    def _find_account(self) -> Account | None:
        bearer = _bearer_token()
        access_key = request.headers.get("accessKey")
        if not bearer and not access_key:
            return None
        with self.runtime.store.transaction(write=False) as tx:
            accounts = tx.list_accounts(self.name)
        for account in accounts:
            if bearer:
                token = self._options(account)["oauth_token"]
                if token and hmac.compare_digest(bearer.encode(), token.encode()):
                    return account
            elif hmac.compare_digest(access_key.encode(), account.api_token.encode()):
                return account
        return None

    def authenticate(self) -> Response | None:
        account = self._request_account()
        if account is None:
            return self.unauthorized()
        options = self._options(account)
        if _bearer_token():
            if request.args.get("oauth_version") != "2":
                return self.unauthorized()
            g.wfirma_oauth = True
        else:
            if self._blocked(account.prefix):
                return self._status(
                    "AUTH FAILED LIMIT WAIT 5 MINUTES",
                    "Zbyt wiele nieudanych prób logowania. Spróbuj ponownie za 5 minut.",
                    options["auth_http_status"],
                )
            secret = request.headers.get("secretKey") or ""
            app_key = request.headers.get("appKey") or ""
            if not (
                hmac.compare_digest(secret.encode(), options["secret_key"].encode())
                and hmac.compare_digest(app_key.encode(), options["app_key"].encode())
            ):
                self._auth_failed(account.prefix, options["auth_failure_limit"])
                return self.unauthorized()
            with self._lock:
                self._auth_failures.pop(account.prefix, None)
        if options["forced_status"]:
            return self._status(options["forced_status"], "Stan wymuszony w sandboksie")
        limit = options["request_limit"]
        if limit and not self._admit_request(account.prefix, limit["count"], limit["seconds"]):
            self.runtime.stats.fault(self.name, account.prefix, "request_limit")
            return self.throttled(limit["seconds"])
        return None

    def _blocked(self, prefix: str) -> bool:
        with self._lock:
            return self._blocked_until.get(prefix, 0.0) > self.clock()

    def _auth_failed(self, prefix: str, limit: int) -> None:
        if limit <= 0:
            return
        now = self.clock()
        with self._lock:
            failures = self._auth_failures.setdefault(prefix, deque())
            while failures and failures[0] <= now - AUTH_BLOCK_SECONDS:
                failures.popleft()
            failures.append(now)
            if len(failures) >= limit:
                self._blocked_until[prefix] = now + AUTH_BLOCK_SECONDS
                failures.clear()

    def _admit_request(self, prefix: str, count: int, seconds: float) -> bool:
        now = self.clock()
        with self._lock:
            window = self._request_windows.setdefault(prefix, deque())
            while window and window[0] <= now - seconds:
                window.popleft()
            if len(window) >= count:
                return False
            window.append(now)
            return True

    def is_write_request(self) -> bool:
        """wFirma reads by POST too (download, an SDK's find): a write is an action that changes data."""
        return (request.view_args or {}).get("action") in WRITE_ACTIONS

    def _guard_after(self, response: Response) -> Response:
        call = g.get("sandbox_call")
        if call is not None and call.hold_seconds and not g.get("wfirma_changed"):
            call.hold_seconds = 0.0  # "timeout after store" only when something was stored
        return super()._guard_after(response)

    # -- routing ----------------------------------------------------------------
    def build_blueprint(self) -> Blueprint:
        bp = Blueprint(self.name, __name__)
        bp.add_url_rule(
            "/<module>/<action>", "call", self.dispatch, methods=ALL_METHODS, defaults={"record_id": None}
        )
        bp.add_url_rule("/<module>/<action>/<record_id>", "call_with_id", self.dispatch, methods=ALL_METHODS)
        return bp

    def _actions(self) -> dict[tuple[str, str], tuple[bool, Callable]]:
        """(module, action) -> (takes an id, handler)."""
        actions = {
            ("invoices", "add"): (False, self.invoices_add),
            ("invoices", "edit"): (True, self.invoices_edit),
            ("invoices", "delete"): (True, self.invoices_delete),
            ("invoices", "get"): (True, self.invoices_get),
            ("invoices", "find"): (False, self.invoices_find),
            ("invoices", "download"): (True, self.invoices_download),
            ("invoices", "send"): (True, self.invoices_send),
            ("invoices", "fiscalize"): (True, self.invoices_fiscalize),
            ("invoices", "unfiscalize"): (True, self.invoices_fiscalize),
            ("series", "add"): (False, self.series_add),
            ("goods", "add"): (False, self.goods_add),
            ("goods", "edit"): (True, self.goods_edit),
            ("goods", "delete"): (True, self.record_delete),
            ("contractors", "add"): (False, self.contractors_add),
            ("contractors", "edit"): (True, self.contractors_edit),
            ("contractors", "delete"): (True, self.record_delete),
            ("payments", "add"): (False, self.payments_add),
            ("payments", "delete"): (True, self.payments_delete),
            ("user_companies", "find"): (False, self.user_companies_find),
        }
        for module in (
            "series",
            "goods",
            "contractors",
            "payments",
            "company_accounts",
            "payment_cashboxes",
            "warehouses",
            "vat_codes",
            "declaration_countries",
        ):
            actions[(module, "find")] = (False, self.record_find)
            actions[(module, "get")] = (True, self.record_get)
        return actions

    def dispatch(self, module: str, action: str, record_id: str | None):
        in_format = (request.args.get("inputFormat") or "xml").lower()
        out_format = (request.args.get("outputFormat") or in_format).lower()
        if in_format not in FORMATS or out_format not in FORMATS:
            return self._status("INPUT ERROR", "inputFormat i outputFormat przyjmują wartości xml lub json")
        entry = self._actions().get((module, action))
        if entry is None or (record_id is not None and not entry[0]):
            return self._status("ACTION NOT FOUND", f"Nieznana akcja {module}/{action}")
        takes_id, handler = entry
        if takes_id and (record_id is None or not record_id.isdecimal()):
            return self._status("NOT FOUND", NOT_FOUND_MESSAGE)
        account = g.wfirma_account
        options = self._options(account)
        if g.get("wfirma_oauth") and options["oauth_scopes"] is not None:
            scope = f"{module}-{'read' if action in READ_ACTIONS else 'write'}"
            if scope not in options["oauth_scopes"]:
                return self._status("DENIED SCOPE REQUESTED", f"Brak uprawnienia {scope}")
        try:
            body = parse_body(request.get_data(cache=True), in_format)
        except InputError as error:
            return self._status("INPUT ERROR", error.message)
        company = None
        if module != "user_companies":
            company, refusal = self._company(account)
            if refusal:
                return self._status(*refusal)
        call = Call(account, options, company, body, out_format, module)
        try:
            return handler(call, int(record_id) if record_id else None)
        except Refusal as refusal:
            return refusal.response
        except InputError as error:
            return self._status("INPUT ERROR", error.message)

    def _company(self, account: Account) -> tuple[dict | None, tuple[str, str] | None]:
        with self.runtime.store.transaction(write=False) as tx:
            companies = tx.select(self.name, account.prefix, "companies")
        wanted = (request.args.get("company_id") or "").strip()
        if not wanted:
            if len(companies) == 1:
                return companies[0], None
            return None, ("COMPANY ID REQUIRED", "Konto ma kilka firm: podaj parametr company_id")
        for company in companies:
            if str(company["id"]) == wanted:
                return company, None
        return None, ("ACCESS DENIED", f"Brak dostępu do firmy o ID {wanted}")

    def _refuse(self, call: Call, code: str, message: str | None = None, **branches) -> Refusal:
        return Refusal(self._answer(call, code, message, **branches))

    def _not_found(self, call: Call) -> Refusal:
        return self._refuse(call, "NOT FOUND", NOT_FOUND_MESSAGE)

    # -- storage helpers -----------------------------------------------------
    def _records(self, tx: Transaction, call: Call, collection: str) -> list[dict]:
        company_id = call.company["id"]
        return [
            r for r in tx.select(self.name, call.prefix, collection) if r.get("_company_id") == company_id
        ]

    def _record(self, tx: Transaction, call: Call, collection: str, record_id) -> dict | None:
        try:
            record = tx.get(self.name, call.prefix, collection, int(record_id))
        except (TypeError, ValueError):
            return None
        return record if record and record.get("_company_id") == call.company["id"] else None

    def _save(self, tx: Transaction, call: Call, collection: str, record: dict, **keys) -> None:
        tx.update(self.name, call.prefix, collection, record["id"], record, **keys)

    def _save_invoice(self, tx: Transaction, prefix: str, doc: dict) -> None:
        tx.update(
            self.name,
            prefix,
            "invoices",
            doc["id"],
            doc,
            number=doc["fullnumber"] or None,
            ref=doc["id_external"],
        )

    def _books(self, tx: Transaction, call: Call) -> Books:
        def finder(collection):
            return lambda record_id: self._record(tx, call, collection, record_id)

        def default_series(doc_type):
            series = [s for s in self._records(tx, call, "series") if s["type"] == doc_type]
            return next((s for s in series if s["_default"]), series[0] if series else None)

        def default_account(currency):
            accounts = self._records(tx, call, "company_accounts")
            return next((a for a in accounts if a["currency"] == currency), None)

        return Books(
            company=call.company,
            options=call.options,
            today=_today(),
            series=finder("series"),
            default_series=default_series,
            contractor=finder("contractors"),
            good=finder("goods"),
            invoice=finder("invoices"),
            company_account=finder("company_accounts"),
            default_company_account=default_account,
        )

    # -- invoices: add ------------------------------------------------------------
    def invoices_add(self, call: Call, _id):
        records = items(call.branch, "invoice")
        if not records or not all(isinstance(record, dict) for record in records):
            raise InputError("Brak danych dokumentu: oczekiwano invoices > invoice")
        created = []
        with self.runtime.store.transaction() as tx:
            books = self._books(tx, call)
            outcomes = []
            for raw in records:
                draft = build_document(raw, books)
                numbering = self._number(tx, call, draft) if not draft.problems else None
                outcomes.append((raw, draft))
                if not draft.problems:
                    created.append(self._store_invoice(tx, call, raw, draft, numbering))
            if any(draft.problems for _, draft in outcomes):
                raise self._refused_echo(call, outcomes)
        g.wfirma_changed = True
        for _ in created:
            self.document_stored(call.prefix)
        return self._answer(call, invoices=self._invoice_branch(created, extra_total=True))

    def _refused_echo(self, call: Call, outcomes: list[tuple[dict, Draft]]) -> Refusal:
        problems = [draft.problems for _, draft in outcomes]
        messages = [message for found in problems for message in found.messages()]
        echoes = [_echo(raw, draft.problems) for raw, draft in outcomes]
        return self._refuse(call, "ERROR", "; ".join(messages), invoices=Branch("invoice", echoes))

    def _invoice_branch(self, docs: list[dict], extra_total: bool = False, parameters: dict | None = None):
        rendered = [_public(doc) for doc in docs]
        if parameters is None and extra_total:
            parameters = {"limit": "20", "page": "1", "total": str(len(docs))}
        return Branch("invoice", rendered, {"parameters": parameters} if parameters else {})

    def _number(self, tx: Transaction, call: Call, draft: Draft) -> dict:
        mode = call.company.get("_numbering_control") or call.options["numbering_control"]
        return assign_number(draft, mode, lambda full: self._fullnumber_taken(tx, call, draft.series, full))

    def _fullnumber_taken(self, tx: Transaction, call: Call, series: dict, full: str) -> bool:
        return any(
            doc["_company_id"] == call.company["id"] and doc["series"]["id"] == str(series["id"])
            for doc in tx.select(self.name, call.prefix, "invoices", number=full)
        )

    def _store_invoice(self, tx: Transaction, call: Call, raw: dict, draft: Draft, numbering: dict) -> dict:
        prefix, company = call.prefix, call.company
        invoice_id = tx.next_value(self.name, "*", "invoices", start=1200001)
        now = _now()
        contractor_id = self._resolve_contractor(tx, call, draft)
        detail = {**draft.contractor_detail, "id": contractor_id}
        lines = self._line_records(tx, draft, now)
        fields = draft.fields
        paid = Decimal(fields["alreadypaid_initial"])
        ksef = (
            "processing"
            if call.options["ksef"] == "auto" and draft.type in KSEF_TYPES and company["vat_payer"] == "1"
            else None
        )
        doc = {
            "id": invoice_id,
            "type": draft.type,
            "fullnumber": numbering["fullnumber"],
            "number": str(numbering["number"]),
            "day": _two(numbering["day"]),
            "month": _two(numbering["month"]),
            "year": str(numbering["year"]) if numbering["year"] else None,
            "date": fields["date"],
            "disposaldate": fields["disposaldate"],
            "disposaldate_format": fields["disposaldate_format"],
            "disposaldate_empty": fields["disposaldate_empty"],
            "paymentmethod": fields["paymentmethod"],
            "paymentdate": fields["paymentdate"],
            "paymentstate": payment_state(draft.type, draft.total, paid),
            "alreadypaid_initial": fields["alreadypaid_initial"],
            "alreadypaid": money_str(paid),
            "remaining": money_str(max(draft.total - paid, Decimal(0))),
            "currency": fields["currency"],
            "currency_exchange": fields["currency_exchange"],
            "currency_label": fields["currency_label"],
            "currency_date": fields["currency_date"],
            "price_type": fields["price_type"],
            "netto": money_str(draft.netto),
            "tax": money_str(draft.tax),
            "total": money_str(draft.total),
            "total_composed": money_str(draft.total),
            "corrections": "0",
            **{
                name: fields[name]
                for name in (
                    "description",
                    "id_external",
                    "schema",
                    "schema_bill",
                    "schema_cancelled",
                    "schema_receipt_book",
                    "type_of_sale",
                    "auto_send",
                    "tags",
                    "register_description",
                    "template",
                )
            },
            "receipt_fiscal_printed": "0" if draft.type in FISCAL_RECEIPTS else None,
            "warehouse_type": company["warehouse_type"],
            "ksef_reference_number": None,
            "ksef_status": ksef,
            "ksef_registration_date": None,
            "created": now,
            "modified": now,
            "series": {"id": str(draft.series["id"]) if draft.series else "0"},
            "contractor": {"id": contractor_id},
            "contractor_detail": detail,
            "company_detail": self._company_detail(tx, call),
            "company_account": fields["company_account"],
            "parent": {"id": str(draft.root["id"]) if draft.root else "0"},
            **{
                name: fields[name]
                for name in ("translation_language", "contractor_receiver")
                if name in fields
            },
            "invoicecontents": lines,
            "_account": prefix,
            "_company_id": company["id"],
            "_input": raw,
            "_period": numbering["period"],
            "_rate_totals": draft.rate_totals,
            "_lines_before": [line.record for line in draft.lines_before] if draft.root else [],
            "_stock_moves": [],
            "_emails": [],
            "_ksef_reads": 0,
            "_root_id": draft.root["id"] if draft.root else None,
            "_correction_ids": [],
            "_all_line_ids": [line["id"] for line in lines],
        }
        doc["_stock_moves"] = self._move_stock(tx, call, draft.stock_moves)
        if draft.series is not None and numbering["period"]:
            advance_counter(draft.series, numbering["period"], int(numbering["number"]), doc)
            self._save(tx, call, "series", draft.series)
        if fields["auto_send"] == "1" and detail.get("email"):
            doc["_emails"].append(_email_entry(detail["email"], None, None, "all", auto=True))
        tx.insert(
            self.name,
            prefix,
            "invoices",
            invoice_id,
            doc,
            number=doc["fullnumber"] or None,
            ref=doc["id_external"],
        )
        if draft.root is not None:
            self._attach_correction(tx, call, draft.root["id"], doc)
        return doc

    def _line_records(
        self, tx: Transaction, draft: Draft, now: str, keep_ids: list | None = None
    ) -> list[dict]:
        records = []
        for position, line in enumerate(draft.lines):
            if keep_ids and position < len(keep_ids):
                line_id = keep_ids[position]
            else:
                line_id = tx.next_value(self.name, "*", "invoicecontents", start=19630001)
            records.append({"id": line_id, **line.record, "created": now, "modified": now})
        return records

    def _company_detail(self, tx: Transaction, call: Call) -> dict:
        company = call.company
        accounts = self._records(tx, call, "company_accounts")
        main = accounts[0] if accounts else {}
        detail = {name: company.get(name) for name in ("name", "nip", "street", "zip", "city", "country")}
        detail.update(bank_name=main.get("bank_name"), bank_account=main.get("number"))
        return detail

    def _resolve_contractor(self, tx: Transaction, call: Call, draft: Draft) -> str:
        """The contractor card behind the invoice: the one sent by id, else a card matched by
        NIP (option ``contractor_matching``), else a new card made from the inline data."""
        kind, value = draft.contractor
        if kind == "existing":
            return str(value)
        if kind != "inline":
            return "0"
        key = tax_id_key(value.get("nip"))
        if key and call.options["contractor_matching"] == "nip":
            for card in tx.select(self.name, call.prefix, "contractors", ref=key):
                if card["_company_id"] == call.company["id"]:
                    return str(card["id"])
        return str(self._insert_contractor(tx, call, value)["id"])

    def _insert_contractor(self, tx: Transaction, call: Call, values: dict) -> dict:
        contractor_id = tx.next_value(self.name, "*", "contractors", start=16600001)
        now = _now()
        record = {
            "id": contractor_id,
            **values,
            "created": now,
            "modified": now,
            "_company_id": call.company["id"],
        }
        tx.insert(
            self.name,
            call.prefix,
            "contractors",
            contractor_id,
            record,
            ref=tax_id_key(values.get("nip")) or None,
        )
        return record

    def _move_stock(self, tx: Transaction, call: Call, moves, undo: bool = False) -> list[list]:
        """Apply stock changes of product lines; returns them so a delete can undo them."""
        applied = []
        for good_id, change in moves:
            good = self._record(tx, call, "goods", good_id)
            if good is None or good.get("count") is None:
                continue
            change = Decimal(str(change))
            change = -change if undo else change
            good["count"] = quantity_text(Decimal(good["count"]) + change)
            good["modified"] = _now()
            self._save(tx, call, "goods", good, ref=good.get("code"))
            applied.append([str(good_id), str(change)])
        return applied

    def _attach_correction(self, tx: Transaction, call: Call, root_id: int, correction: dict) -> None:
        root = self._record(tx, call, "invoices", root_id)
        root["_correction_ids"].append(correction["id"])
        root["_all_line_ids"] += [line["id"] for line in correction["invoicecontents"]]
        self._recompose(tx, call, root)

    def _recompose(self, tx: Transaction, call: Call, root: dict) -> None:
        total = Decimal(root["total"])
        for correction_id in root["_correction_ids"]:
            correction = self._record(tx, call, "invoices", correction_id)
            if correction:
                total += Decimal(correction["total"])
        root["corrections"] = str(len(root["_correction_ids"]))
        root["total_composed"] = money_str(total)
        root["modified"] = _now()
        self._save_invoice(tx, call.prefix, root)

    # -- invoices: read --------------------------------------------------------------
    def _load_invoice(self, tx: Transaction, call: Call, invoice_id) -> dict:
        doc = self._record(tx, call, "invoices", invoice_id)
        if doc is None:
            raise self._not_found(call)
        return doc

    def invoices_get(self, call: Call, invoice_id: int):
        with self.runtime.store.transaction() as tx:
            doc = self._load_invoice(tx, call, invoice_id)
            if self._advance_ksef(doc, call.options):
                self._save_invoice(tx, call.prefix, doc)
        return self._answer(call, invoices=self._invoice_branch([doc]))

    def invoices_find(self, call: Call, _id):
        params = read_parameters(call.branch)
        query = parse_query(params, INVOICE_MODEL)
        with self.runtime.store.transaction() as tx:
            page, total = run(self._records(tx, call, "invoices"), query, INVOICE_MODEL)
            for doc in page:
                if self._advance_ksef(doc, call.options):
                    self._save_invoice(tx, call.prefix, doc)
        rendered = [select_fields(_public(doc), query.fields, INVOICE_MODEL, INVOICE_NESTED) for doc in page]
        parameters = {"limit": str(query.limit), "page": str(query.page), "total": str(total)}
        return self._answer(call, invoices=Branch("invoice", rendered, {"parameters": parameters}))

    def _advance_ksef(self, doc: dict, options: dict) -> bool:
        """A read after creation moves a document sent to KSeF on from "processing"."""
        if doc.get("ksef_status") != "processing":
            return False
        doc["_ksef_reads"] += 1
        if doc["_ksef_reads"] <= options["ksef_delay_reads"]:
            return True
        if options["ksef_outcome"] == "rejected":
            doc["ksef_status"] = "rejected"
            return True
        issued = date.fromisoformat(doc["date"])
        nip = doc["company_detail"].get("nip") or "0000000000"
        doc["ksef_status"] = "accepted"
        doc["ksef_reference_number"] = (
            f"{nip}-{issued:%Y%m%d}-{secrets.token_hex(6).upper()}-{secrets.token_hex(1).upper()}"
        )
        doc["ksef_registration_date"] = _now()
        return True

    # -- invoices: edit / delete ---------------------------------------------------------
    def invoices_edit(self, call: Call, invoice_id: int):
        patches = items(call.branch, "invoice")
        if not patches or not isinstance(patches[0], dict):
            raise InputError("Brak danych dokumentu: oczekiwano invoices > invoice")
        patch = patches[0]
        with self.runtime.store.transaction() as tx:
            doc = self._load_invoice(tx, call, invoice_id)
            self._check_changeable(call, doc, "edytować")
            merged = {**doc["_input"], **patch, "type": doc["type"]}
            for name in ("number", "day", "month", "year", "series", "series_id"):
                merged.pop(name, None)  # the number stays as issued
            draft = build_document(merged, self._books(tx, call))
            if draft.problems:
                raise self._refused_echo(call, [(patch, draft)])
            self._move_stock(tx, call, [(m[0], Decimal(m[1])) for m in doc["_stock_moves"]], undo=True)
            now = _now()
            keep = [line["id"] for line in doc["invoicecontents"]] if "invoicecontents" not in patch else None
            contractor_id = self._resolve_contractor(tx, call, draft)
            paid = Decimal(doc["alreadypaid"]) - Decimal(doc["alreadypaid_initial"])
            paid += Decimal(draft.fields["alreadypaid_initial"])
            doc.update(
                {
                    name: value
                    for name, value in draft.fields.items()
                    if name in doc or name in ("translation_language", "contractor_receiver")
                }
            )
            doc.update(
                netto=money_str(draft.netto),
                tax=money_str(draft.tax),
                total=money_str(draft.total),
                total_composed=money_str(draft.total),
                alreadypaid=money_str(paid),
                remaining=money_str(max(draft.total - paid, Decimal(0))),
                paymentstate=payment_state(draft.type, draft.total, paid),
                contractor={"id": contractor_id},
                contractor_detail={**draft.contractor_detail, "id": contractor_id},
                invoicecontents=self._line_records(tx, draft, now, keep),
                modified=now,
                _input=merged,
                _rate_totals=draft.rate_totals,
            )
            doc["_all_line_ids"] = [line["id"] for line in doc["invoicecontents"]]
            doc["_stock_moves"] = self._move_stock(tx, call, draft.stock_moves)
            self._save_invoice(tx, call.prefix, doc)
        g.wfirma_changed = True
        return self._answer(call, invoices=self._invoice_branch([doc]))

    def _check_changeable(self, call: Call, doc: dict, verb: str) -> None:
        if doc["_correction_ids"]:
            raise self._refuse(call, "ERROR", f"Nie można {verb} dokumentu, do którego wystawiono korektę")
        if doc.get("ksef_status") == "accepted":
            raise self._refuse(call, "ERROR", f"Nie można {verb} dokumentu przyjętego w KSeF")
        if verb == "edytować" and doc["type"] == "correction":
            raise self._refuse(call, "ERROR", "Korekty nie można edytować przez API sandboksa")

    def invoices_delete(self, call: Call, invoice_id: int):
        with self.runtime.store.transaction() as tx:
            doc = self._load_invoice(tx, call, invoice_id)
            self._check_changeable(call, doc, "usunąć")
            self._move_stock(tx, call, [(m[0], Decimal(m[1])) for m in doc["_stock_moves"]], undo=True)
            for payment in self._records(tx, call, "payments"):
                if payment["object_id"] == str(doc["id"]):
                    tx.delete(self.name, call.prefix, "payments", payment["id"])
            tx.delete(self.name, call.prefix, "invoices", doc["id"])
            if doc["_root_id"]:
                root = self._record(tx, call, "invoices", doc["_root_id"])
                if root is not None:
                    root["_correction_ids"].remove(doc["id"])
                    self._recompose(tx, call, root)
            series = self._record(tx, call, "series", doc["series"]["id"])
            if series is not None and doc["_period"]:
                remaining = [
                    other
                    for other in self._records(tx, call, "invoices")
                    if other["series"]["id"] == str(series["id"]) and other["_period"] == doc["_period"]
                ]
                recount_period(series, doc["_period"], remaining)
                self._save(tx, call, "series", series)
        g.wfirma_changed = True
        return self._answer(call, invoices=self._invoice_branch([doc]))

    # -- invoices: PDF, e-mail, fiscal receipts ----------------------------------------------
    def invoices_download(self, call: Call, invoice_id: int):
        params = read_parameters(call.branch)
        with self.runtime.store.transaction(write=False) as tx:
            doc = self._load_invoice(tx, call, invoice_id)
            root = self._record(tx, call, "invoices", doc["_root_id"]) if doc["_root_id"] else None
        if doc["type"] in FISCAL_RECEIPTS:
            raise self._refuse(call, "ERROR", "Nie można pobrać wydruku paragonu fiskalnego")
        page = (text(params.get("page")) or "invoice").lower()
        if page not in ("all", "invoice", "invoicecopy"):
            raise self._refuse(call, "ERROR", "page: dozwolone wartości all, invoice, invoicecopy")
        pdf = render_pdf(
            pdf_document(
                doc, root, page, truthy(params.get("duplicate")), truthy(params.get("leaflet")), _today()
            )
        )
        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", doc["fullnumber"] or f"dokument_{doc['id']}")
        response = Response(pdf, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}.pdf"'
        return response

    def invoices_send(self, call: Call, invoice_id: int):
        params = read_parameters(call.branch)
        with self.runtime.store.transaction() as tx:
            doc = self._load_invoice(tx, call, invoice_id)
            if doc["type"] in FISCAL_RECEIPTS:
                raise self._refuse(call, "ERROR", "Paragonu fiskalnego nie można wysłać e-mailem")
            sent_to = text(params.get("email"))
            if sent_to is not None and not EMAIL.fullmatch(sent_to):
                raise self._refuse(call, "INPUT ERROR", f"Nieprawidłowy adres e-mail: {sent_to}")
            address = sent_to or doc["contractor_detail"].get("email")
            if not address:
                raise self._refuse(call, "ERROR", "Brak adresu e-mail odbiorcy: podaj parametr email")
            page = (text(params.get("page")) or "all").lower()
            doc["_emails"].append(
                _email_entry(address, text(params.get("subject")), text(params.get("body")), page)
            )
            self._save_invoice(tx, call.prefix, doc)
        g.wfirma_changed = True
        return self._answer(call)

    def invoices_fiscalize(self, call: Call, invoice_id: int):
        fiscalize = request.path.rstrip("/").split("/")[-2] == "fiscalize"
        with self.runtime.store.transaction() as tx:
            doc = self._load_invoice(tx, call, invoice_id)
            if doc["type"] not in FISCAL_RECEIPTS:
                raise self._refuse(call, "ERROR", "Fiskalizować można tylko paragon fiskalny")
            doc["receipt_fiscal_printed"] = "1" if fiscalize else "0"
            doc["modified"] = _now()
            self._save_invoice(tx, call.prefix, doc)
        g.wfirma_changed = True
        return self._answer(call, invoices=self._invoice_branch([doc]))

    # -- series ----------------------------------------------------------------------------
    def series_add(self, call: Call, _id):
        raw = self._single(call, "series")
        fields, problems = read_series(raw)
        if problems:
            echo = {**raw, "errors": [p.as_tree() for p in problems.invoice]}
            raise self._refuse(call, "ERROR", "; ".join(problems.messages()), series=Branch("series", [echo]))
        with self.runtime.store.transaction() as tx:
            record = insert_series(tx, self.name, call.prefix, call.company["id"], fields, _now(), _today())
        g.wfirma_changed = True
        return self._answer(call, series=Branch("series", [_public(record)]))

    # -- goods ---------------------------------------------------------------------------------
    def goods_add(self, call: Call, _id):
        raw = self._single(call, "good")
        with self.runtime.store.transaction() as tx:
            record = self._good_from(call, raw, None)
            record["id"] = tx.next_value(self.name, "*", "goods", start=7000001)
            tx.insert(self.name, call.prefix, "goods", record["id"], record, ref=record["code"])
        g.wfirma_changed = True
        return self._answer(call, goods=Branch("good", [_public(record)]))

    def goods_edit(self, call: Call, good_id: int):
        raw = self._single(call, "good")
        with self.runtime.store.transaction() as tx:
            current = self._record(tx, call, "goods", good_id)
            if current is None:
                raise self._not_found(call)
            record = self._good_from(call, raw, current)
            self._save(tx, call, "goods", record, ref=record["code"])
        g.wfirma_changed = True
        return self._answer(call, goods=Branch("good", [_public(record)]))

    def _single(self, call: Call, tag: str) -> dict:
        records = items(call.branch, tag)
        if not records or not isinstance(records[0], dict):
            raise InputError(f"Brak danych: oczekiwano {call.module} > {tag}")
        return records[0]

    def _good_from(self, call: Call, raw: dict, current: dict | None) -> dict:
        fields, problems = read_good(raw, current, call.company["warehouse_type"])
        if problems:
            echo = {**raw, "errors": [p.as_tree() for p in problems.invoice]}
            raise self._refuse(call, "ERROR", "; ".join(problems.messages()), goods=Branch("good", [echo]))
        now = _now()
        created = (current or {}).get("created") or now
        record = {"id": (current or {}).get("id"), **fields, "created": created, "modified": now}
        return {**record, "_company_id": call.company["id"]}

    # -- contractors --------------------------------------------------------------------------
    def contractors_add(self, call: Call, _id):
        raw = self._single(call, "contractor")
        values = self._contractor_values(call, raw)
        with self.runtime.store.transaction() as tx:
            record = self._insert_contractor(tx, call, values)
        g.wfirma_changed = True
        return self._answer(call, contractors=Branch("contractor", [_public(record)]))

    def contractors_edit(self, call: Call, contractor_id: int):
        raw = self._single(call, "contractor")
        with self.runtime.store.transaction() as tx:
            current = self._record(tx, call, "contractors", contractor_id)
            if current is None:
                raise self._not_found(call)
            merged = {name: current.get(name) for name in CONTRACTOR_FIELDS}
            merged.update((key, value) for key, value in raw.items() if key in CONTRACTOR_FIELDS)
            current.update(self._contractor_values(call, merged), modified=_now())
            self._save(tx, call, "contractors", current, ref=tax_id_key(current.get("nip")) or None)
        g.wfirma_changed = True
        return self._answer(call, contractors=Branch("contractor", [_public(current)]))

    def _contractor_values(self, call: Call, raw: dict) -> dict:
        problems = Problems()
        values = read_contractor(
            raw, problems.add, street_required=call.options["contractor_requires_street"]
        )
        if problems:
            echo = {**raw, "errors": [p.as_tree() for p in problems.invoice]}
            raise self._refuse(
                call, "ERROR", "; ".join(problems.messages()), contractors=Branch("contractor", [echo])
            )
        return values

    # -- payments ------------------------------------------------------------------------------
    def payments_add(self, call: Call, _id):
        raw = self._single(call, "payment")
        problems = Problems()
        object_name = text(raw.get("object_name")) or "invoice"
        if object_name not in ("invoice", "expense"):
            problems.add("object_name", INVALID_VALUE)
        value = None
        try:
            value = Decimal((text(raw.get("value")) or "").replace(",", "."))
            if value <= 0:
                problems.add("value", INVALID_VALUE)
        except ArithmeticError:
            problems.add("value", REQUIRED if text(raw.get("value")) is None else INVALID_VALUE)
        paid_on = parse_date(raw.get("date"), "date", problems.add) or _today()
        method = text(raw.get("payment_method")) or "transfer"
        if method not in PAYMENT_METHODS:
            problems.add("payment_method", INVALID_VALUE)
        with self.runtime.store.transaction() as tx:
            doc = None
            if object_name == "invoice":
                doc = self._record(tx, call, "invoices", text(raw.get("object_id")))
            if doc is None:
                problems.add("object_id", "Wybrany dokument nie istnieje")
            if problems:
                echo = {**raw, "errors": [p.as_tree() for p in problems.invoice]}
                raise self._refuse(
                    call, "ERROR", "; ".join(problems.messages()), payments=Branch("payment", [echo])
                )
            payment_id = tx.next_value(self.name, "*", "payments", start=40001)
            record = {
                "id": payment_id,
                "object_name": object_name,
                "object_id": str(doc["id"]),
                "value": money_str(value),
                "value_pln": text(raw.get("value_pln"))
                or money_str(value * Decimal(doc["currency_exchange"])),
                "date": paid_on.isoformat(),
                "payment_method": method,
                "account": text(raw.get("account")) or ("pln" if doc["currency"] == "PLN" else "currency"),
                "type": "income",
                "payment_type": "cashbox",
                "created": _now(),
                "_company_id": call.company["id"],
            }
            tx.insert(self.name, call.prefix, "payments", payment_id, record)
            self._apply_payment(tx, call, doc, value)
        g.wfirma_changed = True
        return self._answer(call, payments=Branch("payment", [_public(record)]))

    def payments_delete(self, call: Call, payment_id: int):
        with self.runtime.store.transaction() as tx:
            record = self._record(tx, call, "payments", payment_id)
            if record is None:
                raise self._not_found(call)
            tx.delete(self.name, call.prefix, "payments", payment_id)
            doc = self._record(tx, call, "invoices", record["object_id"])
            if doc is not None:
                self._apply_payment(tx, call, doc, -Decimal(record["value"]))
        g.wfirma_changed = True
        return self._answer(call, payments=Branch("payment", [_public(record)]))

    def _apply_payment(self, tx: Transaction, call: Call, doc: dict, value: Decimal) -> None:
        paid = Decimal(doc["alreadypaid"]) + value
        total = Decimal(doc["total"])
        doc.update(
            alreadypaid=money_str(paid),
            remaining=money_str(max(total - paid, Decimal(0))),
            paymentstate=payment_state(doc["type"], total, paid),
            modified=_now(),
        )
        self._save_invoice(tx, call.prefix, doc)

    # -- generic find / get / delete -----------------------------------------------------------
    def _collection(self, tx: Transaction, call: Call, module: str) -> list[dict]:
        if module == "vat_codes":
            return [
                {
                    "id": code_id,
                    "code": code,
                    "rate": rate,
                    "type": kind,
                    "declaration_country_id": str(country),
                }
                for code_id, code, rate, kind, country in VAT_CODES
            ]
        if module == "declaration_countries":
            return [
                {"id": row_id, "code": code, "name": name} for row_id, code, name in DECLARATION_COUNTRIES
            ]
        return self._records(tx, call, module)

    def record_find(self, call: Call, _id):
        model = MODELS[call.module]
        query = parse_query(read_parameters(call.branch), model)
        with self.runtime.store.transaction(write=False) as tx:
            page, total = run(self._collection(tx, call, call.module), query, model)
        rendered = [select_fields(_public(record), query.fields, model, {}) for record in page]
        parameters = {"limit": str(query.limit), "page": str(query.page), "total": str(total)}
        tag = singular(call.module)
        return self._answer(call, **{call.module: Branch(tag, rendered, {"parameters": parameters})})

    def record_get(self, call: Call, record_id: int):
        with self.runtime.store.transaction(write=False) as tx:
            found = [r for r in self._collection(tx, call, call.module) if r["id"] == record_id]
        if not found:
            raise self._not_found(call)
        return self._answer(call, **{call.module: Branch(singular(call.module), [_public(found[0])])})

    def record_delete(self, call: Call, record_id: int):
        with self.runtime.store.transaction() as tx:
            record = self._record(tx, call, call.module, record_id)
            if record is None:
                raise self._not_found(call)
            tx.delete(self.name, call.prefix, call.module, record_id)
        g.wfirma_changed = True
        return self._answer(call, **{call.module: Branch(singular(call.module), [_public(record)])})

    def user_companies_find(self, call: Call, _id):
        with self.runtime.store.transaction(write=False) as tx:
            companies = tx.select(self.name, call.prefix, "companies")
        rendered = [
            {
                "id": company["id"],  # the id to pass as company_id
                "name": company["name"],
                "nip": company["nip"],
                "vat_payer": company["vat_payer"],
                "company": {"id": company["id"], "name": company["name"]},
            }
            for company in companies
        ]
        parameters = {"limit": "20", "page": "1", "total": str(len(rendered))}
        return self._answer(call, user_companies=Branch("user_company", rendered, {"parameters": parameters}))

    # -- inspection -------------------------------------------------------------------------------
    def inspect_documents(self, account: str | None, args) -> list[dict]:
        ref = args.get("id_external") or args.get("oid") or args.get("ref")
        number = args.get("fullnumber") or args.get("number")
        kind = args.get("type") or args.get("kind")
        company_id = args.get("company_id")
        with self.runtime.store.transaction(write=False) as tx:
            docs = tx.select(self.name, account, "invoices", ref=ref, number=number)
        return [
            _inspected(doc)
            for doc in docs
            if (kind is None or doc["type"] == kind)
            and (company_id is None or str(doc["_company_id"]) == company_id)
        ]


# ---------------------------------------------------------------------------
# helpers


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[7:].strip() or None if header[:7].lower() == "bearer " else None


def _today() -> date:
    return datetime.now(WARSAW).date()


def _now() -> str:
    return datetime.now(WARSAW).strftime("%Y-%m-%d %H:%M:%S")


def _two(value) -> str | None:
    return f"{value:02d}" if value else None


def _email_entry(to: str, subject: str | None, body: str | None, page: str, auto: bool = False) -> dict:
    return {"to": to, "subject": subject, "body": body, "page": page, "auto_send": auto, "at": _now()}


def _public(record):
    """A stored record as the API shows it: private ``_`` keys dropped at every level."""
    if isinstance(record, dict):
        return {key: _public(value) for key, value in record.items() if not key.startswith("_")}
    if isinstance(record, list):
        return [_public(value) for value in record]
    return record


def _inspected(doc: dict) -> dict:
    rendered = _public(doc)
    rendered["_sandbox"] = {
        "account": doc["_account"],
        "company_id": doc["_company_id"],
        "emails": doc["_emails"],
        "stock_moves": doc["_stock_moves"],
        "rate_totals": doc["_rate_totals"],
        "lines_before": _public(doc["_lines_before"]),
        "ksef_reads": doc["_ksef_reads"],
        "correction_ids": doc["_correction_ids"],
    }
    return rendered


def _echo(raw: dict, problems: Problems) -> dict:
    """The input record with ``errors`` attached where they belong (invoice, contractor, lines)."""
    echo = {
        key: value for key, value in raw.items() if key not in ("contractor", "invoicecontents", "errors")
    }
    if isinstance(raw.get("contractor"), dict) or problems.contractor:
        contractor = dict(raw["contractor"]) if isinstance(raw.get("contractor"), dict) else {}
        if problems.contractor:
            contractor["errors"] = [p.as_tree() for p in problems.contractor]
        echo["contractor"] = contractor
    if "invoicecontents" in raw:
        lines = []
        for index, line in enumerate(items(raw.get("invoicecontents"), "invoicecontent")):
            line = dict(line) if isinstance(line, dict) else {"value": line}
            if problems.lines.get(index):
                line["errors"] = [p.as_tree() for p in problems.lines[index]]
            lines.append(line)
        echo["invoicecontents"] = lines
    if problems.invoice:
        echo["errors"] = [p.as_tree() for p in problems.invoice]
    return echo


EMULATOR = WfirmaEmulator
