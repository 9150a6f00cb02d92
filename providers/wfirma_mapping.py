"""wFirma API2: hub document → `invoice` record, pre-flight checks, JSON envelopes, responses.

Pure functions, no HTTP, so every field the service receives can be asserted in tests.
Field names follow the wFirma API2 documentation (doc.wfirma.pl, modules `invoices`,
`invoicecontents`, `contractors`, `series`, `goods`). In the JSON envelope repeated records are
keyed by number strings ("0", "1", …) even when there is only one, and scalars travel as strings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import Any

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
    option_on,
)
from .money import CENT, decimal_or_none, money_text, normalise_rate, quantity_text, rate_totals, round_money
from .parties import (
    EU_VAT_ID,
    NO_TAX_ID,
    OTHER_TAX_ID,
    POLISH_NIP,
    classify_tax_id,
    display_name,
    tax_id_text,
)

# Document types (`invoice.type`) the hub may send. Invoices: VAT payer / non-VAT payer.
INVOICE_TYPES = {"normal": "Faktura VAT", "bill": "Faktura (bez VAT)"}
# Receipts: the non-fiscal "dowód sprzedaży" is the default because wFirma produces a PDF for it;
# a fiscal receipt has no PDF (it is printed by a fiscal printer / eparagony.pl).
RECEIPT_TYPES = {
    "receipt_normal": "Paragon niefiskalny (dowód sprzedaży)",
    "receipt_bill": "Paragon niefiskalny (bez VAT)",
    "receipt_fiscal_normal": "Paragon fiskalny",
    "receipt_fiscal_bill": "Paragon fiskalny (bez VAT)",
}
FISCAL_RECEIPT_TYPES = frozenset({"receipt_fiscal_normal", "receipt_fiscal_bill"})
DEFAULT_INVOICE_TYPE = "normal"
DEFAULT_RECEIPT_TYPE = "receipt_normal"
KINDS = frozenset({"invoice", "receipt"})  # corrections are not offered for wFirma

# The only documented payment methods (no "online"/PayU values exist).
PAYMENT_METHODS = (
    Choice("transfer", "Przelew"),
    Choice("cash", "Gotówka"),
    Choice("payment_card", "Karta płatnicza"),
    Choice("cod", "Za pobraniem"),
    Choice("compensation", "Kompensata"),
)
PAYMENT_CODES = frozenset(c.id for c in PAYMENT_METHODS)

# Shop payment name → method; first match wins. Online operators (PayU, Przelewy24, PayPal, Tpay)
# pay the shop out by bank transfer, so they become "transfer"; BLIK is settled like a card.
_PAYMENT_RULES: tuple[tuple[str, str], ...] = (
    (pay.BLIK, "payment_card"),
    (pay.CASH_ON_DELIVERY, "cod"),
    (pay.any_of(pay.CARD, pay.WALLET), "payment_card"),
    (pay.CASH, "cash"),
    (pay.COMPENSATION, "compensation"),
    (pay.any_of(pay.TRANSFER, pay.PAYU, pay.PRZELEWY24, pay.PAYPAL, pay.TPAY, pay.DOTPAY), "transfer"),
)
# `tax_id_type` for each kind of tax id.
TAX_ID_TYPES = {NO_TAX_ID: "none", POLISH_NIP: "nip", EU_VAT_ID: "vat", OTHER_TAX_ID: "custom"}

CONTRACTOR_MATCH_MODES = frozenset({"nip", "never"})
UNKNOWN_SKU_MODES = frozenset({"reject", "unlinked"})

NUMBERING_FIX = "użyj numeracji usługi albo połącz zgodną serię"

# Series template placeholders (`[numer]` is mandatory in every template).
_TEMPLATE_TOKENS = {
    "numer": r"(?P<number>\d+)",
    "rok": r"(?P<year>\d{4})",
    "miesiąc": r"(?P<month>\d{1,2})",
    "miesiac": r"(?P<month>\d{1,2})",
    "dzień": r"(?P<day>\d{1,2})",
    "dzien": r"(?P<day>\d{1,2})",
}

NP_ALIASES = {alias: "np" for alias in ("np", "np.", "n/a", "nie podlega")}
EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+")


# --------------------------------------------------------------------------- formatting


def unit_price(value: Decimal) -> str:
    """At least two decimals, more only when the hub's price really has them."""
    value = Decimal(value)
    return money_text(value) if value == value.quantize(CENT) else f"{value.normalize():f}"


