"""Issuing documents: invoices and receipts from orders, corrections of invoices.

A document is a snapshot: buyer, seller, lines and payment data are copied at issue time, so a
later change of the order does not change an issued document."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Document, DocumentLine, Merchant, Order, Series
from .numbering import allocate_number
from .totals import document_totals, line_amounts, money

WARSAW = ZoneInfo("Europe/Warsaw")


def today_in_poland() -> date:
    return datetime.now(WARSAW).date()


class IssueRefused(Exception):
    """The document cannot be issued; `message` says why and what to do (in the user's language:
    a job, with no user, writes Polish into its log)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field


def default_series(merchant_id: int, kind: str) -> Series | None:
    return db.session.scalar(
        db.select(Series)
        .where(Series.merchant_id == merchant_id, Series.kind == kind)
        .order_by(Series.is_default.desc(), Series.id)
        .limit(1)
    )


def series_for(merchant_id: int, kind: str, series_id: int | None) -> Series:
    if series_id:
        series = db.session.scalar(
            db.select(Series).where(Series.merchant_id == merchant_id, Series.id == series_id)
        )
        if series is None or series.kind != kind:
            raise IssueRefused(_("Wybierz serię numeracji tego rodzaju dokumentu."), "series_id")
        return series
    series = default_series(merchant_id, kind)
    if series is None:
        raise IssueRefused(
            _("Brak serii numeracji dla tego rodzaju dokumentu: dodaj ją w Ustawieniach → Serie."), "series_id")
    return series


def existing_document(order: Order, kind: str) -> Document | None:
    return next((d for d in order.documents if d.kind == kind), None)


def _check_issuable(order: Order, kind: str) -> None:
    if kind not in ("invoice", "receipt"):
        raise IssueRefused(_("Z zamówienia wystawia się fakturę albo paragon."), "kind")
    existing = existing_document(order, kind)
    if existing is not None:
        raise IssueRefused(_("To zamówienie ma już dokument %(number)s.", number=existing.number), "kind")
    if not order.items:
        raise IssueRefused(_("Zamówienie nie ma pozycji."), "items")
    if kind == "invoice":
        if order.buyer_is_company and not order.buyer_company_name:
            raise IssueRefused(_("Faktura wymaga nazwy firmy nabywcy: uzupełnij zamówienie."),
                               "buyer.company_name")
        if not order.buyer_is_company and not order.buyer_name:
            raise IssueRefused(_("Faktura wymaga imienia i nazwiska nabywcy: uzupełnij zamówienie."),
                               "buyer.name")
    if order.currency != "PLN" and not order.exchange_rate:
        raise IssueRefused(_("Zamówienie w walucie obcej wymaga kursu wymiany."), "exchange_rate")


def _line_from(source, role: str, position: int) -> DocumentLine:
    amounts = line_amounts(source.quantity, source.unit_gross, source.vat_rate)
    return DocumentLine(
        role=role, position=position, name=source.name, sku=source.sku or "", ean=source.ean or "",
        quantity=source.quantity, unit=source.unit, unit_gross=source.unit_gross, vat_rate=source.vat_rate,
        net=amounts.net, vat=amounts.vat, gross=amounts.gross,
    )


def _set_totals(document: Document, lines) -> None:
    totals = document_totals(lines)
    document.total_net, document.total_vat, document.total_gross = totals.net, totals.vat, totals.gross


def issue_document(order: Order, kind: str, *, series_id: int | None = None, user_id: int | None = None,
                   issue_date: date | None = None, trigger: str = "user") -> Document:
    """Issue an invoice or receipt for an order and commit. Raises IssueRefused."""
    _check_issuable(order, kind)
    series = series_for(order.merchant_id, kind, series_id)
    merchant = db.session.get(Merchant, order.merchant_id)
    issue_date = issue_date or today_in_poland()
    sell_date = order.ordered_at.astimezone(WARSAW).date()
    document = Document(
        merchant_id=order.merchant_id, order=order, series=series, kind=kind,
        issue_date=issue_date, sell_date=min(sell_date, issue_date),
        payment_due=None if series.hide_payment_date else issue_date + timedelta(days=series.payment_days),
        hide_payment_date=series.hide_payment_date,
        payment_method=order.payment_method, paid=order.paid,
        paid_date=(order.paid_date or issue_date) if order.paid else None,
        currency=order.currency, exchange_rate=order.exchange_rate,
        seller=merchant.seller_snapshot(), buyer=order.buyer_snapshot(), notes="",
        created_by_id=user_id,
    )
    for position, item in enumerate(order.items):
        document.lines.append(_line_from(item, "line", position))
    _set_totals(document, document.lines)
    from ..exports.services import attach_auto_export, enqueue_export

    outbox = []
    # The pre-flight check sees the document as issued: numbered, in its series.
    document = _save_with_number(document, series, issue_date,
                                 before_commit=lambda: outbox.append(attach_auto_export(document, trigger)))
    export = outbox[0] if outbox else None
    if export is not None and export.state == "queued":
        enqueue_export(export)  # after the commit: a job never sees an uncommitted row
    return document


