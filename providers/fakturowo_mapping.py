"""Fakturowo: hub document → form fields of `api_zadanie=1`, pre-flight checks, text answers → data.

Pure functions, no HTTP, so every field the service receives can be asserted in tests. Field
names and codes come from client code that calls the live API (the official pages are readable
only when logged in); the uncertain ones can be switched through the integration's options.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from . import checks
from . import payments as pay
from .base import (
    VAT_RATES,
    Choice,
    ExportSettings,
    HubDocument,
    Line,
    Party,
    Problem,
    RemoteDocument,
    ascii_fold,
    option_on,
)
from .money import decimal_or_none, money_text, quantity_text
from .parties import OTHER_TAX_ID, classify_tax_id, company_name, country_name, tax_id_text

TASK_ISSUE = "1"
TASK_LIST = "3"

# `dokument_rodzaj`: 0 = Faktura VAT, 20 = paragon. No correction code exists in any client.
DOCUMENT_KINDS = {"invoice": 0, "receipt": 20}

# `dokument_waluta` is an index into this list, not an ISO code (two clients agree on 0–35).
CURRENCIES = (
    "PLN", "EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "THB", "HKD", "NZD", "SGD", "HUF", "UAH",
    "CZK", "DKK", "ISK", "NOK", "SEK", "HRK", "RON", "BGN", "TRY", "ILS", "CLP", "PHP", "MXN", "ZAR",
    "BRL", "MYR", "RUB", "IDR", "INR", "KRW", "CNY", "XDR",
)
CURRENCY_CODES = {code: index for index, code in enumerate(CURRENCIES)}

# `dokument_zaplata`: a fixed table (there is no listing call), in the order a merchant reads it.
PAYMENT_TYPES = (
    Choice("0", "Przelew"),
    Choice("14", "Zapłacono przelewem"),
    Choice("13", "Gotówka"),
    Choice("15", "Zapłacono gotówką"),
    Choice("12", "Za pobraniem"),
    Choice("21", "Karta płatnicza"),
    Choice("31", "Płatność internetowa"),
    Choice("18", "Zapłacono – PayU"),
    Choice("20", "Zapłacono – Przelewy24"),
    Choice("16", "Zapłacono – PayPal"),
    Choice("17", "Zapłacono – DotPay"),
    Choice("19", "Zapłacono – CashBill"),
    Choice("28", "Terminal płatniczy"),
    Choice("27", "Rozliczono zaliczką"),
    Choice("25", "Kompensata"),
    Choice("22", "Barter"),
    Choice("23", "Czek"),
    Choice("24", "Weksel"),
    Choice("26", "Akredytywa"),
    Choice("29", "Kredyt"),
    *(Choice(str(code), f"Przelew {days} dni" if days > 1 else "Przelew 1 dzień") for code, days in (
        (1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (36, 8), (37, 9), (38, 10), (39, 11),
        (40, 12), (41, 13), (8, 14), (9, 21), (42, 28), (10, 30), (32, 35), (33, 40), (43, 43), (30, 45),
        (34, 50), (35, 55), (11, 60), (44, 65),
    )),
)
PAYMENT_CODES = frozenset(c.id for c in PAYMENT_TYPES)
PAID_TRANSFER, TRANSFER, PAID_CASH, CASH, INTERNET = "14", "0", "15", "13", "31"

# Shop payment name → (code when paid, code when not paid). First match wins. The "paid – X"
# codes print "zapłacono", so an unpaid online payment is only a "płatność internetowa".
_PAYMENT_RULES: tuple[tuple[str, tuple[str, str]], ...] = (
    (pay.PRZELEWY24, ("20", INTERNET)),
    (pay.PAYU, ("18", INTERNET)),
    (pay.PAYPAL, ("16", INTERNET)),
    (pay.DOTPAY, ("17", INTERNET)),
    (r"\bcashbill\b", ("19", INTERNET)),
    (pay.any_of(pay.BLIK, r"\bonline\b|\binternet"), (INTERNET, INTERNET)),
    (pay.CASH_ON_DELIVERY, ("12", "12")),
    (r"\bterminal", ("28", "28")),
    (pay.any_of(pay.CARD, pay.WALLET), ("21", "21")),
    (pay.CASH, (PAID_CASH, CASH)),
    (pay.COMPENSATION, ("25", "25")),
    (pay.BARTER, ("22", "22")),
    (pay.CHEQUE, ("23", "23")),
    (r"\bweksel", ("24", "24")),
    (r"\bakredytyw", ("26", "26")),
    (r"\bkredyt|\braty\b", ("29", "29")),
    (pay.TRANSFER, (PAID_TRANSFER, TRANSFER)),
)

# `produkt_jm` is an integer code. halfik's table (below) starts at 0 = usł., 1 = szt., but two
# production clients send 1 for services and 2 for goods, so the live table is most likely the
# same list shifted by one: the default offset is 1 and the integration can set 0. [UNCONFIRMED]
UNIT_CODES = {
    "usl": 0, "szt": 1, "dzien": 6, "godz": 7, "kg": 14, "kpl": 16, "l": 18, "m": 19, "m2": 20, "m3": 21,
    "mies": 23, "opak": 28, "para": 29, "t": 34, "os": 37, "ryczalt": 40, "abonament": 50,
}
UNIT_ALIASES = {
    "usluga": "usl", "uslugi": "usl", "sztuka": "szt", "sztuki": "szt", "pcs": "szt", "dni": "dzien",
    "doba": "dzien", "h": "godz", "godzina": "godz", "godziny": "godz", "kilogram": "kg", "komplet": "kpl",
    "kompl": "kpl", "litr": "l", "metr": "m", "m²": "m2", "m³": "m3", "miesiac": "mies", "mc": "mies",
    "opakowanie": "opak", "pary": "para", "tona": "t", "osoba": "os", "osob": "os",
}
DEFAULT_UNIT_OFFSET = 1
MAX_UNIT_CODE = 50  # the highest code any client's table has; a shifted code beyond it goes as text
DEFAULT_EXEMPTION_BASIS_KIND = "3"  # the only value seen in client code; its meaning is [UNCONFIRMED]

# Column order of a list row (`api_zadanie=3`). api_numer (0) and numer (2) are confirmed by two
# clients, status (16, "1" = paid) by a working one; the rest follows the one client that names
# every column (which puts status at 15 — the working client wins). [UNCONFIRMED]
DEFAULT_LIST_COLUMNS = (
    "api_numer", "rodzaj", "numer", "data_wyst", "data_sprz", "waluta", "netto", "vat", "brutto",
    "sprzedawca_nazwa", "sprzedawca_adres", "sprzedawca_nip", "nabywca_nazwa", "nabywca_adres",
    "nabywca_nip", "zaplata", "status", "termin",
)
STATUS_NAMES = {"0": "unpaid", "1": "paid", "2": "partially_paid"}

# KSeF's limit for a line name and a note; Fakturowo documents no limit of its own.
TEXT_LIMIT = 256


# --------------------------------------------------------------------------- formatting


def date_text(value: date) -> str:
    """The service's date format: dd-mm-YYYY."""
    return value.strftime("%d-%m-%Y")


