"""Contract: the Firmao adapter against the Firmao sandbox over real HTTP.

Each test gets its own sandbox organisation (random id and password) without the sandbox's
one-call-a-second limit, and the adapter's own pacing switched off, so the suite stays fast;
the pipeline test keeps both on to show the limit is respected. Faults are per account and
cleared when the test ends.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
import requests

from providers.base import (
    AuthenticationFailed,
    DuplicateReference,
    OutcomeUnknown,
    RateTotal,
    TransientError,
    ValidationRejected,
)
from providers.firmao import FirmaoProvider

from .factories import company_buyer, consumer_buyer, make_doc, make_line, settings

SERVICE = "firmao"


class SandboxAccount:
    """One fresh sandbox organisation plus the admin calls a test needs on it."""

    def __init__(self, sandbox_url: str, **options):
        self.sandbox_url = sandbox_url
        self.organization = f"ct{secrets.token_hex(5)}"
        self.login = f"{self.organization}.api@firmao.pl"
        self.password = f"pw+{secrets.token_hex(8)}"
        response = requests.post(f"{sandbox_url}/_sandbox/{SERVICE}/accounts", timeout=5, json={
            "prefix": self.organization, "api_token": self.password, "options": {"rate_limit": None, **options},
        })
        assert response.status_code == 201, response.text
        self.log: list = []

    def provider(self, password: str | None = None, **options) -> FirmaoProvider:
        return FirmaoProvider(
            {"organization_id": self.organization, "login": self.login, "password": password or self.password},
            base_url=f"{self.sandbox_url}/{SERVICE}",
            options={"min_request_interval": "0", **options},
            timeout=(2, 2),
            request_log=self.log.append,
        )

    def api(self, path: str, **params) -> dict:
        response = requests.get(f"{self.sandbox_url}/{SERVICE}/{self.organization}/svc/v1{path}", params=params,
                                auth=(self.login, self.password), timeout=5)
        response.raise_for_status()
        return response.json()

    def set_faults(self, **faults) -> None:
        response = requests.put(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                                json={"account": self.organization, **faults}, timeout=5)
        assert response.status_code == 200, response.text

    def clear_faults(self) -> None:
        requests.delete(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                        params={"account": self.organization}, timeout=5).raise_for_status()

    def documents(self, **filters) -> list[dict]:
        response = requests.get(f"{self.sandbox_url}/_sandbox/{SERVICE}/documents",
                                params={"account": self.organization, **filters}, timeout=5)
        response.raise_for_status()
        return response.json()["documents"]

    def stored(self, reference: str) -> dict:
        found = self.documents(oid=reference)
        assert len(found) == 1, f"expected exactly 1 document for {reference}, found {len(found)}"
        return found[0]

    def stock(self, sku: str) -> Decimal:
        [product] = self.api("/products", **{"productCode(eq)": sku})["data"]
        return Decimal(str(product["currentStoreState"]))

    def assert_password_never_logged(self) -> None:
        for summary in self.log:
            text = f"{summary} {summary.path} {summary.error}"
            assert self.password not in text and self.password.strip("+") not in text


@pytest.fixture
def account(sandbox_url):
    acct = SandboxAccount(sandbox_url)
    yield acct
    acct.clear_faults()
    acct.assert_password_never_logged()


def mixed_rate_lines():
    return [
        make_line("Kubek „Zażółć”", "2", "39.99", "23", sku="SKU-001"),
        make_line("Ciasto", "1", "12.49", "8"),
        make_line("Książka", "1", "49.00", "5"),
        make_line("Eksport usługi", "1", "100.00", "0"),
        make_line("Szkolenie zwolnione", "1", "250.00", "zw"),
        make_line("Usługa poza Polską", "1", "80.00", "np"),
        make_line("Stal – odwrotne obciążenie", "1", "300.00", "oo"),
    ]


def rate_totals(stored: dict) -> tuple[RateTotal, ...]:
    return tuple(RateTotal(r["rate"], Decimal(r["net"]), Decimal(r["vat"]), Decimal(r["gross"]))
                 for r in stored["_sandbox"]["rateTotals"])


# --------------------------------------------------------------------------- account


def test_check_connection_returns_the_account_label(account):
    assert account.provider().check_connection() == f"{account.organization} – {account.login}"


@pytest.mark.parametrize("password", ["not-the-password", "złe-hasło-ąę"])
def test_wrong_password_is_authentication_failed(account, password):
    with pytest.raises(AuthenticationFailed, match="Firma → Ustawienia → API"):
        account.provider(password=password).check_connection()


def test_series_are_the_sales_invoice_and_receipt_series(account):
    series = account.provider().list_series()
    names = [choice.name for choice in series]
    assert any(name.startswith("Faktura:") for name in names)
    assert any(name.startswith("Paragon:") for name in names)
    assert all(choice.id.isdigit() for choice in series)
    assert not any("zakupu" in name or "Oferty" in name for name in names)


def test_series_are_read_across_small_pages_of_unknown_length(sandbox_url, account):
    small_pages = SandboxAccount(sandbox_url, max_limit=2, total_size="unknown_when_more")
    assert small_pages.provider().list_series() == account.provider().list_series()


def test_payment_types_offered_are_accepted_by_the_service(account):
    provider = account.provider(extra_payment_types="CARD=Karta płatnicza")
    for choice in provider.list_payment_types():
        doc = make_doc(reference=f"IB-PAY-{choice.id}")
        provider.create_document(doc, settings(payment_type=choice.id))
        assert account.stored(doc.reference)["paymentType"] == choice.id


# --------------------------------------------------------------------------- creating


def test_invoice_is_created_and_reads_back_with_the_hubs_totals_per_rate(account):
    provider = account.provider()
    doc = make_doc(lines=mixed_rate_lines(), exemption_basis="art. 43 ust. 1 pkt 29 lit. a ustawy o VAT",
                   notes="Dziękujemy za zakupy")

    created = provider.create_document(doc, settings())

    assert created.remote_id and created.number
    fetched = provider.fetch_document(created.remote_id)
    assert (fetched.remote_id, fetched.number) == (created.remote_id, created.number)
    assert fetched.totals == doc.totals
    assert fetched.total_gross == doc.total_gross
    stored = account.stored(doc.reference)
    assert rate_totals(stored) == doc.totals
    assert (stored["type"], stored["mode"], stored["transactionNumber"]) == ("INVOICE", "SALE", created.number)
    assert stored["nipNumber"] == "6272616681" and stored["customerAddress"]["country"] == "Polska"
    assert "art. 43 ust. 1 pkt 29 lit. a" in stored["invoiceAnnotations"]
    assert provider.fetch_pdf(created.remote_id).startswith(b"%PDF")


@pytest.mark.parametrize("lines", [
    # 3 × 0.99 at 23 %: per line the nets are 0.80 (2.40), per rate 2.97 → 2.41 + 0.56.
    [make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)],
    # Quantities and two rates where each line's own rounding adds up differently.
    [make_line("Łyżka", "7", "0.33", "23"), make_line("Widelec", "3", "1.01", "23"),
     make_line("Zeszyt", "2", "4.99", "5"), make_line("Ołówek", "3", "0.35", "5")],
])
def test_totals_follow_per_rate_rounding_like_the_hub(account, lines):
    provider = account.provider()
    doc = make_doc(lines=lines)

    created = provider.create_document(doc, settings())

    assert rate_totals(account.stored(doc.reference)) == doc.totals
    assert provider.fetch_document(created.remote_id).totals == doc.totals


def test_receipt_is_created_in_the_receipt_series(account):
    provider = account.provider()
    doc = make_doc(kind="receipt", reference="IB-12-PAR1", buyer=consumer_buyer(), hide_payment_date=True,
                   payment_due=None, payment_method="Gotówka", paid=True, paid_date=date(2025, 5, 14),
                   lines=[make_line("Herbata", "2", "18.50", "5")])

    created = provider.create_document(doc, settings())

    assert created.number.startswith("PAR/")
    stored = account.stored(doc.reference)
    assert (stored["type"], stored["paymentType"], stored["paymentStatus"]) == ("RECEIPT", "CASH", "PAID")
    assert stored["paymentDate"] is None
    fetched = provider.fetch_document(created.remote_id)
    assert fetched.totals == doc.totals and fetched.status == "paid"
    assert provider.fetch_pdf(created.remote_id).startswith(b"%PDF")


def test_eur_invoice_keeps_currency_and_rate(account):
    provider = account.provider()
    doc = make_doc(currency="EUR", exchange_rate=Decimal("4.2718"), lines=[make_line("Mug", "3", "12.30", "23")])

    created = provider.create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert stored["currency"] == "EUR"
    assert Decimal(str(stored["exchangeRate"])) == Decimal("4.2718")
    assert provider.fetch_document(created.remote_id).totals == doc.totals


def test_sku_on_links_the_catalogue_product_and_its_stock_moves(account):
    provider = account.provider()
    before = account.stock("SKU-001")
    doc = make_doc(lines=[make_line("Kubek ceramiczny 330 ml", "2", "29.99", "23", sku="SKU-001")])

    created = provider.create_document(doc, settings(send_sku=True))

    [entry] = account.stored(doc.reference)["transactionEntries"]
    assert entry["product"]["id"] == provider.product_ids(["SKU-001"])["SKU-001"]
    assert entry["productCode"] == "SKU-001"
    assert account.stock("SKU-001") == before - 2
    assert provider.fetch_document(created.remote_id).totals == doc.totals


def test_sku_off_sends_a_free_text_line_and_no_stock_moves(account):
    before = account.stock("SKU-001")
    doc = make_doc(lines=[make_line("Kubek ceramiczny 330 ml", "2", "29.99", "23", sku="SKU-001")])

    account.provider().create_document(doc, settings(send_sku=False))

    [entry] = account.stored(doc.reference)["transactionEntries"]
    assert entry["product"] is None and entry["name"] == "Kubek ceramiczny 330 ml"
    assert account.stock("SKU-001") == before


def test_sku_missing_from_the_catalogue_is_refused_before_anything_is_stored(account):
    doc = make_doc(lines=[make_line("Nowość", "1", "9.99", "23", sku="NIE-MA-TAKIEGO")])

    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(doc, settings(send_sku=True))

    assert list(refused.value.field_errors) == ["lines[0].sku"]
    assert account.documents(oid=doc.reference) == []


def test_hub_numbering_sends_the_number_and_the_service_keeps_it(account):
    doc = make_doc(number="FV/7/05/2025")

    created = account.provider().create_document(doc, settings(numbering="hub"))

    assert created.number == "FV/7/05/2025"
    assert account.stored(doc.reference)["transactionNumber"] == "FV/7/05/2025"


def test_linked_series_numbers_the_document(account):
    provider = account.provider()
    shop = next(c for c in provider.list_series() if "SKLEP" in c.name)
    doc = make_doc()

    created = provider.create_document(doc, settings(series_id=shop.id))

    assert created.number.startswith("FV/") and created.number.endswith("/SKLEP")
    assert account.stored(doc.reference)["transactionNumber"] == created.number


@pytest.mark.parametrize("answer_format", ["json", "text", "json_string"])
def test_next_number_is_read_in_each_answer_format(sandbox_url, answer_format):
    account = SandboxAccount(sandbox_url, next_number_format=answer_format)
    doc = make_doc(kind="receipt", buyer=consumer_buyer())

    created = account.provider().create_document(doc, settings())

    assert created.number.startswith("PAR/")
    assert account.stored(doc.reference)["transactionNumber"] == created.number


def test_omit_mode_takes_the_number_firmao_gives(account):
    doc = make_doc()

    created = account.provider(service_numbering="omit").create_document(doc, settings())

    assert created.number and account.stored(doc.reference)["transactionNumber"] == created.number


def test_hidden_payment_date_is_not_sent(account):
    doc = make_doc(hide_payment_date=True)

    account.provider().create_document(doc, settings())

    assert account.stored(doc.reference)["paymentDate"] is None


def test_a_known_nip_under_another_name_links_the_existing_customer(account):
    provider = account.provider()
    first = make_doc(reference="IB-C-1")
    renamed = make_doc(reference="IB-C-2", buyer=company_buyer(company_name="Hurtownia Żółw (nowa nazwa)"))

    provider.create_document(first, settings())
    provider.create_document(renamed, settings())

    one, two = account.stored("IB-C-1"), account.stored("IB-C-2")
    assert one["customer"]["id"] == two["customer"]["id"]
    assert two["customerName"] == "Hurtownia Żółw (nowa nazwa)"


# --------------------------------------------------------------------------- duplicates and look-up


@pytest.mark.parametrize("numbering", ["service", "hub"])
def test_second_create_with_the_same_reference_makes_no_second_document(account, numbering):
    provider = account.provider()
    doc = make_doc()
    provider.create_document(doc, settings(numbering=numbering))

    with pytest.raises(DuplicateReference):
        provider.create_document(doc, settings(numbering=numbering))

    assert len(account.documents(oid=doc.reference)) == 1
    assert provider.find_document(doc) is not None


@pytest.mark.parametrize("numbering, expected", [
    # Firmao's numbering: the one check kept before a create (a 5xx to a stored POST would be
    # retried under a fresh number), then the next number and the POST.
    ("service", [("GET", "/transactions"), ("GET", "/invoicenumbers/next"), ("POST", "/transactions")]),
    ("hub", [("POST", "/transactions")]),  # the unique number is the guard
])
def test_a_create_makes_only_the_requests_its_numbering_needs(account, numbering, expected):
    provider = account.provider()
    for n in range(3):  # earlier documents of the same day must not make the check page
        provider.create_document(make_doc(reference=f"IB-R-{n}", number=f"FV/R{n}/2025"), settings(numbering=numbering))
    account.log.clear()

    provider.create_document(make_doc(), settings(numbering=numbering))

    prefix = f"/{account.organization}/svc/v1"
    assert [(s.method, s.path.split("?")[0].removeprefix(prefix)) for s in account.log] == expected


def test_hub_number_taken_by_another_document_is_refused_with_the_fix(account):
    provider = account.provider()
    provider.create_document(make_doc(reference="IB-N-1", number="FV/1/2025"), settings(numbering="hub"))
    other = make_doc(reference="IB-N-2", number="FV/1/2025")

    with pytest.raises(ValidationRejected) as refused:
        provider.create_document(other, settings(numbering="hub"))

    assert not isinstance(refused.value, DuplicateReference)
    assert list(refused.value.field_errors) == ["number"]
    assert account.documents(oid="IB-N-2") == []


def test_find_document_by_reference(account):
    provider = account.provider()
    service_numbered = make_doc(reference="IB-1-SVC")
    hub_numbered = make_doc(reference="IB-1-HUB", number="FV/99/05/2025")
    created_service = provider.create_document(service_numbered, settings())
    created_hub = provider.create_document(hub_numbered, settings(numbering="hub"))

    found_service = provider.find_document(service_numbered)
    assert (found_service.remote_id, found_service.number) == (created_service.remote_id, created_service.number)
    assert provider.find_document(hub_numbered).remote_id == created_hub.remote_id
    assert provider.find_document(make_doc(reference="IB-1-SV")) is None  # a prefix of ours is not ours


def test_find_document_by_a_custom_field(account):
    provider = account.provider(reference_custom_field="custom5")
    doc = make_doc(reference="IB-CF-1")
    created = provider.create_document(doc, settings())

    assert account.stored(doc.reference)["customFields"] == {"custom5": "IB-CF-1"}
    assert provider.find_document(replace(doc, number="")).remote_id == created.remote_id


# --------------------------------------------------------------------------- errors


def test_a_refused_field_is_validation_rejected_with_field_errors(account):
    doc = make_doc()

    with pytest.raises(ValidationRejected) as refused:
        account.provider(bank_account_id="999").create_document(doc, settings())

    assert not isinstance(refused.value, DuplicateReference)
    assert list(refused.value.field_errors) == ["bankAccount"]
    assert account.documents(oid=doc.reference) == []


def test_an_unknown_payment_code_is_refused_naming_the_field(account):
    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(make_doc(), settings(payment_type="PAYPAL_X"))
    assert "paymentType" in refused.value.field_errors


def test_api_user_without_write_rights_is_authentication_failed(sandbox_url):
    reader = SandboxAccount(sandbox_url, read_only=True)
    with pytest.raises(AuthenticationFailed, match="403"):
        reader.provider().create_document(make_doc(), settings(numbering="hub"))


def test_auth_failure_fault_is_authentication_failed(account):
    account.set_faults(auth_failure=True)
    with pytest.raises(AuthenticationFailed):
        account.provider().create_document(make_doc(), settings())


def test_429_is_transient_with_retry_after(account):
    account.set_faults(rate_429=1.0, retry_after=3)
    doc = make_doc()

    with pytest.raises(TransientError) as throttled:
        account.provider().create_document(doc, settings(numbering="hub"))

    assert (throttled.value.status, throttled.value.retry_after) == (429, 3)
    account.clear_faults()
    assert account.documents(oid=doc.reference) == []


def test_the_services_own_throttle_without_retry_after_waits_five_seconds(sandbox_url):
    limited = SandboxAccount(sandbox_url, rate_limit={"requests": 1, "seconds": 60})
    provider = limited.provider()  # pacing off: the second call comes right after the first
    provider.check_connection()
    with pytest.raises(TransientError) as throttled:
        provider.check_connection()
    assert (throttled.value.status, throttled.value.retry_after) == (429, 5.0)


def test_5xx_is_transient(account):
    account.set_faults(error_5xx=1.0)
    with pytest.raises(TransientError) as failed:
        account.provider().create_document(make_doc(), settings(numbering="hub"))
    assert failed.value.status in (500, 502, 503)


def test_reset_after_sending_a_write_is_outcome_unknown(account):
    account.set_faults(reset=1.0)
    provider = account.provider()
    doc = make_doc()

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings(numbering="hub"))
    with pytest.raises(TransientError):  # a reset read is simply retried
        provider.fetch_document("50001")

    account.clear_faults()
    assert provider.find_document(doc) is None  # the reset came before the service stored it


def test_timeout_after_store_is_outcome_unknown_and_the_document_is_found(account):
    provider = account.provider()
    doc = make_doc()
    account.set_faults(timeout_after_store=1.0, hold_seconds=4)

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings(numbering="hub"))

    account.clear_faults()
    found = provider.find_document(doc)
    assert found is not None and found.number == doc.number
    assert found.total_gross == doc.total_gross
    assert [str(d["id"]) for d in account.documents(oid=doc.reference)] == [found.remote_id]


def test_request_log_says_what_was_called_without_the_password(account):
    provider = account.provider()
    provider.check_connection()
    provider.create_document(make_doc(), settings())

    calls = [(s.method, s.path.split("?")[0], s.status) for s in account.log]
    prefix = f"/{account.organization}/svc/v1"
    assert (("GET", f"{prefix}/invoicenumbers/next", 200) in calls
            and ("POST", f"{prefix}/transactions", 201) in calls)
    account.assert_password_never_logged()
