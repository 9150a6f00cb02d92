"""Fault injection, write-rate limiting and request statistics.

Nothing here knows about any particular service: the keys are plain
``(service, account)`` strings. Settings are set per service (``account=None``)
and optionally overridden per account. All state is in memory; the admin API
can read and clear it at any time.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime


class InvalidFaults(ValueError):
    """The admin sent fault settings that make no sense."""


@dataclass(frozen=True)
class WriteLimit:
    count: int
    seconds: float


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: int = 0
    error_5xx: float = 0.0
    rate_429: float = 0.0
    retry_after: int = 1
    timeout_after_store: float = 0.0
    hold_seconds: float = 30
    reset: float = 0.0
    auth_failure: bool = False
    write_limit: WriteLimit | None = None
    max_concurrency: int | None = None
    seed: int | None = None

    RATIOS = ("error_5xx", "rate_429", "timeout_after_store", "reset")

    @classmethod
    def from_json(cls, data: dict) -> FaultSettings:
        """Build settings from the admin API body; unknown keys are an error so typos show."""
        data = dict(data)
        data.pop("account", None)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidFaults(f"unknown fault settings: {', '.join(unknown)}")
        values: dict = {}
        for name in cls.RATIOS:
            if data.get(name) is not None:
                values[name] = _number(data[name], name, float)
                if not 0.0 <= values[name] <= 1.0:
                    raise InvalidFaults(f"{name} must be a ratio between 0 and 1")
        for name, kind in (("latency_ms", int), ("retry_after", int), ("hold_seconds", float)):
            if data.get(name) is not None:
                values[name] = _number(data[name], name, kind)
                if values[name] < 0:
                    raise InvalidFaults(f"{name} must not be negative")
        if data.get("auth_failure") is not None:
            values["auth_failure"] = bool(data["auth_failure"])
        if data.get("max_concurrency") is not None:
            values["max_concurrency"] = _number(data["max_concurrency"], "max_concurrency", int)
            if values["max_concurrency"] < 1:
                raise InvalidFaults("max_concurrency must be at least 1")
        if data.get("seed") is not None:
            values["seed"] = _number(data["seed"], "seed", int)
        limit = data.get("write_limit")
        if limit is not None:
            if not isinstance(limit, dict) or "count" not in limit or "seconds" not in limit:
                raise InvalidFaults('write_limit must look like {"count": 150, "seconds": 60}')
            count = _number(limit["count"], "write_limit.count", int)
            seconds = _number(limit["seconds"], "write_limit.seconds", float)
            if count < 1 or seconds <= 0:
                raise InvalidFaults("write_limit needs count >= 1 and seconds > 0")
            values["write_limit"] = WriteLimit(count, seconds)
        return cls(**values)

    def to_json(self) -> dict:
        return asdict(self)


def _number(value, name: str, kind: type):
    if isinstance(value, bool):
        raise InvalidFaults(f"{name} must be a number")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise InvalidFaults(f"{name} must be a number") from None


class FaultBook:
    """Current fault settings, their random generators, write windows and in-flight counts."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._settings: dict[tuple[str, str | None], FaultSettings] = {}
        self._rngs: dict[tuple[str, str | None], random.Random] = {}
        self._writes: dict[tuple[str, str], deque] = {}
        self._in_flight: Counter = Counter()

    # -- settings -------------------------------------------------------
    def set(self, service: str, account: str | None, settings: FaultSettings) -> None:
        with self._lock:
            self._settings[(service, account)] = settings
            self._rngs[(service, account)] = random.Random(settings.seed)
            # A new write limit starts with an empty window, so tests are repeatable.
            for key in [k for k in self._writes if k[0] == service and account in (None, k[1])]:
                del self._writes[key]

    def clear(self, service: str | None = None, account: str | None = None) -> None:
        """Forget settings: everything, one service, or one account of a service."""
        with self._lock:
            for key in list(self._settings):
                if service is None or (key[0] == service and (account is None or key[1] == account)):
                    del self._settings[key]
                    del self._rngs[key]
            for key in list(self._writes):
                if service is None or (key[0] == service and (account is None or key[1] == account)):
                    del self._writes[key]

    def listing(self, service: str) -> list[dict]:
        with self._lock:
            return [
                {"account": account, **settings.to_json()}
                for (svc, account), settings in sorted(self._settings.items(), key=lambda kv: kv[0][1] or "")
                if svc == service
            ]

    def effective(self, service: str, account: str) -> tuple[tuple[str, str | None], FaultSettings]:
        """The account's own settings, else the service-wide ones, else no faults."""
        with self._lock:
            for key in ((service, account), (service, None)):
                if key in self._settings:
                    return key, self._settings[key]
        return (service, None), FaultSettings()

    def roll(self, key: tuple[str, str | None], ratio: float) -> bool:
        """True with probability ``ratio``; a zero ratio consumes no randomness."""
        if ratio <= 0:
            return False
        with self._lock:
            rng = self._rngs.get(key)
            if rng is None:
                rng = self._rngs[key] = random.Random()
            return rng.random() < ratio

    def choose(self, key: tuple[str, str | None], options: tuple):
        with self._lock:
            rng = self._rngs.get(key)
            if rng is None:
                rng = self._rngs[key] = random.Random()
            return rng.choice(options)

    # -- write window ---------------------------------------------------
    def admit_write(self, service: str, account: str, limit: WriteLimit) -> float | None:
        """Record a write in the sliding window; return seconds to wait if the window is full."""
        now = self._clock()
        with self._lock:
            window = self._writes.setdefault((service, account), deque())
            while window and window[0] <= now - limit.seconds:
                window.popleft()
            if len(window) >= limit.count:
                return max(window[0] + limit.seconds - now, 0.0)
            window.append(now)
            return None

    # -- concurrency ----------------------------------------------------
    def enter(self, service: str, account: str) -> int:
        with self._lock:
            self._in_flight[(service, account)] += 1
            return self._in_flight[(service, account)]

    def leave(self, service: str, account: str) -> None:
        with self._lock:
            self._in_flight[(service, account)] -= 1
            if self._in_flight[(service, account)] <= 0:
                del self._in_flight[(service, account)]

    def in_flight(self, service: str, account: str) -> int:
        with self._lock:
            return self._in_flight.get((service, account), 0)


