"""Security defaults: login throttling, cookie flags, framing, secrets never shown back."""
from tests.conftest import PASSWORD, Browser, gen_order
from webapp import create_app
from webapp.documents.services import issue_document


def test_login_is_throttled_after_repeated_failures(client, merchant_user):
    b = Browser(client)
    for _ in range(5):
        assert b.login(merchant_user.email, "wrong").status_code == 200
    response = b.login(merchant_user.email, PASSWORD)  # even the right password waits now
    assert response.status_code == 429
    assert "Za dużo nieudanych prób logowania" in response.get_data(as_text=True)
    other = b.login("someone-else@example.com", "wrong")  # same address, other account
    assert other.status_code == 429


def test_successful_login_before_the_limit_clears_the_count(client, merchant_user):
    b = Browser(client)
    for _ in range(4):
        b.login(merchant_user.email, "wrong")
    assert b.login(merchant_user.email, PASSWORD).status_code == 302


def test_session_cookie_flags(app, client, merchant_user, monkeypatch, instance_dir, database_url):
    b = Browser(client)
    b.login(merchant_user.email)
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    production = create_app({"INSTANCE_PATH": str(instance_dir), "SQLALCHEMY_DATABASE_URI": database_url})
    assert production.config["SESSION_COOKIE_SECURE"] is True


def test_pages_cannot_be_framed_but_pdfs_only_by_us(browser, merchant_user):
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    page = browser.get(f"/documents/{document.id}")
    pdf = browser.get(f"/documents/{document.id}/pdf")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in pdf.headers["Content-Security-Policy"]
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
