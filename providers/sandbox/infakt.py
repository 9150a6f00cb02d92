"""inFakt.pl API v3 emulator, mounted at ``/infakt``.

Written from the API contract notes alone. The real base URL is
``https://api.infakt.pl/api/v3``; a client of the sandbox uses
``http://HOST:PORT/infakt/api/v3`` (e.g. ``POST http://127.0.0.1:5050/infakt/api/v3/async/invoices.json``).
There is no account in the path: the account is the one whose API key arrives in the
``X-inFakt-ApiKey`` header. All money is integer grosze. Document rules live in
``infakt_documents``, list parameters in ``infakt_query``, JSON/PDF/XML in ``infakt_render``.

Accounts — ``POST /_sandbox/infakt/accounts {"prefix", "api_token", "options"}``: ``api_token``
is the account's API key (unique among inFakt accounts). Options (all optional):

- ``company_name``, ``nip`` (default ``5252344078``), ``street``, ``city``, ``postal_code`` — the seller.
- ``currency`` — the account currency an invoice without ``currency`` is booked in (``PLN``).
- ``scopes`` — the key's scopes (default: all eight); a call outside them is 401.
- ``api_access`` — false: the plan has no API, every call is 402.
- ``monthly_invoice_limit`` — null (default) or N: creating the N+1st document in a month is 402.
- ``ip_blocked`` — true: every call is 403 (IP block).
- ``locked`` — true: every non-GET call is 423 (the contract lists 423 "locked" without saying
  when; the sandbox also answers 423 to editing or deleting a document already sent to KSeF).
- ``rate_limit_get`` (300), ``rate_limit_other`` (150), ``rate_limit_window`` (60 s) — the
  documented caps, per account by default; null switches one off. ``rate_limit_scope``:
  ``"account"`` or ``"ip"`` (the real service counts per source IP). ``rate_limit_status``:
  429 (default) or 503 — the contract says "429 or 503". ``rate_limit_retry_after``: false
  (default, the contract documents no header) or true to send ``Retry-After``.
- ``async_polls`` (1) — status polls that still answer "in progress" (120/140) before the task
  is done; ``async_seconds`` (2.0) — the task is done anyway this long after it was created
  (the service works in the background); null: only polls finish it. ``async_create_status``:
  201 (default, as the Postman examples) or 202 (as the readme).
- ``ksef_integration`` (true) — false: sending to KSeF is 422. ``ksef_reads`` (1) — reads of a
  sent document that still show ``ksef_data.status: "sent"`` before ``success`` (with a
  ``ksef_number``); ``ksef_outcome``: ``"success"`` or ``"error"``. ``ksef_auto_send`` (false):
  true sends every new document, as an account setting would.
- ``require_exemption_reason`` (true) — a ``zw`` line needs ``vat_exemption_reason``.
- ``accept_own_number`` (true) — a ``number`` in the payload is kept (``check_duplicate_number``
  then refuses a taken one); false: it is ignored and numbering is automatic.
- ``emails_per_day`` (3000) — ``deliver_via_email`` calls a day before a 422.

Demo account (exists from the start): prefix ``demo``, API key ``demo-infakt-api-key``.
Each account starts with a verified default bank account and two products.

Contract gaps filled by choice (marked [UNCONFIRMED] there): error bodies are
``{"error": "..."}`` (401/402/403/404/406/423/429, 400 for bad parameters) and Rails style
``{"errors": {"field": ["..."]}}`` for a synchronous 422; task failures are HTTP 200 with
``processing_code: 422`` and ``invoice_errors``. Numbers are ``n/MM/YYYY`` (VAT),
``n/PRO/MM/YYYY`` (proforma) and ``n/KOR/MM/YYYY`` (corrections), monthly. List pages hold
10 by default. The bare ``POST /corrective_invoices.json`` answers 500, as last reported.
Either status endpoint (``/async/invoices/status/…``, ``/async/corrective_invoices/status/…``)
finds any task of the account. Scopes: reads need ``api:invoices:read``, writes
``api:invoices:write``, bank-account writes ``api:sensitive:bank_accounts:write``, KSeF sending
also ``api:ksef:integration:write``. API-created bank accounts are unverified, so an invoice
naming one fails (422 ``bank_account``); the seeded one is verified.
"""

from __future__ import annotations

import hmac
import re
import secrets
import time
import uuid as uuid_module
from datetime import date, datetime, timedelta
from html import escape
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, jsonify, request

from .faults import retry_after_header
from .infakt_access import KSEF_SCOPE, SCOPES, WindowLimiter, required_scopes
from .infakt_documents import (
    BLANK,
    BUSINESS_KINDS,
    INVALID,
    KSEF_NOT_INTEGRATED,
    NOT_IN_LIST,
    NUMBER_TAKEN,
    PAYMENT_METHODS,
    RATE_FRACTIONS,
    Errors,
    Lookups,
    build_correction,
    build_invoice,
    digits,
    normalise_tax_symbol,
    read_date,
    read_int,
    valid_polish_nip,
)
from .infakt_query import (
    CLIENT_FILTERS,
    INVOICE_FILTERS,
    BadParameter,
    matches,
    ordered,
    paging,
    parse_fields,
    parse_filters,
    select_fields,
)
from .infakt_render import (
    DOCUMENT_TYPE_LABELS,
    fa2_xml,
    ksef_data,
    pdf_bytes,
    render_invoice,
)
from .service import EmulatedService
from .store import Account, Transaction

WARSAW = ZoneInfo("Europe/Warsaw")
API_KEY_HEADER = "X-inFakt-ApiKey"
API_ROOT = "/api/v3"
DEMO_API_KEY = "demo-infakt-api-key"
PENDING, DONE = "pending", "done"
SHARE_DAYS = 30

DEFAULT_OPTIONS = {
    "company_name": None,
    "nip": "5252344078",
    "street": "ul. Przykładowa 12/3",
    "city": "Warszawa",
    "postal_code": "00-950",
    "currency": "PLN",
    "scopes": list(SCOPES),
    "api_access": True,
    "monthly_invoice_limit": None,
    "ip_blocked": False,
    "locked": False,
    "rate_limit_get": 300,
    "rate_limit_other": 150,
    "rate_limit_window": 60,
    "rate_limit_scope": "account",
    "rate_limit_status": 429,
    "rate_limit_retry_after": False,
    "async_polls": 1,
    "async_seconds": 2.0,
    "async_create_status": 201,
    "ksef_integration": True,
    "ksef_reads": 1,
    "ksef_outcome": "success",
    "ksef_auto_send": False,
    "require_exemption_reason": True,
    "accept_own_number": True,
    "emails_per_day": 3000,
}
BOOL_OPTIONS = (
    "api_access",
    "ip_blocked",
    "locked",
    "rate_limit_retry_after",
    "ksef_integration",
    "ksef_auto_send",
    "require_exemption_reason",
    "accept_own_number",
)
#: option -> (smallest value, null allowed)
INT_OPTIONS = {
    "monthly_invoice_limit": (0, True),
    "rate_limit_get": (1, True),
    "rate_limit_other": (1, True),
    "async_polls": (0, False),
    "ksef_reads": (0, False),
    "emails_per_day": (0, False),
}
CHOICE_OPTIONS = {
    "rate_limit_scope": ("account", "ip"),
    "rate_limit_status": (429, 503),
    "async_create_status": (201, 202),
    "ksef_outcome": ("success", "error"),
}
TEXT_OPTIONS = ("company_name", "nip", "street", "city", "postal_code", "currency")

