"""The export pipeline against the iFirma sandbox over real HTTP, with real Redis and DB."""
from __future__ import annotations

import io
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import requests
from pypdf import PdfReader

from tests.conftest import gen_order, run_jobs, run_queue_once
from webapp.documents.services import issue_document
from webapp.exports.services import ExportRefused, create_integration, export_document
from webapp.extensions import db
from webapp.models import Export, Integration, JournalEntry

SERVICE = "ifirma"


def connect(sandbox_url: str, merchant_id: int, **account_options) -> SimpleNamespace:
    """A fresh sandbox account (open month = the current one unless given) and an auto-export
    integration to it."""
    prefix = f"t{secrets.token_hex(5)}"
    login, invoice_key, subscriber_key = f"{prefix}@sklep.example", secrets.token_hex(8), secrets.token_hex(8)
    requests.post(f"{sandbox_url}/_sandbox/{SERVICE}/accounts", timeout=5, json={
        "prefix": prefix, "api_token": invoice_key,
        "options": {"login": login, "key_abonent": subscriber_key, **account_options},
    }).raise_for_status()
    integration = create_integration(merchant_id, SERVICE, "iFirma (test)",
                                     {"login": login, "invoice_key": invoice_key, "subscriber_key": subscriber_key},
                                     base_url=f"{sandbox_url}/{SERVICE}", auto_export=True)

    def documents(**filters) -> list[dict]:
        response = requests.get(f"{sandbox_url}/_sandbox/{SERVICE}/documents",
                                params={"account": prefix, **filters}, timeout=5)
        response.raise_for_status()
        return response.json()["documents"]

    def faults(**settings):
        requests.put(f"{sandbox_url}/_sandbox/{SERVICE}/faults", json={"account": prefix, **settings},
                     timeout=5).raise_for_status()

    return SimpleNamespace(integration_id=integration.id, prefix=prefix, keys=(invoice_key, subscriber_key),
                           documents=documents, faults=faults)


@pytest.fixture
def ifirma(app, sandbox_url, merchant_user):
    account = connect(sandbox_url, merchant_user.merchant_id)
    yield account
    requests.delete(f"{sandbox_url}/_sandbox/{SERVICE}/faults", params={"account": account.prefix}, timeout=5)


def issue(merchant_user, kind: str = "invoice"):
    # Ordered today, so the sale and issue dates fall in the sandbox's open (current) month.
    order = gen_order(merchant_user.merchant_id, ordered_at=datetime.now(UTC))
    return issue_document(order, kind, trigger="test")


def actions() -> list[str]:
    return [e.action for e in db.session.scalars(db.select(JournalEntry).order_by(JournalEntry.id))]


def test_auto_export_on_issue_reaches_fetched_with_the_ifirma_number_and_pdf(app, merchant_user, ifirma):
    document = issue(merchant_user)
    reference, hub_total = document.reference, document.total_gross

    run_jobs(app)

    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched", export.last_error
    assert export.remote_number.startswith("FV 1/") and export.remote_id
    assert export.pdf.startswith(b"%PDF")
    assert export.totals_mismatch is None  # iFirma's per-rate totals equal the hub's to the grosz
    assert actions() == ["create", "fetch"]
    stored = ifirma.documents()
    assert len(stored) == 1 and len(ifirma.documents(ref=reference)) == 1
    assert stored[0]["PelnyNumer"] == export.remote_number
    assert stored[0]["SposobZaplaty"] == "PRZ"
    assert stored[0]["_sandbox"]["totals"]["gross"] == f"{hub_total:.2f}"
    journal = "\n".join(e.request_summary for e in db.session.scalars(db.select(JournalEntry)))
    assert "/iapi/fakturakraj.json" in journal
    for key in ifirma.keys:
        assert key not in journal and key.upper() not in journal


def test_receipts_are_skipped_with_a_reason(app, merchant_user, ifirma):
    receipt = issue(merchant_user, "receipt")
    assert db.session.scalar(db.select(Export)) is None  # auto-export leaves receipts out

    integration = db.session.get(Integration, ifirma.integration_id)
    with pytest.raises(ExportRefused) as refused:
        export_document(receipt, integration, "test")
    assert [p.field for p in refused.value.problems] == ["kind"]
    assert "iFirma nie przyjmuje" in refused.value.problems[0].message
    assert ifirma.documents() == []


