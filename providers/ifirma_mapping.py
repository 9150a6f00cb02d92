"""iFirma: hub document → `fakturakraj` payload, pre-flight checks, response → RemoteDocument.

Pure functions, no HTTP, so every field the service receives can be asserted in tests. Field
names, codes and lengths follow the iFirma "iapi" documentation (api.ifirma.pl) and iFirma's own
shop plugins; the lengths of `Kontrahent` fields come from client libraries.

Amounts are Decimal here; `jsonable` turns them into JSON numbers at the HTTP edge only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from stdnum.eu import vat as eu_vat
from stdnum.pl import nip

from . import checks
from . import payments as pay
from .base import (
    Choice,
    ExportSettings,
    HubDocument,
    Line,
    Party,
    Problem,
    RateTotal,
    RemoteDocument,
    ascii_fold,
    has_reference,  # noqa: F401  (part of this module's API: the adapter reads it here)
    option_on,
    reference_line,
)
from .money import CENT, decimal_or_none, rate_totals, round_money
from .parties import COUNTRY_NAMES, EU_VAT_ID, EU_VAT_PREFIXES, classify_tax_id, country_code, display_name


@dataclass(frozen=True)
class Resource:
    """One iFirma document kind: its own resource name, list type and API key type."""

    name: str  # path segment: POST /{name}.json, GET /{name}/{id}.json, /{name}/{id}.pdf
    list_type: str  # `typ` in GET faktury.json
    key_name: str  # which of the user's keys signs it
    title: str


# Hub kind → iFirma resource. iFirma issues no fiscal receipts (only invoices *for* a receipt)
# and the adapter does not send corrections, so only invoices are mapped: in PLN the domestic
# invoice, in another currency "faktura w walucie" (`currency_resource`).
RESOURCES: dict[str, Resource] = {
    "invoice": Resource("fakturakraj", "prz_faktura_kraj", "faktura", "faktura krajowa"),
}
INVOICE = RESOURCES["invoice"]
# [UNCONFIRMED] list type: the contract's list of `typ` values is cut short and names none for
# currency invoices, so the look-up lists the day without a type and keeps the records in the
# document's currency (`Waluta`) instead.
CURRENCY_INVOICE = Resource("fakturawaluta", "", "faktura", "faktura w walucie")
RESOURCES_BY_NAME = {resource.name: resource for resource in (INVOICE, CURRENCY_INVOICE)}

# `TypSprzedazy` of a currency invoice: KRAJOWA (domestic sale priced in a foreign currency) or
# WYSYLKOWA (mail-order sale from Poland). A shop's order is a domestic sale unless the merchant
# chooses otherwise in the options.
SALE_TYPES = ("KRAJOWA", "WYSYLKOWA")
DEFAULT_SALE_TYPE = "KRAJOWA"
# `Jezyk`: the second language printed on a currency invoice ("en", "de", …); none by default.
LANGUAGES = (
    Choice("en", "angielski"),
    Choice("de", "niemiecki"),
    Choice("fr", "francuski"),
    Choice("es", "hiszpański"),
    Choice("it", "włoski"),
    Choice("cs", "czeski"),
    Choice("sk", "słowacki"),
    Choice("uk", "ukraiński"),
)

# The remote id carries the resource a document lives under, as every read, PDF and look-up path
# is per resource: "fakturawaluta:<id>". A bare id is a domestic invoice (as all ids stored
# before currency invoices were sent are).
RESOURCE_SEPARATOR = ":"

# VAT rates a domestic invoice takes. Reverse charge ("oo") has no rate type on `fakturakraj`.
VAT_RATES = frozenset({"23", "8", "5", "0", "zw", "np"})
# [UNCONFIRMED] `NP` appears in one client's type list only; option `np_rate_type` overrides it.
DEFAULT_NP_RATE_TYPE = "NP"

# `RodzajPodpisuOdbiorcy`: OUP person authorised, UPO authorisation, BPO no recipient signature,
# BWO no signatures at all (since 2020-11). BPO is what the documented example sends.
SIGNATURE_KINDS = ("OUP", "UPO", "BPO", "BWO")
DEFAULT_SIGNATURE_KIND = "BPO"

# Fixed `SposobZaplaty` codes from the docs; there is no endpoint listing them.
PAYMENT_TYPES = (
    Choice("PRZ", "Przelew"),
    Choice("KAR", "Karta"),
    Choice("GTK", "Gotówka"),
    Choice("POB", "Za pobraniem"),
    Choice("ELE", "Płatność elektroniczna"),
    Choice("P24", "Przelewy24"),
    Choice("ALG", "PayU"),
    Choice("PAL", "PayPal"),
    Choice("TPA", "tpay.com"),
    Choice("DOT", "DotPay"),
    Choice("PZA", "Polecenie zapłaty"),
    Choice("CZK", "Czek"),
    Choice("KOM", "Kompensata"),
    Choice("BAR", "Barter"),
)
PAYMENT_CODES = frozenset(c.id for c in PAYMENT_TYPES)
# An order without a payment name is an ordinary invoice paid by transfer.
DEFAULT_PAYMENT_CODE = "PRZ"

# Shop payment name → code. First match wins, so the specific names come first. BLIK is an
# online payment without its own code → ELE; the merchant can link it otherwise in settings.
_PAYMENT_RULES: tuple[tuple[str, str], ...] = (
    (pay.PRZELEWY24, "P24"),
    (pay.PAYU, "ALG"),
    (pay.PAYPAL, "PAL"),
    (pay.any_of(pay.TPAY, r"\btransferuj"), "TPA"),
    (pay.DOTPAY, "DOT"),
    (pay.any_of(pay.BLIK, r"\belektroniczn|\bonline\b", pay.WALLET), "ELE"),
    (pay.CASH_ON_DELIVERY, "POB"),
    (pay.CARD, "KAR"),
    (pay.CASH, "GTK"),
    (r"\bpolecenie zaplaty\b", "PZA"),
    (pay.TRANSFER, "PRZ"),
    (pay.CHEQUE, "CZK"),
    (pay.COMPENSATION, "KOM"),
    (pay.BARTER, "BAR"),
)

# Field lengths: `Kontrahent` from client libraries, the rest from the docs.
LIMITS = {
    "Nazwa": 150,
    "NIP": 13,
    "Ulica": 65,
    "KodPocztowy": 16,
    "Miejscowosc": 65,
    "Kraj": 70,
    "Email": 65,
    "Telefon": 32,
    "NazwaPelna": 300,
    "Jednostka": 10,
    "PodstawaPrawna": 30,
    "Uwagi": 1000,
    "NazwaSeriiNumeracji": 50,  # [UNCONFIRMED] no documented limit; series names are short
}


# XI (Northern Ireland) is no country of its own: such an id is not split into PrefiksUE.
EU_PREFIXES = EU_VAT_PREFIXES - {"XI"}


# --------------------------------------------------------------------------- resources


def currency_resource(doc: HubDocument) -> Resource | None:
    """The resource a hub document is sent to: None when iFirma takes no such kind."""
    resource = RESOURCES.get(doc.kind)
    if resource is INVOICE and doc.currency != "PLN":
        return CURRENCY_INVOICE
    return resource


def remote_id_of(resource: Resource, identifier: object) -> str:
    """Our remote id for iFirma's `Identyfikator` under `resource`."""
    if resource is INVOICE:
        return str(identifier)
    return f"{resource.name}{RESOURCE_SEPARATOR}{identifier}"


