"""Fakturowo adapter over HTTP: the form sent, every answer shape, lookups through the list, PDFs.

`responses` stands in for the service; a few tests use real local sockets (127.0.0.1) so the
transport-error mapping is exercised against what `requests` really raises.
"""

import socket
import traceback
import urllib.parse
from decimal import Decimal

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import ProtocolError

from providers.base import (
    AuthenticationFailed,
    DuplicateReference,
    NotSupported,
    OutcomeUnknown,
    ProviderError,
    TransientError,
    ValidationRejected,
)
from providers.fakturowo import DEFAULT_API_URL, FakturowoProvider
from providers.fakturowo_mapping import PAYMENT_TYPES, build_fields

from .factories import TOKEN, consumer_buyer, make_correction, make_doc, make_line, settings

API = DEFAULT_API_URL  # https://konto.fakturowo.pl/api
PDF_LINK = "https://konto.fakturowo.pl/pobierz/9f8e7d"
VIEW_LINK = "https://konto.fakturowo.pl/pokaz/9f8e7d"
PDF = b"%PDF-1.4\n% Faktura VAT\n"


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def log():
    return []


@pytest.fixture
def adapter(log):
    return FakturowoProvider({"api_id": TOKEN}, request_log=log.append)


def form(**fields):
    return matchers.urlencoded_params_matcher({"api_id": TOKEN, **fields}, allow_blank=True)


def list_task(page):
    return form(api_zadanie="3", p=str(page))


def row(api_numer="7001", kind="0", number="FV 3/05/2025", issued="2025-05-14", gross="10.00",
        buyer="Hurtownia Żółw Sp. z o.o.", buyer_nip="6272616681", status="0", extra=()):
    cells = [api_numer, kind, number, issued, "2025-05-13", "0", "8.13", "1.87", gross, "Sklep Ąę Sp. j.",
             "ul. Polna 1, Warszawa", "5252445767", buyer, "ul. Świętokrzyska 12, Łódź", buyer_nip, "0", status,
             "28-05-2025", *extra]
    return ";".join(cells)


def list_body(pages, *rows):
    return "\n".join(["1", str(pages), *rows]) + "\n"


def created_body(api_numer="7001"):
    return f"1\n{api_numer}\n{PDF_LINK}\n{VIEW_LINK}\nFaktura_7001.pdf\n"


# ------------------------------------------------------------------ account and address


def test_address_is_the_default_the_accounts_own_or_an_explicit_base_url():
    assert FakturowoProvider({"api_id": "k"}).api_url == "https://konto.fakturowo.pl/api"
    assert FakturowoProvider({"api_id": "k", "api_url": "https://www.fakturowo.pl/api/"}).api_url == \
        "https://www.fakturowo.pl/api"
    assert FakturowoProvider({"api_id": "k", "api_url": "https://www.fakturowo.pl"}).api_url == \
        "https://www.fakturowo.pl/api"
    sandbox = "http://127.0.0.1:5050/fakturowo/api"
    explicit = FakturowoProvider({"api_id": "k", "api_url": "https://www.fakturowo.pl/api"}, base_url=sandbox + "/")
    assert explicit.api_url == sandbox
    assert FakturowoProvider({"api_id": "k"}, base_url="http://127.0.0.1:5050/fakturowo").api_url == sandbox


def test_an_unusable_account_address_fails_when_called_not_when_built(api):
    plain_http = FakturowoProvider({"api_id": TOKEN, "api_url": "http://konto.fakturowo.pl/api"})
    assert plain_http.preflight(make_doc(), settings()) == []
    with pytest.raises(ProviderError, match="https://"):
        plain_http.check_connection()
    with pytest.raises(ProviderError, match="nieprawidłowy"):
        FakturowoProvider({"api_id": TOKEN, "api_url": "konto fakturowo"}).check_connection()
    assert len(api.calls) == 0


