"""iFirma document rules, written from the API contract alone.

Each document kind has its own resource name (``fakturakraj``, ``fakturawysylka``,
``rachunekkraj`` …). A request body maps onto the service's domain object first:
an unknown field or a value of the wrong JSON type cannot be mapped and is
``Kod 200``; a mapped object that breaks a rule (missing field, too long, not in
the list, bad date) is ``Kod 201`` with Polish messages. Amounts are computed the
way a Polish invoice prints them: per VAT rate, from the net sum when the prices
are net (``LiczOd: NET``), from the gross sum when they are gross (``BRT``).

No storage here: the emulator adds the account-level rules (accounting month,
numbering series, chronology, contractors) and stores the ``Draft``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .money import money_str, round_money

PAYMENT_CODES = (
    "GTK",  # gotówka
    "POB",  # za pobraniem
    "PRZ",  # przelew
    "KAR",  # karta
    "PZA",  # polecenie zapłaty
    "CZK",  # czek
    "KOM",  # kompensata
    "BAR",  # barter
    "DOT",  # DotPay
    "PAL",  # PayPal
    "ALG",  # PayU
    "P24",  # Przelewy24
    "TPA",  # tpay.com
    "ELE",  # płatność elektroniczna
)
SIGNATURE_KINDS = ("OUP", "UPO", "BPO", "BWO")
RATE_KINDS = ("PRC", "ZW", "NP")
VAT_RATES = {Decimal("0.23"): "23", Decimal("0.08"): "8", Decimal("0.05"): "5", Decimal(0): "0"}
RATE_FRACTIONS = {"23": Decimal("0.23"), "8": Decimal("0.08"), "5": Decimal("0.05"), "0": Decimal(0)}
RATE_ORDER = ("23", "8", "5", "0", "zw", "np", "bez VAT")
LUMP_SUM_RATES = tuple(
    Decimal(rate) for rate in ("0.03", "0.055", "0.085", "0.10", "0.12", "0.125", "0.14", "0.15", "0.17")
)
#: currencies a foreign-currency document may be issued in. The contract names only "EUR, …";
#: the sandbox takes the currencies of the NBP's table A (the rates a Polish invoice converts at).
CURRENCIES = frozenset(
    {"EUR", "USD", "GBP", "CHF", "CZK", "DKK", "NOK", "SEK", "HUF", "RON", "BGN", "UAH", "JPY", "CAD"}
    | {"AUD", "NZD", "CNY", "HKD", "SGD", "TRY", "ISK", "ILS", "INR", "KRW", "MXN", "BRL", "ZAR", "THB"}
    | {"MYR", "PHP", "IDR", "CLP", "XDR"}
)
GTU_CODES = ("BRAK",) + tuple(f"{n:02d}" for n in range(1, 14))
CORRECTION_REASONS = ("OBOW_RABAT", "ZWR_SPRZ_TOW", "ZWR_NAB_KWOT", "ZWR_NAB_ZAL", "PODW_CENY", "POMYLKI")
NOTE_KINDS = ("NUMER_UMOWY", "NUMER_ZAMOWIENIA", "WARUNKI_TRANSPORTU")
MAX_AMOUNT = Decimal(100000000)
MAX_NUMBER = Decimal(10) ** 12  # beyond any invoice; keeps Decimal arithmetic in range

STRUCTURE_MESSAGE = "Niepoprawna zawartość żądania – nie można utworzyć obiektu: {}"
REQUIRED = "Pole {} jest wymagane."
TOO_LONG = "Pole {} może mieć maksymalnie {} znaków."
NOT_ALLOWED = "Pole {} ma niedozwoloną wartość '{}' (dozwolone: {})."
BAD_DATE = "Pole {} musi zawierać datę w formacie RRRR-MM-DD."


class StructureError(Exception):
    """The body cannot be mapped onto the domain object (``Kod 200``)."""

    def __init__(self, detail: str):
        super().__init__(STRUCTURE_MESSAGE.format(detail))
        self.message = STRUCTURE_MESSAGE.format(detail)


@dataclass(frozen=True)
class Field:
    type: str  # text | number | integer | bool | date | object | list | notes
    max_length: int | None = None
    choices: tuple[str, ...] = ()


def text(max_length: int | None = None) -> Field:
    return Field("text", max_length)


def choice(*values: str) -> Field:
    return Field("text", choices=values)


NUMBER, INTEGER, BOOL, DATE = Field("number"), Field("integer"), Field("bool"), Field("date")

HEADER_FIELDS: dict[str, Field] = {
    "Zaplacono": NUMBER,
    "ZaplaconoNaDokumencie": NUMBER,
    "LiczOd": choice("NET", "BRT"),
    "NumerKontaBankowego": text(28),
    "SplitPayment": BOOL,
    "DataWystawienia": DATE,
    "MiejsceWystawienia": text(50),
    "DataSprzedazy": DATE,
    "FormatDatySprzedazy": choice("DZN", "MSC"),
    "TerminPlatnosci": DATE,
    "SposobZaplaty": choice(*PAYMENT_CODES),
    "NazwaSeriiNumeracji": text(50),
    "NazwaSzablonu": text(50),
    "RodzajPodpisuOdbiorcy": choice(*SIGNATURE_KINDS),
    "PodpisOdbiorcy": text(70),
    "PodpisWystawcy": text(70),
    "Uwagi": text(1000),
    "WidocznyNumerGios": BOOL,
    "WidocznyNumerBdo": BOOL,
    "Numer": INTEGER,
    "Kontrahent": Field("object"),
    "IdentyfikatorKontrahenta": text(15),
    "NIPKontrahenta": text(13),
    "PrefiksUEKontrahenta": text(2),
    "Pozycje": Field("list"),
    "ProceduryJpk": Field("object"),
    "DodatkoweUwagi": Field("notes"),
}
FOREIGN_FIELDS: dict[str, Field] = {
    "Jezyk": text(2),
    "Waluta": text(3),
    "KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury": NUMBER,
}
VAT_ONLY_HEADER = ("SplitPayment", "ProceduryJpk")
JPK_FIELDS = {name: BOOL for name in ("TP", "IED", "EE", "BSPV", "BSPVDostawa", "BMPVProwizja")}
NOTE_FIELDS = {"Typ": choice(*NOTE_KINDS), "Info": text(200), "Data": DATE}

LINE_FIELDS: dict[str, Field] = {
    "NazwaPelna": text(300),
    "Jednostka": text(10),
    "Ilosc": NUMBER,
    "CenaJednostkowa": NUMBER,
    "StawkaVat": NUMBER,
    "TypStawkiVat": choice(*RATE_KINDS),
    "PodstawaPrawna": text(30),
    "PKWiU": text(30),
    "GTU": choice(*GTU_CODES),
    "Rabat": NUMBER,
    "Zal15": BOOL,
    "StawkaRyczaltu": NUMBER,
    "NazwaPelnaObca": text(300),
    "JednostkaObca": text(10),
}
VAT_ONLY_LINE = ("StawkaVat", "TypStawkiVat")

CONTRACTOR_FIELDS: dict[str, Field] = {
    "Nazwa": text(150),
    "Nazwa2": text(150),
    "Identyfikator": text(15),
    "PrefiksUE": text(2),
    "NIP": text(13),
    "Ulica": text(65),
    "KodPocztowy": text(16),
    "Miejscowosc": text(65),
    "Kraj": text(70),
    "KodKraju": text(2),
    "Email": text(65),
    "Telefon": text(32),
    "OsobaFizyczna": BOOL,
    "AdresZagraniczny": BOOL,
    "JestOdbiorca": BOOL,
    "JestDostawca": BOOL,
    "PodmiotPowiazany": BOOL,
}
CONTRACTOR_REQUIRED = ("Nazwa", "KodPocztowy", "Miejscowosc")

CORRECTION_FIELDS: dict[str, Field] = {
    "PowodKorekty": choice(*CORRECTION_REASONS),
    "PowodKorektyNaWydruku": BOOL,
    "SpelnionoWarunki": BOOL,
    "DataWystawienia": DATE,
    **{
        name: HEADER_FIELDS[name]
        for name in (
            "MiejsceWystawienia",
            "TerminPlatnosci",
            "Zaplacono",
            "SposobZaplaty",
            "NumerKontaBankowego",
            "SplitPayment",
            "NazwaSeriiNumeracji",
            "NazwaSzablonu",
            "RodzajPodpisuOdbiorcy",
            "PodpisOdbiorcy",
            "PodpisWystawcy",
            "Uwagi",
            "Pozycje",
        )
    },
}
CORRECTION_REQUIRED = ("PowodKorekty", "SpelnionoWarunki", "DataWystawienia", "Pozycje")

SEND_FIELDS: dict[str, Field] = {
    "Tekst": text(1000),
    "Przelew": BOOL,
    "Pobranie": BOOL,
    "MTransfer": text(100),
    "SkrzynkaEmailOdbiorcy": text(65),
    "SkrzynkaEmail": text(65),
    "SzablonEmail": text(100),
}
PAYMENT_FIELDS: dict[str, Field] = {"Kwota": NUMBER, "Data": DATE, "KwotaPln": NUMBER, "Kurs": NUMBER}
MONTH_FIELDS: dict[str, Field] = {
    "MiesiacKsiegowy": choice("NAST", "POPRZ"),
    "PrzeniesDaneZPoprzedniegoRoku": BOOL,
}
KSEF_FIELDS: dict[str, Field] = {"DataWysylki": text(30)}


@dataclass(frozen=True)
class DocumentKind:
    """One resource of the API and the document it issues."""

    resource: str
    title: str
    list_type: str  # `Rodzaj` in lists, `typ` of the list filter and of payments
    symbol: str  # first part of the number in the sandbox's series templates
    key_name: str = "faktura"
    vat: bool = True  # lines carry VAT rates (a bill does not)
    accounting: bool = True  # booked: accounting month and chronology apply (not to pro formas)
    proforma: bool = False  # listed by proformy.json instead of faktury.json
    sendable: bool = False  # has {resource}/send/{id}.json
    domestic: bool = True  # ZaplaconoNaDokumencie is required
    extra: tuple[tuple[str, Field], ...] = ()
    required: tuple[str, ...] = ()

    def header_fields(self) -> dict[str, Field]:
        fields = dict(HEADER_FIELDS)
        if not self.vat:
            for name in VAT_ONLY_HEADER:
                fields.pop(name)
        if not self.domestic:
            fields.update(FOREIGN_FIELDS)
        fields.update(dict(self.extra))
        return fields

    def required_fields(self) -> tuple[str, ...]:
        base = ["DataWystawienia", "DataSprzedazy", "FormatDatySprzedazy", "SposobZaplaty"]
        base += ["RodzajPodpisuOdbiorcy", "Pozycje"]
        if self.vat:
            base += ["LiczOd", "WidocznyNumerGios"]
        if not self.proforma:
            base.append("Zaplacono")
            if self.domestic and self.vat:
                base.append("ZaplaconoNaDokumencie")
        return tuple(base) + self.required

    def line_fields(self) -> dict[str, Field]:
        fields = dict(LINE_FIELDS)
        if not self.vat:
            for name in VAT_ONLY_LINE:
                fields.pop(name)
        return fields


SERVICE_ABROAD = (
    ("NazwaUslugi", text(300)),
    ("UslugaSwiadczonaTrybArt28b", BOOL),
    ("DataObowiazkuPodatkowego", DATE),
)
# List types marked "invented" are not in the contract (its list of `typ` values is truncated).
KINDS: dict[str, DocumentKind] = {
    kind.resource: kind
    for kind in (
        DocumentKind("fakturakraj", "Faktura VAT", "prz_faktura_kraj", "FV", sendable=True),
        DocumentKind(
            "fakturawysylka",
            "Faktura VAT wysyłkowa",
            "prz_faktura_wysylka",
            "FW",
            sendable=True,
            extra=(("DataOtrzymaniaZaplaty", DATE),),
            required=("DataOtrzymaniaZaplaty",),
        ),
        DocumentKind(
            "fakturaparagon",
            "Faktura VAT do paragonu",
            "prz_faktura_paragon",
            "FP",
            extra=(("NumerParagonu", text(30)),),  # field name unconfirmed
        ),
        DocumentKind(
            "fakturaproformakraj",
            "Faktura pro forma",
            "prz_faktura_proforma_kraj",  # invented
            "PRO",
            accounting=False,
            proforma=True,
            sendable=True,
            extra=(("TypFakturyKrajowej", choice("SPRZ", "BUD", "ZAL")),),
            required=("TypFakturyKrajowej",),
        ),
        DocumentKind("fakturazaliczka", "Faktura zaliczkowa", "prz_faktura_zaliczka_kraj", "FZ"),  # invented
        DocumentKind(
            "fakturawaluta",
            "Faktura VAT w walucie obcej",
            "prz_faktura_waluta",  # invented
            "FWAL",
            sendable=True,
            domestic=False,
            extra=(("TypSprzedazy", choice("WYSYLKOWA", "KRAJOWA")), ("DataOtrzymaniaZaplaty", DATE)),
            required=("TypSprzedazy", "Waluta"),
        ),
        DocumentKind(
            "fakturametodakasowa",
            "Faktura VAT – metoda kasowa",
            "prz_faktura_szczeg_obow",  # inferred: "szczególny obowiązek podatkowy"
            "FMK",
            extra=(("TypRozliczenia", choice("MET_KASOWA", "KOMIS", "POST_SAD", "USLUGI_ZW")),),
            required=("TypRozliczenia",),
        ),
        DocumentKind(
            "fakturaeksporttowarow",
            "Faktura VAT – eksport towarów",
            "prz_eksport_towarow",
            "EXP",
            sendable=True,
            domestic=False,
        ),
        DocumentKind(
            "fakturawdt",
            "Faktura VAT – WDT",
            "prz_dostawa_ue_towarow",
            "WDT",
            sendable=True,
            domestic=False,
        ),
        DocumentKind(
            "fakturaeksportuslug",
            "Faktura – usługi poza terytorium kraju",
            "prz_eksport_uslug",  # invented
            "FU",
            sendable=True,
            domestic=False,
            extra=SERVICE_ABROAD,
        ),
        DocumentKind(
            "fakturaeksportuslugue",
            "Faktura – usługi dla podatnika VAT-UE (art. 28b)",
            "prz_eksport_dost_uslug_ue",
            "FUE",
            sendable=True,
            domestic=False,
            extra=SERVICE_ABROAD,
        ),
        DocumentKind("fakturaoss", "Faktura VAT OSS", "prz_faktura_oss", "OSS", domestic=False),  # invented
        DocumentKind(
            "fakturaioss", "Faktura VAT IOSS", "prz_faktura_ioss", "IOSS", domestic=False
        ),  # invented
        DocumentKind(
            "fakturaproformaeksport",
            "Faktura pro forma eksportowa",
            "prz_faktura_proforma_eksport",  # invented
            "PROEXP",
            accounting=False,
            proforma=True,
            domestic=False,
        ),
        DocumentKind(
            "rachunekkraj",
            "Rachunek",
            "prz_rachunek_kraj",  # invented
            "R",
            key_name="rachunek",
            vat=False,
            extra=(("WpisDoKpir", choice("NIE", "TOW", "POZ")),),
            required=("WpisDoKpir",),
        ),
    )
}
#: a correction of a domestic invoice: `fakturakraj/korekta/{invoice}.json`
CORRECTION = DocumentKind(
    "fakturakraj/korekta",
    "Faktura korygująca",
    "prz_faktura_kraj_korekta",  # invented
    "KOR",
)
SENDABLE = tuple(resource for resource, kind in KINDS.items() if kind.sendable)


@dataclass
class Draft:
    """A validated document, ready for the account-level rules, numbering and storage."""

    kind: DocumentKind
    header: dict  # mapped header fields (Decimals, dates as text) without Kontrahent and Pozycje
    buyer: dict | None  # mapped Kontrahent
    lines: list[dict]  # stored lines: mapped fields + CenaZRabatem + private amounts
    rate_totals: list[dict]
    totals: dict  # {"net", "vat", "gross"} as money strings
    problems: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------
# mapping a body onto the domain object


def read_fields(raw, schema: dict[str, Field], where: str, problems: list[str]) -> dict:
    """Map one JSON object onto ``schema``: structure errors raise, rule breaks go to ``problems``."""
    if not isinstance(raw, dict):
        raise StructureError(f"{where or 'treść żądania'} musi być obiektem JSON")
    for name in raw:
        if name not in schema:
            raise StructureError(f"nieznane pole '{where}{name}'")
    return {
        name: _map(raw[name], spec, where + name, problems) for name, spec in schema.items() if name in raw
    }


def _map(value, spec: Field, label: str, problems: list[str]):
    if value is None:
        return None
    kind = spec.type
    if kind in ("text", "date"):
        if isinstance(value, (bool, dict, list)) or (kind == "date" and not isinstance(value, str)):
            raise StructureError(f"pole '{label}' musi być tekstem")
        value = value if isinstance(value, str) else str(value)
        if kind == "date":
            if not _is_date(value):
                problems.append(BAD_DATE.format(label))
            return value
        if spec.max_length is not None and len(value) > spec.max_length:
            problems.append(TOO_LONG.format(label, spec.max_length))
        if spec.choices and value not in spec.choices:
            problems.append(NOT_ALLOWED.format(label, value, ", ".join(spec.choices)))
        return value
    if kind == "number":
        number = _number(value)
        if number is None:
            raise StructureError(f"pole '{label}' musi być liczbą")
        if abs(number) >= MAX_NUMBER:
            problems.append(f"Pole {label} ma zbyt dużą wartość.")
            return Decimal(0)
        return number
    if kind == "integer":
        number = _number(value)
        if number is None or number != number.to_integral_value():
            raise StructureError(f"pole '{label}' musi być liczbą całkowitą")
        return int(number)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise StructureError(f"pole '{label}' musi mieć wartość true lub false")
    if kind == "object":
        if not isinstance(value, dict):
            raise StructureError(f"pole '{label}' musi być obiektem")
        return value
    if kind == "list":
        if not isinstance(value, list):
            raise StructureError(f"pole '{label}' musi być tablicą")
        return value
    if kind == "notes":  # DodatkoweUwagi: one {Typ, Info, Data} or a list of them
        entries = value if isinstance(value, list) else [value]
        return [read_fields(entry, NOTE_FIELDS, f"{label}.", problems) for entry in entries]
    raise AssertionError(kind)


def _number(value) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except ArithmeticError:
            return None
        return number if number.is_finite() else None
    return None


def _is_date(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def as_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and _is_date(value) else None


def require(mapped: dict, names, where: str, problems: list[str]) -> None:
    for name in names:
        value = mapped.get(name)
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            problems.append(REQUIRED.format(where + name))


# ---------------------------------------------------------------------------
# buyer


def read_contractor(raw, where: str, problems: list[str]) -> dict:
    """A ``Kontrahent`` object with the contract's field lengths and required fields."""
    buyer = read_fields(raw, CONTRACTOR_FIELDS, where, problems)
    require(buyer, CONTRACTOR_REQUIRED, where, problems)
    prefix = buyer.get("PrefiksUE")
    if prefix is not None and not re.fullmatch(r"[A-Z]{2}", prefix):
        problems.append(f"Pole {where}PrefiksUE musi zawierać dwuliterowy kod kraju UE.")
    if buyer.get("KodKraju") is not None and not re.fullmatch(r"[A-Z]{2}", buyer["KodKraju"]):
        problems.append(f"Pole {where}KodKraju musi zawierać dwuliterowy kod kraju (ISO 3166).")
    nip = buyer.get("NIP")
    if nip:
        foreign = bool(buyer.get("AdresZagraniczny")) or (prefix not in (None, "PL"))
        if not re.fullmatch(r"[A-Za-z0-9 -]+", nip):
            problems.append(f"Pole {where}NIP może zawierać tylko cyfry (i prefiks kraju).")
        elif not foreign and not re.fullmatch(r"(PL)?\d{10}", re.sub(r"[ -]", "", nip)):
            problems.append(f"Pole {where}NIP musi zawierać 10 cyfr polskiego numeru NIP.")
    return buyer


