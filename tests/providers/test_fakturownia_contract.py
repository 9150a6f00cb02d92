"""Contract: the Fakturownia adapter against the Fakturownia sandbox over real HTTP.

Each test gets its own sandbox account (random prefix and token), so tests never see each
other's documents; fault settings are per account and cleared when the test ends.
"""

from __future__ import annotations

import secrets
import urllib.parse
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
import requests

from providers.base import (
    AuthenticationFailed,
    DuplicateReference,
    ExportSettings,
    OutcomeUnknown,
    ProviderError,
    RateTotal,
    TransientError,
    ValidationRejected,
)
from providers.fakturownia import FakturowniaProvider
from providers.fakturownia_mapping import PAYMENT_TYPES

from .factories import consumer_buyer, make_correction, make_doc, make_line, settings

SERVICE = "fakturownia"


class SandboxAccount:
    """One fresh sandbox account plus the admin calls a test needs on it."""

    def __init__(self, sandbox_url: str, options: dict | None = None):
        self.sandbox_url = sandbox_url
        self.prefix = f"ct-{secrets.token_hex(5)}"
        # Characters that change under URL encoding show a leak in either form.
        self.token = f"tok+{secrets.token_hex(8)}=="
        body = {"prefix": self.prefix, "api_token": self.token}
        if options:
            body["options"] = options
        response = requests.post(f"{sandbox_url}/_sandbox/{SERVICE}/accounts", json=body, timeout=5)
        assert response.status_code == 201, response.text
        self.log: list = []

    @property
    def base_url(self) -> str:
        return f"{self.sandbox_url}/{SERVICE}/{self.prefix}"

    def provider(self, token: str | None = None) -> FakturowniaProvider:
        return FakturowniaProvider(
            {"api_token": token or self.token, "account_prefix": self.prefix},
            base_url=self.base_url,
            timeout=(2, 2),
            request_log=self.log.append,
        )

    def set_faults(self, **settings) -> None:
        response = requests.put(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                                json={"account": self.prefix, **settings}, timeout=5)
        assert response.status_code == 200, response.text

    def clear_faults(self) -> None:
        requests.delete(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                        params={"account": self.prefix}, timeout=5).raise_for_status()

    def documents(self, oid: str | None = None) -> list[dict]:
        params = {"account": self.prefix}
        if oid is not None:
            params["oid"] = oid
        response = requests.get(f"{self.sandbox_url}/_sandbox/{SERVICE}/documents", params=params, timeout=5)
        response.raise_for_status()
        data = response.json()
        assert data["count"] == len(data["documents"])
        return data["documents"]

    def stored(self, oid: str) -> dict:
        found = self.documents(oid)
        assert len(found) == 1, f"expected exactly 1 document with oid {oid}, found {len(found)}"
        return found[0]

    def assert_token_never_logged(self) -> None:
        forms = {self.token, urllib.parse.quote(self.token, safe=""), urllib.parse.quote_plus(self.token),
                 self.token.strip("=+")}
        for summary in self.log:
            text = f"{summary} {summary.method} {summary.path} {summary.error}"
            for form in forms:
                assert form not in text, f"token leaked into request log: {text}"


@pytest.fixture
def account(sandbox_url):
    acct = SandboxAccount(sandbox_url)
    yield acct
    acct.clear_faults()
    acct.assert_token_never_logged()


@pytest.fixture
def ksef_slow_account(sandbox_url):
    """KSeF keeps a new document "processing" for its first read."""
    acct = SandboxAccount(sandbox_url, options={"ksef_delay_reads": 1})
    yield acct
    acct.clear_faults()
    acct.assert_token_never_logged()


def mixed_rate_lines():
    # One line per rate, so per-line and per-rate rounding agree here.
    return [
        make_line("Kubek „Zażółć”", "2", "39.99", "23", sku="SKU-001"),
        make_line("Ciasto", "1", "12.49", "8"),
        make_line("Książka", "1", "49.00", "5"),
        make_line("Eksport usługi", "1", "100.00", "0"),
        make_line("Szkolenie zwolnione", "1", "250.00", "zw"),
        make_line("Usługa poza Polską", "1", "80.00", "np"),
        make_line("Stal – odwrotne obciążenie", "1", "300.00", "oo"),
    ]


