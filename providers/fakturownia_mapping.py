"""Fakturownia: hub document → `invoice` payload, pre-flight checks, response → RemoteDocument.

Pure functions, no HTTP, so every field the service receives can be asserted in tests.
Field names and values follow the Fakturownia API (github.com/fakturownia/API, README + KSeF.md).
"""

from __future__ import annotations

from decimal import Decimal

from . import checks
from . import payments as pay
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
    ascii_fold,
    document_lines,
)
from .money import decimal_or_none, money_text, normalise_rate, quantity_text, rate_totals
from .parties import EU_VAT_ID, NO_TAX_ID, OTHER_TAX_ID, POLISH_NIP, classify_tax_id, display_name

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
    (pay.PRZELEWY24, "transfer"),
    (pay.BLIK, "card"),
    (pay.PAYU, "payu"),
    (pay.PAYPAL, "paypal"),
    (pay.CASH_ON_DELIVERY, "cash_on_delivery"),
    (pay.any_of(pay.CARD, pay.WALLET), "card"),
    (pay.CASH, "cash"),
    (pay.TRANSFER, "transfer"),
    (pay.COMPENSATION, "compensation"),
)

NOTES_HEADING = "Uwagi"
KSEF_TEXT_LIMIT = 256  # descriptions[].content, positions[].name, correction_reason under KSeF
DEFAULT_NP_TAX_KIND = "not_specified"
NP_TAX_KINDS = frozenset({"export_service", "export_service_eu", "not_specified"})
NP_ALIASES = {alias: "np" for alias in ("np", "n/a", "na", "nie podlega", "not applicable")}
# `buyer_tax_no_kind` for each kind of tax id ("" = a Polish NIP).
TAX_NO_KINDS = {NO_TAX_ID: "empty", POLISH_NIP: "", EU_VAT_ID: "nip_ue", OTHER_TAX_ID: "other"}


# --------------------------------------------------------------------------- formatting


def tax_value(rate: str) -> int | str:
    """23/8/5/0 as numbers, zw/np/oo as strings — the forms the API documents."""
    return int(rate) if rate.isdecimal() else rate


def remote_id_value(value: str) -> int | str:
    return int(value) if str(value).isdecimal() else value


def default_payment_type(shop_name: str) -> str | None:
    """Map a shop's payment name to a Fakturownia code; unknown names pass through as free text."""
    name = (shop_name or "").strip()
    if not name:
        return None
    folded = ascii_fold(name)
    if folded in PAYMENT_CODES:
        return folded
    return pay.payment_code(folded, _PAYMENT_RULES) or name


# --------------------------------------------------------------------------- buyer


def anonymous(buyer: Party) -> bool:
    """A consumer the shop knows no name of (a receipt's usual buyer)."""
    return not buyer.is_company and not display_name(buyer) and not buyer.tax_id.strip()


def buyer_fields(buyer: Party) -> dict:
    if anonymous(buyer):
        # A receipt names no buyer (KSeF's buyer rules are for invoices, §12): send no empty names.
        fields: dict = {"buyer_company": False}
        fields.update({f"buyer_{name}": getattr(buyer, name) for name in ("street", "post_code", "city", "email",
                                                                          "phone") if getattr(buyer, name).strip()})
        return fields
    fields = {"buyer_company": buyer.is_company, "buyer_name": display_name(buyer)}
    if buyer.is_company:
        tax_no, kind = classify_tax_id(buyer)
        if tax_no:
            fields["buyer_tax_no"] = tax_no
        fields["buyer_tax_no_kind"] = TAX_NO_KINDS[kind]
    else:
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


def _priced(line: Line) -> dict:
    # Gross in, no net: the service then derives each rate's net from the gross sum, the way
    # the hub prints it, instead of summing per-line rounded nets.
    return {
        "name": line.name,
        "quantity": quantity_text(line.quantity),
        "quantity_unit": line.unit,
        "price_gross": money_text(line.unit_gross),
        "total_price_gross": money_text(line.gross),
        "tax": tax_value(line.vat_rate),
    }


def _position(line: Line, send_sku: bool, product_ids: dict[str, int]) -> dict:
    position = _priced(line)
    if send_sku and line.sku:
        position["code"] = line.sku
        if line.sku in product_ids:
            position["product_id"] = product_ids[line.sku]
    return position


def _correction_state(line: Line | None, template: Line, kind: str) -> dict:
    """Before/after state of one corrected line; a missing side is the same line at zero."""
    if line is None:
        return {**_priced(template), "quantity": "0", "total_price_gross": money_text(Decimal(0)),
                "kind": kind}
    return {**_priced(line), "kind": kind}


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
        "quantity": quantity_text(qty_after - qty_before),
        "quantity_unit": current.unit,
        "total_price_gross": money_text(gross_after - gross_before),
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
        invoice["paid"] = money_text(doc.total_gross)
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
    full_name = (buyer.first_name.strip() and buyer.last_name.strip()) or buyer.name.strip()
    if not buyer.is_company and not full_name:
        # Fakturownia's own rule for a person: both first and last name, or the full name.
        return [checks.MISSING_PERSON_NAME]
    return checks.buyer_name_problems(buyer) + checks.buyer_tax_id_problems(buyer)


