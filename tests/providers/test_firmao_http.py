"""Firmao adapter over HTTP: requests sent, every error shape, duplicate guard, look-ups, pacing.

`responses` stands in for the service; the transport-error tests use real local sockets
(127.0.0.1) so the mapping is exercised against what `requests` really raises.
"""

import base64
import json
import socket
import traceback
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import ProtocolError

from providers.base import (
    AuthenticationFailed,
    Choice,
    DuplicateReference,
    LookupIncomplete,
    NotSupported,
    OutcomeUnknown,
    ProviderError,
    RateTotal,
    TransientError,
    ValidationRejected,
)
from providers.firmao import FirmaoProvider, clear_shared_cache
from providers.firmao_mapping import build_transaction

from .factories import TOKEN, make_correction, make_doc, make_line, settings

ROOT = "https://system.firmao.pl"
API = f"{ROOT}/acme/svc/v1"
LOGIN = "acme.api@firmao.pl"
FAST = {"min_request_interval": "0"}


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def log():
    return []


def firmao(options=None, log=None, **credentials) -> FirmaoProvider:
    values = {"organization_id": "acme", "login": LOGIN, "password": TOKEN, **credentials}
    return FirmaoProvider(values, options={**FAST, **(options or {})},
                          request_log=log.append if log is not None else None)


@pytest.fixture
def adapter(log):
    return firmao(log=log)


@pytest.fixture(autouse=True)
def no_shared_product_ids():
    # SKU → product ids are kept per account across adapters; every test here uses the same
    # account, so each one starts without what the previous one read.
    clear_shared_cache()
    yield
    clear_shared_cache()


def calls(log) -> list[tuple[str, str]]:
    return [(s.method, s.path.split("?")[0].removeprefix("/acme/svc/v1")) for s in log]


def query(**params):
    return matchers.query_param_matcher({k: str(v) for k, v in params.items()})


def page(records, total=None):
    return {"data": records, "dir": "ASC", "sort": "id", "totalSize": len(records) if total is None else total}


def created(transaction_id=50035, label="FV 5/2025 - Hurtownia Żółw"):
    return {"changelog": [
        {"modification": "CREATE", "objectClass": "commisionuser", "objectId": 35},
        {"modification": "CREATE", "objectClass": "transaction", "objectId": transaction_id, "objectLabel": label},
    ]}


def transaction(**overrides):
    record = {
        "id": 50035, "transactionNumber": "FV 5/2025", "type": "INVOICE", "mode": "SALE",
        "description": "Invoice Bridge ref: IB-12-3456", "paymentStatus": "NOT_PAID",
        "transactionNettoPrice": 8.13, "transactionVatPrice": 1.87, "transactionBruttoPrice": 10.0,
        "calculateFromGross": True, "lastSelectedInvoiceReport": "Faktura",
    }
    record.update(overrides)
    return record


def posted(api) -> list[dict]:
    return [json.loads(c.request.body) for c in api.calls if c.request.method == "POST"]


NOT_FOUND_BY_REFERENCE = {"description(contains)": "IB-12-3456", "mode(eq)": "SALE", "start": 0, "limit": 100}
NEXT_INVOICE = {"objectClass": "transaction", "type": "invoice", "mode": "SALE"}


# ------------------------------------------------------------------ account, base URL, credentials


def test_base_url_is_the_service_root_plus_the_organisation(api):
    api.get(f"{API}/transactions", json=page([]))
    api.get("http://127.0.0.1:5050/firmao/acme/svc/v1/transactions", json=page([]))
    api.get("http://127.0.0.1:5050/firmao/other/svc/v1/transactions", json=page([]))
    firmao(organization_id="https://system.firmao.pl/acme/app#/dashboard").check_connection()
    sandbox = firmao()
    sandbox.base_url = "http://127.0.0.1:5050/firmao"
    sandbox.check_connection()
    rooted = FirmaoProvider({"organization_id": "acme", "password": "x"}, options=FAST,
                            base_url="http://127.0.0.1:5050/firmao/other/svc/v1/")
    rooted.check_connection()
    assert FirmaoProvider({"organization_id": "acme"}).base_url == ROOT


def test_check_connection_uses_basic_auth_and_returns_the_account_label(api, adapter):
    api.get(f"{API}/transactions", match=[query(**{"mode(eq)": "SALE", "start": 0, "limit": 1})],
            json=page([transaction()], total=312))
    assert adapter.check_connection() == f"acme – {LOGIN}"
    sent = api.calls[0].request.headers["Authorization"]
    assert sent == "Basic " + base64.b64encode(f"{LOGIN}:{TOKEN}".encode()).decode()


