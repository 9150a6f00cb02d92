"""Validation of incoming orders: one set of rules for the JSON API, CSV import and the manual form.

`validate_order(payload)` takes the API's JSON shape (strings or numbers) and returns
`(clean, errors)`: `clean` is ready to save, `errors` maps a field path (`buyer.tax_id`,
`items[2].quantity`) to a message saying what is wrong, in the user's language (the API's is Polish).
Nothing is saved when errors exist.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.pl import nip

from ..models import VAT_RATES

MAX_ITEMS = 1000
MAX_QUANTITY = Decimal(1000000)
MAX_PRICE = Decimal(100000000)
EU_COUNTRIES = frozenset(
    ["AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"]
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

# Field: (max length, required). Lengths match the database columns.
BUYER_FIELDS = {
    "name": 200,
    "company_name": 300,
    "tax_id": 20,
    "street": 200,
    "post_code": 20,
    "city": 100,
    "country": 2,
    "email": 200,
    "phone": 50,
}
ITEM_TEXT_FIELDS = {"name": 300, "sku": 100, "ean": 20, "unit": 10}


class Errors(dict):
    def add(self, field: str, message: str) -> None:
        self.setdefault(field, message)


def _text(value, field: str, errors: Errors, max_len: int, required: bool = False, multiline: bool = False) -> str:
    if value is None:
        value = ""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        errors.add(field, _("Oczekiwano tekstu."))
        return ""
    text = unicodedata.normalize("NFC", str(value)).strip()
    control = _CONTROL if multiline else re.compile(r"[\x00-\x1f\x7f]")
    if control.search(text):
        errors.add(field, _("Zawiera niedozwolone znaki sterujące."))
        return ""
    if len(text) > max_len:
        errors.add(field, _("Za długie: najwyżej %(max)d znaków (jest %(length)d).", max=max_len,
                            length=len(text)))
        return ""
    if required and not text:
        errors.add(field, _("Pole wymagane."))
    return text


def parse_decimal(value) -> Decimal | None:
    """Numbers as the shops send them: 12.5, "12.50", "12,50". Floats are refused upstream
    (the API parses JSON numbers straight to Decimal)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        result = Decimal(value)
    elif isinstance(value, str):
        cleaned = value.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
        if not cleaned:
            return None
        try:
            result = Decimal(cleaned)
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def _decimal(value, field: str, errors: Errors, *, places: int, minimum: Decimal, maximum: Decimal,
             allow_zero: bool = True) -> Decimal | None:
    if value is None or value == "":
        errors.add(field, _("Pole wymagane."))
        return None
    number = parse_decimal(value)
    if number is None:
        errors.add(field, _("To nie jest liczba."))
        return None
    if number < minimum or (not allow_zero and number == 0):
        errors.add(field, _("Musi być większe od zera.") if not allow_zero
                   else _("Nie może być mniejsze niż %(minimum)s.", minimum=minimum))
        return None
    if number > maximum:
        errors.add(field, _("Za duże: najwyżej %(maximum)s.", maximum=maximum))
        return None
    if number.as_tuple().exponent < -places:
        errors.add(field, _("Najwyżej %(places)d miejsca po przecinku.", places=places))
        return None
    return number


def _bool(value, field: str, errors: Errors) -> bool:
    if isinstance(value, bool):
        return value
    if value in (None, "", 0, "0"):
        return False
    if value == 1:
        return True
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "tak", "yes", "on", "t", "y"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "nie", "no", "off", "f", "n"):
        return False
    errors.add(field, _("Oczekiwano tak/nie."))
    return False


def _date(value, field: str, errors: Errors) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        errors.add(field, _("Data w formacie RRRR-MM-DD."))
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        errors.add(field, _("Data w formacie RRRR-MM-DD."))
        return None


def _datetime(value, field: str, errors: Errors) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        errors.add(field, _("Data i czas w formacie ISO 8601."))
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())  # Python 3.11 reads a trailing "Z" itself
    except ValueError:
        errors.add(field, _("Data i czas w formacie ISO 8601, np. 2026-11-25T10:00:00+01:00."))
        return None
    if parsed.tzinfo is None:
        # A shop that sends local time means Polish time.
        from zoneinfo import ZoneInfo

        parsed = parsed.replace(tzinfo=ZoneInfo("Europe/Warsaw"))
    return parsed.astimezone(UTC)


def check_tax_id(tax_id: str, country: str) -> str | None:
    """Return an error message, or None when the NIP / EU VAT id is valid."""
    compact = re.sub(r"[\s-]", "", tax_id).upper()
    if country == "PL" or compact.startswith("PL") or compact.isdecimal():
        number = compact.removeprefix("PL")
        try:
            nip.validate(number)
        except StdnumError:
            return _("Nieprawidłowy NIP (10 cyfr z poprawną sumą kontrolną).")
        return None
    if country in EU_COUNTRIES:
        try:
            eu_vat.validate(compact if compact[:2].isalpha() else country + compact)
        except StdnumError:
            return _("Nieprawidłowy numer VAT UE dla kraju %(country)s (z prefiksem kraju, np. DE123456789).",
                     country=country)
        return None
    if not re.fullmatch(r"[A-Z0-9]{2,20}", compact):
        return _("Numer podatkowy: litery i cyfry, najwyżej 20 znaków.")
    return None


def normalise_tax_id(tax_id: str, country: str) -> str:
    compact = re.sub(r"[\s-]", "", tax_id).upper()
    if country == "PL":
        return compact.removeprefix("PL")
    if country in EU_COUNTRIES and compact and not compact[:2].isalpha():
        return country + compact
    return compact


