"""A stored hub document as the plain data the adapters take (providers never see models)."""
from __future__ import annotations

from providers.base import Correction, CorrectionLine, ExportSettings, HubDocument, Line, Party, RateTotal

from ..documents.totals import document_totals
from ..models import Document, DocumentLine, Integration


def _party(data: dict, *, seller: bool = False) -> Party:
    first, _, last = (data.get("name") or "").partition(" ")
    return Party(
        name=(data.get("name") or "") if not seller else data.get("name", ""),
        company_name=data.get("company_name", "") if not seller else data.get("name", ""),
        tax_id=data.get("tax_id") or "",
        is_company=True if seller else bool(data.get("is_company")),
        first_name=first, last_name=last,
        street=data.get("street") or "", post_code=data.get("post_code") or "", city=data.get("city") or "",
        country=data.get("country") or "PL", email=data.get("email") or "", phone=data.get("phone") or "",
    )


def _line(line: DocumentLine) -> Line:
    return Line(line.name, line.quantity, line.unit_gross, line.vat_rate, sku=line.sku or None,
                ean=line.ean or None, unit=line.unit.rstrip(".") or "szt", gross=line.gross, net=line.net, vat=line.vat)


def hub_document(document: Document, original_remote_id: str | None = None) -> HubDocument:
    if document.kind == "correction":
        before = document.lines_of("before")
        after = {line.position: line for line in document.lines_of("after")}
        pairs = tuple(CorrectionLine(_line(b), _line(after[b.position]) if b.position in after else None) for b in before)
        lines = tuple(_line(line) for line in document.lines_of("after"))
        original = document.corrects
        correction = Correction(original_remote_id=original_remote_id, original_number=original.number,
                                original_issue_date=original.issue_date, reason=document.correction_reason,
                                lines=pairs)
    else:
        lines = tuple(_line(line) for line in document.lines_of("line"))
        correction = None
    totals = document_totals(lines)
    return HubDocument(
        reference=document.reference, kind=document.kind, number=document.number,
        issue_date=document.issue_date, sell_date=document.sell_date, payment_due=document.payment_due,
        hide_payment_date=document.hide_payment_date, payment_method=document.payment_method,
        paid=document.paid, paid_date=document.paid_date, currency=document.currency,
        exchange_rate=document.exchange_rate, seller=_party(document.seller, seller=True),
        buyer=_party(document.buyer), lines=lines,
        totals=tuple(RateTotal(r.rate, r.net, r.vat, r.gross) for r in totals.rates),
        total_net=totals.net, total_vat=totals.vat, total_gross=totals.gross, notes=document.notes,
        correction=correction, order_id=str(document.order_id or ""),
    )


def export_settings(integration: Integration, document: Document) -> ExportSettings:
    series_links = integration.series_links or {}
    return ExportSettings(
        numbering=integration.numbering,
        series_id=series_links.get(str(document.series_id)) or None,
        payment_type=(integration.payment_links or {}).get(document.payment_method) or None,
        send_sku=integration.send_sku,
        options=dict(integration.options or {}),
    )
