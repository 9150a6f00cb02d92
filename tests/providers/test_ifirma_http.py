"""iFirma adapter over HTTP: signing, requests sent, every error shape, look-ups, parsing, secrets.

`responses` stands in for the service; the transport tests use real local sockets (127.0.0.1)
so the error mapping is exercised against what `requests` really raises.
"""

import hashlib
import hmac
import json
import socket
import traceback
import urllib.parse
from datetime import date
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
    OutcomeUnknown,
    ProviderError,
    RateTotal,
    TransientError,
    ValidationRejected,
)
from providers.ifirma import IfirmaProvider, NotFound, serialize, signature, unsigned_url
from providers.ifirma_mapping import PAYMENT_TYPES, build_invoice, jsonable

from .factories import company_buyer, make_doc, make_line, settings

API = "https://www.ifirma.pl/iapi"
LOGIN = "sklep@example.pl"
INVOICE_KEY = "A1B2C3D4E5F60718"
SUBSCRIBER_KEY = "0F1E2D3C4B5A6978"
CREDENTIALS = {"login": LOGIN, "invoice_key": INVOICE_KEY, "subscriber_key": SUBSCRIBER_KEY}


@pytest.fixture
def api():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def log():
    return []


@pytest.fixture
def adapter(log):
    return IfirmaProvider(CREDENTIALS, request_log=log.append)


def ok(**fields) -> dict:
    return {"response": {"Kod": 0, "Informacja": "", **fields}}


def refused(code: int, text: str = "") -> dict:
    return {"response": {"Kod": code, "Informacja": text}}


def invoice_json(**overrides) -> dict:
    data = {
        "PelnyNumer": "FV 12/05/2025",
        "DataWystawienia": "2025-05-14",
        "LiczOd": "BRT",
        "Zaplacono": 0,
        "Uwagi": "Nr ref.: IB-12-3456",
        "Pozycje": [
            {"NazwaPelna": "Kubek", "Ilosc": 1, "CenaJednostkowa": 10.0, "CenaZRabatem": 10.0, "StawkaVat": 0.23,
             "TypStawkiVat": "PRC"},
            {"NazwaPelna": "Talerz", "Ilosc": 2, "CenaJednostkowa": 10.0, "StawkaVat": 0.23, "TypStawkiVat": "PRC"},
            {"NazwaPelna": "Książka", "Ilosc": 1, "CenaJednostkowa": 5.0, "StawkaVat": 0.08, "TypStawkiVat": "PRC"},
            {"NazwaPelna": "Kurs", "Ilosc": 1, "CenaJednostkowa": 3.0, "StawkaVat": None, "TypStawkiVat": "ZW",
             "PodstawaPrawna": "Art. 113 ust. 1"},
        ],
    }
    data.update(overrides)
    return {"response": data}


def list_item(invoice_id: int, gross="10.00", issued="2025-05-14") -> dict:
    return {"FakturaId": invoice_id, "PelnyNumer": f"FV {invoice_id}/05/2025", "DataWystawienia": issued,
            "Brutto": float(gross), "KontrahentNazwa": "Hurtownia Żółw"}


def expected_signature(request, key_name: str, key_hex: str) -> str:
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    message = (unsigned_url(request.url) + LOGIN + key_name).encode() + body
    return hmac.new(bytes.fromhex(key_hex), message, hashlib.sha1).hexdigest()


def assert_signed(request, key_name: str, key_hex: str) -> None:
    """The header is the HMAC of exactly what went out, keyed with the hex-decoded key."""
    header = request.headers["Authentication"]
    assert header == f"IAPIS user={LOGIN}, hmac-sha1={expected_signature(request, key_name, key_hex)}"


def query(**params):
    return matchers.query_param_matcher({k: str(v) for k, v in params.items()})


# ------------------------------------------------------------------ signing (contract test vectors)


def test_faq_vector_uses_the_hex_decoded_key():
    assert hmac.new(bytes.fromhex("111111"), b"222222", hashlib.sha1).hexdigest() == (
        "cec153ee6350475f117a307111e2bd7d83034925"
    )
    # The classic mistake (key as ASCII) gives the FAQ's other value — which we must not produce.
    assert hmac.new(b"111111", b"222222", hashlib.sha1).hexdigest() == "1558ab6c5ab2b0d1cd129b9ad11527cf33486705"