def test_login_defaults_to_the_api_user_pattern_and_non_ascii_passwords_are_utf8(api):
    api.get(f"{API}/transactions", json=page([]))
    firmao(login="", password="hasło-żółw").check_connection()
    expected = base64.b64encode("acme.api@firmao.pl:hasło-żółw".encode()).decode()
    assert api.calls[0].request.headers["Authorization"] == f"Basic {expected}"


@pytest.mark.parametrize("credentials, error, text", [
    ({"organization_id": ""}, AuthenticationFailed, "identyfikatora organizacji"),
    ({"password": ""}, AuthenticationFailed, "Firma → Ustawienia → API"),
    ({"organization_id": "acme/../evil?x="}, ProviderError, "nieprawidłowy"),
])
def test_missing_or_malformed_credentials_fail_without_a_request(api, credentials, error, text):
    with pytest.raises(error, match=text.replace("→", ".")):
        firmao(**credentials).check_connection()
    assert len(api.calls) == 0


def test_401_says_where_to_find_the_login_and_403_names_the_missing_right(api, adapter):
    api.get(f"{API}/transactions", status=401, body="")
    api.get(f"{API}/transactions", status=403, json={"errorCode": "accessDenied"})
    with pytest.raises(AuthenticationFailed) as unauthorised:
        adapter.check_connection()
    assert "Firma → Ustawienia → API" in unauthorised.value.message
    with pytest.raises(AuthenticationFailed) as forbidden:
        adapter.check_connection()
    assert "403" in forbidden.value.message and "uprawnień" in forbidden.value.message


def test_series_are_read_page_by_page_until_total_size(api, adapter):
    first = [{"id": i, "name": f"Seria {i}", "type": "invoice"} for i in range(1, 101)]
    api.get(f"{API}/invoicenumbers", match=[query(dataFormat="MEDIUM", start=0, limit=100)],
            json=page(first, total=102))
    api.get(f"{API}/invoicenumbers", match=[query(dataFormat="MEDIUM", start=100, limit=100)],
            json=page([{"id": 101, "name": "Paragony", "type": "receipt"},
                       {"id": 102, "name": "Oferty", "type": "offer", "objectClass": "offer"}], total=102))
    series = adapter.list_series()
    assert len(series) == 101
    assert series[-1] == Choice("101", "Paragon: Paragony")


def test_paging_stops_when_the_service_ignores_start(api, adapter):
    same = page([{"id": i, "type": "invoice"} for i in range(100)], total=-1)
    api.get(f"{API}/invoicenumbers", json=same)
    assert len(adapter.list_series()) == 100
    assert len(api.calls) == 2


def test_payment_types_are_the_confirmed_codes_plus_the_configured_ones():
    adapter = firmao({"extra_payment_types": "CARD=Karta płatnicza"})
    assert adapter.list_payment_types() == [Choice("TRANSFER", "Przelew"), Choice("CASH", "Gotówka"),
                                            Choice("CARD", "Karta płatnicza")]


def test_limits_keep_to_about_one_request_a_second_one_export_at_a_time():
    limits = FirmaoProvider.default_limits
    assert limits.max_concurrency == 1
    assert limits.requests / limits.per_seconds == 1
    assert limits.requests >= 3  # one export's operations: a create and a fetch (two slots at once)


# ------------------------------------------------------------------ create


def test_service_numbering_checks_for_an_earlier_copy_reads_the_next_number_and_posts(api, adapter, log):
    # The one look-up a create keeps (see create_document): a 5xx to a stored POST is retried
    # with a fresh service number, which no guard would stop. One filtered request, no paging.
    doc = make_doc()
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)], json=page([]))
    api.get(f"{API}/invoicenumbers/next", match=[query(**NEXT_INVOICE)], json={"number": "FV 5/2025"})
    expected = build_transaction(doc, settings(), FAST, number="FV 5/2025")
    api.post(f"{API}/transactions", match=[matchers.json_params_matcher(expected)], status=201, json=created())

    remote = adapter.create_document(doc, settings())

    assert (remote.remote_id, remote.number) == ("50035", "FV 5/2025")
    assert api.calls[2].request.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert [(s.method, s.path.split("?")[0], s.status) for s in log] == [
        ("GET", "/acme/svc/v1/transactions", 200),
        ("GET", "/acme/svc/v1/invoicenumbers/next", 200),
        ("POST", "/acme/svc/v1/transactions", 201),
    ]


