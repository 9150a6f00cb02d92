"""Integrations: connect an accounting service, the module page and its four sections (each an
htmx fragment that loads and saves on its own), the live export status, Export all, the journal
and the capability matrix."""
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import contains_eager, load_only

from providers import PROVIDERS
from providers.base import FEATURES, option_on

from ..exports.bulk import BULK_STATES, BulkFilters, preview_bulk, progress, start_bulk
from ..exports.services import ExportRefused, export_document, reconcile_export, refresh_export, retry_export
from ..extensions import db
from ..forms import EmptyForm
from ..models import EXPORT_STATES, BulkRun, Document, Export, Integration, JournalEntry, Series
from ..orders.services import seek_page
from ..tenancy import current_merchant_id, get_owned_or_404, owned
from .services import (
    EXPORT_STATUS_COLUMNS,
    IntegrationRefused,
    connect,
    fetched_version,
    last_exports,
    limit_defaults,
    payment_names,
    refresh_choices,
    refresh_due,
    save_configuration,
    save_payment_links,
    save_series_links,
    update_credentials,
)

bp = Blueprint("integrations", __name__, url_prefix="/integrations")

FEATURE_LABELS = {"receipts": _l("Paragony"), "corrections": _l("Korekty"),
                  "numbering_series": _l("Serie numeracji"), "payments": _l("Płatności"),
                  "sku": _l("SKU / magazyn")}
STATE_LABELS = {"queued": _l("w kolejce"), "sending": _l("wysyłanie"), "sent": _l("wysłany"),
                "fetched": _l("w usłudze"), "rejected": _l("odrzucony"), "retrying": _l("ponawianie"),
                "in_doubt": _l("niepewny"), "none": _l("nie przekazany")}
# The KSeF state the service reports for a document (providers.base.KsefInfo.status).
KSEF_LABELS = {"processing": _l("w przetwarzaniu"), "accepted": _l("przyjęta"), "error": _l("błąd"),
               "not_applicable": _l("nie dotyczy")}


_TRANSLATED: dict[tuple[str, str], dict[str, str]] = {}


def _translated(name: str, labels: dict) -> dict[str, str]:
    """The labels in the current language, translated once per language (a list shows a state
    label per row: a lazy string would be translated again on each)."""
    key = (name, str(get_locale()))
    if key not in _TRANSLATED:
        _TRANSLATED[key] = {code: str(label) for code, label in labels.items()}
    return _TRANSLATED[key]


@bp.app_context_processor
def export_labels():
    return {"STATE_LABELS": _translated("state", STATE_LABELS), "FEATURE_LABELS": _translated("feature", FEATURE_LABELS),
            "KSEF_LABELS": _translated("ksef", KSEF_LABELS), "fetched_version": fetched_version,
            "refresh_due": refresh_due}


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.values.get(name, ""))
    except ValueError:
        return None


def _filters() -> BulkFilters:
    kind = request.values.get("kind") or None
    state = request.values.get("bulk_state") or None
    return BulkFilters(date_from=_date("from"), date_to=_date("to"),
                       series_id=request.values.get("series", type=int) or None,
                       kind=kind if kind in ("invoice", "receipt", "correction") else None,
                       state=state if state in BULK_STATES else None)


def _csrf_ok() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400)


# --- list, connect, credentials -------------------------------------------------------------

@bp.get("/")
@login_required
def index():
    integrations = db.session.scalars(owned(Integration).order_by(Integration.id)).all()
    return render_template("integrations/index.html", integrations=integrations, providers=PROVIDERS,
                           last=last_exports([i.id for i in integrations]))


@bp.get("/new")
@login_required
def choose():
    return render_template("integrations/choose.html", providers=PROVIDERS, features=FEATURES)


@bp.route("/new/<provider_key>", methods=["GET", "POST"])
@login_required
def connect_form(provider_key: str):
    cls = PROVIDERS.get(provider_key)
    if cls is None:
        abort(404)
    form, errors, values = EmptyForm(), {}, {}
    if request.method == "POST":
        _csrf_ok()
        values = request.form.to_dict()
        try:
            integration = connect(current_merchant_id(), provider_key, values)
        except IntegrationRefused as refused:
            errors = refused.errors
        else:
            flash(_("Połączono z %(service)s: %(account)s", service=cls.display_name,
                    account=integration.health_message), "success")
            return redirect(url_for("integrations.module", integration_id=integration.id))
    return render_template("integrations/connect.html", cls=cls, form=form, errors=errors, values=values)