def nip_digits(nip: str | None) -> str:
    """The comparable form of a NIP: digits and letters without a PL prefix, dashes or spaces."""
    value = re.sub(r"[ -]", "", nip or "").upper()
    return value[2:] if value.startswith("PL") and value[2:].isdecimal() else value


# ---------------------------------------------------------------------------
# lines and amounts


def read_lines(
    raw_lines: list,
    kind: DocumentKind,
    vat_payer: bool,
    problems: list[str],
    *,
    correction: bool = False,
) -> list[dict]:
    """Mapped and checked lines. Zero-value lines are dropped from invoices (not from corrections)."""
    fields = kind.line_fields()
    lines = []
    for index, raw in enumerate(raw_lines, start=1):
        where = f"Pozycje[{index}]."
        line = read_fields(raw, fields, where, problems)
        require(line, ("NazwaPelna", "Ilosc", "CenaJednostkowa"), where, problems)
        quantity, price = line.get("Ilosc"), line.get("CenaJednostkowa")
        if quantity is not None and quantity < 0:
            problems.append(f"Pole {where}Ilosc nie może być ujemne.")
        if price is not None:
            if price < 0:
                problems.append(f"Pole {where}CenaJednostkowa nie może być ujemne.")
            if price != price.quantize(Decimal("0.01")):
                problems.append(f"Pole {where}CenaJednostkowa może mieć najwyżej 2 miejsca po przecinku.")
        discount = line.get("Rabat")
        if discount is not None and not Decimal(0) <= discount <= Decimal(100):
            problems.append(f"Pole {where}Rabat musi być procentem od 0 do 100.")
        lump = line.get("StawkaRyczaltu")
        if lump is not None and lump not in LUMP_SUM_RATES:
            allowed = ", ".join(str(rate) for rate in LUMP_SUM_RATES)
            problems.append(NOT_ALLOWED.format(f"{where}StawkaRyczaltu", lump, allowed))
        if kind.vat:
            _check_rate(line, where, vat_payer, problems)
        lines.append(line)
    if not correction:
        lines = [line for line in lines if _value(line) != 0]
        if not lines and not problems:
            problems.append("Dokument musi zawierać przynajmniej jedną pozycję o niezerowej wartości.")
    return lines