@pytest.mark.parametrize(
    "url, body, expected",
    [
        ("https://www.ifirma.pl/iapi/fakturakraj/1337.json", b"", "40600699c8f72e4165b11f98c4cb93253a3cc7dc"),
        ("https://www.ifirma.pl/iapi/faktury.json?typ=prz_faktura_kraj&dataOd=2020-01-01", b"",
         "081dec7098dbed6aab839e76501a964aa5b9386a"),
        ("https://www.ifirma.pl/iapi/fakturakraj/1337.pdf.single", b"", "e87ba74ecc88097841fe48d16040aa9675c6cb9a"),
        ("https://www.ifirma.pl/iapi/fakturakraj/send/0.json?wyslijEfaktura=true",
         serialize({"Tekst": "W zalaczeniu przesylam fakturke\n\nUszanowania,\nJan Nowak",
                    "SkrzynkaEmail": "faktury@ifirma.pl", "SzablonEmail": "Domyślny ifirma.pl",
                    "SkrzynkaEmailOdbiorcy": "jan.nowak@ifirma.pl"}),
         "491bd26d7f487fb822007899183cf1a29de02f7a"),
    ],
)
def test_contract_signing_vectors(url, body, expected):
    assert signature(unsigned_url(url), "jan.nowak@ifirma.pl", "faktura", "EAB0D8ACF3308F3B", body) == expected


def test_full_header_example():
    adapter = IfirmaProvider({"login": "jan.nowak@ifirma.pl", "invoice_key": "EAB0D8ACF3308F3B"})
    assert adapter.authentication("https://www.ifirma.pl/iapi/fakturakraj/1337.json", "faktura") == (
        "IAPIS user=jan.nowak@ifirma.pl, hmac-sha1=40600699c8f72e4165b11f98c4cb93253a3cc7dc"
    )


def test_serialize_escapes_polish_letters_like_the_documented_sample():
    assert serialize({"SzablonEmail": "Domyślny"}) == b'{"SzablonEmail": "Domy\\u015blny"}'


# ------------------------------------------------------------------ creating


@pytest.mark.parametrize("options", [{}, {"lookup_before_create": "1"}])
@pytest.mark.parametrize("numbering", ["service", "hub"])
def test_a_create_is_the_signed_post_alone_no_look_up_first(api, log, options, numbering):
    # Exactly once is the pipeline's claim + find_document after an unknown outcome; a look-up
    # here read every same-day invoice of the amount. `responses` fails on any other request.
    adapter = IfirmaProvider(CREDENTIALS, options=options, request_log=log.append)
    doc = make_doc(lines=[make_line("Kubek „Zażółć”", "2", "39.99", "23")])
    api.post(f"{API}/fakturakraj.json", json=ok(Identyfikator=12345678))

    remote = adapter.create_document(doc, settings(numbering=numbering))

    assert [(s.method, s.path.split("?")[0]) for s in log] == [("POST", "/iapi/fakturakraj.json")]
    assert (remote.remote_id, remote.number) == ("12345678", None)
    assert_signed(api.calls[0].request, "faktura", INVOICE_KEY)


def test_the_amount_filter_can_be_switched_off(api):
    adapter = IfirmaProvider(CREDENTIALS, options={"amount_filter": "0"})
    window = {k: v for k, v in WINDOW.items() if not k.startswith("kwota")}
    api.get(f"{API}/faktury.json", match=[query(strona=1, **window)], json=ok(Wynik=[]))
    assert adapter.find_document(make_doc()) is None


def test_create_posts_the_signed_invoice_and_returns_its_id(api, adapter):
    doc = make_doc(lines=[make_line("Kubek „Zażółć”", "2", "39.99", "23")])
    expected_body = jsonable(build_invoice(doc, settings()))
    api.post(f"{API}/fakturakraj.json", match=[matchers.json_params_matcher(expected_body)],
             json=ok(Identyfikator=12345678))

    remote = adapter.create_document(doc, settings())

    assert (remote.remote_id, remote.number) == ("12345678", None)  # the number comes with the fetch
    assert remote.total_gross is None  # nor the totals: the fetch compares them
    sent = api.calls[0].request
    assert sent.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert sent.headers["Accept"] == "application/json"
    assert_signed(sent, "faktura", INVOICE_KEY)
    assert len(api.calls) == 1  # one export = one request of the account's budget


def test_the_signature_covers_the_exact_bytes_sent(api, adapter):
    api.post(f"{API}/fakturakraj.json", json=ok(Identyfikator=1))
    adapter.create_document(make_doc(notes="Zażółć gęślą jaźń"), settings())
    sent = api.calls[0].request
    assert sent.body == serialize(jsonable(build_invoice(make_doc(notes="Zażółć gęślą jaźń"), settings())))
    assert_signed(sent, "faktura", INVOICE_KEY)
    with pytest.raises(AssertionError):
        assert_signed(sent, "faktura", SUBSCRIBER_KEY)


