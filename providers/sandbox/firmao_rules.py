"""Firmao transaction rules, written from the API contract alone.

Reads a ``POST /transactions`` body, validates it the way the service answers
(the first problem found, as one flat ``{"errorCode": ...}`` object), and
computes line and header amounts. No storage here: the blueprint passes a
``Catalog`` for lookups and stores the ``TransactionDraft`` it gets back.

Error codes the contract documents: ``entityNotFoundForId`` (400),
``transactionNumberAlreadyExists`` (400), ``duplicateValueFoundException``
(409) and ``unknownParameter`` (400). ``fieldRequired`` and ``invalidValue``
(both 400, same shape as ``entityNotFoundForId``) are this emulator's guess
for problems the contract shows no example of.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from .money import round_money

TYPES = ("INVOICE", "RECEIPT", "PROFORMA", "CORRECTION", "BILL", "INVOICEMARGIN", "ADVANCE_INVOICE")
MODES = ("SALE", "PURCHASE")
#: the numbering dictionary's lower-case name of each transaction type
DICTIONARY_TYPE = {
    "INVOICE": "invoice",
    "RECEIPT": "receipt",
    "PROFORMA": "proforma",
    "CORRECTION": "correction",
    "BILL": "bill",
    "INVOICEMARGIN": "invoicemargin",
    "ADVANCE_INVOICE": "advance_invoice",
}
#: types printed for a named buyer: a customer id or a customer name is required
BUYER_TYPES = frozenset({"INVOICE", "CORRECTION", "INVOICEMARGIN", "ADVANCE_INVOICE", "PROFORMA"})
#: types whose linked lines move goods (a pro forma or an advance invoice does not)
STOCK_TYPES = frozenset({"INVOICE", "RECEIPT", "BILL", "INVOICEMARGIN", "CORRECTION"})
#: print template each type starts with (GET ``lastSelectedInvoiceReport``)
DEFAULT_TEMPLATES = {
    "INVOICE": "Faktura",
    "RECEIPT": "Paragon",
    "PROFORMA": "Proforma",
    "CORRECTION": "Faktura_korygujaca2",
    "BILL": "Rachunek",
    "INVOICEMARGIN": "Faktura_marza",
    "ADVANCE_INVOICE": "Faktura_zaliczkowa",
}
#: CASH and TRANSFER are documented; the rest is the emulator's guess (an account option can replace it)
PAYMENT_TYPES = (
    "CASH",
    "TRANSFER",
    "CARD",
    "CASH_ON_DELIVERY",
    "ONLINE",
    "PREPAYMENT",
    "COMPENSATION",
    "BARTER",
    "CREDIT",
    "OTHER",
)
STORAGE_STATE_UPDATES = ("NO_UPDATE", "AUTO_UPDATE")
#: numeric VAT rates the service knows (22/7/3 are the pre-2011 rates in old examples)
RATE_FRACTIONS = {
    "23": Decimal("0.23"),
    "22": Decimal("0.22"),
    "8": Decimal("0.08"),
    "7": Decimal("0.07"),
    "5": Decimal("0.05"),
    "3": Decimal("0.03"),
    "0": Decimal(0),
}
EXEMPT_RATES = ("zw", "np", "oo")
RATE_ORDER = ("23", "22", "8", "7", "5", "3", "0", "zw", "np", "oo")
NUMBER = re.compile(r"-?\d+(\.\d+)?")
CUSTOM_FIELD = re.compile(r"customFields\.custom\d+")

# Keys a transaction body may carry, by how they are read.
TEXT_KEYS = (
    "transactionNumber",
    "type",
    "mode",
    "paymentType",
    "actualPaymentType",
    "currency",
    "customerName",
    "nipNumber",
    "phone",
    "customerAddress.street",
    "customerAddress.postCode",
    "customerAddress.city",
    "customerAddress.country",
    "recipientName",
    "recipientNipNumber",
    "recipientAddress",
    "recipientAddress.street",
    "recipientAddress.postCode",
    "recipientAddress.city",
    "recipientAddress.country",
    "recipientPhoneNumber",
    "customerBankAccountNumber",
    "invoiceAnnotations",
    "description",
    "issuingPerson",
    "lastSelectedInvoiceReport",
    "connectedDocNumber",
    "correctionCause",
    "storageStateUpdate",
    "dateLabel",
)
DATE_KEYS = (
    "invoiceDate",
    "transactionDate",
    "documentDate",
    "paymentDate",
    "invoiceReceptionDate",
    "actualPaymentDate",
    "exchangeRateDate",
    "connectedDocDate",
)
BOOL_KEYS = ("paid", "calculateFromGross", "splitPayment", "createCustomerIfNeeded", "deleted")
AMOUNT_KEYS = (
    "paidValue",
    "restOfPaidValue",
    "transactionNettoPrice",
    "transactionBruttoPrice",
    "transactionVatPrice",
    "exchangeRate",
    "factor",
)
INT_KEYS = ("daysToDueDate", "invoicePatternId")
#: references to other objects: an id, or {"id": ...}
REF_KEYS = ("customer", "bankAccount", "warehouse", "project")
LIST_KEYS = ("phones", "emails", "transactionEntries")
#: computed by the service: accepted in a body (e.g. one copied from a GET) and ignored
COMPUTED_KEYS = (
    "id",
    "documentNumber",
    "paymentStatus",
    "creationDate",
    "lastUpdateDate",
    "documentGenerated",
    "transactionOrInvoiceDate",
)
TRANSACTION_KEYS = frozenset(
    TEXT_KEYS + DATE_KEYS + BOOL_KEYS + AMOUNT_KEYS + INT_KEYS + REF_KEYS + LIST_KEYS + COMPUTED_KEYS
)
ENTRY_KEYS = frozenset(
    {
        "product",
        "productCode",
        "quantity",
        "unit",
        "vatPercent",
        "unitNettoPrice",
        "unitBruttoPrice",
        "discount",
        "classificationNumber",
        "salePriceGroup",
        "baseEntryId",
        "recordId",
        "invalidRecordId",
        "entryPaid",
        "entrySize",
        "variant",
        "unitPurchaseNettoPrice",
        "unitNettoPriceWithoutDiscount",
        "nettoPrice",
        "bruttoPrice",
        "vatPrice",
        "mode",
        "type",
        "id",
    }
)
#: entry references; ``product`` is special (a number links, a string is a free-text line)
ENTRY_REF_KEYS = ("product", "transaction", "storageDoc", "warehouse")
#: keys the service computes itself and never lets a client set
FORBIDDEN_KEYS = ("permission", "permissions")


class ApiError(Exception):
    """A refusal in the service's shape: HTTP status + flat JSON body."""

    def __init__(self, status: int, body: dict):
        super().__init__(body.get("errorCode"))
        self.status = status
        self.body = body