def _check_rate(line: dict, where: str, vat_payer: bool, problems: list[str]) -> None:
    rate_kind, rate = line.get("TypStawkiVat"), line.get("StawkaVat")
    if not vat_payer:
        # Non-VAT payers' invoices are exempt; a VAT rate does not map onto their document.
        if rate is not None or rate_kind == "PRC":
            raise StructureError(f"pole '{where}StawkaVat' – konto nie jest czynnym podatnikiem VAT")
        if not line.get("PodstawaPrawna"):
            problems.append("Pole Podstawa prawna zwolnienia z podatku VAT jest wymagane.")
        return
    if rate_kind is None:
        problems.append(REQUIRED.format(where + "TypStawkiVat"))
    elif rate_kind == "PRC":
        if rate is None:
            problems.append(f"Pole {where}StawkaVat jest wymagane dla stawki procentowej (PRC).")
        elif rate not in VAT_RATES:
            problems.append(NOT_ALLOWED.format(where + "StawkaVat", rate, "0.23, 0.08, 0.05, 0.00"))
    else:
        if rate is not None:
            problems.append(f"Pole {where}StawkaVat musi być puste (null) dla stawki {rate_kind}.")
        if rate_kind == "ZW" and not line.get("PodstawaPrawna"):
            problems.append("Pole Podstawa prawna zwolnienia z podatku VAT jest wymagane.")