@pytest.mark.parametrize("base_url, signed_prefix", [
    ("http://127.0.0.1:5050/ifirma", "http://127.0.0.1:5050/ifirma/iapi"),
    ("http://127.0.0.1:5050/ifirma/iapi/", "http://127.0.0.1:5050/ifirma/iapi"),
])
def test_base_url_gets_the_api_root_once_and_the_signed_url_is_the_one_called(api, base_url, signed_prefix):
    adapter = IfirmaProvider(CREDENTIALS, base_url=base_url)
    api.post(f"{signed_prefix}/fakturakraj.json", json=ok(Identyfikator=5))
    adapter.create_document(make_doc(), settings())
    assert_signed(api.calls[0].request, "faktura", INVOICE_KEY)


def test_create_refuses_a_document_that_fails_preflight_without_sending(api, adapter):
    doc = make_doc(buyer=company_buyer(street="ul. " + "Bardzo Długa " * 6))
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(doc, settings())
    assert list(err.value.field_errors) == ["buyer.street"]
    assert "najwyżej 65" in err.value.message
    assert len(api.calls) == 0


# ------------------------------------------------------------------ credentials


@pytest.mark.parametrize("credentials, words", [
    ({**CREDENTIALS, "invoice_key": ""}, "Brak klucza API iFirma „faktura”"),
    ({**CREDENTIALS, "invoice_key": "ZZ-not-hex"}, "cyfr 0-9 i liter A-F"),
    ({**CREDENTIALS, "invoice_key": "ABC"}, "cyfr 0-9 i liter A-F"),
    ({**CREDENTIALS, "login": ""}, "Brak loginu"),
    ({**CREDENTIALS, "login": "zły login@ąę.pl"}, "niedozwolone znaki"),
])
def test_unusable_credentials_fail_before_anything_is_sent(api, credentials, words):
    with pytest.raises(AuthenticationFailed, match=words):
        IfirmaProvider(credentials).create_document(make_doc(), settings())
    assert len(api.calls) == 0


def test_key_with_spaces_and_lowercase_is_accepted(api):
    adapter = IfirmaProvider({**CREDENTIALS, "invoice_key": " a1b2 c3d4 e5f6 0718 "})
    api.get(f"{API}/fakturakraj/1.json", json=invoice_json())
    adapter.fetch_document("1")
    assert_signed(api.calls[0].request, "faktura", INVOICE_KEY)


@pytest.mark.parametrize("code, words", [
    (400, "nagłówek autoryzacji"),
    (401, "sklep@example.pl"),
    (402, "wygeneruj klucz „faktura”"),
    (403, "skopiuj ponownie klucz „faktura”"),
    (499, "regulamin"),
    (500, "abonamentu"),
])
def test_auth_codes_are_authentication_failed_with_the_fix(api, adapter, code, words):
    api.post(f"{API}/fakturakraj.json", json=refused(code, "Błąd autoryzacji"))
    with pytest.raises(AuthenticationFailed) as err:
        adapter.create_document(make_doc(), settings())
    assert words in err.value.message and f"kod {code}" in err.value.message
    assert "Błąd autoryzacji" in err.value.message


def test_auth_code_with_an_http_4xx_status_is_still_authentication_failed(api, adapter):
    api.get(f"{API}/fakturakraj/1.json", status=403, json=refused(403, "Nieprawidłowy hash"))
    with pytest.raises(AuthenticationFailed, match="kod 403"):
        adapter.fetch_document("1")


def test_http_401_without_an_envelope_is_authentication_failed(api, adapter):
    api.get(f"{API}/fakturakraj/1.json", status=401, body="Unauthorized")
    with pytest.raises(AuthenticationFailed, match="HTTP 401"):
        adapter.fetch_document("1")


# ------------------------------------------------------------------ refusals and the accounting month


def test_validation_refusal_keeps_the_services_messages_per_field(api, adapter):
    api.post(f"{API}/fakturakraj.json", json=refused(201, "Niepoprawny NIP kontrahenta\nBłędna nazwa serii numeracji"))
    api.get(f"{API}/abonent/miesiacksiegowy.json", json=ok(MiesiacKsiegowy=5, RokKsiegowy=2025))
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert not isinstance(err.value, DuplicateReference)
    assert err.value.field_errors == {"buyer.tax_id": ["Niepoprawny NIP kontrahenta"],
                                      "series": ["Błędna nazwa serii numeracji"]}
    assert "Niepoprawny NIP kontrahenta" in err.value.message


def test_refusal_outside_the_open_accounting_month_says_which_month_to_open(api, adapter):
    api.post(f"{API}/fakturakraj.json", json=refused(201, "Data wystawienia musi być zgodna z miesiącem księgowym"))
    api.get(f"{API}/abonent/miesiacksiegowy.json", json=ok(MiesiacKsiegowy=4, RokKsiegowy=2025))

    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(issue_date=date(2025, 5, 14)), settings())

    message = err.value.message
    assert "otwartego w iFirma miesiąca księgowego (04.2025)" in message
    assert "przełącz w iFirma miesiąc księgowy na 05.2025 i ponów eksport" in message
    assert "Data wystawienia musi być zgodna" in message  # the service's own words stay
    assert err.value.field_errors["issue_date"][0].startswith("Data wystawienia 14.05.2025 nie należy")
    assert err.value.field_errors["issue_date"][1] == "Data wystawienia musi być zgodna z miesiącem księgowym"
    assert_signed(api.calls[1].request, "abonent", SUBSCRIBER_KEY)


