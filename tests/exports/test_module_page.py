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


# --- the module's export list: every document, its state, its buttons ---------------------------

def _rows(page: str) -> list[str]:
    return re.findall(r'<tr data-document="([^"]+)">', page)


def _fragment(page: str, export_id: int) -> str:
    """The self-replacing status fragment of one export (its outer span)."""
    match = re.search(rf'<span id="export-{export_id}" .*?</span>\s*</span>(?=\s*</td>|\s*$)', page, re.DOTALL)
    return match.group(0) if match else ""


def _add_export(document, integration_id, state, **fields):
    export = Export(merchant_id=document.merchant_id, document_id=document.id, integration_id=integration_id,
                    state=state, trigger="test", field_errors={}, **fields)
    db.session.add(export)
    db.session.commit()
    return export


@pytest.fixture
def offline(merchant_user):
    """An integration with "pass automatically" off whose jobs are never run (no service needed)."""
    from webapp.exports.services import create_integration

    return create_integration(merchant_user.merchant_id, "fakturownia", "Fakturownia", {"api_token": "t"},
                              auto_export=False)


def test_list_shows_documents_not_passed_and_exports_one_under_hx(app, browser, merchant_user, offline,
                                                                 other_user):
    from rq import Queue

    from webapp.exports.services import EXPORT_QUEUE, create_integration
    from webapp.redis_conn import get_redis

    merchant_id = merchant_user.merchant_id
    elsewhere = create_integration(merchant_id, "infakt", "inFakt", {"api_key": "k"}, auto_export=False)
    waiting = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    passed = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    in_other = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    receipt = issue_document(gen_order(merchant_id), "receipt", trigger="test")
    _add_export(passed, offline.id, "fetched", remote_number="FV 7/2026")
    _add_export(in_other, elsewhere.id, "fetched", remote_number="INF 1")

    page = browser.get(f"/integrations/{offline.id}/exports", headers=HX).get_data(as_text=True)
    assert page.lstrip().startswith("<section") and "<html" not in page
    assert _rows(page) == [receipt.number, passed.number, waiting.number]  # newest first, not inFakt's one
    row = re.search(rf'<tr data-document="{re.escape(waiting.number)}">(.*?)</tr>', page, re.DOTALL).group(1)
    assert 'data-state="none"' in row and "nie przekazany" in row and ">Eksportuj</button>" in row
    not_passed = browser.get(f"/integrations/{offline.id}/exports?state=none", headers=HX).get_data(as_text=True)
    assert _rows(not_passed) == [receipt.number, waiting.number]
    assert '<option value="none" selected>nie przekazany</option>' in not_passed
    fetched = browser.get(f"/integrations/{offline.id}/exports?state=fetched", headers=HX).get_data(as_text=True)
    assert _rows(fetched) == [passed.number]

    url = f"/integrations/{offline.id}/documents/{waiting.id}/export"
    response = browser.post(url, headers=HX)
    fragment = response.get_data(as_text=True)
    export = db.session.scalar(db.select(Export).where(Export.document_id == waiting.id))
    assert response.status_code == 200 and "<tr" not in fragment and "<section" not in fragment
    assert (export.integration_id, export.state) == (offline.id, "queued")
    assert f'id="export-{export.id}"' in fragment and 'data-state="queued"' in fragment
    assert f"/integrations/exports/{export.id}/status?actions=1" in fragment and 'hx-trigger="every 1s"' in fragment
    assert Queue(EXPORT_QUEUE, connection=get_redis(app)).get_job_ids() == [f"export-{export.id}-0"]
    # A second click: the existing export's state with the reason, no second row or job, no 500.
    again = browser.post(url, headers=HX)
    assert again.status_code == 200 and "jest już przekazany" in again.get_data(as_text=True)
    assert f'id="export-{export.id}"' in again.get_data(as_text=True)
    assert db.session.scalar(db.select(db.func.count(Export.id)).where(Export.document_id == waiting.id)) == 1
    # Another merchant's integration or document: 404.
    foreign = create_integration(other_user.merchant_id, "fakturownia", "Cudza", {"api_token": "t"})
    assert browser.post(f"/integrations/{foreign.id}/documents/{receipt.id}/export", headers=HX).status_code == 404
    foreign_document = issue_document(gen_order(other_user.merchant_id), "invoice", trigger="test")
    assert browser.post(f"/integrations/{offline.id}/documents/{foreign_document.id}/export",
                        headers=HX).status_code == 404


