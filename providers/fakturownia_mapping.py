"""Fakturownia: hub document → `invoice` payload, pre-flight checks, response → RemoteDocument.

Pure functions, no HTTP, so every field the service receives can be asserted in tests.
Field names and values follow the Fakturownia API (github.com/fakturownia/API, README + KSeF.md).
"""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from stdnum.eu import vat as eu_vat
from stdnum.pl import nip

from .base import (
    VAT_RATES,
    Choice,
    ExportSettings,
    HubDocument,
    KsefInfo,
    Line,
    Party,
    Problem,
    RateTotal,
    RemoteDocument,
)

KIND_MAP = {"invoice": "vat", "receipt": "receipt", "correction": "correction"}

# Fixed list from the API docs (there is no endpoint); the service also accepts free text.
PAYMENT_TYPES = (
    Choice("transfer", "Przelew"),
    Choice("card", "Karta płatnicza"),
    Choice("cash", "Gotówka"),
    Choice("cash_on_delivery", "Za pobraniem"),
    Choice("payu", "PayU"),
    Choice("paypal", "PayPal"),
    Choice("barter", "Barter"),
    Choice("cheque", "Czek"),
    Choice("bill_of_exchange", "Weksel"),
    Choice("compensation", "Kompensata"),
    Choice("letter_of_credit", "Akredytywa"),
    Choice("off", "Nie wyświetlaj"),
)
PAYMENT_CODES = frozenset(c.id for c in PAYMENT_TYPES)

# Default shop payment name → code. First match wins, so the specific names come first.
# Przelewy24 is an online bank-transfer operator → transfer; BLIK is settled like a card
# payment in the shop's books → card. The merchant can change both in "Payment types".
_PAYMENT_RULES: tuple[tuple[str, str], ...] = (
    (r"\bprzelewy\s*24\b|\bp24\b", "transfer"),
    (r"\bblik\b", "card"),
    (r"\bpayu\b", "payu"),
    (r"\bpaypal\b", "paypal"),
    (r"\bpobrani|\bprzy odbiorze\b|\bcash on delivery\b|\bcod\b", "cash_on_delivery"),
    (r"\bkart|\bcard\b|\bapple pay\b|\bgoogle pay\b", "card"),
    (r"\bgotowk|\bcash\b", "cash"),
    (r"\bprzelew|\btransfer\b", "transfer"),
    (r"\bkompensat", "compensation"),
)

NOTES_HEADING = "Uwagi"
KSEF_TEXT_LIMIT = 256  # descriptions[].content, positions[].name, correction_reason under KSeF
DEFAULT_NP_TAX_KIND = "not_specified"
NP_TAX_KINDS = frozenset({"export_service", "export_service_eu", "not_specified"})
NP_ALIASES = frozenset({"np", "n/a", "na", "nie podlega", "not applicable"})
EU_PREFIXES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) | {"EL"}

RATE_ORDER = {rate: i for i, rate in enumerate(VAT_RATES)}
CENT = Decimal("0.01")


# --------------------------------------------------------------------------- formatting


def money(value: Decimal) -> str:
    return f"{Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP):f}"


