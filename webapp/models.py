"""Database models. Every merchant-owned row carries merchant_id; queries go through
webapp.tenancy so that one merchant never sees another's rows."""
from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db


def utcnow() -> datetime:
    return datetime.now(UTC)


class TZDateTime(db.TypeDecorator):
    """Timezone-aware datetimes on every database (SQLite drops the offset: store UTC, read UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime")
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


Money = Numeric(14, 2)
Quantity = Numeric(14, 3)
Rate = Numeric(12, 6)

VAT_RATES = ("23", "8", "5", "0", "zw", "np", "oo")
DOCUMENT_KINDS = ("invoice", "receipt", "correction")
SERIES_RESETS = ("monthly", "yearly", "never")
DEFAULT_STATUSES = ("Nowe", "Opłacone", "Faktura wystawiona", "Wysłane")
KIND_TITLES = {"invoice": "Faktura VAT", "receipt": "Paragon", "correction": "Faktura korygująca"}


class Merchant(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    company_name: Mapped[str] = mapped_column(String(300), default="")
    tax_id: Mapped[str] = mapped_column(String(20), default="")
    street: Mapped[str] = mapped_column(String(200), default="")
    post_code: Mapped[str] = mapped_column(String(20), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2), default="PL")
    bank_account: Mapped[str] = mapped_column(String(64), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(50), default="")
    place_of_issue: Mapped[str] = mapped_column(String(100), default="")
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="merchant")
    statuses: Mapped[list[OrderStatus]] = relationship(
        back_populates="merchant", order_by="OrderStatus.position"
    )

    def seller_snapshot(self) -> dict:
        return {
            "name": self.company_name or self.name,
            "tax_id": self.tax_id,
            "street": self.street,
            "post_code": self.post_code,
            "city": self.city,
            "country": self.country,
            "bank_account": self.bank_account,
            "email": self.email,
            "phone": self.phone,
        }


class User(UserMixin, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(300))
    locale: Mapped[str] = mapped_column(String(5), default="pl")
    is_admin: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    merchant: Mapped[Merchant] = relationship(back_populates="users")

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)


class ApiToken(db.Model):
    """A bearer token for the order intake API. Only its SHA-256 is stored; it is shown once."""

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)

    @staticmethod
    def hash_token(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()


class OrderStatus(db.Model):
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer, default=0)

    merchant: Mapped[Merchant] = relationship(back_populates="statuses")


class Order(db.Model):
    __table_args__ = (UniqueConstraint("merchant_id", "source", "shop_order_id", name="uq_order_source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    source: Mapped[str] = mapped_column(String(100))
    shop_order_id: Mapped[str] = mapped_column(String(100))
    status_id: Mapped[int | None] = mapped_column(ForeignKey("order_status.id"), nullable=True)
    ordered_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)

    buyer_is_company: Mapped[bool] = mapped_column(Boolean, default=False)
    buyer_name: Mapped[str] = mapped_column(String(200), default="")
    buyer_company_name: Mapped[str] = mapped_column(String(300), default="")
    buyer_tax_id: Mapped[str] = mapped_column(String(20), default="")
    buyer_street: Mapped[str] = mapped_column(String(200), default="")
    buyer_post_code: Mapped[str] = mapped_column(String(20), default="")
    buyer_city: Mapped[str] = mapped_column(String(100), default="")
    buyer_country: Mapped[str] = mapped_column(String(2), default="PL")
    buyer_email: Mapped[str] = mapped_column(String(200), default="")
    buyer_phone: Mapped[str] = mapped_column(String(50), default="")

    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    exchange_rate: Mapped[Decimal | None] = mapped_column(Rate, nullable=True)
    payment_method: Mapped[str] = mapped_column(String(100), default="")
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    status: Mapped[OrderStatus | None] = relationship()
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.position", cascade="all, delete-orphan"
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="order", order_by="Document.id", foreign_keys="Document.order_id"
    )

    @property
    def buyer_display_name(self) -> str:
        if self.buyer_is_company and self.buyer_company_name:
            return self.buyer_company_name
        return self.buyer_name

    def buyer_snapshot(self) -> dict:
        return {
            "is_company": self.buyer_is_company,
            "name": self.buyer_name,
            "company_name": self.buyer_company_name,
            "tax_id": self.buyer_tax_id,
            "street": self.buyer_street,
            "post_code": self.buyer_post_code,
            "city": self.buyer_city,
            "country": self.buyer_country,
            "email": self.buyer_email,
            "phone": self.buyer_phone,
        }


class OrderItem(db.Model):
    __table_args__ = (CheckConstraint("quantity > 0", name="ck_item_quantity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(300))
    sku: Mapped[str] = mapped_column(String(100), default="")
    ean: Mapped[str] = mapped_column(String(20), default="")
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(String(10), default="szt.")
    unit_gross: Mapped[Decimal] = mapped_column(Money)
    vat_rate: Mapped[str] = mapped_column(String(3))
    is_shipping: Mapped[bool] = mapped_column(Boolean, default=False)

    order: Mapped[Order] = relationship(back_populates="items")


class Series(db.Model):
    """A numbering series. `format` tokens: {nr} {MM} {YYYY} {YY} {DD}."""

    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(12))
    format: Mapped[str] = mapped_column(String(100))
    reset: Mapped[str] = mapped_column(String(10), default="monthly")
    hide_payment_date: Mapped[bool] = mapped_column(Boolean, default=False)
    payment_days: Mapped[int] = mapped_column(Integer, default=7)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class SeriesCounter(db.Model):
    """Last number used per series and period; incremented in the issuing transaction, so a
    rolled-back issue leaves no gap and two concurrent issues never get the same number."""

    series_id: Mapped[int] = mapped_column(ForeignKey("series.id", ondelete="CASCADE"), primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Document(db.Model):
    __table_args__ = (
        UniqueConstraint("series_id", "period", "sequence", name="uq_document_sequence"),
        UniqueConstraint("merchant_id", "number", "kind", name="uq_document_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"), index=True, nullable=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("series.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    number: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(10))
    sequence: Mapped[int] = mapped_column(Integer)
    issue_date: Mapped[date] = mapped_column(Date, index=True)
    sell_date: Mapped[date] = mapped_column(Date)
    payment_due: Mapped[date | None] = mapped_column(Date, nullable=True)
    hide_payment_date: Mapped[bool] = mapped_column(Boolean, default=False)
    payment_method: Mapped[str] = mapped_column(String(100), default="")
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    paid_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    currency: Mapped[str] = mapped_column(String(3), default="PLN")
    exchange_rate: Mapped[Decimal | None] = mapped_column(Rate, nullable=True)
    seller: Mapped[dict] = mapped_column(JSON)
    buyer: Mapped[dict] = mapped_column(JSON)
    notes: Mapped[str] = mapped_column(Text, default="")
    total_net: Mapped[Decimal] = mapped_column(Money)
    total_vat: Mapped[Decimal] = mapped_column(Money)
    total_gross: Mapped[Decimal] = mapped_column(Money)
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), nullable=True, index=True)
    correction_reason: Mapped[str] = mapped_column(String(500), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    order: Mapped[Order | None] = relationship(back_populates="documents", foreign_keys=[order_id])
    series: Mapped[Series] = relationship()
    lines: Mapped[list[DocumentLine]] = relationship(
        back_populates="document", order_by="DocumentLine.position", cascade="all, delete-orphan"
    )
    corrects: Mapped[Document | None] = relationship(remote_side=[id])

    @property
    def title(self) -> str:
        return KIND_TITLES[self.kind]

    @property
    def reference(self) -> str:
        """Our external id for this document at the accounting service (stable across retries)."""
        return f"IB-{self.merchant_id}-{self.id}"

    def lines_of(self, role: str) -> list[DocumentLine]:
        return [line for line in self.lines if line.role == role]


class DocumentLine(db.Model):
    """A line as issued. Corrections keep the corrected invoice's lines as role 'before' and the
    corrected state as role 'after'; invoices and receipts use role 'line'."""

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(6), default="line")
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(300))
    sku: Mapped[str] = mapped_column(String(100), default="")
    ean: Mapped[str] = mapped_column(String(20), default="")
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit: Mapped[str] = mapped_column(String(10), default="szt.")
    unit_gross: Mapped[Decimal] = mapped_column(Money)
    vat_rate: Mapped[str] = mapped_column(String(3))
    net: Mapped[Decimal] = mapped_column(Money)
    vat: Mapped[Decimal] = mapped_column(Money)
    gross: Mapped[Decimal] = mapped_column(Money)

    document: Mapped[Document] = relationship(back_populates="lines")


# One invoice and one receipt per order at most (corrections are many): enforced by the database,
# so a double click or two workers issuing at once cannot make two.
db.Index(
    "uq_order_document_kind",
    Document.order_id,
    Document.kind,
    unique=True,
    postgresql_where=Document.kind != "correction",
    sqlite_where=Document.kind != "correction",
)


EXPORT_STATES = ("queued", "sending", "sent", "fetched", "rejected", "retrying", "in_doubt")
FINAL_STATES = ("fetched", "rejected")


class Integration(db.Model):
    """One accounting-service account of a merchant, with its export settings."""

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    credentials_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    base_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    numbering: Mapped[str] = mapped_column(String(10), default="service")
    auto_export: Mapped[bool] = mapped_column(Boolean, default=True)
    show_service_document: Mapped[bool] = mapped_column(Boolean, default=True)
    send_sku: Mapped[bool] = mapped_column(Boolean, default=False)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    series_links: Mapped[dict] = mapped_column(JSON, default=dict)  # hub series id (str) -> service id | None
    payment_links: Mapped[dict] = mapped_column(JSON, default=dict)  # shop payment name -> service code
    max_concurrency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate_requests: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health: Mapped[str] = mapped_column(String(20), default="connected")
    health_message: Mapped[str] = mapped_column(String(500), default="")
    # The service's series and payment types as last read from its API ([{"id", "name"}]).
    service_series: Mapped[list | None] = mapped_column(JSON, nullable=True)
    service_payment_types: Mapped[list | None] = mapped_column(JSON, nullable=True)
    choices_read_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class Export(db.Model):
    """The outbox row of one document: written in the transaction that issues the document,
    claimed with a compare-and-set before any request to the service."""

    __table_args__ = (UniqueConstraint("document_id", name="uq_export_document"),)  # one owner per document

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id"))
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    trigger: Mapped[str] = mapped_column(String(100), default="")
    bulk_run_id: Mapped[int | None] = mapped_column(ForeignKey("bulk_run.id"), index=True, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    field_errors: Mapped[dict] = mapped_column(JSON, default=dict)
    remote_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    remote_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    remote_status: Mapped[str | None] = mapped_column(String(50), nullable=True)
    remote_view_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    remote_pdf_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    ksef_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    ksef_number: Mapped[str | None] = mapped_column(String(100), nullable=True)
    ksef_link: Mapped[str | None] = mapped_column(String(500), nullable=True)
    ksef_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    totals_mismatch: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    # The service's handle on a create whose answer was lost (inFakt: "invoices:<task>"): the
    # look-up asks about it first instead of taking "not there yet" for "never created".
    pending_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Look-ups without an answer since the last send, fetch-backs failed since the last success:
    # each has a cap, after which the pipeline stops and waits for the merchant.
    lookup_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fetch_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Why the pipeline stopped following this export up (a failed fetch-back, a look-up that
    # cannot settle it): shown on the document until the merchant's retry by hand clears it.
    stopped_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
    fetched_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)

    document: Mapped[Document] = relationship(backref=db.backref("export", uselist=False))
    integration: Mapped[Integration] = relationship()

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    def send_lease_live(self, lease_seconds: float) -> bool:
        """A worker claimed the row for a send less than `lease_seconds` ago: it may still be
        waiting for the service's answer."""
        return (self.state == "sending" and self.claimed_at is not None
                and utcnow() - self.claimed_at < timedelta(seconds=lease_seconds))

    def can_reconcile(self, lease_seconds: float) -> bool:
        """A look-up by hand may start: in doubt, or a send whose worker is gone (lease over)."""
        return self.state == "in_doubt" or (self.state == "sending" and not self.send_lease_live(lease_seconds))

    @property
    def can_refresh(self) -> bool:
        """Reading the service's copy again by hand: once fetched, or when the fetch-back stopped."""
        return self.state == "fetched" or (self.state == "sent" and bool(self.stopped_error))


