"""Reading a buyer or seller the same way in every adapter: tax id kind, printed name, country name.

Each service spells the result its own way (`buyer_tax_no_kind`, `tax_id_type`, `PrefiksUE`…);
the adapters map these neutral answers onto their fields.
"""

from __future__ import annotations

import re

from stdnum.eu import vat as eu_vat

from .base import Party

# Greece's VAT prefix is EL, not its ISO code GR.
EU_VAT_PREFIXES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) | {"EL"}

# Tax id kinds returned by `classify_tax_id`.
NO_TAX_ID, POLISH_NIP, EU_VAT_ID, OTHER_TAX_ID = "none", "nip", "eu", "other"


def tax_id_text(value: str) -> str:
    """The tax id without spaces, dashes and dots, upper-case ('pl 627-261-66-81' → 'PL6272616681')."""
    return re.sub(r"[\s\-.]", "", value or "").upper()


def classify_tax_id(party: Party, eu_prefixes: frozenset[str] = EU_VAT_PREFIXES) -> tuple[str, str]:
    """(value to send, kind). A Polish NIP (10 digits, a PL prefix dropped) for a Polish party or one
    whose id starts with PL; an EU VAT id keeps its country prefix; anything else is sent as typed."""
    raw = tax_id_text(party.tax_id)
    country = (party.country or "PL").upper()
    if not raw:
        return "", NO_TAX_ID
    if re.fullmatch(r"(PL)?\d{10}", raw) and (country == "PL" or raw.startswith("PL")):
        return raw.removeprefix("PL"), POLISH_NIP
    if raw[:2] in eu_prefixes and raw[:2] != "PL":
        return raw, EU_VAT_ID
    return raw, OTHER_TAX_ID


def company_name(party: Party) -> str:
    return (party.company_name or party.name).strip()


def display_name(party: Party) -> str:
    """The name printed for the party: the company's, or the person's first and last name."""
    if party.is_company:
        return company_name(party)
    return (f"{party.first_name} {party.last_name}".strip() or party.name).strip()


# Polish country names, for services that take a name rather than an ISO code.
COUNTRY_NAMES = {
    "PL": "Polska", "AT": "Austria", "BE": "Belgia", "BG": "Bułgaria", "HR": "Chorwacja", "CY": "Cypr",
    "CZ": "Czechy", "DK": "Dania", "EE": "Estonia", "FI": "Finlandia", "FR": "Francja", "GR": "Grecja",
    "ES": "Hiszpania", "NL": "Holandia", "IE": "Irlandia", "LT": "Litwa", "LU": "Luksemburg", "LV": "Łotwa",
    "MT": "Malta", "DE": "Niemcy", "PT": "Portugalia", "RO": "Rumunia", "SK": "Słowacja", "SI": "Słowenia",
    "SE": "Szwecja", "HU": "Węgry", "IT": "Włochy", "GB": "Wielka Brytania", "NO": "Norwegia",
    "CH": "Szwajcaria", "UA": "Ukraina", "US": "Stany Zjednoczone", "CA": "Kanada", "IS": "Islandia",
    "LI": "Liechtenstein", "BY": "Białoruś", "TR": "Turcja", "CN": "Chiny", "JP": "Japonia",
    "AU": "Australia", "IL": "Izrael", "AE": "Zjednoczone Emiraty Arabskie", "MD": "Mołdawia",
    "GE": "Gruzja", "RS": "Serbia", "BA": "Bośnia i Hercegowina", "ME": "Czarnogóra",
    "MK": "Macedonia Północna", "AL": "Albania",
}


def country_code(party: Party) -> str:
    """ISO code of the party's country (Poland when the document names none)."""
    return (party.country or "PL").upper()


def country_name(code: str) -> str:
    """'DE' → 'Niemcy'; a code without a Polish name here is passed as it is."""
    code = (code or "PL").strip().upper()
    return COUNTRY_NAMES.get(code, code)
