"""Contract: the wFirma adapter against the wFirma sandbox over real HTTP.

Each test gets its own sandbox account (random keys: the sandbox picks the account by its
accessKey), so tests never see each other's documents; faults are per account and cleared
when the test ends.
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
    ExportSettings,
    OutcomeUnknown,
    ProviderError,
    RateTotal,
    TransientError,
    ValidationRejected,
)
from providers.wfirma import WfirmaProvider
from providers.wfirma_mapping import PAYMENT_METHODS

from .factories import consumer_buyer, make_doc, make_line, settings

SERVICE = "wfirma"
FIX = "użyj numeracji usługi albo połącz zgodną serię"


class SandboxAccount:
    """One fresh sandbox login plus the admin calls a test needs on it."""

    def __init__(self, sandbox_url: str, **options):
        self.sandbox_url = sandbox_url
        self.prefix = f"ct-{secrets.token_hex(5)}"
        # Characters that change under URL encoding would show a leak in either form.
        self.access, self.secret, self.app = (f"{kind}+{secrets.token_hex(8)}==" for kind in ("acc", "sec", "app"))
        self.set_options(secret_key=self.secret, app_key=self.app, **options)
        self.log: list = []

    def set_options(self, **options) -> None:
        response = requests.post(f"{self.sandbox_url}/_sandbox/{SERVICE}/accounts",
                                 json={"prefix": self.prefix, "api_token": self.access, "options": options}, timeout=5)
        assert response.status_code in (200, 201), response.text

    def provider(self, *, options: dict | None = None, **credentials) -> WfirmaProvider:
        keys = {"access_key": self.access, "secret_key": self.secret, "app_key": self.app, **credentials}
        return WfirmaProvider(keys, base_url=f"{self.sandbox_url}/{SERVICE}", options=options, timeout=(2, 2),
                              request_log=self.log.append)

    def set_faults(self, **faults) -> None:
        response = requests.put(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                                json={"account": self.prefix, **faults}, timeout=5)
        assert response.status_code == 200, response.text

    def clear_faults(self) -> None:
        requests.delete(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults", params={"account": self.prefix},
                        timeout=5).raise_for_status()

    def documents(self, **filters) -> list[dict]:
        response = requests.get(f"{self.sandbox_url}/_sandbox/{SERVICE}/documents",
                                params={"account": self.prefix, **filters}, timeout=5)
        response.raise_for_status()
        data = response.json()
        assert data["count"] == len(data["documents"])
        return data["documents"]

    def stored(self, reference: str) -> dict:
        found = self.documents(id_external=reference)
        assert len(found) == 1, f"expected exactly 1 document {reference}, found {len(found)}"
        return found[0]

    def api(self, path: str, body: dict | None = None) -> dict:
        """A direct API2 call, for setting the account up the way a merchant would in wFirma."""
        response = requests.post(f"{self.sandbox_url}/{SERVICE}/{path}",
                                 params={"inputFormat": "json", "outputFormat": "json"},
                                 headers={"accessKey": self.access, "secretKey": self.secret, "appKey": self.app},
                                 json=body, timeout=5)
        data = response.json()
        assert data["status"]["code"] == "OK", data
        return data

    def add_series(self, name: str, template: str, reset: str = "yearly") -> str:
        data = self.api("series/add", {"series": {"series": {"name": name, "type": "normal", "template": template,
                                                             "reset": reset}}})
        return data["series"]["0"]["series"]["id"]

    def good(self, code: str) -> dict:
        condition = {"0": {"condition": {"field": "code", "operator": "eq", "value": code}}}
        data = self.api("goods/find", {"goods": {"parameters": {"conditions": condition}}})
        return data["goods"]["0"]["good"]

    def assert_keys_never_logged(self) -> None:
        for summary in self.log:
            text = f"{summary} {summary!r}"
            for secret in (self.access, self.secret, self.app):
                assert secret not in text and secret.strip("=+") not in text, f"key leaked into the log: {text}"


@pytest.fixture
def account(sandbox_url):
    acct = SandboxAccount(sandbox_url)
    yield acct
    acct.clear_faults()
    acct.assert_keys_never_logged()


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


def sandbox_rate_totals(stored: dict) -> tuple[RateTotal, ...]:
    rows = stored["_sandbox"]["rate_totals"]
    return tuple(RateTotal(r["code"].lower(), Decimal(r["netto"]), Decimal(r["tax"]), Decimal(r["brutto"]))
                 for r in rows)


# --------------------------------------------------------------------------- account


def test_check_connection_names_the_company(account):
    label = account.provider().check_connection()
    assert label.startswith(f"Sandbox {account.prefix}") and "(ID firmy: " in label


@pytest.mark.parametrize("wrong", ["access_key", "secret_key", "app_key"])
def test_a_wrong_key_is_authentication_failed(account, wrong):
    with pytest.raises(AuthenticationFailed, match="Klucze API"):
        account.provider(**{wrong: "not-the-key"}).check_connection()


def test_several_companies_need_the_company_id_and_it_routes_the_documents(sandbox_url):
    acct = SandboxAccount(sandbox_url, companies=[{"name": "Sklep Ąę"}, {"name": "Hurt Żółw"}])
    with pytest.raises(AuthenticationFailed) as missing:
        acct.provider().check_connection()
    assert "wpisz ID firmy" in missing.value.message
    ids = [part.split(" (")[0] for part in missing.value.message.split("Dostępne: ")[1].rstrip(".").split(", ")]
    second = acct.provider(company_id=f"(ID: {ids[1]})")

    assert second.check_connection() == f"Hurt Żółw (ID firmy: {ids[1]})"
    created = second.create_document(make_doc(), settings())

    assert [d["id"] for d in acct.documents(company_id=ids[1])] == [int(created.remote_id)]
    assert acct.documents(company_id=ids[0]) == []
    with pytest.raises(AuthenticationFailed, match="ID firmy"):
        acct.provider().create_document(make_doc(reference="IB-X"), settings())  # COMPANY ID REQUIRED
    acct.assert_keys_never_logged()


def test_list_series_shows_names_and_templates(account):
    names = [choice.name for choice in account.provider().list_series()]
    assert "Faktury VAT – FV [numer]/[rok]" in names
    assert "Faktury VAT – sklep (miesięczna) – FVS [numer]/[miesiąc]/[rok]" in names
    assert "Dowody sprzedaży – DS [numer]/[rok]" in names


def test_list_payment_types(account):
    assert account.provider().list_payment_types() == list(PAYMENT_METHODS)


# --------------------------------------------------------------------------- creating


def test_invoice_is_created_and_reads_back_with_the_hubs_totals_per_rate(account):
    provider = account.provider()
    doc = make_doc(lines=mixed_rate_lines(), notes="Zamówienie 1234",
                   exemption_basis="art. 43 ust. 1 pkt 29 lit. a ustawy o VAT")

    created = provider.create_document(doc, settings())

    assert created.number == "FV 1/2025" and created.total_gross == doc.total_gross
    fetched = provider.fetch_document(created.remote_id)
    assert (fetched.remote_id, fetched.number) == (created.remote_id, created.number)
    assert fetched.totals == doc.totals and fetched.total_gross == doc.total_gross
    stored = account.stored(doc.reference)
    assert sandbox_rate_totals(stored) == doc.totals
    assert (Decimal(stored["netto"]), Decimal(stored["tax"]), Decimal(stored["total"])) == (
        doc.total_net, doc.total_vat, doc.total_gross)
    assert stored["type"] == "normal" and stored["paymentmethod"] == "transfer"
    assert stored["paymentdate"] == "2025-05-28" and stored["date"] == "2025-05-14"
    assert stored["contractor_detail"]["nip"] == "6272616681"
    assert stored["description"].endswith("Podstawa zwolnienia z VAT: art. 43 ust. 1 pkt 29 lit. a ustawy o VAT")
    assert provider.fetch_pdf(created.remote_id).startswith(b"%PDF")


def test_rates_are_totalled_from_gross_like_the_hub_where_per_line_rounding_differs(account):
    # 3 × 0.99 at 23 %: per line net 0.80 (sum 2.40); per rate 2.97 − round(2.97 × 23/123) = 2.41.
    provider = account.provider()
    doc = make_doc(lines=[make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)])
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)

    created = provider.create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert sandbox_rate_totals(stored) == doc.totals
    assert Decimal(stored["netto"]) == doc.total_net == Decimal("2.41")
    assert provider.fetch_document(created.remote_id).totals == doc.totals


def test_receipt_is_a_non_fiscal_receipt_with_its_pdf(account):
    provider = account.provider()
    doc = make_doc(kind="receipt", reference="IB-12-PAR1", buyer=consumer_buyer(), hide_payment_date=True,
                   payment_method="Karta", paid=True, paid_date=date(2025, 5, 14),
                   lines=[make_line("Herbata", "2", "18.50", "5")])

    created = provider.create_document(doc, settings())

    assert created.number == "DS 1/2025"
    stored = account.stored(doc.reference)
    assert (stored["type"], stored["paymentmethod"], stored["paymentstate"]) == (
        "receipt_normal", "payment_card", "paid")
    assert Decimal(stored["total"]) == Decimal("37.00") == Decimal(stored["alreadypaid"])
    assert stored["contractor_detail"]["name"] == "Małgorzata Wójcik"
    assert provider.fetch_document(created.remote_id).totals == doc.totals
    assert provider.fetch_pdf(created.remote_id).startswith(b"%PDF")


def test_fiscal_receipt_when_chosen_and_wfirma_gives_no_pdf_for_it(account):
    provider = account.provider(options={"receipt_type": "receipt_fiscal_normal"})
    doc = make_doc(kind="receipt", buyer=consumer_buyer(), lines=[make_line("Herbata", "1", "18.50", "5")])

    created = provider.create_document(doc, settings())

    assert account.stored(doc.reference)["type"] == "receipt_fiscal_normal"
    assert created.number.startswith("PAR ")
    with pytest.raises(ProviderError) as no_pdf:
        provider.fetch_pdf(created.remote_id)
    assert not isinstance(no_pdf.value, TransientError) and "paragonu fiskalnego" in no_pdf.value.message


def test_series_that_hides_the_payment_date_sends_none_and_wfirma_applies_its_default(account):
    doc = make_doc(hide_payment_date=True, payment_due=date(2025, 5, 28))

    account.provider().create_document(doc, settings())

    assert account.stored(doc.reference)["paymentdate"] != "2025-05-28"


def test_sku_links_the_catalogue_good_and_takes_it_out_of_stock(account):
    before = Decimal(account.good("SKU-001")["count"])
    doc = make_doc(lines=[make_line("Kubek ceramiczny 330 ml", "2", "29.99", "23", sku="SKU-001")])

    account.provider().create_document(doc, settings(send_sku=True))

    line = account.stored(doc.reference)["invoicecontents"][0]
    assert line["good"]["id"] == account.good("SKU-001")["id"]
    assert Decimal(account.good("SKU-001")["count"]) == before - 2


def test_sku_off_links_no_good(account):
    before = account.good("SKU-001")["count"]
    doc = make_doc(lines=[make_line("Kubek ceramiczny 330 ml", "2", "29.99", "23", sku="SKU-001")])

    account.provider().create_document(doc, settings(send_sku=False))

    assert account.stored(doc.reference)["invoicecontents"][0]["good"]["id"] == "0"
    assert account.good("SKU-001")["count"] == before


def test_a_sku_missing_from_the_catalogue_is_refused_and_nothing_is_stored(account):
    doc = make_doc(lines=[make_line("Nowość", "1", "10.00", "23", sku="SKU-NIE-MA")])

    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(doc, settings(send_sku=True))

    assert list(refused.value.field_errors) == ["lines[0].sku"]
    assert account.documents(id_external=doc.reference) == []


def test_linked_series_numbers_the_document(account):
    provider = account.provider()
    monthly = next(c for c in provider.list_series() if "(miesięczna)" in c.name)

    created = provider.create_document(make_doc(), settings(series_id=monthly.id))

    assert created.number == "FVS 1/05/2025"


def test_existing_contractor_with_the_same_data_is_reused(account):
    provider = account.provider()
    first = provider.create_document(make_doc(reference="IB-1"), settings())
    second = account.provider().create_document(make_doc(reference="IB-2"), settings())  # fresh adapter, no cache

    stored = [account.stored(ref)["contractor"]["id"] for ref in ("IB-1", "IB-2")]
    assert stored[0] == stored[1] != "0"
    assert first.remote_id != second.remote_id


# --------------------------------------------------------------------------- hub numbering


def test_hub_number_fits_a_series_with_the_hubs_format(account):
    series_id = account.add_series("Sklep (hub)", "FV/[numer]/[miesiąc]/[rok]", reset="monthly")
    hub = settings(numbering="hub", series_id=series_id)

    first = account.provider().create_document(make_doc(reference="IB-1", number="FV/1/05/2025"), hub)
    second = account.provider().create_document(make_doc(reference="IB-2", number="FV/2/05/2025"), hub)

    assert (first.number, second.number) == ("FV/1/05/2025", "FV/2/05/2025")
    assert account.stored("IB-2")["fullnumber"] == "FV/2/05/2025"


def test_wfirmas_numbering_control_refusal_reaches_the_merchant_with_the_fix(account):
    series_id = account.add_series("Sklep (hub)", "FV/[numer]/[miesiąc]/[rok]", reset="monthly")
    doc = make_doc(number="FV/5/05/2025")  # the series' next number is 1

    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(doc, settings(numbering="hub", series_id=series_id))

    message = refused.value.message
    assert message.startswith("wFirma odrzuciła numer z huba „FV/5/05/2025”") and message.endswith(f"{FIX}.")
    assert "kontrola numeracji" in message
    assert list(refused.value.field_errors) == ["number"]
    assert account.documents(id_external=doc.reference) == []


def test_hub_number_that_cannot_come_out_of_the_linked_series_is_refused_before_sending(account):
    provider = account.provider()
    yearly = next(c for c in provider.list_series() if c.name == "Faktury VAT – FV [numer]/[rok]")
    doc = make_doc(number="FV/1/05/2025")

    with pytest.raises(ValidationRejected) as refused:
        provider.create_document(doc, settings(numbering="hub", series_id=yearly.id))

    assert "FV [numer]/[rok]" in refused.value.message and FIX in refused.value.message
    assert not [s for s in account.log if s.path.startswith("/invoices/add")]


# --------------------------------------------------------------------------- exactly once


def test_a_create_is_one_add_and_find_document_finds_what_it_made(account):
    # Exactly once is the pipeline's (a claim before the add, find_document after an unknown
    # outcome): the create does not search for the reference first.
    provider = account.provider()
    doc = make_doc(buyer=consumer_buyer())

    created = provider.create_document(doc, settings())

    assert [s.path.split("?")[0] for s in account.log] == ["/invoices/add"]
    assert len(account.documents(id_external=doc.reference)) == 1
    assert account.provider().find_document(doc).remote_id == created.remote_id


def test_find_document_by_reference(account):
    provider = account.provider()
    first, second = make_doc(reference="IB-1-A"), make_doc(reference="IB-1-B")
    created_first = provider.create_document(first, settings())
    created_second = provider.create_document(second, settings())

    assert provider.find_document(first).remote_id == created_first.remote_id
    found = provider.find_document(second)
    assert (found.remote_id, found.number, found.totals) == (created_second.remote_id, "FV 2/2025", second.totals)
    assert provider.find_document(make_doc(reference="IB-1-UNKNOWN")) is None


def test_timeout_after_store_is_outcome_unknown_and_the_document_is_found(account):
    account.set_faults(timeout_after_store=1.0, hold_seconds=4)
    provider = account.provider()
    doc = make_doc()

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())

    account.clear_faults()
    found = provider.find_document(doc)
    assert found is not None and found.number == "FV 1/2025" and found.total_gross == doc.total_gross
    assert [d["id"] for d in account.documents(id_external=doc.reference)] == [int(found.remote_id)]


def test_reset_connections_are_retried_and_store_nothing(account):
    account.set_faults(reset=1.0)
    provider = account.provider()
    doc = make_doc()

    with pytest.raises(TransientError):  # the look-up before the add is a read
        provider.create_document(doc, settings())
    with pytest.raises(TransientError):
        provider.fetch_document("1200001")

    account.clear_faults()
    assert provider.find_document(doc) is None


# --------------------------------------------------------------------------- KSeF


def test_ksef_status_is_read_back(account):
    provider = account.provider()
    created = provider.create_document(make_doc(), settings())
    assert created.ksef is not None and created.ksef.status == "processing" and created.ksef.number is None

    fetched = provider.fetch_document(created.remote_id)

    assert fetched.ksef.status == "accepted"
    assert fetched.ksef.number == account.stored("IB-12-3456")["ksef_reference_number"] != ""


def test_ksef_rejection_is_an_error_state(sandbox_url):
    acct = SandboxAccount(sandbox_url, ksef_outcome="rejected")
    provider = acct.provider()
    created = provider.create_document(make_doc(), settings())

    assert provider.fetch_document(created.remote_id).ksef.status == "error"
    acct.assert_keys_never_logged()


# --------------------------------------------------------------------------- errors


def test_unknown_series_is_validation_rejected_with_field_errors(account):
    doc = make_doc()

    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(doc, settings(series_id="999999"))

    assert not isinstance(refused.value, DuplicateReference)
    assert list(refused.value.field_errors) == ["series"]
    assert account.documents(id_external=doc.reference) == []


def test_a_date_that_breaks_the_series_chronology_is_refused_readably(account):
    provider = account.provider()
    provider.create_document(make_doc(reference="IB-1"), settings())
    earlier = make_doc(reference="IB-2", issue_date=date(2025, 5, 2), sell_date=date(2025, 5, 2))

    with pytest.raises(ValidationRejected) as refused:
        provider.create_document(earlier, settings())

    assert list(refused.value.field_errors) == ["issue_date"]
    assert "chronologię" in refused.value.message


def test_auth_failure_fault_is_authentication_failed(account):
    account.set_faults(auth_failure=True)

    with pytest.raises(AuthenticationFailed):
        account.provider().create_document(make_doc(), settings())


@pytest.mark.parametrize("code", ["SNAPSHOT LOCK", "OUT OF SERVICE", "FATAL", "TOTAL EXECUTION TIME LIMIT EXCEEDED"])
def test_blocking_status_codes_are_transient(account, code):
    account.set_options(forced_status=code)

    with pytest.raises(TransientError) as blocked:
        account.provider().create_document(make_doc(), settings())

    assert code in blocked.value.message
    account.set_options(forced_status=None)


# The sandbox cannot force these four (its `forced_status` takes only the blocking codes), so each is
# reached the way the real service gives it.
def _access_denied(account):
    account.provider(company_id="999999").create_document(make_doc(), settings())


def _input_error(account):
    account.provider()._call("POST", "invoices", "find", extra_params={"inputFormat": "yaml"})


def _auth_limit(account):
    for _attempt in range(5):
        with pytest.raises(AuthenticationFailed):
            account.provider(secret_key="not-the-secret").check_connection()
    account.provider().check_connection()  # the right keys, but too late


def _action_not_found(account):
    account.provider()._call("POST", "no_such_module", "find")


@pytest.mark.parametrize("code, reach, error", [
    ("ACCESS DENIED", _access_denied, AuthenticationFailed),
    ("INPUT ERROR", _input_error, ValidationRejected),
    ("AUTH FAILED LIMIT WAIT 5 MINUTES", _auth_limit, AuthenticationFailed),
    ("ACTION NOT FOUND", _action_not_found, ProviderError),
])
def test_refusal_codes_from_the_sandbox(account, code, reach, error):
    with pytest.raises(error) as refused:
        reach(account)

    assert not isinstance(refused.value, TransientError)
    words = {"AUTH FAILED LIMIT WAIT 5 MINUTES": "5 minut"}.get(code, code)
    assert words in refused.value.message
    assert account.documents() == []


def test_request_limit_in_a_200_envelope_is_transient_with_a_default_wait(account):
    account.set_faults(rate_429=1.0)
    doc = make_doc()

    with pytest.raises(TransientError) as throttled:
        account.provider().create_document(doc, settings())
    with pytest.raises(TransientError) as configured:
        account.provider(options={"limit_retry_after": "5"}).create_document(doc, settings())

    assert "TOTAL REQUESTS LIMIT EXCEEDED" in throttled.value.message
    assert (throttled.value.retry_after, configured.value.retry_after) == (60.0, 5.0)
    account.clear_faults()
    assert account.documents(id_external=doc.reference) == []


def test_request_limit_as_http_429_honours_retry_after(account):
    account.set_options(limit_http_status=429)
    account.set_faults(rate_429=1.0, retry_after=3)

    with pytest.raises(TransientError) as throttled:
        account.provider().create_document(make_doc(), settings())

    assert (throttled.value.status, throttled.value.retry_after) == (429, 3.0)


def test_5xx_is_transient(account):
    account.set_faults(error_5xx=1.0)

    with pytest.raises(TransientError) as failed:
        account.provider().create_document(make_doc(), settings())

    assert failed.value.status in (500, 502, 503)


def test_unknown_document_is_a_plain_error(account):
    with pytest.raises(ProviderError) as missing:
        account.provider().fetch_document("987654321")
    assert not isinstance(missing.value, TransientError | AuthenticationFailed)
    assert "NOT FOUND" in missing.value.message


def test_request_log_has_no_keys_but_says_what_was_called(account):
    provider = account.provider()
    provider.check_connection()
    provider.create_document(replace(make_doc(), reference="IB-LOG"), ExportSettings())

    paths = [(s.method, s.path.split("?")[0], s.status) for s in account.log]
    assert ("POST", "/user_companies/find", 200) in paths
    assert ("POST", "/invoices/add", 200) in paths
    account.assert_keys_never_logged()
