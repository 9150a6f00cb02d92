"""inFakt: hub document → API v3 payloads, pre-flight checks, responses → RemoteDocument.

Pure functions, no HTTP, so every field the service receives can be asserted in tests.
Field names follow inFakt API v3 (github.com/infakt/API readme + the official Postman collection).
All money crosses the wire as integer grosze (1 PLN = 100).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from . import checks
from . import payments as pay
from .base import (
    Choice,
    CorrectionLine,
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
    has_reference,  # noqa: F401  (part of this module's API: the adapter reads it here)
    option_on,
    reference_line,
)
from .money import (
    CENT,
    by_rate,
    json_quantity,
    normalise_rate,
    rate_percent,
    round_money,
    split_gross,
    split_net,
)
from .parties import classify_tax_id, company_name, country_code

# inFakt's tax symbols; "oo" (reverse charge) is not in the documented list, so it is refused.
VAT_SYMBOLS = frozenset({"23", "8", "5", "0", "zw", "np"})
KINDS = ("invoice", "correction")  # no receipt endpoint in the API

# Single-document URLs are per kind and a corrective uuid 404s under /invoices, so the remote
# id of a correction carries its kind: "corrective:<uuid>". An invoice's id is its bare uuid.
CORRECTIVE_PREFIX = "corrective:"

# The documented fixed list (there is no endpoint); any other value is refused with a 422.
PAYMENT_TYPES = (
    Choice("transfer", "Przelew"),
    Choice("cash", "Gotówka"),
    Choice("card", "Karta płatnicza"),
    Choice("delivery", "Za pobraniem"),
    Choice("payu", "PayU"),
    Choice("przelewy24", "Przelewy24"),
    Choice("tpay", "Tpay"),
    Choice("dotpay", "Dotpay"),
    Choice("paypal", "PayPal"),
    Choice("barter", "Barter"),
    Choice("check", "Czek"),
    Choice("bill_of_sale", "Weksel"),
    Choice("compensation", "Kompensata"),
    Choice("accredited", "Akredytywa"),
    Choice("instalment_sale", "Sprzedaż ratalna"),
    Choice("other", "Inna"),
)
PAYMENT_CODES = frozenset(c.id for c in PAYMENT_TYPES)
FALLBACK_PAYMENT = "other"  # free text is refused, so unknown shop names become "other"

# Shop payment name → code; first match wins, so the specific operators come first.
# BLIK is settled like a card payment in a shop's books; the merchant can relink it.
_PAYMENT_RULES: tuple[tuple[str, str], ...] = (
    (pay.PRZELEWY24, "przelewy24"),
    (pay.TPAY, "tpay"),
    (pay.DOTPAY, "dotpay"),
    (pay.PAYU, "payu"),
    (pay.PAYPAL, "paypal"),
    (pay.BLIK, "card"),
    (pay.CASH_ON_DELIVERY, "delivery"),
    (pay.any_of(pay.CARD, pay.WALLET), "card"),
    (pay.CASH, "cash"),
    (pay.TRANSFER, "transfer"),
    (pay.COMPENSATION, "compensation"),
    (r"\braty\b|\bratal", "instalment_sale"),
)

# inFakt spells units with a dot ("szt.", "godz.", "usł."); the hub stores them without.
_UNIT_LABELS = {"szt": "szt.", "godz": "godz.", "usł": "usł.", "kpl": "kpl.", "opak": "opak.", "op": "op."}

# [UNCONFIRMED] inFakt publishes no text limits; names are held to KSeF FA's 512 characters.
LINE_NAME_LIMIT = 512
DEFAULT_CORRECTION_REASON = "other"  # a reason *symbol*; "other" is known to work [LIB]
UNPAID_STATUSES = frozenset({"draft", "printed", "sent"})
_DUPLICATE_WORDS = re.compile(r"już istnieje|zajęt|duplik|duplicate|taken|exist|unikal|powtarz", re.IGNORECASE)


# --------------------------------------------------------------------------- formatting


def grosze(value: Decimal) -> int:
    """Złote (Decimal) → integer grosze, the unit of every amount in the API."""
    return int((Decimal(value) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_grosze(value) -> Decimal | None:
    """An amount read back: integers are grosze; a "12.34" / "12.34 PLN" string (seen on one
    legacy endpoint) is złote."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (Decimal(value) / 100).quantize(CENT)
    text = str(value).strip().upper().removesuffix("PLN").strip().replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if re.fullmatch(r"-?\d+", text):
        return (number / 100).quantize(CENT)
    return number.quantize(CENT, rounding=ROUND_HALF_UP)


