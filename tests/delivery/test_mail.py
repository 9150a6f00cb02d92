"""E-mail delivery with a real SMTP server (aiosmtpd): retries, what was sent, STARTTLS with a
login, the mail server's address rule, the demo sink; link expiry; webhooks that wait for the
PDF and retry; the document card's PDF links; corrections to 0."""
import datetime
import hashlib
import ipaddress
import re
import smtplib
import socket
import ssl
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import ClassVar

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import text

from tests.conftest import gen_order, run_jobs, run_queue_once
from tests.delivery.test_automation import rule_form
from tests.delivery.test_chain import Receiver, receiver  # noqa: F401 (fixture)
from webapp.automation.rules import save_rule
from webapp.delivery.links import invoice_link
from webapp.delivery.mail import queue_email, send_email_job, send_test_job
from webapp.delivery.services import SettingsRefused, add_webhook, save_mail_settings, save_template
from webapp.documents.services import issue_document
from webapp.extensions import db
from webapp.models import (
    AutomationRun,
    Document,
    EmailLog,
    EmailTemplate,
    Export,
    Integration,
    MailSettings,
    Order,
    WebhookDelivery,
)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Moody:
    """Answers DATA with the given replies in turn, then accepts."""

    def __init__(self, *replies):
        self.replies, self.messages, self.attempts = list(replies), [], 0

    async def handle_DATA(self, server, session, envelope):
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def moody_smtp(app, merchant_user):
    servers = []

    def start(*replies):
        handler, port = Moody(*replies), free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port)
        controller.start()
        servers.append(controller)
        save_mail_settings(merchant_user.merchant_id, {"host": "127.0.0.1", "port": str(port), "security": "none",
                                                       "sender": "faktury@zazolc.pl"})
        return handler

    yield start
    for controller in servers:
        controller.stop()


def link_email(merchant_id):
    template = save_template(merchant_id, None, {"name": "Link", "subject": "Faktura [invoice_number]",
                                                 "body": "Pobierz: [invoice_link]"})
    order = gen_order(merchant_id, buyer_email="kupiec@example.com")
    issue_document(order, "invoice", trigger="test")
    return queue_email(db.session.get(Order, order.id), db.session.get(EmailTemplate, template.id), trigger="test").id


# --- retries ------------------------------------------------------------------------------------------

def test_temporary_smtp_refusal_is_retried_with_backoff_until_accepted(app, merchant_user, moody_smtp):
    app.config["MAIL_BACKOFF_BASE"] = 0.05
    server = moody_smtp("451 4.3.0 Spróbuj później", "421 4.7.0 Za dużo połączeń")
    log_id = link_email(merchant_user.merchant_id)
    run_jobs(app)
    log = db.session.get(EmailLog, log_id)
    assert (log.state, log.attempts, log.error) == ("sent", 3, "")
    assert server.attempts == 3 and len(server.messages) == 1


def test_permanent_smtp_refusal_fails_at_once(app, merchant_user, moody_smtp):
    app.config["MAIL_BACKOFF_BASE"] = 0.05
    server = moody_smtp("550 5.1.1 Nie ma takiej skrzynki")
    log_id = link_email(merchant_user.merchant_id)
    run_jobs(app)
    log = db.session.get(EmailLog, log_id)
    assert (log.state, log.attempts) == ("failed", 1)
    assert "550" in log.error and server.attempts == 1 and server.messages == []


def test_unreachable_server_is_retried_then_given_up(app, merchant_user):
    app.config.update(MAIL_BACKOFF_BASE=0.05, MAIL_MAX_ATTEMPTS=3)
    save_mail_settings(merchant_user.merchant_id, {"host": "127.0.0.1", "port": str(free_port()), "security": "none",
                                                   "sender": "faktury@zazolc.pl"})
    log_id = link_email(merchant_user.merchant_id)
    run_queue_once(app, "default")
    db.session.expire_all()
    log = db.session.get(EmailLog, log_id)
    assert (log.state, log.attempts) == ("retrying", 1) and "ConnectionRefusedError" in log.error
    run_jobs(app)
    log = db.session.get(EmailLog, log_id)
    assert (log.state, log.attempts) == ("failed", 3) and "po 3 próbach" in log.error