def numbered(singular: str, items: Iterable[dict]) -> dict:
    """{"0": {singular: item}, "1": …} — the documented JSON form of repeated records."""
    return {str(i): {singular: item} for i, item in enumerate(items)}


def numbered_pairs(pairs: Iterable[tuple[str, str]]) -> dict:
    """{"0": {tag: value}, …}: repeated tags (e.g. `<order><desc>…</desc><asc>…</asc></order>`) in JSON."""
    return {str(i): {tag: value} for i, (tag, value) in enumerate(pairs)}


def envelope(plural: str, singular: str, record: dict) -> dict:
    return {plural: numbered(singular, [record])}


def find_request(plural: str, conditions: Iterable[tuple[str, str, str]] = (), page: int = 1,
                 limit: int = 100, order: Iterable[tuple[str, str]] | None = None) -> dict:
    """Body of `{module}/find`: paging plus AND-joined conditions (field, operator, value) and an
    optional order ((`asc`|`desc`, field), e.g. ("desc", "Invoice.id") for newest first)."""
    parameters: dict = {"page": str(page), "limit": str(limit)}
    conditions = list(conditions)
    if conditions:
        parameters["conditions"] = numbered(
            "condition", [{"field": f, "operator": op, "value": v} for f, op, v in conditions]
        )
    order = list(order or ())
    if order:
        parameters["order"] = numbered_pairs(order)
    return {plural: {"parameters": parameters}}


def download_request() -> dict:
    """Body of `invoices/download/{id}`: the original only, no envelope print, no transfer slip."""
    values = (("page", "invoice"), ("address", "0"), ("leaflet", "0"), ("duplicate", "0"))
    return {"invoices": {"parameters": numbered("parameter", [{"name": n, "value": v} for n, v in values])}}


def default_payment_method(shop_name: str) -> str | None:
    """Map the shop's payment name to a wFirma method; None = leave it to the account default."""
    folded = ascii_fold(shop_name)
    if folded in PAYMENT_CODES:
        return folded
    return pay.payment_code(folded, _PAYMENT_RULES)


def document_type(kind: str, options: dict) -> str:
    if kind == "receipt":
        return str(options.get("receipt_type") or DEFAULT_RECEIPT_TYPE)
    return str(options.get("invoice_type") or DEFAULT_INVOICE_TYPE)


# --------------------------------------------------------------------------- buyer


def contractor_record(buyer: Party) -> dict:
    """Inline buyer data: wFirma keeps it as the invoice's snapshot (`contractor_detail`)."""
    record = {
        "name": display_name(buyer),
        "street": buyer.street.strip(),
        "zip": buyer.post_code.strip(),
        "city": buyer.city.strip(),
        "country": (buyer.country or "PL").upper(),
    }
    tax_no, kind = classify_tax_id(buyer) if buyer.is_company else ("", NO_TAX_ID)
    record["tax_id_type"] = TAX_ID_TYPES[kind]
    if tax_no:
        record["nip"] = tax_no
    if buyer.email.strip():
        record["email"] = buyer.email.strip()
    if buyer.phone.strip():
        record["phone"] = buyer.phone.strip()
    return record


def _same_text(a: Any, b: Any) -> bool:
    return " ".join(str(a or "").split()).casefold() == " ".join(str(b or "").split()).casefold()


def contractor_matches(stored: dict, buyer: Party) -> bool:
    """A stored contractor may stand in for the buyer only when it would print the same data."""
    wanted = contractor_record(buyer)
    wanted_nip, stored_nip = wanted.get("nip", ""), tax_id_text(str(stored.get("nip") or ""))
    if wanted["tax_id_type"] == "nip":
        stored_nip = stored_nip.removeprefix("PL")
    if not wanted_nip or stored_nip != wanted_nip:
        return False
    return all(_same_text(stored.get(key), wanted[key]) for key in ("name", "street", "zip", "city"))


