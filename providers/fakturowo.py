"""Fakturowo.pl — declared only (capabilities and credentials); no HTTP client yet.

The API is one form-encoded endpoint with a plain-text answer; its URL may differ per account,
so the URL is a credential field. The docs ask for strictly sequential calls.
"""

from .base import Capabilities, CredentialField, DeclaredOnlyProvider, ProviderLimits


class FakturowoProvider(DeclaredOnlyProvider):
    key = "fakturowo"
    display_name = "Fakturowo"
    capabilities = Capabilities(receipts=True, corrections=False, numbering_series=False, payments=True, sku=False)
    credential_fields = (
        CredentialField(
            name="api_id",
            label="Klucz API",
            help="W Fakturowo: strona Konto → klucz API (można go wygenerować ponownie).",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="api_url",
            label="Adres API",
            help="Adres API pokazany na stronie Konto; domyślnie https://konto.fakturowo.pl/api.",
            secret=False,
            required=False,
        ),
    )
    # The docs ask to wait for each answer before the next call.
    default_limits = ProviderLimits(max_concurrency=1, requests=None, per_seconds=None, writes_only=False)
    vat_rates = frozenset({"23", "8", "5", "0", "zw", "np", "oo"})
    docs_url = "https://www.fakturowo.pl/pomoc/api-podstawowe-funkcje"
