from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..exports.bulk import BulkFilters, preview_bulk, progress, start_bulk
from ..extensions import db
from ..forms import EmptyForm
from ..models import EXPORT_STATES, BulkRun, Document, Export, Integration, JournalEntry, Series
from ..tenancy import get_owned_or_404, owned

bp = Blueprint("integrations", __name__, url_prefix="/integrations")


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat(request.values.get(name, ""))
    except ValueError:
        return None


def _filters() -> BulkFilters:
    kind = request.values.get("kind") or None
    return BulkFilters(date_from=_date("from"), date_to=_date("to"),
                       series_id=request.values.get("series", type=int) or None,
                       kind=kind if kind in ("invoice", "receipt", "correction") else None)


@bp.get("/")
@login_required
def index():
    integrations = db.session.scalars(owned(Integration).order_by(Integration.id)).all()
    return render_template("integrations/index.html", integrations=integrations)


@bp.get("/<int:integration_id>")
@login_required
def module(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    state = request.args.get("state", "")
    query = owned(Export).where(Export.integration_id == integration.id)
    if state in EXPORT_STATES:
        query = query.where(Export.state == state)
    page = db.paginate(query.order_by(Export.id.desc()), per_page=50, max_per_page=200, error_out=False)
    series = db.session.scalars(owned(Series).order_by(Series.name)).all()
    return render_template("integrations/module.html", integration=integration, page=page, state=state,
                           states=EXPORT_STATES, series=series, form=EmptyForm())


@bp.get("/<int:integration_id>/bulk")
@login_required
def bulk_preview(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    filters = _filters()
    return render_template("integrations/bulk_preview.html", integration=integration, filters=filters,
                           preview=preview_bulk(integration, filters), form=EmptyForm())


@bp.post("/<int:integration_id>/bulk")
@login_required
def bulk_start(integration_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    run = start_bulk(integration, _filters(), current_user.email)
    flash("Eksport zbiorczy uruchomiony.", "success")
    return redirect(url_for("integrations.bulk_run", integration_id=integration.id, run_id=run.id))


@bp.get("/<int:integration_id>/bulk/<int:run_id>")
@login_required
def bulk_run(integration_id: int, run_id: int):
    integration = get_owned_or_404(Integration, integration_id)
    run = get_owned_or_404(BulkRun, run_id)
    if run.integration_id != integration.id:
        abort(404)
    return render_template("integrations/bulk_run.html", integration=integration, run=run, counts=progress(run))


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