NUMBER_FORMATS = {
    "vat": "{n}/{mm}/{yyyy}",
    "proforma": "{n}/PRO/{mm}/{yyyy}",
    "correction": "{n}/KOR/{mm}/{yyyy}",
    "advance": "{n}/ZAL/{mm}/{yyyy}",
    "final": "{n}/KON/{mm}/{yyyy}",
    "margin": "{n}/MAR/{mm}/{yyyy}",
}
PREVIEW_KINDS = ("vat", "proforma", "advance", "final", "margin")
LOCALES = ("pl", "en", "pe")
PRINT_TYPES = ("original", "copy", "original_duplicate", "copy_duplicate", "duplicate", "regular")
PROCESSING = {
    100: "Zlecenie przyjęte",
    120: "Zlecenie oczekuje na przetworzenie",
    140: "Zlecenie jest w trakcie przetwarzania",
    200: "Faktura została oznaczona jako zapłacona",
    201: "Faktura stworzona",
    422: "Nie udało się stworzyć faktury",
}
MARK_PAID_FAILED = "Nie udało się oznaczyć faktury jako zapłaconej"
ALREADY_PAID = "Faktura już została oznaczona jako zapłacona."
PAID_BEFORE_ISSUE = "Data zapłaty nie może być wcześniejsza niż data wystawienia faktury."

MISSING_KEY = "Brak klucza API (nagłówek X-inFakt-ApiKey)."
BAD_KEY = "Nieprawidłowy klucz API."
NO_API_IN_PLAN = "Twój plan nie obejmuje dostępu do API."
PLAN_LIMIT = "Osiągnięto limit dokumentów w Twoim planie."
IP_BLOCKED = "Dostęp z tego adresu IP został zablokowany."
ACCOUNT_LOCKED = "Konto jest zablokowane. Zmiany są niemożliwe."
DOCUMENT_LOCKED = "Dokument został wysłany do KSeF i nie może być zmieniony ani usunięty."
RATE_LIMITED = "Przekroczono limit zapytań. Spróbuj ponownie za chwilę."
NOT_FOUND_MESSAGE = "Nie znaleziono"

VAT_EXEMPTIONS = (
    {"id": 1, "name": "Zwolnienie podmiotowe", "description": "art. 113 ust. 1 i 9 ustawy o VAT"},
    {"id": 2, "name": "Usługi edukacyjne", "description": "art. 43 ust. 1 pkt 26 ustawy o VAT"},
    {"id": 3, "name": "Usługi finansowe", "description": "art. 43 ust. 1 pkt 38–41 ustawy o VAT"},
    {"id": 4, "name": "Dostawa towarów używanych", "description": "art. 43 ust. 1 pkt 2 ustawy o VAT"},
)
SELECTED_EXEMPTIONS = (1,)
VAT_RATE_NAMES = {"zw": "zwolniony", "np": "nie podlega", "oo": "odwrotne obciążenie"}
PRODUCTS = (
    ("Kubek ceramiczny 330 ml", 2438, "23"),
    ("Herbata zielona liściasta 100 g", 1762, "5"),
)
CLIENT_FIELDS = (
    "company_name",
    "first_name",
    "last_name",
    "nip",
    "street",
    "street_number",
    "flat_number",
    "city",
    "postal_code",
    "country",
    "email",
    "phone_number",
    "web_site",
    "payment_method",
    "days_to_payment",
    "business_activity_kind",
)
PRODUCT_FIELDS = ("name", "unit_net_price", "tax_symbol", "unit", "pkwiu", "cn", "pkob", "gtu_id", "discount")
BANK_FIELDS = ("account_number", "bank_name", "swift", "currency", "custom_name", "default")


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


