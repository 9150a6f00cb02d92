"""Fakturownia adapter over HTTP: requests sent, every error shape, lookups, parsing.

`responses` stands in for the service; two tests use real local sockets (127.0.0.1) so the
transport-error mapping is exercised against what `requests` really raises.
"""

import json
import socket
import traceback
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import ProtocolError

from providers.base import (
    AuthenticationFailed,
    Choice,
    DuplicateReference,
    KsefInfo,
    OutcomeUnknown,
    ProviderError,
    RateTotal,
    TransientError,
    ValidationRejected,
)
from providers.fakturownia import FakturowniaProvider, clear_shared_cache
from providers.fakturownia_mapping import build_invoice

from .factories import TOKEN, company_buyer, consumer_buyer, make_correction, make_doc, make_line, settings

BASE = "https://acme.fakturownia.pl"
PUBLIC_TOKEN = "chxfYsCys5BEKOmiPMO"


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture(autouse=True)
def fresh_catalogue_cache():
    clear_shared_cache()
    yield
    clear_shared_cache()


@pytest.fixture
def log():
    return []


@pytest.fixture
def adapter(log):
    return FakturowniaProvider({"api_token": TOKEN, "account_prefix": "acme"}, request_log=log.append)


def token_query(**params):
    return matchers.query_param_matcher({**{k: str(v) for k, v in params.items()}, "api_token": TOKEN})


def invoice_json(**overrides):
    data = {
        "id": 4321,
        "number": "FV 12/05/2025",
        "kind": "vat",
        "status": "issued",
        "oid": "IB-12-3456",
        "issue_date": "2025-05-14",
        "token": PUBLIC_TOKEN,
        "view_url": f"{BASE}/invoice/{PUBLIC_TOKEN}",
        "price_net": "32.02",
        "price_gross": "38.00",
        "currency": "PLN",
        "gov_status": None,
        "positions": [
            {"id": 1, "name": "Kubek", "tax": "23", "total_price_net": "8.13", "total_price_gross": "10.00"},
            {"id": 2, "name": "Talerz", "tax": "23", "total_price_net": "16.26", "total_price_gross": "20.00"},
            {"id": 3, "name": "Książka", "tax": "8", "total_price_net": "4.63", "total_price_gross": "5.00"},
            {"id": 4, "name": "Kurs", "tax": "zw", "total_price_net": "3.00", "total_price_gross": "3.00"},
        ],
    }
    data.update(overrides)
    return data


# ------------------------------------------------------------------ account and base URL


def test_base_url_comes_from_prefix_token_form_or_explicit_url():
    assert FakturowniaProvider({"api_token": "x", "account_prefix": "acme"}).base_url == BASE
    assert FakturowniaProvider({"api_token": "x", "account_prefix": "https://acme.fakturownia.pl/"}).base_url == BASE
    assert FakturowniaProvider({"api_token": "abcdef/acme"}).base_url == BASE
    sandbox = "http://127.0.0.1:5050/fakturownia/acme"
    assert FakturowniaProvider({"api_token": "x"}, base_url=sandbox + "/").base_url == sandbox


def test_a_prefix_that_is_not_a_subdomain_is_refused():
    with pytest.raises(ProviderError, match="subdomenę"):
        FakturowniaProvider({"api_token": "x", "account_prefix": "evil.com?x="})


def test_missing_token_or_account_fails_clearly_without_a_request():
    with pytest.raises(AuthenticationFailed, match="Integracja"):
        FakturowniaProvider({"api_token": "", "account_prefix": "acme"}).check_connection()
    with pytest.raises(ProviderError, match="subdomenę"):
        FakturowniaProvider({"api_token": "abc"}).check_connection()


def test_check_connection_returns_the_account_label(api, adapter):
    api.get(f"{BASE}/departments.json", match=[token_query()],
            json=[{"id": 7, "name": "Sklep Ąę Sp. j.", "default": True}, {"id": 8, "name": "Hurt"}])
    assert adapter.check_connection() == "acme – Sklep Ąę Sp. j."