def test_missing_key_fails_clearly_without_a_request(api):
    with pytest.raises(AuthenticationFailed, match="strona Konto → Klucz API"):
        FakturowoProvider({"api_id": ""}).check_connection()
    assert len(api.calls) == 0


def test_check_connection_reads_the_first_list_page_with_the_key_in_the_form(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(1, row()))
    assert adapter.check_connection() == "Fakturowo – konto.fakturowo.pl"
    sent = api.calls[0].request
    assert TOKEN not in sent.url
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_a_refused_key_is_authentication_failed_and_says_where_the_key_is(api, adapter):
    api.post(API, body="0\nNieprawidłowy klucz API (api_id)\n")
    with pytest.raises(AuthenticationFailed) as err:
        adapter.check_connection()
    assert "Nieprawidłowy klucz API" in err.value.message
    assert "strona Konto → Klucz API" in err.value.message


def test_series_are_not_offered_and_payment_types_are_the_code_table(adapter):
    assert adapter.list_series() == []
    types = {c.id: c.name for c in adapter.list_payment_types()}
    assert adapter.list_payment_types() == list(PAYMENT_TYPES)
    assert (types["0"], types["14"], types["12"], types["21"], types["8"]) == (
        "Przelew", "Zapłacono przelewem", "Za pobraniem", "Karta płatnicza", "Przelew 14 dni")


# ------------------------------------------------------------------ create


def test_create_posts_the_form_and_keeps_the_links_in_the_remote_id(api, adapter):
    doc = make_doc(lines=[make_line("Kubek „Zażółć”", "2", "39.99", "23")])
    api.post(API, match=[form(**build_fields(doc, settings()))], body=created_body())

    remote = adapter.create_document(doc, settings())

    assert remote.remote_id == "7001|/pobierz/9f8e7d"
    assert (remote.pdf_url, remote.view_url) == (PDF_LINK, VIEW_LINK)
    assert remote.number is None  # the answer carries no printed number; fetching reads it
    sent = api.calls[0].request
    assert TOKEN not in sent.url
    body = urllib.parse.parse_qs(sent.body)
    assert body["produkt_nazwa_1"] == ["Kubek „Zażółć”"] and body["nabywca_miasto"] == ["Łódź"]


@pytest.mark.parametrize("numbering", ["service", "hub"])
def test_a_create_is_the_issue_call_alone_and_its_pdf_needs_no_look_up(api, adapter, log, numbering):
    # No list read before it (exactly once is the pipeline's claim + find_document after an
    # unknown outcome); the answer's PDF link is kept, so the PDF is one GET of that link.
    api.post(API, body=created_body())
    api.get(PDF_LINK, body=b"%PDF-1.4 faktura")
    remote = adapter.create_document(make_doc(), settings(numbering=numbering))
    assert [(s.method, s.path, s.status) for s in log] == [("POST", "/api?api_zadanie=1", 200)]
    assert adapter.fetch_pdf(remote.remote_id).startswith(b"%PDF")
    assert [c.request.method for c in api.calls] == ["POST", "GET"]


def test_create_with_hub_numbering_returns_the_hub_number(api, adapter):
    api.post(API, match=[form(**build_fields(make_doc(), settings(numbering="hub")))], body=created_body())
    assert adapter.create_document(make_doc(), settings(numbering="hub")).number == "FV/7/05/2025"


def test_create_refuses_a_document_that_fails_preflight_without_sending(api, adapter):
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(lines=[make_line(vat_rate="zw")]), settings())
    assert list(err.value.field_errors) == ["exemption_basis"]
    assert len(api.calls) == 0


def test_corrections_are_not_supported(api, adapter):
    with pytest.raises(NotSupported):
        adapter.create_document(make_correction([(make_line(quantity="2"), make_line())]), settings())
    assert len(api.calls) == 0


def test_a_receipt_is_created(api, adapter):
    doc = make_doc(kind="receipt", buyer=consumer_buyer(), hide_payment_date=True, paid=True)
    api.post(API, match=[form(**build_fields(doc, settings()))], body=created_body("7002"))
    assert adapter.create_document(doc, settings()).remote_id.startswith("7002|")
    assert urllib.parse.parse_qs(api.calls[0].request.body)["dokument_rodzaj"] == ["20"]


