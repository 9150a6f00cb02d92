"""The PDF of a Firmao transaction (``GET /reports/invoices/transaction/{template}/{file}.pdf``)."""

from __future__ import annotations

from decimal import Decimal

from .pdf import PdfDocument, PdfLine

TITLES = {
    "INVOICE": "Faktura VAT",
    "RECEIPT": "Paragon",
    "PROFORMA": "Faktura pro forma",
    "CORRECTION": "Faktura korygująca",
    "BILL": "Rachunek",
    "INVOICEMARGIN": "Faktura VAT marża",
    "ADVANCE_INVOICE": "Faktura zaliczkowa",
}
PAYMENT_LABELS = {
    "CASH": "gotówka",
    "TRANSFER": "przelew",
    "CARD": "karta płatnicza",
    "CASH_ON_DELIVERY": "za pobraniem",
    "ONLINE": "płatność online",
    "PREPAYMENT": "przedpłata",
    "COMPENSATION": "kompensata",
    "BARTER": "barter",
    "CREDIT": "kredyt kupiecki",
    "OTHER": "inna",
}


def _rate_label(rate: str) -> str:
    return f"{rate}%" if rate.isdecimal() else rate


def transaction_pdf_document(doc: dict, options: dict, original: bool) -> PdfDocument:
    details = [
        ("Egzemplarz", "ORYGINAŁ" if original else "KOPIA"),
        ("Data wystawienia", doc["invoiceDate"]),
        ("Data sprzedaży", doc["transactionDate"]),
    ]
    if doc.get("paymentDate"):
        details.append(("Termin płatności", doc["paymentDate"]))
    details.append(("Sposób płatności", PAYMENT_LABELS.get(doc["paymentType"], doc["paymentType"])))
    if doc["type"] == "CORRECTION":
        details.append(
            (
                "Dotyczy dokumentu",
                f"{doc.get('connectedDocNumber') or '-'} z dnia {doc.get('connectedDocDate') or '-'}",
            )
        )
        details.append(("Przyczyna korekty", doc.get("correctionCause") or "-"))
    address = doc.get("customerAddress") or {}
    buyer = [
        doc.get("customerName") or "",
        f"NIP: {doc['nipNumber']}" if doc.get("nipNumber") else "",
        address.get("street") or "",
        " ".join(filter(None, (address.get("postCode"), address.get("city")))),
        address.get("country") or "",
    ]
    lines = []
    for entry in doc["entries"]:
        suffix = " (przed korektą)" if entry["type"] == "INVALID" else ""
        if doc["type"] == "CORRECTION" and entry["type"] != "INVALID":
            suffix = " (po korekcie)"
        lines.append(
            PdfLine(
                entry["name"] + suffix,
                entry["quantity"],
                entry["unit"] or "",
                entry["unitNettoPrice"],
                _rate_label(entry["vatPercent"]),
                entry["nettoPrice"],
                entry["vatPrice"],
                entry["bruttoPrice"],
            )
        )
    notes = [text for text in (doc.get("invoiceAnnotations"), doc.get("description")) if text]
    return PdfDocument(
        title=TITLES.get(doc["type"], "Dokument"),
        number=doc["transactionNumber"],
        details=details,
        seller=[options["company_name"], f"NIP: {options['nip']}", "ul. Przykładowa 12/3", "00-950 Warszawa"],
        buyer=[row for row in buyer if row] or ["-"],
        lines=lines,
        totals=[(_rate_label(t["rate"]), t["net"], t["vat"], t["gross"]) for t in doc["_rate_totals"]],
        total_label="Różnica" if doc["type"] == "CORRECTION" else "Razem do zapłaty",
        total_gross=f"{Decimal(doc['transactionBruttoPrice']):.2f}",
        currency=doc["currency"],
        notes=notes,
    )
