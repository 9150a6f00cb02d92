"""wFirma adapter over HTTP: requests sent, every status code, look-ups, parsing, secrets.

`responses` stands in for the service; the transport tests use real local sockets (127.0.0.1)
so the error mapping is exercised against what `requests` really raises.
"""

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
    KsefInfo,
    OutcomeUnknown,
    ProviderError,
    TransientError,
    ValidationRejected,
)
from providers.wfirma import NotFound, WfirmaProvider, clear_shared_cache
from providers.wfirma_mapping import PAYMENT_METHODS, build_invoice, envelope, find_request

from .factories import company_buyer, consumer_buyer, make_doc, make_line, settings

API = "https://api2.wfirma.pl"
ACCESS, SECRET, APP = "acc-K3y-1234567", "s3cr3t-W-abcdefgh", "app-K3y-9876543"
CREDENTIALS = {"access_key": ACCESS, "secret_key": SECRET, "app_key": APP, "company_id": "885367"}
QUERY = {"inputFormat": "json", "outputFormat": "json", "company_id": "885367"}


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def log():
    return []


@pytest.fixture
def adapter(log):
    return WfirmaProvider(CREDENTIALS, request_log=log.append)


@pytest.fixture(autouse=True)
def no_shared_reference_data():
    # Series and SKU → good ids are kept per account across adapters; every test here uses the
    # same keys, so each one starts without what the previous one read.
    clear_shared_cache()
    yield
    clear_shared_cache()


def paths(api) -> list[str]:
    return [c.request.url.split("?")[0].removeprefix(API) for c in api.calls]


def ok(plural: str, singular: str, *records: dict, total: int | None = None) -> dict:
    body: dict = {str(i): {singular: r} for i, r in enumerate(records)}
    body["parameters"] = {"limit": "100", "page": "1", "total": str(len(records) if total is None else total)}
    return {plural: body, "status": {"code": "OK"}}


def status(code: str, message: str = "") -> dict:
    return {"status": {"code": code, **({"message": message} if message else {})}}


def keys():
    return matchers.header_matcher({"accessKey": ACCESS, "secretKey": SECRET, "appKey": APP})


def query(**extra):
    return matchers.query_param_matcher({**QUERY, **extra})


def invoice_record(**overrides):
    record = {
        "id": "1207242", "fullnumber": "FV 12/2025", "number": "12", "type": "normal",
        "id_external": "IB-12-3456", "date": "2025-05-14", "paymentstate": "unpaid", "price_type": "brutto",
        "netto": "8.13", "tax": "1.87", "total": "10.00", "currency": "PLN", "series": {"id": "11"},
        "invoicecontents": {"0": {"invoicecontent": {"id": "9", "name": "Kubek ceramiczny", "count": "1.0000",
                                                     "price": "10.00", "vat": "23", "netto": "8.13",
                                                     "brutto": "10.00"}}},
    }
    record.update(overrides)
    return record


def lookup(api, reference="IB-12-3456", found=()):
    """The look-up by id_external that find_document starts with."""
    api.post(f"{API}/invoices/find", match=[query(), keys(), matchers.json_params_matcher(
        find_request("invoices", [("id_external", "eq", reference)]))],
        json=ok("invoices", "invoice", *found))


def no_contractor(api, nip="6272616681"):
    api.post(f"{API}/contractors/find", match=[matchers.json_params_matcher(
        find_request("contractors", [("nip", "eq", nip)]))], json=ok("contractors", "contractor"))


def posted(api, path: str) -> list[dict]:
    return [json.loads(c.request.body) for c in api.calls if c.request.url.split("?")[0].endswith(path)]


# ------------------------------------------------------------------ account


def test_base_url_is_the_api_root_unless_given():
    assert WfirmaProvider(CREDENTIALS).base_url == API
    assert WfirmaProvider(CREDENTIALS, base_url="http://127.0.0.1:5050/wfirma/").base_url == (
        "http://127.0.0.1:5050/wfirma")


def test_company_id_as_shown_in_wfirma_is_accepted():
    assert WfirmaProvider({**CREDENTIALS, "company_id": "(ID: 885367)"}).company_id == "885367"


