"""The export pipeline against the Fakturownia sandbox over real HTTP, with real Redis and DB."""
import logging
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.conftest import gen_order, run_jobs, run_queue_once
from webapp.documents.services import issue_document
from webapp.exports import limits as limits_module
from webapp.exports.jobs import sweep
from webapp.exports.mapping import export_settings, hub_document
from webapp.exports.services import (
    ExportRefused,
    create_integration,
    enqueue_export,
    export_document,
    provider_for,
)
from webapp.extensions import db
from webapp.models import Export, Integration, JournalEntry, utcnow
from webapp.redis_conn import get_redis


def journal():
    return [(e.action, e.outcome, e.message, e.request_summary) for e in db.session.scalars(
        db.select(JournalEntry).order_by(JournalEntry.id))]


def issue(merchant_user, **order_fields):
    return issue_document(gen_order(merchant_user.merchant_id, **order_fields), "invoice", trigger="test")


def test_auto_export_on_issue_reaches_fetched_with_number_and_pdf(app, merchant_user, fakturownia):
    document = issue(merchant_user)
    reference = document.reference
    export = db.session.scalar(db.select(Export))
    assert export.document_id == document.id and export.state == "queued"
    reference = document.reference
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched"
    assert export.remote_number and export.remote_id
    assert export.pdf.startswith(b"%PDF")
    assert export.totals_mismatch is None
    assert fakturownia.stored(reference) == 1
    actions = [e.action for e in db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id))]
    assert actions == ["create", "fetch"]


def test_double_enqueue_creates_one_document(app, merchant_user, fakturownia):
    document = issue(merchant_user)
    reference = document.reference
    export = db.session.scalar(db.select(Export))
    assert enqueue_export(export) is False  # same generation: same job id, refused as duplicate
    assert enqueue_export(export) is False
    run_jobs(app)
    assert fakturownia.stored(reference) == 1


def test_worker_killed_after_post_is_reconciled_not_resent(app, merchant_user, fakturownia):
    document = issue(merchant_user)
    reference = document.reference
    export = db.session.scalar(db.select(Export))
    # The POST reached the service, then the worker died before saving: the row is still `sending`.
    provider = provider_for(export.integration)
    provider.create_document(hub_document(document), export_settings(export.integration, document))
    export.state, export.claimed_at = "sending", utcnow() - timedelta(seconds=5)
    db.session.commit()
    get_redis(app).flushdb()  # its job is gone too
    assert sweep()["in_doubt"] == 1
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched", journal()
    assert fakturownia.stored(reference) == 1
    assert "Uzgodniono" in db.session.scalar(db.select(JournalEntry.message).where(JournalEntry.action == "lookup"))


def test_timeout_after_the_document_was_stored_is_in_doubt_then_reconciled(app, merchant_user, fakturownia):
    fakturownia.faults(timeout_after_store=1.0, hold_seconds=4)
    document = issue(merchant_user)
    reference = document.reference
    run_queue_once(app, "exports")
    db.session.remove()
    export = db.session.scalar(db.select(Export))
    assert export.state == "in_doubt"
    fakturownia.faults()
    run_jobs(app)
    assert db.session.scalar(db.select(Export)).state == "fetched"
    assert fakturownia.stored(reference) == 1


def test_a_second_send_without_an_answer_backs_off_instead_of_sending_at_once(app, merchant_user, fakturownia):
    document = issue(merchant_user)
    reference = document.reference
    export = db.session.scalar(db.select(Export))
    # Sent twice already (a worker died each time before the POST left): the service has nothing.
    export.state, export.attempts, export.claimed_at = "sending", 2, utcnow() - timedelta(minutes=5)
    db.session.commit()
    get_redis(app).flushdb()
    assert sweep()["in_doubt"] == 1
    run_queue_once(app, "exports")
    db.session.remove()
    export = db.session.scalar(db.select(Export))
    # backoff with full jitter: the delay may be anything from 0 up, but it is a delayed retry
    assert export.state == "retrying" and export.next_attempt_at is not None
    assert fakturownia.stored(reference) == 0  # looked up, not sent again yet
    assert [(action, outcome) for action, outcome, *_ in journal()] == [("lookup", "transient")]
    export.next_attempt_at = utcnow()
    export.generation += 1
    db.session.commit()
    enqueue_export(export)
    run_jobs(app)
    assert db.session.scalar(db.select(Export)).state == "fetched"
    assert fakturownia.stored(reference) == 1


