"""The PDF wFirma's ``invoices/download`` answers with (a plain sandbox layout)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .money import money_str
from .pdf import PdfDocument, PdfLine
from .wfirma_data import FISCAL_RECEIPTS, TITLES
from .wfirma_invoices import VAT_BY_ID

PAYMENT_LABELS = {
    "cash": "gotówka",
    "transfer": "przelew",
    "compensation": "kompensata",
    "cod": "za pobraniem",
    "payment_card": "karta płatnicza",
}


def _rate_label(code: str) -> str:
    return f"{code}%" if code.isdecimal() else code


def pdf_document(
    doc: dict, root: dict | None, page: str, duplicate: bool, leaflet: bool, printed_on: date
) -> PdfDocument:
    """``page``: all | invoice | invoicecopy; ``duplicate`` prints DUPLIKAT; ``leaflet`` adds the
    transfer slip (PLN transfer invoices only); a correction shows its lines before and after."""
    copies = {"all": "ORYGINAŁ i KOPIA", "invoice": "ORYGINAŁ", "invoicecopy": "KOPIA"}
    sale_date = doc["disposaldate"][:7] if doc["disposaldate_format"] == "month" else doc["disposaldate"]
    details = [("Data wystawienia", doc["date"]), ("Data sprzedaży", sale_date)]
    if doc["type"] not in FISCAL_RECEIPTS:
        details.append(("Termin płatności", doc["paymentdate"]))
    details.append(("Sposób płatności", PAYMENT_LABELS.get(doc["paymentmethod"], doc["paymentmethod"])))
    details.append(("Egzemplarz", copies[page]))
    if duplicate:
        details.append(("DUPLIKAT z dnia", printed_on.isoformat()))
    if root is not None:
        details.append(("Dotyczy faktury", f"{root['fullnumber']} z dnia {root['date']}"))
        details.append(("Przyczyna korekty", doc.get("description") or "-"))
    if doc.get("ksef_reference_number"):
        details.append(("Numer KSeF", doc["ksef_reference_number"]))
    if doc["currency"] != "PLN":
        details.append(
            ("Kurs", f"1 {doc['currency']} = {doc['currency_exchange']} PLN, tabela {doc['currency_label']}")
        )

    def party(detail: dict) -> list[str]:
        rows = [detail.get("name") or ""]
        if detail.get("nip"):
            rows.append(f"NIP: {detail['nip']}")
        rows.append(detail.get("street") or "")
        rows.append(" ".join(filter(None, (detail.get("zip"), detail.get("city")))))
        return [row for row in rows if row]

    def pdf_line(line: dict, suffix: str = "") -> PdfLine:
        rate = VAT_BY_ID[int(line["vat_code"]["id"])]
        price = Decimal(line["price"])
        unit_net = price if doc["price_type"] == "netto" else price / (1 + rate.fraction)
        return PdfLine(
            line["name"] + suffix,
            line["count"],
            line["unit"],
            money_str(unit_net),
            _rate_label(line["vat"]),
            line["netto"],
            money_str(Decimal(line["brutto"]) - Decimal(line["netto"])),
            line["brutto"],
        )

    if root is not None:
        lines = [pdf_line(line, " (przed korektą)") for line in doc["_lines_before"]]
        lines += [pdf_line(line, " (po korekcie)") for line in doc["invoicecontents"]]
    else:
        lines = [pdf_line(line) for line in doc["invoicecontents"]]
    notes = []
    if doc.get("description") and root is None:
        notes.append(doc["description"])
    if Decimal(doc["alreadypaid"]) > 0:
        notes.append(f"Zapłacono: {doc['alreadypaid']} {doc['currency']}, pozostało: {doc['remaining']}")
    if leaflet and doc["currency"] == "PLN" and doc["paymentmethod"] == "transfer":
        notes.append(f"Blankiet przelewu: {doc['company_detail'].get('bank_account') or '-'}")
    return PdfDocument(
        title=TITLES.get(doc["type"], "Dokument"),
        number=doc["fullnumber"] or "(szkic)",
        details=details,
        seller=party(doc["company_detail"]),
        buyer=party(doc["contractor_detail"]) or ["-"],
        lines=lines,
        totals=[(_rate_label(t["code"]), t["netto"], t["tax"], t["brutto"]) for t in doc["_rate_totals"]],
        total_label="Różnica" if root is not None else "Razem do zapłaty",
        total_gross=doc["total"],
        currency=doc["currency"],
        notes=notes,
    )
