"""wFirma sales-document rules (``invoices/add`` and ``invoices/edit``), from the contract alone.

``build_document`` reads one ``<invoice>`` record, validates it the way wFirma answers
(problems attached to the invoice, its contractor or one of its lines, Polish messages) and
computes the amounts: each line from its ``price`` read as net or gross per ``price_type``,
and the document per VAT rate from the net sums (``netto``) or the gross sums (``brutto``), as
a Polish invoice prints them. A correction (``type=correction``) carries the state after the
correction on its lines and the difference in its totals. No storage here: the blueprint
passes ``Books`` to look things up, then numbers and stores the ``Draft``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from stdnum.pl import nip as pl_nip
from stdnum.pl import pesel as pl_pesel
from stdnum.pl import regon as pl_regon

from .money import NotANumber, money_str, parse_decimal, round_money
from .wfirma_data import (
    ALL_TYPES,
    COUNTRY_CODES,
    DEFAULT_VAT_CODE_ID,
    EU_BUYER_CODES,
    EU_VAT_PREFIXES,
    EXCHANGE_RATES,
    IMMEDIATE_PAYMENT_METHODS,
    INCOME_TYPES,
    NO_DESCRIPTION_TYPES,
    NO_VAT_PAYER_CODE_ID,
    NO_VAT_TYPE_REFUSAL,
    NO_VAT_TYPES,
    NOT_SALES_TYPES,
    PAYMENT_METHODS,
    PRICE_TYPES,
    RECEIPTS,
    SCHEMAS,
    STOCK_TYPES,
    TAX_ID_TYPES,
    VAT_CODES,
    VAT_TYPE_REFUSAL,
    VAT_TYPES,
)
from .wfirma_format import items, related_id, text

# Messages as wFirma words them (contract and integrators' help pages); the rest follow their style.
REQUIRED = "Pole nie może być puste"
EMPTY_CONTENT = "Treść nie może być pusta"
INVALID_VALUE = "Nieprawidłowa wartość"
INVALID_ID = "Nieprawidłowy identyfikator"
BAD_DATE = "Data musi być w formacie RRRR-MM-DD"
BAD_RATE = "Nieprawidłowa stawka"
BAD_EU_PREFIX = (
    "Nieprawidłowy prefiks kraju Unii Europejskiej. Dla stawek WDT i NP UE podaj numer VAT UE "
    "nabywcy z prefiksem kraju (np. DE123456789)."
)
MOSS_MIX = "Nie można mieszać stawek zagranicznych (MOSS) z pozostałymi"
BAD_COUNTRY = "Nieprawidłowy kod kraju"
BAD_CURRENCY = "Nieprawidłowa waluta"
NO_PAYMENT_METHOD = "Nieprawidłowa forma płatności. Dozwolone: " + ", ".join(PAYMENT_METHODS)
COUNT_NOT_POSITIVE = "Ilość musi być większa od zera"
COUNT_NEGATIVE = "Ilość nie może być ujemna"
GOOD_MISSING = "Wybrany towar nie istnieje"
CONTRACTOR_MISSING = "Wybrany kontrahent nie istnieje"
SERIES_MISSING = "Wybrana seria numeracji nie istnieje"
SERIES_WRONG_TYPE = "Wybrana seria numeracji jest przeznaczona dla innego typu dokumentu"
SERIES_NONE = "Brak serii numeracji dla tego typu dokumentu"
ACCOUNT_MISSING = "Wybrany rachunek bankowy nie istnieje"
NO_DESCRIPTION = "Uwagi nie są dostępne dla tego typu dokumentu"
PARENT_MISSING = "Dokument korygowany nie istnieje"
PARENT_NOT_CORRECTABLE = "Do dokumentu tego typu nie można wystawić korekty"
LINE_PARENT_MISSING = "Pozycja korygowana nie istnieje na dokumencie korygowanym"
LINE_PARENT_NOT_LATEST = "Pozycja korygowana musi wskazywać na pozycję z ostatniej korekty dokumentu"
LINE_LOCKED = "Tego pola nie można zmienić w pozycji korygowanej"


LARGEST_AMOUNT = Decimal("1e12")


@dataclass(frozen=True)
class VatCode:
    id: int
    code: str
    rate: Decimal  # percent, e.g. 23
    kind: str
    country_id: int

    @property
    def fraction(self) -> Decimal:
        return self.rate / 100

    @property
    def foreign(self) -> bool:
        return self.country_id != 0


VAT_BY_ID = {row[0]: VatCode(row[0], row[1], Decimal(row[2]), row[3], row[4]) for row in VAT_CODES}
DOMESTIC_VAT = {code.code: code for code in VAT_BY_ID.values() if not code.foreign}


def vat_code_for_text(value: str | None) -> VatCode | None:
    """``vat`` sent as text (``23``, ``zw``, ``ZW``, ``23%``, ``np ue``): only Polish rates."""
    if value is None:
        return None
    code = re.sub(r"\s+", " ", value.strip().upper().rstrip("%").strip())
    if re.fullmatch(r"\d+\.0+", code):
        code = code.split(".")[0]
    return DOMESTIC_VAT.get(code)


@dataclass
class Problem:
    field: str
    message: str
    method: str | None = None  # "require" for missing values

    def as_tree(self) -> dict:
        tree: dict = {"field": self.field, "message": self.message}
        if self.method:
            tree["method"] = {"name": self.method, "parameters": ""}
        return tree


@dataclass
class Problems:
    """Validation problems at the level they concern, as wFirma attaches them to the echo."""

    invoice: list[Problem] = field(default_factory=list)
    contractor: list[Problem] = field(default_factory=list)
    lines: dict[int, list[Problem]] = field(default_factory=dict)

    def add(self, name: str, message: str, method: str | None = None) -> None:
        self.invoice.append(Problem(name, message, method))

    def on_contractor(self, name: str, message: str, method: str | None = None) -> None:
        self.contractor.append(Problem(name, message, method))

    def on_line(self, index: int, name: str, message: str, method: str | None = None) -> None:
        self.lines.setdefault(index, []).append(Problem(name, message, method))

    def __bool__(self) -> bool:
        return bool(self.invoice or self.contractor or any(self.lines.values()))

    def messages(self) -> list[str]:
        found = [f"{p.field}: {p.message}" for p in self.invoice]
        found += [f"contractor.{p.field}: {p.message}" for p in self.contractor]
        for index, problems in sorted(self.lines.items()):
            found += [f"invoicecontents[{index}].{p.field}: {p.message}" for p in problems]
        return found


@dataclass
class Books:
    """Lookups into the selected company's data that the rules need (ids as text)."""

    company: dict
    options: dict
    today: date
    series: Callable[[str], dict | None]
    default_series: Callable[[str], dict | None]
    contractor: Callable[[str], dict | None]
    good: Callable[[str], dict | None]
    invoice: Callable[[str], dict | None]
    company_account: Callable[[str], dict | None]
    default_company_account: Callable[[str], dict | None]  # by currency