def test_month_lookup_failure_leaves_the_plain_refusal(api, adapter):
    api.post(f"{API}/fakturakraj.json", json=refused(201, "Data wystawienia jest niepoprawna"))
    api.get(f"{API}/abonent/miesiacksiegowy.json", json=refused(402, "Brak klucza"))
    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.field_errors == {"issue_date": ["Data wystawienia jest niepoprawna"]}


def test_without_a_subscriber_key_the_refusal_is_not_explained(api):
    adapter = IfirmaProvider({**CREDENTIALS, "subscriber_key": ""})
    api.post(f"{API}/fakturakraj.json", json=refused(201, "Data wystawienia jest niepoprawna"))
    with pytest.raises(ValidationRejected):
        adapter.create_document(make_doc(), settings())
    assert len(api.calls) == 1


def test_account_settings_refusal_is_a_validation_error(api, adapter):
    api.post(f"{API}/fakturakraj.json", json=refused(202, "Niepoprawne ustawienia konta"))
    api.get(f"{API}/abonent/miesiacksiegowy.json", json=ok(MiesiacKsiegowy=5, RokKsiegowy=2025))
    with pytest.raises(ValidationRejected, match="ustawienia konta iFirma"):
        adapter.create_document(make_doc(), settings())


def test_check_connection_reads_the_month_with_the_subscriber_key_and_lists_with_the_invoice_key(api, adapter):
    api.get(f"{API}/abonent/miesiacksiegowy.json", json=ok(MiesiacKsiegowy=3, RokKsiegowy=2026))
    api.get(f"{API}/faktury.json", json=refused(208, "Brak faktur"))
    assert adapter.check_connection() == "sklep@example.pl – miesiąc księgowy 03.2026"
    assert_signed(api.calls[0].request, "abonent", SUBSCRIBER_KEY)
    assert_signed(api.calls[1].request, "faktura", INVOICE_KEY)


def test_every_request_declares_json_in_utf8_reads_and_pdfs_too(api, adapter):
    json_utf8 = matchers.header_matcher({"Content-Type": "application/json; charset=UTF-8"})
    api.get(f"{API}/abonent/miesiacksiegowy.json", match=[json_utf8], json=ok(MiesiacKsiegowy=3, RokKsiegowy=2026))
    api.get(f"{API}/faktury.json", match=[json_utf8], json=refused(208, "Brak faktur"))
    api.get(f"{API}/fakturakraj/1.json", match=[json_utf8], json=invoice_json())
    api.get(f"{API}/fakturakraj/1.pdf", match=[json_utf8, matchers.header_matcher({"Accept": "application/pdf"})],
            body=b"%PDF-1.4", content_type="application/pdf")
    api.post(f"{API}/fakturakraj.json", match=[json_utf8], json=ok(Identyfikator=1))

    adapter.check_connection()
    adapter.fetch_document("1")
    adapter.fetch_pdf("1")
    adapter.create_document(make_doc(), settings())

    assert {c.request.method for c in api.calls} == {"GET", "POST"}


def test_check_connection_with_a_wrong_invoice_key(api, adapter):
    api.get(f"{API}/abonent/miesiacksiegowy.json", json=ok(MiesiacKsiegowy=3, RokKsiegowy=2026))
    api.get(f"{API}/faktury.json", json=refused(403, "Nieprawidłowy hash"))
    with pytest.raises(AuthenticationFailed, match="klucz „faktura”"):
        adapter.check_connection()


def test_series_come_from_the_options_and_payment_types_are_the_documented_codes(api):
    adapter = IfirmaProvider(CREDENTIALS, options={"series_names": "Sklep, Hurt"})
    assert adapter.list_series() == [Choice("Sklep", "Sklep"), Choice("Hurt", "Hurt")]
    assert adapter.list_payment_types() == list(PAYMENT_TYPES)
    assert {"PRZ", "KAR", "GTK", "POB", "P24", "ALG", "PAL", "ELE"} <= {c.id for c in PAYMENT_TYPES}
    assert len(api.calls) == 0


# ------------------------------------------------------------------ transient and unknown outcomes


def test_429_is_transient_with_retry_after(api, adapter):
    api.post(f"{API}/fakturakraj.json", status=429, headers={"Retry-After": "7"}, body="")
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert (err.value.status, err.value.retry_after) == (429, 7.0)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(api, adapter, status):
    api.post(f"{API}/fakturakraj.json", status=status, body="<html>Bad gateway</html>")
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert err.value.status == status


