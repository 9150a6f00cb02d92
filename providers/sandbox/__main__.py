"""``python -m providers.sandbox [--host 127.0.0.1] [--port 5050] [--db PATH] [--quiet]``"""

from __future__ import annotations

import argparse
import logging

from werkzeug.serving import run_simple

from .app import DEFAULT_DB, create_sandbox_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m providers.sandbox", description="Local emulators of the accounting services."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--db", default=str(DEFAULT_DB), help="SQLite state file (created if missing)")
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    args = parser.parse_args(argv)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_sandbox_app(args.db)
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