def test_linked_series_asks_that_series_for_the_next_number(api, adapter):
    api.get(f"{API}/transactions", json=page([]))
    api.get(f"{API}/invoicenumbers/next", match=[query(**{**NEXT_INVOICE, "type": "receipt", "id": 7})],
            body="PAR 3/2025")
    api.post(f"{API}/transactions", status=201, json=created(label="PAR 3/2025 - Klient"))
    remote = adapter.create_document(make_doc(kind="receipt"), settings(series_id="7"))
    assert remote.number == "PAR 3/2025"
    assert posted(api)[0]["transactionNumber"] == "PAR 3/2025"


def test_omit_mode_lets_firmao_number_it_and_reads_the_number_from_the_changelog(api):
    adapter = firmao({"service_numbering": "omit"})
    api.get(f"{API}/transactions", json=page([]))
    api.post(f"{API}/transactions", status=201, json=created(label="12/05/2025 - Hurtownia"))
    remote = adapter.create_document(make_doc(), settings())
    assert remote.number == "12/05/2025"
    assert "transactionNumber" not in posted(api)[0]


def test_hub_numbering_sends_the_hub_number_without_any_look_up(api, adapter, log):
    # The unique number is the guard: a retry of a stored POST is refused and settled then.
    api.post(f"{API}/transactions", status=201, json=created(label="FV/7/05/2025 - Hurtownia"))
    remote = adapter.create_document(make_doc(), settings(numbering="hub"))
    assert remote.number == "FV/7/05/2025"
    assert posted(api)[0]["transactionNumber"] == "FV/7/05/2025"
    assert calls(log) == [("POST", "/transactions")]


def test_the_check_before_a_service_numbered_create_trusts_a_filter_that_was_applied(api, adapter, log):
    # IB-12-3456 is contained in IB-12-34567: the filter worked, nothing else can carry ours.
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)],
            json=page([transaction(id=13, description="Invoice Bridge ref: IB-12-34567")]))
    api.get(f"{API}/invoicenumbers/next", json="FV 5/2025")
    api.post(f"{API}/transactions", status=201, json=created())
    adapter.create_document(make_doc(), settings())
    assert calls(log) == [("GET", "/transactions"), ("GET", "/invoicenumbers/next"), ("POST", "/transactions")]


@pytest.mark.parametrize("filter_answer", [
    {"status": 400, "json": {"errorCode": "unknownParameter", "field": "description(contains)"}},
    {"json": page([transaction(id=1, description="cudzy dokument")], total=-1)},  # the filter was ignored
])
def test_without_a_working_filter_the_check_before_create_reads_one_page_of_the_newest(api, adapter, log,
                                                                                       filter_answer):
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)], **filter_answer)
    window = {"invoiceDate(ge)": "2025-05-13", "invoiceDate(le)": "2025-05-15", "mode(eq)": "SALE",
              "sort": "id", "dir": "DESC"}
    api.get(f"{API}/transactions", match=[query(**window, start=0, limit=100)],
            json=page([transaction(id=900 - i, description="") for i in range(100)], total=5000))
    api.get(f"{API}/invoicenumbers/next", json="FV 5/2025")
    api.post(f"{API}/transactions", status=201, json=created())
    adapter.create_document(make_doc(), settings())
    assert calls(log) == [("GET", "/transactions")] * 2 + [("GET", "/invoicenumbers/next"),
                                                            ("POST", "/transactions")]


def test_an_earlier_copy_found_before_sending_is_a_duplicate_and_nothing_is_posted(api, adapter):
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)],
            json=page([transaction(description="Invoice Bridge ref: IB-12-3456")]))
    with pytest.raises(DuplicateReference) as duplicate:
        adapter.create_document(make_doc(), settings())
    assert "FV 5/2025" in duplicate.value.message
    assert posted(api) == []


def test_hub_number_taken_by_our_own_document_is_a_duplicate(api, adapter):
    api.post(f"{API}/transactions", status=400, json={
        "errorCode": "transactionNumberAlreadyExists", "additionalInfo": {"suggestedNumber": "FV/8/05/2025"}})
    api.get(f"{API}/transactions",
            match=[query(**{"transactionNumber(eq)": "FV/7/05/2025", "mode(eq)": "SALE", "start": 0, "limit": 100})],
            json=page([transaction(transactionNumber="FV/7/05/2025")]))
    with pytest.raises(DuplicateReference) as duplicate:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert "transactionNumberAlreadyExists" in duplicate.value.field_errors


