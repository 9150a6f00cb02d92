"""Each accounting service connected the way a merchant does it: Integracje → Dodaj integrację →
its tile → the form generated from the adapter's credential fields → Save, checked by the sandbox."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from providers import PROVIDERS
from tests.browser.test_first_invoice import log_in, quiet_test_thread_db
from tests.sandbox_accounts import new_account


@pytest.mark.parametrize("key", list(PROVIDERS))
def test_connect_in_the_dashboard(page: Page, merchant_user, sandbox_url, key, console_problems, artifacts_dir):
    account = new_account(sandbox_url, key)
    email = merchant_user.email
    quiet_test_thread_db()
    log_in(page, email)
    page.get_by_role("navigation").get_by_role("link", name="Integracje").click()
    page.get_by_role("link", name="Dodaj integrację").click()
    tile = page.locator(f'[data-provider="{key}"]')
    expect(tile.locator(".badge.cap")).not_to_have_count(0)
    tile.get_by_role("link", name="Połącz").click()
    for field in PROVIDERS[key].credential_fields:
        expect(page.locator(f'input[name="{field.name}"]')).to_be_visible()
        page.locator(f'input[name="{field.name}"]').fill(account.credentials.get(field.name, ""))
    page.locator('input[name="base_url"]').fill(account.base_url)
    page.get_by_role("button", name="Zapisz i sprawdź połączenie").click()
    expect(page.get_by_text("połączono", exact=True)).to_be_visible(timeout=15_000)
    if not PROVIDERS[key].capabilities.numbering_series:
        expect(page.locator("#series-section")).to_contain_text("nie ma serii numeracji")
    if not PROVIDERS[key].capabilities.sku:  # Fakturowo, iFirma: no stock, so no SKU checkbox either
        expect(page.locator("#config-section")).to_contain_text(
            f"{PROVIDERS[key].display_name} nie prowadzi magazynu")
        expect(page.locator('#config-section input[name="send_sku"]')).to_have_count(0)
    # Every service option is there, entered as its kind says.
    for name, spec in PROVIDERS[key].option_specs().items():
        field = page.locator(f'#config-section [name="option.{name}"]')
        expect(field).to_have_count(1)
        if spec.kind == "choice":
            assert field.evaluate("el => el.tagName") == "SELECT"
        elif spec.kind != "text":
            expect(field).to_have_attribute("type", "checkbox" if spec.kind == "bool" else "number")
    page.screenshot(path=artifacts_dir / f"connected_{key}.png", full_page=True)
    assert console_problems == []