@pytest.mark.parametrize("credentials, header", [
    ({**CREDENTIALS, "secret_key": ""}, "secretKey"),
    ({"access_key": ACCESS, "secret_key": SECRET}, "appKey"),
    ({**CREDENTIALS, "access_key": "zły-klucz-ąę"}, "accessKey"),
])
def test_missing_or_unsendable_keys_fail_clearly_without_a_request(api, credentials, header):
    with pytest.raises(AuthenticationFailed) as err:
        WfirmaProvider(credentials).check_connection()
    assert header in err.value.message and "Klucze API" in err.value.message
    assert len(api.calls) == 0


def test_check_connection_names_the_company_and_proves_the_company_scope(api, adapter):
    api.post(f"{API}/user_companies/find",
             match=[matchers.query_param_matcher({"inputFormat": "json", "outputFormat": "json"}), keys()],
             json=ok("user_companies", "user_company",
                     {"id": "1", "company": {"id": "885367", "name": "Sklep Ąę Sp. j."}},
                     {"id": "2", "company": {"id": "900001", "name": "Hurt Ęą"}}))
    api.post(f"{API}/series/find", match=[query(), keys()], json=ok("series", "series", {"id": "11"}))
    assert adapter.check_connection() == "Sklep Ąę Sp. j. (ID firmy: 885367)"


def test_several_companies_without_a_company_id_ask_for_one(api):
    api.post(f"{API}/user_companies/find", json=ok("user_companies", "user_company",
                                                   {"company": {"id": "885367", "name": "Sklep"}},
                                                   {"company": {"id": "900001", "name": "Hurt"}}))
    adapter = WfirmaProvider({**CREDENTIALS, "company_id": ""})
    with pytest.raises(AuthenticationFailed) as err:
        adapter.check_connection()
    assert "wpisz ID firmy" in err.value.message and "885367 (Sklep), 900001 (Hurt)" in err.value.message


def test_company_id_that_the_keys_cannot_reach(api, adapter):
    api.post(f"{API}/user_companies/find", json=ok("user_companies", "user_company",
                                                   {"company": {"id": "900001", "name": "Hurt"}}))
    with pytest.raises(AuthenticationFailed, match="885367 nie jest dostępna"):
        adapter.check_connection()


def test_check_connection_works_when_companies_cannot_be_listed(api, adapter):
    api.post(f"{API}/user_companies/find", json=status("ACTION NOT FOUND"))
    api.post(f"{API}/series/find", json=ok("series", "series"))
    assert adapter.check_connection() == "wFirma – ID firmy: 885367"


@pytest.mark.parametrize("http", [200, 401])
def test_wrong_keys_say_where_to_find_the_right_ones(api, adapter, http):
    api.post(f"{API}/user_companies/find", status=http, json=status("AUTH"))
    with pytest.raises(AuthenticationFailed) as err:
        adapter.check_connection()
    assert "AUTH" in err.value.message and "Ustawienia → Bezpieczeństwo → Aplikacje → Klucze API" in err.value.message


def test_company_id_required_is_an_authentication_problem_naming_the_field(api):
    api.post(f"{API}/user_companies/find", json=status("ACTION NOT FOUND"))
    api.post(f"{API}/series/find", json=status("COMPANY ID REQUIRED"))
    with pytest.raises(AuthenticationFailed, match="wpisz ID firmy"):
        WfirmaProvider({**CREDENTIALS, "company_id": ""}).check_connection()


def test_series_are_listed_page_by_page_with_their_templates(api, adapter):
    api.post(f"{API}/series/find", match=[matchers.json_params_matcher(find_request("series", page=1))],
             json=ok("series", "series", {"id": "11", "name": "Faktury", "template": "FV [numer]/[rok]"},
                     {"id": "12", "name": "Paragony", "template": "PAR/[numer]/[rok]"}, total=3))
    api.post(f"{API}/series/find", match=[matchers.json_params_matcher(find_request("series", page=2))],
             json=ok("series", "series", {"id": "13", "name": "Hurt", "template": ""}, total=3))
    assert adapter.list_series() == [
        Choice("11", "Faktury – FV [numer]/[rok]"), Choice("12", "Paragony – PAR/[numer]/[rok]"), Choice("13", "Hurt"),
    ]