def test_technical_problem_code_after_a_write_is_an_unknown_outcome_and_after_a_read_transient(api, adapter):
    api.post(f"{API}/fakturakraj.json", json=refused(100, "Problem techniczny"))
    api.get(f"{API}/fakturakraj/1.json", json=refused(100, "Problem techniczny"))
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())
    with pytest.raises(TransientError):
        adapter.fetch_document("1")


@pytest.mark.parametrize("answer", [{"body": "<html>oops</html>"}, {"json": ok(Informacja="Zapisano")}])
def test_unreadable_or_id_less_answer_to_a_post_is_an_unknown_outcome(api, adapter, answer):
    api.post(f"{API}/fakturakraj.json", **answer)
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def test_the_request_cap_as_a_code_is_transient(api, adapter):
    api.get(f"{API}/fakturakraj/1.json", json=refused(429, "Przekroczono limit"))
    with pytest.raises(TransientError) as err:
        adapter.fetch_document("1")
    assert err.value.status == 429


def test_encoding_and_content_type_codes_are_plain_errors(api, adapter):
    api.post(f"{API}/fakturakraj.json", json=refused(102, "Brak typu zawartości"))
    with pytest.raises(ProviderError) as err:
        adapter.create_document(make_doc(), settings())
    assert type(err.value) is ProviderError and "kod 102" in err.value.message


def test_connection_reset_after_a_post_is_an_unknown_outcome(api, adapter):
    reset = requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))
    api.post(f"{API}/fakturakraj.json", body=reset)
    with pytest.raises(OutcomeUnknown):
        adapter.create_document(make_doc(), settings())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_connection_refused_is_transient_even_for_a_post(log):
    adapter = IfirmaProvider(CREDENTIALS, base_url=f"http://127.0.0.1:{_free_port()}", timeout=(1, 1),
                             request_log=log.append)
    with pytest.raises(TransientError) as err:
        adapter.create_document(make_doc(), settings())
    assert INVOICE_KEY not in "".join(traceback.format_exception(err.value))
    assert [(entry.status, entry.error) for entry in log] == [(None, "TransientError")]


def test_read_timeout_after_a_post_is_an_unknown_outcome_and_after_a_get_is_transient(log):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        adapter = IfirmaProvider(CREDENTIALS, base_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
                                 timeout=(1, 0.2), request_log=log.append)
        with pytest.raises(OutcomeUnknown):
            adapter.create_document(make_doc(), settings())
        with pytest.raises(TransientError):
            adapter.fetch_document("1")
    assert [entry.error for entry in log] == ["OutcomeUnknown", "TransientError"]


# ------------------------------------------------------------------ find_document

WINDOW = {"dataOd": "2025-05-14", "dataDo": "2025-05-15", "typ": "prz_faktura_kraj", "kwotaOd": "10.00",
          "kwotaDo": "10.00", "iloscNaStronie": 20}


def test_find_reads_candidates_with_our_amount_and_matches_the_reference_in_uwagi(api, adapter):
    doc = make_doc()  # one mug, 10.00 gross
    api.get(f"{API}/faktury.json", match=[query(strona=1, **WINDOW)], json=ok(Wynik=[
        list_item(1, gross="99.00"),  # another amount: not even read
        list_item(2, issued="2025-05-15"),  # another day: not read
        list_item(3),
        list_item(5),
        list_item(4),
    ]))
    api.get(f"{API}/fakturakraj/5.json", json=invoice_json(PelnyNumer="FV 5/05/2025", Uwagi="Nr ref.: IB-12-34567"))
    api.get(f"{API}/fakturakraj/4.json", json=invoice_json(PelnyNumer="FV 4/05/2025",
                                                           Uwagi="Dziękujemy\nNr ref.: IB-12-3456"))
    found = adapter.find_document(doc)
    assert found is not None and (found.remote_id, found.number) == ("4", "FV 4/05/2025")
    # Newest first, stopping at ours: 3 is never read.
    assert [c.request.url.split("/iapi/")[1].split("?")[0] for c in api.calls] == [
        "faktury.json", "fakturakraj/5.json", "fakturakraj/4.json"]
    for call in api.calls:
        assert_signed(call.request, "faktura", INVOICE_KEY)


def test_find_pages_through_the_day(api, adapter):
    api.get(f"{API}/faktury.json", match=[query(strona=1, **WINDOW)],
            json=ok(Wynik=[list_item(100 + i, gross="1.00") for i in range(20)]))
    api.get(f"{API}/faktury.json", match=[query(strona=2, **WINDOW)], json=ok(Wynik=[list_item(200)]))
    api.get(f"{API}/fakturakraj/200.json", json=invoice_json())
    assert adapter.find_document(make_doc()).remote_id == "200"


