"""iFirma's ``Authentication`` header and its per-user request limits, from the contract alone.

The header is ``IAPIS user=<login>, hmac-sha1=<hex>`` where the digest is
``HMAC_SHA1(bytes.fromhex(key), url + login + key_name + body)``: the URL without
its query string, the key decoded from hex (not its ASCII text), the body as the
exact bytes sent. Which of the user's keys applies depends on the resource.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

WARSAW = ZoneInfo("Europe/Warsaw")

#: the key names of the signed message (singular: "rachunek", not "rachunki")
KEY_NAMES = ("faktura", "abonent", "rachunek", "wydatek")
#: first path segments of the expense resources, signed with the "wydatek" key
EXPENSE_PREFIXES = ("wydatek", "zakup", "koszt")

HEADER = re.compile(r"^\s*IAPIS\s+user=(?P<user>[^,\s]+)\s*,\s*(?P<method>hmac-sha1|rsa)=(?P<value>\S+)\s*$")
HEX_DIGEST = re.compile(r"^[0-9a-fA-F]{40}$")

# `Kod` of each authentication refusal, with the Polish text the account owner sees
BAD_HEADER, UNKNOWN_USER, NO_KEY, BAD_HASH, TERMS, NO_RIGHT = 400, 401, 402, 403, 499, 500
AUTH_MESSAGES = {
    BAD_HEADER: "Nieprawidłowy nagłówek Authentication.",
    UNKNOWN_USER: "Nieprawidłowy login użytkownika.",
    NO_KEY: "Użytkownik nie wygenerował klucza autoryzacji typu '{key}'.",
    BAD_HASH: "Nieprawidłowy skrót (hash) w nagłówku Authentication.",
    TERMS: "Użytkownik nie zaakceptował regulaminu.",
    NO_RIGHT: "Użytkownik nie posiada prawa do korzystania z API.",
}
#: HTTP status of each refusal when an account asks for 4xx instead of HTTP 200 + Kod
AUTH_HTTP_STATUS = {BAD_HEADER: 400, UNKNOWN_USER: 401, NO_KEY: 401, BAD_HASH: 403, TERMS: 403, NO_RIGHT: 403}


@dataclass(frozen=True)
class Credentials:
    """What the header claims: the login and the digest (or an RSA signature)."""

    user: str
    method: str  # "hmac-sha1" or "rsa"
    value: str


def parse_header(header: str | None) -> Credentials | None:
    """The header's parts, or None when it is missing or not ``IAPIS user=…, hmac-sha1=…``."""
    match = HEADER.match(header or "")
    if match is None:
        return None
    method, value = match["method"], match["value"]
    if method == "hmac-sha1" and not HEX_DIGEST.match(value):
        return None
    return Credentials(match["user"], method, value)


def is_hex_key(value) -> bool:
    return isinstance(value, str) and len(value) % 2 == 0 and bool(re.fullmatch(r"[0-9a-fA-F]+", value))


def sign(url: str, login: str, key_name: str, body: bytes, key_hex: str) -> str:
    """The lowercase hex HMAC-SHA1 the service expects for one request."""
    message = url.encode("utf-8") + login.encode("utf-8") + key_name.encode("ascii") + body
    return hmac_sha1_hex(bytes.fromhex(key_hex), message)


def hmac_sha1_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha1).hexdigest()


def digest_matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.lower(), given.lower())


def key_name_for(resource_path: str) -> str:
    """Which key signs a request, from the path under ``/iapi/`` (e.g. ``abonent/limit.json``)."""
    first = resource_path.lstrip("/").split("/", 1)[0].split(".", 1)[0]
    if first == "abonent":
        return "abonent"
    if first.startswith("rachunek"):
        return "rachunek"
    if first.startswith(EXPENSE_PREFIXES):
        return "wydatek"
    return "faktura"


class RequestLimiter:
    """The documented per-user caps: N requests in any 60 s and M requests a (Warsaw) day.

    Kept in memory, like the sandbox's fault windows: a restart starts with empty windows.
    """

    def __init__(self, clock=time.monotonic, today=None):
        self._clock = clock
        self._today = today or (lambda: datetime.now(WARSAW).date())
        self._lock = threading.Lock()
        self._minute: dict[str, deque] = {}
        self._day: dict[str, tuple[date, int]] = {}

    def admit(self, user: str, per_minute: int | None, per_day: int | None) -> float | None:
        """Count one request; return the seconds to wait instead when a cap is reached."""
        now, today = self._clock(), self._today()
        with self._lock:
            window = self._minute.setdefault(user, deque())
            while window and window[0] <= now - 60:
                window.popleft()
            day, used = self._day.get(user, (today, 0))
            if day != today:
                used = 0
            if per_day is not None and used >= per_day:
                midnight = datetime.combine(today, datetime.min.time(), WARSAW)
                seconds_left = 86400 - (datetime.now(WARSAW) - midnight).total_seconds()
                return max(seconds_left, 1.0)
            if per_minute is not None and len(window) >= per_minute:
                return max(window[0] + 60 - now, 0.0)
            window.append(now)
            self._day[user] = (today, used + 1)
            return None

    def used_today(self, user: str) -> int:
        with self._lock:
            day, used = self._day.get(user, (self._today(), 0))
            return used if day == self._today() else 0

    def clear(self) -> None:
        with self._lock:
            self._minute.clear()
            self._day.clear()
