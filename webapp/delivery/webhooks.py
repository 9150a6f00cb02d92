"""Outgoing webhooks: when a document's final PDF is fetched, POST a signed JSON body to the
merchant's URL (for marketplace connectors that forward the invoice); retried with backoff.

Signature: header `X-InvoiceBridge-Signature: t=<unix time>,v1=<hex>` where
hex = HMAC-SHA256(secret, f"{t}.{body}"); receivers recompute it and compare (see verify())."""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import time

import requests
from flask import current_app

from ..crypto import decrypt_credentials
from ..extensions import db
from ..models import Document, Webhook, WebhookDelivery, utcnow
from ..queues import enqueue_once
from .links import invoice_link

MAX_ATTEMPTS = 8


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def fire_document_fetched(document: Document) -> None:
    """Once per document and webhook: called when the service's PDF is first stored."""
    told = db.select(WebhookDelivery.webhook_id).where(WebhookDelivery.document_id == document.id,
                                                       WebhookDelivery.event == "document.fetched")
    hooks = db.session.scalars(db.select(Webhook).where(Webhook.merchant_id == document.merchant_id,
                                                        Webhook.active.is_(True), Webhook.id.not_in(told))).all()
    if not hooks:
        return
    export = document.export
    payload = {
        "event": "document.fetched",
        "document": {"id": document.id, "kind": document.kind, "number": document.number,
                     "service_number": export.remote_number, "service": export.integration.provider,
                     "issue_date": document.issue_date.isoformat(), "total_gross": str(document.total_gross),
                     "currency": document.currency, "buyer_email": document.buyer.get("email", "")},
        "order": {"id": document.order_id, "source": document.order.source if document.order else None,
                  "shop_order_id": document.order.shop_order_id if document.order else None},
        "pdf_url": invoice_link(document),
    }
    deliveries = [WebhookDelivery(merchant_id=document.merchant_id, webhook_id=hook.id, document_id=document.id,
                                  event="document.fetched", payload=payload) for hook in hooks]
    db.session.add_all(deliveries)
    db.session.commit()
    for delivery in deliveries:
        _enqueue(delivery)


def _enqueue(delivery: WebhookDelivery, delay: float = 0) -> None:
    enqueue_once("default", deliver_webhook, delivery.id, job_id=f"webhook-{delivery.id}-{delivery.attempts}",
                 delay=delay)


def deliver_webhook(delivery_id: int) -> str:
    from ..integrations.services import check_base_url

    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.state in ("delivered", "failed"):
        return "nothing to do"
    hook = db.session.get(Webhook, delivery.webhook_id)
    delivery.attempts += 1
    body = json.dumps(delivery.payload, ensure_ascii=False, sort_keys=True).encode()
    problem = check_base_url(hook.url)
    if problem:
        delivery.state, delivery.last_error = "failed", problem
        db.session.commit()
        return "failed"
    secret = decrypt_credentials(hook.secret_encrypted)["secret"]
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "InvoiceBridge-Webhook/1",
               "X-InvoiceBridge-Event": delivery.event, "X-InvoiceBridge-Delivery": str(delivery.id),
               "X-InvoiceBridge-Signature": sign(secret, int(time.time()), body)}
    try:
        response = requests.post(hook.url, data=body, headers=headers, timeout=10, allow_redirects=False)
        delivery.last_status = response.status_code
        ok = 200 <= response.status_code < 300
        delivery.last_error = "" if ok else f"HTTP {response.status_code}: {response.text[:300]}"
    except requests.RequestException as error:
        ok, delivery.last_error = False, f"{type(error).__name__}: {error}"[:500]
    if ok:
        delivery.state, delivery.delivered_at = "delivered", utcnow()
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.state = "failed"
    else:
        delivery.state = "retrying"
    db.session.commit()
    if delivery.state == "retrying":
        base = current_app.config.get("WEBHOOK_BACKOFF_BASE", 5.0)
        _enqueue(delivery, delay=random.uniform(base / 2, base) * 2 ** (delivery.attempts - 1))
    return delivery.state
