"""Contract: the inFakt adapter against the inFakt sandbox over real HTTP.

Each test gets its own sandbox account (random name and API key), so tests never see each
other's documents; fault settings are per account and cleared when the test ends.
"""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

import pytest
import requests

from providers.base import (
    AuthenticationFailed,
    DuplicateReference,
    OutcomeUnknown,
    RateTotal,
    StillProcessing,
    TransientError,
    ValidationRejected,
)
from providers.infakt import InfaktProvider
from providers.infakt_mapping import PAYMENT_TYPES

from .factories import consumer_buyer, make_correction, make_doc, make_line, settings

SERVICE = "infakt"
# Polls a few milliseconds apart: the sandbox finishes a task on its second poll.
FAST_POLLING = {"poll_initial_delay": "0.02", "poll_max_delay": "0.1", "poll_max_wait": "5"}


class SandboxAccount:
    """One fresh sandbox account plus the admin calls a test needs on it."""

    def __init__(self, sandbox_url: str, **options):
        self.sandbox_url = sandbox_url
        self.prefix = f"ct-{secrets.token_hex(5)}"
        self.key = f"key-{secrets.token_hex(12)}"
        response = requests.post(f"{sandbox_url}/_sandbox/{SERVICE}/accounts",
                                 json={"prefix": self.prefix, "api_token": self.key, "options": options}, timeout=5)
        assert response.status_code == 201, response.text
        self.log: list = []

    @property
    def base_url(self) -> str:
        return f"{self.sandbox_url}/{SERVICE}"

    def provider(self, key: str | None = None, timeout=(2, 2), **options) -> InfaktProvider:
        return InfaktProvider({"api_key": key or self.key}, base_url=self.base_url, timeout=timeout,
                              options={**FAST_POLLING, **options}, request_log=self.log.append)

    def set_faults(self, **settings) -> None:
        response = requests.put(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                                json={"account": self.prefix, **settings}, timeout=5)
        assert response.status_code == 200, response.text

    def clear_faults(self) -> None:
        requests.delete(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                        params={"account": self.prefix}, timeout=5).raise_for_status()

    def documents(self, reference: str | None = None, **params) -> list[dict]:
        params = {"account": self.prefix, **params}
        if reference is not None:
            params["oid"] = reference  # matches order numbers and text in the notes
        response = requests.get(f"{self.sandbox_url}/_sandbox/{SERVICE}/documents", params=params, timeout=5)
        response.raise_for_status()
        data = response.json()
        assert data["count"] == len(data["documents"])
        return data["documents"]

    def stored(self, reference: str) -> dict:
        found = self.documents(reference)
        assert len(found) == 1, f"expected exactly 1 document for {reference}, found {len(found)}"
        return found[0]

    def api_get(self, path: str) -> dict:
        response = requests.get(f"{self.base_url}/api/v3{path}", headers={"X-inFakt-ApiKey": self.key}, timeout=5)
        response.raise_for_status()
        return response.json()

    def assert_key_never_logged(self) -> None:
        for summary in self.log:
            assert self.key not in f"{summary} {summary.path} {summary.error}"


@pytest.fixture
def account(sandbox_url):
    acct = SandboxAccount(sandbox_url)
    yield acct
    acct.clear_faults()
    acct.assert_key_never_logged()


def make_account(sandbox_url, **options) -> SandboxAccount:
    return SandboxAccount(sandbox_url, **options)


def stored_rate_totals(stored: dict) -> tuple[RateTotal, ...]:
    def zl(grosze: int) -> Decimal:
        return (Decimal(grosze) / 100).quantize(Decimal("0.01"))

    return tuple(RateTotal(r["tax_symbol"], zl(r["net_price"]), zl(r["tax_price"]), zl(r["gross_price"]))
                 for r in stored["_sandbox"]["rate_totals"])


# --------------------------------------------------------------------------- account


def test_check_connection_returns_the_account_label(account):
    label = account.provider().check_connection()
    assert label == f"Sandbox {account.prefix} sp. z o.o. (NIP 5252344078)"


def test_a_wrong_key_is_authentication_failed(account):
    with pytest.raises(AuthenticationFailed, match="Ustawienia konta → API"):
        account.provider(key="not-the-key").check_connection()


@pytest.mark.parametrize("options, words", [
    ({"api_access": False}, "limit dokumentów"),  # 402
    ({"ip_blocked": True}, "adres IP"),  # 403
    ({"scopes": ["api:invoices:read"]}, "api:invoices:write"),  # 401 on the write
])
def test_plan_ip_block_and_missing_scope_are_authentication_failures(sandbox_url, options, words):
    acct = make_account(sandbox_url, **options)
    with pytest.raises(AuthenticationFailed) as refused:
        acct.provider().create_document(make_doc(), settings())
    assert words in refused.value.message
    assert acct.documents() == []


