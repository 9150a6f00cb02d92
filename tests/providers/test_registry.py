import pytest

from providers import PROVIDERS, get_provider
from providers.base import FEATURES, VAT_RATES, Provider

# receipts, corrections, numbering_series, payments, sku — the matrix the merchant sees.
EXPECTED_CAPABILITIES = {
    "fakturownia": (True, True, True, True, True),
    "fakturowo": (True, False, False, True, False),
    "firmao": (True, False, True, True, True),
    "ifirma": (False, False, True, True, False),
    "infakt": (False, True, False, True, False),
    "wfirma": (True, False, True, True, True),
}
EXPECTED_NAMES = {
    "fakturownia": "Fakturownia",
    "fakturowo": "Fakturowo",
    "firmao": "Firmao",
    "ifirma": "iFirma",
    "infakt": "inFakt",
    "wfirma": "wFirma",
}


def test_registry_lists_six_services_in_order():
    assert list(PROVIDERS) == ["fakturownia", "fakturowo", "firmao", "ifirma", "infakt", "wfirma"]


@pytest.mark.parametrize("key", list(EXPECTED_CAPABILITIES))
def test_capabilities_match_the_matrix(key):
    cls = get_provider(key)
    assert cls.key == key
    assert cls.display_name == EXPECTED_NAMES[key]
    assert cls.capabilities.as_dict() == dict(zip(FEATURES, EXPECTED_CAPABILITIES[key]))


@pytest.mark.parametrize("key", list(EXPECTED_CAPABILITIES))
def test_each_service_declares_labelled_credentials_and_limits(key):
    cls = PROVIDERS[key]
    assert issubclass(cls, Provider)
    assert cls.credential_fields, "the connect form needs at least one field"
    names = [f.name for f in cls.credential_fields]
    assert len(names) == len(set(names))
    for credential in cls.credential_fields:
        assert credential.label.strip() and credential.help.strip()
    assert any(f.secret and f.required for f in cls.credential_fields)
    assert cls.default_limits.max_concurrency >= 1
    assert cls.vat_rates <= set(VAT_RATES)


def test_connectable_services_implement_every_operation():
    from providers.base import DeclaredOnlyProvider

    connectable = [key for key, cls in PROVIDERS.items() if cls.connectable]
    assert "fakturownia" in connectable
    for key in connectable:
        assert not issubclass(PROVIDERS[key], DeclaredOnlyProvider), key


def test_documented_rate_limits_are_carried():
    assert PROVIDERS["infakt"].default_limits.requests == 150
    assert PROVIDERS["infakt"].default_limits.per_seconds == 60
    assert PROVIDERS["infakt"].default_limits.writes_only is True
    assert PROVIDERS["ifirma"].default_limits.requests == 100
    assert PROVIDERS["fakturowo"].default_limits.max_concurrency == 1


def test_fakturownia_credentials_explain_where_the_token_is():
    fields = {f.name: f for f in PROVIDERS["fakturownia"].credential_fields}
    assert fields["api_token"].secret and fields["api_token"].required
    assert "Integracja" in fields["api_token"].help and "Kod autoryzacyjny API" in fields["api_token"].help
    assert not fields["account_prefix"].secret and not fields["account_prefix"].required


def test_every_service_of_the_table_is_connectable():
    assert [key for key, cls in PROVIDERS.items() if not cls.connectable] == []


def test_unknown_key_names_the_known_ones():
    with pytest.raises(KeyError, match="fakturownia"):
        get_provider("saldeo")
