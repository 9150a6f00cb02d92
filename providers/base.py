"""The provider interface: plain data in, plain data out, one HTTP door.

Adapters never see the web app. They receive frozen dataclasses describing the hub's
document and the integration's settings, and they answer with `RemoteDocument`s or one
of the exceptions below. The export pipeline decides what to do next from the exception
type alone, so the mapping of HTTP/transport failures to these types is part of the contract.
"""

from __future__ import annotations

import abc
import email.utils
import random
import re
import time
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

import requests
from urllib3.exceptions import ConnectTimeoutError

# --------------------------------------------------------------------------- data

VAT_RATES = ("23", "8", "5", "0", "zw", "np", "oo")
KINDS = ("invoice", "receipt", "correction")
FEATURES = ("receipts", "corrections", "numbering_series", "payments", "sku")


@dataclass(frozen=True)
class Party:
    """Seller or buyer as printed on the hub's document."""

    name: str
    company_name: str = ""
    # Polish NIP as 10 digits, or a foreign VAT id with its country prefix ("DE123456789").
    tax_id: str = ""
    is_company: bool = False
    first_name: str = ""
    last_name: str = ""
    street: str = ""
    post_code: str = ""
    city: str = ""
    country: str = "PL"  # ISO-3166 alpha-2
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Line:
    """One line of the hub's document; `gross`/`net`/`vat` are the hub's rounded line totals."""

    name: str
    quantity: Decimal
    unit_gross: Decimal
    vat_rate: str  # one of VAT_RATES
    _: KW_ONLY
    sku: str | None = None
    ean: str | None = None
    unit: str = "szt"
    gross: Decimal
    net: Decimal
    vat: Decimal


@dataclass(frozen=True)
class RateTotal:
    """The hub's totals for one VAT rate, as printed on its document."""

    rate: str
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class CorrectionLine:
    """`before=None`: a line added by the correction; `after=None`: a line removed."""

    before: Line | None
    after: Line | None


@dataclass(frozen=True)
class Correction:
    original_remote_id: str | None
    original_number: str
    original_issue_date: date
    reason: str
    lines: tuple[CorrectionLine, ...]


@dataclass(frozen=True)
class HubDocument:
    # Our unique external id for the document (e.g. "IB-12-3456"); stable across retries.
    reference: str
    kind: str  # "invoice" | "receipt" | "correction"
    number: str
    issue_date: date
    sell_date: date
    payment_due: date | None
    hide_payment_date: bool
    payment_method: str  # the shop's payment name, e.g. "Przelew", "PayU"
    paid: bool
    paid_date: date | None
    currency: str
    exchange_rate: Decimal | None
    seller: Party
    buyer: Party
    lines: tuple[Line, ...]
    totals: tuple[RateTotal, ...]
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    notes: str = ""
    exemption_basis: str = ""
    correction: Correction | None = None
    order_id: str = ""


@dataclass(frozen=True)
class ExportSettings:
    numbering: str = "service"  # "service" | "hub"
    series_id: str | None = None  # service's series id; None = "do not pass" (service default)
    payment_type: str | None = None  # service's payment code; None = adapter's default mapping
    send_sku: bool = False
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    id: str
    name: str


@dataclass(frozen=True)
class KsefInfo:
    status: str  # processing | accepted | error | not_applicable
    number: str | None = None
    verification_link: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RemoteDocument:
    remote_id: str
    number: str | None
    status: str | None
    view_url: str | None
    pdf_url: str | None
    total_gross: Decimal | None
    totals: tuple[RateTotal, ...] = ()
    ksef: KsefInfo | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Problem:
    """A pre-flight finding: `field` is a hub field path (`buyer.tax_id`, `lines[2].sku`)."""

    field: str
    message: str


OPTION_KINDS = ("text", "bool", "choice", "int", "number")