def split_remote_id(remote_id: str) -> tuple[Resource, str]:
    """remote id → (resource, iFirma's id); a bare id is a domestic invoice."""
    name, separator, identifier = str(remote_id).partition(RESOURCE_SEPARATOR)
    if separator and name in RESOURCES_BY_NAME:
        return RESOURCES_BY_NAME[name], identifier
    return INVOICE, str(remote_id)


def sale_type(options: dict) -> str:
    return str(options.get("currency_sale_type") or DEFAULT_SALE_TYPE).strip().upper()


def language(options: dict) -> str:
    return str(options.get("currency_language") or "").strip().lower()


# --------------------------------------------------------------------------- formatting


def jsonable(value):
    """Decimals → JSON numbers (int when whole), recursively; the one place floats appear."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        # Amounts have ≤ 14 significant digits, so the float's shortest repr is the decimal text.
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def default_payment_code(shop_name: str) -> str | None:
    """A shop's payment name → `SposobZaplaty` code; None when the name says nothing we know."""
    name = (shop_name or "").strip()
    if not name:
        return DEFAULT_PAYMENT_CODE
    if name.upper() in PAYMENT_CODES:
        return name.upper()
    return pay.payment_code(name, _PAYMENT_RULES)


def payment_code(doc: HubDocument, settings: ExportSettings, options: dict) -> str | None:
    """The code sent: the merchant's link first, then the name rules, then the option fallback."""
    if settings.payment_type:
        return settings.payment_type
    code = default_payment_code(doc.payment_method)
    if code is None and options.get("default_payment_type"):
        code = str(options["default_payment_type"]).strip().upper()
    return code


