""""Export all": a preview of what a filter would send, then one job that writes the outbox rows
and enqueues them in batches, so the request that starts it returns at once."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from rq import Queue
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import BulkRun, Document, Export, Integration, utcnow
from ..redis_conn import get_redis
from .services import enqueue_export, preflight, provider_class

BATCH_SIZE = 500
KIND_LABELS = {"invoice": "faktury", "receipt": "paragony", "correction": "korekty"}


@dataclass
class BulkFilters:
    date_from: date | None = None
    date_to: date | None = None
    series_id: int | None = None
    kind: str | None = None

    def as_dict(self) -> dict:
        return {"date_from": self.date_from.isoformat() if self.date_from else None,
                "date_to": self.date_to.isoformat() if self.date_to else None,
                "series_id": self.series_id, "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict) -> BulkFilters:
        return cls(date_from=date.fromisoformat(data["date_from"]) if data.get("date_from") else None,
                   date_to=date.fromisoformat(data["date_to"]) if data.get("date_to") else None,
                   series_id=data.get("series_id"), kind=data.get("kind"))


@dataclass
class BulkPreview:
    total: int = 0
    to_send: int = 0
    already: int = 0
    skipped: Counter = field(default_factory=Counter)
    problems: list[tuple[Document, list]] = field(default_factory=list)


def _candidates(merchant_id: int, filters: BulkFilters):
    query = db.select(Document.id).where(Document.merchant_id == merchant_id)
    if filters.date_from:
        query = query.where(Document.issue_date >= filters.date_from)
    if filters.date_to:
        query = query.where(Document.issue_date <= filters.date_to)
    if filters.series_id:
        query = query.where(Document.series_id == filters.series_id)
    if filters.kind:
        query = query.where(Document.kind == filters.kind)
    return query.order_by(Document.id)


def _batches(merchant_id: int, filters: BulkFilters):
    ids = db.session.scalars(_candidates(merchant_id, filters)).all()
    for start in range(0, len(ids), BATCH_SIZE):
        yield db.session.scalars(
            db.select(Document).where(Document.id.in_(ids[start:start + BATCH_SIZE])).order_by(Document.id)
            .options(selectinload(Document.lines), selectinload(Document.export))
        ).all()


def _skip_reason(document: Document, integration: Integration) -> str | None:
    capabilities = provider_class(integration).capabilities
    name = provider_class(integration).display_name
    if document.export is not None:
        return "already"
    if document.kind == "receipt" and not capabilities.receipts:
        return f"{name} nie przyjmuje paragonów"
    if document.kind == "correction":
        if not capabilities.corrections:
            return f"{name} nie przyjmuje korekt"
        original = document.corrects.export if document.corrects else None
        if original is None or not original.remote_id:
            return "korygowana faktura nie jest jeszcze w usłudze"
    return None


def preview_bulk(integration: Integration, filters: BulkFilters, problem_limit: int = 50) -> BulkPreview:
    preview = BulkPreview()
    for batch in _batches(integration.merchant_id, filters):
        for document in batch:
            preview.total += 1
            reason = _skip_reason(document, integration)
            if reason == "already":
                preview.already += 1
            elif reason:
                preview.skipped[reason] += 1
            else:
                problems = preflight(document, integration)
                if problems:
                    preview.skipped["nie przechodzi kontroli przed wysyłką"] += 1
                    if len(preview.problems) < problem_limit:
                        preview.problems.append((document, problems))
                else:
                    preview.to_send += 1
    return preview


def start_bulk(integration: Integration, filters: BulkFilters, trigger: str) -> BulkRun:
    """Record the run and hand it to a job; returns at once whatever the number of documents."""
    run = BulkRun(merchant_id=integration.merchant_id, integration_id=integration.id, filters=filters.as_dict(),
                  trigger=trigger[:100], skipped_reasons={})
    db.session.add(run)
    db.session.commit()
    Queue("default", connection=get_redis(current_app)).enqueue(
        run_bulk, run.id, job_id=f"bulk-{run.id}", unique=True, result_ttl=0, job_timeout=3600)
    return run


def run_bulk(run_id: int) -> str:
    run = db.session.get(BulkRun, run_id)
    if run is None or run.state == "done":
        return "nothing to do"
    run.state = "running"
    db.session.commit()
    integration = run.integration
    reasons: Counter = Counter(run.skipped_reasons or {})
    trigger = f"eksport zbiorczy #{run.id}, {run.trigger}"[:100]
    for batch in _batches(run.merchant_id, BulkFilters.from_dict(run.filters)):
        queued = []
        for document in batch:
            run.total += 1
            reason = _skip_reason(document, integration)
            if reason:
                reasons["już przekazane" if reason == "already" else reason] += 1
                run.skipped += 1
                continue
            problems = preflight(document, integration)
            export = Export(merchant_id=document.merchant_id, document=document, integration=integration,
                            bulk_run_id=run.id, trigger=trigger, state="rejected" if problems else "queued",
                            field_errors={p.field: [p.message] for p in problems},
                            last_error="; ".join(p.message for p in problems))
            db.session.add(export)
            if problems:
                reasons["nie przechodzi kontroli przed wysyłką"] += 1
            else:
                queued.append(export)
        run.skipped_reasons = dict(reasons)
        db.session.commit()  # the rows first, then their jobs: a job never sees an uncommitted row
        for export in queued:
            enqueue_export(export)
        run.enqueued += len(queued)
        db.session.commit()
    run.state, run.finished_at = "done", utcnow()
    db.session.commit()
    return "done"


def progress(run: BulkRun) -> dict[str, int]:
    """Counts per export state of the run's documents (the progress bar)."""
    rows = db.session.execute(
        db.select(Export.state, db.func.count(Export.id)).where(Export.bulk_run_id == run.id).group_by(Export.state)
    ).all()
    return dict(rows)
