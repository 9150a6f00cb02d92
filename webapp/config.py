"""Settings: defaults, then the instance folder's files, then the environment.

ENV_SETTINGS is the one list of the environment variables the app, the worker and the sandboxes
read; the README's configuration table lists the same names (tests/web/test_config.py scans the
code and the README for both directions)."""
import os
import secrets
from pathlib import Path

ENV_SETTINGS = {
    "DATABASE_URL": "SQLAlchemy URL of the database (default: SQLite file instance/invoice_bridge.sqlite3)",
    "REDIS_URL": "Redis for the job queue (default: a private redis-server under instance/, started on demand)",
    "SECRET_KEY": "Flask secret key (default: generated once into instance/secret_key)",
    "INSTANCE_PATH": "Folder for local state: SQLite file, secret key, embedded Redis (default: ./instance)",
    "SANDBOX_URL": "Base URL of the local provider emulators (default: http://127.0.0.1:5050)",
    "PUBLIC_URL": "Address customers reach the dashboard at, used in e-mailed invoice links (default: http://127.0.0.1:5000)",
    "DEMO_MODE": "1 allows loopback/private service URLs (the sandboxes) and shows the mail sink; set by make run (default: 0)",
    "SESSION_COOKIE_SECURE": "1 to send the session cookie over HTTPS only (set it in production)",
    "LOG_LEVEL": "Python log level (default: INFO)",
    "CREDENTIALS_KEYS": "Fernet keys for service credentials, comma-separated, newest first (default: instance/credentials.keys)",
    "PROVIDER_TIMEOUT": "Connect and read timeout for service requests, seconds (default: 5,30)",
    "PROVIDER_READ_RETRIES": "Times a failed read (5xx, lost connection) is repeated at once before the job backs off (default: 2)",
    "EXPORT_SEND_LEASE": "Seconds after which a send whose worker vanished is looked up at the service (default: 120)",
    "EXPORT_IN_DOUBT_GRACE": "Seconds to wait before looking up a send that timed out (default: 10)",
    "SWEEP_INTERVAL": "Seconds between sweeps for lost jobs, in each worker (default: 30)",
    "EXPORT_BACKOFF_BASE": "First retry delay of a failed export, seconds; doubles with full jitter (default: 2)",
    "EXPORT_BACKOFF_CAP": "Longest retry delay, seconds (default: 300)",
    "BREAKER_THRESHOLD": "Consecutive failures that pause an account (default: 5)",
    "BREAKER_COOLDOWN": "First pause of an account, seconds; doubles up to 600 (default: 15)",
    "SERVICE_COPY_STALE_AFTER": "Seconds after which opening a document refreshes the service's copy (default: 3600)",
    "SANDBOX_DB": "SQLite state file of the provider sandboxes when started without a path (default: instance/sandbox.sqlite3)",
}


def _number(env, name: str, default: float) -> float:
    try:
        return float(env.get(name, default))
    except ValueError as error:
        raise SystemExit(f"{name} must be a number, not {env.get(name)!r}") from error


def _read_or_create_secret(instance_path: Path) -> str:
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def build_config(instance_path: Path) -> dict:
    instance_path.mkdir(parents=True, exist_ok=True)
    env = os.environ
    default_db = f"sqlite:///{instance_path / 'invoice_bridge.sqlite3'}"
    database_url = env.get("DATABASE_URL") or default_db
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or _read_or_create_secret(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env.get("REDIS_URL") or None,
        "SANDBOX_URL": env.get("SANDBOX_URL", "http://127.0.0.1:5050"),
        "PUBLIC_URL": env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
        "DEMO_MODE": env.get("DEMO_MODE", "0") == "1",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "0") == "1",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO"),
        "ORDERS_PER_PAGE": 50,
        "PROVIDER_TIMEOUT": tuple(float(x) for x in env.get("PROVIDER_TIMEOUT", "5,30").split(",")[:2]),
        "PROVIDER_READ_RETRIES": int(_number(env, "PROVIDER_READ_RETRIES", 2)),
        "EXPORT_SEND_LEASE": _number(env, "EXPORT_SEND_LEASE", 120),
        "EXPORT_IN_DOUBT_GRACE": _number(env, "EXPORT_IN_DOUBT_GRACE", 10),
        "SWEEP_INTERVAL": _number(env, "SWEEP_INTERVAL", 30),
        "EXPORT_BACKOFF_BASE": _number(env, "EXPORT_BACKOFF_BASE", 2),
        "EXPORT_BACKOFF_CAP": _number(env, "EXPORT_BACKOFF_CAP", 300),
        "BREAKER_THRESHOLD": int(_number(env, "BREAKER_THRESHOLD", 5)),
        "BREAKER_COOLDOWN": _number(env, "BREAKER_COOLDOWN", 15),
        "BREAKER_MAX_COOLDOWN": 600.0,
        "SERVICE_COPY_STALE_AFTER": _number(env, "SERVICE_COPY_STALE_AFTER", 3600),
    }