def test_list_filters_by_date_series_and_kind(browser, merchant_user, offline):
    from datetime import date

    from webapp.models import Series

    merchant_id = merchant_user.merchant_id
    october = issue_document(gen_order(merchant_id), "invoice", trigger="test", issue_date=date(2026, 10, 5))
    november = issue_document(gen_order(merchant_id), "invoice", trigger="test", issue_date=date(2026, 11, 5))
    receipt = issue_document(gen_order(merchant_id), "receipt", trigger="test", issue_date=date(2026, 11, 6))
    _add_export(november, offline.id, "rejected", last_error="Usługa odrzuciła dokument.")
    receipts = db.session.scalar(db.select(Series.id).where(Series.merchant_id == merchant_id, Series.kind == "receipt"))
    base = f"/integrations/{offline.id}/exports"

    def rows(query: str) -> list[str]:
        return _rows(browser.get(f"{base}?{query}", headers=HX).get_data(as_text=True))

    assert rows("") == [receipt.number, november.number, october.number]
    assert rows("from=2026-11-01") == [receipt.number, november.number]
    assert rows("to=2026-10-31") == [october.number]
    assert rows("from=2026-11-01&to=2026-11-05") == [november.number]
    assert rows(f"series={receipts}") == [receipt.number]
    assert rows("kind=invoice") == [november.number, october.number]
    assert rows("kind=invoice&state=none") == [october.number]
    assert rows("state=rejected&from=2026-11-01") == [november.number]
    assert rows("kind=correction") == []


def test_status_fragment_stops_polling_when_rejected_too(browser, merchant_user, offline):
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    export = _add_export(document, offline.id, "retrying", last_error="503")
    retrying = browser.get(f"/integrations/exports/{export.id}/status", headers=HX).get_data(as_text=True)
    assert 'hx-trigger="every 5s"' in retrying
    export.state, export.last_error = "rejected", "Brak NIP nabywcy."
    db.session.commit()
    rejected = browser.get(f"/integrations/exports/{export.id}/status", headers=HX).get_data(as_text=True)
    assert 'data-state="rejected"' in rejected and "Brak NIP nabywcy." in rejected
    assert "hx-trigger" not in rejected and "hx-get" not in rejected


def test_row_buttons_live_in_the_status_fragment_and_follow_the_state(app, browser, merchant_user, offline):
    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    export = _add_export(document, offline.id, "sending")
    page = browser.get(f"/integrations/{offline.id}/exports", headers=HX).get_data(as_text=True)
    fragment = _fragment(page, export.id)
    assert fragment and "?actions=1" in fragment and ">Ponów</button>" not in fragment
    # The row polls; the service refuses meanwhile: the next fragment brings the "Ponów" button.
    export.state, export.last_error = "rejected", "Brak NIP nabywcy."
    db.session.commit()
    polled = browser.get(f"/integrations/exports/{export.id}/status?actions=1", headers=HX).get_data(as_text=True)
    assert 'data-state="rejected"' in polled and ">Ponów</button>" in polled and "hx-trigger" not in polled
    assert f'hx-post="/integrations/exports/{export.id}/retry"' in polled
    # After "Ponów": the fragment is queued again, polls, and the button is gone with the old state.
    retried = browser.post(f"/integrations/exports/{export.id}/retry", headers=HX).get_data(as_text=True)
    assert 'data-state="queued"' in retried and ">Ponów</button>" not in retried
    assert f"/integrations/exports/{export.id}/status?actions=1" in retried and 'hx-trigger="every 1s"' in retried
    # Elsewhere (the order list, the card) the same fragment comes without row buttons.
    assert "Ponów</button>" not in browser.get(f"/integrations/exports/{export.id}/status",
                                                headers=HX).get_data(as_text=True)