def test_check_connection_with_a_bad_token_says_where_to_find_the_right_one(api, adapter):
    api.get(f"{BASE}/departments.json", status=401,
            json={"code": "error", "message": "You must be logged in to gain access to the site"})
    with pytest.raises(AuthenticationFailed) as err:
        adapter.check_connection()
    assert "Nieprawidłowy kod API" in err.value.message
    assert "Ustawienia → Ustawienia konta → Integracja → Kod autoryzacyjny API" in err.value.message


def test_prefixed_token_is_sent_whole(api):
    prefixed = f"{TOKEN}/acme"
    api.get(f"{BASE}/departments.json", match=[matchers.query_param_matcher({"api_token": prefixed})], json=[])
    assert FakturowniaProvider({"api_token": prefixed}).check_connection() == "acme"


def test_departments_are_offered_as_series(api, adapter):
    api.get(f"{BASE}/departments.json", match=[token_query()],
            json=[{"id": 7, "name": "Sklep główny"}, {"id": 8, "name": None, "shortcut": "HURT"}])
    assert adapter.list_series() == [Choice("7", "Sklep główny"), Choice("8", "HURT")]


def test_payment_types_are_the_documented_list_with_polish_labels(adapter):
    types = {c.id: c.name for c in adapter.list_payment_types()}
    assert types["transfer"] == "Przelew"
    assert types["cash_on_delivery"] == "Za pobraniem"
    assert {"card", "cash", "payu", "paypal", "off"} <= types.keys()


# ------------------------------------------------------------------ create


def test_create_posts_the_invoice_with_token_in_the_body(api, adapter):
    doc = make_doc()
    expected_body = {"api_token": TOKEN, "invoice": build_invoice(doc, settings())}
    api.post(f"{BASE}/invoices.json", match=[matchers.json_params_matcher(expected_body)],
             status=201, json=invoice_json())

    remote = adapter.create_document(doc, settings())

    assert remote.remote_id == "4321"
    assert remote.number == "FV 12/05/2025"
    assert remote.view_url == f"{BASE}/invoice/{PUBLIC_TOKEN}"
    assert remote.pdf_url == f"{BASE}/invoice/{PUBLIC_TOKEN}.pdf"
    assert remote.total_gross == Decimal("38.00")
    sent = api.calls[0].request
    assert "api_token" not in sent.url
    assert sent.headers["Content-Type"] == "application/json"


COMPANY = {"buyer_company": True, "buyer_name": "Hurtownia Żółw Sp. z o.o.", "buyer_tax_no": "6272616681",
           "buyer_tax_no_kind": "", "buyer_street": "ul. Świętokrzyska 12", "buyer_post_code": "00-916",
           "buyer_city": "Łódź", "buyer_country": "PL", "buyer_email": "zakupy@zolw.example"}
HEAD = {"kind": "vat", "oid": "IB-12-3456", "oid_unique": "yes", "issue_date": "2025-05-14", "sell_date": "2025-05-13"}
TRANSFER_DUE = {"payment_type": "transfer", "payment_to": "2025-05-28", "payment_to_kind": "other_date"}
MUG = {"name": "Kubek ceramiczny", "quantity": "1", "quantity_unit": "szt", "price_gross": "10.00",
       "total_price_gross": "10.00", "tax": 23}
ANONYMOUS = consumer_buyer(name="", first_name="", last_name="", email="", phone="", street="", post_code="", city="")

