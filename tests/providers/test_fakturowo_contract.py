"""Contract: the Fakturowo adapter against the Fakturowo sandbox over real HTTP.

Each test gets its own sandbox account (the key alone identifies it), so tests never see each
other's documents; fault settings are per account and cleared when the test ends. Accounts print
`produkt_jm` with the shifted unit table, the adapter's default reading of the live service.
"""

from __future__ import annotations

import secrets
import threading
import urllib.parse
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
import requests

from providers.base import (
    AuthenticationFailed,
    DuplicateReference,
    OutcomeUnknown,
    ProviderError,
    RateTotal,
    TransientError,
    ValidationRejected,
)
from providers.fakturowo import FakturowoProvider
from providers.fakturowo_mapping import PAYMENT_TYPES

from .factories import SELLER, company_buyer, consumer_buyer, make_doc, make_line, settings

SERVICE = "fakturowo"
EXEMPTION = "art. 43 ust. 1 pkt 29 lit. a ustawy o VAT"


class SandboxAccount:
    """One fresh sandbox account plus the admin calls a test needs on it."""

    def __init__(self, sandbox_url: str, **options):
        self.sandbox_url = sandbox_url
        self.prefix = f"ct-{secrets.token_hex(5)}"
        # Characters that change under form encoding show a leak in either form.
        self.key = f"key+{secrets.token_hex(12)}=="
        body = {"prefix": self.prefix, "api_token": self.key, "options": {"unit_codes": "shifted", **options}}
        response = requests.post(f"{sandbox_url}/_sandbox/{SERVICE}/accounts", json=body, timeout=5)
        assert response.status_code == 201, response.text
        self.log: list = []

    @property
    def api_url(self) -> str:
        return f"{self.sandbox_url}/{SERVICE}/api"

    def provider(self, key: str | None = None, **options) -> FakturowoProvider:
        return FakturowoProvider({"api_id": key or self.key}, base_url=self.api_url, options=options,
                                 timeout=(2, 2), request_log=self.log.append)

    def set_faults(self, **faults) -> None:
        response = requests.put(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                                json={"account": self.prefix, **faults}, timeout=5)
        assert response.status_code == 200, response.text

    def clear_faults(self) -> None:
        requests.delete(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                        params={"account": self.prefix}, timeout=5).raise_for_status()

    def documents(self, **filters) -> list[dict]:
        response = requests.get(f"{self.sandbox_url}/_sandbox/{SERVICE}/documents",
                                params={"account": self.prefix, **filters}, timeout=5)
        response.raise_for_status()
        data = response.json()
        assert data["count"] == len(data["documents"])
        return data["documents"]

    def stored(self, reference: str) -> dict:
        found = self.documents(reference=reference)
        assert len(found) == 1, f"expected exactly 1 document for {reference}, found {len(found)}"
        return found[0]

    def assert_key_never_logged(self) -> None:
        forms = {self.key, urllib.parse.quote(self.key, safe=""), urllib.parse.quote_plus(self.key),
                 self.key.strip("=+")}
        for summary in self.log:
            text = f"{summary} {summary.method} {summary.path} {summary.error}"
            for form in forms:
                assert form not in text, f"key leaked into request log: {text}"


@pytest.fixture
def account(sandbox_url):
    acct = SandboxAccount(sandbox_url)
    yield acct
    acct.clear_faults()
    acct.assert_key_never_logged()


