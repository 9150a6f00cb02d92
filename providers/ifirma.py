"""iFirma.pl adapter (HTTP). Payload mapping lives in `ifirma_mapping`.

"iapi" at https://www.ifirma.pl/iapi, JSON, every request signed in an `Authentication` header:
HMAC-SHA1 over URL (no query) + login + key name + body with the hex-decoded key of that kind
(`faktura` for invoices and lists, `abonent` for the accounting month). Answers are wrapped in
`{"response": {...}}` and the body's `Kod` is the real result — errors may come with HTTP 200.

Exactly-once: iFirma has no idempotency key, no external-id field and no duplicate guard, so our
reference is printed in `Uwagi` and `find_document` looks for it among the documents of the
issue date with the same gross amount (newest first). A create is one POST and nothing else: the
pipeline claims the document before sending, and an answer that leaves the outcome open — a lost
one, or iFirma's own "technical problem" (`Kod` 100) after a write — is an unknown outcome that
the pipeline settles with `find_document` before anything is sent again. A look-up before every
create read every same-day invoice of the same amount one by one, so on a shop's busy day it
cost dozens of the account's 100 requests a minute per document.

A document in PLN is a domestic invoice (`fakturakraj`); one in another currency goes to
`fakturawaluta` ("faktura w walucie"), and its remote id says so ("fakturawaluta:<id>") because
reading, the PDF and the look-up are per resource. A bare id stays a domestic invoice.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import urllib.parse
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import requests
import requests.models

from . import ifirma_mapping as mapping
from .base import (
    WRITE_METHODS,
    AuthenticationFailed,
    Capabilities,
    Choice,
    CredentialField,
    ExportSettings,
    HubDocument,
    NotSupported,
    OptionField,
    OutcomeUnknown,
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
    option_on,
    path_id,
    text_option,
)
from .money import decimal_or_none, money_text

API_HOST = "https://www.ifirma.pl"
API_PREFIX = "/iapi"
KEYS_HELP = "ifirma.pl: Narzędzia → API (w nowym wyglądzie: Konfiguracja → Rozszerzenia i integracje → API)"
# Key name in the signature → credential field holding that key.
KEY_FIELDS = {"faktura": "invoice_key", "abonent": "subscriber_key"}
INVOICE_KEY, SUBSCRIBER_KEY = "faktura", "abonent"

PAGE_SIZE = 20  # the documented default of `iloscNaStronie`; a short page ends the list
MAX_PAGES = 100  # safety stop for a service that ignores `strona`
MAX_DETAIL_READS = 25  # candidates read one by one while looking for our reference

# `Kod` → why the service refused our credentials (API FAQ).
AUTH_CODES = {
    400: "nieprawidłowy nagłówek autoryzacji",
    401: "nieznany login",
    402: "nie wygenerowano klucza API tego rodzaju",
    403: "nieprawidłowy podpis (klucz nie pasuje do loginu)",
    499: "nie zaakceptowano regulaminu API",
    500: "brak uprawnień do API lub do tego zasobu",
}
VALIDATION_CODES = frozenset({200, 201, 202})
NOTHING_FOUND = 208


class NotFound(ProviderError):
    """`Kod` 208 or HTTP 404: nothing matches."""


def signature(url: str, login: str, key_name: str, key_hex: str, body: bytes = b"") -> str:
    """HMAC-SHA1 of URL (without its query) + login + key name + body, keyed with the hex-decoded key."""
    message = (url + login + key_name).encode("utf-8") + body
    return hmac.new(bytes.fromhex(key_hex), message, hashlib.sha1).hexdigest()


def serialize(body: Any) -> bytes:
    """The exact bytes `requests` sends for `json=body`: the signature must cover what goes out."""
    return requests.models.complexjson.dumps(body, allow_nan=False).encode("utf-8")


def unsigned_url(url: str) -> str:
    """scheme://host[:port]/path — the query string is not signed."""
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class IfirmaProvider(Provider):
    key = "ifirma"
    display_name = "iFirma"
    capabilities = Capabilities(receipts=False, corrections=False, numbering_series=True, payments=True, sku=False)
    credential_fields = (
        CredentialField(
            name="login",
            label="Login iFirma",
            help="Login (adres e-mail), którym logujesz się do ifirma.pl.",
            secret=False,
            required=True,
        ),
        CredentialField(
            name="invoice_key",
            label="Klucz API „faktura”",
            help=f"{KEYS_HELP}: wygeneruj klucz typu „faktura” i skopiuj go (ciąg znaków 0-9 i A-F).",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="subscriber_key",
            label="Klucz API „abonent”",
            help="Ta sama strona: klucz typu „abonent” – służy do odczytu miesiąca księgowego, by wyjaśnić, "
                 "dlaczego iFirma odrzuca datę faktury.",
            secret=True,
            required=True,
        ),
    )
    connectable = True
    # Documented per user: 100 requests a minute (and 15 000 a day).
    default_limits = ProviderLimits(max_concurrency=2, requests=100, per_seconds=60, writes_only=False)
    vat_rates = mapping.VAT_RATES
    docs_url = "https://api.ifirma.pl"
    option_fields: ClassVar[dict[str, OptionField]] = {
        "series_names": text_option(
            "Serie numeracji iFirma",
            ("Nazwy serii z iFirma, oddzielone przecinkami (API nie udostępnia ich listy); "
             "po zapisaniu odśwież listę serii i przypisz je seriom huba."),
        ),
        "default_payment_type": choice_option(
            "Sposób zapłaty dla nieznanych nazw",
            ("Dla płatności, których nazwy integracja nie rozpoznaje; puste = takie dokumenty czekają "
             "na przypisanie płatności."),
            [(c.id, f"{c.id} – {c.name}") for c in mapping.PAYMENT_TYPES],
        ),
        "exemption_basis": text_option(
            "Podstawa prawna zwolnienia (zw)",
            "Do 30 znaków, np. „Art. 113 ust. 1” albo „Art. 43 ust. 1 pkt 29 lit. a”.",
            max_length=30,
        ),
        "recipient_signature": choice_option(
            "Podpis odbiorcy",
            "Puste = BPO (bez podpisu odbiorcy).",
            [("BPO", "BPO – bez podpisu odbiorcy"), ("BWO", "BWO – bez podpisów"),
             ("OUP", "OUP – osoba upoważniona do odbioru"), ("UPO", "UPO – upoważnienie")],
        ),
        "amount_filter": bool_option(
            "Filtr kwoty przy wyszukiwaniu",
            ("Lista faktur jest zawężana parametrami kwotaOd/kwotaDo do kwoty brutto; wyłącz, gdyby "
             "iFirma porównywała tam inną kwotę."),
            on=True,
        ),
        "currency_sale_type": choice_option(
            "Typ sprzedaży faktury w walucie",
            ("Dokumenty w walucie innej niż PLN trafiają do iFirma jako „faktura w walucie”; puste = "
             "KRAJOWA (sprzedaż krajowa z ceną w walucie)."),
            [("KRAJOWA", "KRAJOWA – sprzedaż krajowa"), ("WYSYLKOWA", "WYSYLKOWA – sprzedaż wysyłkowa z kraju")],
        ),
        "currency_language": choice_option(
            "Drugi język faktury w walucie",
            "Język drukowany obok polskiego na fakturze w walucie; puste = tylko polski.",
            [(c.id, f"{c.id} – {c.name}") for c in mapping.LANGUAGES],
        ),
        "send_exchange_rate": bool_option(
            "Kurs waluty z zamówienia",
            ("Faktura w walucie dostaje kurs do PLN zapisany w zamówieniu; wyłącz, by iFirma przyjęła "
             "własny kurs z dnia poprzedzającego wystawienie."),
            on=True,
        ),
        "np_rate_type": text_option(
            "Typ stawki dla „np”",
            "Domyślnie NP (kod niepotwierdzony w dokumentacji iFirma) – zmień, jeśli iFirma go odrzuca.",
            max_length=10,
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.login = self.credentials.get("login", "")
        self.base_url = self.base_url or API_HOST
        # The sandbox is addressed as "{sandbox}/ifirma" + the real path; a base URL that already
        # ends in /iapi (the documented API root) is taken as is.
        self._prefix = "" if self.base_url.endswith(API_PREFIX) else API_PREFIX

    # ------------------------------------------------------------------ HTTP

    def _key(self, key_name: str) -> str:
        value = re.sub(r"\s+", "", self.credentials.get(KEY_FIELDS[key_name], ""))
        if not value:
            raise AuthenticationFailed(f"Brak klucza API iFirma „{key_name}” – wygeneruj go w: {KEYS_HELP}.")
        if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", value):
            raise AuthenticationFailed(
                f"Klucz API iFirma „{key_name}” powinien składać się z cyfr 0-9 i liter A-F – skopiuj go "
                f"ponownie z: {KEYS_HELP}."
            )
        return value

    def _check_login(self) -> None:
        if not self.login:
            raise AuthenticationFailed("Brak loginu iFirma – wpisz adres e-mail, którym logujesz się do ifirma.pl.")
        if not header_safe(self.login) or "," in self.login:
            raise AuthenticationFailed(
                f"Login iFirma „{self.login}” zawiera niedozwolone znaki – wpisz adres e-mail z ifirma.pl."
            )

    def authentication(self, url: str, key_name: str, body: bytes = b"") -> str:
        """The `Authentication` header value for one request to `url` carrying `body`."""
        digest = signature(unsigned_url(url), self.login, key_name, self._key(key_name), body)
        return f"IAPIS user={self.login}, hmac-sha1={digest}"

    def _call(self, method: str, path: str, key_name: str, *, params: dict | None = None,
              body: dict | None = None, pdf: bool = False) -> Any:
        self._check_login()
        full_path = self._prefix + path
        payload = mapping.jsonable(body) if body is not None else None
        raw = serialize(payload) if payload is not None else b""
        headers = {
            "Accept": "application/pdf" if pdf else "application/json",
            # On every request, reads too: iFirma answers code 102 ("missing or wrong request content
            # type") to one without it [DOC], as its official plugin always sends it.
            "Content-Type": "application/json; charset=UTF-8",
            "Authentication": self.authentication(self.base_url + full_path, key_name, raw),
        }
        response = self._send(method, full_path, params=params, json=payload, headers=headers)
        return self._read(response, method, key_name, pdf)

    def _read(self, response: requests.Response, method: str, key_name: str, pdf: bool) -> Any:
        status = response.status_code
        if status == 429:
            raise self._unavailable(response)
        if pdf and 200 <= status < 300 and response.content.startswith(b"%PDF"):
            return response.content
        envelope = _envelope(response)
        code = _code(envelope)
        if status == 404:
            # Whatever `Kod` comes with it (the contract leaves it open): the thing is not there.
            info = self.redact(str((envelope or {}).get("Informacja") or "").strip())
            raise NotFound("iFirma: nie znaleziono (404)" + (f": {info}." if info else "."))
        if code not in (None, 0):
            self._raise_for_code(code, envelope.get("Informacja"), method, key_name)
        unavailable = self._unavailable(response)  # a 5xx whose body names no cause
        if unavailable:
            raise unavailable
        if status in (401, 403):
            raise AuthenticationFailed(
                f"iFirma odmówiła dostępu (HTTP {status}) – sprawdź login i klucz „{key_name}” w: {KEYS_HELP}."
            )
        if not 200 <= status < 300:
            raise ProviderError(f"iFirma: nieoczekiwana odpowiedź HTTP {status}.")
        if pdf:
            raise ProviderError("iFirma: zamiast PDF przyszła inna odpowiedź.")
        if envelope is None:
            raise self._unreadable(method, "JSON z polem „response”")
        return envelope

    def _raise_for_code(self, code: int, information: Any, method: str, key_name: str) -> None:
        info = self.redact(str(information or "").strip())
        said = f" (iFirma: {info})" if info else ""
        if code in AUTH_CODES:
            fixes = {
                401: f"wpisz login (e-mail), którym logujesz się do ifirma.pl – „{self.login}” jest nieznany",
                402: f"wygeneruj klucz „{key_name}” w: {KEYS_HELP}",
                403: f"skopiuj ponownie klucz „{key_name}” z: {KEYS_HELP}",
                499: "zaloguj się do ifirma.pl i zaakceptuj regulamin API",
                500: "API iFirma wymaga płatnego abonamentu z dostępem do API – sprawdź plan konta",
            }
            fix = fixes.get(code, f"sprawdź login i klucz „{key_name}” w: {KEYS_HELP}")
            raise AuthenticationFailed(f"iFirma: {AUTH_CODES[code]} (kod {code}) – {fix}.{said}")
        if code == 100:
            if method in WRITE_METHODS:
                # A technical failure after the write arrived: it may be stored, so look it up first.
                raise OutcomeUnknown(f"iFirma: problem techniczny po stronie usługi (kod 100).{said}")
            raise TransientError(f"iFirma: problem techniczny po stronie usługi (kod 100).{said}")
        if code == 429:  # the request cap, should it come with another HTTP status
            raise TransientError(f"iFirma: limit zapytań przekroczony (kod 429).{said}", status=429)
        if code == NOTHING_FOUND:
            raise NotFound(f"iFirma: nic nie znaleziono (kod 208).{said}")
        if code in VALIDATION_CODES and method in WRITE_METHODS:
            field_errors = mapping.refusal_field_errors(info)
            what = "ustawienia konta iFirma nie pozwalają wystawić dokumentu" if code == 202 else "iFirma odrzuciła dokument"
            raise ValidationRejected(field_errors_message(f"{what} (kod {code})", field_errors), field_errors)
        raise ProviderError(f"iFirma: {info or 'błąd'} (kod {code}).")

    # ------------------------------------------------------------------ account

    def accounting_month(self) -> tuple[int, int]:
        """(year, month) of the month open for bookkeeping; documents must be dated inside it."""
        data = self._call("GET", "/abonent/miesiacksiegowy.json", SUBSCRIBER_KEY)
        data = data.get("Wynik") if isinstance(data.get("Wynik"), dict) else data
        try:
            return int(data["RokKsiegowy"]), int(data["MiesiacKsiegowy"])
        except (KeyError, TypeError, ValueError):
            raise ProviderError("iFirma: nieoczekiwana odpowiedź dla miesiąca księgowego.") from None

    def check_connection(self) -> str:
        # Both keys are used: the subscriber key for the month, the invoice key for a tiny list.
        year, month = self.accounting_month()
        today = date.today().isoformat()
        try:
            self._call("GET", "/faktury.json", INVOICE_KEY,
                       params={"dataOd": today, "dataDo": today, "strona": 1, "iloscNaStronie": 1})
        except NotFound:
            pass  # no invoices today: the key works
        return f"{self.login} – miesiąc księgowy {month:02d}.{year}"

    def list_series(self) -> list[Choice]:
        # No endpoint lists numbering series; they are chosen by name (`NazwaSeriiNumeracji`),
        # so the merchant types the names from iFirma into the integration's options.
        return [Choice(name, name) for name in mapping.series_names(self.options)]

    def list_payment_types(self) -> list[Choice]:
        return list(mapping.PAYMENT_TYPES)

    # ------------------------------------------------------------------ documents

    def preflight(self, doc: HubDocument, settings: ExportSettings) -> list[Problem]:
        return mapping.preflight(doc, settings, self._options(settings), self.vat_rates)

    def build_payload(self, doc: HubDocument, settings: ExportSettings) -> dict:
        """The request body (Decimals kept; useful for previews and tests)."""
        return mapping.build_invoice(doc, settings, self._options(settings))

    def create_document(self, doc: HubDocument, settings: ExportSettings) -> RemoteDocument:
        resource = mapping.currency_resource(doc)
        if resource is None:
            raise NotSupported(f"iFirma: rodzaj dokumentu „{doc.kind}” nie jest obsługiwany.")
        self._refuse_problems(doc, settings)
        # No look-up first (see the module docstring): one POST per export.
        try:
            data = self._call("POST", f"/{resource.name}.json", resource.key_name,
                              body=self.build_payload(doc, settings))
        except ValidationRejected as refusal:
            raise self._explain_refusal(doc, refusal) from None
        remote_id = data.get("Identyfikator")
        if remote_id in (None, ""):
            raise OutcomeUnknown("iFirma: odpowiedź po zapisie nie zawiera identyfikatora dokumentu.")
        # The answer carries no number; the pipeline's fetch reads it (no extra request here,
        # so one export stays one request of the account's 100 a minute).
        return RemoteDocument(remote_id=mapping.remote_id_of(resource, remote_id), number=None, status="issued",
                              view_url=None, pdf_url=None, total_gross=None, raw=data)

    def _explain_refusal(self, doc: HubDocument, refusal: ValidationRejected) -> ValidationRejected:
        """iFirma refuses documents dated outside the open accounting month with a generic text:
        read the month and, if that is the cause, say which month to open."""
        if not self.credentials.get(KEY_FIELDS[SUBSCRIBER_KEY]):
            return refusal
        try:
            year, month = self.accounting_month()
        except ProviderError:
            return refusal
        if (doc.issue_date.year, doc.issue_date.month) == (year, month):
            return refusal
        advice = (
            f"Data wystawienia {doc.issue_date:%d.%m.%Y} nie należy do otwartego w iFirma miesiąca księgowego "
            f"({month:02d}.{year}) – przełącz w iFirma miesiąc księgowy na {doc.issue_date:%m.%Y} i ponów eksport."
        )
        field_errors = {key: list(messages) for key, messages in refusal.field_errors.items()}
        field_errors["issue_date"] = [advice] + [m for m in field_errors.get("issue_date", []) if m != advice]
        return ValidationRejected(f"{advice} ({refusal.message})", field_errors)

    def _invoice_data(self, resource: mapping.Resource, remote_id: str) -> dict:
        data = self._call("GET", f"/{resource.name}/{path_id(remote_id)}.json", resource.key_name)
        if isinstance(data.get("Wynik"), dict) and "Pozycje" not in data:
            data = data["Wynik"]
        if not isinstance(data, dict) or not ("Pozycje" in data or "PelnyNumer" in data):
            raise ProviderError("iFirma: nieoczekiwana odpowiedź dla dokumentu.")
        return data

    def _list(self, params: dict) -> Iterator[dict]:
        """Every record of GET faktury.json (`strona`/`iloscNaStronie`; a short page ends it)."""
        previous_ids: list | None = None
        for page in range(1, MAX_PAGES + 1):
            try:
                data = self._call("GET", "/faktury.json", INVOICE_KEY,
                                  params={**params, "strona": page, "iloscNaStronie": PAGE_SIZE})
            except NotFound:
                return
            items = data.get("Wynik") or []
            if not isinstance(items, list):
                raise ProviderError("iFirma: nieoczekiwana odpowiedź listy faktur.")
            items = [item for item in items if isinstance(item, dict)]
            ids = [_list_id(item) for item in items]
            if ids and ids == previous_ids:
                return  # the service ignored `strona`; stop instead of looping
            previous_ids = ids
            yield from items
            if len(items) < PAGE_SIZE:
                return

    def find_document(self, doc: HubDocument) -> RemoteDocument | None:
        resource = mapping.currency_resource(doc)
        if resource is None:
            return None
        currency = resource is mapping.CURRENCY_INVOICE
        issue_date = doc.issue_date.isoformat()
        # dataDo one day later in case the range end is exclusive; the date is checked per record.
        params = {"dataOd": issue_date, "dataDo": (doc.issue_date + timedelta(days=1)).isoformat()}
        if resource.list_type:
            params["typ"] = resource.list_type
        # [UNCONFIRMED] that kwotaOd/kwotaDo and a record's `Brutto` are the gross amount in the
        # document's currency: a currency invoice is looked for by its currency and read one by one,
        # so a PLN amount cannot hide it (a lookup that misses ours would send it twice).
        if not currency and option_on(self.options.get("amount_filter"), default=True):
            gross = money_text(doc.total_gross)
            params.update(kwotaOd=gross, kwotaDo=gross)
        candidates: list[str] = []
        for item in self._list(params):
            if item.get("DataWystawienia") and str(item["DataWystawienia"])[:10] != issue_date:
                continue
            if currency:
                if str(item.get("Waluta") or doc.currency).upper() != doc.currency:
                    continue
            else:
                gross = decimal_or_none(item.get("Brutto"))
                if gross is not None and gross != doc.total_gross:
                    continue
            remote_id = _list_id(item)
            if remote_id is not None and remote_id not in candidates:
                candidates.append(remote_id)
        # The list carries no `Uwagi`, so candidates are read one by one: newest first (the one
        # looked for was sent moments ago), stopping at ours.
        for reads, remote_id in enumerate(newest_first(candidates), start=1):
            if reads > MAX_DETAIL_READS:
                what = f"w {doc.currency}" if currency else f"na kwotę {doc.total_gross}"
                raise ProviderError(
                    f"iFirma: zbyt wiele faktur z {issue_date} {what} – nie da się "
                    f"bezpiecznie odnaleźć dokumentu {doc.reference}; sprawdź go w iFirma."
                )
            try:
                data = self._invoice_data(resource, remote_id)
            except NotFound:
                if not currency:
                    raise
                continue  # a record of another kind (the list was not narrowed by type)
            if mapping.has_reference(str(data.get("Uwagi") or ""), doc.reference):
                return mapping.parse_invoice(mapping.remote_id_of(resource, remote_id), data)
        return None

    def fetch_document(self, remote_id: str) -> RemoteDocument:
        resource, identifier = mapping.split_remote_id(remote_id)
        return mapping.parse_invoice(remote_id, self._invoice_data(resource, identifier))

    def fetch_pdf(self, remote_id: str) -> bytes:
        resource, identifier = mapping.split_remote_id(remote_id)
        return self._call("GET", f"/{resource.name}/{path_id(identifier)}.pdf", resource.key_name, pdf=True)


# --------------------------------------------------------------------------- helpers


def newest_first(ids: list[str]) -> list[str]:
    """Document ids, highest (most recently issued) numeric id first; others keep their order last."""
    numeric = sorted((i for i in ids if i.isdigit()), key=int, reverse=True)
    return numeric + [i for i in ids if not i.isdigit()]


def _list_id(item: dict) -> str | None:
    for name in ("FakturaId", "Identyfikator", "Id"):
        if item.get(name) not in (None, ""):
            return str(item[name])
    return None


def _envelope(response: requests.Response) -> dict | None:
    try:
        payload = response.json(parse_float=Decimal)
    except ValueError:
        return None
    envelope = payload.get("response") if isinstance(payload, dict) else None
    return envelope if isinstance(envelope, dict) else None


def _code(envelope: dict | None) -> int | None:
    if envelope is None or envelope.get("Kod") in (None, ""):
        return None
    try:
        return int(str(envelope["Kod"]).strip())
    except ValueError:
        return -1