def as_rate_totals(rows: list[dict]) -> tuple[RateTotal, ...]:
    return tuple(RateTotal(r["rate"], Decimal(r["net"]), Decimal(r["vat"]), Decimal(r["gross"])) for r in rows)


# --------------------------------------------------------------------------- account


def test_check_connection_returns_account_label(account):
    label = account.provider().check_connection()
    assert account.prefix in label
    assert "Sklep internetowy" in label  # the main department's name


def test_check_connection_with_wrong_token_is_authentication_failed(account):
    with pytest.raises(AuthenticationFailed):
        account.provider(token="not-the-token").check_connection()


def test_non_ascii_wrong_token_is_authentication_failed(account):
    with pytest.raises(AuthenticationFailed):
        account.provider(token="zły-kod-ąę").check_connection()


def test_list_series_returns_the_seeded_departments(account):
    series = account.provider().list_series()
    assert [choice.name for choice in series] == ["Sklep internetowy", "Hurtownia"]
    assert all(choice.id.isdigit() for choice in series)


def test_list_payment_types(account):
    types = account.provider().list_payment_types()
    assert types == list(PAYMENT_TYPES)
    assert {"transfer", "card", "cash", "off"} <= {choice.id for choice in types}


# --------------------------------------------------------------------------- creating


def test_invoice_is_created_and_reads_back_with_the_hubs_totals_per_rate(account):
    provider = account.provider()
    doc = make_doc(lines=mixed_rate_lines(), exemption_basis="art. 43 ust. 1 pkt 29 lit. a ustawy o VAT")

    created = provider.create_document(doc, settings())

    assert created.remote_id and created.number
    assert created.total_gross == doc.total_gross
    fetched = provider.fetch_document(created.remote_id)
    assert fetched.remote_id == created.remote_id and fetched.number == created.number
    assert fetched.totals == doc.totals
    assert fetched.total_gross == doc.total_gross
    stored = account.stored(doc.reference)
    assert stored["kind"] == "vat"
    assert stored["exempt_tax_kind"] == "art. 43 ust. 1 pkt 29 lit. a ustawy o VAT"
    assert stored["reverse_charge"] is True
    assert provider.fetch_pdf(created.remote_id).startswith(b"%PDF")


def test_sandbox_rounds_vat_per_rate_like_the_hub(account):
    # 3 × 0.99 at 23 %: per line net 0.80 (sum 2.40), per rate 2.97 / 1.23 = 2.41.
    lines = [make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)]
    doc = make_doc(lines=lines)
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)

    account.provider().create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert as_rate_totals(stored["_sandbox"]["rate_totals"]) == doc.totals
    assert Decimal(stored["price_net"]) == doc.total_net
    assert Decimal(stored["price_tax"]) == doc.total_vat


def test_fetched_totals_follow_per_rate_rounding(account):
    provider = account.provider()
    lines = [make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)]
    doc = make_doc(lines=lines)

    created = provider.create_document(doc, settings())

    assert provider.fetch_document(created.remote_id).totals == doc.totals


def test_receipt_is_created(account):
    provider = account.provider()
    doc = make_doc(kind="receipt", reference="IB-12-PAR1", buyer=consumer_buyer(), hide_payment_date=True,
                   payment_due=None, payment_method="Karta", paid=True, paid_date=date(2025, 5, 14),
                   lines=[make_line("Herbata", "2", "18.50", "5")])

    created = provider.create_document(doc, settings())

    assert created.number and created.number.startswith("PAR")
    stored = account.stored(doc.reference)
    assert stored["kind"] == "receipt"
    assert stored["payment_type"] == "card"
    assert Decimal(stored["price_gross"]) == Decimal("37.00")
    assert provider.fetch_document(created.remote_id).totals == doc.totals


