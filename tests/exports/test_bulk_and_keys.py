"""Export all (preview, one click, progress), key rotation, refresh, the superseded hub copy."""
import io
import re
from decimal import Decimal

from pypdf import PdfReader
from sqlalchemy import text

from tests.conftest import gen_order, run_jobs
from webapp.crypto import decrypt_credentials
from webapp.documents.services import issue_document
from webapp.exports.bulk import BulkFilters, preview_bulk, progress, start_bulk
from webapp.exports.services import create_integration
from webapp.extensions import db
from webapp.models import BulkRun, Export, Integration, JournalEntry


def _issue_without_export(merchant_id, kind="invoice", **fields):
    return issue_document(gen_order(merchant_id, **fields), kind, trigger="test")


def test_preview_counts_what_will_be_sent_and_why_others_are_skipped(app, fakturownia):
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.auto_export = False
    db.session.commit()
    merchant_id = fakturownia.merchant_id
    for _ in range(3):
        _issue_without_export(merchant_id)
    bad = _issue_without_export(merchant_id, items=[("Kubek", "1", "10.00", "23")])
    bad.notes = "x" * 300  # longer than KSeF's 256 characters
    db.session.commit()
    preview = preview_bulk(integration, BulkFilters())
    assert (preview.total, preview.to_send, preview.already) == (4, 3, 0)
    assert preview.skipped == {"nie przechodzi kontroli przed wysyłką": 1}
    assert preview.problems[0][0].id == bad.id and preview.problems[0][1][0].field == "notes"


def test_receipts_are_skipped_with_a_reason_for_a_service_without_receipts(app, merchant_user):
    infakt = create_integration(merchant_user.merchant_id, "infakt", "inFakt", {"api_key": "k"}, auto_export=False)
    _issue_without_export(merchant_user.merchant_id, "receipt")
    preview = preview_bulk(infakt, BulkFilters(kind="receipt"))
    from providers import PROVIDERS

    expected = f"{PROVIDERS['infakt'].display_name} nie przyjmuje paragonów"
    assert preview.to_send == 0 and preview.skipped == {expected: 1}


def test_export_all_returns_at_once_then_sends_everything_once(app, browser, fakturownia):
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.auto_export = False
    db.session.commit()
    merchant_id, integration_id = fakturownia.merchant_id, fakturownia.integration_id
    references = [_issue_without_export(merchant_id).reference for _ in range(5)]
    page = browser.get(f"/integrations/{integration_id}/bulk").get_data(as_text=True)
    assert 'data-count="to_send">5<' in page
    response = browser.post(f"/integrations/{integration_id}/bulk")
    run = db.session.scalar(db.select(BulkRun))
    assert response.location == f"/integrations/{integration_id}/bulk/{run.id}"
    assert db.session.scalar(db.select(db.func.count(Export.id))) == 0  # the request only queued the run
    run_jobs(app)
    run = db.session.scalar(db.select(BulkRun))
    assert run.state == "done" and run.enqueued == 5
    assert progress(run) == {"fetched": 5}
    assert [fakturownia.stored(ref) for ref in references] == [1] * 5
    page = browser.get(f"/integrations/{integration_id}/bulk/{run.id}").get_data(as_text=True)
    assert 'data-state="fetched">5<' in page
    # A second run finds them all already passed and sends nothing.
    start_bulk(db.session.get(Integration, integration_id), BulkFilters(), "test")
    run_jobs(app)
    second = db.session.scalars(db.select(BulkRun).order_by(BulkRun.id.desc())).first()
    assert second.enqueued == 0 and second.skipped_reasons == {"już przekazane": 5}


def test_fetched_document_marks_the_hub_copy_superseded_and_refreshes(app, browser, fakturownia):
    document = issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test")
    document_id = document.id
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    hub_pdf = browser.get(f"/documents/{document_id}/pdf").data
    text_ = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(hub_pdf)).pages)
    assert "Kopia robocza" in text_ and export.remote_number in text_
    export_id = export.id
    assert browser.post(f"/integrations/exports/{export_id}/refresh").status_code == 302
    run_jobs(app)
    fetches = db.session.scalar(db.select(db.func.count(JournalEntry.id)).where(JournalEntry.action == "fetch"))
    assert fetches == 2
    journal_page = browser.get(f"/integrations/{fakturownia.integration_id}/journal").get_data(as_text=True)
    assert "Pobrano numer" in journal_page and fakturownia.token not in journal_page