def retry_after_header(seconds: float) -> str:
    """Retry-After carries whole seconds; never advertise 0 for a refusal."""
    return str(max(1, math.ceil(seconds)))


@dataclass
class AccountStats:
    requests: int = 0
    writes: int = 0
    responses: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)
    throttled: int = 0
    documents_stored: int = 0
    in_flight: int = 0
    max_in_flight: int = 0

    def add(self, other: AccountStats) -> None:
        self.requests += other.requests
        self.writes += other.writes
        self.responses.update(other.responses)
        self.faults.update(other.faults)
        self.throttled += other.throttled
        self.documents_stored += other.documents_stored
        self.in_flight += other.in_flight
        self.max_in_flight = max(self.max_in_flight, other.max_in_flight)

    def as_dict(self) -> dict:
        return {
            "requests": self.requests,
            "writes": self.writes,
            "responses": {str(code): n for code, n in sorted(self.responses.items())},
            "throttled": self.throttled,
            "faults": dict(sorted(self.faults.items())),
            "documents_stored": self.documents_stored,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }


class Stats:
    """Counters a benchmark reads back through ``GET /_sandbox/stats``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str, str], AccountStats] = {}
        self._since = _utc_now()

    def _entry(self, service: str, account: str) -> AccountStats:
        return self._accounts.setdefault((service, account), AccountStats())

    def request_started(self, service: str, account: str, is_write: bool) -> None:
        with self._lock:
            entry = self._entry(service, account)
            entry.requests += 1
            entry.writes += int(is_write)
            entry.in_flight += 1
            entry.max_in_flight = max(entry.max_in_flight, entry.in_flight)

    def request_finished(self, service: str, account: str) -> None:
        with self._lock:
            entry = self._entry(service, account)
            entry.in_flight = max(0, entry.in_flight - 1)

    def response(self, service: str, account: str, status: int) -> None:
        with self._lock:
            entry = self._entry(service, account)
            entry.responses[status] += 1
            if status == 429:
                entry.throttled += 1

    def fault(self, service: str, account: str, kind: str) -> None:
        with self._lock:
            self._entry(service, account).faults[kind] += 1

    def document_stored(self, service: str, account: str) -> None:
        with self._lock:
            self._entry(service, account).documents_stored += 1

    def clear(self) -> None:
        with self._lock:
            # Requests still running keep their in-flight count so it cannot go negative.
            self._accounts = {
                key: AccountStats(in_flight=entry.in_flight, max_in_flight=entry.in_flight)
                for key, entry in self._accounts.items()
                if entry.in_flight
            }
            self._since = _utc_now()

    def snapshot(self) -> dict:
        with self._lock:
            services: dict[str, dict] = {}
            grand = AccountStats()
            for (service, account), entry in sorted(self._accounts.items()):
                block = services.setdefault(service, {"totals": AccountStats(), "accounts": {}})
                block["accounts"][account] = entry.as_dict()
                block["totals"].add(entry)
                grand.add(entry)
            return {
                "since": self._since,
                "totals": grand.as_dict(),
                "services": {
                    name: {"totals": block["totals"].as_dict(), "accounts": block["accounts"]}
                    for name, block in services.items()
                },
            }


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
