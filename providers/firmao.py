"""Firmao.pl adapter (HTTP). Payload mapping lives in `firmao_mapping`.

API: REST "svc/v1" at https://system.firmao.pl/{organizationId}/svc/v1/…, JSON, HTTP Basic with
a dedicated API user (login + generated password). Invoices and receipts are `transactions`.
Exactly-once: a sales number is unique (a second POST with it is refused with
`transactionNumberAlreadyExists`), and our reference is written into the transaction's
`description` (or a custom field) so a look-up finds the document whatever numbered it.
With hub numbering that guard is all a create needs (one POST). With Firmao's numbering a retry
carries a fresh number, so nothing would stop a second document if a 5xx came back for one that
was stored — and Firmao documents "502 proxy error" — so that create first asks for our
reference: one filtered request (see `create_document`).
The API throttles bursts (429, about one request a second): this adapter spaces its own
requests to one account, and `default_limits` keeps the pipeline's pace at the same rate.
Catalogue look-ups (SKU → product id) are kept per account in this process for a few minutes,
since the pipeline builds a fresh adapter for every job.
"""

from __future__ import annotations

import base64
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, ClassVar

import requests

from . import firmao_mapping as mapping
from .base import (
    WRITE_METHODS,
    AuthenticationFailed,
    Capabilities,
    Choice,
    CredentialField,
    DuplicateReference,
    ExportSettings,
    HubDocument,
    LookupIncomplete,
    NotSupported,
    OptionField,
    OutcomeUnknown,
    Problem,
    Provider,
    ProviderError,
    ProviderLimits,
    RemoteDocument,
    ValidationRejected,
    choice_option,
    field_errors_message,
    json_or_none,
    number_option,
    option_on,
    text_option,
)

SERVICE_ROOT = "https://system.firmao.pl"
API_HELP = "Firma → Ustawienia → API"
PAGE_LIMIT = 100  # the licence may cap it lower: paging follows `totalSize`, not page length
MAX_PAGES = 50  # safety stop for lists that never end
DEFAULT_INTERVAL = 1.0  # [LIB] the Magento module spaces calls 1 s apart to avoid 429
DEFAULT_RETRY_AFTER = 5.0  # [LIB] …and retries a 429 after 5 s when no Retry-After comes
SKU_BATCH = 40  # SKUs per `productCode(in)=` query, keeping the URL short
NUMBER_RETRIES = 2  # a service-numbered document whose number was taken meanwhile

# Spacing per account, shared by every adapter instance in this process (the worker runs jobs
# one after another in one process, each with a fresh adapter).
_last_request_at: dict[tuple, float] = {}
_account_locks: dict[tuple, threading.Lock] = {}
_locks_guard = threading.Lock()
# SKU → catalogue product id per account, shared the same way for PRODUCTS_TTL seconds. Only
# products found are kept (one added to the catalogue a minute ago is looked up again), and a
# refused document drops the account's entries, so the merchant's retry reads them afresh.
PRODUCTS_TTL = 600.0
_shared_products: dict[tuple, tuple[float, int | str]] = {}


def clear_shared_cache() -> None:
    """Forget every account's shared product ids (tests; a worker never needs it)."""
    with _locks_guard:
        _shared_products.clear()


def normalise_organization(value: str) -> str:
    """Accept 'stellis' or a pasted 'https://system.firmao.pl/stellis/…' → 'stellis'."""
    value = (value or "").strip()
    match = re.match(r"^(?:https?://)?system\.firmao\.pl/+([^/?#]+)", value, re.IGNORECASE)
    return (match.group(1) if match else value).strip("/")


class NumberTaken(ValidationRejected):
    """400 `transactionNumberAlreadyExists`: a sales document already has this number."""

    def __init__(self, message: str, field_errors: dict[str, list[str]], suggested: str | None):
        super().__init__(message, field_errors)
        self.suggested = suggested


class CustomerExists(ValidationRejected):
    """409 `duplicateValueFoundException` on a customer: one with this NIP already exists."""

    def __init__(self, message: str, field_errors: dict[str, list[str]], object_id: Any):
        super().__init__(message, field_errors)
        self.object_id = object_id