class InfaktEmulator(EmulatedService):
    name = "infakt"
    document_collection = "invoices"
    public_endpoints = frozenset({"shared_invoice", "shared_invoice_pdf"})
    demo_accounts = (("demo", DEMO_API_KEY),)

    def __init__(self, runtime):
        super().__init__(runtime)
        self.limiter = WindowLimiter()

    # -- error bodies ---------------------------------------------------------
    def unauthorized(self) -> Response:
        return self.error_response(BAD_KEY, 401)

    def throttled(self, retry_after: float) -> Response:
        response = self.error_response(RATE_LIMITED, 429)
        response.headers["Retry-After"] = retry_after_header(retry_after)
        return response

    def not_found(self) -> Response:
        return self.error_response(NOT_FOUND_MESSAGE, 404)

    def _invalid(self, errors: dict) -> Response:
        return _json({"errors": errors}, 422)

    # -- accounts -------------------------------------------------------------
    def check_account_options(self, options: dict) -> str | None:
        unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
        if unknown:
            return f"unknown options: {', '.join(unknown)}"
        for name in BOOL_OPTIONS:
            if name in options and not isinstance(options[name], bool):
                return f"{name} must be true or false"
        for name, (smallest, nullable) in INT_OPTIONS.items():
            if name not in options:
                continue
            value = options[name]
            if value is None and nullable:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
                return f"{name} must be an integer >= {smallest}" + (" or null" if nullable else "")
        for name, choices in CHOICE_OPTIONS.items():
            if name in options and options[name] not in choices:
                return f"{name} must be one of {', '.join(map(str, choices))}"
        for name in TEXT_OPTIONS:
            if options.get(name) is not None and not isinstance(options[name], str):
                return f"{name} must be a text"
        window = options.get("rate_limit_window", 60)
        if isinstance(window, bool) or not isinstance(window, (int, float)) or window <= 0:
            return "rate_limit_window must be a number of seconds > 0"
        seconds = options.get("async_seconds", 0)
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0
        ):
            return "async_seconds must be a number of seconds >= 0 or null"
        scopes = options.get("scopes", list(SCOPES))
        if not isinstance(scopes, list) or any(scope not in SCOPES for scope in scopes):
            return f"scopes must be a list taken from: {', '.join(SCOPES)}"
        if "nip" in options and not valid_polish_nip(options["nip"] or ""):
            return "nip must be a valid Polish NIP (10 digits)"
        body = request.get_json(silent=True) or {}
        with self.runtime.store.transaction(write=False) as tx:
            for account in tx.list_accounts(self.name):
                if account.prefix != body.get("prefix") and account.api_token == body.get("api_token"):
                    return f"this API key already belongs to account {account.prefix!r}"
        return None

    def ensure_demo_accounts(self, tx: Transaction) -> None:
        # Runs at start-up and on /_sandbox/reset: the request windows start empty too.
        self.limiter.clear()
        super().ensure_demo_accounts(tx)

    def seed_account(self, tx: Transaction, account: Account) -> None:
        bank_id = tx.next_value(self.name, "*", "bank_accounts", start=301)
        tx.insert(
            self.name,
            account.prefix,
            "bank_accounts",
            bank_id,
            {
                "id": bank_id,
                "account_number": "61109010140000071219812874",
                "bank_name": "Bank Testowy S.A.",
                "swift": "WBKPPLPP",
                "currency": "PLN",
                "custom_name": "Rachunek główny",
                "default": True,
                "_verified": True,
            },
        )
        for product_name, unit_net, rate in PRODUCTS:
            product_id = tx.next_value(self.name, "*", "products", start=5001)
            tx.insert(
                self.name,
                account.prefix,
                "products",
                product_id,
                {
                    "id": product_id,
                    "name": product_name,
                    "unit_net_price": unit_net,
                    "tax_symbol": rate,
                    "unit": "szt.",
                    "pkwiu": None,
                    "cn": None,
                    "pkob": None,
                    "gtu_id": None,
                    "discount": None,
                },
            )

    def _options(self, account: Account) -> dict:
        options = {**DEFAULT_OPTIONS, "scopes": list(SCOPES), **account.options}
        options["company_name"] = options["company_name"] or f"Sandbox {account.prefix} sp. z o.o."
        return options

    def _seller(self, options: dict) -> dict:
        return {
            "company_name": options["company_name"],
            "nip": options["nip"],
            "street": options["street"],
            "city_line": f"{options['postal_code']} {options['city']}",
        }

    # -- authentication, plan and limits --------------------------------------
    def account_key(self) -> str:
        key = request.headers.get(API_KEY_HEADER) or ""
        account = None
        if key:
            with self.runtime.store.transaction(write=False) as tx:
                accounts = tx.list_accounts(self.name)
            account = next(
                (a for a in accounts if hmac.compare_digest(key.encode(), a.api_token.encode())), None
            )
        g.infakt_account = account
        g.sandbox_account = account.prefix if account else "-"
        return g.sandbox_account

    def authenticate(self) -> Response | None:
        if not request.headers.get(API_KEY_HEADER):
            return self.error_response(MISSING_KEY, 401)
        account = g.infakt_account
        if account is None:
            return self.unauthorized()
        options = self._options(account)
        g.account, g.options = account, options
        if options["ip_blocked"]:
            return self.error_response(IP_BLOCKED, 403)
        if not options["api_access"]:
            return self.error_response(NO_API_IN_PLAN, 402)
        for scope in required_scopes(request.method, _api_path()):
            if scope not in options["scopes"]:
                return self.error_response(f"Klucz API nie ma uprawnienia {scope}.", 401)
        refusal = self._rate_limit(account, options)
        if refusal is not None:
            return refusal
        if options["locked"] and request.method not in ("GET", "HEAD"):
            return self.error_response(ACCOUNT_LOCKED, 423)
        return None

    def _rate_limit(self, account: Account, options: dict) -> Response | None:
        reading = request.method in ("GET", "HEAD")
        limit = options["rate_limit_get"] if reading else options["rate_limit_other"]
        scope = (
            f"ip:{request.remote_addr}"
            if options["rate_limit_scope"] == "ip"
            else f"account:{account.prefix}"
        )
        wait = self.limiter.admit((scope, "get" if reading else "other"), limit, options["rate_limit_window"])
        if wait is None:
            return None
        self.runtime.stats.fault(self.name, account.prefix, "rate_limit")
        if options["rate_limit_status"] == 503:
            response = self.server_error(503)
        else:
            response = self.error_response(RATE_LIMITED, 429)
        if options["rate_limit_retry_after"]:
            response.headers["Retry-After"] = retry_after_header(wait)
        return response

    def _require_scope(self, scope: str) -> None:
        if scope not in g.options["scopes"]:
            raise BadRequest(f"Klucz API nie ma uprawnienia {scope}.", 401)

    def _check_plan_limit(self, tx: Transaction, prefix: str, options: dict) -> None:
        limit = options["monthly_invoice_limit"]
        if limit is None:
            return
        month = _today().strftime("%Y-%m")
        held = sum(1 for doc in tx.select(self.name, prefix, "invoices") if doc["_created_month"] == month)
        waiting = sum(
            1
            for task in tx.select(self.name, prefix, "tasks", number=PENDING)
            if task["action"] == "create_invoice"
        )
        if held + waiting >= limit:
            raise BadRequest(PLAN_LIMIT, 402)

    # -- lookups ----------------------------------------------------------------
    def _lookups(self, tx: Transaction, prefix: str) -> Lookups:
        def client(client_id: int):
            return tx.get(self.name, prefix, "clients", client_id)

        def invoice(uuid: str):
            found = tx.select(self.name, prefix, "invoices", ref=uuid)
            return found[0] if found else None

        def invoice_by_number(number: str):
            found = [
                doc for doc in tx.select(self.name, prefix, "invoices", number=number) if doc["kind"] == "vat"
            ]
            return found[0] if found else None

        return Lookups(
            client=client,
            invoice=invoice,
            invoice_by_number=invoice_by_number,
            bank_accounts=lambda: tx.select(self.name, prefix, "bank_accounts"),
            exemption_ids=frozenset(entry["id"] for entry in VAT_EXEMPTIONS),
        )

    def _load(self, tx: Transaction, prefix: str, uuid: str, family: str) -> dict | None:
        """The document behind ``/<family>/<uuid>``: a corrective uuid is 404 under /invoices and back."""
        found = tx.select(self.name, prefix, "invoices", ref=uuid)
        if not found:
            return None
        doc = found[0]
        return doc if (doc["kind"] == "correction") == (family == "corrective_invoices") else None

    def _save(self, tx: Transaction, prefix: str, doc: dict) -> None:
        tx.update(
            self.name,
            prefix,
            "invoices",
            doc["id"],
            doc,
            number=doc["number"],
            ref=doc["uuid"],
            token=(doc.get("_share") or {}).get("token"),
        )

    def _share_url(self, doc: dict) -> str | None:
        share = doc.get("_share")
        if not share:
            return None
        return f"{request.url_root.rstrip('/')}/{self.name}/app/twoja-faktura/{share['token']}"

    def _render(self, doc: dict) -> dict:
        return render_invoice(doc, self._share_url(doc), _today().isoformat())

    # -- numbering --------------------------------------------------------------
    def _number(self, tx: Transaction, prefix: str, kind: str, on: date, advance: bool = True) -> str:
        """The next free number of the kind's monthly series (skipping numbers given by hand)."""
        scope = f"{kind}:{on:%Y-%m}"
        counters = tx.select(self.name, prefix, "number_counters", ref=scope)
        counter = counters[0] if counters else None
        value = counter["value"] if counter else 0
        while True:
            value += 1
            number = NUMBER_FORMATS[kind].format(n=value, mm=f"{on.month:02d}", yyyy=on.year)
            if not tx.select(self.name, prefix, "invoices", number=number):
                break
        if advance:
            if counter is None:
                counter_id = tx.next_value(self.name, "*", "number_counters")
                tx.insert(
                    self.name,
                    prefix,
                    "number_counters",
                    counter_id,
                    {"id": counter_id, "value": value},
                    ref=scope,
                )
            else:
                counter["value"] = value
                tx.update(self.name, prefix, "number_counters", counter["id"], counter, ref=scope)
        return number

    # -- storing documents ------------------------------------------------------
    def _check_number(self, tx: Transaction, prefix: str, draft, own_id: int | None = None) -> None:
        """``check_duplicate_number``: the service's own guard against a number used twice."""
        if draft.requested_number and draft.check_duplicate_number:
            taken = [
                doc
                for doc in tx.select(self.name, prefix, "invoices", number=draft.requested_number)
                if doc["id"] != own_id
            ]
            if taken:
                draft.errors.add("number", NUMBER_TAKEN)

    def _store(
        self,
        tx: Transaction,
        prefix: str,
        options: dict,
        draft,
        raw_services,
        send_to_ksef: bool,
        task: str | None,
    ) -> dict:
        fields = dict(draft.fields)
        kind = fields["kind"]
        number = draft.requested_number or self._number(
            tx, prefix, kind, date.fromisoformat(fields["invoice_date"])
        )
        doc_id = tx.next_value(self.name, "*", "invoices", start=31000001)
        now = _now_display()
        doc = {
            "id": doc_id,
            "uuid": str(uuid_module.uuid4()),
            "number": number,
            **fields,
            "services": self._number_services(tx, draft.services),
            "_account": prefix,
            "_input": _plain(draft.raw),
            "_input_services": _plain(raw_services),
            "_rate_totals": draft.rate_totals,
            "_ksef": None,
            "_share": None,
            "_emails": [],
            "_created_at": now,
            "_created_month": _today().strftime("%Y-%m"),
            "_task": task,
        }
        if kind != "proforma" and (
            send_to_ksef or (options["ksef_auto_send"] and options["ksef_integration"])
        ):
            doc["_ksef"] = _new_ksef_state()
        tx.insert(self.name, prefix, "invoices", doc_id, doc, number=number, ref=doc["uuid"])
        self.document_stored(prefix)
        return doc

    def _number_services(self, tx: Transaction, services: list[dict]) -> list[dict]:
        return [{"id": tx.next_value(self.name, "*", "services", start=71000001), **s} for s in services]

    def _draft(
        self, tx: Transaction, prefix: str, options: dict, payload: dict, corrective: bool, today: date
    ):
        lookups = self._lookups(tx, prefix)
        if corrective:
            return build_correction(payload, lookups, today, options)
        draft = build_invoice(payload, lookups, today, options)
        self._check_number(tx, prefix, draft)
        return draft

    # -- async tasks ------------------------------------------------------------
    def _new_task(self, tx: Transaction, prefix: str, action: str, kind: str, **extra) -> dict:
        task_id = tx.next_value(self.name, "*", "tasks")
        task = {
            "id": task_id,
            "reference": str(uuid_module.uuid4()),
            "action": action,
            "invoice_kind": kind,
            "created_at": _now_display(),
            "processed_at": None,
            "_created_ts": time.time(),
            "_created_on": _today().isoformat(),
            "_polls": 0,
            "_result": None,
            **extra,
        }
        tx.insert(self.name, prefix, "tasks", task_id, task, number=PENDING, ref=task["reference"])
        return task

    def _due(self, task: dict, options: dict) -> bool:
        seconds = options["async_seconds"]
        return seconds is not None and time.time() - task["_created_ts"] >= seconds

    def _catch_up(self, tx: Transaction, prefix: str, options: dict, through: int | None = None) -> None:
        """The emulated background worker: finish, oldest first, every task that is due by time
        and (``through``) every task up to that one."""
        for task in tx.select(self.name, prefix, "tasks", number=PENDING):
            if (through is not None and task["id"] <= through) or self._due(task, options):
                self._finish(tx, prefix, options, task)

    def _finish(self, tx: Transaction, prefix: str, options: dict, task: dict) -> None:
        if task["action"] == "mark_as_paid":
            task["_result"] = self._mark_paid(tx, prefix, task)
        else:
            today = date.fromisoformat(task["_created_on"])
            payload = task["_payload"]
            corrective = task["invoice_kind"] == "corrective_invoice"
            draft = self._draft(tx, prefix, options, payload, corrective, today)
            if task["_send_to_ksef"] and not options["ksef_integration"]:
                draft.errors.add("send_to_ksef", KSEF_NOT_INTEGRATED)
            if draft.errors:
                task["_result"] = {"code": 422, "errors": draft.errors.fields}
            else:
                doc = self._store(
                    tx,
                    prefix,
                    options,
                    draft,
                    payload.get("services"),
                    task["_send_to_ksef"],
                    task["reference"],
                )
                task["_result"] = {"code": 201, "invoice_uuid": doc["uuid"]}
        task["processed_at"] = _now_display()
        tx.update(self.name, prefix, "tasks", task["id"], task, number=DONE, ref=task["reference"])

    def _mark_paid(self, tx: Transaction, prefix: str, task: dict) -> dict:
        doc = self._load(tx, prefix, task["invoice_uuid"], "invoices")
        if doc is None:
            return {"code": 422, "errors": {"invoice": "Faktura nie istnieje."}}
        if doc["status"] == "paid":
            return {"code": 422, "errors": {"status": ALREADY_PAID}}
        errors = Errors()
        paid_on = read_date(task["_paid_date"], "paid_date", errors) or date.fromisoformat(
            task["_created_on"]
        )
        if errors:
            return {"code": 422, "errors": {"paid_date": "Nieprawidłowa data zapłaty."}}
        if paid_on.isoformat() < doc["invoice_date"]:
            return {"code": 422, "errors": {"paid_date": PAID_BEFORE_ISSUE}}
        doc.update(status="paid", paid_date=paid_on.isoformat(), paid_price=doc["gross_price"], left_to_pay=0)
        self._save(tx, prefix, doc)
        return {"code": 200}

    def _envelope(self, task: dict) -> dict:
        result = task["_result"]
        timestamps = {"task_created_at": task["created_at"]}
        if task["processed_at"]:
            timestamps["task_processed_at"] = task["processed_at"]
        body = {
            "timestamps": timestamps,
            "invoice_task_reference_number": task["reference"],
            "action": task["action"],
            "invoice_kind": task["invoice_kind"],
        }
        if result is None:
            code = (
                100 if task["_polls"] == 0 else (140 if task["_polls"] >= g.options["async_polls"] else 120)
            )
            body.update(processing_code=code, processing_description=PROCESSING[code])
        elif result["code"] == 422:
            description = MARK_PAID_FAILED if task["action"] == "mark_as_paid" else PROCESSING[422]
            body.update(
                processing_code=422, processing_description=description, invoice_errors=result["errors"]
            )
        else:
            body.update(processing_code=result["code"], processing_description=PROCESSING[result["code"]])
        if task["action"] == "mark_as_paid":
            body["invoice_uuid"] = task["invoice_uuid"]
        elif result is not None and result.get("invoice_uuid"):
            body["invoice_uuid"] = result["invoice_uuid"]
        return body

    # -- blueprint --------------------------------------------------------------
    def build_blueprint(self) -> Blueprint:
        bp = Blueprint(self.name, __name__)

        @bp.errorhandler(BadRequest)
        def bad_request(error: BadRequest):
            return self.error_response(error.message, error.status)

        @bp.errorhandler(BadParameter)
        def bad_parameter(error: BadParameter):
            return self.error_response(error.message, 400)

        def rule(path: str, endpoint: str, view, methods=("GET",), **defaults):
            extra = {"defaults": defaults} if defaults else {}
            bp.add_url_rule(API_ROOT + path, endpoint, view, methods=list(methods), **extra)

        rule("/async/invoices.json", "async_create_invoice", self.async_create_invoice, ["POST"])
        rule(
            "/async/corrective_invoices.json",
            "async_create_correction",
            self.async_create_correction,
            ["POST"],
        )
        rule("/async/invoices/status/<reference>.json", "invoice_task", self.task_status)
        rule("/async/corrective_invoices/status/<reference>.json", "correction_task", self.task_status)
        rule("/async/invoices/<uuid>/paid.json", "async_mark_paid", self.async_mark_paid, ["POST"])
        rule("/invoices.json", "create_invoice", self.create_invoice, ["POST"])
        rule("/invoices/next_number.json", "next_number", self.next_number)
        rule("/invoices/<uuid>.json", "update_invoice", self.update_invoice, ["PUT", "PATCH"])
        rule("/invoices/<uuid>/mark_as_accounted.json", "mark_as_accounted", self.mark_as_accounted, ["PUT"])
        rule("/corrective_invoices.json", "bare_create_correction", self.bare_create_correction, ["POST"])
        for family in ("invoices", "corrective_invoices"):
            rule(f"/{family}.json", f"list_{family}", self.list_documents, family=family)
            rule(f"/{family}/<uuid>.json", f"get_{family}", self.get_document, family=family)
            rule(
                f"/{family}/<uuid>.json", f"delete_{family}", self.delete_document, ["DELETE"], family=family
            )
            rule(f"/{family}/<uuid>/pdf.json", f"pdf_{family}", self.document_pdf, family=family)
            rule(f"/{family}/<uuid>/download_xml.json", f"xml_{family}", self.document_xml, family=family)
            rule(
                f"/{family}/<uuid>/deliver_via_email.json",
                f"email_{family}",
                self.deliver_via_email,
                ["POST"],
                family=family,
            )
            rule(
                f"/{family}/<uuid>/send_to_ksef.json",
                f"ksef_{family}",
                self.send_to_ksef,
                ["POST"],
                family=family,
            )
            rule(
                f"/{family}/<uuid>/share_links.json",
                f"share_{family}",
                self.share_links,
                ["GET", "POST", "DELETE"],
                family=family,
            )
            rule(
                f"/{family}/<uuid>/share_links/prolong.json",
                f"prolong_{family}",
                self.prolong_share_link,
                ["POST"],
                family=family,
            )
        rule("/clients.json", "list_clients", self.list_clients)
        rule("/clients.json", "create_client", self.create_client, ["POST"])
        rule("/clients/<ident>.json", "client", self.client, ["GET", "PUT", "PATCH", "DELETE"])
        rule("/products.json", "list_products", self.list_products)
        rule("/products.json", "create_product", self.create_product, ["POST"])
        rule("/products/<ident>.json", "product", self.product, ["GET", "PUT", "PATCH", "DELETE"])
        rule("/bank_accounts.json", "list_bank_accounts", self.list_bank_accounts)
        rule("/bank_accounts.json", "create_bank_account", self.create_bank_account, ["POST"])
        rule(
            "/bank_accounts/<ident>.json",
            "bank_account",
            self.bank_account,
            ["GET", "PUT", "PATCH", "DELETE"],
        )
        rule("/vat_rates.json", "vat_rates", self.vat_rates)
        rule("/vat_exemptions.json", "vat_exemptions", self.vat_exemptions)
        rule("/vat_exemptions/selected.json", "selected_vat_exemptions", self.selected_vat_exemptions)
        rule("/vat_exemptions/<ident>.json", "vat_exemption", self.vat_exemption)
        rule("/account/details.json", "account_details", self.account_details)
        rule("/account/activities.json", "account_activities", self.account_activities)
        bp.add_url_rule("/app/twoja-faktura/<token>", "shared_invoice", self.shared_invoice)
        bp.add_url_rule("/app/twoja-faktura/<token>/pdf", "shared_invoice_pdf", self.shared_invoice_pdf)
        return bp

    # -- creating -----------------------------------------------------------------
    def async_create_invoice(self):
        return self._async_create("invoice", "invoice")

    def async_create_correction(self):
        return self._async_create("corrective_invoice", "corrective_invoice")

    def _async_create(self, wrapper: str, kind: str):
        body = _json_body()
        payload = body.get(wrapper)
        if not isinstance(payload, dict):
            raise BadRequest(f"param is missing or the value is empty: {wrapper}")
        send = _truthy(body.get("send_to_ksef", False))
        if send:
            self._require_scope(KSEF_SCOPE)
        prefix, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            self._check_plan_limit(tx, prefix, options)
            task = self._new_task(
                tx, prefix, "create_invoice", kind, _payload=_plain(payload), _send_to_ksef=send
            )
        envelope = {
            "timestamps": {"task_created_at": task["created_at"]},
            "invoice_task_reference_number": task["reference"],
            "processing_code": 100,
            "processing_description": PROCESSING[100],
            "invoice_kind": kind,
        }
        return _json(envelope, options["async_create_status"])

    def task_status(self, reference: str):
        prefix, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            found = tx.select(self.name, prefix, "tasks", ref=reference)
            if not found:
                return self.not_found()
            task = found[0]
            if task["_result"] is None:
                if task["_polls"] >= options["async_polls"] or self._due(task, options):
                    self._catch_up(tx, prefix, options, through=task["id"])
                    task = tx.select(self.name, prefix, "tasks", ref=reference)[0]
                else:
                    task["_polls"] += 1
                    tx.update(self.name, prefix, "tasks", task["id"], task, number=PENDING, ref=reference)
        return _json(self._envelope(task), 200)

    def async_mark_paid(self, uuid: str):
        body = _json_body()
        prefix = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, g.options)
            if self._load(tx, prefix, uuid, "invoices") is None:
                return self.not_found()
            paid_date = request.args.get("paid_date") or body.get("paid_date")
            task = self._new_task(
                tx,
                prefix,
                "mark_as_paid",
                "invoice",
                invoice_uuid=uuid,
                _paid_date=paid_date,
                _allow_correction=_truthy(body.get("allow_correction", False)),
            )
        return _json(self._envelope(task), 201)

    def create_invoice(self):
        """The legacy synchronous create: 201 with the invoice, or 422 with ``errors``."""
        body = _json_body()
        payload = body.get("invoice")
        if not isinstance(payload, dict):
            raise BadRequest("param is missing or the value is empty: invoice")
        send = _truthy(body.get("send_to_ksef", False))
        if send:
            self._require_scope(KSEF_SCOPE)
        prefix, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            self._check_plan_limit(tx, prefix, options)
            draft = self._draft(tx, prefix, options, payload, False, _today())
            if send and not options["ksef_integration"]:
                draft.errors.add("send_to_ksef", KSEF_NOT_INTEGRATED)
            if draft.errors:
                return self._invalid(draft.errors.fields)
            doc = self._store(tx, prefix, options, draft, payload.get("services"), send, None)
        return _json(self._render(doc), 201)

    def bare_create_correction(self):
        # Reported to fail with 500 on every payload; clients must use the async route.
        return self.server_error(500)

    # -- reading ------------------------------------------------------------------
    def list_documents(self, family: str):
        args, prefix, options = request.args, g.sandbox_account, g.options
        filters = parse_filters(args, INVOICE_FILTERS)
        offset, limit = paging(args)
        fields = parse_fields(args.get("fields"))
        number = next(
            (value for name, _, modifier, value in filters if name == "number" and modifier == "eq"), None
        )
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, options)
            docs = tx.select(self.name, prefix, "invoices", number=number)
            docs = [
                doc
                for doc in docs
                if (doc["kind"] == "correction") == (family == "corrective_invoices")
                and matches(doc, filters)
            ]
            docs = ordered(docs, args.get("order"))
            page = docs[offset : offset + limit]
            for doc in page:
                if self._advance_ksef(doc, options):
                    self._save(tx, prefix, doc)
        return jsonify(
            {
                "metainfo": _metainfo(len(page), len(docs), offset, limit),
                "entities": [select_fields(self._render(doc), fields) for doc in page],
            }
        )

    def get_document(self, uuid: str, family: str):
        prefix, options = g.sandbox_account, g.options
        fields = parse_fields(request.args.get("fields"))
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, options)
            doc = self._load(tx, prefix, uuid, family)
            if doc is None:
                return self.not_found()
            if self._advance_ksef(doc, options):
                self._save(tx, prefix, doc)
        return jsonify(select_fields(self._render(doc), fields))

    def next_number(self):
        kind = request.args.get("kind") or "vat"
        if kind not in PREVIEW_KINDS:
            raise BadRequest(f"Nieprawidłowa wartość parametru kind (dozwolone: {', '.join(PREVIEW_KINDS)}).")
        on = _query_date("date") or _today()
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, g.sandbox_account, g.options)
            number = self._number(tx, g.sandbox_account, kind, on, advance=False)
        return jsonify({"invoice_date": on.isoformat(), "invoice_kind": kind, "next_number": number})

    def _advance_ksef(self, doc: dict, options: dict) -> bool:
        """A read of a document waiting in KSeF moves it on after ``ksef_reads`` reads. True if it changed."""
        state = doc.get("_ksef")
        if not state or state["status"] != "sent":
            return False
        state["reads"] += 1
        if state["reads"] <= options["ksef_reads"]:
            return True
        if options["ksef_outcome"] == "error":
            state["status"] = "error"
            state["error"] = "błąd weryfikacji semantyki dokumentu (symulowany w sandboksie)"
        else:
            issued = date.fromisoformat(doc["invoice_date"])
            nip = digits(g.options["nip"]) or "0000000000"
            state["status"] = "success"
            state["ksef_number"] = (
                f"{nip}-{issued:%Y%m%d}-{secrets.token_hex(6).upper()}-{secrets.token_hex(1).upper()}"
            )
        state["updated_at"] = _now_display()
        return True

    # -- changing -----------------------------------------------------------------
    def update_invoice(self, uuid: str):
        body = _json_body()
        payload = body.get("invoice")
        if not isinstance(payload, dict):
            raise BadRequest("param is missing or the value is empty: invoice")
        prefix, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, options)
            doc = self._load(tx, prefix, uuid, "invoices")
            if doc is None:
                return self.not_found()
            if _in_ksef(doc):
                return self.error_response(DOCUMENT_LOCKED, 423)
            edit = dict(payload)
            if "status" not in edit:  # an edit keeps the state the document is in
                edit["status"] = doc["status"]
                if doc["paid_date"] and "paid_date" not in edit:
                    edit["paid_date"] = doc["paid_date"]
            draft = build_invoice(edit, self._lookups(tx, prefix), _today(), options, previous=doc)
            draft.requested_number = draft.requested_number or doc["number"]
            self._check_number(tx, prefix, draft, own_id=doc["id"])
            if draft.errors:
                return self._invalid(draft.errors.fields)
            doc.update(draft.fields)
            doc["number"] = draft.requested_number
            if "services" in payload:  # sending services replaces all lines
                doc["services"] = self._number_services(tx, draft.services)
                doc["_input_services"] = _plain(payload["services"])
            else:
                doc["services"] = [
                    {"id": old["id"], **new}
                    for old, new in zip(doc["services"], draft.services, strict=False)
                ]
            doc["_input"] = _plain(draft.raw)
            doc["_rate_totals"] = draft.rate_totals
            self._save(tx, prefix, doc)
        return jsonify(self._render(doc))

    def delete_document(self, uuid: str, family: str):
        prefix = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, g.options)
            doc = self._load(tx, prefix, uuid, family)
            if doc is None:
                return self.not_found()
            if _in_ksef(doc):
                return self.error_response(DOCUMENT_LOCKED, 423)
            tx.delete(self.name, prefix, "invoices", doc["id"])
        return Response(status=204)

    def mark_as_accounted(self, uuid: str):
        return self._touch(uuid, "invoices", lambda doc: _account_draft(doc), jsonify_result=True)

    def _touch(self, uuid: str, family: str, change, jsonify_result: bool = False):
        prefix = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, g.options)
            doc = self._load(tx, prefix, uuid, family)
            if doc is None:
                return None if not jsonify_result else self.not_found()
            change(doc)
            self._save(tx, prefix, doc)
        return jsonify(self._render(doc)) if jsonify_result else doc

    # -- PDF, XML, e-mail, KSeF, share links -----------------------------------------
    def document_pdf(self, uuid: str, family: str):
        document_type = request.args.get("document_type")
        if not document_type:
            raise BadRequest("Parametr document_type jest wymagany.")
        if document_type not in DOCUMENT_TYPE_LABELS:
            raise BadRequest(f"Nieprawidłowa wartość parametru document_type: {document_type}.")
        locale = request.args.get("locale") or "pl"
        if locale not in LOCALES:
            raise BadRequest(f"Nieprawidłowa wartość parametru locale: {locale}.")
        doc = self._touch(uuid, family, _account_draft)  # printing makes a draft "printed"
        if doc is None:
            return self.not_found()
        data = pdf_bytes(doc, self._seller(g.options), locale, document_type)
        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", f"faktura_{doc['number']}")
        response = Response(data, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}.pdf"'
        return response

    def document_xml(self, uuid: str, family: str):
        doc = self._touch(uuid, family, _account_draft)  # the contract: a draft becomes accounted
        if doc is None:
            return self.not_found()
        return Response(fa2_xml(doc, self._seller(g.options)), mimetype="application/xml")

    def deliver_via_email(self, uuid: str, family: str):
        body = _json_body()
        errors = Errors()
        print_type = _text(body.get("print_type"))
        if print_type is None:
            errors.add("print_type", BLANK)
        elif print_type not in PRINT_TYPES:
            errors.add("print_type", NOT_IN_LIST)
        locale = _text(body.get("locale")) or "pl"
        if locale not in LOCALES:
            errors.add("locale", NOT_IN_LIST)
        prefix, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, options)
            doc = self._load(tx, prefix, uuid, family)
            if doc is None:
                return self.not_found()
            recipient = _text(body.get("recipient"))
            if recipient is None and doc.get("client_id"):
                recipient = _text((tx.get(self.name, prefix, "clients", doc["client_id"]) or {}).get("email"))
            if recipient is None:
                errors.add("recipient", "adres e-mail Klienta jest nieznany")
            elif "@" not in recipient:
                errors.add("recipient", INVALID)
            if errors:
                return self._invalid(errors.fields)
            sent_today = tx.next_value(self.name, prefix, f"emails:{_today().isoformat()}")
            if sent_today > options["emails_per_day"]:
                return self._invalid({"base": ["Wyczerpano dzienny limit wysyłki e-maili."]})
            doc["_emails"].append(
                {
                    "to": recipient,
                    "print_type": print_type,
                    "locale": locale,
                    "send_copy": _truthy(body.get("send_copy", False)),
                    "at": _now_display(),
                }
            )
            if doc["status"] in ("draft", "printed"):
                doc["status"] = "sent"
            self._save(tx, prefix, doc)
        return Response(status=202)

    def send_to_ksef(self, uuid: str, family: str):
        body = _json_body()
        prefix, options = g.sandbox_account, g.options
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, options)
            doc = self._load(tx, prefix, uuid, family)
            if doc is None:
                return self.not_found()
            if not options["ksef_integration"]:
                return self._invalid({"ksef": [KSEF_NOT_INTEGRATED]})
            if doc["kind"] == "proforma":
                return self._invalid({"kind": ["faktury proforma nie wysyła się do KSeF"]})
            if _in_ksef(doc):
                return self._invalid({"ksef": ["Faktura została już wysłana do KSeF."]})
            doc["_ksef"] = _new_ksef_state()
            inform = body.get("inform_via_email")
            if isinstance(inform, dict):
                doc["_emails"].append(
                    {"to": _text(inform.get("recipient")), "ksef": True, "at": _now_display()}
                )
            self._save(tx, prefix, doc)
        return jsonify(ksef_data(doc))

    def share_links(self, uuid: str, family: str):
        prefix = g.sandbox_account
        today = _today().isoformat()
        with self.runtime.store.transaction() as tx:
            self._catch_up(tx, prefix, g.options)
            doc = self._load(tx, prefix, uuid, family)
            if doc is None:
                return self.not_found()
            share = doc.get("_share")
            live = share is not None and share["expiration_date"] >= today
            if request.method == "GET":
                if not live:
                    return self.not_found()
                return jsonify(_share_body(self._share_url(doc), share))
            if request.method == "DELETE":
                doc["_share"] = None
                self._save(tx, prefix, doc)
                return Response(status=204)
            if not live:
                doc["_share"] = {
                    "token": secrets.token_urlsafe(18),
                    "expiration_date": (_today() + timedelta(days=SHARE_DAYS)).isoformat(),
                }
                self._save(tx, prefix, doc)
        return _json(_share_body(self._share_url(doc), doc["_share"]), 201 if not live else 200)

    def prolong_share_link(self, uuid: str, family: str):
        prefix = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            doc = self._load(tx, prefix, uuid, family)
            if doc is None:
                return self.not_found()
            share = doc.get("_share")
            if share is None:
                return self.not_found()
            start = max(date.fromisoformat(share["expiration_date"]), _today())
            share["expiration_date"] = (start + timedelta(days=SHARE_DAYS)).isoformat()
            self._save(tx, prefix, doc)
        return jsonify(_share_body(self._share_url(doc), share))

    def _shared(self, token: str) -> tuple[dict, Account] | None:
        with self.runtime.store.transaction(write=False) as tx:
            for account in tx.list_accounts(self.name):
                doc = tx.find_by_token(self.name, account.prefix, "invoices", token)
                if doc is not None and doc["_share"]["expiration_date"] >= _today().isoformat():
                    return doc, account
        return None

    def shared_invoice(self, token: str):
        found = self._shared(token)
        if found is None:
            return self.not_found()
        doc, account = found
        title = {"vat": "Faktura VAT", "proforma": "Faktura proforma", "correction": "Faktura korygująca"}[
            doc["kind"]
        ]
        seller = self._options(account)["company_name"]
        html = (
            f"<!doctype html><html lang=pl><meta charset=utf-8><title>{_escape(title)} {_escape(doc['number'])}</title>"
            f"<h1>{_escape(title)} {_escape(doc['number'])}</h1>"
            f"<p>Sprzedawca: {_escape(seller)}<br>Data wystawienia: {_escape(doc['invoice_date'])}<br>"
            f"Do zapłaty: {doc['gross_price'] / 100:.2f} {_escape(doc['currency'])}</p>"
            f'<p><a href="{_escape(token)}/pdf">Pobierz PDF</a></p></html>'
        )
        return Response(html, mimetype="text/html")

    def shared_invoice_pdf(self, token: str):
        found = self._shared(token)
        if found is None:
            return self.not_found()
        doc, account = found
        data = pdf_bytes(doc, self._seller(self._options(account)), "pl", "original")
        return Response(data, mimetype="application/pdf")

    # -- clients, products, bank accounts -----------------------------------------
    def list_clients(self):
        return self._list_collection("clients", parse_filters(request.args, CLIENT_FILTERS))

    def list_products(self):
        return self._list_collection("products", [])

    def list_bank_accounts(self):
        return self._list_collection("bank_accounts", [])

    def _list_collection(self, collection: str, filters) -> Response:
        offset, limit = paging(request.args)
        with self.runtime.store.transaction(write=False) as tx:
            records = [r for r in tx.select(self.name, g.sandbox_account, collection) if matches(r, filters)]
        page = records[offset : offset + limit]
        return jsonify(
            {
                "metainfo": _metainfo(len(page), len(records), offset, limit),
                "entities": [_public(r) for r in page],
            }
        )

    def create_client(self):
        return self._create_record("clients", "client", _client_record)

    def create_product(self):
        return self._create_record("products", "product", _product_record)

    def create_bank_account(self):
        return self._create_record("bank_accounts", "bank_account", _bank_record)

    def _create_record(self, collection: str, wrapper: str, build) -> Response:
        data = _json_body().get(wrapper)
        if not isinstance(data, dict):
            raise BadRequest(f"param is missing or the value is empty: {wrapper}")
        record, errors = build(data, {})
        if errors:
            return self._invalid(errors.fields)
        starts = {"clients": 1090001, "products": 5001, "bank_accounts": 301}
        with self.runtime.store.transaction() as tx:
            record_id = tx.next_value(self.name, "*", collection, start=starts[collection])
            record = {"id": record_id, **record}
            if collection == "bank_accounts":
                record["_verified"] = False  # only accounts verified in the app may go on invoices
                self._single_default(tx, record)
            tx.insert(self.name, g.sandbox_account, collection, record_id, record)
        return _json(_public(record), 201)

    def _single_default(self, tx: Transaction, record: dict) -> None:
        if not record.get("default"):
            return
        for other in tx.select(self.name, g.sandbox_account, "bank_accounts"):
            if other["id"] != record["id"] and other.get("default"):
                other["default"] = False
                tx.update(self.name, g.sandbox_account, "bank_accounts", other["id"], other)

    def client(self, ident: str):
        return self._record("clients", "client", ident, _client_record)

    def product(self, ident: str):
        return self._record("products", "product", ident, _product_record)

    def bank_account(self, ident: str):
        return self._record("bank_accounts", "bank_account", ident, _bank_record)

    def _record(self, collection: str, wrapper: str, ident: str, build) -> Response:
        record_id = _int_ident(ident)
        prefix = g.sandbox_account
        with self.runtime.store.transaction() as tx:
            record = tx.get(self.name, prefix, collection, record_id)
            if record is None:
                return self.not_found()
            if request.method == "GET":
                return jsonify(_public(record))
            if request.method == "DELETE":
                tx.delete(self.name, prefix, collection, record_id)
                return Response(status=204)
            data = _json_body().get(wrapper)
            if not isinstance(data, dict):
                raise BadRequest(f"param is missing or the value is empty: {wrapper}")
            updated, errors = build(data, record)
            if errors:
                return self._invalid(errors.fields)
            record.update(updated)
            if collection == "bank_accounts":
                self._single_default(tx, record)
            tx.update(self.name, prefix, collection, record_id, record)
        return jsonify(_public(record))

    # -- reference data and the account ---------------------------------------------
    def vat_rates(self):
        entities = [
            {
                "id": index,
                "symbol": rate,
                "name": VAT_RATE_NAMES.get(rate, f"{rate}%"),
                "rate": int(fraction * 100),
            }
            for index, (rate, fraction) in enumerate(RATE_FRACTIONS.items(), start=1)
        ]
        return jsonify(
            {"metainfo": _metainfo(len(entities), len(entities), 0, len(entities)), "entities": entities}
        )

    def vat_exemptions(self):
        entities = list(VAT_EXEMPTIONS)
        return jsonify(
            {"metainfo": _metainfo(len(entities), len(entities), 0, len(entities)), "entities": entities}
        )

    def selected_vat_exemptions(self):
        entities = [entry for entry in VAT_EXEMPTIONS if entry["id"] in SELECTED_EXEMPTIONS]
        return jsonify(
            {"metainfo": _metainfo(len(entities), len(entities), 0, len(entities)), "entities": entities}
        )

    def vat_exemption(self, ident: str):
        wanted = _int_ident(ident)
        entry = next((entry for entry in VAT_EXEMPTIONS if entry["id"] == wanted), None)
        return jsonify(entry) if entry else self.not_found()

    def account_details(self):
        options = g.options
        return jsonify(
            {
                "company_name": options["company_name"],
                "nip": options["nip"],
                "street": options["street"],
                "city": options["city"],
                "postal_code": options["postal_code"],
                "country": "PL",
                "email": f"biuro@{g.sandbox_account}.example",
                "currency": options["currency"],
            }
        )

    def account_activities(self):
        return jsonify({"metainfo": _metainfo(0, 0, 0, 10), "entities": []})

    # -- inspection -------------------------------------------------------------------
    def inspect_documents(self, account: str | None, args) -> list[dict]:
        """Documents for ``GET /_sandbox/infakt/documents``: ``account``, ``number``, ``kind``
        (``vat``/``proforma``/``correction``), ``uuid``, ``nip`` and ``oid`` (our reference found in the
        number, ``notes``, ``receipt_number`` or ``transaction_terms`` orders/contracts). Tasks that are
        due by time are finished first, as the service's background worker would have done."""
        with self.runtime.store.transaction() as tx:
            accounts = [a for a in tx.list_accounts(self.name) if account in (None, a.prefix)]
            for each in accounts:
                self._catch_up(tx, each.prefix, self._options(each))
            records = tx.select(
                self.name, account, "invoices", number=args.get("number"), ref=args.get("uuid")
            )
        out = []
        for doc in records:
            if args.get("kind") and doc["kind"] != args["kind"]:
                continue
            if args.get("nip") and digits(doc.get("client_tax_code")) != digits(args["nip"]):
                continue
            if args.get("oid") and not _mentions(doc, args["oid"]):
                continue
            rendered = self._render(doc)
            rendered["_sandbox"] = {
                "account": doc["_account"],
                "rate_totals": doc["_rate_totals"],
                "emails": doc["_emails"],
                "ksef": doc["_ksef"],
                "task_reference": doc["_task"],
            }
            out.append(rendered)
        return out