@pytest.mark.parametrize("answer", [ok(Wynik=[]), refused(208, "Nie znaleziono faktur")])
def test_find_returns_none_when_the_day_has_nothing(api, adapter, answer):
    api.get(f"{API}/faktury.json", json=answer)
    assert adapter.find_document(make_doc()) is None


def test_find_returns_none_when_no_candidate_carries_our_reference(api, adapter):
    api.get(f"{API}/faktury.json", json=ok(Wynik=[list_item(7)]))
    api.get(f"{API}/fakturakraj/7.json", json=invoice_json(Uwagi="Nr ref.: IB-99-1"))
    assert adapter.find_document(make_doc()) is None


def test_find_stops_when_the_service_ignores_the_page(api, adapter):
    api.get(f"{API}/faktury.json", json=ok(Wynik=[list_item(100 + i, gross="1.00") for i in range(20)]))
    assert adapter.find_document(make_doc()) is None
    assert len(api.calls) == 2


def test_find_on_a_busy_day_reads_the_newest_candidate_first(api, adapter):
    # 35 same-day invoices of the same amount: ours, sent moments ago, is the newest one.
    api.get(f"{API}/faktury.json", match=[query(strona=1, **WINDOW)],
            json=ok(Wynik=[list_item(i) for i in range(1, 21)]))
    api.get(f"{API}/faktury.json", match=[query(strona=2, **WINDOW)],
            json=ok(Wynik=[list_item(i) for i in range(21, 36)]))
    api.get(f"{API}/fakturakraj/35.json", json=invoice_json())
    assert adapter.find_document(make_doc()).remote_id == "35"
    assert len(api.calls) == 3


def test_find_gives_up_loudly_rather_than_guess_among_too_many_candidates(api, adapter):
    api.get(f"{API}/faktury.json", match=[query(strona=1, **WINDOW)],
            json=ok(Wynik=[list_item(i) for i in range(1, 21)]))
    api.get(f"{API}/faktury.json", match=[query(strona=2, **WINDOW)],
            json=ok(Wynik=[list_item(i) for i in range(21, 31)]))
    for i in range(30, 5, -1):  # 25 read newest first, the 26th same-day same-amount candidate stops it
        api.get(f"{API}/fakturakraj/{i}.json", json=invoice_json(Uwagi="Nr ref.: INNY"))
    with pytest.raises(ProviderError, match="zbyt wiele"):
        adapter.find_document(make_doc())


# ------------------------------------------------------------------ fetch


def test_fetch_reads_number_and_totals_per_rate(api, adapter):
    api.get(f"{API}/fakturakraj/4321.json", json=invoice_json())
    remote = adapter.fetch_document("4321")
    assert remote.number == "FV 12/05/2025"
    assert remote.totals == (
        RateTotal("23", Decimal("24.39"), Decimal("5.61"), Decimal("30.00")),
        RateTotal("8", Decimal("4.63"), Decimal("0.37"), Decimal("5.00")),
        RateTotal("zw", Decimal("3.00"), Decimal("0.00"), Decimal("3.00")),
    )
    assert remote.total_gross == Decimal("38.00") and remote.status == "issued"
    assert remote.raw["Uwagi"] == "Nr ref.: IB-12-3456"
    assert api.calls[0].request.headers["Accept"] == "application/json"


def test_fetch_of_a_missing_document_is_an_error_not_a_document(api, adapter):
    api.get(f"{API}/fakturakraj/999.json", json=refused(201, "Nie znaleziono faktury"))
    # 404 wins over whatever `Kod` comes with it: missing is not a permission problem.
    api.get(f"{API}/fakturakraj/998.json", status=404, json=refused(500, "Nie znaleziono dokumentu"))
    with pytest.raises(ProviderError, match="Nie znaleziono faktury"):
        adapter.fetch_document("999")
    with pytest.raises(NotFound, match="Nie znaleziono dokumentu") as err:
        adapter.fetch_document("998")
    assert not isinstance(err.value, AuthenticationFailed)


def test_fetch_pdf_returns_the_pdf_bytes(api, adapter):
    pdf = b"%PDF-1.4\n% Faktura\n"
    api.get(f"{API}/fakturakraj/4321.pdf", body=pdf, content_type="application/pdf")
    assert adapter.fetch_pdf("4321") == pdf
    sent = api.calls[0].request
    assert sent.headers["Accept"] == "application/pdf"
    assert_signed(sent, "faktura", INVOICE_KEY)


def test_fetch_pdf_refuses_something_that_is_not_a_pdf(api, adapter):
    api.get(f"{API}/fakturakraj/4321.pdf", json=refused(500, "Brak uprawnień"))
    api.get(f"{API}/fakturakraj/4322.pdf", body="<html>nie PDF</html>")
    with pytest.raises(AuthenticationFailed):
        adapter.fetch_pdf("4321")
    with pytest.raises(ProviderError, match="PDF"):
        adapter.fetch_pdf("4322")