MAPPING_CASES = {
    "receipt without a buyer": (
        make_doc(kind="receipt", reference="IB-12-PAR1", number="PAR/3/05/2025", buyer=ANONYMOUS,
                 hide_payment_date=True, payment_due=None, payment_method="Karta", paid=True,
                 paid_date=date(2025, 5, 14), lines=[make_line("Herbata", "2", "18.50", "5")]),
        settings(), {},
        {"kind": "receipt", "oid": "IB-12-PAR1", "oid_unique": "yes", "issue_date": "2025-05-14",
         "sell_date": "2025-05-13", "payment_type": "card", "payment_to_kind": "off", "status": "paid",
         "paid": "37.00", "paid_date": "2025-05-14", "currency": "PLN", "buyer_company": False,
         "positions": [{"name": "Herbata", "quantity": "2", "quantity_unit": "szt", "price_gross": "18.50",
                        "total_price_gross": "37.00", "tax": 5}]},
    ),
    "hub numbering": (
        make_doc(), settings(numbering="hub"), {},
        {**HEAD, "number": "FV/7/05/2025", **TRANSFER_DUE, "currency": "PLN", **COMPANY, "positions": [MUG]},
    ),
    "series linked": (
        make_doc(), settings(series_id="17"), {},
        {**HEAD, "department_id": 17, **TRANSFER_DUE, "currency": "PLN", **COMPANY, "positions": [MUG]},
    ),
    "series do not pass": (
        make_doc(), settings(series_id=None), {},
        {**HEAD, **TRANSFER_DUE, "currency": "PLN", **COMPANY, "positions": [MUG]},
    ),
    "mapped payment type": (
        make_doc(payment_method="Przelewy24"), settings(payment_type="payu"), {},
        {**HEAD, **TRANSFER_DUE, "payment_type": "payu", "currency": "PLN", **COMPANY, "positions": [MUG]},
    ),
    "payment date omitted": (
        make_doc(hide_payment_date=True), settings(), {},
        {**HEAD, "payment_type": "transfer", "payment_to_kind": "off", "currency": "PLN", **COMPANY,
         "positions": [MUG]},
    ),
    "EUR with exchange rate": (
        make_doc(currency="EUR", exchange_rate=Decimal("4.2718"), lines=[make_line("Mug", "3", "12.30", "23")]),
        settings(), {},
        {**HEAD, **TRANSFER_DUE, "currency": "EUR", "exchange_currency": "PLN", "exchange_kind": "own",
         "exchange_currency_rate": "4.2718", **COMPANY,
         "positions": [{"name": "Mug", "quantity": "3", "quantity_unit": "szt", "price_gross": "12.30",
                        "total_price_gross": "36.90", "tax": 23}]},
    ),
    "zw np oo rates": (
        make_doc(exemption_basis="art. 43 ust. 1 pkt 29 lit. a ustawy o VAT",
                 lines=[make_line("Szkolenie", "1", "250.00", "zw"), make_line("Usługa poza Polską", "1", "80.00", "np"),
                        make_line("Stal", "1", "300.00", "oo")]),
        settings(), {"np_tax_kind": "export_service"},
        {**HEAD, **TRANSFER_DUE, "currency": "PLN", **COMPANY,
         "exempt_tax_kind": "art. 43 ust. 1 pkt 29 lit. a ustawy o VAT", "np_tax_kind": "export_service",
         "reverse_charge": True,
         "positions": [
             {"name": "Szkolenie", "quantity": "1", "quantity_unit": "szt", "price_gross": "250.00",
              "total_price_gross": "250.00", "tax": "zw"},
             {"name": "Usługa poza Polską", "quantity": "1", "quantity_unit": "szt", "price_gross": "80.00",
              "total_price_gross": "80.00", "tax": "np"},
             {"name": "Stal", "quantity": "1", "quantity_unit": "szt", "price_gross": "300.00",
              "total_price_gross": "300.00", "tax": "oo"}]},
    ),
    "consumer buyer": (
        make_doc(buyer=consumer_buyer()), settings(), {},
        {**HEAD, **TRANSFER_DUE, "currency": "PLN", "buyer_company": False, "buyer_name": "Małgorzata Wójcik",
         "buyer_first_name": "Małgorzata", "buyer_last_name": "Wójcik", "buyer_street": "ul. Źródlana 3/5",
         "buyer_post_code": "30-001", "buyer_city": "Kraków", "buyer_country": "PL",
         "buyer_email": "gosia@example.pl", "buyer_phone": "+48600100200", "positions": [MUG]},
    ),
    "SKU on": (
        make_doc(lines=[make_line("Kubek", "2", "29.99", "23", sku="SKU-001")]), settings(send_sku=True),
        {"warehouse_id": "3"},
        {**HEAD, **TRANSFER_DUE, "currency": "PLN", **COMPANY, "warehouse_id": 3,
         "positions": [{"name": "Kubek", "quantity": "2", "quantity_unit": "szt", "price_gross": "29.99",
                        "total_price_gross": "59.98", "tax": 23, "code": "SKU-001", "product_id": 900001}]},
    ),
}


