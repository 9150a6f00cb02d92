""""Export all": a preview of what a filter would send, then one job that writes the outbox rows
and enqueues them in batches, so the request that starts it returns at once."""
from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import aliased, selectinload

from ..extensions import db
from ..models import BulkRun, Document, Export, Integration, utcnow
from ..queues import enqueue_once
from .services import ExportRefused, enqueue_exports, preflight, provider_class, retry_export

BATCH_SIZE = 1000
KIND_LABELS = {"invoice": "faktury", "receipt": "paragony", "correction": "korekty"}


# What a run does with the documents of its filter: pass those not passed yet (no state), or
# re-queue this integration's rejected exports after a fix (the single "retry", in bulk).
BULK_STATES = ("rejected",)
IN_PROGRESS_STATES = ("queued", "sending", "retrying", "in_doubt")
ALREADY = "już przekazane"
IN_PROGRESS = "w trakcie przekazywania"
REJECTED = "odrzucone (ponów je eksportem ze stanem „odrzucone”)"
PROBLEMS = "nie przechodzi kontroli przed wysyłką"


@dataclass
class BulkFilters:
    date_from: date | None = None
    date_to: date | None = None
    series_id: int | None = None
    kind: str | None = None
    state: str | None = None  # None: documents not passed yet; "rejected": retry the rejected ones

    @property
    def retry(self) -> bool:
        return self.state == "rejected"

    def as_dict(self) -> dict:
        return {"date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None,
                "series_id": self.series_id, "kind": self.kind, "state": self.state}

    @classmethod
    def from_dict(cls, data: dict) -> BulkFilters:
        return cls(date_from=date.fromisoformat(data["date_from"]) if data.get("date_from") else None,
                   date_to=date.fromisoformat(data["date_to"]) if data.get("date_to") else None,
                   series_id=data.get("series_id"), kind=data.get("kind"),
                   state=data.get("state") if data.get("state") in BULK_STATES else None)


@dataclass
class BulkPreview:
    total: int = 0
    to_send: int = 0
    to_retry: int = 0
    already: int = 0  # sent or fetched: in the service
    in_progress: int = 0  # queued, sending, retrying or in doubt: on their way
    rejected: int = 0  # rejected, left alone by a run that passes new documents
    skipped: Counter = field(default_factory=Counter)
    problems: list[tuple[Document, list]] = field(default_factory=list)


def _candidates(integration: Integration, filters: BulkFilters):
    query = db.select(Document.id).where(Document.merchant_id == integration.merchant_id)
    if filters.date_from:
        query = query.where(Document.issue_date >= filters.date_from)
    if filters.date_to:
        query = query.where(Document.issue_date <= filters.date_to)
    if filters.series_id:
        query = query.where(Document.series_id == filters.series_id)
    if filters.kind:
        query = query.where(Document.kind == filters.kind)
    if filters.retry:
        query = query.join(Export, Export.document_id == Document.id).where(
            Export.integration_id == integration.id, Export.state == "rejected")
    return query.order_by(Document.id)


def _batches(integration: Integration, filters: BulkFilters):
    ids = db.session.scalars(_candidates(integration, filters)).all()
    for start in range(0, len(ids), BATCH_SIZE):
        yield db.session.scalars(
            db.select(Document).where(Document.id.in_(ids[start:start + BATCH_SIZE])).order_by(Document.id)
            .options(selectinload(Document.lines), selectinload(Document.export))
        ).all()


def _skip_reason(document: Document, service, integration: Integration, filters: BulkFilters) -> str | None:
    """Why a document is not sent (or, retrying, not re-queued) at all; `service` is the
    integration's provider class. Only a sent or fetched document counts as already passed."""
    capabilities, name = service.capabilities, service.display_name
    export = document.export
    if export is not None:
        if export.state in ("sent", "fetched"):
            return ALREADY
        if export.state != "rejected":
            return IN_PROGRESS
        if not (filters.retry and export.integration_id == integration.id):
            return REJECTED
    if document.kind == "receipt" and not capabilities.receipts:
        return f"{name} nie przyjmuje paragonów"
    if document.kind == "correction":
        if not capabilities.corrections:
            return f"{name} nie przyjmuje korekt"
        original = document.corrects.export if document.corrects else None
        if original is None or not original.remote_id:
            return "korygowana faktura nie jest jeszcze w usłudze"
    return None