# ------------------------------------------------------------------ secrets


LIST_PATH = ("/iapi/faktury.json?dataOd=2025-05-14&dataDo=2025-05-15&typ=prz_faktura_kraj&kwotaOd=10.00"
             "&kwotaDo=10.00&strona=1&iloscNaStronie=20")


def test_keys_never_reach_the_request_log_or_error_messages(api, log):
    adapter = IfirmaProvider(CREDENTIALS, request_log=log.append)
    api.post(f"{API}/fakturakraj.json", json=refused(201, f"Zły klucz {INVOICE_KEY}"))
    api.get(f"{API}/abonent/miesiacksiegowy.json", json=ok(MiesiacKsiegowy=5, RokKsiegowy=2025))
    api.get(f"{API}/faktury.json", json=ok(Wynik=[]))
    api.get(f"{API}/fakturakraj/4321.pdf", body=b"%PDF-1.7")

    with pytest.raises(ValidationRejected) as err:
        adapter.create_document(make_doc(), settings())
    adapter.find_document(make_doc())
    adapter.fetch_pdf("4321")

    assert [(s.method, s.path, s.status) for s in log] == [
        ("POST", "/iapi/fakturakraj.json", 200),
        ("GET", "/iapi/abonent/miesiacksiegowy.json", 200),
        ("GET", LIST_PATH, 200),
        ("GET", "/iapi/fakturakraj/4321.pdf", 200),
    ]
    for secret in (INVOICE_KEY, SUBSCRIBER_KEY, INVOICE_KEY.lower()):
        for summary in log:
            assert secret not in str(summary) and secret not in repr(summary)
    assert INVOICE_KEY not in err.value.message and INVOICE_KEY not in json.dumps(err.value.field_errors)
    assert "***" in err.value.message


def test_remote_ids_are_quoted_in_paths(api, adapter):
    api.get(f"{API}/fakturakraj/{urllib.parse.quote('12/34', safe='')}.json", json=invoice_json())
    assert adapter.fetch_document("12/34").remote_id == "12/34"


# ------------------------------------------------------------------ currency invoices (fakturawaluta)


def eur_doc(**overrides):
    lines = [make_line("Kubek ceramiczny", "2", "12.30", "23"), make_line("Książka", "1", "8.40", "5")]
    return make_doc(**{"lines": lines, "currency": "EUR", "exchange_rate": Decimal("4.3125"), **overrides})


EUR_BODY = {
    "TypSprzedazy": "KRAJOWA",
    "Waluta": "EUR",
    "KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury": 4.3125,
    "Zaplacono": 0,
    "ZaplaconoNaDokumencie": 0,
    "LiczOd": "BRT",
    "DataWystawienia": "2025-05-14",
    "DataSprzedazy": "2025-05-13",
    "FormatDatySprzedazy": "DZN",
    "TerminPlatnosci": "2025-05-28",
    "SposobZaplaty": "PRZ",
    "RodzajPodpisuOdbiorcy": "BPO",
    "WidocznyNumerGios": False,
    "Uwagi": "Nr ref.: IB-12-3456",
    "Numer": None,
    "Kontrahent": {
        "Nazwa": "Hurtownia Żółw Sp. z o.o.", "Identyfikator": None, "NIP": "6272616681", "OsobaFizyczna": False,
        "Ulica": "ul. Świętokrzyska 12", "KodPocztowy": "00-916", "Miejscowosc": "Łódź", "Kraj": "Polska",
        "KodKraju": "PL", "AdresZagraniczny": False, "Email": "zakupy@zolw.example",
    },
    "Pozycje": [
        {"NazwaPelna": "Kubek ceramiczny", "Jednostka": "szt", "Ilosc": 2, "CenaJednostkowa": 12.3,
         "StawkaVat": 0.23, "TypStawkiVat": "PRC", "PKWiU": ""},
        {"NazwaPelna": "Książka", "Jednostka": "szt", "Ilosc": 1, "CenaJednostkowa": 8.4,
         "StawkaVat": 0.05, "TypStawkiVat": "PRC", "PKWiU": ""},
    ],
}


def eur_invoice_json(**overrides) -> dict:
    data = {
        "PelnyNumer": "FWAL 3/05/2025", "DataWystawienia": "2025-05-14", "LiczOd": "BRT", "Zaplacono": 0,
        "Waluta": "EUR", "TypSprzedazy": "KRAJOWA", "Uwagi": "Nr ref.: IB-12-3456",
        "Pozycje": [
            {"NazwaPelna": "Kubek ceramiczny", "Ilosc": 2, "CenaJednostkowa": 12.3, "CenaZRabatem": 12.3,
             "StawkaVat": 0.23, "TypStawkiVat": "PRC"},
            {"NazwaPelna": "Książka", "Ilosc": 1, "CenaJednostkowa": 8.4, "CenaZRabatem": 8.4, "StawkaVat": 0.05,
             "TypStawkiVat": "PRC"},
        ],
    }
    data.update(overrides)
    return {"response": data}