def test_eur_invoice_keeps_currency_and_rate(account):
    provider = account.provider()
    doc = make_doc(currency="EUR", exchange_rate=Decimal("4.2718"),
                   lines=[make_line("Mug", "3", "12.30", "23")])

    created = provider.create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert stored["currency"] == "EUR"
    assert Decimal(stored["exchange_currency_rate"]) == Decimal("4.2718")
    assert provider.fetch_document(created.remote_id).totals == doc.totals
    assert created.total_gross == Decimal("36.90")


def test_sku_on_links_the_seeded_product(account):
    provider = account.provider()
    doc = make_doc(lines=[make_line("Kubek ceramiczny 330 ml", "2", "29.99", "23", sku="SKU-001")])

    provider.create_document(doc, settings(send_sku=True))

    position = account.stored(doc.reference)["positions"][0]
    assert position["code"] == "SKU-001"
    assert position["product_id"] == provider.product_ids()["SKU-001"]
    assert position["product_id"] is not None


def test_sku_off_sends_no_product(account):
    doc = make_doc(lines=[make_line("Kubek ceramiczny 330 ml", "2", "29.99", "23", sku="SKU-001")])

    account.provider().create_document(doc, settings(send_sku=False))

    position = account.stored(doc.reference)["positions"][0]
    assert position["code"] is None
    assert position["product_id"] is None


def test_hub_numbering_sends_the_number_and_the_service_keeps_it(account):
    doc = make_doc(number="FV/7/05/2025")

    created = account.provider().create_document(doc, settings(numbering="hub"))

    assert created.number == "FV/7/05/2025"
    assert account.stored(doc.reference)["number"] == "FV/7/05/2025"


def test_linked_series_sets_the_department(account):
    provider = account.provider()
    wholesale = next(c for c in provider.list_series() if c.name == "Hurtownia")
    doc = make_doc()

    created = provider.create_document(doc, settings(series_id=wholesale.id))

    assert account.stored(doc.reference)["department_id"] == int(wholesale.id)
    assert created.number.startswith("H/")  # the department's own numbering


def test_hidden_payment_date_is_stored_as_off(account):
    doc = make_doc(hide_payment_date=True)

    account.provider().create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert stored["payment_to_kind"] == "off"
    assert stored["payment_to"] is None


def test_correction_of_a_created_invoice_is_linked(account):
    provider = account.provider()
    mug = make_line("Kubek", "2", "39.99", "23")
    original = make_doc(lines=[mug])
    created = provider.create_document(original, settings())
    fewer_mugs = make_line("Kubek", "1", "39.99", "23")
    correction = make_correction([(mug, fewer_mugs)], original_remote_id=created.remote_id)
    correction = replace(correction, correction=replace(correction.correction, original_number=created.number))

    corrected = provider.create_document(correction, settings())

    assert corrected.number and corrected.number != created.number
    stored = account.stored(correction.reference)
    assert stored["kind"] == "correction"
    assert stored["invoice_id"] == int(created.remote_id)
    assert stored["from_invoice_id"] == int(created.remote_id)
    assert Decimal(stored["price_gross"]) == Decimal("-39.99")


def test_fetched_correction_reports_after_state_totals_like_the_hub(account):
    # 10.00 → 5.00 at 23 %: per rate the difference -5.00 splits into -4.07 / -0.93, while
    # after − before per row gives 4.07 − 8.13 = -4.06 / 0.93 − 1.87 = -0.94. The hub compares
    # the after-state totals (5.00 → 4.07 / 0.93), and so must the adapter report them.
    provider = account.provider()
    before = make_line("Kubek", "1", "10.00", "23")
    original = make_doc(lines=[before])
    created = provider.create_document(original, settings())
    after = make_line("Kubek", "1", "5.00", "23")
    correction = make_correction([(before, after)], original_remote_id=created.remote_id)
    assert correction.totals == (RateTotal("23", Decimal("4.07"), Decimal("0.93"), Decimal("5.00")),)

    corrected = provider.create_document(correction, settings())
    fetched = provider.fetch_document(corrected.remote_id)

    assert fetched.totals == correction.totals
    assert corrected.totals == correction.totals
    stored = account.stored(correction.reference)
    assert Decimal(stored["price_gross"]) == Decimal("-5.00")
    # [UNCONFIRMED] The sandbox rounds the difference once per rate (-4.07), not as after − before
    # of the rows (-4.06) the hub prints; how the real service rounds it is not documented, which
    # is why the difference is not what the hub compares.
    assert Decimal(stored["price_net"]) == Decimal("-4.07")


