"""RQ jobs: send a document, reconcile an uncertain one, fetch the service's copy, sweep.

Exactly once: a row is claimed with a compare-and-set before the POST and the claim is committed,
so a worker that dies mid-send leaves the row `sending`; whoever finds it later looks the document
up at the service by our reference instead of sending it again. Jobs take ids and never raise:
every outcome is written to the row and the journal."""
from __future__ import annotations

import logging
import random
import time
from datetime import timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, or_, update

from providers.base import (
    AuthenticationFailed,
    CreateFailed,
    DuplicateReference,
    LookupIncomplete,
    NotSupported,
    OutcomeUnknown,
    ProviderError,
    RemoteDocument,
    StillProcessing,
    TransientError,
    ValidationRejected,
)

from ..automation.services import resume_waiting_runs
from ..extensions import db
from ..models import Export, JournalEntry, utcnow
from ..redis_conn import get_redis
from .limits import AccountLimits
from .mapping import export_settings, hub_document
from .services import (
    EXPORT_QUEUE,
    FETCH_QUEUE,
    backoff_delay,
    enqueue_export,
    enqueue_fetch,
    job_alive,
    limits_of,
    provider_for,
    waiting_job_ids,
)

log = logging.getLogger(__name__)

MAX_TRANSIENT_ATTEMPTS = 12
FETCH_REQUESTS = 2  # the document, then its PDF
FETCH_YIELD_MAX_WAIT = 300.0  # a yielding fetch looks again at least this often (s)
BUSY_SPREAD_PER_DOCUMENT = 0.25  # s per waiting create per slot (see _busy_delay)
BUSY_SPREAD_MAX = 30.0
# Look-ups of an in-doubt document that end without an answer (service failing, its task still
# running, a search cut short), and failed fetch-backs in a row: past these the pipeline stops
# and shows why on the document; the merchant goes on by hand ("Uzgodnij" / "Odśwież").
MAX_LOOKUP_ATTEMPTS = 20
MAX_FETCH_ATTEMPTS = 8


class Attempt:
    """Collects the request summaries of one attempt and writes its journal line."""

    def __init__(self, export: Export, action: str):
        self.export, self.action = export, action
        self.started_at, self.start = utcnow(), time.monotonic()
        self.requests: list[str] = []

    def log_request(self, summary) -> None:
        self.requests.append(str(summary))

    def record(self, outcome: str, message: str, next_step: str) -> None:
        export = self.export
        db.session.add(JournalEntry(
            merchant_id=export.merchant_id, integration_id=export.integration_id, export_id=export.id,
            document_id=export.document_id, trigger=export.trigger, action=self.action,
            started_at=self.started_at, duration_ms=int((time.monotonic() - self.start) * 1000),
            request_summary="\n".join(self.requests)[:4000], outcome=outcome, message=message[:4000],
            next_step=next_step[:300],
        ))


def _limits(export: Export) -> AccountLimits:
    config = current_app.config
    return AccountLimits(get_redis(current_app), export.integration_id,
                         (config["BREAKER_THRESHOLD"], config["BREAKER_COOLDOWN"], config["BREAKER_MAX_COOLDOWN"]))


def _reschedule(export: Export, delay: float, fetch: bool = False) -> str:
    """Try again later without spending an attempt (account paused or out of request budget)."""
    export.generation += 1
    db.session.commit()
    (enqueue_fetch if fetch else enqueue_export)(export, delay=max(delay, 0.05))
    return "rescheduled"


def _original_remote_id(export: Export) -> str | None:
    corrected = export.document.corrects
    return corrected.export.remote_id if corrected is not None and corrected.export is not None else None


def _take_slot(export: Export, count: int = 1, write: bool = True, reserve: int = 0) -> float:
    """Spend `count` requests of the account's window, leaving `reserve` of it free. Where the
    service limits writes alone (inFakt: 150 writes / 60 s), reads go to a window of their own
    when it documents one (inFakt: GET 300 / 60 s) and are free otherwise."""
    from .services import provider_class

    defaults = provider_class(export.integration).default_limits
    if not write and defaults.writes_only:
        return _limits(export).take_request_slot(defaults.reads, defaults.read_seconds, count, window="reads",
                                                 reserve=reserve)
    _, requests, per_seconds = limits_of(export.integration)
    return _limits(export).take_request_slot(requests, per_seconds, count, reserve=reserve)