def sequence_number(hub_number: str) -> int | None:
    """`Numer` takes only the sequence within the iFirma series: the first number of the hub's
    number ("FV/7/05/2025" → 7); iFirma's series template builds the full number."""
    match = re.search(r"\d+", hub_number or "")
    return int(match.group()) if match else None


def series_names(options: dict) -> list[str]:
    """The series the merchant named in the options (comma or newline separated), in order."""
    raw = str(options.get("series_names") or "")
    names: list[str] = []
    for part in re.split(r"[,\n;]", raw):
        name = part.strip()
        if name and name not in names:
            names.append(name)
    return names


# --------------------------------------------------------------------------- buyer


def split_tax_id(party: Party) -> tuple[str, str]:
    """(PrefiksUE, NIP) for the buyer's tax id: ("", digits) for a Polish NIP."""
    value, kind = classify_tax_id(party, EU_PREFIXES)
    return (value[:2], value[2:]) if kind == EU_VAT_ID else ("", value)


def contractor(buyer: Party) -> dict:
    """`Kontrahent`: always a new contractor record (`Identyfikator: null`) with the order's data,
    so an existing contractor with the same NIP is never overwritten by the update endpoint."""
    country = (buyer.country or "PL").upper()
    fields: dict = {"Nazwa": display_name(buyer), "Identyfikator": None}
    if buyer.is_company:
        prefix, number = split_tax_id(buyer)
        if prefix:
            fields["PrefiksUE"] = prefix
        if number:
            fields["NIP"] = number
    fields["OsobaFizyczna"] = not buyer.is_company
    if buyer.street.strip():
        fields["Ulica"] = buyer.street.strip()
    fields["KodPocztowy"] = buyer.post_code.strip()
    fields["Miejscowosc"] = buyer.city.strip()
    if country in COUNTRY_NAMES:
        fields["Kraj"] = COUNTRY_NAMES[country]
    fields["KodKraju"] = country
    fields["AdresZagraniczny"] = country != "PL"
    if buyer.email.strip():
        fields["Email"] = buyer.email.strip()
    if buyer.phone.strip():
        fields["Telefon"] = buyer.phone.strip()
    return fields


# --------------------------------------------------------------------------- lines


def exemption_basis(doc: HubDocument, options: dict) -> str:
    return (doc.exemption_basis or str(options.get("exemption_basis") or "")).strip()


