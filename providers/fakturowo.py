"""Fakturowo.pl adapter (HTTP). Form fields and answer parsing live in `fakturowo_mapping`.

Not a REST API: one endpoint (its URL may differ per account, so it is a credential), form-encoded
POSTs with the key in `api_id` and an operation number in `api_zadanie`, and a plain-text answer —
`1` or `0` on the first line, then lines that depend on the operation, all with HTTP 200.
Operations used: 1 = issue a document (with `dokument_dostep=1` the answer carries its PDF and view
links), 3 = one page of the document list. The service asks for one call at a time.

Exactly-once: Fakturowo has no duplicate guard and no external-id field, so it rests on the
pipeline's claim plus `find_document`, which reads the list and recognises our document by our
reference (if the list shows the hidden note it is stored in), by the hub's number (hub numbering),
or else by kind + issue date + gross total + buyer — refusing to guess when two documents match.
A create is the issue call alone: no list is read before it (the list has no filter, so a look-up
means reading it page by page), and the answer's PDF link spares a look-up when fetching the PDF.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from typing import ClassVar

import requests

from . import fakturowo_mapping as mapping
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
    Problem,
    Provider,
    ProviderError,
    ProviderLimits,
    RemoteDocument,
    TransientError,
    ValidationRejected,
    bool_option,
    choice_option,
    int_option,
    text_option,
)

DEFAULT_API_URL = "https://konto.fakturowo.pl/api"  # www.fakturowo.pl/api is the older address
KEY_HELP = "Fakturowo: strona Konto → Klucz API"
DEFAULT_MAX_PAGES = 200  # list pages read at most while looking a document up
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# The wording of a refused key is not documented: these cover the ways Polish services say it.
# Matched against the message folded to ASCII and lower case.
AUTH_WORDS = re.compile(
    r"api_id|klucz|\bapi key\b|autoryzac|uwierzyteln|niezalogowan|zaloguj|unauthori[sz]ed|"
    r"nieprawidlow\w* (identyfikator|id)\b|brak dostepu do api"
)
# A refusal that says "not now" rather than "not this document": retry later. The docs insist on
# one call at a time, so "the previous request is still being processed" belongs here too.
BUSY_WORDS = re.compile(
    r"zbyt wiele|za duzo (zapytan|zadan|wywolan)|sprobuj (ponownie )?(pozniej|za chwile)|przeciazon|"
    r"limit (zapytan|zadan|wywolan)|too many|przerwa techniczna|niedostepn\w* chwilowo|chwilowo niedostepn|"
    r"jeszcze przetwarzan|synchroniczn"
)


def normalise_api_url(url: str) -> str:
    """The endpoint itself: a URL without a path gets the service's `/api`."""
    url = (url or "").strip().rstrip("/")
    if url and not urllib.parse.urlsplit(url).path.endswith("/api"):
        url += "/api"
    return url


