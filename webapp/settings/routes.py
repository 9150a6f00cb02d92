from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..extensions import db
from ..forms import EmptyForm
from ..models import ApiToken, Merchant, OrderStatus, Series
from ..tenancy import current_merchant_id, get_owned_or_404, owned
from .forms import MerchantForm, SeriesForm, StatusForm, TokenForm
from .services import (
    SettingRefused,
    add_status,
    create_api_token,
    delete_status,
    move_status,
    normalise_logo,
    rename_status,
    revoke_api_token,
    save_series,
)

bp = Blueprint("settings", __name__, url_prefix="/settings")

MAX_LOGO_BYTES = 500 * 1024


@bp.route("/", methods=["GET", "POST"])
@login_required
def merchant():
    merchant = db.session.get(Merchant, current_merchant_id())
    form = MerchantForm(obj=merchant)
    if form.validate_on_submit():
        logo = form.logo.data.read() if form.logo.data else None
        if logo is not None and len(logo) > MAX_LOGO_BYTES:
            form.logo.errors.append(_("Logo może mieć najwyżej 500 kB."))
        elif logo:
            try:
                logo = normalise_logo(logo)
            except SettingRefused as refused:
                form.logo.errors.append(refused.message)
        if not form.logo.errors:
            for field in ("company_name", "tax_id", "street", "post_code", "city", "bank_account", "email", "phone",
                          "place_of_issue"):
                setattr(merchant, field, (getattr(form, field).data or "").strip())
            merchant.country = form.country.data.upper()
            if logo:
                merchant.logo_png = logo
            db.session.commit()
            flash(_("Dane sprzedawcy zapisane. Nowe dokumenty będą je zawierać."), "success")
            return redirect(url_for("settings.merchant"))
    return render_template("settings/merchant.html", form=form)


@bp.route("/statuses", methods=["GET", "POST"])
@login_required
def statuses():
    form = StatusForm()
    if form.validate_on_submit():
        try:
            add_status(current_merchant_id(), form.name.data)
        except SettingRefused as refused:
            form.name.errors.append(refused.message)
        else:
            flash(_("Status dodany."), "success")
            return redirect(url_for("settings.statuses"))
    rows = db.session.scalars(owned(OrderStatus).order_by(OrderStatus.position)).all()
    return render_template("settings/statuses.html", form=form, statuses=rows, delete_form=EmptyForm())


@bp.post("/statuses/<int:status_id>/rename")
@login_required
def rename_status_view(status_id: int):
    status = get_owned_or_404(OrderStatus, status_id)
    form = StatusForm()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            abort(400)
        flash(" ".join(str(e) for e in form.name.errors), "error")
        return redirect(url_for("settings.statuses"))
    old_name = status.name
    try:
        rename_status(status, form.name.data)
    except SettingRefused as refused:
        flash(refused.message, "error")
    else:
        flash(_("Status „%(old)s” nazywa się teraz „%(new)s”.", old=old_name, new=status.name), "success")
    return redirect(url_for("settings.statuses"))


@bp.post("/statuses/<int:status_id>/move")
@login_required
def move_status_view(status_id: int):
    status = get_owned_or_404(OrderStatus, status_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        move_status(status, request.form.get("direction", ""))
    except SettingRefused as refused:
        flash(refused.message, "error")
    return redirect(url_for("settings.statuses"))


@bp.post("/statuses/<int:status_id>/delete")
@login_required
def delete_status_view(status_id: int):
    status = get_owned_or_404(OrderStatus, status_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        delete_status(status)
    except SettingRefused as refused:
        flash(refused.message, "error")
    else:
        flash(_("Status usunięty."), "success")
    return redirect(url_for("settings.statuses"))


@bp.get("/series")
@login_required
def series_list():
    rows = db.session.scalars(owned(Series).order_by(Series.kind, Series.name)).all()
    return render_template("settings/series_list.html", series=rows)


@bp.route("/series/new", methods=["GET", "POST"], defaults={"series_id": None})
@bp.route("/series/<int:series_id>", methods=["GET", "POST"])
@login_required
def series_edit(series_id: int | None):
    series = get_owned_or_404(Series, series_id) if series_id else None
    form = SeriesForm(obj=series)
    if form.validate_on_submit():
        try:
            save_series(current_merchant_id(), series, form.data)
        except SettingRefused as refused:
            getattr(form, refused.field).errors.append(refused.message)
        else:
            flash(_("Seria zapisana."), "success")
            return redirect(url_for("settings.series_list"))
    return render_template("settings/series_edit.html", form=form, series=series)


@bp.route("/api-tokens", methods=["GET", "POST"])
@login_required
def api_tokens():
    form = TokenForm()
    new_token = None
    if form.validate_on_submit():
        # Shown once, in this response only: never in the (signed, readable) session cookie.
        new_token = create_api_token(current_merchant_id(), form.name.data)
        form = TokenForm(formdata=None)
    tokens = db.session.scalars(owned(ApiToken).order_by(ApiToken.id.desc())).all()
    response = make_response(render_template("settings/api_tokens.html", form=form, tokens=tokens,
                                              new_token=new_token, revoke_form=EmptyForm()))
    if new_token:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/api-tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    token = get_owned_or_404(ApiToken, token_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    revoke_api_token(token)
    flash(_("Token „%(name)s” unieważniony.", name=token.name), "success")
    return redirect(url_for("settings.api_tokens"))