# ---------------------------------------------------------------------------
# records other than invoices


def _client_record(data: dict, current: dict) -> tuple[dict, Errors]:
    errors = Errors()
    merged = {
        **{key: current.get(key) for key in CLIENT_FIELDS},
        **{k: data[k] for k in CLIENT_FIELDS if k in data},
    }
    record = {key: _text(merged.get(key)) for key in CLIENT_FIELDS if key != "days_to_payment"}
    record["country"] = (record["country"] or "").upper() or None
    if record["country"] is None:
        errors.add("country", BLANK)
    elif not re.fullmatch(r"[A-Z]{2}", record["country"]):
        errors.add("country", INVALID)
    if not (record["company_name"] or (record["first_name"] and record["last_name"])):
        errors.add("company_name", BLANK)
    if record["country"] == "PL":
        if record["postal_code"] and not re.fullmatch(r"\d{2}-\d{3}", record["postal_code"]):
            errors.add("postal_code", "ma nieprawidłowy format (NN-NNN)")
        if record["nip"] and not valid_polish_nip(record["nip"].upper().removeprefix("PL")):
            errors.add("nip", "jest nieprawidłowym numerem NIP")
    if record["email"] and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", record["email"]):
        errors.add("email", INVALID)
    if record["payment_method"] and record["payment_method"] not in PAYMENT_METHODS:
        errors.add("payment_method", "Proszę wybrać odpowiedni sposób płatności.")
    if record["business_activity_kind"] and record["business_activity_kind"] not in BUSINESS_KINDS:
        errors.add("business_activity_kind", NOT_IN_LIST)
    record["days_to_payment"] = read_int(merged.get("days_to_payment"), "days_to_payment", errors)
    return record, errors