def quantity(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def tax_value(rate: str) -> int | str:
    """23/8/5/0 as numbers, zw/np/oo as strings — the forms the API documents."""
    return int(rate) if rate.isdigit() else rate


def remote_id_value(value: str) -> int | str:
    return int(value) if str(value).isdigit() else value


def _ascii_fold(text: str) -> str:
    text = text.lower().replace("ł", "l")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def default_payment_type(shop_name: str) -> str | None:
    """Map a shop's payment name to a Fakturownia code; unknown names pass through as free text."""
    name = (shop_name or "").strip()
    if not name:
        return None
    folded = _ascii_fold(name)
    if folded in PAYMENT_CODES:
        return folded
    for pattern, code in _PAYMENT_RULES:
        if re.search(pattern, folded):
            return code
    return name


# --------------------------------------------------------------------------- buyer


def classify_tax_id(party: Party) -> tuple[str, str]:
    """(buyer_tax_no, buyer_tax_no_kind) for the buyer's id; kind "" = Polish NIP."""
    raw = re.sub(r"[\s\-.]", "", party.tax_id or "").upper()
    country = (party.country or "PL").upper()
    if not raw:
        return "", "empty"
    if re.fullmatch(r"(PL)?\d{10}", raw) and (country == "PL" or raw.startswith("PL")):
        return raw.removeprefix("PL"), ""
    if raw[:2] in EU_PREFIXES and raw[:2] != "PL" and raw[:2].isalpha():
        return raw, "nip_ue"
    return raw, "other"


def buyer_fields(buyer: Party) -> dict:
    fields: dict = {}
    if buyer.is_company:
        fields["buyer_company"] = True
        fields["buyer_name"] = (buyer.company_name or buyer.name).strip()
        tax_no, kind = classify_tax_id(buyer)
        if tax_no:
            fields["buyer_tax_no"] = tax_no
        fields["buyer_tax_no_kind"] = kind
    else:
        fields["buyer_company"] = False
        full_name = f"{buyer.first_name} {buyer.last_name}".strip()
        fields["buyer_name"] = (full_name or buyer.name).strip()
        fields["buyer_first_name"] = buyer.first_name.strip()
        fields["buyer_last_name"] = buyer.last_name.strip()
    # KSeF needs the full address on every document.
    fields["buyer_street"] = buyer.street
    fields["buyer_post_code"] = buyer.post_code
    fields["buyer_city"] = buyer.city
    fields["buyer_country"] = (buyer.country or "PL").upper()
    if buyer.email:
        fields["buyer_email"] = buyer.email
    if buyer.phone:
        fields["buyer_phone"] = buyer.phone
    return fields


# --------------------------------------------------------------------------- positions


def _position(line: Line, send_sku: bool, product_ids: dict[str, int]) -> dict:
    # Gross in, no net: the service then derives each rate's net from the gross sum, the way
    # the hub prints it, instead of summing per-line rounded nets.
    position = {
        "name": line.name,
        "quantity": quantity(line.quantity),
        "quantity_unit": line.unit,
        "price_gross": money(line.unit_gross),
        "total_price_gross": money(line.gross),
        "tax": tax_value(line.vat_rate),
    }
    if send_sku and line.sku:
        position["code"] = line.sku
        if line.sku in product_ids:
            position["product_id"] = product_ids[line.sku]
    return position


def _correction_state(line: Line | None, template: Line, kind: str) -> dict:
    """Before/after state of one corrected line; a missing side is the same line at zero."""
    if line is None:
        return {
            "name": template.name,
            "quantity": "0",
            "quantity_unit": template.unit,
            "price_gross": money(template.unit_gross),
            "total_price_gross": money(Decimal(0)),
            "tax": tax_value(template.vat_rate),
            "kind": kind,
        }
    return {
        "name": line.name,
        "quantity": quantity(line.quantity),
        "quantity_unit": line.unit,
        "price_gross": money(line.unit_gross),
        "total_price_gross": money(line.gross),
        "tax": tax_value(line.vat_rate),
        "kind": kind,
    }


def _correction_position(before: Line | None, after: Line | None, send_sku: bool,
                         product_ids: dict[str, int]) -> dict:
    """Outer position = the difference (kind "correction"), plus before/after states (API §5)."""
    current = after or before
    assert current is not None
    qty_before = before.quantity if before else Decimal(0)
    qty_after = after.quantity if after else Decimal(0)
    gross_before = before.gross if before else Decimal(0)
    gross_after = after.gross if after else Decimal(0)
    position = {
        "name": current.name,
        "quantity": quantity(qty_after - qty_before),
        "quantity_unit": current.unit,
        "total_price_gross": money(gross_after - gross_before),
        "tax": tax_value(current.vat_rate),
        "kind": "correction",
        "correction_before_attributes": _correction_state(before, current, "correction_before"),
        "correction_after_attributes": _correction_state(after, current, "correction_after"),
    }
    sku = current.sku
    if send_sku and sku:
        position["code"] = sku
        if sku in product_ids:
            position["product_id"] = product_ids[sku]
    return position


def document_lines(doc: HubDocument) -> list[Line]:
    """Every line the document mentions (both sides of a correction)."""
    if doc.kind == "correction" and doc.correction is not None:
        return [side for cl in doc.correction.lines for side in (cl.before, cl.after) if side is not None]
    return list(doc.lines)


# --------------------------------------------------------------------------- payload


def build_invoice(doc: HubDocument, settings: ExportSettings, options: dict | None = None,
                  product_ids: dict[str, int] | None = None) -> dict:
    """The `invoice` object of POST /invoices.json (the caller adds `api_token`)."""
    opts = options or {}
    product_ids = product_ids or {}
    invoice: dict = {
        "kind": KIND_MAP[doc.kind],
        # Exactly-once: the service refuses a second document with the same oid.
        "oid": doc.reference,
        "oid_unique": "yes",
        "issue_date": doc.issue_date.isoformat(),
        "sell_date": doc.sell_date.isoformat(),
    }
    if settings.numbering == "hub":
        invoice["number"] = doc.number
    if settings.series_id:
        # [UNCONFIRMED] The API has no numbering-series resource; departments are the nearest
        # documented lever, so the hub offers them as the service's "series".
        invoice["department_id"] = remote_id_value(settings.series_id)

    payment_type = settings.payment_type or default_payment_type(doc.payment_method)
    if payment_type:
        invoice["payment_type"] = payment_type
    if doc.hide_payment_date:
        invoice["payment_to_kind"] = "off"
    elif doc.payment_due is not None:
        invoice["payment_to"] = doc.payment_due.isoformat()
        invoice["payment_to_kind"] = "other_date"
    if doc.paid and doc.kind != "correction":
        invoice["status"] = "paid"
        invoice["paid"] = money(doc.total_gross)
        invoice["paid_date"] = (doc.paid_date or doc.issue_date).isoformat()

    invoice["currency"] = doc.currency
    if doc.currency != "PLN":
        invoice["exchange_currency"] = "PLN"
        invoice["exchange_kind"] = "own"
        if doc.exchange_rate:
            invoice["exchange_currency_rate"] = f"{doc.exchange_rate:f}"

    invoice.update(buyer_fields(doc.buyer))

    rates = {line.vat_rate for line in document_lines(doc)}
    if "zw" in rates:
        invoice["exempt_tax_kind"] = doc.exemption_basis or opts.get("exempt_tax_kind", "")
    if "np" in rates:
        invoice["np_tax_kind"] = opts.get("np_tax_kind") or DEFAULT_NP_TAX_KIND
    if "oo" in rates:
        invoice["reverse_charge"] = True

    notes = doc.notes.strip()
    if notes:
        invoice["descriptions"] = [{"kind": NOTES_HEADING, "content": notes}]

    if settings.send_sku and opts.get("warehouse_id"):
        invoice["warehouse_id"] = remote_id_value(str(opts["warehouse_id"]))

    if doc.kind == "correction":
        corr = doc.correction
        assert corr is not None and corr.original_remote_id
        original = remote_id_value(corr.original_remote_id)
        invoice["correction_reason"] = corr.reason
        invoice["invoice_id"] = original
        invoice["from_invoice_id"] = original
        invoice["positions"] = [
            _correction_position(cl.before, cl.after, settings.send_sku, product_ids) for cl in corr.lines
        ]
    else:
        invoice["positions"] = [_position(line, settings.send_sku, product_ids) for line in doc.lines]
    return invoice


# --------------------------------------------------------------------------- preflight


def _has_emoji(text: str) -> bool:
    # The service refuses emoji in notes: most live outside the BMP, the rest in the
    # Misc Symbols/Dingbats block or carry the emoji variation selector.
    return any(ord(ch) > 0xFFFF or 0x2600 <= ord(ch) <= 0x27BF or ch == "\ufe0f" for ch in text)


def _buyer_problems(buyer: Party) -> list[Problem]:
    problems: list[Problem] = []
    if buyer.is_company:
        if not (buyer.company_name or buyer.name).strip():
            problems.append(Problem("buyer.company_name", "Brak nazwy firmy nabywcy – uzupełnij nazwę firmy."))
        tax_no, kind = classify_tax_id(buyer)
        country = (buyer.country or "PL").upper()
        if kind == "empty" and country == "PL":
            problems.append(Problem("buyer.tax_id", "Brak NIP nabywcy (firma z Polski) – wpisz 10-cyfrowy NIP."))
        elif kind == "" and not nip.is_valid(tax_no):
            problems.append(Problem(
                "buyer.tax_id",
                f"NIP nabywcy „{buyer.tax_id}” jest nieprawidłowy (zła suma kontrolna) – popraw NIP.",
            ))
        elif kind == "nip_ue" and not eu_vat.is_valid(tax_no):
            problems.append(Problem(
                "buyer.tax_id",
                f"Numer VAT UE nabywcy „{buyer.tax_id}” jest nieprawidłowy – popraw numer "
                "(z prefiksem kraju, np. DE123456789).",
            ))
    else:
        has_full_name = buyer.first_name.strip() and buyer.last_name.strip()
        if not (has_full_name or buyer.name.strip()):
            problems.append(Problem("buyer.name", "Brak imienia i nazwiska nabywcy – uzupełnij dane klienta."))
    return problems


def _line_problems(path: str, line: Line, send_sku: bool, vat_rates: frozenset[str]) -> list[Problem]:
    problems: list[Problem] = []
    if line.vat_rate not in vat_rates:
        allowed = ", ".join(r for r in VAT_RATES if r in vat_rates)
        problems.append(Problem(
            f"{path}.vat_rate",
            f"Stawka VAT „{line.vat_rate}” w pozycji „{line.name}” nie jest obsługiwana przez "
            f"Fakturownię – wybierz jedną z: {allowed}.",
        ))
    if not line.name.strip():
        problems.append(Problem(f"{path}.name", "Pozycja bez nazwy – uzupełnij nazwę produktu."))
    elif len(line.name) > KSEF_TEXT_LIMIT:
        problems.append(Problem(
            f"{path}.name",
            f"Nazwa pozycji ma {len(line.name)} znaków; KSeF przyjmuje najwyżej {KSEF_TEXT_LIMIT} – skróć ją.",
        ))
    if send_sku and not (line.sku or "").strip():
        problems.append(Problem(
            f"{path}.sku",
            f"Pozycja „{line.name}” nie ma kodu SKU, a włączone jest przekazywanie SKU – uzupełnij SKU "
            "produktu albo wyłącz tę opcję.",
        ))
    return problems


def preflight(doc: HubDocument, settings: ExportSettings, options: dict | None = None,
              vat_rates: frozenset[str] = frozenset(VAT_RATES)) -> list[Problem]:
    """Everything Fakturownia is known to refuse, found before sending."""
    opts = options or {}
    problems: list[Problem] = []
    if doc.kind not in KIND_MAP:
        problems.append(Problem("kind", f"Nieznany rodzaj dokumentu „{doc.kind}”."))
        return problems

    problems += _buyer_problems(doc.buyer)

    notes = doc.notes.strip()
    if len(notes) > KSEF_TEXT_LIMIT:
        problems.append(Problem(
            "notes",
            f"Uwagi mają {len(notes)} znaków; Fakturownia (KSeF) przyjmuje najwyżej {KSEF_TEXT_LIMIT} – skróć je.",
        ))
    if _has_emoji(notes):
        problems.append(Problem("notes", "Uwagi zawierają emoji, których Fakturownia nie przyjmuje – usuń je."))

    if not re.fullmatch(r"[A-Z]{3}", doc.currency or ""):
        problems.append(Problem("currency", f"Waluta „{doc.currency}” to nie 3-literowy kod ISO (np. PLN, EUR)."))
    elif doc.currency != "PLN" and not (doc.exchange_rate and doc.exchange_rate > 0):
        problems.append(Problem(
            "exchange_rate", f"Dokument w walucie {doc.currency} wymaga kursu wymiany na PLN – podaj kurs.",
        ))

    if doc.kind == "correction":
        corr = doc.correction
        if corr is None:
            problems.append(Problem("correction", "Korekta bez danych korygowanego dokumentu."))
        else:
            if not (corr.original_remote_id or "").strip():
                problems.append(Problem(
                    "correction.original_remote_id",
                    f"Faktura {corr.original_number} nie została jeszcze przekazana do Fakturowni – "
                    "najpierw wyeksportuj fakturę korygowaną.",
                ))
            if len(corr.reason) > KSEF_TEXT_LIMIT:
                problems.append(Problem(
                    "correction.reason",
                    f"Przyczyna korekty ma {len(corr.reason)} znaków; KSeF przyjmuje najwyżej "
                    f"{KSEF_TEXT_LIMIT} – skróć ją.",
                ))
            if not corr.lines:
                problems.append(Problem("correction.lines", "Korekta nie zmienia żadnej pozycji."))
            for i, cl in enumerate(corr.lines):
                for side_name, side in (("before", cl.before), ("after", cl.after)):
                    if side is not None:
                        problems += _line_problems(
                            f"correction.lines[{i}].{side_name}", side, settings.send_sku, vat_rates
                        )
    else:
        if not doc.lines:
            problems.append(Problem("lines", "Dokument nie ma pozycji."))
        for i, line in enumerate(doc.lines):
            problems += _line_problems(f"lines[{i}]", line, settings.send_sku, vat_rates)

    has_exempt_lines = "zw" in {line.vat_rate for line in document_lines(doc)}
    if has_exempt_lines and not (doc.exemption_basis or opts.get("exempt_tax_kind")):
        problems.append(Problem(
            "exemption_basis",
            "Pozycje ze stawką zw wymagają podstawy zwolnienia z VAT – wpisz ją w dokumencie "
            "lub ustaw domyślną w opcjach integracji.",
        ))
    np_kind = opts.get("np_tax_kind")
    if np_kind and np_kind not in NP_TAX_KINDS:
        problems.append(Problem(
            "options.np_tax_kind",
            f"Rodzaj „np” „{np_kind}” jest nieznany – wybierz: {', '.join(sorted(NP_TAX_KINDS))}.",
        ))
    if settings.numbering == "hub" and not doc.number.strip():
        problems.append(Problem("number", "Wybrano numerację z huba, a dokument nie ma numeru."))
    return problems


# --------------------------------------------------------------------------- responses


def decimal_or_none(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value).replace(",", ".").strip())
    except InvalidOperation:
        return None