def text_value(text: str) -> str:
    """Line breaks become the service's `[n]` token."""
    return re.sub(r"\r\n|\r|\n", "[n]", text.strip())


# --------------------------------------------------------------------------- codes


def default_payment_code(shop_name: str, paid: bool) -> str:
    """A `dokument_zaplata` code for the shop's payment name; unknown names count as a transfer."""
    name = (shop_name or "").strip()
    if name in PAYMENT_CODES:
        return name
    paid_code, unpaid_code = pay.payment_code(name, _PAYMENT_RULES) or (PAID_TRANSFER, TRANSFER)
    return paid_code if paid else unpaid_code


def unit_value(unit: str, options: dict) -> str:
    """`produkt_jm`: the unit's code (shifted by the configured offset), or its text if asked."""
    if option_on(options.get("units_as_text")):
        return (unit or "szt").strip()
    key = ascii_fold(unit).rstrip(".")
    key = UNIT_ALIASES.get(key, key)
    code = UNIT_CODES.get(key, UNIT_CODES["szt"]) + unit_offset(options)
    return str(code) if 0 <= code <= MAX_UNIT_CODE else (unit or "szt").strip()


def unit_offset(options: dict) -> int:
    try:
        return int(str(options.get("unit_code_offset", DEFAULT_UNIT_OFFSET)).strip())
    except ValueError:
        return DEFAULT_UNIT_OFFSET


