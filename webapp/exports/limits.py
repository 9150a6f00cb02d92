"""Per-account limits shared by every worker through Redis: a sliding-window request cap that
keeps under the service's documented limit, and a circuit breaker that pauses an account after
repeated failures, lets one probe through after a cool-down, and closes again on success."""
from __future__ import annotations

import time
import uuid

from redis import Redis

# KEYS[1] window zset; ARGV: now, window seconds, limit, member, count, reserve. Takes `count`
# slots at once or none, leaving `reserve` slots free for others: returns 0 when taken, else the
# seconds until enough requests leave the window.
_TAKE_SLOT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local count = tonumber(ARGV[5])
local reserve = tonumber(ARGV[6] or '0')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used + count + reserve <= limit then
  for i = 1, count do redis.call('ZADD', KEYS[1], now, ARGV[4] .. ':' .. i) end
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return '0'
end
local need = math.min(used + count + reserve - limit, used)
local leaving = redis.call('ZRANGE', KEYS[1], need - 1, need - 1, 'WITHSCORES')
return tostring(tonumber(leaving[2]) + window - now)
"""

# KEYS[1] holders zset; ARGV: now, lease seconds, max holders, holder id. 1 when acquired.
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]))
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2])) + 1)
  return 1
end
return 0
"""

class AccountLimits:
    def __init__(self, redis: Redis, integration_id: int, breaker: tuple[int, float, float] = (5, 15.0, 600.0)):
        """breaker: (failures that open it, first cool-down seconds, longest cool-down seconds)."""
        self.redis = redis
        self.prefix = f"ib:integration:{integration_id}"
        self.threshold, self.base_cooldown, self.max_cooldown = breaker

    # --- request window ---------------------------------------------------------------------
    def take_request_slot(self, requests: int | None, per_seconds: float | None, count: int = 1,
                          window: str = "window", reserve: int = 0) -> float:
        """Reserve `count` requests in the window (`window` names it: a service may count reads
        apart from writes), leaving `reserve` of it to more urgent requests; 0.0 when granted,
        else seconds to wait."""
        if not requests or not per_seconds:
            return 0.0
        count = min(count, requests)  # a request bigger than the whole window would wait forever
        reserve = max(min(reserve, requests - count), 0)  # an empty window always serves
        script = self.redis.register_script(_TAKE_SLOT)
        return max(float(script(keys=[f"{self.prefix}:{window}"],
                                args=[time.time(), per_seconds, requests, uuid.uuid4().hex, count, reserve])), 0.0)

    # --- concurrency ------------------------------------------------------------------------
    def acquire(self, max_concurrency: int, lease_seconds: float) -> str | None:
        """A slot among the account's concurrent requests (leased, so a killed worker's slot
        frees itself); returns the holder id to release, or None when all are taken."""
        holder = uuid.uuid4().hex
        script = self.redis.register_script(_ACQUIRE)
        acquired = script(keys=[f"{self.prefix}:inflight"], args=[time.time(), lease_seconds, max_concurrency, holder])
        return holder if acquired == 1 else None

    def release(self, holder: str) -> None:
        self.redis.zrem(f"{self.prefix}:inflight", holder)

    # --- circuit breaker --------------------------------------------------------------------
    def breaker_wait(self) -> float:
        """Seconds the account stays paused; 0 when requests may go (one probe after a pause)."""
        opened_until = self.redis.get(f"{self.prefix}:open_until")
        if opened_until is None:
            return 0.0
        remaining = float(opened_until) - time.time()
        if remaining > 0:
            return remaining
        # Half-open: one probe at a time; the others wait for its outcome.
        if self.redis.set(f"{self.prefix}:probe", "1", nx=True, ex=60):
            return 0.0
        return 5.0

    def record_success(self) -> None:
        self.redis.delete(f"{self.prefix}:failures", f"{self.prefix}:open_until", f"{self.prefix}:probe",
                          f"{self.prefix}:cooldown")

    def record_failure(self) -> bool:
        """Count a failure; returns True when the breaker (re)opens."""
        failures = self.redis.incr(f"{self.prefix}:failures")
        self.redis.expire(f"{self.prefix}:failures", 3600)
        probing = self.redis.delete(f"{self.prefix}:probe")
        if failures < self.threshold and not probing:
            return False
        cooldown = float(self.redis.get(f"{self.prefix}:cooldown") or self.base_cooldown / 2) * 2
        cooldown = min(cooldown, self.max_cooldown)
        self.redis.set(f"{self.prefix}:cooldown", cooldown, ex=3600)
        self.redis.set(f"{self.prefix}:open_until", time.time() + cooldown, ex=int(cooldown) + 3600)
        return True

    def is_open(self) -> bool:
        opened_until = self.redis.get(f"{self.prefix}:open_until")
        return opened_until is not None and float(opened_until) > time.time()

    def reset(self) -> None:
        self.record_success()
        self.redis.delete(f"{self.prefix}:window", f"{self.prefix}:inflight")
