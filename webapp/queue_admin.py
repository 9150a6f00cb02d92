"""rq-dashboard mounted at /rq behind our login, for the merchant's admins only.

Its page posts actions (requeue, delete, empty) with jQuery and sends `X-CSRFToken` from a cookie
named `_csrf_token` when there is one (templates/rq_dashboard/scripts/dashboard.js): we set that
cookie, holding our CSRF token, on its pages (path /rq only), so CSRFProtect checks those posts as
it checks every other. On top of the token, a post whose Origin or Referer names another site is
refused, and the one action it also routes for GET (requeue all) answers 405 to a GET."""
from urllib.parse import urlsplit

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf

RQ_PREFIX = "/rq"
CSRF_COOKIE = "_csrf_token"  # the name rq-dashboard's script reads
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _foreign_origin() -> bool:
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return False  # the CSRF token still has to match
    parts = urlsplit(source)
    return (parts.scheme, parts.netloc) != (request.scheme, request.host)


def register_rq_dashboard(app: Flask) -> None:
    import rq_dashboard
    from rq_dashboard.web import setup_rq_connection

    from .redis_conn import redis_url_for

    for key in dir(rq_dashboard.default_settings):
        if key.isupper() and key != "RQ_DASHBOARD_REDIS_URL":
            app.config.setdefault(key, getattr(rq_dashboard.default_settings, key))

    @app.before_request
    def guard_rq_dashboard():
        if request.blueprint != "rq_dashboard":
            return None
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.path))
        if not current_user.is_admin:
            abort(403)
        if request.method not in SAFE_METHODS and _foreign_origin():
            abort(403)
        if request.endpoint == "rq_dashboard.requeue_all" and request.method in SAFE_METHODS:
            abort(405)  # a state change: POST only (its page posts it)
        if not hasattr(app, "redis_conn"):
            app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url_for(app)
            setup_rq_connection(app)
        return None

    @app.after_request
    def rq_dashboard_csp(response):
        # The dashboard's own page script is inline; this looser policy covers only /rq.
        if request.blueprint == "rq_dashboard":
            response.headers["Content-Security-Policy"] = (
                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
                "img-src 'self' data:; frame-ancestors 'none'")
            if current_user.is_authenticated and current_user.is_admin and response.mimetype == "text/html":
                response.set_cookie(CSRF_COOKIE, generate_csrf(), path=RQ_PREFIX, samesite="Strict",
                                    secure=app.config.get("SESSION_COOKIE_SECURE", False), httponly=False)
        return response

    app.register_blueprint(rq_dashboard.blueprint, url_prefix=RQ_PREFIX)
