"""iFirma.pl — declared only (capabilities and credentials); no HTTP client yet.

"iapi" with an HMAC-SHA1 `Authentication` header; one key per key type (faktura, abonent).
"""

from .base import Capabilities, CredentialField, DeclaredOnlyProvider, ProviderLimits


class IfirmaProvider(DeclaredOnlyProvider):
    key = "ifirma"
    display_name = "iFirma"
    capabilities = Capabilities(receipts=False, corrections=False, numbering_series=True, payments=True, sku=False)
    credential_fields = (
        CredentialField(
            name="login",
            label="Login iFirma",
            help="Login (adres e-mail), którym logujesz się do ifirma.pl.",
            secret=False,
            required=True,
        ),
        CredentialField(
            name="invoice_key",
            label="Klucz API „faktura”",
            help="Narzędzia → API (lub Konfiguracja → Rozszerzenia i integracje → API): klucz typu faktura.",
            secret=True,
            required=True,
        ),
        CredentialField(
            name="subscriber_key",
            label="Klucz API „abonent”",
            help="Ta sama strona: klucz typu abonent (miesiąc księgowy, limity API).",
            secret=True,
            required=True,
        ),
    )
    # Documented: 100 requests per minute per user (and 15 000 a day).
    default_limits = ProviderLimits(max_concurrency=2, requests=100, per_seconds=60, writes_only=False)
    vat_rates = frozenset({"23", "8", "5", "0", "zw", "np"})
    docs_url = "https://api.ifirma.pl"