def line_suffix(index: int, options: dict) -> str:
    """`_1 … _N` (a production client's style) or halfik's: first line bare, then `_2 … _N`."""
    if str(options.get("line_suffix_style") or "").strip() == "plain_first" and index == 0:
        return ""
    return f"_{index + 1}"


# --------------------------------------------------------------------------- payload


def party_address(prefix: str, party: Party) -> dict[str, str]:
    # The whole street line goes to `_ulica` (halfik's way): the hub keeps no separate house number.
    fields = {
        f"{prefix}_ulica": party.street.strip(),
        f"{prefix}_kod": party.post_code.strip(),
        f"{prefix}_miasto": party.city.strip(),
        f"{prefix}_panstwo": country_name(party.country),
    }
    if party.email.strip():
        fields[f"{prefix}_email"] = party.email.strip()
    if party.phone.strip():
        fields[f"{prefix}_telefon"] = party.phone.strip()
    return fields


def seller_fields(seller: Party) -> dict[str, str]:
    # Every client sends the seller on every call; whether the account's data fills a gap is unknown.
    fields = {"sprzedawca_nazwa": company_name(seller), "sprzedawca_nip": classify_tax_id(seller)[0]}
    fields.update(party_address("sprzedawca", seller))
    return fields


def person_names(buyer: Party) -> tuple[str, str]:
    if buyer.first_name.strip() or buyer.last_name.strip():
        return buyer.first_name.strip(), buyer.last_name.strip()
    first, _, last = buyer.name.strip().partition(" ")
    return first, last.strip()


def buyer_fields(buyer: Party) -> dict[str, str]:
    if buyer.is_company:
        fields = {
            "nabywca_osoba": "0",
            "nabywca_nazwa": company_name(buyer),
            # A foreign VAT id keeps its country prefix (halfik's `_vatEu` spelling is doubtful).
            "nabywca_nip": classify_tax_id(buyer)[0],
        }
    else:
        first, last = person_names(buyer)
        fields = {"nabywca_osoba": "1", "nabywca_imie": first, "nabywca_nazwisko": last}
    fields.update(party_address("nabywca", buyer))
    return fields


def line_fields(index: int, line: Line, options: dict) -> dict[str, str]:
    suffix = line_suffix(index, options)
    # The line's gross total, not a unit price: the service derives net and VAT from gross, so the
    # per-rate gross it prints is exactly the sum of the hub's line grosses.
    return {
        f"produkt_nazwa{suffix}": line.name.strip(),
        f"produkt_ilosc{suffix}": quantity_text(line.quantity),
        f"produkt_jm{suffix}": unit_value(line.unit, options),
        f"produkt_stawka_vat{suffix}": line.vat_rate,
        f"produkt_wartosc_brutto{suffix}": money_text(line.gross),
    }


def payment_fields(doc: HubDocument, settings: ExportSettings) -> dict[str, str]:
    code = settings.payment_type or default_payment_code(doc.payment_method, doc.paid)
    fields = {"dokument_zaplata": str(code), "dokument_pokaz_zaplata": "1"}
    if doc.hide_payment_date or doc.payment_due is None:
        # The transfer-with-N-days codes carry a term of their own: hide both forms.
        fields.update({"dokument_pokaz_data_p": "0", "dokument_pokaz_termin": "0"})
    else:
        fields.update({
            "dokument_data_p": date_text(doc.payment_due),
            "dokument_pokaz_data_p": "1",
            "dokument_data_p_oznaczenie": "0",  # "termin płatności"
        })
    if doc.paid:
        fields.update({
            "dokument_status": "1",
            "dokument_zaplacono": money_text(doc.total_gross),
            "dokument_pokaz_zaplacono": "1",
            "dokument_zaplacono_oznaczenie": "0",  # "zapłacono", not an advance
        })
    else:
        fields["dokument_status"] = "0"
    return fields


