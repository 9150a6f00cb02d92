"""The export pipeline against the inFakt sandbox over real HTTP, with real Redis and DB:
asynchronous creation with polling, a correction linked to its invoice, and an in-doubt
create settled by a lookup instead of a second POST."""
import re
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests

from tests.conftest import gen_order, run_jobs, run_queue_once
from webapp.documents.services import LineChange, issue_correction, issue_document
from webapp.exports.services import create_integration, enqueue_export, export_document
from webapp.extensions import db
from webapp.models import Export, JournalEntry

# Polls tens of milliseconds apart; the sandbox finishes a task on its second poll.
FAST_POLLING = {"poll_initial_delay": "0.05", "poll_max_delay": "0.2"}


def connect(sandbox_url, merchant_id, **account_options):
    prefix = f"p{uuid.uuid4().hex[:10]}"
    key = f"key-{uuid.uuid4().hex}"
    requests.post(f"{sandbox_url}/_sandbox/infakt/accounts",
                  json={"prefix": prefix, "api_token": key, "options": account_options}, timeout=5).raise_for_status()
    integration = create_integration(merchant_id, "infakt", "inFakt (test)", {"api_key": key},
                                     base_url=f"{sandbox_url}/infakt", auto_export=True)
    integration.options = dict(FAST_POLLING)
    db.session.commit()

    def documents(**params):
        response = requests.get(f"{sandbox_url}/_sandbox/infakt/documents", params={"account": prefix, **params},
                                timeout=5)
        return response.json()["documents"]

    def faults(**settings):
        requests.put(f"{sandbox_url}/_sandbox/infakt/faults", json={"account": prefix, **settings},
                     timeout=5).raise_for_status()

    return SimpleNamespace(integration=integration, prefix=prefix, key=key, documents=documents, faults=faults)


@pytest.fixture
def infakt(app, sandbox_url, merchant_user):
    service = connect(sandbox_url, merchant_user.merchant_id)
    yield service
    requests.delete(f"{sandbox_url}/_sandbox/infakt/faults", params={"account": service.prefix}, timeout=5)


def issue(merchant_user, **order_fields):
    return issue_document(gen_order(merchant_user.merchant_id, **order_fields), "invoice", trigger="test")


def exports():
    return db.session.scalars(db.select(Export).order_by(Export.id)).all()


def test_auto_export_on_issue_reaches_fetched_with_the_services_number_and_pdf(app, merchant_user, infakt):
    document = issue(merchant_user)
    reference = document.reference
    run_jobs(app)

    [export] = exports()
    assert export.state == "fetched"
    assert re.fullmatch(r"\d+/\d{2}/\d{4}", export.remote_number)  # inFakt's own numbering
    assert export.pdf.startswith(b"%PDF")
    assert export.totals_mismatch is None  # per-rate totals agree with the hub's to the grosz
    [stored] = infakt.documents(oid=reference)
    assert stored["uuid"] == export.remote_id and stored["number"] == export.remote_number
    assert stored["gross_price"] == int(document.total_gross * 100)
    assert (stored["payment_method"], stored["status"], stored["paid_date"]) == ("transfer", "paid", str(document.paid_date))
    actions = [e.action for e in db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id))]
    assert actions == ["create", "fetch"]
    journal = " ".join(e.request_summary + e.message for e in db.session.scalars(db.select(JournalEntry)))
    assert "/api/v3/async/invoices/status/" in journal and infakt.key not in journal


def test_correction_is_exported_against_the_exported_invoice(app, merchant_user, infakt):
    invoice = issue(merchant_user)
    run_jobs(app)
    invoice_export = exports()[0]
    correction = issue_correction(invoice, [LineChange(0, Decimal(1), Decimal("39.99"))], "Zwrot 1 kubka")
    reference = correction.reference

    export_document(correction, infakt.integration, "test")
    run_jobs(app)

    correction_export = exports()[1]
    assert correction_export.state == "fetched", correction_export.last_error
    assert re.fullmatch(r"\d+/KOR/\d{2}/\d{4}", correction_export.remote_number)
    assert correction_export.pdf.startswith(b"%PDF")
    assert correction_export.totals_mismatch is None
    [stored] = infakt.documents(oid=reference, kind="correction")
    assert stored["corrected_invoice_uuid"] == invoice_export.remote_id
    assert stored["corrected_invoice_number"] == invoice_export.remote_number
    assert stored["gross_price"] == -3999
    assert "Zwrot 1 kubka" in stored["notes"]