def test_validation_refusal_is_not_retried_and_its_messages_are_stored(app, merchant_user, fakturownia):
    fakturownia.integration.series_links = {"1": "999999"}  # a department the service does not have
    db.session.commit()
    issue(merchant_user)
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    assert export.state == "rejected" and export.attempts == 1
    assert "department_id" in export.field_errors
    assert db.session.scalar(db.select(db.func.count(JournalEntry.id))) == 1


def _one_pass(app):
    run_queue_once(app, "exports")
    db.session.remove()
    return db.session.scalar(db.select(Export))


def test_429_with_retry_after_waits_then_succeeds(app, merchant_user, fakturownia):
    fakturownia.faults(rate_429=1.0, retry_after=2)
    issue(merchant_user)
    export = _one_pass(app)
    assert export.state == "retrying"
    attempt = db.session.scalar(db.select(JournalEntry).order_by(JournalEntry.id.desc()))
    answered_at = attempt.started_at + timedelta(milliseconds=attempt.duration_ms)
    # Retry-After honoured: the next try is 2 s after the answer, however slow this machine is.
    assert export.next_attempt_at - answered_at >= timedelta(seconds=1.9)
    fakturownia.faults()
    run_jobs(app)
    assert db.session.scalar(db.select(Export)).state == "fetched"


def test_5xx_retries_then_succeeds(app, merchant_user, fakturownia):
    fakturownia.faults(error_5xx=1.0)
    document = issue(merchant_user)
    reference = document.reference
    export = _one_pass(app)
    assert export.state == "retrying"
    assert any(f"błąd serwera ({status})" in export.last_error for status in (500, 502, 503)), export.last_error
    fakturownia.faults()
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched" and export.attempts == 2
    assert fakturownia.stored(reference) == 1


def test_sweeper_requeues_an_export_whose_job_vanished(app, merchant_user, fakturownia):
    document = issue(merchant_user)
    reference = document.reference
    get_redis(app).flushdb()  # Redis lost its queue
    assert sweep()["requeued"] == 1
    assert sweep()["requeued"] == 0  # the job exists now: not twice
    run_jobs(app)
    assert db.session.scalar(db.select(Export)).state == "fetched"
    assert fakturownia.stored(reference) == 1


def test_sweeper_requeues_a_job_that_says_queued_but_is_on_no_queue(app, merchant_user, fakturownia):
    document = issue(merchant_user)
    reference = document.reference
    connection = get_redis(app)
    # A worker took the job off the queue and was killed before marking it started.
    taken = connection.lpop("rq:queue:exports")
    assert connection.hget(b"rq:job:" + taken, "status") == b"queued"
    assert sweep()["requeued"] == 1
    assert sweep()["requeued"] == 0
    run_jobs(app)
    assert db.session.scalar(db.select(Export)).state == "fetched"
    assert fakturownia.stored(reference) == 1


def test_sweeper_requeues_a_scheduled_retry_missing_from_the_schedule(app, merchant_user, fakturownia):
    document = issue(merchant_user)
    reference = document.reference
    export = db.session.scalar(db.select(Export))
    connection = get_redis(app)
    connection.delete("rq:queue:exports")
    export.generation += 1
    db.session.commit()
    enqueue_export(export, delay=60)
    connection.delete("rq:scheduled:exports")  # the schedule lost, the job's record kept
    assert sweep()["requeued"] == 1
    run_jobs(app)
    assert db.session.scalar(db.select(Export)).state == "fetched"
    assert fakturownia.stored(reference) == 1


def test_breaker_pauses_after_repeated_failures_and_resumes(app, merchant_user, fakturownia, monkeypatch):
    monkeypatch.setitem(app.config, "BREAKER_THRESHOLD", 2)
    monkeypatch.setitem(app.config, "BREAKER_COOLDOWN", 1.0)
    fakturownia.faults(error_5xx=1.0)
    issue(merchant_user)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _one_pass(app)
        if limits_module.AccountLimits(get_redis(app), fakturownia.integration_id).is_open():
            break
        from rq import Queue
        from rq.registry import ScheduledJobRegistry

        queue = Queue("exports", connection=get_redis(app))
        registry = ScheduledJobRegistry(queue=queue)
        time.sleep(0.25)
        for job_id in registry.get_jobs_to_schedule(time.time()):
            registry.remove(job_id)
            queue.enqueue_job(queue.fetch_job(job_id))
    assert limits_module.AccountLimits(get_redis(app), fakturownia.integration_id).is_open()
    assert db.session.get(Integration, fakturownia.integration_id).health == "paused"
    fakturownia.faults()
    run_jobs(app)
    assert db.session.scalar(db.select(Export)).state == "fetched"
    assert db.session.get(Integration, fakturownia.integration_id).health == "connected"


