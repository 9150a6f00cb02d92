"""Contract: the iFirma adapter against the iFirma sandbox over real HTTP.

Each test gets its own sandbox account (random login and keys, accounting month 05.2025 to match
the factories' dates), so tests never see each other's documents; faults are per account and
cleared when the test ends.
"""

from __future__ import annotations

import io
import secrets
from datetime import date
from decimal import Decimal

import pytest
import requests
from pypdf import PdfReader

from providers.base import (
    AuthenticationFailed,
    DuplicateReference,
    OutcomeUnknown,
    RateTotal,
    TransientError,
    ValidationRejected,
)
from providers.ifirma import IfirmaProvider, NotFound

from .factories import company_buyer, consumer_buyer, make_doc, make_line, settings

SERVICE = "ifirma"


class SandboxAccount:
    """One fresh sandbox account plus the admin calls a test needs on it."""

    def __init__(self, sandbox_url: str, **options):
        self.sandbox_url = sandbox_url
        self.prefix = f"ct-{secrets.token_hex(5)}"
        self.login = f"{self.prefix}@sklep.example"
        self.invoice_key = secrets.token_hex(8).upper()
        self.subscriber_key = secrets.token_hex(8).upper()
        account_options = {"login": self.login, "key_abonent": self.subscriber_key, "accounting_month": "2025-05",
                           **options}
        response = requests.post(f"{sandbox_url}/_sandbox/{SERVICE}/accounts", timeout=5, json={
            "prefix": self.prefix, "api_token": self.invoice_key, "options": account_options,
        })
        assert response.status_code == 201, response.text
        self.log: list = []

    @property
    def base_url(self) -> str:
        return f"{self.sandbox_url}/{SERVICE}"

    def provider(self, options: dict | None = None, **credentials) -> IfirmaProvider:
        values = {"login": self.login, "invoice_key": self.invoice_key, "subscriber_key": self.subscriber_key,
                  **credentials}
        return IfirmaProvider(values, base_url=self.base_url, options=options, timeout=(2, 2),
                              request_log=self.log.append)

    def set_faults(self, **faults) -> None:
        response = requests.put(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                                json={"account": self.prefix, **faults}, timeout=5)
        assert response.status_code == 200, response.text

    def clear_faults(self) -> None:
        requests.delete(f"{self.sandbox_url}/_sandbox/{SERVICE}/faults",
                        params={"account": self.prefix}, timeout=5).raise_for_status()

    def documents(self, ref: str | None = None) -> list[dict]:
        params = {"account": self.prefix, **({"ref": ref} if ref is not None else {})}
        response = requests.get(f"{self.sandbox_url}/_sandbox/{SERVICE}/documents", params=params, timeout=5)
        response.raise_for_status()
        return response.json()["documents"]

    def stored(self, ref: str) -> dict:
        found = self.documents(ref)
        assert len(found) == 1, f"expected exactly 1 document with reference {ref}, found {len(found)}"
        return found[0]

    def assert_keys_never_logged(self) -> None:
        for summary in self.log:
            text = f"{summary} {summary!r}"
            for key in (self.invoice_key, self.subscriber_key):
                assert key not in text and key.lower() not in text, f"key leaked into the request log: {text}"


@pytest.fixture
def account(sandbox_url):
    acct = SandboxAccount(sandbox_url)
    yield acct
    acct.clear_faults()
    acct.assert_keys_never_logged()


def new_account(sandbox_url, **options) -> SandboxAccount:
    return SandboxAccount(sandbox_url, **options)


def mixed_rate_lines():
    return [
        make_line("Kubek „Zażółć”", "2", "39.99", "23"),
        make_line("Talerz", "7", "1.01", "23"),
        make_line("Ciasto", "1", "12.49", "8"),
        make_line("Książka", "1", "49.00", "5"),
        make_line("Eksport usługi", "1", "100.00", "0"),
        make_line("Szkolenie zwolnione", "1", "250.00", "zw"),
    ]


def as_rate_totals(rows: list[dict]) -> tuple[RateTotal, ...]:
    return tuple(RateTotal(r["rate"], Decimal(r["net"]), Decimal(r["vat"]), Decimal(r["gross"])) for r in rows)