def test_second_create_with_the_same_reference_is_duplicate(account):
    provider = account.provider()
    doc = make_doc()
    provider.create_document(doc, settings())

    with pytest.raises(DuplicateReference) as refused:
        provider.create_document(doc, settings())

    assert "oid" in refused.value.field_errors
    assert len(account.documents(doc.reference)) == 1


def test_find_document_by_reference(account):
    provider = account.provider()
    service_numbered = make_doc(reference="IB-1-SVC")
    hub_numbered = make_doc(reference="IB-1-HUB", number="FV/99/05/2025")
    created_service = provider.create_document(service_numbered, settings())
    created_hub = provider.create_document(hub_numbered, settings(numbering="hub"))

    assert provider.find_document(service_numbered).remote_id == created_service.remote_id
    assert provider.find_document(hub_numbered).remote_id == created_hub.remote_id
    assert provider.find_document(make_doc(reference="IB-1-UNKNOWN")) is None


def test_ksef_status_becomes_accepted_after_fetches(ksef_slow_account):
    provider = ksef_slow_account.provider()
    created = provider.create_document(make_doc(), settings())
    assert created.ksef is not None and created.ksef.status == "processing"

    first = provider.fetch_document(created.remote_id)
    second = provider.fetch_document(created.remote_id)

    assert first.ksef.status == "processing" and first.ksef.number is None
    assert second.ksef.status == "accepted"
    assert second.ksef.number and second.ksef.number.startswith("5252344078-20250514-")
    assert second.ksef.verification_link


# --------------------------------------------------------------------------- errors


def test_unknown_department_is_validation_rejected_with_field_errors(account):
    doc = make_doc()

    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(doc, settings(series_id="999999"))

    assert not isinstance(refused.value, DuplicateReference)
    assert list(refused.value.field_errors) == ["department_id"]
    assert account.documents(doc.reference) == []


def test_auth_failure_fault_is_authentication_failed(account):
    account.set_faults(auth_failure=True)

    with pytest.raises(AuthenticationFailed):
        account.provider().create_document(make_doc(), settings())


def test_429_is_transient_with_retry_after(account):
    account.set_faults(rate_429=1.0, retry_after=3)
    doc = make_doc()

    with pytest.raises(TransientError) as throttled:
        account.provider().create_document(doc, settings())

    assert throttled.value.status == 429
    assert throttled.value.retry_after == 3
    account.clear_faults()
    assert account.documents(doc.reference) == []


def test_5xx_is_transient(account):
    account.set_faults(error_5xx=1.0)

    with pytest.raises(TransientError) as failed:
        account.provider().create_document(make_doc(), settings())

    assert failed.value.status in (500, 502, 503)


def test_reset_after_sending_a_write_is_outcome_unknown(account):
    account.set_faults(reset=1.0)
    provider = account.provider()
    doc = make_doc()

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())
    with pytest.raises(TransientError):  # a reset read is simply retried
        provider.fetch_document("100001")

    account.clear_faults()
    # This reset came before the handler ran, so the look-up finds nothing and a retry is safe.
    assert provider.find_document(doc) is None


def test_timeout_after_store_is_outcome_unknown_and_the_document_is_found(account):
    account.set_faults(timeout_after_store=1.0, hold_seconds=4)
    provider = account.provider()
    doc = make_doc()

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())

    account.clear_faults()
    found = provider.find_document(doc)
    assert found is not None and found.number
    assert found.total_gross == doc.total_gross
    assert [d["id"] for d in account.documents(doc.reference)] == [int(found.remote_id)]


