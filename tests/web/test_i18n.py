"""The dashboard in Polish (the default and the msgid language) and English, chosen per user;
the English catalog is complete, consistent and compiled."""
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import Browser, gen_order
from webapp.extensions import db
from webapp.models import User

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "webapp" / "translations" / "en" / "LC_MESSAGES"


@pytest.fixture
def english(browser, merchant_user):
    merchant_user.locale = "en"
    db.session.commit()
    return browser


def _text(response) -> str:
    return response.get_data(as_text=True)


def _integration(merchant_id: int):
    from webapp.exports.services import create_integration

    # Stored without a connection check: the module page renders from the database alone.
    return create_integration(merchant_id, "fakturownia", "Moja Fakturownia",
                              {"api_token": "t", "account_prefix": "abc"})


# --- an English user -----------------------------------------------------------------------------

def test_english_user_sees_english_dashboard_and_orders(english, merchant_user):
    gen_order(merchant_user.merchant_id, n="A-1")
    dashboard = _text(english.get("/"))
    assert '<html lang="en">' in dashboard
    assert "<h1>Dashboard</h1>" in dashboard and "Pulpit" not in dashboard
    assert "<strong>1</strong> order<" in dashboard and "<strong>0</strong> invoices" in dashboard
    assert ">Orders</a>" in dashboard and ">Log out</button>" in dashboard

    orders = _text(english.get("/orders/"))
    assert "<h1>Orders</h1>" in orders and "New order" in orders and "Issue for the selected:" in orders
    assert "Zamówienia" not in orders
    assert "Sklep A #A-1" in orders  # the data itself is never translated


def test_english_user_sees_english_integration_module(english, merchant_user):
    integration = _integration(merchant_user.merchant_id)
    page = _text(english.get(f"/integrations/{integration.id}"))
    for text in ("Document export", "Configuration", "Numbering series", "Payment types",
                 "Save configuration", "Export all", "Account state:", "connected"):
        assert text in page, text
    assert "Konfiguracja" not in page and "Eksport dokumentów" not in page


def test_english_user_gets_english_validation_messages(english, merchant_user):
    # A WTForms form (lazy labels and messages) ...
    page = _text(english.post("/settings/", data={"company_name": "", "tax_id": "123", "street": "x",
                                                  "post_code": "00-001", "city": "Łódź", "country": "PL"}))
    assert "Company name (seller)" in page
    assert "Enter the company name." in page and "Podaj nazwę firmy." not in page
    assert "Invalid NIP (10 digits with a valid checksum)." in page
    # ... and the order rules shared with the API (messages built in the request).
    page = _text(english.post("/orders/new", data={
        "source": "Sklep", "shop_order_id": "X-1", "buyer.type": "company", "buyer.company_name": "Firma",
        "buyer.tax_id": "1234567890", "buyer.country": "PL", "currency": "PLN"}))
    assert "Correct the marked fields (" in page
    assert "The order must have at least one item." in page and "Invalid NIP" in page


def test_english_user_gets_english_flash_messages(english, merchant_user):
    response = english.post("/settings/statuses", data={"name": "Spakowane"}, follow_redirects=True)
    assert 'class="flash flash-success"' in _text(response) and "Status added." in _text(response)
    order = gen_order(merchant_user.merchant_id, n="A-2")
    response = english.post(f"/orders/{order.id}/issue", data={"kind": "invoice"}, follow_redirects=True)
    assert "Issued: Faktura VAT FV/1/" in _text(response)  # the document keeps its Polish legal title


def test_english_user_sees_english_counts_and_error_pages(english, merchant_user):
    orders = [gen_order(merchant_user.merchant_id, n=f"B-{i}") for i in range(2)]
    response = english.post("/orders/bulk-issue", follow_redirects=True,
                            data={"kind": "invoice", "order_ids": [str(o.id) for o in orders]})
    assert "Issued 2 documents: FV/1/" in _text(response)
    integration = _integration(merchant_user.merchant_id)  # after issuing: nothing was exported yet
    preview = _text(english.get(f"/integrations/{integration.id}/bulk"))
    assert "Send 2 documents" in preview
    missing = english.get("/orders/999999")
    assert missing.status_code == 404 and "Error 404" in _text(missing) and "Not found." in _text(missing)


# --- a Polish user -------------------------------------------------------------------------------

def test_polish_user_sees_polish(browser, merchant_user):
    assert merchant_user.locale == "pl"
    gen_order(merchant_user.merchant_id, n="A-1")
    dashboard = _text(browser.get("/", headers={"Accept-Language": "en"}))  # the user's choice wins
    assert '<html lang="pl">' in dashboard and "<h1>Pulpit</h1>" in dashboard and "Dashboard" not in dashboard
    assert "<strong>1</strong> zamówienie<" in dashboard and "<strong>0</strong> faktur<" in dashboard
    assert "<h1>Zamówienia</h1>" in _text(browser.get("/orders/"))
    page = _text(browser.post("/settings/", data={"company_name": "", "country": "PL"}))
    assert "Podaj nazwę firmy." in page
    response = browser.post("/settings/statuses", data={"name": "Spakowane"}, follow_redirects=True)
    assert "Status dodany." in _text(response)


def test_demo_merchant_is_polish(app, client):
    from webapp.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

    seed_demo()
    assert db.session.scalar(db.select(User.locale).where(User.email == DEMO_EMAIL)) == "pl"
    b = Browser(client)
    assert b.login(DEMO_EMAIL, DEMO_PASSWORD).status_code == 302
    assert "<h1>Pulpit</h1>" in _text(b.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}))


# --- the switcher --------------------------------------------------------------------------------

