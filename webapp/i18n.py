"""The dashboard in Polish and English (Flask-Babel).

Polish is the product's primary language: the Polish text in the code *is* the message id, and only
an English catalog exists (`webapp/translations/en`). A Polish page therefore renders the msgids as
they are, with or without a catalog. `make i18n` extracts, updates and compiles the catalog.

Not translated on purpose: printed documents (legal Polish invoices), e-mail templates stored in the
database, the API's answers (a documented contract for shops), messages that come from the
accounting services, and what jobs write into journals and run logs (read later, by anyone).
"""
from flask import Flask, has_request_context, request
from flask_babel import Babel, get_locale, gettext, refresh
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from .extensions import login_manager

DEFAULT_LOCALE = "pl"
LANGUAGES = {"pl": "Polski", "en": "English"}  # each in its own language: the switcher's labels

babel = Babel()


def N_(message: str) -> str:
    """Mark a msgid for extraction where it is translated later, at the point it is shown."""
    return message


# Passed untranslated by the app factory's error handlers (translated by error.html's `translated`
# filter) and by Flask-Login (its "log in first" flash, translated by `localize_callback`).
DEFERRED_MSGIDS = (
    N_("Formularz wygasł lub brak tokenu CSRF. Odśwież stronę i spróbuj ponownie."),
    N_("Nieprawidłowe żądanie."),
    N_("Brak dostępu."),
    N_("Nie znaleziono."),
    N_("Niedozwolona metoda."),
    N_("Plik jest za duży."),
    N_("Wystąpił błąd. Spróbuj ponownie; jeśli się powtarza, sprawdź dziennik serwera."),
    N_("Zaloguj się, aby zobaczyć tę stronę."),
)

# Document kinds as the lists name them (the document's own title stays the Polish legal one).
KIND_LABELS = {"invoice": _l("Faktura VAT"), "receipt": _l("Paragon"), "correction": _l("Faktura korygująca")}


def select_locale() -> str:
    """The signed-in user's language; otherwise the browser's best match; Polish by default."""
    if not has_request_context() or request.path.startswith("/api/"):
        return DEFAULT_LOCALE  # jobs, CLI and the API speak Polish whoever triggered them
    if current_user.is_authenticated:
        return current_user.locale if current_user.locale in LANGUAGES else DEFAULT_LOCALE
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LOCALE)


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LOCALE


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")  # relative to webapp/
    babel.init_app(app, locale_selector=select_locale)
    login_manager.localize_callback = gettext
    app.jinja_env.globals.update(current_language=current_language, LANGUAGES=LANGUAGES,
                                 KIND_LABELS=KIND_LABELS)
    # A msgid held in a variable (the error pages' messages). Unlike Jinja's `_()`, which marks its
    # result safe, this returns a plain string, so the template escapes it.
    app.jinja_env.filters["translated"] = gettext

    # Flask-Babel caches the locale on `g`, which lives as long as the app context; forget it at
    # both ends of each request so one request's language never leaks into the next request or
    # into work done later in the same app context (as tests do), which must speak Polish.
    @app.before_request
    def _forget_locale_before():
        refresh()

    @app.teardown_request
    def _forget_locale_after(_error=None):
        refresh()