# --------------------------------------------------------------------------- account and keys


def test_check_connection_names_the_login_and_the_open_month(account):
    assert account.provider().check_connection() == f"{account.login} – miesiąc księgowy 05.2025"


@pytest.mark.parametrize("credential, key_name", [("invoice_key", "faktura"), ("subscriber_key", "abonent")])
def test_a_wrong_key_of_either_kind_is_authentication_failed(account, credential, key_name):
    provider = account.provider(**{credential: "00112233445566AA"})
    with pytest.raises(AuthenticationFailed) as refused:
        provider.check_connection()
    assert "kod 403" in refused.value.message and f"„{key_name}”" in refused.value.message


def test_an_unknown_login_is_authentication_failed(account):
    with pytest.raises(AuthenticationFailed, match="kod 401"):
        account.provider(login="nikt@sklep.example").check_connection()


def test_a_key_kind_never_generated_says_to_generate_it(sandbox_url):
    acct = new_account(sandbox_url, key_abonent=None)
    with pytest.raises(AuthenticationFailed) as refused:
        acct.provider().check_connection()
    assert "kod 402" in refused.value.message and "wygeneruj klucz „abonent”" in refused.value.message


@pytest.mark.parametrize("options, code", [({"api_access": False}, 500), ({"terms_accepted": False}, 499)])
def test_accounts_without_api_rights_are_authentication_failed(sandbox_url, options, code):
    acct = new_account(sandbox_url, **options)
    with pytest.raises(AuthenticationFailed, match=f"kod {code}"):
        acct.provider().create_document(make_doc(), settings())
    assert acct.documents() == []


def test_auth_refusals_with_http_4xx_are_authentication_failed_too(sandbox_url):
    acct = new_account(sandbox_url, auth_http_errors=True)
    with pytest.raises(AuthenticationFailed):
        acct.provider(invoice_key="00112233445566AA").fetch_document("1")


def test_series_named_in_the_options_number_the_document(account):
    provider = account.provider(options={"series_names": "default, SKLEP"})
    series = provider.list_series()
    assert [c.id for c in series] == ["default", "SKLEP"]

    created = provider.create_document(make_doc(), settings(series_id="SKLEP"))

    assert provider.fetch_document(created.remote_id).number == "FV 1/05/2025/SKLEP"
    assert account.stored("IB-12-3456")["NazwaSeriiNumeracji"] == "SKLEP"


def test_payment_types_are_the_documented_codes(account):
    codes = {c.id for c in account.provider().list_payment_types()}
    assert {"PRZ", "KAR", "GTK", "POB", "P24", "ALG", "PAL", "ELE"} <= codes


# --------------------------------------------------------------------------- creating


def test_invoice_is_created_and_reads_back_with_the_hubs_totals_per_rate(account):
    provider = account.provider()
    doc = make_doc(lines=mixed_rate_lines(), exemption_basis="Art. 43 ust. 1 pkt 29 lit. a",
                   notes="Zamówienie nr 1234 – dziękujemy!")

    created = provider.create_document(doc, settings())
    fetched = provider.fetch_document(created.remote_id)

    assert fetched.number == "FV 1/05/2025"
    assert fetched.totals == doc.totals
    assert fetched.total_gross == doc.total_gross
    stored = account.stored(doc.reference)
    assert as_rate_totals(stored["_sandbox"]["rate_totals"]) == doc.totals
    assert stored["Uwagi"] == "Zamówienie nr 1234 – dziękujemy!\nNr ref.: IB-12-3456"
    assert stored["Pozycje"][5]["PodstawaPrawna"] == "Art. 43 ust. 1 pkt 29 lit. a"
    assert stored["Kontrahent"]["Nazwa"] == "Hurtownia Żółw Sp. z o.o."
    pdf = provider.fetch_pdf(created.remote_id)
    assert pdf.startswith(b"%PDF")


