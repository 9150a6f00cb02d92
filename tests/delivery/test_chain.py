"""The merchant's loop closed: a paid order becomes an invoice in the service, and the customer
receives that invoice — by the automatic chain, with real SMTP and the sandbox over HTTP."""
import http.server
import io
import re
import threading
import time
from decimal import Decimal
from typing import ClassVar

import pytest
from pypdf import PdfReader
from werkzeug.datastructures import MultiDict

from tests.conftest import gen_order, run_jobs
from webapp.automation.rules import save_rule
from webapp.crypto import decrypt_credentials
from webapp.delivery.links import invoice_link
from webapp.delivery.services import add_webhook, save_template
from webapp.delivery.webhooks import verify
from webapp.documents.services import issue_document
from webapp.exports.services import provider_for
from webapp.extensions import db
from webapp.models import (
    AutomationRun,
    Document,
    EmailLog,
    Export,
    Integration,
    Order,
    OrderStatus,
    Webhook,
    WebhookDelivery,
)
from webapp.orders.services import create_order


def status_id(merchant_id, name):
    return db.session.scalar(db.select(OrderStatus.id).where(OrderStatus.merchant_id == merchant_id,
                                                             OrderStatus.name == name))


def recommended_chain(merchant_id, attach=True):
    template = save_template(merchant_id, None, {"name": "Faktura", "subject": "Faktura [invoice_number] — zamówienie [order_id]",
                                                 "body": "Dzień dobry [buyer_name], faktura na [total]: [invoice_link]",
                                                 "attach_pdf": "on" if attach else ""})
    issued = status_id(merchant_id, "Faktura wystawiona")
    save_rule(merchant_id, None, MultiDict([
        ("name", "Opłacone → faktura"), ("trigger", "order_paid"), ("active", "on"),
        ("step_type", "issue_document"), ("step_kind", "invoice"), ("step_series", ""), ("step_stop", "yes"),
        ("step_status", ""), ("step_template", ""),
        ("step_type", "change_status"), ("step_kind", ""), ("step_series", ""), ("step_stop", ""),
        ("step_status", str(issued)), ("step_template", ""),
    ]))
    save_rule(merchant_id, None, MultiDict([
        ("name", "Wystawiona → e-mail"), ("trigger", "status_changed"), ("trigger_status_id", str(issued)),
        ("active", "on"), ("step_type", "send_email"), ("step_kind", ""), ("step_series", ""), ("step_stop", ""),
        ("step_status", ""), ("step_template", str(template.id)),
    ]))


def paid_order(merchant_id, shop_order_id="900"):
    order, created = create_order(merchant_id, {
        "source": "Sklep Łąka", "shop_order_id": shop_order_id, "status": "Opłacone",
        "buyer": {"type": "person", "name": "Zofia Wójcik", "street": "ul. Różana 1", "post_code": "02-495",
                  "city": "Warszawa", "email": "zofia@example.com"},
        "payment": {"method": "PayU", "paid": True, "paid_date": "2026-11-20"},
        "items": [{"name": "Świeca sojowa", "quantity": 2, "unit_gross": "45.99", "vat_rate": "23"}],
    })
    assert created
    return order.id


