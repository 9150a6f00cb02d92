from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import or_
from sqlalchemy.orm import selectinload

from ..delivery.mail import MailRefused, customer_document, queue_email
from ..documents.services import IssueRefused, issue_document
from ..documents.views import shows_service_copy
from ..extensions import db
from ..forms import EmptyForm
from ..integrations.services import EXPORT_STATUS_COLUMNS
from ..models import AutomationRun, Document, EmailLog, EmailTemplate, Order, OrderStatus, Series
from ..tenancy import current_merchant_id, get_owned_or_404, owned
from .services import (
    CSV_COLUMNS,
    OrderRejected,
    change_status,
    create_order,
    distinct_values,
    import_orders_csv,
    mark_paid,
    orders_gross,
    parse_paid_date,
    seek_page,
)

bp = Blueprint("orders", __name__, url_prefix="/orders")


def _statuses():
    return db.session.scalars(owned(OrderStatus).order_by(OrderStatus.position)).all()


def _series(kind: str | None = None):
    query = owned(Series).order_by(Series.kind, Series.name)
    if kind:
        query = query.where(Series.kind == kind)
    return db.session.scalars(query).all()


@bp.get("/")
@login_required
def index():
    merchant_id = current_merchant_id()
    statuses = _statuses()
    query = owned(Order)
    status_id = request.args.get("status", type=int)
    source = request.args.get("source", "").strip()
    search = request.args.get("q", "").strip()[:100]
    if status_id:
        query = query.where(Order.status_id == status_id)
    if source:
        query = query.where(Order.source == source)
    if search:
        like = f"%{search}%"
        query = query.where(or_(Order.shop_order_id.ilike(like), Order.buyer_name.ilike(like),
                                Order.buyer_company_name.ilike(like), Order.buyer_email.ilike(like)))
    # Newest first, a page at a time after (or before) a cursor order; the documents with their
    # exports in one query whatever the page size (of those, only the columns the list shows).
    page = seek_page(
        query.options(selectinload(Order.documents).load_only(Document.id, Document.order_id, Document.number)
                      .joinedload(Document.export).load_only(*EXPORT_STATUS_COLUMNS)),
        (Order.ordered_at, Order.id),
        lambda order_id: (db.select(Order.ordered_at).where(Order.merchant_id == merchant_id, Order.id == order_id)
                          .scalar_subquery(), order_id),
        per_page=max(1, min(request.args.get("per_page", type=int) or current_app.config["ORDERS_PER_PAGE"], 200)),
        after=request.args.get("after", type=int), before=request.args.get("before", type=int),
        page=request.args.get("page", type=int), narrow=query.with_only_columns(Order.id))
    # Each row names its status from the filter's list (no load per order).
    return render_template("orders/index.html", page=page, statuses=statuses,
                           status_names={status.id: status.name for status in statuses},
                           gross=orders_gross([order.id for order in page.items]),
                           sources=distinct_values(Order, "source", merchant_id=merchant_id),
                           filters={"status": status_id, "source": source, "q": search}, form=EmptyForm())


@bp.get("/<int:order_id>")
@login_required
def card(order_id: int):
    order = get_owned_or_404(Order, order_id)
    preview = customer_document(order)
    return render_template(
        "orders/card.html", order=order, statuses=_statuses(), invoice_series=_series("invoice"),
        receipt_series=_series("receipt"), form=EmptyForm(), preview=preview,
        today_iso=datetime.now(ZoneInfo("Europe/Warsaw")).date().isoformat(),
        preview_is_service=bool(preview and shows_service_copy(preview)),
        templates=db.session.scalars(owned(EmailTemplate).order_by(EmailTemplate.name)).all(),
        emails=db.session.scalars(owned(EmailLog).where(EmailLog.order_id == order.id).order_by(EmailLog.id.desc())).all(),
        runs=db.session.scalars(owned(AutomationRun).options(selectinload(AutomationRun.emails))
                                .where(AutomationRun.order_id == order.id)
                                .order_by(AutomationRun.id.desc())).all())