def _line_problems(path: str, line: Line, send_sku: bool, vat_rates: frozenset[str]) -> list[Problem]:
    return checks.found(
        checks.vat_rate_problem(path, line, vat_rates, "Fakturownię"),
        checks.line_name_problem(path, line.name, KSEF_TEXT_LIMIT),
        checks.sku_problem(path, line, send_sku),
    )


def _correction_problems(doc: HubDocument, settings: ExportSettings,
                         vat_rates: frozenset[str]) -> list[Problem]:
    corr = doc.correction
    if corr is None:
        return [checks.NO_CORRECTION]
    problems = checks.found(
        checks.unsent_original(corr, "Fakturowni"),
        checks.too_long("correction.reason", "Przyczyna korekty", corr.reason, KSEF_TEXT_LIMIT, "KSeF",
                        "skróć ją"),
        None if corr.lines else checks.NOTHING_CORRECTED,
    )
    for path, side in checks.correction_sides(corr):
        problems += _line_problems(path, side, settings.send_sku, vat_rates)
    return problems


def preflight(doc: HubDocument, settings: ExportSettings, options: dict | None = None,
              vat_rates: frozenset[str] = frozenset(VAT_RATES)) -> list[Problem]:
    """Everything Fakturownia is known to refuse, found before sending."""
    opts = options or {}
    if doc.kind not in KIND_MAP:
        return [checks.unknown_kind(doc.kind)]

    # A receipt may go without a buyer: the service asks for one only on invoices.
    problems = [] if doc.kind == "receipt" and anonymous(doc.buyer) else _buyer_problems(doc.buyer)

    notes = doc.notes.strip()
    problems += checks.found(
        checks.too_long("notes", "Uwagi", notes, KSEF_TEXT_LIMIT, "Fakturownia (KSeF)", "skróć je",
                        verb="mają"),
        Problem("notes", "Uwagi zawierają emoji, których Fakturownia nie przyjmuje – usuń je.")
        if _has_emoji(notes) else None,
    )
    problems += checks.currency_problems(doc)

    if doc.kind == "correction":
        problems += _correction_problems(doc, settings, vat_rates)
    else:
        problems += checks.found(checks.no_lines(doc.lines))
        for i, line in enumerate(doc.lines):
            problems += _line_problems(f"lines[{i}]", line, settings.send_sku, vat_rates)

    problems += checks.found(checks.exemption_basis_problem(document_lines(doc), doc.exemption_basis,
                                                            opts.get("exempt_tax_kind")))
    np_kind = opts.get("np_tax_kind")
    if np_kind and np_kind not in NP_TAX_KINDS:
        problems.append(Problem(
            "options.np_tax_kind",
            f"Rodzaj „np” „{np_kind}” jest nieznany – wybierz: {', '.join(sorted(NP_TAX_KINDS))}.",
        ))
    problems += checks.found(checks.hub_number_problem(doc, settings))
    return problems


# --------------------------------------------------------------------------- responses


def _after_states(positions: list[dict]) -> list[dict] | None:
    """The after-state rows of a correction read with `correction_positions=full` [DOC §5]: nested
    in each outer `kind: "correction"` position, or (seen in some answers) listed beside them.
    None when the answer is not a correction's; [] when it is one but carries no after-state."""
    outer = [p for p in positions if isinstance(p, dict) and p.get("kind") == "correction"]
    listed = [p for p in positions if isinstance(p, dict) and p.get("kind") == "correction_after"]
    if not outer and not listed:
        return None
    nested = [p["correction_after_attributes"] for p in outer
              if isinstance(p.get("correction_after_attributes"), dict)]
    return nested or listed


def _gross_sums(rows: list[dict]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for row in rows:
        rate = normalise_rate(row.get("tax"), NP_ALIASES)
        sums[rate] = sums.get(rate, Decimal(0)) + (decimal_or_none(row.get("total_price_gross")) or Decimal(0))
    return sums


def totals_from_positions(positions: list[dict]) -> tuple[RateTotal, ...]:
    """Per-rate totals of a gross-priced invoice as Polish invoices print them: the rate's gross
    is the sum of line grosses and its VAT is computed once from it (not summed per line).

    A correction's outer positions carry the difference; the hub's totals of a correction are
    those of its after-state lines, so the after-state rows are reported (as inFakt does). A
    correction read without its after-state (no `correction_positions=full`) reports nothing
    rather than a difference that would be taken for a mismatch."""
    positions = [p for p in positions if isinstance(p, dict)]
    after = _after_states(positions)
    if after is not None:
        return rate_totals(_gross_sums(after)) if after else ()
    return rate_totals(_gross_sums([p for p in positions if p.get("kind") != "correction_before"]))


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