def test_an_euro_document_is_posted_to_fakturawaluta_with_the_exact_body(api, log):
    adapter = IfirmaProvider(CREDENTIALS, request_log=log.append)
    api.post(f"{API}/fakturawaluta.json", match=[matchers.json_params_matcher(EUR_BODY, strict_match=True)],
             json=ok(Identyfikator=34500002))

    remote = adapter.create_document(eur_doc(), settings())

    assert (remote.remote_id, remote.number) == ("fakturawaluta:34500002", None)
    assert [(s.method, s.path) for s in log] == [("POST", "/iapi/fakturawaluta.json")]
    sent = api.calls[0].request
    assert json.loads(sent.body) == EUR_BODY
    assert_signed(sent, "faktura", INVOICE_KEY)


def test_a_currency_invoice_is_read_and_printed_under_its_own_resource(api, adapter):
    pdf = b"%PDF-1.4\n% Faktura w walucie\n"
    api.get(f"{API}/fakturawaluta/34500002.json", json=eur_invoice_json())
    api.get(f"{API}/fakturawaluta/34500002.pdf", body=pdf, content_type="application/pdf")

    remote = adapter.fetch_document("fakturawaluta:34500002")

    assert (remote.remote_id, remote.number) == ("fakturawaluta:34500002", "FWAL 3/05/2025")
    assert remote.totals == (
        RateTotal("23", Decimal("20.00"), Decimal("4.60"), Decimal("24.60")),
        RateTotal("5", Decimal("8.00"), Decimal("0.40"), Decimal("8.40")),
    )
    assert remote.total_gross == eur_doc().total_gross == Decimal("33.00")  # euro against euro
    assert adapter.fetch_pdf("fakturawaluta:34500002") == pdf
    assert api.calls[1].request.headers["Accept"] == "application/pdf"
    for call in api.calls:
        assert_signed(call.request, "faktura", INVOICE_KEY)


def test_a_bare_remote_id_stays_a_domestic_invoice(api, adapter):
    api.get(f"{API}/fakturakraj/4321.json", json=invoice_json())
    api.get(f"{API}/fakturakraj/4321.pdf", body=b"%PDF-1.7")
    assert adapter.fetch_document("4321").remote_id == "4321"
    assert adapter.fetch_pdf("4321") == b"%PDF-1.7"


EUR_WINDOW = {"dataOd": "2025-05-14", "dataDo": "2025-05-15", "iloscNaStronie": 20}


def test_find_looks_for_a_currency_invoice_among_the_days_invoices_in_its_currency(api, adapter):
    api.get(f"{API}/faktury.json", match=[query(strona=1, **EUR_WINDOW)], json=ok(Wynik=[
        {**list_item(10, gross="33.00"), "Waluta": "PLN"},  # a domestic invoice: not read
        {**list_item(11, gross="142.31"), "Waluta": "EUR"},  # `Brutto` in another unit: still read
        {**list_item(12, gross="33.00"), "Waluta": "USD"},  # another currency: not read
        {**list_item(13, gross="33.00"), "Waluta": "EUR"},
        {**list_item(14), "Waluta": "EUR", "DataWystawienia": "2025-05-15"},  # another day
    ]))
    api.get(f"{API}/fakturawaluta/13.json", json=eur_invoice_json(Uwagi="Nr ref.: IB-12-9999"))
    api.get(f"{API}/fakturawaluta/11.json", json=eur_invoice_json(PelnyNumer="FWAL 2/05/2025"))

    found = adapter.find_document(eur_doc())

    assert found is not None and (found.remote_id, found.number) == ("fakturawaluta:11", "FWAL 2/05/2025")
    assert [c.request.url.split("/iapi/")[1].split("?")[0] for c in api.calls] == [
        "faktury.json", "fakturawaluta/13.json", "fakturawaluta/11.json"]


def test_find_skips_a_listed_record_that_is_no_currency_invoice(api, adapter):
    # Without `Waluta` in the list a record may be of another kind: its currency path is a 404.
    api.get(f"{API}/faktury.json", json=ok(Wynik=[list_item(20), list_item(21)]))
    api.get(f"{API}/fakturawaluta/21.json", status=404, json=refused(500, "Nie znaleziono dokumentu"))
    api.get(f"{API}/fakturawaluta/20.json", json=eur_invoice_json())
    assert adapter.find_document(eur_doc()).remote_id == "fakturawaluta:20"
