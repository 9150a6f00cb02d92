"""The demo merchant: ~50 orders from three shops with a realistic mix, and its series."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from .extensions import db
from .models import Merchant, Series, User
from .orders.services import create_order
from .settings.services import add_default_statuses

DEMO_EMAIL = "demo@invoice-bridge.pl"
DEMO_PASSWORD = "demo1234"

SHOPS = ("Sklep Łąka", "Ceramika Żółw", "Allegro — Różności")
PRODUCTS = (
    ("Kubek ceramiczny „Zażółć”", "KUB-001", "39.99", "23"),
    ("Talerz głęboki", "TAL-002", "24.50", "23"),
    ("Książka: Gęśla jaźń", "KS-003", "49.00", "5"),
    ("Herbata liściasta 100 g", "HER-004", "18.90", "8"),
    ("Kurs online — ceramika", "KUR-005", "299.00", "zw"),
    ("Karta podarunkowa", "KAR-006", "100.00", "np"),
    ("Miód wielokwiatowy 400 g", "MIO-007", "32.00", "5"),
    ("Świeca sojowa", "SWI-008", "45.99", "23"),
)
COMPANIES = (
    ("Łódzka Spółdzielnia Ćwiczeń", "7251801126", "ul. Piotrkowska 12", "90-001", "Łódź"),
    ("Gęś i Żuraw Sp. z o.o.", "5260250274", "ul. Świętokrzyska 5", "00-360", "Warszawa"),
    ("Źródło Smaku s.c.", "6762469388", "ul. Floriańska 3", "31-019", "Kraków"),
)
PEOPLE = ("Zofia Wójcik", "Łukasz Nowak", "Małgorzata Dąbrowska", "Jędrzej Kaźmierczak", "Anna Kowalska")
PAYMENTS = ("PayU", "Przelew", "Pobranie", "BLIK", "Przelewy24")


def seed_demo() -> tuple[Merchant, bool]:
    """Create the demo merchant once; returns (merchant, created)."""
    user = db.session.scalar(db.select(User).where(User.email == DEMO_EMAIL))
    if user is not None:
        return user.merchant, False
    merchant = Merchant(
        name="Demo", company_name="Pracownia Zażółć Sp. z o.o.", tax_id="5252248481",
        street="ul. Gęślowa 7", post_code="00-950", city="Warszawa", country="PL",
        bank_account="PL61 1090 1014 0000 0712 1981 2874", email="sklep@zazolc.example", place_of_issue="Warszawa",
    )
    db.session.add(merchant)
    db.session.flush()
    user = User(merchant_id=merchant.id, email=DEMO_EMAIL, name="Demo", locale="pl", is_admin=True)
    user.set_password(DEMO_PASSWORD)
    db.session.add(user)
    add_default_statuses(merchant.id)
    db.session.add_all([
        Series(merchant_id=merchant.id, name="Faktury", kind="invoice", format="FV/{nr}/{MM}/{YYYY}",
               reset="monthly", is_default=True, payment_days=7),
        Series(merchant_id=merchant.id, name="Faktury hurt", kind="invoice", format="FH/{nr}/{YYYY}",
               reset="yearly", payment_days=14),
        Series(merchant_id=merchant.id, name="Paragony", kind="receipt", format="PAR/{nr}/{MM}/{YYYY}",
               reset="monthly", is_default=True, hide_payment_date=True),
        Series(merchant_id=merchant.id, name="Korekty", kind="correction", format="FK/{nr}/{YYYY}",
               reset="yearly", is_default=True),
    ])
    db.session.commit()
    _connect_demo_sandbox(merchant.id)
    for payload in demo_orders():
        create_order(merchant.id, payload)
    _recommended_chain(merchant.id)
    return merchant, True


def _recommended_chain(merchant_id: int) -> None:
    """Mail to the local sink, two templates, and the recommended automatic chain: a paid order
    gets an invoice (stop after failure) and the status "Faktura wystawiona"; that status sends
    the e-mail with the service's invoice attached."""
    from werkzeug.datastructures import MultiDict

    from .automation.rules import save_rule
    from .delivery.services import save_mail_settings, save_template
    from .models import OrderStatus

    save_mail_settings(merchant_id, {"host": "127.0.0.1", "port": "1025", "security": "none",
                                     "sender": "faktury@zazolc.example.com"})
    attached = save_template(merchant_id, None, {
        "name": "Faktura w załączniku", "subject": "Faktura [invoice_number] do zamówienia [order_id]",
        "body": "Dzień dobry [buyer_name],\n\nw załączniku faktura [invoice_number] na kwotę [total].\n\n"
                "Dziękujemy za zakupy!\nPracownia Zażółć", "attach_pdf": "on"})
    save_template(merchant_id, None, {
        "name": "Faktura jako link", "subject": "Faktura [invoice_number] do zamówienia [order_id]",
        "body": "Dzień dobry [buyer_name],\n\nfaktura [invoice_number] na kwotę [total] czeka tutaj: "
                "[invoice_link]\n\nPracownia Zażółć"})
    issued = db.session.scalar(db.select(OrderStatus.id).where(OrderStatus.merchant_id == merchant_id,
                                                               OrderStatus.name == "Faktura wystawiona"))
    blank = [("step_kind", ""), ("step_series", ""), ("step_stop", ""), ("step_status", ""), ("step_template", "")]
    save_rule(merchant_id, None, MultiDict([
        ("name", "Opłacone → faktura"), ("trigger", "order_paid"), ("active", "on"),
        ("step_type", "issue_document"), ("step_kind", "invoice"), ("step_series", ""), ("step_stop", "yes"),
        ("step_status", ""), ("step_template", ""),
        ("step_type", "change_status"), *blank[:3], ("step_status", str(issued)), ("step_template", "")]))
    save_rule(merchant_id, None, MultiDict([
        ("name", "Faktura wystawiona → e-mail"), ("trigger", "status_changed"), ("trigger_status_id", str(issued)),
        ("active", "on"), ("step_type", "send_email"), *blank[:4], ("step_template", str(attached.id))]))