def test_payment_types_are_the_five_documented_methods(adapter):
    assert adapter.list_payment_types() == list(PAYMENT_METHODS)
    assert {c.id for c in adapter.list_payment_types()} == {"cash", "transfer", "compensation", "cod", "payment_card"}


# ------------------------------------------------------------------ create


def test_a_create_adds_the_invoice_without_looking_up_the_reference_first(api, adapter):
    # Exactly once is the pipeline's claim + find_document after an unknown outcome: no
    # invoices/find before invoices/add (`responses` fails on any request not registered here).
    doc = make_doc()
    no_contractor(api)
    api.post(f"{API}/invoices/add", match=[query(), keys(), matchers.json_params_matcher(
        envelope("invoices", "invoice", build_invoice(doc, settings())))],
        json=ok("invoices", "invoice", invoice_record()))

    remote = adapter.create_document(doc, settings())

    assert (remote.remote_id, remote.number, remote.total_gross) == ("1207242", "FV 12/2025", Decimal("10.00"))
    assert paths(api) == ["/contractors/find", "/invoices/add"]  # the contractor: the buyer's own card


def test_a_consumers_document_is_one_request(api, adapter):
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
    adapter.create_document(make_doc(buyer=consumer_buyer()), settings())
    assert paths(api) == ["/invoices/add"]


def test_when_the_search_ignores_id_external_the_issue_date_window_is_read_newest_first(api, adapter):
    lookup(api, found=[invoice_record(id="1", id_external="OTHER-1"), invoice_record(id="2", id_external="")])
    window = [("date", "ge", "2025-05-13"), ("date", "le", "2025-05-15")]
    newest = [("desc", "Invoice.id")]
    api.post(f"{API}/invoices/find", match=[matchers.json_params_matcher(
        find_request("invoices", window, page=1, order=newest))],
        json=ok("invoices", "invoice", *[invoice_record(id=str(900 - i), id_external=f"O-{i}") for i in range(100)],
                total=250))
    api.post(f"{API}/invoices/find", match=[matchers.json_params_matcher(
        find_request("invoices", window, page=2, order=newest))],
        json=ok("invoices", "invoice", invoice_record(id="500"), total=250))
    api.get(f"{API}/invoices/get/500", json=ok("invoices", "invoice", invoice_record(id="500")))
    assert adapter.find_document(make_doc()).remote_id == "500"
    assert paths(api) == ["/invoices/find"] * 3 + ["/invoices/get/500"]  # page 3 is never read


def test_a_consumer_is_sent_inline_without_a_contractor_search(api, adapter):
    doc = make_doc(kind="receipt", buyer=consumer_buyer(), hide_payment_date=True)
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record(type="receipt_normal")))
    adapter.create_document(doc, settings())
    invoice = posted(api, "/invoices/add")[0]["invoices"]["0"]["invoice"]
    assert invoice["type"] == "receipt_normal" and invoice["contractor"]["tax_id_type"] == "none"
    assert "paymentdate" not in invoice


def test_an_existing_contractor_with_the_same_data_is_linked_by_id(api, adapter):
    stored = {"id": "321", "name": "Hurtownia Żółw Sp. z o.o.", "nip": "627-261-66-81",
              "street": "ul. Świętokrzyska 12", "zip": "00-916", "city": "Łódź"}
    api.post(f"{API}/contractors/find", json=ok("contractors", "contractor", stored))
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
    adapter.create_document(make_doc(), settings())
    assert posted(api, "/invoices/add")[0]["invoices"]["0"]["invoice"]["contractor"] == {"id": "321"}


def test_a_contractor_card_found_once_serves_the_buyers_next_documents(api):
    stored = {"id": "321", "name": "Hurtownia Żółw Sp. z o.o.", "nip": "6272616681",
              "street": "ul. Świętokrzyska 12", "zip": "00-916", "city": "Łódź"}
    api.post(f"{API}/contractors/find", json=ok("contractors", "contractor", stored))
    for _ in range(3):
        api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
    for _ in range(3):  # a new adapter per document, as the pipeline builds one per job
        WfirmaProvider(CREDENTIALS).create_document(make_doc(), settings())
    assert paths(api) == ["/contractors/find"] + ["/invoices/add"] * 3
    assert [p["invoices"]["0"]["invoice"]["contractor"] for p in posted(api, "/invoices/add")] == [{"id": "321"}] * 3