@bp.route("/<int:integration_id>/credentials", methods=["GET", "POST"])
@login_required
def credentials(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    cls = PROVIDERS[integration.provider]
    form, errors = EmptyForm(), {}
    if request.method == "POST":
        _csrf_ok()
        try:
            update_credentials(integration, request.form.to_dict())
        except IntegrationRefused as refused:
            errors = refused.errors
        else:
            flash(_("Nowe dane logowania zapisane i sprawdzone."), "success")
            return redirect(url_for("integrations.module", integration_id=integration.id))
    return render_template("integrations/credentials.html", integration=integration, cls=cls, form=form,
                           errors=errors)


# --- the module page and its sections -----------------------------------------------------------

@bp.get("/<int:integration_id>")
@login_required
def module(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    series = _all_series()
    context = {**_exports_context(integration, series), **_config_context(integration),
               **_series_context(integration, series=series), **_payments_context(integration)}
    return render_template("integrations/module.html", integration=integration, **context)


def _all_series() -> list[Series]:
    """The merchant's series by name (the filters list them so), read once per request."""
    return db.session.scalars(owned(Series).order_by(Series.name)).all()


EXPORTS_PER_PAGE = 25


def _exports_context(integration: Integration, series: list[Series] | None = None) -> dict:
    """A page of the merchant's documents with their export to this integration (or none yet:
    "not passed"; documents another integration holds are left out), newest first, in one query:
    the page after (`after=<document id>`) or before (`before=`) a cursor row, so a deep page costs
    what the first does; `page=<n>` (links from before the cursors) skips rows on a narrow query of
    the ids alone."""
    state = request.args.get("state", "")
    filters = _filters()
    joined = Export.document_id == Document.id
    conditions = [db.or_(Export.id.is_(None), Export.integration_id == integration.id)]
    if state == "none":
        conditions.append(Export.id.is_(None))
    elif state in EXPORT_STATES:
        conditions.append(Export.state == state)
    else:
        state = ""
    if filters.date_from:
        conditions.append(Document.issue_date >= filters.date_from)
    if filters.date_to:
        conditions.append(Document.issue_date <= filters.date_to)
    if filters.series_id:
        conditions.append(Document.series_id == filters.series_id)
    if filters.kind:
        conditions.append(Document.kind == filters.kind)
    query = (owned(Document).outerjoin(Export, joined)
             .options(load_only(Document.id, Document.number, Document.issue_date, Document.kind),
                      contains_eager(Document.export).load_only(Export.attempts, *EXPORT_STATUS_COLUMNS))
             .where(*conditions))
    narrow = owned(Document).with_only_columns(Document.id).outerjoin(Export, joined).where(*conditions)
    page = seek_page(query, (Document.id,), lambda document_id: (document_id,),
                     per_page=max(1, min(request.args.get("per_page", type=int) or EXPORTS_PER_PAGE, 200)),
                     after=request.args.get("after", type=int), before=request.args.get("before", type=int),
                     page=request.args.get("page", type=int), narrow=narrow)
    return {"page": page, "state": state, "states": ("none", *EXPORT_STATES), "filters": filters,
            "series": _all_series() if series is None else series, "form": EmptyForm(),
            "capabilities": PROVIDERS[integration.provider].capabilities}


@bp.get("/<int:integration_id>/exports")
@login_required
def exports_section(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    return render_template("integrations/_exports.html", integration=integration, **_exports_context(integration))


def _config_context(integration: Integration, errors=None, saved=False, submitted=None) -> dict:
    cls = PROVIDERS[integration.provider]
    # After a refusal the merchant's own input is shown again, next to the errors.
    return {"cls": cls, "config_errors": errors or {}, "config_saved": saved, "form": EmptyForm(),
            "config_form": submitted if errors else None, "limit_defaults": limit_defaults(cls),
            "option_on": option_on}


@bp.route("/<int:integration_id>/config", methods=["GET", "POST"])
@login_required
def config_section(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    errors, saved, submitted = {}, False, None
    if request.method == "POST":
        _csrf_ok()
        submitted = request.form.to_dict()
        try:
            save_configuration(integration, submitted)
            saved = True
        except IntegrationRefused as refused:
            errors = refused.errors
    return render_template("integrations/_config.html", integration=integration,
                           **_config_context(integration, errors, saved, submitted))


def _series_context(integration: Integration, errors=None, saved=False, read_errors=None,
                    series: list[Series] | None = None) -> dict:
    receipts = PROVIDERS[integration.provider].capabilities.receipts
    # By kind, then name: a stable sort of the list by name (kinds are plain ASCII words).
    hub_series = sorted((s for s in (_all_series() if series is None else series) if receipts or s.kind != "receipt"),
                        key=lambda s: s.kind)
    return {"hub_series": hub_series, "series_errors": errors or {}, "series_saved": saved,
            "series_read_errors": read_errors or {}, "form": EmptyForm()}


@bp.route("/<int:integration_id>/series", methods=["GET", "POST"])
@login_required
def series_section(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    errors, saved, read_errors = {}, False, {}
    if request.method == "POST":
        _csrf_ok()
        if request.form.get("refresh"):
            read_errors = refresh_choices(integration)
        else:
            try:
                save_series_links(integration, request.form.to_dict(),
                                  [s.id for s in _series_context(integration)["hub_series"]])
                saved = True
            except IntegrationRefused as refused:
                errors = refused.errors
    return render_template("integrations/_series.html", integration=integration, cls=PROVIDERS[integration.provider],
                           **_series_context(integration, errors, saved, read_errors))


def _payments_context(integration: Integration, errors=None, saved=False, read_errors=None) -> dict:
    return {"payment_names": payment_names(integration.merchant_id), "payment_errors": errors or {},
            "payments_saved": saved, "payment_read_errors": read_errors or {}, "form": EmptyForm()}


@bp.route("/<int:integration_id>/payments", methods=["GET", "POST"])
@login_required
def payments_section(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    errors, saved, read_errors = {}, False, {}
    if request.method == "POST":
        _csrf_ok()
        if request.form.get("refresh"):
            read_errors = refresh_choices(integration)
        else:
            try:
                save_payment_links(integration, request.form.to_dict())
                saved = True
            except IntegrationRefused as refused:
                errors = refused.errors
    return render_template("integrations/_payments.html", integration=integration,
                           cls=PROVIDERS[integration.provider],
                           **_payments_context(integration, errors, saved, read_errors))


# --- one export: live status and actions --------------------------------------------------------

def _status_args() -> dict:
    """What a polling status fragment carries in its URL: `actions=1` on the module's rows (the
    row's buttons live in the fragment and change with the state), `since=<µs>` while a refresh
    waits for the service's copy newer than the one shown then."""
    return {"actions": request.args.get("actions") == "1", "since": request.args.get("since", type=int)}


@bp.get("/exports/<int:export_id>/status")
@login_required
def export_status(export_id: int):
    # Polled every second while an export moves: the fragment's columns only.
    export = db.session.scalar(owned(Export).options(load_only(*EXPORT_STATUS_COLUMNS)).where(Export.id == export_id))
    if export is None:
        abort(404)
    return render_template("integrations/_export_status.html", export=export, **_status_args())


@bp.post("/exports/<int:export_id>/<action>")
@login_required
def export_action(export_id: int, action: str):
    export = get_owned_or_404(Export, export_id)
    _csrf_ok()
    background = request.values.get("background") == "1"
    if action == "refresh" and background and not refresh_due(export):
        return "", 204  # refreshed or asked for moments ago: one background refresh at a time
    since = fetched_version(export) if action == "refresh" else None
    trigger = f"użytkownik {current_user.email}"
    error = None
    try:
        if action == "retry":
            retry_export(export, trigger)
        elif action == "reconcile":
            reconcile_export(export, trigger)
        elif action == "refresh":
            refresh_export(export, trigger)
        else:
            abort(404)
    except ExportRefused as refused:
        db.session.rollback()
        error = refused.message + "".join(f" {p.message}" for p in refused.problems)
        since = None
    if request.htmx:
        if background:
            return "", 204  # the hidden refresh of a stale card or a KSeF answer awaited: nothing to swap
        # The row's fragment, with its buttons; after a refresh it polls until the new copy is in.
        return render_template("integrations/_export_status.html", export=export, action_error=error,
                               actions=True, since=since)
    flash(error or _("Eksport zlecony."), "error" if error else "success")
    return redirect(url_for("documents.card", document_id=export.document_id))


@bp.post("/<int:integration_id>/documents/<int:document_id>/export")
@login_required
def export_document_action(integration_id: int, document_id: int):
    """The `export` action of a "not passed" row: pass the document to this integration."""
    integration = get_owned_or_404(Integration, integration_id)
    document = get_owned_or_404(Document, document_id)
    _csrf_ok()
    error = None
    try:
        export_document(document, integration, f"użytkownik {current_user.email}")
    except ExportRefused as refused:
        db.session.rollback()
        error = refused.message + "".join(f" {p.message}" for p in refused.problems)
    export = db.session.scalar(db.select(Export).where(Export.document_id == document.id))
    if request.htmx:
        return render_template("integrations/_export_status.html", export=export, document=document,
                               integration=integration, capabilities=PROVIDERS[integration.provider].capabilities,
                               action_error=error, actions=True)
    flash(error or _("Eksport zlecony."), "error" if error else "success")
    return redirect(url_for("integrations.module", integration_id=integration.id))


# --- Export all -----------------------------------------------------------------------------

@bp.get("/<int:integration_id>/bulk")
@login_required
def bulk_preview(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    filters = _filters()
    context = {"integration": integration, "filters": filters, "preview": preview_bulk(integration, filters),
               "form": EmptyForm()}
    template = "integrations/_bulk_preview.html" if request.htmx else "integrations/bulk_preview.html"
    return render_template(template, **context)


@bp.post("/<int:integration_id>/bulk")
@login_required
def bulk_start(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    _csrf_ok()
    run = start_bulk(integration, _filters(), current_user.email)
    if request.htmx:
        return render_template("integrations/_bulk_progress.html", integration=integration, run=run,
                               counts=progress(run))
    flash(_("Eksport zbiorczy uruchomiony."), "success")
    return redirect(url_for("integrations.bulk_run", integration_id=integration.id, run_id=run.id))


@bp.get("/<int:integration_id>/bulk/<int:run_id>")
@login_required
def bulk_run(integration_id: int, run_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    run = get_owned_or_404(BulkRun, run_id)
    if run.integration_id != integration.id:
        abort(404)
    template = "integrations/_bulk_progress.html" if request.htmx else "integrations/bulk_run.html"
    return render_template(template, integration=integration, run=run, counts=progress(run))


# --- journal and capability matrix ------------------------------------------------------------

@bp.get("/<int:integration_id>/journal")
@login_required
def journal(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    page = db.paginate(owned(JournalEntry).where(JournalEntry.integration_id == integration.id)
                       .order_by(JournalEntry.id.desc()), per_page=100, max_per_page=500, error_out=False)
    numbers = dict(db.session.execute(
        db.select(Document.id, Document.number).where(Document.id.in_({e.document_id for e in page.items}))
    ).all())
    return render_template("integrations/journal.html", integration=integration, page=page, numbers=numbers)


def feature_active(integration: Integration, feature: str) -> bool:
    """Green in the matrix: the feature is in use in this merchant's integration."""
    if feature == "sku":
        return integration.send_sku
    if feature == "numbering_series":
        return any((integration.series_links or {}).values())
    if feature == "payments":
        return bool(integration.payment_links)
    return True  # receipts and corrections are used as soon as the service is connected


@bp.get("/capabilities")
@login_required
def capabilities():
    integrations = db.session.scalars(owned(Integration).options(
        load_only(Integration.provider, Integration.send_sku, Integration.series_links, Integration.payment_links))).all()
    active: dict[str, set[str]] = {}
    for integration in integrations:
        cls = PROVIDERS[integration.provider]
        active.setdefault(integration.provider, set()).update(
            f for f in FEATURES if getattr(cls.capabilities, f) and feature_active(integration, f))
    return render_template("integrations/capabilities.html", providers=PROVIDERS, features=FEATURES, active=active)
