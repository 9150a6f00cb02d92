"""The demo merchant that `make run` seeds: the mix of orders the README promises."""
from decimal import Decimal

from pypdf import PdfReader
from stdnum.pl import nip

from tests.conftest import Browser
from webapp.extensions import db
from webapp.models import Document, Order, OrderItem, Series


def test_seed_demo_gives_the_promised_mix_and_a_polish_invoice(app, client):
    import io

    from webapp.demo import DEMO_EMAIL, DEMO_PASSWORD, seed_demo

    merchant, created = seed_demo()
    assert created and seed_demo() == (merchant, False)  # once
    orders = db.session.scalars(db.select(Order).where(Order.merchant_id == merchant.id)).all()
    assert len(orders) == 50
    assert len({o.source for o in orders}) == 3

    companies = [o for o in orders if o.buyer_is_company]
    consumers = [o for o in orders if not o.buyer_is_company]
    assert len({o.buyer_tax_id for o in companies}) >= 3 and len(consumers) >= 20
    assert all(nip.is_valid(o.buyer_tax_id) for o in companies)
    assert all(not o.buyer_tax_id for o in consumers)

    eur = [o for o in orders if o.currency == "EUR"]
    assert eur and all(o.exchange_rate == Decimal("4.2718") for o in eur)
    assert {o.currency for o in orders} == {"PLN", "EUR"}

    items = db.session.scalars(db.select(OrderItem).join(Order).where(Order.merchant_id == merchant.id)).all()
    assert any(i.vat_rate == "zw" for i in items)
    shipping = [i for i in items if i.is_shipping]
    assert len(shipping) >= 20 and {i.name for i in shipping} == {"Kurier InPost"}
    assert len({o.payment_method for o in orders}) >= 4
    assert any(o.paid for o in orders) and any(not o.paid for o in orders)

    kinds = set(db.session.scalars(db.select(Series.kind).where(Series.merchant_id == merchant.id, Series.is_default)))
    assert {"invoice", "receipt"} <= kinds

    browser = Browser(client)
    assert browser.login(DEMO_EMAIL, DEMO_PASSWORD).status_code == 302
    order = next(o for o in companies if o.buyer_company_name.startswith("Łódzka"))
    response = browser.post(f"/orders/{order.id}/issue", data={"kind": "invoice"})
    document = db.session.scalar(db.select(Document).where(Document.order_id == order.id))
    assert response.location == f"/documents/{document.id}"
    pdf = browser.get(f"/documents/{document.id}/pdf")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    for expected in ("Pracownia Zażółć Sp. z o.o.", "ul. Gęślowa 7", "Łódzka Spółdzielnia Ćwiczeń", document.number):
        assert expected in text, expected
