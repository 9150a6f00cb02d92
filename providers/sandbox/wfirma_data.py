"""wFirma reference data: document types, VAT codes, countries and what a new company starts with.

Everything here comes from the API contract; values the contract leaves open (ids, names,
exchange rates) are invented and marked so.
"""

from __future__ import annotations

from decimal import Decimal

# -- document types (invoice.type) ------------------------------------------------------------

#: types a VAT payer issues
VAT_TYPES = frozenset(
    {
        "normal",
        "margin",
        "proforma",
        "offer",
        "receipt_normal",
        "receipt_fiscal_normal",
        "income_normal",
        "normal_draft",
    }
)
#: types a company that is not a VAT payer issues ("bez VAT")
NO_VAT_TYPES = frozenset(
    {"bill", "proforma_bill", "offer_bill", "receipt_bill", "receipt_fiscal_bill", "income_bill"}
)
ALL_TYPES = VAT_TYPES | NO_VAT_TYPES | {"correction"}
FISCAL_RECEIPTS = frozenset({"receipt_fiscal_normal", "receipt_fiscal_bill"})
RECEIPTS = FISCAL_RECEIPTS | {"receipt_normal", "receipt_bill"}
INCOME_TYPES = frozenset({"income_normal", "income_bill"})
#: "Uwagi" (description) is not available on these
NO_DESCRIPTION_TYPES = FISCAL_RECEIPTS | INCOME_TYPES
#: documents that are not sales yet: no stock movement, no payment state, cannot be corrected
NOT_SALES_TYPES = frozenset({"proforma", "proforma_bill", "offer", "offer_bill", "normal_draft"})
#: sales documents whose product lines take goods out of stock (help page "Prowadzenie magazynu")
STOCK_TYPES = frozenset(
    {"normal", "margin", "bill", "correction", "receipt_normal", "receipt_bill"} | FISCAL_RECEIPTS
)
#: structured e-invoices sent to KSeF (the API exposes ksef_* read-only fields)
KSEF_TYPES = frozenset({"normal", "margin", "correction"})
VAT_TYPE_REFUSAL = "Fakturę VAT/Pro Formę VAT/Dowód sprzedaży można wystawić, jedynie będąc płatnikiem VAT"
NO_VAT_TYPE_REFUSAL = "Dokument bez VAT można wystawić, jedynie nie będąc płatnikiem VAT"  # wording invented

TITLES = {
    "normal": "Faktura VAT",
    "normal_draft": "Faktura VAT (szkic)",
    "margin": "Faktura VAT marża",
    "proforma": "Faktura pro forma",
    "offer": "Oferta",
    "receipt_normal": "Dowód sprzedaży",
    "receipt_fiscal_normal": "Paragon fiskalny",
    "income_normal": "Inny przychód – sprzedaż",
    "bill": "Faktura",
    "proforma_bill": "Faktura pro forma",
    "offer_bill": "Oferta",
    "receipt_bill": "Dowód sprzedaży",
    "receipt_fiscal_bill": "Paragon fiskalny",
    "income_bill": "Inny przychód – sprzedaż",
    "correction": "Faktura korygująca",
}

PAYMENT_METHODS = ("cash", "transfer", "compensation", "cod", "payment_card")
#: methods that are settled on the spot, so the default due date is the issue date (an assumption)
IMMEDIATE_PAYMENT_METHODS = frozenset({"cash", "payment_card"})
PRICE_TYPES = ("netto", "brutto")
SCHEMAS = ("normal", "vat_invoice_date", "vat_buyer_construction_service", "assessor", "split_payment")
SERIES_RESETS = ("yearly", "monthly", "daily")
TAX_ID_TYPES = ("nip", "vat", "pesel", "regon", "custom", "none")

# -- VAT codes (/vat_codes/find) ----------------------------------------------------------------
# (id, code, rate, type, declaration_country_id). 222-227 follow the integration quoted in the
# contract; the rest are invented. Country 0 = Poland; other ids are declaration_countries ids.
VAT_CODES = (
    (222, "23", "23.00", "standard", 0),
    (223, "8", "8.00", "reduced", 0),
    (224, "5", "5.00", "reduced", 0),
    (225, "0", "0.00", "other", 0),
    (226, "ZW", "0.00", "other", 0),
    (227, "NP", "0.00", "other", 0),
    (228, "WDT", "0.00", "other", 0),
    (229, "EXP", "0.00", "other", 0),
    (230, "NP UE", "0.00", "other", 0),
    (231, "OO", "0.00", "other", 0),
    (401, "19", "19.00", "standard", 276),  # OSS: Germany
    (402, "7", "7.00", "reduced", 276),
    (403, "21", "21.00", "standard", 203),  # OSS: Czechia
    (404, "20", "20.00", "standard", 250),  # OSS: France
)
DEFAULT_VAT_CODE_ID = 222
NO_VAT_PAYER_CODE_ID = 226  # documents "bez VAT" carry no VAT: the line rate is ZW
#: rates that need the buyer's EU VAT number with a country prefix
EU_BUYER_CODES = frozenset({"WDT", "NP UE"})