# ------------------------------------------------------------------ answer and error shapes


def test_a_refused_document_is_validation_rejected_on_the_field_it_names(api, adapter):
    api.post(API, body="0\nNieprawidłowy NIP nabywcy\n")
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert not isinstance(err.value, DuplicateReference)
    assert err.value.field_errors == {"buyer.tax_id": ["Nieprawidłowy NIP nabywcy"]}
    assert err.value.message == "Fakturowo odrzuciło dokument: Nieprawidłowy NIP nabywcy"


def test_a_refusal_in_windows_1250_still_reads_in_polish(api, adapter):
    api.post(API, body="0\nBłędna stawka VAT w pozycji produkt_stawka_vat_1\n".encode("cp1250"),
             content_type="text/plain")
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.field_errors == {"lines[0].vat_rate": ["Błędna stawka VAT w pozycji produkt_stawka_vat_1"]}


@pytest.mark.parametrize("message", [
    "Zbyt wiele zapytań, spróbuj ponownie później",
    "Poprzednie zapytanie jest jeszcze przetwarzane. Wysyłaj zapytania synchronicznie.",
])
def test_a_busy_refusal_is_transient(api, adapter, message):
    api.post(API, body=f"0\n{message}\n")
    with pytest.raises(TransientError):
        adapter.create_document(make_doc(), settings())


def test_a_failed_list_call_is_a_plain_provider_error(api, adapter):
    api.post(API, body="0\nBłąd bazy danych\n")
    with pytest.raises(ProviderError) as err:
        adapter.fetch_document("7001")
    assert type(err.value) is ProviderError and "Błąd bazy danych" in err.value.message


def test_429_is_transient_with_retry_after(api, adapter):
    api.post(API, status=429, headers={"Retry-After": "7"}, body="")
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert (err.value.status, err.value.retry_after) == (429, 7.0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(api, adapter, status):
    api.post(API, status=status, body="<html>Bad gateway</html>")
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.status == status and err.value.retry_after is None


@pytest.mark.parametrize("status", [401, 403])
def test_http_auth_statuses_are_authentication_failed(api, adapter, status):
    api.post(API, status=status, body="Forbidden")
    with pytest.raises(AuthenticationFailed):
        adapter.check_connection()


def test_a_redirected_address_is_not_followed_and_names_the_new_one(api, adapter):
    api.post(API, status=301, headers={"Location": "https://nowe.fakturowo.pl/api"}, body="")
    with pytest.raises(ProviderError) as err:
        adapter.create_document(make_doc(), settings())
    assert "https://nowe.fakturowo.pl/api" in err.value.message
    assert len(api.calls) == 1


def test_404_means_a_wrong_address(api, adapter):
    api.post(API, status=404, body="Not Found")
    with pytest.raises(ProviderError, match="adres API"):
        adapter.check_connection()


def test_unreadable_answer_to_an_issue_call_is_an_unknown_outcome(api, adapter):
    api.post(API, body="<html>oops</html>")
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def test_success_without_an_id_is_an_unknown_outcome(api, adapter):
    api.post(API, body="1\n")
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def test_unreadable_answer_to_a_list_call_is_a_provider_error(api, adapter):
    api.post(API, body="<html>oops</html>")
    with pytest.raises(ProviderError) as err:
        adapter.check_connection()
    assert not isinstance(err.value, (OutcomeUnknown, TransientError))
    assert "adres API" in err.value.message


def test_connection_reset_after_an_issue_call_is_unknown_and_after_a_list_call_transient(api, adapter):
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))
    api.post(API, body=reset)
    api.post(API, body=reset)
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())
    with pytest.raises(TransientError):
        adapter.fetch_document("7001")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_transient_even_for_an_issue_call(log):
    base = f"http://127.0.0.1:{_free_port()}/api"
    adapter = FakturowoProvider({"api_id": TOKEN}, base_url=base, timeout=(1, 1), request_log=log.append)
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert TOKEN not in "".join(traceback.format_exception(err.value))
    assert [(entry.status, entry.error) for entry in log] == [(None, "TransientError")]