def normalise_rate(value) -> str:
    text = str(value if value is not None else "").strip().lower()
    if text in NP_ALIASES:
        return "np"
    number = decimal_or_none(text)
    if number is not None and number == number.to_integral_value():
        return str(int(number))
    return text


def totals_from_positions(positions: list[dict]) -> tuple[RateTotal, ...]:
    """Per-rate totals of a gross-priced invoice as Polish invoices print them: the rate's gross
    is the sum of line grosses and its VAT is computed once from it (not summed per line)."""
    sums: dict[str, Decimal] = {}
    for position in positions:
        if position.get("kind") in ("correction_before", "correction_after"):
            continue
        rate = normalise_rate(position.get("tax"))
        sums[rate] = sums.get(rate, Decimal(0)) + (decimal_or_none(position.get("total_price_gross")) or Decimal(0))
    ordered = sorted(sums.items(), key=lambda item: (RATE_ORDER.get(item[0], len(RATE_ORDER)), item[0]))
    totals = []
    for rate, gross in ordered:
        gross = Decimal(money(gross))
        percent = Decimal(rate) if rate.isdigit() else Decimal(0)
        vat = Decimal(money(gross * percent / (100 + percent)))
        totals.append(RateTotal(rate=rate, net=gross - vat, vat=vat, gross=gross))
    return tuple(totals)