def position(line: Line, basis: str, np_rate_type: str) -> dict:
    # Gross unit prices (`LiczOd: BRT`): iFirma then sums each rate's gross and derives its VAT
    # from that sum, the way the hub prints it.
    item: dict = {
        "NazwaPelna": line.name,
        "Jednostka": line.unit,
        "Ilosc": Decimal(line.quantity).normalize(),
        "CenaJednostkowa": round_money(line.unit_gross),
    }
    if line.vat_rate.isdecimal():
        item["StawkaVat"] = (Decimal(line.vat_rate) / 100).quantize(CENT)
        item["TypStawkiVat"] = "PRC"
        item["PKWiU"] = ""
    elif line.vat_rate == "zw":
        item["StawkaVat"] = None
        item["TypStawkiVat"] = "ZW"
        item["PodstawaPrawna"] = basis
    else:  # "np"
        item["StawkaVat"] = None
        item["TypStawkiVat"] = np_rate_type
    return item


# --------------------------------------------------------------------------- reference marker

# No external-id field exists, so our reference line is printed in `Uwagi`, which GET returns
# whole; `find_document` looks for it there (`has_reference`).


def remarks(doc: HubDocument) -> str:
    notes = doc.notes.strip()
    return "\n".join(part for part in (notes, reference_line(doc.reference)) if part)


# --------------------------------------------------------------------------- payload


def build_invoice(doc: HubDocument, settings: ExportSettings, options: dict | None = None) -> dict:
    """The body of POST /fakturakraj.json — or of /fakturawaluta.json for a document in another
    currency: the same fields, amounts in the document's currency, plus the currency fields."""
    opts = options or {}
    paid = round_money(doc.total_gross) if doc.paid else Decimal("0.00")
    invoice: dict = {}
    if currency_resource(doc) is CURRENCY_INVOICE:
        invoice.update(currency_fields(doc, opts))
    invoice |= {
        "Zaplacono": paid,
        "ZaplaconoNaDokumencie": paid,
        "LiczOd": "BRT",
        "DataWystawienia": doc.issue_date.isoformat(),
        "DataSprzedazy": doc.sell_date.isoformat(),
        "FormatDatySprzedazy": "DZN",
    }
    if doc.payment_due is not None and not doc.hide_payment_date:
        invoice["TerminPlatnosci"] = doc.payment_due.isoformat()
    invoice["SposobZaplaty"] = payment_code(doc, settings, opts)
    if settings.series_id:
        invoice["NazwaSeriiNumeracji"] = settings.series_id
    invoice["RodzajPodpisuOdbiorcy"] = str(opts.get("recipient_signature") or DEFAULT_SIGNATURE_KIND).upper()
    invoice["WidocznyNumerGios"] = False
    invoice["Uwagi"] = remarks(doc)
    # null = the next number of the series; hub numbering forces the hub's sequence number.
    invoice["Numer"] = sequence_number(doc.number) if settings.numbering == "hub" else None
    invoice["Kontrahent"] = contractor(doc.buyer)
    basis = exemption_basis(doc, opts)
    np_rate_type = str(opts.get("np_rate_type") or DEFAULT_NP_RATE_TYPE).upper()
    invoice["Pozycje"] = [position(line, basis, np_rate_type) for line in doc.lines]
    return invoice


def currency_fields(doc: HubDocument, options: dict) -> dict:
    """What `fakturawaluta` adds to an invoice: the sale type, the currency, the order's rate to
    PLN (unless the merchant lets iFirma take its own) and the optional second language."""
    fields: dict = {"TypSprzedazy": sale_type(options), "Waluta": doc.currency}
    if doc.exchange_rate and option_on(options.get("send_exchange_rate"), default=True):
        # "Kurs waluty z dnia poprzedzającego dzień wystawienia faktury": the hub's rate is the one
        # the merchant's order carries, printed on the hub's own document too. [UNCONFIRMED] how many
        # decimals iFirma keeps (NBP rates have 4): it is sent as the order gives it (at most 6).
        fields["KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury"] = Decimal(doc.exchange_rate).normalize()
    if language(options):
        fields["Jezyk"] = language(options)
    if fields["TypSprzedazy"] == "WYSYLKOWA" and doc.paid:
        # [UNCONFIRMED] a mail-order invoice (`fakturawysylka`) needs the date the payment came in;
        # the contract does not say whether the currency invoice's WYSYLKOWA does too.
        fields["DataOtrzymaniaZaplaty"] = (doc.paid_date or doc.issue_date).isoformat()
    return fields