def test_read_timeout_after_an_issue_call_is_unknown_and_after_a_list_call_transient(log):
    with socket.socket() as silent:  # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        base = f"http://127.0.0.1:{silent.getsockname()[1]}/api"
        adapter = FakturowoProvider({"api_id": TOKEN}, base_url=base, timeout=(1, 0.2), request_log=log.append)
        with pytest.raises(OutcomeUnknown) as err:
            adapter.create_document(make_doc(), settings())
        assert TOKEN not in err.value.message
        with pytest.raises(TransientError):
            adapter.check_connection()
    assert [entry.error for entry in log] == ["OutcomeUnknown", "TransientError"]


# ------------------------------------------------------------------ find_document


def test_find_reads_page_one_then_from_the_last_page_back(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(3, row("1", gross="99.00")))
    api.post(API, match=[list_task(3)], body=list_body(3, row("3", gross="98.00")))
    api.post(API, match=[list_task(2)], body=list_body(3, row("2", number="FV 2/05/2025")))
    found = adapter.find_document(make_doc())
    assert found is not None and (found.remote_id, found.number) == ("2", "FV 2/05/2025")
    assert found.total_gross == Decimal("10.00")
    assert [urllib.parse.parse_qs(c.request.body)["p"] for c in api.calls] == [["1"], ["3"], ["2"]]


def test_find_takes_a_row_that_shows_our_reference_at_once(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(2, row("5", gross="1.00", extra=("IB-12-3456",))))
    found = adapter.find_document(make_doc())
    assert found is not None and found.remote_id == "5"
    assert len(api.calls) == 1


def test_find_by_hub_number_wins_over_a_lookalike(api, adapter):
    api.post(API, match=[list_task(1)],
             body=list_body(1, row("1", number="FV 9/05/2025"), row("2", number="FV/7/05/2025")))
    found = adapter.find_document(make_doc(number="FV/7/05/2025"))
    assert found is not None and found.remote_id == "2"


def test_find_stops_at_the_hub_number_without_reading_further_pages(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(40, row("1", gross="1.00"), row("2", number="FV/7/05/2025")))
    found = adapter.find_document(make_doc(number="FV/7/05/2025"))
    assert found is not None and found.remote_id == "2"
    assert len(api.calls) == 1  # pages 40…2 are never read


def test_find_refuses_to_guess_between_twins(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(1, row("1", number="FV 1"), row("2", number="FV 2")))
    with pytest.raises(ProviderError) as err:
        adapter.find_document(make_doc(number=""))
    assert "FV 1, FV 2" in err.value.message and type(err.value) is ProviderError


def test_find_returns_none_only_after_reading_every_page(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(2, row("1", gross="1.00")))
    api.post(API, match=[list_task(2)], body=list_body(2, row("2", issued="2025-05-13")))
    assert adapter.find_document(make_doc()) is None


def test_find_beyond_the_page_limit_is_an_error_not_a_none(api, log):
    adapter = FakturowoProvider({"api_id": TOKEN}, options={"list_max_pages": "2"}, request_log=log.append)
    api.post(API, match=[list_task(1)], body=list_body(5, row("1", gross="1.00")))
    api.post(API, match=[list_task(5)], body=list_body(5, row("5", gross="1.00")))
    with pytest.raises(ProviderError, match="5 stron"):
        adapter.find_document(make_doc())


def test_find_without_fingerprints_when_switched_off(api):
    adapter = FakturowoProvider({"api_id": TOKEN}, options={"find_by_fingerprint": "0"})
    api.post(API, match=[list_task(1)], body=list_body(1, row("1")))
    assert adapter.find_document(make_doc(number="")) is None