def test_a_buyer_without_a_card_is_asked_about_again_on_the_next_document(api):
    # Whether wFirma files an inline buyer as a new card is not documented: not kept.
    for _ in range(2):
        no_contractor(api)
        api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
        WfirmaProvider(CREDENTIALS).create_document(make_doc(), settings())
    assert paths(api) == ["/contractors/find", "/invoices/add"] * 2


def test_a_stored_contractor_with_an_old_address_is_not_reused(api, adapter):
    api.post(f"{API}/contractors/find", json=ok("contractors", "contractor", {
        "id": "321", "name": "Hurtownia Żółw Sp. z o.o.", "nip": "6272616681", "street": "ul. Stara 1",
        "zip": "00-916", "city": "Łódź"}))
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
    adapter.create_document(make_doc(), settings())
    contractor = posted(api, "/invoices/add")[0]["invoices"]["0"]["invoice"]["contractor"]
    assert contractor["street"] == "ul. Świętokrzyska 12" and "id" not in contractor


def test_no_access_to_contractors_still_sends_the_buyer_inline(api, adapter):
    api.post(f"{API}/contractors/find", json=status("ACCESS DENIED"))
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
    adapter.create_document(make_doc(), settings())
    assert posted(api, "/invoices/add")[0]["invoices"]["0"]["invoice"]["contractor"]["nip"] == "6272616681"


def test_contractor_matching_can_be_switched_off(api):
    adapter = WfirmaProvider(CREDENTIALS, options={"contractor_match": "never"})
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
    adapter.create_document(make_doc(), settings())
    assert paths(api) == ["/invoices/add"]


def test_sku_links_catalogue_goods_found_by_code_in_the_chosen_warehouse(api, adapter):
    doc = make_doc(lines=[make_line(sku="KUB-01"), make_line(name="Talerz", sku="TAL-02"), make_line(sku="KUB-01")])
    no_contractor(api)
    for sku, good in (("KUB-01", "501"), ("TAL-02", "502")):
        api.post(f"{API}/goods/find", match=[matchers.json_params_matcher(
            find_request("goods", [("code", "eq", sku)]))], json=ok("goods", "good", {"id": good, "code": sku}))
    api.post(f"{API}/invoices/add", match=[query(warehouse_id="3")],
             json=ok("invoices", "invoice", invoice_record()))
    no_contractor(api)
    api.post(f"{API}/invoices/add", match=[query(warehouse_id="3")],
             json=ok("invoices", "invoice", invoice_record()))

    adapter.create_document(doc, settings(send_sku=True, options={"warehouse_id": "3"}))

    sent = posted(api, "/invoices/add")[0]["invoices"]["0"]["invoice"]["invoicecontents"]
    assert [c["invoicecontent"]["good"] for c in sent.values()] == [{"id": "501"}, {"id": "502"}, {"id": "501"}]
    assert len(posted(api, "/goods/find")) == 2  # once per SKU

    # The next document (a new adapter, as every pipeline job has) finds them without a search.
    WfirmaProvider(CREDENTIALS).create_document(doc, settings(send_sku=True, options={"warehouse_id": "3"}))
    assert len(posted(api, "/goods/find")) == 2 and len(posted(api, "/invoices/add")) == 2


