"""Export rules: integrations, the outbox rows, enqueueing after commit, retries by hand.

Only jobs (webapp/exports/jobs.py) talk to the services; this module writes rows and queues."""
from __future__ import annotations

import random
from collections.abc import Iterable

from flask import current_app
from flask_babel import gettext as _
from redis.exceptions import WatchError
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy.exc import IntegrityError

from providers import PROVIDERS
from providers.base import Problem

from ..crypto import decrypt_credentials, encrypt_credentials
from ..extensions import db
from ..models import Document, Export, Integration, utcnow
from ..queues import enqueue_once
from ..queues import queue as job_queue
from ..redis_conn import get_redis
from .limits import AccountLimits
from .mapping import export_settings, hub_document

EXPORT_QUEUE = "exports"
FETCH_QUEUE = "fetch"  # served in turn with "exports" (worker.py)


class ExportRefused(Exception):
    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []


def provider_class(integration: Integration):
    return PROVIDERS[integration.provider]


def provider_for(integration: Integration, request_log=None):
    cls = provider_class(integration)
    return cls(decrypt_credentials(integration.credentials_encrypted), base_url=integration.base_url or None,
               options=dict(integration.options or {}), request_log=request_log,
               timeout=current_app.config.get("PROVIDER_TIMEOUT", (5, 30)),
               read_retries=current_app.config.get("PROVIDER_READ_RETRIES", 2))


def create_integration(merchant_id: int, provider_key: str, name: str, credentials: dict[str, str], *,
                       base_url: str | None = None, **settings) -> Integration:
    if provider_key not in PROVIDERS:
        raise ExportRefused(f"Nieznana usługa: {provider_key}")
    integration = Integration(merchant_id=merchant_id, provider=provider_key, name=name,
                              credentials_encrypted=encrypt_credentials(credentials), base_url=base_url,
                              options={}, series_links={}, payment_links={}, **settings)
    db.session.add(integration)
    db.session.commit()
    return integration


def update_credentials(integration: Integration, credentials: dict[str, str]) -> None:
    integration.credentials_encrypted = encrypt_credentials(credentials)
    integration.health, integration.health_message = "connected", ""
    db.session.commit()
    AccountLimits(get_redis(current_app), integration.id).reset()


def limits_of(integration: Integration) -> tuple[int, int | None, float | None]:
    """(max concurrency, requests, per seconds): the integration's own cap or the contract's."""
    defaults = provider_class(integration).default_limits
    return (integration.max_concurrency or defaults.max_concurrency,
            integration.rate_requests or defaults.requests,
            integration.rate_seconds or defaults.per_seconds)


def preflight(document: Document, integration: Integration) -> list[Problem]:
    """The service's known rules checked before anything is queued (no HTTP)."""
    cls = provider_class(integration)
    kind_ok = {"invoice": True, "receipt": cls.capabilities.receipts, "correction": cls.capabilities.corrections}
    if not kind_ok[document.kind]:
        return [Problem("kind", f"{cls.display_name} nie przyjmuje dokumentów tego rodzaju ({document.title}).")]
    original_remote_id = None
    if document.kind == "correction":
        original_export = document.corrects.export if document.corrects else None
        if original_export is None or not original_export.remote_id:
            return [Problem("corrects", "Najpierw prześlij korygowaną fakturę do usługi.")]
        original_remote_id = original_export.remote_id
    provider = cls({}, base_url=integration.base_url or None, options=dict(integration.options or {}))
    return provider.preflight(hub_document(document, original_remote_id), export_settings(integration, document))


def auto_export_integration(merchant_id: int) -> Integration | None:
    return db.session.scalar(
        db.select(Integration).where(Integration.merchant_id == merchant_id, Integration.auto_export.is_(True))
        .order_by(Integration.id).limit(1)
    )


def export_targets(document: Document) -> list[Integration]:
    """The integrations a document can be passed to by hand, the automatic one first: a correction
    whose invoice is in a service goes to that integration alone; any other document to any of the
    merchant's integrations ("pass automatically" off only means: not on issue)."""
    if document.kind == "correction" and document.corrects is not None and document.corrects.export is not None:
        return [document.corrects.export.integration]
    return list(db.session.scalars(
        db.select(Integration).where(Integration.merchant_id == document.merchant_id)
        .order_by(Integration.auto_export.desc(), Integration.id)
    ))


def integration_for(document: Document, integration_id: int | None = None,
                    targets: list[Integration] | None = None) -> Integration | None:
    """Where a document goes by hand: the chosen integration when it is one of its targets;
    without a choice the automatic one, else the only one (None: the merchant has to choose)."""
    targets = export_targets(document) if targets is None else targets
    if integration_id is not None:
        return next((i for i in targets if i.id == integration_id), None)
    automatic = next((i for i in targets if i.auto_export), None)
    return automatic or (targets[0] if len(targets) == 1 else None)