def test_request_log_has_no_token_but_says_what_was_called(account):
    provider = account.provider()
    provider.check_connection()
    provider.create_document(make_doc(), ExportSettings())

    paths = [(s.method, s.path.split("?")[0], s.status) for s in account.log]
    assert ("GET", "/departments.json", 200) in paths
    assert ("POST", "/invoices.json", 201) in paths
    account.assert_token_never_logged()


# --------------------------------------------------------------------------- more faults and forms


def test_the_write_rate_limit_is_transient_and_stores_nothing(account):
    account.set_faults(write_limit={"count": 1, "seconds": 60})
    provider = account.provider()
    provider.create_document(make_doc(reference="IB-W-1"), settings())

    with pytest.raises(TransientError) as throttled:
        provider.create_document(make_doc(reference="IB-W-2"), settings())

    assert throttled.value.status == 429 and throttled.value.retry_after
    assert account.documents("IB-W-2") == []
    assert provider.fetch_document(provider.find_document(make_doc(reference="IB-W-1")).remote_id).number


def test_the_prefixed_token_form_works_against_the_sandbox(account):
    provider = FakturowniaProvider({"api_token": f"{account.token}/{account.prefix}"}, base_url=account.base_url,
                                   timeout=(2, 2), request_log=account.log.append)
    doc = make_doc()

    created = provider.create_document(doc, settings())

    assert account.stored(doc.reference)["id"] == int(created.remote_id)
    with pytest.raises(AuthenticationFailed):  # the part after "/" must be this account
        FakturowniaProvider({"api_token": f"{account.token}/someone-else"}, base_url=account.base_url,
                            timeout=(2, 2)).check_connection()


def test_fetching_a_document_that_does_not_exist_is_a_plain_error(account):
    with pytest.raises(ProviderError, match="nie znaleziono") as missing:
        account.provider().fetch_document("999999999")
    assert not isinstance(missing.value, TransientError | AuthenticationFailed)


def test_a_sku_missing_from_the_catalogue_is_sent_as_a_code_and_noted(account):
    provider = account.provider()
    doc = make_doc(lines=[make_line("Kubek ceramiczny 330 ml", "1", "29.99", "23", sku="SKU-001"),
                          make_line("Coś spoza katalogu", "1", "5.00", "23", sku="SKU-404")])

    provider.create_document(doc, settings(send_sku=True))

    linked, unlinked = account.stored(doc.reference)["positions"]
    assert linked["code"] == "SKU-001" and linked["product_id"] is not None
    assert unlinked["code"] == "SKU-404" and unlinked["product_id"] is None
    assert provider.notes and "SKU-404" in provider.notes[0] and "SKU-001" not in provider.notes[0]


def test_a_receipt_without_a_buyer_is_accepted(account):
    anonymous = consumer_buyer(name="", first_name="", last_name="", email="", phone="", street="", post_code="",
                               city="")
    doc = make_doc(kind="receipt", reference="IB-12-PAR9", buyer=anonymous, payment_method="Gotówka",
                   lines=[make_line("Herbata", "1", "18.50", "5")])
    provider = account.provider()
    assert provider.preflight(doc, settings()) == []

    created = provider.create_document(doc, settings())

    assert created.number.startswith("PAR")
    assert account.stored(doc.reference)["buyer_company"] is False


def test_an_invoice_without_a_buyer_is_still_refused_before_sending(account):
    anonymous = consumer_buyer(name="", first_name="", last_name="")
    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(make_doc(buyer=anonymous), settings())
    assert list(refused.value.field_errors) == ["buyer.name"]


@pytest.mark.parametrize("value, submitted", [("1", True), ("0", False)])
def test_gov_save_and_send_decides_whether_the_sandbox_sends_to_ksef(sandbox_url, value, submitted):
    acct = SandboxAccount(sandbox_url, options={"ksef": "on_request"})
    doc = make_doc()

    FakturowniaProvider({"api_token": acct.token, "account_prefix": acct.prefix}, base_url=acct.base_url,
                        timeout=(2, 2), options={"gov_save_and_send": value}).create_document(doc, settings())

    assert (acct.stored(doc.reference)["gov_status"] is not None) is submitted
