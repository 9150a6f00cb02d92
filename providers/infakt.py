"""inFakt.pl — declared only (capabilities and credentials); no HTTP client yet.

API v3 with an `X-inFakt-ApiKey` header; invoice creation is asynchronous (task + polling).
"""

from .base import Capabilities, CredentialField, DeclaredOnlyProvider, ProviderLimits


class InfaktProvider(DeclaredOnlyProvider):
    key = "infakt"
    display_name = "inFakt"
    capabilities = Capabilities(receipts=False, corrections=True, numbering_series=False, payments=True, sku=False)
    credential_fields = (
        CredentialField(
            name="api_key",
            label="Klucz API",
            help="W inFakt: Ustawienia konta → API → wygeneruj klucz z uprawnieniami do faktur "
                 "(api:invoices:read i api:invoices:write).",
            secret=True,
            required=True,
        ),
    )
    # Documented per source IP: 150 non-GET requests / 60 s (GET: 300 / 60 s).
    default_limits = ProviderLimits(max_concurrency=4, requests=150, per_seconds=60, writes_only=True)
    vat_rates = frozenset({"23", "8", "5", "0", "zw", "np"})
    docs_url = "https://github.com/infakt/API"
