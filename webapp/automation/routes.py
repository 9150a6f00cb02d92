from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..forms import EmptyForm
from ..models import AutomationRule, AutomationRun, EmailTemplate, OrderStatus, Series
from ..tenancy import current_merchant_id, get_owned_or_404, owned
from .rules import MAX_STEPS, RuleRefused, save_rule
from .services import ATTACH_CHOICES, STEP_LABELS

bp = Blueprint("automation", __name__, url_prefix="/automation")

TRIGGER_LABELS = {"new_order": _l("nowe zamówienie"), "status_changed": _l("zmiana statusu na…"),
                  "order_paid": _l("zamówienie opłacone")}


def _choices() -> dict:
    return {
        "statuses": db.session.scalars(owned(OrderStatus).order_by(OrderStatus.position)).all(),
        "series": db.session.scalars(owned(Series).where(Series.kind.in_(("invoice", "receipt"))).order_by(Series.name)).all(),
        "templates": db.session.scalars(owned(EmailTemplate).order_by(EmailTemplate.name)).all(),
        "trigger_labels": TRIGGER_LABELS, "step_labels": STEP_LABELS, "max_steps": MAX_STEPS,
        "attach_labels": ATTACH_CHOICES,
    }


@bp.get("/")
@login_required
def index():
    rules = db.session.scalars(owned(AutomationRule).order_by(AutomationRule.id)).all()
    runs = db.session.scalars(owned(AutomationRun).options(selectinload(AutomationRun.emails))
                             .order_by(AutomationRun.id.desc()).limit(30)).all()
    return render_template("automation/index.html", rules=rules, runs=runs, form=EmptyForm(), **_choices())


@bp.route("/new", methods=["GET", "POST"], defaults={"rule_id": None})
@bp.route("/<int:rule_id>", methods=["GET", "POST"])
@login_required
def edit(rule_id: int | None):
    rule = get_owned_or_404(AutomationRule, rule_id) if rule_id else None
    errors = {}
    if request.method == "POST":
        if not EmptyForm().validate_on_submit():
            abort(400)
        try:
            rule = save_rule(current_merchant_id(), rule, request.form)
        except RuleRefused as refused:
            errors = refused.errors
        else:
            flash(_("Reguła „%(name)s” zapisana.", name=rule.name), "success")
            return redirect(url_for("automation.index"))
    return render_template("automation/edit.html", rule=rule, errors=errors, form=EmptyForm(),
                           values=request.form if request.method == "POST" else None, **_choices())


@bp.post("/<int:rule_id>/delete")
@login_required
def delete(rule_id: int):
    rule = get_owned_or_404(AutomationRule, rule_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    rule.active = False  # runs keep pointing at it in the order logs
    db.session.commit()
    flash(_("Reguła „%(name)s” wyłączona.", name=rule.name), "success")
    return redirect(url_for("automation.index"))