@dataclass
class Line:
    record: dict  # the invoicecontent as stored, without its id
    code: VatCode
    count: Decimal
    net: Decimal
    gross: Decimal
    good_id: str | None
    stock_kind: bool  # a good (not a service) whose stock moves


@dataclass
class Draft:
    type: str
    fields: dict
    contractor: tuple[str, object]  # ("existing", id) | ("inline", fields) | ("none", None)
    contractor_detail: dict
    lines: list[Line]
    rate_totals: list[dict]
    netto: Decimal
    tax: Decimal
    total: Decimal
    stock_moves: list[tuple[str, Decimal]]  # (good id, change of stock)
    series: dict | None
    requested: dict  # number/day/month/year (ints) and fullnumber (income docs) as sent
    problems: Problems
    lines_before: list[Line] = field(default_factory=list)  # corrections: the state before
    root: dict | None = None  # the corrected original (corrections)
    latest: dict | None = None  # the document whose lines this correction corrects


# ---------------------------------------------------------------------------
# small readers


def quantity_text(value: Decimal) -> str:
    """Quantities go out with 4 decimals, like ``1.0000``."""
    return f"{value.quantize(Decimal('0.0001')):.4f}"


def price_text(value: Decimal) -> str:
    return money_str(value) if value == round_money(value) else format(value.normalize(), "f")


def truthy(value) -> bool:
    return (text(value) or "").lower() in {"1", "true", "yes", "tak", "on"}


def parse_date(value, name: str, report: Callable) -> date | None:
    raw = text(value)
    if raw is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    report(name, BAD_DATE)
    return None


