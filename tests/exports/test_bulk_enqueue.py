"""Export all at scale: batched rows and jobs, one job per sendable document, ids as for one."""
from decimal import Decimal

import pytest
from rq import Queue, SimpleWorker
from rq.job import Job

from bench.harness import seed_documents
from tests.conftest import gen_order
from webapp.documents.services import LineChange, issue_correction, issue_document
from webapp.exports import bulk
from webapp.exports.bulk import BulkFilters, progress, start_bulk
from webapp.exports.services import EXPORT_QUEUE, create_integration, enqueue_export, enqueue_exports
from webapp.extensions import db
from webapp.models import BulkRun, Document, Export
from webapp.redis_conn import get_redis

WEEK = 7 * 24 * 3600


@pytest.fixture
def integration(merchant_user):
    return create_integration(merchant_user.merchant_id, "fakturownia", "Fakturownia", {"api_token": "t"},
                              auto_export=False)


def _exports_queue(app) -> Queue:
    return Queue(EXPORT_QUEUE, connection=get_redis(app))


def _run_default_queue(app) -> None:
    """Run Export all's job the way a worker does, leaving the export jobs queued."""
    conn = get_redis(app)
    SimpleWorker([Queue("default", connection=conn)], connection=conn).work(burst=True, logging_level="WARNING")
    db.session.rollback()
    db.session.expire_all()


def test_bulk_run_queues_exactly_one_job_per_sendable_document(app, merchant_user, integration, monkeypatch):
    merchant_id = merchant_user.merchant_id
    seed_documents(merchant_id, 300, variants=3)  # 300 invoices (and the 3 they are cloned from)
    exported = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    db.session.add(Export(merchant_id=merchant_id, document=exported, integration=integration, state="fetched",
                          remote_id="R-1", trigger="test", field_errors={}))
    db.session.commit()
    correction_ok = issue_correction(exported, [LineChange(0, Decimal(1), Decimal("39.99"))], "Zwrot kubka")
    not_exported = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    correction_early = issue_correction(not_exported, [LineChange(0, Decimal(1), Decimal("39.99"))], "Zwrot")
    too_long = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    too_long.notes = "x" * 300  # longer than KSeF's 256 characters
    db.session.commit()
    everything = set(db.session.scalars(db.select(Document.id).where(Document.merchant_id == merchant_id)))
    sendable_documents = everything - {exported.id, correction_early.id, too_long.id}
    assert correction_ok.id in sendable_documents and len(sendable_documents) == 303 + 2

    monkeypatch.setattr(bulk, "BATCH_SIZE", 64)  # several batches
    batches = []

    def watching(exports):
        """At each enqueue: the batch's rows and the run's counters are already committed."""
        exports = list(exports)
        with db.engine.connect() as other:
            committed = other.scalar(db.select(db.func.count(Export.id)).where(
                Export.id.in_([e.id for e in exports]), Export.state == "queued"))
            total, enqueued = other.execute(db.select(BulkRun.total, BulkRun.enqueued)
                                            .order_by(BulkRun.id.desc()).limit(1)).one()
        batches.append((len(exports), committed, total, enqueued))
        return enqueue_exports(exports)

    monkeypatch.setattr(bulk, "enqueue_exports", watching)
    run_id = start_bulk(integration, BulkFilters(), "test@example.com").id
    _run_default_queue(app)

    run = db.session.get(BulkRun, run_id)
    documents = len(everything)
    assert run.state == "done" and run.finished_at is not None
    assert run.planned == len(sendable_documents) + 1  # counted before the first batch: the rows written
    assert (run.total, run.enqueued, run.skipped) == (documents, len(sendable_documents), 2)
    assert run.skipped_reasons == {"już przekazane": 1, "korygowana faktura nie jest jeszcze w usłudze": 1,
                                   "nie przechodzi kontroli przed wysyłką": 1}
    exports = db.session.scalars(db.select(Export).where(Export.bulk_run_id == run_id).order_by(Export.id)).all()
    queued = [e for e in exports if e.state == "queued"]
    assert {e.document_id for e in queued} == sendable_documents
    assert progress(run) == {"queued": len(sendable_documents), "rejected": 1}

    # Exactly one job per sendable document, named as enqueue_export names it, in document order.
    job_ids = _exports_queue(app).get_job_ids()
    assert job_ids == [f"export-{e.id}-0" for e in queued]
    jobs = Job.fetch_many(job_ids, connection=get_redis(app))
    for export, job in zip(queued, jobs, strict=True):
        assert job.func_name == "webapp.exports.jobs.run_export" and job.args == (export.id,)
        assert (job.result_ttl, job.failure_ttl, job.description) == (0, WEEK, f"export {export.id}")
        assert job.get_status() == "queued" and job.origin == EXPORT_QUEUE

    # The rows carry the model's defaults like rows written one by one.
    for export in exports:
        assert (export.attempts, export.generation, export.merchant_id) == (0, 0, merchant_id)
        assert export.integration_id == integration.id
        assert export.trigger == f"eksport zbiorczy #{run_id}, test@example.com"
        assert export.created_at.tzinfo is not None and export.updated_at.tzinfo is not None
        assert export.remote_id is None and export.next_attempt_at is None
    for export in queued:
        assert (export.field_errors, export.last_error) == ({}, "")
    rejected = next(e for e in exports if e.state == "rejected")
    assert rejected.document_id == too_long.id and "notes" in rejected.field_errors and rejected.last_error

    # Batch by batch: each batch's rows were committed before its jobs, counters visible meanwhile.
    assert len(batches) >= 5 and sum(size for size, *_ in batches) == len(sendable_documents)
    assert all(committed == size for size, committed, _, _ in batches)
    totals = [total for *_, total, _ in batches]
    assert totals == sorted(totals) and 0 < totals[0] < documents
    enqueued_before = [enqueued for *_, enqueued in batches]
    assert enqueued_before == [sum(size for size, *_ in batches[:i]) for i in range(len(batches))]

    # A second run finds everything passed or on its way and queues nothing more; only a sent or
    # fetched document counts as passed, the others are named for what they are.
    second = start_bulk(integration, BulkFilters(), "test").id
    _run_default_queue(app)
    second = db.session.get(BulkRun, second)
    assert (second.state, second.total, second.enqueued, second.skipped) == ("done", documents, 0, documents)
    assert second.skipped_reasons == {bulk.ALREADY: 1, bulk.IN_PROGRESS: len(sendable_documents),
                                      bulk.REJECTED: 1, "korygowana faktura nie jest jeszcze w usłudze": 1}
    assert second.planned == 0
    assert _exports_queue(app).get_job_ids() == job_ids


