"""inFakt.pl adapter (HTTP). Payload mapping lives in `infakt_mapping`.

API v3 at https://api.infakt.pl/api/v3, JSON, key in the `X-inFakt-ApiKey` header, money in
grosze. Creating is asynchronous: the POST returns a task that is polled (first after a short
wait, then with backoff) until it names the new document's uuid; the document itself is read by
the pipeline's fetch step, not here. inFakt has no external-id field and no idempotency key, so
our reference is printed in the notes ("Nr ref.: IB-…") and `find_document` looks for it when
the pipeline does not know whether a create went through. Nothing is looked up before a create:
the pipeline claims the document before sending, and a lost answer (or a task we could not see
finish) is an unknown outcome settled by `find_document`. The document is made by the task, after
the POST has been answered with its reference; a refusal of the POST itself (429 or 503, the
documented rate limit, or another 5xx) leaves no task behind as far as the contract tells, so it
is retried like any refusal. With hub numbering `check_duplicate_number` is the service's own
guard as well. A correction's remote id is "corrective:<uuid>" (its own URLs).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import requests

from . import infakt_mapping as mapping
from .base import (
    AuthenticationFailed,
    Capabilities,
    Choice,
    CreateFailed,
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
    StillProcessing,
    TransientError,
    ValidationRejected,
    bool_option,
    choice_option,
    field_errors_message,
    header_safe,
    json_or_none,
    number_option,
    path_id,
    retry_after,
    text_option,
)
from .parties import POLISH_NIP, classify_tax_id

API_HOST = "https://api.infakt.pl"
API_PREFIX = "/api/v3"
KEY_HELP = "Ustawienia konta → API (app.infakt.pl/app/ustawienia/inne_opcje/api)"
PAGE_SIZE = 100  # the API's maximum `limit`
MAX_PAGES = 50  # safety stop when paging a day's documents
MAX_DETAIL_READS = 20  # documents read one by one when a list leaves out their notes

# Polling the creation task; every value can be overridden through `options` (tests use ~0).
# A poll sent right after the POST only ever says "accepted", so the first one waits: GETs are
# capped at 300 / 60 s, twice the writes, and the fetch step already spends two GETs per
# document, so each extra poll costs throughput; a task usually finishes within that wait.
POLL_INITIAL_DELAY = 2.0
POLL_MAX_DELAY = 5.0
# Well under the pipeline's send lease, after which a still-running send is taken for lost.
POLL_MAX_WAIT = 30.0


class NotFound(ProviderError):
    """404 from the service."""


class InfaktProvider(Provider):
    key = "infakt"
    display_name = "inFakt"
    capabilities = Capabilities(
        receipts=False, corrections=True, numbering_series=False, payments=True, sku=False
    )
    credential_fields = (
        CredentialField(
            name="api_key",
            label="Klucz API",
            help=f"W inFakt: {KEY_HELP} → wygeneruj klucz z uprawnieniami do faktur "
                 "(api:invoices:read i api:invoices:write) i wklej go tutaj.",
            secret=True,
            required=True,
        ),
    )
    connectable = True
    # Documented per source IP: 150 non-GET requests / 60 s (GET: 300 / 60 s). The pipeline has
    # one window per account counting jobs (an export = 1 slot and exactly 1 POST, a fetch = 2
    # GETs), so capping it at 150 / 60 s keeps writes under the documented limit; the status
    # polls (usually one per export) back off exponentially and a 429/503 is honoured with its
    # Retry-After.
    default_limits = ProviderLimits(max_concurrency=4, requests=150, per_seconds=60, writes_only=True,
                                    reads=300, read_seconds=60, reads_per_create=1)
    throttle_statuses = frozenset({429, 503})  # 503 is how inFakt says "too many requests" as well
    vat_rates = mapping.VAT_SYMBOLS
    docs_url = "https://github.com/infakt/API"
    option_fields: ClassVar[dict[str, OptionField]] = {
        "vat_exemption_reason": text_option(
            "Przyczyna zwolnienia z VAT (ID)",
            "Dla pozycji „zw”: ID przyczyny zwolnienia z listy inFakt (Ustawienia → Zwolnienia z VAT).",
        ),
        "send_to_ksef": bool_option(
            "Wysyłaj do KSeF",
            "inFakt od razu wyśle dokument do KSeF (wymaga połączenia z KSeF).",
        ),
        "unpaid_status": choice_option(
            "Status faktury nieopłaconej",
            "Puste = szkic.",
            [("draft", "draft – szkic"), ("printed", "printed – od razu w księgach"),
             ("sent", "sent – oznaczona jako wysłana")],
        ),
        "correction_reason": text_option(
            "Symbol przyczyny korekty",
            "Symbol inFakt, domyślnie „other”; opis przyczyny z huba trafia do uwag korekty.",
            max_length=50,
        ),
        "send_client_email": bool_option(
            "Przekazuj e-mail nabywcy",
            "Dopisuj e-mail nabywcy do faktury (pole spoza oficjalnej dokumentacji inFakt).",
        ),
        "poll_max_wait": number_option(
            "Czas oczekiwania na utworzenie (s)",
            "Jak długo czekać, aż inFakt utworzy dokument, zanim eksport przejdzie w uzgadnianie (domyślnie 30).",
            maximum="600",
        ),
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_key = self.credentials.get("api_key", "")
        self.base_url = self.base_url or API_HOST
        # The sandbox is addressed as "{sandbox}/infakt" + the real path; a base URL that
        # already ends in /api/v3 (the documented API root) is taken as is.
        self._prefix = "" if self.base_url.endswith(API_PREFIX) else API_PREFIX
        self._sleep = time.sleep
        self._clock = time.monotonic
        # Creation tasks this instance started and could not see finish: reference → pending ref
        # ("collection:task"). The pipeline keeps the ref too (OutcomeUnknown.pending_ref), so a
        # new instance is told about the task through find_document(pending_ref=…).
        self._tasks: dict[str, str] = {}

    # ------------------------------------------------------------------ HTTP

    def _call(self, method: str, path: str, *, params: dict | None = None, body: dict | None = None,
              pdf: bool = False, number_sent: bool = False) -> Any:
        if not self.api_key:
            raise AuthenticationFailed(f"Brak klucza API inFakt – wygeneruj go w: {KEY_HELP}.")
        if not header_safe(self.api_key):
            # An HTTP header cannot carry it; inFakt keys are plain ASCII.
            raise AuthenticationFailed(
                f"Klucz API inFakt zawiera niedozwolone znaki – skopiuj go ponownie z: {KEY_HELP}."
            )
        headers = {"X-inFakt-ApiKey": self.api_key, "Accept": "application/pdf" if pdf else "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = self._send(method, self._prefix + path, params=params, json=body, headers=headers)
        self._raise_for_status(response, number_sent)
        if pdf:
            return response
        if not response.content.strip():
            return {}  # 202/204 answers carry no body
        try:
            return response.json()
        except ValueError:
            raise self._unreadable(method) from None

    def _raise_for_status(self, response: requests.Response, number_sent: bool = False) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        unavailable = self._unavailable(response)
        if unavailable:
            raise unavailable
        field_errors, text = parse_errors(json_or_none(response))
        field_errors = self.redact_errors(field_errors)
        detail = self._detail(response, text)
        suffix = f" (inFakt: {detail})" if detail else ""
        if status == 401:
            raise AuthenticationFailed(
                "Nieprawidłowy klucz API inFakt albo klucz bez uprawnień do faktur (api:invoices:read, "
                f"api:invoices:write) – wygeneruj klucz w: {KEY_HELP}.{suffix}"
            )
        if status == 402:
            raise AuthenticationFailed(
                "Plan konta inFakt nie obejmuje API albo wyczerpał limit dokumentów (402) – sprawdź abonament "
                f"w inFakt.{suffix}"
            )
        if status == 403:
            raise AuthenticationFailed(
                f"inFakt odmówił dostępu (403): adres IP zablokowany albo plan bez tego uprawnienia.{suffix}"
            )
        if status in (400, 422):
            raise self._validation(field_errors, detail, number_sent)
        if status == 404:
            raise NotFound(f"inFakt: nie znaleziono (404).{suffix}")
        if status == 423:
            raise TransientError(f"inFakt: zasób jest chwilowo zablokowany (423) – ponowimy później.{suffix}",
                                 retry_after=retry_after(response), status=status)
        raise ProviderError(f"inFakt: HTTP {status}: {detail or 'nieoczekiwana odpowiedź'}")

    def _validation(self, field_errors: dict[str, list[str]], text: str,
                    number_sent: bool) -> ValidationRejected:
        if number_sent and mapping.looks_like_duplicate_number(field_errors):
            # `check_duplicate_number` refused our own number: the document is most likely there.
            return DuplicateReference(
                field_errors_message("inFakt: dokument o tym numerze już istnieje", field_errors), field_errors
            )
        prefix = "inFakt odrzucił dokument"
        if field_errors:
            return ValidationRejected(field_errors_message(prefix, field_errors), field_errors)
        return ValidationRejected(f"{prefix}: {text or 'błąd walidacji'}", {})

    def _seconds(self, opts: dict, name: str, default: float) -> float:
        try:
            return max(0.0, float(str(opts.get(name, default)).replace(",", ".")))
        except ValueError:
            return default

    def _pages(self, collection: str, params: dict, max_pages: int = MAX_PAGES,
               complete: bool = False) -> Iterator[dict]:
        """Every entity of a list (`offset`/`limit`), stopping when the service stops paging.
        With `complete`, a list cut short (page limit reached, or the service ignoring `offset`
        while it says there is more) raises LookupIncomplete instead of ending quietly."""
        previous: list | None = None
        offset = 0
        seen = 0
        for _ in range(max_pages):
            page = {**params, "offset": offset, "limit": PAGE_SIZE}
            data = self._call("GET", f"/{collection}.json", params=page)
            entities = data.get("entities") if isinstance(data, dict) else data
            if not isinstance(entities, list):
                raise ProviderError(f"inFakt: nieoczekiwana odpowiedź listy /{collection}.json.")
            entities = [e for e in entities if isinstance(e, dict)]
            ids = [e.get("uuid") or e.get("id") for e in entities]
            meta = data.get("metainfo") if isinstance(data, dict) else None
            total = meta.get("total_count") if isinstance(meta, dict) else None
            if ids and ids == previous:
                # The service ignored `offset`; stop instead of looping.
                if complete and not (isinstance(total, int) and seen >= total):
                    raise LookupIncomplete(
                        f"inFakt: lista /{collection}.json nie przechodzi na kolejne strony – nie da się "
                        "przejrzeć wszystkich dokumentów; sprawdzimy ponownie."
                    )
                return
            previous = ids
            yield from entities
            seen += len(entities)
            offset += PAGE_SIZE
            if len(entities) < PAGE_SIZE or (isinstance(total, int) and offset >= total):
                return
        if complete:
            raise LookupIncomplete(
                f"inFakt: przejrzano {max_pages} stron listy /{collection}.json bez rozstrzygnięcia – nie wiadomo, "
                "czy dokument już jest w inFakt; sprawdzimy ponownie."
            )

    # ------------------------------------------------------------------ account

    def check_connection(self) -> str:
        details = self._call("GET", "/account/details.json")
        return account_label(details)

    def list_series(self) -> list[Choice]:
        return []  # numbering is automatic per kind; the API has no series

    def list_payment_types(self) -> list[Choice]:
        return list(mapping.PAYMENT_TYPES)

    # ------------------------------------------------------------------ documents

    def preflight(self, doc: HubDocument, settings: ExportSettings) -> list[Problem]:
        return mapping.preflight(doc, settings, self._options(settings), self.vat_rates)

    def build_payload(self, doc: HubDocument, settings: ExportSettings) -> dict:
        """The request body for the document (a correction reads its original first)."""
        opts = self._options(settings)
        if doc.kind == "correction":
            corr = doc.correction
            assert corr is not None and corr.original_remote_id
            _, original_uuid = mapping.split_remote_id(corr.original_remote_id)
            try:
                original = self._call("GET", f"/invoices/{path_id(original_uuid)}.json")
            except NotFound:
                raise ValidationRejected(
                    f"Korygowanej faktury {corr.original_number} nie ma już w inFakt – sprawdź, czy nie została "
                    "usunięta.",
                    {"correction.original_remote_id": ["Faktura nie istnieje w inFakt."]},
                ) from None
            client_id = original.get("client_id") or self._client_id(doc)
            return mapping.build_corrective_invoice(doc, settings, original, client_id, opts)
        return mapping.build_invoice(doc, settings, opts)

    def _client_id(self, doc: HubDocument) -> int | str:
        """A correction must name an inFakt client: reuse one with the buyer's NIP or add it."""
        tax_code, _ = classify_tax_id(doc.buyer)
        if doc.buyer.is_company and tax_code:
            wanted = re.sub(r"\D", "", tax_code) or tax_code
            # An unknown filter is silently ignored, so every returned client is re-checked.
            for client in self._pages("clients", {"q[nip_eq]": tax_code}, max_pages=1):
                if client.get("id") is not None and (re.sub(r"\D", "", str(client.get("nip") or "")) == wanted):
                    return client["id"]
        created = self._call("POST", "/clients.json", body=mapping.client_body(doc.buyer))
        client = created.get("client", created) if isinstance(created, dict) else {}
        if not isinstance(client, dict) or client.get("id") is None:
            raise ProviderError("inFakt: nie udało się założyć klienta dla korekty (brak identyfikatora).")
        return client["id"]

    def create_document(self, doc: HubDocument, settings: ExportSettings) -> RemoteDocument:
        if doc.kind not in mapping.KINDS:
            raise NotSupported(f"inFakt: rodzaj dokumentu „{doc.kind}” nie jest obsługiwany przez API.")
        self._refuse_problems(doc, settings)
        opts = self._options(settings)
        # No look-up first (see the module docstring): exactly once is the pipeline's claim plus
        # `find_document` after an unknown outcome, and this create is one POST and its polls.
        collection = mapping.collection_for(doc.kind)
        number_sent = settings.numbering == "hub" and doc.kind == "invoice"
        body = self.build_payload(doc, settings)
        accepted = self._call("POST", f"/async/{collection}.json", body=body, number_sent=number_sent)
        if not isinstance(accepted, dict):
            raise OutcomeUnknown(
                "inFakt: nieoczekiwana odpowiedź po zleceniu utworzenia – sprawdzamy, czy dokument powstał."
            )
        uuid = self._task_result(accepted, number_sent)
        task = accepted.get("invoice_task_reference_number")
        if uuid is None and not task and accepted.get("uuid"):
            # Answered with the document itself (synchronous route): nothing to poll or read.
            return mapping.parse_invoice(accepted, doc.kind)
        if uuid is None:
            if not task:
                raise OutcomeUnknown(
                    "inFakt przyjął zlecenie bez numeru zadania – sprawdzamy, czy dokument powstał."
                )
            self._tasks[doc.reference] = pending_ref(collection, str(task))
            uuid = self._await_task(collection, str(task), number_sent, opts)
        self._tasks.pop(doc.reference, None)
        # The task names only the uuid; number, totals and status come with the pipeline's fetch
        # (GET /{collection}/{uuid}.json), so reading the document here would only repeat it.
        return RemoteDocument(_remote_id(uuid, doc.kind), None, None, None, None, None)

    def _task_result(self, status: Any, number_sent: bool) -> str | None:
        """The new document's uuid, None while the task runs; a failed task raises."""
        if not isinstance(status, dict):
            return None
        if status.get("invoice_uuid"):
            return str(status["invoice_uuid"])  # only the uuid shows success
        errors = status.get("invoice_errors")
        if errors or str(status.get("processing_code")) == "422":
            field_errors, text = parse_errors({"invoice_errors": errors})
            field_errors = self.redact_errors(field_errors)
            text = self.redact(text or str(status.get("processing_description") or ""))
            raise self._validation(field_errors, text, number_sent)
        return None

    def _await_task(self, collection: str, task: str, number_sent: bool, opts: dict) -> str:
        """Poll the task until it names the document or time runs out: the first poll after
        `poll_initial_delay`, then exponential backoff up to `poll_max_delay`.

        The POST was accepted, so nothing here may look retryable to the pipeline: a 429/5xx or
        a lost answer keeps polling, and anything else (or the time limit) is an unknown outcome
        that the pipeline settles by looking the document up — never by a second create.
        """
        max_wait = self._seconds(opts, "poll_max_wait", POLL_MAX_WAIT)
        delay = self._seconds(opts, "poll_initial_delay", POLL_INITIAL_DELAY)
        max_delay = self._seconds(opts, "poll_max_delay", POLL_MAX_DELAY)
        deadline = self._clock() + max_wait
        path = f"/async/{collection}/status/{path_id(task)}.json"
        if min(delay, max_wait) > 0:
            self._sleep(min(delay, max_wait))  # a poll right after the POST would only say "accepted"
        while True:
            delay = min(max(delay * 2, 0.05), max_delay) if delay else 0.0
            wait = delay
            try:
                uuid = self._task_result(self._call("GET", path), number_sent)
            except TransientError as error:
                uuid, wait = None, max(delay, error.retry_after or 0.0)
            except ValidationRejected:
                raise
            except ProviderError as error:
                raise OutcomeUnknown(
                    f"inFakt: nie udało się sprawdzić zlecenia {task} ({error.message}) – sprawdzamy, czy dokument "
                    "powstał.", pending_ref=pending_ref(collection, task)
                ) from None
            if uuid:
                return uuid
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise OutcomeUnknown(
                    f"inFakt nie utworzył dokumentu w ciągu {max_wait:g} s (zlecenie {task}) – sprawdzimy, czy "
                    "powstał, zanim spróbujemy ponownie.", pending_ref=pending_ref(collection, task)
                )
            self._sleep(min(wait, remaining))

    def find_document(self, doc: HubDocument, pending_ref: str | None = None) -> RemoteDocument | None:
        """Our document, asking first about the creation task of the last send when it is known
        (`pending_ref`, or a task this instance lost track of): a task still running means the
        document is not there *yet*, which is no reason to send it again (StillProcessing); a
        finished one names it. A failed task created nothing: the look-up by reference then
        settles an earlier send, and when nothing is found the task's refusal is raised."""
        ref = pending_ref or self._tasks.get(doc.reference)
        task = split_pending_ref(ref) if ref else None
        failure: ValidationRejected | None = None
        if task is not None:
            collection, task_id = task
            try:
                status = self._call("GET", f"/async/{collection}/status/{path_id(task_id)}.json")
                uuid = self._task_result(status, False)
            except NotFound:
                uuid = None  # the service no longer knows the task: the look-up by reference decides
            except ValidationRejected as error:
                uuid, failure = None, error  # the task failed: nothing was created by it
            else:
                if uuid:
                    self._tasks.pop(doc.reference, None)
                    return self.fetch_document(_remote_id(uuid, doc.kind))
                if not isinstance(status, dict) or status.get("processing_code") in (None, "", 100, 120, 140,
                                                                                    "100", "120", "140"):
                    raise StillProcessing(
                        f"inFakt jeszcze tworzy dokument (zlecenie {task_id}) – sprawdzimy ponownie, niczego nie "
                        "wysyłając drugi raz.",
                        retry_after=self._seconds(self.options, "poll_initial_delay", POLL_INITIAL_DELAY),
                    )
                raise ProviderError(
                    f"inFakt: nieoczekiwany stan zlecenia {task_id} "
                    f"({self.redact(str(status.get('processing_code')))}) – sprawdź dokument w inFakt."
                )
        found = self._lookup(doc)
        if found is None and failure is not None:
            self._tasks.pop(doc.reference, None)
            raise CreateFailed(failure.message, failure.field_errors)
        return found

    def _lookup(self, doc: HubDocument) -> RemoteDocument | None:
        """The document carrying our reference: by the hub number (one filtered request), else
        among the issue day's (narrowed to the buyer's NIP where it can be), stopping at the
        first page that holds it."""
        collection = mapping.collection_for(doc.kind)
        reads = _Reads(MAX_DETAIL_READS)
        if doc.number:
            # Matches when hub numbering was used; the reference check keeps someone else's
            # document with the same number from being taken for ours. One page is enough: the
            # issue day's search below is the complete one.
            for entity in self._pages(collection, {"q[number_eq]": doc.number}, max_pages=1):
                if entity.get("number") == doc.number and self._is_ours(collection, entity, doc, reads):
                    return self._as_remote(collection, entity, doc.kind)
        day = doc.issue_date.isoformat()
        window = {"q[invoice_date_gteq]": day, "q[invoice_date_lteq]": day}
        tax_code, kind = classify_tax_id(doc.buyer)
        if doc.kind == "invoice" and doc.buyer.is_company and kind == POLISH_NIP:
            # Documented, and it compares the NIP digits we sent: narrows the day to one buyer.
            window["q[clean_client_nip_eq]"] = tax_code
        for entity in self._pages(collection, window, complete=True):
            if self._is_ours(collection, entity, doc, reads):
                return self._as_remote(collection, entity, doc.kind)
        if reads.undecided:
            # Never "not there" while some of the day's documents could not be read.
            raise LookupIncomplete(
                f"inFakt: {reads.undecided} dokumentów z {day} nie sprawdzono (limit {MAX_DETAIL_READS} odczytów) – "
                f"nie wiadomo, czy {doc.reference} już jest w inFakt; sprawdzimy ponownie."
            )
        return None

    def _is_ours(self, collection: str, entity: dict, doc: HubDocument, reads: _Reads) -> bool:
        if "notes" in entity:
            return mapping.has_reference(entity.get("notes"), doc.reference)
        # The list left the notes out: read the document itself, for this day's documents only.
        if entity.get("invoice_date") not in (None, doc.issue_date.isoformat()) or not entity.get("uuid"):
            return False
        if reads.left <= 0:
            reads.undecided += 1  # could be ours: the look-up cannot say "not there" any more
            return False
        reads.left -= 1
        full = self._call("GET", f"/{collection}/{path_id(str(entity['uuid']))}.json")
        if isinstance(full, dict):
            entity.update(full)
        return mapping.has_reference(entity.get("notes"), doc.reference)

    def _as_remote(self, collection: str, entity: dict, kind: str) -> RemoteDocument:
        if "services" in entity and entity.get("uuid"):
            return mapping.parse_invoice(entity, kind)
        uuid = str(entity["uuid"])
        return self.fetch_document(_remote_id(uuid, kind))

    def fetch_document(self, remote_id: str) -> RemoteDocument:
        collection, uuid = mapping.split_remote_id(remote_id)
        if not uuid:
            raise ProviderError("inFakt: brak identyfikatora dokumentu.")
        data = self._call("GET", f"/{collection}/{path_id(uuid)}.json")
        if not isinstance(data, dict) or not data.get("uuid"):
            raise ProviderError("inFakt: nieoczekiwana odpowiedź dla dokumentu.")
        return mapping.parse_invoice(data, "correction" if collection == "corrective_invoices" else "invoice")

    def fetch_pdf(self, remote_id: str) -> bytes:
        collection, uuid = mapping.split_remote_id(remote_id)
        opts = self._options()
        params = {"document_type": opts.get("pdf_document_type") or "original",
                  "locale": opts.get("pdf_locale") or "pl"}
        # Side effect documented by inFakt: a draft becomes "printed".
        response = self._call("GET", f"/{collection}/{path_id(uuid)}/pdf.json", params=params, pdf=True)
        content = response.content
        if not content.startswith(b"%PDF"):
            _, text = parse_errors(json_or_none(response))
            detail = f": {self.redact(text)}" if text else "."
            raise ProviderError(f"inFakt: zamiast PDF przyszła inna odpowiedź{detail}")
        return content