def test_hub_number_taken_by_another_document_is_a_refusal_naming_the_fix(api, adapter):
    api.post(f"{API}/transactions", status=400, json={
        "errorCode": "transactionNumberAlreadyExists", "additionalInfo": {"suggestedNumber": "FV/8/05/2025"}})
    api.get(f"{API}/transactions", json=page([transaction(description="wpisana ręcznie")]))
    with pytest.raises(ValidationRejected) as refused:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert not isinstance(refused.value, DuplicateReference)
    assert list(refused.value.field_errors) == ["number"]
    assert "użyj numeracji Firmao" in refused.value.message and "FV/8/05/2025" in refused.value.message


def test_service_number_taken_meanwhile_is_retried_with_the_suggested_number(api, adapter):
    api.get(f"{API}/transactions", json=page([]))
    api.get(f"{API}/invoicenumbers/next", json="FV 5/2025")
    api.post(f"{API}/transactions", status=400, json={
        "errorCode": "transactionNumberAlreadyExists", "additionalInfo": {"suggestedNumber": "FV 6/2025"}})
    api.post(f"{API}/transactions", status=201, json=created(label="FV 6/2025 - Hurtownia"))
    remote = adapter.create_document(make_doc(), settings())
    assert [p["transactionNumber"] for p in posted(api)] == ["FV 5/2025", "FV 6/2025"]
    assert remote.number == "FV 6/2025"


def test_existing_customer_with_the_same_nip_is_linked_and_the_document_resent(api, adapter):
    api.post(f"{API}/transactions", status=409, json={
        "errorCode": "duplicateValueFoundException", "objectName": "customer", "fieldName": "nipNumber",
        "duplicateValues": [{"lineNumber": -1, "objectId": 51, "value": "6272616681"}]})
    api.post(f"{API}/transactions", status=201, json=created())
    adapter.create_document(make_doc(), settings(numbering="hub"))
    first, second = posted(api)
    assert first["createCustomerIfNeeded"] is True and "customer" not in first
    assert second["customer"] == 51 and "createCustomerIfNeeded" not in second


def test_an_unreadable_next_number_stops_with_the_fix(api, adapter):
    api.get(f"{API}/transactions", json=page([]))
    api.get(f"{API}/invoicenumbers/next", json={"something": "else"})
    with pytest.raises(ProviderError, match="omit"):
        adapter.create_document(make_doc(), settings())
    assert posted(api) == []


def test_create_refuses_a_document_that_fails_preflight_without_sending(api, adapter):
    with pytest.raises(ValidationRejected) as refused:
        adapter.create_document(make_doc(lines=[make_line(vat_rate="zw")]), settings())
    assert list(refused.value.field_errors) == ["exemption_basis"]
    assert len(api.calls) == 0


def test_corrections_are_not_supported(api, adapter):
    with pytest.raises(NotSupported):
        adapter.create_document(make_correction([(make_line(quantity="2"), make_line())]), settings())


# ------------------------------------------------------------------ SKU


def test_skus_are_resolved_in_one_query_and_linked_by_product_id(api, adapter):
    api.get(f"{API}/products", match=[query(**{"productCode(in)": "KUB-01;SPI-9", "start": 0, "limit": 100})],
            json=page([{"id": 52, "productCode": "KUB-01"}, {"id": 53, "productCode": "SPI-9"}]))
    api.post(f"{API}/transactions", status=201, json=created())
    api.post(f"{API}/transactions", status=201, json=created(50036))
    lines = [make_line(sku="KUB-01"), make_line("Spinacz", sku="SPI-9"), make_line("Kubek 2", sku="KUB-01")]
    export = settings(send_sku=True, numbering="hub")
    adapter.create_document(make_doc(lines=lines), export)
    # The next document gets a new adapter (one per pipeline job): the ids are not asked again.
    firmao().create_document(make_doc(lines=lines, reference="IB-2", number="FV/8"), export)
    entries = posted(api)[0]["transactionEntries"]
    assert [(e["product"], e["productCode"]) for e in entries] == [(52, "KUB-01"), (53, "SPI-9"), (52, "KUB-01")]
    assert posted(api)[1]["transactionEntries"] == entries
    assert sum(1 for c in api.calls if "/products" in c.request.url) == 1


