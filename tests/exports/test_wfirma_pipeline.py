"""The export pipeline against the wFirma sandbox over real HTTP, with real Redis and DB."""
import secrets
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests

from providers.base import ExportSettings
from tests.conftest import gen_order, run_jobs
from tests.providers.factories import make_doc
from webapp.documents.services import issue_document, today_in_poland
from webapp.exports.jobs import sweep
from webapp.exports.mapping import export_settings, hub_document
from webapp.exports.services import create_integration, export_document, provider_for
from webapp.extensions import db
from webapp.models import Export, Integration, JournalEntry, Series, utcnow
from webapp.redis_conn import get_redis

FIX = "użyj numeracji usługi albo połącz zgodną serię"


@pytest.fixture
def wfirma(app, sandbox_url, merchant_user):
    """A fresh wFirma sandbox login connected as the merchant's auto-export integration."""
    prefix = f"p{secrets.token_hex(5)}"
    keys = {"access_key": f"acc-{secrets.token_hex(8)}", "secret_key": f"sec-{secrets.token_hex(8)}",
            "app_key": f"app-{secrets.token_hex(8)}"}
    requests.post(f"{sandbox_url}/_sandbox/wfirma/accounts", timeout=5, json={
        "prefix": prefix, "api_token": keys["access_key"],
        "options": {"secret_key": keys["secret_key"], "app_key": keys["app_key"]},
    }).raise_for_status()
    integration = create_integration(merchant_user.merchant_id, "wfirma", "wFirma (test)", keys,
                                     base_url=f"{sandbox_url}/wfirma", auto_export=True)

    def documents(**filters):
        response = requests.get(f"{sandbox_url}/_sandbox/wfirma/documents", params={"account": prefix, **filters},
                                timeout=5)
        return response.json()["documents"]

    def faults(**settings):
        requests.put(f"{sandbox_url}/_sandbox/wfirma/faults", json={"account": prefix, **settings},
                     timeout=5).raise_for_status()

    def add_series(name, template, reset):
        response = requests.post(
            f"{sandbox_url}/wfirma/series/add", params={"inputFormat": "json", "outputFormat": "json"}, timeout=5,
            headers={"accessKey": keys["access_key"], "secretKey": keys["secret_key"], "appKey": keys["app_key"]},
            json={"series": {"series": {"name": name, "type": "normal", "template": template, "reset": reset}}})
        return response.json()["series"]["0"]["series"]["id"]

    yield SimpleNamespace(integration_id=integration.id, merchant_id=merchant_user.merchant_id, keys=keys,
                          documents=documents, faults=faults, add_series=add_series)
    requests.delete(f"{sandbox_url}/_sandbox/wfirma/faults", params={"account": prefix}, timeout=5)


def the_export() -> Export:
    return db.session.scalar(db.select(Export))


def journal_actions() -> list[str]:
    return [e.action for e in db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id))]


def hub_series_id(merchant_id: int, kind: str) -> int:
    return db.session.scalar(db.select(Series.id).where(Series.merchant_id == merchant_id, Series.kind == kind))


@pytest.mark.parametrize("kind, prefix, wfirma_type", [("invoice", "FV ", "normal"),
                                                       ("receipt", "DS ", "receipt_normal")])
def test_auto_export_on_issue_reaches_fetched_with_number_and_pdf(app, merchant_user, wfirma, kind, prefix,
                                                                  wfirma_type):
    document = issue_document(gen_order(merchant_user.merchant_id), kind, trigger="test")
    reference = document.reference
    assert the_export().state == "queued"

    run_jobs(app)

    export = the_export()
    assert export.state == "fetched", export.last_error
    [stored] = wfirma.documents(id_external=reference)
    assert export.remote_number == stored["fullnumber"] and export.remote_number.startswith(prefix)
    assert export.remote_id == str(stored["id"]) and stored["type"] == wfirma_type
    assert export.pdf.startswith(b"%PDF")
    assert export.totals_mismatch is None
    assert stored["total"] == f"{document.total_gross:.2f}"
    assert journal_actions() == ["create", "fetch"]
    journal = " ".join(e.request_summary + e.message for e in db.session.scalars(db.select(JournalEntry)))
    assert "/invoices/add" in journal
    for key in wfirma.keys.values():
        assert key not in journal