def _read_window(export: Export) -> tuple[int | None, float | None, int]:
    """The window a fetch-back's reads are counted in: (requests, seconds, how many of them one
    create spends)."""
    from .services import provider_class

    defaults = provider_class(export.integration).default_limits
    if defaults.writes_only:
        return defaults.reads, defaults.read_seconds, defaults.reads_per_create
    _, requests, per_seconds = limits_of(export.integration)
    return requests, per_seconds, 1


def _pending_creates(export: Export) -> int:
    """The account's exports waiting to be created now or within the next minute."""
    horizon = utcnow() + timedelta(seconds=60)
    return db.session.scalar(
        db.select(func.count()).select_from(Export).where(
            Export.merchant_id == export.merchant_id, Export.integration_id == export.integration_id,
            Export.state.in_(("queued", "retrying")),
            or_(Export.next_attempt_at.is_(None), Export.next_attempt_at <= horizon))
    ) or 0


def _take_fetch_slots(export: Export) -> float:
    """A fetch-back's two reads (the document, its PDF). On an account with a request budget,
    fetches yield to creates still waiting, so a bulk run spends the budget on getting documents
    into the service first; a fetch that yields waits about as long as those creates need."""
    requests, per_seconds, per_create = _read_window(export)
    pending = _pending_creates(export) if requests and per_seconds and per_create else 0
    wait = _take_slot(export, count=FETCH_REQUESTS, write=False, reserve=pending * per_create)
    if wait > 0 and pending:
        wait = min(max(wait, pending * per_create * per_seconds / requests), FETCH_YIELD_MAX_WAIT)
    return wait


def _take_create_slots(export: Export) -> float:
    """A create's write, and the reads it makes besides (inFakt polls its creation task)."""
    from .services import provider_class

    reads = provider_class(export.integration).default_limits.reads_per_create
    wait = _take_slot(export, count=reads, write=False) if reads else 0.0
    return wait if wait > 0 else _take_slot(export)


def _busy_delay(export: Export, concurrency: int, fetch: bool) -> float:
    """When every slot of the account is busy, come back in a moment; with a backlog of creates
    the waiting jobs spread over a span that grows with it (about BUSY_SPREAD_PER_DOCUMENT a
    document per slot, at most BUSY_SPREAD_MAX), so a big run to a slow account keeps its slots
    busy without its jobs cycling through the queue in front of other accounts' jobs."""
    backlog = 0 if fetch else _pending_creates(export)
    spread = min(backlog / max(concurrency, 1) * BUSY_SPREAD_PER_DOCUMENT, BUSY_SPREAD_MAX)
    return 0.1 + random.random() * (0.2 + spread)


def _with_slot(export: Export, work, fetch: bool = False) -> str:
    """Run `work` holding one of the account's concurrency slots, or try again shortly."""
    limits = _limits(export)
    concurrency, _, _ = limits_of(export.integration)
    lease = sum(current_app.config.get("PROVIDER_TIMEOUT", (5, 30))) * 2 + 5
    holder = limits.acquire(concurrency, lease)
    if holder is None:
        return _reschedule(export, _busy_delay(export, concurrency, fetch), fetch=fetch)
    try:
        return work(export)
    finally:
        limits.release(holder)


def run_export(export_id: int) -> str:
    export = db.session.get(Export, export_id)
    if export is None:
        return "missing"
    try:
        if export.state in ("fetched", "rejected"):
            return export.state
        return _with_slot(export, _run_export)
    except Exception:  # a bug must not lose the row: leave it for the sweeper to reconcile
        log.exception("export %s failed unexpectedly", export_id)
        db.session.rollback()
        return "error"