def _decimal(value, name: str, report: Callable) -> Decimal | None:
    try:
        number = parse_decimal(text(value))
    except NotANumber:
        report(name, INVALID_VALUE)
        return None
    if number is not None and abs(number) >= LARGEST_AMOUNT:
        report(name, INVALID_VALUE)
        return None
    return number


def previous_business_day(day: date) -> date:
    """NBP publishes rates on working days; the rate is from the day before the sale."""
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def payment_state(doc_type: str, total: Decimal, paid: Decimal) -> str:
    if doc_type in NOT_SALES_TYPES or total <= 0:
        return "undefined"
    return "paid" if paid >= total else "unpaid"


# ---------------------------------------------------------------------------
# contractors


CONTRACTOR_FIELDS = (
    "name",
    "altname",
    "tax_id_type",
    "nip",
    "street",
    "zip",
    "city",
    "country",
    "email",
    "phone",
    "different_contact_address",
    "contact_name",
    "contact_street",
    "contact_zip",
    "contact_city",
    "contact_country",
    "contact_person",
    "buyer",
    "seller",
    "payment_days",
    "payment_method",
    "discount_percent",
    "account_number",
    "remind",
    "tags",
)
#: the snapshot an invoice keeps (``contractor_detail``)
DETAIL_FIELDS = (
    "name",
    "altname",
    "tax_id_type",
    "nip",
    "street",
    "zip",
    "city",
    "country",
    "email",
    "phone",
)


def read_contractor(raw: dict, report: Callable, *, street_required: bool = False) -> dict:
    """Validate contractor data (inline on an invoice or ``contractors/add``)."""
    values = {name: text(raw.get(name)) for name in CONTRACTOR_FIELDS}
    for name in ("name", "zip", "city") + (("street",) if street_required else ()):
        if not values[name]:
            report(name, REQUIRED, "require")
    country = (values["country"] or "PL").upper()
    if country not in COUNTRY_CODES:
        report("country", BAD_COUNTRY)
    values["country"] = country
    tax_type = (values["tax_id_type"] or _guess_tax_type(values["nip"], country)).lower()
    if tax_type not in TAX_ID_TYPES:
        report("tax_id_type", INVALID_VALUE)
    values["tax_id_type"] = tax_type
    values["nip"] = _check_tax_id(tax_type, values["nip"], report)
    if values["payment_method"] and values["payment_method"] not in PAYMENT_METHODS:
        report("payment_method", NO_PAYMENT_METHOD)
    if values["payment_days"] is not None and not values["payment_days"].isdecimal():
        report("payment_days", INVALID_VALUE)
    for flag in ("buyer", "seller", "different_contact_address", "remind"):
        values[flag] = "1" if truthy(values[flag]) else "0"
    if values["buyer"] == "0" and values["seller"] == "0":
        values["buyer"] = "1"
    return values


def tax_id_key(nip: str | None) -> str:
    """How two tax ids are compared: letters and digits only, upper case, without ``PL``."""
    cleaned = re.sub(r"[^0-9A-Za-z]", "", nip or "").upper()
    return cleaned[2:] if cleaned.startswith("PL") and cleaned[2:].isdecimal() else cleaned


def _guess_tax_type(nip: str | None, country: str) -> str:
    if not nip:
        return "none"
    cleaned = re.sub(r"[\s-]", "", nip).upper()
    if re.match(r"[A-Z]{2}", cleaned):
        return "nip" if cleaned.startswith("PL") else "vat"
    return "nip" if country == "PL" else "custom"


def _check_tax_id(tax_type: str, nip: str | None, report: Callable) -> str | None:
    if not nip:
        if tax_type in ("nip", "vat", "pesel", "regon"):
            report("nip", REQUIRED, "require")
        return None
    cleaned = re.sub(r"[\s-]", "", nip).upper()
    if tax_type == "nip":
        digits = cleaned.removeprefix("PL")
        if not (digits.isdecimal() and len(digits) == 10 and pl_nip.is_valid(digits)):
            report("nip", INVALID_ID)
        return digits
    if tax_type == "vat":
        prefix, rest = cleaned[:2], cleaned[2:]
        if prefix not in EU_VAT_PREFIXES:
            report("nip", BAD_EU_PREFIX)
        elif not re.fullmatch(r"[0-9A-Z+*]{2,12}", rest) or (prefix == "PL" and not pl_nip.is_valid(rest)):
            report("nip", INVALID_ID)
        return cleaned
    if tax_type == "pesel" and not pl_pesel.is_valid(cleaned):
        report("nip", INVALID_ID)
    if tax_type == "regon" and not pl_regon.is_valid(cleaned):
        report("nip", INVALID_ID)
    return nip.strip()


