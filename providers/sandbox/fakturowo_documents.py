"""Fakturowo document rules, written from the API contract notes alone.

Reads the flat form of an ``api_zadanie=1`` (issue) or ``api_status`` (draft)
request, checks it the way the emulator answers (the first problem wins: the
service gives one Polish message in line 2 of a ``0`` answer) and computes line
and per-rate amounts. No storage and no HTTP here: ``fakturowo`` numbers and
stores the ``Draft`` it gets back.

What is a guess (the contract tags it UNCONFIRMED/GUESS) is said where it is decided.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from stdnum.pl import nip as polish_nip

from .money import money_str, quantity_str, round_money

# ---------------------------------------------------------------------------
# code tables (halfik/laravel-fakturowo via the contract)

#: dokument_rodzaj -> (slug, printed title, number prefix)
KINDS: dict[int, tuple[str, str, str]] = {
    0: ("vat", "Faktura VAT", "FV"),
    2: ("proforma", "Faktura pro forma", "PRO"),
    3: ("advance", "Faktura zaliczkowa", "FZAL"),
    4: ("internal", "Faktura wewnętrzna", "FWEW"),
    5: ("vat_margin", "Faktura VAT marża", "FVM"),
    6: ("bill", "Rachunek", "R"),
    12: ("simplified", "Faktura uproszczona", "FU"),
    13: ("receipt_invoice", "Faktura do paragonu", "FP"),
    14: ("collective", "Faktura zbiorcza", "FZB"),
    20: ("receipt", "Paragon", "PAR"),
    21: ("no_vat", "Faktura bez VAT", "F"),
    26: ("vat_rr", "Faktura VAT RR", "RR"),
    29: ("external_issue_no_vat", "Wydanie zewnętrzne bez VAT", "WZBV"),
    31: ("final", "Faktura końcowa", "FKON"),
    33: ("external_issue", "Wydanie zewnętrzne", "WZE"),
    35: ("reverse_charge", "Faktura VAT (odwrotne obciążenie)", "FOO"),
    36: ("pw", "Przyjęcie wewnętrzne (PW)", "PW"),
    37: ("pz", "Przyjęcie zewnętrzne (PZ)", "PZ"),
    38: ("wz", "Wydanie zewnętrzne (WZ)", "WZ"),
    40: ("internal_vat", "Faktura wewnętrzna VAT", "FWV"),
    41: ("wdt", "Faktura WDT", "WDT"),
    42: ("export_goods", "Faktura eksport towarów", "EXP"),
    43: ("wnt", "Faktura WNT", "WNT"),
    44: ("vat_mp", "Faktura VAT MP", "FMP"),
    45: ("reverse_charge_no_vat", "Faktura (odwrotne obciążenie, bez VAT)", "FOOB"),
    48: ("export_services", "Faktura eksport usług", "EXU"),
    49: ("export_services_eu", "Faktura eksport usług VAT-UE", "EXUE"),
    50: ("import_goods", "Faktura import towarów", "IMT"),
    51: ("import_services", "Faktura import usług", "IMU"),
    52: ("import_services_eu", "Faktura import usług VAT-UE", "IMUE"),
    53: ("proforma_no_vat", "Faktura pro forma (bez VAT)", "PROB"),
    58: ("advance_margin", "Faktura zaliczkowa VAT marża", "FZM"),
    59: ("final_margin", "Faktura końcowa VAT marża", "FKM"),
    60: ("final_margin_no_vat", "Faktura końcowa marża (bez VAT)", "FKMB"),
    62: ("plain_invoice", "Faktura", "FA"),
}
#: documents printed without VAT: a line's rate is optional and carries no tax
NO_VAT_KINDS = frozenset({6, 21, 29, 45, 53, 60, 62})
#: documents that need no buyer (a receipt, internal stock documents)
BUYERLESS_KINDS = frozenset({20, 36, 37, 38})

#: dokument_zaplata -> (printed label, payment term in days or None, "paid" wording)
PAYMENT_METHODS: dict[int, tuple[str, int | None, bool]] = {
    0: ("Przelew", None, False),
    **{code: (f"Przelew {code} {'dzień' if code == 1 else 'dni'}", code, False) for code in range(1, 8)},
    **{code: (f"Przelew {code - 28} dni", code - 28, False) for code in range(36, 42)},  # 8..13 days
    8: ("Przelew 14 dni", 14, False),
    9: ("Przelew 21 dni", 21, False),
    42: ("Przelew 28 dni", 28, False),
    10: ("Przelew 30 dni", 30, False),
    32: ("Przelew 35 dni", 35, False),
    33: ("Przelew 40 dni", 40, False),
    43: ("Przelew 43 dni", 43, False),
    30: ("Przelew 45 dni", 45, False),
    34: ("Przelew 50 dni", 50, False),
    35: ("Przelew 55 dni", 55, False),
    11: ("Przelew 60 dni", 60, False),
    44: ("Przelew 65 dni", 65, False),
    12: ("Pobranie", None, False),
    13: ("Gotówka", None, False),
    14: ("Zapłacono przelewem", None, True),
    15: ("Zapłacono gotówką", None, True),
    16: ("Zapłacono - PayPal", None, True),
    17: ("Zapłacono - DotPay", None, True),
    18: ("Zapłacono - PayU", None, True),
    19: ("Zapłacono - CashBill", None, True),
    20: ("Zapłacono - Przelewy24", None, True),
    21: ("Karta płatnicza", None, False),
    22: ("Barter", None, False),
    23: ("Czek", None, False),
    24: ("Weksel", None, False),
    25: ("Kompensata", None, False),
    26: ("Akredytywa", None, False),
    27: ("Rozliczono zaliczką", None, False),
    28: ("Terminal płatniczy", None, False),
    29: ("Kredyt", None, False),
    31: ("Płatność internetowa", None, False),
}

#: dokument_waluta is an index, not an ISO code; halfik's list goes on to ~150 codes
CURRENCIES = [
    "PLN",
    "EUR",
    "USD",
    "GBP",
    "CHF",
    "CAD",
    "AUD",
    "JPY",
    "THB",
    "HKD",
    "NZD",
    "SGD",
    "HUF",
    "UAH",
    "CZK",
    "DKK",
    "ISK",
    "NOK",
    "SEK",
    "HRK",
    "RON",
    "BGN",
    "TRY",
    "ILS",
    "CLP",
    "PHP",
    "MXN",
    "ZAR",
    "BRL",
    "MYR",
    "RUB",
    "IDR",
    "INR",
    "KRW",
    "CNY",
    "XDR",
    "AED",
    "AFN",
]
MAX_CURRENCY_CODE = 150
LANGUAGES = [
    "pl",
    "en",
    "cs",
    "da",
    "fr",
    "nl",
    "de",
    "no",
    "ru",
    "sv",
    "uk",
    "hu",
    "it",
    "be",
    "bg",
    "es",
    "pt",
    "tr",
    "lt",
    "lv",
    "ro",
    "fi",
]

#: produkt_jm codes as halfik names them; two production clients suggest the real table is
#: shifted by one (1 = usł., 2 = szt.), hence the ``unit_codes`` account option
UNITS = {
    0: "usł.",
    1: "szt.",
    2: "at",
    3: "GJ",
    4: "MW",
    6: "dzień",
    7: "godz.",
    14: "kg",
    16: "kpl.",
    18: "l",
    19: "m",
    20: "m²",
    21: "m³",
    23: "mies.",
    28: "opak.",
    29: "para",
    34: "t",
    37: "os.",
    40: "ryczałt",
    50: "abonament",
}
MAX_UNIT_CODE = 50
DEFAULT_UNIT = "szt."

#: produkt_stawka_vat values (decimal separator "."); the fraction of tax each carries
VAT_RATES = {"23": Decimal("0.23"), "8": Decimal("0.08"), "5": Decimal("0.05"), "0": Decimal(0)}
ZERO_TAX_RATES = ("zw", "np", "oo")
RATE_ORDER = ("23", "8", "5", "0", "zw", "np", "oo")

SALE_DATE_LABELS = {
    0: "Data sprzedaży",
    1: "Data wykonania usługi",
    2: "Data dostawy",
    4: "Data zakończenia usługi",
    5: "Data otrzymania zaliczki",
    6: "Data otrzymania zapłaty",
    7: "Data wykonania umowy",
    8: "Data przyjęcia towaru",
    9: "Data wydania towaru",
}
DUE_DATE_LABELS = {
    0: "Termin płatności",
    1: "Data płatności",
    2: "Data otrzymania zapłaty",
    3: "Termin ostateczny",
}
NOTE_LABELS = {0: "", 1: "Uwagi", 2: "Ważne", 3: "Komentarz", 4: "Adnotacja", 5: "PS"}
COPY_LABELS = {0: "", 1: "ORYGINAŁ", 2: "KOPIA", 3: "ORYGINAŁ/KOPIA", 4: "DUPLIKAT"}

PARTY_SUFFIXES = (
    "nazwa",
    "nip",
    "regon",
    "pesel",
    "vatEu",
    "ulica",
    "budynek",
    "lokal",
    "kod",
    "miasto",
    "panstwo",
    "email",
    "telefon",
    "fax",
    "www",
    "opis",
    "pokaz_opis",
    "podpis",
    "pokaz_podpis",
    "oznaczenie",
    "dane_oznaczenie",
    "dowod",
)
LINE_FIELDS = ("nazwa", "ilosc", "jm", "stawka_vat", "wartosc_brutto", "cena_netto", "wartosc_netto")
HEADER_PARAMS = frozenset(
    [
        "api_id",
        "api_zadanie",
        "api_kodowanie",
        "api_status",
        "api_parametr",
        "api_parametr1",
        "api_parametr2",
        "p",
        "dokument_rodzaj",
        "dokument_numer",
        "dokument_pokaz_numer",
        "dokument_data_w",
        "dokument_pokaz_data_w",
        "dokument_data_s",
        "dokument_pokaz_data_s",
        "dokument_data_s_oznaczenie",
        "dokument_miejsce",
        "dokument_pokaz_miejsce",
        "dokument_zaplata",
        "dokument_pokaz_zaplata",
        "dokument_termin",
        "dokument_pokaz_termin",
        "dokument_data_p",
        "dokument_pokaz_data_p",
        "dokument_data_p_oznaczenie",
        "dokument_status",
        "dokument_zaplacono",
        "dokument_pokaz_zaplacono",
        "dokument_zaplacono_oznaczenie",
        "dokument_zaplacono_opis",
        "dokument_pokaz_zaplacono_opis",
        "dokument_waluta",
        "dokument_przelicz_walute",
        "dokument_rodzaj_kursu",
        "dokument_data_wymiany",
        "dokument_kurs_wymiany",
        "dokument_jezyk",
        "dokument_drugi_jezyk",
        "dokument_oznaczenie",
        "dokument_uwagi",
        "dokument_pokaz_uwagi",
        "dokument_uwagi_oznaczenie",
        "dokument_uwagi_dodatkowe",
        "dokument_uwagi_niewidoczne",
        "dokument_konto",
        "dokument_pokaz_konto",
        "dokument_konto_2",
        "dokument_konto_3",
        "dokument_konto_4",
        "dokument_rodzaj_podstawa_zw",
        "dokument_podstawa_zw",
        "dokument_marza",
        "dokument_fp",
        "dokument_dostep",
        "dokument_email",
        "dokument_tytul",
        "dokument_tresc",
        "nabywca_osoba",
        "nabywca_imie",
        "nabywca_nazwisko",
    ]
) | {f"{side}_{suffix}" for side in ("sprzedawca", "nabywca") for suffix in PARTY_SUFFIXES}

DATE_FORMAT = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")
AMOUNT_FORMAT = re.compile(r"^-?\d+(\.\d+)?$")
INTEGER_FORMAT = re.compile(r"^-?\d+$")
EMAIL_FORMAT = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FOREIGN_TAX_ID = re.compile(r"^[A-Z]{2}[0-9A-Z+*.]{2,13}$")
LINE_BREAK_TOKEN = "[n]"


class Rejected(Exception):
    """The request is refused; ``message`` becomes line 2 of the ``0`` answer."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Draft:
    """A checked document, ready to be numbered and stored."""

    kind_code: int
    requested_number: str | None
    issue_date: date
    record: dict  # everything but the number, api_numer and links
    unknown_parameters: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# small readers (each raises Rejected with a message naming the parameter)


