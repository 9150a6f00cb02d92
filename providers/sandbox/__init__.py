"""Local emulators of the accounting services' HTTP APIs (demo, tests, benchmarks).

Written from the contract notes only; never imports the adapters or the web app.
Run with ``python -m providers.sandbox --port 5050 --db instance/sandbox.sqlite3``.
"""

from .app import create_sandbox_app

__all__ = ["create_sandbox_app"]