@pytest.mark.parametrize("doc, export, options, invoice", MAPPING_CASES.values(), ids=list(MAPPING_CASES))
def test_the_service_receives_exactly_this_body(api, log, doc, export, options, invoice):
    if export.send_sku:
        api.get(f"{BASE}/products.json", match=[token_query(page=1, per_page=100)],
                json=[{"id": 900001, "code": "SKU-001"}, {"id": 900002, "code": "SKU-002"}])
    api.post(f"{BASE}/invoices.json", match=[matchers.json_params_matcher({"api_token": TOKEN, "invoice": invoice})],
             status=201, json=invoice_json(oid=doc.reference))
    adapter = FakturowniaProvider({"api_token": TOKEN, "account_prefix": "acme"}, options=options,
                                  request_log=log.append)

    assert adapter.create_document(doc, export).remote_id == "4321"


@pytest.mark.parametrize("value, sent", [("1", True), ("0", False), ("", False), ("tak", True), ("nie", False)])
def test_gov_save_and_send_is_sent_only_when_the_option_is_on(api, log, value, sent):
    expected = {"api_token": TOKEN, "invoice": build_invoice(make_doc(), settings())}
    if sent:
        expected["gov_save_and_send"] = True
    api.post(f"{BASE}/invoices.json", match=[matchers.json_params_matcher(expected)], status=201, json=invoice_json())
    adapter = FakturowniaProvider({"api_token": TOKEN, "account_prefix": "acme"},
                                  options={"gov_save_and_send": value}, request_log=log.append)
    adapter.create_document(make_doc(), settings())


def test_catalogue_is_read_once_per_account_across_adapters_and_a_sku_outside_it_is_noted(api, log):
    api.get(f"{BASE}/products.json", match=[token_query(page=1, per_page=100)], json=[{"id": 7, "code": "SKU-001"}])
    api.post(f"{BASE}/invoices.json", status=201, json=invoice_json())
    known = make_doc(lines=[make_line("Kubek", sku="SKU-001")])

    for _job in range(3):  # one adapter per job, as the worker makes them
        adapter = FakturowniaProvider({"api_token": TOKEN, "account_prefix": "acme"}, request_log=log.append)
        adapter.create_document(known, settings(send_sku=True))
        assert adapter.notes == []
    assert [c.request.method for c in api.calls].count("GET") == 1

    other_account = FakturowniaProvider({"api_token": "other-token", "account_prefix": "acme"})
    api.get(f"{BASE}/products.json", json=[])
    other_account.create_document(known, settings(send_sku=True))
    assert [c.request.method for c in api.calls].count("GET") == 2  # never another account's catalogue
    assert other_account.notes == [("SKU spoza katalogu produktów Fakturowni: SKU-001 – wysłano sam kod, bez "
                                     "powiązania z produktem (stan magazynu może się nie zmienić).")]
    assert json.loads(api.calls[-1].request.body)["invoice"]["positions"][0] == {
        "name": "Kubek", "quantity": "1", "quantity_unit": "szt", "price_gross": "10.00",
        "total_price_gross": "10.00", "tax": 23, "code": "SKU-001"}


def test_a_sku_missing_from_an_older_catalogue_reads_it_again(api, log):
    api.get(f"{BASE}/products.json", json=[{"id": 7, "code": "SKU-001"}])
    api.post(f"{BASE}/invoices.json", status=201, json=invoice_json())
    first = FakturowniaProvider({"api_token": TOKEN, "account_prefix": "acme"})
    first.create_document(make_doc(lines=[make_line(sku="SKU-001")]), settings(send_sku=True))
    api.get(f"{BASE}/products.json", json=[{"id": 7, "code": "SKU-001"}, {"id": 8, "code": "SKU-NEW"}])

    later = FakturowniaProvider({"api_token": TOKEN, "account_prefix": "acme"})
    later._clock = lambda: first._clock() + 61  # past PRODUCTS_MISS_TTL, within PRODUCTS_TTL
    later.create_document(make_doc(lines=[make_line(sku="SKU-NEW")]), settings(send_sku=True))

    assert json.loads(api.calls[-1].request.body)["invoice"]["positions"][0]["product_id"] == 8
    assert later.notes == []