def test_unknown_sku_is_refused_before_adding_or_sent_unlinked_when_chosen(api):
    doc = make_doc(lines=[make_line(sku="KUB-01"), make_line(name="Wysyłka", sku="SHIP")])
    no_contractor(api)  # only the second create gets that far
    api.post(f"{API}/goods/find", match=[matchers.json_params_matcher(find_request("goods", [("code", "eq", "KUB-01")]))],
             json=ok("goods", "good", {"id": "501", "code": "KUB-01"}))
    api.post(f"{API}/goods/find", match=[matchers.json_params_matcher(find_request("goods", [("code", "eq", "SHIP")]))],
             json=status("NOT FOUND"))
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))

    with pytest.raises(ValidationRejected) as err:
        WfirmaProvider(CREDENTIALS).create_document(doc, settings(send_sku=True))
    assert list(err.value.field_errors) == ["lines[1].sku"]
    assert "SHIP" in err.value.message and "wyłącz przekazywanie SKU" in err.value.message
    assert posted(api, "/invoices/add") == []

    WfirmaProvider(CREDENTIALS, options={"unknown_sku": "unlinked"}).create_document(doc, settings(send_sku=True))
    sent = posted(api, "/invoices/add")[0]["invoices"]["0"]["invoice"]["invoicecontents"]
    assert sent["0"]["invoicecontent"]["good"] == {"id": "501"} and "good" not in sent["1"]["invoicecontent"]


def test_when_the_goods_search_ignores_the_code_the_catalogue_is_read_once(api, adapter):
    no_contractor(api)
    everything = ok("goods", "good", {"id": "1", "code": "A"}, {"id": "2", "code": "KUB-01"}, {"id": "3", "code": "B"})
    api.post(f"{API}/goods/find", match=[matchers.json_params_matcher(find_request("goods", [("code", "eq", "KUB-01")]))],
             json=everything)
    api.post(f"{API}/goods/find", match=[matchers.json_params_matcher(find_request("goods", page=1))], json=everything)
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
    adapter.create_document(make_doc(lines=[make_line(sku="KUB-01"), make_line(sku="B")]), settings(send_sku=True))
    sent = posted(api, "/invoices/add")[0]["invoices"]["0"]["invoice"]["invoicecontents"]
    assert [c["invoicecontent"]["good"]["id"] for c in sent.values()] == ["2", "3"]


# ------------------------------------------------------------------ hub numbering


def monthly_series(api):
    api.get(f"{API}/series/get/21", match=[query(), keys()],
            json=ok("series", "series", {"id": "21", "name": "Sklep", "template": "FV/[numer]/[miesiąc]/[rok]"}))


def test_hub_numbering_without_a_linked_series_is_refused_before_any_request(api, adapter):
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert list(err.value.field_errors) == ["series"]
    assert "użyj numeracji usługi albo połącz zgodną serię" in err.value.message
    assert len(api.calls) == 0


def test_hub_number_is_sent_as_the_parts_of_the_linked_series_template(api, adapter):
    no_contractor(api)
    monthly_series(api)
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record(fullnumber="FV/7/05/2025")))

    remote = adapter.create_document(make_doc(number="FV/7/05/2025"), settings(numbering="hub", series_id="21"))

    invoice = posted(api, "/invoices/add")[0]["invoices"]["0"]["invoice"]
    assert {k: invoice[k] for k in ("series", "number", "day", "month", "year")} == {
        "series": {"id": "21"}, "number": "7", "day": "14", "month": "05", "year": "2025"}
    assert remote.number == "FV/7/05/2025"
    assert paths(api) == ["/series/get/21", "/contractors/find", "/invoices/add"]


def test_the_linked_series_is_read_once_per_account_not_per_document(api):
    monthly_series(api)
    for n in (7, 8, 9):
        api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record(fullnumber=f"FV/{n}/05/2025")))
    for n in (7, 8, 9):  # a new adapter per document, as the pipeline builds one per job
        WfirmaProvider(CREDENTIALS).create_document(make_doc(number=f"FV/{n}/05/2025", buyer=consumer_buyer()),
                                                    settings(numbering="hub", series_id="21"))
    assert paths(api) == ["/series/get/21"] + ["/invoices/add"] * 3


def test_a_refused_document_forgets_the_shared_series_so_a_retry_reads_it_again(api):
    monthly_series(api)
    api.post(f"{API}/invoices/add", json=status("INPUT ERROR"))
    with pytest.raises(ValidationRejected):
        WfirmaProvider(CREDENTIALS).create_document(make_doc(buyer=consumer_buyer()),
                                                    settings(numbering="hub", series_id="21"))
    monthly_series(api)
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice", invoice_record()))
    WfirmaProvider(CREDENTIALS).create_document(make_doc(buyer=consumer_buyer()),
                                                settings(numbering="hub", series_id="21"))
    assert paths(api) == ["/series/get/21", "/invoices/add"] * 2