def contractor_detail(contractor: dict | None) -> dict:
    detail = {"id": str(contractor.get("id", "0")) if contractor else "0"}
    detail.update((name, (contractor or {}).get(name)) for name in DETAIL_FIELDS)
    return detail


# ---------------------------------------------------------------------------
# lines and totals


def line_amounts(
    price: Decimal, count: Decimal, discount: Decimal, code: VatCode, price_type: str
) -> tuple[Decimal, Decimal]:
    """(net, gross) of one line: the price is net or gross as the document's ``price_type`` says."""
    value = round_money(price * count * (1 - discount / 100))
    if price_type == "brutto":
        return round_money(value / (1 + code.fraction)), value
    return value, value + round_money(value * code.fraction)


def rate_totals(lines: list[Line], price_type: str) -> dict[int, dict]:
    """Per VAT code: from the net sum (VAT = sum × rate) or the gross sum (net = sum / (1 + rate)),
    rounded once per rate, so the document VAT may differ by a cent from the sum of line VATs."""
    sums: dict[int, Decimal] = {}
    codes: dict[int, VatCode] = {}
    for line in lines:
        codes[line.code.id] = line.code
        sums[line.code.id] = sums.get(line.code.id, Decimal(0)) + (
            line.gross if price_type == "brutto" else line.net
        )
    totals = {}
    for code_id, amount in sums.items():
        code = codes[code_id]
        if price_type == "brutto":
            gross, net = amount, round_money(amount / (1 + code.fraction))
        else:
            net, gross = amount, amount + round_money(amount * code.fraction)
        totals[code_id] = {"code": code.code, "netto": net, "tax": gross - net, "brutto": gross}
    return totals


def _totals_list(totals: dict[int, dict]) -> list[dict]:
    return [
        {
            "vat_code_id": str(code_id),
            "code": values["code"],
            "netto": money_str(values["netto"]),
            "tax": money_str(values["tax"]),
            "brutto": money_str(values["brutto"]),
        }
        for code_id, values in sorted(totals.items())
    ]


def _difference(after: dict[int, dict], before: dict[int, dict]) -> dict[int, dict]:
    difference = {}
    for code_id in sorted(set(after) | set(before)):
        new, old = after.get(code_id), before.get(code_id)
        code = (new or old)["code"]
        difference[code_id] = {
            "code": code,
            **{
                key: (new[key] if new else Decimal(0)) - (old[key] if old else Decimal(0))
                for key in ("netto", "tax", "brutto")
            },
        }
    return difference


@dataclass
class _LineContext:
    books: Books
    problems: Problems
    price_type: str
    vat_payer: bool
    correction: bool