def _discounted_price(line: dict) -> Decimal:
    price = line.get("CenaJednostkowa") or Decimal(0)
    discount = line.get("Rabat") or Decimal(0)
    return round_money(price * (100 - discount) / 100)


def _value(line: dict) -> Decimal:
    """The line's value in the document's basis (net for NET, gross for BRT)."""
    return round_money(_discounted_price(line) * (line.get("Ilosc") or Decimal(0)))


def rate_of(line: dict, kind: DocumentKind) -> str:
    if not kind.vat:
        return "bez VAT"
    rate_kind = line.get("TypStawkiVat")
    if rate_kind == "ZW" or (rate_kind is None and line.get("StawkaVat") is None):
        return "zw"
    if rate_kind == "NP":
        return "np"
    return VAT_RATES.get(line.get("StawkaVat"), "0")


def compute_line(line: dict, kind: DocumentKind, basis: str) -> dict:
    """A stored line: the mapped fields, ``CenaZRabatem`` and the private amounts for totals/PDF."""
    rate = rate_of(line, kind)
    fraction = RATE_FRACTIONS.get(rate, Decimal(0))
    value = _value(line)
    if basis == "NET":
        net = value
        vat = round_money(net * fraction)
        gross = net + vat
    else:
        gross = value
        vat = round_money(gross * fraction / (1 + fraction))
        net = gross - vat
    stored = dict(line)
    stored["CenaZRabatem"] = _discounted_price(line)
    stored["_rate"], stored["_net"], stored["_vat"], stored["_gross"] = (
        rate,
        money_str(net),
        money_str(vat),
        money_str(gross),
    )
    return stored


