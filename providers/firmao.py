"""Firmao.pl — declared only (capabilities and credentials); no HTTP client yet.

REST "svc/v1" under https://system.firmao.pl/{organizationId}; HTTP Basic with a dedicated API user.
"""

from .base import Capabilities, CredentialField, DeclaredOnlyProvider, ProviderLimits


class FirmaoProvider(DeclaredOnlyProvider):
    key = "firmao"
    display_name = "Firmao"
    capabilities = Capabilities(receipts=True, corrections=False, numbering_series=True, payments=True, sku=True)
    credential_fields = (
        CredentialField(
            name="organization_id",
            label="Identyfikator organizacji",
            help="Widoczny w adresie strony po zalogowaniu: system.firmao.pl/<identyfikator>/…",
            secret=False,
            required=True,
        ),
        CredentialField(
            name="login",
            label="Login API",
            help="Firma → Ustawienia → API: włącz API i skopiuj login użytkownika API.",
            secret=False,
            required=True,
        ),
        CredentialField(
            name="password",
            label="Hasło API",
            help="Firma → Ustawienia → API: wygeneruj hasło użytkownika API.",
            secret=True,
            required=True,
        ),
    )
    # No published limit, but the API answers 429 to bursts: stay modest (configurable).
    default_limits = ProviderLimits(max_concurrency=2, requests=None, per_seconds=None, writes_only=False)
    vat_rates = frozenset({"23", "8", "5", "0", "zw", "np", "oo"})
    docs_url = "https://github.com/FirmaoCRM/API"