# --------------------------------------------------------------------------- preflight


def _too_long(field: str, what: str, value: str, limit_key: str, fix: str) -> Problem | None:
    return checks.too_long(field, what, value, LIMITS[limit_key], "iFirma", fix)


def _tax_id_problems(buyer: Party) -> list[Problem]:
    """iFirma's own reading of a company's id: in Poland anything but an EU VAT id must be a
    valid NIP, and `NIP` (sent without the EU prefix) has a length limit."""
    if not buyer.is_company:
        return []
    prefix, number = split_tax_id(buyer)
    polish = country_code(buyer) == "PL"
    if not number and polish:
        return [checks.MISSING_NIP]
    if number and not prefix and polish and not nip.is_valid(number):
        return [checks.invalid_nip(buyer)]
    if prefix and not eu_vat.is_valid(prefix + number):
        return [checks.invalid_eu_vat_id(buyer)]
    return checks.found(_too_long("buyer.tax_id", "Numer podatkowy nabywcy", number, "NIP",
                                  "popraw numer (bez prefiksu kraju)"))


def _buyer_problems(buyer: Party) -> list[Problem]:
    name = display_name(buyer)
    name_field = "buyer.company_name" if buyer.is_company else "buyer.name"
    problems = checks.buyer_name_problems(buyer) + _tax_id_problems(buyer)
    problems += checks.buyer_address_problems(buyer)
    lengths = (
        (name_field, "Nazwa nabywcy", name, "Nazwa", "skróć nazwę"),
        ("buyer.street", "Ulica nabywcy", buyer.street.strip(), "Ulica", "skróć adres"),
        ("buyer.post_code", "Kod pocztowy nabywcy", buyer.post_code.strip(), "KodPocztowy", "popraw kod"),
        ("buyer.city", "Miejscowość nabywcy", buyer.city.strip(), "Miejscowosc", "skróć nazwę miejscowości"),
        ("buyer.email", "E-mail nabywcy", buyer.email.strip(), "Email", "podaj krótszy adres e-mail"),
        ("buyer.phone", "Telefon nabywcy", buyer.phone.strip(), "Telefon", "skróć numer telefonu"),
    )
    problems += checks.found(*(_too_long(*length) for length in lengths))
    return problems + checks.found(checks.buyer_country_problem(buyer))


def _line_problems(path: str, line: Line, vat_rates: frozenset[str], kind_name: str) -> list[Problem]:
    return checks.found(
        checks.vat_rate_problem(path, line, vat_rates, kind_name),
        checks.line_name_problem(path, line.name, LIMITS["NazwaPelna"], "iFirma",
                                 what=f"Nazwa pozycji „{line.name[:40]}…”"),
        _too_long(f"{path}.unit", f"Jednostka „{line.unit}”", line.unit, "Jednostka",
                  "użyj skrótu, np. szt, kg, godz"),
        checks.quantity_problem(path, line),
    )


def _currency_problems(doc: HubDocument, options: dict) -> list[Problem]:
    """A currency invoice: an ISO code, a usable rate when one is sent, and the options' values."""
    problems = checks.found(checks.currency_problem(doc))
    if doc.exchange_rate is not None and doc.exchange_rate <= 0:
        problems.append(Problem(
            "exchange_rate",
            f"Kurs wymiany {doc.exchange_rate} nie jest dodatni – popraw kurs {doc.currency}/PLN w zamówieniu.",
        ))
    if sale_type(options) not in SALE_TYPES:
        problems.append(Problem(
            "options.currency_sale_type",
            f"Typ sprzedaży „{sale_type(options)}” jest nieznany – wybierz jeden z: {', '.join(SALE_TYPES)}.",
        ))
    code = language(options)
    if code and not re.fullmatch(r"[a-z]{2}", code):
        problems.append(Problem(
            "options.currency_language",
            f"Język „{code}” nie jest dwuliterowym kodem (np. en, de) – popraw go w opcjach integracji.",
        ))
    return problems