# --------------------------------------------------------------------------- numbering


def template_pattern(template: str) -> re.Pattern | None:
    """A series template ("FV [numer]/[miesiąc]/[rok]") as a regex over full numbers."""
    parts = re.split(r"(\[[^\]]+\])", template or "")
    regex, seen = "", set()
    for part in parts:
        if part.startswith("[") and part.endswith("]"):
            token = part[1:-1].strip().lower()
            group = _TEMPLATE_TOKENS.get(token)
            if group is None:
                regex += ".+?"
                continue
            name = re.search(r"\?P<(\w+)>", group).group(1)
            regex += f"(?P={name})" if name in seen else group
            seen.add(name)
        else:
            regex += re.escape(part)
    if "number" not in seen:
        return None
    return re.compile(rf"^{regex}$")


def number_parts(hub_number: str, template: str, issue_date: date) -> dict | None:
    """`number`/`day`/`month`/`year` that make the series template print the hub's number;
    None = the number cannot come out of this template. Date parts the template does not show
    come from the issue date."""
    pattern = template_pattern(template)
    match = pattern.match((hub_number or "").strip()) if pattern else None
    if match is None:
        return None
    values = {"day": f"{issue_date.day:02d}", "month": f"{issue_date.month:02d}", "year": str(issue_date.year)}
    values.update({k: v for k, v in match.groupdict().items() if v is not None})
    return {"number": str(int(values.pop("number"))), **values}


# --------------------------------------------------------------------------- payload


def content_record(line: Line, good_id: str | None = None) -> dict:
    # Gross unit prices (`price_type` = brutto): the service then sums each rate's gross the
    # way the hub does instead of summing per-line rounded nets.
    record = {
        "name": line.name,
        "count": quantity_text(line.quantity),
        "unit_count": quantity_text(line.quantity),
        "unit": line.unit,
        "price": unit_price(line.unit_gross),
        "vat": line.vat_rate,
    }
    if good_id:
        record["good"] = {"id": str(good_id)}
    return record


def description(doc: HubDocument, options: dict) -> str:
    text = (doc.notes or "").strip()
    if any(line.vat_rate == "zw" for line in doc.lines):
        # The API has no field for the VAT exemption basis; the remarks carry it onto the print.
        basis = (doc.exemption_basis or str(options.get("exemption_basis") or "")).strip()
        if basis and basis not in text:
            text = f"{text}\nPodstawa zwolnienia z VAT: {basis}".strip()
    return text


def build_invoice(doc: HubDocument, settings: ExportSettings, options: dict | None = None, *,
                  good_ids: dict[str, str] | None = None, contractor_id: str | None = None,
                  numbering: dict | None = None) -> dict:
    """The `invoice` record of POST /invoices/add (the caller wraps it in the envelope)."""
    opts = options or {}
    good_ids = good_ids or {}
    kind_type = document_type(doc.kind, opts)
    invoice: dict = {
        "type": kind_type,
        # Our reference, for the look-up before a retry: the API has no idempotency key.
        "id_external": doc.reference,
        "date": doc.issue_date.isoformat(),
        "disposaldate": doc.sell_date.isoformat(),
        "price_type": "brutto",
        "currency": doc.currency,
    }
    if settings.series_id:
        invoice["series"] = {"id": str(settings.series_id)}
    if settings.numbering == "hub" and numbering:
        invoice.update(numbering)
    method = settings.payment_type or default_payment_method(doc.payment_method)
    if method:
        invoice["paymentmethod"] = method
    if doc.payment_due is not None and not doc.hide_payment_date:
        invoice["paymentdate"] = doc.payment_due.isoformat()
    if doc.paid:
        invoice["alreadypaid_initial"] = money_text(doc.total_gross)
    remarks = description(doc, opts)
    if remarks and kind_type not in FISCAL_RECEIPT_TYPES:  # fiscal receipts take no remarks
        invoice["description"] = remarks
    invoice["contractor"] = {"id": str(contractor_id)} if contractor_id else contractor_record(doc.buyer)
    invoice["invoicecontents"] = numbered("invoicecontent", [
        content_record(line, good_ids.get((line.sku or "").strip()) if settings.send_sku else None)
        for line in doc.lines
    ])
    return invoice