def test_a_create_that_timed_out_after_storing_is_reconciled_not_resent(app, merchant_user, infakt):
    infakt.faults(timeout_after_store=1.0, hold_seconds=4)  # longer than the pipeline's 2 s read timeout
    document = issue(merchant_user)
    reference = document.reference
    run_queue_once(app, "exports")
    db.session.remove()
    assert exports()[0].state == "in_doubt"
    infakt.faults()
    run_jobs(app)

    [export] = exports()
    assert export.state == "fetched" and export.remote_number
    assert len(infakt.documents(oid=reference)) == 1
    assert "Uzgodniono" in db.session.scalar(db.select(JournalEntry.message).where(JournalEntry.action == "lookup"))


def test_reads_have_their_own_window_and_a_create_spends_one_for_its_poll(app, merchant_user, infakt):
    """inFakt caps GETs (300 / 60 s) apart from writes (150 / 60 s): when the read window is full
    the export waits instead of polling into a 429, and the write window is left untouched."""
    from webapp.exports.limits import AccountLimits
    from webapp.redis_conn import get_redis

    integration_id = infakt.integration.id
    limits = AccountLimits(get_redis(app), integration_id)
    assert limits.take_request_slot(300, 60, count=300, window="reads") == 0.0  # every read spent
    issue(merchant_user)

    conn = get_redis(app)
    run_queue_once(app, "exports")
    db.session.remove()
    export = db.session.scalar(db.select(Export))
    assert export.state == "queued" and export.integration.health == "rate_limited"
    assert infakt.documents() == []  # nothing was sent
    assert conn.zcard(f"ib:integration:{integration_id}:window") == 0  # no write spent
    conn.flushdb()  # a minute later: the window is empty (and the delayed retry goes with it)
    export.generation += 1
    db.session.commit()
    enqueue_export(export)
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched" and len(infakt.documents()) == 1
    # one read for the create's poll, two for the fetch (document and PDF)
    assert conn.zcard(f"ib:integration:{integration_id}:reads") == 3


def test_a_polling_timeout_never_leads_to_a_second_create_with_a_fresh_adapter(app, merchant_user, sandbox_url):
    """inFakt finishes the creation task in the background two seconds after the POST; the adapter
    stops polling at once. Every job builds a new adapter, so only the task reference kept with
    the export lets the look-up tell "still being created" from "never created"."""
    service = connect(sandbox_url, merchant_user.merchant_id, async_polls=1000, async_seconds=2.0)
    # One poll, then the create gives up; a look-up that finds the task running waits 0.3 s.
    service.integration.options = {**FAST_POLLING, "poll_initial_delay": "0.3", "poll_max_wait": "0"}
    db.session.commit()
    document = issue(merchant_user)
    reference = document.reference
    run_queue_once(app, "exports")
    db.session.remove()
    [export] = exports()
    assert export.state == "in_doubt" and "zlecenie" in export.last_error
    assert service.documents(oid=reference) == []  # the task is still running

    run_jobs(app)

    [export] = exports()
    assert export.state == "fetched", export.last_error
    [stored] = service.documents(oid=reference)
    assert (stored["uuid"], stored["number"]) == (export.remote_id, export.remote_number)
    entries = db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id)).all()
    assert [e.action for e in entries].count("create") == 1
    assert entries[-2].action == "lookup" and "Uzgodniono" in entries[-2].message
    lookups = " ".join(e.request_summary for e in entries if e.action == "lookup")
    assert "/async/invoices/status/" in lookups and "POST" not in lookups