def text(params: Mapping, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def integer(params: Mapping, name: str, label: str, choices=None, default: int | None = None) -> int | None:
    value = text(params, name)
    if value is None:
        return default
    if not INTEGER_FORMAT.match(value) or (choices is not None and int(value) not in choices):
        raise Rejected(f"Nieprawidłowa wartość pola {label} ({name}).")
    return int(value)


def flag(params: Mapping, name: str, default: bool = True) -> bool:
    """``dokument_pokaz_*`` and friends: 0 or 1. Left out: shown (our guess)."""
    value = text(params, name)
    if value is None:
        return default
    if value not in ("0", "1"):
        raise Rejected(f"Pole {name} przyjmuje wartość 0 lub 1.")
    return value == "1"


def amount(params: Mapping, name: str, label: str) -> Decimal | None:
    value = text(params, name)
    if value is None:
        return None
    if not AMOUNT_FORMAT.match(value):
        raise Rejected(f"Nieprawidłowa kwota: {label} ({name}). Użyj kropki jako separatora dziesiętnego.")
    return Decimal(value)


def day(params: Mapping, name: str, label: str) -> date | None:
    value = text(params, name)
    if value is None:
        return None
    match = DATE_FORMAT.match(value)
    try:
        if match is None:
            raise ValueError(value)
        return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
    except ValueError:
        raise Rejected(f"Nieprawidłowa data: {label} ({name}). Wymagany format dd-mm-rrrr.") from None


def printed(value: str | None) -> str | None:
    """The ``[n]`` token in a text parameter is a line break on the document."""
    return value.replace(LINE_BREAK_TOKEN, "\n") if value else value


def format_day(value: date | None) -> str:
    return value.strftime("%d-%m-%Y") if value else ""


# ---------------------------------------------------------------------------
# parties


def check_tax_id(value: str, who: str, name: str) -> str:
    """A Polish NIP (checksum, dashes and spaces allowed, optional "PL") or a foreign VAT id
    with its country prefix (format only). Returns it as stored."""
    compact = re.sub(r"[\s-]", "", value).upper()
    compact = compact.removeprefix("PL")
    if compact.isdecimal():
        if not polish_nip.is_valid(compact):
            raise Rejected(f"Nieprawidłowy NIP {who} ({name}).")
        return compact
    if not FOREIGN_TAX_ID.match(compact):
        raise Rejected(f"Nieprawidłowy NIP {who} ({name}).")
    return compact


def read_party(params: Mapping, side: str) -> dict:
    party = {suffix: text(params, f"{side}_{suffix}") for suffix in PARTY_SUFFIXES}
    for suffix in ("pokaz_opis", "pokaz_podpis"):
        party[suffix] = flag(params, f"{side}_{suffix}")
    if party["email"] and not EMAIL_FORMAT.match(party["email"]):
        raise Rejected(f"Nieprawidłowy adres e-mail ({side}_email).")
    return party


def seller_from_account(party: dict, company: dict) -> dict:
    """Fill the seller block from the account's company data (the ``seller_from_account`` option)."""
    filled = dict(party)
    for suffix, value in company.items():
        if not filled.get(suffix):
            filled[suffix] = value
    return filled


def check_seller(party: dict) -> None:
    if not party["nazwa"]:
        raise Rejected("Brak nazwy sprzedawcy (sprzedawca_nazwa).")
    if party["nip"]:
        party["nip"] = check_tax_id(party["nip"], "sprzedawcy", "sprzedawca_nip")


def check_buyer(params: Mapping, party: dict, kind_code: int) -> bool:
    """Check the buyer block; returns True for a private person (``nabywca_osoba=1``)."""
    person = integer(params, "nabywca_osoba", "rodzaj nabywcy", choices=(0, 1), default=0) == 1
    party["imie"], party["nazwisko"] = text(params, "nabywca_imie"), text(params, "nabywca_nazwisko")
    if person:
        party["nip"] = None  # a private person carries no NIP
        if not (party["imie"] or party["nazwisko"]) and kind_code not in BUYERLESS_KINDS:
            raise Rejected("Brak imienia i nazwiska nabywcy (nabywca_imie, nabywca_nazwisko).")
    else:
        if not party["nazwa"] and kind_code not in BUYERLESS_KINDS:
            raise Rejected("Brak nazwy nabywcy (nabywca_nazwa).")
        if party["nip"]:
            party["nip"] = check_tax_id(party["nip"], "nabywcy", "nabywca_nip")
    return person


def party_name(party: dict, person: bool = False) -> str:
    if person:
        return " ".join(filter(None, (party.get("imie"), party.get("nazwisko"))))
    return party.get("nazwa") or ""


def party_address(party: dict) -> str:
    street = party.get("ulica") or ""
    if party.get("budynek"):
        street = f"{street} {party['budynek']}".strip()
        if party.get("lokal"):
            street = f"{street}/{party['lokal']}"
    town = " ".join(filter(None, (party.get("kod"), party.get("miasto"))))
    return ", ".join(filter(None, (street, town, party.get("panstwo"))))


# ---------------------------------------------------------------------------
# lines


def line_suffixes(index: int) -> tuple[str, ...]:
    """Line 1 is sent without a suffix (halfik) or as ``_1`` (the C# client); ``_1`` wins."""
    return ("_1", "") if index == 1 else (f"_{index}",)


def read_line_values(params: Mapping, index: int) -> tuple[dict, list[str]] | None:
    """The raw values of line ``index`` and the parameter names used, or None past the last line."""
    suffixes = line_suffixes(index)
    if not any(f"produkt_nazwa{suffix}" in params for suffix in suffixes):
        return None
    values, names = {}, []
    for name in LINE_FIELDS:
        for suffix in suffixes:
            key = f"produkt_{name}{suffix}"
            if key in params:
                values[name], values[f"{name}:param"] = params[key], key
                names.append(key)
                break
    return values, names


def unit_name(value: str | None, table: str, param: str) -> tuple[str, int | None]:
    """``produkt_jm``: an integer code 0-50 or free text."""
    if value is None or not str(value).strip():
        return DEFAULT_UNIT, None
    value = str(value).strip()
    if not INTEGER_FORMAT.match(value):
        return value, None
    code = int(value)
    if not 0 <= code <= MAX_UNIT_CODE:
        raise Rejected(f"Nieprawidłowa jednostka miary ({param}).")
    looked_up = code - 1 if table == "shifted" else code
    return UNITS.get(looked_up, f"j.m. {code}"), code


def vat_rate(value: str | None, kind_code: int, param: str) -> str:
    if value is None or not str(value).strip():
        if kind_code in NO_VAT_KINDS:
            return "zw"
        raise Rejected(f"Brak stawki VAT ({param}).")
    value = str(value).strip().lower()
    if value in ZERO_TAX_RATES:
        return value
    if AMOUNT_FORMAT.match(value):
        number = Decimal(value)
        for rate in VAT_RATES:
            if number == Decimal(rate):
                return rate
    raise Rejected(f"Nieprawidłowa stawka VAT ({param}). Dozwolone: 23, 8, 5, 0, zw, np, oo.")


def tax_fraction(rate: str, kind_code: int) -> Decimal:
    return Decimal(0) if kind_code in NO_VAT_KINDS else VAT_RATES.get(rate, Decimal(0))


def compute_line(values: dict, index: int, kind_code: int, unit_table: str) -> dict:
    """One line's amounts. ``produkt_wartosc_brutto`` is the line's gross TOTAL (qty x unit gross)."""

    def param(name: str) -> str:
        return values.get(f"{name}:param") or (f"produkt_{name}" + ("" if index == 1 else f"_{index}"))

    raw = {key: values.get(key) for key in LINE_FIELDS}
    name = printed(str(raw["nazwa"] or "").strip())
    if not name:
        raise Rejected(f"Brak nazwy produktu ({param('nazwa')}).")
    quantity = _line_amount(raw, "ilosc", param)
    if quantity is None:
        raise Rejected(f"Brak ilości produktu ({param('ilosc')}).")
    if quantity <= 0:
        raise Rejected(f"Ilość produktu musi być większa od zera ({param('ilosc')}).")
    rate = vat_rate(raw["stawka_vat"], kind_code, param("stawka_vat"))
    unit, unit_code = unit_name(raw["jm"], unit_table, param("jm"))
    fraction = tax_fraction(rate, kind_code)
    factor = 1 + fraction
    gross_total = _line_amount(raw, "wartosc_brutto", param)
    unit_net = _line_amount(raw, "cena_netto", param)
    net_total = _line_amount(raw, "wartosc_netto", param)
    if gross_total is not None:
        basis, gross = "gross", round_money(gross_total)
        net = round_money(gross / factor)
        vat = gross - net
        unit_net = round_money(net / quantity)
    elif unit_net is not None or net_total is not None:
        basis = "net"
        net = round_money(unit_net * quantity) if unit_net is not None else round_money(net_total)
        vat = round_money(net * fraction)
        gross = net + vat
        unit_net = round_money(unit_net if unit_net is not None else net / quantity)
    else:
        raise Rejected(f"Brak wartości produktu ({param('wartosc_brutto')}).")
    return {
        "name": name,
        "quantity": quantity_str(quantity),
        "unit": unit,
        "unit_code": unit_code,
        "vat_rate": rate,
        "unit_net": money_str(unit_net),
        "net": money_str(net),
        "vat": money_str(vat),
        "gross": money_str(gross),
        "basis": basis,
    }


def _line_amount(raw: dict, name: str, param) -> Decimal | None:
    value = text(raw, name)
    if value is not None and not AMOUNT_FORMAT.match(value):
        what = "ilość" if name == "ilosc" else "kwota"
        raise Rejected(f"Nieprawidłowa {what} ({param(name)}). Użyj kropki jako separatora dziesiętnego.")
    return Decimal(value) if value is not None else None


def rate_totals(lines: list[dict], kind_code: int) -> list[dict]:
    """Per-rate totals as a Polish invoice prints them. A document priced gross (its first line
    gave ``produkt_wartosc_brutto``) takes each rate's VAT from the rate's gross sum; one priced
    net from the rate's net sum. (The contract does not say how Fakturowo sums; this is the rule.)"""
    by_gross = lines[0]["basis"] == "gross"
    totals = []
    for rate in RATE_ORDER:
        chosen = [line for line in lines if line["vat_rate"] == rate]
        if not chosen:
            continue
        fraction = tax_fraction(rate, kind_code)
        if by_gross:
            gross = sum((Decimal(line["gross"]) for line in chosen), Decimal(0))
            net = round_money(gross / (1 + fraction))
            vat = gross - net
        else:
            net = sum((Decimal(line["net"]) for line in chosen), Decimal(0))
            vat = round_money(net * fraction)
            gross = net + vat
        totals.append({"rate": rate, "net": money_str(net), "vat": money_str(vat), "gross": money_str(gross)})
    return totals


# ---------------------------------------------------------------------------
# the whole document


def known_parameter(name: str, line_count: int) -> bool:
    if name in HEADER_PARAMS:
        return True
    match = re.fullmatch(r"produkt_([a-z_]+?)(?:_(\d+))?", name)
    if match and match.group(1) in LINE_FIELDS:
        index = int(match.group(2) or 1)
        return 1 <= index <= line_count
    return False


def build_document(params: Mapping, today: date, options: dict, company: dict) -> Draft:
    """Check an issue/draft request and compute it. Raises Rejected with the first problem."""
    kind_code = integer(params, "dokument_rodzaj", "rodzaj dokumentu", default=0)
    if kind_code not in KINDS:
        raise Rejected(f"Nieprawidłowy rodzaj dokumentu (dokument_rodzaj={kind_code}).")
    slug, title, _ = KINDS[kind_code]

    seller = read_party(params, "sprzedawca")
    if options["seller_from_account"]:
        seller = seller_from_account(seller, company)
    check_seller(seller)
    buyer = read_party(params, "nabywca")
    person = check_buyer(params, buyer, kind_code)

    issue_date = day(params, "dokument_data_w", "data wystawienia") or today  # left out: today (guess)
    sale_date = day(params, "dokument_data_s", "data sprzedaży") or issue_date
    sale_label = integer(params, "dokument_data_s_oznaczenie", "oznaczenie daty", SALE_DATE_LABELS, 0)

    payment_code = integer(params, "dokument_zaplata", "sposób płatności", PAYMENT_METHODS)
    term_days = integer(params, "dokument_termin", "termin płatności")
    if term_days is not None and term_days < 0:
        raise Rejected("Termin płatności nie może być ujemny (dokument_termin).")
    due_date = day(params, "dokument_data_p", "termin płatności")
    due_label = integer(params, "dokument_data_p_oznaczenie", "oznaczenie terminu", DUE_DATE_LABELS, 0)
    if due_date is None:
        days = term_days if term_days is not None else None
        if days is None and payment_code is not None:
            days = PAYMENT_METHODS[payment_code][1]
        due_date = issue_date + timedelta(days=days) if days is not None else None
    if due_date is not None and due_date < issue_date:
        raise Rejected("Termin płatności nie może być wcześniejszy niż data wystawienia (dokument_data_p).")
    show_due = flag(params, "dokument_pokaz_termin") and flag(params, "dokument_pokaz_data_p")

    currency_code = integer(params, "dokument_waluta", "waluta", range(MAX_CURRENCY_CODE + 1), 0)
    currency = CURRENCIES[currency_code] if currency_code < len(CURRENCIES) else f"#{currency_code}"
    exchange = _exchange(params)
    language = integer(params, "dokument_jezyk", "język", range(len(LANGUAGES)), 0)
    integer(params, "dokument_drugi_jezyk", "drugi język", range(len(LANGUAGES) + 1), 0)
    copy_label = integer(params, "dokument_oznaczenie", "oznaczenie dokumentu", range(10), 0)
    notes_label = integer(params, "dokument_uwagi_oznaczenie", "oznaczenie uwag", NOTE_LABELS, 0)
    integer(params, "dokument_zaplacono_oznaczenie", "oznaczenie zapłaty", (0, 1), 0)
    exemption_kind = integer(params, "dokument_rodzaj_podstawa_zw", "rodzaj podstawy zwolnienia")
    for name in params:
        if name.startswith("dokument_pokaz_"):
            flag(params, name)

    lines, used = [], set()
    index = 1
    while (found := read_line_values(params, index)) is not None:
        values, names = found
        used.update(names)
        lines.append(compute_line(values, index, kind_code, options["unit_codes"]))
        index += 1
    if not lines:
        raise Rejected("Dokument musi zawierać co najmniej jeden produkt (produkt_nazwa).")
    totals = rate_totals(lines, kind_code)
    total_net = sum((Decimal(t["net"]) for t in totals), Decimal(0))
    total_vat = sum((Decimal(t["vat"]) for t in totals), Decimal(0))
    total_gross = sum((Decimal(t["gross"]) for t in totals), Decimal(0))

    exemption_text = text(params, "dokument_podstawa_zw")
    if (
        options["require_exemption_basis"]
        and any(line["vat_rate"] == "zw" for line in lines)
        and kind_code not in NO_VAT_KINDS
        and not (exemption_text or exemption_kind is not None)
    ):
        raise Rejected("Podaj podstawę zwolnienia z VAT (dokument_podstawa_zw).")

    status = integer(params, "dokument_status", "status płatności", (0, 1, 2), 0)
    paid = amount(params, "dokument_zaplacono", "zapłacono")
    if status == 2 and (paid is None or paid <= 0):
        raise Rejected("Podaj zapłaconą kwotę (dokument_zaplacono) dla dokumentu opłaconego częściowo.")
    if paid is None:
        paid = total_gross if status == 1 else Decimal(0)

    email = text(params, "dokument_email")
    if email and not EMAIL_FORMAT.match(email):
        raise Rejected("Nieprawidłowy adres e-mail (dokument_email).")
    requested_number = text(params, "dokument_numer")
    if requested_number and len(requested_number) > 100:
        raise Rejected("Numer dokumentu jest za długi (dokument_numer, maks. 100 znaków).")

    record = {
        "kind_code": kind_code,
        "kind": slug,
        "title": title,
        "issue_date": issue_date.isoformat(),
        "sale_date": sale_date.isoformat(),
        "sale_date_label": SALE_DATE_LABELS[sale_label],
        "place": text(params, "dokument_miejsce"),
        "payment_code": payment_code,
        "payment_method": PAYMENT_METHODS[payment_code][0] if payment_code is not None else None,
        "payment_due": due_date.isoformat() if due_date else None,
        "payment_due_label": DUE_DATE_LABELS[due_label],
        "show_payment_due": show_due,
        "show_payment_method": flag(params, "dokument_pokaz_zaplata"),
        "show_number": flag(params, "dokument_pokaz_numer"),
        "show_issue_date": flag(params, "dokument_pokaz_data_w"),
        "show_sale_date": flag(params, "dokument_pokaz_data_s"),
        "show_place": flag(params, "dokument_pokaz_miejsce"),
        "show_paid": flag(params, "dokument_pokaz_zaplacono"),
        "paid_note": printed(text(params, "dokument_zaplacono_opis")),
        "show_notes": flag(params, "dokument_pokaz_uwagi"),
        "show_bank_account": flag(params, "dokument_pokaz_konto"),
        "status": status,
        "paid_amount": money_str(paid),
        "currency_code": currency_code,
        "currency": currency,
        "exchange": exchange,
        "language": LANGUAGES[language],
        "notes": printed(text(params, "dokument_uwagi")),
        "notes_label": NOTE_LABELS[notes_label],
        "notes_extra": printed(text(params, "dokument_uwagi_dodatkowe")),
        "notes_hidden": text(params, "dokument_uwagi_niewidoczne"),
        "bank_accounts": [
            value
            for value in (
                text(params, name) for name in ("dokument_konto", *(f"dokument_konto_{n}" for n in (2, 3, 4)))
            )
            if value
        ],
        "exemption_kind": exemption_kind,
        "exemption_basis": exemption_text,
        "copy_label": COPY_LABELS.get(copy_label, ""),
        "buyer_is_person": person,
        "seller": seller,
        "buyer": buyer,
        "lines": lines,
        "rate_totals": totals,
        "total_net": money_str(total_net),
        "total_vat": money_str(total_vat),
        "total_gross": money_str(total_gross),
        "email": {
            "to": email,
            "subject": text(params, "dokument_tytul"),
            "body": text(params, "dokument_tresc"),
        }
        if email
        else None,
        "api_parametr": text(params, "api_parametr"),
        "api_parametr1": text(params, "api_parametr1"),
        "api_parametr2": text(params, "api_parametr2"),
    }
    unknown = sorted(name for name in params if not known_parameter(name, len(lines)))
    return Draft(kind_code, requested_number, issue_date, record, unknown)


def _exchange(params: Mapping) -> dict | None:
    target = text(params, "dokument_przelicz_walute")
    if target is None:
        return None
    if not re.fullmatch(r"[A-Z]{3}", target):
        raise Rejected("Nieprawidłowy kod waluty (dokument_przelicz_walute), np. PLN.")
    kind = integer(params, "dokument_rodzaj_kursu", "rodzaj kursu", (0, 1), 0)
    rate = amount(params, "dokument_kurs_wymiany", "kurs wymiany")
    if kind == 1 and (rate is None or rate <= 0):
        raise Rejected("Podaj kurs wymiany (dokument_kurs_wymiany) dla kursu własnego.")
    on = day(params, "dokument_data_wymiany", "data kursu")
    return {
        "to": target,
        "source": "own" if kind == 1 else "NBP",
        "rate": str(rate) if rate is not None else None,
        "date": on.isoformat() if on else None,
    }


def number_prefix(kind_code: int) -> str:
    return KINDS[kind_code][2]
