import io
import re
import threading
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from tests.conftest import gen_order
from webapp.documents.services import IssueRefused, LineChange, issue_correction, issue_document
from webapp.extensions import db
from webapp.models import Document, Series


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_issue_invoice_from_the_order_card_and_open_its_pdf(browser, merchant_user):
    order = gen_order(merchant_user.merchant_id)
    response = browser.post(f"/orders/{order.id}/issue", data={"kind": "invoice"})
    document = db.session.scalar(db.select(Document))
    assert response.location == f"/documents/{document.id}"
    page = browser.get(response.location).get_data(as_text=True)
    assert f"Faktura VAT {document.number}" in page
    assert document.number == f"FV/1/{date.today():%m/%Y}" or document.number.startswith("FV/1/")
    pdf = browser.get(f"/documents/{document.id}/pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    text = pdf_text(pdf.data)
    for expected in ("Łódzka Spółdzielnia Ćwiczeń", "Kubek „Zażółć”", document.number, "7251801126"):
        assert expected in text
    # 2 × 39.99 + 14.99 = 94.97 at 23 %: VAT 17.76, net 77.21; 49.00 at 5 %: VAT 2.33, net 46.67
    for amount in ("77,21", "17,76", "94,97", "46,67", "2,33", "49,00", "143,97"):
        assert amount in text, amount


def test_document_snapshot_does_not_follow_later_order_edits(merchant_user):
    order = gen_order(merchant_user.merchant_id)
    document = issue_document(order, "invoice")
    order.buyer_company_name = "Zmieniona nazwa"
    order.items[0].unit_gross = Decimal("1.00")
    db.session.commit()
    db.session.refresh(document)
    assert document.buyer["company_name"] == "Łódzka Spółdzielnia Ćwiczeń"
    assert document.lines[0].unit_gross == Decimal("39.99")
    assert document.total_gross == Decimal("143.97")


def test_an_order_gets_one_invoice_and_one_receipt_at_most(merchant_user):
    order = gen_order(merchant_user.merchant_id)
    issue_document(order, "invoice")
    with pytest.raises(IssueRefused, match="ma już dokument"):
        issue_document(order, "invoice")
    receipt = issue_document(order, "receipt")
    assert receipt.number.startswith("PAR/1/") and receipt.payment_due is None


def test_invoice_needs_a_buyer_name(merchant_user):
    order = gen_order(merchant_user.merchant_id, buyer_is_company=False, buyer_name="")
    with pytest.raises(IssueRefused, match="imienia i nazwiska"):
        issue_document(order, "invoice")
    assert issue_document(order, "receipt").kind == "receipt"


def test_numbers_are_consecutive_and_reset_monthly(merchant_user):
    numbers = [issue_document(gen_order(merchant_user.merchant_id), "invoice", issue_date=d).number
               for d in (date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2))]
    assert numbers == ["FV/1/10/2026", "FV/2/10/2026", "FV/1/11/2026", "FV/2/11/2026"]


def test_failed_issue_leaves_no_gap(merchant_user):
    first = issue_document(gen_order(merchant_user.merchant_id), "invoice", issue_date=date(2026, 11, 3))
    bad = gen_order(merchant_user.merchant_id, buyer_is_company=False, buyer_name="")
    with pytest.raises(IssueRefused):
        issue_document(bad, "invoice", issue_date=date(2026, 11, 3))
    second = issue_document(gen_order(merchant_user.merchant_id), "invoice", issue_date=date(2026, 11, 3))
    assert (first.sequence, second.sequence) == (1, 2)


def _race_issuing(app, merchant_id: int, count: int = 12) -> None:
    """`count` threads, each with its own session, wait at a barrier and then issue an invoice at
    once in the same series and month: the numbers must come out distinct and consecutive."""
    from webapp.models import Order

    order_ids = [gen_order(merchant_id).id for _ in range(count)]
    barrier = threading.Barrier(count, timeout=20)
    errors = []

    def issue(order_id):
        with app.app_context():
            try:
                order = db.session.get(Order, order_id)
                _ = order.items, order.documents  # loaded before the race, so the race is the issuing
                barrier.wait()
                issue_document(order, "invoice", issue_date=date(2026, 11, 5))
            except Exception as error:  # noqa: BLE001 - the assertion below reports it
                errors.append(repr(error))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=issue, args=(oid,)) for oid in order_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db.session.expire_all()
    rows = db.session.execute(db.select(Document.sequence, Document.number)).all()
    assert sorted(sequence for sequence, _ in rows) == list(range(1, count + 1))
    assert sorted(number for _, number in rows) == sorted(f"FV/{n}/11/2026" for n in range(1, count + 1))


