"""Merchant settings as a merchant uses them: seller data and logo, numbering series, order
statuses, API tokens; and the CSRF token sent by htmx in a header."""
import io
import re
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader

from tests.conftest import gen_order
from webapp.documents.services import IssueRefused, issue_document
from webapp.extensions import db
from webapp.models import ApiToken, AutomationRule, Document, Merchant, Order, OrderStatus, Series


def pdf_text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_image_count(data: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages)


def image_bytes(fmt: str, size=(300, 100), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128)).save(buffer, format=fmt)
    return buffer.getvalue()


SELLER = {"company_name": "Pracownia Źdźbło Sp. z o.o.", "tax_id": "7251801126", "street": "ul. Wąska 3",
          "post_code": "30-001", "city": "Kraków", "country": "PL", "bank_account": "", "email": "biuro@zdzblo.example",
          "phone": "", "place_of_issue": "Kraków"}


def post_merchant(browser, **extra):
    return browser.post("/settings/", data={**SELLER, **extra}, content_type="multipart/form-data")


def issue_pdf(browser, merchant_id: int) -> tuple[Document, bytes]:
    order = gen_order(merchant_id)
    response = browser.post(f"/orders/{order.id}/issue", data={"kind": "invoice"})
    assert response.status_code == 302 and response.location.startswith("/documents/"), response.location
    document = db.session.scalar(db.select(Document).where(Document.order_id == order.id))
    pdf = browser.get(f"/documents/{document.id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    return document, pdf.data


# --- seller data and logo --------------------------------------------------------------------

def test_seller_data_saved_in_settings_is_printed_on_a_new_document(browser, merchant_user):
    response = post_merchant(browser)
    assert response.status_code == 302
    document, pdf = issue_pdf(browser, merchant_user.merchant_id)
    text = pdf_text(pdf)
    for expected in ("Pracownia Źdźbło Sp. z o.o.", "7251801126", "ul. Wąska 3", "30-001 Kraków",
                     "biuro@zdzblo.example", document.number):
        assert expected in text, expected


def test_a_file_that_is_not_an_image_is_refused_naming_the_logo_field(browser, merchant_user):
    fake = (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"not an image at all" * 20), "logo.png")
    response = post_merchant(browser, logo=fake)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'data-field="logo">Nie można odczytać logo: wgraj obraz PNG lub JPEG\.', page)
    merchant = db.session.get(Merchant, merchant_user.merchant_id)
    assert merchant.logo_png is None and merchant.company_name != SELLER["company_name"]  # nothing saved


def test_another_extension_is_refused(browser, merchant_user):
    response = post_merchant(browser, logo=(io.BytesIO(image_bytes("GIF")), "logo.gif"))
    assert 'data-field="logo">Logo musi być plikiem PNG lub JPEG.' in response.get_data(as_text=True)


def test_a_gif_named_png_is_refused(browser, merchant_user):
    response = post_merchant(browser, logo=(io.BytesIO(image_bytes("GIF")), "logo.png"))
    assert 'data-field="logo">Nie można odczytać logo' in response.get_data(as_text=True)
    assert db.session.get(Merchant, merchant_user.merchant_id).logo_png is None


@pytest.mark.parametrize("fmt, name, mode", [("PNG", "logo.png", "RGBA"), ("JPEG", "logo.jpg", "RGB")])
def test_a_valid_logo_is_stored_as_a_bounded_png_and_printed(browser, merchant_user, fmt, name, mode):
    upload = image_bytes(fmt, size=(2400, 800), mode=mode)
    assert post_merchant(browser, logo=(io.BytesIO(upload), name)).status_code == 302
    stored = db.session.get(Merchant, merchant_user.merchant_id).logo_png
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG" and image.size == (1200, 400)
        assert image.mode == mode
    _document, pdf = issue_pdf(browser, merchant_user.merchant_id)
    assert pdf_image_count(pdf) == 1


def test_a_huge_image_is_refused_before_it_is_decoded(browser, merchant_user):
    # 6000 × 6000 one-bit pixels compress to a few kB: the size check has to come before decoding.
    upload = io.BytesIO()
    Image.new("1", (6000, 6000)).save(upload, format="PNG")
    assert len(upload.getvalue()) < 500 * 1024
    response = post_merchant(browser, logo=(io.BytesIO(upload.getvalue()), "logo.png"))
    assert 'data-field="logo">Logo ma za dużo pikseli' in response.get_data(as_text=True)


def test_a_corrupt_stored_logo_leaves_the_pdf_without_it(browser, merchant_user):
    merchant = db.session.get(Merchant, merchant_user.merchant_id)
    merchant.logo_png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64  # e.g. stored before logos were checked
    db.session.commit()
    document, pdf = issue_pdf(browser, merchant_user.merchant_id)
    assert document.number in pdf_text(pdf)
    assert pdf_image_count(pdf) == 0


# --- numbering series ------------------------------------------------------------------------