def build_fields(doc: HubDocument, settings: ExportSettings, options: dict | None = None) -> dict[str, str]:
    """The form of one `api_zadanie=1` call, without `api_id` (the caller adds it)."""
    opts = options or {}
    fields: dict[str, str] = {
        "api_zadanie": TASK_ISSUE,
        "dokument_rodzaj": str(DOCUMENT_KINDS[doc.kind]),
        # Links to the PDF and the online view come back in the answer.
        "dokument_dostep": "1",
    }
    if settings.numbering == "hub":
        fields["dokument_numer"] = doc.number
        fields["dokument_pokaz_numer"] = "1"
    fields.update({
        "dokument_data_w": date_text(doc.issue_date),
        "dokument_pokaz_data_w": "1",
        "dokument_data_s": date_text(doc.sell_date),
        "dokument_pokaz_data_s": "1",
        "dokument_data_s_oznaczenie": "0",  # "data sprzedaży"
    })
    if doc.seller.city.strip():
        fields["dokument_miejsce"] = doc.seller.city.strip()
        fields["dokument_pokaz_miejsce"] = "1"
    fields.update(payment_fields(doc, settings))

    fields["dokument_waluta"] = str(CURRENCY_CODES[doc.currency])
    if doc.currency != "PLN" and doc.exchange_rate:
        fields.update({
            "dokument_przelicz_walute": "PLN",
            "dokument_rodzaj_kursu": "1",  # own rate: the one printed on the hub's document
            "dokument_kurs_wymiany": f"{doc.exchange_rate:f}",
        })

    if "zw" in {line.vat_rate for line in doc.lines}:
        fields["dokument_rodzaj_podstawa_zw"] = str(opts.get("exemption_basis_kind") or DEFAULT_EXEMPTION_BASIS_KIND)
        fields["dokument_podstawa_zw"] = (doc.exemption_basis or str(opts.get("exemption_basis") or "")).strip()

    notes = doc.notes.strip()
    if notes:
        fields.update({"dokument_uwagi": text_value(notes), "dokument_pokaz_uwagi": "1",
                       "dokument_uwagi_oznaczenie": "1"})
    # Our reference, never printed: kept with the document for anyone reading it in Fakturowo and
    # matched by find_document wherever the list shows it back.
    fields["dokument_uwagi_niewidoczne"] = doc.reference

    account = str(opts.get("bank_account") or "").strip()
    if account:
        fields["dokument_konto"] = account
        fields["dokument_pokaz_konto"] = "1"
    if option_on(opts.get("send_email")) and doc.buyer.email.strip():
        fields["dokument_email"] = doc.buyer.email.strip()

    fields.update(seller_fields(doc.seller))
    fields.update(buyer_fields(doc.buyer))
    for index, line in enumerate(doc.lines):
        fields.update(line_fields(index, line, opts))
    return fields


# --------------------------------------------------------------------------- preflight


def _buyer_problems(doc: HubDocument) -> list[Problem]:
    buyer = doc.buyer
    invoice = doc.kind == "invoice"  # a receipt may go to an anonymous buyer
    problems = checks.buyer_name_problems(buyer, person_required=invoice)
    problems += checks.buyer_tax_id_problems(buyer, nip_required=invoice)
    value, kind = classify_tax_id(buyer)
    if buyer.is_company and kind == OTHER_TAX_ID and value.startswith("PL"):
        # Fakturowo's own rule: a PL-prefixed id that is no NIP is taken for a bad VAT-EU number.
        problems.append(checks.invalid_eu_vat_id(buyer))
    return problems


def _seller_problems(seller: Party) -> list[Problem]:
    problems: list[Problem] = []
    if not company_name(seller):
        problems.append(Problem("seller.name", "Brak nazwy sprzedawcy – uzupełnij dane firmy w ustawieniach."))
    if not tax_id_text(seller.tax_id):
        problems.append(Problem("seller.tax_id", "Brak NIP sprzedawcy – uzupełnij dane firmy w ustawieniach."))
    return problems


def _line_problems(index: int, line: Line, vat_rates: frozenset[str]) -> list[Problem]:
    path = f"lines[{index}]"
    return checks.found(
        checks.vat_rate_problem(path, line, vat_rates, "Fakturowo"),
        checks.line_name_problem(path, line.name.strip(), TEXT_LIMIT),  # sent stripped
        checks.quantity_problem(path, line),
    )