def mixed_rate_lines():
    return [
        make_line("Kubek „Zażółć”", "2", "39.99", "23"),
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


def test_check_connection_returns_the_account_label(account):
    assert account.provider().check_connection() == f"Fakturowo – {urllib.parse.urlsplit(account.api_url).netloc}"


@pytest.mark.parametrize("key", ["not-the-key", "zły-klucz-ąę"])
def test_a_wrong_key_is_authentication_failed(account, key):
    with pytest.raises(AuthenticationFailed) as refused:
        account.provider(key=key).check_connection()
    assert "api_id" in refused.value.message


def test_payment_types_and_no_series(account):
    provider = account.provider()
    assert provider.list_payment_types() == list(PAYMENT_TYPES)
    assert provider.list_series() == []


# --------------------------------------------------------------------------- creating


def test_invoice_is_created_and_reads_back_with_the_hubs_totals(account):
    provider = account.provider()
    doc = make_doc(lines=mixed_rate_lines(), exemption_basis=EXEMPTION, notes="Dziękujemy\nza zakupy")

    created = provider.create_document(doc, settings())

    fetched = provider.fetch_document(created.remote_id)
    assert fetched.remote_id == created.remote_id
    assert fetched.number == "FV 1/2025" and fetched.status == "unpaid"
    assert fetched.total_gross == doc.total_gross
    assert (Decimal(fetched.raw["netto"]), Decimal(fetched.raw["vat"])) == (doc.total_net, doc.total_vat)
    stored = account.stored(doc.reference)
    assert as_rate_totals(stored["rate_totals"]) == doc.totals
    assert (stored["kind"], stored["exemption_basis"], stored["notes"]) == ("vat", EXEMPTION, "Dziękujemy\nza zakupy")
    assert stored["notes_hidden"] == doc.reference
    assert [line["unit"] for line in stored["lines"]] == ["szt."] * len(doc.lines)
    assert stored["unknown_parameters"] == []  # every field sent is one the service reads
    assert provider.fetch_pdf(created.remote_id).startswith(b"%PDF")


def test_per_rate_rounding_follows_the_hub_where_per_line_rounding_differs(account):
    # 3 × 0.99 at 23 %: nets per line sum to 2.40, the rate's net from its gross is 2.41.
    doc = make_doc(lines=[make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)])
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)

    created = account.provider().create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert as_rate_totals(stored["rate_totals"]) == doc.totals
    assert (Decimal(stored["total_net"]), Decimal(stored["total_vat"])) == (doc.total_net, doc.total_vat)
    assert account.provider().fetch_document(created.remote_id).total_gross == Decimal("2.97")


def test_receipt_is_created(account):
    provider = account.provider()
    doc = make_doc(kind="receipt", reference="IB-12-PAR1", buyer=consumer_buyer(), hide_payment_date=True,
                   payment_due=None, payment_method="Karta", paid=True, paid_date=date(2025, 5, 14),
                   lines=[make_line("Herbata", "2", "18.50", "5")])

    created = provider.create_document(doc, settings())

    assert provider.fetch_document(created.remote_id).number == "PAR 1/2025"
    stored = account.stored(doc.reference)
    assert (stored["kind"], stored["payment_method"], stored["status"]) == ("receipt", "Karta płatnicza", 1)
    assert (stored["buyer"]["imie"], stored["buyer"]["nazwisko"]) == ("Małgorzata", "Wójcik")
    assert stored["show_payment_due"] is False
    assert Decimal(stored["total_gross"]) == Decimal("37.00") == Decimal(stored["paid_amount"])
    assert provider.fetch_pdf(created.remote_id).startswith(b"%PDF")


def test_eur_invoice_keeps_currency_and_own_rate(account):
    doc = make_doc(currency="EUR", exchange_rate=Decimal("4.2718"), lines=[make_line("Mug", "3", "12.30", "23")])

    account.provider().create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert stored["currency"] == "EUR"
    assert (stored["exchange"]["to"], stored["exchange"]["source"], stored["exchange"]["rate"]) == (
        "PLN", "own", "4.2718")
    assert Decimal(stored["total_gross"]) == Decimal("36.90")


def test_hub_numbering_sends_the_number_and_the_service_keeps_it(account):
    doc = make_doc(number="FV/7/05/2025")

    created = account.provider().create_document(doc, settings(numbering="hub"))

    assert created.number == "FV/7/05/2025"
    assert account.stored(doc.reference)["number"] == "FV/7/05/2025"
    assert account.provider().fetch_document(created.remote_id).number == "FV/7/05/2025"


