"""The export pipeline against the Fakturowo sandbox over real HTTP, with real Redis and DB.

Fakturowo has no duplicate guard and no external id: exactly-once rests on the claim before the
issue call and on finding the document through the list before any resend.
"""
import secrets
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests

from tests.conftest import gen_order, run_jobs
from webapp.documents.services import issue_document
from webapp.exports.jobs import sweep
from webapp.exports.mapping import export_settings, hub_document
from webapp.exports.services import create_integration, provider_for
from webapp.extensions import db
from webapp.models import Export, JournalEntry, utcnow
from webapp.redis_conn import get_redis


@pytest.fixture
def fakturowo(app, sandbox_url, merchant_user):
    """A fresh Fakturowo sandbox account connected as the merchant's auto-export integration."""
    prefix = f"p{secrets.token_hex(5)}"
    key = secrets.token_hex(16)  # 32 hex characters, like a real key
    requests.post(f"{sandbox_url}/_sandbox/fakturowo/accounts", timeout=5, json={
        "prefix": prefix, "api_token": key, "options": {"unit_codes": "shifted"},
    }).raise_for_status()
    integration = create_integration(merchant_user.merchant_id, "fakturowo", "Fakturowo (test)", {"api_id": key},
                                     base_url=f"{sandbox_url}/fakturowo", auto_export=True)

    def documents(**filters):
        response = requests.get(f"{sandbox_url}/_sandbox/fakturowo/documents", params={"account": prefix, **filters},
                                timeout=5)
        return response.json()["documents"]

    def faults(**settings):
        requests.put(f"{sandbox_url}/_sandbox/fakturowo/faults", json={"account": prefix, **settings},
                     timeout=5).raise_for_status()

    yield SimpleNamespace(integration_id=integration.id, key=key, documents=documents, faults=faults)
    requests.delete(f"{sandbox_url}/_sandbox/fakturowo/faults", params={"account": prefix}, timeout=5)


def the_export() -> Export:
    return db.session.scalar(db.select(Export))


def journal_actions() -> list[str]:
    return [e.action for e in db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id))]


def work(app, *queues: str) -> Export:
    """One burst of the given queues; the export as the jobs left it."""
    from rq import Queue, SimpleWorker

    conn = get_redis(app)
    SimpleWorker([Queue(name, connection=conn) for name in queues], connection=conn).work(
        burst=True, logging_level="WARNING")
    db.session.remove()
    return the_export()


def run_scheduled(app) -> None:
    """Move export jobs that fell due onto their queue, as the RQ scheduler would."""
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    queue = Queue("exports", connection=get_redis(app))
    registry = ScheduledJobRegistry(queue=queue)
    for job_id in registry.get_jobs_to_schedule(time.time()):
        registry.remove(job_id)
        job = queue.fetch_job(job_id)
        if job is not None:
            queue.enqueue_job(job)


@pytest.mark.parametrize("kind, prefix, title", [("invoice", "FV ", "Faktura VAT"), ("receipt", "PAR ", "Paragon")])
def test_auto_export_on_issue_reaches_fetched_with_number_and_pdf(app, merchant_user, fakturowo, kind, prefix, title):
    document = issue_document(gen_order(merchant_user.merchant_id), kind, trigger="test")
    reference = document.reference
    assert the_export().state == "queued"

    run_jobs(app)

    export = the_export()
    assert export.state == "fetched", export.last_error
    [stored] = fakturowo.documents()  # exactly one document at the service
    assert stored["notes_hidden"] == reference and stored["title"] == title
    assert export.remote_number == stored["number"] and export.remote_number.startswith(prefix)
    assert export.remote_id.split("|")[0] == stored["api_numer"]
    assert export.remote_pdf_url == stored["links"]["pdf"] and export.remote_view_url
    assert export.pdf.startswith(b"%PDF")
    assert export.totals_mismatch is None
    assert stored["total_gross"] == f"{document.total_gross:.2f}"
    assert journal_actions() == ["create", "fetch"]
    journal = " ".join(e.request_summary + e.message for e in db.session.scalars(db.select(JournalEntry)))
    assert "api_zadanie=1" in journal and "api_zadanie=3" in journal
    assert fakturowo.key not in journal


def assert_reconciled_without_pdf(app, fakturowo) -> None:
    """Found by the list, never sent twice. Fakturowo hands out the PDF link only in the answer to
    the issue call, which was lost here: the number is known, the PDF has to come from its panel."""
    [stored] = fakturowo.documents()
    export = the_export()
    assert export.state in ("sent", "fetched"), export.last_error
    assert (export.remote_id, export.remote_number) == (stored["api_numer"], stored["number"])
    assert "Uzgodniono" in db.session.scalar(db.select(JournalEntry.message).where(JournalEntry.action == "lookup"))

    export = work(app, "fetch")

    # Fetched without a PDF (the journal says where to get it), not retried forever.
    assert export.state == "fetched" and export.pdf is None
    fetch = db.session.scalar(db.select(JournalEntry).where(JournalEntry.action == "fetch"))
    assert "pobierz PDF w panelu Fakturowo" in fetch.message
    assert len(fakturowo.documents()) == 1


def test_worker_killed_after_the_issue_call_is_reconciled_not_resent(app, merchant_user, fakturowo):
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    export = the_export()
    # The issue call reached Fakturowo, then the worker died before saving: the row is still `sending`.
    provider_for(export.integration).create_document(hub_document(document),
                                                     export_settings(export.integration, document))
    export.state, export.claimed_at = "sending", utcnow() - timedelta(seconds=5)
    db.session.commit()
    get_redis(app).flushdb()  # its job is gone too

    assert sweep()["in_doubt"] == 1
    work(app, "exports")

    assert_reconciled_without_pdf(app, fakturowo)


def test_timeout_after_the_document_was_stored_is_in_doubt_then_reconciled(app, merchant_user, fakturowo):
    fakturowo.faults(timeout_after_store=1.0, hold_seconds=4)
    issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    assert work(app, "exports").state == "in_doubt"

    fakturowo.faults()
    deadline = time.monotonic() + 10
    while the_export().state == "in_doubt" and time.monotonic() < deadline:
        time.sleep(0.1)  # the in-doubt grace period: the look-up is scheduled, not immediate
        run_scheduled(app)
        work(app, "exports")

    assert_reconciled_without_pdf(app, fakturowo)


def test_an_outage_is_retried_and_the_document_issued_once(app, merchant_user, fakturowo):
    fakturowo.faults(error_5xx=1.0)
    issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    assert work(app, "exports").state == "retrying"

    fakturowo.faults()
    run_jobs(app)

    export = the_export()
    assert export.state == "fetched" and export.attempts == 2
    assert len(fakturowo.documents()) == 1
