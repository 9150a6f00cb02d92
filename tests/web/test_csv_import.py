import io

from webapp.extensions import db
from webapp.models import Order
from webapp.orders.services import CSV_COLUMNS

HEADER = ";".join(CSV_COLUMNS)


def row(**values):
    base = dict.fromkeys(CSV_COLUMNS, "")
    base.update(source="Sklep B", buyer_type="person", buyer_name="Zofia Wójcik", country="PL",
                quantity="1", unit_gross="10,00", vat_rate="23", item_name="Świeca")
    base.update(values)
    return ";".join(base[c] for c in CSV_COLUMNS)


def upload(browser, text: str, encoding="utf-8"):
    return browser.post("/orders/import", data={"file": (io.BytesIO(text.encode(encoding)), "zamowienia.csv")},
                        content_type="multipart/form-data")


def test_import_reports_each_row(browser, merchant_user):
    csv_text = "\n".join([
        HEADER,
        row(shop_order_id="1", item_name="Świeca sojowa"),
        row(shop_order_id="1", item_name="Kubek", quantity="2", unit_gross="39,99"),
        row(shop_order_id="2", buyer_type="company", company_name="Firma", tax_id="1234567890"),
        row(shop_order_id="3", vat_rate="22"),
        row(shop_order_id="1", item_name="Świeca sojowa"),
    ]) + "\n"
    page = upload(browser, csv_text).get_data(as_text=True)
    assert "Zaimportowano: <strong>2</strong>" in page
    assert "Pominięto: <strong>1</strong>" in page
    assert "Błędy: <strong>2</strong>" in page
    assert "tax_id: Nieprawidłowy NIP" in page
    assert "wiersz pozycji 1, vat_rate: Stawka VAT" in page
    orders = db.session.scalars(db.select(Order).order_by(Order.id)).all()
    assert [o.shop_order_id for o in orders] == ["1"]
    assert [i.name for i in orders[0].items] == ["Świeca sojowa", "Kubek"]


def test_windows_1250_file_from_excel_is_read(browser, merchant_user):
    csv_text = HEADER + "\n" + row(shop_order_id="7", item_name="Żółta świeca") + "\n"
    page = upload(browser, csv_text, encoding="cp1250").get_data(as_text=True)
    assert "Zaimportowano: <strong>1</strong>" in page
    assert db.session.scalar(db.select(Order)).items[0].name == "Żółta świeca"


def test_missing_columns_are_named(browser, merchant_user):
    page = upload(browser, "source;item_name\nA;B\n").get_data(as_text=True)
    assert "Brak kolumn: shop_order_id, quantity, unit_gross, vat_rate" in page
    assert db.session.scalar(db.select(db.func.count(Order.id))) == 0


def test_csv_template_downloads(browser):
    response = browser.get("/orders/import/template.csv")
    assert response.mimetype == "text/csv"
    assert response.get_data(as_text=True).startswith(",".join(CSV_COLUMNS))


def test_manual_order_form_shows_field_errors_and_keeps_input(browser, merchant_user):
    response = browser.post("/orders/new", data={
        "source": "Ręcznie", "shop_order_id": "R-1", "buyer.type": "company", "buyer.company_name": "Żuraw",
        "buyer.tax_id": "123", "buyer.country": "PL", "currency": "PLN",
        "items[0].name": "Kubek", "items[0].quantity": "-1", "items[0].unit_gross": "10", "items[0].vat_rate": "23"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-field="buyer.tax_id"' in page and "Nieprawidłowy NIP" in page
    assert 'data-field="items[0].quantity"' in page
    assert 'value="Żuraw"' in page
    response = browser.post("/orders/new", data={
        "source": "Ręcznie", "shop_order_id": "R-1", "buyer.type": "person", "buyer.name": "Łucja Ćma",
        "buyer.country": "PL", "currency": "PLN", "payment.method": "Gotówka", "payment.paid": "on",
        "items[0].name": "Kubek", "items[0].quantity": "2", "items[0].unit_gross": "10,50", "items[0].vat_rate": "8",
        "items[1].name": "", "shipping.gross": "9.99", "shipping.vat_rate": "23"})
    assert response.status_code == 302
    order = db.session.scalar(db.select(Order))
    assert order.paid and order.buyer_name == "Łucja Ćma"
    assert [(i.name, str(i.unit_gross), i.is_shipping) for i in order.items] == [("Kubek", "10.50", False), ("Wysyłka", "9.99", True)]