def unit_label(unit: str) -> str:
    unit = (unit or "").strip()
    return _UNIT_LABELS.get(unit, unit or "szt.")


def default_payment_type(shop_name: str) -> str:
    """Map a shop's payment name to one of inFakt's codes."""
    folded = ascii_fold(shop_name)
    if folded in PAYMENT_CODES:
        return folded
    return pay.payment_code(folded, _PAYMENT_RULES) or FALLBACK_PAYMENT


# --------------------------------------------------------------------------- remote ids


def corrective_remote_id(uuid: str) -> str:
    return f"{CORRECTIVE_PREFIX}{uuid}"


def split_remote_id(remote_id: str) -> tuple[str, str]:
    """remote id → (collection path, uuid): ("invoices", u) or ("corrective_invoices", u)."""
    remote_id = str(remote_id or "").strip()
    if remote_id.startswith(CORRECTIVE_PREFIX):
        return "corrective_invoices", remote_id.removeprefix(CORRECTIVE_PREFIX)
    return "invoices", remote_id


def collection_for(kind: str) -> str:
    return "corrective_invoices" if kind == "correction" else "invoices"


# --------------------------------------------------------------------------- reference marker

# There is no external-id field, so our reference line goes into the notes: the one documented
# text field read back whole, which `find_document` searches (`has_reference`).


def notes_text(doc: HubDocument) -> str:
    parts = []
    if doc.kind == "correction" and doc.correction is not None and doc.correction.reason.strip():
        # The API takes only a reason symbol; the merchant's own words go on the document.
        parts.append(f"Przyczyna korekty: {doc.correction.reason.strip()}")
    if doc.notes.strip():
        parts.append(doc.notes.strip())
    parts.append(reference_line(doc.reference))
    return "\n".join(parts)


# --------------------------------------------------------------------------- buyer


_STREET = re.compile(
    r"^(?P<street>.*?\D)\s+(?P<number>\d+[A-Za-z]?)"
    r"(?:\s*/\s*(?P<flat>\w+)|\s+(?:m\.?|lok\.?)\s*(?P<flat2>\w+))?$"
)


def split_street(street: str) -> tuple[str, str, str]:
    """'ul. Źródlana 3/5' → ('ul. Źródlana', '3', '5'); unparseable lines stay whole."""
    street = " ".join((street or "").split())
    match = _STREET.match(street)
    if not match:
        return street, "", ""
    return match["street"].strip(), match["number"], match["flat"] or match["flat2"] or ""


def person_names(buyer: Party) -> tuple[str, str]:
    first, last = buyer.first_name.strip(), buyer.last_name.strip()
    if first or last:
        return first, last
    name = " ".join(buyer.name.split())
    first, _, last = name.rpartition(" ")
    return (first, last) if first else (name, "")


def address_fields(buyer: Party, prefix: str, post_code_key: str) -> dict:
    street, number, flat = split_street(buyer.street)
    fields = {f"{prefix}street": street}
    if number:
        fields[f"{prefix}street_number"] = number
    if flat:
        fields[f"{prefix}flat_number"] = flat
    fields[f"{prefix}city"] = buyer.city
    fields[post_code_key] = buyer.post_code
    fields[f"{prefix}country"] = (buyer.country or "PL").upper()
    return fields