def test_create_refuses_a_document_that_fails_preflight_without_sending(api, adapter):
    doc = make_doc(buyer=company_buyer(tax_id="1234567890"))
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(doc, settings())
    assert list(err.value.field_errors) == ["buyer.tax_id"]
    assert len(api.calls) == 0


def test_sku_resolves_product_ids_once_by_paging_the_catalogue(api, adapter):
    page1 = [{"id": 1000 + i, "code": f"X-{i}"} for i in range(100)]
    page2 = [{"id": 501, "code": "KUB-01"}, {"id": 502, "code": None}]
    api.get(f"{BASE}/products.json", match=[token_query(page=1, per_page=100)], json=page1)
    api.get(f"{BASE}/products.json", match=[token_query(page=2, per_page=100)], json=page2)
    doc = make_doc(lines=[make_line(sku="KUB-01"), make_line(name="Spinacz", sku="X-7")])
    export = settings(send_sku=True)
    for reference in ("IB-1", "IB-2"):
        api.post(f"{BASE}/invoices.json", status=201, json=invoice_json(oid=reference))

    adapter.options = {"warehouse_id": "3"}
    adapter.create_document(make_doc(lines=doc.lines, reference="IB-1"), export)
    adapter.create_document(make_doc(lines=doc.lines, reference="IB-2"), export)

    posted = [json.loads(c.request.body) for c in api.calls if c.request.method == "POST"]
    assert [p["invoice"]["positions"][0]["product_id"] for p in posted] == [501, 501]
    assert [p["invoice"]["positions"][1]["product_id"] for p in posted] == [1007, 1007]
    assert posted[0]["invoice"]["warehouse_id"] == 3
    assert sum(1 for c in api.calls if "products.json" in c.request.url) == 2  # cached after first doc


def test_correction_is_posted_against_the_original(api, adapter):
    doc = make_correction([(make_line(quantity="2"), make_line())])
    api.post(f"{BASE}/invoices.json", status=201,
             json=invoice_json(id=4400, kind="correction", number="KOR 1/05/2025", oid=doc.reference))
    remote = adapter.create_document(doc, settings())
    invoice = json.loads(api.calls[0].request.body)["invoice"]
    assert (invoice["kind"], invoice["invoice_id"], invoice["from_invoice_id"]) == ("correction", 987654, 987654)
    assert remote.number == "KOR 1/05/2025"


# ------------------------------------------------------------------ error shapes


def test_422_field_messages_become_field_errors(api, adapter):
    api.post(f"{BASE}/invoices.json", status=422, json={
        "code": "error",
        "message": {"buyer_name": ["- nie może być puste"], "buyer_phone": "- pole jest za długie"},
    })
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert not isinstance(err.value, DuplicateReference)
    assert err.value.field_errors == {"buyer_name": ["- nie może być puste"],
                                      "buyer_phone": ["- pole jest za długie"]}
    assert "buyer_name: nie może być puste" in err.value.message


def test_422_with_a_plain_string_message(api, adapter):
    api.post(f"{BASE}/invoices.json", status=422, json={"code": "error", "message": "Nieprawidłowe dane"})
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.field_errors == {}
    assert "Nieprawidłowe dane" in err.value.message


def test_422_on_oid_is_a_duplicate_reference(api, adapter):
    api.post(f"{BASE}/invoices.json", status=422,
             json={"code": "error", "message": {"oid": ["has already been taken"]}})
    with pytest.raises(DuplicateReference) as err:
        adapter.create_document(make_doc(), settings())
    assert isinstance(err.value, ValidationRejected)
    assert err.value.field_errors == {"oid": ["has already been taken"]}


@pytest.mark.parametrize("message", [
    "Oid has already been taken",
    "oid - wartość jest już zajęta",
    ["Numer zamówienia (oid) już istnieje"],
])
def test_422_whose_text_names_the_oid_is_a_duplicate_reference(api, adapter, message):
    api.post(f"{BASE}/invoices.json", status=422, json={"code": "error", "message": message})
    with pytest.raises(DuplicateReference) as err:
        adapter.create_document(make_doc(), settings())
    assert list(err.value.field_errors) == ["oid"]


