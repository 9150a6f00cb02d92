"""Invoice Bridge dashboard: the application factory."""
import logging
import os
import secrets
import warnings
from pathlib import Path

from flask import Flask, g, jsonify, render_template, request
from sqlalchemy import exc as sa_exc

from .config import build_config
from .extensions import csrf, db, htmx, login_manager, migrate
from .i18n import init_i18n

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# SQLite keeps NUMERIC as REAL; amounts are quantised back to their scale on read, which is exact
# for any amount an invoice can carry (15 significant digits).
warnings.filterwarnings("ignore", category=sa_exc.SAWarning, message=".*does \\*not\\* support Decimal.*")


def create_app(config: dict | None = None) -> Flask:
    instance_path = (config or {}).get("INSTANCE_PATH") or os.environ.get("INSTANCE_PATH") or PROJECT_ROOT / "instance"
    instance_path = Path(instance_path).resolve()
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(build_config(instance_path))
    if config:
        app.config.update(config)
    logging.basicConfig(level=app.config["LOG_LEVEL"])
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # fpdf2 font subsetting is chatty

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    init_i18n(app)

    from . import models  # noqa: F401  (registers the tables with SQLAlchemy)
    from .api.routes import bp as api_bp
    from .auth.routes import bp as auth_bp
    from .automation.routes import bp as automation_bp
    from .delivery.routes import bp as delivery_bp
    from .documents.routes import bp as documents_bp
    from .integrations.routes import bp as integrations_bp
    from .main.routes import bp as main_bp
    from .orders.routes import bp as orders_bp
    from .public.routes import bp as public_bp
    from .settings.routes import bp as settings_bp

    for blueprint in (auth_bp, main_bp, orders_bp, documents_bp, integrations_bp, automation_bp, delivery_bp,
                      settings_bp, public_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)  # the API authenticates with a bearer token, not a session cookie
    app.register_blueprint(api_bp)

    from .cli import register_cli
    from .queue_admin import register_rq_dashboard

    register_rq_dashboard(app)
    from .documents.totals import document_totals

    # The order's totals by the same rule as an issued document (the list and the card show them).
    app.jinja_env.globals["order_totals"] = lambda order: document_totals(order.items)

    register_cli(app)
    _register_security_headers(app)
    _register_error_pages(app)
    return app


def _csp_nonce() -> str:
    """A per-response nonce for the one inline <style> of standalone pages (the print view)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _register_security_headers(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = _csp_nonce

    @app.after_request
    def security_headers(response):
        style_src = "'self'" + (f" 'nonce-{g.csp_nonce}'" if "csp_nonce" in g else "")
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src 'self'; style-src {style_src}; img-src 'self' data:; "
            "frame-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
            # Only PDFs may be framed, and only by our own order card (the invoice preview).
            + ("frame-ancestors 'self'" if response.mimetype == "application/pdf" else "frame-ancestors 'none'"),
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _register_error_pages(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        if _wants_json():
            return jsonify(error="csrf", message=error.description), 400
        return render_template("error.html", code=400, message="Formularz wygasł lub brak tokenu CSRF. Odśwież stronę i spróbuj ponownie."), 400

    for code, message in (
        (400, "Nieprawidłowe żądanie."),
        (403, "Brak dostępu."),
        (404, "Nie znaleziono."),
        (405, "Niedozwolona metoda."),
        (413, "Plik jest za duży."),
        (500, "Wystąpił błąd. Spróbuj ponownie; jeśli się powtarza, sprawdź dziennik serwera."),
    ):
        app.register_error_handler(code, _error_handler(code, message))


def _error_handler(code: int, message: str):
    def handler(error):
        if _wants_json():
            return jsonify(error=code, message=message), code
        return render_template("error.html", code=code, message=message), code

    return handler
