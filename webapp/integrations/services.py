"""Integration rules: connecting an account, its settings, series and payment-type links."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from rq import Queue
from sqlalchemy.orm import joinedload, load_only

from providers import PROVIDERS

from ..crypto import decrypt_credentials, encrypt_credentials
from ..extensions import db
from ..models import Document, Export, Integration, Order
from ..orders.services import distinct_values
from ..redis_conn import get_redis

# The columns templates/integrations/_export_status.html reads: lists load only these (no JSON of
# field errors, no dates they do not show), the fragment the same.
EXPORT_STATUS_COLUMNS = (Export.id, Export.document_id, Export.state, Export.remote_number, Export.ksef_status,
                         Export.ksef_number, Export.ksef_error, Export.last_error, Export.totals_mismatch)


class IntegrationRefused(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def run_inline(func, *args):
    """Run a job function now, in this request, through RQ's synchronous queue."""
    job = Queue("inline", is_async=False, connection=get_redis(current_app)).enqueue(func, *args, result_ttl=60)
    return job.return_value()


def check_base_url(base_url: str) -> str | None:
    """A custom API address (self-hosted or test account) must be public HTTPS; loopback and
    private networks only in demo/sandbox mode, so the hub cannot be aimed at internal hosts."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return _("Podaj pełny adres, np. https://twojafirma.fakturownia.pl")
    if current_app.config.get("DEMO_MODE"):
        return None
    if parts.scheme != "https":
        return _("Adres usługi musi zaczynać się od https://")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except socket.gaierror:
        return _("Nie można odnaleźć tego adresu.")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast:
            return _("Adres wskazuje sieć prywatną lub lokalną: niedozwolone poza trybem demo.")
    return None


def _clean_credentials(provider_key: str, form: dict) -> tuple[dict[str, str], dict[str, str]]:
    credentials, errors = {}, {}
    for field in PROVIDERS[provider_key].credential_fields:
        value = (form.get(field.name) or "").strip()
        if field.required and not value:
            errors[field.name] = _("Podaj: %(label)s.", label=field.label)
        elif len(value) > 500:
            errors[field.name] = _("Za długie (najwyżej 500 znaków).")
        elif value:
            credentials[field.name] = value
    return credentials, errors


def connect(merchant_id: int, provider_key: str, form: dict) -> Integration:
    """Check the credentials with the service, then save the integration. Nothing is saved when
    the check fails; the error names the field or says what the service answered."""
    from ..exports.jobs import check_credentials

    cls = PROVIDERS.get(provider_key)
    if cls is None or not cls.connectable:
        raise IntegrationRefused({"provider": _("Tej usługi nie można jeszcze połączyć.")})
    name = (form.get("name") or "").strip() or cls.display_name
    if len(name) > 100:
        raise IntegrationRefused({"name": _("Nazwa: najwyżej 100 znaków.")})
    credentials, errors = _clean_credentials(provider_key, form)
    base_url = (form.get("base_url") or "").strip() or None
    if base_url:
        problem = check_base_url(base_url)
        if problem:
            errors["base_url"] = problem
    if errors:
        raise IntegrationRefused(errors)
    encrypted = encrypt_credentials(credentials)
    result = run_inline(check_credentials, provider_key, encrypted, base_url, {})
    if not result["ok"]:
        raise IntegrationRefused({"connection": result["message"]})
    has_auto = db.session.scalar(db.select(Integration.id).where(Integration.merchant_id == merchant_id,
                                                                 Integration.auto_export.is_(True)))
    integration = Integration(merchant_id=merchant_id, provider=provider_key, name=name,
                              credentials_encrypted=encrypted, base_url=base_url, options={}, series_links={},
                              payment_links={}, auto_export=not has_auto, health="connected",
                              health_message=result.get("label", "")[:500])
    db.session.add(integration)
    db.session.commit()
    refresh_choices(integration)
    return integration


def update_credentials(integration: Integration, form: dict) -> None:
    """New credentials replace the old only after the service accepts them. Empty secret fields
    keep the stored value (they are never shown back)."""
    from ..exports.jobs import check_credentials
    from ..exports.services import update_credentials as store

    stored = decrypt_credentials(integration.credentials_encrypted)
    merged = {f.name: (form.get(f.name) or "").strip() or stored.get(f.name, "")
              for f in PROVIDERS[integration.provider].credential_fields}
    result = run_inline(check_credentials, integration.provider, encrypt_credentials(merged),
                        integration.base_url, integration.options or {})
    if not result["ok"]:
        raise IntegrationRefused({"connection": result["message"]})
    store(integration, merged)


def refresh_choices(integration: Integration) -> dict:
    from ..exports.jobs import read_service_choices

    return run_inline(read_service_choices, integration.id)


CONFIG_FIELDS = ("numbering", "auto_export", "show_service_document", "send_sku")


def save_configuration(integration: Integration, form: dict) -> None:
    cls = PROVIDERS[integration.provider]
    numbering = form.get("numbering", "service")
    if numbering not in ("service", "hub"):
        raise IntegrationRefused({"numbering": _("Wybierz numerację usługi albo huba.")})
    errors = {f"option.{key}": _("Najwyżej 200 znaków.") for key in cls.option_fields
              if len((form.get(f"option.{key}") or "").strip()) > 200}
    if errors:
        raise IntegrationRefused(errors)
    integration.numbering = numbering
    integration.auto_export = form.get("auto_export") == "on"
    integration.show_service_document = form.get("show_service_document") == "on"
    integration.send_sku = cls.capabilities.sku and form.get("send_sku") == "on"
    options = dict(integration.options or {})
    for key in cls.option_fields:
        value = (form.get(f"option.{key}") or "").strip()
        if value:
            options[key] = value
        else:
            options.pop(key, None)
    integration.options = options
    if integration.auto_export:
        # One integration takes the automatic exports: the others switch to manual/bulk.
        db.session.execute(db.update(Integration).where(Integration.merchant_id == integration.merchant_id,
                                                        Integration.id != integration.id).values(auto_export=False))
    db.session.commit()


def save_series_links(integration: Integration, form: dict, hub_series_ids: list[int]) -> None:
    allowed = {str(c["id"]) for c in integration.service_series or []}
    links, errors = {}, {}
    for series_id in hub_series_ids:
        value = (form.get(f"series.{series_id}") or "").strip()
        if value and value not in allowed:
            errors[f"series.{series_id}"] = _("Tej serii nie ma w usłudze: odśwież listę.")
        links[str(series_id)] = value or None
    if errors:
        raise IntegrationRefused(errors)
    integration.series_links = links
    db.session.commit()


def payment_names(merchant_id: int) -> list[str]:
    """The shop's payment names (non-empty), in order: a skip scan over the orders' index."""
    return distinct_values(Order, "payment_method", merchant_id=merchant_id, above="")


def save_payment_links(integration: Integration, form: dict) -> None:
    allowed = {str(c["id"]) for c in integration.service_payment_types or []}
    links, errors = {}, {}
    for name in payment_names(integration.merchant_id):
        value = (form.get(f"payment:{name}") or "").strip()
        if value and value not in allowed:
            errors[f"payment:{name}"] = _("Nieznany rodzaj płatności usługi.")
        elif value:
            links[name] = value
    if errors:
        raise IntegrationRefused(errors)
    integration.payment_links = links
    db.session.commit()


def last_exports(integration_ids: list[int]) -> dict[int, Export]:
    """Integration id → its newest export, with the document's number: one query, each newest id
    read from the end of the integration's range of ix_export_merchant_integration_id."""
    if not integration_ids:
        return {}
    newest = (db.select(db.func.max(Export.id))
              .where(Export.merchant_id == Integration.merchant_id, Export.integration_id == Integration.id)
              .correlate(Integration).scalar_subquery())
    query = (db.select(Export).where(Export.id.in_(db.select(newest).where(Integration.id.in_(integration_ids))))
             .options(load_only(Export.integration_id, *EXPORT_STATUS_COLUMNS),
                      joinedload(Export.document).load_only(Document.id, Document.number)))
    return {e.integration_id: e for e in db.session.scalars(query)}
