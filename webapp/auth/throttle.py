"""Login throttling shared by every web process through Redis: after LIMIT failed attempts for one
e-mail or one address within WINDOW seconds, further attempts are refused until it passes."""
from flask import current_app

from ..redis_conn import get_redis

LIMIT = 5
WINDOW = 15 * 60


def _keys(email: str, address: str) -> list[str]:
    return [f"ib:login-fail:email:{email.lower()}", f"ib:login-fail:ip:{address}"]


def seconds_blocked(email: str, address: str) -> int:
    redis = get_redis(current_app)
    limit = current_app.config.get("LOGIN_FAILURE_LIMIT", LIMIT)
    for key in _keys(email, address):
        if int(redis.get(key) or 0) >= limit:
            return max(redis.ttl(key), 1)
    return 0


def record_failure(email: str, address: str) -> None:
    redis = get_redis(current_app)
    for key in _keys(email, address):
        count = redis.incr(key)
        if count == 1:
            redis.expire(key, WINDOW)


def clear(email: str) -> None:
    get_redis(current_app).delete(_keys(email, "")[0])