def test_per_rate_rounding_where_per_line_rounding_differs(account):
    # 3 × 0.99 at 23 %: per line net 0.80 (sum 2.40), per rate 2.97 − 0.56 = 2.41.
    doc = make_doc(lines=[make_line(f"Naklejka {i}", "1", "0.99", "23") for i in range(3)])
    assert doc.totals == (RateTotal("23", Decimal("2.41"), Decimal("0.56"), Decimal("2.97")),)

    created = account.provider().create_document(doc, settings())

    assert as_rate_totals(account.stored(doc.reference)["_sandbox"]["rate_totals"]) == doc.totals
    assert account.provider().fetch_document(created.remote_id).totals == doc.totals


def test_paid_card_order_of_a_private_person(account):
    provider = account.provider()
    doc = make_doc(buyer=consumer_buyer(), payment_method="Karta", paid=True, paid_date=date(2025, 5, 14),
                   hide_payment_date=True, payment_due=None, lines=[make_line("Herbata", "2", "18.50", "5")])

    created = provider.create_document(doc, settings())

    stored = account.stored(doc.reference)
    assert stored["SposobZaplaty"] == "KAR"
    assert Decimal(str(stored["Zaplacono"])) == Decimal("37.00")
    assert stored["Kontrahent"]["OsobaFizyczna"] is True
    assert provider.fetch_document(created.remote_id).status == "paid"


def test_eu_company_buyer_is_sent_with_its_prefix(account):
    doc = make_doc(buyer=company_buyer(tax_id="DE136695976", country="DE", post_code="10115", city="Berlin",
                                       street="Unter den Linden 1"))
    account.provider().create_document(doc, settings())
    buyer = account.stored(doc.reference)["Kontrahent"]
    assert (buyer["PrefiksUE"], buyer["NIP"], buyer["Kraj"], buyer["AdresZagraniczny"]) == (
        "DE", "136695976", "Niemcy", True,
    )


def test_the_longest_buyer_fields_preflight_allows_are_accepted(account):
    buyer = company_buyer(company_name="Ż" * 150, street="ś" * 65, post_code="1" * 16, city="ł" * 65,
                          email="a" * 53 + "@example.pl", phone="5" * 32)
    doc = make_doc(buyer=buyer)
    provider = account.provider()
    assert provider.preflight(doc, settings()) == []

    provider.create_document(doc, settings())

    assert account.stored(doc.reference)["Kontrahent"]["Nazwa"] == "Ż" * 150


def test_hub_numbering_forces_the_sequence_number(account):
    provider = account.provider()
    created = provider.create_document(make_doc(number="FV/7/05/2025"), settings(numbering="hub"))
    assert provider.fetch_document(created.remote_id).number == "FV 7/05/2025"


# --------------------------------------------------------------------------- currency invoices


def eur_doc(**overrides):
    lines = [make_line("Kubek „Zażółć”", "2", "9.99", "23"), make_line("Książka", "1", "11.40", "5"),
             make_line("Szkolenie zwolnione", "1", "50.00", "zw")]
    values = {"lines": lines, "currency": "EUR", "exchange_rate": Decimal("4.2715"),
              "exemption_basis": "Art. 43 ust. 1 pkt 29 lit. a", "reference": "IB-12-4000"}
    return make_doc(**{**values, **overrides})


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_a_euro_invoice_is_created_read_back_and_printed_in_euro(account):
    provider = account.provider()
    doc = eur_doc()
    assert provider.preflight(doc, settings()) == []

    created = provider.create_document(doc, settings())
    fetched = provider.fetch_document(created.remote_id)

    assert created.remote_id.startswith("fakturawaluta:")
    assert fetched.remote_id == created.remote_id and fetched.number == "FWAL 1/05/2025"
    assert fetched.totals == doc.totals and fetched.total_gross == doc.total_gross == Decimal("81.38")
    stored = account.stored(doc.reference)
    assert stored["_sandbox"]["resource"] == "fakturawaluta"
    assert (stored["Waluta"], stored["TypSprzedazy"]) == ("EUR", "KRAJOWA")
    assert Decimal(str(stored["KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury"])) == Decimal("4.2715")
    assert stored["_sandbox"]["totals"]["gross"] == "81.38"
    text = pdf_text(provider.fetch_pdf(created.remote_id))
    assert "FWAL 1/05/2025" in text and "81.38 EUR" in text and "4.2715" in text
    assert [(s.method, s.path.split("?")[0]) for s in account.log] == [
        ("POST", "/iapi/fakturawaluta.json"),
        ("GET", f"/iapi/fakturawaluta/{created.remote_id.split(':')[1]}.json"),
        ("GET", f"/iapi/fakturawaluta/{created.remote_id.split(':')[1]}.pdf"),
    ]


