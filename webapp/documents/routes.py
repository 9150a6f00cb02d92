from datetime import date, timedelta

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from providers import PROVIDERS

from ..exports.services import (
    ExportRefused,
    export_document,
    export_targets,
    integration_for,
    preflight,
)
from ..extensions import db
from ..forms import EmptyForm
from ..models import DOCUMENT_KINDS, Document, Integration, JournalEntry, Series, utcnow
from ..orders.intake import parse_decimal
from ..tenancy import get_owned_or_404, owned
from .services import IssueRefused, LineChange, issue_correction, latest_state, preview_correction
from .views import printable_for, shows_service_copy

bp = Blueprint("documents", __name__, url_prefix="/documents")
bp.add_app_template_global(shows_service_copy)  # the cards link the PDF the customer gets


def _date_arg(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/")
@login_required
def index():
    query = owned(Document)
    kind = request.args.get("kind", "")
    series_id = request.args.get("series", type=int)
    date_from, date_to = _date_arg("from"), _date_arg("to")
    if kind in DOCUMENT_KINDS:
        query = query.where(Document.kind == kind)
    if series_id:
        query = query.where(Document.series_id == series_id)
    if date_from:
        query = query.where(Document.issue_date >= date_from)
    if date_to:
        query = query.where(Document.issue_date <= date_to)
    page = db.paginate(query.order_by(Document.issue_date.desc(), Document.id.desc()),
                       per_page=50, max_per_page=200, error_out=False)
    series = db.session.scalars(owned(Series).order_by(Series.name)).all()
    return render_template("documents/index.html", page=page, series=series,
                           filters={"kind": kind, "series": series_id, "from": date_from, "to": date_to})


@bp.get("/<int:document_id>")
@login_required
def card(document_id: int):
    document = get_owned_or_404(Document, document_id)
    corrections = db.session.scalars(
        owned(Document).where(Document.corrects_id == document.id).order_by(Document.id)
    ).all()
    journal = db.session.scalars(
        db.select(JournalEntry).where(JournalEntry.document_id == document.id,
                                      JournalEntry.merchant_id == document.merchant_id)
        .order_by(JournalEntry.id.desc()).limit(50)
    ).all()
    export = document.export
    targets = export_targets(document) if export is None else []
    chosen = integration_for(document, request.args.get("integration", type=int), targets=targets) if targets else None
    if chosen is None and targets:
        chosen = integration_for(document, targets=targets)
    problems = preflight(document, chosen) if chosen is not None else []
    stale = bool(export and export.state == "fetched" and export.fetched_at and
                 utcnow() - export.fetched_at > timedelta(seconds=current_app.config.get("SERVICE_COPY_STALE_AFTER", 3600)))
    return render_template("documents/card.html", document=document, printable=printable_for(document),
                           corrections=corrections, form=EmptyForm(), journal=journal, stale=stale,
                           problems=problems, targets=targets, chosen=chosen,
                           chosen_capabilities=PROVIDERS[chosen.provider].capabilities if chosen else None,
                           chosen_provider_name=PROVIDERS[chosen.provider].display_name if chosen else "")


@bp.get("/<int:document_id>/service.pdf")
@login_required
def service_pdf(document_id: int):
    """The accounting service's copy, once fetched back."""
    document = get_owned_or_404(Document, document_id)
    export = document.export
    if export is None or not export.pdf:
        abort(404)
    filename = (export.remote_number or document.number).replace("/", "_") + ".pdf"
    disposition = "attachment" if request.args.get("download") else "inline"
    return Response(export.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"'})


@bp.get("/<int:document_id>/print-pdf")
@login_required
def print_pdf(document_id: int):
    """The PDF the customer gets (service's or hub's), opened in the print dialog."""
    document = get_owned_or_404(Document, document_id)
    endpoint = "documents.service_pdf" if shows_service_copy(document) else "documents.pdf"
    return render_template("documents/print_pdf.html", document=document,
                           pdf_url=url_for(endpoint, document_id=document.id))


@bp.post("/<int:document_id>/export")
@login_required
def export(document_id: int):
    """Pass a document that has no export yet to one of the merchant's integrations: the one
    chosen on the card (`integration`, another merchant's answers 404), else the default one."""
    document = get_owned_or_404(Document, document_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    integration_id = request.form.get("integration", type=int)
    integration = get_owned_or_404(Integration, integration_id) if integration_id else integration_for(document)
    try:
        if integration is None:
            raise ExportRefused(_("Wybierz integrację, do której przekazać dokument.") if export_targets(document)
                                else _("Najpierw połącz usługę księgową w zakładce Integracje."))
        export_document(document, integration, f"użytkownik {current_user.email}")
    except ExportRefused as refused:
        db.session.rollback()
        flash(refused.message + "".join(f" {p.message}" for p in refused.problems), "error")
    else:
        flash(_("Eksport zlecony."), "success")
    return redirect(url_for("documents.card", document_id=document.id))


@bp.get("/<int:document_id>/print")
@login_required
def print_view(document_id: int):
    document = get_owned_or_404(Document, document_id)
    return render_template("documents/print.html", doc=printable_for(document))


@bp.get("/<int:document_id>/pdf")
@login_required
def pdf(document_id: int):
    document = get_owned_or_404(Document, document_id)
    filename = document.number.replace("/", "_") + ".pdf"
    disposition = "attachment" if request.args.get("download") else "inline"
    from .pdf import render_pdf  # fpdf2 loads lazily: workers that never draw a PDF start faster

    return Response(render_pdf(printable_for(document)), mimetype="application/pdf",
                    headers={"Content-Disposition": f'{disposition}; filename="{filename}"'})


@bp.route("/<int:document_id>/correct", methods=["GET", "POST"])
@login_required
def correct(document_id: int):
    invoice = get_owned_or_404(Document, document_id)
    if invoice.kind != "invoice":
        abort(404)
    form = EmptyForm()
    base = latest_state(invoice)
    errors: dict[str, str] = {}
    preview = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        changes = []
        for index, line in enumerate(base):
            removed = request.form.get(f"lines[{index}].removed") == "on"
            quantity = parse_decimal(request.form.get(f"lines[{index}].quantity", ""))
            unit_gross = parse_decimal(request.form.get(f"lines[{index}].unit_gross", ""))
            if quantity is None and not removed:
                errors[f"lines[{index}].quantity"] = _("Podaj ilość (liczba).")
            if unit_gross is None and not removed:
                errors[f"lines[{index}].unit_gross"] = _("Podaj cenę brutto (liczba).")
            # 0 is a value (a line returned in full, a price cut to nothing): only a missing one falls back.
            changes.append(LineChange(index, line.quantity if quantity is None else quantity,
                                      line.unit_gross if unit_gross is None else unit_gross, removed))
        if not errors and request.form.get("preview"):
            preview = preview_correction(invoice, changes, request.form.get("reason", ""))
        elif not errors:
            try:
                correction = issue_correction(invoice, changes, request.form.get("reason", ""),
                                              series_id=request.form.get("series_id", type=int),
                                              user_id=current_user.id)
            except IssueRefused as refused:
                errors[refused.field or "form"] = refused.message
            else:
                flash(_("Wystawiono korektę %(number)s.", number=correction.number), "success")
                return redirect(url_for("documents.card", document_id=correction.id))
    series = db.session.scalars(owned(Series).where(Series.kind == "correction").order_by(Series.name)).all()
    return render_template("documents/correct.html", invoice=invoice, lines=base, series=series, form=form,
                           errors=errors, values=request.form, preview=preview)