def test_422_text_that_merely_contains_the_letters_oid_is_not_a_duplicate(api, adapter):
    api.post(f"{BASE}/invoices.json", status=422, json={"code": "error", "message": "Pole void jest złe"})
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert not isinstance(err.value, DuplicateReference)


def test_429_is_transient_with_retry_after_in_seconds(api, adapter):
    api.post(f"{BASE}/invoices.json", status=429, headers={"Retry-After": "7"}, json={})
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert (err.value.status, err.value.retry_after) == (429, 7.0)


def test_429_retry_after_as_an_http_date(api, adapter):
    when = datetime.now(UTC) + timedelta(seconds=120)
    api.get(f"{BASE}/invoices/1.json", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(TransientError) as err:
        adapter.fetch_document("1")
    assert 100 <= err.value.retry_after <= 120


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(api, adapter, status):
    api.post(f"{BASE}/invoices.json", status=status, body="<html>Bad gateway</html>")
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.status == status and err.value.retry_after is None


@pytest.mark.parametrize("body", [
    {"status": "error", "message": "Faktura nie może zostać wysłana - brak numeru KSeF"},
    {"code": "error", "message": "Faktura nie może zostać wysłana - brak numeru KSeF"},
])
def test_http_200_with_an_error_body_is_an_error(api, adapter, body):
    api.get(f"{BASE}/invoices/4321.json", json=body)
    with pytest.raises(ProviderError) as err:
        adapter.fetch_document("4321")
    assert not isinstance(err.value, TransientError)
    assert "brak numeru KSeF" in err.value.message


def test_404_is_a_plain_provider_error(api, adapter):
    api.get(f"{BASE}/invoices/999.json", status=404, json={"code": "error", "message": "Not found"})
    with pytest.raises(ProviderError) as err:
        adapter.fetch_document("999")
    assert type(err.value) is ProviderError
    assert "Not found" in err.value.message


def test_unreadable_answer_to_a_post_is_an_unknown_outcome(api, adapter):
    api.post(f"{BASE}/invoices.json", status=201, body="<html>oops</html>")
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def test_connection_reset_after_a_post_is_an_unknown_outcome(api, adapter):
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))
    api.post(f"{BASE}/invoices.json", body=reset)
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_transient_even_for_a_post(log):
    base = f"http://127.0.0.1:{_free_port()}"
    adapter = FakturowniaProvider({"api_token": TOKEN}, base_url=base, timeout=(1, 1), request_log=log.append)
    with pytest.raises(TransientError):
        adapter.create_document(make_doc(), settings())
    with pytest.raises(TransientError) as err:
        adapter.fetch_document("1")  # a GET: the token is in the URL requests puts in its error
    # The traceback a worker records must not carry the URL (and its token) either.
    assert TOKEN not in "".join(traceback.format_exception(err.value))
    assert [(entry.status, entry.error) for entry in log] == [(None, "TransientError")] * 2


def test_a_malformed_api_address_is_a_configuration_error_not_an_unknown_outcome():
    adapter = FakturowniaProvider({"api_token": TOKEN}, base_url="127.0.0.1:5050/fakturownia/acme")
    with pytest.raises(ProviderError) as err:
        adapter.create_document(make_doc(), settings())
    assert type(err.value) is ProviderError and "adres API" in err.value.message


def test_read_timeout_after_a_post_is_an_unknown_outcome_and_after_a_get_is_transient(log):
    # A listening socket that never answers: the request is sent, the response never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        adapter = FakturowniaProvider({"api_token": TOKEN}, base_url=base, timeout=(1, 0.2),
                                      request_log=log.append)
        with pytest.raises(OutcomeUnknown) as err:
            adapter.create_document(make_doc(), settings())
        assert TOKEN not in err.value.message
        with pytest.raises(TransientError):
            adapter.fetch_document("1")
    assert [entry.error for entry in log] == ["OutcomeUnknown", "TransientError"]


# ------------------------------------------------------------------ find_document