def _read_line(raw, index: int, ctx: _LineContext, base: dict | None = None) -> Line | None:
    """One ``invoicecontent``; ``base`` is the corrected line of a correction (its state before)."""

    def report(name: str, message: str, method: str | None = None) -> None:
        ctx.problems.on_line(index, name, message, method)

    if not isinstance(raw, dict):
        report("invoicecontent", INVALID_VALUE)
        return None
    before = len(ctx.problems.lines.get(index, []))
    good_id = related_id(raw, "good")
    good = None
    if good_id and good_id != "0":
        good = ctx.books.good(good_id)
        if good is None:
            report("good", GOOD_MISSING)
    else:
        good_id = None
    if base is not None:
        base_good = base["good"]["id"] if base["good"]["id"] != "0" else None
        for name in ("name", "unit", "gtu"):
            sent = text(raw.get(name))
            if sent is not None and sent != (base.get(name) or None):
                report(name, LINE_LOCKED)
        if good_id is not None and good_id != base_good:
            report("good", LINE_LOCKED)
        good_id = base_good
        good = ctx.books.good(base_good) if base_good else None
    base = base or {}

    name = text(raw.get("name")) or base.get("name") or (good or {}).get("name")
    if not name:
        report("name", EMPTY_CONTENT, "require")
    unit = text(raw.get("unit")) or base.get("unit") or (good or {}).get("unit") or "szt."

    count_text = text(raw.get("count")) or base.get("count")
    count = _decimal(count_text, "count", report)
    if count is None and count_text is None:
        report("count", REQUIRED, "require")
    elif count is not None and not ctx.correction and count <= 0:
        report("count", COUNT_NOT_POSITIVE)
    elif count is not None and count < 0:
        report("count", COUNT_NEGATIVE)
    unit_count = _decimal(raw.get("unit_count"), "unit_count", report)

    price_text_sent = text(raw.get("price")) or base.get("price")
    if price_text_sent is None and good:
        price_text_sent = good["brutto"] if ctx.price_type == "brutto" else good["netto"]
    price = _decimal(price_text_sent, "price", report)
    if price is None and price_text_sent is None:
        report("price", REQUIRED, "require")

    discount_flag = truthy(raw.get("discount")) if "discount" in raw else base.get("discount") == "1"
    discount_text = text(raw.get("discount_percent")) or base.get("discount_percent")
    discount = Decimal(0)
    if discount_flag:
        discount = _decimal(discount_text, "discount_percent", report) or Decimal(0)
        if not Decimal(0) <= discount <= Decimal(100):
            report("discount_percent", INVALID_VALUE)

    code = _line_vat_code(raw, base, good, report, ctx.vat_payer)
    if len(ctx.problems.lines.get(index, [])) > before or None in (count, price, code):
        return None
    net, gross = line_amounts(price, count, discount, code, ctx.price_type)
    record = {
        "name": name,
        "classification": text(raw.get("classification")) or base.get("classification"),
        "unit": unit,
        "count": quantity_text(count),
        "unit_count": quantity_text(unit_count if unit_count is not None else count),
        "price": price_text(price),
        "discount": "1" if discount_flag else "0",
        "discount_percent": format(discount.normalize(), "f") if discount_flag else "0",
        "vat": code.code,
        "vat_code": {"id": str(code.id)},
        "netto": money_str(net),
        "brutto": money_str(gross),
        "lumpcode": text(raw.get("lumpcode")) or base.get("lumpcode"),
        "gtu": text(raw.get("gtu")) or base.get("gtu"),
        "good": {"id": good_id or "0"},
        "_stock_kind": good is not None and good.get("type") != "service",
    }
    if ctx.correction:
        parent = base.get("id")
        record["parent_id"] = str(parent) if parent else "0"
        record["parent"] = {"id": record["parent_id"]}
    return Line(record, code, count, net, gross, good_id, record["_stock_kind"])


def _line_vat_code(raw: dict, base: dict, good: dict | None, report: Callable, vat_payer: bool):
    if not vat_payer:
        return VAT_BY_ID[NO_VAT_PAYER_CODE_ID]  # a document "bez VAT" carries no VAT
    code_id = related_id(raw, "vat_code")
    if code_id:
        code = VAT_BY_ID.get(int(code_id)) if code_id.isdecimal() else None
        if code is None:
            report("vat_code_id", BAD_RATE)
        return code
    sent = text(raw.get("vat"))
    if sent is not None:
        code = vat_code_for_text(sent)
        if code is None:
            report("vat", BAD_RATE)
        return code
    if base.get("vat_code"):
        return VAT_BY_ID[int(base["vat_code"]["id"])]
    if good is not None:
        return VAT_BY_ID.get(int(good["vat_code"]["id"]), VAT_BY_ID[DEFAULT_VAT_CODE_ID])
    return VAT_BY_ID[DEFAULT_VAT_CODE_ID]


# ---------------------------------------------------------------------------
# the document