def _date_problems(doc: HubDocument) -> list[Problem]:
    problems: list[Problem] = []
    if doc.issue_date < doc.sell_date:
        problems.append(Problem(
            "issue_date",
            f"Data wystawienia {doc.issue_date:%d.%m.%Y} jest wcześniejsza niż data sprzedaży "
            f"{doc.sell_date:%d.%m.%Y}; iFirma tego nie przyjmuje – ustaw datę sprzedaży nie późniejszą niż wystawienia.",
        ))
    year, month = (doc.sell_date.year + 1, 1) if doc.sell_date.month == 12 else (doc.sell_date.year, doc.sell_date.month + 1)
    latest = date(year, month, 15)
    if doc.issue_date > latest:
        problems.append(Problem(
            "issue_date",
            f"Data wystawienia {doc.issue_date:%d.%m.%Y} jest późniejsza niż 15. dzień miesiąca po miesiącu "
            f"sprzedaży ({latest:%d.%m.%Y}); iFirma jej nie przyjmie – popraw datę sprzedaży lub wystawienia.",
        ))
    if doc.payment_due is not None and not doc.hide_payment_date and doc.payment_due < doc.sell_date:
        problems.append(Problem(
            "payment_due",
            f"Termin płatności {doc.payment_due:%d.%m.%Y} jest wcześniejszy niż data sprzedaży – popraw termin.",
        ))
    return problems


def preflight(doc: HubDocument, settings: ExportSettings, options: dict | None = None,
              vat_rates: frozenset[str] = VAT_RATES) -> list[Problem]:
    """Everything iFirma is known to refuse, found before sending."""
    opts = options or {}
    problems: list[Problem] = []
    if doc.kind not in RESOURCES:
        what = {"receipt": "paragonów (iFirma nie wystawia paragonów fiskalnych przez API)",
                "correction": "korekt (integracja nie przesyła korekt do iFirma – wystaw korektę w iFirma)"}
        return [Problem("kind", f"iFirma nie przyjmuje {what.get(doc.kind, f'dokumentów rodzaju „{doc.kind}”')}.")]

    currency_invoice = currency_resource(doc) is CURRENCY_INVOICE
    if currency_invoice:
        problems += _currency_problems(doc, opts)

    problems += _buyer_problems(doc.buyer)

    if not doc.lines:
        problems += checks.found(checks.no_lines(doc.lines))
    elif all(line.gross == 0 for line in doc.lines):
        problems.append(Problem("lines", "Wszystkie pozycje mają wartość 0 – iFirma wymaga co najmniej jednej "
                                         "pozycji z ceną; popraw ceny."))
    kind_name = "fakturę w walucie iFirma" if currency_invoice else "fakturę krajową iFirma"
    for i, line in enumerate(doc.lines):
        problems += _line_problems(f"lines[{i}]", line, vat_rates, kind_name)

    if any(line.vat_rate == "zw" for line in doc.lines):
        basis = exemption_basis(doc, opts)
        if not basis:
            problems.append(Problem(
                "exemption_basis",
                "Pozycje ze stawką zw wymagają podstawy prawnej zwolnienia (np. „Art. 113 ust. 1”) – wpisz ją "
                "w dokumencie lub ustaw domyślną w opcjach integracji.",
            ))
        else:
            problem = _too_long("exemption_basis", "Podstawa prawna zwolnienia", basis, "PodstawaPrawna",
                                "skróć ją, np. „Art. 43 ust. 1 pkt 29 lit. a”")
            if problem:
                problems.append(problem)

    notes_limit = LIMITS["Uwagi"] - len("\n" + reference_line(doc.reference))
    if len(doc.notes.strip()) > notes_limit:
        problems.append(Problem(
            "notes",
            f"Uwagi mają {len(doc.notes.strip())} znaków; iFirma przyjmuje najwyżej {notes_limit} (razem z numerem "
            "referencyjnym huba) – skróć je.",
        ))

    problems += _date_problems(doc)

    code = payment_code(doc, settings, opts)
    if code is None:
        problems.append(Problem(
            "payment_method",
            f"Nie wiadomo, jaki sposób zapłaty iFirma ma wpisać dla „{doc.payment_method}” – przypisz go w sekcji "
            "„Rodzaje płatności” integracji albo ustaw domyślny rodzaj płatności w opcjach.",
        ))
    elif code not in PAYMENT_CODES:
        problems.append(Problem(
            "payment_method",
            f"Kod płatności „{code}” nie istnieje w iFirma – wybierz jeden z: {', '.join(sorted(PAYMENT_CODES))}.",
        ))

    if settings.series_id:
        problem = _too_long("series", f"Nazwa serii „{settings.series_id}”", settings.series_id,
                            "NazwaSeriiNumeracji", "sprawdź nazwę serii w opcjach integracji")
        if problem:
            problems.append(problem)
    if settings.numbering == "hub" and sequence_number(doc.number) is None:
        problems.append(Problem(
            "number",
            f"Numer „{doc.number}” nie zawiera liczby porządkowej, a iFirma przyjmuje numer jako liczbę – "
            "wybierz numerację usługi albo format serii z {nr}.",
        ))
    signature = str(opts.get("recipient_signature") or DEFAULT_SIGNATURE_KIND).upper()
    if signature not in SIGNATURE_KINDS:
        problems.append(Problem(
            "options.recipient_signature",
            f"Rodzaj podpisu odbiorcy „{signature}” jest nieznany – wpisz jeden z: {', '.join(SIGNATURE_KINDS)}.",
        ))
    return problems