# --------------------------------------------------------------------------- preflight


def _buyer_problems(buyer: Party, options: dict) -> list[Problem]:
    problems = checks.buyer_name_problems(buyer)
    # wFirma refuses an inline contractor without zip and city (the documented sample flags street).
    problems += checks.buyer_address_problems(buyer, street=option_on(options.get("require_street", "1")))
    problems += checks.found(checks.buyer_country_problem(buyer))
    email = buyer.email.strip()
    if email and not EMAIL.fullmatch(email):
        problems.append(Problem("buyer.email", f"Adres e-mail nabywcy „{email}” jest nieprawidłowy (wFirma "
                                               "przyjmuje jeden adres bez dodatków) – popraw go albo usuń."))
    return problems + checks.buyer_tax_id_problems(buyer)


def _line_problems(i: int, line: Line, send_sku: bool, vat_rates: frozenset[str]) -> list[Problem]:
    path = f"lines[{i}]"
    return checks.found(
        checks.line_name_problem(path, line.name),
        checks.vat_rate_problem(path, line, vat_rates, "wFirma"),
        checks.quantity_problem(path, line),
        Problem(f"{path}.unit_gross", f"Cena w pozycji „{line.name}” jest ujemna – popraw cenę (zwroty "
                                      "wystawia się korektą w wFirma).") if line.unit_gross < 0 else None,
        checks.sku_problem(path, line, send_sku),
    )


def _option_problems(options: dict) -> list[Problem]:
    problems: list[Problem] = []
    for key, allowed in (("invoice_type", INVOICE_TYPES), ("receipt_type", RECEIPT_TYPES),
                         ("contractor_match", CONTRACTOR_MATCH_MODES), ("unknown_sku", UNKNOWN_SKU_MODES)):
        value = options.get(key)
        if value and value not in allowed:
            problems.append(Problem(f"options.{key}", f"Nieznana wartość „{value}” opcji {key} – wybierz: "
                                                      f"{', '.join(sorted(allowed))}."))
    return problems


def preflight(doc: HubDocument, settings: ExportSettings, options: dict | None = None,
              vat_rates: frozenset[str] = frozenset(VAT_RATES)) -> list[Problem]:
    """Everything wFirma is known to refuse, found before sending."""
    opts = options or {}
    if doc.kind not in KINDS:
        return [Problem("kind", "wFirma: korekt nie przekazujemy – wystaw korektę bezpośrednio w wFirma.")]
    problems = _option_problems(opts)
    problems += _buyer_problems(doc.buyer, opts)
    problems += checks.found(checks.currency_problem(doc), checks.no_lines(doc.lines))
    for i, line in enumerate(doc.lines):
        problems += _line_problems(i, line, settings.send_sku, vat_rates)
    if settings.payment_type and settings.payment_type not in PAYMENT_CODES:
        problems.append(Problem("payment_method", f"Forma płatności „{settings.payment_type}” nie istnieje w "
                                                  f"wFirma – wybierz jedną z: {', '.join(sorted(PAYMENT_CODES))}."))
    if document_type(doc.kind, opts) in FISCAL_RECEIPT_TYPES and (doc.notes or "").strip():
        problems.append(Problem("notes", "Paragon fiskalny w wFirma nie przyjmuje uwag – usuń uwagi albo "
                                         "wybierz paragon niefiskalny w opcjach integracji."))
    if settings.numbering == "hub":
        # wFirma builds the number from a series template ([numer], [miesiąc], [rok]): only a
        # linked series with the hub's format can print the hub's number.
        if not settings.series_id:
            problems.append(Problem("series", "Numeracja huba w wFirma wymaga serii wFirma o tym samym formacie "
                                              f"numeru (tu: „nie przekazuj”) – {NUMBERING_FIX}."))
        if not (doc.number or "").strip():
            problems.append(Problem("number", f"Wybrano numerację huba, a dokument nie ma numeru – {NUMBERING_FIX}."))
        elif not re.search(r"\d", doc.number):
            problems.append(Problem("number", f"Numer „{doc.number}” nie zawiera liczby, którą wFirma wstawia w "
                                              f"[numer] – {NUMBERING_FIX}."))
    return problems


