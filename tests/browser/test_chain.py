"""The recommended chain built in the UI, and an order going through it in a real browser:
paid order → invoice in the sandbox → status "Faktura wystawiona" → e-mail with the service's PDF."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.test_first_invoice import log_in, quiet_test_thread_db
from webapp.delivery.services import save_mail_settings, save_template
from webapp.exports.services import create_integration
from webapp.orders.services import create_order

CHAIN_TIMEOUT_MS = 25_000


def test_recommended_chain_built_in_the_ui(page: Page, merchant_user, worker, sandbox_account, smtp_server,
                                           console_problems, artifacts_dir):
    merchant_id, email = merchant_user.merchant_id, merchant_user.email
    create_integration(merchant_id, "fakturownia", "Fakturownia", {"api_token": sandbox_account["token"],
                                                                   "account_prefix": sandbox_account["prefix"]},
                       base_url=sandbox_account["base_url"], auto_export=True)
    save_mail_settings(merchant_id, {"host": "127.0.0.1", "port": str(smtp_server.port), "security": "none",
                                     "sender": "faktury@zazolc.pl"})
    save_template(merchant_id, None, {"name": "Faktura PDF", "subject": "Faktura [invoice_number]",
                                      "body": "Dzień dobry [buyer_name], w załączniku faktura.", "attach_pdf": "on"})
    quiet_test_thread_db()

    log_in(page, email)
    page.get_by_role("navigation").get_by_role("link", name="Automaty").click()
    page.get_by_role("link", name="Nowa reguła").click()
    page.get_by_label("Nazwa").fill("Opłacone → faktura")
    page.get_by_label("Zdarzenie").select_option(label="zamówienie opłacone")
    page.get_by_label("Krok 1", exact=True).select_option(label="wystaw dokument")
    page.get_by_label("Po błędzie 1").select_option(label="zatrzymaj")
    page.get_by_label("Krok 2", exact=True).select_option(label="zmień status")
    page.get_by_label("Status 2").select_option(label="Faktura wystawiona")
    page.get_by_role("button", name="Zapisz regułę").click()
    expect(page.get_by_role("status")).to_contain_text("zapisana")

    page.get_by_role("link", name="Nowa reguła").click()
    page.get_by_label("Nazwa").fill("Wystawiona → e-mail")
    page.get_by_label("Zdarzenie").select_option(label="zmiana statusu na…")
    page.get_by_label("Status (dla „zmiana statusu na…”)").select_option(label="Faktura wystawiona")
    page.get_by_label("Krok 1", exact=True).select_option(label="wyślij e-mail")
    page.get_by_label("Szablon 1").select_option(label="Faktura PDF")
    page.get_by_role("button", name="Zapisz regułę").click()
    expect(page.locator('tr[data-rule="Wystawiona → e-mail"]')).to_be_visible()

    # A shop sends a paid order (the API path); the worker runs the chain.
    order, _ = create_order(merchant_id, {
        "source": "Sklep Łąka", "shop_order_id": "777", "status": "Opłacone",
        "buyer": {"type": "person", "name": "Łucja Ćma", "email": "lucja@example.com", "city": "Łódź"},
        "payment": {"method": "PayU", "paid": True},
        "items": [{"name": "Miód wielokwiatowy", "quantity": 1, "unit_gross": "32.00", "vat_rate": "5"}]})
    order_id = order.id
    quiet_test_thread_db()

    page.goto(f"/orders/{order_id}")
    deadline_reload = 0
    while deadline_reload < CHAIN_TIMEOUT_MS:
        if page.locator('#emails tr[data-email-state="sent"]').count():
            break
        page.wait_for_timeout(500)
        deadline_reload += 500
        page.reload()
    expect(page.locator('#emails tr[data-email-state="sent"]')).to_have_count(1)
    expect(page.get_by_label("Status zamówienia").locator("option:checked")).to_have_text("Faktura wystawiona")
    expect(page.locator('#automation-runs tr[data-run-state="done"]')).to_have_count(2)
    from webapp.extensions import db
    from webapp.models import Document

    document_id = db.session.scalar(db.select(Document.id).where(Document.order_id == order_id))
    quiet_test_thread_db()
    expect(page.locator("iframe.pdf-preview")).to_have_attribute("src", f"/documents/{document_id}/service.pdf")
    page.screenshot(path=artifacts_dir / "order_card_after_chain.png", full_page=True)
    assert [m["To"] for m in smtp_server.messages] == ["lucja@example.com"]
    assert next(smtp_server.messages[0].iter_attachments()).get_content().startswith(b"%PDF")
    assert console_problems == []