def rate_totals(lines: list[dict], basis: str) -> list[dict]:
    """Per-rate totals as a Polish invoice prints them: the rate's VAT is computed once from the
    rate's net sum (NET) or gross sum (BRT), so it may differ by a cent from the sum of line VATs."""
    sums: dict[str, Decimal] = {}
    for line in lines:
        amount = Decimal(line["_net"] if basis == "NET" else line["_gross"])
        sums[line["_rate"]] = sums.get(line["_rate"], Decimal(0)) + amount
    totals = []
    for rate in sorted(sums, key=RATE_ORDER.index):
        fraction = RATE_FRACTIONS.get(rate, Decimal(0))
        if basis == "NET":
            net = sums[rate]
            vat = round_money(net * fraction)
            gross = net + vat
        else:
            gross = sums[rate]
            vat = round_money(gross * fraction / (1 + fraction))
            net = gross - vat
        totals.append({"rate": rate, "net": money_str(net), "vat": money_str(vat), "gross": money_str(gross)})
    return totals


def difference(after: list[dict], before: list[dict]) -> list[dict]:
    """Per-rate totals of a correction: the "should be" totals minus the corrected ones."""
    sums: dict[str, list[Decimal]] = {}
    for sign, totals in ((1, after), (-1, before)):
        for entry in totals:
            row = sums.setdefault(entry["rate"], [Decimal(0)] * 3)
            for index, key in enumerate(("net", "vat", "gross")):
                row[index] += sign * Decimal(entry[key])
    return [
        {"rate": rate, "net": money_str(row[0]), "vat": money_str(row[1]), "gross": money_str(row[2])}
        for rate, row in sorted(sums.items(), key=lambda item: RATE_ORDER.index(item[0]))
    ]


