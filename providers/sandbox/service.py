"""What every emulated service shares: the runtime and the request guard.

An emulator subclasses ``EmulatedService``, builds a blueprint and is mounted at
``/<name>``. ``mount`` wraps its views in one guard that counts the request,
applies the configured faults (concurrency cap, latency, auth failure, write
limit, reset, 429, 5xx, hold after store) and records the response, so each
emulator only writes the service's own behaviour.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import Blueprint, Flask, Response, g, jsonify, request

from .connection import RESET_FLAG
from .faults import FaultBook, Stats, retry_after_header
from .store import Account, Store, Transaction

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class SandboxRuntime:
    store: Store
    faults: FaultBook
    stats: Stats
    services: dict[str, EmulatedService] = field(default_factory=dict)

    def reset(self) -> None:
        """Wipe documents, accounts, faults and counters; re-create the demo accounts."""
        with self.store.transaction() as tx:
            tx.wipe()
            for service in self.services.values():
                service.ensure_demo_accounts(tx)
        self.faults.clear()
        self.stats.clear()


@dataclass
class GuardedCall:
    """Per-request bookkeeping of the guard, kept on ``flask.g``."""

    service: str
    account: str
    is_write: bool
    hold_seconds: float = 0.0
    reset: bool = False


class EmulatedService:
    """Base class of one emulated accounting service."""

    name: str = ""
    #: collection holding the service's sales documents (counted in stats, listed by inspection)
    document_collection: str = "documents"
    #: endpoints (blueprint-local names) reachable without credentials, e.g. public invoice links
    public_endpoints: frozenset[str] = frozenset()
    #: accounts that exist from the start and survive /_sandbox/reset: (account, api_token)
    demo_accounts: tuple[tuple[str, str], ...] = ()

    def __init__(self, runtime: SandboxRuntime):
        self.runtime = runtime

    # -- to be provided by each emulator --------------------------------
    def build_blueprint(self) -> Blueprint:
        raise NotImplementedError

    def account_key(self) -> str:
        """Which account this request is for (used for stats and per-account faults)."""
        return g.get("sandbox_account", "-")

    def is_write_request(self) -> bool:
        """Whether this request may store something (write limit, hold after store, stats).
        A service with one endpoint for everything decides from the request's content."""
        return request.method in WRITE_METHODS

    def authenticate(self) -> Response | None:
        """Return an error response when the request's credentials are not good."""
        return None

    def seed_account(self, tx: Transaction, account: Account) -> None:
        """Create the starting data of a new account (departments, products, ...)."""

    def check_account_options(self, options: dict) -> str | None:
        """Why these per-account options are not acceptable, or None."""
        return None if not options else "this service takes no account options"

    def inspect_documents(self, account: str | None, args) -> list[dict]:
        """Stored documents for ``GET /_sandbox/<service>/documents`` (``account=None``: all accounts),
        rendered as the service's API would return them. Must not change any state."""
        with self.runtime.store.transaction(write=False) as tx:
            return tx.select(self.name, account, self.document_collection)

    # -- error bodies (override to mimic the service) -------------------
    def error_response(self, message, status: int) -> Response:
        """The service's JSON error envelope."""
        return _json({"error": message}, status)

    def unauthorized(self) -> Response:
        return self.error_response("unauthorized", 401)

    def throttled(self, retry_after: float) -> Response:
        response = self.error_response("Too many requests", 429)
        response.headers["Retry-After"] = retry_after_header(retry_after)
        return response

    def server_error(self, status: int) -> Response:
        # Real 5xx pages usually come from a proxy or framework, not the API: HTML, not JSON.
        titles = {
            500: "We're sorry, but something went wrong.",
            502: "502 Bad Gateway",
            503: "503 Service Temporarily Unavailable",
        }
        title = titles.get(status, f"{status} Server Error")
        return Response(
            f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>",
            status=status,
            mimetype="text/html",
        )

    def not_found(self) -> Response:
        return self.error_response("Not found", 404)

    # -- accounts ---------------------------------------------------------
    def create_account(self, prefix: str, api_token: str, options: dict) -> tuple[Account, bool]:
        with self.runtime.store.transaction() as tx:
            account, created = tx.put_account(self.name, prefix, api_token, options)
            if created:
                self.seed_account(tx, account)
        return account, created

    def ensure_demo_accounts(self, tx: Transaction) -> None:
        for prefix, token in self.demo_accounts:
            if tx.get_account(self.name, prefix) is None:
                account, _ = tx.put_account(self.name, prefix, token, {})
                self.seed_account(tx, account)

    def document_stored(self, account: str) -> None:
        self.runtime.stats.document_stored(self.name, account)

    # -- mounting -----------------------------------------------------------
    def mount(self, app: Flask) -> None:
        blueprint = self.build_blueprint()
        blueprint.before_request(self._guard_before)
        blueprint.after_request(self._guard_after)
        blueprint.teardown_request(self._guard_teardown)
        # The blueprint's own prefix (e.g. "/<prefix>" for an account subdomain) goes under /<name>.
        app.register_blueprint(blueprint, url_prefix=f"/{self.name}{blueprint.url_prefix or ''}")

    def _guard_before(self) -> Response | None:
        runtime = self.runtime
        call = GuardedCall(self.name, self.account_key(), self.is_write_request())
        g.sandbox_call = call
        runtime.stats.request_started(call.service, call.account, call.is_write)
        in_flight = runtime.faults.enter(call.service, call.account)
        key, settings = runtime.faults.effective(call.service, call.account)

        if settings.max_concurrency is not None and in_flight > settings.max_concurrency:
            return self._fault("max_concurrency", self.throttled(settings.retry_after))
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000)
        endpoint = (request.endpoint or "").rpartition(".")[2]
        if endpoint not in self.public_endpoints:
            if settings.auth_failure:
                return self._fault("auth_failure", self.unauthorized())
            refusal = self.authenticate()
            if refusal is not None:
                return refusal
        if call.is_write and settings.write_limit is not None:
            wait = runtime.faults.admit_write(call.service, call.account, settings.write_limit)
            if wait is not None:
                return self._fault("write_limit", self.throttled(wait))
        if runtime.faults.roll(key, settings.reset):
            call.reset = True
            request.environ[RESET_FLAG] = True
            return self._fault("reset", Response(status=500))
        if runtime.faults.roll(key, settings.rate_429):
            return self._fault("rate_429", self.throttled(settings.retry_after))
        if runtime.faults.roll(key, settings.error_5xx):
            status = runtime.faults.choose(key, (500, 502, 503))
            return self._fault("error_5xx", self.server_error(status))
        if call.is_write and runtime.faults.roll(key, settings.timeout_after_store):
            call.hold_seconds = settings.hold_seconds
        return None

    def _fault(self, kind: str, response: Response) -> Response:
        call: GuardedCall = g.sandbox_call
        self.runtime.stats.fault(call.service, call.account, kind)
        return response

    def _guard_after(self, response: Response) -> Response:
        call: GuardedCall | None = g.get("sandbox_call")
        if call is None or call.reset:
            return response
        if call.hold_seconds and response.status_code < 400:
            # The document is stored; now keep the answer back so the client times out.
            self.runtime.stats.fault(call.service, call.account, "timeout_after_store")
            time.sleep(call.hold_seconds)
        self.runtime.stats.response(call.service, call.account, response.status_code)
        return response

    def _guard_teardown(self, _error=None) -> None:
        call: GuardedCall | None = g.pop("sandbox_call", None)
        if call is not None:
            self.runtime.faults.leave(call.service, call.account)
            self.runtime.stats.request_finished(call.service, call.account)


def _json(body, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
