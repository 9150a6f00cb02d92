"""inFakt adapter over HTTP: the async create + polling, every error shape, lookups, parsing.

`responses` stands in for the service; a fake clock makes the polling instant. Two tests use
real local sockets (127.0.0.1) so transport errors are what `requests` really raises.
"""

import json
import socket
import traceback

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import ProtocolError

from providers.base import (
    AuthenticationFailed,
    CreateFailed,
    DuplicateReference,
    KsefInfo,
    LookupIncomplete,
    NotSupported,
    OutcomeUnknown,
    ProviderError,
    StillProcessing,
    TransientError,
    ValidationRejected,
)
from providers.infakt import InfaktProvider
from providers.infakt_mapping import PAYMENT_TYPES, build_invoice

from .factories import TOKEN, company_buyer, consumer_buyer, make_correction, make_doc, make_line, settings

API = "https://api.infakt.pl/api/v3"
TASK = "af1f40ec-49c0-4c3c-abfb-b842fab36e8f"
UUID = "5d2c8f0e-1111-4b8a-9a55-3f0e2b1c0d01"


class FakeTime:
    """Clock + sleep for the polling loop: sleeping moves the clock, nothing really waits."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def log():
    return []


@pytest.fixture
def clock():
    return FakeTime()


@pytest.fixture
def adapter(log, clock):
    provider = InfaktProvider({"api_key": TOKEN}, request_log=log.append)
    provider._sleep, provider._clock = clock.sleep, clock.clock
    return provider


def key_header():
    return matchers.header_matcher({"X-inFakt-ApiKey": TOKEN})


def task(**extra):
    return {"timestamps": {"task_created_at": "2025-05-14 08:02:01 +0200"}, "invoice_task_reference_number": TASK,
            "processing_code": 100, "processing_description": "Zlecenie przyjęte", "invoice_kind": "invoice", **extra}


def status(code, **extra):
    return {"invoice_task_reference_number": TASK, "processing_code": code, "invoice_kind": "invoice", **extra}


def infakt_invoice(**overrides):
    data = {
        "id": 77, "uuid": UUID, "number": "12/05/2025", "kind": "vat", "status": "draft", "currency": "PLN",
        "invoice_date": "2025-05-14", "net_price": 813, "tax_price": 187, "gross_price": 1000,
        "notes": "Nr ref.: IB-12-3456",
        "services": [{"name": "Kubek", "tax_symbol": "23", "quantity": 1, "net_price": 813, "tax_price": 187,
                      "gross_price": 1000}],
        "ksef_data": None,
    }
    data.update(overrides)
    return data


def created_flow(api, statuses):
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    for body in statuses:
        api.get(f"{API}/async/invoices/status/{TASK}.json", json=body)


def requests_made(log):
    return [(s.method, s.path.split("?")[0]) for s in log]


POST_TASK = ("POST", "/api/v3/async/invoices.json")
POLL = ("GET", f"/api/v3/async/invoices/status/{TASK}.json")


# ------------------------------------------------------------------ account and base URL


def test_base_url_is_the_real_api_unless_given():
    assert InfaktProvider({"api_key": "x"}).base_url == "https://api.infakt.pl"
    sandbox = InfaktProvider({"api_key": "x"}, base_url="http://127.0.0.1:5050/infakt/")
    assert sandbox.base_url == "http://127.0.0.1:5050/infakt" and sandbox._prefix == "/api/v3"
    assert InfaktProvider({"api_key": "x"}, base_url=API)._prefix == ""  # the documented root as is


def test_missing_or_unsendable_key_fails_clearly_without_a_request(api):
    with pytest.raises(AuthenticationFailed, match="Ustawienia konta → API"):
        InfaktProvider({"api_key": " "}).check_connection()
    with pytest.raises(AuthenticationFailed, match="niedozwolone znaki"):
        InfaktProvider({"api_key": "zły-klucz-ąę"}).check_connection()
    assert len(api.calls) == 0


def test_check_connection_sends_the_key_header_and_returns_the_account_label(api, adapter):
    api.get(f"{API}/account/details.json", match=[key_header()],
            json={"company_name": "Sklep Ąę Sp. j.", "nip": "5252445767", "email": "biuro@sklep.pl"})
    assert adapter.check_connection() == "Sklep Ąę Sp. j. (NIP 5252445767)"
    assert TOKEN not in api.calls[0].request.url


def test_check_connection_with_a_bad_key_says_where_to_generate_one(api, adapter):
    api.get(f"{API}/account/details.json", status=401, json={"error": "Unauthorized"})
    with pytest.raises(AuthenticationFailed) as err:
        adapter.check_connection()
    assert "Ustawienia konta → API" in err.value.message and "api:invoices:write" in err.value.message


def test_no_series_and_the_documented_payment_types(adapter):
    assert adapter.list_series() == []
    types = {c.id: c.name for c in adapter.list_payment_types()}
    assert types == {c.id: c.name for c in PAYMENT_TYPES}
    assert types["transfer"] == "Przelew" and types["delivery"] == "Za pobraniem" and "przelewy24" in types


# ------------------------------------------------------------------ create (async)


@pytest.mark.parametrize("numbering", ["service", "hub"])
def test_a_create_is_one_post_and_one_poll_after_a_short_wait_nothing_else(api, adapter, clock, log, numbering):
    # No look-up before the POST (exactly once is the pipeline's claim + find_document after an
    # unknown outcome) and no read of the invoice after it (the pipeline's fetch step does that).
    doc = make_doc()
    api.post(f"{API}/async/invoices.json", status=201, json=task(),
             match=[key_header(), matchers.json_params_matcher(build_invoice(doc, settings(numbering=numbering)))])
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(201, invoice_uuid=UUID))

    remote = adapter.create_document(doc, settings(numbering=numbering))

    assert requests_made(log) == [POST_TASK, POLL]
    assert clock.sleeps == [2.0]  # a poll right after the POST would only say "accepted"
    assert (remote.remote_id, remote.number, remote.total_gross) == (UUID, None, None)
    assert api.calls[0].request.headers["Content-Type"] == "application/json"


def test_a_task_still_running_is_polled_with_exponential_backoff(api, adapter, clock, log):
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    for body in (status(120), status(140), status(201, invoice_uuid=UUID)):
        api.get(f"{API}/async/invoices/status/{TASK}.json", json=body)

    assert adapter.create_document(make_doc(), settings()).remote_id == UUID
    assert clock.sleeps == [2.0, 4.0, 5.0]  # first wait, then doubling up to poll_max_delay
    assert requests_made(log) == [POST_TASK, POLL, POLL, POLL]


def test_a_202_answer_is_accepted_too(api, adapter):
    api.post(f"{API}/async/invoices.json", status=202, json=task())
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(201, invoice_uuid=UUID))
    assert adapter.create_document(make_doc(), settings()).remote_id == UUID


def test_a_synchronous_answer_carrying_the_invoice_is_used_as_it_is(api, adapter, log):
    api.post(f"{API}/async/invoices.json", status=201, json=infakt_invoice())
    remote = adapter.create_document(make_doc(), settings())
    assert (remote.remote_id, remote.number) == (UUID, "12/05/2025")
    assert requests_made(log) == [POST_TASK]


def test_a_failed_task_is_a_validation_refusal_with_field_messages(api, adapter):
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(
        422, processing_description="Nie udało się stworzyć faktury",
        invoice_errors={"payment_method": ["Proszę wybrać odpowiedni sposób płatności."]}))
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert not isinstance(err.value, DuplicateReference)
    assert err.value.field_errors == {"payment_method": ["Proszę wybrać odpowiedni sposób płatności."]}
    assert "payment_method: Proszę wybrać" in err.value.message


def test_a_failed_task_with_a_string_error_value(api, adapter):
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    api.get(f"{API}/async/invoices/status/{TASK}.json",
            json=status(422, invoice_errors={"status": "Faktura już została oznaczona jako zapłacona."}))
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.field_errors == {"status": ["Faktura już została oznaczona jako zapłacona."]}


def test_polling_out_of_time_is_an_unknown_outcome_never_a_second_post(api, adapter, clock):
    adapter.options.update(poll_max_wait="3", poll_initial_delay="1", poll_max_delay="1")
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(140))
    with pytest.raises(OutcomeUnknown) as err:
        adapter.create_document(make_doc(), settings())
    assert TASK in err.value.message
    assert clock.sleeps == [1.0, 1.0, 1.0]
    assert sum(1 for c in api.calls if c.request.method == "POST") == 1
    assert sum(1 for c in api.calls if "/status/" in c.request.url) == 3  # one after each sleep


def test_rate_limits_and_server_errors_while_polling_keep_polling(api, adapter, clock):
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    url = f"{API}/async/invoices/status/{TASK}.json"
    api.get(url, status=429, headers={"Retry-After": "4"})
    api.get(url, status=503)
    api.get(url, status=500, body="<html>oops</html>")
    api.get(url, json=status(201, invoice_uuid=UUID))
    assert adapter.create_document(make_doc(), settings()).remote_id == UUID
    assert clock.sleeps == [2.0, 4.0, 5.0, 5.0]  # Retry-After honoured, then the backoff goes on


def test_unknown_task_while_polling_is_an_unknown_outcome(api, adapter):
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    api.get(f"{API}/async/invoices/status/{TASK}.json", status=404, json={"error": "Not found"})
    with pytest.raises(OutcomeUnknown, match=TASK):
        adapter.create_document(make_doc(), settings())


def test_an_accepted_task_without_a_reference_is_an_unknown_outcome(api, adapter):
    api.post(f"{API}/async/invoices.json", status=201, json={"processing_code": 100})
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def test_hub_number_refused_as_a_duplicate_is_a_duplicate_reference(api, adapter):
    api.post(f"{API}/async/invoices.json", status=201, json=task(),
             match=[matchers.json_params_matcher({"invoice": {"number": "FV/7/05/2025", "check_duplicate_number": True}},
                                                 strict_match=False)])
    api.get(f"{API}/async/invoices/status/{TASK}.json",
            json=status(422, invoice_errors={"number": ["Numer faktury już istnieje"]}))
    with pytest.raises(DuplicateReference) as err:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert err.value.field_errors == {"number": ["Numer faktury już istnieje"]}


def test_other_number_errors_or_service_numbering_are_plain_refusals(api, adapter):
    api.post(f"{API}/async/invoices.json", status=422, json={"errors": {"number": ["ma nieprawidłowy format"]}})
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings(numbering="hub"))
    assert not isinstance(err.value, DuplicateReference)
    api.post(f"{API}/async/invoices.json", status=422, json={"errors": {"number": ["już istnieje"]}})
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())  # we sent no number: not our guard
    assert not isinstance(err.value, DuplicateReference)


@pytest.mark.parametrize("buyer", [company_buyer(), consumer_buyer()])
def test_a_create_never_lists_invoices_first_even_with_the_old_option_set(api, adapter, log, buyer):
    # A look-up before every create paged through the issue day (hundreds of requests per
    # document on a busy day); `responses` fails this test on any request not registered here.
    adapter.options["check_before_create"] = "1"  # an option integrations may still carry
    created_flow(api, [status(201, invoice_uuid=UUID)])
    adapter.create_document(make_doc(buyer=buyer), settings())
    assert requests_made(log) == [POST_TASK, POLL]
    assert not any("/invoices.json" in c.request.url and c.request.method == "GET" for c in api.calls)


def test_preflight_failures_and_receipts_never_reach_the_service(api, adapter):
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(buyer=company_buyer(tax_id="1234567890")), settings())
    assert list(err.value.field_errors) == ["buyer.tax_id"]
    with pytest.raises(NotSupported):
        adapter.create_document(make_doc(kind="receipt"), settings())
    assert len(api.calls) == 0


# ------------------------------------------------------------------ corrections


ORIGINAL = infakt_invoice(uuid="orig-uuid", number="7/05/2025", sale_date="2025-05-13", client_id=1090119)


def correction_doc(**overrides):
    return make_correction([(make_line(quantity="2"), make_line())], original_remote_id="orig-uuid", **overrides)


def corrective_flow(api, corrective_uuid="corr-uuid"):
    api.post(f"{API}/async/corrective_invoices.json", status=201, json=task(invoice_kind="corrective_invoice"))
    api.get(f"{API}/async/corrective_invoices/status/{TASK}.json",
            json=status(201, invoice_uuid=corrective_uuid, invoice_kind="corrective_invoice"))


def test_correction_is_linked_to_the_services_original_and_its_client(api, adapter, log):
    api.get(f"{API}/invoices/orig-uuid.json", json=ORIGINAL)
    corrective_flow(api)
    remote = adapter.create_document(correction_doc(), settings())
    # The original is read (its client and number are needed); the correction is not re-read.
    assert requests_made(log) == [("GET", "/api/v3/invoices/orig-uuid.json"),
                                  ("POST", "/api/v3/async/corrective_invoices.json"),
                                  ("GET", f"/api/v3/async/corrective_invoices/status/{TASK}.json")]
    body = json.loads(api.calls[1].request.body)
    corrective = body["corrective_invoice"]
    assert (corrective["client_id"], corrective["corrected_invoice_uuid"], corrective["corrected_invoice_number"],
            corrective["corrected_invoice_date"]) == (1090119, "orig-uuid", "7/05/2025", "2025-05-14")
    assert [(s["group"], s["correction"], s["quantity"]) for s in corrective["services"]] == [
        ("1", False, 2), ("1", True, 1)]
    assert remote.remote_id == "corrective:corr-uuid"


def test_correction_reuses_the_client_with_the_buyers_nip_checking_what_the_filter_returned(api, adapter):
    api.get(f"{API}/invoices/orig-uuid.json", json={**ORIGINAL, "client_id": None})
    # The filter may be silently ignored: the first client has another NIP.
    api.get(f"{API}/clients.json", match=[matchers.query_param_matcher(
        {"q[nip_eq]": "6272616681", "offset": "0", "limit": "100"})],
        json={"metainfo": {"count": 2, "total_count": 2}, "entities": [
            {"id": 5, "nip": "5252445767"}, {"id": 6, "nip": "627-261-66-81"}]})
    corrective_flow(api)
    adapter.create_document(correction_doc(), settings())
    assert json.loads(api.calls[2].request.body)["corrective_invoice"]["client_id"] == 6


def test_correction_for_a_new_buyer_adds_the_client_first(api, adapter):
    api.get(f"{API}/invoices/orig-uuid.json", json={**ORIGINAL, "client_id": None})
    api.post(f"{API}/clients.json", status=201, json={"id": 901, "first_name": "Małgorzata"},
             match=[matchers.json_params_matcher({"client": {"first_name": "Małgorzata", "last_name": "Wójcik"}},
                                                 strict_match=False)])
    corrective_flow(api)
    adapter.create_document(correction_doc(buyer=consumer_buyer()), settings())
    assert json.loads(api.calls[2].request.body)["corrective_invoice"]["client_id"] == 901


def test_correction_of_an_invoice_gone_from_the_service_is_refused(api, adapter):
    api.get(f"{API}/invoices/orig-uuid.json", status=404, json={"error": "Not found"})
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(correction_doc(), settings())
    assert "correction.original_remote_id" in err.value.field_errors


# ------------------------------------------------------------------ error shapes


@pytest.mark.parametrize("status_code, words", [
    (401, "Nieprawidłowy klucz API"),
    (402, "limit dokumentów"),
    (403, "adres IP"),
])
def test_account_refusals_are_authentication_failures(api, adapter, status_code, words):
    api.post(f"{API}/async/invoices.json", status=status_code, json={"error": "nope"})
    with pytest.raises(AuthenticationFailed) as err:
        adapter.create_document(make_doc(), settings())
    assert words in err.value.message


@pytest.mark.parametrize("body, field_errors, words", [
    ({"errors": {"client_tax_code": ["jest nieprawidłowy"], "services": "nie może być puste"}},
     {"client_tax_code": ["jest nieprawidłowy"], "services": ["nie może być puste"]}, "client_tax_code: jest"),
    ({"message": "Nieprawidłowe dane"}, {}, "Nieprawidłowe dane"),
    ({"error": "Konto bankowe niezweryfikowane"}, {}, "Konto bankowe"),
    ({"errors": [{"field": "currency", "message": "nieznana waluta"}]}, {"currency": ["nieznana waluta"]}, "currency"),
])
def test_422_bodies_become_field_errors(api, adapter, body, field_errors, words):
    api.post(f"{API}/async/invoices.json", status=422, json=body)
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.field_errors == field_errors and words in err.value.message


def test_400_bad_parameter_is_a_validation_refusal(api, adapter):
    api.post(f"{API}/async/invoices.json", status=400, json={"error": "invalid value for invoice_date"})
    with pytest.raises(ValidationRejected, match="invoice_date"):
        adapter.create_document(make_doc(), settings())


@pytest.mark.parametrize("status_code", [423, 429, 503])
def test_locked_and_rate_limited_are_transient_with_retry_after(api, adapter, status_code):
    api.post(f"{API}/async/invoices.json", status=status_code, headers={"Retry-After": "7"}, json={})
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert (err.value.status, err.value.retry_after) == (status_code, 7.0)


@pytest.mark.parametrize("status_code", [500, 502])
def test_server_errors_are_transient(api, adapter, status_code):
    api.post(f"{API}/async/invoices.json", status=status_code, body="<html>Bad gateway</html>")
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.status == status_code and err.value.retry_after is None


def test_a_gateway_timeout_on_a_create_is_an_unknown_outcome(api, adapter):
    api.post(f"{API}/async/invoices.json", status=504, body="<html>Gateway Time-out</html>")
    with pytest.raises(OutcomeUnknown, match="504"):
        adapter.create_document(make_doc(), settings())


def test_404_is_a_plain_provider_error(api, adapter):
    api.get(f"{API}/invoices/nope.json", status=404, json={"error": "Not found"})
    with pytest.raises(ProviderError) as err:
        adapter.fetch_document("nope")
    assert not isinstance(err.value, (TransientError, ValidationRejected, AuthenticationFailed))


def test_unreadable_answer_to_a_post_is_an_unknown_outcome(api, adapter):
    api.post(f"{API}/async/invoices.json", status=201, body="<html>oops</html>")
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def test_connection_reset_after_a_post_is_an_unknown_outcome(api, adapter):
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))
    api.post(f"{API}/async/invoices.json", body=reset)
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_transient_even_for_a_post(log):
    adapter = InfaktProvider({"api_key": TOKEN}, base_url=f"http://127.0.0.1:{_free_port()}/infakt",
                             timeout=(1, 1), request_log=log.append)
    with pytest.raises(TransientError):
        adapter.create_document(make_doc(), settings())
    with pytest.raises(TransientError) as err:
        adapter.fetch_document(UUID)
    assert TOKEN not in "".join(traceback.format_exception(err.value))
    assert [(entry.status, entry.error) for entry in log] == [(None, "TransientError")] * 2


def test_read_timeout_after_a_post_is_an_unknown_outcome_and_after_a_get_is_transient(log):
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        adapter = InfaktProvider({"api_key": TOKEN}, base_url=f"http://127.0.0.1:{silent.getsockname()[1]}/infakt",
                                 timeout=(1, 0.2), request_log=log.append)
        with pytest.raises(OutcomeUnknown) as err:
            adapter.create_document(make_doc(), settings())
        assert TOKEN not in err.value.message
        with pytest.raises(TransientError):
            adapter.fetch_document(UUID)
    assert [entry.error for entry in log] == ["OutcomeUnknown", "TransientError"]


# ------------------------------------------------------------------ find_document


def listing(*entities, total=None):
    return {"metainfo": {"count": len(entities), "total_count": total if total is not None else len(entities),
                         "next": None, "previous": None}, "entities": list(entities)}


def query(**params):
    return matchers.query_param_matcher({k: str(v) for k, v in params.items()})


NUMBER_Q = {"q[number_eq]": "FV/7/05/2025", "offset": 0, "limit": 100}
DAY_Q = {"q[invoice_date_gteq]": "2025-05-14", "q[invoice_date_lteq]": "2025-05-14",
         "q[clean_client_nip_eq]": "6272616681", "limit": 100}


def test_find_by_hub_number_checks_our_reference(api, adapter):
    api.get(f"{API}/invoices.json", match=[query(**NUMBER_Q)], json=listing(
        infakt_invoice(uuid="x", number="FV/7/05/2025", notes="Nr ref.: IB-99-1"),
        infakt_invoice(uuid=UUID, number="FV/7/05/2025")))
    found = adapter.find_document(make_doc())
    assert found is not None and found.remote_id == UUID
    assert len(api.calls) == 1  # the listed entity was complete: no extra read


def test_find_pages_the_issue_day_for_our_reference(api, adapter):
    api.get(f"{API}/invoices.json", match=[query(**NUMBER_Q)], json=listing())
    page1 = [infakt_invoice(uuid=f"o{i}", number=f"{i}/05/2025", notes=f"Nr ref.: IB-1-{i}") for i in range(100)]
    api.get(f"{API}/invoices.json", match=[query(offset=0, **DAY_Q)], json=listing(*page1, total=102))
    api.get(f"{API}/invoices.json", match=[query(offset=100, **DAY_Q)], json=listing(
        infakt_invoice(uuid="o-x", notes="Nr ref.: IB-12-34567"), infakt_invoice(uuid=UUID), total=102))
    found = adapter.find_document(make_doc())
    assert found is not None and found.remote_id == UUID


def test_find_reads_documents_whose_listing_leaves_out_the_notes(api, adapter):
    api.get(f"{API}/invoices.json", match=[query(offset=0, **DAY_Q)], json=listing(
        {"uuid": "other-day", "invoice_date": "2025-05-01", "number": "1/05/2025"},
        {"uuid": "o1", "invoice_date": "2025-05-14", "number": "2/05/2025"},
        {"uuid": UUID, "invoice_date": "2025-05-14", "number": "3/05/2025"}))
    api.get(f"{API}/invoices/o1.json", json=infakt_invoice(uuid="o1", notes="Nr ref.: IB-1-1"))
    api.get(f"{API}/invoices/{UUID}.json", json=infakt_invoice())
    found = adapter.find_document(make_doc(number=""))
    assert found is not None and found.remote_id == UUID and found.number == "12/05/2025"


def test_find_returns_none_and_never_creates(api, adapter):
    api.get(f"{API}/invoices.json", match=[query(offset=0, **DAY_Q)], json=listing(infakt_invoice(notes="")))
    assert adapter.find_document(make_doc(number="")) is None
    assert [c.request.method for c in api.calls] == ["GET"]


def test_find_stops_when_the_service_ignores_offset_without_claiming_not_there(api, adapter):
    same = listing(*[infakt_invoice(uuid=f"o{i}", notes="") for i in range(100)], total=5000)
    api.get(f"{API}/invoices.json", json=same)
    # 100 of 5000 seen: "not there" would lead the pipeline to send the document again.
    with pytest.raises(LookupIncomplete):
        adapter.find_document(make_doc(number=""))
    assert len(api.calls) == 2


def test_find_with_the_detail_read_budget_used_up_is_incomplete_not_none(api, adapter):
    # 25 documents of the issue day listed without their notes: 20 are read (none is ours),
    # the other 5 could be: the look-up must not answer "not there".
    listed = [{"uuid": f"o{i}", "invoice_date": "2025-05-14", "number": f"{i}/05/2025"} for i in range(25)]
    api.get(f"{API}/invoices.json", match=[query(offset=0, **DAY_Q)], json=listing(*listed))
    for i in range(20):
        api.get(f"{API}/invoices/o{i}.json", json=infakt_invoice(uuid=f"o{i}", notes=f"Nr ref.: IB-1-{i}"))
    with pytest.raises(LookupIncomplete) as err:
        adapter.find_document(make_doc(number=""))
    assert isinstance(err.value, TransientError)  # the pipeline looks again later, never resends
    assert "5 dokumentów z 2025-05-14" in err.value.message
    assert [c.request.method for c in api.calls] == ["GET"] * 21


def test_find_past_the_page_limit_is_incomplete_not_none(api, adapter):
    def day_page(request):
        offset = int(request.params["offset"])
        entities = [infakt_invoice(uuid=f"o{offset + i}", notes=f"Nr ref.: IB-1-{offset + i}") for i in range(100)]
        return 200, {}, json.dumps(listing(*entities, total=6000))

    api.add_callback(responses.GET, f"{API}/invoices.json", callback=day_page)
    with pytest.raises(LookupIncomplete, match="50 stron"):
        adapter.find_document(make_doc(number=""))
    assert len(api.calls) == 50


def test_find_that_read_the_whole_day_still_says_not_there(api, adapter):
    listed = [{"uuid": f"o{i}", "invoice_date": "2025-05-14", "number": f"{i}/05/2025"} for i in range(3)]
    api.get(f"{API}/invoices.json", match=[query(offset=0, **DAY_Q)], json=listing(*listed))
    for i in range(3):
        api.get(f"{API}/invoices/o{i}.json", json=infakt_invoice(uuid=f"o{i}", notes=f"Nr ref.: IB-1-{i}"))
    assert adapter.find_document(make_doc(number="")) is None


def test_find_asks_a_task_this_adapter_lost_track_of(api, adapter):
    adapter.options.update(poll_max_wait=0)
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(140))
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(201, invoice_uuid=UUID))
    api.get(f"{API}/invoices/{UUID}.json", json=infakt_invoice())
    found = adapter.find_document(make_doc())
    assert found is not None and found.remote_id == UUID
    assert not any("invoices.json?" in c.request.url for c in api.calls)  # no list needed


def test_a_polling_timeout_carries_the_task_for_a_later_adapter(api, adapter):
    adapter.options.update(poll_max_wait=0)
    api.post(f"{API}/async/invoices.json", status=201, json=task())
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(140))
    with pytest.raises(OutcomeUnknown) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.pending_ref == f"invoices:{TASK}"


def fresh_adapter(log):
    """A new instance, as the pipeline builds one per job: it knows only what it is told."""
    return InfaktProvider({"api_key": TOKEN}, request_log=log.append)


def test_a_fresh_adapter_told_the_task_adopts_the_document_it_created(api, log):
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(201, invoice_uuid=UUID))
    api.get(f"{API}/invoices/{UUID}.json", json=infakt_invoice())
    found = fresh_adapter(log).find_document(make_doc(), pending_ref=f"invoices:{TASK}")
    assert found is not None and (found.remote_id, found.number) == (UUID, "12/05/2025")
    assert requests_made(log) == [POLL, ("GET", f"/api/v3/invoices/{UUID}.json")]  # no list needed


@pytest.mark.parametrize("code", [100, 120, 140])
def test_a_fresh_adapter_told_a_task_still_running_says_so_instead_of_not_there(api, log, code):
    api.get(f"{API}/async/invoices/status/{TASK}.json", json=status(code))
    with pytest.raises(StillProcessing, match=TASK) as err:
        fresh_adapter(log).find_document(make_doc(), pending_ref=f"invoices:{TASK}")
    assert isinstance(err.value, TransientError)
    assert requests_made(log) == [POLL]  # no look-up: the document cannot be there yet


def test_a_failed_task_with_nothing_carrying_our_reference_is_a_failed_create(api, log):
    api.get(f"{API}/async/invoices/status/{TASK}.json",
            json=status(422, invoice_errors={"payment_method": ["Proszę wybrać odpowiedni sposób płatności."]}))
    api.get(f"{API}/invoices.json", match=[query(**NUMBER_Q)], json=listing())
    api.get(f"{API}/invoices.json", match=[query(offset=0, **DAY_Q)], json=listing())
    with pytest.raises(CreateFailed) as err:
        fresh_adapter(log).find_document(make_doc(), pending_ref=f"invoices:{TASK}")
    assert err.value.field_errors == {"payment_method": ["Proszę wybrać odpowiedni sposób płatności."]}


def test_a_failed_task_still_adopts_an_earlier_send_carrying_our_reference(api, log):
    api.get(f"{API}/async/invoices/status/{TASK}.json",
            json=status(422, invoice_errors={"number": ["Numer faktury już istnieje"]}))
    api.get(f"{API}/invoices.json", match=[query(**NUMBER_Q)], json=listing(infakt_invoice(number="FV/7/05/2025")))
    found = fresh_adapter(log).find_document(make_doc(), pending_ref=f"invoices:{TASK}")
    assert found is not None and found.remote_id == UUID


def test_a_task_the_service_no_longer_knows_falls_back_to_the_lookup(api, log):
    api.get(f"{API}/async/invoices/status/{TASK}.json", status=404, json={"error": "Not found"})
    api.get(f"{API}/invoices.json", match=[query(**NUMBER_Q)], json=listing(infakt_invoice(number="FV/7/05/2025")))
    found = fresh_adapter(log).find_document(make_doc(), pending_ref=f"invoices:{TASK}")
    assert found is not None and found.remote_id == UUID


def test_a_correction_task_is_asked_at_its_own_status_path(api, log):
    api.get(f"{API}/async/corrective_invoices/status/{TASK}.json", json=status(201, invoice_uuid="corr-uuid"))
    api.get(f"{API}/corrective_invoices/corr-uuid.json", json=infakt_invoice(uuid="corr-uuid", kind="correction"))
    found = fresh_adapter(log).find_document(correction_doc(), pending_ref=f"corrective_invoices:{TASK}")
    assert found is not None and found.remote_id == "corrective:corr-uuid"


def test_find_a_correction_searches_corrective_invoices(api, adapter):
    doc = correction_doc()
    api.get(f"{API}/corrective_invoices.json", match=[query(**{**NUMBER_Q, "q[number_eq]": "KOR/1/05/2025"})],
            json=listing())
    api.get(f"{API}/corrective_invoices.json", json=listing(
        infakt_invoice(uuid="corr-uuid", kind="correction", notes="Przyczyna korekty: x\nNr ref.: IB-12-3457")))
    found = adapter.find_document(doc)
    assert found is not None and found.remote_id == "corrective:corr-uuid"


# ------------------------------------------------------------------ fetch


def test_fetch_reads_ksef_data(api, adapter):
    api.get(f"{API}/invoices/{UUID}.json", match=[key_header()], json=infakt_invoice(
        status="printed", ksef_data={"request_uuid": "r1", "ksef_number": "5252445767-20250514-ABCDEF-12",
                                     "status": "success", "status_description": "Przyjęta"}))
    remote = adapter.fetch_document(UUID)
    assert remote.status == "printed"
    assert remote.ksef == KsefInfo("accepted", "5252445767-20250514-ABCDEF-12", None, None)


def test_fetch_a_correction_uses_its_own_collection(api, adapter):
    api.get(f"{API}/corrective_invoices/corr-uuid.json", json=infakt_invoice(uuid="corr-uuid", kind="correction"))
    assert adapter.fetch_document("corrective:corr-uuid").remote_id == "corrective:corr-uuid"


def test_fetch_pdf_asks_for_the_original_in_polish(api, adapter):
    pdf = b"%PDF-1.4\n% Faktura\n"
    api.get(f"{API}/invoices/{UUID}/pdf.json", match=[query(document_type="original", locale="pl")],
            body=pdf, content_type="application/pdf")
    api.get(f"{API}/corrective_invoices/corr-uuid/pdf.json", body=pdf, content_type="application/pdf")
    assert adapter.fetch_pdf(UUID) == pdf
    assert adapter.fetch_pdf("corrective:corr-uuid") == pdf


def test_fetch_pdf_refuses_something_that_is_not_a_pdf(api, adapter):
    api.get(f"{API}/invoices/{UUID}/pdf.json", json={"error": "Brak dostępu"})
    with pytest.raises(ProviderError, match="Brak dostępu"):
        adapter.fetch_pdf(UUID)


# ------------------------------------------------------------------ secrets


def test_the_key_never_reaches_the_request_log_or_error_messages(api, adapter, log):
    api.post(f"{API}/async/invoices.json", status=422, json={"errors": {"api_key": [f"bad key {TOKEN}"]},
                                                              "message": f"key {TOKEN} rejected"})
    api.get(f"{API}/invoices/{UUID}.json", status=401, json={"error": f"{TOKEN} unknown"})
    with pytest.raises(ValidationRejected) as rejected:
        adapter.create_document(make_doc(), settings())
    with pytest.raises(AuthenticationFailed) as refused:
        adapter.fetch_document(UUID)
    assert api.calls[0].request.headers["X-inFakt-ApiKey"] == TOKEN  # it was really sent…
    for summary in log:  # …but never kept
        assert TOKEN not in str(summary) and TOKEN not in repr(summary)
    for error in (rejected.value, refused.value):
        assert TOKEN not in error.message and TOKEN not in json.dumps(getattr(error, "field_errors", {}))