def test_send_job_run_twice_sends_once(app, merchant_user, moody_smtp):
    server = moody_smtp()
    log_id = link_email(merchant_user.merchant_id)
    assert send_email_job(log_id) == "sent"
    assert send_email_job(log_id) == "nothing to send"
    run_jobs(app)
    assert len(server.messages) == 1


def test_the_run_log_shows_the_emails_outcome(app, browser, fakturownia, moody_smtp):
    app.config["MAIL_BACKOFF_BASE"] = 0.05
    moody_smtp("554 5.7.1 Odrzucone jako spam")
    merchant_id = fakturownia.merchant_id
    template = save_template(merchant_id, None, {"name": "T", "subject": "Faktura [invoice_number]",
                                                 "body": "[invoice_link]"})
    save_rule(merchant_id, None, rule_form("Faktura i e-mail", "new_order", [
        {"type": "issue_document", "kind": "invoice", "stop": "yes"}, {"type": "send_email", "template": template.id}]))
    from webapp.orders.services import create_order

    order, _created = create_order(merchant_id, {
        "source": "Sklep", "shop_order_id": "77", "buyer": {"type": "person", "name": "Zofia", "email": "z@example.com"},
        "items": [{"name": "Świeca", "quantity": 1, "unit_gross": "45.99", "vat_rate": "23"}]})
    order_id = order.id
    run_jobs(app)
    run = db.session.scalar(db.select(AutomationRun))
    assert run.state == "done" and [e.state for e in run.emails] == ["failed"]
    for page in (browser.get(f"/orders/{order_id}"), browser.get("/automation/")):
        html = page.get_data(as_text=True)
        runs = html[html.index('data-run-state="done"'):]
        assert re.search(r'class="run-email" data-email-state="failed">[^<]*błąd SMTPDataError[^<]*554', runs), runs[:800]


# --- what was sent is what the log says -------------------------------------------------------------

def test_tags_and_attachment_are_chosen_at_send_time_and_logged_with_the_pdfs_hash(app, fakturownia, mail_configured):
    merchant_id = fakturownia.merchant_id
    template = save_template(merchant_id, None, {"name": "PDF", "subject": "Faktura [invoice_number]",
                                                 "body": "W załączniku faktura [invoice_number].", "attach_pdf": "on"})
    order = gen_order(merchant_id, buyer_email="kupiec@example.com")
    document = issue_document(order, "invoice", trigger="test")
    hub_number, document_id = document.number, document.id
    # Queued before the service's copy exists: the hub's number at first…
    log = queue_email(db.session.get(Order, order.id), db.session.get(EmailTemplate, template.id), trigger="test")
    log_id = log.id
    assert log.subject == f"Faktura {hub_number}"
    run_queue_once(app, "exports")
    run_queue_once(app, "fetch")
    db.session.expire_all()
    export = db.session.get(Document, document_id).export
    assert export.state == "fetched" and export.pdf
    run_queue_once(app, "default")
    db.session.expire_all()
    # …sent after the fetch: the service's number and PDF, and the log says so.
    [message] = mail_configured.messages
    log = db.session.get(EmailLog, log_id)
    assert message["Subject"] == log.subject == f"Faktura {export.remote_number}"
    assert export.remote_number in message.get_body(preferencelist=("plain",)).get_content()
    [attachment] = message.iter_attachments()
    assert attachment.get_content() == export.pdf
    assert (log.state, log.pdf_source, log.pdf_sha256) == ("sent", "service", hashlib.sha256(export.pdf).hexdigest())