def test_a_refused_document_forgets_the_shared_product_ids(api):
    api.get(f"{API}/products", json=page([{"id": 52, "productCode": "KUB-01"}]))
    api.post(f"{API}/transactions", status=400, json={"errorCode": "entityNotFoundForId", "field": "product",
                                                      "rejectedValue": "52"})
    api.get(f"{API}/products", json=page([{"id": 60, "productCode": "KUB-01"}]))
    api.post(f"{API}/transactions", status=201, json=created())
    export = settings(send_sku=True, numbering="hub")
    with pytest.raises(ValidationRejected):
        firmao().create_document(make_doc(lines=[make_line(sku="KUB-01")]), export)
    firmao().create_document(make_doc(lines=[make_line(sku="KUB-01")]), export)  # the merchant's retry
    assert [p["transactionEntries"][0]["product"] for p in posted(api)] == [52, 60]


def test_sku_missing_from_the_catalogue_stops_the_export_with_the_fix(api, adapter):
    api.get(f"{API}/products", json=page([{"id": 52, "productCode": "KUB-01"}]))
    lines = [make_line(sku="KUB-01"), make_line("Spinacz", sku="SPI-9")]
    with pytest.raises(ValidationRejected) as refused:
        adapter.create_document(make_doc(lines=lines), settings(send_sku=True, numbering="hub"))
    assert list(refused.value.field_errors) == ["lines[1].sku"]
    assert "SPI-9" in refused.value.message and "dodaj go z tym kodem" in refused.value.message
    assert posted(api) == []


def test_sku_missing_from_the_catalogue_can_go_as_a_text_line(api):
    adapter = firmao({"unknown_sku": "text"})
    api.get(f"{API}/products", json=page([]))
    api.post(f"{API}/transactions", status=201, json=created())
    adapter.create_document(make_doc(lines=[make_line(sku="SPI-9")]), settings(send_sku=True, numbering="hub"))
    entry = posted(api)[0]["transactionEntries"][0]
    assert (entry["product"], entry["productCode"]) == ("Kubek ceramiczny", "SPI-9")


def test_when_the_in_filter_is_refused_skus_are_asked_one_by_one(api, adapter):
    api.get(f"{API}/products", match=[query(**{"productCode(in)": "A;B", "start": 0, "limit": 100})], status=400,
            json={"errorCode": "unknownParameter", "field": "productCode(in)"})
    api.get(f"{API}/products", match=[query(**{"productCode(eq)": "A", "start": 0, "limit": 100})],
            json=page([{"id": 1, "productCode": "A"}]))
    api.get(f"{API}/products", match=[query(**{"productCode(eq)": "B", "start": 0, "limit": 100})],
            json=page([{"id": 2, "productCode": "B"}]))
    assert adapter.product_ids(["A", "B"]) == {"A": 1, "B": 2}


def test_when_the_in_filter_is_ignored_only_exact_codes_count(api, adapter):
    catalogue = page([{"id": 9, "productCode": "OTHER"}, {"id": 1, "productCode": "A"}], total=-1)
    api.get(f"{API}/products", match=[query(**{"productCode(in)": "A;B", "start": 0, "limit": 100})],
            json=catalogue)
    api.get(f"{API}/products", match=[query(**{"productCode(eq)": "B", "start": 0, "limit": 100})],
            json=page([{"id": 9, "productCode": "OTHER"}]))
    assert adapter.product_ids(["A", "B"]) == {"A": 1}


# ------------------------------------------------------------------ error shapes


def test_400_field_error_becomes_a_field_error(api, adapter):
    api.post(f"{API}/transactions", status=400, json={
        "errorCode": "entityNotFoundForId", "field": "bankAccount", "rejectedValue": "9",
        "additionalInfo": {"id": "9", "cls": "bankaccount"}})
    with pytest.raises(ValidationRejected) as refused:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert not isinstance(refused.value, DuplicateReference)
    assert refused.value.field_errors == {"bankAccount": ["nie ma obiektu o tym identyfikatorze, wartość „9”"]}
    assert "bankAccount: nie ma obiektu" in refused.value.message


def test_400_without_a_json_body_is_still_a_refusal(api, adapter):
    api.post(f"{API}/transactions", status=400, body="Bad Request")
    with pytest.raises(ValidationRejected) as refused:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert refused.value.field_errors == {} and "Bad Request" in refused.value.message


