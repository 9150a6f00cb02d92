"""Over the whole registry: every service of the capability table connects through the
dashboard's connect form (its credentials checked by the service) and exports an invoice — and a
receipt where it takes receipts — through the pipeline to its sandbox, exactly once."""
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