# --- the mail server's address -----------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "10.1.2.3", "192.168.0.10", "[::1]", "169.254.169.254"])
def test_smtp_host_on_a_private_network_is_refused_outside_demo_mode(app, merchant_user, host):
    app.config["DEMO_MODE"] = False
    with pytest.raises(SettingsRefused) as refused:
        save_mail_settings(merchant_user.merchant_id, {"host": host, "port": "587", "security": "starttls",
                                                       "sender": "faktury@zazolc.pl"})
    assert "host" in refused.value.errors
    assert db.session.get(MailSettings, merchant_user.merchant_id) is None


def test_test_send_to_a_private_host_saved_earlier_connects_nowhere(app, merchant_user, smtp_server):
    save_mail_settings(merchant_user.merchant_id, {"host": "127.0.0.1", "port": str(smtp_server.port),
                                                   "security": "none", "sender": "faktury@zazolc.pl"})
    app.config["DEMO_MODE"] = False  # e.g. saved in demo mode, or the name now resolves elsewhere
    result = send_test_job(merchant_user.merchant_id, "ja@example.com")
    assert result["ok"] is False and "sieć prywatną" in result["message"]
    assert smtp_server.messages == []


def test_smtp_host_with_a_public_address_is_accepted_outside_demo_mode(app, merchant_user, monkeypatch):
    app.config["DEMO_MODE"] = False
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("80.72.0.1", 587))])
    settings = save_mail_settings(merchant_user.merchant_id, {"host": "smtp.zazolc.pl", "port": "587",
                                                              "security": "starttls", "sender": "faktury@zazolc.pl"})
    assert settings.host == "smtp.zazolc.pl"


# --- STARTTLS with a login, the password at rest ---------------------------------------------------------

@pytest.fixture
def tls_files(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def test_starttls_with_login_and_the_password_stored_encrypted(app, merchant_user, tls_files):
    cert_file, key_file = tls_files
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert_file, key_file)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((session.ssl is not None, auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"tajne-haslo-7", handled=False)  # the server says 535

    handler, port = Moody(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=server_context,
                            require_starttls=True, authenticator=authenticator, auth_required=True,
                            auth_exclude_mechanism=["LOGIN"])  # one mechanism: one login per attempt
    controller.start()
    try:
        app.config["SMTP_SSL_CONTEXT"] = ssl.create_default_context(cafile=cert_file)
        save_mail_settings(merchant_user.merchant_id, {
            "host": "127.0.0.1", "port": str(port), "security": "starttls", "sender": "faktury@zazolc.pl",
            "username": "faktury@zazolc.pl", "password": "tajne-haslo-7"})
        raw = db.session.execute(text("SELECT password_encrypted FROM mail_settings WHERE merchant_id = :m"),
                                 {"m": merchant_user.merchant_id}).scalar_one()
        assert b"tajne" not in bytes(raw)
        result = send_test_job(merchant_user.merchant_id, "ja@example.com")
        assert result["ok"], result["message"]
        assert logins == [(True, b"faktury@zazolc.pl", b"tajne-haslo-7")]  # over TLS only
        assert len(handler.messages) == 1
        # A wrong password is refused by the server: a permanent error, reported.
        save_mail_settings(merchant_user.merchant_id, {
            "host": "127.0.0.1", "port": str(port), "security": "starttls", "sender": "faktury@zazolc.pl",
            "username": "faktury@zazolc.pl", "password": "zle-haslo"})
        result = send_test_job(merchant_user.merchant_id, "ja@example.com")
        assert result["ok"] is False and "SMTPAuthenticationError" in result["message"]
        assert [password for _tls, _login, password in logins] == [b"tajne-haslo-7", b"zle-haslo"]
        save_mail_settings(merchant_user.merchant_id, {  # smtplib logs in with ASCII only: said, not a crash
            "host": "127.0.0.1", "port": str(port), "security": "starttls", "sender": "faktury@zazolc.pl",
            "username": "faktury@zazolc.pl", "password": "hasło"})
        result = send_test_job(merchant_user.merchant_id, "ja@example.com")
        assert result["ok"] is False and "ASCII" in result["message"]
        assert len(handler.messages) == 1
    finally:
        controller.stop()


# --- the demo's mail sink ------------------------------------------------------------------------------

def test_mail_sink_catches_a_message_and_lists_it(app, browser):
    from webapp.mail_sink import MaildirHandler, caught_messages, sink_folder

    port = free_port()
    controller = Controller(MaildirHandler(sink_folder(app.instance_path)), hostname="127.0.0.1", port=port)
    controller.start()
    subject = f"Faktura FV/{port}/11/2026 — zażółć"
    try:
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, "faktury@zazolc.pl", "Zofia <zofia@example.com>"
        message.set_content("Dzień dobry, w załączniku faktura.")
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.send_message(message)
    finally:
        controller.stop()
    caught = next(m for m in caught_messages(app.instance_path) if m["Subject"] == subject)
    assert caught["X-Sink-Rcpt-To"] == "zofia@example.com"
    assert "w załączniku faktura" in caught.get_body(preferencelist=("plain",)).get_content()
    page = browser.get("/delivery/mail-sink").get_data(as_text=True)
    assert subject in page
    app.config["DEMO_MODE"] = False
    assert browser.get("/delivery/mail-sink").status_code == 404


# --- invoice links ------------------------------------------------------------------------------------------

def test_link_keeps_the_validity_it_was_sent_with(app, client, fakturownia, monkeypatch):
    merchant_id = fakturownia.merchant_id
    save_mail_settings(merchant_id, {"host": "127.0.0.1", "port": "1025", "security": "none",
                                     "sender": "faktury@zazolc.pl", "link_days": "3"})
    document = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    short_link = invoice_link(document).split("127.0.0.1:5000", 1)[-1]
    settings = db.session.get(MailSettings, merchant_id)
    settings.link_days = 60
    db.session.commit()
    long_link = invoice_link(document).split("127.0.0.1:5000", 1)[-1]
    settings.link_days = 1  # shortening the setting later changes no link already sent
    db.session.commit()
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 10 * 86400)
    assert client.get(short_link).status_code == 410  # sent for 3 days, not extended to 60
    assert client.get(long_link).status_code == 200  # sent for 60 days, not cut to 1
    monkeypatch.setattr(time, "time", lambda: real_time() + 61 * 86400)
    assert client.get(long_link).status_code == 410