def entity_not_found(field_name: str, value, cls: str, status: int = 400) -> ApiError:
    return ApiError(
        status,
        {
            "errorCode": "entityNotFoundForId",
            "field": field_name,
            "rejectedValue": str(value),
            "additionalInfo": {"id": str(value), "cls": cls},
        },
    )


def field_required(field_name: str) -> ApiError:
    return ApiError(400, {"errorCode": "fieldRequired", "field": field_name})


def invalid_value(field_name: str, value) -> ApiError:
    rejected = value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
    return ApiError(400, {"errorCode": "invalidValue", "field": field_name, "rejectedValue": rejected})


def unknown_parameter(field_name: str) -> ApiError:
    return ApiError(400, {"errorCode": "unknownParameter", "field": field_name})


# ---------------------------------------------------------------------------
# body shapes


def flatten_post(body: dict, known: frozenset, refs: tuple = REF_KEYS, prefix: str = "") -> dict:
    """POST bodies may nest objects (``{"customerAddress": {...}}``); they become the flat
    dotted keys the service names its fields with. ``{"id": n}`` stays a reference.
    Unknown keys are refused, as by the service."""
    flat: dict = {}
    for key, value in body.items():
        name = f"{prefix}{key}"
        if name in FORBIDDEN_KEYS:
            raise unknown_parameter(name)
        if isinstance(value, dict) and name not in refs:
            flat.update(flatten_post(value, known, refs, f"{name}."))
            continue
        if name not in known and not CUSTOM_FIELD.fullmatch(name):
            raise unknown_parameter(name)
        flat[name] = value
    return flat