class FirmaoProvider(Provider):
    key = "firmao"
    display_name = "Firmao"
    capabilities = Capabilities(receipts=True, corrections=False, numbering_series=True, payments=True, sku=True)
    credential_fields = (
        CredentialField(
            name="organization_id",
            label="Identyfikator organizacji",
            help="Widoczny w adresie strony po zalogowaniu do Firmao: system.firmao.pl/<identyfikator>/… "
                 "(można wkleić cały adres).",
            secret=False,
            required=True,
        ),
        CredentialField(
            name="login",
            label="Login API",
            help=f"W Firmao: {API_HELP} – włącz API i skopiuj login użytkownika API "
                 "(zwykle <identyfikator>.api@firmao.pl).",
            secret=False,
            required=True,
        ),
        CredentialField(
            name="password",
            label="Hasło API",
            help=f"W Firmao: {API_HELP} – wygeneruj hasło użytkownika API i wklej je tutaj.",
            secret=True,
            required=True,
        ),
    )
    connectable = True
    # [LIB] No published limit; the API answers 429 to bursts and integrators keep to one request
    # a second. The pipeline counts operations, not requests, and a fetch takes two slots at
    # once, so the window is 5 per 5 s — the same 1/s on average, with room for one export's
    # create + fetch — and one operation at a time. Within an operation (2–4 requests) the
    # adapter spaces its own requests (option `min_request_interval`, 1 s by default).
    default_limits = ProviderLimits(max_concurrency=1, requests=5, per_seconds=5.0, writes_only=False)
    vat_rates = frozenset(mapping.VAT_RATES)
    docs_url = "https://github.com/FirmaoCRM/API"
    option_fields: ClassVar[dict[str, OptionField]] = {
        "exempt_basis": text_option("Podstawa zwolnienia (zw)",
                                    "Przepis drukowany w uwagach dokumentu, gdy dokument nie ma własnej podstawy."),
        "extra_payment_types": text_option("Dodatkowe formy płatności",
                                           ("Kody przyjmowane przez Twoje konto poza CASH i TRANSFER, np. "
                                            "„CARD=Karta płatnicza; COD=Za pobraniem”.")),
        "price_mode": choice_option("Ceny pozycji", "Puste = gross (brutto, calculateFromGross).",
                                    [("gross", "gross – brutto"), ("net", "net – tylko netto")]),
        "service_numbering": choice_option("Numeracja Firmao", "Puste = next.", [
            ("next", "next – pobierz kolejny numer serii i wyślij go"),
            ("omit", "omit – nie wysyłaj numeru, Firmao nada go sam"),
        ]),
        "reference_custom_field": text_option("Pole na identyfikator huba",
                                              "Np. custom5 – pole dodatkowe transakcji; puste = tylko opis transakcji."),
        "receipt_type": text_option("Typ paragonu", "Wartość pola type dla paragonów (domyślnie RECEIPT)."),
        "unknown_sku": choice_option("SKU spoza katalogu", "Puste = reject.", [
            ("reject", "reject – wstrzymaj eksport"),
            ("text", "text – pozycja bez powiązania, bez ruchu magazynowego"),
        ]),
        "warehouse_id": text_option("Magazyn (ID)", ("Magazyn, z którego schodzą towary przy przekazywaniu SKU; "
                                                     "puste = ustawienie Firmao.")),
        "storage_state_update": text_option("Aktualizacja stanów", "Np. AUTO_UPDATE; puste = ustawienie Firmao."),
        "issuing_person": text_option("Osoba wystawiająca", "Imię i nazwisko drukowane jako wystawca."),
        "bank_account_id": text_option("Rachunek bankowy (ID)",
                                       "Rachunek firmy drukowany na dokumencie; puste = domyślny."),
        "pdf_template": text_option("Szablon wydruku",
                                    "Nazwa szablonu PDF, gdy dokument go nie podaje (domyślnie Faktura)."),
        "min_request_interval": number_option("Odstęp między zapytaniami (s)",
                                              "Firmao odrzuca zbyt częste zapytania; domyślnie 1 s.", maximum="60"),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id = normalise_organization(self.credentials.get("organization_id", ""))
        # [LIB] The API login has the form <org>.api@firmao.pl in every example found.
        self.login = self.credentials.get("login") or (
            f"{self.organization_id}.api@firmao.pl" if self.organization_id else "")
        self.password = self.credentials.get("password", "")
        self.base_url = self.base_url or SERVICE_ROOT
        self._product_ids: dict[str, int | str] = {}
        self._templates: dict[str, str] = {}
        # Replaceable in tests: the pacing clock.
        self.clock: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], None] = time.sleep

    def secret_values(self) -> list[str]:
        # The Basic header is never logged, but its base64 form must not leak through a message either.
        return [v for v in (self.password, self._basic_token()) if v]

    def _basic_token(self) -> str:
        if not self.password:
            return ""
        return base64.b64encode(f"{self.login}:{self.password}".encode()).decode("ascii")

    # ------------------------------------------------------------------ HTTP

    def _api_path(self, path: str) -> str:
        """Object path → full path: the organisation id always goes into the URL [DOC]."""
        if urllib.parse.urlsplit(self.base_url or "").path.rstrip("/").endswith("/svc/v1"):
            return path  # a base URL given down to the API root already names the organisation
        return f"/{urllib.parse.quote(self.organization_id, safe='')}/svc/v1{path}"

    @contextmanager
    def _paced(self) -> Iterator[None]:
        """One request at a time per account in this process, at least `min_request_interval`
        after the previous one finished (so they also arrive that far apart)."""
        interval = mapping.number_option(self.options, "min_request_interval", DEFAULT_INTERVAL)
        account = (self.base_url, self.organization_id, self.login)
        with _locks_guard:
            lock = _account_locks.setdefault(account, threading.Lock())
        with lock:
            previous = _last_request_at.get(account)
            if previous is not None and interval > 0:
                wait = previous + interval - self.clock()
                if wait > 0:
                    self.sleep(wait)
            try:
                yield
            finally:
                _last_request_at[account] = self.clock()

    def _call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
              accept: str = "application/json") -> Any:
        if not self.organization_id:
            raise AuthenticationFailed(
                "Brak identyfikatora organizacji Firmao – skopiuj go z adresu strony po zalogowaniu "
                "(system.firmao.pl/<identyfikator>/…)."
            )
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", self.organization_id):
            raise ProviderError(
                f"Identyfikator organizacji Firmao „{self.organization_id}” jest nieprawidłowy – podaj samą "
                "część adresu po system.firmao.pl/, np. „mojafirma”."
            )
        if not self.password:
            raise AuthenticationFailed(f"Brak hasła API Firmao – wygeneruj je w: {API_HELP}.")
        headers = {"Authorization": f"Basic {self._basic_token()}", "Accept": accept}
        if body is not None:
            headers["Content-Type"] = "application/json; charset=UTF-8"
        with self._paced():
            response = self._send(method, self._api_path(path), params=params, json=body, headers=headers)
        self._raise_for_status(response)
        if accept != "application/json":
            return response
        try:
            return response.json()
        except ValueError:
            text = response.text.strip()
            if method not in WRITE_METHODS and text and "<" not in text:
                return _PlainText(text)
            raise self._unreadable(method) from None

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        # [LIB] no Retry-After on a 429: wait as integrators do. 501 means "not implemented".
        unavailable = self._unavailable(
            response, permanent=frozenset({501}),
            default_wait=mapping.number_option(self.options, "retry_after_429", DEFAULT_RETRY_AFTER))
        if unavailable:
            raise unavailable
        payload = json_or_none(response)
        errors = [e for e in (payload if isinstance(payload, list) else [payload]) if isinstance(e, dict)]
        detail = self._detail(response, "; ".join(_error_text(e) for e in errors))
        if status == 401:
            raise AuthenticationFailed(
                "Firmao odrzuciło login lub hasło API (401) – sprawdź identyfikator organizacji, login i hasło "
                f"w: {API_HELP}."
            )
        if status == 403:
            raise AuthenticationFailed(
                f"Firmao: użytkownik API nie ma uprawnień do tej operacji (403) – nadaj je w: {API_HELP}."
                + (f" ({detail})" if detail else "")
            )
        if status == 404:
            raise ProviderError(
                f"Firmao: nie znaleziono ({detail or 'Not found'}) – sprawdź identyfikator organizacji "
                f"„{self.organization_id}”."
            )
        if status in (400, 409, 422) and errors:
            self._raise_refusal(errors)
        if status in (400, 409, 422):
            raise ValidationRejected(f"Firmao odrzuciło żądanie ({status}): {detail or 'błąd walidacji'}", {})
        raise ProviderError(f"Firmao: HTTP {status}: {detail or 'nieoczekiwana odpowiedź'}")

    def _raise_refusal(self, errors: list[dict]) -> None:
        field_errors: dict[str, list[str]] = {}
        for error in errors:
            field_errors.setdefault(_error_field(error), []).append(self.redact(_error_message(error)))
        message = field_errors_message("Firmao odrzuciło dokument", field_errors)
        first = errors[0]
        code = first.get("errorCode")
        info = first.get("additionalInfo") if isinstance(first.get("additionalInfo"), dict) else {}
        if code == "transactionNumberAlreadyExists":
            suggested = info.get("suggestedNumber")
            raise NumberTaken(message, field_errors, str(suggested) if suggested else None)
        if code == "duplicateValueFoundException" and str(first.get("objectName") or "").lower() == "customer":
            duplicates = [d for d in first.get("duplicateValues") or [] if isinstance(d, dict)]
            object_id = next((d.get("objectId") for d in duplicates if d.get("objectId") is not None), None)
            raise CustomerExists(message, field_errors, object_id)
        raise ValidationRejected(message, field_errors)

    def _list(self, path: str, params: dict, start: int = 0, limit: int = PAGE_LIMIT) -> tuple[list[dict], int]:
        """One page: (records, totalSize); totalSize -1 means "probably more" [DOC]."""
        data = self._call("GET", path, params={**params, "start": start, "limit": limit})
        if isinstance(data, list):
            return [r for r in data if isinstance(r, dict)], -1 if len(data) >= limit else len(data)
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise ProviderError(f"Firmao: nieoczekiwana odpowiedź listy {path}.")
        records = [r for r in data["data"] if isinstance(r, dict)]
        try:
            total = int(data.get("totalSize", len(records)))
        except (TypeError, ValueError):
            total = -1
        return records, total

    def _pages(self, path: str, params: dict, max_pages: int = MAX_PAGES,
               complete: bool = False) -> Iterator[dict]:
        """Every record of a list, paging with start/limit while totalSize says there is more.
        With `complete`, a list cut short (`max_pages` read while there is more, or the service
        ignoring `start`) raises LookupIncomplete instead of ending quietly."""
        start, previous_ids = 0, None
        for _ in range(max_pages):
            records, total = self._list(path, params, start)
            ids = [r.get("id") for r in records]
            if not records:
                return
            if ids == previous_ids:
                # The service ignored `start`: stop instead of looping.
                if complete and not (0 <= total <= start):
                    raise LookupIncomplete(
                        f"Firmao: lista {path} nie przechodzi na kolejne strony – nie da się przejrzeć wszystkich "
                        "dokumentów; sprawdzimy ponownie."
                    )
                return
            previous_ids = ids
            yield from records
            start += len(records)
            if total >= 0 and start >= total:
                return
        if complete:
            raise LookupIncomplete(
                f"Firmao: przejrzano {max_pages} stron listy {path} ({start} pozycji) bez rozstrzygnięcia – nie "
                "wiadomo, czy dokument już jest w Firmao; sprawdzimy ponownie (limit stron: opcja lookup_pages)."
            )

    # ------------------------------------------------------------------ account

    def check_connection(self) -> str:
        # Reading one sales document proves the login, the organisation and the right to transactions.
        self._list("/transactions", {"mode(eq)": "SALE"}, limit=1)
        return f"{self.organization_id} – {self.login}"

    def list_series(self) -> list[Choice]:
        return mapping.series_choices(self._pages("/invoicenumbers", {"dataFormat": "MEDIUM"}))

    def list_payment_types(self) -> list[Choice]:
        return mapping.payment_types(self.options)

    def next_number(self, kind: str, series_id: str | None = None) -> str:
        """The next free number of the (linked or default) series, read before sending [DOC]."""
        params = {"objectClass": "transaction", "type": mapping.NUMBERING_TYPES[kind], "mode": "SALE"}
        if series_id:
            params["id"] = series_id
        data = self._call("GET", "/invoicenumbers/next", params=params)
        number = mapping.next_number_from(data if not isinstance(data, _PlainText) else None, str(data))
        if not number:
            raise ProviderError(
                "Firmao: nie udało się odczytać kolejnego numeru serii – sprawdź powiązaną serię albo ustaw "
                "opcję „Numeracja Firmao” na omit."
            )
        return number

    def _account(self) -> tuple:
        return (self.base_url, self.organization_id, self.login)

    def product_ids(self, skus: list[str]) -> dict[str, int | str]:
        """SKU (`productCode`) → catalogue product id, for the SKUs not looked up yet [DOC §11]:
        by this adapter or, within `PRODUCTS_TTL`, by another one of the same account."""
        now, account = time.monotonic(), self._account()
        with _locks_guard:
            for sku in dict.fromkeys(skus):
                entry = _shared_products.get((account, sku))
                if sku and sku not in self._product_ids and entry and now - entry[0] <= PRODUCTS_TTL:
                    self._product_ids[sku] = entry[1]
        wanted = [s for s in dict.fromkeys(skus) if s and s not in self._product_ids]
        batchable = [s for s in wanted if ";" not in s]
        single = [s for s in wanted if ";" in s]
        for i in range(0, len(batchable), SKU_BATCH):
            batch = batchable[i:i + SKU_BATCH]
            try:
                records, _ = self._list("/products", {"productCode(in)": ";".join(batch)})
            except ValidationRejected:
                single += batch  # `in` not accepted on this field: one query per SKU
                continue
            found = self._remember_products(records, batch)
            if any(str(r.get("productCode") or "") not in batch for r in records):
                # The filter was ignored: ask for the rest one by one.
                single += [s for s in batch if s not in found]
        for sku in single:
            records, _ = self._list("/products", {"productCode(eq)": sku})
            self._remember_products(records, [sku])
        return {s: self._product_ids[s] for s in skus if s in self._product_ids}

    def _remember_products(self, records: list[dict], skus: list[str]) -> set[str]:
        found = set()
        for record in records:
            code = str(record.get("productCode") or "").strip()
            if code in skus and record.get("id") is not None and record.get("deleted") is not True:
                self._product_ids.setdefault(code, record["id"])
                found.add(code)
        now, account = time.monotonic(), self._account()
        with _locks_guard:
            for code in found:
                _shared_products[(account, code)] = (now, self._product_ids[code])
        return found

    def _forget_products(self) -> None:
        account = self._account()
        with _locks_guard:
            for key in [k for k in _shared_products if k[0] == account]:
                del _shared_products[key]

    # ------------------------------------------------------------------ documents

    def preflight(self, doc: HubDocument, settings: ExportSettings) -> list[Problem]:
        return mapping.preflight(doc, settings, self._options(settings), self.vat_rates)

    def create_document(self, doc: HubDocument, settings: ExportSettings) -> RemoteDocument:
        if doc.kind not in mapping.KINDS:
            raise NotSupported(f"Firmao: rodzaj dokumentu „{doc.kind}” nie jest przekazywany.")
        self._refuse_problems(doc, settings)
        opts = self._options(settings)
        hub_numbering = settings.numbering == "hub"
        number: str | None = doc.number if hub_numbering else None
        if not hub_numbering:
            # Kept on purpose, unlike elsewhere: a lost answer is settled by the pipeline's
            # find_document, but a 5xx (Firmao documents "502 proxy error") is retried with a new
            # create, and a fresh service number never collides with an attempt that was stored
            # anyway. So ask for our reference first — one filtered request (and, only if Firmao
            # ignores that filter, one page of the newest transactions: an earlier attempt of
            # this export is minutes old at most) — never a scan of the day.
            if option_on(opts.get("check_before_create"), default=True):
                existing = self._find_by_reference(doc, window_pages=1)
                if existing is not None:
                    raise DuplicateReference(
                        f"Firmao: dokument {doc.reference} już istnieje (numer {existing.get('transactionNumber')}).",
                        {"reference": [f"Firmao ma już dokument z identyfikatorem {doc.reference}."]},
                    )
            if mapping.option(opts, "service_numbering") == "next":
                number = self.next_number(doc.kind, settings.series_id)
        try:
            product_ids = self._linked_products(doc, settings, opts)
        except ValidationRejected:
            self._forget_products()
            raise

        customer_id = None
        for attempt in range(NUMBER_RETRIES + 2):
            body = mapping.build_transaction(doc, settings, opts, number=number, product_ids=product_ids,
                                             customer_id=customer_id)
            try:
                data = self._call("POST", "/transactions", body=body)
                break
            except NumberTaken as taken:
                if hub_numbering:
                    raise self._number_conflict(doc, taken) from None
                if attempt >= NUMBER_RETRIES or mapping.option(opts, "service_numbering") != "next":
                    raise
                # Someone took the number between reading and sending it: take the next one.
                number = taken.suggested or self.next_number(doc.kind, settings.series_id)
            except CustomerExists as exists:
                if exists.object_id is None or customer_id is not None:
                    raise
                customer_id = exists.object_id  # a customer with this NIP exists: link it
            except ValidationRejected:
                if product_ids:
                    self._forget_products()  # a product gone from the catalogue: the retry looks again
                raise
        else:  # pragma: no cover - every path above breaks or raises
            raise ProviderError("Firmao: nie udało się zapisać dokumentu.")

        remote_id, label = mapping.created_transaction(data)
        if remote_id is None:
            raise OutcomeUnknown("Firmao: odpowiedź po zapisie nie zawiera identyfikatora transakcji.")
        return RemoteDocument(
            remote_id=remote_id,
            number=number or mapping.number_from_label(label),
            status="created",
            view_url=None,
            pdf_url=None,
            total_gross=None,  # read back by fetch_document: the answer is only a changelog
            raw=data if isinstance(data, dict) else {},
        )

    def _linked_products(self, doc: HubDocument, settings: ExportSettings, opts: dict) -> dict[str, int | str]:
        if not settings.send_sku:
            return {}
        skus = [line.sku for line in doc.lines if line.sku]
        product_ids = self.product_ids(skus)
        missing = [(i, line) for i, line in enumerate(doc.lines) if line.sku and line.sku not in product_ids]
        if missing and mapping.option(opts, "unknown_sku") == "reject":
            field_errors = {
                f"lines[{i}].sku": [
                    (f"Produktu o SKU „{line.sku}” („{line.name}”) nie ma w katalogu Firmao – dodaj go z tym kodem, "
                    "wyłącz przekazywanie SKU albo ustaw opcję „SKU spoza katalogu” na text.")
                ]
                for i, line in missing
            }
            raise ValidationRejected(field_errors_message("Firmao: nieznane SKU", field_errors), field_errors)
        return product_ids

    def _number_conflict(self, doc: HubDocument, taken: NumberTaken) -> ValidationRejected:
        """The hub's number is taken: by our own earlier attempt (a duplicate), or by another document."""
        holder = self._by_number(doc.number, doc.reference)
        if holder is not None:
            return DuplicateReference(
                f"Firmao: dokument {doc.number} ({doc.reference}) już istnieje.", taken.field_errors)
        field_errors = {"number": [
            f"Numer „{doc.number}” ma już inny dokument w Firmao – użyj numeracji Firmao albo połącz serię, "
            "której numery nie pokrywają się z Firmao."
            + (f" Firmao proponuje „{taken.suggested}”." if taken.suggested else "")
        ]}
        return ValidationRejected(field_errors_message("Firmao odrzuciło numer z huba", field_errors), field_errors)

    def _by_number(self, number: str, reference: str) -> dict | None:
        records, _ = self._list("/transactions", {"transactionNumber(eq)": number, "mode(eq)": "SALE"})
        return next((r for r in records if reference in mapping.references_in(r, self.options)), None)

    def _find_by_reference(self, doc: HubDocument, window_pages: int | None = None) -> dict | None:
        """The transaction carrying our reference: filtered on the field that holds it (one
        request), and only when the service cannot or does not filter on it, by paging through
        the issue date ±1 day newest first, stopping at ours. With `window_pages` (the check
        before a create) at most that many pages, best effort; without it (a look-up after an
        unknown outcome) up to the `lookup_pages` option, and running out of pages before the
        window ends raises LookupIncomplete: never "not there" without having looked."""
        custom = mapping.option(self.options, "reference_custom_field")
        field = f"customFields.{custom}(eq)" if custom else "description(contains)"
        records: list[dict] | None
        try:
            records, _ = self._list("/transactions", {field: doc.reference, "mode(eq)": "SALE"})
        except ValidationRejected:
            records = None  # [UNCONFIRMED] filtering on this field: fall back to the date window
        if records is not None:
            match = self._carrying(records, doc.reference)
            if match is not None or all(self._mentions(r, doc.reference) for r in records):
                # The filter was applied (everything returned holds the text, e.g. IB-12 for
                # IB-1), so nothing else carries our reference.
                return match
        window = {
            "invoiceDate(ge)": (doc.issue_date - timedelta(days=1)).isoformat(),
            "invoiceDate(le)": (doc.issue_date + timedelta(days=1)).isoformat(),
            "mode(eq)": "SALE",
            "sort": "id",
            "dir": "DESC",  # [DOC] sorting: the document looked for is among the newest
        }
        pages = window_pages or int(mapping.number_option(self.options, "lookup_pages", 20))
        return self._carrying(self._pages("/transactions", window, max_pages=max(pages, 1),
                                          complete=window_pages is None), doc.reference)

    def _carrying(self, records, reference: str) -> dict | None:
        return next((r for r in records if reference in mapping.references_in(r, self.options)), None)

    def _mentions(self, record: dict, reference: str) -> bool:
        """The record holds the reference's text where the filter looked (not necessarily ours)."""
        custom = mapping.option(self.options, "reference_custom_field")
        if custom:
            return reference in mapping.references_in(record, self.options)
        return reference in str(record.get("description") or "")

    def find_document(self, doc: HubDocument) -> RemoteDocument | None:
        match = self._by_number(doc.number, doc.reference) if doc.number.strip() else None
        if match is None:
            match = self._find_by_reference(doc)
        if match is None or match.get("id") is None:
            return None
        self._remember_template(match)
        return mapping.parse_transaction(match, None, self.options)

    def fetch_document(self, remote_id: str) -> RemoteDocument:
        record = self._record(remote_id)
        entries = mapping.entries_of(self._pages("/transactionentries", {"transaction(eq)": remote_id}),
                                     remote_id)
        return mapping.parse_transaction(record, entries, self.options)

    def _record(self, remote_id: str) -> dict:
        records, _ = self._list("/transactions", {"id(eq)": remote_id}, limit=1)
        record = next((r for r in records if str(r.get("id")) == str(remote_id)), None)
        if record is None:
            raise ProviderError(f"Firmao: nie znaleziono transakcji {remote_id}.")
        self._remember_template(record)
        return record

    def _remember_template(self, record: dict) -> None:
        template = str(record.get("lastSelectedInvoiceReport") or "").strip()
        if template and record.get("id") is not None:
            self._templates[str(record["id"])] = template

    def fetch_pdf(self, remote_id: str) -> bytes:
        template = self._templates.get(str(remote_id))
        if template is None:
            self._record(remote_id)
            template = self._templates.get(str(remote_id)) or mapping.option(self.options, "pdf_template")
        path = (f"/reports/invoices/transaction/{urllib.parse.quote(template, safe='')}/"
                f"{urllib.parse.quote(f'dokument-{remote_id}', safe='')}.pdf")
        response = self._call("GET", path, params={"original": "true", "id": remote_id}, accept="application/pdf")
        content = response.content
        if not content.startswith(b"%PDF"):
            payload = json_or_none(response)
            detail = self.redact(_error_text(payload)) if isinstance(payload, dict) else ""
            raise ProviderError("Firmao: zamiast PDF przyszła inna odpowiedź" + (f": {detail}" if detail else "."))
        return content