def test_currency_and_domestic_invoices_keep_their_own_numbers_and_paths(account):
    provider = account.provider()
    domestic = provider.create_document(make_doc(reference="IB-12-4001"), settings())
    euro = provider.create_document(eur_doc(reference="IB-12-4002"), settings())
    language = account.provider({"currency_language": "en", "currency_sale_type": "WYSYLKOWA"})
    second = language.create_document(eur_doc(reference="IB-12-4003", paid=True, paid_date=date(2025, 5, 14)),
                                      settings())

    assert provider.fetch_document(domestic.remote_id).number == "FV 1/05/2025"
    assert provider.fetch_document(euro.remote_id).number == "FWAL 1/05/2025"
    assert provider.fetch_document(second.remote_id).number == "FWAL 2/05/2025"
    stored = account.stored("IB-12-4003")
    assert (stored["Jezyk"], stored["TypSprzedazy"], stored["DataOtrzymaniaZaplaty"]) == (
        "en", "WYSYLKOWA", "2025-05-14")
    assert provider.fetch_document(second.remote_id).status == "paid"


def test_an_in_doubt_currency_invoice_is_found_in_the_currency_list(account):
    provider = account.provider()
    provider.create_document(make_doc(reference="IB-12-4010", lines=[make_line(unit_gross="81.38")]), settings())
    provider.create_document(eur_doc(reference="IB-12-4011"), settings())  # same day, same amount, EUR
    account.set_faults(timeout_after_store=1.0, hold_seconds=3)
    doc = eur_doc(reference="IB-12-4012")

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())

    account.clear_faults()
    found = provider.find_document(doc)
    assert found is not None and found.remote_id.startswith("fakturawaluta:")
    assert found.number == "FWAL 2/05/2025" and found.totals == doc.totals
    assert len(account.documents(doc.reference)) == 1
    assert provider.find_document(eur_doc(reference="IB-12-NIEZNANY")) is None


def test_a_currency_the_service_does_not_know_is_validation_rejected_on_the_currency(account):
    doc = eur_doc(currency="XYZ")
    assert account.provider().preflight(doc, settings()) == []  # a well-formed code: iFirma decides

    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(doc, settings())

    assert list(refused.value.field_errors) == ["currency"]
    assert "XYZ" in refused.value.field_errors["currency"][0]
    assert account.documents() == []


# --------------------------------------------------------------------------- refusals


def test_outside_the_open_accounting_month_the_merchant_is_told_which_month_to_open(sandbox_url):
    acct = new_account(sandbox_url, accounting_month="2025-04")
    doc = make_doc()

    with pytest.raises(ValidationRejected) as refused:
        acct.provider().create_document(doc, settings())

    assert not isinstance(refused.value, DuplicateReference)
    message = refused.value.message
    assert "otwartego w iFirma miesiąca księgowego (04.2025)" in message
    assert "przełącz w iFirma miesiąc księgowy na 05.2025 i ponów eksport" in message
    assert refused.value.field_errors["issue_date"][0].startswith("Data wystawienia 14.05.2025")
    assert acct.documents() == []


def test_an_unknown_series_is_validation_rejected_on_the_series(account):
    with pytest.raises(ValidationRejected) as refused:
        account.provider().create_document(make_doc(), settings(series_id="B2B"))
    assert list(refused.value.field_errors) == ["series"]
    assert "B2B" in refused.value.field_errors["series"][0]
    assert account.documents() == []


# --------------------------------------------------------------------------- exactly once