def _run_export(export: Export) -> str:
    if export.state == "sent":
        enqueue_fetch(export)
        return "sent"
    if export.state in ("fetched", "rejected"):
        return export.state
    wait = _limits(export).breaker_wait()
    if wait > 0:
        _set_health(export, "paused", "Konto wstrzymane po serii błędów; wznowi się samo.")
        return _reschedule(export, wait)
    if export.state == "sending":
        lease = current_app.config.get("EXPORT_SEND_LEASE", 120)
        if export.claimed_at and utcnow() - export.claimed_at < timedelta(seconds=lease):
            return "in flight"  # another worker is sending it right now
        export.state = "in_doubt"
        db.session.commit()
    if export.state == "in_doubt":
        if export.stopped_error:
            return "stopped"  # waits for the merchant's "Uzgodnij" (a job left over from before)
        return _reconcile(export)
    if export.next_attempt_at and export.next_attempt_at > utcnow() + timedelta(seconds=0.5):
        return _reschedule(export, (export.next_attempt_at - utcnow()).total_seconds())
    wait = _take_create_slots(export)
    if wait > 0:
        _set_health(export, "rate_limited", "Limit zapytań usługi: eksport zwalnia, by go nie przekroczyć.")
        return _reschedule(export, wait)
    return _send(export)