def buyer_fields(buyer: Party, options: dict | None = None) -> dict:
    """Inline `client_*` fields of an invoice (the buyer is copied onto the document)."""
    opts = options or {}
    if buyer.is_company:
        tax_code, _ = classify_tax_id(buyer)
        fields = {
            "client_company_name": company_name(buyer),
            "client_business_activity_kind": "other_business",
        }
        if tax_code:
            fields["client_tax_code"] = tax_code
    else:
        first, last = person_names(buyer)
        fields = {
            "client_first_name": first,
            "client_last_name": last,
            "client_business_activity_kind": "private_person",
        }
    fields.update(address_fields(buyer, "client_", "client_post_code"))
    if buyer.email and option_on(opts.get("send_client_email")):
        # [UNCONFIRMED] `client_email` is not in the official invoice table; off by default.
        fields["client_email"] = buyer.email
    return fields


def client_body(buyer: Party) -> dict:
    """POST /clients.json body (a correction needs a `client_id`). Clients use `nip` and
    `postal_code`, unlike invoices."""
    if buyer.is_company:
        tax_code, _ = classify_tax_id(buyer)
        client = {"company_name": company_name(buyer),
                  "business_activity_kind": "other_business"}
        if tax_code:
            client["nip"] = tax_code
    else:
        first, last = person_names(buyer)
        client = {"first_name": first, "last_name": last, "business_activity_kind": "private_person"}
    client.update(address_fields(buyer, "", "postal_code"))
    if buyer.email:
        client["email"] = buyer.email
    if buyer.phone:
        client["phone_number"] = buyer.phone
    return {"client": client}


# --------------------------------------------------------------------------- services (lines)


def service(line: Line) -> dict:
    # Gross in, no net value: the service then works from the same gross the hub printed,
    # so each rate's gross is the hub's to the grosz.
    item = {
        "name": line.name,
        "tax_symbol": line.vat_rate,
        "quantity": json_quantity(line.quantity),
        "unit": unit_label(line.unit),
        "gross_price": grosze(line.gross),
    }
    if line.ean:
        item["gtin"] = line.ean  # the only product-code field on a line (no SKU)
    return item


def _correction_state(line: Line | None, template: Line, group: str, after: bool) -> dict:
    """One side of a corrected line; a missing side (added/removed line) is that line at zero."""
    state = service(line) if line is not None else {
        "name": template.name,
        "tax_symbol": template.vat_rate,
        "quantity": 0,
        "unit": unit_label(template.unit),
        "gross_price": 0,
    }
    return {"group": group, "correction": after, **state}


def correction_services(lines: tuple[CorrectionLine, ...]) -> list[dict]:
    """Before/after pairs sharing a `group` (unchanged lines go as identical pairs)."""
    services = []
    for number, pair in enumerate(lines, start=1):
        template = pair.after or pair.before
        assert template is not None
        group = str(number)
        services.append(_correction_state(pair.before, template, group, after=False))
        services.append(_correction_state(pair.after, template, group, after=True))
    return services


# --------------------------------------------------------------------------- payloads


def _common_fields(doc: HubDocument, settings: ExportSettings, opts: dict) -> dict:
    fields: dict = {
        "invoice_date": doc.issue_date.isoformat(),
        # Always sent: without it the service silently books the account's currency.
        "currency": doc.currency,
        "payment_method": settings.payment_type or default_payment_type(doc.payment_method),
    }
    if doc.payment_due is not None and not doc.hide_payment_date:
        fields["payment_date"] = doc.payment_due.isoformat()
    if "zw" in {line.vat_rate for line in document_lines(doc)} and opts.get("vat_exemption_reason"):
        fields["vat_exemption_reason"] = int(str(opts["vat_exemption_reason"]).strip())
    fields["notes"] = notes_text(doc)
    return fields


