"""Application factory of the sandbox: every emulator plus the ``/_sandbox`` control API.

For gunicorn: ``gunicorn 'providers.sandbox.app:create_sandbox_app()'`` (the state
file then comes from ``SANDBOX_DB``). Stats, faults and write windows live in
memory, so they are per process: run one worker with threads when a benchmark
reads them.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

from flask import Flask, jsonify, request

from .admin import admin
from .connection import ConnectionResetMiddleware
from .faults import FaultBook, Stats
from .service import SandboxRuntime
from .store import Store

DEFAULT_DB = Path(__file__).resolve().parents[2] / "instance" / "sandbox.sqlite3"

#: one module per service under providers/sandbox/, each defining EMULATOR (its EmulatedService
#: class); a service whose module is not written yet is simply not mounted
SERVICE_MODULES = ("fakturownia", "fakturowo", "firmao", "ifirma", "infakt", "wfirma")


def _emulator_classes() -> list[type]:
    classes = []
    for name in SERVICE_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"{__package__}.{name}":
                continue
            raise
        classes.append(module.EMULATOR)
    return classes


def create_sandbox_app(db_path: str | os.PathLike | None = None) -> Flask:
    app = Flask(__name__)
    app.json.ensure_ascii = False  # Polish letters stay readable in bodies
    app.json.sort_keys = False  # keep fields in the order the service would send them
    runtime = SandboxRuntime(
        Store(db_path or os.environ.get("SANDBOX_DB") or DEFAULT_DB), FaultBook(), Stats()
    )
    app.extensions["sandbox"] = runtime
    for emulator_class in _emulator_classes():
        emulator = emulator_class(runtime)
        runtime.services[emulator.name] = emulator
        emulator.mount(app)
    with runtime.store.transaction() as tx:
        for emulator in runtime.services.values():
            emulator.ensure_demo_accounts(tx)
    app.register_blueprint(admin)

    @app.errorhandler(404)
    def not_found(_error):
        service = runtime.services.get(request.path.strip("/").split("/", 1)[0])
        return service.not_found() if service else (jsonify({"error": "not found"}), 404)

    @app.errorhandler(405)
    def method_not_allowed(_error):
        return jsonify({"error": "method not allowed"}), 405

    app.wsgi_app = ConnectionResetMiddleware(app.wsgi_app)
    return app