def test_refresh_button_polls_until_the_service_copy_is_read_again(app, browser, connected, merchant_user):
    issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    run_jobs(app)
    export = db.session.scalar(db.select(Export))
    export_id, fetched_at, generation = export.id, export.fetched_at, export.generation
    assert export.state == "fetched"
    response = browser.post(f"/integrations/exports/{export_id}/refresh", headers=HX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-refreshing="true"' in fragment and "odświeżanie" in fragment
    poll_url = re.search(r'hx-get="([^"]+)"', fragment).group(1).replace("&amp;", "&")
    assert "since=" in poll_url and "actions=1" in poll_url and 'hx-trigger="every 1s"' in fragment
    # Until the fetch job has run, the fragment keeps polling.
    waiting = browser.get(poll_url, headers=HX).get_data(as_text=True)
    assert 'data-refreshing="true"' in waiting and "hx-trigger" in waiting
    run_jobs(app)
    db.session.expire_all()
    export = db.session.get(Export, export_id)
    assert export.fetched_at > fetched_at and export.generation > generation
    done = browser.get(poll_url, headers=HX).get_data(as_text=True)
    assert "data-refreshing" not in done and "hx-trigger" not in done and ">Odśwież</button>" in done


def test_only_the_background_refresh_answers_nothing(app, browser, merchant_user, offline):
    from datetime import timedelta

    from webapp.models import utcnow

    document = issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    export = _add_export(document, offline.id, "fetched", remote_id="R-1", remote_number="FV 1/2026",
                         fetched_at=utcnow() - timedelta(hours=2))
    db.session.execute(db.update(Export).where(Export.id == export.id)
                       .values(updated_at=utcnow() - timedelta(hours=2)))  # unchanged for two hours
    db.session.commit()
    card = browser.get(f"/documents/{document.id}").get_data(as_text=True)
    assert '''hx-vals='{"background": "1"}' hx-trigger="load"''' in card  # stale: refreshed behind the page
    first = browser.post(f"/integrations/exports/{export.id}/refresh", data={"background": "1"}, headers=HX)
    assert first.status_code == 204
    # Asked for moments ago: a second background refresh (another tab, a poll) starts nothing.
    second = browser.post(f"/integrations/exports/{export.id}/refresh", data={"background": "1"}, headers=HX)
    assert second.status_code == 204
    db.session.expire_all()
    assert db.session.get(Export, export.id).generation == 1
    # The button itself gets the fragment back.
    clicked = browser.post(f"/integrations/exports/{export.id}/refresh", headers=HX)
    assert clicked.status_code == 200 and 'data-refreshing="true"' in clicked.get_data(as_text=True)


def test_ksef_state_is_readable_on_the_row_and_the_card(app, browser, merchant_user, offline):
    from datetime import timedelta

    from webapp.models import utcnow

    merchant_id = merchant_user.merchant_id
    receipt = issue_document(gen_order(merchant_id), "receipt", trigger="test")
    accepted = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    failed = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    waiting = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    common = {"remote_id": "R", "remote_number": "X", "fetched_at": utcnow()}
    exports = {
        "receipt": _add_export(receipt, offline.id, "fetched", ksef_status="not_applicable", **common),
        "accepted": _add_export(accepted, offline.id, "fetched", ksef_status="accepted",
                                ksef_number="5252248481-20261120-ABCDEF-01", **common),
        "failed": _add_export(failed, offline.id, "fetched", ksef_status="error",
                              ksef_error="KSeF odrzucił fakturę: błędny NIP nabywcy.", **common),
        "waiting": _add_export(waiting, offline.id, "fetched", ksef_status="processing", **common),
    }
    page = browser.get(f"/integrations/{offline.id}/exports", headers=HX).get_data(as_text=True)
    row = {name: _fragment(page, export.id) for name, export in exports.items()}
    assert "KSeF: nie dotyczy" in row["receipt"] and "KSeF: not_applicable" not in row["receipt"]
    assert "KSeF: przyjęta 5252248481-20261120-ABCDEF-01" in row["accepted"]
    assert "KSeF: błąd" in row["failed"] and "KSeF odrzucił fakturę: błędny NIP nabywcy." in row["failed"]
    assert all("hx-trigger" not in row[name] for name in ("receipt", "accepted", "failed"))
    assert 'hx-trigger="every 10s"' in row["waiting"] and "KSeF: w przetwarzaniu" in row["waiting"]
    assert "background" not in row["waiting"]  # read a moment ago: no refresh asked for yet
    for document, label in ((receipt, "nie dotyczy"), (accepted, "przyjęta"), (failed, "błąd")):
        card = browser.get(f"/documents/{document.id}").get_data(as_text=True)
        assert f"KSeF: <strong>{label}</strong>" in card
    assert "KSeF odrzucił fakturę: błędny NIP nabywcy." in browser.get(f"/documents/{failed.id}").get_data(as_text=True)
    # Still processing a while later: the polling fragment asks for a refresh behind the page.
    db.session.execute(db.update(Export).where(Export.id == exports["waiting"].id)
                       .values(updated_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    polled = browser.get(f"/integrations/exports/{exports['waiting'].id}/status", headers=HX).get_data(as_text=True)
    assert f'hx-post="/integrations/exports/{exports["waiting"].id}/refresh"' in polled and "background" in polled


# --- Export all: fragments ----------------------------------------------------------------------

def test_bulk_preview_and_run_answer_only_their_part_under_hx(app, browser, merchant_user, offline):
    from webapp.exports.bulk import run_bulk

    for _ in range(2):
        issue_document(gen_order(merchant_user.merchant_id), "invoice", trigger="test")
    preview = browser.get(f"/integrations/{offline.id}/bulk", headers=HX).get_data(as_text=True)
    assert preview.lstrip().startswith('<div class="bulk-preview">') and "<html" not in preview
    assert 'data-count="to_send">2<' in preview
    assert "<html" in browser.get(f"/integrations/{offline.id}/bulk").get_data(as_text=True)

    started = browser.post(f"/integrations/{offline.id}/bulk", headers=HX).get_data(as_text=True)
    from webapp.models import BulkRun

    run_id = db.session.scalar(db.select(BulkRun.id))
    assert started.lstrip().startswith('<div class="bulk-progress"') and "<html" not in started
    assert 'data-done="false"' in started and 'hx-trigger="every 1s"' in started
    run_bulk(run_id)  # the rows are written and queued; no worker sends them
    moving = browser.get(f"/integrations/{offline.id}/bulk/{run_id}", headers=HX).get_data(as_text=True)
    assert moving.lstrip().startswith('<div class="bulk-progress"') and "<html" not in moving
    assert 'data-done="false"' in moving and 'hx-trigger="every 1s"' in moving and '<progress max="2" value="0"' in moving
    assert "<html" in browser.get(f"/integrations/{offline.id}/bulk/{run_id}").get_data(as_text=True)
    db.session.execute(db.update(Export).values(state="fetched"))
    db.session.commit()
    done = browser.get(f"/integrations/{offline.id}/bulk/{run_id}", headers=HX).get_data(as_text=True)
    assert 'data-done="true"' in done and "hx-trigger" not in done and "hx-get" not in done
    assert '<progress max="2" value="2"' in done