def test_the_monthly_document_limit_is_an_authentication_failure_not_a_validation_one(sandbox_url):
    acct = make_account(sandbox_url, monthly_invoice_limit=1)
    provider = acct.provider()
    provider.create_document(make_doc(reference="IB-L-1"), settings())
    with pytest.raises(AuthenticationFailed, match="402"):
        provider.create_document(make_doc(reference="IB-L-2"), settings())
    assert len(acct.documents()) == 1


def test_a_locked_account_is_transient(sandbox_url):
    acct = make_account(sandbox_url, locked=True)
    with pytest.raises(TransientError) as locked:
        acct.provider().create_document(make_doc(), settings())
    assert locked.value.status == 423


def test_series_and_payment_types(account):
    provider = account.provider()
    assert provider.list_series() == []
    assert provider.list_payment_types() == list(PAYMENT_TYPES)


# --------------------------------------------------------------------------- creating


def mixed_rate_lines():
    return [
        make_line("Kubek „Zażółć”", "2", "39.99", "23"),
        make_line("Ciasto", "1", "12.49", "8"),
        make_line("Książka", "1", "49.00", "5"),
        make_line("Eksport usługi", "1", "100.00", "0"),
        make_line("Szkolenie zwolnione", "1", "250.00", "zw"),
        make_line("Usługa poza Polską", "1", "80.00", "np"),
    ]


def test_invoice_is_created_and_reads_back_with_the_hubs_totals_per_rate(account):
    exemption = account.api_get("/vat_exemptions.json")["entities"][0]["id"]
    provider = account.provider(vat_exemption_reason=str(exemption))
    doc = make_doc(lines=mixed_rate_lines())

    created = provider.create_document(doc, settings())

    assert created.remote_id and created.number is None  # the task names only the uuid
    fetched = provider.fetch_document(created.remote_id)  # the pipeline's fetch step
    assert (fetched.remote_id, fetched.number) == (created.remote_id, "1/05/2025")  # the service's numbering
    assert fetched.total_gross == doc.total_gross
    assert fetched.totals == doc.totals
    stored = account.stored(doc.reference)
    assert stored_rate_totals(stored) == doc.totals
    assert stored["vat_exemption_reason"] == exemption
    assert [s["tax_symbol"] for s in stored["services"]] == ["23", "8", "5", "0", "zw", "np"]
    assert stored["client_tax_code"] == "6272616681" and stored["client_street_number"] == "12"
    assert provider.fetch_pdf(created.remote_id).startswith(b"%PDF")


def test_per_rate_rounding_follows_the_hub_where_per_line_rounding_differs(account):
    # 3 × 0.99 at 23 %: per line net 0.80 (sum 2.40), per rate 2.97 / 1.23 = 2.41.
    doc = make_doc(lines=[make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)])
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)
    provider = account.provider()

    created = provider.create_document(doc, settings())

    assert stored_rate_totals(account.stored(doc.reference)) == doc.totals
    assert provider.fetch_document(created.remote_id).totals == doc.totals


def test_paid_consumer_invoice_in_euro(account):
    doc = make_doc(buyer=consumer_buyer(), currency="EUR", exchange_rate=Decimal("4.2718"), paid=True,
                   paid_date=date(2025, 5, 14), payment_method="Karta", lines=[make_line("Mug", "3", "12.30", "23")])

    provider = account.provider()
    created = provider.create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert (stored["client_first_name"], stored["client_last_name"]) == ("Małgorzata", "Wójcik")
    assert (stored["client_street"], stored["client_street_number"], stored["client_flat_number"]) == (
        "ul. Źródlana", "3", "5")
    assert (stored["currency"], stored["status"], stored["payment_method"]) == ("EUR", "paid", "card")
    assert stored["paid_date"] == "2025-05-14"
    assert provider.fetch_document(created.remote_id).total_gross == Decimal("36.90")


def test_hub_numbering_keeps_the_number_and_the_service_guards_it(account):
    provider = account.provider()
    doc = make_doc(number="FV/7/05/2025")

    created = provider.create_document(doc, settings(numbering="hub"))
    with pytest.raises(DuplicateReference) as refused:
        provider.create_document(doc, settings(numbering="hub"))

    assert provider.fetch_document(created.remote_id).number == "FV/7/05/2025"
    assert "number" in refused.value.field_errors
    assert len(account.documents(doc.reference)) == 1