def series_form(**fields):
    data = {"name": "Hurt", "kind": "invoice", "format": "FH/{nr}/{YYYY}", "reset": "yearly", "payment_days": "14"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def error_of(response, field: str) -> str:
    match = re.search(rf'data-field="{field}">([^<]+)<', response.get_data(as_text=True))
    return match.group(1) if match else ""


def test_a_format_another_series_of_the_kind_uses_is_refused(browser, merchant_user):
    response = browser.post("/settings/series/new", data=series_form(format="FV/{nr}/{MM}/{YYYY}", reset="monthly"))
    assert response.status_code == 200
    assert "Seria „Faktury” ma już ten format" in error_of(response, "format")
    # Another kind may use it: numbers are unique per kind.
    response = browser.post("/settings/series/new", data=series_form(
        name="Paragony 2", kind="receipt", format="FV/{nr}/{MM}/{YYYY}", reset="monthly"))
    assert response.status_code == 302


def test_format_and_reset_of_a_series_with_documents_cannot_change(browser, merchant_user):
    issue_document(gen_order(merchant_user.merchant_id), "invoice", issue_date=date(2026, 11, 5))
    series = db.session.scalar(db.select(Series).where(Series.name == "Faktury"))
    url = f"/settings/series/{series.id}"
    base = series_form(name="Faktury", format="FV/{nr}/{MM}/{YYYY}", reset="monthly", is_default="y")

    response = browser.post(url, data={**base, "reset": "yearly"})
    assert "zmiana numeracji od nowa powtórzyłaby ich numery" in error_of(response, "reset")
    response = browser.post(url, data={**base, "format": "F/{nr}/{MM}/{YYYY}"})
    assert "zmiana formatu powtórzyłaby ich numery" in error_of(response, "format")
    db.session.refresh(series)
    assert (series.format, series.reset) == ("FV/{nr}/{MM}/{YYYY}", "monthly")
    # Other settings still change.
    assert browser.post(url, data={**base, "payment_days": "30"}).status_code == 302
    db.session.refresh(series)
    assert series.payment_days == 30


def test_format_of_an_unused_series_can_change(browser, merchant_user):
    series = db.session.scalar(db.select(Series).where(Series.name == "Faktury"))
    response = browser.post(f"/settings/series/{series.id}", data=series_form(
        name="Faktury", format="FA/{nr}/{YYYY}", reset="yearly", is_default="y"))
    assert response.status_code == 302
    assert issue_document(gen_order(merchant_user.merchant_id), "invoice",
                          issue_date=date(2026, 11, 5)).number == "FA/1/2026"


def test_a_number_that_already_exists_says_which_series_to_fix(merchant_user):
    # Two series of one kind with one format: made before formats were checked.
    twin = Series(merchant_id=merchant_user.merchant_id, name="Faktury bis", kind="invoice",
                  format="FV/{nr}/{MM}/{YYYY}", reset="monthly")
    db.session.add(twin)
    db.session.commit()
    first = issue_document(gen_order(merchant_user.merchant_id), "invoice", issue_date=date(2026, 11, 5))
    order = gen_order(merchant_user.merchant_id)
    with pytest.raises(IssueRefused) as refused:
        issue_document(order, "invoice", series_id=twin.id, issue_date=date(2026, 11, 5))
    assert first.number == "FV/1/11/2026"
    assert "Numer FV/1/11/2026 już istnieje" in refused.value.message
    assert "seria „Faktury bis”" in refused.value.message and "Zmień format tej serii" in refused.value.message
    assert "innym oknie" not in refused.value.message
    assert db.session.scalar(db.select(db.func.count(Document.id))) == 1


def test_switching_the_default_series(browser, merchant_user):
    response = browser.post("/settings/series/new", data=series_form(is_default="y"))
    assert response.status_code == 302
    defaults = db.session.scalars(db.select(Series.name).where(Series.kind == "invoice", Series.is_default)).all()
    assert defaults == ["Hurt"]
    page = browser.get("/settings/series").get_data(as_text=True)
    assert re.search(r"Hurt <span class=\"badge ok\">domyślna</span>", page)
    assert not re.search(r"Faktury <span class=\"badge ok\">", page)
    document, _pdf = issue_pdf(browser, merchant_user.merchant_id)
    assert document.number.startswith("FH/1/")


# --- order statuses --------------------------------------------------------------------------

def status(name: str) -> OrderStatus:
    return db.session.scalar(db.select(OrderStatus).where(OrderStatus.name == name))


def status_names(browser) -> list[str]:
    page = browser.get("/settings/statuses").get_data(as_text=True)
    return re.findall(r'<input type="text" name="name" value="([^"]+)"', page)


def test_rename_a_status_keeps_its_orders(browser, merchant_user):
    paid = status("Opłacone")
    order = gen_order(merchant_user.merchant_id, status_id=paid.id)
    response = browser.post(f"/settings/statuses/{paid.id}/rename", data={"name": "Zapłacone"}, follow_redirects=True)
    assert "Status „Opłacone” nazywa się teraz „Zapłacone”." in response.get_data(as_text=True)
    assert db.session.get(Order, order.id).status.name == "Zapłacone"
    assert status_names(browser) == ["Nowe", "Zapłacone", "Faktura wystawiona", "Wysłane"]
    response = browser.post(f"/settings/statuses/{paid.id}/rename", data={"name": "Nowe"}, follow_redirects=True)
    assert "Taki status już istnieje." in response.get_data(as_text=True)
    assert db.session.get(OrderStatus, paid.id).name == "Zapłacone"


def test_reorder_statuses_and_the_first_one_is_given_to_new_orders(browser, merchant_user):
    from webapp.orders.services import first_status

    sent = status("Wysłane")
    browser.post(f"/settings/statuses/{sent.id}/move", data={"direction": "up"})
    assert status_names(browser) == ["Nowe", "Opłacone", "Wysłane", "Faktura wystawiona"]
    new = status("Nowe")
    browser.post(f"/settings/statuses/{new.id}/move", data={"direction": "down"})
    browser.post(f"/settings/statuses/{new.id}/move", data={"direction": "up"})
    browser.post(f"/settings/statuses/{new.id}/move", data={"direction": "down"})
    assert status_names(browser) == ["Opłacone", "Nowe", "Wysłane", "Faktura wystawiona"]
    paid = status("Opłacone")
    browser.post(f"/settings/statuses/{paid.id}/move", data={"direction": "up"})  # already first: stays
    assert status_names(browser) == ["Opłacone", "Nowe", "Wysłane", "Faktura wystawiona"]
    assert first_status(merchant_user.merchant_id).name == "Opłacone"


def test_a_status_used_by_orders_or_automatic_actions_is_not_deleted(browser, merchant_user):
    paid = status("Opłacone")
    gen_order(merchant_user.merchant_id, status_id=paid.id)
    page = browser.post(f"/settings/statuses/{paid.id}/delete", follow_redirects=True).get_data(as_text=True)
    assert "Status „Opłacone” ma 1 zamówienie: najpierw zmień jego status." in page
    assert status("Opłacone") is not None

    sent = status("Wysłane")
    db.session.add(AutomationRule(merchant_id=merchant_user.merchant_id, name="Po fakturze", trigger="new_order",
                                  steps=[{"type": "change_status", "status_id": sent.id}]))
    db.session.commit()
    page = browser.post(f"/settings/statuses/{sent.id}/delete", follow_redirects=True).get_data(as_text=True)
    assert "Status „Wysłane” jest używany w akcjach automatycznych: Po fakturze." in page
    assert status("Wysłane") is not None

    unused = status("Faktura wystawiona")
    page = browser.post(f"/settings/statuses/{unused.id}/delete", follow_redirects=True).get_data(as_text=True)
    assert "Status usunięty." in page and status("Faktura wystawiona") is None


# --- API tokens ------------------------------------------------------------------------------

def test_a_new_api_token_is_shown_once_and_never_put_in_the_cookie(app, browser, merchant_user):
    response = browser.post("/settings/api-tokens", data={"name": "Sklep A"})
    assert response.status_code == 200
    token = re.search(r'<code class="token" id="new-token">(ib_[^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert response.headers.get("Cache-Control") == "no-store"
    for header in response.headers.getlist("Set-Cookie"):
        assert token not in header
        assert token[3:20] not in header
    session_cookie = browser.client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    decoded = app.session_interface.get_signing_serializer(app).loads(session_cookie.value)
    assert token not in repr(decoded)
    assert 'id="new-token"' not in browser.get("/settings/api-tokens").get_data(as_text=True)  # once
    assert db.session.scalar(db.select(ApiToken.hint)) == token[:7]
    assert browser.client.get("/api/v1/orders/1", headers={"Authorization": f"Bearer {token}"}).status_code == 404


# --- CSRF from htmx: the token in a header ------------------------------------------------------

@pytest.fixture
def rejected_export(merchant_user):
    from webapp.exports.services import create_integration
    from webapp.models import Export

    integration = create_integration(merchant_user.merchant_id, "fakturownia", "F", {"api_token": "t"},
                                     base_url="http://127.0.0.1:9/fakturownia/x", auto_export=False)
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice")
    export = Export(merchant_id=merchant_user.merchant_id, document_id=document.id, integration_id=integration.id,
                    state="rejected", field_errors={})
    db.session.add(export)
    db.session.commit()
    return export


def test_htmx_action_with_the_token_in_the_x_csrftoken_header(browser, rejected_export):
    from webapp.models import Export

    url = f"/integrations/exports/{rejected_export.id}/retry"
    token = browser.csrf_token()
    refused = browser.client.post(url, headers={"HX-Request": "true"})
    assert refused.status_code == 400
    assert db.session.get(Export, rejected_export.id).state == "rejected"
    wrong = browser.client.post(url, headers={"HX-Request": "true", "X-CSRFToken": token[:-2] + "xx"})
    assert wrong.status_code == 400
    response = browser.client.post(url, headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Export, rejected_export.id).state == "queued"