def test_find_by_hub_number_checks_our_reference(api, adapter):
    api.get(f"{BASE}/invoices.json", match=[token_query(number="FV/7/05/2025", period="all")],
            json=[invoice_json(id=11, oid="SOMEONE-ELSE"), invoice_json(id=12, oid="IB-12-3456")])
    api.get(f"{BASE}/invoices/12.json", match=[token_query(correction_positions="full")], json=invoice_json(id=12))
    found = adapter.find_document(make_doc())
    assert found is not None and found.remote_id == "12"


def test_find_pages_through_the_issue_date_window_when_the_number_does_not_match(api, adapter):
    window = {"period": "more", "date_from": "2025-05-13", "date_to": "2025-05-15", "per_page": 100}
    api.get(f"{BASE}/invoices.json", match=[token_query(number="FV/7/05/2025", period="all")],
            json=[invoice_json(id=11, oid="SOMEONE-ELSE")])
    api.get(f"{BASE}/invoices.json", match=[token_query(page=1, **window)],
            json=[invoice_json(id=100 + i, oid=f"OTHER-{i}") for i in range(100)])
    api.get(f"{BASE}/invoices.json", match=[token_query(page=2, **window)],
            json=[invoice_json(id=300, oid="OTHER-X"), invoice_json(id=301, oid="IB-12-3456")])
    api.get(f"{BASE}/invoices/301.json", json=invoice_json(id=301))
    found = adapter.find_document(make_doc())
    assert found is not None and found.remote_id == "301"


def test_find_without_a_hub_number_and_no_match_returns_none(api, adapter):
    window = {"period": "more", "date_from": "2025-05-13", "date_to": "2025-05-15", "per_page": 100}
    api.get(f"{BASE}/invoices.json", match=[token_query(page=1, **window)],
            json=[invoice_json(id=5, oid="OTHER")])
    assert adapter.find_document(make_doc(number="")) is None
    assert len(api.calls) == 1


def test_find_stops_when_the_service_ignores_the_page_parameter(api, adapter):
    same_page = [invoice_json(id=100 + i, oid=f"OTHER-{i}") for i in range(100)]
    api.get(f"{BASE}/invoices.json", json=same_page)  # answers every page with the same records
    assert adapter.find_document(make_doc(number="")) is None
    assert len(api.calls) == 2


# ------------------------------------------------------------------ fetch


def test_fetch_computes_totals_per_rate_from_positions(api, adapter):
    api.get(f"{BASE}/invoices/4321.json", match=[token_query(correction_positions="full")], json=invoice_json())
    remote = adapter.fetch_document("4321")
    assert remote.totals == (
        RateTotal("23", Decimal("24.39"), Decimal("5.61"), Decimal("30.00")),
        RateTotal("8", Decimal("4.63"), Decimal("0.37"), Decimal("5.00")),
        RateTotal("zw", Decimal("3.00"), Decimal("0.00"), Decimal("3.00")),
    )
    assert remote.total_gross == Decimal("38.00")
    assert remote.status == "issued" and remote.ksef is None
    assert remote.raw["oid"] == "IB-12-3456"


def _corrected(name, tax, before, after):
    def state(gross, kind):
        return {"name": name, "tax": tax, "quantity": "1", "total_price_gross": gross, "kind": kind}
    difference = str(Decimal(after) - Decimal(before))
    return {"name": name, "tax": tax, "quantity": "0", "total_price_gross": difference, "kind": "correction",
            "correction_before_attributes": state(before, "correction_before"),
            "correction_after_attributes": state(after, "correction_after")}


def test_fetch_of_a_correction_reports_its_after_state_totals(api, adapter):
    positions = [_corrected("Kubek", "23", "10.00", "5.00"), _corrected("Talerz", "23", "20.00", "20.00"),
                 _corrected("Książka", "8", "5.00", "0.00")]
    api.get(f"{BASE}/invoices/77.json", match=[token_query(correction_positions="full")],
            json=invoice_json(id=77, kind="correction", price_gross="-10.00", positions=positions))
    remote = adapter.fetch_document("77")
    # 25.00 at 23 % after the correction; the 8 % line corrected to zero stays as a zero row.
    assert remote.totals == (
        RateTotal("23", Decimal("20.33"), Decimal("4.67"), Decimal("25.00")),
        RateTotal("8", Decimal("0.00"), Decimal("0.00"), Decimal("0.00")),
    )


