"""E-mail to customers: merchant templates with tags, the invoice as a link or an attachment,
sent by a job through the merchant's SMTP server, each message logged on the order."""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app
from flask_babel import gettext as _
from rq import Queue

from ..crypto import decrypt_credentials
from ..extensions import db
from ..models import Document, EmailLog, EmailTemplate, MailSettings, Order, utcnow
from ..redis_conn import get_redis
from .links import invoice_link

TAGS = ("[invoice_link]", "[invoice_number]", "[order_id]", "[buyer_name]", "[total]")
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


def queue_email(order: Order, template: EmailTemplate, trigger: str, document: Document | None = None) -> EmailLog:
    document = document or customer_document(order)
    if not order.buyer_email:
        raise MailRefused(_("Zamówienie nie ma adresu e-mail nabywcy."), "buyer.email")
    if document is None and ("[invoice_link]" in template.body or template.attach_pdf):
        raise MailRefused(_("Zamówienie nie ma jeszcze faktury ani paragonu do wysłania."), "document")
    if db.session.get(MailSettings, order.merchant_id) is None:
        raise MailRefused(_("Najpierw ustaw serwer poczty w Ustawieniach → E-mail."), "smtp")
    log = EmailLog(merchant_id=order.merchant_id, order_id=order.id, document_id=document.id if document else None,
                   template_id=template.id, recipient=order.buyer_email,
                   subject=fill_tags(template.subject, document, order)[:300],
                   body=fill_tags(template.body, document, order), attach_pdf=template.attach_pdf,
                   trigger=trigger[:100])
    db.session.add(log)
    db.session.commit()
    Queue("default", connection=get_redis(current_app)).enqueue(send_email_job, log.id, result_ttl=0,
                                                                 job_id=f"email-{log.id}", unique=True)
    return log


def _message(settings: MailSettings, log: EmailLog, document: Document | None) -> EmailMessage:
    from ..documents.views import preview_pdf

    message = EmailMessage()
    message["Subject"] = log.subject
    message["From"] = formataddr((current_sender_name(log.merchant_id), settings.sender))
    message["To"] = log.recipient
    message["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or "invoice-bridge")
    message.set_content(log.body, charset="utf-8")
    if log.attach_pdf and document is not None:
        pdf, source = preview_pdf(document)
        log.pdf_source = source
        filename = f"{(document.export.remote_number if source == 'service' else document.number)}.pdf".replace("/", "_")
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    return message


def current_sender_name(merchant_id: int) -> str:
    from ..models import Merchant

    merchant = db.session.get(Merchant, merchant_id)
    return merchant.company_name or merchant.name


def deliver(settings: MailSettings, message: EmailMessage) -> None:
    password = decrypt_credentials(settings.password_encrypted).get("password", "") if settings.password_encrypted else ""
    timeout = current_app.config.get("SMTP_TIMEOUT", 20)
    if settings.security == "ssl":
        client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
    with client:
        if settings.security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.username:
            client.login(settings.username, password)
        client.send_message(message)


def send_email_job(log_id: int) -> str:
    log = db.session.get(EmailLog, log_id)
    if log is None or log.state == "sent":
        return "nothing to send"
    settings = db.session.get(MailSettings, log.merchant_id)
    document = db.session.get(Document, log.document_id) if log.document_id else None
    try:
        deliver(settings, _message(settings, log, document))
    except (OSError, smtplib.SMTPException) as error:
        log.state, log.error = "failed", f"{type(error).__name__}: {error}"[:1000]
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