# The dashboard's lists walk these newest first, a page after a cursor row (keyset pagination):
# a page reads the same few index entries at 100,000 rows as at 100, with or without a filter.
db.Index("ix_export_merchant_integration_id", Export.merchant_id, Export.integration_id, Export.id)
db.Index("ix_export_merchant_integration_state_id", Export.merchant_id, Export.integration_id, Export.state, Export.id)
# The module's export list: the merchant's documents newest first, each with its export if any.
db.Index("ix_document_merchant_id_id", Document.merchant_id, Document.id)
db.Index("ix_order_merchant_ordered_at_id", Order.merchant_id, Order.ordered_at, Order.id)
db.Index("ix_order_merchant_status_ordered_at_id", Order.merchant_id, Order.status_id, Order.ordered_at, Order.id)
# The distinct payment names (module page) by a skip scan; the sources use uq_order_source_id.
db.Index("ix_order_merchant_payment_method", Order.merchant_id, Order.payment_method)


class JournalEntry(db.Model):
    """One attempt at the service, readable by the merchant. Never holds a secret."""

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"), index=True)
    export_id: Mapped[int | None] = mapped_column(ForeignKey("export.id"), index=True, nullable=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), nullable=True)
    trigger: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    request_summary: Mapped[str] = mapped_column(Text, default="")
    outcome: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    next_step: Mapped[str] = mapped_column(String(300), default="")