def add_export(document: Document, integration: Integration, trigger: str) -> Export:
    """Write the outbox row (not committed: the caller commits it with its own change).
    Refuses when the pre-flight check finds problems, naming each."""
    if document.merchant_id != integration.merchant_id:
        raise ExportRefused(_("Integracja należy do innego sprzedawcy."))
    existing = db.session.scalar(db.select(Export).where(Export.document_id == document.id)) if document.id else None
    if existing is not None:
        raise ExportRefused(_("Dokument %(number)s jest już przekazany do integracji „%(integration)s”.",
                              number=document.number, integration=existing.integration.name))
    problems = preflight(document, integration)
    if problems:
        raise ExportRefused(
            _("Dokument %(number)s nie przeszedł kontroli przed wysyłką.", number=document.number), problems)
    export = Export(merchant_id=document.merchant_id, document=document, integration=integration,
                    state="queued", trigger=trigger[:100], field_errors={})
    db.session.add(export)
    return export


def attach_auto_export(document: Document, trigger: str) -> Export | None:
    """With "pass automatically" on, the outbox row goes into the issuing transaction. A document
    that fails the pre-flight check gets a rejected row listing every problem (nothing is sent)."""
    if document.kind == "correction":
        return None  # corrections are passed by hand
    integration = auto_export_integration(document.merchant_id)
    if integration is None:
        return None
    cls = provider_class(integration)
    if document.kind == "receipt" and not cls.capabilities.receipts:
        return None
    with db.session.no_autoflush:
        problems = preflight(document, integration)
    export = Export(merchant_id=document.merchant_id, document=document, integration=integration,
                    state="rejected" if problems else "queued", trigger=trigger[:100],
                    field_errors={p.field: [p.message] for p in problems},
                    last_error="; ".join(p.message for p in problems))
    db.session.add(export)
    return export


def job_id(kind: str, export: Export) -> str:
    return f"{kind}-{export.id}-{export.generation}"




def _job_options(kind: str, export: Export) -> dict:
    """The id and options of an export's job, the same whether it is queued alone or with others."""
    return {"job_id": job_id(kind, export), "result_ttl": 0, "failure_ttl": 7 * 24 * 3600,
            "description": f"{kind} {export.id}"}


def _enqueue(kind: str, queue_name: str, func, export: Export, delay: float) -> bool:
    """A second enqueue of the same generation is a no-op, so a double click makes one job."""
    return enqueue_once(queue_name, func, export.id, delay=delay, **_job_options(kind, export))


def _enqueue_many(kind: str, queue_name: str, func, exports: Iterable[Export]) -> int:
    """Many jobs in one MULTI/EXEC (three round trips whatever their number), with the ids and
    options of _enqueue and its promise: an id that already has a job gets no second one. The job
    keys are WATCHed while their absence is checked, so a job enqueued meanwhile elsewhere aborts
    the transaction and the check runs again. Returns how many jobs were created."""
    datas = {}
    for export in exports:
        options = _job_options(kind, export)
        datas[options["job_id"]] = Queue.prepare_data(func, args=(export.id,), **options)
    if not datas:
        return 0
    queue = job_queue(queue_name)
    queue.get_redis_server_version()  # cached on the queue, so not asked for inside the transaction
    keys = [queue.job_class.key_for(id_) for id_ in datas]
    with queue.connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(*keys)
                fresh = list(datas.values())
                if pipe.exists(*keys):  # rare: find which ones (one round trip), keep the others
                    probe = queue.connection.pipeline(transaction=False)
                    for key in keys:
                        probe.exists(key)
                    fresh = [data for data, taken in zip(datas.values(), probe.execute(), strict=True) if not taken]
                pipe.multi()
                if fresh:
                    queue.enqueue_many(fresh, pipeline=pipe)
                pipe.execute()
                return len(fresh)
            except WatchError:
                continue


def enqueue_export(export: Export, delay: float = 0.0) -> bool:
    """Queue the export's job; call it after the commit that wrote the row."""
    from .jobs import run_export

    return _enqueue("export", EXPORT_QUEUE, run_export, export, delay)


def enqueue_exports(exports: Iterable[Export]) -> int:
    """Queue the jobs of many exports in one Redis transaction; call it after the commit that
    wrote the rows. Same job ids as enqueue_export (an export that already has its job gets no
    second one); returns how many jobs were created. Only `id` and `generation` are read, so rows
    of an INSERT … RETURNING of those two columns do as well as Export objects."""
    from .jobs import run_export

    return _enqueue_many("export", EXPORT_QUEUE, run_export, exports)


def enqueue_fetch(export: Export, delay: float = 0.0) -> bool:
    from .jobs import run_fetch

    return _enqueue("fetch", FETCH_QUEUE, run_fetch, export, delay)