def test_payment_due_and_paid_transfer(account):
    unpaid = make_doc(reference="IB-UNPAID")
    paid = make_doc(reference="IB-PAID", paid=True, paid_date=date(2025, 5, 14))
    provider = account.provider()

    provider.create_document(unpaid, settings())
    provider.create_document(paid, settings())

    assert (account.stored("IB-UNPAID")["payment_due"], account.stored("IB-UNPAID")["payment_method"]) == (
        "2025-05-28", "Przelew")
    stored_paid = account.stored("IB-PAID")
    assert (stored_paid["payment_method"], stored_paid["status"], stored_paid["paid_amount"]) == (
        "Zapłacono przelewem", 1, "10.00")


def test_halfik_unit_table_with_offset_zero(sandbox_url):
    halfik = SandboxAccount(sandbox_url, unit_codes="halfik")
    doc = make_doc(lines=[make_line(unit="szt"), make_line("Montaż", unit="usł"), make_line("Mąka", unit="kg")])

    halfik.provider(unit_code_offset="0").create_document(doc, settings())

    assert [line["unit"] for line in halfik.stored(doc.reference)["lines"]] == ["szt.", "usł.", "kg"]


# --------------------------------------------------------------------------- exactly once


def test_find_document_by_fingerprint_and_by_hub_number(account):
    provider = account.provider()
    service_numbered = make_doc(reference="IB-1-SVC")
    hub_numbered = make_doc(reference="IB-1-HUB", number="FV/99/05/2025", lines=[make_line(unit_gross="12.00")])
    other_buyer = make_doc(reference="IB-1-OTHER", buyer=company_buyer(tax_id="5252248481"))
    created_service = provider.create_document(service_numbered, settings())
    created_hub = provider.create_document(hub_numbered, settings(numbering="hub"))
    provider.create_document(other_buyer, settings())

    found_service = provider.find_document(service_numbered)
    found_hub = provider.find_document(hub_numbered)

    assert found_service.remote_id.split("|")[0] == created_service.remote_id.split("|")[0]
    assert found_service.number == "FV 1/2025"
    assert found_hub.remote_id.split("|")[0] == created_hub.remote_id.split("|")[0]
    assert provider.find_document(make_doc(reference="IB-1-UNKNOWN", issue_date=date(2025, 5, 15))) is None


def test_a_created_document_is_found_so_the_pipeline_never_sends_it_twice(account):
    # Fakturowo has no duplicate guard (a repeated issue call makes a second document), so the
    # pipeline looks up before any resend: the look-up must find what was created.
    provider = account.provider()
    doc = make_doc()
    created = provider.create_document(doc, settings())

    found = provider.find_document(doc)

    assert found is not None and found.remote_id.split("|")[0] == created.remote_id.split("|")[0]
    assert found.total_gross == doc.total_gross
    assert len(account.documents(reference=doc.reference)) == 1


def test_twins_are_not_guessed_between(account):
    provider = account.provider()
    provider.create_document(make_doc(reference="IB-TWIN-1"), settings())
    provider.create_document(make_doc(reference="IB-TWIN-2"), settings())

    with pytest.raises(ProviderError) as ambiguous:
        provider.find_document(make_doc(reference="IB-TWIN-3", number=""))

    assert "FV 1/2025" in ambiguous.value.message and "FV 2/2025" in ambiguous.value.message


def test_find_pages_through_a_long_list(sandbox_url):
    small_pages = SandboxAccount(sandbox_url, list_page_size=2)
    provider = small_pages.provider()
    wanted = make_doc(reference="IB-OLDEST", lines=[make_line(unit_gross="77.00")])
    provider.create_document(wanted, settings())
    for n in range(4):
        provider.create_document(make_doc(reference=f"IB-N{n}", lines=[make_line(unit_gross=f"{n + 1}.00")]),
                                 settings())

    found = provider.find_document(wanted)

    assert found is not None and found.total_gross == Decimal("77.00")
    assert provider.fetch_document(found.remote_id).number == "FV 1/2025"