def _product_record(data: dict, current: dict) -> tuple[dict, Errors]:
    errors = Errors()
    merged = {
        **{key: current.get(key) for key in PRODUCT_FIELDS},
        **{k: data[k] for k in PRODUCT_FIELDS if k in data},
    }
    record = {key: _text(merged.get(key)) for key in ("name", "unit", "pkwiu", "cn", "pkob", "gtu_id")}
    if not record["name"]:
        errors.add("name", BLANK)
    record["unit"] = record["unit"] or "szt."
    record["unit_net_price"] = read_int(merged.get("unit_net_price"), "unit_net_price", errors)
    rate = normalise_tax_symbol(merged.get("tax_symbol") if merged.get("tax_symbol") is not None else "23")
    if rate is None:
        errors.add("tax_symbol", NOT_IN_LIST)
    record["tax_symbol"] = rate
    discount = merged.get("discount")
    record["discount"] = (
        float(discount) if isinstance(discount, (int, float)) and not isinstance(discount, bool) else None
    )
    return record, errors


def _bank_record(data: dict, current: dict) -> tuple[dict, Errors]:
    errors = Errors()
    merged = {
        **{key: current.get(key) for key in BANK_FIELDS},
        **{k: data[k] for k in BANK_FIELDS if k in data},
    }
    number = re.sub(r"\s", "", _text(merged.get("account_number")) or "").upper()
    if not number:
        errors.add("account_number", BLANK)
    elif number.removeprefix("PL").isdecimal():
        if len(number.removeprefix("PL")) != 26:
            errors.add("account_number", "musi mieć 26 cyfr")
        number = number.removeprefix("PL")
    elif not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", number):
        errors.add("account_number", INVALID)
    record = {
        "account_number": number,
        "bank_name": _text(merged.get("bank_name")),
        "swift": _text(merged.get("swift")),
        "currency": (_text(merged.get("currency")) or "PLN").upper(),
        "custom_name": _text(merged.get("custom_name")),
        "default": _truthy(merged.get("default") or False),
    }
    return record, errors


