"""Fakturowo.pl emulator, mounted at ``/fakturowo``.

Written from the API contract notes alone. Fakturowo is not REST: ONE endpoint
takes form-encoded POSTs (GET with a query string works too, "for testing"),
the operation is chosen by ``api_zadanie`` and the answer is plain text, one
value per line: ``1`` + results, or ``0`` + a Polish error message, both with
HTTP 200. Only simulated outages (the shared faults) answer 4xx/5xx.

Base URL for a client: ``http://HOST:PORT/fakturowo/api`` (the real ones are
``https://konto.fakturowo.pl/api`` and ``https://www.fakturowo.pl/api``). An
account whose ``api_path`` option is e.g. ``konto2/api`` lives at
``http://HOST:PORT/fakturowo/konto2/api`` instead (the docs warn that the API URL
differs per account); its key is refused elsewhere.

Authentication: the ``api_id`` parameter (form or query) is the sandbox
account's ``api_token``; there is no header auth and no login. Demo account:
name ``demo``, ``api_id=demo-fakturowo-key``. Create more with
``POST /_sandbox/fakturowo/accounts {"prefix": "shop", "api_token": "<key>", "options": {...}}``
(give each account its own key: the key alone identifies the account).

Operations:
- ``api_zadanie=1`` issue a document. Answer ``1``, ``api_numer`` (Fakturowo's id,
  not the printed number) and, with ``dokument_dostep=1``, the PDF link
  (``…/fakturowo/pobierz/<token>``), the preview link (``…/fakturowo/pokaz/<token>``)
  and the PDF file name. Links work without the key.
- ``api_zadanie=3`` list issued documents, page ``p`` (1-based, newest first):
  ``1``, the number of pages, then one document per line, ``;``-separated:
  ``api_numer;rodzaj;numer;data_w;data_s;waluta;netto;vat;brutto;sprzedawca_nazwa;
  sprzedawca_adres;sprzedawca_nip;nabywca_nazwa;nabywca_adres;nabywca_nip;zaplata;status;termin``
  (column 0 id, 2 number and 16 status ``1`` = paid as working clients read them; the rest
  follows a lower-confidence client). ``;`` and line breaks inside values become ``,`` and spaces.
  This is the only lookup the contract backs: by number or by ``api_numer``.
- ``api_status`` (0 waiting / 1 to be issued) without ``api_zadanie``: save a draft
  ("dokumenty do wystawienia"); answer ``1``, ``api_numer``, then ``api_parametr``,
  ``api_parametr1``, ``api_parametr2`` echoed. Waiting drafts expire after ``draft_days``.
- Any other ``api_zadanie``: ``0`` + "Nieznane zadanie API".
No corrections (no document code exists), no numbering series (auto-numbered
``FV 1/2026`` per kind and year when ``dokument_numer`` is empty, else the number as
given), no SKU or stock, no duplicate guard (a repeated request issues a second
document) unless ``duplicate_numbers`` is ``refuse``. Unknown parameters are ignored,
as PHP does, and listed under ``unknown_parameters`` in the inspection output.
Document rules (codes, validation, amounts) live in ``fakturowo_documents``.

"Call synchronously, one request at a time": by default a request that arrives
while another of the same account is being processed waits for it (counted as the
``serialised`` fault in ``/_sandbox/stats``); option ``concurrency`` = ``refuse``
answers ``0`` + BUSY_MESSAGE instead (counted as ``concurrent_refused``), ``off``
lets requests overlap. The lock is per process.

Account options (all optional): ``company_name`` (default ``Sandbox <prefix> sp. z o.o.``),
``tax_no``, ``street``, ``post_code``, ``city`` (the account's company, used as seller only with
``seller_from_account: true``; by default ``sprzedawca_nazwa`` is required), ``api_path``
(default ``api``), ``concurrency`` (serialise | refuse | off), ``serialise_timeout`` (seconds a
request waits for its turn, default 300, then BUSY), ``processing_ms`` (simulated work per
request, inside the per-account lock; default 0), ``duplicate_numbers`` (allow | refuse),
``unit_codes`` (halfik | shifted: how ``produkt_jm`` integers are printed), ``list_page_size``
(default 100), ``require_exemption_basis`` (false: a ``zw`` line needs no legal basis),
``draft_days`` (100).

Inspection: ``GET /_sandbox/fakturowo/documents?account=&number=&kind=&api_numer=&reference=``
(``kind``: slug like ``vat``/``receipt`` or the ``dokument_rodzaj`` code; ``reference``: matches
``api_parametr*``, the number or text inside the notes); ``collection=drafts`` lists drafts.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from html import escape
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, g, request

from .fakturowo_documents import (
    Draft,
    Rejected,
    build_document,
    format_day,
    integer,
    number_prefix,
    party_address,
    party_name,
    text,
)
from .pdf import PdfDocument, PdfLine, render_pdf
from .service import EmulatedService
from .store import Account, Transaction

WARSAW = ZoneInfo("Europe/Warsaw")
DEMO_KEY = "demo-fakturowo-key"
DEFAULT_API_PATH = "api"
# The real texts are not known; these name the parameter so a client can map them.
MISSING_KEY_MESSAGE = "Brak klucza API (api_id)."
WRONG_KEY_MESSAGE = "Nieprawidłowy klucz API (api_id)."
MISSING_TASK_MESSAGE = "Brak parametru api_zadanie."
BUSY_MESSAGE = (
    "Poprzednie zapytanie jest jeszcze przetwarzane. Wysyłaj zapytania synchronicznie, jedno po drugim."
)
FIRST_API_NUMER = 4100001

DEFAULT_OPTIONS = {
    "company_name": None,
    "tax_no": "5252344078",
    "street": "ul. Przykładowa 12/3",
    "post_code": "00-950",
    "city": "Warszawa",
    "seller_from_account": False,
    "api_path": DEFAULT_API_PATH,
    "concurrency": "serialise",
    "serialise_timeout": 300,
    "processing_ms": 0,
    "duplicate_numbers": "allow",
    "unit_codes": "halfik",
    "list_page_size": 100,
    "require_exemption_basis": False,
    "draft_days": 100,
}
OPTION_CHOICES = {
    "concurrency": ("serialise", "refuse", "off"),
    "duplicate_numbers": ("allow", "refuse"),
    "unit_codes": ("halfik", "shifted"),
}
BOOL_OPTIONS = ("seller_from_account", "require_exemption_basis")
NUMBER_OPTIONS = {"serialise_timeout": 0, "processing_ms": 0, "list_page_size": 1, "draft_days": 1}
TEXT_OPTIONS = ("company_name", "tax_no", "street", "post_code", "city")
API_PATH_FORMAT = re.compile(r"^(?:[a-z0-9][a-z0-9-]*/)*api$")
LIST_COLUMNS = [
    "api_numer",
    "rodzaj",
    "numer",
    "data_w",
    "data_s",
    "waluta",
    "netto",
    "vat",
    "brutto",
    "sprzedawca_nazwa",
    "sprzedawca_adres",
    "sprzedawca_nip",
    "nabywca_nazwa",
    "nabywca_adres",
    "nabywca_nip",
    "zaplata",
    "status",
    "termin",
]
_UNSET = object()


class FakturowoEmulator(EmulatedService):
    name = "fakturowo"
    document_collection = "documents"
    public_endpoints = frozenset({"download_pdf", "preview"})
    demo_accounts = (("demo", DEMO_KEY),)

    def __init__(self, runtime):
        super().__init__(runtime)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- answers ------------------------------------------------------------
    def error_response(self, message, status: int) -> Response:
        return _plain(f"0\n{message}", status)

    def unauthorized(self) -> Response:
        # A wrong key is a business error: HTTP 200 with "0" and a message.
        return _failure(WRONG_KEY_MESSAGE)

    def throttled(self, retry_after: float) -> Response:
        response = super().throttled(retry_after)
        response.set_data("Too Many Requests")
        response.mimetype = "text/plain"
        return response

    def not_found(self) -> Response:
        return Response(
            "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>",
            status=404,
            mimetype="text/html",
        )

    # -- accounts -------------------------------------------------------------
    def check_account_options(self, options: dict) -> str | None:
        unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
        if unknown:
            return f"unknown options: {', '.join(unknown)}"
        for name, choices in OPTION_CHOICES.items():
            if name in options and options[name] not in choices:
                return f"{name} must be one of {', '.join(choices)}"
        for name in BOOL_OPTIONS:
            if name in options and not isinstance(options[name], bool):
                return f"{name} must be true or false"
        for name, minimum in NUMBER_OPTIONS.items():
            value = options.get(name, minimum)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
                return f"{name} must be a number >= {minimum}"
        for name in TEXT_OPTIONS:
            if options.get(name) is not None and not isinstance(options[name], str):
                return f"{name} must be a string"
        if "api_path" in options and not (
            isinstance(options["api_path"], str) and API_PATH_FORMAT.match(options["api_path"])
        ):
            return 'api_path must end in "api", e.g. "api" or "konto2/api"'
        return None

    def _options(self, account: Account) -> dict:
        options = {**DEFAULT_OPTIONS, **account.options}
        options["company_name"] = options["company_name"] or f"Sandbox {account.prefix} sp. z o.o."
        return options

    @staticmethod
    def _company(options: dict) -> dict:
        return {
            "nazwa": options["company_name"],
            "nip": options["tax_no"],
            "ulica": options["street"],
            "kod": options["post_code"],
            "miasto": options["city"],
            "panstwo": "Polska",
        }

    # -- request plumbing -----------------------------------------------------
    def _params(self) -> dict[str, str]:
        """Query and form values (form wins), first value of each name."""
        if "fakturowo_params" not in g:
            params = dict(request.args.items())
            if request.method == "POST":
                params.update(request.form.items())
            g.fakturowo_params = params
        return g.fakturowo_params

    def _api_path(self) -> str | None:
        """The path the request came in on (``api``, ``konto2/api``), None for a link."""
        if (request.endpoint or "").rpartition(".")[2] != "api":
            return None
        alias = (request.view_args or {}).get("alias")
        return f"{alias}/api" if alias else DEFAULT_API_PATH

    def _resolve_account(self) -> Account | None:
        """The account the request is for: by ``api_id`` on the API, by token on a public link."""
        cached = g.get("fakturowo_account", _UNSET)
        if cached is not _UNSET:
            return cached
        account = None
        path = self._api_path()
        with self.runtime.store.transaction(write=False) as tx:
            accounts = tx.list_accounts(self.name)
            if path is not None:
                key = text(self._params(), "api_id") or ""
                account = next(
                    (
                        candidate
                        for candidate in accounts
                        if self._options(candidate)["api_path"] == path
                        and hmac.compare_digest(key.encode(), candidate.api_token.encode())
                    ),
                    None,
                )
            elif (request.view_args or {}).get("token"):
                token = request.view_args["token"]
                account = next(
                    (
                        candidate
                        for candidate in accounts
                        if tx.find_by_token(self.name, candidate.prefix, "documents", token)
                    ),
                    None,
                )
        g.fakturowo_account = account
        return account

    def account_key(self) -> str:
        account = self._resolve_account()
        return account.prefix if account else "-"

    def is_write_request(self) -> bool:
        # One endpoint for everything: only issuing and drafts store something.
        if self._api_path() is None:
            return False
        params = self._params()
        task = text(params, "api_zadanie")
        return task == "1" or (task is None and text(params, "api_status") is not None)

    def authenticate(self) -> Response | None:
        path = self._api_path()
        if path != DEFAULT_API_PATH and not self._path_in_use(path):
            return self.not_found()  # no account's API lives there
        if not text(self._params(), "api_id"):
            return _failure(MISSING_KEY_MESSAGE)
        account = self._resolve_account()
        if account is None:
            return self.unauthorized()
        g.account = account
        return None

    def _path_in_use(self, path: str) -> bool:
        with self.runtime.store.transaction(write=False) as tx:
            return any(self._options(a)["api_path"] == path for a in tx.list_accounts(self.name))

    # -- blueprint ------------------------------------------------------------
    def build_blueprint(self) -> Blueprint:
        bp = Blueprint(self.name, __name__)

        @bp.errorhandler(404)
        def not_found(_error):
            return self.not_found()

        bp.add_url_rule("/api", "api", self.api, methods=["GET", "POST"])
        bp.add_url_rule("/<path:alias>/api", "api", self.api, methods=["GET", "POST"])
        bp.add_url_rule("/pobierz/<token>", "download_pdf", self.download_pdf)
        bp.add_url_rule("/pokaz/<token>", "preview", self.preview)
        return bp

    def api(self, alias: str | None = None):
        account: Account = g.account
        options = self._options(account)
        with self._turn(account.prefix, options) as admitted:
            if not admitted:
                return _failure(BUSY_MESSAGE)
            if options["processing_ms"]:
                time.sleep(options["processing_ms"] / 1000)
            try:
                return self._dispatch(self._params(), account, options)
            except Rejected as error:
                return _failure(error.message)

    @contextmanager
    def _turn(self, prefix: str, options: dict) -> Iterator[bool]:
        """One request at a time per account: wait for the running one, or refuse (option)."""
        if options["concurrency"] == "off":
            yield True
            return
        with self._locks_guard:
            lock = self._locks.setdefault(prefix, threading.Lock())
        admitted = lock.acquire(blocking=False)
        if not admitted and options["concurrency"] == "serialise":
            self.runtime.stats.fault(self.name, prefix, "serialised")
            admitted = lock.acquire(timeout=options["serialise_timeout"])
        if not admitted:
            self.runtime.stats.fault(self.name, prefix, "concurrent_refused")
        try:
            yield admitted
        finally:
            if admitted:
                lock.release()

    def _dispatch(self, params: dict, account: Account, options: dict) -> Response:
        task = text(params, "api_zadanie")
        if task is None:
            if text(params, "api_status") is not None:
                return self._save_draft(params, account, options)
            return _failure(MISSING_TASK_MESSAGE)
        if task == "1":
            return self._issue(params, account, options)
        if task == "3":
            return self._list(params, account, options)
        return _failure(f"Nieznane zadanie API (api_zadanie={task}).")

    # -- api_zadanie=1: issue ---------------------------------------------------
    def _issue(self, params: dict, account: Account, options: dict) -> Response:
        with_links = integer(params, "dokument_dostep", "dostęp do dokumentu", (0, 1), 0) == 1
        draft = build_document(params, _today(), options, self._company(options))
        prefix = account.prefix
        with self.runtime.store.transaction() as tx:
            number = draft.requested_number
            if (
                number
                and options["duplicate_numbers"] == "refuse"
                and tx.select(self.name, prefix, "documents", number=number)
            ):
                return _failure(f"Dokument o numerze {number} już istnieje (dokument_numer).")
            api_numer = tx.next_value(self.name, "*", "api_numer", start=FIRST_API_NUMER)
            record = self._record(api_numer, draft, params, prefix)
            record["numbered_by"] = "client" if number else "service"
            record["number"] = number or self._next_number(tx, prefix, draft)
            record["token"] = secrets.token_hex(16)
            tx.insert(
                self.name,
                prefix,
                "documents",
                api_numer,
                record,
                number=record["number"],
                ref=record["api_parametr"],
                token=record["token"],
            )
        self.document_stored(prefix)
        lines = ["1", str(api_numer)]
        if with_links:
            links = self._links(record)
            lines += [links["pdf"], links["preview"], links["file_name"]]
        return _answer(lines)

    def _record(self, api_numer: int, draft: Draft, params: dict, prefix: str) -> dict:
        return {
            "api_numer": str(api_numer),
            "account": prefix,
            "number": None,
            **draft.record,
            "created_at": datetime.now(WARSAW).isoformat(timespec="seconds"),
            "unknown_parameters": draft.unknown_parameters,
            # what the client sent, for inspection (never the key)
            "parameters": {name: value for name, value in params.items() if name != "api_id"},
        }

    def _next_number(self, tx: Transaction, prefix: str, draft: Draft) -> str:
        year = draft.issue_date.year
        scope = f"{prefix}:{draft.kind_code}:{year}"
        while True:  # skip numbers a client already used by hand
            counter = tx.next_value(self.name, scope, "number")
            number = f"{number_prefix(draft.kind_code)} {counter}/{year}"
            if not tx.select(self.name, prefix, "documents", number=number):
                return number

    def _links(self, record: dict) -> dict:
        base = f"{request.url_root.rstrip('/')}/{self.name}"
        return {
            "pdf": f"{base}/pobierz/{record['token']}",
            "preview": f"{base}/pokaz/{record['token']}",
            "file_name": _file_name(record),
        }

    # -- api_zadanie=3: list ------------------------------------------------------
    def _list(self, params: dict, account: Account, options: dict) -> Response:
        page_text = text(params, "p") or "1"
        if not page_text.isdecimal() or int(page_text) < 1:
            return _failure("Nieprawidłowy numer strony (p).")
        page, size = int(page_text), int(options["list_page_size"])
        with self.runtime.store.transaction(write=False) as tx:
            docs = tx.select(self.name, account.prefix, "documents")
        docs.reverse()  # newest first
        pages = math.ceil(len(docs) / size)
        chosen = docs[(page - 1) * size : page * size]
        return _answer(["1", str(pages), *(_list_row(doc) for doc in chosen)])

    # -- drafts ("dokumenty do wystawienia") -----------------------------------------
    def _save_draft(self, params: dict, account: Account, options: dict) -> Response:
        status = integer(params, "api_status", "status szkicu", (0, 1))
        draft = build_document(params, _today(), options, self._company(options))
        prefix = account.prefix
        with self.runtime.store.transaction() as tx:
            self._drop_expired_drafts(tx, prefix)
            api_numer = tx.next_value(self.name, "*", "api_numer", start=FIRST_API_NUMER)
            record = self._record(api_numer, draft, params, prefix)
            record["number"] = text(params, "dokument_numer")
            record["api_status"] = status
            record["expires_on"] = (
                (_today() + timedelta(days=int(options["draft_days"]))).isoformat() if status == 0 else None
            )
            tx.insert(self.name, prefix, "drafts", api_numer, record, ref=record["api_parametr"])
        return _answer(
            ["1", str(api_numer)]
            + [record[name] or "" for name in ("api_parametr", "api_parametr1", "api_parametr2")]
        )

    def _drop_expired_drafts(self, tx: Transaction, prefix: str) -> None:
        for record in tx.select(self.name, prefix, "drafts"):
            if _expired(record):
                tx.delete(self.name, prefix, "drafts", int(record["api_numer"]))

    # -- public links -------------------------------------------------------------
    def _by_token(self, token: str) -> dict | None:
        account = self._resolve_account()
        if account is None:
            return None
        with self.runtime.store.transaction(write=False) as tx:
            return tx.find_by_token(self.name, account.prefix, "documents", token)

    def download_pdf(self, token: str):
        doc = self._by_token(token)
        if doc is None:
            return self.not_found()
        response = Response(render_pdf(_pdf_document(doc)), mimetype="application/pdf")
        disposition = "inline" if request.args.get("inline") else "attachment"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{_file_name(doc)}"'
        return response

    def preview(self, token: str):
        doc = self._by_token(token)
        if doc is None:
            return self.not_found()
        return Response(_preview_html(doc, self._links(doc)["pdf"]), mimetype="text/html")

    # -- inspection ---------------------------------------------------------------
    def inspect_documents(self, account: str | None, args) -> list[dict]:
        collection = "drafts" if args.get("collection") == "drafts" else "documents"
        with self.runtime.store.transaction(write=False) as tx:
            records = tx.select(self.name, account, collection, number=args.get("number"))
        kind, api_numer, reference = args.get("kind"), args.get("api_numer"), args.get("reference")
        found = []
        for record in records:
            if kind is not None and kind not in (record["kind"], str(record["kind_code"])):
                continue
            if api_numer is not None and record["api_numer"] != api_numer:
                continue
            if reference is not None and not _mentions(record, reference):
                continue
            if collection == "drafts" and _expired(record):
                continue
            shown = dict(record)
            for side in ("seller", "buyer"):  # the unused fields of a party are only noise here
                shown[side] = {key: value for key, value in record[side].items() if value is not None}
            if collection == "documents":
                shown["links"] = self._links(record)
            found.append(shown)
        return found


# ---------------------------------------------------------------------------
# helpers


def _plain(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def _answer(lines: list[str]) -> Response:
    return _plain("\n".join(lines))


def _failure(message: str) -> Response:
    return _plain(f"0\n{message}")


def _today() -> date:
    return datetime.now(WARSAW).date()


def _expired(draft: dict) -> bool:
    return bool(draft.get("expires_on")) and date.fromisoformat(draft["expires_on"]) < _today()


def _mentions(record: dict, reference: str) -> bool:
    if reference in (
        record.get(name) for name in ("api_parametr", "api_parametr1", "api_parametr2", "number")
    ):
        return True
    return any(reference in (record.get(name) or "") for name in ("notes", "notes_extra", "notes_hidden"))


def _list_cell(value) -> str:
    return re.sub(r"[\r\n]+", " ", "" if value is None else str(value)).replace(";", ",")


def _list_row(doc: dict) -> str:
    seller, buyer = doc["seller"], doc["buyer"]
    values = {
        "api_numer": doc["api_numer"],
        "rodzaj": doc["kind_code"],
        "numer": doc["number"],
        "data_w": format_day(date.fromisoformat(doc["issue_date"])),
        "data_s": format_day(date.fromisoformat(doc["sale_date"])),
        "waluta": doc["currency"],
        "netto": doc["total_net"],
        "vat": doc["total_vat"],
        "brutto": doc["total_gross"],
        "sprzedawca_nazwa": seller.get("nazwa"),
        "sprzedawca_adres": party_address(seller),
        "sprzedawca_nip": seller.get("nip"),
        "nabywca_nazwa": party_name(buyer, doc["buyer_is_person"]),
        "nabywca_adres": party_address(buyer),
        "nabywca_nip": buyer.get("nip"),
        "zaplata": doc["payment_code"],
        "status": doc["status"],
        "termin": format_day(date.fromisoformat(doc["payment_due"])) if doc["payment_due"] else "",
    }
    return ";".join(_list_cell(values[column]) for column in LIST_COLUMNS)


def _file_name(doc: dict) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "_", f"{doc['kind']} {doc['number']}").strip("_")
    return f"{stem}.pdf"


def _rate_label(rate: str) -> str:
    return f"{rate}%" if rate.isdecimal() else rate


def _party_rows(party: dict, person: bool = False) -> list[str]:
    rows = [party_name(party, person)]
    if party.get("nip"):
        rows.append(f"NIP: {party['nip']}")
    rows.extend(part.strip() for part in party_address(party).split(", ") if part.strip())
    return [row for row in rows if row]


def _pdf_document(doc: dict) -> PdfDocument:
    details = []
    if doc["show_issue_date"]:
        details.append(("Data wystawienia", format_day(date.fromisoformat(doc["issue_date"]))))
    if doc["show_sale_date"]:
        details.append((doc["sale_date_label"], format_day(date.fromisoformat(doc["sale_date"]))))
    if doc["show_place"] and doc["place"]:
        details.append(("Miejsce wystawienia", doc["place"]))
    if doc["show_payment_method"] and doc["payment_method"]:
        details.append(("Sposób płatności", doc["payment_method"]))
    if doc["show_payment_due"] and doc["payment_due"]:
        details.append((doc["payment_due_label"], format_day(date.fromisoformat(doc["payment_due"]))))
    if doc["show_bank_account"] and doc["bank_accounts"]:
        details.append(("Konto bankowe", ", ".join(doc["bank_accounts"])))
    if doc["show_paid"] and doc["status"]:
        details.append(("Zapłacono", f"{doc['paid_amount']} {doc['currency']}"))
    if doc["exchange"]:
        exchange = doc["exchange"]
        details.append(("Przeliczenie", f"{exchange['to']}, kurs {exchange['rate'] or exchange['source']}"))
    if doc["copy_label"]:
        details.append(("Egzemplarz", doc["copy_label"]))
    notes = []
    if doc["show_notes"] and doc["notes"]:
        notes.append(f"{doc['notes_label']}: {doc['notes']}" if doc["notes_label"] else doc["notes"])
    if doc["notes_extra"]:
        notes.append(doc["notes_extra"])
    if doc["paid_note"]:
        notes.append(doc["paid_note"])
    if doc["exemption_basis"]:
        notes.append(f"Podstawa zwolnienia z VAT: {doc['exemption_basis']}")
    return PdfDocument(
        title=doc["title"],
        number=doc["number"] if doc["show_number"] else "",
        details=details,
        seller=_party_rows(doc["seller"]),
        buyer=_party_rows(doc["buyer"], doc["buyer_is_person"]) or ["-"],
        lines=[
            PdfLine(
                line["name"],
                line["quantity"],
                line["unit"],
                line["unit_net"],
                _rate_label(line["vat_rate"]),
                line["net"],
                line["vat"],
                line["gross"],
            )
            for line in doc["lines"]
        ],
        totals=[(_rate_label(t["rate"]), t["net"], t["vat"], t["gross"]) for t in doc["rate_totals"]],
        total_gross=doc["total_gross"],
        currency=doc["currency"],
        notes=notes,
    )


def _preview_html(doc: dict, pdf_url: str) -> str:
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(value)}</td>"
            for value in (
                line["name"],
                line["quantity"],
                line["unit"],
                _rate_label(line["vat_rate"]),
                line["gross"],
            )
        )
        + "</tr>"
        for line in doc["lines"]
    )
    title = f"{doc['title']} {doc['number']}"
    return (
        f"<!doctype html><html lang=pl><meta charset=utf-8><title>{escape(title)}</title>"
        f"<h1>{escape(title)}</h1>"
        f"<p>Sprzedawca: {escape(doc['seller'].get('nazwa') or '')}<br>"
        f"Nabywca: {escape(party_name(doc['buyer'], doc['buyer_is_person']) or '-')}<br>"
        f"Data wystawienia: {escape(format_day(date.fromisoformat(doc['issue_date'])))}</p>"
        "<table><tr><th>Nazwa</th><th>Ilość</th><th>J.m.</th><th>VAT</th><th>Brutto</th></tr>"
        f"{rows}</table><p>Razem: {escape(doc['total_gross'])} {escape(doc['currency'])}</p>"
        f'<p><a href="{escape(pdf_url)}">Pobierz PDF</a></p></html>'
    )


EMULATOR = FakturowoEmulator
