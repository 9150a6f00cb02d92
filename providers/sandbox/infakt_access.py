"""Who may call what on the inFakt emulator: API-key scopes and the documented rate limits."""

from __future__ import annotations

import threading
import time
from collections import deque

SCOPES = (
    "api:invoices:read",
    "api:invoices:write",
    "api:accounting:read",
    "api:accounting:write",
    "api:sensitive:bank_accounts:write",
    "api:costs:read",
    "api:costs:write",
    "api:ksef:integration:write",
)
KSEF_SCOPE = "api:ksef:integration:write"


def required_scopes(method: str, path: str) -> tuple[str, ...]:
    """Scopes a request needs; ``path`` is the part after ``/api/v3/``.

    The contract lists the scopes but not the mapping; this is the sandbox's reading of
    their names: invoices (and their clients, products, reference data) read/write,
    bank accounts write as "sensitive", KSeF sending as the KSeF scope, account details free.
    """
    write = method not in ("GET", "HEAD", "OPTIONS")
    if path.startswith("account/"):
        return ()
    if path.startswith("bank_accounts") and write:
        return ("api:sensitive:bank_accounts:write",)
    if path.endswith("/send_to_ksef.json"):
        return ("api:invoices:write", KSEF_SCOPE)
    return ("api:invoices:write",) if write else ("api:invoices:read",)


class WindowLimiter:
    """Sliding-window request caps (GET 300 / 60 s, other methods 150 / 60 s by default).

    Kept in memory like the sandbox's fault windows: a restart starts with empty windows.
    Only admitted requests count, so a client that keeps hammering is let in again as
    soon as the oldest admitted request leaves the window.
    """

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], deque] = {}

    def admit(self, key: tuple[str, str], limit: int | None, seconds: float) -> float | None:
        """Count one request; return the seconds until one would be admitted when the cap is reached."""
        if limit is None:
            return None
        now = self._clock()
        with self._lock:
            window = self._windows.setdefault(key, deque())
            while window and window[0] <= now - seconds:
                window.popleft()
            if len(window) >= limit:
                return max(window[0] + seconds - now, 0.0)
            window.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()