# ---------------------------------------------------------------------------
# helpers


def _json(body, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _json_body() -> dict:
    if not request.get_data(cache=True).strip():
        return {}
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise BadRequest("Nieprawidłowy JSON w treści żądania.")
    return body


def _api_path() -> str:
    prefix = f"/infakt{API_ROOT}/"
    return request.path.removeprefix(prefix) if request.path.startswith(prefix) else ""


def _int_ident(ident: str) -> int:
    if not re.fullmatch(r"\d+", ident):
        raise BadRequest(f"Nieprawidłowy typ identyfikatora w adresie: {ident!r} (oczekiwano liczby).", 406)
    return int(ident)


def _query_date(name: str) -> date | None:
    value = request.args.get(name)
    if not value:
        return None
    errors = Errors()
    parsed = read_date(value, name, errors)
    if errors:
        raise BadRequest(f"Nieprawidłowa wartość parametru {name}: oczekiwano daty RRRR-MM-DD.")
    return parsed


def _metainfo(count: int, total: int, offset: int, limit: int) -> dict:
    def link(new_offset: int) -> str:
        args = request.args.to_dict(flat=False)
        args["offset"], args["limit"] = [str(new_offset)], [str(limit)]
        query = "&".join(f"{_quote(k)}={_quote(v)}" for k, values in args.items() for v in values)
        return f"{request.base_url}?{query}"

    return {
        "count": count,
        "total_count": total,
        "next": link(offset + limit) if offset + limit < total else None,
        "previous": link(max(offset - limit, 0)) if offset > 0 else None,
    }


def _quote(value: str) -> str:
    return quote(value, safe="[]")


def _public(record: dict) -> dict:
    return {key: value for key, value in record.items() if not key.startswith("_")}


def _text(value) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "t", "on"}


