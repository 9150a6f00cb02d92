"""Exactly once when the pipeline cannot tell: the reconcile button never races a live send,
look-ups that cannot answer never lead to a second send, and a fetch-back that fails for good
stops (shown on the document, retried by hand) instead of looping and tripping the breaker.
Against the Fakturownia sandbox over real HTTP, with real Redis and DB."""
from datetime import timedelta

import requests

from providers.base import LookupIncomplete
from providers.fakturownia import FakturowniaProvider
from tests.conftest import gen_order, run_jobs, run_queue_once
from webapp.documents.services import issue_document
from webapp.exports.jobs import MAX_FETCH_ATTEMPTS, sweep
from webapp.exports.mapping import export_settings, hub_document
from webapp.exports.services import provider_for
from webapp.extensions import db
from webapp.models import Export, Integration, JournalEntry, utcnow
from webapp.redis_conn import get_redis


def issue(merchant_id):
    return issue_document(gen_order(merchant_id), "invoice", trigger="test")


def the_export() -> Export:
    db.session.remove()
    return db.session.scalar(db.select(Export))


def journal() -> list[tuple[str, str, str, str]]:
    return [(e.action, e.outcome, e.message, e.next_step)
            for e in db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id))]


def breaker_failures(app, integration_id) -> int:
    return int(get_redis(app).get(f"ib:integration:{integration_id}:failures") or 0)


def queued_jobs(app) -> int:
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    conn = get_redis(app)
    return sum(Queue(name, connection=conn).count + ScheduledJobRegistry(name, connection=conn).count
               for name in ("exports", "fetch"))


def browser_for(client, merchant_id):
    from tests.conftest import Browser
    from webapp.models import User

    browser = Browser(client)
    assert browser.login(db.session.scalar(db.select(User.email).where(User.merchant_id == merchant_id))).status_code == 302
    return browser


def stored_elsewhere_then_worker_died(app, fakturownia, claimed_ago: timedelta) -> tuple[int, str]:
    """The POST reached the service, then the worker died before saving: the row is `sending`."""
    document = issue(fakturownia.merchant_id)
    export = db.session.scalar(db.select(Export))
    provider_for(export.integration).create_document(hub_document(document),
                                                     export_settings(export.integration, document))
    export.state, export.claimed_at, export.attempts = "sending", utcnow() - claimed_ago, 1
    db.session.commit()
    get_redis(app).flushdb()  # its job is gone too
    return document.id, document.reference


# --- the reconcile button --------------------------------------------------------------------