def _connect_demo_sandbox(merchant_id: int) -> None:
    """The demo exports to the local Fakturownia emulator (started by `make run`)."""
    from flask import current_app

    from .exports.services import create_integration

    create_integration(merchant_id, "fakturownia", "Fakturownia (sandbox)",
                       {"api_token": "demo-fakturownia-token", "account_prefix": "demo"},
                       base_url=current_app.config["SANDBOX_URL"].rstrip("/") + "/fakturownia/demo",
                       auto_export=True)


def demo_orders(count: int = 50, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    orders = []
    for n in range(count):
        shop = SHOPS[n % 3]
        ordered_at = now - timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600))
        company = COMPANIES[n % 3] if n % 4 == 0 else None
        person = PEOPLE[n % len(PEOPLE)]
        currency, rate = ("EUR", "4.2718") if n % 17 == 5 else ("PLN", None)
        items = []
        for product in rng.sample(PRODUCTS, rng.randint(1, 3)):
            name, sku, price, vat = product
            if currency == "EUR":
                price = str((Decimal(price) / Decimal("4.2718")).quantize(Decimal("0.01")))
            items.append({"name": name, "sku": sku, "quantity": str(rng.randint(1, 3)), "unit_gross": price,
                          "vat_rate": vat})
        paid = n % 5 != 1
        first, _, last = person.partition(" ")
        payload = {
            "source": shop, "shop_order_id": str(1000 + n), "ordered_at": ordered_at.isoformat(),
            "status": "Opłacone" if paid else "Nowe",
            "currency": currency, "exchange_rate": rate,
            "buyer": {
                "type": "company" if company else "person",
                "name": person,
                "company_name": company[0] if company else "",
                "tax_id": company[1] if company else "",
                "street": company[2] if company else f"ul. Różana {n + 1}",
                "post_code": company[3] if company else "02-495",
                "city": company[4] if company else "Warszawa",
                "country": "DE" if currency == "EUR" else "PL",
                "email": f"{first.lower()}.{last.lower()}{n}@example.com".encode("ascii", "ignore").decode(),
                "phone": "+48 600 100 200",
            },
            "payment": {"method": PAYMENTS[n % len(PAYMENTS)], "paid": paid,
                        "paid_date": ordered_at.date().isoformat() if paid else None},
            "items": items,
        }
        if currency == "EUR":
            payload["buyer"].update(city="Berlin", post_code="10115", street="Hauptstraße 1")
        if n % 3 != 2:
            payload["shipping"] = {"name": "Kurier InPost", "gross": "14.99" if currency == "PLN" else "3.50",
                                   "vat_rate": "23"}
        orders.append(payload)
    return orders