def api_url_problem(url: str) -> str | None:
    """Why a user-given API address cannot be used (the key travels with every call)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"Adres API Fakturowo „{url}” jest nieprawidłowy – skopiuj go ze strony Konto, np. {DEFAULT_API_URL}."
    if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        return "Adres API Fakturowo musi zaczynać się od https:// – klucz API nie może iść otwartym tekstem."
    return None


def _decode(response: requests.Response) -> str:
    # Plain text without a charset would be read as Latin-1 by requests: Polish needs UTF-8
    # (what clients send and read), with Windows-1250 as the older Polish fallback.
    try:
        return response.content.decode("utf-8")
    except UnicodeDecodeError:
        return response.content.decode("cp1250", errors="replace")


class FakturowoProvider(Provider):
    key = "fakturowo"
    display_name = "Fakturowo"
    capabilities = Capabilities(receipts=True, corrections=False, numbering_series=False, payments=True, sku=False)
    credential_fields = (
        CredentialField(
            name="api_id",
            label="Klucz API",
            help="W Fakturowo: strona Konto → Klucz API (można go tam wygenerować ponownie; "
                 "po zmianie wklej nowy klucz tutaj).",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="api_url",
            label="Adres API",
            help=f"Adres API pokazany na stronie Konto w Fakturowo (może być inny dla każdego konta); "
                 f"puste = {DEFAULT_API_URL}.",
            secret=False,
            required=False,
        ),
    )
    connectable = True
    # Fakturowo publishes no rate limit but asks to wait for each answer before the next call.
    default_limits = ProviderLimits(max_concurrency=1, requests=None, per_seconds=None, writes_only=False)
    vat_rates = frozenset({"23", "8", "5", "0", "zw", "np", "oo"})
    docs_url = "https://www.fakturowo.pl/pomoc/api-podstawowe-funkcje"
    option_fields: ClassVar[dict[str, OptionField]] = {
        "exemption_basis": text_option(
            "Podstawa zwolnienia (zw)",
            ("Przepis drukowany przy stawce zw, gdy dokument go nie podaje, np. „art. 43 ust. 1 pkt 29 lit. b "
             "ustawy o VAT”."),
        ),
        "exemption_basis_kind": text_option(
            "Rodzaj podstawy zwolnienia",
            ("Kod Fakturowo (dokument_rodzaj_podstawa_zw) wysyłany z przepisem; domyślnie "
             f"{mapping.DEFAULT_EXEMPTION_BASIS_KIND}."),
            max_length=10,
        ),
        "bank_account": text_option(
            "Numer rachunku na fakturze",
            "Drukowany na dokumencie; puste = nie wysyłaj (Fakturowo użyje ustawień konta).",
        ),
        "send_email": bool_option(
            "Wysyłka e-mailem z Fakturowo",
            "Fakturowo wyśle wystawiony dokument na e-mail nabywcy.",
        ),
        "unit_code_offset": choice_option(
            "Kody jednostek",
            ("Fakturowo przyjmuje jednostki jako liczby; puste = 1 = usł., 2 = szt. Sprawdź jednostkę na "
             "pierwszej wystawionej fakturze."),
            [("1", "1 = usł., 2 = szt."), ("0", "0 = usł., 1 = szt.")],
        ),
        "units_as_text": bool_option(
            "Jednostki jako tekst",
            "Wysyłaj jednostkę tekstem (np. „szt”) zamiast kodu.",
        ),
        "line_suffix_style": choice_option(
            "Numeracja pól pozycji",
            ("Puste (domyślnie): produkt_nazwa_1, _2…. Zmień tylko, gdy Fakturowo gubi pozycje."),
            [("plain_first", "pierwsza pozycja bez numeru (produkt_nazwa, produkt_nazwa_2…)")],
        ),
        "list_columns": text_option(
            "Kolumny listy dokumentów",
            "Nazwy pól wiersza listy (api_zadanie=3) po przecinku; zmień tylko, gdy wyszukiwanie dokumentów "
            "nie działa. Domyślnie: " + ",".join(mapping.DEFAULT_LIST_COLUMNS[:9]) + ",….",
        ),
        "find_by_fingerprint": bool_option(
            "Odnajdywanie po danych dokumentu",
            ("Rozpoznawaj dokument po dacie, kwocie i nabywcy. Przy numeracji Fakturowo to jedyny sposób, "
             "by po zerwanym połączeniu nie wystawić dokumentu drugi raz."),
            on=True,
        ),
        "list_max_pages": int_option(
            "Strony listy przy wyszukiwaniu",
            f"Najwięcej stron listy dokumentów czytanych przy wyszukiwaniu; domyślnie {DEFAULT_MAX_PAGES}.",
            maximum=10_000,
        ),
    }
    secret_params: ClassVar[frozenset[str]] = frozenset({"api_id"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.api_id = self.credentials.get("api_id", "")
        user_url = self.credentials.get("api_url", "")
        # An explicit base_url (the sandbox, a test) wins over the account's address.
        self.api_url = normalise_api_url(self.base_url or user_url or DEFAULT_API_URL)
        # Reported when a call is made, so building the adapter (pre-flight) never fails.
        self._address_problem = None if self.base_url else api_url_problem(self.api_url)
        self.base_url = self.api_url

    # ------------------------------------------------------------------ HTTP

    def _call(self, fields: dict[str, str], *, write: bool) -> mapping.Answer:
        """POST one task; return its `1` answer or raise what its `0` (or HTTP status) means."""
        if not self.api_id:
            raise AuthenticationFailed(f"Brak klucza API Fakturowo – skopiuj go z: {KEY_HELP}.")
        if self._address_problem:
            raise ProviderError(self._address_problem)
        # Not REST: every task is a form POST (the key must not sit in a URL), and only the task
        # and page number are fit for the request log. A list task only reads: a timeout there is
        # retried.
        response = self._send(
            "POST", self.api_url, data={"api_id": self.api_id, **fields},
            headers={"Accept": "text/plain, application/pdf, */*"},
            log_params={k: fields[k] for k in ("api_zadanie", "p") if k in fields},
            read_only=not write, allow_redirects=False,
        )
        self._raise_for_status(response)
        text = _decode(response)
        answer = mapping.parse_answer(text)
        if answer is None:
            if write:
                raise self._unreadable("POST")
            snippet = self.redact(re.sub(r"\s+", " ", text)[:120]).strip()
            raise ProviderError(f"Fakturowo: nieoczekiwana odpowiedź ({snippet or 'pusta'}) – sprawdź adres API "
                                "na stronie Konto.")
        if not answer.ok:
            raise self._refusal(answer.message, write)
        return answer

    def _refusal(self, message: str, write: bool) -> ProviderError:
        message = self.redact(message) or "bez opisu błędu"
        folded = mapping.ascii_fold(message)
        if AUTH_WORDS.search(folded):
            return AuthenticationFailed(f"Fakturowo odrzuciło klucz API: {message}. Sprawdź klucz i adres API "
                                        f"({KEY_HELP}).")
        if BUSY_WORDS.search(folded):
            return TransientError(f"Fakturowo: {message} – ponowimy później.")
        if write:
            # A `0` to an issue call means nothing was stored: the document needs a fix.
            field = mapping.field_of_message(message)
            return ValidationRejected(f"Fakturowo odrzuciło dokument: {message}", {field: [message]})
        return ProviderError(f"Fakturowo: {message}")

    def _raise_for_status(self, response: requests.Response) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        unavailable = self._unavailable(response)
        if unavailable:
            raise unavailable
        if status in (401, 403):
            raise AuthenticationFailed(f"Fakturowo odmówiło dostępu ({status}) – sprawdź klucz API ({KEY_HELP}).")
        if 300 <= status < 400:
            # A redirected POST would arrive as a GET without its form: ask for the new address.
            target = self.redact(response.headers.get("Location", ""))
            raise ProviderError(f"Fakturowo przekierowuje adres API ({status}) na „{target}” – wpisz adres API "
                                "ze strony Konto.")
        if status == 404:
            raise ProviderError("Fakturowo: pod tym adresem nie ma API (404) – sprawdź adres API na stronie Konto.")
        raise ProviderError(f"Fakturowo: HTTP {status} – nieoczekiwana odpowiedź.")

    # ------------------------------------------------------------------ the document list

    def list_page(self, page: int) -> tuple[int, list[mapping.ListedDocument]]:
        """(number of pages, rows) of one page of the document list (`api_zadanie=3`, 1-based `p`)."""
        answer = self._call({"api_zadanie": mapping.TASK_LIST, "p": str(page)}, write=False)
        try:
            return mapping.parse_list(answer, mapping.list_columns(self._options()))
        except ValueError:
            raise ProviderError("Fakturowo: nieoczekiwana odpowiedź listy dokumentów (brak liczby stron).") from None

    def listed_documents(self) -> Iterator[mapping.ListedDocument]:
        """Every listed document: page 1, then the last page back to 2 — a document just issued is
        on the first or on the last page, whichever end the (undocumented) order starts from."""
        pages, rows = self.list_page(1)
        yield from rows
        limit = self._max_pages()
        for read, page in enumerate(range(pages, 1, -1), start=2):
            if read > limit:
                # Never claim "not there" without having read the whole list.
                raise ProviderError(f"Fakturowo: lista dokumentów ma {pages} stron, przeszukano {limit} – "
                                    "zwiększ limit stron w opcjach integracji.")
            yield from self.list_page(page)[1]

    def _max_pages(self) -> int:
        try:
            return max(1, int(str(self._options().get("list_max_pages") or DEFAULT_MAX_PAGES)))
        except ValueError:
            return DEFAULT_MAX_PAGES

    def _row(self, api_numer: str) -> mapping.ListedDocument:
        row = next((r for r in self.listed_documents() if r.api_numer == api_numer), None)
        if row is None:
            raise ProviderError(f"Fakturowo: dokumentu {api_numer} nie ma na liście dokumentów (usunięty w Fakturowo?).")
        return row

    def _remote_from_row(self, row: mapping.ListedDocument) -> RemoteDocument:
        pdf, view = mapping.row_links(row)
        return mapping.remote_document(row, mapping.pack_remote_id(row.api_numer, pdf, view, self.api_url), pdf, view)

    # ------------------------------------------------------------------ account

    def check_connection(self) -> str:
        self.list_page(1)  # the cheapest call that needs a valid key
        return f"Fakturowo – {urllib.parse.urlsplit(self.api_url).netloc}"

    def list_series(self) -> list[Choice]:
        # The API has no numbering series: Fakturowo numbers by itself, or takes the hub's number.
        return []

    def list_payment_types(self) -> list[Choice]:
        return list(mapping.PAYMENT_TYPES)

    # ------------------------------------------------------------------ documents

    def preflight(self, doc: HubDocument, settings: ExportSettings) -> list[Problem]:
        return mapping.preflight(doc, settings, self._options(settings), self.vat_rates)

    def build_fields(self, doc: HubDocument, settings: ExportSettings) -> dict[str, str]:
        """The form of the issue call without the key (useful for previews and tests)."""
        return mapping.build_fields(doc, settings, self._options(settings))

    def create_document(self, doc: HubDocument, settings: ExportSettings) -> RemoteDocument:
        if doc.kind not in mapping.DOCUMENT_KINDS:
            raise NotSupported(f"Fakturowo: rodzaj dokumentu „{doc.kind}” nie jest obsługiwany przez API.")
        self._refuse_problems(doc, settings)
        answer = self._call(self.build_fields(doc, settings), write=True)
        created = mapping.parse_created(answer)
        if created is None:
            raise OutcomeUnknown("Fakturowo potwierdziło zapis bez identyfikatora dokumentu – sprawdzamy, czy powstał.")
        return RemoteDocument(
            remote_id=mapping.pack_remote_id(created.api_numer, created.pdf_url, created.view_url, self.api_url),
            # The answer carries no printed number; with hub numbering it is the one sent.
            number=doc.number if settings.numbering == "hub" else None,
            status=None,
            view_url=created.view_url,
            pdf_url=created.pdf_url,
            total_gross=None,
            raw={"api_numer": created.api_numer, "file_name": created.file_name, "lines": list(answer.lines)},
        )

    def find_document(self, doc: HubDocument) -> RemoteDocument | None:
        by_fingerprint: list[mapping.ListedDocument] = []
        use_fingerprint = str(self.options.get("find_by_fingerprint", "1")).strip() != "0"
        # The list has no filter: it is read from where new documents are (page 1, then the last
        # page back), and a decisive match — our reference, or the hub's number with the same
        # date and amount — ends the reading; only a fingerprint needs every page (no twin).
        for row in self.listed_documents():
            if mapping.mentions(row, doc.reference):
                return self._remote_from_row(row)
            if mapping.number_matches(row, doc.number) and mapping.agrees(row, doc):
                return self._remote_from_row(row)
            if use_fingerprint and mapping.fingerprint_matches(row, doc):
                by_fingerprint.append(row)
        if len(by_fingerprint) == 1:
            return self._remote_from_row(by_fingerprint[0])
        if len(by_fingerprint) > 1:
            numbers = ", ".join(row.get("numer") or row.api_numer for row in by_fingerprint)
            raise ProviderError(
                f"Fakturowo ma {len(by_fingerprint)} dokumenty pasujące do {doc.number or doc.reference} (ten sam "
                f"dzień, kwota i nabywca: {numbers}) – sprawdź je w Fakturowo; numeracja z huba tego unika."
            )
        return None

    def fetch_document(self, remote_id: str) -> RemoteDocument:
        api_numer, pdf, view = mapping.unpack_remote_id(remote_id, self.api_url)
        row = self._row(api_numer)
        if pdf:
            return mapping.remote_document(row, str(remote_id), pdf, view)
        return self._remote_from_row(row)  # links the list carries, if any, join the id

    def fetch_pdf(self, remote_id: str) -> bytes:
        api_numer, pdf, _ = mapping.unpack_remote_id(remote_id, self.api_url)
        if not pdf:
            pdf, _ = mapping.row_links(self._row(api_numer))
        if not pdf:
            # No API call returns a PDF by id (none is known): after a lost answer the link is gone.
            raise NotSupported(
                f"Fakturowo daje link do PDF tylko przy wystawieniu, a dokument {api_numer} odnaleziono później "
                "na liście – pobierz PDF w panelu Fakturowo."
            )
        # The public download link: it needs no key, so none is sent.
        response = self._send("GET", pdf, headers={"Accept": "text/plain, application/pdf, */*"})
        if response.status_code == 429 or response.status_code >= 500:
            self._raise_for_status(response)
        if response.status_code != 200:
            raise ProviderError(f"Fakturowo: link do PDF dokumentu {api_numer} nie działa (HTTP {response.status_code}).")
        if not response.content.startswith(b"%PDF"):
            raise ProviderError(f"Fakturowo: pod linkiem do PDF dokumentu {api_numer} nie ma pliku PDF.")
        return response.content
