"""The integration module: connect, configure, link series and payment types, live fragments,
capability matrix (server side; tests/browser drives the same pages in Chromium)."""
import re
import uuid

import pytest
import requests

from tests.conftest import gen_order, run_jobs
from webapp.documents.services import issue_document
from webapp.extensions import db
from webapp.models import Export, Integration

HX = {"HX-Request": "true"}


@pytest.fixture
def sandbox_account(sandbox_url):
    prefix, token = f"c{uuid.uuid4().hex[:10]}", f"tok-{uuid.uuid4().hex}"
    requests.post(f"{sandbox_url}/_sandbox/fakturownia/accounts", json={"prefix": prefix, "api_token": token},
                  timeout=5).raise_for_status()
    return {"name": "Moja Fakturownia", "api_token": token, "account_prefix": prefix,
            "base_url": f"{sandbox_url}/fakturownia/{prefix}"}


def test_connect_checks_the_credentials_and_reads_series(browser, sandbox_account):
    response = browser.post("/integrations/new/fakturownia", data=sandbox_account)
    integration = db.session.scalar(db.select(Integration))
    assert response.status_code == 302 and response.location == f"/integrations/{integration.id}"
    assert integration.auto_export and integration.health == "connected"
    assert [s["name"] for s in integration.service_series] == ["Sklep internetowy", "Hurtownia"]
    assert {"id": "transfer", "name": "Przelew"} in integration.service_payment_types
    page = browser.get(response.location).get_data(as_text=True)
    assert sandbox_account["api_token"] not in page  # never shown back
    assert "Sklep internetowy" in page and "nie przekazuj (domyślna seria usługi)" in page


def test_wrong_token_says_what_failed_and_keeps_what_was_typed(browser, sandbox_account):
    response = browser.post("/integrations/new/fakturownia", data={**sandbox_account, "api_token": "zły-kod"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Usługa odrzuciła dane logowania" in page
    assert f'value="{sandbox_account["account_prefix"]}"' in page and 'value="Moja Fakturownia"' in page
    assert db.session.scalar(db.select(db.func.count(Integration.id))) == 0


def test_unreachable_service_is_named(browser, sandbox_account):
    response = browser.post("/integrations/new/fakturownia",
                            data={**sandbox_account, "base_url": "http://127.0.0.1:9/fakturownia/x"})
    assert response.status_code == 200 and "nie odpowiada" in response.get_data(as_text=True)


def test_private_addresses_are_refused_outside_demo_mode(app, browser, sandbox_account):
    app.config["DEMO_MODE"] = False
    try:
        for url in ("http://127.0.0.1:5050/x", "https://127.0.0.1/x", "https://10.1.2.3/x", "https://[::1]/x"):
            response = browser.post("/integrations/new/fakturownia", data={**sandbox_account, "base_url": url})
            page = response.get_data(as_text=True)
            assert response.status_code == 200 and 'data-field="base_url"' in page, url
    finally:
        app.config["DEMO_MODE"] = True


@pytest.fixture
def connected(browser, sandbox_account):
    browser.post("/integrations/new/fakturownia", data=sandbox_account)
    return db.session.scalar(db.select(Integration))


def test_sections_save_on_their_own_and_answer_only_their_part(browser, connected, merchant_user):
    integration_id = connected.id
    department = connected.service_series[1]["id"]
    for path in ("exports", "config", "series", "payments"):
        response = browser.get(f"/integrations/{integration_id}/{path}", headers=HX)
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and "<html" not in body and body.lstrip().startswith("<section")
    gen_order(merchant_user.merchant_id, payment_method="PayU")
    response = browser.post(f"/integrations/{integration_id}/series", data={"series.1": department}, headers=HX)
    assert "Zapisano." in response.get_data(as_text=True)
    response = browser.post(f"/integrations/{integration_id}/series", data={"series.1": "nope"}, headers=HX)
    assert response.status_code == 200 and "Tej serii nie ma w usłudze" in response.get_data(as_text=True)
    response = browser.post(f"/integrations/{integration_id}/payments", data={"payment:PayU": "payu"}, headers=HX)
    assert "Zapisano." in response.get_data(as_text=True)
    response = browser.post(f"/integrations/{integration_id}/config",
                            data={"numbering": "hub", "send_sku": "on", "option.warehouse_id": "1"}, headers=HX)
    assert "Zapisano." in response.get_data(as_text=True)
    integration = db.session.get(Integration, integration_id)
    assert integration.series_links == {"1": department, "2": None, "3": None}
    assert integration.payment_links == {"PayU": "payu"}
    assert (integration.numbering, integration.send_sku, integration.auto_export) == ("hub", True, False)
    assert integration.options == {"warehouse_id": "1"}


def test_status_fragment_polls_until_a_final_state(app, browser, connected, merchant_user):
    issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    export_id = db.session.scalar(db.select(Export.id))
    queued = browser.get(f"/integrations/exports/{export_id}/status", headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in queued and 'data-state="queued"' in queued
    run_jobs(app)
    fetched = browser.get(f"/integrations/exports/{export_id}/status", headers=HX).get_data(as_text=True)
    export = db.session.get(Export, export_id)
    assert 'data-state="fetched"' in fetched and "hx-trigger" not in fetched
    assert export.remote_number in fetched
    order_page = browser.get("/orders/").get_data(as_text=True)
    assert export.remote_number in order_page  # the order list shows the same fragment


def test_capability_matrix_is_generated_from_the_adapters(browser, connected):
    from providers import PROVIDERS

    page = browser.get("/integrations/capabilities").get_data(as_text=True)
    for cls in PROVIDERS.values():
        assert cls.display_name in page
    row = re.search(r'<tr data-provider="fakturownia">(.*?)</tr>', page, re.DOTALL).group(1)
    assert 'data-feature="receipts"><span class="badge cap active"' in row
    assert 'data-feature="sku"><span class="badge cap available"' in row  # available, not switched on
    ifirma = re.search(r'<tr data-provider="ifirma">(.*?)</tr>', page, re.DOTALL).group(1)
    assert '<td data-feature="receipts"></td>' in ifirma  # not offered: no badge