def build_invoice(doc: HubDocument, settings: ExportSettings, options: dict | None = None) -> dict:
    """Body of POST /async/invoices.json."""
    opts = options or {}
    invoice = {**_common_fields(doc, settings, opts), "sale_date": doc.sell_date.isoformat()}
    if settings.numbering == "hub":
        # [UNCONFIRMED] a supplied number is honoured; `check_duplicate_number` makes the
        # service refuse a second document with it — the duplicate guard for hub numbering.
        invoice["number"] = doc.number
        invoice["check_duplicate_number"] = True
    if doc.paid:
        invoice["status"] = "paid"
        invoice["paid_date"] = (doc.paid_date or doc.issue_date).isoformat()
    elif str(opts.get("unpaid_status") or "").strip() in UNPAID_STATUSES:
        # Without a status the service makes a draft; "printed" books it straight away.
        invoice["status"] = str(opts["unpaid_status"]).strip()
    invoice.update(buyer_fields(doc.buyer, opts))
    invoice["services"] = [service(line) for line in doc.lines]
    return {"invoice": invoice, "send_to_ksef": option_on(opts.get("send_to_ksef"))}


def build_corrective_invoice(doc: HubDocument, settings: ExportSettings, original: dict, client_id: int | str,
                             options: dict | None = None) -> dict:
    """Body of POST /async/corrective_invoices.json; `original` is the corrected invoice as
    the service returns it (its number and dates are the service's, not the hub's)."""
    opts = options or {}
    corr = doc.correction
    assert corr is not None
    _, original_uuid = split_remote_id(corr.original_remote_id or "")
    invoice = _common_fields(doc, settings, opts)
    invoice.update({
        "client_id": client_id,
        "corrected_invoice_number": original.get("number") or corr.original_number,
        "corrected_invoice_date": original.get("invoice_date") or corr.original_issue_date.isoformat(),
        "corrected_invoice_uuid": original.get("uuid") or original_uuid,
        "correction_reason": str(opts.get("correction_reason") or DEFAULT_CORRECTION_REASON).strip(),
    })
    if original.get("sale_date"):
        # Lines and the sale date cannot be corrected together: keep the original's sale date.
        invoice["sale_date"] = original["sale_date"]
    invoice["services"] = correction_services(corr.lines)
    return {"corrective_invoice": invoice, "send_to_ksef": option_on(opts.get("send_to_ksef"))}


# --------------------------------------------------------------------------- preflight


def _buyer_problems(buyer: Party, for_client: bool) -> list[Problem]:
    problems = checks.buyer_name_problems(buyer) + checks.buyer_tax_id_problems(buyer)
    problems += checks.found(checks.buyer_country_problem(buyer))
    post_code = buyer.post_code.strip()
    polish = country_code(buyer) == "PL"
    if for_client and polish and post_code and not re.fullmatch(r"\d{2}-\d{3}", post_code):
        # A correction needs an inFakt client record, which takes Polish codes only as NN-NNN.
        problems.append(Problem(
            "buyer.post_code",
            f"Kod pocztowy nabywcy „{buyer.post_code}” musi mieć postać NN-NNN (np. 00-950).",
        ))
    return problems


def _line_problems(path: str, line: Line, vat_symbols: frozenset[str], allow_zero: bool) -> list[Problem]:
    hint = " (odwrotne obciążenie: użyj „np”)" if line.vat_rate == "oo" else ""
    return checks.found(
        checks.vat_rate_problem(path, line, vat_symbols, "inFakt", hint),
        checks.line_name_problem(path, line.name, LINE_NAME_LIMIT, "inFakt (KSeF)"),
        checks.quantity_problem(path, line, allow_zero),
    )


def _correction_problems(doc: HubDocument, vat_symbols: frozenset[str]) -> list[Problem]:
    corr = doc.correction
    if corr is None:
        return [checks.NO_CORRECTION]
    problems = checks.found(checks.unsent_original(corr, "inFakt"))
    if not problems and (corr.original_remote_id or "").strip().startswith(CORRECTIVE_PREFIX):
        problems.append(Problem(
            "correction.original_remote_id",
            "inFakt koryguje tylko faktury VAT, nie korekty – wystaw korektę do pierwotnej faktury.",
        ))
    if not corr.lines:
        problems.append(checks.NOTHING_CORRECTED)
    for path, side in checks.correction_sides(corr):
        problems += _line_problems(path, side, vat_symbols, allow_zero=True)
    return problems


