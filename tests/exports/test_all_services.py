"""Over the whole registry: every service of the capability table connects through the
dashboard's connect form (its credentials checked by the service) and exports an invoice — and a
receipt where it takes receipts — through the pipeline to its sandbox, exactly once."""
import html
import re

import pytest

from providers import PROVIDERS
from tests.conftest import gen_order, run_jobs
from tests.sandbox_accounts import new_account, stored_documents
from webapp.documents.services import issue_document
from webapp.extensions import db
from webapp.models import Export, Integration


@pytest.mark.parametrize("key", list(PROVIDERS))
def test_service_connects_and_exports(app, browser, merchant_user, sandbox_url, key):
    cls = PROVIDERS[key]
    assert cls.connectable
    account = new_account(sandbox_url, key)
    response = browser.post(f"/integrations/new/{key}", data={"name": cls.display_name, "base_url": account.base_url,
                                                               **account.credentials})
    integration = db.session.scalar(db.select(Integration))
    assert response.status_code == 302 and integration is not None, response.get_data(as_text=True)[-2000:]
    integration.options = account.options
    db.session.commit()
    merchant_id = integration.merchant_id
    kinds = ["invoice"] + (["receipt"] if cls.capabilities.receipts else [])
    for kind in kinds:
        issue_document(gen_order(merchant_id), kind, trigger="test")
    run_jobs(app, max_seconds=60)
    exports = db.session.scalars(db.select(Export)).all()
    assert len(exports) == len(kinds)
    assert [(e.state, bool(e.remote_number)) for e in exports] == [("fetched", True)] * len(kinds), \
        [(e.state, e.last_error) for e in exports]
    assert all(e.pdf and e.pdf.startswith(b"%PDF") for e in exports)
    assert len(stored_documents(sandbox_url, account)) == len(kinds)


HX = {"HX-Request": "true"}
INPUT_OF_KIND = {"bool": 'type="checkbox"', "int": 'type="number"', "number": 'type="number"'}