def build_document(raw: dict, books: Books) -> Draft:
    """Validate and compute one ``<invoice>`` record of ``invoices/add`` (or a merged edit)."""
    problems = Problems()
    report = problems.add
    options, company = books.options, books.company
    vat_payer = company.get("vat_payer") == "1"

    doc_type = text(raw.get("type")) or ("normal" if vat_payer else "bill")
    if doc_type not in ALL_TYPES:
        report("type", INVALID_VALUE)
    elif doc_type in VAT_TYPES and not vat_payer:
        report("type", VAT_TYPE_REFUSAL)
    elif doc_type in NO_VAT_TYPES and vat_payer:
        report("type", NO_VAT_TYPE_REFUSAL)

    root = latest = None
    if doc_type == "correction":
        root, latest = _corrected(raw, books, report)

    issue_date = parse_date(raw.get("date"), "date", report) or books.today
    sale_date = parse_date(raw.get("disposaldate"), "disposaldate", report) or issue_date
    fields: dict = {"type": doc_type, "date": issue_date.isoformat(), "disposaldate": sale_date.isoformat()}
    sale_format = text(raw.get("disposaldate_format")) or "day"
    if sale_format not in ("day", "month"):
        report("disposaldate_format", INVALID_VALUE)
    fields["disposaldate_format"] = sale_format
    fields["disposaldate_empty"] = "1" if truthy(raw.get("disposaldate_empty")) else "0"

    contractor_link, detail, known_contractor = _contractor(raw, doc_type, books, problems, root)

    method = text(raw.get("paymentmethod")) or (root or {}).get("paymentmethod")
    method = method or (known_contractor or {}).get("payment_method") or options["default_paymentmethod"]
    if method not in PAYMENT_METHODS:
        report("paymentmethod", NO_PAYMENT_METHOD)
    fields["paymentmethod"] = method
    due = parse_date(raw.get("paymentdate"), "paymentdate", report)
    if due is None:
        days = (known_contractor or {}).get("payment_days")
        days = int(days) if days and str(days).isdecimal() else int(options["payment_days"])
        immediate = method in IMMEDIATE_PAYMENT_METHODS or doc_type in RECEIPTS
        due = issue_date if immediate else issue_date + timedelta(days=days)
    fields["paymentdate"] = due.isoformat()

    if root is not None:  # inherited from the corrected invoice
        currency, price_type = root["currency"], root["price_type"]
    else:
        currency = (text(raw.get("currency")) or "PLN").upper()
        if currency not in EXCHANGE_RATES:
            report("currency", BAD_CURRENCY)
        price_type = text(raw.get("price_type")) or options["default_price_type"]
        if price_type not in PRICE_TYPES:
            report("price_type", INVALID_VALUE)
    fields.update(_currency_fields(currency, sale_date))
    fields["price_type"] = price_type

    paid = _decimal(raw.get("alreadypaid_initial"), "alreadypaid_initial", report) or Decimal(0)
    if paid < 0:
        report("alreadypaid_initial", INVALID_VALUE)
    fields["alreadypaid_initial"] = money_str(paid)

    description = text(raw.get("description"))
    if description and doc_type in NO_DESCRIPTION_TYPES:
        report("description", NO_DESCRIPTION)
    fields["description"] = description
    schema = text(raw.get("schema")) or "normal"
    if schema not in SCHEMAS:
        report("schema", INVALID_VALUE)
    fields["schema"] = schema
    for flag in ("schema_bill", "schema_cancelled", "auto_send"):
        fields[flag] = "1" if truthy(raw.get(flag)) else "0"
    fields["schema_receipt_book"] = (
        ("1" if truthy(raw.get("schema_receipt_book", "1")) else "0") if doc_type in RECEIPTS else "0"
    )
    for name in ("id_external", "type_of_sale", "tags", "register_description", "template"):
        fields[name] = text(raw.get(name))
    fields["company_account"] = _company_account(raw, currency, method, books, report)
    for name in ("translation_language", "contractor_receiver"):
        if isinstance(raw.get(name), dict):
            fields[name] = raw[name]

    series = _series(raw, doc_type, books, report)
    requested = _requested_number(raw, doc_type, report)

    line_price_type = price_type if price_type in PRICE_TYPES else "netto"
    ctx = _LineContext(books, problems, line_price_type, vat_payer, root is not None)
    raw_lines = items(raw.get("invoicecontents"), "invoicecontent")
    before: list[Line] = []
    if doc_type == "correction":
        lines, before, moves = _correction_lines(raw_lines, ctx, latest, root)
        totals = _difference(rate_totals(lines, ctx.price_type), rate_totals(before, ctx.price_type))
    else:
        if not raw_lines:
            report("invoicecontents", REQUIRED, "require")
        lines = [
            line for index, raw_line in enumerate(raw_lines) if (line := _read_line(raw_line, index, ctx))
        ]
        totals = rate_totals(lines, ctx.price_type)
        moves = [(line.good_id, -line.count) for line in lines if line.stock_kind]
    _check_rates(lines, detail, problems)

    netto = sum((t["netto"] for t in totals.values()), Decimal(0))
    tax = sum((t["tax"] for t in totals.values()), Decimal(0))
    total = sum((t["brutto"] for t in totals.values()), Decimal(0))
    return Draft(
        type=doc_type,
        fields=fields,
        contractor=contractor_link,
        contractor_detail=detail,
        lines=lines,
        rate_totals=_totals_list(totals),
        netto=netto,
        tax=tax,
        total=total,
        stock_moves=moves if doc_type in STOCK_TYPES else [],
        series=series,
        requested=requested,
        problems=problems,
        lines_before=before,
        root=root,
        latest=latest,
    )


