"""Fixtures for pipeline tests: a Fakturownia sandbox account connected as an integration."""
import uuid
from types import SimpleNamespace

import pytest
import requests

from webapp.exports.services import create_integration


@pytest.fixture
def fakturownia(app, sandbox_url, merchant_user):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    token = f"tok-{uuid.uuid4().hex}"
    requests.post(f"{sandbox_url}/_sandbox/fakturownia/accounts", json={"prefix": prefix, "api_token": token},
                  timeout=5).raise_for_status()
    integration = create_integration(merchant_user.merchant_id, "fakturownia", "Fakturownia (test)",
                                     {"api_token": token, "account_prefix": prefix},
                                     base_url=f"{sandbox_url}/fakturownia/{prefix}", auto_export=True)

    def faults(**settings):
        requests.put(f"{sandbox_url}/_sandbox/fakturownia/faults", json={"account": prefix, **settings},
                     timeout=5).raise_for_status()

    def stored(reference):
        response = requests.get(f"{sandbox_url}/_sandbox/fakturownia/documents",
                                params={"account": prefix, "oid": reference}, timeout=5)
        return response.json()["count"]

    yield SimpleNamespace(integration=integration, integration_id=integration.id,
                          merchant_id=merchant_user.merchant_id, prefix=prefix, token=token, faults=faults, stored=stored)
    requests.delete(f"{sandbox_url}/_sandbox/fakturownia/faults", json={"account": prefix}, timeout=5)
