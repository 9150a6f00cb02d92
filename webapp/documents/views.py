"""Turning a stored document into what is printed (HTML view and PDF)."""
from __future__ import annotations

from ..extensions import db
from ..models import Document, Merchant
from .printable import Printable, PrintableParty, build_correction, build_lines
from .totals import document_totals, vat_in_pln


def _address(party: dict) -> tuple[str, ...]:
    city_line = " ".join(p for p in (party.get("post_code"), party.get("city")) if p)
    lines = [party.get("street") or "", city_line]
    if party.get("country") and party.get("country") != "PL":
        lines.append(party["country"])
    return tuple(line for line in lines if line)


def seller_party(seller: dict) -> PrintableParty:
    return PrintableParty(name=seller.get("name") or "", tax_id=seller.get("tax_id") or None,
                          address_lines=_address(seller), email=seller.get("email") or None,
                          phone=seller.get("phone") or None, bank_account=seller.get("bank_account") or None)


def buyer_party(buyer: dict) -> PrintableParty | None:
    name = buyer.get("company_name") if buyer.get("is_company") else buyer.get("name")
    if not name and not buyer.get("tax_id"):
        return None
    return PrintableParty(name=name or "", tax_id=buyer.get("tax_id") or None, address_lines=_address(buyer),
                          email=buyer.get("email") or None, phone=buyer.get("phone") or None)


def superseded_note(document: Document) -> str | None:
    """Once the service's document is fetched it is the one that counts: the hub's copy says so."""
    export = document.export
    if export is None or export.state != "fetched":
        return None
    return (f"Kopia robocza: dokumentem obowiązującym jest {export.remote_number or 'dokument'} "
            f"w usłudze {export.integration.name}.")


def printable_for(document: Document) -> Printable:
    merchant = db.session.get(Merchant, document.merchant_id)
    correction = None
    if document.kind == "correction":
        original = document.corrects
        correction = build_correction(original.number, original.issue_date, document.correction_reason,
                                      document.lines_of("before"), document.lines_of("after"))
        lines, totals = correction.after_lines, correction.after_totals
    else:
        lines = build_lines(document.lines_of("line"))
        totals = document_totals(lines)
    return Printable(
        title=document.title, number=document.number, issue_date=document.issue_date,
        sell_date=document.sell_date, seller=seller_party(document.seller), buyer=buyer_party(document.buyer),
        lines=lines, totals=totals, currency=document.currency, exchange_rate=document.exchange_rate,
        place=merchant.place_of_issue or merchant.city, payment_method=document.payment_method,
        payment_due=None if document.hide_payment_date else document.payment_due, paid=document.paid,
        paid_date=document.paid_date, notes=document.notes, logo_png=merchant.logo_png, correction=correction,
        superseded_note=superseded_note(document),
        vat_in_pln=vat_in_pln(totals, document.exchange_rate)
        if document.currency != "PLN" and document.exchange_rate else None,
    )


def shows_service_copy(document: Document) -> bool:
    """The integration says "show the service's invoice instead" and its PDF has been fetched."""
    export = document.export
    return bool(export and export.state == "fetched" and export.integration.show_service_document
                and export.pdf)


def preview_pdf(document: Document) -> tuple[bytes, str]:
    """The PDF the customer gets — the same one the order card previews: (bytes, "service"|"hub")."""
    from .pdf import render_pdf

    if shows_service_copy(document):
        return document.export.pdf, "service"
    return render_pdf(printable_for(document)), "hub"


def preview_number(document: Document) -> str:
    if shows_service_copy(document) and document.export.remote_number:
        return document.export.remote_number
    return document.number