def test_reconcile_by_hand_refuses_a_send_whose_lease_is_live(app, client, fakturownia, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_SEND_LEASE", 120)
    document = issue(fakturownia.merchant_id)
    document_id = document.id
    export = db.session.scalar(db.select(Export))
    export_id, generation = export.id, export.generation
    get_redis(app).flushdb()
    # A worker claimed it a moment ago and is waiting for the service's answer.
    export.state, export.claimed_at, export.attempts = "sending", utcnow() - timedelta(seconds=5), 1
    db.session.commit()
    browser = browser_for(client, fakturownia.merchant_id)

    card = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "Uzgodnij z usługą" not in card
    section = browser.get(f"/integrations/{fakturownia.integration_id}/exports").get_data(as_text=True)
    assert f"/integrations/exports/{export_id}/reconcile" not in section

    # A click from a page opened earlier: refused with a message, not a 500, and nothing queued.
    response = browser.post(f"/integrations/exports/{export_id}/reconcile", follow_redirects=True)
    assert response.status_code == 200
    assert "właśnie wysyłany" in response.get_data(as_text=True)
    htmx = browser.post(f"/integrations/exports/{export_id}/reconcile", headers={"HX-Request": "true"})
    assert htmx.status_code == 200 and "właśnie wysyłany" in htmx.get_data(as_text=True)
    export = the_export()
    assert (export.state, export.generation) == ("sending", generation)
    assert queued_jobs(app) == 0


def test_reconcile_by_hand_takes_a_send_whose_lease_ran_out_and_finds_the_document(app, client, fakturownia,
                                                                                    monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_SEND_LEASE", 120)
    document_id, reference = stored_elsewhere_then_worker_died(app, fakturownia, timedelta(minutes=5))
    export_id = db.session.scalar(db.select(Export.id))
    browser = browser_for(client, fakturownia.merchant_id)
    assert "Uzgodnij z usługą" in browser.get(f"/documents/{document_id}").get_data(as_text=True)
    section = browser.get(f"/integrations/{fakturownia.integration_id}/exports").get_data(as_text=True)
    assert f"/integrations/exports/{export_id}/reconcile" in section
    assert browser.post(f"/integrations/exports/{export_id}/reconcile").status_code == 302
    assert the_export().state == "in_doubt"
    run_jobs(app)
    assert the_export().state == "fetched"
    assert fakturownia.stored(reference) == 1


# --- look-ups that cannot answer -------------------------------------------------------------

def test_a_lookup_that_runs_out_of_budget_keeps_the_row_in_doubt_and_never_resends(app, fakturownia, monkeypatch):
    _, reference = stored_elsewhere_then_worker_died(app, fakturownia, timedelta(seconds=5))
    real_find = FakturowniaProvider.find_document
    calls = []

    def find_cut_short(self, doc):
        calls.append(doc.reference)
        if len(calls) <= 2:  # a busy day: the search stops before reaching ours
            raise LookupIncomplete("Fakturownia: przejrzano 50 stron bez rozstrzygnięcia.")
        return real_find(self, doc)

    monkeypatch.setattr(FakturowniaProvider, "find_document", find_cut_short)
    assert sweep()["in_doubt"] == 1
    run_jobs(app)
    assert the_export().state == "fetched"
    assert fakturownia.stored(reference) == 1  # looked up three times, never sent again
    assert [(a, o) for a, o, *_ in journal()] == [("lookup", "transient"), ("lookup", "transient"),
                                                  ("lookup", "ok"), ("fetch", "ok")]
    assert breaker_failures(app, fakturownia.integration_id) == 0  # the service did not fail


def test_a_lookup_refused_for_good_stops_in_doubt_until_reconciled_by_hand(app, client, fakturownia):
    document_id, reference = stored_elsewhere_then_worker_died(app, fakturownia, timedelta(seconds=5))
    fakturownia.faults(auth_failure=True)
    assert sweep()["in_doubt"] == 1
    run_jobs(app)  # drains: no loop of look-ups
    export = the_export()
    assert export.state == "in_doubt"
    assert export.stopped_error.startswith("Wyszukanie dokumentu w usłudze nie powiodło się: Nieprawidłowy kod API")
    assert [(a, o, m) for a, o, m, _ in journal()] == [("lookup", "error", export.stopped_error)]
    assert db.session.get(Integration, fakturownia.integration_id).health == "auth_failed"
    swept = sweep()
    assert (swept["requeued"], swept["in_doubt"]) == (0, 0)  # waits for the merchant
    assert fakturownia.stored(reference) == 1

    fakturownia.faults()
    browser = browser_for(client, fakturownia.merchant_id)
    card = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    assert "export-stopped" in card and "Uzgodnij z usługą" in card
    assert browser.post(f"/integrations/exports/{export.id}/reconcile").status_code == 302
    run_jobs(app)
    export = the_export()
    assert export.state == "fetched" and export.stopped_error is None
    assert fakturownia.stored(reference) == 1


# --- fetch-back ------------------------------------------------------------------------------

def test_a_fetch_of_a_document_deleted_in_the_service_stops_and_shows_the_error(app, client, fakturownia,
                                                                                 sandbox_url):
    document = issue(fakturownia.merchant_id)
    document_id = document.id
    run_queue_once(app, "exports")
    export = the_export()
    assert export.state == "sent" and export.remote_number
    remote_number = export.remote_number
    # Deleted in the service before the fetch-back ran: the service answers 404 from now on.
    deleted = requests.delete(f"{sandbox_url}/fakturownia/{fakturownia.prefix}/invoices/{export.remote_id}.json",
                              params={"api_token": fakturownia.token}, timeout=5)
    assert deleted.status_code == 200

    run_jobs(app)  # drains: one attempt, no loop
    export = the_export()
    assert (export.state, export.remote_number) == ("sent", remote_number)
    assert "nie znaleziono (Not found)" in export.stopped_error  # the service's own words
    assert [(a, o) for a, o, *_ in journal()] == [("create", "ok"), ("fetch", "error")]
    assert journal()[-1][2] == export.stopped_error  # the service's message, in the journal
    assert breaker_failures(app, fakturownia.integration_id) == 0  # a 404 is no sign the service is down
    assert sweep()["fetch"] == 0  # waits for the merchant

    browser = browser_for(client, fakturownia.merchant_id)
    card = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    assert remote_number in card and "export-stopped" in card and "Not found" in card and "Odśwież z usługi" in card
    # The refresh retries by hand: one more attempt, the same answer, stopped again.
    assert browser.post(f"/integrations/exports/{export.id}/refresh").status_code == 302
    run_jobs(app)
    export = the_export()
    assert export.state == "sent" and "nie znaleziono" in export.stopped_error
    assert [(a, o) for a, o, *_ in journal()] == [("create", "ok"), ("fetch", "error"), ("fetch", "error")]


def test_fetch_failures_worth_retrying_count_toward_the_breaker_stop_after_a_cap_and_refresh_resumes(
        app, client, fakturownia, monkeypatch):
    monkeypatch.setitem(app.config, "BREAKER_THRESHOLD", 100)
    monkeypatch.setitem(app.config, "PROVIDER_READ_RETRIES", 0)
    document = issue(fakturownia.merchant_id)
    document_id = document.id
    run_queue_once(app, "exports")
    assert the_export().state == "sent"
    fakturownia.faults(error_5xx=1.0)
    run_jobs(app)
    export = the_export()
    assert export.state == "sent" and f"po {MAX_FETCH_ATTEMPTS} próbach" in export.stopped_error
    fetches = [o for a, o, *_ in journal() if a == "fetch"]
    assert fetches == ["transient"] * (MAX_FETCH_ATTEMPTS - 1) + ["error"]
    assert breaker_failures(app, fakturownia.integration_id) == MAX_FETCH_ATTEMPTS
    assert sweep()["fetch"] == 0

    fakturownia.faults()
    browser = browser_for(client, fakturownia.merchant_id)
    assert "Odśwież z usługi" in browser.get(f"/documents/{document_id}").get_data(as_text=True)
    assert browser.post(f"/integrations/exports/{export.id}/refresh").status_code == 302
    run_jobs(app)
    export = the_export()
    assert export.state == "fetched" and export.stopped_error is None and export.pdf.startswith(b"%PDF")
    assert "export-stopped" not in browser.get(f"/documents/{document_id}").get_data(as_text=True)


def test_refresh_is_refused_while_the_first_fetch_is_on_its_way(app, client, fakturownia):
    issue(fakturownia.merchant_id)
    run_queue_once(app, "exports")
    export = the_export()
    assert export.state == "sent" and export.stopped_error is None
    browser = browser_for(client, fakturownia.merchant_id)
    response = browser.post(f"/integrations/exports/{export.id}/refresh", follow_redirects=True)
    assert "Odświeżyć można" in response.get_data(as_text=True)