def test_429_is_transient_with_retry_after_or_the_five_seconds_integrators_use(api, adapter):
    api.post(f"{API}/transactions", status=429, headers={"Retry-After": "2"}, json={})
    api.post(f"{API}/transactions", status=429, body="")
    for expected in (2.0, 5.0):
        with pytest.raises(TransientError) as throttled:
            adapter.create_document(make_doc(), settings(numbering="hub"))
        assert (throttled.value.status, throttled.value.retry_after) == (429, expected)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(api, adapter, status):
    api.post(f"{API}/transactions", status=status, body="<html>Proxy Error</html>")
    with pytest.raises(TransientError) as failed:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert failed.value.status == status


@pytest.mark.parametrize("status", [404, 501])
def test_not_found_and_not_implemented_are_plain_errors(api, adapter, status):
    api.get(f"{API}/transactions", status=status, json={"errorCode": "notImplemented"})
    with pytest.raises(ProviderError) as failed:
        adapter.fetch_document("1")
    assert type(failed.value) is ProviderError


def test_unreadable_answer_or_changelog_without_the_transaction_is_an_unknown_outcome(api, adapter):
    api.post(f"{API}/transactions", status=201, body="<html>oops</html>")
    api.post(f"{API}/transactions", status=201, json={"changelog": [{"modification": "CHANGE"}]})
    for _ in range(2):
        with pytest.raises(OutcomeUnknown):
            adapter.create_document(make_doc(), settings(numbering="hub"))


def test_connection_reset_after_a_post_is_an_unknown_outcome(api, adapter):
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))
    api.post(f"{API}/transactions", body=reset)
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings(numbering="hub"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_transient_even_for_a_post(log):
    adapter = FirmaoProvider({"organization_id": "acme", "login": LOGIN, "password": TOKEN},
                             base_url=f"http://127.0.0.1:{_free_port()}", options=FAST, timeout=(1, 1),
                             request_log=log.append)
    with pytest.raises(TransientError) as refused:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert TOKEN not in "".join(traceback.format_exception(refused.value))
    assert [(entry.status, entry.error) for entry in log] == [(None, "TransientError")]


def test_read_timeout_after_a_post_is_an_unknown_outcome_and_after_a_get_is_transient(log):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        adapter = FirmaoProvider({"organization_id": "acme", "login": LOGIN, "password": TOKEN},
                                 base_url=f"http://127.0.0.1:{silent.getsockname()[1]}", options=FAST,
                                 timeout=(1, 0.2), request_log=log.append)
        with pytest.raises(OutcomeUnknown) as unknown:
            adapter.create_document(make_doc(), settings(numbering="hub"))
        assert TOKEN not in unknown.value.message
        with pytest.raises(TransientError):
            adapter.fetch_document("1")
    assert [entry.error for entry in log] == ["OutcomeUnknown", "TransientError"]


# ------------------------------------------------------------------ find_document


BY_NUMBER = {"transactionNumber(eq)": "FV/7/05/2025", "mode(eq)": "SALE", "start": 0, "limit": 100}


def test_find_by_the_hub_number_checks_our_reference(api, adapter):
    api.get(f"{API}/transactions", match=[query(**BY_NUMBER)],
            json=page([transaction(id=11, description="Invoice Bridge ref: IB-OTHER"), transaction(id=12)]))
    found = adapter.find_document(make_doc())
    assert found is not None and (found.remote_id, found.number) == ("12", "FV 5/2025")


def test_find_by_the_reference_in_the_description(api, adapter):
    api.get(f"{API}/transactions", match=[query(**BY_NUMBER)], json=page([]))
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)],
            json=page([transaction(id=13, description="Invoice Bridge ref: IB-12-34567"), transaction(id=14)]))
    assert adapter.find_document(make_doc()).remote_id == "14"


def test_find_by_the_configured_custom_field(api):
    adapter = firmao({"reference_custom_field": "custom5"})
    by_field = {"customFields.custom5(eq)": "IB-12-3456", "mode(eq)": "SALE", "start": 0, "limit": 100}
    api.get(f"{API}/transactions", match=[query(**by_field)],
            json=page([transaction(id=15, description="", customFields={"custom5": "IB-12-3456"})]))
    assert adapter.find_document(make_doc(number="")).remote_id == "15"