def _save_with_number(document: Document, series: Series, issue_date: date, before_commit=None) -> Document:
    # No autoflush: the new document (already linked to its order) must not be flushed unnumbered.
    with db.session.no_autoflush:
        document.period, document.sequence, document.number = allocate_number(series, issue_date)
        document.series_id = series.id
        if before_commit is not None:
            before_commit()
    db.session.add(document)
    number, kind, merchant_id, series_name = document.number, document.kind, document.merchant_id, series.name
    try:
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        if db.session.scalar(db.select(Document.id).where(
                Document.merchant_id == merchant_id, Document.kind == kind, Document.number == number)):
            # The series produced a number another document already has (series sharing a format,
            # or a format changed under existing documents): retrying would fail the same way.
            raise IssueRefused(_(
                "Numer %(number)s już istnieje (nadał go wcześniej inny dokument), więc seria „%(series)s” "
                "nie może go użyć. Zmień format tej serii na niepowtarzalny (np. inny prefiks) albo utwórz "
                "nową serię w Ustawieniach → Serie numeracji.", number=number, series=series_name), "series") from error
        raise IssueRefused(
            _("Ten dokument został właśnie wystawiony w innym oknie lub procesie. Odśwież stronę.")) from error
    return document


@dataclass(frozen=True)
class LineChange:
    """The corrected state of one line of the original invoice (index into its lines)."""

    index: int
    quantity: Decimal
    unit_gross: Decimal
    removed: bool = False


def issue_correction(invoice: Document, changes: list[LineChange], reason: str, *,
                     series_id: int | None = None, user_id: int | None = None,
                     issue_date: date | None = None) -> Document:
    if invoice.kind != "invoice":
        raise IssueRefused(_("Korygować można fakturę."), "kind")
    reason = (reason or "").strip()
    if not reason:
        raise IssueRefused(_("Podaj przyczynę korekty."), "reason")
    if len(reason) > 500:
        raise IssueRefused(_("Przyczyna korekty: najwyżej 500 znaków."), "reason")
    base = latest_state(invoice)
    by_index = {change.index: change for change in changes}
    if any(i < 0 or i >= len(base) for i in by_index):
        raise IssueRefused(_("Korekta odnosi się do pozycji, której nie ma na fakturze."), "lines")
    series = series_for(invoice.merchant_id, "correction", series_id)
    issue_date = issue_date or today_in_poland()
    correction = Document(
        merchant_id=invoice.merchant_id, order_id=invoice.order_id, series=series, kind="correction",
        issue_date=issue_date, sell_date=invoice.sell_date, payment_due=None,
        hide_payment_date=True, payment_method=invoice.payment_method, paid=False, paid_date=None,
        currency=invoice.currency, exchange_rate=invoice.exchange_rate, seller=invoice.seller,
        buyer=invoice.buyer, notes="", corrects_id=invoice.id, correction_reason=reason, created_by_id=user_id,
    )
    changed = False
    after_lines = []
    for position, line in enumerate(base):
        correction.lines.append(_line_from(line, "before", position))
        change = by_index.get(position)
        if change is None:
            after = _line_from(line, "after", position)
        elif change.removed:
            changed = True
            continue
        else:
            if change.quantity <= 0:
                raise IssueRefused(_("Pozycja %(number)d: ilość musi być większa od zera (albo usuń pozycję).",
                                     number=position + 1),
                                   f"lines[{position}].quantity")
            if change.unit_gross < 0:
                raise IssueRefused(_("Pozycja %(number)d: cena nie może być ujemna.", number=position + 1),
                                   f"lines[{position}].unit_gross")
            changed |= change.quantity != line.quantity or money(change.unit_gross) != line.unit_gross
            after = _line_from(line, "after", position)
            after.quantity, after.unit_gross = change.quantity, money(change.unit_gross)
            amounts = line_amounts(after.quantity, after.unit_gross, after.vat_rate)
            after.net, after.vat, after.gross = amounts.net, amounts.vat, amounts.gross
        correction.lines.append(after)
        after_lines.append(after)
    if not changed:
        raise IssueRefused(_("Korekta nic nie zmienia: zmień ilość lub cenę albo usuń pozycję."), "lines")
    before_totals = document_totals(correction.lines_of("before"))
    after_totals = document_totals(after_lines)
    correction.total_net = after_totals.net - before_totals.net
    correction.total_vat = after_totals.vat - before_totals.vat
    correction.total_gross = after_totals.gross - before_totals.gross
    return _save_with_number(correction, series, issue_date)


def preview_correction(invoice: Document, changes: list[LineChange], reason: str):
    """Before/after of a correction as it would be issued (nothing is written)."""
    from types import SimpleNamespace

    from .printable import build_correction

    base = latest_state(invoice)
    by_index = {change.index: change for change in changes}
    after = []
    for position, line in enumerate(base):
        change = by_index.get(position)
        if change is not None and change.removed:
            continue
        quantity, price = (change.quantity, money(change.unit_gross)) if change else (line.quantity, line.unit_gross)
        after.append(SimpleNamespace(name=line.name, sku=line.sku, unit=line.unit, vat_rate=line.vat_rate,
                                     quantity=quantity, unit_gross=price))
    return build_correction(invoice.number, invoice.issue_date, reason, base, after)


def latest_state(invoice: Document) -> list[DocumentLine]:
    """The invoice's lines as corrected by its newest correction (a second correction starts
    from the state the first one left)."""
    newest = db.session.scalar(
        db.select(Document)
        .where(Document.corrects_id == invoice.id, Document.kind == "correction")
        .order_by(Document.id.desc())
        .limit(1)
    )
    return newest.lines_of("after") if newest else invoice.lines_of("line")