class BulkRun(db.Model):
    """One "Export all": its filter, and the counts the progress bar shows."""

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integration.id"), index=True)
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    trigger: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | done
    total: Mapped[int] = mapped_column(Integer, default=0)
    enqueued: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    planned: Mapped[int | None] = mapped_column(Integer, nullable=True)  # rows the run will write, counted first
    skipped_reasons: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)

    integration: Mapped[Integration] = relationship()


class MailSettings(db.Model):
    """A merchant's outgoing mail server and sender; the password is encrypted like credentials."""

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), primary_key=True)
    host: Mapped[str] = mapped_column(String(200), default="")
    port: Mapped[int] = mapped_column(Integer, default=587)
    security: Mapped[str] = mapped_column(String(10), default="starttls")  # starttls | ssl | none
    username: Mapped[str] = mapped_column(String(200), default="")
    password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sender: Mapped[str] = mapped_column(String(200), default="")
    link_days: Mapped[int] = mapped_column(Integer, default=30)


class EmailTemplate(db.Model):
    __table_args__ = (UniqueConstraint("merchant_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attach_pdf: Mapped[bool] = mapped_column(Boolean, default=False)


class EmailLog(db.Model):
    """Each e-mail to a customer, logged on the order (and on the automatic run that sent it:
    one e-mail per run step, so a job that runs twice sends once)."""

    __table_args__ = (UniqueConstraint("run_id", "run_step", name="uq_email_log_run_step"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("order.id"), index=True, nullable=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), nullable=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("email_template.id"), nullable=True)
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    attach_pdf: Mapped[bool] = mapped_column(Boolean, default=False)
    pdf_source: Mapped[str] = mapped_column(String(10), default="")  # service | hub
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="")  # of the PDF attached
    # queued | sending | retrying | sent | failed
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    trigger: Mapped[str] = mapped_column(String(100), default="")
    run_id: Mapped[int | None] = mapped_column(ForeignKey("automation_run.id"), nullable=True, index=True)
    run_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)