def ksef_info(data: dict) -> KsefInfo | None:
    raw = data.get("gov_status")
    if not raw:
        return None  # never sent to KSeF
    status = str(raw).removeprefix("demo_")
    errors = data.get("gov_error_messages")
    if isinstance(errors, list):
        error_text = "; ".join(str(e) for e in errors if e) or None
    else:
        error_text = str(errors) if errors else None
    number = data.get("gov_id") or None
    link = data.get("gov_verification_link") or None
    if status == "ok":
        return KsefInfo("accepted", number, link, None)
    if status == "processing":
        return KsefInfo("processing", number, link, None)
    if status in ("send_error", "server_error"):
        return KsefInfo("error", number, link, error_text or f"KSeF: {raw}")
    if status == "not_applicable":
        return KsefInfo("not_applicable", number, link, None)
    if status == "not_connected":
        return KsefInfo("not_applicable", number, link, "KSeF nie jest połączony z kontem Fakturowni.")
    return KsefInfo("error", number, link, error_text or f"Nieznany status KSeF: {raw}")


def parse_invoice(data: dict, public_base_url: str | None) -> RemoteDocument:
    token = data.get("token")
    view_url = data.get("view_url")
    pdf_url = None
    if token and public_base_url:
        # Public links need no API token, so they are safe to store and e-mail.
        view_url = view_url or f"{public_base_url}/invoice/{token}"
        pdf_url = f"{public_base_url}/invoice/{token}.pdf"
    return RemoteDocument(
        remote_id=str(data["id"]),
        number=data.get("number") or None,
        status=data.get("status") or None,
        view_url=view_url or None,
        pdf_url=pdf_url,
        total_gross=decimal_or_none(data.get("price_gross")),
        totals=totals_from_positions(data.get("positions") or []),
        ksef=ksef_info(data),
        raw=data,
    )
