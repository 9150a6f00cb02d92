"""Public invoice links: signed, expiring, unguessable; they serve the PDF without login."""
from __future__ import annotations

import time

from flask import current_app, url_for
from flask_babel import gettext as _
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ..extensions import db
from ..models import Document, MailSettings

SALT = "invoice-link"
DEFAULT_DAYS = 30


class LinkRefused(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def invoice_link(document: Document) -> str:
    """The public address customers get, built on PUBLIC_URL (also from jobs, outside requests).
    The expiry is signed into the link: changing the setting later neither extends nor shortens
    links already sent."""
    expires = int(time.time()) + link_days(document.merchant_id) * 86400
    token = _serializer().dumps({"d": document.id, "m": document.merchant_id, "e": expires})
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return url_for("public.invoice_pdf", token=token, _external=True)


def link_days(merchant_id: int) -> int:
    settings = db.session.get(MailSettings, merchant_id)
    return settings.link_days if settings else DEFAULT_DAYS


def document_for_token(token: str) -> Document:
    serializer = _serializer()
    try:
        data = serializer.loads(token)  # signature first: a tampered token says nothing more
    except BadSignature as error:
        raise LinkRefused(_("Nieprawidłowy link do faktury."), 404) from error
    document = db.session.get(Document, data.get("d"))
    if document is None or document.merchant_id != data.get("m"):
        raise LinkRefused(_("Nieprawidłowy link do faktury."), 404)
    expired = _("Link do faktury wygasł. Poproś sprzedawcę o nowy.")
    if "e" in data:
        if not isinstance(data["e"], int) or data["e"] < time.time():
            raise LinkRefused(expired, 410)
        return document
    try:  # a link from before the expiry was signed in: the setting as it is now
        serializer.loads(token, max_age=link_days(document.merchant_id) * 86400)
    except SignatureExpired as error:
        raise LinkRefused(expired, 410) from error
    return document
