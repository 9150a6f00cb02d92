"""Pre-flight checks every adapter makes the same way, with the same Polish wording.

Each returns the Problem it found (or a list of them), None / [] when all is well. An adapter's
`preflight` lists the checks its service needs, in its own order, next to the rules only that
service has (field lengths, codes, numbering).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from stdnum.eu import vat as eu_vat
from stdnum.pl import nip

from .base import VAT_RATES, Correction, ExportSettings, HubDocument, Line, Party, Problem
from .parties import (
    EU_VAT_ID,
    EU_VAT_PREFIXES,
    NO_TAX_ID,
    POLISH_NIP,
    classify_tax_id,
    company_name,
    country_code,
)


def found(*problems: Problem | None) -> list[Problem]:
    """The problems of a series of checks, in order (a check that found nothing gives None)."""
    return [problem for problem in problems if problem is not None]


def too_long(field: str, what: str, text: str, limit: int, owner: str, fix: str,
             verb: str = "ma") -> Problem | None:
    """'Nazwa pozycji ma 300 znaków; KSeF przyjmuje najwyżej 256 – skróć ją.' (`owner` sets the limit)"""
    if len(text) <= limit:
        return None
    return Problem(field, f"{what} {verb} {len(text)} znaków; {owner} przyjmuje najwyżej {limit} – {fix}.")


def unknown_kind(kind: str) -> Problem:
    return Problem("kind", f"Nieznany rodzaj dokumentu „{kind}”.")


# --------------------------------------------------------------------------- buyer

MISSING_COMPANY_NAME = Problem("buyer.company_name", "Brak nazwy firmy nabywcy – uzupełnij nazwę firmy.")
MISSING_PERSON_NAME = Problem("buyer.name", "Brak imienia i nazwiska nabywcy – uzupełnij dane klienta.")
MISSING_NIP = Problem("buyer.tax_id", "Brak NIP nabywcy (firma z Polski) – wpisz 10-cyfrowy NIP.")


def buyer_name_problems(buyer: Party, person_required: bool = True) -> list[Problem]:
    """A company needs its name; a person (when the document needs one) any part of a name."""
    if buyer.is_company:
        return [] if company_name(buyer) else [MISSING_COMPANY_NAME]
    has_name = buyer.first_name.strip() or buyer.last_name.strip() or buyer.name.strip()
    return [] if has_name or not person_required else [MISSING_PERSON_NAME]


def invalid_nip(buyer: Party) -> Problem:
    return Problem("buyer.tax_id",
                   f"NIP nabywcy „{buyer.tax_id}” jest nieprawidłowy (zła suma kontrolna) – popraw NIP.")


def invalid_eu_vat_id(buyer: Party) -> Problem:
    return Problem("buyer.tax_id", f"Numer VAT UE nabywcy „{buyer.tax_id}” jest nieprawidłowy – popraw numer "
                                   "(z prefiksem kraju, np. DE123456789).")


def buyer_tax_id_problems(buyer: Party, nip_required: bool = True,
                          eu_prefixes: frozenset[str] = EU_VAT_PREFIXES) -> list[Problem]:
    """A company buyer's tax id: a Polish company needs a NIP (when the document needs one), and
    a NIP or an EU VAT id must pass its checksum. Other ids (outside the EU) are not checked."""
    if not buyer.is_company:
        return []
    value, kind = classify_tax_id(buyer, eu_prefixes)
    if kind == NO_TAX_ID and country_code(buyer) == "PL" and nip_required:
        return [MISSING_NIP]
    if kind == POLISH_NIP and not nip.is_valid(value):
        return [invalid_nip(buyer)]
    if kind == EU_VAT_ID and not eu_vat.is_valid(value):
        return [invalid_eu_vat_id(buyer)]
    return []


def buyer_country_problem(buyer: Party) -> Problem | None:
    if re.fullmatch(r"[A-Za-z]{2}", buyer.country or "PL"):
        return None
    return Problem("buyer.country",
                   f"Kraj nabywcy „{buyer.country}” to nie 2-literowy kod ISO (np. PL, DE) – popraw go.")


def buyer_address_problems(buyer: Party, street: bool = False) -> list[Problem]:
    """Post code and city (and the street, where the service wants it) must be there."""
    required = {"post_code": "kodu pocztowego", "city": "miejscowości", "street": "ulicy" if street else None}
    return [Problem(f"buyer.{name}", f"Brak {what} nabywcy – uzupełnij adres.")
            for name, what in required.items() if what and not getattr(buyer, name).strip()]


# --------------------------------------------------------------------------- lines


def no_lines(lines: Sequence[Line]) -> Problem | None:
    return None if lines else Problem("lines", "Dokument nie ma pozycji – dodaj co najmniej jedną pozycję.")


def vat_rate_problem(path: str, line: Line, vat_rates: frozenset[str], service: str,
                     hint: str = "") -> Problem | None:
    """`service` as the sentence needs it: "… nie jest obsługiwana przez Fakturownię"."""
    if line.vat_rate in vat_rates:
        return None
    allowed = ", ".join(r for r in VAT_RATES if r in vat_rates)
    return Problem(f"{path}.vat_rate", f"Stawka VAT „{line.vat_rate}” w pozycji „{line.name}” nie jest "
                                       f"obsługiwana przez {service}{hint} – wybierz jedną z: {allowed}.")


def line_name_problem(path: str, name: str, limit: int | None = None, owner: str = "KSeF",
                      what: str = "Nazwa pozycji") -> Problem | None:
    """`name` as the service receives it: it must not be empty, nor longer than `owner` takes."""
    if not name.strip():
        return Problem(f"{path}.name", "Pozycja bez nazwy – uzupełnij nazwę produktu.")
    if limit is None:
        return None
    return too_long(f"{path}.name", what, name, limit, owner, "skróć ją")


def quantity_problem(path: str, line: Line, allow_zero: bool = False) -> Problem | None:
    """A negative quantity never; zero only where a line may drop to nothing (a correction)."""
    if line.quantity > 0 or (line.quantity == 0 and allow_zero):
        return None
    return Problem(f"{path}.quantity",
                   f"Ilość w pozycji „{line.name}” musi być większa od zera – popraw ilość.")


def sku_problem(path: str, line: Line, send_sku: bool) -> Problem | None:
    if not send_sku or (line.sku or "").strip():
        return None
    return Problem(f"{path}.sku", f"Pozycja „{line.name}” nie ma kodu SKU, a włączone jest przekazywanie "
                                  "SKU – uzupełnij SKU produktu albo wyłącz tę opcję.")


# --------------------------------------------------------------------------- document


def currency_problem(doc: HubDocument) -> Problem | None:
    if re.fullmatch(r"[A-Z]{3}", doc.currency or ""):
        return None
    return Problem("currency",
                   f"Waluta „{doc.currency}” to nie 3-literowy kod ISO – popraw walutę (np. PLN, EUR).")


def exchange_rate_problem(doc: HubDocument) -> Problem | None:
    if doc.currency == "PLN" or (doc.exchange_rate and doc.exchange_rate > 0):
        return None
    return Problem("exchange_rate",
                   f"Dokument w walucie {doc.currency} wymaga kursu wymiany na PLN – podaj kurs.")


def currency_problems(doc: HubDocument) -> list[Problem]:
    """An ISO currency code, and for a foreign currency the rate to PLN."""
    return found(currency_problem(doc) or exchange_rate_problem(doc))


def exemption_basis_problem(lines: Iterable[Line], *bases: object) -> Problem | None:
    """Exempt (zw) lines need the legal basis: from the document or the integration's default."""
    if not any(line.vat_rate == "zw" for line in lines) or any(bases):
        return None
    return Problem("exemption_basis", "Pozycje ze stawką zw wymagają podstawy zwolnienia z VAT – wpisz ją "
                                      "w dokumencie lub ustaw domyślną w opcjach integracji.")


def hub_number_problem(doc: HubDocument, settings: ExportSettings) -> Problem | None:
    if settings.numbering != "hub" or doc.number.strip():
        return None
    return Problem("number", "Wybrano numerację z huba, a dokument nie ma numeru.")


# --------------------------------------------------------------------------- corrections

NO_CORRECTION = Problem("correction", "Korekta bez danych korygowanego dokumentu.")
NOTHING_CORRECTED = Problem("correction.lines", "Korekta nie zmienia żadnej pozycji.")


def unsent_original(correction: Correction, service: str) -> Problem | None:
    """`service` in the genitive: "… nie została jeszcze przekazana do Fakturowni"."""
    if (correction.original_remote_id or "").strip():
        return None
    return Problem("correction.original_remote_id",
                   f"Faktura {correction.original_number} nie została jeszcze przekazana do {service} – "
                   "najpierw wyeksportuj fakturę korygowaną.")


def correction_sides(correction: Correction) -> Iterator[tuple[str, Line]]:
    """(field path, line) of each side a corrected line has: before, after or both."""
    for i, pair in enumerate(correction.lines):
        for side_name, side in (("before", pair.before), ("after", pair.after)):
            if side is not None:
                yield f"correction.lines[{i}].{side_name}", side
