"""E-mail to customers: merchant templates with tags, the invoice as a link or an attachment,
sent by a job through the merchant's SMTP server, each message logged on the order."""
from __future__ import annotations

import hashlib
import random
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import update

from ..crypto import decrypt_credentials
from ..extensions import db
from ..models import Document, EmailLog, EmailTemplate, MailSettings, Order, utcnow
from ..queues import enqueue_once
from .links import invoice_link

TAGS = ("[invoice_link]", "[invoice_number]", "[order_id]", "[buyer_name]", "[total]")
MAX_ATTEMPTS = 6  # temporary SMTP errors: tried again with backoff, then given up
BACKOFF_CAP = 3600
DEFAULT_SUBJECT = "Faktura [invoice_number] do zamówienia [order_id]"
DEFAULT_BODY = ("Dzień dobry [buyer_name],\n\ndziękujemy za zakupy. Faktura [invoice_number] na kwotę [total] "
                "jest do pobrania tutaj:\n[invoice_link]\n\nPozdrawiamy")


class MailRefused(Exception):
    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


def fill_tags(text: str, document: Document | None, order: Order) -> str:
    from ..documents.views import preview_number

    values = {
        "[order_id]": order.shop_order_id,
        "[buyer_name]": order.buyer_display_name,
        "[invoice_number]": preview_number(document) if document else "",
        "[invoice_link]": invoice_link(document) if document else "",
        "[total]": f"{document.total_gross:.2f} {document.currency}".replace(".", ",") if document else "",
    }
    for tag, value in values.items():
        text = text.replace(tag, value)
    return text


def customer_document(order: Order) -> Document | None:
    """The document an e-mail about this order is about: its invoice, else its receipt."""
    by_kind = {d.kind: d for d in order.documents}
    return by_kind.get("invoice") or by_kind.get("receipt")


LINK_LINE = "\n\n[invoice_link]"


def _texts(template: EmailTemplate, attach_pdf: bool) -> tuple[str, str]:
    """The template's subject and body for the chosen delivery: "as a link" adds the link where
    the template has none."""
    body = template.body
    if not attach_pdf and template.attach_pdf and "[invoice_link]" not in body:
        body += LINK_LINE
    return template.subject, body


def queue_email(order: Order, template: EmailTemplate, trigger: str, document: Document | None = None,
                attach: str = "", run=None) -> EmailLog:
    """`attach`: "" as the template says, "link" or "attach" (an automatic step's choice).
    `run`: the automatic run (and its current step) the e-mail belongs to."""
    document = document or customer_document(order)
    attach_pdf = template.attach_pdf if attach not in ("link", "attach") else attach == "attach"
    subject, body = _texts(template, attach_pdf)
    if not order.buyer_email:
        raise MailRefused(_("Zamówienie nie ma adresu e-mail nabywcy."), "buyer.email")
    if document is None and ("[invoice_link]" in body or attach_pdf):
        raise MailRefused(_("Zamówienie nie ma jeszcze faktury ani paragonu do wysłania."), "document")
    if db.session.get(MailSettings, order.merchant_id) is None:
        raise MailRefused(_("Najpierw ustaw serwer poczty w Ustawieniach → E-mail."), "smtp")
    # Filled now for the log and the order card; filled again when sent (the service's number and
    # PDF may arrive in between), so the log says what the customer got.
    log = EmailLog(merchant_id=order.merchant_id, order_id=order.id, document_id=document.id if document else None,
                   template_id=template.id, recipient=order.buyer_email,
                   subject=fill_tags(subject, document, order)[:300],
                   body=fill_tags(body, document, order), attach_pdf=attach_pdf, trigger=trigger[:100],
                   run_id=run.id if run is not None else None, run_step=run.step if run is not None else None)
    db.session.add(log)
    db.session.commit()
    enqueue_send(log)
    return log


def enqueue_send(log: EmailLog, delay: float = 0) -> bool:
    """One job per attempt (deterministic id): a second enqueue of the same attempt is a no-op."""
    return enqueue_once("default", send_email_job, log.id, job_id=f"email-{log.id}-{log.attempts}", delay=delay)


def _message(settings: MailSettings, log: EmailLog, document: Document | None) -> EmailMessage:
    """The message as sent: tags filled now, with the PDF chosen now (service's or hub's), and
    the log updated to say exactly that."""
    from ..documents.views import preview_pdf

    template = db.session.get(EmailTemplate, log.template_id) if log.template_id else None
    order = db.session.get(Order, log.order_id) if log.order_id else None
    if template is not None and order is not None:
        subject, body = _texts(template, log.attach_pdf)
        log.subject, log.body = fill_tags(subject, document, order)[:300], fill_tags(body, document, order)
    message = EmailMessage()
    message["Subject"] = log.subject
    message["From"] = formataddr((current_sender_name(log.merchant_id), settings.sender))
    message["To"] = log.recipient
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or "invoice-bridge")
    message.set_content(log.body, charset="utf-8")
    if log.attach_pdf and document is not None:
        pdf, source = preview_pdf(document)
        log.pdf_source, log.pdf_sha256 = source, hashlib.sha256(pdf).hexdigest()
        filename = f"{(document.export.remote_number if source == 'service' else document.number)}.pdf".replace("/", "_")
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


