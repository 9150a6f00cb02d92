from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db, login_manager
from ..forms import EmptyForm
from ..i18n import LANGUAGES
from ..models import User
from . import throttle
from .forms import LoginForm

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id))


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: an open redirect after login is a phishing tool.
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.dashboard"))
    form = LoginForm()
    if form.validate_on_submit():
        email, address = form.email.data.strip().lower(), request.remote_addr or "-"
        blocked = throttle.seconds_blocked(email, address)
        if blocked:
            form.password.errors.append(
                _("Za dużo nieudanych prób logowania. Spróbuj ponownie za %(minutes)d min.",
                  minutes=blocked // 60 + 1))
            return render_template("auth/login.html", form=form), 429
        user = db.session.scalar(db.select(User).where(User.email == email))
        if user is None or not user.check_password(form.password.data):
            throttle.record_failure(email, address)
            form.password.errors.append(_("Nieprawidłowy e-mail lub hasło."))
        else:
            throttle.clear(email)
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    if EmptyForm().validate_on_submit():
        message = _("Wylogowano.")  # still in the language of the user who is leaving
        logout_user()
        flash(message, "info")
    return redirect(url_for("auth.login"))


@bp.post("/language")
@login_required
def set_language():
    """The top bar's language switcher: the choice is the user's, kept for every later visit."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    locale = request.form.get("locale", "")
    if locale not in LANGUAGES:
        abort(400)
    current_user.locale = locale
    db.session.commit()
    refresh()  # this response (the flash below) already speaks the new language
    flash(_("Język zmieniony."), "success")
    return redirect(_safe_next(request.form.get("next")))