def waiting_job_ids(queue_name: str) -> set[str]:
    """Ids of the jobs really on a queue (or just taken off it by a worker): a job whose status
    says "queued" but that is on neither list was lost (a worker killed between taking it and
    marking it started, a Redis restart) and will never run."""
    queue = job_queue(queue_name)
    with queue.connection.pipeline(transaction=False) as pipe:
        pipe.lrange(queue.key, 0, -1)
        pipe.lrange(queue.intermediate_queue_key, 0, -1)
        listed, taken = pipe.execute()
    return {job.decode() if isinstance(job, bytes) else job for job in (*listed, *taken)}


def job_alive(kind: str, export: Export, waiting: set[str]) -> bool:
    """Whether the export's current job will still run: on its queue (`waiting`, read before the
    job's status), scheduled, or started recently. A job whose worker was killed stays behind as
    started, failed or even queued; it counts as gone."""
    connection = get_redis(current_app)
    try:
        job = Job.fetch(job_id(kind, export), connection=connection)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED:
        # Read after the snapshot: a job taken off the queue since then is started by now.
        return job.id in waiting or job.get_status(refresh=True) != JobStatus.QUEUED
    if status == JobStatus.SCHEDULED:
        return connection.zscore(ScheduledJobRegistry(job.origin, connection=connection).key, job.id) is not None
    if status == JobStatus.DEFERRED:
        return True
    if status == JobStatus.STARTED:
        lease = current_app.config.get("EXPORT_SEND_LEASE", 120)
        return job.started_at is not None and (utcnow() - job.started_at.replace(tzinfo=utcnow().tzinfo)).total_seconds() < lease
    return False


def export_document(document: Document, integration: Integration, trigger: str) -> Export:
    """Export one document by hand: row + commit + enqueue. A second request for the same
    document (a double click, two tabs) is refused like the first one that finds the row, also
    when both passed the check before either committed: the unique document constraint decides."""
    if document.kind == "correction" and integration_for(document, integration.id) is None:
        original = document.corrects.export.integration if document.corrects and document.corrects.export else None
        raise ExportRefused(_("Korektę przekazuje się do integracji korygowanej faktury (%(integration)s).",
                              integration=original.name if original else "—"))
    export = add_export(document, integration, trigger)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        existing = db.session.scalar(db.select(Export).where(Export.document_id == document.id))
        if existing is None:
            raise
        raise ExportRefused(_("Dokument %(number)s jest już przekazany do integracji „%(integration)s”.",
                              number=document.number, integration=existing.integration.name)) from None
    enqueue_export(export)
    return export


def retry_export(export: Export, trigger: str) -> Export:
    """A new attempt after the merchant fixed the data (rejected) or to hurry a retry."""
    if export.state not in ("rejected", "retrying"):
        raise ExportRefused(_("Ten dokument nie czeka na ponowną próbę."))
    problems = preflight(export.document, export.integration)
    if problems:
        raise ExportRefused(_("Dokument nadal nie przechodzi kontroli przed wysyłką."), problems)
    export.state, export.generation, export.trigger = "queued", export.generation + 1, trigger[:100]
    export.next_attempt_at, export.last_error, export.field_errors = None, "", {}
    db.session.commit()
    enqueue_export(export)
    return export


def reconcile_export(export: Export, trigger: str) -> Export:
    """Look an in-doubt document up at the service (never a blind re-send). A send still within
    its lease is left alone: its worker may be waiting for the answer, and a look-up now would
    find nothing and lead to a second send."""
    lease = current_app.config.get("EXPORT_SEND_LEASE", 120)
    if export.send_lease_live(lease):
        raise ExportRefused(_("Dokument jest właśnie wysyłany do usługi. Uzgodnić go można, gdy wysyłka się "
                              "zakończy, albo po %(seconds)s s bez odpowiedzi.", seconds=int(lease)))
    if not export.can_reconcile(lease):
        raise ExportRefused(_("Uzgadniać można tylko dokument o niepewnym stanie."))
    export.generation, export.trigger = export.generation + 1, trigger[:100]
    export.state = "in_doubt"
    export.stopped_error, export.lookup_attempts, export.next_attempt_at = None, 0, None
    db.session.commit()
    enqueue_export(export)
    return export


def refresh_export(export: Export, trigger: str) -> Export:
    """Read the service's copy again (number, status, KSeF, PDF) to show changes made there, or
    try again a fetch-back that stopped on an error."""
    if not export.can_refresh:
        raise ExportRefused(_("Odświeżyć można dokument już pobrany z usługi."))
    export.generation, export.trigger = export.generation + 1, trigger[:100]
    export.stopped_error, export.fetch_attempts = None, 0
    db.session.commit()
    enqueue_fetch(export)
    return export


def backoff_delay(attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; never sooner than the service's Retry-After."""
    base = current_app.config.get("EXPORT_BACKOFF_BASE", 2.0)
    cap = current_app.config.get("EXPORT_BACKOFF_CAP", 300.0)
    delay = random.uniform(0, min(cap, base * (2 ** max(attempt - 1, 0))))
    return max(delay, retry_after or 0.0)


def due(export: Export) -> bool:
    return export.next_attempt_at is None or export.next_attempt_at <= utcnow()