def preflight(doc: HubDocument, settings: ExportSettings, options: dict | None = None,
              vat_rates: frozenset[str] = frozenset(VAT_RATES)) -> list[Problem]:
    """Everything Fakturowo is known to refuse (or cannot express), found before sending."""
    opts = options or {}
    if doc.kind not in DOCUMENT_KINDS:
        what = "korekt" if doc.kind == "correction" else f"dokumentów rodzaju „{doc.kind}”"
        return [Problem("kind", f"Fakturowo nie przyjmuje {what} przez API – wystaw je w panelu Fakturowo.")]
    problems = _seller_problems(doc.seller) + _buyer_problems(doc)

    if doc.currency not in CURRENCY_CODES:
        problems.append(Problem(
            "currency",
            f"Waluta „{doc.currency}” nie jest obsługiwana przez API Fakturowo – wystaw dokument w PLN, EUR, "
            "USD, GBP lub innej walucie z listy Fakturowo.",
        ))
    else:
        problems += checks.found(checks.exchange_rate_problem(doc))

    problems += checks.found(checks.no_lines(doc.lines))
    for index, line in enumerate(doc.lines):
        problems += _line_problems(index, line, vat_rates)

    problems += checks.found(
        checks.exemption_basis_problem(doc.lines, doc.exemption_basis, opts.get("exemption_basis")),
        checks.too_long("notes", "Uwagi", doc.notes.strip(), TEXT_LIMIT, "KSeF", "skróć je", verb="mają"),
    )
    if settings.payment_type and str(settings.payment_type) not in PAYMENT_CODES:
        problems.append(Problem(
            "payment_method",
            f"Sposób zapłaty „{settings.payment_type}” nie jest kodem Fakturowo – przypisz płatność z listy.",
        ))
    problems += checks.found(checks.hub_number_problem(doc, settings))
    return problems


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class Answer:
    """A parsed plain-text answer: `1`/`0`, then lines that depend on the task."""

    ok: bool
    lines: tuple[str, ...]

    @property
    def message(self) -> str:
        return " ".join(line for line in self.lines if line).strip()