@dataclass(frozen=True)
class OptionField:
    """One service-specific setting of the module's Configuration section.

    `kind` says how it is entered and checked: "bool" (a checkbox, stored "1"/"0", read with
    `option_on(value, default=on)`), "choice" (one of `choices`; empty = the service's default),
    "int" / "number" (a whole or decimal number within `minimum`..`maximum`; empty = default) or
    "text" (at most `max_length` characters). Values reach the adapter in `options` as text."""

    label: str
    help: str
    kind: str = "text"
    choices: tuple[Choice, ...] = ()
    on: bool = False  # a "bool" that is on until the merchant turns it off
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    max_length: int = 200

    def __post_init__(self):
        if self.kind not in OPTION_KINDS:
            raise ValueError(f"unknown option kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError("a choice option needs its choices")


def bool_option(label: str, help: str, *, on: bool = False) -> OptionField:
    return OptionField(label, help, "bool", on=on)


def choice_option(label: str, help: str, choices: Iterable[tuple[str, str] | Choice]) -> OptionField:
    return OptionField(label, help, "choice",
                       tuple(c if isinstance(c, Choice) else Choice(str(c[0]), str(c[1])) for c in choices))


def int_option(label: str, help: str, *, minimum: int | None = 1, maximum: int | None = None) -> OptionField:
    return OptionField(label, help, "int", minimum=None if minimum is None else Decimal(minimum),
                       maximum=None if maximum is None else Decimal(maximum))


def number_option(label: str, help: str, *, minimum: str | None = "0", maximum: str | None = None) -> OptionField:
    return OptionField(label, help, "number", minimum=None if minimum is None else Decimal(minimum),
                       maximum=None if maximum is None else Decimal(maximum))


def text_option(label: str, help: str, *, max_length: int = 200) -> OptionField:
    return OptionField(label, help, "text", max_length=max_length)


@dataclass(frozen=True)
class CredentialField:
    name: str
    label: str
    help: str
    secret: bool = True
    required: bool = True


@dataclass(frozen=True)
class Capabilities:
    receipts: bool
    corrections: bool
    numbering_series: bool
    payments: bool
    sku: bool

    def as_dict(self) -> dict[str, bool]:
        return {name: getattr(self, name) for name in FEATURES}


@dataclass(frozen=True)
class ProviderLimits:
    """Rate cap the pipeline keeps per integration account (documented or a configurable default)."""

    max_concurrency: int
    requests: int | None
    per_seconds: float | None
    writes_only: bool
    # With `writes_only`, reads may have a window of their own (inFakt: GET 300 / 60 s), and a
    # create may cost reads besides its write (inFakt polls its creation task once).
    reads: int | None = None
    read_seconds: float | None = None
    reads_per_create: int = 0


@dataclass(frozen=True)
class RequestSummary:
    """What the journal may keep about one HTTP call: never a secret, never a body."""

    method: str
    path: str
    status: int | None
    duration_ms: int
    error: str | None = None

    def __str__(self) -> str:
        outcome = str(self.status) if self.status is not None else (self.error or "no answer")
        return f"{self.method} {self.path} → {outcome} ({self.duration_ms} ms)"


# --------------------------------------------------------------------------- errors


class ProviderError(Exception):
    """Anything the service refused or that went wrong talking to it; not worth retrying as is."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationRejected(ProviderError):
    """The service refused the document's content: needs a fix, never retry unchanged."""

    def __init__(self, message: str, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.field_errors = dict(field_errors or {})


class DuplicateReference(ValidationRejected):
    """The service's own duplicate guard refused: the document most likely already exists."""

    def __init__(self, message: str, field_errors: dict[str, list[str]] | None = None):
        super().__init__(message, field_errors)


class CreateFailed(ValidationRejected):
    """Asked after an unknown outcome, the service says that create failed (inFakt: its task
    was refused) and nothing carries our reference: nothing was stored, the refusal stands."""


class AuthenticationFailed(ProviderError):
    pass


class TransientError(ProviderError):
    """5xx, 429 or a connection that failed before the request left: retry with backoff."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class StillProcessing(TransientError):
    """The service accepted a create and is still working on it (an asynchronous task): nothing
    to adopt yet and nothing to send again; look again later. Not a failure of the service."""


class LookupIncomplete(TransientError):
    """A look-up used up its budget (pages, detail reads) without a definite answer: the
    document may be there or not. Never to be taken for "not there"; look again later, or let
    the merchant check in the service."""


class OutcomeUnknown(ProviderError):
    """The write was sent but no answer came: look the document up, never re-POST blindly.

    `pending_ref` is what the service gave back to follow the write up (inFakt: the creation
    task); the pipeline keeps it with the export and passes it back to `find_document` as
    `pending_ref=`, so a later adapter instance can ask about that write directly."""

    def __init__(self, message: str, pending_ref: str | None = None):
        super().__init__(message)
        self.pending_ref = pending_ref


class NotSupported(ProviderError):
    pass


# --------------------------------------------------------------------------- helpers


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def retry_after(response: requests.Response) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"))


def json_or_none(response: requests.Response) -> Any:
    """The answer's JSON, or None when it is not JSON (an HTML error page, nothing)."""
    try:
        return response.json()
    except ValueError:
        return None


def path_id(value: str) -> str:
    """An id as one URL path segment (never a way to reach another path)."""
    return urllib.parse.quote(str(value), safe="")


def header_safe(value: str) -> bool:
    """Printable ASCII without spaces: what an HTTP header (or a signed login) can carry."""
    return re.fullmatch(r"[\x21-\x7e]+", value or "") is not None


def ascii_fold(text: str) -> str:
    """'Płatność Gotówką ' → 'platnosc gotowka': lower-case ASCII, for matching Polish words."""
    text = (text or "").strip().lower().replace("ł", "l")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# An on/off option as typed in the settings form ("1", "tak", "true") or a real bool from code.
ON_WORDS = frozenset({"1", "true", "tak", "yes", "on", "t", "y"})


def option_on(value: Any, default: bool = False) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    return text in ON_WORDS if text else default


# A service without an external-id field gets our reference printed in a note it returns whole;
# a look-up finds the document by this line.
REFERENCE_LABEL = "Nr ref."


def reference_line(reference: str) -> str:
    return f"{REFERENCE_LABEL}: {reference}"


def has_reference(text: str | None, reference: str) -> bool:
    """Our reference line in a note (a lost colon or extra spaces tolerated; IB-1 is not IB-12)."""
    if not text or not reference:
        return False
    pattern = rf"{re.escape(REFERENCE_LABEL)}\s*:?\s*{re.escape(reference)}(?![\w/-])"
    return re.search(pattern, text) is not None


def document_lines(doc: HubDocument) -> list[Line]:
    """Every line the document mentions (both sides of a correction)."""
    if doc.kind == "correction" and doc.correction is not None:
        return [side for cl in doc.correction.lines for side in (cl.before, cl.after) if side is not None]
    return list(doc.lines)


def preflight_rejection(problems: Iterable[Problem]) -> ValidationRejected:
    """Pre-flight findings as the refusal the pipeline shows: every message, keyed by field."""
    problems = list(problems)
    field_errors: dict[str, list[str]] = {}
    for problem in problems:
        field_errors.setdefault(problem.field, []).append(problem.message)
    return ValidationRejected("Dokument wymaga poprawek: " + "; ".join(p.message for p in problems),
                              field_errors)


def _never_left(exc: BaseException) -> bool:
    """True when the failure happened while connecting (refused, DNS, connect timeout).

    urllib3 wraps the cause in MaxRetryError.reason inside requests' exception args; in
    urllib3 2.x NewConnectionError and NameResolutionError subclass ConnectTimeoutError.
    """
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ConnectTimeoutError):
            return True
        stack.extend(current.args)
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__])
    return False


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Raised before anything is sent and never fixed by retrying: a configuration problem.
_BAD_REQUEST_SETUP = (
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidHeader,
)


