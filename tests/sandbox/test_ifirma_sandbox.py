"""The iFirma emulator behaves like the contract says the real "iapi" does.

Requests are signed here with our own few lines of ``hmac`` (not the emulator's
helper), checked first against the contract's published test vectors. Most tests
use the Flask test client (whose URLs start ``http://localhost``); the last ones
talk to a real server process through ``running_sandbox``.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from providers.sandbox import create_sandbox_app
from providers.sandbox.ifirma_auth import hmac_sha1_hex, sign
from tests.sandbox_server import running_sandbox

LOGIN = "jan@sklep-zolw.example"
KEYS = {"faktura": "AB12CD34EF56AB78", "abonent": "0011223344556677", "rachunek": "C0FFEE00C0FFEE00"}
ACCOUNT_OPTIONS = {
    "login": LOGIN,
    "key_abonent": KEYS["abonent"],
    "key_rachunek": KEYS["rachunek"],
    "accounting_month": "2026-03",
}
JSON_TYPE = "application/json; charset=UTF-8"

# the contract's test vectors (section 2.1)
VECTOR_USER, VECTOR_KEY = "jan.nowak@ifirma.pl", "EAB0D8ACF3308F3B"
SEND_BODY = json.dumps(
    {
        "Tekst": "W zalaczeniu przesylam fakturke\n\nUszanowania,\nJan Nowak",
        "SkrzynkaEmail": "faktury@ifirma.pl",
        "SzablonEmail": "Domyślny ifirma.pl",
        "SkrzynkaEmailOdbiorcy": "jan.nowak@ifirma.pl",
    }
)
VECTORS = [
    ("GET", "fakturakraj/1337.json", "", "40600699c8f72e4165b11f98c4cb93253a3cc7dc"),
    (
        "GET",
        "faktury.json?typ=prz_faktura_kraj&dataOd=2026-03-01",
        "",
        "081dec7098dbed6aab839e76501a964aa5b9386a",
    ),
    ("GET", "fakturakraj/1337.pdf.single", "", "e87ba74ecc88097841fe48d16040aa9675c6cb9a"),
    (
        "POST",
        "fakturakraj/send/0.json?wyslijEfaktura=true",
        SEND_BODY,
        "491bd26d7f487fb822007899183cf1a29de02f7a",
    ),
]


def digest(url: str, login: str, key_name: str, body: bytes, key_hex: str) -> str:
    """HMAC-SHA1 over URL + login + key name + body, keyed with the hex-decoded key."""
    message = url.encode() + login.encode() + key_name.encode() + body
    return hmac.new(bytes.fromhex(key_hex), message, hashlib.sha1).hexdigest()


def header_for(url: str, body: bytes = b"", key_name: str = "faktura", key_hex: str = KEYS["faktura"]) -> str:
    return f"IAPIS user={LOGIN}, hmac-sha1={digest(url, LOGIN, key_name, body, key_hex)}"


def key_name_of(path: str) -> str:
    if path.startswith("abonent/"):
        return "abonent"
    if path.startswith("rachunekkraj"):
        return "rachunek"
    return "faktura"


class Api:
    """A signing client of the emulator, as an adapter would be."""

    def __init__(self, http, origin: str = "http://localhost", login: str = LOGIN, keys: dict = KEYS):
        self.http, self.origin, self.login, self.keys = http, origin, login, keys

    def call(
        self,
        method: str,
        path: str,
        body=None,
        *,
        raw: bytes | None = None,
        key_name: str | None = None,
        key: str | None = None,
        signed_url: str | None = None,
        header: str | None = None,
        content_type: str | None = JSON_TYPE,
        timeout: float = 5,
    ):
        url = f"{self.origin}/ifirma/iapi/{path}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        key_name = key_name or key_name_of(path)
        hex_key = key or self.keys[key_name]
        signature = digest(signed_url or url.split("?", 1)[0], self.login, key_name, data, hex_key)
        headers = {"Accept": "application/json"}
        headers["Authentication"] = header or f"IAPIS user={self.login}, hmac-sha1={signature}"
        if method in ("POST", "PUT") and content_type:
            headers["Content-Type"] = content_type
        if hasattr(self.http, "open"):  # Flask test client
            return self.http.open(f"/ifirma/iapi/{path}", method=method, data=data, headers=headers)
        return self.http.request(method, url, data=data, headers=headers, timeout=timeout)

    def response(self, method: str, path: str, body=None, **kwargs) -> dict:
        answer = self.call(method, path, body, **kwargs)
        assert answer.status_code == 200, answer.data
        return answer.json["response"]

    def create(self, resource: str, body: dict) -> int:
        answer = self.response("POST", f"{resource}.json", body)
        assert answer["Kod"] == 0, answer
        return answer["Identyfikator"]


@pytest.fixture
def app(tmp_path):
    return create_sandbox_app(tmp_path / "sandbox.sqlite3")


@pytest.fixture
def client(app):
    test_client = app.test_client()
    created = test_client.post(
        "/_sandbox/ifirma/accounts",
        json={"prefix": "acme", "api_token": KEYS["faktura"], "options": ACCOUNT_OPTIONS},
    )
    assert created.status_code == 201, created.json
    return test_client


@pytest.fixture
def api(client):
    return Api(client)


def buyer(**overrides) -> dict:
    contractor = {
        "Nazwa": "Hurtownia Żółw Sp. z o.o.",
        "Identyfikator": None,
        "NIP": "5260250274",
        "OsobaFizyczna": False,
        "KodPocztowy": "31-147",
        "Miejscowosc": "Kraków",
        "Ulica": "ul. Długa 5",
        "Email": "faktury@zolw.example",
        "Kraj": "Polska",
        "KodKraju": "PL",
        "AdresZagraniczny": False,
    }
    contractor.update(overrides)
    return contractor


def line(name="Kubek ceramiczny", quantity=2, price=24.39, rate=0.23, **overrides) -> dict:
    position = {
        "NazwaPelna": name,
        "Ilosc": quantity,
        "Jednostka": "szt.",
        "CenaJednostkowa": price,
        "StawkaVat": rate,
        "TypStawkiVat": "PRC",
        "PKWiU": "",
    }
    position.update(overrides)
    return position


def invoice(**overrides) -> dict:
    body = {
        "Zaplacono": 0,
        "ZaplaconoNaDokumencie": 0,
        "LiczOd": "NET",
        "SplitPayment": False,
        "DataWystawienia": "2026-03-10",
        "DataSprzedazy": "2026-03-10",
        "FormatDatySprzedazy": "DZN",
        "TerminPlatnosci": "2026-03-24",
        "SposobZaplaty": "PRZ",
        "RodzajPodpisuOdbiorcy": "BPO",
        "WidocznyNumerGios": False,
        "Numer": None,
        "Kontrahent": buyer(),
        "Pozycje": [line()],
    }
    body.update(overrides)
    return body


def documents(client, **filters) -> list[dict]:
    return client.get("/_sandbox/ifirma/documents", query_string={"account": "acme", **filters}).json[
        "documents"
    ]


def refusal(api: Api, method: str, path: str, body=None, **kwargs) -> tuple[int, str]:
    answer = api.response(method, path, body, **kwargs)
    return answer["Kod"], answer["Informacja"]


# ---------------------------------------------------------------------------
# the signature: contract test vectors


def test_the_contracts_faq_vectors_hex_key_versus_ascii_key():
    assert hmac_sha1_hex(bytes.fromhex("111111"), b"222222") == "cec153ee6350475f117a307111e2bd7d83034925"
    assert hmac_sha1_hex(b"111111", b"222222") == "1558ab6c5ab2b0d1cd129b9ad11527cf33486705"


@pytest.mark.parametrize(("method", "path", "body", "expected"), VECTORS)
def test_the_contracts_request_vectors(method, path, body, expected):
    url = f"https://www.ifirma.pl/iapi/{path}"

    assert digest(url.split("?")[0], VECTOR_USER, "faktura", body.encode(), VECTOR_KEY) == expected
    # the emulator's own signer agrees (it gets the URL already without its query)
    assert sign(url.split("?")[0], VECTOR_USER, "faktura", body.encode(), VECTOR_KEY) == expected


@pytest.mark.parametrize(("method", "path", "body", "expected"), VECTORS)
def test_the_vectors_authenticate_against_a_canonical_url_account(app, method, path, body, expected):
    client = app.test_client()
    client.post(
        "/_sandbox/ifirma/accounts",
        json={
            "prefix": "nowak",
            "api_token": VECTOR_KEY,
            "options": {"login": VECTOR_USER, "signed_url": "canonical"},
        },
    )
    headers = {"Authentication": f"IAPIS user={VECTOR_USER}, hmac-sha1={expected}", "Content-Type": JSON_TYPE}
    tampered = {**headers, "Authentication": headers["Authentication"][:-1] + "0"}

    answer = client.open(f"/ifirma/iapi/{path}", method=method, data=body.encode(), headers=headers)
    refused = client.open(f"/ifirma/iapi/{path}", method=method, data=body.encode(), headers=tampered)

    # past authentication: document 1337 / 0 does not exist, the list answers
    assert answer.json["response"].get("Kod") != 403
    assert answer.status_code == 404 or answer.json["response"]["Kod"] == 0
    assert refused.status_code == 200 and refused.json["response"]["Kod"] == 403


# ---------------------------------------------------------------------------
# authentication refusals


def test_a_request_signed_for_the_url_it_was_sent_to_is_accepted(api):
    assert api.response("GET", "faktury.json?dataOd=2026-03-01") == {"Kod": 0, "Informacja": "", "Wynik": []}


@pytest.mark.parametrize(
    ("header", "kod"),
    [
        (None, 400),
        ("Bearer AB12CD34EF56AB78", 400),
        (f"IAPIS user={LOGIN}, hmac-sha1=nothex", 400),
        ("IAPIS user=nobody@example.pl, hmac-sha1=" + "0" * 40, 401),
        (f"IAPIS user={LOGIN}, rsa=c2lnbmF0dXJl", 402),  # no RSA key was uploaded
        (f"IAPIS user={LOGIN}, hmac-sha1=" + "0" * 40, 403),
    ],
)
def test_header_problems_are_refused_with_their_kod_and_http_200(client, header, kod):
    headers = {"Authentication": header} if header else {}

    answer = client.get("/ifirma/iapi/faktury.json?dataOd=2026-03-01", headers=headers)

    assert answer.status_code == 200
    assert answer.json["response"]["Kod"] == kod and answer.json["response"]["Informacja"]


def test_each_resource_needs_its_own_key(api, app):
    limited = app.test_client()
    limited.post(
        "/_sandbox/ifirma/accounts",
        json={"prefix": "solo", "api_token": "1234ABCD1234ABCD", "options": {"login": "solo@example.pl"}},
    )
    solo = Api(limited, login="solo@example.pl", keys={"faktura": "1234ABCD1234ABCD", "abonent": "00"})

    # signed with the faktura key (and key name) instead of the abonent one: only a hash mismatch
    wrong_key = refusal(api, "GET", "abonent/limit.json", key_name="faktura", key=KEYS["faktura"])
    wrong_name = refusal(api, "GET", "abonent/limit.json", key_name="faktura")
    never_generated = refusal(solo, "GET", "abonent/limit.json")

    assert wrong_key[0] == wrong_name[0] == 403
    assert never_generated[0] == 402 and "abonent" in never_generated[1]
    assert api.response("GET", "abonent/limit.json")["Kod"] == 0


def test_the_classic_mistakes_are_hash_mismatches(api):
    listing = "http://localhost/ifirma/iapi/faktury.json"
    create = "http://localhost/ifirma/iapi/fakturakraj.json"
    body = json.dumps(invoice()).encode()

    mistakes = [
        # the query string signed too
        api.call("GET", "faktury.json?dataOd=2026-03-01", header=header_for(listing + "?dataOd=2026-03-01")),
        # the key's ASCII text used instead of its hex-decoded bytes
        api.call("GET", "faktury.json?dataOd=2026-03-01", key=KEYS["faktura"].encode().hex()),
        # the real service's URL signed while calling the sandbox
        api.call(
            "GET", "faktury.json?dataOd=2026-03-01", signed_url="https://www.ifirma.pl/iapi/faktury.json"
        ),
        # one body signed, another sent (JSON re-serialised after signing)
        api.call(
            "POST",
            "fakturakraj.json",
            raw=json.dumps(invoice(), indent=1).encode(),
            header=header_for(create, body),
        ),
    ]
    right = api.call("POST", "fakturakraj.json", raw=body, header=header_for(create, body))

    assert [answer.json["response"]["Kod"] for answer in mistakes] == [403, 403, 403, 403]
    assert right.json["response"]["Kod"] == 0 and len(documents(api.http)) == 1


def test_terms_and_api_right_are_checked_after_the_signature(app):
    client = app.test_client()
    for prefix, option in (("terms", "terms_accepted"), ("free", "api_access")):
        client.post(
            "/_sandbox/ifirma/accounts",
            json={
                "prefix": prefix,
                "api_token": KEYS["faktura"],
                "options": {"login": prefix, option: False},
            },
        )
    terms, free = Api(client, login="terms"), Api(client, login="free")

    assert refusal(terms, "GET", "faktury.json?dataOd=2026-03-01")[0] == 499
    assert refusal(free, "GET", "faktury.json?dataOd=2026-03-01") == (
        500,
        "Użytkownik nie posiada prawa do korzystania z API.",
    )
    assert refusal(free, "GET", "faktury.json?dataOd=2026-03-01", key="FF" * 8)[0] == 403


def test_auth_refusals_may_use_http_4xx_per_account(app):
    client = app.test_client()
    client.post(
        "/_sandbox/ifirma/accounts",
        json={
            "prefix": "strict",
            "api_token": KEYS["faktura"],
            "options": {"login": "strict", "auth_http_errors": True},
        },
    )
    strict = Api(client, login="strict")

    bad_hash = strict.call("GET", "faktury.json?dataOd=2026-03-01", key="FF" * 8)
    no_key = strict.call("GET", "abonent/limit.json", key="00")

    assert (bad_hash.status_code, bad_hash.json["response"]["Kod"]) == (403, 403)
    assert (no_key.status_code, no_key.json["response"]["Kod"]) == (401, 402)


def test_account_options_are_checked(client):
    def create(token="AB12", **options):
        return client.post(
            "/_sandbox/ifirma/accounts", json={"prefix": "x", "api_token": token, "options": options}
        )

    assert create(token="secret-1").status_code == 400  # the faktura key must be hex
    assert create(key_abonent="xyz").status_code == 400
    assert create(accounting_month="2026-13").status_code == 400
    assert create(rate_limit_per_minute=0).status_code == 400
    assert create(login=LOGIN).status_code == 400  # taken by acme
    assert create(colour="red").status_code == 400
    assert create(rate_limit_per_minute=None, login="x@example.pl").status_code == 201


def test_the_demo_account_works_with_its_documented_credentials(app):
    demo = Api(
        app.test_client(),
        login="demo@sandbox.ifirma.example",
        keys={"faktura": "DEADBEEF0000FA01", "abonent": "DEADBEEF0000AB01", "rachunek": "DEADBEEF0000BC01"},
    )
    today = datetime.now(ZoneInfo("Europe/Warsaw")).date()

    month = demo.response("GET", "abonent/miesiacksiegowy.json")
    created = demo.create(
        "fakturakraj",
        invoice(DataWystawienia=today.isoformat(), DataSprzedazy=today.isoformat(), TerminPlatnosci=None),
    )

    assert (month["RokKsiegowy"], month["MiesiacKsiegowy"]) == (today.year, today.month)
    assert (
        demo.response("GET", f"fakturakraj/{created}.json")["PelnyNumer"] == f"FV 1/{today:%m}/{today.year}"
    )


# ---------------------------------------------------------------------------
# create, read, totals


def test_a_domestic_invoice_is_created_and_read_back_with_its_number(api):
    answer = api.response("POST", "fakturakraj.json", invoice())
    fetched = api.response("GET", f"fakturakraj/{answer['Identyfikator']}.json")

    assert answer["Kod"] == 0 and isinstance(answer["Identyfikator"], int) and "PelnyNumer" not in answer
    assert fetched["PelnyNumer"] == "FV 1/03/2026" and fetched["Numer"] == 1
    assert "Kod" not in fetched  # a read puts the document straight under "response"
    assert fetched["Kontrahent"]["Nazwa"] == "Hurtownia Żółw Sp. z o.o."
    assert fetched["IdentyfikatorKontrahenta"] == fetched["Kontrahent"]["Identyfikator"]
    assert fetched["NIPKontrahenta"] == "5260250274" and fetched["ZaplaconoNaDokumencie"] == 0
    assert fetched["Pozycje"][0]["CenaZRabatem"] == 24.39 and fetched["Pozycje"][0]["StawkaVat"] == 0.23


KIND_BODIES = {
    "fakturakraj": ({}, "FV 1/03/2026"),
    "fakturawysylka": ({"DataOtrzymaniaZaplaty": "2026-03-09"}, "FW 1/03/2026"),
    "fakturaparagon": ({"NumerParagonu": "PAR 12/2026"}, "FP 1/03/2026"),
    "fakturaproformakraj": ({"TypFakturyKrajowej": "SPRZ"}, "PRO 1/03/2026"),
    "fakturazaliczka": ({}, "FZ 1/03/2026"),
    "fakturawaluta": ({"TypSprzedazy": "KRAJOWA", "Waluta": "EUR", "Jezyk": "en"}, "FWAL 1/03/2026"),
    "fakturametodakasowa": ({"TypRozliczenia": "MET_KASOWA"}, "FMK 1/03/2026"),
    "fakturaeksporttowarow": ({"Waluta": "USD"}, "EXP 1/03/2026"),
    "fakturawdt": (
        {"Kontrahent": buyer(PrefiksUE="DE", NIP="123456789", KodKraju="DE", AdresZagraniczny=True)},
        "WDT 1/03/2026",
    ),
    "fakturaeksportuslug": ({"NazwaUslugi": "Wdrożenie", "UslugaSwiadczonaTrybArt28b": True}, "FU 1/03/2026"),
    "fakturaeksportuslugue": ({"NazwaUslugi": "Hosting"}, "FUE 1/03/2026"),
    "fakturaoss": ({"Waluta": "EUR"}, "OSS 1/03/2026"),
    "fakturaioss": ({}, "IOSS 1/03/2026"),
    "fakturaproformaeksport": ({}, "PROEXP 1/03/2026"),
}


@pytest.mark.parametrize("resource", sorted(KIND_BODIES))
def test_every_document_kind_has_its_own_resource_and_numbers(api, resource):
    extra, number = KIND_BODIES[resource]
    body = invoice(**extra)
    if resource not in (
        "fakturakraj",
        "fakturawysylka",
        "fakturaparagon",
        "fakturazaliczka",
        "fakturametodakasowa",
    ):
        body.pop("ZaplaconoNaDokumencie")  # only domestic kinds have it
    if resource.startswith("fakturaproforma"):
        body.pop("Zaplacono")

    created = api.create(resource, body)

    assert api.response("GET", f"{resource}/{created}.json")["PelnyNumer"] == number
    assert api.call("GET", f"fakturakraj/{created}.json").status_code == (
        200 if resource == "fakturakraj" else 404
    )


def test_a_bill_uses_the_rachunek_key_and_has_no_vat(api):
    bill = invoice(WpisDoKpir="TOW", Pozycje=[{"NazwaPelna": "Naprawa", "Ilosc": 1, "CenaJednostkowa": 150}])
    for name in ("LiczOd", "SplitPayment", "ZaplaconoNaDokumencie"):
        bill.pop(name)

    signed_with_faktura = refusal(
        api, "POST", "rachunekkraj.json", bill, key_name="faktura", key=KEYS["faktura"]
    )
    created = api.create("rachunekkraj", bill)
    with_vat = refusal(api, "POST", "rachunekkraj.json", {**bill, "Pozycje": [line()]})
    without_entry = refusal(api, "POST", "rachunekkraj.json", {**bill, "WpisDoKpir": None})

    assert signed_with_faktura[0] == 403
    assert api.response("GET", f"rachunekkraj/{created}.json")["PelnyNumer"] == "R 1/03/2026"
    assert documents(api.http, kind="rachunekkraj")[0]["_sandbox"]["totals"] == {
        "net": "150.00",
        "vat": "0.00",
        "gross": "150.00",
    }
    assert with_vat[0] == 200 and "StawkaVat" in with_vat[1]
    assert without_entry == (201, "Pole WpisDoKpir jest wymagane.")


def test_gross_prices_are_totalled_per_rate_from_the_gross_sum(api):
    # Three lines of 1.00 gross at 23%: each line alone nets 0.81 (sum 2.43),
    # but the rate's VAT is computed once from its gross sum: 3.00 -> 0.56 VAT, 2.44 net.
    lines = [line(f"Naklejka {n}", 1, 1.00) for n in range(3)]
    api.create("fakturakraj", invoice(LiczOd="BRT", Pozycje=lines))

    [doc] = documents(api.http)
    assert [entry["net"] for entry in doc["_sandbox"]["lines"]] == ["0.81"] * 3
    assert doc["_sandbox"]["rate_totals"] == [{"rate": "23", "net": "2.44", "vat": "0.56", "gross": "3.00"}]


def test_net_prices_are_totalled_per_rate_from_the_net_sum_with_discounts_and_exempt_lines(api):
    lines = [
        line("Usługa A", 1, 0.81),
        line("Usługa B", 1, 0.81),
        line("Usługa C", 1, 0.81),
        line("Herbata", 3, 18.50, 0.05, Rabat=10),
        line("Kurs", 1, 100, None, TypStawkiVat="ZW", PodstawaPrawna="Art. 43 ust. 1 pkt 29"),
    ]
    api.create("fakturakraj", invoice(Pozycje=lines))

    [doc] = documents(api.http)
    assert doc["Pozycje"][3]["CenaZRabatem"] == 16.65
    assert doc["_sandbox"]["rate_totals"] == [
        {"rate": "23", "net": "2.43", "vat": "0.56", "gross": "2.99"},
        {"rate": "5", "net": "49.95", "vat": "2.50", "gross": "52.45"},
        {"rate": "zw", "net": "100.00", "vat": "0.00", "gross": "100.00"},
    ]
    assert doc["_sandbox"]["totals"] == {"net": "152.38", "vat": "3.06", "gross": "155.44"}


def test_zero_value_lines_are_dropped_and_an_all_zero_invoice_is_refused(api):
    created = api.create("fakturakraj", invoice(Pozycje=[line(), line("Gratis", 1, 0)]))
    kod, message = refusal(api, "POST", "fakturakraj.json", invoice(Pozycje=[line("Gratis", 1, 0)]))

    assert [p["NazwaPelna"] for p in api.response("GET", f"fakturakraj/{created}.json")["Pozycje"]] == [
        "Kubek ceramiczny"
    ]
    assert kod == 201 and "niezerowej" in message


def test_a_non_vat_payer_issues_gross_exempt_invoices_only(app):
    client = app.test_client()
    client.post(
        "/_sandbox/ifirma/accounts",
        json={
            "prefix": "zwolniony",
            "api_token": KEYS["faktura"],
            "options": {"login": "zw", "vat_payer": False, "accounting_month": "2026-03"},
        },
    )
    api = Api(client, login="zw")
    exempt = line(rate=None, TypStawkiVat="ZW", PodstawaPrawna="Art. 113 ust. 1")

    ok = api.response("POST", "fakturakraj.json", invoice(LiczOd="BRT", Pozycje=[exempt]))
    net = refusal(api, "POST", "fakturakraj.json", invoice(LiczOd="NET", Pozycje=[exempt]))
    no_basis = refusal(
        api, "POST", "fakturakraj.json", invoice(LiczOd="BRT", Pozycje=[{**exempt, "PodstawaPrawna": None}])
    )
    with_rate = refusal(api, "POST", "fakturakraj.json", invoice(LiczOd="BRT"))

    assert ok["Kod"] == 0
    assert net[0] == 201 and "BRT" in net[1]
    assert no_basis == (201, "Pole Podstawa prawna zwolnienia z podatku VAT jest wymagane.")
    assert with_rate[0] == 200 and with_rate[1].startswith("Niepoprawna zawartość żądania")


# ---------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    ("change", "kod", "fragment"),
    [
        ({"SposobZaplaty": "BLIK"}, 201, "SposobZaplaty ma niedozwoloną wartość 'BLIK'"),
        ({"SposobZaplaty": None}, 201, "Pole SposobZaplaty jest wymagane."),
        ({"RodzajPodpisuOdbiorcy": "XYZ"}, 201, "RodzajPodpisuOdbiorcy"),
        ({"FormatDatySprzedazy": "ROK"}, 201, "FormatDatySprzedazy"),
        ({"LiczOd": "netto"}, 201, "LiczOd"),
        (
            {"DataSprzedazy": "10.03.2026"},
            201,
            "Pole DataSprzedazy musi zawierać datę w formacie RRRR-MM-DD.",
        ),
        ({"WidocznyNumerGios": None}, 201, "Pole WidocznyNumerGios jest wymagane."),
        ({"ZaplaconoNaDokumencie": None}, 201, "Pole ZaplaconoNaDokumencie jest wymagane."),
        ({"Uwagi": "x" * 1001}, 201, "Pole Uwagi może mieć maksymalnie 1000 znaków."),
        ({"Zaplacono": 1000}, 201, "Pole Zaplacono nie może być większe niż kwota brutto dokumentu (60.00)."),
        ({"Kontrahent": None}, 201, "Pole Kontrahent jest wymagane."),
        ({"Pozycje": []}, 201, "Pole Pozycje jest wymagane."),
        (
            {"TerminPlatnosci": "2026-03-01"},
            201,
            "Termin płatności nie może być wcześniejszy niż data sprzedaży.",
        ),
        (
            {"DataSprzedazy": "2026-03-11"},
            201,
            "Data wystawienia nie może być wcześniejsza niż data sprzedaży.",
        ),
        (
            {"DataSprzedazy": "2026-01-20", "TerminPlatnosci": None},
            201,
            "nie może być późniejsza niż 15 dzień miesiąca",
        ),
        ({"NazwaSeriiNumeracji": "B2B"}, 201, "Nie znaleziono serii numeracji o nazwie 'B2B'."),
        ({"UwagiNaFakturze": "x"}, 200, "nieznane pole 'UwagiNaFakturze'"),
        ({"Zaplacono": "dużo"}, 200, "pole 'Zaplacono' musi być liczbą"),
        ({"Zaplacono": "1e400"}, 201, "Pole Zaplacono ma zbyt dużą wartość."),
        ({"WidocznyNumerGios": "nie"}, 200, "WidocznyNumerGios"),
        ({"Pozycje": {"NazwaPelna": "x"}}, 200, "Pozycje"),
    ],
)
def test_invalid_invoices_are_refused_with_kod_and_a_polish_message(api, change, kod, fragment):
    answer = api.call("POST", "fakturakraj.json", invoice(**change))

    assert answer.status_code == 200
    assert answer.json["response"]["Kod"] == kod and "Identyfikator" not in answer.json["response"]
    assert fragment in answer.json["response"]["Informacja"]
    assert documents(api.http) == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("Nazwa", "N" * 151, "Pole Kontrahent.Nazwa może mieć maksymalnie 150 znaków."),
        ("Nazwa2", "N" * 151, "Pole Kontrahent.Nazwa2 może mieć maksymalnie 150 znaków."),
        ("Identyfikator", "I" * 16, "Pole Kontrahent.Identyfikator może mieć maksymalnie 15 znaków."),
        ("NIP", "52602502741234", "Pole Kontrahent.NIP może mieć maksymalnie 13 znaków."),
        ("NIP", "526025027", "Pole Kontrahent.NIP musi zawierać 10 cyfr polskiego numeru NIP."),
        ("Ulica", "U" * 66, "Pole Kontrahent.Ulica może mieć maksymalnie 65 znaków."),
        ("KodPocztowy", "1" * 17, "Pole Kontrahent.KodPocztowy może mieć maksymalnie 16 znaków."),
        ("KodPocztowy", None, "Pole Kontrahent.KodPocztowy jest wymagane."),
        ("Miejscowosc", "M" * 66, "Pole Kontrahent.Miejscowosc może mieć maksymalnie 65 znaków."),
        ("Miejscowosc", "", "Pole Kontrahent.Miejscowosc jest wymagane."),
        ("Nazwa", None, "Pole Kontrahent.Nazwa jest wymagane."),
        ("Kraj", "K" * 71, "Pole Kontrahent.Kraj może mieć maksymalnie 70 znaków."),
        ("KodKraju", "POL", "Pole Kontrahent.KodKraju może mieć maksymalnie 2 znaków."),
        ("PrefiksUE", "D", "Pole Kontrahent.PrefiksUE musi zawierać dwuliterowy kod kraju UE."),
        ("Email", "e" * 61 + "@x.pl", "Pole Kontrahent.Email może mieć maksymalnie 65 znaków."),
        ("Telefon", "5" * 33, "Pole Kontrahent.Telefon może mieć maksymalnie 32 znaków."),
    ],
)
def test_buyer_field_lengths_are_enforced(api, field, value, message):
    kod, info = refusal(api, "POST", "fakturakraj.json", invoice(Kontrahent=buyer(**{field: value})))

    assert kod == 201 and message in info.split("\n")


def test_the_longest_allowed_buyer_fields_and_polish_letters_are_fine(api):
    longest = buyer(
        Nazwa="Ż" * 150, Ulica="ś" * 65, KodPocztowy="1" * 16, Miejscowosc="ł" * 65, Telefon="5" * 32
    )

    created = api.create("fakturakraj", invoice(Kontrahent=longest))

    assert api.response("GET", f"fakturakraj/{created}.json")["Kontrahent"]["Nazwa"] == "Ż" * 150


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"TypStawkiVat": None}, "Pole Pozycje[1].TypStawkiVat jest wymagane."),
        ({"StawkaVat": 0.22}, "Pozycje[1].StawkaVat ma niedozwoloną wartość"),
        ({"StawkaVat": None}, "StawkaVat jest wymagane dla stawki procentowej"),
        ({"TypStawkiVat": "ZW"}, "musi być puste (null) dla stawki ZW"),
        ({"TypStawkiVat": "ZW", "StawkaVat": None}, "Podstawa prawna zwolnienia z podatku VAT jest wymagane"),
        ({"CenaJednostkowa": 24.399}, "najwyżej 2 miejsca po przecinku"),
        ({"Ilosc": -1}, "Pole Pozycje[1].Ilosc nie może być ujemne."),
        ({"NazwaPelna": "x" * 301}, "Pole Pozycje[1].NazwaPelna może mieć maksymalnie 300 znaków."),
        ({"Jednostka": "opakowanie!"}, "Pole Pozycje[1].Jednostka może mieć maksymalnie 10 znaków."),
        ({"GTU": "GTU_01"}, "Pozycje[1].GTU ma niedozwoloną wartość"),
        ({"StawkaRyczaltu": 0.2}, "StawkaRyczaltu ma niedozwoloną wartość"),
        ({"Rabat": 120}, "Rabat musi być procentem od 0 do 100"),
    ],
)
def test_invalid_lines_are_refused(api, change, fragment):
    kod, info = refusal(api, "POST", "fakturakraj.json", invoice(Pozycje=[line(**change)]))

    assert kod == 201 and fragment in info


def test_content_type_encoding_and_json_problems_have_their_own_kod(api):
    body = json.dumps(invoice()).encode()

    no_type = api.call("POST", "fakturakraj.json", raw=body, content_type=None)
    form = api.call("POST", "fakturakraj.json", raw=body, content_type="application/x-www-form-urlencoded")
    latin2 = api.call(
        "POST",
        "fakturakraj.json",
        raw=json.dumps(invoice(Uwagi="Zażółć"), ensure_ascii=False).encode("iso-8859-2"),
    )
    broken = api.call("POST", "fakturakraj.json", raw=b'{"Zaplacono": 0,')
    not_json = api.call("POST", "fakturakraj.json", raw=body.replace(b'"Zaplacono": 0', b'"Zaplacono": NaN'))
    utf8 = api.call(
        "POST", "fakturakraj.json", raw=json.dumps(invoice(Uwagi="Zażółć"), ensure_ascii=False).encode()
    )

    assert [r.json["response"]["Kod"] for r in (no_type, form, latin2, broken, not_json)] == [
        102,
        102,
        101,
        200,
        200,
    ]
    assert utf8.json["response"]["Kod"] == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(sorted(invoice()) + ["Inne"]),
        st.none()
        | st.booleans()
        | st.integers(-5, 10**9)
        | st.text(max_size=20)
        | st.lists(st.none() | st.integers(), max_size=2),
        max_size=6,
    )
)
def test_arbitrary_payloads_get_kod_0_200_or_201_never_a_crash(api, changes):
    # one account for every example: documents pile up, which only adds chronology/number refusals
    answer = api.call("POST", "fakturakraj.json", invoice(**changes))

    assert answer.status_code == 200 and answer.json["response"]["Kod"] in (0, 200, 201)


# ---------------------------------------------------------------------------
# the accounting month


def test_documents_outside_the_open_accounting_month_are_refused(api):
    april = invoice(DataWystawienia="2026-04-01", DataSprzedazy="2026-04-01", TerminPlatnosci=None)

    answer = api.response("POST", "fakturakraj.json", april)

    assert answer == {
        "Kod": 201,
        "Informacja": "Data wystawienia 2026-04-01 jest poza bieżącym miesiącem księgowym (03/2026). "
        "Zmień miesiąc księgowy lub datę wystawienia.",
    }
    assert documents(api.http) == []


def test_the_accounting_month_moves_with_the_abonent_key(api):
    april = invoice(DataWystawienia="2026-04-01", DataSprzedazy="2026-04-01", TerminPlatnosci=None)
    before = api.response("GET", "abonent/miesiacksiegowy.json")

    moved = api.response(
        "PUT",
        "abonent/miesiacksiegowy.json",
        {"MiesiacKsiegowy": "NAST", "PrzeniesDaneZPoprzedniegoRoku": False},
    )
    created = api.create("fakturakraj", april)
    march = refusal(api, "POST", "fakturakraj.json", invoice())
    bad = refusal(api, "PUT", "abonent/miesiacksiegowy.json", {"MiesiacKsiegowy": "JUTRO"})
    with_faktura_key = refusal(
        api, "PUT", "abonent/miesiacksiegowy.json", {"MiesiacKsiegowy": "POPRZ"}, key_name="faktura"
    )

    assert (before["MiesiacKsiegowy"], before["RokKsiegowy"]) == (3, 2026)
    assert moved["Kod"] == 0 and (moved["MiesiacKsiegowy"], moved["RokKsiegowy"]) == (4, 2026)
    assert api.response("GET", f"fakturakraj/{created}.json")["PelnyNumer"] == "FV 1/04/2026"
    assert march[0] == 201 and "(04/2026)" in march[1]
    assert bad[0] == 201 and with_faktura_key[0] == 403
    assert api.response("GET", "abonent/miesiacksiegowy.json")["MiesiacKsiegowy"] == 4


def test_the_month_crosses_years_and_the_default_is_the_current_warsaw_month(app, client):
    api = Api(client)
    for _ in range(10):
        api.response("PUT", "abonent/miesiacksiegowy.json", {"MiesiacKsiegowy": "NAST"})
    client.post(
        "/_sandbox/ifirma/accounts",
        json={
            "prefix": "nowe",
            "api_token": KEYS["faktura"],
            "options": {"login": "nowe", "key_abonent": KEYS["abonent"]},
        },
    )
    fresh = Api(client, login="nowe")
    today = datetime.now(ZoneInfo("Europe/Warsaw")).date()

    moved = api.response("GET", "abonent/miesiacksiegowy.json")
    default = fresh.response("GET", "abonent/miesiacksiegowy.json")

    assert (moved["MiesiacKsiegowy"], moved["RokKsiegowy"]) == (1, 2027)
    assert (default["MiesiacKsiegowy"], default["RokKsiegowy"]) == (today.month, today.year)


def test_changing_the_month_option_overrides_an_earlier_move(client):
    api = Api(client)
    api.response("PUT", "abonent/miesiacksiegowy.json", {"MiesiacKsiegowy": "POPRZ"})
    client.post(
        "/_sandbox/ifirma/accounts",
        json={"prefix": "acme", "api_token": KEYS["faktura"], "options": {"accounting_month": "2026-06"}},
    )

    assert api.response("GET", "abonent/miesiacksiegowy.json")["MiesiacKsiegowy"] == 6


# ---------------------------------------------------------------------------
# numbering series and chronology


def test_numbers_follow_the_series_kind_and_period(api):
    def number(resource="fakturakraj", **changes):
        extra = {"DataOtrzymaniaZaplaty": "2026-03-10"} if resource == "fakturawysylka" else {}
        created = api.create(resource, invoice(**extra, **changes))
        return api.response("GET", f"{resource}/{created}.json")["PelnyNumer"]

    numbers = [
        number(),
        number(NazwaSeriiNumeracji="default"),
        number(NazwaSeriiNumeracji="SKLEP"),
        number(NazwaSeriiNumeracji="ROCZNA"),
        number("fakturawysylka"),
        number(Numer=7),
        number(),
    ]

    assert numbers == [
        "FV 1/03/2026",
        "FV 2/03/2026",
        "FV 1/03/2026/SKLEP",
        "FV 1/2026",
        "FW 1/03/2026",
        "FV 7/03/2026",
        "FV 3/03/2026",
    ]


def test_a_forced_number_already_taken_is_refused_and_automatic_numbering_skips_it(api):
    api.create("fakturakraj", invoice(Numer=2))
    taken = refusal(api, "POST", "fakturakraj.json", invoice(Numer=2))
    first, second = api.create("fakturakraj", invoice()), api.create("fakturakraj", invoice())

    assert taken == (201, "Dokument o numerze FV 2/03/2026 już istnieje w serii default.")
    assert [api.response("GET", f"fakturakraj/{i}.json")["PelnyNumer"] for i in (first, second)] == [
        "FV 1/03/2026",
        "FV 3/03/2026",
    ]
    assert refusal(api, "POST", "fakturakraj.json", invoice(Numer=0))[0] == 201


def test_series_may_be_configured_per_account(app):
    client = app.test_client()
    series = [{"name": "default", "template": "{nr}/{rrrr}", "period": "year"}]
    client.post(
        "/_sandbox/ifirma/accounts",
        json={
            "prefix": "roczne",
            "api_token": KEYS["faktura"],
            "options": {"login": "roczne", "series": series, "accounting_month": "2026-03"},
        },
    )
    api = Api(client, login="roczne")

    created = api.create("fakturakraj", invoice(Numer=314))

    assert api.response("GET", f"fakturakraj/{created}.json")["PelnyNumer"] == "314/2026"
    assert api.response("GET", "fakturakraj/314_2026.json")["Numer"] == 314


def test_an_issue_date_before_the_previous_document_in_the_series_is_refused(api):
    api.create(
        "fakturakraj", invoice(DataWystawienia="2026-03-20", DataSprzedazy="2026-03-20", TerminPlatnosci=None)
    )

    earlier = refusal(api, "POST", "fakturakraj.json", invoice())
    other_series = api.response("POST", "fakturakraj.json", invoice(NazwaSeriiNumeracji="SKLEP"))

    assert earlier[0] == 201 and "poprzedniego dokumentu w serii default (2026-03-20)" in earlier[1]
    assert other_series["Kod"] == 0


# ---------------------------------------------------------------------------
# lookup, list, PDF


def test_documents_are_found_by_id_or_by_number_with_underscores(api):
    created = api.create("fakturakraj", invoice())

    by_number = api.response("GET", "fakturakraj/FV%201_03_2026.json")
    missing = api.call("GET", "fakturakraj/99999999.json")
    missing_number = api.call("GET", "fakturakraj/FV%209_03_2026.json")

    assert (
        by_number["PelnyNumer"] == "FV 1/03/2026"
        and by_number["Pozycje"][0]["NazwaPelna"] == "Kubek ceramiczny"
    )
    assert api.response("GET", f"fakturakraj/{created}.json") == by_number
    assert missing.status_code == missing_number.status_code == 404
    assert missing.json["response"]["Kod"] == 500


def test_the_list_needs_dataOd_filters_and_pages(api):
    for day, nip, price in (("03", "5260250274", 10), ("10", "7740001454", 100), ("20", "5260250274", 1000)):
        date = f"2026-03-{day}"
        api.create(
            "fakturakraj",
            invoice(
                DataWystawienia=date,
                DataSprzedazy=date,
                TerminPlatnosci=None,
                Kontrahent=buyer(Nazwa=f"Firma {nip}", NIP=nip),
                Pozycje=[line(price=price, quantity=1)],
            ),
        )
    api.create("fakturaproformakraj", {**invoice(TypFakturyKrajowej="SPRZ"), "Zaplacono": None})

    def numbers(query: str) -> list[str]:
        answer = api.response("GET", f"faktury.json?{query}")
        assert answer["Kod"] == 0, answer
        return [item["PelnyNumer"] for item in answer["Wynik"]]

    missing = refusal(api, "GET", "faktury.json")
    first = api.response("GET", "faktury.json?dataOd=2026-03-01")["Wynik"][0]

    assert missing == (201, "Parametr dataOd jest wymagany (format RRRR-MM-DD).")
    assert numbers("dataOd=2026-03-01") == ["FV 1/03/2026", "FV 2/03/2026", "FV 3/03/2026"]
    assert numbers("dataOd=2026-03-05&dataDo=2026-03-15") == ["FV 2/03/2026"]
    assert numbers("dataOd=2026-03-01&nipKontrahenta=526-025-02-74") == ["FV 1/03/2026", "FV 3/03/2026"]
    assert numbers("dataOd=2026-03-01&kwotaOd=100&kwotaDo=200") == ["FV 2/03/2026"]
    assert numbers("dataOd=2026-03-01&typ=prz_faktura_wysylka") == []
    assert numbers("dataOd=2026-03-01&strona=2&iloscNaStronie=2") == ["FV 3/03/2026"]
    assert numbers("dataOd=2026-03-01&status=oplacone") == []
    assert [
        item["PelnyNumer"] for item in api.response("GET", "proformy.json?dataOd=2026-03-01")["Wynik"]
    ] == ["PRO 1/03/2026"]
    assert first["Brutto"] == 12.3 and first["Rodzaj"] == "prz_faktura_kraj" and first["CzyWyslano"] is False
    assert set(first) >= {
        "FakturaId",
        "KontrahentNazwa",
        "IdentyfikatorKontrahenta",
        "NIPKontrahenta",
        "Zaplacono",
        "Waluta",
        "TerminPlatnosci",
    }


def test_pdf_variants_carry_the_number_and_lines(api):
    created = api.create("fakturakraj", invoice(Pozycje=[line("Książka „Zażółć gęślą jaźń”", 1, 49)]))

    answers = [
        api.call("GET", f"fakturakraj/{created}.pdf"),
        api.call("GET", f"fakturakraj/{created}.pdf.single"),
        api.call("GET", "fakturakraj/FV%201_03_2026.pdf.oryg"),
        api.call("GET", f"fakturakraj/{created}.pdf?typ=dup"),
    ]
    texts = [" ".join(page.extract_text() for page in PdfReader(io.BytesIO(a.data)).pages) for a in answers]

    assert all(a.status_code == 200 and a.mimetype == "application/pdf" for a in answers)
    assert all("FV 1/03/2026" in text and "Zażółć gęślą jaźń" in text for text in texts)
    assert "ORYGINAŁ/KOPIA" in texts[0] and "DUPLIKAT" in texts[3]
    assert "60.27" in texts[0]  # 49.00 net + 23% VAT
    assert api.call("GET", "fakturakraj/42.pdf").status_code == 404


# ---------------------------------------------------------------------------
# currency invoices (fakturawaluta)


def currency_invoice(**overrides) -> dict:
    body = invoice(
        TypSprzedazy="KRAJOWA",
        Waluta="EUR",
        KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury=4.2715,
        LiczOd="BRT",
        Pozycje=[line("Kubek", 2, 12.30), line("Książka", 1, 8.40, 0.05)],
    )
    body.update(overrides)
    return body


def test_a_currency_invoice_is_numbered_read_listed_and_printed_in_its_currency(api):
    domestic = api.create("fakturakraj", invoice())
    first = api.create("fakturawaluta", currency_invoice())
    second = api.create("fakturawaluta", currency_invoice(Jezyk="en", Zaplacono=33, ZaplaconoNaDokumencie=33))

    fetched = api.response("GET", f"fakturawaluta/{first}.json")
    by_number = api.response("GET", "fakturawaluta/FWAL%202_03_2026.json")
    listed = api.response("GET", "faktury.json?dataOd=2026-03-10&typ=prz_faktura_waluta")["Wynik"]
    everything = api.response("GET", "faktury.json?dataOd=2026-03-10")["Wynik"]
    pdf = api.call("GET", f"fakturawaluta/{first}.pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)

    assert api.response("GET", f"fakturakraj/{domestic}.json")["PelnyNumer"] == "FV 1/03/2026"
    assert (fetched["PelnyNumer"], fetched["Waluta"], fetched["TypSprzedazy"]) == ("FWAL 1/03/2026", "EUR", "KRAJOWA")
    assert fetched["KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury"] == 4.2715
    assert [p["CenaZRabatem"] for p in fetched["Pozycje"]] == [12.3, 8.4]
    assert by_number["PelnyNumer"] == "FWAL 2/03/2026" and by_number["Jezyk"] == "en"
    assert [(i["PelnyNumer"], i["Waluta"], i["Brutto"]) for i in listed] == [
        ("FWAL 1/03/2026", "EUR", 33.0),
        ("FWAL 2/03/2026", "EUR", 33.0),
    ]
    assert {i["Waluta"] for i in everything} == {"PLN", "EUR"} and len(everything) == 3
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "FWAL 1/03/2026" in text and "33.00 EUR" in text and "4.2715" in text
    assert api.call("GET", f"fakturakraj/{first}.json").status_code == 404  # its own resource only
    assert api.call("GET", f"fakturawaluta/{domestic}.pdf").status_code == 404
    assert {d["_sandbox"]["id"] for d in documents(api.http, kind="fakturawaluta")} == {first, second}
    totals = documents(api.http, id=str(first))[0]["_sandbox"]["rate_totals"]
    assert totals == [
        {"rate": "23", "net": "20.00", "vat": "4.60", "gross": "24.60"},
        {"rate": "5", "net": "8.00", "vat": "0.40", "gross": "8.40"},
    ]


@pytest.mark.parametrize(
    ("change", "kod", "fragment"),
    [
        ({"Waluta": None}, 201, "Pole Waluta jest wymagane."),
        ({"TypSprzedazy": None}, 201, "Pole TypSprzedazy jest wymagane."),
        ({"TypSprzedazy": "EKSPORT"}, 201, "Pole TypSprzedazy ma niedozwoloną wartość 'EKSPORT'"),
        ({"Waluta": "PLN"}, 201, "Faktura w walucie obcej nie może być wystawiona w PLN."),
        ({"Waluta": "eur"}, 201, "Pole Waluta musi zawierać trzyliterowy kod waluty (ISO 4217)."),
        ({"Waluta": "XYZ"}, 201, "Nieobsługiwana waluta 'XYZ'."),
        ({"KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury": 0}, 201, "musi być większe od zera"),
        ({"KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury": -4.3}, 201, "musi być większe od zera"),
        ({"KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury": "kurs"}, 200, "musi być liczbą"),
        ({"Jezyk": "english"}, 201, "Pole Jezyk może mieć maksymalnie 2 znaków."),
        ({"Kontrahent": buyer(Miejscowosc=None)}, 201, "Pole Kontrahent.Miejscowosc jest wymagane."),
        ({"Pozycje": [line(rate=0.22)]}, 201, "Pozycje[1].StawkaVat ma niedozwoloną wartość"),
        ({"Pozycje": [line(price=0)]}, 201, "przynajmniej jedną pozycję o niezerowej wartości"),
        ({"Zaplacono": 100}, 201, "Pole Zaplacono nie może być większe niż kwota brutto dokumentu (33.00)."),
    ],
)
def test_invalid_currency_invoices_are_refused(api, change, kod, fragment):
    answer = api.call("POST", "fakturawaluta.json", currency_invoice(**change))

    assert answer.status_code == 200
    assert answer.json["response"]["Kod"] == kod and "Identyfikator" not in answer.json["response"]
    assert fragment in answer.json["response"]["Informacja"]
    assert documents(api.http) == []


def test_a_currency_invoice_without_a_rate_is_accepted(api):
    body = currency_invoice()
    body.pop("KursWalutyZDniaPoprzedzajacegoDzienWystawieniaFaktury")

    created = api.create("fakturawaluta", body)

    assert api.response("GET", f"fakturawaluta/{created}.json")["PelnyNumer"] == "FWAL 1/03/2026"


def test_faults_apply_to_currency_invoices(api):
    client = api.http
    set_faults(client, account="acme", error_5xx=1.0)
    failing = api.call("POST", "fakturawaluta.json", currency_invoice())
    set_faults(client, account="acme", rate_429=1.0, retry_after=2)
    throttled = api.call("POST", "fakturawaluta.json", currency_invoice())
    client.delete("/_sandbox/ifirma/faults")
    created = api.create("fakturawaluta", currency_invoice())

    assert failing.status_code in (500, 502, 503)
    assert throttled.status_code == 429 and throttled.json["response"]["Kod"] == 429
    assert [d["_sandbox"]["id"] for d in documents(client)] == [created]
    assert api.response("GET", f"fakturawaluta/{created}.json")["PelnyNumer"] == "FWAL 1/03/2026"


# ---------------------------------------------------------------------------
# corrections


def test_a_correction_sends_the_full_should_be_state_and_carries_the_difference(api):
    original = api.create("fakturakraj", invoice(Pozycje=[line(), line("Herbata", 3, 18.50, 0.05)]))
    body = {
        "PowodKorekty": "ZWR_SPRZ_TOW",
        "SpelnionoWarunki": True,
        "DataWystawienia": "2026-03-15",
        "Pozycje": [line(), line("Herbata", 0, 18.50, 0.05)],
    }

    answer = api.response("POST", f"fakturakraj/korekta/{original}.json", body)
    correction = api.response("GET", f"fakturakraj/korekta/{answer['Identyfikator']}.json")
    [inspected] = documents(api.http, kind="fakturakraj/korekta")
    pdf = api.call("GET", f"fakturakraj/korekta/{answer['Identyfikator']}.pdf")
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()

    assert answer["Kod"] == 0
    assert correction["PelnyNumer"] == "KOR 1/03/2026" and correction["PowodKorekty"] == "ZWR_SPRZ_TOW"
    assert [p["Ilosc"] for p in correction["Pozycje"]] == [2, 0]
    assert inspected["_sandbox"]["rate_totals"] == [
        {"rate": "23", "net": "0.00", "vat": "0.00", "gross": "0.00"},
        {"rate": "5", "net": "-55.50", "vat": "-2.78", "gross": "-58.28"},
    ]
    assert inspected["_sandbox"]["original"]["PelnyNumer"] == "FV 1/03/2026"
    assert "Dotyczy faktury: FV 1/03/2026" in text and "(przed korektą)" in text


def test_a_second_correction_starts_from_the_corrected_state_and_may_use_the_number(api):
    api.create("fakturakraj", invoice(Pozycje=[line(quantity=3)]))
    first = {"PowodKorekty": "ZWR_SPRZ_TOW", "SpelnionoWarunki": True, "DataWystawienia": "2026-03-11"}

    api.response("POST", "fakturakraj/korekta/FV%201_03_2026.json", {**first, "Pozycje": [line(quantity=2)]})
    again = api.response(
        "POST", "fakturakraj/korekta/FV%201_03_2026.json", {**first, "Pozycje": [line(quantity=1)]}
    )

    assert again["Kod"] == 0
    second = documents(api.http, id=str(again["Identyfikator"]))[0]
    assert second["PelnyNumer"] == "KOR 2/03/2026"
    assert second["_sandbox"]["totals"] == {"net": "-24.39", "vat": "-5.61", "gross": "-30.00"}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"Pozycje": []}, "Pole Pozycje jest wymagane."),
        ({"Pozycje": [line(), line("Herbata", 1, 18.50, 0.05)]}, "Korekta nie zmienia żadnej pozycji"),
        ({"PowodKorekty": "ZMIANA"}, "PowodKorekty ma niedozwoloną wartość"),
        ({"SpelnionoWarunki": None}, "Pole SpelnionoWarunki jest wymagane."),
        (
            {"DataWystawienia": "2026-03-09"},
            "nie może być wcześniejsza niż data wystawienia faktury korygowanej",
        ),
        ({"DataWystawienia": "2026-04-02"}, "poza bieżącym miesiącem księgowym"),
    ],
)
def test_invalid_corrections_are_refused(api, change, fragment):
    original = api.create("fakturakraj", invoice(Pozycje=[line(), line("Herbata", 1, 18.50, 0.05)]))
    body = {
        "PowodKorekty": "POMYLKI",
        "SpelnionoWarunki": True,
        "DataWystawienia": "2026-03-12",
        "Pozycje": [line(), line("Herbata", 1, 17.50, 0.05)],
    }
    body.update(change)

    kod, info = refusal(api, "POST", f"fakturakraj/korekta/{original}.json", body)

    assert kod == 201 and fragment in info


def test_a_correction_must_keep_every_line_and_point_at_a_domestic_invoice(api):
    original = api.create("fakturakraj", invoice(Pozycje=[line(), line("Herbata", 1, 18.50, 0.05)]))
    proforma = api.create("fakturaproformakraj", {**invoice(TypFakturyKrajowej="SPRZ"), "Zaplacono": None})
    body = {"PowodKorekty": "ZWR_SPRZ_TOW", "SpelnionoWarunki": True, "DataWystawienia": "2026-03-12"}

    dropped = refusal(api, "POST", f"fakturakraj/korekta/{original}.json", {**body, "Pozycje": [line()]})
    of_proforma = api.call(
        "POST", f"fakturakraj/korekta/{proforma}.json", {**body, "Pozycje": [line(quantity=1)]}
    )
    unknown_field = refusal(
        api, "POST", f"fakturakraj/korekta/{original}.json", {**body, "Numer": 5, "Pozycje": [line()]}
    )

    assert dropped[0] == 201 and "usuniętą pozycję wyślij z Ilosc: 0" in dropped[1]
    assert of_proforma.status_code == 404
    assert unknown_field[0] == 200


# ---------------------------------------------------------------------------
# contractors


def test_a_new_buyer_becomes_a_contractor_found_by_search_and_reused_by_nip(api):
    first = api.create("fakturakraj", invoice())
    second = api.create(
        "fakturakraj", invoice(Kontrahent=buyer(Nazwa="Żółw (inna nazwa)", NIP="526-025-02-74"))
    )
    by_reference = api.create(
        "fakturakraj", {**invoice(Kontrahent=None), "IdentyfikatorKontrahenta": "HURTOWNIAZOLWSP"}
    )
    by_nip = api.create("fakturakraj", {**invoice(Kontrahent=None), "NIPKontrahenta": "5260250274"})

    found = api.response("GET", "kontrahenci/%C5%BB%C3%B3%C5%82w.json")
    identifiers = {
        api.response("GET", f"fakturakraj/{i}.json")["IdentyfikatorKontrahenta"]
        for i in (first, second, by_reference, by_nip)
    }

    assert identifiers == {"HURTOWNIAZOLWSP"}
    assert found["Kod"] == 0 and [c["Identyfikator"] for c in found["Wynik"]] == ["HURTOWNIAZOLWSP"]
    assert (
        api.response("GET", "kontrahenci/5260250274.json")["Wynik"][0]["Nazwa"] == "Hurtownia Żółw Sp. z o.o."
    )
    assert refusal(api, "GET", "kontrahenci/Nikt.json")[0] == 208
    assert refusal(
        api, "POST", "fakturakraj.json", {**invoice(Kontrahent=None), "IdentyfikatorKontrahenta": "NIKT"}
    ) == (
        201,
        "Nie znaleziono kontrahenta o identyfikatorze 'NIKT'.",
    )


def test_contractors_are_created_and_a_put_erases_omitted_fields(api):
    created = api.response(
        "POST", "kontrahenci.json", buyer(Identyfikator="ZOLW", Telefon="+48 12 000 00 00")
    )
    duplicate = refusal(api, "POST", "kontrahenci.json", buyer(Identyfikator="ZOLW"))
    updated = api.response(
        "PUT",
        "kontrahenci/ZOLW.json",
        {"Nazwa": "Żółw S.A.", "KodPocztowy": "31-147", "Miejscowosc": "Kraków"},
    )
    [record] = api.response("GET", "kontrahenci/ZOLW.json")["Wynik"]

    assert created == {"Kod": 0, "Informacja": "Kontrahent został dodany.", "Identyfikator": "ZOLW"}
    assert duplicate[0] == 201
    assert updated["Kod"] == 0
    assert record["Nazwa"] == "Żółw S.A." and record["Telefon"] is None and record["NIP"] is None
    assert api.call("PUT", "kontrahenci/NIKT.json", buyer()).status_code == 404


# ---------------------------------------------------------------------------
# sending, payments, KSeF, VAT dictionary


def test_sending_by_e_mail_records_the_message_and_needs_an_address(api):
    created = api.create("fakturakraj", invoice())
    no_mail = api.create("fakturakraj", invoice(Kontrahent=buyer(NIP="7740001454", Email=None)))

    sent = api.response(
        "POST", f"fakturakraj/send/{created}.json?wyslijEfaktura=true", {"Tekst": "Dzień dobry"}
    )
    refused = refusal(api, "POST", f"fakturakraj/send/{no_mail}.json", {"Tekst": "x"})
    by_post = api.response("POST", f"fakturakraj/send/{no_mail}.json?wyslijPoczta=true", {})

    assert sent["Kod"] == 0 and by_post["Kod"] == 0
    assert refused[0] == 201 and "Brak adresu e-mail" in refused[1]
    outbox = documents(api.http, id=str(created))[0]["_sandbox"]["outbox"]
    assert outbox[0]["to"] == "faktury@zolw.example" and outbox[0]["Tekst"] == "Dzień dobry"
    assert api.response("GET", "faktury.json?dataOd=2026-03-01")["Wynik"][0]["CzyWyslano"] is True
    assert api.call("POST", f"rachunekkraj/send/{created}.json", {}).status_code == 404


def test_payments_are_keyed_by_list_type_and_number_and_cannot_exceed_the_total(api):
    api.create("fakturakraj", invoice())
    path = "faktury/wplaty/prz_faktura_kraj/FV%201_03_2026.json"

    part = api.response("POST", path, {"Kwota": 20, "Data": "2026-03-12"})
    too_much = refusal(api, "POST", path, {"Kwota": 50, "Data": "2026-03-12"})
    partly = api.response("GET", "faktury.json?dataOd=2026-03-01&status=oplaconeCzesciowo")["Wynik"]
    rest = api.response("POST", path, {"Kwota": 40, "Data": "2026-03-13"})
    paid = api.response("GET", "faktury.json?dataOd=2026-03-01&status=oplacone")["Wynik"]

    assert part["Kod"] == 0 and isinstance(part["Wynik"], int)
    assert too_much[0] == 201
    assert [item["Zaplacono"] for item in partly] == [20]
    assert rest["Kod"] == 0 and [item["Zaplacono"] for item in paid] == [60]
    assert (
        api.call(
            "POST",
            "faktury/wplaty/prz_faktura_wysylka/FV%201_03_2026.json",
            {"Kwota": 1, "Data": "2026-03-12"},
        ).status_code
        == 404
    )


def test_ksef_send_is_accepted_once_for_invoices_and_refused_for_pro_formas(api):
    created = api.create("fakturakraj", invoice())
    proforma = api.create("fakturaproformakraj", {**invoice(TypFakturyKrajowej="SPRZ"), "Zaplacono": None})

    first = api.response("POST", f"fakturakraj/ksef/send/{created}.json", {"DataWysylki": None})
    again = refusal(api, "POST", f"fakturakraj/ksef/send/{created}.json", {"DataWysylki": None})
    pro = refusal(api, "POST", f"fakturaproformakraj/ksef/send/{proforma}.json", {"DataWysylki": None})

    assert first["Kod"] == 0 and again[0] == 201 and pro[0] == 201
    assert len(documents(api.http, id=str(created))[0]["_sandbox"]["ksef"]) == 1


def test_the_vat_dictionary_and_api_limit_answer_in_the_envelope(api):
    germany = api.response("GET", "slownik/stawki_vat/DE.json")
    limit = api.response("GET", "abonent/limit.json")

    assert (
        germany["NazwaKraju"] == "Niemcy"
        and {"Rodzaj": "PODSTAWOWA", "Wartosc": 0.19} in germany["StawkiVat"]
    )
    assert refusal(api, "GET", "slownik/stawki_vat/XX.json")[0] == 201
    assert limit["Informacja"] == "Informacja o limitach API"
    assert (limit["LimitWykorzystany"], limit["LimitPrzyznany"]) == (2, 15000)


# ---------------------------------------------------------------------------
# rate limits, faults, stats, inspection, reset, restart


def test_100_requests_a_minute_per_user_are_allowed_by_default(app, client):
    api = Api(client)
    client.post(
        "/_sandbox/ifirma/accounts",
        json={"prefix": "inny", "api_token": KEYS["faktura"], "options": {"login": "inny"}},
    )

    answers = [api.call("GET", "faktury.json?dataOd=2026-03-01") for _ in range(101)]
    other = Api(client, login="inny").call("GET", "faktury.json?dataOd=2026-03-01")

    assert [a.status_code for a in answers[:100]] == [200] * 100
    assert answers[100].status_code == 429 and 1 <= int(answers[100].headers["Retry-After"]) <= 60
    assert answers[100].json["response"]["Kod"] == 429
    assert other.status_code == 200  # the cap is per user


def test_the_caps_are_per_account_options(app):
    client = app.test_client()
    client.post(
        "/_sandbox/ifirma/accounts",
        json={
            "prefix": "bez",
            "api_token": KEYS["faktura"],
            "options": {"login": "bez", "rate_limit_per_minute": None, "rate_limit_per_day": 3},
        },
    )
    api = Api(client, login="bez")

    statuses = [api.call("GET", "faktury.json?dataOd=2026-03-01").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def set_faults(client, **settings):
    response = client.put("/_sandbox/ifirma/faults", json=settings)
    assert response.status_code == 200, response.json
    return response


def test_generic_faults_apply_to_ifirma(api):
    client = api.http
    set_faults(client, account="acme", rate_429=1.0, retry_after=3)
    throttled = api.call("GET", "faktury.json?dataOd=2026-03-01")
    set_faults(client, account="acme", error_5xx=1.0)
    failing = api.call("GET", "faktury.json?dataOd=2026-03-01")
    set_faults(client, account="acme", auth_failure=True)
    refused = api.call("GET", "faktury.json?dataOd=2026-03-01")
    set_faults(client, account="acme", write_limit={"count": 1, "seconds": 60})
    writes = [api.call("POST", "fakturakraj.json", invoice()).status_code for _ in range(2)]
    client.delete("/_sandbox/ifirma/faults")

    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert throttled.json["response"]["Kod"] == 429
    assert failing.status_code in (500, 502, 503) and failing.mimetype == "text/html"
    assert refused.status_code == 200 and refused.json["response"]["Kod"] == 403
    assert writes == [200, 429]
    stats = client.get("/_sandbox/stats").json["services"]["ifirma"]
    assert stats["accounts"]["acme"]["faults"] == {
        "auth_failure": 1,
        "error_5xx": 1,
        "rate_429": 1,
        "write_limit": 1,
    }
    assert stats["documents_held"] == {"acme": 1}


def test_inspection_finds_documents_by_reference_number_and_kind(api):
    reference = {"Typ": "NUMER_ZAMOWIENIA", "Info": "IB-12-3456", "Data": "2026-03-10"}
    api.create("fakturakraj", invoice(DodatkoweUwagi=reference))
    api.create("fakturakraj", invoice(Uwagi="Zamówienie IB-12-9999"))
    api.create("fakturawysylka", invoice(DataOtrzymaniaZaplaty="2026-03-10"))

    assert [d["PelnyNumer"] for d in documents(api.http, ref="IB-12-3456")] == ["FV 1/03/2026"]
    assert [d["PelnyNumer"] for d in documents(api.http, oid="IB-12-9999")] == ["FV 2/03/2026"]
    assert [d["PelnyNumer"] for d in documents(api.http, kind="prz_faktura_wysylka")] == ["FW 1/03/2026"]
    assert documents(api.http, number="FV 2/03/2026")[0]["Uwagi"] == "Zamówienie IB-12-9999"


def test_reset_wipes_everything_but_the_demo_account(api):
    api.create("fakturakraj", invoice())

    assert api.http.post("/_sandbox/reset").json == {"status": "ok"}

    accounts = api.http.get("/_sandbox/ifirma/accounts").json["accounts"]
    assert [account["prefix"] for account in accounts] == ["demo"]
    assert accounts[0]["options"]["login"] == "demo@sandbox.ifirma.example"
    assert api.http.get("/_sandbox/ifirma/documents").json["count"] == 0
    assert refusal(api, "GET", "faktury.json?dataOd=2026-03-01")[0] == 401


def test_state_survives_a_restart_on_the_same_file(tmp_path):
    db = tmp_path / "state.sqlite3"
    first = create_sandbox_app(db).test_client()
    first.post(
        "/_sandbox/ifirma/accounts",
        json={"prefix": "acme", "api_token": KEYS["faktura"], "options": ACCOUNT_OPTIONS},
    )
    before = Api(first).create("fakturakraj", invoice())
    Api(first).response("PUT", "abonent/miesiacksiegowy.json", {"MiesiacKsiegowy": "NAST"})

    second = Api(create_sandbox_app(db).test_client())
    again = second.response("GET", f"fakturakraj/{before}.json")
    april = second.create(
        "fakturakraj", invoice(DataWystawienia="2026-04-02", DataSprzedazy="2026-04-02", TerminPlatnosci=None)
    )

    assert again["PelnyNumer"] == "FV 1/03/2026"
    assert (
        second.response("GET", f"fakturakraj/{april}.json")["PelnyNumer"] == "FV 1/04/2026" and april > before
    )


# ---------------------------------------------------------------------------
# over real HTTP


def test_signed_requests_reset_and_timeout_after_store_over_real_http(tmp_path):
    with running_sandbox(tmp_path / "live.sqlite3") as base_url:
        requests.post(
            f"{base_url}/_sandbox/ifirma/accounts",
            json={"prefix": "acme", "api_token": KEYS["faktura"], "options": ACCOUNT_OPTIONS},
            timeout=5,
        )
        api = Api(requests.Session(), origin=base_url)
        faults = f"{base_url}/_sandbox/ifirma/faults"

        created = api.call("POST", "fakturakraj.json", invoice(Uwagi="Zażółć gęślą jaźń")).json()["response"]
        pdf = api.call("GET", "fakturakraj/FV%201_03_2026.pdf.single")
        found = api.call("GET", "kontrahenci/HURTOWNIA%20%C5%BB%C3%93%C5%81W.json").json()["response"]

        requests.put(faults, json={"account": "acme", "reset": 1.0}, timeout=5)
        with pytest.raises(requests.ConnectionError):
            api.call("POST", "fakturakraj.json", invoice(Uwagi="IB-R"))
        requests.put(
            faults, json={"account": "acme", "timeout_after_store": 1.0, "hold_seconds": 1}, timeout=5
        )
        with pytest.raises(requests.ReadTimeout):
            api.call("POST", "fakturakraj.json", invoice(Uwagi="IB-T"), timeout=0.3)
        with pytest.raises(requests.ReadTimeout):
            api.call("POST", "fakturawaluta.json", currency_invoice(Uwagi="IB-W"), timeout=0.3)
        requests.delete(faults, timeout=5)
        inspect = f"{base_url}/_sandbox/ifirma/documents"

        assert created["Kod"] == 0
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert found["Kod"] == 0 and found["Wynik"][0]["Nazwa"] == "Hurtownia Żółw Sp. z o.o."
        assert requests.get(inspect, params={"oid": "IB-R"}, timeout=5).json()["count"] == 0
        assert requests.get(inspect, params={"oid": "IB-T"}, timeout=5).json()["count"] == 1
        stored = requests.get(inspect, params={"oid": "IB-W"}, timeout=5).json()["documents"]
        assert [d["PelnyNumer"] for d in stored] == ["FWAL 1/03/2026"]
