"""inFakt invoice and correction rules, written from the API contract alone.

Reads a create/update payload (``invoice`` or ``corrective_invoice`` object),
validates it the way the service answers (field -> list of Polish messages,
Rails style) and computes the amounts. All money is integer grosze, as in the
API. No storage here: the blueprint passes ``Lookups`` and stores the ``Draft``.

How the amounts are computed (the contract only says "if any net value is
sent, amounts are computed from net"): a line given ``gross_price`` alone is
gross-based (net = gross / (1 + rate), VAT = the rest); any other line is
net-based (VAT = net x rate). The document's totals are computed once per VAT
rate from that rate's net sum (or gross sum when every line is gross-based),
as a Polish invoice prints them, so they may differ by a grosz from the sum of
the lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

RATE_FRACTIONS = {
    "23": Decimal("0.23"),
    "8": Decimal("0.08"),
    "5": Decimal("0.05"),
    "0": Decimal(0),
    "zw": Decimal(0),
    "np": Decimal(0),
    "oo": Decimal(0),
}
VAT_RATES = tuple(RATE_FRACTIONS)
PAYMENT_METHODS = (
    "transfer",
    "cash",
    "card",
    "barter",
    "check",
    "bill_of_sale",
    "delivery",
    "compensation",
    "accredited",
    "paypal",
    "instalment_sale",
    "payu",
    "tpay",
    "przelewy24",
    "dotpay",
    "other",
)
STATUSES = ("draft", "sent", "printed", "paid")
BUSINESS_KINDS = ("private_person", "self_employed", "other_business")
INVOICE_DATE_KINDS = ("sale_date", "service_date", "cargo_date", "continuous_service_end_on")
SALE_TYPES = ("service", "merchandise")
SPLIT_PAYMENT_TYPES = ("required", "optional")
CURRENCIES = frozenset(
    {"PLN", "EUR", "USD", "GBP", "CHF", "CZK", "DKK", "NOK", "SEK", "HUF", "UAH", "JPY", "CAD", "AUD"}
    | {"RON", "BGN", "CNY", "TRY", "ISK"}
)
#: correction reason symbol -> the Polish name the service reads back. Only "other" is
#: confirmed by the contract; the rest is the sandbox's guess at the closed set.
CORRECTION_REASONS = {
    "other": "Inna przyczyna",
    "discount": "Udzielenie rabatu",
    "return": "Zwrot towaru",
    "price_change": "Zmiana ceny",
    "quantity_change": "Zmiana ilości",
    "mistake": "Pomyłka w danych",
}
#: kinds accepted by POST /invoices.json; anything else is silently a plain VAT invoice
INVOICE_KINDS = ("vat", "proforma")
DEFAULT_PAYMENT_DAYS = 7
#: bounds that keep every product within Decimal's 28 digits
MAX_QUANTITY = Decimal(10) ** 9
MAX_GROSZE = 10**12

# Messages as a Polish-language Rails app words them.
BLANK = "nie może być puste"
NOT_IN_LIST = "nie znajduje się na liście"
INVALID = "jest nieprawidłowe"
NOT_A_NUMBER = "nie jest liczbą"
NOT_AN_INTEGER = "musi być liczbą całkowitą (kwoty podaje się w groszach)"
MUST_BE_POSITIVE = "musi być większe od 0"
NOT_NEGATIVE = "nie może być mniejsze od 0"
TOO_BIG = "jest za duże"
NOT_FOUND = "nie istnieje"
BAD_DATE = "jest nieprawidłową datą (RRRR-MM-DD)"
BAD_NIP = "jest nieprawidłowym numerem NIP"
PAYMENT_METHOD_MESSAGE = "Proszę wybrać odpowiedni sposób płatności."
BEFORE_ISSUE_DATE = "nie może być wcześniejsza niż data wystawienia"
BANK_NOT_VERIFIED = "Rachunek bankowy musi być dodany i zweryfikowany w aplikacji."
NUMBER_TAKEN = "Faktura o takim numerze już istnieje."
CLIENT_ID_REQUIRED = "client_id required"
PAIR_NEEDED = (
    "każda grupa musi mieć pozycję przed korektą (correction: false) i po korekcie (correction: true)"
)
DATE_AND_LINES = "Nie można jednocześnie korygować daty sprzedaży i pozycji."
DIFFERS_FROM_ORIGINAL = "nie może różnić się od danych na fakturze korygowanej"
EARLIER_THAN_ORIGINAL = "nie może być wcześniejsza niż data faktury korygowanej"
PROFORMA_NOT_CORRECTABLE = "faktury proforma nie można korygować"
KSEF_NOT_INTEGRATED = "Brak aktywnej integracji z KSeF."

CLIENT_TEXT_FIELDS = (
    "client_company_name",
    "client_first_name",
    "client_last_name",
    "client_tax_code",
    "client_street",
    "client_street_number",
    "client_flat_number",
    "client_city",
    "client_post_code",
    "client_country",
)
#: invoice field -> client card field, for filling the buyer from ``client_id``
CLIENT_CARD_FIELDS = {
    "client_company_name": "company_name",
    "client_first_name": "first_name",
    "client_last_name": "last_name",
    "client_tax_code": "nip",
    "client_street": "street",
    "client_street_number": "street_number",
    "client_flat_number": "flat_number",
    "client_city": "city",
    "client_post_code": "postal_code",
    "client_country": "country",
}
OTHER_TEXT_FIELDS = (
    "notes",
    "bank_name",
    "bank_account",
    "swift",
    "receipt_number",
    "recipient_signature",
    "seller_signature",
    "bdo_code",
    "vat_exchange_date_kind",
    "sales_kind",
)
DATE_FIELDS = (
    "invoice_date",
    "sale_date",
    "payment_date",
    "paid_date",
    "continuous_service_start_on",
    "continuous_service_end_on",
)
BOOL_FIELDS = ("split_payment", "not_income", "building_service", "occasional_sale")
SERVICE_CODE_FIELDS = ("pkwiu", "cn", "pkob", "gtin", "gtu_id", "flat_rate_tax_symbol")


@dataclass
class Lookups:
    """What the rules need from the account's stored data."""

    client: Callable[[int], dict | None]
    invoice: Callable[[str], dict | None]  # by uuid, any kind
    invoice_by_number: Callable[[str], dict | None]
    bank_accounts: Callable[[], list[dict]]
    exemption_ids: frozenset[int]