def _claim(export: Export) -> bool:
    claimed = db.session.execute(
        update(Export)
        .where(Export.id == export.id, Export.state.in_(("queued", "retrying")),
               Export.generation == export.generation)
        .values(state="sending", claimed_at=utcnow(), attempts=Export.attempts + 1, pending_ref=None,
                lookup_attempts=0, stopped_error=None)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    db.session.refresh(export)
    return claimed


def _send(export: Export) -> str:
    if not _claim(export):
        return "claimed elsewhere"
    attempt = Attempt(export, "create")
    provider = provider_for(export.integration, request_log=attempt.log_request)
    document = export.document
    doc = hub_document(document, _original_remote_id(export))
    settings = export_settings(export.integration, document)
    problems = provider.preflight(doc, settings)
    if problems:
        return _reject(export, attempt, "Kontrola przed wysyłką: " + "; ".join(p.message for p in problems),
                       {p.field: [p.message] for p in problems})
    try:
        remote = provider.create_document(doc, settings)
    except DuplicateReference:
        # The service's own guard says it already has this document: adopt that one.
        try:
            remote = provider.find_document(doc)
        except ProviderError as error:
            return _in_doubt(export, attempt, f"Usługa ma już ten dokument, wyszukanie nie powiodło się: {error}")
        if remote is None:
            return _in_doubt(export, attempt, "Usługa zgłasza duplikat, ale go nie znaleziono.")
        return _mark_sent(export, attempt, remote, "Usługa już miała ten dokument: przyjęto istniejący.")
    except ValidationRejected as error:
        return _reject(export, attempt, str(error), error.field_errors)
    except AuthenticationFailed as error:
        _set_health(export, "auth_failed", str(error))
        return _retry_later(export, attempt, str(error), None, outcome="auth")
    except TransientError as error:
        return _retry_later(export, attempt, str(error), error.retry_after)
    except OutcomeUnknown as error:
        return _in_doubt(export, attempt, str(error), pending_ref=error.pending_ref)
    except ProviderError as error:
        return _reject(export, attempt, str(error), {})
    # What the adapter noticed on the way (e.g. a SKU it could not link), kept in the journal.
    notes = " ".join(getattr(provider, "notes", None) or ())
    return _mark_sent(export, attempt, remote, "Dokument utworzony w usłudze." + (f" {notes}" if notes else ""))


def _reconcile(export: Export) -> str:
    """Settle an in-doubt export by looking it up at the service. Only an answer sends again:
    "not there" after the grace period. A look-up that cannot answer (the service failing, its
    creation task still running, a search cut short) is repeated later; one that fails for good
    (refused credentials, an answer it cannot read) stops and says so on the document."""
    grace = current_app.config.get("EXPORT_IN_DOUBT_GRACE", 10)
    attempt = Attempt(export, "lookup")
    wait = _take_slot(export, write=False)
    if wait > 0:
        return _reschedule(export, wait)
    provider = provider_for(export.integration, request_log=attempt.log_request)
    doc = hub_document(export.document, _original_remote_id(export))
    try:
        # The creation task of the last send, when the service gave one, is asked about first.
        remote = (provider.find_document(doc, pending_ref=export.pending_ref) if export.pending_ref
                  else provider.find_document(doc))
    except CreateFailed as error:
        export.pending_ref = None
        return _reject(export, attempt, str(error), error.field_errors)
    except StillProcessing as error:
        return _look_again(export, attempt, str(error), error.retry_after, failure=False, outcome="unknown")
    except LookupIncomplete as error:
        return _look_again(export, attempt, str(error), error.retry_after, failure=False)
    except TransientError as error:
        return _look_again(export, attempt, f"Wyszukanie dokumentu w usłudze nie powiodło się: {error}",
                           error.retry_after, failure=True)
    except AuthenticationFailed as error:
        _set_health(export, "auth_failed", str(error))
        return _stop_lookups(export, attempt, f"Wyszukanie dokumentu w usłudze nie powiodło się: {error}")
    except ProviderError as error:
        return _stop_lookups(export, attempt, f"Wyszukanie dokumentu w usłudze nie powiodło się: {error}")
    if remote is not None:
        return _mark_sent(export, attempt, remote, "Uzgodniono: dokument jest w usłudze.")
    if export.claimed_at and utcnow() - export.claimed_at < timedelta(seconds=grace):
        # The service may still be finishing the slow request: look again before sending.
        attempt.record("unknown", "Dokumentu jeszcze nie ma w usłudze.", "ponowne wyszukanie")
        return _reschedule(export, grace - (utcnow() - export.claimed_at).total_seconds())
    if export.attempts > 1:
        # Sent more than once without an answer: back off (and count toward the account's
        # breaker) like any other failure, instead of sending again every few seconds.
        return _retry_later(export, attempt, "Dokumentu nie ma w usłudze po wysyłce bez odpowiedzi: ponowimy.", None)
    attempt.record("ok", "Dokumentu nie ma w usłudze: zostanie wysłany.", "wysyłka")
    export.state = "retrying"
    db.session.commit()
    return _send(export)


def _look_again(export: Export, attempt: Attempt, message: str, retry_after: float | None, failure: bool,
                outcome: str = "transient") -> str:
    """The look-up had no answer: the row stays in doubt and is looked up again after a backoff
    (never sent meanwhile). Only a failure of the service counts toward the account's breaker."""
    if failure and _limits(export).record_failure():
        _set_health(export, "paused", "Konto wstrzymane po serii błędów; wznowi się samo.")
    export.lookup_attempts = (export.lookup_attempts or 0) + 1
    if export.lookup_attempts >= MAX_LOOKUP_ATTEMPTS:
        return _stop_lookups(export, attempt, f"{message} (po {export.lookup_attempts} wyszukaniach)")
    delay = backoff_delay(export.lookup_attempts, retry_after)
    export.last_error = message
    export.next_attempt_at = utcnow() + timedelta(seconds=delay)
    attempt.record(outcome, message, f"ponowne wyszukanie za {delay:.1f} s")
    return _reschedule(export, delay)


def _stop_lookups(export: Export, attempt: Attempt, message: str) -> str:
    """Stop looking the document up by itself: it stays in doubt (never sent again blindly) with
    the reason on the document, until the merchant checks the service and reconciles by hand."""
    export.state, export.last_error, export.stopped_error = "in_doubt", message, message
    export.next_attempt_at = None
    attempt.record("error", message, "sprawdź dokument w usłudze i uzgodnij ręcznie")
    db.session.commit()
    return "stopped"


def _mark_sent(export: Export, attempt: Attempt, remote: RemoteDocument, message: str) -> str:
    export.state, export.sent_at = "sent", utcnow()
    _store_remote(export, remote)
    export.last_error, export.field_errors, export.next_attempt_at = "", {}, None
    export.pending_ref, export.lookup_attempts, export.stopped_error = None, 0, None
    attempt.record("ok", f"{message} Numer: {remote.number or '—'}.", "pobranie numeru i PDF")
    _limits(export).record_success()
    _set_health(export, "connected", "")
    db.session.commit()
    enqueue_fetch(export)
    return "sent"


def _store_remote(export: Export, remote: RemoteDocument) -> None:
    export.remote_id = remote.remote_id
    export.remote_number = remote.number or export.remote_number
    export.remote_status = remote.status
    export.remote_view_url = remote.view_url
    export.remote_pdf_url = remote.pdf_url
    if remote.ksef is not None:
        export.ksef_status, export.ksef_number = remote.ksef.status, remote.ksef.number
        export.ksef_link, export.ksef_error = remote.ksef.verification_link, remote.ksef.error


def _reject(export: Export, attempt: Attempt, message: str, field_errors: dict) -> str:
    export.state, export.last_error = "rejected", message
    export.field_errors = {k: list(v) for k, v in (field_errors or {}).items()}
    attempt.record("rejected", message, "popraw dane i ponów eksport")
    db.session.commit()
    _export_finished(export, fetched=False)
    return "rejected"


def _export_finished(export: Export, fetched: bool) -> None:
    """A final state: automatic actions waiting for it go on; the merchant's webhooks hear of
    a newly fetched document."""
    from ..automation.services import resume_for_document
    from ..delivery.webhooks import fire_document_fetched

    # The export itself is committed by now: a failing follower is logged, never undoes it.
    followers = [resume_for_document] + ([lambda _id: fire_document_fetched(export.document)] if fetched else [])
    for follower in followers:
        try:
            follower(export.document_id)
        except Exception:
            log.exception("follow-up of export %s failed", export.id)
            db.session.rollback()


def _in_doubt(export: Export, attempt: Attempt, message: str, pending_ref: str | None = None) -> str:
    export.state, export.last_error = "in_doubt", message
    if pending_ref:
        export.pending_ref = pending_ref[:200]
    grace = current_app.config.get("EXPORT_IN_DOUBT_GRACE", 10)
    attempt.record("unknown", message, "uzgodnienie: wyszukanie dokumentu w usłudze")
    export.generation += 1
    db.session.commit()
    enqueue_export(export, delay=grace)
    return "in_doubt"


def _retry_later(export: Export, attempt: Attempt, message: str, retry_after: float | None,
                 outcome: str = "transient") -> str:
    limits = _limits(export)
    if limits.record_failure():
        _set_health(export, "paused", "Konto wstrzymane po serii błędów; wznowi się samo.")
    if export.attempts >= MAX_TRANSIENT_ATTEMPTS:
        return _reject(export, attempt, f"{message} (po {export.attempts} próbach; ponów, gdy usługa działa)", {})
    delay = backoff_delay(export.attempts, retry_after)
    export.state, export.last_error = "retrying", message
    export.next_attempt_at = utcnow() + timedelta(seconds=delay)
    export.generation += 1
    attempt.record(outcome, message, f"ponowna próba za {delay:.1f} s")
    db.session.commit()
    enqueue_export(export, delay=delay)
    return "retrying"


def _set_health(export: Export, health: str, message: str) -> None:
    integration = export.integration
    if integration.health != health or integration.health_message != message:
        integration.health, integration.health_message = health, message[:500]
        db.session.commit()


# --- fetch-back -----------------------------------------------------------------------------

def run_fetch(export_id: int) -> str:
    export = db.session.get(Export, export_id)
    if export is None or export.state not in ("sent", "fetched") or not export.remote_id:
        return "nothing to fetch"
    if export.stopped_error:
        return "stopped"  # waits for the merchant's "Odśwież" (a job left over from before)
    try:
        return _with_slot(export, _fetch, fetch=True)
    except Exception:
        log.exception("fetch %s failed unexpectedly", export_id)
        db.session.rollback()
        return "error"


def _fetch(export: Export) -> str:
    wait = _limits(export).breaker_wait() or _take_fetch_slots(export)
    if wait > 0:
        return _reschedule(export, wait, fetch=True)
    attempt = Attempt(export, "fetch")
    provider = provider_for(export.integration, request_log=attempt.log_request)
    pdf_missing = ""
    try:
        remote = provider.fetch_document(export.remote_id)
        try:
            pdf = provider.fetch_pdf(export.remote_id)
        except NotSupported as error:
            # e.g. Fakturowo after a lost answer: the number is known, the PDF only in its panel.
            pdf, pdf_missing = None, f" PDF niedostępny przez API: {error}"
    except TransientError as error:
        return _fetch_again(export, attempt, f"Pobranie dokumentu nie powiodło się: {error}", error.retry_after)
    except AuthenticationFailed as error:
        _set_health(export, "auth_failed", str(error))
        return _stop_fetch(export, attempt, f"Pobranie dokumentu nie powiodło się: {error}")
    except ProviderError as error:
        # The service's answer (e.g. 404: the document was deleted there) will not change by
        # itself: record it, keep the service's number, and wait for the merchant.
        return _stop_fetch(export, attempt, f"Pobranie dokumentu nie powiodło się: {error}")
    export.fetch_attempts, export.stopped_error = 0, None
    _store_remote(export, remote)
    first_fetch = export.state == "sent"
    new_pdf = bool(pdf) and not (export.state == "fetched" and export.pdf)  # webhooks wait for a PDF
    # A refresh that gets no PDF (the service gives it only in its panel) keeps the one we have.
    export.pdf = pdf if pdf is not None else export.pdf
    export.state, export.fetched_at = "fetched", utcnow()
    mismatch = compare_totals(export, remote)
    export.totals_mismatch = mismatch or None
    message = (f"Pobrano numer {remote.number} i PDF ({len(pdf)} B)." if pdf
               else f"Pobrano numer {remote.number}.{pdf_missing}")
    if mismatch:
        message += " Sumy usługi różnią się od sum w hubie: " + "; ".join(
            f"{rate}: hub {v['hub']} / usługa {v['service']}" for rate, v in mismatch.items())
    attempt.record("ok", message, "—")
    _limits(export).record_success()
    db.session.commit()
    if first_fetch or new_pdf:
        _export_finished(export, fetched=new_pdf)
    return "fetched"


def _fetch_again(export: Export, attempt: Attempt, message: str, retry_after: float | None) -> str:
    """A failure worth retrying (5xx, 429, no connection): counts toward the breaker and is
    retried with backoff, up to MAX_FETCH_ATTEMPTS in a row."""
    if _limits(export).record_failure():
        _set_health(export, "paused", "Konto wstrzymane po serii błędów; wznowi się samo.")
    export.fetch_attempts = (export.fetch_attempts or 0) + 1
    if export.fetch_attempts >= MAX_FETCH_ATTEMPTS:
        return _stop_fetch(export, attempt, f"{message} (po {export.fetch_attempts} próbach)")
    delay = backoff_delay(export.fetch_attempts, retry_after)
    attempt.record("transient", message, f"ponowne pobranie za {delay:.1f} s")
    export.generation += 1
    db.session.commit()
    enqueue_fetch(export, delay=delay)
    return "retrying"


def _stop_fetch(export: Export, attempt: Attempt, message: str) -> str:
    """Stop fetching by itself: the export keeps its state and the service's number, and the
    document shows the error with "Odśwież z usługi" to try again by hand."""
    export.stopped_error = message
    attempt.record("error", message, "odśwież z usługi ręcznie")
    db.session.commit()
    return "stopped"


def compare_totals(export: Export, remote: RemoteDocument) -> dict:
    """Per VAT rate gross (and the grand total) of the service against the hub's: any difference,
    even 0.01, is reported with both figures."""
    doc = hub_document(export.document, _original_remote_id(export))
    differences = {}
    if remote.totals:
        service = {t.rate: t for t in remote.totals}
        for hub_total in doc.totals:
            theirs = service.get(hub_total.rate)
            for part in ("net", "vat", "gross"):
                ours_value = getattr(hub_total, part)
                theirs_value = getattr(theirs, part) if theirs else Decimal("0.00")
                if ours_value != theirs_value:
                    differences[f"{hub_total.rate} {part}"] = {"hub": str(ours_value), "service": str(theirs_value)}
    if remote.total_gross is not None and export.document.kind != "correction" and remote.total_gross != doc.total_gross:
        differences["brutto"] = {"hub": str(doc.total_gross), "service": str(remote.total_gross)}
    return differences


# --- sweeper --------------------------------------------------------------------------------

def sweep() -> dict[str, int]:
    """Re-enqueue work whose job is gone (crash between commit and enqueue, Redis flushed), turn
    stale `sending` rows into in-doubt ones, and make sure sent rows get fetched."""
    counts = {"requeued": 0, "in_doubt": 0, "fetch": 0}
    lease = timedelta(seconds=current_app.config.get("EXPORT_SEND_LEASE", 120))
    settle = timedelta(seconds=current_app.config.get("SWEEPER_SETTLE_SECONDS", 5))
    now = utcnow()
    stale = db.session.scalars(db.select(Export).where(Export.state == "sending", Export.claimed_at < now - lease)).all()
    for export in stale:
        export.state, export.generation = "in_doubt", export.generation + 1
        counts["in_doubt"] += 1
    db.session.commit()
    for export in stale:
        enqueue_export(export)
    # Rows the pipeline stopped on (stopped_error) wait for the merchant, not for a job.
    waiting = db.session.scalars(
        db.select(Export).where(Export.state.in_(("queued", "retrying", "in_doubt")), Export.updated_at < now - settle,
                                Export.stopped_error.is_(None))
    ).all()
    queued_jobs = waiting_job_ids(EXPORT_QUEUE)
    for export in waiting:
        if not job_alive("export", export, queued_jobs):
            delay = max((export.next_attempt_at - now).total_seconds(), 0) if export.next_attempt_at else 0
            export.generation += 1  # a new job id: the dead job's record may linger in Redis
            db.session.commit()
            counts["requeued"] += enqueue_export(export, delay=delay)
    sent = db.session.scalars(db.select(Export).where(Export.state == "sent", Export.updated_at < now - settle,
                                                      Export.stopped_error.is_(None))).all()
    queued_fetches = waiting_job_ids(FETCH_QUEUE)
    for export in sent:
        if not job_alive("fetch", export, queued_fetches):
            export.generation += 1
            db.session.commit()
            counts["fetch"] += enqueue_fetch(export)
    counts["automation"] = resume_waiting_runs()  # automatic runs left waiting for a final export
    return counts


# --- account checks (run inline through a synchronous queue: only jobs talk to services) -------

def check_credentials(provider_key: str, credentials_encrypted: bytes, base_url: str | None, options: dict) -> dict:
    """Try the credentials against the service; say exactly what failed, never echo a secret."""
    from providers import PROVIDERS

    from ..crypto import decrypt_credentials

    cls = PROVIDERS[provider_key]
    try:
        # Inside the try: an adapter may refuse malformed credentials already when built.
        provider = cls(decrypt_credentials(credentials_encrypted), base_url=base_url or None, options=options,
                       timeout=current_app.config.get("PROVIDER_TIMEOUT", (5, 30)))
        return {"ok": True, "label": provider.check_connection()}
    except AuthenticationFailed as error:
        return {"ok": False, "kind": "auth", "message": f"Usługa odrzuciła dane logowania: {error}"}
    except TransientError as error:
        return {"ok": False, "kind": "unreachable",
                "message": f"Usługa nie odpowiada lub odmawia chwilowo ({error}). Spróbuj za chwilę."}
    except ProviderError as error:
        return {"ok": False, "kind": "refused", "message": str(error)}


def read_service_choices(integration_id: int) -> dict:
    """Read the service's numbering series and payment types into the integration (the cache the
    settings sections show); returns an error message per list that could not be read."""
    from ..models import Integration

    integration = db.session.get(Integration, integration_id)
    provider = provider_for(integration)
    errors = {}
    capabilities = provider.capabilities
    for attribute, method, available in (("service_series", provider.list_series, capabilities.numbering_series),
                                         ("service_payment_types", provider.list_payment_types, capabilities.payments)):
        if not available:
            continue
        try:
            setattr(integration, attribute, [{"id": c.id, "name": c.name} for c in method()])
        except ProviderError as error:
            errors[attribute] = str(error)
    integration.choices_read_at = utcnow()
    db.session.commit()
    return errors