# --------------------------------------------------------------------------- provider


# The longest pause a read waits out on the spot before it is repeated (seconds).
MAX_READ_PAUSE = 2.0


def _read_backoff(retry: int) -> float:
    return min(0.2 * 2 ** retry, 2.0) * (0.5 + random.random())


class Provider(abc.ABC):
    """One accounting service. Class attributes describe it; instances talk to one account."""

    key: ClassVar[str]
    display_name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    credential_fields: ClassVar[tuple[CredentialField, ...]] = ()
    connectable: ClassVar[bool] = False
    default_limits: ClassVar[ProviderLimits] = ProviderLimits(
        max_concurrency=1, requests=None, per_seconds=None, writes_only=False
    )
    vat_rates: ClassVar[frozenset[str]] = frozenset(VAT_RATES)
    docs_url: ClassVar[str] = ""
    # Service-specific settings for the module's Configuration section: key -> OptionField (a
    # plain (label, help) pair is a text option); their values reach the adapter in `options`.
    option_fields: ClassVar[dict[str, OptionField | tuple[str, str]]] = {}
    # Query-string keys that carry secrets; dropped from request summaries.
    secret_params: ClassVar[frozenset[str]] = frozenset()
    # Statuses by which the service says "too many requests" (inFakt: 503 as well).
    throttle_statuses: ClassVar[frozenset[int]] = frozenset({429})

    def __init__(
        self,
        credentials: dict[str, str],
        base_url: str | None = None,
        options: dict | None = None,
        session: requests.Session | None = None,
        timeout: tuple[float, float] | float = (5, 30),
        request_log: Callable[[RequestSummary], None] | None = None,
        read_retries: int = 0,
    ):
        self.credentials = {k: (v or "").strip() for k, v in (credentials or {}).items()}
        self.base_url = base_url.rstrip("/") if base_url else None
        self.options = dict(options or {})
        self.session = session or requests.Session()
        self.timeout = timeout
        self.request_log = request_log
        # A read stores nothing, so a failed one is repeated on the spot: a lookup that pages
        # through a day's documents must not fail as a whole because one page met a 502.
        self.read_retries = max(0, int(read_retries))

    @classmethod
    def option_specs(cls) -> dict[str, OptionField]:
        """`option_fields` with every entry as an OptionField."""
        return {key: spec if isinstance(spec, OptionField) else text_option(*spec)
                for key, spec in cls.option_fields.items()}

    # ---- the operations every adapter implements

    @abc.abstractmethod
    def check_connection(self) -> str:
        """Return a label for the account; raise AuthenticationFailed/TransientError/ProviderError."""

    @abc.abstractmethod
    def list_series(self) -> list[Choice]: ...

    @abc.abstractmethod
    def list_payment_types(self) -> list[Choice]: ...

    @abc.abstractmethod
    def preflight(self, doc: HubDocument, settings: ExportSettings) -> list[Problem]:
        """Pure check (no HTTP) of everything the service is known to refuse."""

    @abc.abstractmethod
    def create_document(self, doc: HubDocument, settings: ExportSettings) -> RemoteDocument: ...

    @abc.abstractmethod
    def find_document(self, doc: HubDocument) -> RemoteDocument | None:
        """Look the document up by our reference. Never creates anything."""

    @abc.abstractmethod
    def fetch_document(self, remote_id: str) -> RemoteDocument: ...

    @abc.abstractmethod
    def fetch_pdf(self, remote_id: str) -> bytes: ...

    # ---- the single HTTP door

    def secret_values(self) -> list[str]:
        """Credential values that must never reach a log line or an error message."""
        secret_names = {f.name for f in self.credential_fields if f.secret}
        return [v for k, v in self.credentials.items() if k in secret_names and v]

    def redact(self, text: str) -> str:
        # Longest first so a token is not half-replaced by one of its own parts.
        for secret in sorted(self.secret_values(), key=len, reverse=True):
            if len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def _summary_path(self, path: str, params: dict | None) -> str:
        public = {k: v for k, v in (params or {}).items() if k not in self.secret_params}
        query = urllib.parse.urlencode(public, doseq=True)
        return self.redact(f"{path}?{query}" if query else path)

    def _log(self, summary: RequestSummary) -> None:
        if self.request_log is not None:
            self.request_log(summary)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        data: dict | None = None,
        headers: dict | None = None,
        log_params: dict | None = None,
        read_only: bool = False,
        allow_redirects: bool = True,
    ) -> requests.Response:
        """Send one request; map transport failures to TransientError / OutcomeUnknown.

        `path` follows the base URL, or is a whole URL (a link the service gave out). `read_only`
        marks a POST that stores nothing (a search, a form that reads): an answer lost after
        sending it is retried like a GET's instead of becoming an unknown outcome. `log_params`
        stand for `params` in the request summary (a form sends its parameters in the body).
        HTTP status codes are left to the adapter, their meaning differs per service; except a
        504 to a write, which comes from a gateway in front of any of them.
        """
        if not self.base_url:
            raise ProviderError(f"{self.display_name}: brak adresu API dla tego konta.")
        method = method.upper()
        whole_url = path.startswith(("https://", "http://"))
        url = path if whole_url else self.base_url + path
        shown_path = (urllib.parse.urlsplit(path).path or "/") if whole_url else path
        summary_path = self._summary_path(shown_path, params if log_params is None else log_params)
        reading = method == "GET" or read_only
        wait = 0.0
        for retry in range(self.read_retries + 1 if reading else 1):
            time.sleep(wait)
            last = retry == (self.read_retries if reading else 0)
            started = time.monotonic()
            try:
                response = self.session.request(
                    method, url, params=params, json=json, data=data, headers=headers, timeout=self.timeout,
                    allow_redirects=allow_redirects,
                )
            except requests.RequestException as exc:
                elapsed = int((time.monotonic() - started) * 1000)
                error = self._transport_error(exc, "GET" if read_only else method)
                self._log(RequestSummary(method, summary_path, None, elapsed, type(error).__name__))
                if isinstance(error, TransientError) and not last:
                    wait = _read_backoff(retry)
                    continue
                # `from None`: the original exception text carries the full URL (and its token).
                raise error from None
            elapsed = int((time.monotonic() - started) * 1000)
            self._log(RequestSummary(method, summary_path, response.status_code, elapsed))
            if response.status_code == 504 and not reading:
                # A gateway gave up waiting for the service, which may still store the document.
                raise OutcomeUnknown(f"{self.display_name}: bramka usługi nie doczekała się odpowiedzi (504); "
                                     "dokument mógł zostać zapisany – sprawdzamy to przed ponowieniem.")
            wait = self._read_repeat_wait(response, retry) if reading and not last else None
            if wait is None:
                return response
        raise AssertionError("unreachable")  # the last round always returns or raises

    def _read_repeat_wait(self, response: requests.Response, retry: int) -> float | None:
        """How long to wait before repeating a read, or None to hand the answer back: a server
        error is repeated after a short backoff; a rate limit only when the service asks for a
        short pause (Retry-After), so a lookup paging through many records is not lost to one 429
        while a longer pause is left to the job's own backoff."""
        status = response.status_code
        wait = retry_after(response)
        if status in self.throttle_statuses:
            return wait if wait is not None and wait <= MAX_READ_PAUSE else None
        if status in (500, 502, 503, 504):
            return _read_backoff(retry) if wait is None else (wait if wait <= MAX_READ_PAUSE else None)
        return None

    def _transport_error(self, exc: requests.RequestException, method: str) -> ProviderError:
        name = self.display_name
        if isinstance(exc, _BAD_REQUEST_SETUP):
            return ProviderError(f"{name}: nieprawidłowy adres API ({type(exc).__name__}).")
        if isinstance(exc, requests.exceptions.SSLError) or _never_left(exc):
            # TLS fails during the handshake, before the request is written.
            return TransientError(f"{name}: nie można połączyć się z serwerem ({type(exc).__name__}).")
        if method in WRITE_METHODS:
            # Sent, then timed out or reset: the service may have stored it.
            return OutcomeUnknown(
                f"{name}: brak odpowiedzi po wysłaniu żądania ({type(exc).__name__}); "
                "dokument mógł zostać zapisany – sprawdzamy to przed ponowieniem."
            )
        return TransientError(f"{name}: brak odpowiedzi serwera ({type(exc).__name__}).")

    # ---- reading answers: what every service's answer means the same way

    def _unavailable(
        self,
        response: requests.Response,
        *,
        default_wait: float | None = None,
        permanent: frozenset[int] = frozenset(),
    ) -> TransientError | None:
        """The error for a throttled (429) or failing (5xx) answer, None for any other status.

        Both are worth retrying unchanged, after the answer's Retry-After (else `default_wait`
        for a throttled one). `permanent` lists the 5xx that retrying cannot fix.
        """
        status = response.status_code
        name = self.display_name
        if status in self.throttle_statuses:
            wait = retry_after(response)
            return TransientError(
                f"{name}: limit zapytań przekroczony ({status}) – ponowimy później.",
                retry_after=default_wait if wait is None else wait,
                status=status,
            )
        if status >= 500 and status not in permanent:
            return TransientError(f"{name}: błąd serwera ({status}) – ponowimy później.",
                                  retry_after=retry_after(response), status=status)
        return None

    def _unreadable(self, method: str, expected: str = "JSON") -> ProviderError:
        """A 2xx answer that cannot be read. After a write the document may be stored, so the
        pipeline looks it up instead of sending it again."""
        if method.upper() in WRITE_METHODS:
            return OutcomeUnknown(f"{self.display_name}: nieczytelna odpowiedź po zapisie dokumentu.")
        return ProviderError(f"{self.display_name}: nieczytelna odpowiedź (oczekiwano {expected}).")

    def _detail(self, response: requests.Response, text: str = "") -> str:
        """The service's own words for a refusal (or the start of its answer), without secrets."""
        return self.redact(text or response.text[:200].strip())

    def redact_errors(self, field_errors: dict[str, list[str]]) -> dict[str, list[str]]:
        return {name: [self.redact(m) for m in messages] for name, messages in field_errors.items()}

    # ---- the parts of an export every adapter does the same way

    def _options(self, settings: ExportSettings | None = None) -> dict:
        """The integration's options, overridden by the export's own."""
        return {**self.options, **(settings.options if settings else {})}

    def _refuse_problems(self, doc: HubDocument, settings: ExportSettings) -> None:
        """Raise the pre-flight findings, if any: a document the service would refuse is not sent."""
        problems = self.preflight(doc, settings)
        if problems:
            raise preflight_rejection(problems)