@pytest.mark.parametrize("numbering", ["service", "hub"])
def test_a_create_is_one_post_and_its_status_polls_and_find_document_finds_it(account, numbering):
    # Exactly once is the pipeline's (a claim before the POST, find_document after an unknown
    # outcome): the create itself neither searches first nor reads the document back.
    provider = account.provider()
    doc = make_doc()

    created = provider.create_document(doc, settings(numbering=numbering))

    calls = [(s.method, s.path) for s in account.log]
    assert calls[0] == ("POST", "/api/v3/async/invoices.json")
    assert calls[1:] and all(c[0] == "GET" and c[1].startswith("/api/v3/async/invoices/status/")
                             for c in calls[1:])
    assert len(account.documents(doc.reference)) == 1
    assert provider.find_document(doc).remote_id == created.remote_id


def test_find_document_by_reference(account):
    provider = account.provider()
    service_numbered = make_doc(reference="IB-1-SVC")
    hub_numbered = make_doc(reference="IB-1-HUB", number="FV/99/05/2025")
    consumer = make_doc(reference="IB-1-CON", buyer=consumer_buyer())
    created_service = provider.create_document(service_numbered, settings())
    created_hub = provider.create_document(hub_numbered, settings(numbering="hub"))
    created_consumer = provider.create_document(consumer, settings())

    assert provider.find_document(service_numbered).remote_id == created_service.remote_id
    assert provider.find_document(hub_numbered).remote_id == created_hub.remote_id
    assert provider.find_document(consumer).remote_id == created_consumer.remote_id
    assert provider.find_document(make_doc(reference="IB-1-SV")) is None  # a prefix is not ours
    assert len(account.documents()) == 3


def test_ksef_state_is_read_back(sandbox_url):
    acct = make_account(sandbox_url, ksef_reads=1)
    provider = acct.provider(send_to_ksef="1")

    created = provider.create_document(make_doc(), settings())
    first = provider.fetch_document(created.remote_id)  # the first read still shows it on its way
    fetched = provider.fetch_document(created.remote_id)

    assert first.ksef is not None and first.ksef.status == "processing" and first.ksef.number is None
    assert fetched.ksef.status == "accepted"
    assert fetched.ksef.number.startswith("5252344078-")


# --------------------------------------------------------------------------- corrections


def test_correction_of_a_created_invoice_is_linked_to_it(account):
    provider = account.provider()
    mug, plate = make_line("Kubek", "2", "39.99", "23"), make_line("Talerz", "1", "25.00", "8")
    original = make_doc(lines=[mug, plate])
    invoice = provider.create_document(original, settings())
    fewer_mugs = make_line("Kubek", "1", "39.99", "23")
    correction = make_correction([(mug, fewer_mugs), (plate, plate)], original_remote_id=invoice.remote_id)

    corrected = provider.create_document(correction, settings())

    assert corrected.remote_id.startswith("corrective:")
    invoice_number = provider.fetch_document(invoice.remote_id).number
    assert provider.fetch_document(corrected.remote_id).number not in (None, invoice_number)
    [stored] = account.documents(correction.reference, kind="correction")
    assert stored["corrected_invoice_uuid"] == invoice.remote_id
    assert stored["corrected_invoice_number"] == invoice_number  # the service's number, not the hub's
    assert stored["client_id"]  # a client card was made for the buyer
    assert stored["gross_price"] == -3999
    fetched = provider.fetch_document(corrected.remote_id)
    assert fetched.totals == correction.totals  # the after-state, as the hub keeps it
    assert provider.fetch_pdf(corrected.remote_id).startswith(b"%PDF")
    assert provider.find_document(correction).remote_id == corrected.remote_id


def test_a_correction_removing_a_line_and_a_second_one_reuse_the_client(account):
    provider = account.provider()
    mug, plate = make_line("Kubek", "2", "39.99", "23"), make_line("Talerz", "1", "25.00", "8")
    invoice = provider.create_document(make_doc(lines=[mug, plate]), settings())

    first = provider.create_document(
        make_correction([(mug, mug), (plate, None)], original_remote_id=invoice.remote_id, reference="IB-K-1"),
        settings())
    second = provider.create_document(
        make_correction([(mug, make_line("Kubek", "1", "39.99", "23"))], original_remote_id=invoice.remote_id,
                        reference="IB-K-2"), settings())

    stored = account.documents(kind="correction")
    assert {d["uuid"] for d in stored} == {first.remote_id.removeprefix("corrective:"),
                                           second.remote_id.removeprefix("corrective:")}
    assert len({d["client_id"] for d in stored}) == 1
    assert sorted(d["gross_price"] for d in stored) == [-3999, -2500]


def test_an_unknown_correction_reason_symbol_is_refused_by_the_service(account):
    provider = account.provider()
    mug = make_line("Kubek", "2", "39.99", "23")
    invoice = provider.create_document(make_doc(lines=[mug]), settings())
    correction = make_correction([(mug, make_line("Kubek", "1", "39.99", "23"))],
                                 original_remote_id=invoice.remote_id)

    with pytest.raises(ValidationRejected) as refused:
        account.provider(correction_reason="bo_tak").create_document(correction, settings())

    assert not isinstance(refused.value, DuplicateReference)
    assert list(refused.value.field_errors) == ["correction_reason"]
    assert account.documents(kind="correction") == []


