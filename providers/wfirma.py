"""wFirma.pl adapter (HTTP). Payload mapping lives in `wfirma_mapping`.

API2 at https://api2.wfirma.pl, `/{module}/{action}[/{id}]`, JSON both ways
(`inputFormat=json&outputFormat=json`). API-key scheme: `accessKey`, `secretKey` and `appKey`
headers on every request, `company_id` in the query string when the login has several companies.
The body's `status.code` is the real result — errors often come with HTTP 200.

Exactly-once: wFirma has no idempotency key or duplicate guard, so our reference travels in
`id_external` and `find_document` looks it up when the pipeline does not know whether a create
went through (a lost or unreadable answer to invoices/add is an unknown outcome). The create
itself does not look first: the pipeline claims the document before sending, and none of the
codes the contract lists for a refused request (`ERROR`, the limit codes, `OUT OF SERVICE`,
`FATAL`…) is described as following a stored document.

Reference data — numbering series, SKU → product ids and which contractor card (if any) has a
buyer's exact data — is the same for many documents of an account, and the pipeline builds a
fresh adapter per job, so it is kept per account in this process for a few minutes
(`SHARED_TTL`) instead of being read again for every document.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, ClassVar
from xml.etree import ElementTree

import requests

from . import wfirma_mapping as mapping
from .base import (
    AuthenticationFailed,
    Capabilities,
    Choice,
    CredentialField,
    ExportSettings,
    HubDocument,
    NotSupported,
    OptionField,
    OutcomeUnknown,
    Party,
    Problem,
    Provider,
    ProviderError,
    ProviderLimits,
    RemoteDocument,
    TransientError,
    ValidationRejected,
    bool_option,
    choice_option,
    field_errors_message,
    header_safe,
    int_option,
    number_option,
    path_id,
    retry_after,
    text_option,
)
from .parties import EU_VAT_ID, POLISH_NIP, classify_tax_id

API_ROOT = "https://api2.wfirma.pl"
KEYS_HELP = "wFirma: Ustawienia → Bezpieczeństwo → Aplikacje → Klucze API"
PAGE_LIMIT = 100
MAX_PAGES = 200  # safety stop for a service that ignores `page`
# The request-limit codes carry no wait time; wait this long unless a Retry-After header says
# otherwise (option `limit_retry_after`). [UNCONFIRMED: wFirma publishes no numbers]
DEFAULT_LIMIT_RETRY_AFTER = 60.0
AUTH_BLOCK_SECONDS = 300.0  # "AUTH FAILED LIMIT WAIT 5 MINUTES"

# status.code → what it means for us (API docs §9).
TRANSIENT_CODES = {
    "TOTAL REQUESTS LIMIT EXCEEDED": "przekroczono limit liczby zapytań",
    "TOTAL EXECUTION TIME LIMIT EXCEEDED": "przekroczono limit czasu wykonania zapytań",
    "FATAL": "błąd wewnętrzny serwera",
    "OUT OF SERVICE": "przerwa techniczna",
    "SNAPSHOT LOCK": "dane firmy są przywracane z kopii – wszystko zablokowane do końca",
}
LIMIT_CODES = frozenset({"TOTAL REQUESTS LIMIT EXCEEDED", "TOTAL EXECUTION TIME LIMIT EXCEEDED"})

# Series records, SKU → good ids and contractor cards per account, shared by this process's
# adapters (one per job). Only what was found is kept (an SKU added to the catalogue a minute ago
# is looked up again), and a refused document drops the account's entries, so the merchant's
# retry reads them afresh.
SHARED_TTL = 600.0
_shared: dict[tuple, tuple[float, Any]] = {}
_shared_lock = threading.Lock()


def clear_shared_cache() -> None:
    """Forget every account's shared reference data (tests; a worker never needs it)."""
    with _shared_lock:
        _shared.clear()


class NotFound(ProviderError):
    """`NOT FOUND`: the object does not exist (or was deleted) in wFirma."""