def _plain(value):
    """JSON-safe copy of a payload (it is stored as it came)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _in_ksef(doc: dict) -> bool:
    return (doc.get("_ksef") or {}).get("status") in ("sent", "success")


def _account_draft(doc: dict) -> None:
    if doc["status"] == "draft":
        doc["status"] = "printed"


def _new_ksef_state() -> dict:
    now = _now_display()
    return {
        "request_uuid": str(uuid_module.uuid4()),
        "status": "sent",
        "ksef_number": None,
        "reads": 0,
        "error": None,
        "sent_at": now,
        "updated_at": now,
    }


def _share_body(url: str | None, share: dict) -> dict:
    return {"share_link": url, "expiration_date": share["expiration_date"]}


def _mentions(doc: dict, reference: str) -> bool:
    terms = doc.get("transaction_terms") or {}
    numbers = [entry["number"] for key in ("orders", "contracts") for entry in terms.get(key, [])]
    return (
        doc["number"] == reference
        or doc.get("receipt_number") == reference
        or reference in numbers
        or reference in (doc.get("notes") or "")
    )


def _escape(value: str) -> str:
    return escape(str(value))


def _today() -> date:
    return datetime.now(WARSAW).date()


def _now_display() -> str:
    """Timestamps as the service prints them: ``2023-11-24 08:02:01 +0100``."""
    return datetime.now(WARSAW).strftime("%Y-%m-%d %H:%M:%S %z")


EMULATOR = InfaktEmulator