def current_sender_name(merchant_id: int) -> str:
    from ..models import Merchant

    merchant = db.session.get(Merchant, merchant_id)
    return merchant.company_name or merchant.name


class HostRefused(smtplib.SMTPException):
    """The mail server's address is not allowed (loopback or private outside demo mode)."""


def deliver(settings: MailSettings, message: EmailMessage) -> None:
    from .services import check_smtp_host

    problem = check_smtp_host(settings.host, settings.port)  # checked again: DNS may have changed
    if problem:
        raise HostRefused(problem)
    password = decrypt_credentials(settings.password_encrypted).get("password", "") if settings.password_encrypted else ""
    timeout = current_app.config.get("SMTP_TIMEOUT", 20)
    context = current_app.config.get("SMTP_SSL_CONTEXT") or ssl.create_default_context()
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with client:
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.username:
            try:
                client.login(settings.username, password)
            except UnicodeEncodeError as error:  # smtplib sends the login in ASCII only
                raise smtplib.SMTPAuthenticationError(
                    535, "Login lub hasło SMTP ze znakami spoza ASCII: smtplib ich nie wyśle.") from error
        client.send_message(message)


def is_temporary(error: Exception) -> bool:
    """Worth another try: a 4xx reply, a lost or refused connection, a timeout. A 5xx reply, a
    refused login, a server without STARTTLS, a bad certificate or a refused host are not."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _message in error.recipients.values()]
        return bool(codes) and all(400 <= code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):  # sender/data refused, login refused…
        return 400 <= error.smtp_code < 500
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(error, smtplib.SMTPException | ssl.SSLError):
        return False
    return isinstance(error, OSError)  # refused, reset, unreachable, timed out


def send_email_job(log_id: int) -> str:
    # Claimed with a compare-and-set before the SMTP conversation: a second run of this job
    # (RQ is at-least-once) finds it taken and sends nothing.
    claimed = db.session.execute(
        update(EmailLog).where(EmailLog.id == log_id, EmailLog.state.in_(("queued", "retrying")))
        .values(state="sending", attempts=EmailLog.attempts + 1).execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    if not claimed:
        return "nothing to send"
    log = db.session.get(EmailLog, log_id)
    db.session.refresh(log)
    settings = db.session.get(MailSettings, log.merchant_id)
    document = db.session.get(Document, log.document_id) if log.document_id else None
    try:
        if settings is None:
            raise HostRefused(_("Najpierw ustaw serwer poczty w Ustawieniach → E-mail."))
        deliver(settings, _message(settings, log, document))
    except (OSError, smtplib.SMTPException) as error:
        reason = f"{type(error).__name__}: {error}"[:900]
        if is_temporary(error) and log.attempts < current_app.config.get("MAIL_MAX_ATTEMPTS", MAX_ATTEMPTS):
            base = current_app.config.get("MAIL_BACKOFF_BASE", 30.0)
            delay = min(random.uniform(base / 2, base) * 2 ** (log.attempts - 1), BACKOFF_CAP)
            log.state, log.error = "retrying", f"{reason} (próba {log.attempts}, ponowienie za {delay:.0f} s)"
            db.session.commit()
            enqueue_send(log, delay=delay)
            return "retrying"
        log.state, log.error = "failed", reason + (f" (po {log.attempts} próbach)" if log.attempts > 1 else "")
        db.session.commit()
        return "failed"
    log.state, log.sent_at, log.error = "sent", utcnow(), ""
    db.session.commit()
    return "sent"


def send_test_job(merchant_id: int, recipient: str) -> dict:
    settings = db.session.get(MailSettings, merchant_id)
    message = EmailMessage()
    message["Subject"] = "Invoice Bridge: test poczty — zażółć gęślą jaźń"
    message["From"] = formataddr((current_sender_name(merchant_id), settings.sender))
    message["To"] = recipient
    message.set_content("Serwer poczty działa. Ta wiadomość została wysłana z ustawień Invoice Bridge.", charset="utf-8")
    try:
        deliver(settings, message)
    except (OSError, smtplib.SMTPException) as error:
        return {"ok": False,
                "message": _("Nie udało się wysłać: %(error)s", error=f"{type(error).__name__}: {error}")}
    return {"ok": True, "message": _("Wysłano wiadomość testową na %(recipient)s.", recipient=recipient)}