# --------------------------------------------------------------------------- responses


def children(container: Any, singular: str) -> list[dict]:
    """Records under a numbered container ({"0": {singular: {...}}}), a list, or one bare record."""
    if isinstance(container, list):
        items: list = container
    elif isinstance(container, dict):
        if isinstance(container.get(singular), dict | list):
            inner = container[singular]
            items = inner if isinstance(inner, list) else [{singular: inner}]
        else:
            items = [container[k] for k in sorted((k for k in container if str(k).isdecimal()), key=int)]
    else:
        return []
    out = []
    for item in items:
        if isinstance(item, dict):
            record = item.get(singular, item) if singular in item else item
            if isinstance(record, dict):
                out.append(record)
    return out


def records(data: Any, plural: str, singular: str) -> list[dict]:
    return children(data.get(plural) if isinstance(data, dict) else None, singular)


def page_total(data: Any, plural: str) -> int | None:
    container = data.get(plural) if isinstance(data, dict) else None
    parameters = container.get("parameters") if isinstance(container, dict) else None
    total = parameters.get("total") if isinstance(parameters, dict) else None
    try:
        return int(str(total))
    except (TypeError, ValueError):
        return None


def status_code(data: Any) -> str:
    status = data.get("status") if isinstance(data, dict) else None
    code = status.get("code") if isinstance(status, dict) else status
    return str(code or "").strip().upper()


def status_message(data: Any) -> str:
    status = data.get("status") if isinstance(data, dict) else None
    return str(status.get("message") or "").strip() if isinstance(status, dict) else ""


_INVOICE_FIELDS = {
    "number": "number", "fullnumber": "number", "day": "number", "month": "number", "year": "number",
    "series": "series", "date": "issue_date", "disposaldate": "sell_date", "paymentdate": "payment_due",
    "paymentmethod": "payment_method", "currency": "currency", "description": "notes", "type": "kind",
    "alreadypaid_initial": "paid", "id_external": "reference",
}
_CONTRACTOR_FIELDS = {
    "name": "name", "nip": "tax_id", "tax_id_type": "tax_id", "zip": "post_code", "city": "city",
    "street": "street", "country": "country", "email": "email", "phone": "phone",
}
_LINE_FIELDS = {
    "name": "name", "count": "quantity", "unit_count": "quantity", "price": "unit_gross", "vat": "vat_rate",
    "vat_code": "vat_rate", "unit": "unit", "good": "sku", "good_id": "sku",
}


def hub_field(path: list[str], field: str) -> str:
    """A service error location as the hub's field path (`buyer.tax_id`, `lines[1].name`)."""
    field = (field or "").strip()
    if "invoicecontents" in path:
        at = path.index("invoicecontents")
        index = path[at + 1] if len(path) > at + 1 and path[at + 1].isdecimal() else "0"
        return f"lines[{index}].{_LINE_FIELDS.get(field, field or 'name')}"
    if "contractor" in path:
        return f"buyer.{_CONTRACTOR_FIELDS.get(field, field or 'name')}"
    if "series" in path:
        return "series"
    return _INVOICE_FIELDS.get(field, f"invoice.{field}" if field else "invoice")


def collect_errors(data: Any) -> dict[str, list[str]]:
    """Field errors attached anywhere in an echoed record (`errors` → `error` {field, message})."""
    found: dict[str, list[str]] = {}

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, path + [str(i)])
            return
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key == "errors":
                for error in children(value, "error"):
                    message = str(error.get("message") or "").strip() or "błąd"
                    found.setdefault(hub_field(path, str(error.get("field") or "")), []).append(message)
            elif key not in ("status", "parameters") and isinstance(value, dict | list):
                walk(value, path + [str(key)])

    walk(data, [])
    return found