def test_correcting_an_invoice_that_is_gone_is_refused(account):
    missing = make_correction([(make_line(quantity="2"), make_line())],
                              original_remote_id="5b0c7a0e-0000-4000-8000-000000000000")
    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(missing, settings())
    assert "correction.original_remote_id" in refused.value.field_errors


# --------------------------------------------------------------------------- errors


def test_the_documented_write_limit_is_transient(sandbox_url):
    acct = make_account(sandbox_url, rate_limit_other=1)
    provider = acct.provider()
    provider.create_document(make_doc(reference="IB-R-1"), settings())

    with pytest.raises(TransientError) as throttled:
        provider.create_document(make_doc(reference="IB-R-2"), settings())

    assert throttled.value.status == 429 and throttled.value.retry_after is None  # no header by default
    assert len(acct.documents()) == 1


def test_503_as_the_write_limit_is_transient_and_stores_nothing(sandbox_url):
    # The contract says "429 or 503" for too many requests: inFakt's 503 is a throttle, not an outage.
    acct = make_account(sandbox_url, rate_limit_other=1, rate_limit_status=503)
    provider = acct.provider()
    provider.create_document(make_doc(reference="IB-R-1"), settings())

    with pytest.raises(TransientError) as throttled:
        provider.create_document(make_doc(reference="IB-R-2"), settings())

    assert throttled.value.status == 503
    assert len(acct.documents()) == 1


def test_429_fault_is_transient_with_retry_after(account):
    account.set_faults(rate_429=1.0, retry_after=3)
    with pytest.raises(TransientError) as throttled:
        account.provider().create_document(make_doc(), settings())
    assert (throttled.value.status, throttled.value.retry_after) == (429, 3)
    account.clear_faults()
    assert account.documents() == []


def test_5xx_is_transient(account):
    account.set_faults(error_5xx=1.0)
    with pytest.raises(TransientError) as failed:
        account.provider().create_document(make_doc(), settings())
    assert failed.value.status in (500, 502, 503)


def test_auth_failure_fault_is_authentication_failed(account):
    account.set_faults(auth_failure=True)
    with pytest.raises(AuthenticationFailed):
        account.provider().create_document(make_doc(), settings())


def test_reset_after_sending_the_create_is_outcome_unknown_and_nothing_is_found(account):
    provider = account.provider()
    doc = make_doc()
    account.set_faults(reset=1.0)

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())

    account.clear_faults()
    assert provider.find_document(doc) is None  # the reset came first: a retry is safe


def test_timeout_after_store_is_outcome_unknown_and_the_document_is_found(sandbox_url):
    acct = make_account(sandbox_url, async_seconds=0)  # the service finishes the task by itself
    provider = acct.provider(timeout=(2, 0.5))
    doc = make_doc()
    acct.set_faults(timeout_after_store=1.0, hold_seconds=1)

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())

    acct.clear_faults()
    found = InfaktProvider({"api_key": acct.key}, base_url=acct.base_url).find_document(doc)  # a fresh worker
    assert found is not None and found.number
    assert found.total_gross == doc.total_gross
    assert [d["uuid"] for d in acct.documents(doc.reference)] == [found.remote_id]


def test_polling_out_of_time_is_outcome_unknown_and_the_task_is_found_later(sandbox_url):
    acct = make_account(sandbox_url, async_polls=3, async_seconds=None)
    doc = make_doc()

    with pytest.raises(OutcomeUnknown) as lost:
        acct.provider(poll_max_wait="0").create_document(doc, settings())

    found, running = None, 0
    for _ in range(5):  # each look asks the task, which moves it on
        try:
            # A new adapter each time, as each pipeline job builds: it knows the task only from
            # what the pipeline kept of the unknown outcome.
            found = acct.provider().find_document(doc, pending_ref=lost.value.pending_ref)
        except StillProcessing:
            running += 1  # "not there yet", never "not there"
            continue
        break
    assert running >= 1
    assert found is not None and found.number
    assert [d["uuid"] for d in acct.documents(doc.reference)] == [found.remote_id]


def test_request_log_has_no_key_but_says_what_was_called(account):
    provider = account.provider()
    provider.check_connection()
    provider.create_document(make_doc(), settings())
    paths = [summary.path for summary in account.log]
    assert paths[0] == "/api/v3/account/details.json"
    assert "/api/v3/async/invoices.json" in paths
    assert any(p.startswith("/api/v3/async/invoices/status/") for p in paths)


def test_non_ascii_key_is_refused_before_sending(account):
    with pytest.raises(AuthenticationFailed):
        account.provider(key="zły-klucz-ąę").check_connection()
    assert account.log == []