# --------------------------------------------------------------------------- responses

# iFirma names the field in most refusals ("Pole Kontrahent.Ulica może mieć…"): its field → ours.
_IFIRMA_FIELDS = {
    "DataWystawienia": "issue_date",
    "DataSprzedazy": "sell_date",
    "TerminPlatnosci": "payment_due",
    "SposobZaplaty": "payment_method",
    "NazwaSeriiNumeracji": "series",
    "Uwagi": "notes",
    "Numer": "number",
    "Zaplacono": "paid",
    "ZaplaconoNaDokumencie": "paid",
    "Kontrahent.Nazwa": "buyer.name",
    "Kontrahent.NIP": "buyer.tax_id",
    "Kontrahent.PrefiksUE": "buyer.tax_id",
    "Kontrahent.Ulica": "buyer.street",
    "Kontrahent.KodPocztowy": "buyer.post_code",
    "Kontrahent.Miejscowosc": "buyer.city",
    "Kontrahent.Kraj": "buyer.country",
    "Kontrahent.KodKraju": "buyer.country",
    "Kontrahent.Email": "buyer.email",
    "Kontrahent.Telefon": "buyer.phone",
    "Kontrahent": "buyer",
    "PodstawaPrawna": "exemption_basis",
    "Pozycje": "lines",
    "Waluta": "currency",
    "KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury": "exchange_rate",
    "TypSprzedazy": "options.currency_sale_type",
    "Jezyk": "options.currency_language",
}
_IFIRMA_FIELD = re.compile(r"\b(Kontrahent\.\w+|Pozycje(?:\[\d+\])?(?:\.(\w+))?|\w+)")

# Otherwise the words of the Polish message → the hub field to fix (first match wins).
_REFUSAL_WORDS: tuple[tuple[str, str], ...] = (
    (r"data wystawienia|miesiac ksiegow", "issue_date"),
    (r"data sprzedazy", "sell_date"),
    (r"termin platnosci", "payment_due"),
    (r"\bkurs", "exchange_rate"),
    (r"\bwalut", "currency"),
    (r"podstawa prawna", "exemption_basis"),
    (r"\bnip\b|prefiks", "buyer.tax_id"),
    (r"kod pocztowy", "buyer.post_code"),
    (r"miejscowos", "buyer.city"),
    (r"ulica", "buyer.street"),
    (r"kontrahent|nabywc", "buyer"),
    (r"seri[ia] numeracji|\bseri", "series"),
    (r"sposob zaplaty|platnos", "payment_method"),
    (r"\buwagi\b", "notes"),
    (r"pozycj|stawk|\bvat\b|cena|ilosc", "lines"),
    (r"\bnumer\b", "number"),
)