def _exports(merchant_id: int, integration, count: int) -> list[Export]:
    exports = []
    for _ in range(count):
        document = issue_document(gen_order(merchant_id), "invoice", trigger="test")
        exports.append(Export(merchant_id=merchant_id, document=document, integration=integration, state="queued",
                              trigger="test", field_errors={}))
    db.session.add_all(exports)
    db.session.commit()
    return exports


def test_enqueue_exports_makes_the_same_jobs_as_enqueue_export_and_never_a_second_one(app, merchant_user,
                                                                                     integration):
    first, second, third = _exports(merchant_user.merchant_id, integration, 3)
    assert enqueue_exports([]) == 0
    assert enqueue_export(first) is True
    assert enqueue_exports([first, second, third]) == 2  # first already has its job
    assert enqueue_exports([first, second, third]) == 0
    assert enqueue_export(second) is False
    ids = [f"export-{e.id}-{e.generation}" for e in (first, second, third)]
    assert _exports_queue(app).get_job_ids() == ids

    alone, batched = Job.fetch_many(ids[:2], connection=get_redis(app))
    for field in ("func_name", "result_ttl", "failure_ttl", "timeout", "origin", "ttl"):
        assert getattr(alone, field) == getattr(batched, field), field
    assert (alone.args, batched.args) == ((first.id,), (second.id,))
    assert (alone.description, batched.description) == (f"export {first.id}", f"export {second.id}")
    assert batched.get_status() == alone.get_status() == "queued"

    # A new generation is a new job.
    third.generation += 1
    db.session.commit()
    assert enqueue_exports([third]) == 1
    assert _exports_queue(app).get_job_ids() == [*ids, f"export-{third.id}-1"]


def test_enqueue_exports_leaves_alone_a_job_created_while_it_checked(app, merchant_user, integration, monkeypatch):
    """Another client queues one of the jobs between the check and the write: the transaction is
    aborted (WATCH) and redone without that job."""
    first, second, third = _exports(merchant_user.merchant_id, integration, 3)
    real = Queue.enqueue_many
    raced = []

    def racing(self, job_datas, pipeline=None, group_id=None):
        if not raced:
            raced.append(enqueue_export(second))  # on another connection, after the WATCH
        return real(self, job_datas, pipeline=pipeline, group_id=group_id)

    monkeypatch.setattr(Queue, "enqueue_many", racing)
    assert enqueue_exports([first, second, third]) == 2
    assert raced == [True]
    job_ids = _exports_queue(app).get_job_ids()
    assert sorted(job_ids) == sorted(f"export-{e.id}-0" for e in (first, second, third))
    assert len(job_ids) == len(set(job_ids)) == 3