def test_hub_number_that_does_not_fit_the_linked_series_is_refused_with_the_fix(api, adapter):
    api.get(f"{API}/series/get/21", json=ok("series", "series", {"id": "21", "template": "FV [numer]/[rok]"}))
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(number="FV/7/05/2025"), settings(numbering="hub", series_id="21"))
    assert "FV/7/05/2025" in err.value.message and "FV [numer]/[rok]" in err.value.message
    assert "użyj numeracji usługi albo połącz zgodną serię" in err.value.message
    assert list(err.value.field_errors) == ["number"]


def test_a_linked_series_that_no_longer_exists(api, adapter):
    api.get(f"{API}/series/get/21", json=status("NOT FOUND"))
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings(numbering="hub", series_id="21"))
    assert list(err.value.field_errors) == ["series"] and "połącz zgodną serię" in err.value.message


@pytest.mark.parametrize("error", [
    {"field": "number", "message": "Numer jest już zajęty"},
    {"field": "date", "message": "Nie można wystawić faktury o numerze FV/7/05/2025 i dacie wystawienia 2025-05-14. "
                                 "Operacja naruszyłaby chronologię i poprawność numeracji."},
])
def test_wfirmas_numbering_control_refusal_reaches_the_merchant_with_the_fix(api, adapter, error):
    monthly_series(api)
    no_contractor(api)
    api.post(f"{API}/invoices/add", json={"invoices": {"0": {"invoice": {
        "number": "7", "errors": {"0": {"error": error}}}}}, "status": {"code": "ERROR"}})
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(number="FV/7/05/2025"), settings(numbering="hub", series_id="21"))
    assert not isinstance(err.value, DuplicateReference)
    message = err.value.message
    assert message.startswith("wFirma odrzuciła numer z huba „FV/7/05/2025”")
    assert error["message"].rstrip(".") in message and message.endswith("użyj numeracji usługi albo połącz zgodną serię.")
    assert err.value.field_errors == {"number": [message]}


def test_with_hub_numbering_a_refusal_about_something_else_stays_as_it_is(api, adapter):
    monthly_series(api)
    no_contractor(api)
    api.post(f"{API}/invoices/add", json={"invoices": {"0": {"invoice": {"contractor": {
        "errors": {"0": {"error": {"field": "zip", "message": "Pole nie może być puste"}}}}}}},
        "status": {"code": "ERROR"}})
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings(numbering="hub", series_id="21"))
    assert err.value.field_errors == {"buyer.post_code": ["Pole nie może być puste"]}
    assert "połącz zgodną serię" not in err.value.message


# ------------------------------------------------------------------ error shapes


def test_validation_errors_in_a_200_envelope_become_field_errors(api, adapter):
    no_contractor(api)
    api.post(f"{API}/invoices/add", json={"invoices": {"0": {"invoice": {
        "errors": {"0": {"error": {"field": "paymentmethod", "message": "Nieprawidłowa wartość"}}},
        "contractor": {"errors": {"0": {"error": {"field": "nip", "message": "Nieprawidłowy identyfikator"}}}},
        "invoicecontents": {"0": {"invoicecontent": {"errors": {"0": {"error": {
            "field": "vat_code", "message": "Nieprawidłowa stawka"}}}}}},
    }}}, "status": {"code": "ERROR"}})
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.field_errors == {"payment_method": ["Nieprawidłowa wartość"],
                                      "buyer.tax_id": ["Nieprawidłowy identyfikator"],
                                      "lines[0].vat_rate": ["Nieprawidłowa stawka"]}
    assert "buyer.tax_id: Nieprawidłowy identyfikator" in err.value.message


def test_input_error_is_a_validation_refusal(api, adapter):
    no_contractor(api)
    api.post(f"{API}/invoices/add", json=status("INPUT ERROR"))
    with pytest.raises(ValidationRejected, match="INPUT ERROR") as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.field_errors == {}


