"""rq-dashboard mounted at /rq behind our login, for the merchant's admins only."""
from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user


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
        return response

    app.register_blueprint(rq_dashboard.blueprint, url_prefix="/rq")