def test_a_create_is_one_post_and_find_document_finds_what_it_made(account):
    # Exactly once is the pipeline's (a claim before the POST, find_document after an unknown
    # outcome): the create spends one request of the account's 100 a minute, nothing more.
    provider = account.provider()
    for n in range(3):  # same day, same amount: what a look-up before each create had to read
        provider.create_document(make_doc(reference=f"IB-1-{n}"), settings())
    account.log.clear()
    doc = make_doc()

    first = provider.create_document(doc, settings())

    assert [(s.method, s.path) for s in account.log] == [("POST", "/iapi/fakturakraj.json")]
    assert len(account.documents(doc.reference)) == 1
    found = provider.find_document(doc)
    assert (found.remote_id, found.number) == (first.remote_id, "FV 4/05/2025")


def test_find_document_tells_same_day_same_amount_documents_apart(account):
    provider = account.provider()
    first, second = make_doc(reference="IB-1-A"), make_doc(reference="IB-1-B")
    created_first = provider.create_document(first, settings())
    created_second = provider.create_document(second, settings())

    assert provider.find_document(first).remote_id == created_first.remote_id
    assert provider.find_document(second).remote_id == created_second.remote_id
    assert provider.find_document(second).number == "FV 2/05/2025"
    assert provider.find_document(make_doc(reference="IB-1-NIEZNANY")) is None


def test_fetch_of_an_unknown_document_is_not_found(account):
    with pytest.raises(NotFound):
        account.provider().fetch_document("99999999")


# --------------------------------------------------------------------------- faults


def test_auth_failure_fault_is_authentication_failed(account):
    account.set_faults(auth_failure=True)
    with pytest.raises(AuthenticationFailed):
        account.provider().create_document(make_doc(), settings())


def test_429_is_transient_with_retry_after(account):
    account.set_faults(rate_429=1.0, retry_after=3)
    with pytest.raises(TransientError) as throttled:
        account.provider().create_document(make_doc(), settings())
    assert (throttled.value.status, throttled.value.retry_after) == (429, 3)
    account.clear_faults()
    assert account.documents() == []


def test_the_accounts_request_cap_is_transient(sandbox_url):
    acct = new_account(sandbox_url, rate_limit_per_minute=2)
    provider = acct.provider()
    provider.check_connection()  # two requests
    with pytest.raises(TransientError) as throttled:
        provider.fetch_document("1")
    assert throttled.value.status == 429 and 0 < throttled.value.retry_after <= 60


def test_5xx_is_transient(account):
    account.set_faults(error_5xx=1.0)
    with pytest.raises(TransientError) as failed:
        account.provider().create_document(make_doc(), settings())
    assert failed.value.status in (500, 502, 503)


def test_reset_after_sending_a_write_is_outcome_unknown(account):
    provider = account.provider()
    account.set_faults(reset=1.0)
    doc = make_doc()

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())
    with pytest.raises(TransientError):  # a reset read is simply retried
        provider.fetch_document("1")

    account.clear_faults()
    assert provider.find_document(doc) is None  # the reset came first: a retry is safe


def test_timeout_after_store_is_outcome_unknown_and_the_document_is_found(account):
    provider = account.provider()
    account.set_faults(timeout_after_store=1.0, hold_seconds=3)
    doc = make_doc()

    with pytest.raises(OutcomeUnknown):
        provider.create_document(doc, settings())

    account.clear_faults()
    found = provider.find_document(doc)
    assert found is not None and found.number == "FV 1/05/2025"
    assert found.totals == doc.totals
    assert len(account.documents(doc.reference)) == 1


def test_request_log_has_no_keys_but_says_what_was_called(account):
    provider = account.provider()
    provider.check_connection()
    created = provider.create_document(make_doc(), settings())
    provider.fetch_pdf(created.remote_id)

    calls = [(s.method, s.path.split("?")[0], s.status) for s in account.log]
    assert calls == [
        ("GET", "/iapi/abonent/miesiacksiegowy.json", 200),
        ("GET", "/iapi/faktury.json", 200),
        ("POST", "/iapi/fakturakraj.json", 200),  # no look-up before the create
        ("GET", f"/iapi/fakturakraj/{created.remote_id}.pdf", 200),
    ]
    account.assert_keys_never_logged()