def _currency_fields(currency: str, sale_date: date) -> dict:
    if currency == "PLN" or currency not in EXCHANGE_RATES:
        return {
            "currency": currency,
            "currency_exchange": "1.0000",
            "currency_label": None,
            "currency_date": None,
        }
    rate_day = previous_business_day(sale_date)
    table = sum(
        1 for n in range(rate_day.timetuple().tm_yday) if (rate_day - timedelta(days=n)).weekday() < 5
    )
    return {
        "currency": currency,
        "currency_exchange": f"{EXCHANGE_RATES[currency]:.4f}",
        "currency_label": f"{table:03d}/A/NBP/{rate_day.year}",
        "currency_date": rate_day.isoformat(),
    }


def _company_account(raw: dict, currency: str, method: str, books: Books, report: Callable) -> dict:
    account_id = related_id(raw, "company_account")
    if account_id and account_id != "0":
        if books.company_account(account_id) is None:
            report("company_account", ACCOUNT_MISSING)
        return {"id": account_id}
    default = books.default_company_account(currency) if method == "transfer" else None
    return {"id": str(default["id"]) if default else "0"}


def _series(raw: dict, doc_type: str, books: Books, report: Callable) -> dict | None:
    series_id = related_id(raw, "series")
    if series_id and series_id != "0":
        series = books.series(series_id)
        if series is None:
            report("series", SERIES_MISSING)
        elif (
            doc_type in ALL_TYPES
            and series["type"] != doc_type
            and not (doc_type == "normal_draft" and series["type"] == "normal")
        ):
            report("series", SERIES_WRONG_TYPE)
        return series
    if doc_type == "normal_draft" or doc_type not in ALL_TYPES:
        return None  # a draft has no number yet
    series = books.default_series(doc_type)
    if series is None and not (doc_type in INCOME_TYPES and text(raw.get("fullnumber"))):
        report("series", SERIES_NONE)
    return series


def _requested_number(raw: dict, doc_type: str, report: Callable) -> dict:
    requested: dict = {}
    limits = {"number": None, "day": 31, "month": 12, "year": 9999}
    for name, highest in limits.items():
        value = text(raw.get(name))
        if value is None:
            continue
        if not value.isdecimal() or int(value) < 1 or (highest and int(value) > highest):
            report(name, INVALID_VALUE)
            continue
        requested[name] = int(value)
    if doc_type in INCOME_TYPES and text(raw.get("fullnumber")):
        requested["fullnumber"] = text(raw.get("fullnumber"))  # writable only on income documents
    return requested


def _contractor(raw: dict, doc_type: str, books: Books, problems: Problems, root: dict | None):
    """(link, contractor_detail snapshot, the known contractor card or None)."""
    sent = raw.get("contractor")
    sent_id = related_id(raw, "contractor")
    if isinstance(sent, dict) and sent_id and sent_id != "0":
        card = books.contractor(sent_id)
        if card is None:
            problems.on_contractor("id", CONTRACTOR_MISSING)
            return ("none", None), contractor_detail(None), None
        return ("existing", sent_id), contractor_detail(card), card
    if isinstance(sent, dict) and any(text(value) for key, value in sent.items() if key != "id"):
        values = read_contractor(
            sent, problems.on_contractor, street_required=books.options["contractor_requires_street"]
        )
        return ("inline", values), contractor_detail(values), None
    if sent_id and sent_id != "0":  # contractor_id given without the nested form
        card = books.contractor(sent_id)
        if card is None:
            problems.on_contractor("id", CONTRACTOR_MISSING)
            return ("none", None), contractor_detail(None), None
        return ("existing", sent_id), contractor_detail(card), card
    if root is not None:  # a correction keeps the original's buyer
        original = root["contractor"]["id"]
        card = books.contractor(original) if original != "0" else None
        link = ("existing", original) if card else ("none", None)
        return link, dict(root["contractor_detail"]), card
    receipts_free = doc_type in RECEIPTS and not books.options["receipts_need_contractor"]
    if not receipts_free and doc_type in ALL_TYPES:
        problems.add("contractor", REQUIRED, "require")
    return ("none", None), contractor_detail(None), None