def totals_from_contents(contents: list[dict], price_type: str | None) -> tuple[RateTotal, ...]:
    """Per-rate totals as a Polish invoice prints them: from gross, one VAT per rate (brutto
    documents), or from net, one VAT per rate (netto documents)."""
    from_net = str(price_type or "").lower() == "netto"
    sums: dict[str, Decimal] = {}
    for content in contents:
        rate = content.get("vat") if content.get("vat") not in (None, "") else content.get("vat_code")
        if isinstance(rate, dict):  # `vat_code` {id, code}
            rate = rate.get("code") or rate.get("id")
        rate = normalise_rate(rate, NP_ALIASES)
        amount = decimal_or_none(content.get("netto" if from_net else "brutto"))
        if amount is None:
            count, price = decimal_or_none(content.get("count")), decimal_or_none(content.get("price"))
            amount = round_money(count * price) if count is not None and price is not None else Decimal(0)
        sums[rate] = sums.get(rate, Decimal(0)) + amount
    return rate_totals(sums, from_net)


def document_totals(record: dict) -> tuple[RateTotal, ...]:
    contents = children(record.get("invoicecontents"), "invoicecontent")
    totals = totals_from_contents(contents, record.get("price_type"))
    if len(totals) == 1:
        # One rate: the document's own netto/tax/total are exactly that rate's row, so report
        # what the service computed rather than our re-derivation.
        net, vat, gross = (decimal_or_none(record.get(k)) for k in ("netto", "tax", "total"))
        if net is not None and vat is not None and gross is not None:
            return (RateTotal(totals[0].rate, net, vat, gross),)
    return totals


# Word stems, matched at the start of each word of the raw status.
_KSEF_ERROR = ("error", "reject", "fail", "odrzu", "błąd", "blad")
_KSEF_NOT_APPLICABLE = ("not_applicable", "none", "disabled", "not_sent", "dotyczy")
_KSEF_ACCEPTED = ("accept", "success", "ok", "registered", "confirmed", "przyjęt", "przyjet", "zarejestr")


def _has_stem(words: list[str], stems: tuple[str, ...]) -> bool:
    return any(word.startswith(stem) for word in words for stem in stems)


def ksef_info(record: dict) -> KsefInfo | None:
    """KSeF fields when wFirma reports them (`ksef_reference_number`, `ksef_status`); the status
    vocabulary is not documented, so it is read by its meaning and kept raw on errors."""
    number = str(record.get("ksef_reference_number") or "").strip() or None
    raw = str(record.get("ksef_status") or "").strip()
    if not raw and not number:
        return None
    words = [w for w in re.split(r"[^\w]+", raw.lower()) if w]
    if _has_stem(words, _KSEF_ERROR):
        detail = str(record.get("ksef_error") or record.get("ksef_status_description") or "").strip()
        return KsefInfo("error", number, None, f"KSeF: {raw}" + (f" – {detail}" if detail else ""))
    if _has_stem(words, _KSEF_NOT_APPLICABLE):
        return KsefInfo("not_applicable", number, None, None)
    if _has_stem(words, _KSEF_ACCEPTED) or (number and not raw):
        return KsefInfo("accepted", number, None, None)
    return KsefInfo("processing", number, None, None)


def parse_invoice(record: dict) -> RemoteDocument:
    return RemoteDocument(
        remote_id=str(record["id"]),
        number=str(record.get("fullnumber") or "").strip() or None,
        status=str(record.get("paymentstate") or "").strip() or None,
        view_url=None,  # wFirma has no public link to a document
        pdf_url=None,
        total_gross=decimal_or_none(record.get("total")),
        totals=document_totals(record),
        ksef=ksef_info(record),
        raw=record,
    )


def first_match(items: Iterable[dict], predicate: Callable[[dict], bool]) -> dict | None:
    return next((item for item in items if predicate(item)), None)