# ------------------------------------------------------------------ fetch


def test_fetch_reads_the_row_and_keeps_the_links_of_the_id(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(2, row("1")))
    api.post(API, match=[list_task(2)], body=list_body(2, row("7001", number="FV 3/05/2025", status="1")))
    remote = adapter.fetch_document("7001|/pobierz/9f8e7d")
    assert (remote.remote_id, remote.number, remote.status) == ("7001|/pobierz/9f8e7d", "FV 3/05/2025", "paid")
    assert (remote.pdf_url, remote.view_url) == (PDF_LINK, VIEW_LINK)
    assert remote.total_gross == Decimal("10.00") and remote.totals == ()
    assert (remote.raw["netto"], remote.raw["vat"]) == ("8.13", "1.87")


def test_fetch_of_a_document_that_is_gone_is_an_error(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(1, row("1")))
    with pytest.raises(ProviderError, match="7001"):
        adapter.fetch_document("7001")


def test_fetch_of_a_found_document_takes_links_the_list_carries(api, adapter):
    api.post(API, body=list_body(1, row("7001", extra=(PDF_LINK,))))
    remote = adapter.fetch_document("7001")
    assert remote.remote_id == "7001|/pobierz/9f8e7d" and remote.pdf_url == PDF_LINK


def test_fetch_pdf_downloads_the_public_link_without_the_key(api, adapter):
    api.get(PDF_LINK, body=PDF, content_type="application/pdf")
    assert adapter.fetch_pdf("7001|/pobierz/9f8e7d") == PDF
    assert TOKEN not in api.calls[0].request.url and api.calls[0].request.body is None


@pytest.mark.parametrize("status, body, error", [
    (200, b"<html>Zaloguj</html>", ProviderError),
    (404, b"", ProviderError),
    (503, b"", TransientError),
])
def test_fetch_pdf_failures(api, adapter, status, body, error):
    api.get(PDF_LINK, status=status, body=body)
    with pytest.raises(error) as err:
        adapter.fetch_pdf("7001|/pobierz/9f8e7d")
    assert "7001" in err.value.message or status == 503


def test_fetch_pdf_without_a_link_says_where_to_get_it(api, adapter):
    api.post(API, match=[list_task(1)], body=list_body(1, row("7001")))
    with pytest.raises(NotSupported) as err:
        adapter.fetch_pdf("7001")
    assert "pobierz PDF w panelu Fakturowo" in err.value.message


# ------------------------------------------------------------------ secrets


def test_the_key_never_reaches_the_request_log_or_error_messages(api, log):
    adapter = FakturowoProvider({"api_id": TOKEN}, request_log=log.append)
    api.post(API, match=[list_task(1)], body=list_body(1))
    api.post(API, body=f"0\nNieprawidłowy NIP nabywcy (klient {TOKEN[:4]}…, żądanie {TOKEN})\n")
    api.post(API, body=f"0\nBłąd listy {TOKEN}\n")
    api.get(PDF_LINK, body=PDF)

    adapter.check_connection()
    with pytest.raises(ValidationRejected) as refused:
        adapter.create_document(make_doc(), settings())
    with pytest.raises(ProviderError) as failed:
        adapter.fetch_document("7001")
    adapter.fetch_pdf("7001|/pobierz/9f8e7d")

    assert TOKEN in api.calls[0].request.body  # it was really sent…
    assert [(s.method, s.path, s.status) for s in log] == [
        ("POST", "/api?api_zadanie=3&p=1", 200),
        ("POST", "/api?api_zadanie=1", 200),
        ("POST", "/api?api_zadanie=3&p=1", 200),
        ("GET", "/pobierz/9f8e7d", 200),
    ]
    for summary in log:  # …but never kept
        assert TOKEN not in str(summary) and TOKEN not in repr(summary)
    for error in (refused.value, failed.value):
        assert TOKEN not in error.message and TOKEN not in "".join(traceback.format_exception(error))
    assert TOKEN not in str(refused.value.field_errors)