def parse_answer(text: str) -> Answer | None:
    """None when the body is not the service's `1`/`0` format (an HTML error page, nothing)."""
    lines = [line.strip() for line in (text or "").lstrip("\ufeff").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines or lines[0] not in ("0", "1"):
        return None
    return Answer(lines[0] == "1", tuple(lines[1:]))


@dataclass(frozen=True)
class Created:
    api_numer: str
    pdf_url: str | None
    view_url: str | None
    file_name: str | None


def _is_url(text: str) -> bool:
    return text.startswith(("https://", "http://"))


def parse_created(answer: Answer) -> Created | None:
    """`api_numer`, then (with dokument_dostep=1) PDF link, view link, file name.

    Links are told apart by `pobierz`/`pokaz` in them when they can be, by position otherwise, so
    an answer that also echoes free parameters is still read right.
    """
    if not answer.lines or not answer.lines[0]:
        return None
    rest = [line for line in answer.lines[1:] if line]
    urls = [line for line in rest if _is_url(line)]
    pdf = next((u for u in urls if "pobierz" in u.lower()), None)
    view = next((u for u in urls if "pokaz" in u.lower()), None)
    unnamed = [u for u in urls if u not in (pdf, view)]
    if pdf is None and unnamed:
        pdf = unnamed.pop(0)
    if view is None and unnamed:
        view = unnamed.pop(0)
    file_name = next((line for line in rest if not _is_url(line) and line.lower().endswith(".pdf")), None)
    return Created(answer.lines[0], pdf, view, file_name)


@dataclass(frozen=True)
class ListedDocument:
    """One row of the document list, by column name; `columns` keeps the raw row."""

    api_numer: str
    values: dict[str, str]
    columns: tuple[str, ...]

    def get(self, name: str) -> str:
        return self.values.get(name, "").strip()


def list_columns(options: dict) -> tuple[str, ...]:
    configured = str(options.get("list_columns") or "").strip()
    if not configured:
        return DEFAULT_LIST_COLUMNS
    return tuple(name.strip() for name in configured.split(","))


def parse_list(answer: Answer, columns: tuple[str, ...] = DEFAULT_LIST_COLUMNS) -> tuple[int, list[ListedDocument]]:
    """(number of pages, rows) of an `api_zadanie=3` answer: line 2 = pages, then one row per line."""
    if not answer.lines:
        raise ValueError("no page count")
    pages = int(answer.lines[0].strip())
    rows = []
    for line in answer.lines[1:]:
        if not line.strip():
            continue
        cells = tuple(cell.strip() for cell in line.split(";"))
        values = {name: cells[i] for i, name in enumerate(columns) if name and i < len(cells)}
        api_numer = values.get("api_numer") or cells[0]
        if api_numer:
            rows.append(ListedDocument(api_numer, values, cells))
    return pages, rows


def cell_amount(value: str) -> Decimal | None:
    """A list cell's amount; the list may group thousands with spaces ("1 234,50")."""
    return decimal_or_none(re.sub(r"\s", "", value or ""))


def date_or_none(value: str) -> date | None:
    text = (value or "").strip()[:10]
    for pattern in ("%d-%m-%Y", "%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def mentions(row: ListedDocument, reference: str) -> bool:
    """Our reference as a whole word in any cell (a list that shows the hidden note or a parameter)."""
    pattern = re.compile(rf"(?<![\w-]){re.escape(reference)}(?![\w-])")
    return any(pattern.search(cell) for cell in row.columns)


def _same_text(a: str, b: str) -> bool:
    return re.sub(r"\s+", " ", ascii_fold(a)) == re.sub(r"\s+", " ", ascii_fold(b))


def fingerprint_matches(row: ListedDocument, doc: HubDocument) -> bool:
    """Same kind, issue date, gross total and buyer: what the list can tell about a document."""
    if (cell_amount(row.get("brutto")) != doc.total_gross
            or date_or_none(row.get("data_wyst")) != doc.issue_date):
        return False
    kind = row.get("rodzaj")
    if kind.isdecimal() and int(kind) != DOCUMENT_KINDS.get(doc.kind):
        return False
    if "nabywca_nip" in row.values:
        ours = tax_id_text(doc.buyer.tax_id).removeprefix("PL") if doc.buyer.is_company else ""
        if tax_id_text(row.get("nabywca_nip")).removeprefix("PL") != ours:
            return False
        if ours:
            return True
    listed_name = row.get("nabywca_nazwa")
    if listed_name:
        names = {doc.buyer.company_name, doc.buyer.name, " ".join(person_names(doc.buyer))}
        return any(_same_text(listed_name, name) for name in names if name.strip())
    return True


def number_matches(row: ListedDocument, number: str) -> bool:
    return bool(number.strip()) and _same_text(row.get("numer"), number)


def agrees(row: ListedDocument, doc: HubDocument) -> bool:
    """Gross total and issue date do not contradict the document (a cell the list lacks or that
    cannot be read contradicts nothing): enough to confirm a match on the hub's number."""
    gross, issued = cell_amount(row.get("brutto")), date_or_none(row.get("data_wyst"))
    return (gross is None or gross == doc.total_gross) and (issued is None or issued == doc.issue_date)


def row_links(row: ListedDocument) -> tuple[str | None, str | None]:
    """(pdf, view) links if the list carries any."""
    urls = [cell for cell in row.columns if _is_url(cell)]
    pdf = next((u for u in urls if "pobierz" in u.lower()), None)
    view = next((u for u in urls if "pokaz" in u.lower()), None)
    return pdf, view


def currency_of(value: str) -> str | None:
    value = value.strip()
    if value.isdecimal() and int(value) < len(CURRENCIES):
        return CURRENCIES[int(value)]
    return value.upper() or None


def remote_document(row: ListedDocument, remote_id: str, pdf_url: str | None, view_url: str | None) -> RemoteDocument:
    listed_pdf, listed_view = row_links(row)
    status = row.get("status")
    return RemoteDocument(
        remote_id=remote_id,
        number=row.get("numer") or None,
        status=STATUS_NAMES.get(status, status or None),
        view_url=view_url or listed_view,
        pdf_url=pdf_url or listed_pdf,
        total_gross=cell_amount(row.get("brutto")),
        # The list gives document totals only; per-rate figures are not available from the API.
        totals=(),
        raw={**row.values, "currency": currency_of(row.get("waluta")),
             "net": row.get("netto"), "vat": row.get("vat"), "columns": list(row.columns)},
    )


# --------------------------------------------------------------------------- remote id


def _origin(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _shorten(link: str, api_url: str) -> str:
    origin = _origin(api_url)
    return link[len(origin):] if link.startswith(origin + "/") else link


def _expand(link: str, api_url: str) -> str:
    return _origin(api_url) + link if link.startswith("/") else link


def pack_remote_id(api_numer: str, pdf_url: str | None, view_url: str | None, api_url: str) -> str:
    """`api_numer|pdf|view`: the API can fetch a document's PDF only through the links it gave at
    creation, and the pipeline hands later calls nothing but the remote id. Links on the API's own
    host are kept as paths, and the view link is left out when it is the PDF link with
    `pokaz` for `pobierz` — so the id stays short."""
    if not pdf_url:
        return api_numer
    packed = [api_numer, _shorten(pdf_url, api_url)]
    if view_url and view_url != pdf_url.replace("/pobierz/", "/pokaz/"):
        packed.append(_shorten(view_url, api_url))
    return "|".join(packed)


def unpack_remote_id(remote_id: str, api_url: str) -> tuple[str, str | None, str | None]:
    """(api_numer, pdf link, view link) from a packed remote id."""
    api_numer, *links = str(remote_id).split("|")
    pdf = _expand(links[0], api_url) if links and links[0] else None
    view = _expand(links[1], api_url) if len(links) > 1 and links[1] else None
    if pdf and view is None and "/pobierz/" in pdf:
        view = pdf.replace("/pobierz/", "/pokaz/")
    return api_numer, pdf, view


# --------------------------------------------------------------------------- errors


# Parameter prefix → hub field path, to point a refusal at the field to fix.
_PARAM_FIELDS = (
    (re.compile(r"\bnabywca_nip\b"), "buyer.tax_id"),
    (re.compile(r"\bnabywca_(nazwa|imie|nazwisko)\b"), "buyer.name"),
    (re.compile(r"\bnabywca_kod\b"), "buyer.post_code"),
    (re.compile(r"\bnabywca_(ulica|miasto|panstwo)\b"), "buyer.address"),
    (re.compile(r"\bnabywca_\w+"), "buyer"),
    (re.compile(r"\bsprzedawca_nip\b"), "seller.tax_id"),
    (re.compile(r"\bsprzedawca_\w+"), "seller"),
    (re.compile(r"\bdokument_numer\b"), "number"),
    (re.compile(r"\bdokument_waluta\b|\bdokument_kurs\w*"), "currency"),
    (re.compile(r"\bdokument_(zaplata|status|zaplacono)\w*"), "payment_method"),
    (re.compile(r"\bdokument_(data_p|termin)\w*"), "payment_due"),
    (re.compile(r"\bdokument_data_w\b"), "issue_date"),
    (re.compile(r"\bdokument_data_s\b"), "sell_date"),
    (re.compile(r"\bdokument_\w*podstawa_zw\b"), "exemption_basis"),
    (re.compile(r"\bdokument_uwagi\w*"), "notes"),
)
_LINE_PARAM = re.compile(r"\bprodukt_([a-z_]+?)(?:_(\d+))?\b")
_LINE_FIELD = {"nazwa": "name", "ilosc": "quantity", "jm": "unit", "stawka_vat": "vat_rate",
               "wartosc_brutto": "gross"}
# Words of a Polish message → hub field path, when the message names no parameter.
_WORD_FIELDS = (
    (r"\bnip\b.*\bsprzedawc|\bsprzedawc\w*.*\bnip\b", "seller.tax_id"),
    (r"\bnip\b", "buyer.tax_id"),
    (r"\bkod\w* pocztow", "buyer.post_code"),
    (r"\bnabywc", "buyer"),
    (r"\bsprzedawc", "seller"),
    (r"\bstawk\w*|\bvat\b", "lines"),
    (r"\bprodukt|\bpozycj|\btowar|\bilosc", "lines"),
    (r"\bnumer", "number"),
    (r"\bwalut|\bkurs", "currency"),
    (r"\bzaplat|\bplatnos", "payment_method"),
    (r"\btermin", "payment_due"),
    (r"\bzwolnien|\bpodstaw", "exemption_basis"),
    (r"\buwag", "notes"),
    (r"\bdat[aey]\b", "issue_date"),
)


def field_of_message(message: str) -> str:
    """The hub field a refusal most likely concerns; "document" when it names none."""
    folded = ascii_fold(message)
    line = _LINE_PARAM.search(folded)
    if line:
        name, number = line.group(1), line.group(2)
        index = int(number) - 1 if number else 0
        field = _LINE_FIELD.get(name)
        return f"lines[{index}]" + (f".{field}" if field else "")
    for pattern, field in _PARAM_FIELDS:
        if pattern.search(folded):
            return field
    for pattern, field in _WORD_FIELDS:
        if re.search(pattern, folded):
            return field
    return "document"