def test_a_refresh_without_a_pdf_keeps_the_pdf_already_fetched(app, browser, fakturownia, monkeypatch):
    from providers.base import NotSupported
    from providers.fakturownia import FakturowniaProvider

    issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test")
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    first_pdf, export_id = export.pdf, export.id
    assert first_pdf.startswith(b"%PDF")

    def no_pdf(self, remote_id):
        raise NotSupported("PDF tylko w panelu usługi")

    monkeypatch.setattr(FakturowniaProvider, "fetch_pdf", no_pdf)
    assert browser.post(f"/integrations/exports/{export_id}/refresh").status_code == 302
    run_jobs(app)
    export = db.session.get(Export, export_id)
    assert export.state == "fetched" and export.pdf == first_pdf
    last = db.session.scalar(db.select(JournalEntry).order_by(JournalEntry.id.desc()))
    assert last.action == "fetch" and "PDF niedostępny przez API" in last.message


def test_rotate_credentials_key_reencrypts_every_integration(app, merchant_user, instance_dir):
    integration = create_integration(merchant_user.merchant_id, "fakturownia", "F", {"api_token": "sekret-ąę"})
    before = bytes(db.session.execute(text("SELECT credentials_encrypted FROM integration")).scalar_one())
    result = app.test_cli_runner().invoke(args=["rotate-credentials-key"])
    assert "Re-encrypted with the newest key: 1 integration credentials" in result.output
    db.session.expire_all()
    after = bytes(db.session.execute(text("SELECT credentials_encrypted FROM integration")).scalar_one())
    assert after != before and b"sekret" not in after
    keys = (instance_dir / "credentials.keys").read_text().split()
    assert len(keys) >= 2
    # The newest key alone reads the rotated row: the old key can be retired.
    app.config["CREDENTIALS_KEYS"] = keys[0]
    assert decrypt_credentials(db.session.get(Integration, integration.id).credentials_encrypted) == {"api_token": "sekret-ąę"}
    del app.config["CREDENTIALS_KEYS"]


def test_totals_difference_is_flagged_with_both_figures(app, fakturownia):
    from providers.base import RateTotal, RemoteDocument
    from webapp.exports.jobs import compare_totals

    document = issue_document(gen_order(fakturownia.merchant_id, items=[("Kubek", "1", "123.00", "23")]),
                              "invoice", trigger="test")
    export = db.session.scalar(db.select(Export))
    remote = RemoteDocument("1", "FV 1", "issued", None, None, Decimal("123.01"),
                            (RateTotal("23", Decimal("100.01"), Decimal("23.00"), Decimal("123.01")),))
    differences = compare_totals(export, remote)
    assert differences["23 gross"] == {"hub": "123.00", "service": "123.01"}
    assert differences["brutto"] == {"hub": "123.00", "service": "123.01"}
    assert document.total_gross == Decimal("123.00")


def test_document_card_lists_every_preflight_problem_before_sending(app, browser, fakturownia):
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.auto_export = True
    integration.send_sku = True
    db.session.commit()
    order = gen_order(fakturownia.merchant_id, items=[("Kubek", "1", "10.00", "23"), ("Talerz", "1", "5.00", "8")])
    for item in order.items:
        item.sku = ""
    db.session.commit()
    document = issue_document(order, "invoice", trigger="test")
    export = db.session.scalar(db.select(Export))
    assert export.state == "rejected" and set(export.field_errors) >= {"lines[0].sku", "lines[1].sku"}
    page = browser.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "lines[0].sku" in page and "lines[1].sku" in page
    run_jobs(app)
    assert fakturownia.stored(document.reference) == 0  # nothing was sent


def _export(document, integration_id, state, **fields):
    export = Export(merchant_id=document.merchant_id, document_id=document.id, integration_id=integration_id,
                    state=state, trigger="test", field_errors={}, **fields)
    db.session.add(export)
    db.session.commit()
    return export


