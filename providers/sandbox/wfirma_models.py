"""What ``{module}/find`` may filter on in each wFirma module: its model name and fields
(the record's scalars plus ``<relation>_id``), and the related models of an invoice."""

from __future__ import annotations

from .wfirma_find import Model
from .wfirma_invoices import CONTRACTOR_FIELDS, DETAIL_FIELDS


def _words(names: str) -> frozenset[str]:
    return frozenset(names.split())


INVOICE_FIELDS = _words(
    """id type fullnumber number day month year date disposaldate disposaldate_format disposaldate_empty
    paymentmethod paymentdate paymentstate alreadypaid_initial alreadypaid remaining currency
    currency_exchange currency_label currency_date price_type netto tax total total_composed corrections
    description id_external schema schema_bill schema_cancelled schema_receipt_book type_of_sale auto_send
    tags register_description template receipt_fiscal_printed warehouse_type ksef_reference_number
    ksef_status ksef_registration_date created modified series_id contractor_id company_account_id
    parent_id"""
)
LINE_FIELDS = _words(
    """id name classification unit count unit_count price discount discount_percent vat netto brutto
    lumpcode gtu vat_code_id good_id parent_id created modified"""
)
GOOD_FIELDS = _words(
    """id name code unit netto brutto price_type type vat vat_code_id classification gtu lumpcode discount
    description count reserved min max secure visibility warehouse_type created modified"""
)
DETAIL_MODEL_FIELDS = frozenset({"id", *DETAIL_FIELDS})

INVOICE_MODEL = Model(
    "Invoice",
    INVOICE_FIELDS,
    {
        "ContractorDetail": (DETAIL_MODEL_FIELDS, lambda doc: [doc["contractor_detail"]]),
        "Contractor": (DETAIL_MODEL_FIELDS, lambda doc: [{**doc["contractor_detail"], **doc["contractor"]}]),
        "InvoiceContent": (LINE_FIELDS, lambda doc: doc["invoicecontents"]),
        "Series": (frozenset({"id"}), lambda doc: [doc["series"]]),
    },
)
#: where ``fields`` finds a related model inside a rendered invoice
INVOICE_NESTED = {"ContractorDetail": "contractor_detail", "InvoiceContent": "invoicecontents"}

MODELS = {
    "series": Model("Series", _words("id name template initnumber type reset visibility created modified")),
    "goods": Model("Good", GOOD_FIELDS),
    "contractors": Model("Contractor", frozenset({"id", "created", "modified", *CONTRACTOR_FIELDS})),
    "payments": Model(
        "Payment",
        _words(
            "id object_name object_id value value_pln date payment_method account type payment_type created"
        ),
    ),
    "company_accounts": Model("CompanyAccount", _words("id name bank_name number swift currency address")),
    "payment_cashboxes": Model("PaymentCashbox", _words("id name currency")),
    "warehouses": Model("Warehouse", _words("id name default")),
    "vat_codes": Model("VatCode", _words("id code rate type declaration_country_id")),
    "declaration_countries": Model("DeclarationCountry", _words("id code name")),
}