def grand_totals(totals: list[dict]) -> dict:
    return {
        key: money_str(sum((Decimal(entry[key]) for entry in totals), Decimal(0)))
        for key in ("net", "vat", "gross")
    }


# ---------------------------------------------------------------------------
# documents


def read_document(kind: DocumentKind, body: dict, vat_payer: bool) -> Draft:
    """Map and check an invoice/bill body; the account-level rules come later."""
    problems: list[str] = []
    header = read_fields(body, kind.header_fields(), "", problems)
    require(header, kind.required_fields(), "", problems)
    if header.get("ProceduryJpk") is not None:
        header["ProceduryJpk"] = read_fields(header["ProceduryJpk"], JPK_FIELDS, "ProceduryJpk.", problems)

    buyer = None
    if header.get("Kontrahent") is not None:
        buyer = read_contractor(header["Kontrahent"], "Kontrahent.", problems)
    elif not any(header.get(name) for name in ("IdentyfikatorKontrahenta", "NIPKontrahenta")):
        problems.append(REQUIRED.format("Kontrahent") + " Podaj dane kontrahenta lub jego identyfikator.")

    basis = header.get("LiczOd") or "BRT"
    if kind.vat and not vat_payer and basis != "BRT":
        problems.append("Podatnik zwolniony z VAT wystawia faktury od kwot brutto (LiczOd: BRT).")
    lines = read_lines(header.get("Pozycje") or [], kind, vat_payer, problems)
    if kind.resource == "fakturawdt" and buyer is not None and not _eu_vat_buyer(buyer):
        problems.append("Faktura WDT wymaga numeru VAT-UE kontrahenta (PrefiksUE innego kraju UE i NIP).")
    _check_currency(kind, header, problems)
    _check_dates(kind, header, problems)

    computed = [compute_line(line, kind, basis) for line in lines]
    totals = rate_totals(computed, basis)
    grand = grand_totals(totals)
    _check_paid(header, Decimal(grand["gross"]), problems)
    header.pop("Kontrahent", None)
    header.pop("Pozycje", None)
    return Draft(kind, header, buyer, computed, totals, grand, problems)