class Errors:
    """``invoice_errors`` / ``errors``: field -> list of messages."""

    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        messages = self.fields.setdefault(name, [])
        if message not in messages:
            messages.append(message)

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def __bool__(self) -> bool:
        return bool(self.fields)


@dataclass(frozen=True)
class LineAmounts:
    rate: str
    quantity: Decimal
    unit_net: int
    net: int
    tax: int
    gross: int
    basis: str  # "gross" when only gross_price was given, else "net"


@dataclass
class Draft:
    """A validated document, ready to be numbered and stored."""

    fields: dict
    services: list[dict]
    rate_totals: list[dict]
    errors: Errors
    raw: dict  # the header as sent (merged over the stored one on update)
    requested_number: str | None = None
    check_duplicate_number: bool = False
    original: dict | None = None
    zero_rate_basis: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------
# small readers


def round_grosze(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _text(value) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def truthy(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "t", "on"}


def read_date(value, name: str, errors: Errors) -> date | None:
    text = _text(value)
    if text is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    errors.add(name, BAD_DATE)
    return None


def read_int(value, name: str, errors: Errors) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        errors.add(name, NOT_A_NUMBER)
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        if Decimal(str(value)) == Decimal(str(value)).to_integral_value():
            return int(value)
        errors.add(name, NOT_AN_INTEGER)
        return None
    text = str(value).strip()
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    try:
        Decimal(text)
    except InvalidOperation:
        errors.add(name, NOT_A_NUMBER)
    else:
        errors.add(name, NOT_AN_INTEGER)
    return None


def read_decimal(value, name: str, errors: Errors) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        errors.add(name, NOT_A_NUMBER)
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        errors.add(name, NOT_A_NUMBER)
        return None
    if not number.is_finite():
        errors.add(name, NOT_A_NUMBER)
        return None
    return number


def normalise_tax_symbol(value) -> str | None:
    """ "23", 23 and 23.0 are the same rate; "zw", "np", "oo" as they are; None if not a rate."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value))
        if number != number.to_integral_value():
            return None
        value = str(int(number))
    text = str(value).strip().lower()
    return text if text in RATE_FRACTIONS else None


def digits(value) -> str:
    return re.sub(r"\D", "", value or "")


def valid_polish_nip(value: str) -> bool:
    number = digits(value)
    if len(number) != 10:
        return False
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    check = sum(int(d) * w for d, w in zip(number, weights, strict=False)) % 11
    return check != 10 and check == int(number[9])


def json_quantity(quantity: Decimal):
    """Quantities go out as JSON numbers: 2, 0.5."""
    if quantity == quantity.to_integral_value():
        return int(quantity)
    return float(quantity)


# ---------------------------------------------------------------------------
# lines


def compute_line(
    rate: str,
    quantity: Decimal,
    unit_net: int | None,
    net: int | None,
    gross: int | None,
) -> LineAmounts:
    fraction = RATE_FRACTIONS[rate]
    if unit_net is None and net is None:  # invoiced from gross
        net_total = round_grosze(Decimal(gross) / (1 + fraction))
        unit = round_grosze(Decimal(net_total) / quantity) if quantity else net_total
        return LineAmounts(rate, quantity, unit, net_total, gross - net_total, gross, "gross")
    net_total = net if net is not None else round_grosze(Decimal(unit_net) * quantity)
    tax = round_grosze(Decimal(net_total) * fraction)
    if unit_net is None:
        unit_net = round_grosze(Decimal(net_total) / quantity) if quantity else net_total
    return LineAmounts(rate, quantity, unit_net, net_total, tax, net_total + tax, "net")


def read_service(
    raw, errors: Errors, where: str = "services", zero_quantity_allowed: bool = False
) -> tuple[dict, LineAmounts] | None:
    """Validate one ``services[]`` entry; None (with errors added) when it is not valid."""
    if not isinstance(raw, dict):
        errors.add(where, INVALID)
        return None
    problems = Errors()
    name = _text(raw.get("name"))
    if not name:
        problems.add(f"{where}.name", BLANK)
    elif len(name) > 512:
        problems.add(f"{where}.name", "jest za długie (maksymalnie 512 znaków)")
    rate = normalise_tax_symbol(raw.get("tax_symbol"))
    if rate is None:
        missing = raw.get("tax_symbol") is None or _text(raw.get("tax_symbol")) is None
        problems.add(f"{where}.tax_symbol", BLANK if missing else NOT_IN_LIST)
    quantity = read_decimal(raw.get("quantity", 1), f"{where}.quantity", problems)
    if quantity is not None and (quantity < 0 or (quantity == 0 and not zero_quantity_allowed)):
        problems.add(f"{where}.quantity", MUST_BE_POSITIVE if not zero_quantity_allowed else NOT_NEGATIVE)
    if quantity is None and f"{where}.quantity" not in problems:
        problems.add(f"{where}.quantity", BLANK)
    if quantity is not None and quantity > MAX_QUANTITY:
        problems.add(f"{where}.quantity", TOO_BIG)
    prices = {
        key: read_int(raw.get(key), f"{where}.{key}", problems)
        for key in ("unit_net_price", "net_price", "gross_price", "unit_net_price_before_discount")
    }
    for key, value in prices.items():
        if value is not None and abs(value) > MAX_GROSZE:
            problems.add(f"{where}.{key}", TOO_BIG)
    discount = read_decimal(raw.get("discount"), f"{where}.discount", problems)
    if discount is not None and not 0 <= discount <= 100:
        problems.add(f"{where}.discount", "musi być z przedziału 0–100")
    unit_net = prices["unit_net_price"]
    before_discount = prices["unit_net_price_before_discount"]
    if unit_net is None and before_discount is not None:
        unit_net = round_grosze(Decimal(before_discount) * (1 - (discount or 0) / 100))
    if (
        unit_net is None
        and prices["net_price"] is None
        and prices["gross_price"] is None
        and not any(f"{where}.{key}" in problems for key in prices)
    ):
        problems.add(f"{where}.unit_net_price", BLANK)
    if problems:
        for name_, messages in problems.fields.items():
            for message in messages:
                errors.add(name_, message)
        return None
    amounts = compute_line(rate, quantity, unit_net, prices["net_price"], prices["gross_price"])
    line = {
        "name": name,
        "tax_symbol": rate,
        "unit": _text(raw.get("unit")) or "szt.",
        "quantity": json_quantity(quantity),
        "unit_net_price": amounts.unit_net,
        "net_price": amounts.net,
        "gross_price": amounts.gross,
        "tax_price": amounts.tax,
        "discount": float(discount) if discount is not None else None,
        "unit_net_price_before_discount": before_discount,
        **{key: _text(raw.get(key)) for key in SERVICE_CODE_FIELDS},
        "symbol": None,
        "related_id": None,
    }
    return line, amounts


def rate_totals(lines: list[LineAmounts]) -> list[dict]:
    """Totals per VAT rate, computed once from each rate's sum: the gross sum when every line of
    that rate was given gross, else the net sum."""
    totals = []
    for rate in VAT_RATES:
        group = [line for line in lines if line.rate == rate]
        if not group:
            continue
        fraction = RATE_FRACTIONS[rate]
        if all(line.basis == "gross" for line in group):
            gross = sum(line.gross for line in group)
            net = round_grosze(Decimal(gross) / (1 + fraction))
            tax = gross - net
        else:
            net = sum(line.net for line in group)
            tax = round_grosze(Decimal(net) * fraction)
            gross = net + tax
        totals.append({"tax_symbol": rate, "net_price": net, "tax_price": tax, "gross_price": gross})
    return totals


def difference_totals(before: list[dict], after: list[dict]) -> list[dict]:
    """A correction's per-rate totals: after minus before."""
    by_rate: dict[str, dict] = {}
    for sign, totals in ((-1, before), (1, after)):
        for total in totals:
            entry = by_rate.setdefault(
                total["tax_symbol"],
                {"tax_symbol": total["tax_symbol"], "net_price": 0, "tax_price": 0, "gross_price": 0},
            )
            for key in ("net_price", "tax_price", "gross_price"):
                entry[key] += sign * total[key]
    return [by_rate[rate] for rate in VAT_RATES if rate in by_rate]


def summed(totals: list[dict]) -> dict:
    return {key: sum(total[key] for total in totals) for key in ("net_price", "tax_price", "gross_price")}


# ---------------------------------------------------------------------------
# the header shared by invoices and corrections


def _read_header(raw: dict, lookups: Lookups, today: date, options: dict, errors: Errors) -> dict:
    fields: dict = {}
    for name in CLIENT_TEXT_FIELDS + OTHER_TEXT_FIELDS:
        fields[name] = _text(raw.get(name))
    for name in BOOL_FIELDS:
        fields[name] = truthy(raw.get(name, False))
    dates = {name: read_date(raw.get(name), name, errors) for name in DATE_FIELDS}

    invoice_date = dates["invoice_date"] or today
    fields["invoice_date"] = invoice_date.isoformat()
    fields["sale_date"] = (dates["sale_date"] or invoice_date).isoformat()
    for name in ("continuous_service_start_on", "continuous_service_end_on"):
        fields[name] = dates[name].isoformat() if dates[name] else None

    client = _client(raw, lookups, errors)
    fields["client_id"] = client["id"] if client else None
    if client:
        for name, card_key in CLIENT_CARD_FIELDS.items():
            if fields[name] is None:
                fields[name] = _text(client.get(card_key))
    fields["client_country"] = (fields["client_country"] or "PL").upper()
    if not re.fullmatch(r"[A-Z]{2}", fields["client_country"]):
        errors.add("client_country", INVALID)
    tax_code = fields["client_tax_code"]
    if (
        tax_code
        and fields["client_country"] == "PL"
        and not valid_polish_nip(tax_code.upper().removeprefix("PL"))
    ):
        errors.add("client_tax_code", BAD_NIP)

    kind_of_business = _text(raw.get("client_business_activity_kind")) or _text(
        (client or {}).get("business_activity_kind")
    )
    if kind_of_business is None:
        kind_of_business = (
            "other_business"
            if fields["client_company_name"] or fields["client_tax_code"]
            else "private_person"
        )
    if kind_of_business not in BUSINESS_KINDS:
        errors.add("client_business_activity_kind", NOT_IN_LIST)
    fields["client_business_activity_kind"] = kind_of_business

    method = _text(raw.get("payment_method")) or _text((client or {}).get("payment_method")) or "transfer"
    if method not in PAYMENT_METHODS:
        errors.add("payment_method", PAYMENT_METHOD_MESSAGE)
    fields["payment_method"] = method
    if dates["payment_date"] is not None:
        payment_date = dates["payment_date"]
        if payment_date < invoice_date:
            errors.add("payment_date", BEFORE_ISSUE_DATE)
    else:
        days = (client or {}).get("days_to_payment")
        days = days if isinstance(days, int) and days >= 0 else DEFAULT_PAYMENT_DAYS
        payment_date = invoice_date + timedelta(days=days)
    fields["payment_date"] = payment_date.isoformat()
    fields["_paid_date"] = dates["paid_date"]

    currency = (_text(raw.get("currency")) or options["currency"]).upper()
    if currency not in CURRENCIES:
        errors.add("currency", NOT_IN_LIST)
    fields["currency"] = currency

    status = _text(raw.get("status")) or "draft"
    if status not in STATUSES:
        errors.add("status", NOT_IN_LIST)
    fields["status"] = status

    for name, choices in (
        ("invoice_date_kind", INVOICE_DATE_KINDS),
        ("sale_type", SALE_TYPES),
        ("split_payment_type", SPLIT_PAYMENT_TYPES),
    ):
        value = _text(raw.get(name))
        if value is not None and value not in choices:
            errors.add(name, NOT_IN_LIST)
        fields[name] = value
    fields["invoice_date_kind"] = fields["invoice_date_kind"] or "sale_date"
    if fields["split_payment"] and fields["split_payment_type"] is None:
        fields["split_payment_type"] = "required"

    fields["vat_exemption_reason"] = read_int(raw.get("vat_exemption_reason"), "vat_exemption_reason", errors)
    if (
        fields["vat_exemption_reason"] is not None
        and fields["vat_exemption_reason"] not in lookups.exemption_ids
    ):
        errors.add("vat_exemption_reason", NOT_FOUND)
    fields["transaction_kind_id"] = read_int(raw.get("transaction_kind_id"), "transaction_kind_id", errors)
    fields["document_markings_ids"] = _id_list(raw.get("document_markings_ids"), errors)
    fields["transaction_terms"] = _transaction_terms(raw.get("transaction_terms"), errors)
    fields["third_party_addresses"] = _third_parties(raw.get("third_party_addresses"), errors)
    _bank(fields, lookups, errors)
    return fields


def _client(raw: dict, lookups: Lookups, errors: Errors) -> dict | None:
    client_id = read_int(raw.get("client_id"), "client_id", errors)
    if client_id is None:
        return None
    client = lookups.client(client_id)
    if client is None:
        errors.add("client_id", NOT_FOUND)
    return client


def _require_buyer(fields: dict, errors: Errors) -> None:
    person = fields["client_first_name"] and fields["client_last_name"]
    if not (fields["client_id"] or fields["client_company_name"] or person):
        errors.add("client_company_name", BLANK)


def _bank(fields: dict, lookups: Lookups, errors: Errors) -> None:
    """A bank account on the document must be one added and verified in the app."""
    accounts = lookups.bank_accounts()
    if fields["bank_account"]:
        wanted = digits(fields["bank_account"])
        match = next((a for a in accounts if digits(a["account_number"]) == wanted), None)
        if match is None or not match.get("_verified"):
            errors.add("bank_account", BANK_NOT_VERIFIED)
            return
    elif fields["payment_method"] == "transfer":
        # The sandbox prints the default verified account on a transfer invoice.
        match = next((a for a in accounts if a.get("default") and a.get("_verified")), None)
        if match is None:
            return
        fields["bank_account"] = match["account_number"]
    else:
        return
    fields["bank_name"] = fields["bank_name"] or match.get("bank_name")
    fields["swift"] = fields["swift"] or match.get("swift")


def _id_list(value, errors: Errors) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add("document_markings_ids", INVALID)
        return []
    ids = []
    for item in value:
        number = read_int(item, "document_markings_ids", errors)
        if number is not None:
            ids.append(number)
    return ids


def _transaction_terms(value, errors: Errors) -> dict:
    terms = {"contracts": [], "orders": []}
    if value is None:
        return terms
    if not isinstance(value, dict):
        errors.add("transaction_terms", INVALID)
        return terms
    for key in ("contracts", "orders"):
        entries = value.get(key) or []
        if not isinstance(entries, list):
            errors.add(f"transaction_terms.{key}", INVALID)
            continue
        for entry in entries:
            if not isinstance(entry, dict) or not _text(entry.get("number")):
                errors.add(f"transaction_terms.{key}.number", BLANK)
                continue
            on = read_date(entry.get("date"), f"transaction_terms.{key}.date", errors)
            terms[key].append({"number": _text(entry["number"]), "date": on.isoformat() if on else None})
    return terms


def _third_parties(value, errors: Errors) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        errors.add("third_party_addresses", INVALID)
        return []
    keys = ("company_name", "tax_id", "street", "building_number", "door_number", "post_code", "city")
    parties = []
    for entry in value:
        role = _text(entry.get("role_code"))
        if role not in {str(n) for n in range(1, 12)}:
            errors.add("third_party_addresses.role_code", NOT_IN_LIST)
        parties.append(
            {
                **{key: _text(entry.get(key)) for key in keys},
                "country_code": _text(entry.get("country_code")),
                "role_code": role,
            }
        )
    return parties


def _payment_state(fields: dict, gross: int, errors: Errors) -> None:
    paid_date = fields.pop("_paid_date")
    issued = date.fromisoformat(fields["invoice_date"])
    if paid_date is not None and paid_date < issued:
        errors.add("paid_date", BEFORE_ISSUE_DATE)
    if fields["status"] == "paid":
        paid_date = paid_date or issued
        fields["paid_price"] = gross
    else:
        fields["paid_price"] = 0
    fields["paid_date"] = paid_date.isoformat() if paid_date else None
    fields["left_to_pay"] = gross - fields["paid_price"]


def _check_exemption(fields: dict, rates: set[str], options: dict, errors: Errors) -> None:
    needed = "zw" in rates and options["require_exemption_reason"]
    if needed and fields["vat_exemption_reason"] is None and "vat_exemption_reason" not in errors:
        errors.add("vat_exemption_reason", BLANK)


# ---------------------------------------------------------------------------
# invoices


def build_invoice(
    payload: dict, lookups: Lookups, today: date, options: dict, previous: dict | None = None
) -> Draft:
    """Validate and compute a VAT (or proforma) invoice; with ``previous``, an edit of it."""
    errors = Errors()
    raw = {key: value for key, value in payload.items() if key != "services"}
    if previous is not None:
        raw = {**previous["_input"], **raw}
        raw_services = payload["services"] if "services" in payload else previous["_input_services"]
    else:
        raw_services = payload.get("services")

    kind = _text(raw.get("kind"))
    kind = kind if kind in INVOICE_KINDS else "vat"  # correction fields here make a plain VAT invoice
    if previous is not None:
        kind = previous["kind"]
    fields = {"kind": kind, **_read_header(raw, lookups, today, options, errors)}
    _require_buyer(fields, errors)

    services, amounts = [], []
    if not isinstance(raw_services, list) or not raw_services:
        errors.add("services", BLANK)
        raw_services = raw_services if isinstance(raw_services, list) else []
    for raw_service in raw_services:
        computed = read_service(raw_service, errors)
        if computed is not None:
            services.append(computed[0])
            amounts.append(computed[1])
    _check_exemption(fields, {line.rate for line in amounts}, options, errors)

    totals = rate_totals(amounts)
    fields.update(summed(totals))
    _payment_state(fields, fields["gross_price"], errors)

    requested = _text(payload.get("number")) if options["accept_own_number"] else None
    return Draft(
        fields=fields,
        services=services,
        rate_totals=totals,
        errors=errors,
        raw=raw,
        requested_number=requested,
        check_duplicate_number=truthy(raw.get("check_duplicate_number", False)),
    )


# ---------------------------------------------------------------------------
# corrections


def build_correction(payload: dict, lookups: Lookups, today: date, options: dict) -> Draft:
    """Validate and compute a corrective invoice (pairs of lines sharing a ``group``)."""
    errors = Errors()
    raw = {key: value for key, value in payload.items() if key != "services"}
    original = _original(raw, lookups, errors)
    if original is not None:
        # The corrected invoice's buyer and sale date are the defaults.
        for name in CLIENT_TEXT_FIELDS + ("sale_date", "currency"):
            if _text(raw.get(name)) is None and original.get(name) is not None:
                raw[name] = original[name]
    fields = {"kind": "correction", **_read_header(raw, lookups, today, options, errors)}
    if fields["client_id"] is None and "client_id" not in errors:
        errors.add("client_id", CLIENT_ID_REQUIRED)

    symbol = _text(raw.get("correction_reason"))
    if symbol is None:
        errors.add("correction_reason", BLANK)
    elif symbol not in CORRECTION_REASONS:
        errors.add("correction_reason", NOT_IN_LIST)
    fields["correction_reason_symbol"] = symbol if symbol in CORRECTION_REASONS else None
    fields["correction_reason"] = CORRECTION_REASONS.get(symbol or "")
    fields["check_correction_obligation"] = truthy(raw.get("check_correction_obligation", False))
    fields["confirmation"] = truthy(raw.get("confirmation", False))
    confirmed = read_date(raw.get("confirmation_date"), "confirmation_date", errors)
    fields["confirmation_date"] = confirmed.isoformat() if confirmed else None
    sale_before = read_date(raw.get("sale_date_before_correction"), "sale_date_before_correction", errors)
    fields["sale_date_before_correction"] = sale_before.isoformat() if sale_before else None
    for name in (
        "continuous_service_start_on_before_correction",
        "continuous_service_end_on_before_correction",
    ):
        value = read_date(raw.get(name), name, errors)
        fields[name] = value.isoformat() if value else None

    _link_original(fields, raw, original, errors)

    services, before, after, changed = _correction_lines(payload.get("services"), errors)
    if sale_before is not None and sale_before.isoformat() != fields["sale_date"] and changed:
        errors.add("base", DATE_AND_LINES)
    _check_exemption(fields, {line.rate for line in before + after}, options, errors)
    totals = difference_totals(rate_totals(before), rate_totals(after))
    fields.update(summed(totals))
    _payment_state(fields, fields["gross_price"], errors)
    return Draft(
        fields=fields,
        services=services,
        rate_totals=totals,
        errors=errors,
        raw=raw,
        original=original,
    )


def _original(raw: dict, lookups: Lookups, errors: Errors) -> dict | None:
    uuid = _text(raw.get("corrected_invoice_uuid"))
    number = _text(raw.get("corrected_invoice_number"))
    if uuid is not None:
        original = lookups.invoice(uuid)
        if original is None:
            errors.add("corrected_invoice_uuid", NOT_FOUND)
        return original
    return lookups.invoice_by_number(number) if number else None


def _link_original(fields: dict, raw: dict, original: dict | None, errors: Errors) -> None:
    number = _text(raw.get("corrected_invoice_number"))
    corrected_on = read_date(raw.get("corrected_invoice_date"), "corrected_invoice_date", errors)
    if original is None:
        if number is None:
            errors.add("corrected_invoice_number", BLANK)
        if corrected_on is None and "corrected_invoice_date" not in errors:
            errors.add("corrected_invoice_date", BLANK)
        fields["corrected_invoice_uuid"] = None
        fields["corrected_invoice_number"] = number
        fields["corrected_invoice_date"] = corrected_on.isoformat() if corrected_on else None
        fields["corrected_invoice_gross_price"] = None
        return
    if original["kind"] == "proforma":
        errors.add("corrected_invoice_uuid", PROFORMA_NOT_CORRECTABLE)
    if number is not None and number != original["number"]:
        errors.add("corrected_invoice_number", DIFFERS_FROM_ORIGINAL)
    if corrected_on is not None and corrected_on.isoformat() != original["invoice_date"]:
        errors.add("corrected_invoice_date", DIFFERS_FROM_ORIGINAL)
    if fields["invoice_date"] < original["invoice_date"]:
        errors.add("invoice_date", EARLIER_THAN_ORIGINAL)
    original_nip, nip = digits(original.get("client_tax_code")), digits(fields["client_tax_code"])
    if original_nip and nip != original_nip:
        errors.add("client_tax_code", DIFFERS_FROM_ORIGINAL)
    fields["corrected_invoice_uuid"] = original["uuid"]
    fields["corrected_invoice_number"] = original["number"]
    fields["corrected_invoice_date"] = original["invoice_date"]
    fields["corrected_invoice_gross_price"] = original["gross_price"]


def _correction_lines(
    raw_services, errors: Errors
) -> tuple[list[dict], list[LineAmounts], list[LineAmounts], bool]:
    """Lines in before/after pairs sharing a ``group``. Returns (lines, before, after, any pair changed)."""
    if not isinstance(raw_services, list) or not raw_services:
        errors.add("services", BLANK)
        return [], [], [], False
    groups: dict[str, dict[bool, tuple[dict, LineAmounts]]] = {}
    order: list[str] = []
    for raw in raw_services:
        if not isinstance(raw, dict):
            errors.add("services", INVALID)
            continue
        group = _text(raw.get("group"))
        if group is None:
            errors.add("services.group", BLANK)
            continue
        computed = read_service(raw, errors, zero_quantity_allowed=True)
        if computed is None:
            continue
        side = truthy(raw.get("correction", False))
        sides = groups.setdefault(group, {})
        if group not in order:
            order.append(group)
        if side in sides:
            errors.add("services", PAIR_NEEDED)
            continue
        line, amounts = computed
        sides[side] = ({"group": group, "correction": side, **line}, amounts)
    lines, before, after, changed = [], [], [], False
    for group in order:
        sides = groups[group]
        if set(sides) != {False, True}:
            errors.add("services", PAIR_NEEDED)
            continue
        for side in (False, True):
            lines.append(sides[side][0])
        before.append(sides[False][1])
        after.append(sides[True][1])
        changed = changed or _line_key(sides[False][0]) != _line_key(sides[True][0])
    return lines, before, after, changed


def _line_key(line: dict) -> tuple:
    return tuple(
        line[key] for key in ("name", "tax_symbol", "quantity", "unit_net_price", "net_price", "gross_price")
    )