# --------------------------------------------------------------------------- helpers


class _Reads:
    """The detail reads a look-up may still spend, and the candidates it had to leave unread."""

    def __init__(self, left: int):
        self.left, self.undecided = left, 0


def pending_ref(collection: str, task: str) -> str:
    """The creation task as the pipeline keeps it: "invoices:<task reference>"."""
    return f"{collection}:{task}"


def split_pending_ref(ref: str) -> tuple[str, str] | None:
    collection, _, task = (ref or "").partition(":")
    if collection not in ("invoices", "corrective_invoices") or not task:
        return None
    return collection, task


def _remote_id(uuid: str, kind: str) -> str:
    return mapping.corrective_remote_id(uuid) if kind == "correction" else uuid


def parse_errors(payload: Any) -> tuple[dict[str, list[str]], str]:
    """(field → messages, free text) from any error body inFakt is known or likely to send:
    `invoice_errors` of a failed task (values are lists, or a string for mark-as-paid),
    Rails-style `errors`, or `message`/`error` strings."""
    field_errors: dict[str, list[str]] = {}
    texts: list[str] = []
    if not isinstance(payload, dict):
        return field_errors, ""
    for key in ("invoice_errors", "errors", "error", "message", "messages"):
        value = payload.get(key)
        if isinstance(value, dict):
            for name, messages in value.items():
                items = messages if isinstance(messages, list) else [messages]
                field_errors.setdefault(str(name), []).extend(str(m) for m in items if m not in (None, ""))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict) and item.get("field"):
                    field_errors.setdefault(str(item["field"]), []).append(str(item.get("message") or ""))
                elif item:
                    texts.append(str(item))
        elif value:
            texts.append(str(value))
    return field_errors, "; ".join(texts)


def account_label(details: Any) -> str:
    """A readable label from /account/details.json (its shape is not documented)."""
    if not isinstance(details, dict):
        return "Konto inFakt"
    nested = [details[k] for k in ("account", "company", "user") if isinstance(details.get(k), dict)]
    sources = [details, *nested]
    name = tax = email = ""
    for source in sources:
        name = name or str(source.get("company_name") or source.get("name") or source.get("full_name") or "")
        tax = tax or str(source.get("nip") or source.get("tax_code") or "")
        email = email or str(source.get("email") or "")
    if not name:
        first = next((str(s.get("first_name") or "") for s in sources if s.get("first_name")), "")
        last = next((str(s.get("last_name") or "") for s in sources if s.get("last_name")), "")
        name = f"{first} {last}".strip()
    label = name or email or "Konto inFakt"
    return f"{label} (NIP {tax})" if tax and tax not in label else label