def test_only_sent_or_fetched_documents_count_as_already_passed(app, browser, merchant_user):
    from webapp.exports import bulk

    integration = create_integration(merchant_user.merchant_id, "fakturownia", "F", {"api_token": "t"},
                                     auto_export=False)
    states = ("fetched", "sent", "queued", "sending", "retrying", "in_doubt", "rejected")
    for state in states:
        _export(_issue_without_export(merchant_user.merchant_id), integration.id, state)
    _issue_without_export(merchant_user.merchant_id)  # not passed: the only one to send
    preview = preview_bulk(integration, BulkFilters())
    assert (preview.total, preview.to_send, preview.already, preview.in_progress, preview.rejected) == (8, 1, 2, 4, 1)
    page = browser.get(f"/integrations/{integration.id}/bulk", headers={"HX-Request": "true"}).get_data(as_text=True)
    for name, count in (("to_send", 1), ("already", 2), ("in_progress", 4), ("rejected", 1)):
        assert f'data-count="{name}">{count}<' in page, name
    run = start_bulk(integration, BulkFilters(), "test")
    bulk.run_bulk(run.id)
    run = db.session.get(BulkRun, run.id)
    assert (run.planned, run.enqueued) == (1, 1)
    assert run.skipped_reasons == {bulk.ALREADY: 2, bulk.IN_PROGRESS: 4, bulk.REJECTED: 1}


def test_rejected_exports_are_retried_in_bulk_after_a_fix(app, browser, fakturownia):
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.send_sku = True  # and the orders' items have no SKU: refused before sending
    db.session.commit()
    merchant_id, integration_id = fakturownia.merchant_id, fakturownia.integration_id
    refused = []
    for _ in range(2):
        order = gen_order(merchant_id)
        for item in order.items:
            item.sku = ""
        db.session.commit()
        refused.append(issue_document(order, "invoice", trigger="test").reference)
    fine = issue_document(gen_order(merchant_id), "invoice", trigger="test").reference
    run_jobs(app)
    assert db.session.scalar(db.select(db.func.count(Export.id)).where(Export.state == "rejected")) == 2
    assert fakturownia.stored(fine) == 1

    hx = {"HX-Request": "true"}
    before_fix = browser.get(f"/integrations/{integration_id}/bulk?bulk_state=rejected", headers=hx).get_data(as_text=True)
    assert 'data-count="to_retry">0<' in before_fix and "sku" in before_fix  # still failing: listed, not retried
    integration = db.session.get(Integration, integration_id)
    integration.send_sku = False  # the settings fix
    db.session.commit()
    default = browser.get(f"/integrations/{integration_id}/bulk", headers=hx).get_data(as_text=True)
    assert 'data-count="to_send">0<' in default and 'data-count="rejected">2<' in default
    preview = browser.get(f"/integrations/{integration_id}/bulk?bulk_state=rejected", headers=hx).get_data(as_text=True)
    assert 'data-count="to_retry">2<' in preview and "Ponów 2 dokumentów" in preview
    assert 'name="bulk_state" value="rejected"' in preview
    browser.post(f"/integrations/{integration_id}/bulk", data={"bulk_state": "rejected"})
    run_jobs(app)
    run = db.session.scalar(db.select(BulkRun))
    assert (run.state, run.planned, run.enqueued) == ("done", 2, 2)
    assert run.filters["state"] == "rejected"
    retried = db.session.scalars(db.select(Export).where(Export.bulk_run_id == run.id)).all()
    assert len(retried) == 2 and all(e.state == "fetched" and e.generation >= 1 for e in retried)
    assert progress(run) == {"fetched": 2}
    assert [fakturownia.stored(ref) for ref in (*refused, fine)] == [1, 1, 1]  # each exactly once


def test_progress_bar_runs_to_the_planned_count_not_the_rows_written(app, browser, merchant_user, monkeypatch):
    from webapp.exports import bulk

    integration = create_integration(merchant_user.merchant_id, "fakturownia", "F", {"api_token": "t"},
                                     auto_export=False)
    for _ in range(5):
        _issue_without_export(merchant_user.merchant_id)
    monkeypatch.setattr(bulk, "BATCH_SIZE", 2)
    run_id = start_bulk(integration, BulkFilters(), "test").id
    seen = []
    enqueue = bulk.enqueue_exports

    def watching(exports):
        page = browser.get(f"/integrations/{integration.id}/bulk/{run_id}",
                           headers={"HX-Request": "true"}).get_data(as_text=True)
        seen.append(re.search(r'<progress max="(\d+)" value="(\d+)"', page).groups())
        written = sum(int(n) for n in re.findall(r'<strong data-state="\w+">(\d+)<', page))
        seen[-1] += (written,)
        return enqueue(exports)

    monkeypatch.setattr(bulk, "enqueue_exports", watching)
    bulk.run_bulk(run_id)
    assert [max_ for max_, _, _ in seen] == ["5", "5", "5"]
    assert [written for *_, written in seen] == [2, 4, 5]  # the bar's maximum was known from the start
