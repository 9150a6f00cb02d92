"""A new merchant's first session in a real browser: log in, find the order, issue the invoice,
open its PDF. CSRF stays on, so every form is posted exactly as the browser builds it."""
from __future__ import annotations

import io
import re
from urllib.parse import urljoin

from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.conftest import PASSWORD, gen_order
from webapp.extensions import db

BUYER = "Łódzka Spółdzielnia Ćwiczeń"
MONTH_YEAR = r"/\d{2}/\d{4}"  # the default invoice series numbers FV/{nr}/{MM}/{YYYY}


def quiet_test_thread_db() -> None:
    # End the test thread's transaction: the server thread writes next, and an open SQLite
    # read or PostgreSQL transaction must not stand in its way.
    db.session.rollback()


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("E-mail", exact=True).fill(email)
    page.get_by_label("Hasło", exact=True).fill(password)
    page.get_by_role("button", name="Zaloguj", exact=True).click()


def test_first_invoice_from_login_to_pdf(page: Page, merchant_user, console_problems, artifacts_dir):
    order = gen_order(merchant_user.merchant_id)
    email, order_label = merchant_user.email, f"{order.source} #{order.shop_order_id}"
    quiet_test_thread_db()

    log_in(page, email)
    expect(page.get_by_role("heading", name="Pulpit")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="Zamówienia", exact=True).click()
    expect(page.get_by_role("heading", name="Zamówienia", exact=True)).to_be_visible()
    order_row = page.get_by_role("row").filter(has_text=order_label)
    expect(order_row).to_contain_text(BUYER)
    expect(order_row).to_contain_text("143,97 PLN")
    page.screenshot(path=artifacts_dir / "first_invoice_orders_list.png", full_page=True)

    order_row.get_by_role("link", name=order_label).click()
    expect(page.get_by_role("heading", name=order_label)).to_be_visible()
    page.get_by_role("button", name="Wystaw fakturę", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(rf"^Faktura VAT FV/1{MONTH_YEAR}$"))
    expect(page.get_by_role("status")).to_have_text(re.compile(rf"^Wystawiono: Faktura VAT FV/1{MONTH_YEAR}\.$"))
    totals = page.locator("table.totals")
    expect(totals.locator("tbody tr")).to_have_count(2)
    expect(totals.locator('tr[data-rate="23"] td')).to_have_text(["23", "77,21 PLN", "17,76 PLN", "94,97 PLN"])
    expect(totals.locator('tr[data-rate="5"] td')).to_have_text(["5", "46,67 PLN", "2,33 PLN", "49,00 PLN"])
    expect(totals.locator("tfoot th")).to_have_text(["Razem", "123,88 PLN", "20,09 PLN", "143,97 PLN"])
    page.screenshot(path=artifacts_dir / "first_invoice_document_card.png", full_page=True)

    # The link the user would click, fetched with this browser context's session cookie.
    pdf_href = page.get_by_role("link", name="Podgląd PDF", exact=True).get_attribute("href")
    response = page.request.get(urljoin(page.url, pdf_href), max_redirects=0)
    assert response.status == 200, response.status
    assert response.headers["content-type"].startswith("application/pdf")
    body = response.body()
    assert body.startswith(b"%PDF")
    pdf_text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages).split())
    assert BUYER in pdf_text
    assert re.search(rf"FV/1{MONTH_YEAR}", pdf_text)

    assert console_problems == []


def test_wrong_password_shows_an_error_and_stays_logged_out(page: Page, merchant_user, console_problems):
    email = merchant_user.email
    quiet_test_thread_db()

    log_in(page, email, "not the password")

    expect(page.get_by_text("Nieprawidłowy e-mail lub hasło.", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("navigation")).to_have_count(0)  # the logged-in top bar
    assert console_problems == []


def test_bulk_issue_of_all_orders_from_the_list(page: Page, merchant_user, console_problems):
    for shop_order_id in ("1001", "1002"):
        gen_order(merchant_user.merchant_id, n=shop_order_id)
    email = merchant_user.email
    quiet_test_thread_db()

    log_in(page, email)
    page.goto("/orders/")
    page.get_by_label("Zaznacz wszystkie", exact=True).check()
    # static/js/app.js ticks every row: proof the script loaded under the CSP.
    expect(page.get_by_label("Zaznacz 1001", exact=True)).to_be_checked()
    expect(page.get_by_label("Zaznacz 1002", exact=True)).to_be_checked()
    page.get_by_role("button", name="Wystaw", exact=True).click()

    expect(page.get_by_role("status")).to_have_text(
        re.compile(rf"^Wystawiono 2: FV/1{MONTH_YEAR}, FV/2{MONTH_YEAR}$"))
    expect(page.get_by_role("heading", name="Zamówienia", exact=True)).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="#1001")).to_contain_text(re.compile(r"FV/1/"))
    expect(page.get_by_role("row").filter(has_text="#1002")).to_contain_text(re.compile(r"FV/2/"))
    assert console_problems == []