def _config(browser, integration_id, data):
    response = browser.post(f"/integrations/{integration_id}/config", data=data, headers=HX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("key", list(PROVIDERS))
def test_every_service_option_is_entered_by_its_declared_kind(app, browser, merchant_user, key):
    from webapp.exports.services import create_integration

    cls = PROVIDERS[key]
    integration = create_integration(merchant_user.merchant_id, key, cls.display_name, {"x": "y"})
    page = browser.get(f"/integrations/{integration.id}/config", headers=HX).get_data(as_text=True)
    assert page.lstrip().startswith("<section") and "<html" not in page  # the htmx partial alone
    for name, spec in cls.option_specs().items():
        assert spec.label in page
        field = re.search(rf'<(input|select)[^>]*name="option\.{name}"[^>]*>', page)
        assert field, name
        if spec.kind == "choice":
            assert field.group(1) == "select"
            for choice in spec.choices:
                assert f'<option value="{choice.id}"' in page
        else:
            assert INPUT_OF_KIND.get(spec.kind, 'maxlength=') in field.group(0), (name, field.group(0))
    # The form saved as shown (all empty, checkboxes at their defaults) is accepted as it is.
    defaults = {f"option.{n}": "1" for n, s in cls.option_specs().items() if s.kind == "bool" and s.on}
    assert "Zapisano." in _config(browser, integration.id, {"numbering": "service", **defaults})
    for name, spec in cls.option_specs().items():
        if spec.kind in ("choice", "int", "number"):
            body = _config(browser, integration.id, {"numbering": "service", f"option.{name}": "nie-ma-takiej"})
            assert "Zapisano." not in body
            error = re.search(r'<small class="error">([^<]*)</small>', body)
            assert error and error.group(1).startswith(html.escape(spec.label, quote=False)), (name, body[-600:])
            assert 'value="nie-ma-takiej"' in body or spec.kind == "choice"  # what was typed stays


def test_an_invalid_option_is_refused_with_the_field_named_and_nothing_saved(app, browser, fakturownia):
    integration_id = fakturownia.integration_id
    body = _config(browser, integration_id, {"numbering": "hub", "option.np_tax_kind": "export",
                                             "option.warehouse_id": "0", "option.gov_save_and_send": "1"})
    assert "Rodzaj „np”: wybierz jedną z podanych wartości." in body
    assert "Magazyn (ID): najmniej 1." in body
    integration = db.session.get(Integration, integration_id)
    assert integration.options == {} and integration.numbering == "service"  # nothing half-saved
    assert re.search(r'name="option\.gov_save_and_send" value="1" checked', body)  # as it was ticked

    assert "Zapisano." in _config(browser, integration_id, {"numbering": "service", "option.np_tax_kind":
                                                            "export_service", "option.gov_save_and_send": "1"})
    db.session.refresh(integration)
    assert integration.options == {"np_tax_kind": "export_service", "gov_save_and_send": "1"}
    assert "Zapisano." in _config(browser, integration_id, {"numbering": "service"})  # box unticked
    db.session.refresh(integration)
    assert integration.options == {}


def test_an_account_cap_reaches_the_pipeline_and_empty_means_the_contracts_default(app, browser, merchant_user):
    from webapp.exports.services import create_integration, limits_of

    integration = create_integration(merchant_user.merchant_id, "infakt", "inFakt", {"api_key": "k"})
    page = browser.get(f"/integrations/{integration.id}/config", headers=HX).get_data(as_text=True)
    assert 'name="rate_requests" value="" min="1" step="1" placeholder="150"' in page  # inFakt: 150 / 60 s
    assert limits_of(integration) == (4, 150, 60)

    saved = _config(browser, integration.id, {"numbering": "service", "max_concurrency": "2",
                                              "rate_requests": "100", "rate_seconds": "60"})
    assert "Zapisano." in saved
    db.session.refresh(integration)
    assert limits_of(integration) == (2, 100, 60)

    for data, words in (({"rate_requests": "200"}, "Limit zapytań: inFakt dopuszcza najwyżej 150 zapytań na 60 s."),
                        ({"rate_requests": "150", "rate_seconds": "30"}, "Okno limitu (s): inFakt dopuszcza"),
                        ({"max_concurrency": "0"}, "Równoległe zapytania: podaj dodatnią liczbę całkowitą."),
                        ({"rate_seconds": "1.5"}, "Okno limitu (s): podaj dodatnią liczbę całkowitą.")):
        body = _config(browser, integration.id, {"numbering": "service", **data})
        assert words in body, body[-800:]
    db.session.refresh(integration)
    assert limits_of(integration) == (2, 100, 60)  # the refused caps changed nothing

    assert "Zapisano." in _config(browser, integration.id, {"numbering": "service"})
    db.session.refresh(integration)
    assert limits_of(integration) == (4, 150, 60)


def test_a_cap_where_the_service_documents_no_window_needs_both_figures(app, browser, fakturownia):
    from webapp.exports.services import limits_of

    body = _config(browser, fakturownia.integration_id, {"numbering": "service", "rate_requests": "10"})
    assert "Okno limitu (s): podaj oba pola limitu" in body
    assert "Zapisano." in _config(browser, fakturownia.integration_id,
                                  {"numbering": "service", "rate_requests": "10", "rate_seconds": "1",
                                   "max_concurrency": "8"})
    assert limits_of(db.session.get(Integration, fakturownia.integration_id)) == (8, 10, 1)


def test_a_sku_fakturownia_does_not_know_is_named_in_the_journal(app, fakturownia):
    from webapp.models import JournalEntry

    integration = db.session.get(Integration, fakturownia.integration_id)
    integration.send_sku = True
    db.session.commit()
    issue_document(gen_order(fakturownia.merchant_id), "invoice", trigger="test")  # SKU-0, SKU-1, SKU-2
    run_jobs(app)

    assert db.session.scalar(db.select(Export.state)) == "fetched"
    created = db.session.scalar(db.select(JournalEntry).where(JournalEntry.action == "create"))
    assert "SKU spoza katalogu produktów Fakturowni: SKU-0, SKU-1, SKU-2 – wysłano sam kod" in created.message


def test_ifirma_bulk_preview_skips_receipts_and_corrections_with_the_reason(app, merchant_user):
    from decimal import Decimal

    from webapp.documents.services import LineChange, issue_correction
    from webapp.exports.bulk import BulkFilters, preview_bulk
    from webapp.exports.services import create_integration

    merchant_id = merchant_user.merchant_id
    ifirma = create_integration(merchant_id, "ifirma", "iFirma", {"login": "a@b.pl"}, auto_export=False)
    invoice = issue_document(gen_order(merchant_id), "invoice", trigger="test")
    issue_document(gen_order(merchant_id), "receipt", trigger="test")
    issue_document(gen_order(merchant_id), "receipt", trigger="test")
    issue_correction(invoice, [LineChange(0, Decimal(1), Decimal("39.99"))], "Zwrot kubka")

    preview = preview_bulk(ifirma, BulkFilters())

    assert (preview.total, preview.to_send, preview.already) == (4, 1, 0)
    assert preview.skipped == {"iFirma nie przyjmuje paragonów": 2, "iFirma nie przyjmuje korekt": 1}