def _check_currency(kind: DocumentKind, header: dict, problems: list[str]) -> None:
    """``Waluta``: a known ISO 4217 code other than PLN on a currency invoice; the custom rate
    (``KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury``), when given, above zero."""
    currency = header.get("Waluta")
    if currency is not None and not re.fullmatch(r"[A-Z]{3}", currency):
        problems.append("Pole Waluta musi zawierać trzyliterowy kod waluty (ISO 4217).")
    elif kind.resource == "fakturawaluta" and currency == "PLN":
        problems.append("Faktura w walucie obcej nie może być wystawiona w PLN.")
    elif currency is not None and currency != "PLN" and currency not in CURRENCIES:
        problems.append(f"Nieobsługiwana waluta '{currency}'.")
    rate = header.get("KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury")
    if rate is not None and rate <= 0:
        problems.append("Pole KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury musi być większe od zera.")


def _eu_vat_buyer(buyer: dict) -> bool:
    prefix = buyer.get("PrefiksUE") or (buyer.get("NIP") or "")[:2].upper()
    return bool(buyer.get("NIP")) and bool(re.fullmatch(r"[A-Z]{2}", prefix)) and prefix != "PL"


def _check_dates(kind: DocumentKind, header: dict, problems: list[str]) -> None:
    issued, sold = as_date(header.get("DataWystawienia")), as_date(header.get("DataSprzedazy"))
    due = as_date(header.get("TerminPlatnosci"))
    if sold and due and due < sold:
        problems.append("Termin płatności nie może być wcześniejszy niż data sprzedaży.")
    if not (issued and sold) or not kind.accounting:
        return
    if not kind.vat:
        if (issued - sold).days > 90:
            problems.append("Data wystawienia rachunku nie może być późniejsza niż 90 dni od daty sprzedaży.")
        return
    if issued < sold:
        problems.append("Data wystawienia nie może być wcześniejsza niż data sprzedaży.")
    next_month = date(sold.year + sold.month // 12, sold.month % 12 + 1, 15)
    if issued > next_month:
        problems.append(
            "Data wystawienia faktury nie może być późniejsza niż 15 dzień miesiąca następującego "
            "po miesiącu, w którym dokonano sprzedaży."
        )


def _check_paid(header: dict, gross: Decimal, problems: list[str]) -> None:
    for name in ("Zaplacono", "ZaplaconoNaDokumencie"):
        paid = header.get(name)
        if paid is None:
            continue
        if paid < 0 or paid >= MAX_AMOUNT:
            problems.append(f"Pole {name} musi być liczbą nieujemną mniejszą niż 100000000.")
        elif paid > gross:
            problems.append(
                f"Pole {name} nie może być większe niż kwota brutto dokumentu ({money_str(gross)})."
            )


@dataclass
class CorrectionDraft:
    header: dict
    before: list[dict]
    after: list[dict]
    rate_totals: list[dict]  # after minus before, per rate
    totals: dict
    problems: list[str] = field(default_factory=list)


def read_correction(body: dict, original: dict, vat_payer: bool) -> CorrectionDraft:
    """A correction of a domestic invoice: ``Pozycje`` is the full "should be" state, a removed
    line comes with ``Ilosc: 0``, so there are at least as many lines as on the corrected invoice."""
    problems: list[str] = []
    header = read_fields(body, CORRECTION_FIELDS, "", problems)
    require(header, CORRECTION_REQUIRED, "", problems)
    kind = KINDS["fakturakraj"]
    basis = original.get("LiczOd") or "BRT"
    before = original["_current_lines"]
    after_lines = read_lines(header.pop("Pozycje", None) or [], kind, vat_payer, problems, correction=True)
    if len(after_lines) < len(before) and not problems:
        problems.append(
            "Korekta musi zawierać wszystkie pozycje faktury korygowanej "
            f"({len(before)}); usuniętą pozycję wyślij z Ilosc: 0."
        )
    after = [compute_line(line, kind, basis) for line in after_lines]
    if not problems and _public_lines(after) == _public_lines(before):
        problems.append("Korekta nie zmienia żadnej pozycji faktury korygowanej.")
    issued = as_date(header.get("DataWystawienia"))
    original_issued = as_date(original.get("DataWystawienia"))
    if issued and original_issued and issued < original_issued:
        problems.append(
            "Data wystawienia korekty nie może być wcześniejsza niż data wystawienia faktury korygowanej."
        )
    totals = difference(rate_totals(after, basis), original["_current_rate_totals"])
    grand = grand_totals(totals)
    paid = header.get("Zaplacono")
    if paid is not None and paid < 0:
        problems.append("Pole Zaplacono musi być liczbą nieujemną.")
    return CorrectionDraft(header, before, after, totals, grand, problems)


def _public_lines(lines: list[dict]) -> list[tuple]:
    """What a correction can change, comparable between stored (JSON) and freshly read lines."""

    def comparable(value):
        number = None if isinstance(value, str) else _number(value)
        return str(number.normalize()) if number is not None else str(value)

    keys = ("NazwaPelna", "Ilosc", "CenaZRabatem", "_rate", "Jednostka")
    return [tuple(comparable(line.get(key)) for key in keys) for line in lines]


# ---------------------------------------------------------------------------
# numbering


def render_number(template: str, number: int, symbol: str, issued: date) -> str:
    """Fill a series template, e.g. ``{symbol} {nr}/{mm}/{rrrr}`` -> ``FV 7/03/2026``."""
    return (
        template.replace("{symbol}", symbol)
        .replace("{nr}", str(number))
        .replace("{mm}", f"{issued.month:02d}")
        .replace("{rrrr}", f"{issued.year:04d}")
    )


def number_period(period: str, issued: date) -> str:
    return f"{issued.year:04d}-{issued.month:02d}" if period == "month" else f"{issued.year:04d}"