# --------------------------------------------------------------------------- helpers


class _PlainText(str):
    """A 2xx answer that is plain text, not JSON (e.g. the next number as a bare string)."""


def _error_field(error: dict) -> str:
    return str(error.get("field") or error.get("fieldName") or error.get("errorCode") or "document")


_ERROR_TEXTS = {
    "transactionNumberAlreadyExists": "numer dokumentu jest już zajęty",
    "entityNotFoundForId": "nie ma obiektu o tym identyfikatorze",
    "duplicateValueFoundException": "taka wartość już istnieje",
    "unknownParameter": "nieznane pole",
}


def _error_message(error: dict) -> str:
    code = str(error.get("errorCode") or "")
    parts = [_ERROR_TEXTS.get(code, code or "błąd")]
    if error.get("rejectedValue") not in (None, ""):
        parts.append(f"wartość „{error['rejectedValue']}”")
    info = error.get("additionalInfo")
    if isinstance(info, dict) and info.get("suggestedNumber"):
        parts.append(f"proponowany numer „{info['suggestedNumber']}”")
    for duplicate in error.get("duplicateValues") or []:
        if isinstance(duplicate, dict) and duplicate.get("objectId") is not None:
            parts.append(f"istniejący obiekt {duplicate['objectId']}")
    if error.get("message"):
        parts.append(str(error["message"]))
    return ", ".join(parts)


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return ""
    return f"{_error_field(error)}: {_error_message(error)}"