@pytest.mark.parametrize("code, http, error_type", [
    ("AUTH", 401, AuthenticationFailed),
    ("AUTH FAILED LIMIT WAIT 5 MINUTES", 200, AuthenticationFailed),
    ("ACCESS DENIED", 200, AuthenticationFailed),
    ("DENIED SCOPE REQUESTED", 200, AuthenticationFailed),
    ("COMPANY ID REQUIRED", 200, AuthenticationFailed),
    ("FATAL", 200, TransientError),
    ("OUT OF SERVICE", 200, TransientError),
    ("SNAPSHOT LOCK", 200, TransientError),
    ("NOT FOUND", 200, NotFound),
    ("ACTION NOT FOUND", 200, ProviderError),
    ("SOMETHING NEW", 200, ProviderError),
])
def test_every_status_code_maps_to_its_error_type(api, adapter, code, http, error_type):
    api.get(f"{API}/invoices/get/5", status=http, json=status(code))
    with pytest.raises(ProviderError) as err:
        adapter.fetch_document("5")
    assert type(err.value) is error_type


@pytest.mark.parametrize("code", ["TOTAL REQUESTS LIMIT EXCEEDED", "TOTAL EXECUTION TIME LIMIT EXCEEDED"])
def test_request_limits_are_transient_and_wait(api, code):
    api.post(f"{API}/invoices/find", json=status(code))
    api.post(f"{API}/invoices/find", json=status(code), headers={"Retry-After": "7"})
    api.post(f"{API}/invoices/find", json=status(code))
    for options, expected in (({}, 60.0), ({}, 7.0), ({"limit_retry_after": "15"}, 15.0)):
        with pytest.raises(TransientError) as err:
            WfirmaProvider(CREDENTIALS, options=options).find_document(make_doc())
        assert err.value.retry_after == expected and code in err.value.message


def test_http_429_and_5xx_are_transient_whatever_the_body(api, adapter):
    api.post(f"{API}/invoices/find", status=429, headers={"Retry-After": "3"}, body="Too Many Requests")
    api.post(f"{API}/invoices/find", status=502, body="<html>Bad gateway</html>")
    api.post(f"{API}/invoices/find", status=500, json=status("ERROR"))
    expected = [(429, 3.0), (502, None), (500, None)]
    for http, retry_after in expected:
        with pytest.raises(TransientError) as err:
            adapter.find_document(make_doc())
        assert (err.value.status, err.value.retry_after) == (http, retry_after)


def test_unreadable_answer_to_add_is_an_unknown_outcome(api, adapter):
    no_contractor(api)
    api.post(f"{API}/invoices/add", body="<html>oops</html>")
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def test_ok_answer_to_add_without_an_id_is_an_unknown_outcome(api, adapter):
    no_contractor(api)
    api.post(f"{API}/invoices/add", json=ok("invoices", "invoice"))
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def test_connection_reset_after_add_is_unknown_but_after_a_search_is_retried(api, adapter):
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))
    no_contractor(api)
    api.post(f"{API}/invoices/add", body=reset)
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())
    api.post(f"{API}/invoices/find", body=reset)
    with pytest.raises(TransientError):
        adapter.find_document(make_doc())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_transient_even_for_add(log):
    adapter = WfirmaProvider(CREDENTIALS, base_url=f"http://127.0.0.1:{_free_port()}", timeout=(1, 1),
                             request_log=log.append)
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert not {ACCESS, SECRET, APP} & set("".join(traceback.format_exception(err.value)).split())
    assert [(entry.status, entry.error) for entry in log] == [(None, "TransientError")]


def test_read_timeout_after_add_is_unknown_and_after_reads_is_transient(log):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        adapter = WfirmaProvider(CREDENTIALS, base_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                                 timeout=(1, 0.2), request_log=log.append)
        with pytest.raises(OutcomeUnknown):
            adapter.create_document(make_doc(buyer=consumer_buyer()), settings())
        with pytest.raises(TransientError):
            adapter.fetch_document("1")
        with pytest.raises(TransientError):
            adapter.fetch_pdf("1")  # a POST, but it only reads
    assert [entry.error for entry in log] == ["OutcomeUnknown", "TransientError", "TransientError"]


# ------------------------------------------------------------------ find, fetch, pdf