# -- countries (/declaration_countries/find) -----------------------------------------------------
DECLARATION_COUNTRIES = (
    (616, "PL", "Polska"),
    (276, "DE", "Niemcy"),
    (203, "CZ", "Czechy"),
    (703, "SK", "Słowacja"),
    (440, "LT", "Litwa"),
    (428, "LV", "Łotwa"),
    (233, "EE", "Estonia"),
    (40, "AT", "Austria"),
    (56, "BE", "Belgia"),
    (100, "BG", "Bułgaria"),
    (191, "HR", "Chorwacja"),
    (196, "CY", "Cypr"),
    (208, "DK", "Dania"),
    (246, "FI", "Finlandia"),
    (250, "FR", "Francja"),
    (300, "GR", "Grecja"),
    (724, "ES", "Hiszpania"),
    (528, "NL", "Holandia"),
    (372, "IE", "Irlandia"),
    (442, "LU", "Luksemburg"),
    (470, "MT", "Malta"),
    (620, "PT", "Portugalia"),
    (642, "RO", "Rumunia"),
    (705, "SI", "Słowenia"),
    (752, "SE", "Szwecja"),
    (348, "HU", "Węgry"),
    (380, "IT", "Włochy"),
    (826, "GB", "Wielka Brytania"),
    (840, "US", "Stany Zjednoczone"),
    (804, "UA", "Ukraina"),
    (756, "CH", "Szwajcaria"),
    (578, "NO", "Norwegia"),
)
COUNTRY_CODES = frozenset(code for _, code, _ in DECLARATION_COUNTRIES)
#: VAT-number prefixes of the EU (Greece is EL, Northern Ireland XI)
EU_VAT_PREFIXES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "EL",
        "ES",
        "FI",
        "FR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
        "XI",
    ]
)

# -- currencies: wFirma picks the NBP rate itself; a fixed table stands in for NBP (invented) ----
EXCHANGE_RATES = {
    "PLN": Decimal(1),
    "EUR": Decimal("4.2693"),
    "USD": Decimal("3.9876"),
    "GBP": Decimal("5.0512"),
    "CHF": Decimal("4.5123"),
    "CZK": Decimal("0.1701"),
    "SEK": Decimal("0.3712"),
    "NOK": Decimal("0.3654"),
    "DKK": Decimal("0.5722"),
    "UAH": Decimal("0.0961"),
}

# -- what every new company starts with -----------------------------------------------------------
# Numbering series: (name, template, type, reset, default for its type)
VAT_PAYER_SERIES = (
    ("Faktury VAT", "FV [numer]/[rok]", "normal", "yearly", True),
    ("Faktury VAT – sklep (miesięczna)", "FVS [numer]/[miesiąc]/[rok]", "normal", "monthly", False),
    ("Faktury VAT – dzienna", "FD [numer]/[dzień]/[miesiąc]/[rok]", "normal", "daily", False),
    ("Faktury VAT marża", "FM [numer]/[rok]", "margin", "yearly", True),
    ("Pro forma", "PRO [numer]/[rok]", "proforma", "yearly", True),
    ("Oferty", "OF [numer]/[rok]", "offer", "yearly", True),
    ("Dowody sprzedaży", "DS [numer]/[rok]", "receipt_normal", "yearly", True),
    ("Paragony fiskalne", "PAR [numer]/[miesiąc]/[rok]", "receipt_fiscal_normal", "monthly", True),
    ("Inne przychody", "IP [numer]/[rok]", "income_normal", "yearly", True),
    ("Korekty", "KOR [numer]/[rok]", "correction", "yearly", True),
)
NO_VAT_PAYER_SERIES = (
    ("Faktury", "F [numer]/[rok]", "bill", "yearly", True),
    ("Pro forma", "PRO [numer]/[rok]", "proforma_bill", "yearly", True),
    ("Oferty", "OF [numer]/[rok]", "offer_bill", "yearly", True),
    ("Dowody sprzedaży", "DS [numer]/[rok]", "receipt_bill", "yearly", True),
    ("Paragony fiskalne", "PAR [numer]/[miesiąc]/[rok]", "receipt_fiscal_bill", "monthly", True),
    ("Inne przychody", "IP [numer]/[rok]", "income_bill", "yearly", True),
    ("Korekty", "KOR [numer]/[rok]", "correction", "yearly", True),
)
# Catalogue: (code = SKU, name, unit, netto, brutto, VAT code id, type, stock)
GOODS = (
    ("SKU-001", "Kubek ceramiczny 330 ml", "szt.", "24.38", "29.99", 222, "good", "100"),
    ("SKU-002", "Herbata zielona liściasta 100 g", "szt.", "17.62", "18.50", 224, "good", "250"),
    ("SKU-003", "Książka „Zażółć gęślą jaźń”", "szt.", "46.67", "49.00", 224, "good", "40"),
    ("SKU-004", "Świeca sojowa — las", "szt.", "28.46", "35.00", 222, "good", "60"),
    ("USL-PAK", "Pakowanie na prezent", "usł.", "8.13", "10.00", 222, "service", None),
)
COMPANY_ACCOUNTS = (
    ("Rachunek główny", "Bank Testowy S.A.", "61109010140000071219812874", "WBKPPLPL", "PLN"),
    ("Rachunek walutowy EUR", "Bank Testowy S.A.", "27114020040000350200371526", "WBKPPLPL", "EUR"),
)
