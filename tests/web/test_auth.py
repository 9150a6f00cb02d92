import re


def test_login_page_and_wrong_password_message(client, merchant_user):
    from tests.conftest import Browser

    b = Browser(client)
    response = b.login(merchant_user.email, "wrong")
    assert response.status_code == 200
    assert "Nieprawidłowy e-mail lub hasło." in response.get_data(as_text=True)


def test_login_then_dashboard_then_logout(client, merchant_user):
    from tests.conftest import Browser

    b = Browser(client)
    response = b.login(merchant_user.email)
    assert response.status_code == 302 and response.location == "/"
    assert "Pulpit" in b.get("/").get_data(as_text=True)
    assert b.post("/logout").status_code == 302
    assert b.get("/").status_code == 302


def test_login_does_not_redirect_off_site(client, merchant_user):
    from tests.conftest import Browser

    b = Browser(client)
    token = b.csrf_token()
    response = client.post("/login?next=//evil.example/x", data={
        "email": merchant_user.email, "password": "correct horse 1", "csrf_token": token})
    assert response.location == "/"


def test_password_is_hashed(merchant_user):
    assert "correct horse" not in merchant_user.password_hash
    assert re.match(r"^(scrypt|pbkdf2)", merchant_user.password_hash)


def test_login_without_csrf_token_is_refused(client, merchant_user):
    response = client.post("/login", data={"email": merchant_user.email, "password": "correct horse 1"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
