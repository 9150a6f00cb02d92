"""Delivery settings: the merchant's mail server, e-mail templates and webhooks."""
from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _

from ..crypto import encrypt_credentials
from ..extensions import db
from ..models import EmailTemplate, MailSettings, Webhook


class SettingsRefused(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def mail_settings(merchant_id: int) -> MailSettings:
    return db.session.get(MailSettings, merchant_id) or MailSettings(merchant_id=merchant_id)


def check_smtp_host(host: str, port: int) -> str | None:
    """The rule for webhook and service URLs: a public address; loopback and private networks
    only in demo mode (the local sink), so the hub cannot be aimed at internal hosts."""
    from ..integrations.services import check_base_url

    name = host.strip("[]")
    netloc = f"[{name}]" if ":" in name else name
    url = f"https://{netloc}:{port or 25}/"
    try:
        if urlsplit(url).hostname:
            return check_base_url(url)
    except ValueError:  # not a host name nor an IP address (e.g. "a:b")
        pass
    return _("Podaj nazwę serwera SMTP, np. smtp.twojadomena.pl.")


def save_mail_settings(merchant_id: int, form: dict) -> MailSettings:
    errors = {}
    host = (form.get("host") or "").strip()
    if not host or len(host) > 200 or not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]+", host):
        errors["host"] = _("Podaj nazwę serwera SMTP, np. smtp.twojadomena.pl.")
    try:
        port = int(form.get("port") or 0)
        if not 1 <= port <= 65535:
            raise ValueError
    except ValueError:
        port = 0
        errors["port"] = _("Port od 1 do 65535 (zwykle 587 lub 465).")
    security = form.get("security", "starttls")
    if security not in ("starttls", "ssl", "none"):
        errors["security"] = _("Wybierz szyfrowanie.")
    sender = (form.get("sender") or "").strip()
    try:
        sender = validate_email(sender, check_deliverability=False).normalized
    except EmailNotValidError:
        errors["sender"] = _("Podaj adres nadawcy, np. faktury@twojsklep.pl.")
    try:
        link_days = int(form.get("link_days") or 30)
        if not 1 <= link_days <= 365:
            raise ValueError
    except ValueError:
        link_days = 30
        errors["link_days"] = _("Od 1 do 365 dni.")
    if "host" not in errors and port:
        problem = check_smtp_host(host, port)
        if problem:
            errors["host"] = problem
    if errors:
        raise SettingsRefused(errors)
    settings = mail_settings(merchant_id)
    settings.host, settings.port, settings.security, settings.sender = host, port, security, sender
    settings.username, settings.link_days = (form.get("username") or "").strip()[:200], link_days
    if form.get("password"):
        settings.password_encrypted = encrypt_credentials({"password": form["password"]})
    db.session.add(settings)
    db.session.commit()
    return settings


def save_template(merchant_id: int, template: EmailTemplate | None, form: dict) -> EmailTemplate:
    errors = {}
    name, subject, body = ((form.get(k) or "").strip() for k in ("name", "subject", "body"))
    if not name or len(name) > 100:
        errors["name"] = _("Podaj nazwę (do 100 znaków).")
    if not subject or len(subject) > 300 or "\n" in subject:
        errors["subject"] = _("Podaj temat w jednej linii (do 300 znaków).")
    if not body or len(body) > 20000:
        errors["body"] = _("Podaj treść (do 20 000 znaków).")
    duplicate = db.session.scalar(db.select(EmailTemplate).where(EmailTemplate.merchant_id == merchant_id,
                                                                 EmailTemplate.name == name))
    if duplicate is not None and duplicate is not template:
        errors["name"] = _("Szablon o tej nazwie już istnieje.")
    if errors:
        raise SettingsRefused(errors)
    template = template or EmailTemplate(merchant_id=merchant_id)
    template.name, template.subject, template.body = name, subject, body
    template.attach_pdf = form.get("attach_pdf") == "on"
    db.session.add(template)
    db.session.commit()
    return template


def add_webhook(merchant_id: int, url: str) -> tuple[Webhook, str]:
    """Returns the webhook and its signing secret, shown once."""
    from ..integrations.services import check_base_url

    url = (url or "").strip()
    problem = check_base_url(url) if url else _("Podaj adres URL.")
    if problem or len(url) > 500:
        raise SettingsRefused({"url": problem or _("Adres najwyżej 500 znaków.")})
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(merchant_id=merchant_id, url=url, secret_encrypted=encrypt_credentials({"secret": secret}))
    db.session.add(hook)
    db.session.commit()
    return hook, secret