# --- webhooks --------------------------------------------------------------------------------------------------

def test_webhook_waits_for_the_pdf_and_fires_when_a_refresh_gets_it(app, fakturownia, receiver, monkeypatch):  # noqa: F811
    from providers.base import NotSupported
    from providers.fakturownia import FakturowniaProvider
    from webapp.exports.services import refresh_export

    url, received = receiver
    add_webhook(fakturownia.merchant_id, url)
    real_fetch_pdf = FakturowniaProvider.fetch_pdf

    def no_pdf(self, remote_id):
        raise NotSupported("PDF tylko w panelu")

    monkeypatch.setattr(FakturowniaProvider, "fetch_pdf", no_pdf)
    document_id = issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test").id
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    assert export.state == "fetched" and export.pdf is None
    assert received == [] and db.session.scalar(db.select(WebhookDelivery)) is None
    monkeypatch.setattr(FakturowniaProvider, "fetch_pdf", real_fetch_pdf)
    refresh_export(export, "test")
    run_jobs(app)
    assert db.session.scalar(db.select(Export)).pdf
    assert len(received) == 1 and b'"event": "document.fetched"' in received[0][1]
    refresh_export(db.session.scalar(db.select(Export)), "test")  # a later refresh: no second event
    run_jobs(app)
    assert len(received) == 1
    assert db.session.scalar(db.select(db.func.count(WebhookDelivery.id)).where(
        WebhookDelivery.document_id == document_id)) == 1


class Flaky(Receiver):
    answers: ClassVar[list] = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        Flaky.received.append(self.path)
        self.send_response(Flaky.answers.pop(0) if Flaky.answers else 204)
        self.end_headers()


