"""wFirma.pl — declared only (capabilities and credentials); no HTTP client yet.

API2 at https://api2.wfirma.pl with the API-key scheme (accessKey, secretKey, appKey headers)
and a `company_id` query parameter.
"""

from .base import Capabilities, CredentialField, DeclaredOnlyProvider, ProviderLimits


class WfirmaProvider(DeclaredOnlyProvider):
    key = "wfirma"
    display_name = "wFirma"
    capabilities = Capabilities(receipts=True, corrections=False, numbering_series=True, payments=True, sku=True)
    credential_fields = (
        CredentialField(
            name="access_key",
            label="Access key",
            help="Ustawienia → Bezpieczeństwo → Aplikacje → Klucze API: dodaj klucz i skopiuj accessKey.",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="secret_key",
            label="Secret key",
            help="Pokazywany tylko raz przy tworzeniu klucza API – skopiuj go od razu.",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="app_key",
            label="App key",
            help="Klucz aplikacji wydawany przez wFirma dla integracji (formularz kontaktowy wFirma).",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="company_id",
            label="ID firmy",
            help="Wymagane, gdy na koncie jest kilka firm; widoczne w wFirma jako „(ID: 123456)”.",
            secret=False,
            required=False,
        ),
    )
    # Limits exist but are unpublished ("depend on server load"): stay modest (configurable).
    default_limits = ProviderLimits(max_concurrency=2, requests=None, per_seconds=None, writes_only=False)
    vat_rates = frozenset({"23", "8", "5", "0", "zw", "np", "oo"})
    docs_url = "https://doc.wfirma.pl"
