"""The integration module in Chromium, with a real worker process and the Fakturownia sandbox:
connect, link a series and a payment type, watch an automatic export reach the service without
reloading, run Export all to the end of its progress bar, and read a service's refusal."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.test_first_invoice import log_in, quiet_test_thread_db
from tests.conftest import gen_order
from webapp.documents.services import issue_document
from webapp.extensions import db
from webapp.models import Integration

EXPORT_TIMEOUT_MS = 20_000


def test_connect_link_export_and_export_all(page: Page, merchant_user, worker, sandbox_account, console_problems,
                                            artifacts_dir):
    merchant_id, email = merchant_user.merchant_id, merchant_user.email
    # Three invoices issued before any integration existed: they wait for "Export all".
    earlier = [issue_document(gen_order(merchant_id, payment_method="PayU"), "invoice").number for _ in range(3)]
    new_order = gen_order(merchant_id, payment_method="PayU")
    new_order_id = new_order.id
    quiet_test_thread_db()

    log_in(page, email)
    page.get_by_role("navigation").get_by_role("link", name="Integracje").click()
    page.get_by_role("link", name="Dodaj integrację").click()
    page.locator('[data-provider="fakturownia"]').get_by_role("link", name="Połącz").click()
    page.get_by_label("Kod autoryzacyjny API").fill("zły-kod")
    page.get_by_label("Adres konta (subdomena) (opcjonalnie)").fill(sandbox_account["prefix"])
    page.get_by_label("Adres API (opcjonalnie: konto testowe lub własny serwer)").fill(sandbox_account["base_url"])
    page.get_by_role("button", name="Zapisz i sprawdź połączenie").click()
    expect(page.locator("#connection-error")).to_contain_text("Usługa odrzuciła dane logowania")
    expect(page.get_by_label("Adres konta (subdomena) (opcjonalnie)")).to_have_value(sandbox_account["prefix"])
    page.get_by_label("Kod autoryzacyjny API").fill(sandbox_account["token"])
    page.get_by_role("button", name="Zapisz i sprawdź połączenie").click()
    expect(page.get_by_text("połączono", exact=True)).to_be_visible()

    series = page.locator("#series-section")
    series.get_by_label("Seria usługi dla Faktury").select_option(label="Sklep internetowy")
    series.get_by_role("button", name="Zapisz serie").click()
    expect(series.get_by_role("status")).to_have_text("Zapisano.")
    payments = page.locator("#payments-section")
    expect(payments.locator("tr.unmapped")).to_contain_text("PayU")
    payments.get_by_label("Płatność usługi dla PayU").select_option(label="PayU")
    payments.get_by_role("button", name="Zapisz płatności").click()
    expect(payments.get_by_role("status")).to_have_text("Zapisano.")
    expect(page.locator("#payments-section tr.unmapped")).to_have_count(0)
    page.screenshot(path=artifacts_dir / "module_page.png", full_page=True)

    # Issued with "pass automatically" on: the status turns to the service's number by itself.
    page.goto(f"/orders/{new_order_id}")
    page.get_by_role("button", name="Wystaw fakturę", exact=True).click()
    status = page.locator("#export .export-status")
    expect(status).to_have_attribute("data-state", "fetched", timeout=EXPORT_TIMEOUT_MS)
    expect(status.locator(".remote-number")).to_have_text(re.compile(r"\S+"))

    # Export all: preview, one click, the progress bar runs to the end.
    page.goto("/integrations/")
    page.get_by_role("link", name="Fakturownia").first.click()
    page.get_by_role("button", name="Podgląd eksportu").click()
    expect(page.locator('[data-count="to_send"]')).to_have_text("3")
    expect(page.locator('[data-count="already"]')).to_have_text("1")
    page.get_by_role("button", name="Wyślij 3 dokumentów").click()
    progress = page.locator(".bulk-progress")
    expect(progress).to_have_attribute("data-done", "true", timeout=EXPORT_TIMEOUT_MS)
    expect(progress.locator('[data-state="fetched"]')).to_have_text("3")
    page.screenshot(path=artifacts_dir / "module_export_all.png", full_page=True)

    # A refusal by the service shows its message on the document's row.
    integration = db.session.scalar(db.select(Integration))
    linked = dict(integration.series_links)
    integration.series_links = {"1": "999999"}  # a department the service does not have
    db.session.commit()
    refused_order_id = gen_order(merchant_id).id
    quiet_test_thread_db()
    page.goto(f"/orders/{refused_order_id}")
    page.get_by_role("button", name="Wystaw fakturę", exact=True).click()
    expect(page.locator("#export .export-status")).to_have_attribute("data-state", "rejected",
                                                                      timeout=EXPORT_TIMEOUT_MS)
    page.goto("/integrations/")
    page.get_by_role("link", name="Fakturownia").first.click()
    row = page.locator("table.exports tr").filter(has_text="odrzucony")
    expect(row.locator(".export-error")).to_contain_text("department")
    for number in earlier:
        expect(page.locator(f'table.exports tr[data-document="{number}"] .export-status')).to_have_attribute(
            "data-state", "fetched")

    # The row's buttons change with its state: after the fix, "Ponów" sends it and goes away.
    integration = db.session.scalar(db.select(Integration))
    integration.series_links, integration.auto_export = linked, False
    db.session.commit()
    waiting_number = issue_document(gen_order(merchant_id, payment_method="PayU"), "invoice").number
    quiet_test_thread_db()
    row = page.locator(f'table.exports tr[data-document="{row.get_attribute("data-document")}"]')
    row.get_by_role("button", name="Ponów").click()
    expect(row.locator(".export-status")).to_have_attribute("data-state", "fetched", timeout=EXPORT_TIMEOUT_MS)
    expect(row.get_by_role("button", name="Ponów")).to_have_count(0)
    # "Odśwież" shows the refresh under way, then the service's copy read again.
    refreshed = row.locator(".export-status")
    row.get_by_role("button", name="Odśwież").click()
    expect(refreshed).to_have_attribute("data-refreshing", "true")
    expect(refreshed).not_to_have_attribute("data-refreshing", "true", timeout=EXPORT_TIMEOUT_MS)
    # A document issued with "pass automatically" off waits in the list for its "Eksportuj".
    page.reload()
    waiting_row = page.locator(f'table.exports tr[data-document="{waiting_number}"]')
    expect(waiting_row.locator(".export-status")).to_have_attribute("data-state", "none")
    waiting_row.get_by_role("button", name="Eksportuj").click()
    expect(waiting_row.locator(".export-status")).to_have_attribute("data-state", "fetched",
                                                                     timeout=EXPORT_TIMEOUT_MS)

    page.goto("/integrations/capabilities")
    expect(page.locator('tr[data-provider="fakturownia"] td[data-feature="numbering_series"] .badge')).to_have_class(
        re.compile("active"))
    page.screenshot(path=artifacts_dir / "capability_matrix.png", full_page=True)
    assert console_problems == []