def test_find_document_by_reference_reads_the_full_record(api, adapter):
    lookup(api, found=[invoice_record(id="1207242")])
    api.get(f"{API}/invoices/get/1207242", match=[query(), keys()], json=ok("invoices", "invoice", invoice_record()))
    found = adapter.find_document(make_doc())
    assert found is not None and (found.remote_id, found.number) == ("1207242", "FV 12/2025")


def test_find_document_that_is_not_there(api, adapter):
    lookup(api)
    assert adapter.find_document(make_doc()) is None
    assert len(api.calls) == 1


def test_fetch_reads_number_totals_and_ksef(api, adapter):
    api.get(f"{API}/invoices/get/1207242", json=ok("invoices", "invoice", invoice_record(
        ksef_status="accepted", ksef_reference_number="5252445767-20250514-0A1B2C-3D",
        ksef_registration_date="2025-05-14 12:00:00")))
    remote = adapter.fetch_document("1207242")
    assert remote.totals[0].gross == Decimal("10.00") and remote.status == "unpaid"
    assert remote.ksef == KsefInfo("accepted", "5252445767-20250514-0A1B2C-3D", None, None)


def test_fetch_pdf_posts_the_print_parameters_and_returns_the_bytes(api, adapter):
    pdf = b"%PDF-1.4\n% Faktura\n"
    api.post(f"{API}/invoices/download/1207242", match=[query(), keys(), matchers.json_params_matcher(
        {"invoices": {"parameters": {
            "0": {"parameter": {"name": "page", "value": "invoice"}},
            "1": {"parameter": {"name": "address", "value": "0"}},
            "2": {"parameter": {"name": "leaflet", "value": "0"}},
            "3": {"parameter": {"name": "duplicate", "value": "0"}},
        }}})], body=pdf, content_type="application/pdf")
    assert adapter.fetch_pdf("1207242") == pdf


def test_fetch_pdf_maps_an_error_envelope_even_in_xml(api, adapter):
    api.post(f"{API}/invoices/download/1", json=status("NOT FOUND"))
    api.post(f"{API}/invoices/download/2", body="<api><status><code>AUTH</code></status></api>", status=401,
             content_type="application/xml")
    api.post(f"{API}/invoices/download/3", json=status("OK"))
    with pytest.raises(NotFound):
        adapter.fetch_pdf("1")
    with pytest.raises(AuthenticationFailed):
        adapter.fetch_pdf("2")
    with pytest.raises(ProviderError, match="paragony fiskalne nie mają PDF"):
        adapter.fetch_pdf("3")


# ------------------------------------------------------------------ secrets


def test_keys_travel_in_headers_only_and_never_reach_the_log_or_errors(api, log):
    adapter = WfirmaProvider(CREDENTIALS, request_log=log.append)
    api.post(f"{API}/contractors/find", json=ok("contractors", "contractor"))
    api.post(f"{API}/invoices/add", json={"invoices": {"0": {"invoice": {"errors": {"0": {"error": {
        "field": "description", "message": f"echo {SECRET} {ACCESS}"}}}}}}, "status": {"code": "ERROR"}})
    api.get(f"{API}/invoices/get/5", json=status("AUTH", f"bad key {APP}"))
    with pytest.raises(ValidationRejected) as refused:
        adapter.create_document(make_doc(buyer=company_buyer()), settings())
    with pytest.raises(AuthenticationFailed) as auth:
        adapter.fetch_document("5")

    for call in api.calls:
        assert call.request.headers["secretKey"] == SECRET  # really sent…
        assert SECRET not in call.request.url and ACCESS not in call.request.url
    assert [(s.method, s.path, s.status) for s in log] == [
        ("POST", "/contractors/find?inputFormat=json&outputFormat=json&company_id=885367", 200),
        ("POST", "/invoices/add?inputFormat=json&outputFormat=json&company_id=885367", 200),
        ("GET", "/invoices/get/5?inputFormat=json&outputFormat=json&company_id=885367", 200),
    ]
    texts = [str(s) for s in log] + [repr(s) for s in log] + [
        refused.value.message, json.dumps(refused.value.field_errors, ensure_ascii=False), auth.value.message]
    for text in texts:  # …but never kept
        for secret in (ACCESS, SECRET, APP):
            assert secret not in text
