"""Firmao: hub document → `POST /transactions` body, pre-flight checks, answers → RemoteDocument.

Pure functions, no HTTP, so every field the service receives can be asserted in tests.
Field names follow Firmao's guide (github.com/FirmaoCRM/API, README): a sales invoice is a
*transaction* with `type` + `mode`, buyer fields are flat dotted keys, lines are
`transactionEntries`. What the guide leaves open is marked [UNCONFIRMED] and can be changed
through the integration's options.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from . import checks
from . import payments as pay
from .base import (
    VAT_RATES,
    Choice,
    ExportSettings,
    HubDocument,
    Line,
    Problem,
    RateTotal,
    RemoteDocument,
    option_on,
)
from .money import (
    CENT,
    by_rate,
    decimal_or_none,
    json_quantity,
    money_text,
    normalise_rate,
    rate_percent,
    round_money,
    split_gross,
)
from .parties import EU_VAT_PREFIXES, NO_TAX_ID, classify_tax_id, country_name, display_name

KINDS = ("invoice", "receipt")  # corrections are documented, but not built here
UNIT_PRICE_STEP = Decimal("0.0001")  # unit net prices carry 4 places so quantity × price rounds back

# The numbering dictionary's names for `GET /invoicenumbers/next?objectClass=transaction&type=…` [DOC].
NUMBERING_TYPES = {"invoice": "invoice", "receipt": "receipt"}
KIND_LABELS = {"invoice": "Faktura", "receipt": "Paragon", "correction": "Korekta", "proforma": "Proforma"}

# Only CASH and TRANSFER are confirmed; there is no listing endpoint. Further codes the account
# accepts can be added with the `extra_payment_types` option ("CARD=Karta; COD=Pobranie").
PAYMENT_TYPES = (Choice("TRANSFER", "Przelew"), Choice("CASH", "Gotówka"))

# Our reference goes into `description` (an internal note, not printed) so a look-up can find it.
REFERENCE_LABEL = "Invoice Bridge ref"
_REFERENCE_PATTERN = re.compile(re.escape(REFERENCE_LABEL) + r":\s*([^\s;]+)")
RETAIL_CUSTOMER = "Klient detaliczny"

# Defaults of the [UNCONFIRMED] behaviour, each overridable through an option of the same name.
DEFAULTS = {
    "price_mode": "gross",  # gross: calculateFromGross + unitBruttoPrice; net: unitNettoPrice only
    "service_numbering": "next",  # next: read /invoicenumbers/next and send it; omit: leave it out
    "receipt_type": "RECEIPT",  # [GUESS] only INVOICE and CORRECTION appear in the guide
    "vat_code_zw": "zw",
    "vat_code_np": "np",
    "vat_code_oo": "oo",
    "unknown_sku": "reject",  # reject | text (an unlinked line that moves no stock)
    "pdf_template": "Faktura",  # when the document does not name its print template
    "retail_customer_name": RETAIL_CUSTOMER,
}
PRICE_MODES = frozenset({"gross", "net"})
NUMBERING_MODES = frozenset({"next", "omit"})
UNKNOWN_SKU_MODES = frozenset({"reject", "text"})

# Northern Ireland's XI ids are not taken for EU VAT ids here.
EU_PREFIXES = EU_VAT_PREFIXES - {"XI"}


# --------------------------------------------------------------------------- formatting


def unit_price(value: Decimal) -> str:
    """At least 2 places, at most 4 (trailing zeros beyond the grosz dropped)."""
    text = f"{Decimal(value).quantize(UNIT_PRICE_STEP, rounding=ROUND_HALF_UP):f}"
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.rstrip('0').ljust(2, '0')}"


def option(options: dict, name: str) -> str:
    value = options.get(name)
    text = str(value).strip() if value is not None else ""
    return text or DEFAULTS.get(name, "")


def number_option(options: dict, name: str, default: float) -> float:
    try:
        value = float(str(options.get(name)).replace(",", "."))
    except (TypeError, ValueError):
        return default
    return value if value >= 0 else default


def vat_value(rate: str, options: dict) -> int | str:
    """23/8/5/0 as numbers [DOC]; zw/np/oo as text [UNCONFIRMED: options vat_code_*]."""
    if rate.isdecimal():
        return int(rate)
    return option(options, f"vat_code_{rate}") or rate


def extra_payment_types(options: dict) -> list[Choice]:
    """`CODE=Name; CODE2=Name2` from the options → choices (codes upper-case, as Firmao's)."""
    choices = []
    for item in re.split(r"[;\n]", str(options.get("extra_payment_types") or "")):
        code, _, name = item.partition("=")
        code = code.strip().upper()
        if re.fullmatch(r"[A-Z0-9_]+", code):
            choices.append(Choice(code, name.strip() or code))
    return choices


def payment_types(options: dict) -> list[Choice]:
    known = {c.id for c in PAYMENT_TYPES}
    return list(PAYMENT_TYPES) + [c for c in extra_payment_types(options) if c.id not in known]


def default_payment_type(shop_name: str) -> str:
    """Cash stays cash; everything a shop takes online (cards, BLIK, PayU, P24…) lands on the
    bank account, the only other confirmed value being TRANSFER."""
    return pay.payment_code(shop_name, [(pay.CASH, "CASH")]) or "TRANSFER"


def payment_type(doc: HubDocument, settings: ExportSettings) -> str:
    return settings.payment_type or default_payment_type(doc.payment_method)


# --------------------------------------------------------------------------- buyer


def buyer_fields(doc: HubDocument, options: dict, customer_id: int | str | None = None) -> dict:
    buyer = doc.buyer
    name = display_name(buyer)
    if not name and doc.kind == "receipt":
        name = option(options, "retail_customer_name")
    fields: dict = {"customerName": name}
    if customer_id is not None:
        # An existing customer (found by its NIP after a 409): link it, print this document's data.
        fields["customer"] = customer_id
    else:
        # [DOC] links a customer of the same name or creates one; phones/emails only count here.
        fields["createCustomerIfNeeded"] = True
        if buyer.email:
            fields["emails"] = [buyer.email]
        if buyer.phone:
            fields["phones"] = [buyer.phone]
    tax_id, kind = classify_tax_id(buyer, EU_PREFIXES)
    if buyer.is_company and kind != NO_TAX_ID:
        fields["nipNumber"] = tax_id
    fields["customerAddress.street"] = buyer.street
    fields["customerAddress.postCode"] = buyer.post_code
    fields["customerAddress.city"] = buyer.city
    fields["customerAddress.country"] = country_name(buyer.country)
    return fields


# --------------------------------------------------------------------------- lines and money


def split_nets(lines: Iterable[Line], totals: Iterable[RateTotal]) -> list[tuple[Decimal, Decimal]]:
    """(net, vat) per line whose sums per rate are exactly the hub's per-rate net and VAT.

    The hub computes VAT once per rate from the gross sum; rounding every line's net on its own
    can miss that by a grosz or more (3 × 0.99 at 23 %: 3 × 0.80 = 2.40, the rate's net is 2.41).
    The difference goes, one grosz at a time, to the largest lines; each line keeps its gross.
    """
    lines = list(lines)
    targets = {t.rate: t.net for t in totals}
    nets = []
    for line in lines:
        percent = rate_percent(line.vat_rate)
        nets.append(round_money(line.gross * 100 / (100 + percent)))
    lines_of_rate: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        lines_of_rate.setdefault(line.vat_rate, []).append(i)
    for rate, indexes in lines_of_rate.items():
        target = targets.get(rate)
        if target is None:
            continue
        residual = target - sum((nets[i] for i in indexes), Decimal(0))
        order = sorted(indexes, key=lambda i: (-abs(lines[i].gross), i))
        step = CENT if residual > 0 else -CENT
        position = 0
        while residual != 0 and order:
            nets[order[position % len(order)]] += step
            residual -= step
            position += 1
    return [(net, line.gross - net) for net, line in zip(nets, lines, strict=True)]


def entry(line: Line, net: Decimal, vat: Decimal, options: dict, price_mode: str,
          product_id: int | str | None, send_sku: bool) -> dict:
    """One `transactionEntries` item; line totals carried so the service keeps the hub's split."""
    item: dict = {
        # A number links a catalogue product (stock moves); a string is a free-text line [DOC].
        "product": product_id if product_id is not None else line.name,
        # A JSON number as in the guide's examples; a fractional quantity (1.5 kg) is no money.
        "quantity": json_quantity(line.quantity),
        "unit": line.unit,
        "vatPercent": vat_value(line.vat_rate, options),
        "unitNettoPrice": unit_price(net / line.quantity) if line.quantity else money_text(net),
    }
    if price_mode == "gross":
        # [UNCONFIRMED] sending the unit gross on a sale; with calculateFromGross the service
        # derives the tax from the gross sum, the way the hub printed it.
        item["unitBruttoPrice"] = money_text(line.unit_gross)
    item["nettoPrice"] = money_text(net)
    item["vatPrice"] = money_text(vat)
    item["bruttoPrice"] = money_text(line.gross)
    if send_sku and line.sku:
        item["productCode"] = line.sku
    return item


# --------------------------------------------------------------------------- payload


def reference_text(doc: HubDocument) -> str:
    text = f"{REFERENCE_LABEL}: {doc.reference}"
    return f"{text}; zamówienie {doc.order_id}" if doc.order_id else text


def references_in(record: dict, options: dict | None = None) -> set[str]:
    """Every reference of ours a stored transaction carries (description or the custom field)."""
    found = set(_REFERENCE_PATTERN.findall(str(record.get("description") or "")))
    custom = option(options or {}, "reference_custom_field")
    if custom:
        nested = record.get("customFields")
        value = nested.get(custom) if isinstance(nested, dict) else None
        value = value if value is not None else record.get(f"customFields.{custom}")
        if value:
            found.add(str(value).strip())
    return found


def annotations(doc: HubDocument, options: dict) -> str:
    parts = [doc.notes.strip()] if doc.notes.strip() else []
    if "zw" in {line.vat_rate for line in doc.lines}:
        basis = doc.exemption_basis.strip() or option(options, "exempt_basis")
        if basis:
            # No documented field for the exemption basis: it is printed with the notes.
            parts.append(f"Podstawa zwolnienia z VAT: {basis}")
    return "\n".join(parts)


def document_type(kind: str, options: dict) -> str:
    return "INVOICE" if kind == "invoice" else option(options, "receipt_type").upper()


def build_transaction(doc: HubDocument, settings: ExportSettings, options: dict | None = None, *,
                      number: str | None = None, product_ids: dict[str, int] | None = None,
                      customer_id: int | str | None = None) -> dict:
    """The JSON body of `POST /transactions`."""
    opts = options or {}
    product_ids = product_ids or {}
    price_mode = option(opts, "price_mode")
    body: dict = {"type": document_type(doc.kind, opts), "mode": "SALE"}
    if number:
        # Sales numbers are unique: a second POST with it is refused (our duplicate guard).
        body["transactionNumber"] = number
    body["invoiceDate"] = doc.issue_date.isoformat()
    body["transactionDate"] = doc.sell_date.isoformat()
    if doc.payment_due is not None and not doc.hide_payment_date:
        body["paymentDate"] = doc.payment_due.isoformat()
    body["paymentType"] = payment_type(doc, settings)
    paid = doc.total_gross if doc.paid else Decimal(0)
    body["paid"] = bool(doc.paid)
    body["paidValue"] = money_text(paid)
    body["restOfPaidValue"] = money_text(doc.total_gross - paid)
    body["currency"] = doc.currency
    if doc.currency != "PLN" and doc.exchange_rate:
        body["exchangeRate"] = f"{doc.exchange_rate:f}"
    body["calculateFromGross"] = price_mode == "gross"
    body.update(buyer_fields(doc, opts, customer_id))
    notes = annotations(doc, opts)
    if notes:
        body["invoiceAnnotations"] = notes
    body["description"] = reference_text(doc)
    custom = option(opts, "reference_custom_field")
    if custom:
        body[f"customFields.{custom}"] = doc.reference
    for name, field in (("issuing_person", "issuingPerson"), ("storage_state_update", "storageStateUpdate")):
        if option(opts, name):
            body[field] = option(opts, name)
    if option(opts, "bank_account_id"):
        body["bankAccount"] = id_value(option(opts, "bank_account_id"))
    if settings.send_sku and option(opts, "warehouse_id"):
        body["warehouse"] = {"id": id_value(option(opts, "warehouse_id"))}  # [UNCONFIRMED]
    body["transactionNettoPrice"] = money_text(doc.total_net)
    body["transactionVatPrice"] = money_text(doc.total_vat)
    body["transactionBruttoPrice"] = money_text(doc.total_gross)
    splits = split_nets(doc.lines, doc.totals)
    body["transactionEntries"] = [
        entry(line, net, vat, opts, price_mode,
              product_ids.get(line.sku) if settings.send_sku and line.sku else None, settings.send_sku)
        for line, (net, vat) in zip(doc.lines, splits, strict=True)
    ]
    return body


def id_value(value: str) -> int | str:
    return int(value) if str(value).isdecimal() else value


# --------------------------------------------------------------------------- preflight


def _buyer_problems(doc: HubDocument) -> list[Problem]:
    invoice = doc.kind == "invoice"  # a receipt may go to an anonymous buyer
    return (checks.buyer_name_problems(doc.buyer, person_required=invoice)
            + checks.buyer_tax_id_problems(doc.buyer, nip_required=invoice, eu_prefixes=EU_PREFIXES)
            + checks.found(checks.buyer_country_problem(doc.buyer)))


def _line_problems(i: int, line: Line, send_sku: bool, vat_rates: frozenset[str]) -> list[Problem]:
    path = f"lines[{i}]"
    return checks.found(
        checks.line_name_problem(path, line.name),
        checks.vat_rate_problem(path, line, vat_rates, "Firmao"),
        checks.quantity_problem(path, line),
        checks.sku_problem(path, line, send_sku),
    )


def _option_problems(options: dict) -> list[Problem]:
    problems = []
    for name, allowed in (("price_mode", PRICE_MODES), ("service_numbering", NUMBERING_MODES),
                          ("unknown_sku", UNKNOWN_SKU_MODES)):
        if option(options, name) not in allowed:
            problems.append(Problem(
                f"options.{name}", f"Opcja „{name}” ma nieznaną wartość „{option(options, name)}” – wybierz: "
                f"{', '.join(sorted(allowed))}.",
            ))
    custom = option(options, "reference_custom_field")
    if custom and not re.fullmatch(r"custom\d+", custom):
        problems.append(Problem(
            "options.reference_custom_field",
            f"Pole dodatkowe „{custom}” ma złą postać – podaj je jako customN, np. custom5.",
        ))
    return problems


def preflight(doc: HubDocument, settings: ExportSettings, options: dict | None = None,
              vat_rates: frozenset[str] = frozenset(VAT_RATES)) -> list[Problem]:
    """Everything Firmao is known to refuse (or this adapter cannot send), found before sending."""
    opts = options or {}
    if doc.kind not in KINDS:
        if doc.kind != "correction":
            return [checks.unknown_kind(doc.kind)]
        return [Problem("kind", "Firmao: korekt nie przekazujemy – wystaw korektę bezpośrednio w Firmao.")]
    problems = _buyer_problems(doc)
    problems += checks.found(checks.no_lines(doc.lines))
    for i, line in enumerate(doc.lines):
        problems += _line_problems(i, line, settings.send_sku, vat_rates)
    problems += checks.currency_problems(doc)
    problems += checks.found(
        checks.exemption_basis_problem(doc.lines, doc.exemption_basis.strip(), option(opts, "exempt_basis")),
        checks.hub_number_problem(doc, settings),
    )
    problems += _option_problems(opts)
    return problems


# --------------------------------------------------------------------------- answers


def rate_aliases(options: dict | None = None) -> dict[str, str]:
    """The letter rates and the codes the options send for them [UNCONFIRMED: vat_code_*]."""
    aliases: dict[str, str] = {}
    for rate in ("zw", "np", "oo"):
        aliases.setdefault(rate, rate)
        aliases.setdefault(option(options or {}, f"vat_code_{rate}").lower(), rate)
    return aliases


def created_transaction(data: Any) -> tuple[str | None, str]:
    """(new id, objectLabel) from the changelog `POST /transactions` answers with.

    The CREATE entry of class `transaction` names the new document; a top-level `id` is
    accepted too (some endpoints answer that way).
    """
    if not isinstance(data, dict):
        return None, ""
    for item in data.get("changelog") or []:
        if (isinstance(item, dict) and item.get("modification") == "CREATE"
                and str(item.get("objectClass") or "").lower() == "transaction" and item.get("objectId") is not None):
            return str(item["objectId"]), str(item.get("objectLabel") or "")
    if data.get("id") is not None:
        return str(data["id"]), ""
    return None, ""


def number_from_label(label: str) -> str | None:
    """`"1/8/2012 - Internet Center"` → `"1/8/2012"`."""
    number = (label or "").split(" - ", 1)[0].strip()
    return number or None


def next_number_from(data: Any, text: str) -> str | None:
    """The body of `/invoicenumbers/next` is not shown in the guide: a string or a small JSON."""
    if isinstance(data, str):
        return data.strip() or None
    if isinstance(data, dict):
        for key in ("number", "nextNumber", "transactionNumber", "value", "result", "data"):
            value = data.get(key)
            if isinstance(value, (str, int)) and str(value).strip():
                return str(value).strip()
            if isinstance(value, dict):
                inner = next_number_from(value, "")
                if inner:
                    return inner
        return None
    if data is None:
        text = (text or "").strip().strip('"')
        return text if text and "<" not in text and len(text) <= 100 else None
    return None


def series_choices(records: Iterable[dict]) -> list[Choice]:
    """Sales series of invoices and receipts (others — purchases, offers, stock documents — left out)."""
    choices = []
    for record in records:
        if not isinstance(record, dict) or record.get("id") is None or record.get("deleted") is True:
            continue
        object_class = str(record.get("objectClass") or "transaction").lower()
        kind = str(record.get("type") or "").lower()
        mode = str(record.get("mode") or "SALE").upper()
        if object_class != "transaction" or mode != "SALE" or (kind and kind not in NUMBERING_TYPES.values()):
            continue  # purchase series number suppliers' documents, not ours
        name = str(record.get("name") or record.get("label") or record.get("description") or "").strip()
        pattern = str(record.get("pattern") or record.get("template") or record.get("format")
                      or record.get("numberTemplate") or "").strip()
        text = name or pattern or f"Seria {record['id']}"
        if pattern and pattern not in text:
            text = f"{text} ({pattern})"
        if kind:
            text = f"{KIND_LABELS.get(kind, kind)}: {text}"
        choices.append(Choice(str(record["id"]), text))
    return choices


def _entry_transaction_id(item: dict) -> str | None:
    value = item.get("transaction")
    if isinstance(value, dict):
        value = value.get("id")
    return str(value) if value is not None else None


def entries_of(items: Iterable[dict], remote_id: str) -> list[dict]:
    """Lines of one transaction (a service that ignored the filter sent others as well)."""
    return [item for item in items if isinstance(item, dict)
            and _entry_transaction_id(item) in (None, str(remote_id))]


def totals_from_entries(entries: list[dict], from_gross: bool, header_vat: Decimal | None,
                        options: dict | None = None) -> tuple[RateTotal, ...]:
    """Per-rate totals of the stored lines.

    A document calculated from gross prints each rate's VAT computed once from the rate's gross
    sum (as the hub does); that reading is used only while it agrees with the document's own VAT
    total, otherwise the lines' stored net/VAT sums are reported as they are.
    """
    aliases = rate_aliases(options)
    sums: dict[str, list[Decimal]] = {}
    for item in entries:
        rate = normalise_rate(item.get("vatPercent"), aliases)
        quantity = decimal_or_none(item.get("quantity")) or Decimal(0)
        net = decimal_or_none(item.get("nettoPrice"))
        if net is None:
            net = (quantity * (decimal_or_none(item.get("unitNettoPrice")) or Decimal(0))).quantize(CENT)
        gross = decimal_or_none(item.get("bruttoPrice"))
        vat = decimal_or_none(item.get("vatPrice"))
        if gross is None and vat is not None:
            gross = net + vat
        if gross is None:
            gross = round_money(net * (100 + rate_percent(rate)) / 100)
        if vat is None:
            vat = gross - net
        row = sums.setdefault(rate, [Decimal(0), Decimal(0), Decimal(0)])
        row[0] += net
        row[1] += vat
        row[2] += gross
    ordered = by_rate(sums)
    stored = tuple(RateTotal(rate, round_money(net), round_money(vat), round_money(gross))
                   for rate, (net, vat, gross) in ordered)
    if not from_gross:
        return stored
    printed = tuple(split_gross(rate, gross) for rate, (_, _, gross) in ordered)
    if header_vat is not None and sum((t.vat for t in printed), Decimal(0)) != round_money(header_vat):
        return stored
    return printed


def parse_transaction(record: dict, entries: list[dict] | None = None, options: dict | None = None) -> RemoteDocument:
    """A stored transaction (from `GET /transactions?id(eq)=…`) and its lines → RemoteDocument."""
    header_vat = decimal_or_none(record.get("transactionVatPrice"))
    totals = totals_from_entries(entries, option_on(record.get("calculateFromGross")), header_vat, options) \
        if entries else ()
    status = record.get("paymentStatus") or ("PAID" if record.get("paid") is True else None)
    return RemoteDocument(
        remote_id=str(record["id"]),
        number=str(record.get("transactionNumber") or record.get("documentNumber") or "") or None,
        status=str(status).lower() if status else None,
        view_url=None,  # no public link is documented; the PDF needs the API login
        pdf_url=None,
        total_gross=decimal_or_none(record.get("transactionBruttoPrice")),
        totals=totals,
        ksef=None,  # the API says nothing about KSeF
        raw={**record, "transactionEntries": entries or []},
    )
