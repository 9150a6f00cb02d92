"""How the inFakt emulator shows a stored document: API JSON, PDF and KSeF FA(2) XML.

Stored documents keep private bookkeeping under ``_``-prefixed keys (raw input, KSeF
state, share link, e-mails); the API never shows those.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal

from .infakt_documents import digits
from .pdf import PdfDocument, PdfLine, render_pdf

#: the fields a reader looks for, in the order the contract lists them
LEADING_KEYS = (
    "id",
    "uuid",
    "number",
    "currency",
    "paid_price",
    "notes",
    "kind",
    "payment_method",
    "split_payment",
    "split_payment_type",
    "recipient_signature",
    "seller_signature",
    "invoice_date",
    "sale_date",
    "continuous_service_start_on",
    "continuous_service_end_on",
    "status",
    "payment_date",
    "paid_date",
    "net_price",
    "tax_price",
    "gross_price",
    "left_to_pay",
    "client_id",
    "client_company_name",
    "client_first_name",
    "client_last_name",
    "client_business_activity_kind",
    "client_street",
    "client_street_number",
    "client_flat_number",
    "client_city",
    "client_post_code",
    "client_tax_code",
    "client_country",
    "bank_account",
    "bank_name",
    "swift",
    "vat_exemption_reason",
    "sale_type",
    "invoice_date_kind",
    "document_markings_ids",
    "transaction_kind_id",
    "bdo_code",
    "receipt_number",
    "not_income",
    "vat_exchange_date_kind",
)
TRAILING_KEYS = ("services", "transaction_terms")
KSEF_DESCRIPTIONS = {
    "sent": "Faktura została wysłana do KSeF i oczekuje na przetworzenie",
    "success": "Faktura została przyjęta przez KSeF",
    "error": "Faktura została odrzucona przez KSeF",
}
TITLES = {
    "pl": {"vat": "Faktura VAT", "proforma": "Faktura proforma", "correction": "Faktura korygująca"},
    "en": {"vat": "VAT invoice", "proforma": "Proforma invoice", "correction": "Corrective invoice"},
}
DOCUMENT_TYPE_LABELS = {
    "original": "ORYGINAŁ",
    "copy": "KOPIA",
    "original_copy": "ORYGINAŁ / KOPIA",
    "original_duplicate": "ORYGINAŁ — DUPLIKAT",
    "copy_duplicate": "KOPIA — DUPLIKAT",
    "duplicate": "DUPLIKAT",
    "regular": "",
    "double_regular": "",
}
FA2_NAMESPACE = "http://crd.gov.pl/wzor/2023/06/29/12648/"
#: FA(2) fields of the per-rate summary: rate -> (net field, VAT field or None)
FA2_RATE_FIELDS = {
    "23": ("P_13_1", "P_14_1"),
    "8": ("P_13_2", "P_14_2"),
    "5": ("P_13_3", "P_14_3"),
    "0": ("P_13_6_1", None),
    "zw": ("P_13_7", None),
    "np": ("P_13_8", None),
    "oo": ("P_13_10", None),
}


def invoice_kind_label(doc: dict) -> str:
    """The ``invoice_kind`` of task envelopes and ``ksef_data``."""
    return "corrective_invoice" if doc["kind"] == "correction" else "invoice"


def ksef_data(doc: dict) -> dict | None:
    state = doc.get("_ksef")
    if not state:
        return None
    description = KSEF_DESCRIPTIONS[state["status"]]
    if state.get("error"):
        description = f"{description}: {state['error']}"
    return {
        "request_uuid": state["request_uuid"],
        "invoice_uuid": doc["uuid"],
        "invoice_kind": invoice_kind_label(doc),
        "ksef_number": state["ksef_number"],
        "status": state["status"],
        "status_description": description,
        "timestamps": {"sent_at": state["sent_at"], "updated_at": state["updated_at"]},
    }


def extensions(doc: dict, share_url: str | None, today: str) -> dict:
    share = doc.get("_share")
    available = bool(share) and share["expiration_date"] >= today
    return {
        "payments": {"link": None, "available": False},
        "shares": {
            "link": share_url if available else None,
            "available": available,
            "valid_until": share["expiration_date"] if available else None,
        },
    }


def render_invoice(doc: dict, share_url: str | None, today: str) -> dict:
    out = {key: doc.get(key) for key in LEADING_KEYS}
    out.update(
        (key, value)
        for key, value in doc.items()
        if key not in out and key not in TRAILING_KEYS and not key.startswith("_")
    )
    out["services"] = [dict(service) for service in doc["services"]]
    out["transaction_terms"] = doc.get("transaction_terms")
    out["extensions"] = extensions(doc, share_url, today)
    out["ksef_data"] = ksef_data(doc)
    return out


# ---------------------------------------------------------------------------
# PDF


def zl(grosze: int | None) -> str:
    return f"{Decimal(grosze or 0) / 100:.2f}"


def _rate_label(rate: str) -> str:
    return f"{rate}%" if rate.isdecimal() else rate


def _pdf_line(service: dict) -> PdfLine:
    suffix = ""
    if "correction" in service:
        suffix = " (po korekcie)" if service["correction"] else " (przed korektą)"
    return PdfLine(
        service["name"] + suffix,
        str(service["quantity"]),
        service["unit"],
        zl(service["unit_net_price"]),
        _rate_label(service["tax_symbol"]),
        zl(service["net_price"]),
        zl(service["tax_price"]),
        zl(service["gross_price"]),
    )


def buyer_lines(doc: dict) -> list[str]:
    person = " ".join(filter(None, (doc.get("client_first_name"), doc.get("client_last_name"))))
    street = " ".join(filter(None, (doc.get("client_street"), doc.get("client_street_number"))))
    if doc.get("client_flat_number"):
        street = f"{street}/{doc['client_flat_number']}"
    rows = [doc.get("client_company_name") or person]
    if doc.get("client_tax_code"):
        rows.append(f"NIP: {doc['client_tax_code']}")
    rows.append(street)
    rows.append(" ".join(filter(None, (doc.get("client_post_code"), doc.get("client_city")))))
    return [row for row in rows if row] or ["-"]


def pdf_bytes(doc: dict, seller: dict, locale: str, document_type: str) -> bytes:
    titles = TITLES["en" if locale == "en" else "pl"]
    title = titles[doc["kind"]]
    if locale == "pe":
        title = f"{title} / {TITLES['en'][doc['kind']]}"
    details = [("Data wystawienia", doc["invoice_date"]), ("Data sprzedaży", doc["sale_date"])]
    details.append(("Termin płatności", doc["payment_date"]))
    details.append(("Sposób płatności", doc["payment_method"]))
    if doc.get("bank_account"):
        details.append(("Rachunek", f"{doc.get('bank_name') or ''} {doc['bank_account']}".strip()))
    if DOCUMENT_TYPE_LABELS.get(document_type):
        details.append(("Egzemplarz", DOCUMENT_TYPE_LABELS[document_type]))
    if doc["kind"] == "correction":
        details.append(
            (
                "Dotyczy faktury",
                f"{doc.get('corrected_invoice_number') or '-'} z dnia {doc.get('corrected_invoice_date') or '-'}",
            )
        )
        details.append(("Przyczyna korekty", doc.get("correction_reason") or "-"))
    state = doc.get("_ksef") or {}
    if state.get("ksef_number"):
        details.append(("Numer KSeF", state["ksef_number"]))
    for order in (doc.get("transaction_terms") or {}).get("orders", []):
        details.append(("Zamówienie", order["number"]))
    seller_rows = [seller["company_name"], f"NIP: {seller['nip']}", seller["street"], seller["city_line"]]
    notes = [doc["notes"]] if doc.get("notes") else []
    return render_pdf(
        PdfDocument(
            title=title,
            number=doc["number"],
            details=details,
            seller=seller_rows,
            buyer=buyer_lines(doc),
            lines=[_pdf_line(service) for service in doc["services"]],
            totals=[
                (_rate_label(t["tax_symbol"]), zl(t["net_price"]), zl(t["tax_price"]), zl(t["gross_price"]))
                for t in doc.get("_rate_totals", [])
            ],
            total_label="Różnica do zapłaty" if doc["kind"] == "correction" else "Razem do zapłaty",
            total_gross=zl(doc["gross_price"]),
            currency=doc["currency"],
            notes=notes,
        )
    )


# ---------------------------------------------------------------------------
# KSeF XML


def fa2_xml(doc: dict, seller: dict) -> bytes:
    """A small FA(2) structured invoice: enough for a client to check number, parties and sums."""
    ET.register_namespace("", FA2_NAMESPACE)

    def sub(parent, tag: str, text=None, **attributes):
        element = ET.SubElement(parent, f"{{{FA2_NAMESPACE}}}{tag}", attributes)
        if text is not None:
            element.text = str(text)
        return element

    root = ET.Element(f"{{{FA2_NAMESPACE}}}Faktura")
    header = sub(root, "Naglowek")
    sub(header, "KodFormularza", "FA", kodSystemowy="FA (2)", wersjaSchemy="1-0E")
    sub(header, "WariantFormularza", 2)
    sub(header, "DataWytworzeniaFa", datetime.now().astimezone().isoformat(timespec="seconds"))
    sub(header, "SystemInfo", "inFakt (sandbox)")
    seller_node = sub(root, "Podmiot1")
    ids = sub(seller_node, "DaneIdentyfikacyjne")
    sub(ids, "NIP", digits(seller["nip"]))
    sub(ids, "Nazwa", seller["company_name"])
    address = sub(seller_node, "Adres")
    sub(address, "KodKraju", "PL")
    sub(address, "AdresL1", seller["street"])
    sub(address, "AdresL2", seller["city_line"])
    buyer = sub(root, "Podmiot2")
    ids = sub(buyer, "DaneIdentyfikacyjne")
    tax_code = doc.get("client_tax_code")
    if tax_code and doc.get("client_country", "PL") == "PL":
        sub(ids, "NIP", digits(tax_code))
    elif tax_code:
        sub(ids, "KodUE", doc["client_country"])
        sub(ids, "NrVatUE", tax_code)
    else:
        sub(ids, "BrakID", 1)
    sub(ids, "Nazwa", buyer_lines(doc)[0])
    body = sub(root, "Fa")
    sub(body, "KodWaluty", doc["currency"])
    sub(body, "P_1", doc["invoice_date"])
    sub(body, "P_2", doc["number"])
    sub(body, "P_6", doc["sale_date"])
    for total in doc.get("_rate_totals", []):
        net_field, tax_field = FA2_RATE_FIELDS[total["tax_symbol"]]
        sub(body, net_field, zl(total["net_price"]))
        if tax_field:
            sub(body, tax_field, zl(total["tax_price"]))
    sub(body, "P_15", zl(doc["gross_price"]))
    sub(body, "RodzajFaktury", "KOR" if doc["kind"] == "correction" else "VAT")
    if doc["kind"] == "correction":
        sub(body, "PrzyczynaKorekty", doc.get("correction_reason") or "")
        corrected = sub(body, "DaneFaKorygowanej")
        sub(corrected, "DataWystFaKorygowanej", doc.get("corrected_invoice_date") or "")
        sub(corrected, "NrFaKorygowanej", doc.get("corrected_invoice_number") or "")
    for index, service in enumerate(doc["services"], start=1):
        row = sub(body, "FaWiersz")
        sub(row, "NrWierszaFa", index)
        sub(row, "P_7", service["name"])
        sub(row, "P_8A", service["unit"])
        sub(row, "P_8B", service["quantity"])
        sub(row, "P_9A", zl(service["unit_net_price"]))
        sub(row, "P_11", zl(service["net_price"]))
        sub(row, "P_12", service["tax_symbol"])
        if "correction" in service and not service["correction"]:
            sub(row, "StanPrzed", 1)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