AUTOMATION_TRIGGERS = ("new_order", "status_changed", "order_paid")
AUTOMATION_STEPS = ("issue_document", "change_status", "send_email")


class AutomationRule(db.Model):
    """When <trigger> (and the conditions hold), run the steps in order.

    steps: [{"type": "issue_document", "kind": "invoice", "series_id": 1, "stop_after_failure": true},
            {"type": "change_status", "status_id": 3}, {"type": "send_email", "template_id": 2}]"""

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    trigger: Mapped[str] = mapped_column(String(20))
    trigger_status_id: Mapped[int | None] = mapped_column(ForeignKey("order_status.id"), nullable=True)
    condition_source: Mapped[str] = mapped_column(String(100), default="")
    condition_payment: Mapped[str] = mapped_column(String(100), default="")
    condition_company: Mapped[str] = mapped_column(String(5), default="")  # "" any | yes | no
    steps: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class AutomationRun(db.Model):
    """One rule run on one order, step by step; waits while an issued document is exported.
    One run per rule, order and event (event_key): a rule job that runs twice starts it once."""

    __table_args__ = (UniqueConstraint("rule_id", "order_id", "event_key", name="uq_automation_run_event"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rule.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("order.id"), index=True)
    event: Mapped[str] = mapped_column(String(40))
    event_key: Mapped[str] = mapped_column(String(100), default="")
    depth: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(10), default="queued")  # queued | running | waiting | done | stopped
    step: Mapped[int] = mapped_column(Integer, default=0)
    waiting_document_id: Mapped[int | None] = mapped_column(ForeignKey("document.id"), nullable=True, index=True)
    log: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)

    rule: Mapped[AutomationRule] = relationship()
    emails: Mapped[list[EmailLog]] = relationship(order_by="EmailLog.id", viewonly=True)


class Webhook(db.Model):
    """Outgoing webhook: fired when a document's final PDF is fetched (for marketplace connectors)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class WebhookDelivery(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchant.id"), index=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("document.id"))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="queued")  # queued | delivered | retrying | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(TZDateTime, nullable=True)
