"""Integration rules: connecting an account, its settings, series and payment-type links."""
from __future__ import annotations

import ipaddress
import socket
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from rq import Queue
from sqlalchemy.orm import joinedload, load_only

from providers import PROVIDERS
from providers.base import OptionField, option_on

from ..crypto import decrypt_credentials, encrypt_credentials
from ..extensions import db
from ..models import Document, Export, Integration, Order, utcnow
from ..orders.services import distinct_values
from ..redis_conn import get_redis

# The columns templates/integrations/_export_status.html and _export_actions.html read: lists
# load only these (no JSON of field errors, no dates they do not show), the fragment the same.
EXPORT_STATUS_COLUMNS = (Export.id, Export.document_id, Export.state, Export.remote_number, Export.ksef_status,
                         Export.ksef_number, Export.ksef_error, Export.last_error, Export.totals_mismatch,
                         Export.fetched_at, Export.updated_at, Export.stopped_error, Export.claimed_at)


def fetched_version(export: Export) -> int:
    """When the service's copy shown was read (µs since the epoch; 0: never): a refresh has
    arrived once this grows."""
    return int(export.fetched_at.timestamp() * 1_000_000) if export.fetched_at else 0


def refresh_due(export: Export) -> bool:
    """Whether a refresh nobody clicked (a stale card, a KSeF answer awaited) may be asked for:
    not while the row changed moments ago (a refresh asked for, a fetch just done or retrying),
    nor after a refresh stopped on an error (only the merchant's click tries again)."""
    quiet = timedelta(seconds=current_app.config.get("BACKGROUND_REFRESH_AFTER", 30))
    return (export.state == "fetched" and not export.stopped_error
            and (export.updated_at is None or utcnow() - export.updated_at >= quiet))


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
LIMIT_FIELDS = ("max_concurrency", "rate_requests", "rate_seconds")
MAX_CONCURRENCY = 20  # parallel requests per account a merchant may allow where nothing is documented


def clean_option(spec: OptionField, raw: str | None) -> tuple[str, str | None]:
    """(value to store, error naming the field): "" keeps the service's default."""
    value = (raw or "").strip()
    if spec.kind == "bool":
        # A checkbox: present = on. Off is stored only where the default is on.
        on = option_on(value) if value else False
        return ("1" if on else ("0" if spec.on else "")), None
    if not value:
        return "", None
    if spec.kind == "choice":
        match = next((c.id for c in spec.choices if c.id.lower() == value.lower()), None)
        if match is None:
            return value, _("%(label)s: wybierz jedną z podanych wartości.", label=spec.label)
        return match, None
    if spec.kind in ("int", "number"):
        try:
            number = Decimal(value.replace(",", "."))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite() or (spec.kind == "int" and number != number.to_integral_value()):
            return value, (_("%(label)s: podaj liczbę całkowitą.", label=spec.label) if spec.kind == "int"
                           else _("%(label)s: podaj liczbę.", label=spec.label))
        if spec.minimum is not None and number < spec.minimum:
            return value, _("%(label)s: najmniej %(minimum)s.", label=spec.label, minimum=spec.minimum)
        if spec.maximum is not None and number > spec.maximum:
            return value, _("%(label)s: najwyżej %(maximum)s.", label=spec.label, maximum=spec.maximum)
        return (str(int(number)) if spec.kind == "int" else format(number.normalize(), "f")), None
    if len(value) > spec.max_length:
        return value, _("%(label)s: najwyżej %(count)s znaków.", label=spec.label, count=spec.max_length)
    return value, None


def limit_defaults(cls) -> dict[str, int | float | None]:
    """The contract's figures shown as the placeholders of the account's cap."""
    limits = cls.default_limits
    return {"max_concurrency": limits.max_concurrency, "rate_requests": limits.requests,
            "rate_seconds": limits.per_seconds}


def _clean_limits(cls, form: dict) -> tuple[dict[str, int | None], dict[str, str]]:
    """The account's own cap: empty = the service's default; never above a documented limit."""
    labels = {"max_concurrency": _("Równoległe zapytania"), "rate_requests": _("Limit zapytań"),
              "rate_seconds": _("Okno limitu (s)")}
    values: dict[str, int | None] = {}
    errors: dict[str, str] = {}
    for name in LIMIT_FIELDS:
        raw = (form.get(name) or "").strip()
        if not raw:
            values[name] = None
        elif not raw.isdecimal() or int(raw) < 1:
            errors[name] = _("%(label)s: podaj dodatnią liczbę całkowitą.", label=labels[name])
        else:
            values[name] = int(raw)
    if errors:
        return values, errors
    if values["max_concurrency"] is not None and values["max_concurrency"] > MAX_CONCURRENCY:
        errors["max_concurrency"] = _("%(label)s: najwyżej %(maximum)s.", label=labels["max_concurrency"],
                                      maximum=MAX_CONCURRENCY)
    documented = cls.default_limits
    requests = values["rate_requests"] or documented.requests
    seconds = values["rate_seconds"] or documented.per_seconds
    if (values["rate_requests"] or values["rate_seconds"]) and (requests is None or seconds is None):
        missing = "rate_seconds" if values["rate_requests"] else "rate_requests"
        errors[missing] = _("%(label)s: podaj oba pola limitu (liczbę zapytań i okno w sekundach).",
                            label=labels[missing])
    elif (documented.requests and documented.per_seconds and (values["rate_requests"] or values["rate_seconds"])
          # The service documents its limit: a cap may be slower, never faster or burstier.
          and (requests > documented.requests
               or requests * documented.per_seconds > documented.requests * seconds)):
        # The field at fault: too many requests, or (their number allowed) too short a window.
        name = ("rate_requests" if values["rate_requests"] and (requests > documented.requests
                                                                or not values["rate_seconds"])
                else "rate_seconds")
        errors[name] = _("%(label)s: %(service)s dopuszcza najwyżej %(requests)s zapytań na %(seconds)s s.",
                         label=labels[name], service=cls.display_name, requests=documented.requests,
                         seconds=f"{documented.per_seconds:g}")
    return values, errors


def save_configuration(integration: Integration, form: dict) -> None:
    """The Configuration section: errors name the field and nothing is saved while one remains."""
    cls = PROVIDERS[integration.provider]
    errors: dict[str, str] = {}
    numbering = form.get("numbering", "service")
    if numbering not in ("service", "hub"):
        errors["numbering"] = _("Wybierz numerację usługi albo huba.")
    options = dict(integration.options or {})
    for key, spec in cls.option_specs().items():
        value, error = clean_option(spec, form.get(f"option.{key}"))
        if error:
            errors[f"option.{key}"] = error
        elif value:
            options[key] = value
        else:
            options.pop(key, None)
    limits, limit_errors = _clean_limits(cls, form)
    errors.update(limit_errors)
    if errors:
        raise IntegrationRefused(errors)
    integration.numbering = numbering
    integration.auto_export = form.get("auto_export") == "on"
    integration.show_service_document = form.get("show_service_document") == "on"
    integration.send_sku = cls.capabilities.sku and form.get("send_sku") == "on"
    integration.options = options
    for name, value in limits.items():
        setattr(integration, name, value)
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