def test_paid_order_runs_issue_export_status_and_email_with_the_service_pdf(app, fakturownia, mail_configured):
    merchant_id = fakturownia.merchant_id
    recommended_chain(merchant_id)
    order_id = paid_order(merchant_id)
    run_jobs(app)
    order = db.session.get(Order, order_id)
    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched"
    assert order.status.name == "Faktura wystawiona"
    assert [m["To"] for m in mail_configured.messages] == ["zofia@example.com"]
    message = mail_configured.messages[0]
    assert message["Subject"] == f"Faktura {export.remote_number} — zamówienie 900"  # the service's number
    attachment = next(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    service_pdf = provider_for(db.session.get(Integration, fakturownia.integration_id)).fetch_pdf(export.remote_id)
    assert attachment.get_content() == service_pdf == export.pdf
    assert "91,98 PLN" in message.get_body(preferencelist=("plain",)).get_content()
    log = db.session.scalar(db.select(EmailLog))
    assert (log.state, log.pdf_source, log.order_id) == ("sent", "service", order_id)
    runs = db.session.scalars(db.select(AutomationRun).order_by(AutomationRun.id)).all()
    assert [r.state for r in runs] == ["done", "done"]


def test_refused_export_stops_the_chain_and_the_order_keeps_its_status(app, fakturownia, mail_configured):
    merchant_id = fakturownia.merchant_id
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.series_links = {"1": "999999"}  # the sandbox refuses: no such department
    db.session.commit()
    recommended_chain(merchant_id)
    order_id = paid_order(merchant_id, "901")
    run_jobs(app)
    assert db.session.get(Order, order_id).status.name == "Opłacone"
    assert mail_configured.messages == []
    run = db.session.scalar(db.select(AutomationRun))
    assert run.state == "stopped"
    assert "Eksport odrzucony" in run.log[-1]["message"] and "Zatrzymano" in run.log[-1]["message"]
    assert db.session.scalar(db.select(db.func.count(AutomationRun.id))) == 1  # the e-mail rule never ran


def _link_email(app, fakturownia, smtp):
    merchant_id = fakturownia.merchant_id
    template = save_template(merchant_id, None, {"name": "Link", "subject": "Faktura [invoice_number]",
                                                 "body": "Pobierz: [invoice_link]"})
    order = gen_order(merchant_id, buyer_email="kupiec@example.com")
    order_id, template_id = order.id, template.id
    issue_document(order, "invoice", trigger="test")
    run_jobs(app)
    from webapp.delivery.mail import queue_email
    from webapp.models import EmailTemplate

    queue_email(db.session.get(Order, order_id), db.session.get(EmailTemplate, template_id), trigger="test")
    run_jobs(app)
    body = smtp.messages[-1].get_body(preferencelist=("plain",)).get_content()
    return re.search(r"(http://\S+/i/\S+)", body).group(1)


def test_link_email_serves_the_pdf_without_login_and_refuses_tampering(app, client, fakturownia, mail_configured):
    url = _link_email(app, fakturownia, mail_configured)
    path = url.split("127.0.0.1:5000", 1)[-1]
    response = client.get(path)
    export = db.session.scalar(db.select(Export))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == export.pdf  # the same document the preview shows
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    assert client.get(tampered).status_code == 404
    assert client.get(path.replace("/i/", "/i/x")).status_code == 404


def test_expired_link_is_refused(app, client, fakturownia, monkeypatch):
    document = issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test")
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 31 * 86400)
    old_link = invoice_link(document)
    monkeypatch.setattr(time, "time", real_time)
    response = client.get(old_link.split("127.0.0.1:5000", 1)[-1])
    assert response.status_code == 410 and "wygasł" in response.get_data(as_text=True)


def test_correction_is_passed_once_to_fakturownia(app, browser, fakturownia):
    from webapp.documents.services import LineChange, issue_correction

    invoice_id = issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test").id
    run_jobs(app)
    invoice = db.session.get(Document, invoice_id)
    correction = issue_correction(invoice, [LineChange(0, Decimal(1), Decimal("39.99"))], "Zwrot kubka")
    correction_id, reference = correction.id, correction.reference
    assert browser.post(f"/documents/{correction_id}/export").status_code == 302
    assert browser.post(f"/documents/{correction_id}/export").status_code == 302  # a second click
    run_jobs(app)
    exports = db.session.scalars(db.select(Export).where(Export.document_id == correction_id)).all()
    assert len(exports) == 1 and exports[0].state == "fetched"
    assert exports[0].totals_mismatch is None  # the service's after-state totals equal the hub's
    assert fakturownia.stored(reference) == 1
    page = browser.get(f"/documents/{correction_id}").get_data(as_text=True)
    assert exports[0].remote_number in page


class Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver.received
    server.shutdown()


