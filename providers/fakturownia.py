"""Fakturownia.pl adapter (HTTP). Payload mapping lives in `fakturownia_mapping`.

API: https://{prefix}.fakturownia.pl, JSON, token as `api_token` (query string for GET,
JSON body for POST/PUT — the documented places). Exactly-once through `oid` + `oid_unique`.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from datetime import timedelta
from itertools import count
from typing import Any, ClassVar

import requests

from . import fakturownia_mapping as mapping
from .base import (
    AuthenticationFailed,
    Capabilities,
    Choice,
    CredentialField,
    DuplicateReference,
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
    ValidationRejected,
    bool_option,
    choice_option,
    field_errors_message,
    int_option,
    json_or_none,
    option_on,
    path_id,
    text_option,
)

PER_PAGE = 100  # the API's maximum
MAX_PAGES = 200  # safety stop for a service that ignores `page`
AUTH_HELP = "Ustawienia → Ustawienia konta → Integracja → Kod autoryzacyjny API"

# SKU → product id per account, shared by this process's adapters (one per job), like wFirma's
# and Firmao's reference data: the catalogue has no code filter [DOC §11], so it is paged through
# once per PRODUCTS_TTL instead of once per job. A SKU missing from it reads it again, but not
# more often than every PRODUCTS_MISS_TTL (a product added a minute ago is found soon after).
PRODUCTS_TTL = 600.0
PRODUCTS_MISS_TTL = 60.0
_shared_products: dict[tuple, tuple[float, dict[str, int]]] = {}
_shared_lock = threading.Lock()


def clear_shared_cache() -> None:
    """Forget every account's shared catalogue (tests; a worker never needs it)."""
    with _shared_lock:
        _shared_products.clear()


def normalise_prefix(value: str) -> str:
    """Accept 'acme', 'acme.fakturownia.pl' or 'https://acme.fakturownia.pl/' → 'acme'."""
    value = (value or "").strip().lower()
    value = re.sub(r"^https?://", "", value).split("/")[0]
    return value.removesuffix(".fakturownia.pl")


def prefix_from_token(token: str) -> str:
    """A prefixed token looks like 'XXXXXXXX/acme'; the part after '/' is the subdomain."""
    _, slash, prefix = (token or "").partition("/")
    return normalise_prefix(prefix) if slash else ""


