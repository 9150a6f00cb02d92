"""The sandbox's own control API under ``/_sandbox`` (never part of an emulated service).

GET    /_sandbox/health                       -> {"status": "ok"}
GET    /_sandbox/stats                        -> counters per service and account
DELETE /_sandbox/stats                        -> counters back to zero
POST   /_sandbox/reset                        -> wipe everything, keep the demo accounts
GET    /_sandbox/<service>/accounts           -> {"accounts": [...]}
POST   /_sandbox/<service>/accounts           {"prefix", "api_token", "options"?} -> 201 (200 if it existed)
GET    /_sandbox/<service>/faults             -> {"faults": [...]}
PUT    /_sandbox/<service>/faults             {"account": null|"acme", ...settings} -> 200
DELETE /_sandbox/<service>/faults[?account=]  -> 200
GET    /_sandbox/<service>/documents?account=&oid=&number=&kind= -> {"count", "documents"}
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify, request

from .faults import AccountStats, FaultSettings, InvalidFaults
from .service import EmulatedService, SandboxRuntime

ACCOUNT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

admin = Blueprint("sandbox_admin", __name__, url_prefix="/_sandbox")


def _runtime() -> SandboxRuntime:
    return current_app.extensions["sandbox"]


def _service(name: str) -> EmulatedService | None:
    return _runtime().services.get(name)


def _error(message: str, status: int):
    response = jsonify({"error": message})
    response.status_code = status
    return response


@admin.get("/health")
def health():
    return jsonify({"status": "ok"})


@admin.get("/stats")
def stats():
    snapshot = _runtime().stats.snapshot()
    # Documents currently held, read from the store so they survive a restart.
    with _runtime().store.transaction(write=False) as tx:
        for name, service in _runtime().services.items():
            held = tx.count_by_account(name, service.document_collection)
            block = snapshot["services"].setdefault(
                name, {"totals": AccountStats().as_dict(), "accounts": {}}
            )
            block["documents_held"] = held
    return jsonify(snapshot)


@admin.delete("/stats")
def clear_stats():
    _runtime().stats.clear()
    return jsonify({"status": "ok"})


@admin.post("/reset")
def reset():
    _runtime().reset()
    return jsonify({"status": "ok"})


@admin.get("/<service_name>/accounts")
def list_accounts(service_name: str):
    service = _service(service_name)
    if service is None:
        return _error(f"unknown service {service_name!r}", 404)
    with _runtime().store.transaction(write=False) as tx:
        accounts = tx.list_accounts(service.name)
    return jsonify({"accounts": [account.as_dict() for account in accounts]})


@admin.post("/<service_name>/accounts")
def create_account(service_name: str):
    service = _service(service_name)
    if service is None:
        return _error(f"unknown service {service_name!r}", 404)
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return _error("send a JSON object", 400)
    prefix, token, options = body.get("prefix"), body.get("api_token"), body.get("options") or {}
    if not isinstance(prefix, str) or not ACCOUNT_NAME.match(prefix):
        return _error("prefix: lower-case letters, digits and dashes (like a subdomain)", 400)
    if not isinstance(token, str) or not token:
        return _error("api_token is required", 400)
    if not isinstance(options, dict):
        return _error("options must be an object", 400)
    problem = service.check_account_options(options)
    if problem:
        return _error(problem, 400)
    account, created = service.create_account(prefix, token, options)
    response = jsonify(account.as_dict())
    response.status_code = 201 if created else 200
    return response


@admin.get("/<service_name>/faults")
def list_faults(service_name: str):
    if _service(service_name) is None:
        return _error(f"unknown service {service_name!r}", 404)
    return jsonify({"faults": _runtime().faults.listing(service_name)})


@admin.put("/<service_name>/faults")
def set_faults(service_name: str):
    if _service(service_name) is None:
        return _error(f"unknown service {service_name!r}", 404)
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        return _error("send a JSON object", 400)
    account = body.get("account")
    if account is not None and not isinstance(account, str):
        return _error("account must be a string or null", 400)
    try:
        settings = FaultSettings.from_json(body)
    except InvalidFaults as error:
        return _error(str(error), 400)
    _runtime().faults.set(service_name, account, settings)
    return jsonify({"account": account, **settings.to_json()})


@admin.delete("/<service_name>/faults")
def clear_faults(service_name: str):
    if _service(service_name) is None:
        return _error(f"unknown service {service_name!r}", 404)
    _runtime().faults.clear(service_name, request.args.get("account"))
    return jsonify({"status": "ok"})


@admin.get("/<service_name>/documents")
def documents(service_name: str):
    service = _service(service_name)
    if service is None:
        return _error(f"unknown service {service_name!r}", 404)
    found = service.inspect_documents(request.args.get("account"), request.args)
    return jsonify({"count": len(found), "documents": found})