def test_concurrent_issuing_in_one_series_gives_unique_gapless_numbers(app, merchant_user):
    _race_issuing(app, merchant_user.merchant_id)


@pytest.mark.postgres
def test_concurrent_issuing_on_postgresql(app, merchant_user):
    """The same race where row locks are real (the CI's second pass sets DATABASE_URL to PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgresql://…")
    _race_issuing(app, merchant_user.merchant_id)  # 12 threads: within the connection pool (5 + 10)


def test_series_settings_refuse_a_format_that_would_repeat_numbers(browser):
    response = browser.post("/settings/series/new", data={
        "name": "Zła", "kind": "invoice", "format": "FV/{nr}", "reset": "monthly", "payment_days": "7"})
    assert response.status_code == 200
    assert "Numeracja miesięczna wymaga {MM} i {YYYY}" in response.get_data(as_text=True)
    response = browser.post("/settings/series/new", data={
        "name": "Hurt", "kind": "invoice", "format": "FH/{nr}/{YYYY}", "reset": "yearly", "payment_days": "14",
        "hide_payment_date": "y"})
    assert response.status_code == 302
    series = db.session.scalar(db.select(Series).where(Series.name == "Hurt"))
    assert series.hide_payment_date and series.payment_days == 14


def test_hidden_payment_date_is_not_printed(merchant_user):
    series = db.session.scalar(db.select(Series).where(Series.kind == "invoice"))
    series.hide_payment_date = True
    db.session.commit()
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    assert document.payment_due is None


def test_correction_with_changed_and_removed_lines(browser, merchant_user):
    invoice = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    response = browser.post(f"/documents/{invoice.id}/correct", data={
        "lines[0].quantity": "1", "lines[0].unit_gross": "39.99",
        "lines[1].quantity": "1", "lines[1].unit_gross": "49.00",
        "lines[2].quantity": "1", "lines[2].unit_gross": "14.99", "lines[2].removed": "on",
        "reason": "Zwrot jednego kubka i kosztów wysyłki"})
    correction = db.session.scalar(db.select(Document).where(Document.kind == "correction"))
    assert response.location == f"/documents/{correction.id}"
    assert correction.corrects_id == invoice.id and correction.number.startswith("FK/1/")
    assert correction.total_gross == Decimal("-54.98")
    assert [line.quantity for line in correction.lines_of("after")] == [Decimal(1), Decimal(1)]
    text = pdf_text(browser.get(f"/documents/{correction.id}/pdf").data)
    assert invoice.number in text and "Zwrot jednego kubka" in text and "54,98" in text


def test_correction_that_changes_nothing_is_refused(merchant_user):
    invoice = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    changes = [LineChange(i, line.quantity, line.unit_gross) for i, line in enumerate(invoice.lines)]
    with pytest.raises(IssueRefused, match="nic nie zmienia"):
        issue_correction(invoice, changes, "bez zmian")


def test_second_correction_starts_from_the_first_ones_result(merchant_user):
    invoice = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    issue_correction(invoice, [LineChange(0, Decimal(1), Decimal("39.99"))], "pierwsza")
    second = issue_correction(invoice, [LineChange(0, Decimal(1), Decimal("30.00"))], "druga")
    assert second.lines_of("before")[0].quantity == Decimal(1)
    assert second.total_gross == Decimal("-9.99")


def test_bulk_issue_reports_issued_and_refused(browser, merchant_user):
    good = gen_order(merchant_user.merchant_id)
    bad = gen_order(merchant_user.merchant_id, buyer_is_company=False, buyer_name="")
    response = browser.post("/orders/bulk-issue", data={"kind": "invoice", "order_ids": [good.id, bad.id]},
                            follow_redirects=True)
    page = response.get_data(as_text=True)
    assert re.search(r"Wystawiono 1: FV/1/", page)
    assert f"#{bad.shop_order_id}: Faktura wymaga imienia i nazwiska" in page


def test_eur_invoice_prints_the_exchange_rate_and_vat_in_pln(merchant_user):
    order = gen_order(merchant_user.merchant_id, currency="EUR", exchange_rate=Decimal("4.2718"),
                      items=[("Kubek", "1", "123.00", "23")])
    document = issue_document(order, "invoice")
    from webapp.documents.pdf import render_pdf
    from webapp.documents.views import printable_for

    text = pdf_text(render_pdf(printable_for(document)))
    assert "4,2718" in text and "EUR" in text
    assert "98,25" in text  # VAT 23.00 EUR × 4.2718 = 98.2514 PLN


def test_correction_form_previews_before_and_after(browser, merchant_user):
    invoice = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    response = browser.post(f"/documents/{invoice.id}/correct", data={
        "lines[0].quantity": "1", "lines[0].unit_gross": "39.99", "lines[1].quantity": "1",
        "lines[1].unit_gross": "49.00", "lines[2].quantity": "1", "lines[2].unit_gross": "14.99",
        "reason": "Zwrot", "preview": "1"})
    page = response.get_data(as_text=True)
    assert "Przed korektą" in page and "Po korekcie" in page
    assert "<span data-difference>-39.99</span>" in page and "do zwrotu" in page
    assert db.session.scalar(db.select(db.func.count(Document.id)).where(Document.kind == "correction")) == 0


def test_no_correction_button_for_a_service_without_corrections(browser, merchant_user):
    from webapp.documents.services import LineChange
    from webapp.exports.services import create_integration

    create_integration(merchant_user.merchant_id, "wfirma", "wFirma", {"x": "y"}, auto_export=True)
    invoice = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    correction = issue_correction(invoice, [LineChange(0, Decimal(1), Decimal("39.99"))], "Zwrot")
    page = browser.get(f"/documents/{correction.id}").get_data(as_text=True)
    assert 'id="no-correction-export"' in page and "nie przyjmuje korekt" in page
    assert "Przekaż korektę" not in page


# --- passing a document by hand (the card's export button) ------------------------------------

def _export_jobs(app) -> list[str]:
    from rq import Queue

    from webapp.exports.services import EXPORT_QUEUE
    from webapp.redis_conn import get_redis

    return Queue(EXPORT_QUEUE, connection=get_redis(app)).get_job_ids()


def test_export_by_hand_when_no_integration_passes_automatically(app, browser, merchant_user):
    from webapp.exports.services import create_integration
    from webapp.models import Export

    integration = create_integration(merchant_user.merchant_id, "fakturownia", "Moja Fakturownia",
                                     {"api_token": "t"}, auto_export=False)
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    too_long = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    too_long.notes = "x" * 300  # longer than KSeF's 256 characters
    db.session.commit()
    assert db.session.scalar(db.select(db.func.count(Export.id))) == 0  # "off": nothing on issue

    page = browser.get(f"/documents/{document.id}").get_data(as_text=True)
    assert "Prześlij do Moja Fakturownia" in page and "Połącz usługę księgową" not in page
    assert 'id="preflight"' not in page
    bad = browser.get(f"/documents/{too_long.id}").get_data(as_text=True)
    assert 'id="preflight"' in bad and "Kontrola przed wysyłką do Moja Fakturownia" in bad and "notes" in bad

    response = browser.post(f"/documents/{document.id}/export", data={"integration": integration.id})
    assert response.status_code == 302 and response.location == f"/documents/{document.id}"
    export = db.session.scalar(db.select(Export))
    assert (export.document_id, export.integration_id, export.state) == (document.id, integration.id, "queued")
    assert _export_jobs(app) == [f"export-{export.id}-0"]
    assert "Eksport zlecony." in browser.get(response.location).get_data(as_text=True)
    # Without a choice the only integration is the default one; the pre-flight refusal is named.
    browser.post(f"/documents/{too_long.id}/export")
    assert "nie przeszedł kontroli" in browser.get(f"/documents/{too_long.id}").get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Export.id))) == 1


def test_card_chooses_among_several_integrations_of_the_merchant_only(app, browser, merchant_user, other_user):
    from webapp.exports.services import create_integration
    from webapp.models import Export

    first = create_integration(merchant_user.merchant_id, "fakturownia", "Pierwsza", {"api_token": "t"},
                               auto_export=False)
    second = create_integration(merchant_user.merchant_id, "infakt", "Druga", {"api_key": "k"}, auto_export=False)
    foreign = create_integration(other_user.merchant_id, "fakturownia", "Cudza", {"api_token": "t"})
    receipt = issue_document(gen_order(merchant_user.merchant_id), "receipt")
    page = browser.get(f"/documents/{receipt.id}").get_data(as_text=True)
    select = re.search(r'<select name="integration".*?</select>', page, re.DOTALL).group(0)
    assert "wybierz integrację" in select and ">Pierwsza<" in select and ">Druga<" in select and "Cudza" not in select
    assert 'id="preflight"' not in page  # nothing chosen yet, nothing checked
    # Choosing inFakt (no receipts) checks the receipt against it.
    chosen = browser.get(f"/documents/{receipt.id}?integration={second.id}").get_data(as_text=True)
    assert f'<option value="{second.id}" selected>' in chosen
    assert "Kontrola przed wysyłką do Druga" in chosen and "nie przyjmuje dokumentów tego rodzaju" in chosen
    # Another merchant's integration: 404, nothing written.
    assert browser.post(f"/documents/{receipt.id}/export", data={"integration": foreign.id}).status_code == 404
    # No choice with two and none automatic: the merchant is asked to choose.
    browser.post(f"/documents/{receipt.id}/export")
    assert "Wybierz integrację" in browser.get(f"/documents/{receipt.id}").get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Export.id))) == 0
    assert browser.post(f"/documents/{receipt.id}/export", data={"integration": first.id}).status_code == 302
    assert db.session.scalar(db.select(Export.integration_id)) == first.id


def test_a_double_click_on_export_answers_already_passed(app, browser, merchant_user):
    from webapp.exports.services import create_integration
    from webapp.models import Export

    create_integration(merchant_user.merchant_id, "fakturownia", "Fakturownia", {"api_token": "t"},
                       auto_export=False)
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    first = browser.post(f"/documents/{document.id}/export")
    second = browser.post(f"/documents/{document.id}/export")
    assert (first.status_code, second.status_code) == (302, 302)
    page = browser.get(f"/documents/{document.id}").get_data(as_text=True)
    assert f"Dokument {document.number} jest już przekazany do integracji „Fakturownia”." in page
    assert db.session.scalar(db.select(db.func.count(Export.id))) == 1
    assert len(_export_jobs(app)) == 1


@pytest.mark.parametrize("kind", ["invoice", "correction"])
def test_a_concurrent_export_between_check_and_insert_is_no_500(app, browser, merchant_user, monkeypatch, kind):
    """Two requests both pass the "no export yet" check; the second one's INSERT hits the unique
    document constraint. Simulated: the row appears (committed by another connection) right after
    the check, while the pre-flight runs."""
    from webapp.exports import services
    from webapp.exports.services import create_integration
    from webapp.models import Export

    integration = create_integration(merchant_user.merchant_id, "fakturownia", "Fakturownia", {"api_token": "t"},
                                     auto_export=False)
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    if kind == "correction":
        db.session.add(Export(merchant_id=merchant_user.merchant_id, document_id=document.id,
                              integration_id=integration.id, state="fetched", remote_id="R-1", trigger="test",
                              field_errors={}))
        db.session.commit()
        document = issue_correction(document, [LineChange(0, Decimal(1), Decimal("39.99"))], "Zwrot")
    document_id, number = document.id, document.number
    real_preflight = services.preflight

    def racing_preflight(doc, integ):
        with db.engine.begin() as other:
            other.execute(Export.__table__.insert().values(
                merchant_id=merchant_user.merchant_id, document_id=doc.id, integration_id=integ.id, state="queued",
                attempts=0, generation=0, trigger="the other click", last_error="", field_errors={}))
        return real_preflight(doc, integ)

    monkeypatch.setattr(services, "preflight", racing_preflight)
    response = browser.post(f"/documents/{document_id}/export")
    assert response.status_code == 302
    monkeypatch.setattr(services, "preflight", real_preflight)
    page = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    assert f"Dokument {number} jest już przekazany do integracji „Fakturownia”." in page
    assert db.session.scalars(db.select(Export.trigger).where(Export.document_id == document_id)).all() == [
        "the other click"]