class FakturowniaProvider(Provider):
    key = "fakturownia"
    display_name = "Fakturownia"
    capabilities = Capabilities(receipts=True, corrections=True, numbering_series=True, payments=True, sku=True)
    credential_fields = (
        CredentialField(
            name="api_token",
            label="Kod autoryzacyjny API",
            help=f"W Fakturowni: {AUTH_HELP}. Skopiuj cały kod (także część po „/”, jeśli jest).",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="account_prefix",
            label="Adres konta (subdomena)",
            help="Część adresu przed .fakturownia.pl, np. „mojafirma” dla mojafirma.fakturownia.pl. "
                 "Można pominąć, gdy kod API ma postać KOD/subdomena.",
            secret=False,
            required=False,
        ),
    )
    connectable = True
    # Fakturownia publishes no rate limits; 4 parallel requests per account is a cautious
    # default that the integration settings can override.
    default_limits = ProviderLimits(max_concurrency=4, requests=None, per_seconds=None, writes_only=False)
    vat_rates = frozenset(mapping.VAT_RATES)
    docs_url = "https://github.com/fakturownia/API"
    # Service-specific settings shown in the module's Configuration section.
    option_fields: ClassVar[dict[str, OptionField]] = {
        "warehouse_id": int_option("Magazyn (ID)",
                                   "Magazyn, z którego schodzą towary przy wysyłaniu SKU; puste = główny."),
        "exempt_tax_kind": text_option("Podstawa zwolnienia (zw)",
                                       "Przepis, np. „art. 43 ust. 1 pkt 29 lit. b ustawy o VAT”."),
        "np_tax_kind": choice_option("Rodzaj „np”", "Puste = not_specified (nieokreślony).", [
            ("export_service", "export_service – usługa poza UE"),
            ("export_service_eu", "export_service_eu – usługa w UE (art. 100)"),
            ("not_specified", "not_specified – nieokreślony"),
        ]),
        "gov_save_and_send": bool_option("Wysyłaj do KSeF po zapisaniu",
                                         "Fakturownia od razu wyśle zapisaną fakturę do KSeF."),
    }
    secret_params: ClassVar[frozenset[str]] = frozenset({"api_token"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_token = self.credentials.get("api_token", "")
        self.account_prefix = (
            normalise_prefix(self.credentials.get("account_prefix", "")) or prefix_from_token(self.api_token)
        )
        if not self.base_url and self.account_prefix:
            if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", self.account_prefix):
                raise ProviderError(
                    f"Adres konta Fakturowni „{self.account_prefix}” jest nieprawidłowy – podaj samą "
                    "subdomenę, np. „mojafirma”."
                )
            self.base_url = f"https://{self.account_prefix}.fakturownia.pl"
        self._product_ids: dict[str, int] | None = None
        self._clock = time.monotonic
        # What the journal should know about the last document sent (e.g. a SKU sent unlinked).
        self.notes: list[str] = []

    def secret_values(self) -> list[str]:
        # The bare token (before "/prefix") must not leak either.
        token, _, _ = self.api_token.partition("/")
        return [v for v in (self.api_token, token) if v]

    # ------------------------------------------------------------------ HTTP

    def _call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
              accept: str = "application/json") -> Any:
        if not self.api_token:
            raise AuthenticationFailed(f"Brak kodu API Fakturowni – wklej go z: {AUTH_HELP}.")
        if not self.base_url:
            raise ProviderError(
                "Brak adresu konta Fakturowni – podaj subdomenę (np. „mojafirma”) albo kod API w postaci KOD/subdomena."
            )
        if method == "GET":
            params = {**(params or {}), "api_token": self.api_token}
            response = self._send(method, path, params=params, headers={"Accept": accept})
        else:
            payload = {"api_token": self.api_token, **(body or {})}
            response = self._send(method, path, params=params, json=payload,
                                  headers={"Accept": accept, "Content-Type": "application/json"})
        self._raise_for_status(response)
        if accept != "application/json":
            return response
        try:
            data = response.json()
        except ValueError:
            raise self._unreadable(method) from None
        if isinstance(data, dict) and (data.get("status") == "error" or data.get("code") == "error"):
            # Business refusals sometimes come back as HTTP 200 (API docs §8).
            raise ProviderError(self.redact(f"Fakturownia: {_message_text(data.get('message')) or 'błąd'}"))
        return data

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        unavailable = self._unavailable(response)
        if unavailable:
            raise unavailable
        payload = json_or_none(response)
        message = payload.get("message") if isinstance(payload, dict) else None
        if message is None and isinstance(payload, dict):
            message = payload.get("error")
        detail = self._detail(response, _message_text(message))
        if status == 401:
            raise AuthenticationFailed(
                f"Nieprawidłowy kod API Fakturowni lub adres konta – sprawdź kod w: {AUTH_HELP}."
                + (f" (Fakturownia: {detail})" if detail else "")
            )
        if status == 403:
            raise AuthenticationFailed(f"Fakturownia odmówiła dostępu (403): {detail or 'brak uprawnień'}.")
        if status == 404:
            raise ProviderError(f"Fakturownia: nie znaleziono ({detail or 'Not found'}).")
        if status == 422:
            if isinstance(message, dict):
                field_errors = self.redact_errors({
                    str(name): [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
                    for name, msgs in message.items()
                })
                if "oid" in field_errors:
                    raise DuplicateReference(
                        field_errors_message("Fakturownia: dokument o tym identyfikatorze (oid) już istnieje",
                                             field_errors),
                        field_errors,
                    )
                raise ValidationRejected(field_errors_message("Fakturownia odrzuciła dokument", field_errors),
                                         field_errors)
            if re.search(r"\boid\b", _message_text(message), re.IGNORECASE):
                # The duplicate's exact shape is [UNCONFIRMED] (contract §10): a plain-text message
                # naming the oid is taken for the same refusal as `message.oid`.
                raise DuplicateReference(
                    f"Fakturownia: dokument o tym identyfikatorze (oid) już istnieje: {detail}", {"oid": [detail]}
                )
            raise ValidationRejected(f"Fakturownia odrzuciła dokument: {detail or 'błąd walidacji'}", {})
        raise ProviderError(f"Fakturownia: HTTP {status}: {detail or 'nieoczekiwana odpowiedź'}")

    def _pages(self, path: str, params: dict) -> Iterator[dict]:
        """Every record of a paged list (`page`/`per_page`, a short page ends it)."""
        previous_ids: list | None = None
        for page in count(1):
            if page > MAX_PAGES:
                return
            batch = self._call("GET", path, params={**params, "page": page, "per_page": PER_PAGE})
            if not isinstance(batch, list):
                raise ProviderError(f"Fakturownia: nieoczekiwana odpowiedź listy {path}.")
            ids = [item.get("id") for item in batch if isinstance(item, dict)]
            if ids and ids == previous_ids:
                return  # the service ignored `page`; stop instead of looping
            previous_ids = ids
            yield from (item for item in batch if isinstance(item, dict))
            if len(batch) < PER_PAGE:
                return

    # ------------------------------------------------------------------ account

    def check_connection(self) -> str:
        departments = self._call("GET", "/departments.json")
        label = self.account_prefix or urllib.parse.urlsplit(self.base_url or "").netloc
        company = ""
        if isinstance(departments, list) and departments:
            main = next((d for d in departments if isinstance(d, dict) and d.get("default")), departments[0])
            if isinstance(main, dict):
                company = str(main.get("name") or main.get("shortcut") or "")
        return f"{label} – {company}" if company else label

    def list_series(self) -> list[Choice]:
        # [UNCONFIRMED] No numbering-series resource exists; departments stand in for series
        # (linking a hub series sends `department_id`).
        departments = self._call("GET", "/departments.json")
        if not isinstance(departments, list):
            raise ProviderError("Fakturownia: nieoczekiwana odpowiedź listy działów.")
        return [
            Choice(str(d["id"]), str(d.get("name") or d.get("shortcut") or f"Dział {d['id']}"))
            for d in departments
            if isinstance(d, dict) and d.get("id") is not None
        ]

    def list_payment_types(self) -> list[Choice]:
        return list(mapping.PAYMENT_TYPES)

    def _account(self) -> tuple:
        return (self.base_url, hashlib.sha256(self.api_token.encode("utf-8")).hexdigest())

    def product_ids(self, skus: Iterable[str] = ()) -> dict[str, int]:
        """SKU (product `code`) → product id: the account's catalogue, shared for `PRODUCTS_TTL`,
        read once per adapter at most."""
        if self._product_ids is not None:
            return self._product_ids
        with _shared_lock:
            entry = _shared_products.get(self._account())
        if entry is not None:
            age = self._clock() - entry[0]
            if age <= PRODUCTS_TTL and (age <= PRODUCTS_MISS_TTL or all(s in entry[1] for s in skus)):
                self._product_ids = entry[1]
                return self._product_ids
        ids: dict[str, int] = {}
        for product in self._pages("/products.json", {}):
            code = str(product.get("code") or "").strip()
            if code and code not in ids and product.get("id") is not None:
                ids[code] = product["id"]
        with _shared_lock:
            _shared_products[self._account()] = (self._clock(), ids)
        self._product_ids = ids
        return ids

    # ------------------------------------------------------------------ documents

    def preflight(self, doc: HubDocument, settings: ExportSettings) -> list[Problem]:
        return mapping.preflight(doc, settings, self._options(settings), self.vat_rates)

    def build_payload(self, doc: HubDocument, settings: ExportSettings) -> dict:
        """The request body without the token (useful for previews and tests)."""
        opts = self._options(settings)
        product_ids: dict[str, int] = {}
        self.notes = []
        if settings.send_sku:
            skus = list(dict.fromkeys(line.sku for line in mapping.document_lines(doc) if line.sku))
            product_ids = self.product_ids(skus) if skus else {}
            unknown = [sku for sku in skus if sku not in product_ids]
            if unknown:
                # [UNCONFIRMED] whether a bare `code` is matched to a product (§11): say so in the journal.
                self.notes.append(
                    "SKU spoza katalogu produktów Fakturowni: " + ", ".join(unknown)
                    + " – wysłano sam kod, bez powiązania z produktem (stan magazynu może się nie zmienić)."
                )
        body: dict = {"invoice": mapping.build_invoice(doc, settings, opts, product_ids)}
        if option_on(opts.get("gov_save_and_send")):
            body["gov_save_and_send"] = True
        return body

    def create_document(self, doc: HubDocument, settings: ExportSettings) -> RemoteDocument:
        if doc.kind not in mapping.KIND_MAP:
            raise NotSupported(f"Fakturownia: rodzaj dokumentu „{doc.kind}” nie jest obsługiwany.")
        self._refuse_problems(doc, settings)
        data = self._call("POST", "/invoices.json", body=self.build_payload(doc, settings))
        if not isinstance(data, dict) or data.get("id") is None:
            raise OutcomeUnknown("Fakturownia: odpowiedź po zapisie nie zawiera identyfikatora dokumentu.")
        return mapping.parse_invoice(data, self.base_url)

    def find_document(self, doc: HubDocument) -> RemoteDocument | None:
        match = None
        if doc.number:
            # The hub number only matches when hub numbering was used; the oid check keeps a
            # service-numbered document with the same number from being taken for ours.
            match = _find_oid(self._call("GET", "/invoices.json", params={"number": doc.number, "period": "all"}),
                              doc.reference)
        if match is None:
            # Filtering by oid is undocumented, so page through the issue date ±1 day.
            params = {
                "period": "more",
                "date_from": (doc.issue_date - timedelta(days=1)).isoformat(),
                "date_to": (doc.issue_date + timedelta(days=1)).isoformat(),
            }
            match = next((inv for inv in self._pages("/invoices.json", params)
                          if str(inv.get("oid") or "") == doc.reference), None)
        if match is None:
            return None
        return self.fetch_document(str(match["id"]))

    def fetch_document(self, remote_id: str) -> RemoteDocument:
        # `correction_positions=full` [DOC §5] makes a correction carry its after-state rows, the
        # figures the hub compares with; other kinds ignore it.
        data = self._call("GET", f"/invoices/{path_id(remote_id)}.json", params={"correction_positions": "full"})
        if not isinstance(data, dict) or data.get("id") is None:
            raise ProviderError("Fakturownia: nieoczekiwana odpowiedź dla dokumentu.")
        return mapping.parse_invoice(data, self.base_url)

    def fetch_pdf(self, remote_id: str) -> bytes:
        response = self._call("GET", f"/invoices/{path_id(remote_id)}.pdf", accept="application/pdf")
        content = response.content
        if not content.startswith(b"%PDF"):
            payload = json_or_none(response)
            detail = _message_text(payload.get("message")) if isinstance(payload, dict) else ""
            raise ProviderError("Fakturownia: zamiast PDF przyszła inna odpowiedź" + (f": {detail}" if detail else "."))
        return content


# --------------------------------------------------------------------------- helpers


def _find_oid(items: Any, reference: str) -> dict | None:
    if not isinstance(items, list):
        return None
    return next((i for i in items if isinstance(i, dict) and str(i.get("oid") or "") == reference), None)


def _message_text(message: Any) -> str:
    if message is None:
        return ""
    if isinstance(message, dict):
        return "; ".join(
            f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in message.items()
        )
    if isinstance(message, list):
        return "; ".join(map(str, message))
    return str(message)