def test_a_correction_read_without_its_after_state_reports_no_totals(api, adapter):
    outer = {"name": "Kubek", "tax": "23", "quantity": "0", "total_price_gross": "-5.00", "kind": "correction"}
    api.get(f"{BASE}/invoices/77.json", json=invoice_json(id=77, kind="correction", positions=[outer]))
    assert adapter.fetch_document("77").totals == ()  # never the difference, taken for a mismatch


@pytest.mark.parametrize("fields, expected", [
    ({"gov_status": "ok", "gov_id": "5252445767-20250514-ABCDEF-12", "gov_verification_link": "https://ksef/v/1"},
     KsefInfo("accepted", "5252445767-20250514-ABCDEF-12", "https://ksef/v/1", None)),
    ({"gov_status": "processing"}, KsefInfo("processing", None, None, None)),
    ({"gov_status": "send_error", "gov_error_messages": ["Telefon klienta - pole jest za długie", "NIP"]},
     KsefInfo("error", None, None, "Telefon klienta - pole jest za długie; NIP")),
    ({"gov_status": "server_error", "gov_error_messages": None},
     KsefInfo("error", None, None, "KSeF: server_error")),
    ({"gov_status": "not_applicable"}, KsefInfo("not_applicable", None, None, None)),
    ({"gov_status": "demo_ok", "gov_id": "X-1"}, KsefInfo("accepted", "X-1", None, None)),
])
def test_fetch_reads_the_ksef_state(api, adapter, fields, expected):
    api.get(f"{BASE}/invoices/4321.json", json=invoice_json(**fields))
    assert adapter.fetch_document("4321").ksef == expected


def test_fetch_pdf_returns_the_pdf_bytes(api, adapter):
    pdf = b"%PDF-1.4\n% Faktura\n"
    api.get(f"{BASE}/invoices/4321.pdf", match=[token_query()], body=pdf, content_type="application/pdf")
    assert adapter.fetch_pdf("4321") == pdf


def test_fetch_pdf_refuses_something_that_is_not_a_pdf(api, adapter):
    api.get(f"{BASE}/invoices/4321.pdf", json={"status": "error", "message": "Brak dostępu"})
    with pytest.raises(ProviderError, match="PDF"):
        adapter.fetch_pdf("4321")


# ------------------------------------------------------------------ secrets


def test_the_token_never_reaches_the_request_log_or_error_messages(api, log):
    adapter = FakturowniaProvider({"api_token": f"{TOKEN}/acme"}, request_log=log.append)
    api.get(f"{BASE}/departments.json", json=[])
    api.post(f"{BASE}/invoices.json", status=422,
             json={"code": "error", "message": {"api_token": [f"bad token {TOKEN}"]}})
    api.get(f"{BASE}/invoices/4321.json", json=invoice_json())
    api.get(f"{BASE}/invoices/4321.pdf", body=b"%PDF-1.7")

    adapter.check_connection()
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    adapter.fetch_document("4321")
    adapter.fetch_pdf("4321")

    assert TOKEN in api.calls[0].request.url  # it was really sent…
    assert [(s.method, s.path, s.status) for s in log] == [
        ("GET", "/departments.json", 200),
        ("POST", "/invoices.json", 422),
        ("GET", "/invoices/4321.json?correction_positions=full", 200),
        ("GET", "/invoices/4321.pdf", 200),
    ]
    for summary in log:  # …but never kept
        assert TOKEN not in str(summary) and TOKEN not in repr(summary)
    assert TOKEN not in err.value.message and TOKEN not in json.dumps(err.value.field_errors)


def test_request_summary_keeps_non_secret_query_parameters(api, adapter, log):
    api.get(f"{BASE}/invoices.json", json=[])
    adapter.find_document(make_doc(number=""))
    assert log[0].path == "/invoices.json?period=more&date_from=2025-05-13&date_to=2025-05-15&page=1&per_page=100"
    assert "GET /invoices.json?period=more" in str(log[0]) and "→ 200" in str(log[0])