def _option_problems(doc: HubDocument, settings: ExportSettings, opts: dict) -> list[Problem]:
    problems: list[Problem] = []
    if settings.payment_type and settings.payment_type not in PAYMENT_CODES:
        problems.append(Problem(
            "payment_type",
            f"Sposób płatności „{settings.payment_type}” nie istnieje w inFakt – wybierz jeden z listy "
            "w ustawieniach integracji (Sposoby płatności).",
        ))
    exemption = str(opts.get("vat_exemption_reason") or "").strip()
    if "zw" in {line.vat_rate for line in document_lines(doc)}:
        if not exemption:
            problems.append(Problem(
                "options.vat_exemption_reason",
                "Pozycje ze stawką zw wymagają podstawy zwolnienia z VAT – w ustawieniach integracji wpisz ID "
                "przyczyny zwolnienia z inFakt (lista: Ustawienia → Zwolnienia z VAT).",
            ))
        elif not exemption.isdecimal():
            problems.append(Problem(
                "options.vat_exemption_reason",
                f"Podstawa zwolnienia „{exemption}” musi być numerem (ID) przyczyny zwolnienia z inFakt.",
            ))
    reason = str(opts.get("correction_reason") or "").strip()
    if doc.kind == "correction" and reason and not re.fullmatch(r"[a-z_]+", reason):
        problems.append(Problem(
            "options.correction_reason",
            f"Przyczyna korekty „{reason}” musi być symbolem inFakt (np. „other”), nie opisem.",
        ))
    return problems


def preflight(doc: HubDocument, settings: ExportSettings, options: dict | None = None,
              vat_symbols: frozenset[str] = VAT_SYMBOLS) -> list[Problem]:
    """Everything inFakt is known to refuse, found before sending."""
    opts = options or {}
    if doc.kind == "receipt":
        return [Problem("kind",
                        "inFakt nie przyjmuje paragonów przez API – wystaw fakturę albo wybierz inną usługę.")]
    if doc.kind not in KINDS:
        return [checks.unknown_kind(doc.kind)]

    problems = _buyer_problems(doc.buyer, for_client=doc.kind == "correction")
    problems += checks.found(checks.currency_problem(doc))  # the amounts go in that currency, no rate
    if doc.kind == "correction":
        problems += _correction_problems(doc, vat_symbols)
    else:
        problems += checks.found(checks.no_lines(doc.lines))
        for i, line in enumerate(doc.lines):
            problems += _line_problems(f"lines[{i}]", line, vat_symbols, allow_zero=False)
        problems += checks.found(checks.hub_number_problem(doc, settings))
    problems += _option_problems(doc, settings, opts)
    return problems


# --------------------------------------------------------------------------- responses


def _line_amounts(row: dict, rate: str) -> tuple[Decimal, Decimal, Decimal]:
    """(net, vat, gross) of one service line; values it lacks are derived from the others."""
    gross, net, vat = (from_grosze(row.get(k)) for k in ("gross_price", "net_price", "tax_price"))
    if gross is None and net is not None:
        gross = net + (vat if vat is not None else round_money(net * rate_percent(rate) / 100))
    gross = gross if gross is not None else Decimal("0.00")
    if net is None or vat is None:
        split = split_gross(rate, gross)
        net, vat = split.net, split.vat
    return net, vat, gross