def _check_rates(lines: list[Line], detail: dict, problems: Problems) -> None:
    codes = {line.code for line in lines}
    if any(code.foreign for code in codes) and any(not code.foreign for code in codes):
        problems.add("positions", MOSS_MIX)
    if any(code.code in EU_BUYER_CODES for code in codes):
        nip = re.sub(r"[\s-]", "", detail.get("nip") or "").upper()
        if nip[:2] not in EU_VAT_PREFIXES or nip.startswith("PL"):
            problems.on_contractor("nip", BAD_EU_PREFIX)


def _corrected(raw: dict, books: Books, report: Callable) -> tuple[dict | None, dict | None]:
    """(original, latest document of its chain) for a correction's ``parent_id``."""
    parent_id = text(raw.get("parent_id")) or related_id(raw, "parent")
    if not parent_id or parent_id == "0":
        report("parent_id", REQUIRED, "require")
        return None, None
    parent = books.invoice(parent_id)
    if parent is None:
        report("parent_id", PARENT_MISSING)
        return None, None
    root = books.invoice(str(parent["_root_id"])) if parent.get("_root_id") else parent
    if root is None or root["type"] in NOT_SALES_TYPES:
        report("parent_id", PARENT_NOT_CORRECTABLE)
        return None, None
    chain = root.get("_correction_ids") or []
    latest = books.invoice(str(chain[-1])) if chain else root
    return root, latest or root


def _correction_lines(raw_lines: list, ctx: _LineContext, latest: dict | None, root: dict | None):
    """(lines after, lines before, stock moves). Lines not sent stay as they were; a line with
    ``parent_id`` carries its state after the correction; a line without one is new."""
    if latest is None:
        return [], [], []
    base_lines = {str(line["id"]): line for line in latest["invoicecontents"]}
    earlier_ids = {
        str(line_id) for line_id in (root or {}).get("_all_line_ids", []) if str(line_id) not in base_lines
    }
    before = [_stored_line(line) for line in latest["invoicecontents"]]
    changed: dict[str, Line] = {}
    added: list[Line] = []
    for index, raw in enumerate(raw_lines):
        parent_id = (
            (text(raw.get("parent_id")) or related_id(raw, "parent")) if isinstance(raw, dict) else None
        )
        if parent_id and parent_id != "0":
            if parent_id not in base_lines:
                message = LINE_PARENT_NOT_LATEST if parent_id in earlier_ids else LINE_PARENT_MISSING
                ctx.problems.on_line(index, "parent_id", message)
                continue
            line = _read_line(raw, index, ctx, base=base_lines[parent_id])
            if line is not None:
                changed[parent_id] = line
        elif (line := _read_line(raw, index, ctx)) is not None:
            added.append(line)
    after = []
    moves: list[tuple[str, Decimal]] = []
    for line_id, stored in base_lines.items():
        old = _stored_line(stored)
        new = changed.get(line_id) or _carried_line(stored)
        after.append(new)
        if new.stock_kind:
            moves.append((new.good_id, old.count - new.count))
    for line in added:
        after.append(line)
        if line.stock_kind:
            moves.append((line.good_id, -line.count))
    if root is None or root["type"] not in STOCK_TYPES:
        return after, before, []
    return after, before, [(good, change) for good, change in moves if change]


def _stored_line(stored: dict) -> Line:
    good_id = stored["good"]["id"] if stored["good"]["id"] != "0" else None
    return Line(
        record=stored,
        code=VAT_BY_ID[int(stored["vat_code"]["id"])],
        count=Decimal(stored["count"]),
        net=Decimal(stored["netto"]),
        gross=Decimal(stored["brutto"]),
        good_id=good_id,
        stock_kind=bool(stored.get("_stock_kind")),
    )


def _carried_line(stored: dict) -> Line:
    """An unchanged line copied into the correction, pointing at the line it continues."""
    line = _stored_line(stored)
    record = {key: value for key, value in stored.items() if key not in ("id", "created", "modified")}
    record["parent_id"] = str(stored["id"])
    record["parent"] = {"id": str(stored["id"])}
    line.record = record
    return line