def test_a_refused_duplicate_number_is_a_fix_on_the_number(sandbox_url):
    strict = SandboxAccount(sandbox_url, duplicate_numbers="refuse")
    provider = strict.provider()
    provider.create_document(make_doc(reference="IB-A"), settings(numbering="hub"))

    with pytest.raises(ValidationRejected) as refused:
        provider.create_document(make_doc(reference="IB-B"), settings(numbering="hub"))

    assert not isinstance(refused.value, DuplicateReference)
    assert list(refused.value.field_errors) == ["number"]
    assert strict.documents(reference="IB-B") == []


# --------------------------------------------------------------------------- errors


def test_service_refusal_is_validation_rejected_on_the_field(account):
    doc = make_doc(seller=replace(SELLER, tax_id="5252445768"))  # a checksum only the service checks

    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(doc, settings())

    assert list(refused.value.field_errors) == ["seller.tax_id"]
    assert "sprzedawca_nip" in refused.value.message
    assert account.documents() == []


def test_a_refused_line_points_at_the_line(account):
    # A rate the service does not take, as if the hub's list and the service's ever drifted apart.
    provider = account.provider()
    provider.vat_rates = provider.vat_rates | {"7"}
    doc = make_doc(lines=[make_line(), make_line("Kawa", vat_rate="7")])

    with pytest.raises(ValidationRejected) as refused:
        provider.create_document(doc, settings())

    assert list(refused.value.field_errors) == ["lines[1].vat_rate"]
    assert "produkt_stawka_vat_2" in refused.value.message
    assert account.documents() == []


def test_a_unit_beyond_the_code_table_goes_as_text(account):
    doc = make_doc(lines=[make_line("Abonament roczny", unit="abonament")])

    account.provider().create_document(doc, settings())

    assert account.stored(doc.reference)["lines"][0]["unit"] == "abonament"


def test_auth_failure_fault_is_authentication_failed(account):
    account.set_faults(auth_failure=True)

    with pytest.raises(AuthenticationFailed):
        account.provider().create_document(make_doc(), settings())
    assert account.documents() == []


def test_429_is_transient_with_retry_after(account):
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


def test_a_busy_account_is_transient(sandbox_url):
    busy = SandboxAccount(sandbox_url, processing_ms=400, concurrency="refuse")
    outcomes: list = []

    def create(reference):
        try:
            busy.provider().create_document(make_doc(reference=reference), settings())
            outcomes.append("created")
        except TransientError:
            outcomes.append("busy")

    threads = [threading.Thread(target=create, args=(f"IB-BUSY-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["busy", "created"]
    assert len(busy.documents()) == 1


def test_reset_after_sending_is_outcome_unknown_and_a_list_read_is_transient(account):
    account.set_faults(reset=1.0)
    provider = account.provider()
    doc = make_doc()

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())
    with pytest.raises(TransientError):
        provider.fetch_document("4100001")

    account.clear_faults()
    # This reset came before the document was stored, so the look-up finds nothing: a resend is safe.
    assert provider.find_document(doc) is None


def test_timeout_after_store_is_outcome_unknown_and_the_document_is_found(account):
    account.set_faults(timeout_after_store=1.0, hold_seconds=4)
    provider = account.provider()
    doc = make_doc()

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())

    account.clear_faults()
    found = provider.find_document(doc)
    assert found is not None and found.number == "FV 1/2025"
    assert found.total_gross == doc.total_gross
    assert [d["api_numer"] for d in account.documents(reference=doc.reference)] == [found.remote_id]


def test_request_log_has_no_key_but_says_what_was_called(account):
    provider = account.provider()
    provider.check_connection()
    created = provider.create_document(make_doc(), settings())
    provider.fetch_pdf(created.remote_id)

    calls = [(s.method, s.path.split("/")[-1], s.status) for s in account.log]
    assert calls[:2] == [("POST", "api?api_zadanie=3&p=1", 200), ("POST", "api?api_zadanie=1", 200)]
    assert calls[2][0] == "GET" and calls[2][2] == 200 and "/pobierz/" in account.log[2].path
    account.assert_key_never_logged()
