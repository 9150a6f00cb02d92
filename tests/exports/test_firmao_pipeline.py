"""The export pipeline against the Firmao sandbox over real HTTP, with real Redis and DB."""
import secrets
from datetime import timedelta
from types import SimpleNamespace

import pytest
import requests

from tests.conftest import gen_order, run_jobs, run_queue_once
from webapp.documents.services import issue_document
from webapp.exports.jobs import sweep
from webapp.exports.mapping import export_settings, hub_document
from webapp.exports.services import create_integration, provider_for
from webapp.extensions import db
from webapp.models import Export, Integration, JournalEntry, utcnow
from webapp.redis_conn import get_redis

FAST = {"min_request_interval": "0"}


def connect_firmao(sandbox_url, merchant_id, *, throttled: bool):
    """A fresh sandbox organisation connected as the merchant's auto-export integration.

    throttled: the sandbox keeps its default one-call-a-second limit and the adapter its
    default pacing; otherwise both are off so the test runs in well under a second.
    """
    organization = f"p{secrets.token_hex(5)}"
    password = f"pw-{secrets.token_hex(8)}"
    options = {} if throttled else {"rate_limit": None}
    requests.post(f"{sandbox_url}/_sandbox/firmao/accounts", timeout=5,
                  json={"prefix": organization, "api_token": password, "options": options}).raise_for_status()
    credentials = {"organization_id": organization, "login": f"{organization}.api@firmao.pl", "password": password}
    integration = create_integration(merchant_id, "firmao", "Firmao (test)", credentials,
                                     base_url=f"{sandbox_url}/firmao", auto_export=True)
    if not throttled:
        integration.options = dict(FAST)
        db.session.commit()

    def documents(**filters):
        response = requests.get(f"{sandbox_url}/_sandbox/firmao/documents",
                                params={"account": organization, **filters}, timeout=5)
        return response.json()["documents"]

    def faults(**settings):
        requests.put(f"{sandbox_url}/_sandbox/firmao/faults", json={"account": organization, **settings},
                     timeout=5).raise_for_status()

    def stats():
        services = requests.get(f"{sandbox_url}/_sandbox/stats", timeout=5).json()["services"]
        return services["firmao"]["accounts"][organization]

    return SimpleNamespace(integration_id=integration.id, organization=organization, password=password,
                           documents=documents, faults=faults, stats=stats)


@pytest.fixture
def firmao(app, sandbox_url, merchant_user):
    account = connect_firmao(sandbox_url, merchant_user.merchant_id, throttled=False)
    yield account
    requests.delete(f"{sandbox_url}/_sandbox/firmao/faults", params={"account": account.organization}, timeout=5)


def the_export() -> Export:
    return db.session.scalar(db.select(Export))


def journal_actions() -> list[str]:
    return [e.action for e in db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id))]


def test_invoice_export_stays_under_the_one_request_a_second_limit(app, sandbox_url, merchant_user):
    # Default limits and pacing against the sandbox's default throttle: not a single 429.
    firmao = connect_firmao(sandbox_url, merchant_user.merchant_id, throttled=True)
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    reference = document.reference
    assert the_export().state == "queued"

    run_jobs(app, max_seconds=30)

    export = the_export()
    assert export.state == "fetched", export.last_error
    [stored] = firmao.documents(oid=reference)
    assert export.remote_number == stored["transactionNumber"] and export.remote_id == str(stored["id"])
    assert stored["type"] == "INVOICE"
    assert export.pdf.startswith(b"%PDF")
    assert export.totals_mismatch is None
    assert f"{stored['transactionBruttoPrice']:.2f}" == f"{document.total_gross:.2f}"
    assert journal_actions() == ["create", "fetch"]
    stats = firmao.stats()
    assert stats["throttled"] == 0 and stats.get("faults", {}) == {}
    journal = " ".join(e.request_summary + e.message for e in db.session.scalars(db.select(JournalEntry)))
    assert "/svc/v1/transactions" in journal and firmao.password not in journal


def test_receipt_export_reaches_fetched_in_the_receipt_series(app, merchant_user, firmao):
    document = issue_document(gen_order(merchant_user.merchant_id, buyer_is_company=False, buyer_tax_id=None),
                              "receipt", trigger="test")
    reference = document.reference

    run_jobs(app)

    export = the_export()
    assert export.state == "fetched", export.last_error
    [stored] = firmao.documents(oid=reference)
    assert stored["type"] == "RECEIPT" and export.remote_number == stored["transactionNumber"]
    assert export.remote_number.startswith("PAR/")
    assert export.pdf.startswith(b"%PDF") and export.totals_mismatch is None


def test_worker_killed_after_the_post_is_reconciled_by_reference_not_resent(app, merchant_user, firmao):
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    reference = document.reference
    export = the_export()
    # The POST reached Firmao, then the worker died before saving: the row is still `sending`.
    provider_for(export.integration).create_document(hub_document(document),
                                                     export_settings(export.integration, document))
    export.state, export.claimed_at = "sending", utcnow() - timedelta(seconds=5)
    db.session.commit()
    get_redis(app).flushdb()  # its job is gone too

    assert sweep()["in_doubt"] == 1
    run_jobs(app)

    assert the_export().state == "fetched"
    assert len(firmao.documents(oid=reference)) == 1
    assert "Uzgodniono" in db.session.scalar(db.select(JournalEntry.message).where(JournalEntry.action == "lookup"))


def test_timeout_after_the_document_was_stored_is_in_doubt_then_reconciled(app, merchant_user, firmao):

    firmao.faults(timeout_after_store=1.0, hold_seconds=4)
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    reference = document.reference
    run_queue_once(app, "exports")
    db.session.remove()
    assert the_export().state == "in_doubt"

    firmao.faults()
    run_jobs(app)

    assert the_export().state == "fetched"
    assert len(firmao.documents(oid=reference)) == 1


def test_hub_numbering_keeps_the_hubs_number(app, merchant_user, firmao):
    integration = db.session.get(Integration, firmao.integration_id)
    integration.numbering = "hub"
    db.session.commit()
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")

    run_jobs(app)

    assert the_export().state == "fetched", the_export().last_error
    assert the_export().remote_number == document.number
    assert [d["transactionNumber"] for d in firmao.documents(oid=document.reference)] == [document.number]