class DeclaredOnlyProvider(Provider):
    """A service the hub knows about (capabilities, credentials) but cannot talk to yet."""

    connectable: ClassVar[bool] = False

    def _not_yet(self) -> NotSupported:
        return NotSupported(f"Integracja z {self.display_name} nie jest jeszcze dostępna.")

    def check_connection(self) -> str:
        raise self._not_yet()

    def list_series(self) -> list[Choice]:
        raise self._not_yet()

    def list_payment_types(self) -> list[Choice]:
        raise self._not_yet()

    def preflight(self, doc: HubDocument, settings: ExportSettings) -> list[Problem]:
        raise self._not_yet()

    def create_document(self, doc: HubDocument, settings: ExportSettings) -> RemoteDocument:
        raise self._not_yet()

    def find_document(self, doc: HubDocument) -> RemoteDocument | None:
        raise self._not_yet()

    def fetch_document(self, remote_id: str) -> RemoteDocument:
        raise self._not_yet()

    def fetch_pdf(self, remote_id: str) -> bytes:
        raise self._not_yet()


def field_errors_message(prefix: str, field_errors: dict[str, Iterable[str]]) -> str:
    """'prefix: field: msg; field2: msg' — a readable one-liner for the journal."""
    parts = []
    for name, messages in field_errors.items():
        text = ", ".join(m.strip().lstrip("-").strip() for m in messages if m)
        parts.append(f"{name}: {text}" if text else name)
    return f"{prefix}: " + "; ".join(parts) if parts else prefix
