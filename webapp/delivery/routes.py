"""Settings → E-mail (mail server, templates, test send), webhooks, the demo mail sink."""
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..extensions import db
from ..forms import EmptyForm
from ..integrations.services import run_inline
from ..mail_sink import caught_messages
from ..models import EmailTemplate, Webhook, WebhookDelivery
from ..tenancy import current_merchant_id, get_owned_or_404, owned
from .mail import DEFAULT_BODY, DEFAULT_SUBJECT, TAGS, send_test_job
from .services import SettingsRefused, add_webhook, mail_settings, save_mail_settings, save_template

bp = Blueprint("delivery", __name__, url_prefix="/delivery")


def _csrf_ok() -> None:
    if not EmptyForm().validate_on_submit():
        abort(400)


@bp.route("/mail", methods=["GET", "POST"])
@login_required
def mail():
    settings = mail_settings(current_merchant_id())
    errors, values = {}, {}
    if request.method == "POST":
        _csrf_ok()
        values = request.form.to_dict()
        values.pop("password", None)
        try:
            settings = save_mail_settings(current_merchant_id(), request.form.to_dict())
        except SettingsRefused as refused:
            errors = refused.errors
        else:
            if request.form.get("test"):
                result = run_inline(send_test_job, current_merchant_id(), current_user.email)
                flash(result["message"], "success" if result["ok"] else "error")
            else:
                flash(_("Ustawienia poczty zapisane."), "success")
            return redirect(url_for("delivery.mail"))
    templates = db.session.scalars(owned(EmailTemplate).order_by(EmailTemplate.name)).all()
    return render_template("delivery/mail.html", settings=settings, errors=errors, values=values,
                           templates=templates, form=EmptyForm())


@bp.route("/templates/new", methods=["GET", "POST"], defaults={"template_id": None})
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@login_required
def template_edit(template_id: int | None):
    template = get_owned_or_404(EmailTemplate, template_id) if template_id else None
    errors = {}
    values = {"name": template.name, "subject": template.subject, "body": template.body,
              "attach_pdf": "on" if template.attach_pdf else ""} if template else \
        {"name": "", "subject": DEFAULT_SUBJECT, "body": DEFAULT_BODY, "attach_pdf": ""}
    if request.method == "POST":
        _csrf_ok()
        values = request.form.to_dict()
        try:
            save_template(current_merchant_id(), template, values)
        except SettingsRefused as refused:
            errors = refused.errors
        else:
            flash(_("Szablon zapisany."), "success")
            return redirect(url_for("delivery.mail"))
    return render_template("delivery/template_edit.html", template=template, values=values, errors=errors,
                           tags=TAGS, form=EmptyForm())


@bp.route("/webhooks", methods=["GET", "POST"])
@login_required
def webhooks():
    errors = {}
    if request.method == "POST":
        _csrf_ok()
        try:
            _hook, secret = add_webhook(current_merchant_id(), request.form.get("url", ""))
        except SettingsRefused as refused:
            errors = refused.errors
        else:
            session["new_webhook_secret"] = secret
            return redirect(url_for("delivery.webhooks"))
    hooks = db.session.scalars(owned(Webhook).order_by(Webhook.id)).all()
    deliveries = db.session.scalars(owned(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(50)).all()
    return render_template("delivery/webhooks.html", hooks=hooks, deliveries=deliveries, errors=errors,
                           new_secret=session.pop("new_webhook_secret", None), form=EmptyForm())


@bp.post("/webhooks/<int:webhook_id>/toggle")
@login_required
def webhook_toggle(webhook_id: int):
    hook = get_owned_or_404(Webhook, webhook_id)
    _csrf_ok()
    hook.active = not hook.active
    db.session.commit()
    return redirect(url_for("delivery.webhooks"))


@bp.get("/mail-sink")
@login_required
def mail_sink():
    if not current_app.config.get("DEMO_MODE"):
        abort(404)
    return render_template("delivery/mail_sink.html", messages=caught_messages(current_app.instance_path))