def test_webhook_is_signed_and_fired_when_the_final_pdf_is_fetched(app, fakturownia, receiver):
    url, received = receiver
    hook, secret = add_webhook(fakturownia.merchant_id, url)
    assert secret not in bytes(hook.secret_encrypted).decode("latin-1")
    document = issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test")
    number = document.number
    run_jobs(app)
    assert len(received) == 1
    headers, body = received[0]
    assert verify(secret, headers["X-InvoiceBridge-Signature"], body)
    assert not verify(secret, headers["X-InvoiceBridge-Signature"], body.replace(b"fetched", b"fetchet"))
    assert not verify("whsec_wrong", headers["X-InvoiceBridge-Signature"], body)
    assert b'"event": "document.fetched"' in body and number.encode() in body
    delivery = db.session.scalar(db.select(WebhookDelivery))
    assert (delivery.state, delivery.last_status) == ("delivered", 204)
    assert decrypt_credentials(db.session.get(Webhook, hook.id).secret_encrypted)["secret"] == secret


def test_webhook_gives_up_after_its_last_attempt_when_nothing_answers(app, fakturownia):
    app.config["WEBHOOK_BACKOFF_BASE"] = 0.05
    add_webhook(fakturownia.merchant_id, "http://127.0.0.1:9/nothing-listens")
    issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test")
    run_jobs(app, max_seconds=30)
    delivery = db.session.scalar(db.select(WebhookDelivery))
    assert delivery.state == "failed" and delivery.attempts == 8 and "ConnectionError" in delivery.last_error


def test_hub_pdf_is_previewed_until_the_service_copy_exists(app, browser, merchant_user):
    order = gen_order(merchant_user.merchant_id)
    document = issue_document(order, "invoice", trigger="test")
    page = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f'src="/documents/{document.id}/pdf"' in page and "dokument huba" in page
    pdf = browser.get(f"/documents/{document.id}/pdf").data
    assert "Łódzka" in PdfReader(io.BytesIO(pdf)).pages[0].extract_text()


def test_smtp_test_send_reports_success_and_failure(app, browser, smtp_server, merchant_user):
    response = browser.post("/delivery/mail", data={"host": "127.0.0.1", "port": str(smtp_server.port),
                                                    "security": "none", "sender": "faktury@zazolc.pl", "test": "1"},
                            follow_redirects=True)
    assert "Wysłano wiadomość testową" in response.get_data(as_text=True)
    assert "zażółć gęślą jaźń" in smtp_server.messages[0]["Subject"]
    response = browser.post("/delivery/mail", data={"host": "127.0.0.1", "port": "9", "security": "none",
                                                    "sender": "faktury@zazolc.pl", "test": "1"}, follow_redirects=True)
    assert "Nie udało się wysłać" in response.get_data(as_text=True)


def test_correction_is_passed_once_to_infakt(app, browser, merchant_user, sandbox_url):
    from tests.sandbox_accounts import new_account, stored_documents
    from webapp.documents.services import LineChange, issue_correction
    from webapp.exports.services import create_integration

    account = new_account(sandbox_url, "infakt")
    integration = create_integration(merchant_user.merchant_id, "infakt", "inFakt", account.credentials,
                                     base_url=account.base_url, auto_export=True)
    integration.options = account.options
    db.session.commit()
    invoice_id = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test").id
    run_jobs(app)
    invoice = db.session.get(Document, invoice_id)
    correction_id = issue_correction(invoice, [LineChange(0, Decimal(1), Decimal("39.99"))], "Zwrot").id
    page = browser.get(f"/documents/{correction_id}").get_data(as_text=True)
    assert "Przekaż korektę do inFakt" in page  # inFakt takes corrections: the button is there
    browser.post(f"/documents/{correction_id}/export")
    browser.post(f"/documents/{correction_id}/export")
    run_jobs(app)
    export = db.session.scalar(db.select(Export).where(Export.document_id == correction_id))
    assert export.state == "fetched", export.last_error
    corrections = stored_documents(sandbox_url, account, kind="correction")
    assert len(corrections) == 1