def test_webhook_that_fails_then_succeeds_is_delivered(app, fakturownia):
    import http.server
    import threading

    app.config["WEBHOOK_BACKOFF_BASE"] = 0.05
    Flaky.received, Flaky.answers = [], [503, 500]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        add_webhook(fakturownia.merchant_id, f"http://127.0.0.1:{server.server_address[1]}/hook")
        issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test")
        run_jobs(app)
    finally:
        server.shutdown()
    delivery = db.session.scalar(db.select(WebhookDelivery))
    assert (delivery.state, delivery.attempts, delivery.last_status, delivery.last_error) == ("delivered", 3, 204, "")
    assert len(Flaky.received) == 3


# --- the document card's PDF ------------------------------------------------------------------------------------

def test_document_card_links_the_services_pdf_when_the_integration_says_so(app, browser, fakturownia):
    document_id = issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test").id
    page = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    assert f'href="/documents/{document_id}/pdf"' in page  # not fetched yet: the hub's copy
    assert f'href="/documents/{document_id}/print"' in page
    run_jobs(app)
    page = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    head = page[:page.index('id="export"')]
    assert f'href="/documents/{document_id}/service.pdf"' in head
    assert f'href="/documents/{document_id}/service.pdf?download=1"' in head
    assert f'href="/documents/{document_id}/print-pdf"' in head and f"/documents/{document_id}/pdf" not in head
    assert browser.get(f"/documents/{document_id}/service.pdf?download=1").data == db.session.scalar(
        db.select(Export)).pdf
    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.show_service_document = False
    db.session.commit()
    head = browser.get(f"/documents/{document_id}").get_data(as_text=True)
    head = head[:head.index('id="export"')]
    assert f'href="/documents/{document_id}/pdf"' in head and "service.pdf" not in head


# --- corrections to zero --------------------------------------------------------------------------------------------

def correction_form(preview=None, **changes):
    form = {"reason": "Zwrot", "lines[0].quantity": "2", "lines[0].unit_gross": "39.99",
            "lines[1].quantity": "1", "lines[1].unit_gross": "49.00",
            "lines[2].quantity": "1", "lines[2].unit_gross": "14.99"}
    form.update({f"lines[0].{name}": value for name, value in changes.items()})
    if preview:
        form["preview"] = preview
    return form


@pytest.mark.parametrize("price", ["0", "0,00"])
def test_correction_form_takes_a_price_of_zero(app, browser, merchant_user, price):
    invoice_id = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test").id
    response = browser.post(f"/documents/{invoice_id}/correct", data=correction_form(unit_gross=price, preview="1"))
    assert "<span data-difference>-79.98</span>" in response.get_data(as_text=True)  # 2 × 39.99 back
    response = browser.post(f"/documents/{invoice_id}/correct", data=correction_form(unit_gross=price))
    assert response.status_code == 302
    correction = db.session.scalar(db.select(Document).where(Document.corrects_id == invoice_id))
    after = correction.lines_of("after")[0]
    assert (after.quantity, after.unit_gross) == (2, 0)


def test_correction_form_takes_a_quantity_of_zero_at_its_word(app, browser, merchant_user):
    """0 is not "unchanged": it reaches the rules, which ask to remove the line instead."""
    invoice_id = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test").id
    response = browser.post(f"/documents/{invoice_id}/correct", data=correction_form(quantity="0"))
    assert response.status_code == 200
    assert "Pozycja 1: ilość musi być większa od zera (albo usuń pozycję)." in response.get_data(as_text=True)
    assert db.session.scalar(db.select(Document).where(Document.corrects_id == invoice_id)) is None
    response = browser.post(f"/documents/{invoice_id}/correct", data=correction_form(quantity="0", removed="on"))
    assert response.status_code == 302
    correction = db.session.scalar(db.select(Document).where(Document.corrects_id == invoice_id))
    assert len(correction.lines_of("after")) == 2