def check_put(body: dict, known: frozenset) -> dict:
    """PUT bodies must be flat dotted keys: a nested object or an unknown key is refused."""
    for key, value in body.items():
        if key in FORBIDDEN_KEYS or isinstance(value, dict):
            raise unknown_parameter(key)
        if key not in known and not CUSTOM_FIELD.fullmatch(key):
            raise unknown_parameter(key)
    return body


# ---------------------------------------------------------------------------
# small readers (each raises ApiError naming the field)


def read_text(value, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        raise invalid_value(name, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    return text or None


def read_date(value, name: str) -> date | None:
    text = read_text(value, name)
    if text is None:
        return None
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise invalid_value(name, value)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise invalid_value(name, value) from None


def read_bool(value, name: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid_value(name, value)


def read_amount(value, name: str) -> Decimal | None:
    """Amounts arrive as JSON numbers or as strings like ``"1000.00"`` (no comma decimals)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise invalid_value(name, value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str) and NUMBER.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise invalid_value(name, value)


def read_int(value, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid_value(name, value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    raise invalid_value(name, value)


def read_ref(value, name: str) -> int | None:
    """A reference: ``50`` or ``{"id": 50}``."""
    if isinstance(value, dict):
        if "id" not in value:
            raise invalid_value(name, value)
        value = value["id"]
    return read_int(value, name)


def read_rate(value, name: str) -> str | None:
    """Canonical VAT rate: "23", "8", ... or "zw" / "np" / "oo"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and value.strip().lower() in EXEMPT_RATES:
        return value.strip().lower()
    number = read_amount(value, name)
    if number is None or number != number.to_integral_value() or str(int(number)) not in RATE_FRACTIONS:
        raise invalid_value(name, value)
    return str(int(number))


def read_list(value, name: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid_value(name, value)
    return value


def rate_fraction(rate: str) -> Decimal:
    return RATE_FRACTIONS.get(rate, Decimal(0))


def rate_sort_key(rate: str) -> int:
    return RATE_ORDER.index(rate) if rate in RATE_ORDER else len(RATE_ORDER)


# ---------------------------------------------------------------------------
# numbering series


@dataclass(frozen=True)
class SeriesPattern:
    """A number template such as ``[NR]/[M]/[RRRR]`` -> ``1/8/2012``.

    Tokens: ``[NR]`` counter, ``[NNN]`` counter padded to three digits, ``[M]`` / ``[MM]``
    month, ``[RRRR]`` / ``[RR]`` year. The counter restarts each month when a month token is
    present, else each year when a year token is present.
    """

    template: str

    TOKEN = re.compile(r"\[(NR|NNN|MM|M|RRRR|RR)\]")

    @property
    def reset(self) -> str:
        tokens = set(self.TOKEN.findall(self.template))
        if tokens & {"M", "MM"}:
            return "MONTH"
        if tokens & {"RRRR", "RR"}:
            return "YEAR"
        return "NEVER"

    def render(self, counter: int, on: date) -> str:
        values = {
            "NR": str(counter),
            "NNN": f"{counter:03d}",
            "M": str(on.month),
            "MM": f"{on.month:02d}",
            "RRRR": f"{on.year:04d}",
            "RR": f"{on.year % 100:02d}",
        }
        return self.TOKEN.sub(lambda match: values[match.group(1)], self.template)

    def regex(self, on: date | None) -> re.Pattern:
        """Numbers of this series; with ``on``, only those of that date's counter period."""
        parts, last = [], 0
        for match in self.TOKEN.finditer(self.template):
            parts.append(re.escape(self.template[last : match.start()]))
            token = match.group(1)
            if token in ("NR", "NNN"):
                parts.append(r"(\d+)")
            elif on is None:
                parts.append({"M": r"\d{1,2}", "MM": r"\d{2}", "RRRR": r"\d{4}", "RR": r"\d{2}"}[token])
            else:  # a date token always sets the counter period, so it is fixed
                parts.append(re.escape(_date_token(token, on)))
            last = match.end()
        parts.append(re.escape(self.template[last:]))
        return re.compile("".join(parts))

    def next_number(self, on: date, taken: set[str]) -> str:
        """The series' next free number in the period of ``on``: after the highest counter used."""
        pattern = self.regex(on)
        used = [int(match.group(1)) for number in taken if (match := pattern.fullmatch(number))]
        counter = max(used, default=0) + 1
        while self.render(counter, on) in taken:
            counter += 1
        return self.render(counter, on)


def _date_token(token: str, on: date) -> str:
    return {
        "M": str(on.month),
        "MM": f"{on.month:02d}",
        "RRRR": f"{on.year:04d}",
        "RR": f"{on.year % 100:02d}",
    }[token]


# ---------------------------------------------------------------------------
# amounts


@dataclass(frozen=True)
class LineAmounts:
    rate: str
    quantity: Decimal
    unit_net: Decimal
    unit_gross: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


def line_amounts(
    rate: str,
    quantity: Decimal,
    unit_net: Decimal | None,
    unit_gross: Decimal | None,
    discount: Decimal | None,
    from_gross: bool,
) -> LineAmounts:
    """One entry. Net mode: net = unit net x quantity, VAT from the net. Gross mode
    (``calculateFromGross``): gross = unit gross x quantity, net = gross / (1 + rate).
    A percentage discount lowers the unit price first (rounded to the grosz)."""
    factor = 1 + rate_fraction(rate)
    keep = 1 - (discount or Decimal(0)) / 100
    if from_gross:
        base = unit_gross if unit_gross is not None else round_money(unit_net * factor)
        unit_g = round_money(base * keep)
        gross = round_money(unit_g * quantity)
        net = round_money(gross / factor)
        return LineAmounts(rate, quantity, round_money(unit_g / factor), unit_g, net, gross - net, gross)
    base = unit_net if unit_net is not None else round_money(unit_gross / factor)
    unit_n = round_money(base * keep)
    net = round_money(unit_n * quantity)
    vat = round_money(net * rate_fraction(rate))
    return LineAmounts(rate, quantity, unit_n, round_money(unit_n * factor), net, vat, net + vat)


def rate_totals(lines: list[LineAmounts], from_gross: bool, method: str) -> dict[str, dict]:
    """Header amounts per VAT rate. ``per_rate`` (default): VAT once per rate from the rate's net
    sum (gross sum in gross mode), as a Polish invoice prints it. ``per_line``: plain sums."""
    groups: dict[str, list[LineAmounts]] = {}
    for line in lines:
        groups.setdefault(line.rate, []).append(line)
    totals = {}
    for rate, members in groups.items():
        net = sum((line.net for line in members), Decimal(0))
        gross = sum((line.gross for line in members), Decimal(0))
        if method == "per_line":
            vat = sum((line.vat for line in members), Decimal(0))
        elif from_gross:
            net = round_money(gross / (1 + rate_fraction(rate)))
            vat = gross - net
        else:
            vat = round_money(net * rate_fraction(rate))
            gross = net + vat
        totals[rate] = {"net": net, "vat": vat, "gross": gross}
    return totals


def difference(after: dict[str, dict], before: dict[str, dict]) -> dict[str, dict]:
    """Per-rate totals of a correction: after minus before."""
    zero = {"net": Decimal(0), "vat": Decimal(0), "gross": Decimal(0)}
    return {
        rate: {key: after.get(rate, zero)[key] - before.get(rate, zero)[key] for key in zero}
        for rate in {**before, **after}
    }


def totals_list(totals: dict[str, dict]) -> list[dict]:
    return [
        {"rate": rate, **{key: str(value) for key, value in totals[rate].items()}}
        for rate in sorted(totals, key=rate_sort_key)
    ]


# ---------------------------------------------------------------------------
# transactions


@dataclass
class Catalog:
    """Lookups into the account's data that the rules need."""

    product: Callable[[int], dict | None]
    product_by_code: Callable[[str], dict | None]
    customer: Callable[[int], dict | None]
    bank_account: Callable[[int], dict | None]
    warehouse: Callable[[int], dict | None]
    sale_by_number: Callable[[str], dict | None]


@dataclass
class TransactionDraft:
    """A validated transaction, ready to be numbered and stored."""

    header: dict
    entries: list[dict]
    rate_totals: list[dict]
    requested_number: str | None
    customer_id: int | None
    create_customer: bool
    phones: list[str]
    emails: list[str]
    custom_vat_warning: bool
    original: dict | None = None
    sent_totals: dict = field(default_factory=dict)


def build_transaction(
    flat: dict, catalog: Catalog, today: date, options: dict, payment_types: tuple[str, ...]
) -> TransactionDraft:
    """Validate a flattened POST body and compute its amounts; raises ApiError on the first problem."""
    kind = read_text(flat.get("type"), "type")
    if kind is None:
        raise field_required("type")
    if kind not in TYPES:
        raise invalid_value("type", flat.get("type"))
    mode = read_text(flat.get("mode"), "mode") or "SALE"
    if mode not in MODES:
        raise invalid_value("mode", flat.get("mode"))

    dates = {key: read_date(flat.get(key), key) for key in DATE_KEYS}
    flags = {key: read_bool(flat.get(key), key) for key in BOOL_KEYS}
    amounts = {key: read_amount(flat.get(key), key) for key in AMOUNT_KEYS}
    integers = {key: read_int(flat.get(key), key) for key in INT_KEYS}
    texts = {key: read_text(flat.get(key), key) for key in TEXT_KEYS}
    for key, value in flat.items():
        if CUSTOM_FIELD.fullmatch(key):
            texts[key] = read_text(value, key)

    invoice_date = dates["invoiceDate"] or today
    payment_date = dates["paymentDate"]
    if payment_date is None and integers["daysToDueDate"] is not None:
        payment_date = invoice_date + timedelta(days=integers["daysToDueDate"])
    payment_type = texts["paymentType"] or "TRANSFER"
    if payment_type not in payment_types:
        raise invalid_value("paymentType", flat.get("paymentType"))
    if texts["actualPaymentType"] and texts["actualPaymentType"] not in payment_types:
        raise invalid_value("actualPaymentType", flat.get("actualPaymentType"))
    currency = texts["currency"] or "PLN"
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise invalid_value("currency", flat.get("currency"))
    storage_update = texts["storageStateUpdate"]
    if storage_update is not None and storage_update not in STORAGE_STATE_UPDATES:
        raise invalid_value("storageStateUpdate", flat.get("storageStateUpdate"))

    refs = {key: read_ref(flat.get(key), key) for key in REF_KEYS}
    customer = None
    if refs["customer"] is not None:
        customer = catalog.customer(refs["customer"])
        if customer is None:
            raise entity_not_found("customer", refs["customer"], "customer")
    if refs["bankAccount"] is not None and catalog.bank_account(refs["bankAccount"]) is None:
        raise entity_not_found("bankAccount", refs["bankAccount"], "bankaccount")
    if refs["warehouse"] is not None and catalog.warehouse(refs["warehouse"]) is None:
        raise entity_not_found("warehouse", refs["warehouse"], "warehouse")
    if refs["project"] is not None:  # the sandbox has no projects
        raise entity_not_found("project", refs["project"], "project")
    create_customer = bool(flags["createCustomerIfNeeded"])
    if create_customer and customer is None and not texts["customerName"]:
        raise field_required("customerName")
    if kind in BUYER_TYPES and mode == "SALE" and customer is None and not texts["customerName"]:
        raise field_required("customer")
    phones = [str(value) for value in read_list(flat.get("phones"), "phones")]
    emails = [str(value) for value in read_list(flat.get("emails"), "emails")]

    original = None
    if kind == "CORRECTION":
        if not texts["connectedDocNumber"]:
            raise field_required("connectedDocNumber")
        original = catalog.sale_by_number(texts["connectedDocNumber"])

    from_gross = bool(flags["calculateFromGross"])
    raw_entries = read_list(flat.get("transactionEntries"), "transactionEntries")
    if not raw_entries:
        raise field_required("transactionEntries")
    parsed = [
        _parse_entry(raw, f"transactionEntries[{index}]", catalog, options, correction=kind == "CORRECTION")
        for index, raw in enumerate(raw_entries)
    ]
    _number_records(parsed)
    if kind == "CORRECTION":
        _pair_correction(parsed, original)

    entries = [
        _entry_json(
            entry,
            line_amounts(
                entry["rate"],
                entry["quantity"],
                entry["unit_net"],
                entry["unit_gross"],
                entry["discount"],
                from_gross,
            ),
            mode,
        )
        for entry in parsed
    ]
    per_rate = totals_from_entries(entries, from_gross, options.get("totals_method", "per_rate"))
    net = sum((t["net"] for t in per_rate.values()), Decimal(0))
    vat = sum((t["vat"] for t in per_rate.values()), Decimal(0))
    gross = sum((t["gross"] for t in per_rate.values()), Decimal(0))

    paid = bool(flags["paid"])
    paid_value = amounts["paidValue"]
    if paid and not paid_value:
        paid_value = gross
    paid_value = paid_value or Decimal(0)

    header = {
        "type": kind,
        "mode": mode,
        "invoiceDate": invoice_date.isoformat(),
        "transactionDate": (dates["transactionDate"] or invoice_date).isoformat(),
        "invoiceReceptionDate": _iso(dates["invoiceReceptionDate"]),
        "paymentDate": _iso(payment_date),
        "paymentType": payment_type,
        "paid": paid,
        "paidValue": str(paid_value),
        "restOfPaidValue": str(gross - paid_value),
        "actualPaymentDate": _iso(dates["actualPaymentDate"] or (invoice_date if paid else None)),
        "actualPaymentType": texts["actualPaymentType"] or (payment_type if paid else None),
        "currency": currency,
        "exchangeRate": _str(amounts["exchangeRate"]),
        "exchangeRateDate": _iso(dates["exchangeRateDate"]),
        "calculateFromGross": from_gross,
        "splitPayment": bool(flags["splitPayment"]),
        "customer": customer["id"] if customer else None,
        "customerName": texts["customerName"] or (customer or {}).get("name"),
        "nipNumber": texts["nipNumber"] if "nipNumber" in flat else (customer or {}).get("nipNumber"),
        "phone": texts["phone"],
        "customerAddress": _address(texts, customer),
        "recipientName": texts["recipientName"],
        "recipientNipNumber": texts["recipientNipNumber"],
        "recipientAddress": _recipient_address(texts),
        "recipientPhoneNumber": texts["recipientPhoneNumber"],
        "customerBankAccountNumber": texts["customerBankAccountNumber"],
        "invoiceAnnotations": texts["invoiceAnnotations"],
        "description": texts["description"],
        "issuingPerson": texts["issuingPerson"],
        "bankAccount": refs["bankAccount"] if refs["bankAccount"] is not None else 1,
        "warehouse": refs["warehouse"] if refs["warehouse"] is not None else 1,
        "storageStateUpdate": storage_update,
        "invoicePatternId": integers["invoicePatternId"] or 1,
        "lastSelectedInvoiceReport": texts["lastSelectedInvoiceReport"] or DEFAULT_TEMPLATES[kind],
        "connectedDocNumber": texts["connectedDocNumber"],
        "connectedDocDate": _iso(dates["connectedDocDate"]),
        "correctionCause": texts["correctionCause"],
        "factor": _str(amounts["factor"]),
        "customFields": {
            key.split(".", 1)[1]: value for key, value in texts.items() if CUSTOM_FIELD.fullmatch(key)
        },
        "transactionNettoPrice": str(net),
        "transactionVatPrice": str(vat),
        "transactionBruttoPrice": str(gross),
    }
    return TransactionDraft(
        header=header,
        entries=entries,
        rate_totals=totals_list(per_rate),
        requested_number=texts["transactionNumber"],
        customer_id=customer["id"] if customer else None,
        create_customer=create_customer and customer is None,
        phones=phones,
        emails=emails,
        custom_vat_warning=any(
            entry["product"] is not None and str(entry["product"].get("vat")) != entry["rate"]
            for entry in parsed
        ),
        original=original,
        sent_totals={
            key: _str(amounts[key])
            for key in ("transactionNettoPrice", "transactionVatPrice", "transactionBruttoPrice")
        },
    )


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _address(texts: dict, customer: dict | None) -> dict:
    office = (customer or {}).get("officeAddress") or {}
    return {
        part: texts[f"customerAddress.{part}"] or office.get(part)
        for part in ("street", "postCode", "city", "country")
    }


def _recipient_address(texts: dict) -> str | dict | None:
    parts = {part: texts[f"recipientAddress.{part}"] for part in ("street", "postCode", "city", "country")}
    if any(parts.values()):
        return parts
    return texts["recipientAddress"]


def _parse_entry(raw, where: str, catalog: Catalog, options: dict, correction: bool) -> dict:
    """``where`` names the entry in errors (``transactionEntries[2]``; empty for a lone entry)."""
    if not isinstance(raw, dict):
        raise invalid_value(where or "transactionEntry", raw)
    try:
        flat = flatten_post(raw, ENTRY_KEYS | set(ENTRY_REF_KEYS), refs=ENTRY_REF_KEYS)
    except ApiError as error:  # name the entry the unknown key came in
        error.body["field"] = _at(where, error.body["field"])
        raise
    product, name = None, None
    value = flat.get("product")
    if isinstance(value, dict) or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        product_id = read_ref(value, _at(where, "product"))
        product = catalog.product(product_id)
        if product is None:
            raise entity_not_found(_at(where, "product"), product_id, "product")
    elif isinstance(value, str) and value.strip():
        name = value.strip()  # a free-text line, linked to no product
    elif value is not None and not isinstance(value, str):
        raise invalid_value(_at(where, "product"), value)
    code = read_text(flat.get("productCode"), _at(where, "productCode"))
    if product is None and code and options.get("link_by_product_code"):
        product = catalog.product_by_code(code)
    if product is None and name is None:
        raise field_required(_at(where, "product"))

    quantity = read_amount(flat.get("quantity"), _at(where, "quantity"))
    if quantity is None:
        raise field_required(_at(where, "quantity"))
    if quantity < 0 or (quantity == 0 and not correction):
        raise invalid_value(_at(where, "quantity"), flat.get("quantity"))
    rate = read_rate(flat.get("vatPercent"), _at(where, "vatPercent"))
    if rate is None and product is not None:
        rate = read_rate(product.get("vat"), _at(where, "vatPercent"))
    if rate is None:
        raise field_required(_at(where, "vatPercent"))
    unit_net = read_amount(flat.get("unitNettoPrice"), _at(where, "unitNettoPrice"))
    unit_gross = read_amount(flat.get("unitBruttoPrice"), _at(where, "unitBruttoPrice"))
    if unit_net is None and unit_gross is None and product is not None:
        unit_net = read_amount(product.get("saleNetPrice"), _at(where, "unitNettoPrice"))
    if unit_net is None and unit_gross is None:
        raise field_required(_at(where, "unitNettoPrice"))
    discount = read_amount(flat.get("discount"), _at(where, "discount"))
    if discount is not None and not Decimal(0) <= discount <= 100:
        raise invalid_value(_at(where, "discount"), flat.get("discount"))
    return {
        "where": where,
        "product": product,
        "name": name or product["name"],
        "code": code or (product or {}).get("productCode"),
        "unit": read_text(flat.get("unit"), _at(where, "unit")) or (product or {}).get("unit"),
        "quantity": quantity,
        "rate": rate,
        "unit_net": unit_net,
        "unit_gross": unit_gross,
        "discount": discount,
        "classification": read_text(flat.get("classificationNumber"), _at(where, "classificationNumber")),
        "price_group": read_text(flat.get("salePriceGroup"), _at(where, "salePriceGroup")),
        "record_id": read_int(flat.get("recordId"), _at(where, "recordId")),
        "base_entry_id": read_int(flat.get("baseEntryId"), _at(where, "baseEntryId")),
        "invalid_record_id": read_int(flat.get("invalidRecordId"), _at(where, "invalidRecordId")),
        "role": "line",
    }


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _number_records(parsed: list[dict]) -> None:
    """Every entry has a ``recordId`` (its line number in the document); they must be unique."""
    seen: set[int] = set()
    for position, entry in enumerate(parsed, start=1):
        if entry["record_id"] is None:
            entry["record_id"] = position
        if entry["record_id"] in seen:
            raise invalid_value(_at(entry["where"], "recordId"), entry["record_id"])
        seen.add(entry["record_id"])


def _pair_correction(parsed: list[dict], original: dict | None) -> None:
    """A correction's entries come in pairs: "before" (the original line, ``baseEntryId``) and
    "after" (``invalidRecordId`` = the before entry's ``recordId``). An after entry with no
    before is a line the correction adds."""
    referenced = {entry["invalid_record_id"] for entry in parsed if entry["invalid_record_id"] is not None}
    by_record = {entry["record_id"]: entry for entry in parsed}
    original_lines = {line["id"]: line for line in (original or {}).get("entries", [])}
    for entry in parsed:
        is_before = entry["base_entry_id"] is not None or entry["record_id"] in referenced
        entry["role"] = "before" if is_before and entry["invalid_record_id"] is None else "after"
        if entry["base_entry_id"] is not None and entry["base_entry_id"] not in original_lines:
            raise entity_not_found(
                _at(entry["where"], "baseEntryId"), entry["base_entry_id"], "transactionentry"
            )
    for entry in parsed:
        target = entry["invalid_record_id"]
        if target is not None and (target not in by_record or by_record[target]["role"] != "before"):
            raise invalid_value(_at(entry["where"], "invalidRecordId"), target)
    for entry in parsed:
        if entry["role"] == "before" and entry["record_id"] not in referenced:
            raise invalid_value(_at(entry["where"], "recordId"), entry["record_id"])


def _entry_json(entry: dict, line: LineAmounts, mode: str) -> dict:
    return {
        "recordId": entry["record_id"],
        "product": entry["product"]["id"] if entry["product"] else None,
        "name": entry["name"],
        "productCode": entry["code"],
        "quantity": str(line.quantity),
        "unit": entry["unit"],
        "vatPercent": line.rate,
        "unitNettoPrice": str(line.unit_net),
        "unitBruttoPrice": str(line.unit_gross),
        "nettoPrice": str(line.net),
        "vatPrice": str(line.vat),
        "bruttoPrice": str(line.gross),
        "discount": _str(entry["discount"]),
        "classificationNumber": entry["classification"] or "",
        "salePriceGroup": entry["price_group"],
        "baseEntryId": entry["base_entry_id"],
        "invalidRecordId": entry["invalid_record_id"],
        "type": "INVALID" if entry["role"] == "before" else "ACTUAL",
        "mode": mode,
        "_goods_out": _goods_out(entry, line),
    }


def _goods_out(entry: dict, line: LineAmounts) -> str | None:
    """Goods of a linked product that leave with this entry (a "before" entry gives them back)."""
    if entry["product"] is None:
        return None
    return str(-line.quantity if entry["role"] == "before" else line.quantity)


def entry_amounts(entry: dict) -> LineAmounts:
    """A stored entry's amounts, read back exactly from its decimal strings."""
    return LineAmounts(
        entry["vatPercent"],
        Decimal(entry["quantity"]),
        Decimal(entry["unitNettoPrice"]),
        Decimal(entry["unitBruttoPrice"]),
        Decimal(entry["nettoPrice"]),
        Decimal(entry["vatPrice"]),
        Decimal(entry["bruttoPrice"]),
    )


def totals_from_entries(entries: list[dict], from_gross: bool, method: str) -> dict[str, dict]:
    """Per-rate header totals of stored entries; with "before" entries (a correction) the
    difference after - before."""
    after = rate_totals([entry_amounts(e) for e in entries if e["type"] != "INVALID"], from_gross, method)
    before_entries = [entry_amounts(e) for e in entries if e["type"] == "INVALID"]
    if not before_entries:
        return after
    return difference(after, rate_totals(before_entries, from_gross, method))


def build_entry(raw, catalog: Catalog, options: dict, from_gross: bool, mode: str) -> dict:
    """One entry added on its own (``POST /transactionentries``)."""
    parsed = _parse_entry(raw, "", catalog, options, correction=False)
    _number_records([parsed])
    amounts = line_amounts(
        parsed["rate"],
        parsed["quantity"],
        parsed["unit_net"],
        parsed["unit_gross"],
        parsed["discount"],
        from_gross,
    )
    return _entry_json(parsed, amounts, mode)