def _refusal_field(message: str) -> str:
    for match in _IFIRMA_FIELD.finditer(message):
        name, line_field = match.group(1), match.group(2)
        if name.startswith("Pozycje"):
            # Line numbering in the messages is not documented, so the field names "lines" only.
            return "exemption_basis" if line_field == "PodstawaPrawna" else "lines"
        if name in _IFIRMA_FIELDS:
            return _IFIRMA_FIELDS[name]
    folded = ascii_fold(message)
    return next((field for pattern, field in _REFUSAL_WORDS if re.search(pattern, folded)), "document")


def refusal_field_errors(information: str) -> dict[str, list[str]]:
    """iFirma's refusal text (one message per line) → field errors keyed by hub field paths;
    what names no known field goes under "document"."""
    errors: dict[str, list[str]] = {}
    for message in (m.strip(" -;\t") for m in re.split(r"[\r\n]+", information or "")):
        if message:
            errors.setdefault(_refusal_field(message), []).append(message)
    return errors or {"document": ["iFirma odrzuciła dokument bez podania przyczyny."]}


def position_rate(item: dict) -> str:
    kind = str(item.get("TypStawkiVat") or "PRC").upper()
    if kind == "ZW":
        return "zw"
    if kind != "PRC":
        return "np"
    rate = decimal_or_none(item.get("StawkaVat")) or Decimal(0)
    if rate < 1:  # a fraction (0.23); some answers may carry the percentage itself
        rate *= 100
    return str(int(rate.quantize(Decimal(1), rounding=ROUND_HALF_UP)))


def totals_from_invoice(data: dict) -> tuple[RateTotal, ...]:
    """Per-rate totals as iFirma prints them. Gross-priced (BRT): line gross = qty × price,
    the rate's VAT from its gross sum; net-priced (NET): the mirror image."""
    from_gross = str(data.get("LiczOd") or "BRT").upper() != "NET"
    sums: dict[str, Decimal] = {}
    for item in data.get("Pozycje") or []:
        if not isinstance(item, dict):
            continue
        price = decimal_or_none(item.get("CenaZRabatem"))
        if price is None:
            price = decimal_or_none(item.get("CenaJednostkowa")) or Decimal(0)
        quantity = decimal_or_none(item.get("Ilosc")) or Decimal(0)
        rate = position_rate(item)
        sums[rate] = sums.get(rate, Decimal(0)) + round_money(quantity * price)
    return rate_totals(sums, from_net=not from_gross)


def payment_status(paid: Decimal | None, gross: Decimal | None) -> str:
    if gross is not None and paid is not None and paid >= gross > 0:
        return "paid"
    if paid:
        return "partially_paid"
    return "issued"


def parse_invoice(remote_id: str, data: dict) -> RemoteDocument:
    totals = totals_from_invoice(data)
    gross = decimal_or_none(data.get("Brutto"))
    if gross is None and totals:
        gross = sum((t.gross for t in totals), Decimal(0))
    paid = decimal_or_none(data.get("Zaplacono"))
    return RemoteDocument(
        remote_id=str(remote_id),
        number=str(data.get("PelnyNumer") or "") or None,
        status=payment_status(paid, gross),
        view_url=None,  # iFirma has no public document link
        pdf_url=None,  # the PDF needs a signed request: fetch_pdf reads it
        total_gross=gross,
        totals=totals,
        ksef=None,  # KSeF status fields are undocumented in GET answers
        raw=data,
    )