def _planned(integration: Integration, service, filters: BulkFilters) -> int:
    """How many documents of the filter a run will write a row for (or re-queue): those
    _skip_reason lets through, counted in SQL before the first batch is read."""
    capabilities = service.capabilities
    query = _candidates(integration, filters).order_by(None)
    if not filters.retry:
        query = query.where(~db.select(Export.id).where(Export.document_id == Document.id).exists())
    if not capabilities.receipts:
        query = query.where(Document.kind != "receipt")
    if not capabilities.corrections:
        query = query.where(Document.kind != "correction")
    else:
        theirs = aliased(Export)  # the invoice's export (a retry run joins the document's own)
        original = db.select(theirs.id).where(theirs.document_id == Document.corrects_id,
                                              theirs.remote_id.is_not(None)).correlate(Document).exists()
        query = query.where(db.or_(Document.kind != "correction", original))
    return db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))


def preview_bulk(integration: Integration, filters: BulkFilters, problem_limit: int = 50) -> BulkPreview:
    preview = BulkPreview()
    service = provider_class(integration)
    for batch in _batches(integration, filters):
        for document in batch:
            preview.total += 1
            reason = _skip_reason(document, service, integration, filters)
            if reason == ALREADY:
                preview.already += 1
            elif reason == IN_PROGRESS:
                preview.in_progress += 1
            elif reason == REJECTED:
                preview.rejected += 1
            elif reason:
                preview.skipped[reason] += 1
            else:
                problems = preflight(document, integration)
                if problems:
                    preview.skipped[PROBLEMS] += 1
                    if len(preview.problems) < problem_limit:
                        preview.problems.append((document, problems))
                elif filters.retry:
                    preview.to_retry += 1
                else:
                    preview.to_send += 1
    return preview


def start_bulk(integration: Integration, filters: BulkFilters, trigger: str) -> BulkRun:
    """Record the run and hand it to a job; returns at once whatever the number of documents."""
    run = BulkRun(merchant_id=integration.merchant_id, integration_id=integration.id, filters=filters.as_dict(),
                  trigger=trigger[:100], skipped_reasons={})
    db.session.add(run)
    db.session.commit()
    enqueue_once("default", run_bulk, run.id, job_id=f"bulk-{run.id}", job_timeout=3600)
    return run


def _model_defaults(table, given: dict) -> dict:
    """What the model's Python-side defaults put in the columns `given` leaves out: an INSERT …
    SELECT gets no defaults from SQLAlchemy, which fills them only in VALUES."""
    values = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if default.is_scalar:
            values[column.name] = default.arg
        elif default.is_callable:
            values[column.name] = default.arg(None)
    return {**values, **given}


def _insert_exports(sendable: list[int], rejected: list[dict], common: dict):
    """Write a batch's outbox rows; return the (id, generation) of the queued ones, ordered by id.

    The queued rows differ only in their document, so they are one INSERT … SELECT over the
    documents with a handful of parameters (row-by-row parameter sets would cost the driver a dozen
    parameters a row, and the unit of work would also read each row back after the commit). The
    rejected rows, few and each with its own errors, go as one multi-row INSERT. Both get the
    model's defaults; the ids are read now, so nothing is loaded again after the commit."""
    table = Export.__table__
    if rejected:
        db.session.execute(table.insert(), [{**common, **row} for row in rejected])
    if not sendable:
        return []
    values = _model_defaults(table, {**common, "state": "queued", "field_errors": {}, "last_error": ""})
    names = list(values)
    documents = (db.select(Document.merchant_id, Document.id, *(db.literal(values[n], table.c[n].type) for n in names))
                 .where(Document.id.in_(sendable)).order_by(Document.id))
    inserted = db.session.execute(table.insert().from_select(["merchant_id", "document_id", *names], documents)
                                  .returning(table.c.id, table.c.generation)).all()
    return sorted(inserted, key=lambda row: row.id)