def test_an_answer_to_the_reference_filter_holding_only_longer_references_means_not_there(api, adapter):
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)],
            json=page([transaction(id=13, description="Invoice Bridge ref: IB-12-34567")]))
    assert adapter.find_document(make_doc(number="")) is None
    assert len(api.calls) == 1  # the filter worked: no scan of the issue day


def test_an_empty_answer_to_the_reference_filter_means_not_there(api, adapter):
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)], json=page([]))
    assert adapter.find_document(make_doc(number="")) is None
    assert len(api.calls) == 1


@pytest.mark.parametrize("filter_answer", [
    {"status": 400, "json": {"errorCode": "unknownParameter", "field": "description(contains)"}},
    {"json": page([transaction(id=1, description="cudzy dokument")], total=-1)},  # the filter was ignored
])
def test_without_a_working_filter_the_issue_date_window_is_searched(api, adapter, filter_answer):
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)], **filter_answer)
    window = {"invoiceDate(ge)": "2025-05-13", "invoiceDate(le)": "2025-05-15", "mode(eq)": "SALE",
              "sort": "id", "dir": "DESC"}  # newest first: it stops at ours
    api.get(f"{API}/transactions", match=[query(**window, start=0, limit=100)],
            json=page([transaction(id=100 + i, description="") for i in range(100)], total=101))
    api.get(f"{API}/transactions", match=[query(**window, start=100, limit=100)],
            json=page([transaction(id=301)], total=101))
    assert adapter.find_document(make_doc(number="")).remote_id == "301"


WINDOW = {"invoiceDate(ge)": "2025-05-13", "invoiceDate(le)": "2025-05-15", "mode(eq)": "SALE",
          "sort": "id", "dir": "DESC"}
FILTER_REFUSED = {"status": 400, "json": {"errorCode": "unknownParameter", "field": "description(contains)"}}


def test_a_window_longer_than_lookup_pages_is_incomplete_not_none(api):
    adapter = firmao({"lookup_pages": "2"})
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)], **FILTER_REFUSED)
    for start in (0, 100):
        api.get(f"{API}/transactions", match=[query(**WINDOW, start=start, limit=100)],
                json=page([transaction(id=900 - start - i, description="") for i in range(100)], total=5000))
    # 200 of 5000 read: "not there" would lead the pipeline to send the document again.
    with pytest.raises(LookupIncomplete, match="2 stron") as err:
        adapter.find_document(make_doc(number=""))
    assert isinstance(err.value, TransientError)
    assert len(api.calls) == 3


def test_a_window_the_service_will_not_page_through_is_incomplete_not_none(api, adapter):
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)], **FILTER_REFUSED)
    api.get(f"{API}/transactions", json=page([transaction(id=900 - i, description="") for i in range(100)], total=-1))
    with pytest.raises(LookupIncomplete):
        adapter.find_document(make_doc(number=""))


def test_a_window_read_to_its_end_still_says_not_there(api):
    adapter = firmao({"lookup_pages": "2"})
    api.get(f"{API}/transactions", match=[query(**NOT_FOUND_BY_REFERENCE)], **FILTER_REFUSED)
    api.get(f"{API}/transactions", match=[query(**WINDOW, start=0, limit=100)],
            json=page([transaction(id=900 - i, description="") for i in range(100)], total=150))
    api.get(f"{API}/transactions", match=[query(**WINDOW, start=100, limit=100)],
            json=page([transaction(id=800 - i, description="") for i in range(50)], total=150))
    assert adapter.find_document(make_doc(number="")) is None


# ------------------------------------------------------------------ fetch


def entries_json():
    return page([
        {"id": 1, "transaction": {"id": 50035}, "vatPercent": 23, "quantity": 1, "nettoPrice": 8.13,
         "vatPrice": 1.87, "bruttoPrice": 10.0},
        {"id": 2, "transaction": {"id": 50035}, "vatPercent": 23, "quantity": 2, "nettoPrice": 16.26,
         "vatPrice": 3.74, "bruttoPrice": 20.0},
        {"id": 3, "transaction": {"id": 50035}, "vatPercent": "8", "quantity": 1, "nettoPrice": 4.63,
         "vatPrice": 0.37, "bruttoPrice": 5.0},
        {"id": 4, "transaction": {"id": 50035}, "vatPercent": "zw", "quantity": 1, "nettoPrice": 3,
         "vatPrice": 0, "bruttoPrice": 3},
    ])


