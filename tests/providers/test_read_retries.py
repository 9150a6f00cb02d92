"""A failed read is repeated on the spot (it stores nothing); a write never is, and neither is a
rate-limit answer: that one waits for the job's backoff so the account's budget is respected."""

import time

import pytest
import requests
import responses

from providers.base import OutcomeUnknown, TransientError
from providers.fakturownia import FakturowniaProvider
from providers.infakt import InfaktProvider

from .factories import TOKEN, make_doc, settings
from .test_fakturownia_http import BASE, invoice_json


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def adapter(read_retries: int, log: list | None = None) -> FakturowniaProvider:
    return FakturowniaProvider({"api_token": TOKEN, "account_prefix": "acme"}, read_retries=read_retries,
                               request_log=None if log is None else log.append)


def test_a_read_that_meets_a_server_error_is_repeated_and_succeeds(api):
    log = []
    api.get(f"{BASE}/invoices/7.json", status=502, body="Bad Gateway")
    api.get(f"{BASE}/invoices/7.json", status=500, json={"message": "oops"})
    api.get(f"{BASE}/invoices/7.json", json=invoice_json(id=7, number="FV 7/2026"))
    found = adapter(read_retries=2, log=log).fetch_document("7")
    assert (found.remote_id, found.number) == ("7", "FV 7/2026")
    assert [entry.status for entry in log] == [502, 500, 200]  # each try is in the journal


def test_a_read_that_keeps_failing_gives_up_after_its_retries(api):
    api.get(f"{BASE}/invoices/7.json", status=503, body="down")
    with pytest.raises(TransientError):
        adapter(read_retries=2).fetch_document("7")
    assert len(api.calls) == 3


def test_a_lost_connection_on_a_read_is_repeated(api):
    api.get(f"{BASE}/invoices/7.json", body=requests.ConnectionError("reset by peer"))
    api.get(f"{BASE}/invoices/7.json", json=invoice_json(id=7))
    assert adapter(read_retries=1).fetch_document("7").remote_id == "7"


def test_a_lookup_page_that_fails_once_does_not_fail_the_whole_lookup(api):
    api.get(f"{BASE}/invoices.json", status=502)
    api.get(f"{BASE}/invoices.json", json=[invoice_json(id=9, oid="IB-12-3456")])
    api.get(f"{BASE}/invoices/9.json", json=invoice_json(id=9))
    assert adapter(read_retries=2).find_document(make_doc(number="")).remote_id == "9"


def test_a_rate_limited_read_waits_a_short_pause_out_but_not_a_long_one(api):
    api.get(f"{BASE}/invoices/7.json", status=429, headers={"Retry-After": "1"})
    api.get(f"{BASE}/invoices/7.json", json=invoice_json(id=7))
    started = time.monotonic()
    assert adapter(read_retries=2).fetch_document("7").remote_id == "7"
    assert time.monotonic() - started >= 1  # the service's pause was respected
    api.replace(responses.GET, f"{BASE}/invoices/7.json", status=429, headers={"Retry-After": "30"})
    with pytest.raises(TransientError) as error:
        adapter(read_retries=2).fetch_document("7")
    assert error.value.retry_after == 30 and len(api.calls) == 3  # left to the job's backoff


def test_a_rate_limited_read_without_a_pause_is_left_to_the_job(api):
    api.get(f"{BASE}/invoices/7.json", status=429)
    with pytest.raises(TransientError):
        adapter(read_retries=2).fetch_document("7")
    assert len(api.calls) == 1


def test_a_write_is_never_repeated(api):
    api.post(f"{BASE}/invoices.json", status=502)
    with pytest.raises(TransientError):
        adapter(read_retries=2).create_document(make_doc(), settings())
    assert len(api.calls) == 1
    api.post(f"{BASE}/invoices.json", body=requests.ConnectionError("reset by peer"))
    with pytest.raises(OutcomeUnknown):
        adapter(read_retries=2).create_document(make_doc(), settings())
    assert len(api.calls) == 2


def test_without_retries_a_read_fails_on_the_first_error(api):
    api.get(f"{BASE}/invoices/7.json", status=502)
    with pytest.raises(TransientError):
        adapter(read_retries=0).fetch_document("7")
    assert len(api.calls) == 1


def test_infakt_503_means_too_many_requests_and_waits_for_the_job():
    busy = requests.Response()
    busy.status_code = 503
    assert InfaktProvider({"api_key": "k"}, read_retries=2)._read_repeat_wait(busy, 0) is None
    assert FakturowniaProvider({"api_token": TOKEN}, read_retries=2)._read_repeat_wait(busy, 0) > 0