def test_one_document_cannot_be_exported_to_two_integrations(app, merchant_user, fakturownia, sandbox_url):
    document = issue(merchant_user)
    second = create_integration(merchant_user.merchant_id, "fakturownia", "Druga", {"api_token": "x", "account_prefix": "y"},
                                base_url=f"{sandbox_url}/fakturownia/y", auto_export=False)
    with pytest.raises(ExportRefused, match="już przekazany"):
        export_document(document, second, "test")
    db.session.rollback()
    db.session.add(Export(merchant_id=document.merchant_id, document_id=document.id, integration_id=second.id,
                          state="queued", field_errors={}))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_credentials_are_encrypted_and_never_logged(app, merchant_user, fakturownia, caplog, monkeypatch):
    monkeypatch.setitem(app.config, "BREAKER_COOLDOWN", 0.2)
    caplog.set_level(logging.DEBUG)
    fakturownia.faults(error_5xx=0.5, seed=3)
    issue(merchant_user)
    run_jobs(app)
    raw = db.session.execute(text("SELECT credentials_encrypted FROM integration")).scalar_one()
    raw = bytes(raw)
    assert fakturownia.token.encode() not in raw and b"api_token" not in raw
    journal = " ".join(e.request_summary + e.message for e in db.session.scalars(db.select(JournalEntry)))
    assert "/invoices.json" in journal
    assert fakturownia.token not in journal
    assert fakturownia.token not in caplog.text
    for key in get_redis(app).scan_iter("rq:job:*"):
        assert fakturownia.token.encode() not in b"".join(
            v for v in get_redis(app).hgetall(key).values() if isinstance(v, bytes))


def test_a_separate_worker_process_exports(app, merchant_user, fakturownia, database_url, instance_dir):
    document = issue(merchant_user)
    reference = document.reference
    env = dict(os.environ, DATABASE_URL=database_url, REDIS_URL=app.config["REDIS_URL"],
               INSTANCE_PATH=str(instance_dir), SECRET_KEY="test-secret")
    worker = subprocess.Popen([sys.executable, "worker.py"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        state = None
        while time.monotonic() < deadline:
            db.session.remove()
            state = db.session.scalar(db.select(Export.state))
            if state == "fetched":
                break
            time.sleep(0.2)
        assert state == "fetched"
    finally:
        worker.terminate()
        worker.wait(timeout=10)
    assert fakturownia.stored(reference) == 1


def test_document_card_shows_the_service_number_refusal_and_retries(app, client, fakturownia):
    from tests.conftest import Browser
    from webapp.models import User

    browser = Browser(client)
    browser.login(db.session.scalar(db.select(User.email).where(User.merchant_id == fakturownia.merchant_id)))
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.series_links = {"1": "999999"}
    db.session.commit()
    document = issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test")
    document_id, reference = document.id, document.reference
    run_jobs(app)
    page = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "rejected" in page and "department_id" in page and "Ponów eksport" in page
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.series_links = {}
    db.session.commit()
    export_id = db.session.scalar(db.select(Export.id))
    assert browser.post(f"/integrations/exports/{export_id}/retry").status_code == 302
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    page = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    assert export.state == "fetched" and export.remote_number in page
    service_pdf = browser.get(f"/documents/{document_id}/service.pdf")
    assert service_pdf.mimetype == "application/pdf" and service_pdf.data == export.pdf
    assert fakturownia.stored(reference) == 1


def test_automatic_export_with_hub_numbering_keeps_the_hub_number(app, merchant_user, fakturownia):
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.numbering = "hub"
    db.session.commit()
    document = issue(merchant_user)
    number = document.number
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched" and export.remote_number == number


def test_request_window_takes_several_slots_at_once_or_none(app):
    limits = limits_module.AccountLimits(get_redis(app), 999)
    assert limits.take_request_slot(3, 60, count=2) == 0.0
    wait = limits.take_request_slot(3, 60, count=2)  # only one left: take nothing, say how long
    assert 59 < wait <= 60
    assert limits.take_request_slot(3, 60, count=1) == 0.0  # the refused pair did not spend it
    assert limits.take_request_slot(3, 60, count=1) > 0
    assert limits.take_request_slot(1, 60, count=2) > 0  # a pair in a window of one never blocks forever