def test_fetch_reads_the_transaction_and_its_lines(api, adapter):
    api.get(f"{API}/transactions", match=[query(**{"id(eq)": "50035", "start": 0, "limit": 1})],
            json=page([transaction(transactionNettoPrice=32.02, transactionVatPrice=5.98,
                                   transactionBruttoPrice=38.0)]))
    api.get(f"{API}/transactionentries", match=[query(**{"transaction(eq)": "50035", "start": 0, "limit": 100})],
            json=entries_json())
    remote = adapter.fetch_document("50035")
    assert (remote.number, remote.status, remote.total_gross) == ("FV 5/2025", "not_paid", Decimal("38.0"))
    assert remote.totals == (
        RateTotal("23", Decimal("24.39"), Decimal("5.61"), Decimal("30.00")),
        RateTotal("8", Decimal("4.63"), Decimal("0.37"), Decimal("5.00")),
        RateTotal("zw", Decimal("3.00"), Decimal("0.00"), Decimal("3.00")),
    )
    assert len(remote.raw["transactionEntries"]) == 4


def test_fetch_of_an_unknown_id_is_an_error(api, adapter):
    api.get(f"{API}/transactions", json=page([]))
    with pytest.raises(ProviderError, match="nie znaleziono transakcji 99"):
        adapter.fetch_document("99")


def test_fetch_pdf_uses_the_documents_print_template(api, adapter):
    pdf = b"%PDF-1.4\n% Faktura\n"
    api.get(f"{API}/transactions", json=page([transaction(lastSelectedInvoiceReport="Paragon_1")]))
    api.get(f"{API}/transactionentries", json=entries_json())
    api.get(f"{API}/reports/invoices/transaction/Paragon_1/dokument-50035.pdf",
            match=[query(original="true", id="50035")], body=pdf, content_type="application/pdf")
    adapter.fetch_document("50035")
    assert adapter.fetch_pdf("50035") == pdf


def test_fetch_pdf_alone_reads_the_template_first_or_falls_back_to_the_option(api):
    adapter = firmao({"pdf_template": "Moja_faktura"})
    api.get(f"{API}/transactions", json=page([transaction(lastSelectedInvoiceReport=None)]))
    api.get(f"{API}/reports/invoices/transaction/Moja_faktura/dokument-50035.pdf", body=b"%PDF-1.7")
    assert adapter.fetch_pdf("50035") == b"%PDF-1.7"


def test_fetch_pdf_refuses_something_that_is_not_a_pdf(api, adapter):
    api.get(f"{API}/transactions", json=page([transaction()]))
    api.get(f"{API}/reports/invoices/transaction/Faktura/dokument-50035.pdf", json={"errorCode": "reportError"})
    with pytest.raises(ProviderError, match="PDF"):
        adapter.fetch_pdf("50035")


# ------------------------------------------------------------------ secrets and pacing


def test_the_password_never_reaches_the_request_log_or_error_messages(api, log):
    adapter = firmao(log=log)
    basic = base64.b64encode(f"{LOGIN}:{TOKEN}".encode()).decode()
    api.post(f"{API}/transactions", status=400,
             json={"errorCode": "unknownParameter", "field": "x", "rejectedValue": f"{TOKEN} {basic}"})
    with pytest.raises(ValidationRejected) as refused:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    for text in (refused.value.message, json.dumps(refused.value.field_errors, ensure_ascii=False),
                 *map(str, log), *map(repr, log)):
        assert TOKEN not in text and basic not in text
    assert str(log[0]).startswith("POST /acme/svc/v1/transactions → 400")


class FakeClock:
    def __init__(self):
        self.now, self.slept = 1000.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(round(seconds, 3))
        self.now += seconds


def test_requests_to_one_account_are_spaced_even_across_adapter_instances(api):
    api.get(f"{ROOT}/paced/svc/v1/transactions", json=page([]))
    clock = FakeClock()
    adapters = [FirmaoProvider({"organization_id": "paced", "password": "p"}, options={"min_request_interval": "1"})
                for _ in range(2)]
    for adapter in adapters:
        adapter.clock, adapter.sleep = clock, clock.sleep
    adapters[0].check_connection()  # first request: no wait
    clock.now += 0.25
    adapters[0].check_connection()
    adapters[1].check_connection()  # a new instance (a new job) still waits for the account
    clock.now += 5
    adapters[1].check_connection()
    assert clock.slept == [0.75, 1.0]