def test_switcher_changes_the_users_language(browser, merchant_user):
    page = _text(browser.get("/orders/"))
    assert 'action="/language"' in page and 'name="locale" value="en"' in page
    response = browser.post("/language", data={"locale": "en", "next": "/orders/?q=x"})
    assert response.status_code == 302 and response.location == "/orders/?q=x"
    db.session.refresh(merchant_user)
    assert merchant_user.locale == "en"
    page = _text(browser.get("/orders/"))
    assert "Language changed." in page and "<h1>Orders</h1>" in page

    response = browser.post("/language", data={"locale": "pl", "next": "//evil.example/"},
                            follow_redirects=True)
    assert response.request.path == "/"  # never an off-site redirect
    assert "Język zmieniony." in _text(response) and "<h1>Pulpit</h1>" in _text(response)
    db.session.refresh(merchant_user)
    assert merchant_user.locale == "pl"


def test_switcher_requires_csrf_and_a_known_language(browser, client, merchant_user):
    response = client.post("/language", data={"locale": "en"})  # logged in, but no CSRF token
    assert response.status_code == 400
    assert browser.post("/language", data={"locale": "de"}).status_code == 400
    db.session.refresh(merchant_user)
    assert merchant_user.locale == "pl"


# --- Accept-Language before login, the API ---------------------------------------------------------

@pytest.mark.parametrize("header, lang, text", [
    ("en-US,en;q=0.9,pl;q=0.5", "en", "Log in to issue and send invoices."),
    ("pl-PL,pl;q=0.9,en;q=0.8", "pl", "Zaloguj się, aby wystawiać i przesyłać faktury."),
    ("de-DE,de;q=0.9", "pl", "Zaloguj się, aby wystawiać i przesyłać faktury."),
    (None, "pl", "Zaloguj się, aby wystawiać i przesyłać faktury."),
])
def test_login_page_follows_accept_language(client, header, lang, text):
    page = _text(client.get("/login", headers={"Accept-Language": header} if header else {}))
    assert f'<html lang="{lang}">' in page and text in page


def test_login_errors_and_login_redirect_follow_accept_language(client, merchant_user):
    english = {"Accept-Language": "en"}
    page = _text(client.get("/login", headers=english))
    token = page.split('name="csrf-token" content="')[1].split('"')[0]
    page = _text(client.post("/login", headers=english,
                             data={"email": merchant_user.email, "password": "wrong", "csrf_token": token}))
    assert "Wrong e-mail or password." in page and "Remember me" in page
    response = client.get("/orders/", headers=english, follow_redirects=True)
    assert "Log in to see this page." in _text(response)


def test_refused_invoice_link_follows_the_customers_browser(client):
    english = client.get("/i/not-a-token", headers={"Accept-Language": "en-US,en;q=0.8"})
    assert english.status_code == 404
    assert "Invoice unavailable" in _text(english) and "Invalid invoice link." in _text(english)
    polish = client.get("/i/not-a-token")
    assert "Faktura niedostępna" in _text(polish) and "Nieprawidłowy link do faktury." in _text(polish)


def test_api_answers_in_polish_whatever_the_client_asks(client, merchant_user):
    from webapp.settings.services import create_api_token

    token = create_api_token(merchant_user.merchant_id, "sklep")
    response = client.post("/api/v1/orders", json={"source": "Sklep", "shop_order_id": "1", "items": []},
                           headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"})
    assert response.status_code == 422
    assert response.json["errors"]["items"] == "Zamówienie musi mieć co najmniej jedną pozycję."


def test_printed_invoice_stays_polish_for_an_english_user(english, merchant_user):
    order = gen_order(merchant_user.merchant_id, n="A-3")
    english.post(f"/orders/{order.id}/issue", data={"kind": "invoice"})
    document_id = order.documents[0].id
    page = _text(english.get(f"/documents/{document_id}/print"))
    assert "Sprzedawca" in page and "Seller" not in page


# --- the catalog ---------------------------------------------------------------------------------

def _catalog():
    with open(CATALOG / "messages.po", "rb") as po:
        return read_po(po, locale="en")


def test_every_msgid_has_an_english_translation():
    catalog = _catalog()
    messages = [m for m in catalog if m.id]
    assert len(messages) > 400
    untranslated = [m.id for m in messages if not m.string or (m.pluralizable and not all(m.string))]
    assert not untranslated
    assert not [m.id for m in messages if m.fuzzy]
    problems = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    assert not problems  # e.g. a %(name)s placeholder lost in translation


def _as_key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value  # plural ids and strings


def _entries(catalog) -> dict:
    return {_as_key(m.id): _as_key(m.string) for m in catalog if m.id}


def test_compiled_catalog_matches_the_po():
    with open(CATALOG / "messages.mo", "rb") as mo:
        compiled = _entries(read_mo(mo))
    assert compiled == _entries(_catalog()), "run `make i18n` to compile the .mo"


def test_catalog_covers_every_marked_string():
    """A string wrapped in _() but missing from the catalog would show Polish to an English user."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "N_": None}
    extracted = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        extracted.add(message[0] if isinstance(message, tuple) else message)
    catalog_ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in _catalog() if m.id}
    assert not extracted - catalog_ids, "run `make i18n` and translate the new strings"
    assert "Sprzedawca" in catalog_ids and "Faktura niedostępna" in catalog_ids


def test_work_outside_a_request_stays_polish_after_an_english_request(english, merchant_user):
    """Jobs and CLI write journals and run logs in Polish, even in the app context an English
    request has just used (the locale is forgotten at the end of each request)."""
    from webapp.documents.services import IssueRefused, issue_document

    assert "Dashboard" in _text(english.get("/"))
    order = gen_order(merchant_user.merchant_id, n="A-4")
    with pytest.raises(IssueRefused) as refused:
        issue_document(order, "proforma")
    assert refused.value.message == "Z zamówienia wystawia się fakturę albo paragon."