def test_worker_killed_after_add_is_reconciled_by_id_external_not_resent(app, merchant_user, wfirma):
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    reference = document.reference
    export = the_export()
    # The add reached wFirma, then the worker died before saving: the row is still `sending`.
    provider_for(export.integration).create_document(hub_document(document),
                                                     export_settings(export.integration, document))
    export.state, export.claimed_at = "sending", utcnow() - timedelta(seconds=5)
    db.session.commit()
    get_redis(app).flushdb()  # its job is gone too

    assert sweep()["in_doubt"] == 1
    run_jobs(app)

    assert the_export().state == "fetched"
    assert len(wfirma.documents(id_external=reference)) == 1
    assert "Uzgodniono" in db.session.scalar(db.select(JournalEntry.message).where(JournalEntry.action == "lookup"))


def test_timeout_after_the_add_was_stored_is_in_doubt_then_reconciled(app, merchant_user, wfirma):
    from rq import Queue, SimpleWorker

    wfirma.faults(timeout_after_store=1.0, hold_seconds=4)
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    reference = document.reference
    conn = get_redis(app)
    SimpleWorker([Queue("exports", connection=conn)], connection=conn).work(burst=True, logging_level="WARNING")
    db.session.remove()
    assert the_export().state == "in_doubt"

    wfirma.faults()
    run_jobs(app)

    assert the_export().state == "fetched"
    assert len(wfirma.documents(id_external=reference)) == 1


def _manual_hub_export(app, merchant_user, wfirma, wfirma_series_id):
    """Hub numbering with the hub's invoice series linked to `wfirma_series_id`; exported by hand
    after issuing, the way a merchant exports from the document card."""
    integration = db.session.get(Integration, wfirma.integration_id)
    integration.auto_export = False
    integration.numbering = "hub"
    integration.series_links = {str(hub_series_id(merchant_user.merchant_id, "invoice")): wfirma_series_id}
    db.session.commit()
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    export_document(document, db.session.get(Integration, wfirma.integration_id), "test")
    run_jobs(app)
    return document, the_export()


def test_hub_numbering_with_a_series_of_the_hubs_format_keeps_the_hubs_number(app, merchant_user, wfirma):
    # The hub's series prints FV/{nr}/{MM}/{YYYY}, monthly: the merchant adds the same in wFirma.
    series_id = wfirma.add_series("Sklep (hub)", "FV/[numer]/[miesiąc]/[rok]", "monthly")

    document, export = _manual_hub_export(app, merchant_user, wfirma, series_id)

    assert export.state == "fetched", export.last_error
    assert export.remote_number == document.number
    assert [d["fullnumber"] for d in wfirma.documents(id_external=document.reference)] == [document.number]


def test_hub_number_that_wfirma_cannot_print_is_refused_with_the_fix(app, merchant_user, wfirma):
    series = provider_for(db.session.get(Integration, wfirma.integration_id)).list_series()
    yearly = next(c.id for c in series if c.name == "Faktury VAT – FV [numer]/[rok]")

    document, export = _manual_hub_export(app, merchant_user, wfirma, yearly)

    assert export.state == "rejected" and export.attempts == 1
    assert FIX in export.last_error and document.number in export.last_error
    assert list(export.field_errors) == ["number"]
    assert wfirma.documents(id_external=document.reference) == []


def test_wfirmas_numbering_control_refusal_reaches_the_merchant(app, merchant_user, wfirma):
    # The right format, but two invoices were issued in wFirma directly this month: its
    # numbering control wants number 3, the hub sends 1.
    series_id = wfirma.add_series("Sklep (hub)", "FV/[numer]/[miesiąc]/[rok]", "monthly")
    provider = provider_for(db.session.get(Integration, wfirma.integration_id))
    today = today_in_poland()
    for n in range(2):
        provider.create_document(make_doc(reference=f"W-{n}", issue_date=today, sell_date=today),
                                 ExportSettings(series_id=series_id))

    document, export = _manual_hub_export(app, merchant_user, wfirma, series_id)

    assert export.state == "rejected" and export.attempts == 1
    assert export.last_error.startswith(f"wFirma odrzuciła numer z huba „{document.number}”")
    assert "kontrola numeracji" in export.last_error and export.last_error.endswith(f"{FIX}.")
    assert list(export.field_errors) == ["number"]
    assert wfirma.documents(id_external=document.reference) == []