def _validate_buyer(raw, errors: Errors) -> dict:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        errors.add("buyer", _("Oczekiwano obiektu z danymi nabywcy."))
        return {}
    buyer = {name: _text(raw.get(name), f"buyer.{name}", errors, max_len) for name, max_len in BUYER_FIELDS.items()}
    kind = raw.get("type", "person")
    if kind not in ("person", "company"):
        errors.add("buyer.type", _("Dozwolone: person (osoba) lub company (firma)."))
    buyer["is_company"] = kind == "company"
    buyer["country"] = (buyer["country"] or "PL").upper()
    if not _COUNTRY.match(buyer["country"]):
        errors.add("buyer.country", _("Kod kraju ISO, dwie litery (np. PL, DE)."))
    if buyer["is_company"]:
        if not buyer["company_name"]:
            errors.add("buyer.company_name", _("Podaj nazwę firmy nabywcy."))
        if not buyer["tax_id"] and buyer["country"] == "PL":
            errors.add("buyer.tax_id", _("Firma z Polski wymaga NIP."))
    if buyer["tax_id"]:
        problem = check_tax_id(buyer["tax_id"], buyer["country"])
        if problem:
            errors.add("buyer.tax_id", problem)
        else:
            buyer["tax_id"] = normalise_tax_id(buyer["tax_id"], buyer["country"])
    if buyer["email"]:
        try:
            buyer["email"] = validate_email(buyer["email"], check_deliverability=False).normalized
        except EmailNotValidError:
            errors.add("buyer.email", _("Nieprawidłowy adres e-mail."))
    return buyer


def _validate_item(raw, index: int, errors: Errors, shipping: bool = False) -> dict | None:
    prefix = "shipping" if shipping else f"items[{index}]"
    if not isinstance(raw, dict):
        errors.add(prefix, _("Oczekiwano obiektu pozycji."))
        return None
    item = {name: _text(raw.get(name), f"{prefix}.{name}", errors, max_len) for name, max_len in ITEM_TEXT_FIELDS.items()}
    if shipping:
        item["name"] = item["name"] or "Wysyłka"
        quantity = Decimal(1)
        price_value = raw.get("gross", raw.get("unit_gross"))
        price_field = f"{prefix}.gross"
    else:
        if not item["name"]:
            errors.add(f"{prefix}.name", _("Podaj nazwę pozycji."))
        quantity = _decimal(raw.get("quantity"), f"{prefix}.quantity", errors, places=3,
                            minimum=Decimal(0), maximum=MAX_QUANTITY, allow_zero=False)
        price_value = raw.get("unit_gross")
        price_field = f"{prefix}.unit_gross"
    unit_gross = _decimal(price_value, price_field, errors, places=2, minimum=Decimal(0), maximum=MAX_PRICE)
    rate = raw.get("vat_rate")
    rate = str(rate).strip().lower().removesuffix("%") if isinstance(rate, (str, int)) and not isinstance(rate, bool) else rate
    if rate not in VAT_RATES:
        errors.add(f"{prefix}.vat_rate", _("Stawka VAT: 23, 8, 5, 0, zw, np lub oo."))
    item.update(quantity=quantity, unit_gross=unit_gross, vat_rate=rate, is_shipping=shipping)
    item["unit"] = item["unit"] or "szt."
    return item


def validate_order(payload) -> tuple[dict, dict[str, str]]:
    errors = Errors()
    if not isinstance(payload, dict):
        return {}, {"body": _("Oczekiwano obiektu JSON z danymi zamówienia.")}
    clean = {
        "source": _text(payload.get("source"), "source", errors, 100, required=True),
        "shop_order_id": _text(payload.get("shop_order_id"), "shop_order_id", errors, 100, required=True),
        "status": _text(payload.get("status"), "status", errors, 60),
        "ordered_at": _datetime(payload.get("ordered_at"), "ordered_at", errors),
        "notes": _text(payload.get("notes"), "notes", errors, 2000, multiline=True),
        "buyer": _validate_buyer(payload.get("buyer"), errors),
    }
    currency = _text(payload.get("currency") or "PLN", "currency", errors, 3).upper()
    if not _CURRENCY.match(currency):
        errors.add("currency", _("Kod waluty ISO 4217, trzy litery (np. PLN, EUR)."))
    clean["currency"] = currency
    clean["exchange_rate"] = None
    if currency != "PLN":
        clean["exchange_rate"] = _decimal(payload.get("exchange_rate"), "exchange_rate", errors, places=6,
                                          minimum=Decimal(0), maximum=Decimal(100000), allow_zero=False)

    payment = payload.get("payment") or {}
    if not isinstance(payment, dict):
        errors.add("payment", _("Oczekiwano obiektu z danymi płatności."))
        payment = {}
    clean["payment_method"] = _text(payment.get("method"), "payment.method", errors, 100)
    clean["paid"] = _bool(payment.get("paid"), "payment.paid", errors)
    clean["paid_date"] = _date(payment.get("paid_date"), "payment.paid_date", errors)

    items = payload.get("items")
    clean["items"] = []
    if not isinstance(items, list) or not items:
        errors.add("items", _("Zamówienie musi mieć co najmniej jedną pozycję."))
    elif len(items) > MAX_ITEMS:
        errors.add("items", _("Najwyżej %(max)d pozycji w jednym zamówieniu (jest %(count)d).", max=MAX_ITEMS,
                                  count=len(items)))
    else:
        clean["items"] = [_validate_item(raw, i, errors) for i, raw in enumerate(items)]
    shipping = payload.get("shipping")
    if shipping not in (None, "", {}):
        clean["items"].append(_validate_item(shipping, 0, errors, shipping=True))
    return clean, dict(errors)
