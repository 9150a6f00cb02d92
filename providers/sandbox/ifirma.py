"""iFirma.pl ("iapi") emulator, mounted at ``/ifirma``.

Written from the API contract notes alone. The real base URL is
``https://www.ifirma.pl/iapi``; a client of the sandbox uses
``http://HOST:PORT/ifirma/iapi`` (e.g. ``POST http://127.0.0.1:5050/ifirma/iapi/fakturakraj.json``).
There is no account in the path: the account is found from the login in the
``Authentication: IAPIS user=<login>, hmac-sha1=<hex>`` header, and the digest is
checked against the URL the sandbox received (scheme, host, port and path, no
query), the login, the key name of the resource and the raw body.

Accounts — ``POST /_sandbox/ifirma/accounts {"prefix", "api_token", "options"}``:
``api_token`` is the account's ``faktura`` key (hex, e.g. ``EAB0D8ACF3308F3B``). Options:

- ``login`` — the user's login (default: the prefix); unique among iFirma accounts.
- ``key_faktura`` (default: ``api_token``), ``key_abonent``, ``key_rachunek``, ``key_wydatek`` —
  one hex key per resource kind; a key that is null/absent was "never generated" (``Kod 402``).
  ``faktura``: invoices, contractors, payments, VAT dictionary, KSeF; ``abonent``:
  ``abonent/*`` (accounting month, API limit); ``rachunek``: ``rachunekkraj``.
- ``signed_url`` — ``"received"`` (default: the URL as received) or ``"canonical"``
  (``https://www.ifirma.pl/iapi/…``, so the contract's test vectors verify).
- ``auth_http_errors`` — false (default): auth refusals are HTTP 200 + ``Kod``; true: HTTP 4xx.
- ``accounting_month`` — ``"YYYY-MM"``, the open accounting month (default: the current month
  in Europe/Warsaw until the month is moved with ``PUT abonent/miesiacksiegowy.json``).
- ``rate_limit_per_minute`` (default 100), ``rate_limit_per_day`` (default 15000) — per user;
  null switches a cap off. Past a cap: HTTP 429, ``Retry-After``, ``Kod 429``.
- ``vat_payer`` — true (default); false: a non-VAT payer (``LiczOd: BRT``, exempt lines only).
- ``api_access`` / ``terms_accepted`` — true (default); false gives ``Kod 500`` / ``Kod 499``.
- ``company_name``, ``nip`` — the seller printed on PDFs.
- ``series`` — numbering series ``[{"name", "template", "period": "month"|"year"}]``; default
  ``default`` (``{symbol} {nr}/{mm}/{rrrr}``, monthly), ``SKLEP`` (``{symbol} {nr}/{mm}/{rrrr}/SKLEP``)
  and ``ROCZNA`` (``{symbol} {nr}/{rrrr}``, yearly). ``{symbol}`` is the kind's letters (FV, FW, R, KOR…).

Demo account (exists from the start): prefix ``demo``, login ``demo@sandbox.ifirma.example``,
keys faktura ``DEADBEEF0000FA01``, abonent ``DEADBEEF0000AB01``, rachunek ``DEADBEEF0000BC01``.

Endpoints (under ``/ifirma/iapi``): ``POST {resource}.json`` for each document kind
(``fakturakraj``, ``fakturawysylka``, ``fakturaparagon``, ``fakturaproformakraj``, ``fakturazaliczka``,
``fakturawaluta``, ``fakturametodakasowa``, ``fakturaeksporttowarow``, ``fakturawdt``,
``fakturaeksportuslug``, ``fakturaeksportuslugue``, ``fakturaoss``, ``fakturaioss``,
``fakturaproformaeksport``, ``rachunekkraj``); ``GET {resource}/{id|number}.json`` and
``.pdf`` / ``.pdf.single`` / ``.pdf.oryg`` (number with ``/`` written as ``_``);
``POST fakturakraj/korekta/{id|number}.json`` (correction; read back with ``GET fakturakraj/korekta/{id}.json``);
``GET faktury.json`` / ``proformy.json`` (``dataOd`` required); ``POST {resource}/send/{id}.json``;
``POST {resource}/ksef/send/{id}.json``; ``POST faktury/wplaty/{typ}/{id|number}.json``;
``GET kontrahenci/{phrase}.json``, ``POST kontrahenci.json``, ``PUT kontrahenci/{Identyfikator}.json``;
``GET|PUT abonent/miesiacksiegowy.json``; ``GET abonent/limit.json``; ``GET slownik/stawki_vat/{KOD}.json``.
Booked documents must be issued in the open accounting month and not before the previous document
of their series; pro formas are not booked (inferred), so neither rule applies to them.
A currency invoice (``fakturawaluta``) needs ``TypSprzedazy`` and ``Waluta`` (a known ISO 4217 code,
not PLN); its rate ``KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury``, when given, must be above
zero. Its amounts are in that currency, it is numbered ``FWAL …`` and its PDF names the currency.
Inspection: ``GET /_sandbox/ifirma/documents?account=&number=&kind=&ref=&id=`` where ``kind`` is a
resource or list type and ``ref`` (alias ``oid``) our reference, taken from a ``DodatkoweUwagi``
``NUMER_ZAMOWIENIA`` note or found in ``Uwagi``; each document has a ``_sandbox`` block with the
per-rate totals, payments, outbox and KSeF requests.

Responses are the service's envelope ``{"response": {"Kod": 0, "Informacja": …}}`` with HTTP 200
(a read of one document puts its fields directly under ``response``). Not documented by the
contract and chosen here: an unknown document or path is HTTP 404 with ``Kod 500``; a cap is
HTTP 429 with ``Kod 429``. Document rules live in ``ifirma_documents``, signing in ``ifirma_auth``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import quote, urlsplit

from flask import Blueprint, Response, g, jsonify, request

from .faults import retry_after_header
from .ifirma_auth import (
    AUTH_HTTP_STATUS,
    AUTH_MESSAGES,
    BAD_HASH,
    BAD_HEADER,
    KEY_NAMES,
    NO_KEY,
    NO_RIGHT,
    TERMS,
    UNKNOWN_USER,
    WARSAW,
    RequestLimiter,
    digest_matches,
    is_hex_key,
    key_name_for,
    parse_header,
    sign,
)
from .ifirma_documents import (
    CONTRACTOR_FIELDS,
    CORRECTION,
    KINDS,
    KSEF_FIELDS,
    MONTH_FIELDS,
    PAYMENT_FIELDS,
    SEND_FIELDS,
    SENDABLE,
    StructureError,
    as_date,
    nip_digits,
    number_period,
    rate_totals,
    read_contractor,
    read_correction,
    read_document,
    read_fields,
    render_number,
    require,
)
from .money import money_str, parse_decimal
from .pdf import PdfDocument, PdfLine, render_pdf
from .service import EmulatedService
from .store import Account, Transaction

CANONICAL_ORIGIN = "https://www.ifirma.pl"
DEFAULT_SERIES = (
    {"name": "default", "template": "{symbol} {nr}/{mm}/{rrrr}", "period": "month"},
    {"name": "SKLEP", "template": "{symbol} {nr}/{mm}/{rrrr}/SKLEP", "period": "month"},
    {"name": "ROCZNA", "template": "{symbol} {nr}/{rrrr}", "period": "year"},
)
DEFAULT_OPTIONS = {
    "login": None,
    "key_faktura": None,
    "key_abonent": None,
    "key_rachunek": None,
    "key_wydatek": None,
    "signed_url": "received",
    "auth_http_errors": False,
    "accounting_month": None,
    "rate_limit_per_minute": 100,
    "rate_limit_per_day": 15000,
    "vat_payer": True,
    "api_access": True,
    "terms_accepted": True,
    "company_name": None,
    "nip": "5252344078",
    "series": None,
}
BOOL_OPTIONS = ("auth_http_errors", "vat_payer", "api_access", "terms_accepted")
DEMO_LOGIN = "demo@sandbox.ifirma.example"
DEMO_KEYS = {
    "key_faktura": "DEADBEEF0000FA01",
    "key_abonent": "DEADBEEF0000AB01",
    "key_rachunek": "DEADBEEF0000BC01",
}

PAYMENT_NAMES = {
    "GTK": "gotówka",
    "POB": "za pobraniem",
    "PRZ": "przelew",
    "KAR": "karta",
    "PZA": "polecenie zapłaty",
    "CZK": "czek",
    "KOM": "kompensata",
    "BAR": "barter",
    "DOT": "DotPay",
    "PAL": "PayPal",
    "ALG": "PayU",
    "P24": "Przelewy24",
    "TPA": "tpay.com",
    "ELE": "płatność elektroniczna",
}
CORRECTION_REASON_TEXT = {
    "OBOW_RABAT": "udzielenie obowiązkowych rabatów",
    "ZWR_SPRZ_TOW": "zwrot sprzedanych towarów",
    "ZWR_NAB_KWOT": "zwrot nabywcy kwot nienależnych",
    "ZWR_NAB_ZAL": "zwrot nabywcy zaliczek",
    "PODW_CENY": "podwyższenie ceny",
    "POMYLKI": "pomyłka w cenie, stawce, kwocie podatku lub pozycji",
}
LIST_STATUSES = ("przeterminowane", "nieoplacone", "oplaconeCzesciowo", "oplacone")
PER_PAGE_DEFAULT, PER_PAGE_MAX = 20, 100
CONTRACTOR_SEARCH_MAX = 20
#: EU VAT dictionary (slownik/stawki_vat): a few countries, rates as fractions
VAT_DICTIONARY = {
    "PL": ("Polska", (("PODSTAWOWA", "0.23"), ("OBNIZONA", "0.08"), ("OBNIZONA", "0.05"))),
    "DE": ("Niemcy", (("PODSTAWOWA", "0.19"), ("OBNIZONA", "0.07"))),
    "CZ": ("Czechy", (("PODSTAWOWA", "0.21"), ("OBNIZONA", "0.12"))),
    "SK": ("Słowacja", (("PODSTAWOWA", "0.23"), ("OBNIZONA", "0.19"), ("OBNIZONA", "0.05"))),
    "FR": ("Francja", (("PODSTAWOWA", "0.20"), ("OBNIZONA", "0.10"), ("OBNIZONA", "0.055"))),
    "EL": ("Grecja", (("PODSTAWOWA", "0.24"), ("OBNIZONA", "0.13"), ("OBNIZONA", "0.06"))),
    "LT": ("Litwa", (("PODSTAWOWA", "0.21"), ("OBNIZONA", "0.09"), ("OBNIZONA", "0.05"))),
}
NOT_FOUND_MESSAGE = "Brak uprawnień do zasobu lub zasób nie istnieje."
LIMIT_MESSAGE = "Przekroczono limit zapytań API. Spróbuj ponownie za {} s."


class Refusal(Exception):
    """An answer with ``Kod`` ≠ 0 (HTTP 200 unless said otherwise)."""

    def __init__(self, kod: int, message: str, status: int = 200):
        super().__init__(message)
        self.kod, self.message, self.status = kod, message, status


class IfirmaEmulator(EmulatedService):
    name = "ifirma"
    document_collection = "documents"
    demo_accounts = (("demo", DEMO_KEYS["key_faktura"]),)

    def __init__(self, runtime):
        super().__init__(runtime)
        self.limiter = RequestLimiter()

    # -- the envelope -----------------------------------------------------------
    def error_response(self, message, status: int) -> Response:
        return _envelope({"Kod": 500, "Informacja": message}, status)

    def unauthorized(self) -> Response:
        options = getattr(g, "ifirma_options", None) or {}
        return self._auth_refusal(BAD_HASH, options)

    def throttled(self, retry_after: float) -> Response:
        seconds = retry_after_header(retry_after)
        response = _envelope({"Kod": 429, "Informacja": LIMIT_MESSAGE.format(seconds)}, 429)
        response.headers["Retry-After"] = seconds
        return response

    def not_found(self) -> Response:
        return _envelope({"Kod": 500, "Informacja": NOT_FOUND_MESSAGE}, 404)

    def _refused(self, refusal: Refusal) -> Response:
        call = g.get("sandbox_call")
        if call is not None:
            call.hold_seconds = 0  # nothing was stored, so there is nothing to time out after
        return _envelope({"Kod": refusal.kod, "Informacja": refusal.message}, refusal.status)

    # -- accounts -----------------------------------------------------------------
    def check_account_options(self, options: dict) -> str | None:
        unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
        if unknown:
            return f"unknown options: {', '.join(unknown)}"
        for name in (f"key_{key}" for key in KEY_NAMES):
            if options.get(name) is not None and not is_hex_key(options[name]):
                return f"{name} must be a hex key such as EAB0D8ACF3308F3B (or null: not generated)"
        body = request.get_json(force=True, silent=True) or {}
        if "key_faktura" not in options and not is_hex_key(body.get("api_token")):
            return "api_token is the account's 'faktura' key and must be hex, e.g. EAB0D8ACF3308F3B"
        for name in BOOL_OPTIONS:
            if name in options and not isinstance(options[name], bool):
                return f"{name} must be true or false"
        if options.get("signed_url", "received") not in ("received", "canonical"):
            return "signed_url must be 'received' or 'canonical'"
        month = options.get("accounting_month")
        if month is not None and _parse_month(month) is None:
            return "accounting_month must look like 2026-03"
        for name in ("rate_limit_per_minute", "rate_limit_per_day"):
            value = options.get(name, 1)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                return f"{name} must be a positive integer or null (no cap)"
        if "series" in options and options["series"] is not None and _series_problem(options["series"]):
            return _series_problem(options["series"])
        login = options.get("login")
        if login is not None and (not isinstance(login, str) or not login.strip() or " " in login):
            return "login must be a non-empty text without spaces"
        wanted = (login or body.get("prefix") or "").lower()
        with self.runtime.store.transaction(write=False) as tx:
            for account in tx.list_accounts(self.name):
                if account.prefix != body.get("prefix") and self._options(account)["login"].lower() == wanted:
                    return f"login {wanted!r} is already used by account {account.prefix!r}"
        return None

    def ensure_demo_accounts(self, tx: Transaction) -> None:
        # Runs at start-up and on /_sandbox/reset: the request windows start empty too.
        self.limiter.clear()
        if tx.get_account(self.name, "demo") is None:
            tx.put_account(self.name, "demo", DEMO_KEYS["key_faktura"], {"login": DEMO_LOGIN, **DEMO_KEYS})

    def _options(self, account: Account) -> dict:
        options = {**DEFAULT_OPTIONS, **account.options}
        if "key_faktura" not in account.options:
            options["key_faktura"] = account.api_token
        options["login"] = options["login"] or account.prefix
        options["company_name"] = options["company_name"] or f"Sandbox {account.prefix} sp. z o.o."
        options["series"] = options["series"] or [dict(series) for series in DEFAULT_SERIES]
        return options

    # -- authentication -------------------------------------------------------------
    def account_key(self) -> str:
        """Find the account from the header's login (there is no account in the path)."""
        credentials = parse_header(request.headers.get("Authentication"))
        account = self._account_by_login(credentials.user) if credentials else None
        g.ifirma_credentials, g.ifirma_account = credentials, account
        g.ifirma_options = self._options(account) if account else None
        g.sandbox_account = account.prefix if account else "-"
        return g.sandbox_account

    def _account_by_login(self, login: str) -> Account | None:
        with self.runtime.store.transaction(write=False) as tx:
            accounts = tx.list_accounts(self.name)
        return next(
            (account for account in accounts if self._options(account)["login"].lower() == login.lower()),
            None,
        )

    def authenticate(self) -> Response | None:
        credentials, account, options = g.ifirma_credentials, g.ifirma_account, g.ifirma_options
        if credentials is None:
            return self._auth_refusal(BAD_HEADER, {})
        if account is None:
            return self._auth_refusal(UNKNOWN_USER, {})
        key_name = key_name_for(self._resource_path())
        key = options[f"key_{key_name}"]
        if credentials.method != "hmac-sha1" or not key:
            # The sandbox knows no uploaded RSA keys: an RSA signature has no key to check against.
            return self._auth_refusal(
                NO_KEY, options, key_name if credentials.method == "hmac-sha1" else "rsa"
            )
        expected = sign(
            self._signed_url(options), credentials.user, key_name, request.get_data(cache=True), key
        )
        if not digest_matches(expected, credentials.value):
            return self._auth_refusal(BAD_HASH, options)
        if not options["terms_accepted"]:
            return self._auth_refusal(TERMS, options)
        if not options["api_access"]:
            return self._auth_refusal(NO_RIGHT, options)
        wait = self.limiter.admit(
            account.prefix, options["rate_limit_per_minute"], options["rate_limit_per_day"]
        )
        if wait is not None:
            return self.throttled(wait)
        return None

    def _auth_refusal(self, kod: int, options: dict, key_name: str = "") -> Response:
        status = AUTH_HTTP_STATUS[kod] if options.get("auth_http_errors") else 200
        return _envelope({"Kod": kod, "Informacja": AUTH_MESSAGES[kod].format(key=key_name)}, status)

    def _resource_path(self) -> str:
        """The path under ``/iapi/`` (e.g. ``fakturakraj/12.json``)."""
        prefix = f"/{self.name}/iapi/"
        return request.path.removeprefix(prefix)

    def _signed_url(self, options: dict) -> str:
        """The URL the client must have signed: as received, or on the canonical host."""
        path = _raw_path()
        if options["signed_url"] == "canonical":
            mount = f"{request.script_root}/{self.name}"
            return CANONICAL_ORIGIN + (path[len(mount) :] if path.startswith(mount + "/") else path)
        return f"{request.scheme}://{request.host}{path}"

    # -- blueprint ---------------------------------------------------------------------
    def build_blueprint(self) -> Blueprint:
        bp = Blueprint(self.name, __name__, url_prefix="/iapi")
        kinds = ",".join(KINDS)
        sendable = ",".join(SENDABLE)

        @bp.errorhandler(Refusal)
        def refused(error: Refusal):
            return self._refused(error)

        @bp.errorhandler(StructureError)
        def unmappable(error: StructureError):
            return self._refused(Refusal(200, error.message))

        @bp.errorhandler(404)
        def not_found(_error):
            return self.not_found()

        rule = bp.add_url_rule
        rule(f"/<any({kinds}):resource>.json", "create_document", self.create_document, methods=["POST"])
        rule(f"/<any({kinds}):resource>/<ident>.json", "get_document", self.get_document)
        for suffix, variant in ((".pdf", "pdf"), (".pdf.single", "single"), (".pdf.oryg", "oryg")):
            rule(
                f"/<any({kinds}):resource>/<ident>{suffix}",
                f"document_pdf_{variant}",
                self.document_pdf,
                defaults={"variant": variant},
            )
            rule(
                f"/fakturakraj/korekta/<ident>{suffix}",
                f"correction_pdf_{variant}",
                self.document_pdf,
                defaults={"variant": variant, "resource": CORRECTION.resource},
            )
        rule(f"/<any({sendable}):resource>/send/<ident>.json", "send", self.send_document, methods=["POST"])
        rule(
            f"/<any({kinds}):resource>/ksef/send/<ident>.json", "ksef_send", self.ksef_send, methods=["POST"]
        )
        rule(
            "/fakturakraj/korekta/ksef/send/<ident>.json",
            "correction_ksef_send",
            self.ksef_send,
            methods=["POST"],
            defaults={"resource": CORRECTION.resource},
        )
        rule(
            "/fakturakraj/korekta/<ident>.json", "create_correction", self.create_correction, methods=["POST"]
        )
        rule(
            "/fakturakraj/korekta/<ident>.json",
            "get_correction",
            self.get_document,
            defaults={"resource": CORRECTION.resource},
        )
        rule("/faktury.json", "list_invoices", self.list_documents, defaults={"proformas": False})
        rule("/proformy.json", "list_proformas", self.list_documents, defaults={"proformas": True})
        rule("/faktury/wplaty/<typ>/<ident>.json", "add_payment", self.add_payment, methods=["POST"])
        rule("/kontrahenci/<phrase>.json", "find_contractors", self.find_contractors)
        rule("/kontrahenci.json", "create_contractor", self.create_contractor, methods=["POST"])
        rule("/kontrahenci/<ident>.json", "update_contractor", self.update_contractor, methods=["PUT"])
        rule("/abonent/miesiacksiegowy.json", "get_month", self.get_month)
        rule("/abonent/miesiacksiegowy.json", "move_month", self.move_month, methods=["PUT"])
        rule("/abonent/limit.json", "api_limit", self.api_limit)
        rule("/slownik/stawki_vat/<country>.json", "vat_rates", self.vat_rates)
        return bp

    # -- documents: create -------------------------------------------------------------
    def create_document(self, resource: str):
        kind = KINDS[resource]
        options, prefix = g.ifirma_options, g.sandbox_account
        draft = read_document(kind, _body(), options["vat_payer"])
        with self.runtime.store.transaction() as tx:
            problems = list(draft.problems)
            series_name = draft.header.get("NazwaSeriiNumeracji") or "default"
            series = _find_series(options, series_name, problems)
            issued = as_date(draft.header.get("DataWystawienia"))
            if kind.accounting and issued:
                self._check_open_month(tx, prefix, options, issued, problems)
                self._check_chronology(tx, prefix, kind, series_name, issued, problems)
            existing, new_buyer = self._resolve_buyer(tx, prefix, draft.buyer, draft.header, problems)
            requested = draft.header.get("Numer")
            if requested is not None and requested < 1:
                problems.append("Pole Numer musi być dodatnią liczbą całkowitą albo null (kolejny numer).")
            if problems:
                raise Refusal(201, "\n".join(problems))
            number, full_number = self._assign_number(
                tx, prefix, kind, series_name, series, requested, issued
            )
            buyer = existing or self._insert_contractor(tx, prefix, new_buyer)
            doc = self._new_document(tx, prefix, kind, series_name, number, full_number, buyer, draft)
        self.document_stored(prefix)
        return _envelope(
            {"Kod": 0, "Informacja": "Dokument został pomyślnie dodany.", "Identyfikator": doc["_id"]}
        )

    def _new_document(self, tx, prefix, kind, series_name, number, full_number, buyer, draft) -> dict:
        doc_id = tx.next_value(self.name, "*", "documents", start=34500001)
        header = _jsonable(draft.header)
        header["NazwaSeriiNumeracji"] = series_name
        if kind.vat and kind.domestic and header.get("ZaplaconoNaDokumencie") is None:
            header["ZaplaconoNaDokumencie"] = header.get("Zaplacono") or 0
        reference = _reference(header)
        doc = {
            "PelnyNumer": full_number,
            "Numer": number,
            **{key: value for key, value in header.items() if key != "Numer"},
            **_buyer_fields(buyer),
            "WpisDoEwidencji": kind.accounting,
            "Pozycje": _jsonable(draft.lines),
            "_id": doc_id,
            "_account": prefix,
            "_resource": kind.resource,
            "_list_type": kind.list_type,
            "_series": series_name,
            "_reference": reference,
            "_created_at": _now(),
            "_rate_totals": draft.rate_totals,
            "_totals": draft.totals,
            "_current_lines": _jsonable(draft.lines),
            "_current_rate_totals": draft.rate_totals,
            "_payments": [],
            "_outbox": [],
            "_ksef": [],
            "_corrections": [],
        }
        tx.insert(self.name, prefix, "documents", doc_id, doc, number=full_number, ref=reference)
        return doc

    def _check_open_month(self, tx, prefix: str, options: dict, issued: date, problems: list[str]) -> None:
        year, month = self._open_month(tx, prefix, options)
        if (issued.year, issued.month) != (year, month):
            problems.append(
                f"Data wystawienia {issued.isoformat()} jest poza bieżącym miesiącem księgowym "
                f"({month:02d}/{year}). Zmień miesiąc księgowy lub datę wystawienia."
            )

    def _check_chronology(self, tx, prefix, kind, series_name, issued: date, problems: list[str]) -> None:
        dates = [
            doc["DataWystawienia"]
            for doc in tx.select(self.name, prefix, "documents")
            if doc["_resource"] == kind.resource and doc["_series"] == series_name
        ]
        latest = max(dates, default=None)
        if latest and issued.isoformat() < latest:
            problems.append(
                "Data wystawienia nie może być wcześniejsza niż data wystawienia poprzedniego "
                f"dokumentu w serii {series_name} ({latest})."
            )

    def _assign_number(self, tx, prefix, kind, series_name, series, requested, issued) -> tuple[int, str]:
        """Next free number of (series, kind, period), or the requested one if it is free."""
        taken = {
            doc["PelnyNumer"]
            for doc in tx.select(self.name, prefix, "documents")
            if doc["_resource"] == kind.resource
        }
        if requested is not None:
            full = render_number(series["template"], requested, kind.symbol, issued)
            if full in taken:
                raise Refusal(201, f"Dokument o numerze {full} już istnieje w serii {series_name}.")
            return requested, full
        scope = f"{prefix}:{series_name}:{kind.resource}:{number_period(series['period'], issued)}"
        while True:
            number = tx.next_value(self.name, scope, "number")
            full = render_number(series["template"], number, kind.symbol, issued)
            if full not in taken:
                return number, full

    # -- contractors ------------------------------------------------------------------
    def _resolve_buyer(self, tx, prefix, buyer, header, problems) -> tuple[dict | None, dict | None]:
        """(existing contractor, new contractor to create) for a document's buyer."""
        contractors = tx.select(self.name, prefix, "contractors")
        if buyer is None:
            ident, nip = header.get("IdentyfikatorKontrahenta"), header.get("NIPKontrahenta")
            if ident:
                found = next((c for c in contractors if c["Identyfikator"] == ident), None)
                if found is None:
                    problems.append(f"Nie znaleziono kontrahenta o identyfikatorze '{ident}'.")
                return found, None
            eu_prefix = header.get("PrefiksUEKontrahenta")
            found = next(
                (
                    c
                    for c in contractors
                    if nip_digits(c.get("NIP")) == nip_digits(nip)
                    and (not eu_prefix or c.get("PrefiksUE") == eu_prefix)
                ),
                None,
            )
            if found is None:
                problems.append(f"Nie znaleziono kontrahenta o numerze NIP '{nip}'.")
            return found, None
        ident = buyer.get("Identyfikator")
        if ident:
            found = next((c for c in contractors if c["Identyfikator"] == ident), None)
            return (found, None) if found else (None, buyer)
        if buyer.get("NIP"):
            found = next(
                (c for c in contractors if nip_digits(c.get("NIP")) == nip_digits(buyer["NIP"])), None
            )
        else:
            address = _address_key(buyer)
            found = next((c for c in contractors if not c.get("NIP") and _address_key(c) == address), None)
        return (found, None) if found else (None, buyer)

    def _insert_contractor(self, tx, prefix: str, buyer: dict) -> dict:
        record = {name: buyer.get(name) for name in CONTRACTOR_FIELDS}
        taken = {c["Identyfikator"] for c in tx.select(self.name, prefix, "contractors")}
        record["Identyfikator"] = record["Identyfikator"] or _new_identifier(record["Nazwa"], taken)
        record_id = tx.next_value(self.name, "*", "contractors", start=1001)
        record["_id"] = record_id
        tx.insert(
            self.name,
            prefix,
            "contractors",
            record_id,
            record,
            ref=record["Identyfikator"],
            number=nip_digits(record["NIP"]),
        )
        return record

    def find_contractors(self, phrase: str):
        needle = phrase.strip().lower()
        digits = nip_digits(phrase) if re.search(r"\d", phrase) else None
        with self.runtime.store.transaction(write=False) as tx:
            contractors = tx.select(self.name, g.sandbox_account, "contractors")
        found = [
            c
            for c in contractors
            if needle in (c["Identyfikator"] or "").lower()
            or needle in (c["Nazwa"] or "").lower()
            or (digits and digits in nip_digits(c.get("NIP")))
        ]
        if not found:
            raise Refusal(208, f"Nie znaleziono kontrahentów dla frazy '{phrase}'.")
        return _envelope(
            {"Kod": 0, "Informacja": "", "Wynik": [_public(c) for c in found[:CONTRACTOR_SEARCH_MAX]]}
        )

    def create_contractor(self):
        problems: list[str] = []
        buyer = read_contractor(_body(), "", problems)
        with self.runtime.store.transaction() as tx:
            taken = {c["Identyfikator"] for c in tx.select(self.name, g.sandbox_account, "contractors")}
            if buyer.get("Identyfikator") in taken:
                problems.append(f"Kontrahent o identyfikatorze '{buyer['Identyfikator']}' już istnieje.")
            if problems:
                raise Refusal(201, "\n".join(problems))
            record = self._insert_contractor(tx, g.sandbox_account, buyer)
        return _envelope(
            {"Kod": 0, "Informacja": "Kontrahent został dodany.", "Identyfikator": record["Identyfikator"]}
        )

    def update_contractor(self, ident: str):
        """PUT replaces the whole record: a field left out is erased."""
        problems: list[str] = []
        buyer = read_contractor(_body(), "", problems)
        if buyer.get("Identyfikator") not in (None, ident):
            problems.append("Identyfikatora kontrahenta nie można zmienić.")
        with self.runtime.store.transaction() as tx:
            found = tx.select(self.name, g.sandbox_account, "contractors", ref=ident)
            if not found:
                return self.not_found()
            if problems:
                raise Refusal(201, "\n".join(problems))
            record = {name: buyer.get(name) for name in CONTRACTOR_FIELDS}
            record["Identyfikator"], record["_id"] = ident, found[0]["_id"]
            tx.update(
                self.name,
                g.sandbox_account,
                "contractors",
                record["_id"],
                record,
                ref=ident,
                number=nip_digits(record["NIP"]),
            )
        return _envelope({"Kod": 0, "Informacja": "Kontrahent został zmieniony."})

    # -- documents: read ---------------------------------------------------------------
    def _find(self, tx: Transaction, resource: str, ident: str) -> dict | None:
        """A document of this resource by numeric id or by its number with ``/`` written as ``_``."""
        prefix = g.sandbox_account
        if ident.isdecimal():
            doc = tx.get(self.name, prefix, "documents", int(ident))
            candidates = [doc] if doc else []
        else:
            candidates = tx.select(self.name, prefix, "documents", number=ident.replace("_", "/"))
        return next((doc for doc in candidates if doc["_resource"] == resource), None)

    def get_document(self, resource: str, ident: str):
        with self.runtime.store.transaction(write=False) as tx:
            doc = self._find(tx, resource, ident)
        if doc is None:
            return self.not_found()
        return _envelope(_public(doc))

    def document_pdf(self, resource: str, ident: str, variant: str):
        with self.runtime.store.transaction(write=False) as tx:
            doc = self._find(tx, resource, ident)
        if doc is None:
            return self.not_found()
        copy = (
            "DUPLIKAT"
            if request.args.get("typ") == "dup"
            else ("ORYGINAŁ/KOPIA" if variant == "pdf" else "ORYGINAŁ")
        )
        pdf = render_pdf(self._pdf_document(doc, copy))
        filename = re.sub(r"[^A-Za-z0-9._-]+", "_", doc["PelnyNumer"])
        response = Response(pdf, mimetype="application/pdf")
        response.headers["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
        return response

    def list_documents(self, proformas: bool):
        args = request.args
        start = as_date(args.get("dataOd"))
        if start is None:
            raise Refusal(201, "Parametr dataOd jest wymagany (format RRRR-MM-DD).")
        end = as_date(args.get("dataDo")) or start + timedelta(days=30)
        try:
            low, high = parse_decimal(args.get("kwotaOd")), parse_decimal(args.get("kwotaDo"))
        except ValueError:
            raise Refusal(201, "Parametry kwotaOd i kwotaDo muszą być liczbami.") from None
        types = _csv(args.get("typ"))
        statuses = _csv(args.get("status"))
        unknown = [status for status in statuses if status not in LIST_STATUSES]
        if unknown:
            raise Refusal(201, f"Nieznany status '{unknown[0]}' (dozwolone: {', '.join(LIST_STATUSES)}).")
        page = max(_int_arg("strona", 1), 1)
        per_page = min(max(_int_arg("iloscNaStronie", PER_PAGE_DEFAULT), 1), PER_PAGE_MAX)
        with self.runtime.store.transaction(write=False) as tx:
            docs = tx.select(self.name, g.sandbox_account, "documents")
        today = _today()
        found = []
        for doc in docs:
            kind = KINDS.get(doc["_resource"], CORRECTION)
            gross = Decimal(doc["_totals"]["gross"])
            if (
                kind.proforma != proformas
                or not start.isoformat() <= doc["DataWystawienia"] <= end.isoformat()
            ):
                continue
            if (low is not None and gross < low) or (high is not None and gross > high):
                continue
            if types and doc["_list_type"] not in types:
                continue
            if args.get("kontrahent") and doc.get("IdentyfikatorKontrahenta") != args["kontrahent"]:
                continue
            if args.get("nipKontrahenta") and nip_digits(doc.get("NIPKontrahenta")) != nip_digits(
                args["nipKontrahenta"]
            ):
                continue
            if statuses and not set(statuses) & _payment_statuses(doc, gross, today):
                continue
            found.append(doc)
        found.sort(key=lambda doc: (doc["DataWystawienia"], doc["_id"]))
        chosen = found[(page - 1) * per_page : page * per_page]
        return _envelope({"Kod": 0, "Informacja": "", "Wynik": [_list_item(doc) for doc in chosen]})

    # -- corrections ------------------------------------------------------------------
    def create_correction(self, ident: str):
        options, prefix = g.ifirma_options, g.sandbox_account
        body = _body()
        with self.runtime.store.transaction() as tx:
            original = self._find(tx, "fakturakraj", ident)
            if original is None:
                return self.not_found()
            draft = read_correction(body, original, options["vat_payer"])
            problems = list(draft.problems)
            series_name = draft.header.get("NazwaSeriiNumeracji") or "default"
            series = _find_series(options, series_name, problems)
            issued = as_date(draft.header.get("DataWystawienia"))
            if issued:
                self._check_open_month(tx, prefix, options, issued, problems)
                self._check_chronology(tx, prefix, CORRECTION, series_name, issued, problems)
            if problems:
                raise Refusal(201, "\n".join(problems))
            number, full_number = self._assign_number(
                tx, prefix, CORRECTION, series_name, series, None, issued
            )
            doc_id = tx.next_value(self.name, "*", "documents", start=34500001)
            header = _jsonable(draft.header)
            header["NazwaSeriiNumeracji"] = series_name
            inherited = {
                key: original.get(key)
                for key in (
                    "LiczOd",
                    "DataSprzedazy",
                    "SposobZaplaty",
                    "TerminPlatnosci",
                    "RodzajPodpisuOdbiorcy",
                )
            }
            doc = {
                "PelnyNumer": full_number,
                "Numer": number,
                **inherited,
                **header,
                "Kontrahent": original.get("Kontrahent"),
                **{
                    key: original.get(key)
                    for key in ("IdentyfikatorKontrahenta", "PrefiksUEKontrahenta", "NIPKontrahenta")
                },
                "WpisDoEwidencji": True,
                "Pozycje": _jsonable(draft.after),
                "_id": doc_id,
                "_account": prefix,
                "_resource": CORRECTION.resource,
                "_list_type": CORRECTION.list_type,
                "_series": series_name,
                "_reference": original.get("_reference"),
                "_created_at": _now(),
                "_rate_totals": draft.rate_totals,
                "_totals": draft.totals,
                "_before": original["_current_lines"],
                "_original": {
                    "id": original["_id"],
                    "PelnyNumer": original["PelnyNumer"],
                    "DataWystawienia": original["DataWystawienia"],
                },
                "_payments": [],
                "_outbox": [],
                "_ksef": [],
            }
            tx.insert(self.name, prefix, "documents", doc_id, doc, number=full_number, ref=doc["_reference"])
            original["_current_lines"] = _jsonable(draft.after)
            original["_current_rate_totals"] = _rate_totals_of(draft.after, original.get("LiczOd"))
            original["_corrections"].append(doc_id)
            tx.update(
                self.name,
                prefix,
                "documents",
                original["_id"],
                original,
                number=original["PelnyNumer"],
                ref=original["_reference"],
            )
        self.document_stored(prefix)
        return _envelope(
            {"Kod": 0, "Informacja": "Faktura korygująca została dodana.", "Identyfikator": doc_id}
        )

    # -- sending, KSeF, payments ------------------------------------------------------
    def send_document(self, resource: str, ident: str):
        problems: list[str] = []
        message = read_fields(_body(), SEND_FIELDS, "", problems)
        by_post = request.args.get("wyslijPoczta") == "true"
        with self.runtime.store.transaction() as tx:
            doc = self._find(tx, resource, ident)
            if doc is None:
                return self.not_found()
            recipient = message.get("SkrzynkaEmailOdbiorcy") or (doc.get("Kontrahent") or {}).get("Email")
            if not by_post and not recipient:
                problems.append(
                    "Brak adresu e-mail odbiorcy: podaj SkrzynkaEmailOdbiorcy lub e-mail kontrahenta."
                )
            if problems:
                raise Refusal(201, "\n".join(problems))
            doc["_outbox"].append(
                {
                    "channel": "post" if by_post else "email",
                    "efaktura": request.args.get("wyslijEfaktura") == "true",
                    "to": None if by_post else recipient,
                    **_jsonable(message),
                    "at": _now(),
                }
            )
            self._save(tx, doc)
        return _envelope({"Kod": 0, "Informacja": "Dokument został wysłany."})

    def ksef_send(self, resource: str, ident: str):
        problems: list[str] = []
        body = read_fields(_body(), KSEF_FIELDS, "", problems)
        with self.runtime.store.transaction() as tx:
            doc = self._find(tx, resource, ident)
            if doc is None:
                return self.not_found()
            kind = KINDS.get(resource, CORRECTION)
            if kind.proforma or not kind.vat:
                raise Refusal(201, f"Dokument {doc['PelnyNumer']} nie podlega wysyłce do KSeF.")
            if doc["_ksef"]:
                raise Refusal(201, f"Dokument {doc['PelnyNumer']} został już wysłany do KSeF.")
            if problems:
                raise Refusal(201, "\n".join(problems))
            doc["_ksef"].append({"requested_at": _now(), "DataWysylki": body.get("DataWysylki")})
            self._save(tx, doc)
        return _envelope({"Kod": 0, "Informacja": "Dokument został przekazany do wysyłki do KSeF."})

    def add_payment(self, typ: str, ident: str):
        problems: list[str] = []
        payment = read_fields(_body(), PAYMENT_FIELDS, "", problems)
        require(payment, ("Kwota", "Data"), "", problems)
        with self.runtime.store.transaction() as tx:
            doc = self._find_by_type(tx, typ, ident)
            if doc is None:
                return self.not_found()
            amount = payment.get("Kwota")
            gross, paid = Decimal(doc["_totals"]["gross"]), parse_decimal(doc.get("Zaplacono")) or Decimal(0)
            if amount is not None and amount <= 0:
                problems.append("Pole Kwota musi być większe od zera.")
            elif amount is not None and paid + amount > gross:
                problems.append(
                    f"Suma wpłat nie może przekroczyć kwoty brutto dokumentu ({money_str(gross)})."
                )
            if problems:
                raise Refusal(201, "\n".join(problems))
            payment_id = tx.next_value(self.name, "*", "payments", start=7001)
            doc["_payments"].append({"id": payment_id, **_jsonable(payment)})
            doc["Zaplacono"] = float(paid + amount)
            self._save(tx, doc)
        return _envelope({"Kod": 0, "Informacja": "Wpłata została dodana.", "Wynik": payment_id})

    def _find_by_type(self, tx, typ: str, ident: str) -> dict | None:
        for resource in [*KINDS, CORRECTION.resource]:
            kind = KINDS.get(resource, CORRECTION)
            if kind.list_type == typ:
                return self._find(tx, resource, ident)
        return None

    def _save(self, tx: Transaction, doc: dict) -> None:
        tx.update(
            self.name,
            doc["_account"],
            "documents",
            doc["_id"],
            doc,
            number=doc["PelnyNumer"],
            ref=doc["_reference"],
        )

    # -- account: accounting month, limits, dictionary ------------------------------
    def _open_month(self, tx: Transaction, prefix: str, options: dict) -> tuple[int, int]:
        """The month a move left (while the option it started from is unchanged), else the option,
        else the current month in Warsaw."""
        state = tx.get(self.name, prefix, "settings", 1)
        option = options.get("accounting_month")
        if state and state.get("option") == option:
            return state["year"], state["month"]
        if option:
            return _parse_month(option)
        today = _today()
        return today.year, today.month

    def get_month(self):
        with self.runtime.store.transaction(write=False) as tx:
            year, month = self._open_month(tx, g.sandbox_account, g.ifirma_options)
        return _envelope({"MiesiacKsiegowy": month, "RokKsiegowy": year, "Kod": 0, "Informacja": ""})

    def move_month(self):
        problems: list[str] = []
        body = read_fields(_body(), MONTH_FIELDS, "", problems)
        require(body, ("MiesiacKsiegowy",), "", problems)
        if problems:
            raise Refusal(201, "\n".join(problems))
        prefix, options = g.sandbox_account, g.ifirma_options
        with self.runtime.store.transaction() as tx:
            year, month = self._open_month(tx, prefix, options)
            step = 1 if body["MiesiacKsiegowy"] == "NAST" else -1
            index = year * 12 + (month - 1) + step
            year, month = divmod(index, 12)
            month += 1
            state = {
                "option": options.get("accounting_month"),
                "year": year,
                "month": month,
                "carry_over": bool(body.get("PrzeniesDaneZPoprzedniegoRoku")),
            }
            if tx.get(self.name, prefix, "settings", 1) is None:
                tx.insert(self.name, prefix, "settings", 1, state)
            else:
                tx.update(self.name, prefix, "settings", 1, state)
        return _envelope(
            {
                "Kod": 0,
                "Informacja": f"Miesiąc księgowy został zmieniony na {month:02d}/{year}.",
                "MiesiacKsiegowy": month,
                "RokKsiegowy": year,
            }
        )

    def api_limit(self):
        options = g.ifirma_options
        return _envelope(
            {
                "Kod": 0,
                "Informacja": "Informacja o limitach API",
                "LimitWykorzystany": self.limiter.used_today(g.sandbox_account),
                "LimitPrzyznany": options["rate_limit_per_day"] or DEFAULT_OPTIONS["rate_limit_per_day"],
            }
        )

    def vat_rates(self, country: str):
        entry = VAT_DICTIONARY.get(country.upper())
        if entry is None:
            raise Refusal(201, f"Nieznany kod kraju '{country}'.")
        name, rates = entry
        return _envelope(
            {
                "Kod": 0,
                "Informacja": "",
                "KodKraju": country.upper(),
                "NazwaKraju": name,
                "StawkiVat": [{"Rodzaj": kind, "Wartosc": float(value)} for kind, value in rates],
            }
        )

    # -- inspection -------------------------------------------------------------------
    def inspect_documents(self, account: str | None, args) -> list[dict]:
        """Filters: ``number`` (PelnyNumer), ``kind`` (resource or list type), ``ref``/``oid``
        (our reference: DodatkoweUwagi NUMER_ZAMOWIENIA or text in Uwagi), ``id``."""
        with self.runtime.store.transaction(write=False) as tx:
            docs = tx.select(self.name, account, "documents", number=args.get("number") or None)
        reference = args.get("ref") or args.get("oid")
        kind = args.get("kind")
        found = []
        for doc in docs:
            if kind and kind not in (doc["_resource"], doc["_list_type"]):
                continue
            if args.get("id") and str(doc["_id"]) != args["id"]:
                continue
            if reference and doc["_reference"] != reference and reference not in (doc.get("Uwagi") or ""):
                continue
            found.append(doc)
        return [self._inspected(doc) for doc in found]

    def _inspected(self, doc: dict) -> dict:
        rendered = _public(doc)
        rendered["_sandbox"] = {
            "account": doc["_account"],
            "id": doc["_id"],
            "resource": doc["_resource"],
            "list_type": doc["_list_type"],
            "series": doc["_series"],
            "reference": doc["_reference"],
            "rate_totals": doc["_rate_totals"],
            "totals": doc["_totals"],
            "lines": [
                {"rate": line["_rate"], "net": line["_net"], "vat": line["_vat"], "gross": line["_gross"]}
                for line in doc["Pozycje"]
            ],
            "payments": doc["_payments"],
            "outbox": doc["_outbox"],
            "ksef": doc["_ksef"],
            "corrections": doc.get("_corrections", []),
            "original": doc.get("_original"),
            "created_at": doc["_created_at"],
        }
        return rendered

    # -- PDF --------------------------------------------------------------------------
    def _pdf_document(self, doc: dict, copy: str) -> PdfDocument:
        options = self._options(self._account(doc["_account"]))
        kind = KINDS.get(doc["_resource"], CORRECTION)
        details = [("Egzemplarz", copy), ("Data wystawienia", doc["DataWystawienia"])]
        if doc.get("DataSprzedazy"):
            details.append(("Data sprzedaży", doc["DataSprzedazy"]))
        if doc.get("TerminPlatnosci"):
            details.append(("Termin płatności", doc["TerminPlatnosci"]))
        if doc.get("SposobZaplaty"):
            details.append(("Sposób zapłaty", PAYMENT_NAMES.get(doc["SposobZaplaty"], doc["SposobZaplaty"])))
        if doc.get("Waluta"):
            details.append(("Waluta", doc["Waluta"]))
        if doc.get("TypSprzedazy"):
            details.append(("Typ sprzedaży", doc["TypSprzedazy"]))
        rate = doc.get("KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury")
        if rate is not None and doc.get("Waluta"):
            details.append((f"Kurs {doc['Waluta']}/PLN", format(Decimal(str(rate)).normalize(), "f")))
        if doc.get("Jezyk"):
            details.append(("Drugi język", doc["Jezyk"]))
        if doc.get("_original"):
            original = doc["_original"]
            details.append(
                ("Dotyczy faktury", f"{original['PelnyNumer']} z dnia {original['DataWystawienia']}")
            )
            details.append(("Przyczyna korekty", CORRECTION_REASON_TEXT.get(doc.get("PowodKorekty"), "-")))
        buyer = doc.get("Kontrahent") or {}
        buyer_rows = [buyer.get("Nazwa") or "", buyer.get("Nazwa2") or ""]
        if buyer.get("NIP"):
            buyer_rows.append(f"NIP: {(buyer.get('PrefiksUE') or '')}{buyer['NIP']}")
        buyer_rows += [
            buyer.get("Ulica") or "",
            " ".join(filter(None, (buyer.get("KodPocztowy"), buyer.get("Miejscowosc")))),
        ]
        lines = [_pdf_line(line, doc, suffix=" (przed korektą)") for line in doc.get("_before", [])]
        lines += [
            _pdf_line(line, doc, suffix=" (po korekcie)" if doc.get("_before") else "")
            for line in doc["Pozycje"]
        ]
        notes = [doc["Uwagi"]] if doc.get("Uwagi") else []
        notes += [f"{note.get('Typ')}: {note.get('Info')}" for note in doc.get("DodatkoweUwagi") or []]
        for entry in doc.get("Pozycje", []):
            if entry.get("PodstawaPrawna"):
                notes.append(f"Podstawa zwolnienia z VAT: {entry['PodstawaPrawna']}")
                break
        return PdfDocument(
            title=kind.title,
            number=doc["PelnyNumer"],
            details=details,
            seller=[options["company_name"], f"NIP: {options['nip']}"],
            buyer=[row for row in buyer_rows if row] or ["-"],
            lines=lines,
            totals=[(_rate_label(t["rate"]), t["net"], t["vat"], t["gross"]) for t in doc["_rate_totals"]],
            total_label="Różnica" if doc.get("_original") else "Razem do zapłaty",
            total_gross=doc["_totals"]["gross"],
            currency=doc.get("Waluta") or "PLN",
            notes=notes,
        )

    def _account(self, prefix: str) -> Account:
        with self.runtime.store.transaction(write=False) as tx:
            return tx.get_account(self.name, prefix)


# ---------------------------------------------------------------------------
# helpers


def _envelope(fields: dict, status: int = 200) -> Response:
    response = jsonify({"response": fields})
    response.status_code = status
    return response


def _body() -> dict:
    """The JSON body, refused the way the service refuses it: Kod 102 (content type),
    101 (not UTF-8), 200 (does not map onto an object)."""
    if request.mimetype != "application/json":
        raise Refusal(
            102, "Brak lub niepoprawny typ zawartości żądania (wymagany Content-Type: application/json)."
        )
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset.replace("-", "") != "utf8":
        raise Refusal(101, "Niepoprawne kodowanie znaków żądania – wymagane UTF-8.")
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Refusal(101, "Niepoprawne kodowanie znaków żądania – wymagane UTF-8.") from None
    try:
        body = json.loads(text, parse_float=Decimal, parse_constant=_not_json) if text.strip() else {}
    except ValueError:
        raise StructureError("treść żądania nie jest poprawnym JSON-em") from None
    if not isinstance(body, dict):
        raise StructureError("treść żądania musi być obiektem JSON")
    return body


def _not_json(constant: str):
    """NaN and Infinity are not JSON, whatever Python's parser accepts."""
    raise StructureError(f"'{constant}' nie jest wartością JSON")


def _raw_path() -> str:
    """The request path exactly as the client sent it (percent-encoding kept), without the query."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        if "://" in raw:  # absolute-form request line (through a proxy)
            raw = urlsplit(raw).path
        path = raw.split("?", 1)[0]
        try:
            return path.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return path
    return quote(request.script_root + request.path, safe="/:@!$&'()*+,;=-._~")


def _jsonable(value):
    """Decimals become JSON numbers (the service answers numbers, not strings)."""
    if isinstance(value, Decimal):
        return (
            int(value)
            if value == value.to_integral_value() and value.as_tuple().exponent >= 0
            else float(value)
        )
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _public(record: dict) -> dict:
    out = {}
    for key, value in record.items():
        if key.startswith("_"):
            continue
        if key == "Pozycje":
            value = [{k: v for k, v in line.items() if not k.startswith("_")} for line in value]
        out[key] = value
    return out


def _buyer_fields(buyer: dict) -> dict:
    return {
        "Kontrahent": _public(buyer),
        "IdentyfikatorKontrahenta": buyer["Identyfikator"],
        "PrefiksUEKontrahenta": buyer.get("PrefiksUE"),
        "NIPKontrahenta": buyer.get("NIP"),
    }


def _reference(header: dict) -> str | None:
    """Our external reference, if the client put it where the contract suggests: an order-number note."""
    for note in header.get("DodatkoweUwagi") or []:
        if note.get("Typ") == "NUMER_ZAMOWIENIA" and note.get("Info"):
            return note["Info"]
    return None


def _address_key(record: dict) -> tuple:
    return tuple(
        (record.get(name) or "").strip().lower() for name in ("Nazwa", "Ulica", "KodPocztowy", "Miejscowosc")
    )


def _new_identifier(name: str, taken: set) -> str:
    """A short contractor code from the name (≤15 characters, unique in the account)."""
    ascii_name = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    base = (
        re.sub(r"[^A-Z0-9]", "", ascii_name.encode("ascii", "ignore").decode().upper())[:15] or "KONTRAHENT"
    )
    candidate, counter = base, 1
    while candidate in taken:
        counter += 1
        candidate = base[: 15 - len(str(counter))] + str(counter)
    return candidate


def _find_series(options: dict, name: str, problems: list[str]) -> dict:
    series = next((s for s in options["series"] if s["name"] == name), None)
    if series is None:
        problems.append(f"Nie znaleziono serii numeracji o nazwie '{name}'.")
        return dict(DEFAULT_SERIES[0])
    return series


def _series_problem(series) -> str | None:
    if not isinstance(series, list) or not series:
        return "series must be a non-empty list of {name, template, period}"
    for entry in series:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("name"), str)
            or "{nr}" not in str(entry.get("template", ""))
        ):
            return "each series needs a name and a template containing {nr}"
        if entry.get("period", "month") not in ("month", "year"):
            return "series period must be 'month' or 'year'"
        entry.setdefault("period", "month")
    return None


def _rate_totals_of(lines: list[dict], basis: str | None) -> list[dict]:
    return rate_totals(lines, basis or "BRT")


def _payment_statuses(doc: dict, gross: Decimal, today: date) -> set[str]:
    paid = parse_decimal(doc.get("Zaplacono")) or Decimal(0)
    if paid >= gross:
        return {"oplacone"}
    statuses = {"oplaconeCzesciowo"} if paid > 0 else {"nieoplacone"}
    due = as_date(doc.get("TerminPlatnosci"))
    if due and due < today:
        statuses.add("przeterminowane")
    return statuses


def _list_item(doc: dict) -> dict:
    return {
        "FakturaId": doc["_id"],
        "PelnyNumer": doc["PelnyNumer"],
        "DataWystawienia": doc["DataWystawienia"],
        "DataSprzedazy": doc.get("DataSprzedazy"),
        "KontrahentNazwa": (doc.get("Kontrahent") or {}).get("Nazwa"),
        "IdentyfikatorKontrahenta": doc.get("IdentyfikatorKontrahenta"),
        "NIPKontrahenta": doc.get("NIPKontrahenta"),
        "Brutto": float(Decimal(doc["_totals"]["gross"])),
        "Zaplacono": doc.get("Zaplacono") or 0,
        "Waluta": doc.get("Waluta") or "PLN",
        "Rodzaj": doc["_list_type"],
        "TerminPlatnosci": doc.get("TerminPlatnosci"),
        "CzyWyslano": bool(doc["_outbox"]),
    }


def _pdf_line(line: dict, doc: dict, suffix: str) -> PdfLine:
    quantity = parse_decimal(line.get("Ilosc")) or Decimal(0)
    net = Decimal(line["_net"])
    unit_net = money_str(net / quantity) if quantity else money_str(Decimal(0))
    return PdfLine(
        name=line["NazwaPelna"] + suffix,
        quantity=format(quantity.normalize(), "f"),
        unit=line.get("Jednostka") or "szt.",
        unit_net=unit_net,
        rate=_rate_label(line["_rate"]),
        net=line["_net"],
        vat=line["_vat"],
        gross=line["_gross"],
    )


def _rate_label(rate: str) -> str:
    return f"{rate}%" if rate.isdecimal() else rate


def _parse_month(value) -> tuple[int, int] | None:
    match = re.fullmatch(r"(\d{4})-(\d{2})", value) if isinstance(value, str) else None
    if not match or not 1 <= int(match[2]) <= 12:
        return None
    return int(match[1]), int(match[2])


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default


def _today() -> date:
    return datetime.now(WARSAW).date()


def _now() -> str:
    return datetime.now(WARSAW).isoformat(timespec="seconds")


EMULATOR = IfirmaEmulator