@contextmanager
def _old_objects_frozen():
    """Keep the objects that exist already (the app, its imports) out of the garbage collector's
    full passes while a run allocates hundreds of thousands of objects: each full pass would walk
    them all again, a quarter of the run's CPU time at 10,000 documents. The run's own garbage is
    collected as usual. Left alone when something else froze the heap already."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def run_bulk(run_id: int) -> str:
    with _old_objects_frozen():
        return _run_bulk(run_id)


def _run_bulk(run_id: int) -> str:
    run = db.session.get(BulkRun, run_id)
    if run is None or run.state == "done":
        return "nothing to do"
    integration = run.integration
    service = provider_class(integration)
    filters = BulkFilters.from_dict(run.filters)
    run.state = "running"
    if run.planned is None:  # the progress bar's maximum, known before the first row
        run.planned = _planned(integration, service, filters)
    db.session.commit()
    reasons: Counter = Counter(run.skipped_reasons or {})
    trigger = f"eksport zbiorczy #{run_id}, {run.trigger}"[:100]
    common = {"integration_id": integration.id, "bulk_run_id": run_id, "trigger": trigger}
    written = 0
    for batch in _batches(integration, filters):
        sendable, rejected, retries, skipped = [], [], [], 0
        for document in batch:
            reason = _skip_reason(document, service, integration, filters)
            if reason:
                reasons[reason] += 1
                skipped += 1
                continue
            if filters.retry:
                retries.append(document.export)
                continue
            problems = preflight(document, integration)
            if problems:
                reasons[PROBLEMS] += 1
                rejected.append({"merchant_id": document.merchant_id, "document_id": document.id, "state": "rejected",
                                 "field_errors": {p.field: [p.message] for p in problems},
                                 "last_error": "; ".join(p.message for p in problems)})
            else:
                sendable.append(document.id)
        queued = _insert_exports(sendable, rejected, common)
        run.total += len(batch)
        run.skipped += skipped
        written += len(queued) + len(rejected)
        if retries:
            written += len(retries)
            run.enqueued += _retry_rejected(retries, run_id, trigger, reasons)
        else:
            batch.clear()  # done with these documents: the commit need not expire each of them
        run.skipped_reasons = dict(reasons)
        db.session.commit()  # the rows first, then their jobs: a job never sees an uncommitted row
        enqueue_exports(queued)
        run.enqueued += len(queued)
        db.session.commit()
    run.state, run.finished_at, run.planned = "done", utcnow(), written  # documents may have moved meanwhile
    db.session.commit()
    return "done"


def _retry_rejected(exports: list[Export], run_id: int, trigger: str, reasons: Counter) -> int:
    """Re-queue rejected exports the way the single "retry" does (its pre-flight check, a new
    generation, the job after the commit); one still failing the check keeps its state with the
    problems found now. Each joins this run's progress. Returns how many were re-queued."""
    requeued = 0
    for export in exports:
        export.bulk_run_id = run_id
        try:
            retry_export(export, trigger)
        except ExportRefused as refused:
            reasons[PROBLEMS] += 1
            if refused.problems:
                export.field_errors = {p.field: [p.message] for p in refused.problems}
                export.last_error = "; ".join(p.message for p in refused.problems)
            db.session.commit()
        else:
            requeued += 1
    return requeued


def progress(run: BulkRun) -> dict[str, int]:
    """Counts per export state of the run's documents (the progress bar)."""
    rows = db.session.execute(
        db.select(Export.state, db.func.count(Export.id)).where(Export.bulk_run_id == run.id).group_by(Export.state)
    ).all()
    return dict(rows)