@bp.post("/<int:order_id>/issue")
@login_required
def issue(order_id: int):
    order = get_owned_or_404(Order, order_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    kind = request.form.get("kind", "invoice")
    try:
        document = issue_document(order, kind, series_id=request.form.get("series_id", type=int),
                                  user_id=current_user.id, trigger=f"użytkownik {current_user.email}")
    except IssueRefused as refused:
        flash(refused.message, "error")
        return redirect(url_for("orders.card", order_id=order.id))
    flash(_("Wystawiono: %(title)s %(number)s.", title=document.title, number=document.number), "success")
    return redirect(url_for("documents.card", document_id=document.id))


@bp.post("/<int:order_id>/email")
@login_required
def send_email(order_id: int):
    order = get_owned_or_404(Order, order_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    template = get_owned_or_404(EmailTemplate, request.form.get("template_id", type=int) or 0)
    try:
        log = queue_email(order, template, trigger=f"użytkownik {current_user.email}")
    except MailRefused as refused:
        flash(refused.message, "error")
    else:
        flash(_("E-mail „%(subject)s” do %(recipient)s w kolejce do wysłania.", subject=log.subject,
                recipient=log.recipient), "success")
    return redirect(url_for("orders.card", order_id=order.id))


@bp.post("/<int:order_id>/status")
@login_required
def set_status(order_id: int):
    order = get_owned_or_404(Order, order_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        status = change_status(order, request.form.get("status_id", type=int) or 0)
    except OrderRejected as rejected:
        flash(rejected.errors["status"], "error")
    else:
        flash(_("Status zmieniony na „%(status)s”.", status=status.name), "success")
    return redirect(url_for("orders.card", order_id=order.id))


@bp.post("/<int:order_id>/paid")
@login_required
def set_paid(order_id: int):
    order = get_owned_or_404(Order, order_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    paid_date, errors = parse_paid_date(request.form.get("paid_date"))
    if errors:
        flash(errors["paid_date"], "error")
    elif mark_paid(order, paid_date):
        flash(_("Zamówienie oznaczone jako opłacone (%(date)s).", date=paid_date.isoformat()), "success")
    else:
        flash(_("Zamówienie było już opłacone."), "info")
    return redirect(url_for("orders.card", order_id=order.id))


@bp.post("/bulk-issue")
@login_required
def bulk_issue():
    if not EmptyForm().validate_on_submit():
        abort(400)
    kind = request.form.get("kind", "invoice")
    ids = [int(i) for i in request.form.getlist("order_ids") if i.isdecimal()][:500]
    if not ids:
        flash(_("Zaznacz zamówienia na liście."), "error")
        return redirect(url_for("orders.index"))
    orders = db.session.scalars(owned(Order).where(Order.id.in_(ids)).order_by(Order.id)).all()
    issued, refused = [], []
    for order in orders:
        try:
            issued.append(issue_document(order, kind, series_id=request.form.get("series_id", type=int),
                                         user_id=current_user.id,
                                         trigger=f"wystawianie zbiorcze, {current_user.email}").number)
        except IssueRefused as error:
            refused.append(f"{order.source} #{order.shop_order_id}: {error.message}")
    if issued:
        numbers = ", ".join(issued[:20]) + ("…" if len(issued) > 20 else "")
        flash(ngettext("Wystawiono %(num)d: %(numbers)s", "Wystawiono %(num)d: %(numbers)s", len(issued),
                       numbers=numbers), "success")
    for line in refused[:20]:
        flash(line, "error")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url)
                    else url_for("orders.index"))


def _payload_from_form(form) -> dict:
    """Rebuild the API's JSON shape from the manual form's field names (`buyer.tax_id`,
    `items[0].quantity`), so the form is validated by exactly the rules the API uses."""
    payload: dict = {"buyer": {}, "payment": {}, "items": []}
    items: dict[int, dict] = {}
    for key, value in form.items():
        if key == "csrf_token":
            continue
        if key.startswith("items["):
            index, _sep, name = key.removeprefix("items[").partition("].")
            if index.isdecimal() and int(index) < 1000:
                items.setdefault(int(index), {})[name] = value
        elif "." in key:
            group, _sep, name = key.partition(".")
            if group in ("buyer", "payment", "shipping"):
                payload.setdefault(group, {})[name] = value
        else:
            payload[key] = value
    payload["items"] = [items[i] for i in sorted(items) if any(v.strip() for v in items[i].values())]
    payload["payment"]["paid"] = "payment.paid" in form
    if not any((payload.get("shipping") or {}).get(k) for k in ("gross",)):
        payload.pop("shipping", None)
    return payload


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = EmptyForm()
    values, errors = {"source": "Ręcznie", "buyer.country": "PL", "currency": "PLN"}, {}
    if request.method == "POST":
        values = request.form.to_dict()
        if not form.validate_on_submit():
            abort(400)
        try:
            order, created = create_order(current_merchant_id(), _payload_from_form(request.form))
        except OrderRejected as rejected:
            errors = rejected.errors
        else:
            flash(_("Zamówienie zapisane.") if created else _("To zamówienie już istnieje (źródło i numer)."),
                  "success" if created else "info")
            return redirect(url_for("orders.card", order_id=order.id))
    item_rows = max(3, 1 + max((int(k[6:k.index("]")]) for k in values if k.startswith("items[")), default=0))
    return render_template("orders/new.html", form=form, values=values, errors=errors, item_rows=item_rows,
                           statuses=_statuses())


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_csv():
    form = EmptyForm()
    report = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(_("Wybierz plik CSV."), "error")
        else:
            report = import_orders_csv(current_merchant_id(), upload.read())
    return render_template("orders/import.html", form=form, report=report, columns=CSV_COLUMNS)


@bp.get("/import/template.csv")
@login_required
def csv_template():
    sample = ",".join(CSV_COLUMNS) + "\n" + "Mój sklep,1001,2026-11-20T10:00:00+01:00,,company,Jan Kowalski,Firma Łąka Sp. z o.o.,5260250274,ul. Żółta 1,00-001,Warszawa,PL,jan@example.com,,PLN,,Przelew,tak,2026-11-20,Kubek ceramiczny,KUB-01,,2,39.99,23,15.00,23" + "\n"
    return Response(sample, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": "attachment; filename=zamowienia-wzor.csv"})