def test_outside_the_open_month_the_export_is_rejected_with_the_fix(app, sandbox_url, merchant_user, browser):
    account = connect(sandbox_url, merchant_user.merchant_id, accounting_month="2020-01")
    document = issue(merchant_user)
    month = f"{document.issue_date:%m.%Y}"

    run_jobs(app)

    export = db.session.scalar(db.select(Export))
    assert export.state == "rejected" and export.attempts == 1
    assert f"przełącz w iFirma miesiąc księgowy na {month} i ponów eksport" in export.last_error
    assert "01.2020" in export.field_errors["issue_date"][0]
    assert account.documents() == []
    page = browser.get(f"/documents/{document.id}").get_data(as_text=True)
    assert f"miesiąc księgowy na {month}" in page


def test_timeout_after_the_document_was_stored_is_reconciled_without_a_second_document(app, merchant_user, ifirma):
    ifirma.faults(timeout_after_store=1.0, hold_seconds=3)
    document = issue(merchant_user)
    reference = document.reference
    run_queue_once(app, "exports")
    db.session.remove()
    assert db.session.scalar(db.select(Export)).state == "in_doubt"

    ifirma.faults()  # cleared
    run_jobs(app)

    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched", export.last_error
    assert len(ifirma.documents(ref=reference)) == 1 and len(ifirma.documents()) == 1
    assert "lookup" in actions()


def test_an_order_in_euro_is_exported_as_a_currency_invoice_to_fetched_with_its_pdf(app, merchant_user, ifirma):
    order = gen_order(merchant_user.merchant_id, ordered_at=datetime.now(UTC), currency="EUR",
                      exchange_rate=Decimal("4.2715"),
                      items=[("Kubek „Zażółć”", "2", "9.99", "23"), ("Książka", "1", "11.40", "5")])
    document = issue_document(order, "invoice", trigger="test")
    reference = document.reference
    assert (document.currency, document.total_gross) == ("EUR", Decimal("31.38"))

    run_jobs(app)

    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched", export.last_error
    assert export.remote_id.startswith("fakturawaluta:")
    assert export.remote_number.startswith("FWAL 1/")
    assert export.totals_mismatch is None  # euro per rate against euro per rate, to the cent
    assert export.pdf.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(export.pdf)).pages)
    assert export.remote_number in text and "31.38 EUR" in text
    assert actions() == ["create", "fetch"]
    stored = ifirma.documents(ref=reference)
    assert len(stored) == 1 and stored[0]["PelnyNumer"] == export.remote_number
    assert (stored[0]["Waluta"], stored[0]["TypSprzedazy"]) == ("EUR", "KRAJOWA")
    assert Decimal(str(stored[0]["KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury"])) == Decimal("4.2715")
    assert stored[0]["_sandbox"]["totals"]["gross"] == "31.38"
    assert Decimal(str(stored[0]["Zaplacono"])) == Decimal("31.38")  # paid order: paid in euro
    journal = "\n".join(e.request_summary for e in db.session.scalars(db.select(JournalEntry)))
    assert "/iapi/fakturawaluta.json" in journal and "/iapi/fakturakraj" not in journal


def test_an_in_doubt_euro_invoice_is_settled_by_the_currency_lookup(app, merchant_user, ifirma):
    ifirma.faults(timeout_after_store=1.0, hold_seconds=3)
    order = gen_order(merchant_user.merchant_id, ordered_at=datetime.now(UTC), currency="EUR",
                      exchange_rate=Decimal("4.30"))
    reference = issue_document(order, "invoice", trigger="test").reference
    run_queue_once(app, "exports")
    db.session.remove()
    assert db.session.scalar(db.select(Export)).state == "in_doubt"

    ifirma.faults()
    run_jobs(app)

    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched", export.last_error
    assert export.remote_id.startswith("fakturawaluta:") and export.remote_number.startswith("FWAL 1/")
    assert export.totals_mismatch is None
    assert len(ifirma.documents(ref=reference)) == 1 and len(ifirma.documents()) == 1
    assert "lookup" in actions()