def _per_rate(rows: list[dict], method: str) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per-rate (net, vat, gross) of some lines: summed line by line ("lines"), or with the
    VAT computed once from the rate's gross sum ("gross") or from its net sum ("net")."""
    sums: dict[str, list[Decimal]] = {}
    for row in rows:
        rate = normalise_rate(row.get("tax_symbol"))
        total = sums.setdefault(rate, [Decimal("0.00")] * 3)
        for i, amount in enumerate(_line_amounts(row, rate)):
            total[i] += amount
    result = {}
    for rate, (net, vat, gross) in sums.items():
        if method in ("gross", "net"):
            total = split_gross(rate, gross) if method == "gross" else split_net(rate, net)
            net, vat, gross = total.net, total.vat, total.gross
        result[rate] = (net, vat, gross)
    return result


def _sum(totals: dict[str, tuple[Decimal, Decimal, Decimal]], part: int) -> Decimal:
    return sum((amounts[part] for amounts in totals.values()), Decimal("0.00"))


def totals_from_services(services: list[dict], document_net: Decimal | None = None,
                         document_vat: Decimal | None = None) -> tuple[RateTotal, ...]:
    """The service's per-rate totals, in the breakdown that adds up to the document's own
    `net_price`/`tax_price`.

    Line values are rounded line by line, while a document may compute VAT once per rate
    (from the gross sum when priced gross, the net sum when priced net); whichever way
    reproduces the document's totals is the one its summary shows. For a correction the
    after-state rows (`correction: true`) are reported — the hub's totals of a correction are
    those of its after-state lines — and the document's totals are the after − before change.
    """
    rows = [s for s in services if isinstance(s, dict)]
    before: list[dict] = []
    if any("correction" in s for s in rows):
        before = [s for s in rows if s.get("correction") is False]
        rows = [s for s in rows if s.get("correction") is True]
    chosen = _per_rate(rows, "lines")
    if document_net is not None and document_vat is not None:
        for method in ("lines", "gross", "net"):
            after_totals, before_totals = _per_rate(rows, method), _per_rate(before, method)
            if (_sum(after_totals, 0) - _sum(before_totals, 0) == document_net
                    and _sum(after_totals, 1) - _sum(before_totals, 1) == document_vat):
                chosen = after_totals
                break
    return tuple(RateTotal(rate, net, vat, gross) for rate, (net, vat, gross) in by_rate(chosen))


def ksef_info(data: dict) -> KsefInfo | None:
    ksef = data.get("ksef_data")
    if not isinstance(ksef, dict) or not any(ksef.get(k) for k in ("status", "ksef_number", "request_uuid")):
        return None  # never sent to KSeF
    status = str(ksef.get("status") or "").strip().lower()
    number = ksef.get("ksef_number") or None
    description = str(ksef.get("status_description") or "").strip() or None
    if status == "success":
        return KsefInfo("accepted", number, None, None)
    if status in ("sent", "processing", "pending", ""):
        return KsefInfo("processing", number, None, None)
    if status == "error":
        return KsefInfo("error", number, None, description or "KSeF: błąd wysyłki")
    return KsefInfo("error", number, None, description or f"Nieznany status KSeF: {status}")


def parse_invoice(data: dict, kind: str = "invoice") -> RemoteDocument:
    uuid = str(data["uuid"])
    shares = (data.get("extensions") or {}).get("shares") if isinstance(data.get("extensions"), dict) else None
    view_url = shares.get("link") if isinstance(shares, dict) and shares.get("available") else None
    return RemoteDocument(
        remote_id=corrective_remote_id(uuid) if kind == "correction" else uuid,
        number=data.get("number") or None,
        status=data.get("status") or None,
        view_url=view_url or None,
        pdf_url=None,  # the API has no PDF link: the PDF is read through the API only
        total_gross=from_grosze(data.get("gross_price")),
        totals=totals_from_services(data.get("services") or [], from_grosze(data.get("net_price")),
                                    from_grosze(data.get("tax_price"))),
        ksef=ksef_info(data),
        raw=data,
    )


def looks_like_duplicate_number(field_errors: dict[str, list[str]]) -> bool:
    messages = field_errors.get("number") or []
    return any(_DUPLICATE_WORDS.search(m) for m in messages)