class WfirmaProvider(Provider):
    key = "wfirma"
    display_name = "wFirma"
    capabilities = Capabilities(receipts=True, corrections=False, numbering_series=True, payments=True, sku=True)
    credential_fields = (
        CredentialField(
            name="access_key",
            label="Klucz dostępu (accessKey)",
            help=f"{KEYS_HELP}: dodaj klucz i skopiuj accessKey. Zmiana klucza w wFirma generuje nowe "
                 "klucze – wtedy wpisz je tu ponownie.",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="secret_key",
            label="Klucz tajny (secretKey)",
            help=f"{KEYS_HELP}: secretKey jest pokazywany tylko raz, przy tworzeniu klucza – skopiuj go od razu.",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="app_key",
            label="Klucz aplikacji (appKey)",
            help="Klucz integracji wydawany przez wFirma po zgłoszeniu aplikacji (formularz kontaktowy wFirma); "
                 "jeden appKey służy wielu kontom.",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="company_id",
            label="ID firmy (company_id)",
            help="Wymagane, gdy na koncie wFirma jest kilka firm; widoczne w wFirma przy nazwie firmy jako "
                 "„(ID: 123456)”. Puste = jedyna firma konta.",
            secret=False,
            required=False,
        ),
    )
    connectable = True
    # wFirma has request limits but publishes no numbers ("they depend on server load"; run bulk
    # jobs calmly): two requests at a time per account, the LIMIT codes back off. Configurable.
    default_limits = ProviderLimits(max_concurrency=2, requests=None, per_seconds=None, writes_only=False)
    vat_rates = frozenset({"23", "8", "5", "0", "zw", "np", "oo"})
    docs_url = "https://doc.wfirma.pl"
    # Service-specific settings (Configuration section): key -> (label, help). Values are text.
    option_fields: ClassVar[dict[str, OptionField]] = {
        "invoice_type": choice_option(
            "Rodzaj faktury", "Puste = normal (Faktura VAT).",
            [("normal", "normal – Faktura VAT"), ("bill", "bill – Faktura bez VAT (dla niepłatników VAT)")],
        ),
        "receipt_type": choice_option(
            "Rodzaj paragonu", "Puste = receipt_normal (paragon niefiskalny z PDF).",
            [("receipt_normal", "receipt_normal – paragon niefiskalny z PDF"),
             ("receipt_fiscal_normal", "receipt_fiscal_normal – paragon fiskalny (wFirma nie daje do niego PDF)"),
             ("receipt_bill", "receipt_bill – paragon bez VAT"),
             ("receipt_fiscal_bill", "receipt_fiscal_bill – paragon fiskalny bez VAT")],
        ),
        "contractor_match": choice_option(
            "Kontrahent", "Puste = nip.",
            [("nip", "nip – użyj istniejącego kontrahenta wFirma o tym NIP, gdy ma te same dane"),
             ("never", "never – zawsze wysyłaj dane z zamówienia")],
        ),
        "unknown_sku": choice_option(
            "SKU spoza katalogu", "Puste = reject.",
            [("reject", "reject – odrzuć dokument, gdy produktu o tym kodzie nie ma w wFirma"),
             ("unlinked", "unlinked – wyślij pozycję bez powiązania z produktem")],
        ),
        "warehouse_id": int_option(
            "Magazyn (ID)",
            "Magazyn wFirma, z którego schodzą towary przy wysyłaniu SKU; puste = aktywny magazyn.",
        ),
        "exemption_basis": text_option(
            "Podstawa zwolnienia (zw)",
            "Dopisywana do uwag, gdy dokument nie ma własnej, np. „art. 43 ust. 1 pkt 29 lit. b ustawy o VAT”.",
        ),
        "require_street": bool_option(
            "Wymagaj ulicy nabywcy",
            "wFirma zgłasza brak ulicy nabywcy.",
            on=True,
        ),
        "limit_retry_after": number_option(
            "Przerwa po limicie zapytań (s)",
            "Ile sekund czekać po „TOTAL REQUESTS LIMIT EXCEEDED”; domyślnie 60.",
            maximum="3600",
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.base_url = self.base_url or API_ROOT
        # Accept what the user sees in wFirma, e.g. "(ID: 885367)".
        self.company_id = re.sub(r"\D", "", self.credentials.get("company_id", ""))
        self._good_ids: dict[str, str | None] = {}
        self._all_goods: dict[str, str] | None = None
        self._series: dict[str, dict] = {}
        self._contractor_ids: dict[tuple, str | None] = {}
        self._clock: Callable[[], float] = time.monotonic

    # ------------------------------------------------------------------ shared reference data

    def _account(self) -> tuple:
        keys = "\n".join(self.credentials.get(k, "") for k in ("access_key", "secret_key", "app_key"))
        return (self.base_url, self.company_id, hashlib.sha256(keys.encode("utf-8")).hexdigest())

    def _shared_get(self, kind: str, key: str) -> Any:
        with _shared_lock:
            entry = _shared.get((self._account(), kind, key))
        if entry is None or self._clock() - entry[0] > SHARED_TTL:
            return None
        return entry[1]

    def _shared_put(self, kind: str, key: str, value: Any) -> None:
        with _shared_lock:
            _shared[(self._account(), kind, key)] = (self._clock(), value)

    def _forget_shared(self) -> None:
        account = self._account()
        with _shared_lock:
            for key in [k for k in _shared if k[0] == account]:
                del _shared[key]

    # ------------------------------------------------------------------ HTTP

    def _headers(self) -> dict[str, str]:
        keys = {"accessKey": "access_key", "secretKey": "secret_key", "appKey": "app_key"}
        headers = {}
        for header, name in keys.items():
            value = self.credentials.get(name, "")
            if not value:
                raise AuthenticationFailed(f"Brak klucza {header} wFirma – wpisz go z: {KEYS_HELP}.")
            if not header_safe(value):
                # Headers carry ASCII only; a pasted key with other characters can never be right.
                raise AuthenticationFailed(f"Klucz {header} zawiera niedozwolone znaki – skopiuj go ponownie z: "
                                           f"{KEYS_HELP}.")
            headers[header] = value
        headers["Accept"] = "application/json"
        return headers

    def _params(self, company: bool, extra: dict | None = None) -> dict:
        params = {"inputFormat": "json", "outputFormat": "json"}
        if company and self.company_id:
            params["company_id"] = self.company_id
        params.update(extra or {})
        return params

    def _request(self, method: str, module: str, action: str, record_id: str | None = None, *,
                 body: dict | None = None, company: bool = True, extra_params: dict | None = None,
                 writes: bool = False) -> requests.Response:
        """One call; `writes=False` marks a POST that only reads (find, download): a timeout
        after sending it is simply retried instead of becoming an unknown outcome."""
        path = f"/{module}/{action}" + (f"/{path_id(record_id)}" if record_id else "")
        return self._send(method, path, params=self._params(company, extra_params), json=body,
                          headers=self._headers(), read_only=not writes)

    def _call(self, method: str, module: str, action: str, record_id: str | None = None, *,
              body: dict | None = None, company: bool = True, extra_params: dict | None = None,
              writes: bool = False) -> dict:
        response = self._request(method, module, action, record_id, body=body, company=company,
                                 extra_params=extra_params, writes=writes)
        return self._envelope(response, writes=writes)

    def _envelope(self, response: requests.Response, *, writes: bool) -> dict:
        """The parsed body when `status.code` is OK; every other answer as the matching error."""
        http = response.status_code
        data = _parse_body(response)
        code = mapping.status_code(data)
        if code == "OK" and 200 <= http < 300 and isinstance(data, dict):
            return data
        if http == 429 or http >= 500:
            # Throttled or broken whatever the body says; a limit code in it still names the cause.
            cause = TRANSIENT_CODES.get(code, "limit zapytań" if http == 429 else "błąd serwera")
            raise TransientError(f"wFirma: {cause} (HTTP {http}) – ponowimy później.",
                                 self._wait(response, code), http)
        if code and code != "OK":
            self._raise_for_code(code, data, response)
        # No readable status: judge by the HTTP status alone.
        if http in (401, 403):
            raise AuthenticationFailed(f"wFirma odrzuciła klucze API (HTTP {http}) – sprawdź je w: {KEYS_HELP}.")
        if writes and 200 <= http < 300:
            raise self._unreadable("POST")
        raise ProviderError(f"wFirma: nieoczekiwana odpowiedź (HTTP {http}).")

    def _raise_for_code(self, code: str, data: Any, response: requests.Response) -> None:
        detail = self.redact(mapping.status_message(data))
        suffix = f" ({detail})" if detail else ""
        if code == "AUTH":
            raise AuthenticationFailed(f"wFirma odrzuciła klucze API (AUTH) – sprawdź accessKey, secretKey i appKey "
                                       f"w: {KEYS_HELP}; po zmianie klucza w wFirma wpisz nowe.{suffix}")
        if code == "AUTH FAILED LIMIT WAIT 5 MINUTES":
            raise AuthenticationFailed("wFirma zablokowała logowanie na 5 minut po zbyt wielu nieudanych próbach – "
                                       f"sprawdź klucze w: {KEYS_HELP} i spróbuj ponownie za 5 minut.")
        if code == "COMPANY ID REQUIRED":
            raise AuthenticationFailed("Na koncie wFirma jest kilka firm – wpisz ID firmy (widoczne w wFirma jako "
                                       "„(ID: 123456)”) w danych integracji.")
        if code in ("ACCESS DENIED", "DENIED SCOPE REQUESTED", "DENIED_SCOPE_REQUESTED"):
            raise AuthenticationFailed(f"wFirma odmówiła dostępu ({code}) – klucz API nie ma uprawnień do tej "
                                       f"firmy lub modułu; sprawdź uprawnienia klucza.{suffix}")
        if code in TRANSIENT_CODES:
            raise TransientError(f"wFirma: {TRANSIENT_CODES[code]} ({code}) – ponowimy później.",
                                 self._wait(response, code), response.status_code)
        if code == "NOT FOUND":
            raise NotFound(f"wFirma: nie znaleziono obiektu (NOT FOUND){suffix}.")
        if code in ("ERROR", "INPUT ERROR"):
            field_errors = self.redact_errors(mapping.collect_errors(data))
            what = "błędy w danych" if code == "ERROR" else "nieprawidłowe dane wejściowe (INPUT ERROR)"
            if not field_errors:
                raise ValidationRejected(f"wFirma odrzuciła dokument: {what}{suffix}.", {})
            raise ValidationRejected(field_errors_message(f"wFirma odrzuciła dokument ({what})", field_errors),
                                     field_errors)
        if code == "ACTION NOT FOUND":
            raise ProviderError("wFirma: nieznany moduł lub akcja API (ACTION NOT FOUND) – sprawdź adres API.")
        raise ProviderError(f"wFirma: odpowiedź {self.redact(code)[:80]}{suffix}.")

    def _wait(self, response: requests.Response, code: str) -> float | None:
        """Retry-After, else — the limit codes carry no wait time — the configured pause."""
        wait = retry_after(response)
        if wait is not None or code not in LIMIT_CODES:
            return wait
        try:
            return max(0.0, float(str(self.options.get("limit_retry_after") or DEFAULT_LIMIT_RETRY_AFTER)))
        except ValueError:
            return DEFAULT_LIMIT_RETRY_AFTER

    # ------------------------------------------------------------------ find

    def _find_page(self, plural: str, singular: str, conditions: list, page: int,
                   order: list | None = None) -> tuple[list[dict], int | None]:
        try:
            data = self._call("POST", plural, "find",
                              body=mapping.find_request(plural, conditions, page=page, limit=PAGE_LIMIT, order=order))
        except NotFound:
            return [], 0  # some modules answer an empty search with NOT FOUND
        return mapping.records(data, plural, singular), mapping.page_total(data, plural)

    def _pages(self, plural: str, singular: str, conditions: list, order: list | None = None) -> Iterator[dict]:
        """Every record of a search, page by page (stops on `total`, a short page, or a repeat)."""
        seen, previous_ids = 0, None
        for page in range(1, MAX_PAGES + 1):
            batch, total = self._find_page(plural, singular, conditions, page, order)
            ids = [r.get("id") for r in batch]
            if not batch or ids == previous_ids:
                return
            previous_ids = ids
            yield from batch
            seen += len(batch)
            if (total is not None and seen >= total) or (total is None and len(batch) < PAGE_LIMIT):
                return

    def _find(self, plural: str, singular: str, conditions: list, match: Callable[[dict], bool],
              fallback: list | None = None, fallback_order: list | None = None) -> dict | None:
        """The first record the service finds *and* that really matches.

        Conditions on some fields are not documented as searchable: when the answer holds records
        that do not match, the service ignored the condition, so `fallback` conditions (a narrower
        scan, [] = everything) are paged through and filtered here instead.
        """
        try:
            batch, _ = self._find_page(plural, singular, conditions, 1)
        except ValidationRejected:
            batch = None  # the condition itself was refused
        if batch is not None:
            hit = mapping.first_match(batch, match)
            if hit is not None or all(match(r) for r in batch):
                return hit
        if fallback is None:
            return None
        return mapping.first_match(self._pages(plural, singular, fallback, fallback_order), match)

    def _find_by_reference(self, doc: HubDocument) -> dict | None:
        """One `id_external eq` search; only if wFirma ignores or refuses that condition, the
        issue date ±1 day newest first (`order desc Invoice.id`), stopping at ours."""
        window = [("date", "ge", (doc.issue_date - timedelta(days=1)).isoformat()),
                  ("date", "le", (doc.issue_date + timedelta(days=1)).isoformat())]
        return self._find("invoices", "invoice", [("id_external", "eq", doc.reference)],
                          lambda r: str(r.get("id_external") or "") == doc.reference, fallback=window,
                          fallback_order=[("desc", "Invoice.id")])

    # ------------------------------------------------------------------ account

    def check_connection(self) -> str:
        companies = self._companies()
        if companies and not self.company_id and len(companies) > 1:
            listed = ", ".join(f"{cid} ({name})" if name else cid for cid, name in companies.items())
            raise AuthenticationFailed(f"Na koncie wFirma jest kilka firm – wpisz ID firmy w danych integracji. "
                                       f"Dostępne: {listed}.")
        if companies and self.company_id and self.company_id not in companies:
            raise AuthenticationFailed(f"Firma o ID {self.company_id} nie jest dostępna dla tych kluczy API – "
                                       f"dostępne ID: {', '.join(companies)}.")
        # A company-scoped call proves the keys work for the chosen company.
        self._find_page("series", "series", [], 1)
        company_id = self.company_id or (next(iter(companies)) if len(companies) == 1 else "")
        name = companies.get(company_id, "")
        if name and company_id:
            return f"{name} (ID firmy: {company_id})"
        return f"wFirma – ID firmy: {company_id}" if company_id else "wFirma"

    def _companies(self) -> dict[str, str]:
        """Company id → name from `user_companies/find` (needs no company_id); {} if unreadable."""
        try:
            data = self._call("POST", "user_companies", "find", body=mapping.find_request("user_companies"),
                              company=False)
        except (AuthenticationFailed, TransientError):
            raise
        except ProviderError:
            return {}  # only the label and the hint suffer
        companies: dict[str, str] = {}
        for record in mapping.records(data, "user_companies", "user_company"):
            company = record.get("company") if isinstance(record.get("company"), dict) else {}
            cid = company.get("id") or record.get("company_id") or record.get("id")
            if cid:
                companies[str(cid)] = str(company.get("name") or record.get("name") or "").strip()
        return companies

    def list_series(self) -> list[Choice]:
        choices = []
        for record in self._pages("series", "series", []):
            if record.get("id") is None:
                continue
            self._series[str(record["id"])] = record
            self._shared_put("series", str(record["id"]), record)
            name = str(record.get("name") or f"Seria {record['id']}").strip()
            template = str(record.get("template") or "").strip()
            choices.append(Choice(str(record["id"]), f"{name} – {template}" if template else name))
        return choices

    def list_payment_types(self) -> list[Choice]:
        return list(mapping.PAYMENT_METHODS)

    def series(self, series_id: str) -> dict:
        """One numbering series (`series/get/{id}`), read once per account every `SHARED_TTL`."""
        if series_id not in self._series and self._shared_get("series", series_id) is not None:
            self._series[series_id] = self._shared_get("series", series_id)
        if series_id not in self._series:
            try:
                data = self._call("GET", "series", "get", series_id)
            except NotFound:
                raise ValidationRejected(
                    f"Seria numeracji wFirma o ID {series_id} nie istnieje – odśwież listę serii i "
                    "połącz zgodną serię.", {"series": [f"Seria {series_id} nie istnieje w wFirma."]},
                ) from None
            found = mapping.records(data, "series", "series")
            if not found:
                raise ProviderError(f"wFirma: nieoczekiwana odpowiedź dla serii {series_id}.")
            self._series[series_id] = found[0]
            self._shared_put("series", series_id, found[0])
        return self._series[series_id]

    # ------------------------------------------------------------------ lookups for the payload

    def good_id(self, sku: str) -> str | None:
        """Catalogue product id for a SKU (`goods` with `code` = SKU): a found one is kept per
        account for `SHARED_TTL`, a missing one only for this adapter."""
        if sku in self._good_ids:
            return self._good_ids[sku]
        if self._all_goods is not None:
            return self._all_goods.get(sku)
        shared = self._shared_get("good", sku)
        if shared is not None:
            self._good_ids[sku] = shared
            return shared
        try:
            batch, _ = self._find_page("goods", "good", [("code", "eq", sku)], 1)
        except ValidationRejected:
            batch = None  # the condition was refused: read the catalogue instead
        if batch is not None and all(str(r.get("code") or "").strip() == sku for r in batch):
            found = next((r.get("id") for r in batch if r.get("id") is not None), None)
            self._good_ids[sku] = str(found) if found is not None else None
            if found is not None:
                self._shared_put("good", sku, str(found))
            return self._good_ids[sku]
        # Products with other codes came back: the search ignored `code`, so read every page once.
        return self._scan_goods().get(sku)

    def _scan_goods(self) -> dict[str, str]:
        if self._all_goods is None:
            self._all_goods = {}
            for record in self._pages("goods", "good", []):
                code = str(record.get("code") or "").strip()
                if code and record.get("id") is not None:
                    self._all_goods.setdefault(code, str(record["id"]))
            for code, good in self._all_goods.items():
                self._shared_put("good", code, good)
        return self._all_goods

    def contractor_id(self, buyer: Party, options: dict) -> str | None:
        """An existing contractor with the buyer's NIP *and* the same printed data, else None
        (the buyer's data then goes inline, so the invoice always shows the order's address)."""
        if options.get("contractor_match", "nip") != "nip" or not buyer.is_company:
            return None
        tax_no, kind = classify_tax_id(buyer)
        if kind not in (POLISH_NIP, EU_VAT_ID):
            return None
        record = mapping.contractor_record(buyer)
        cache_key = tuple(sorted(record.items()))
        shared_key = repr(cache_key)  # the buyer's printed data: any change asks wFirma again
        if cache_key not in self._contractor_ids and self._shared_get("contractor", shared_key):
            self._contractor_ids[cache_key] = self._shared_get("contractor", shared_key)
        if cache_key not in self._contractor_ids:
            try:
                hit = self._find("contractors", "contractor", [("nip", "eq", tax_no)],
                                 lambda r: mapping.contractor_matches(r, buyer))
            except TransientError:
                raise
            except ProviderError:
                # No access to the contractors module (or a refused search): inline data still
                # makes a valid invoice, and a real key problem surfaces on invoices/add.
                hit = None
            self._contractor_ids[cache_key] = str(hit["id"]) if hit and hit.get("id") is not None else None
            if self._contractor_ids[cache_key]:
                # Only a card found is shared: whether wFirma files an inline buyer as a new card
                # is not documented, so the next document of a buyer without one asks again.
                self._shared_put("contractor", shared_key, self._contractor_ids[cache_key])
        return self._contractor_ids[cache_key]

    def _number_parts(self, doc: HubDocument, settings: ExportSettings) -> dict | None:
        if settings.numbering != "hub":
            return None
        # Preflight makes sure a series is linked: its template says where the hub's digits go.
        template = str(self.series(str(settings.series_id)).get("template") or "").strip()
        parts = mapping.number_parts(doc.number, template, doc.issue_date)
        if parts is None:
            message = (f"Numer z huba „{doc.number}” nie pasuje do szablonu serii wFirma „{template}” – "
                       f"{mapping.NUMBERING_FIX}.")
            raise ValidationRejected(message, {"number": [message]})
        return parts

    # ------------------------------------------------------------------ documents

    def preflight(self, doc: HubDocument, settings: ExportSettings) -> list[Problem]:
        return mapping.preflight(doc, settings, self._options(settings), self.vat_rates)

    def build_payload(self, doc: HubDocument, settings: ExportSettings) -> dict:
        """The body of POST /invoices/add, after the look-ups it needs (series, goods, contractor)."""
        opts = self._options(settings)
        numbering = self._number_parts(doc, settings)
        good_ids: dict[str, str] = {}
        if settings.send_sku:
            missing = []
            for i, line in enumerate(doc.lines):
                sku = (line.sku or "").strip()
                found = self.good_id(sku) if sku else None
                if found:
                    good_ids[sku] = found
                elif opts.get("unknown_sku", "reject") == "reject":
                    missing.append((i, line))
            if missing:
                field_errors = {f"lines[{i}].sku": [_missing_good(line.sku)] for i, line in missing}
                raise ValidationRejected(field_errors_message("wFirma: brak produktów w katalogu", field_errors),
                                         field_errors)
        invoice = mapping.build_invoice(doc, settings, opts, good_ids=good_ids,
                                        contractor_id=self.contractor_id(doc.buyer, opts), numbering=numbering)
        return mapping.envelope("invoices", "invoice", invoice)

    def create_document(self, doc: HubDocument, settings: ExportSettings) -> RemoteDocument:
        if doc.kind not in mapping.KINDS:
            raise NotSupported(f"wFirma: rodzaj dokumentu „{doc.kind}” nie jest obsługiwany przez integrację.")
        self._refuse_problems(doc, settings)
        # No look-up first (see the module docstring): exactly once is the pipeline's claim plus
        # find_document after an unknown outcome.
        try:
            body = self.build_payload(doc, settings)
        except ValidationRejected:
            self._forget_shared()  # a series or product that changed: the retry reads it again
            raise
        opts = self._options(settings)
        extra = {"warehouse_id": str(opts["warehouse_id"])} if settings.send_sku and opts.get("warehouse_id") else None
        try:
            data = self._call("POST", "invoices", "add", body=body, extra_params=extra, writes=True)
        except ValidationRejected as refused:
            self._forget_shared()
            if settings.numbering == "hub":
                raise _numbering_refusal(doc, refused) from None
            raise
        found = [r for r in mapping.records(data, "invoices", "invoice") if r.get("id") not in (None, "")]
        if not found:
            raise OutcomeUnknown("wFirma: odpowiedź po zapisie nie zawiera identyfikatora dokumentu.")
        return mapping.parse_invoice(found[0])

    def find_document(self, doc: HubDocument) -> RemoteDocument | None:
        record = self._find_by_reference(doc)
        if record is None:
            return None
        return self.fetch_document(str(record["id"]))

    def fetch_document(self, remote_id: str) -> RemoteDocument:
        data = self._call("GET", "invoices", "get", remote_id)
        found = [r for r in mapping.records(data, "invoices", "invoice") if r.get("id") not in (None, "")]
        if not found:
            raise ProviderError(f"wFirma: nieoczekiwana odpowiedź dla dokumentu {remote_id}.")
        return mapping.parse_invoice(found[0])

    def fetch_pdf(self, remote_id: str) -> bytes:
        response = self._request("POST", "invoices", "download", remote_id, body=mapping.download_request())
        if 200 <= response.status_code < 300 and response.content.startswith(b"%PDF"):
            return response.content
        self._envelope(response, writes=False)  # raises the mapped error when there is one
        raise ProviderError("wFirma: zamiast PDF przyszła inna odpowiedź – paragony fiskalne nie mają PDF "
                            "w wFirma (wybierz paragon niefiskalny w opcjach integracji).")


# --------------------------------------------------------------------------- helpers


def _missing_good(sku: str | None) -> str:
    return (f"Produktu o kodzie „{sku}” nie ma w katalogu wFirma – dodaj go w wFirma z tym kodem "
            "albo wyłącz przekazywanie SKU.")


_ABOUT_NUMBERING = re.compile(r"numer|numeracj|chronolog|seri[aię]", re.IGNORECASE)


def _numbering_refusal(doc: HubDocument, refused: ValidationRejected) -> ValidationRejected:
    """With hub numbering, a refusal that concerns the number (or the series) names the fix."""
    errors = dict(refused.field_errors)
    numbering = {k: v for k, v in errors.items() if k in ("number", "series")}
    invoice_level = [m for k, msgs in errors.items() if not k.startswith(("buyer.", "lines[")) for m in msgs]
    about_number = [m for m in invoice_level if _ABOUT_NUMBERING.search(m)]
    if not numbering and not about_number and (errors or not _ABOUT_NUMBERING.search(refused.message)):
        return refused
    details = "; ".join(dict.fromkeys([m for msgs in numbering.values() for m in msgs] + about_number)) or (
        refused.message)
    details = details.strip().rstrip(".")
    message = f"wFirma odrzuciła numer z huba „{doc.number}”: {details} – {mapping.NUMBERING_FIX}."
    remaining = {k: v for k, v in errors.items() if k not in numbering and not set(v) <= set(about_number)}
    return ValidationRejected(message, {"number": [message], **remaining})


def _parse_body(response: requests.Response) -> Any:
    """JSON envelope, or the status of an XML one (some errors ignore outputFormat)."""
    try:
        return response.json()
    except ValueError:
        pass
    text = response.content.lstrip()[:65536]
    if text.startswith(b"<"):
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError:
            return None
        code = root.findtext("./status/code")
        if code:
            return {"status": {"code": code, "message": root.findtext("./status/message") or ""}}
    return None
