"""The leaky bucket that paces every call to one Celigo account.

Celigo meters each account with a leaky bucket (docs/celigo-api.md §1.3): a bucket of ``burst`` requests that
drains at ``rate`` per second; a request that would overflow it gets a 429. We keep our own copy of that
bucket and make every process wait for room *before* sending, so Celigo never has to refuse us.

The arithmetic is GCRA (the "generic cell rate algorithm"), which is the leaky bucket expressed as a single
number per account: the theoretical arrival time (``tat``) at which the bucket would be empty again. Each call
*reserves* its slot — the stored ``tat`` moves forward at once — and then sleeps until the slot comes. Waiters
therefore queue in order instead of waking together and racing for the same opening.

Three stores share that arithmetic:

* :class:`InProcessLimiter` — a dict behind a lock; one process (unit tests, scripts).
* :class:`FileLimiter` — a small JSON file under ``fcntl.flock``; every process on one machine (the embedded
  default, where web and worker run without Redis).
* :class:`RedisLimiter` — one atomic Lua script on Redis's clock; every process on every machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class BucketConfig:
    """The size and drain rate of one account's bucket.

    The defaults are the project's decision (docs/celigo-api.md, "Project decisions"): burst 100,
    30 requests/s — the pre-2019 published figure and a safe floor under the current 1000 / 300 per second.
    """

    burst: int = 100
    rate: float = 30.0

    def __post_init__(self) -> None:
        if self.burst < 1:
            raise ValueError("burst must be at least 1")
        if not self.rate > 0:
            raise ValueError("rate must be positive")

    @property
    def interval(self) -> float:
        """Seconds one request occupies in the bucket (1 / rate)."""
        return 1.0 / self.rate


@dataclass(frozen=True)
class Reservation:
    """The limiter's answer: ``granted`` with ``wait`` seconds to sleep before sending, or refused.

    A refused reservation reserved nothing; ``wait`` then says how long the caller would have had to wait.
    """

    granted: bool
    wait: float


def gcra_reserve(
    tat: float | None, now: float, bucket: BucketConfig, max_wait: float
) -> tuple[Reservation, float]:
    """Reserve one request at ``now``; return the reservation and the new stored ``tat``.

    ``tat`` is None for an account never seen (or expired), meaning an empty bucket. The request may be sent
    once the bucket, drained until then, has room for it: at ``tat + interval - burst * interval``. If that is
    more than ``max_wait`` away nothing is reserved and ``tat`` is returned unchanged.
    """
    start = now if tat is None or tat < now else tat
    new_tat = start + bucket.interval
    wait = max(0.0, new_tat - bucket.burst * bucket.interval - now)
    if wait > max_wait:
        return Reservation(granted=False, wait=wait), (now if tat is None else tat)
    return Reservation(granted=True, wait=wait), new_tat


def bucket_level(tat: float | None, now: float, bucket: BucketConfig) -> float:
    """How many requests the bucket holds at ``now`` (0 when empty, at most ``burst`` once reserved)."""
    if tat is None or tat <= now:
        return 0.0
    return (tat - now) * bucket.rate


class Limiter(Protocol):
    """What :class:`~celigo_api.client.CeligoClient` needs from a rate limiter."""

    def reserve(self, key: str, bucket: BucketConfig, max_wait: float) -> Reservation:
        """Reserve a slot for one request to the account ``key``."""
        ...


class InProcessLimiter:
    """A thread-safe bucket shared by every client of one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tats: dict[str, float] = {}

    def reserve(self, key: str, bucket: BucketConfig, max_wait: float) -> Reservation:
        """Reserve a slot for one request to the account ``key``."""
        with self._lock:
            reservation, self._tats[key] = gcra_reserve(self._tats.get(key), self._clock(), bucket, max_wait)
            return reservation

    def __repr__(self) -> str:
        return f"InProcessLimiter(keys={len(self._tats)})"


class FileLimiter:
    """A bucket shared by every process on one machine through a small file locked with ``flock``.

    The file holds ``{key: tat}`` on the wall clock, the one clock all local processes agree on. The file is
    opened afresh for each reservation because a descriptor inherited across ``fork`` would share its lock
    with the parent and exclude nothing.
    """

    # A stored tat further ahead than this is from a clock that jumped backwards: start that bucket afresh.
    _MAX_AHEAD = 3600.0

    def __init__(self, path: str | os.PathLike[str], clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock

    def reserve(self, key: str, bucket: BucketConfig, max_wait: float) -> Reservation:
        """Reserve a slot for one request to the account ``key``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            tats = self._read(fd)
            now = self._clock()
            tat = tats.get(key)
            if tat is not None and tat - now > self._MAX_AHEAD + max_wait:
                tat = None
            reservation, new_tat = gcra_reserve(tat, now, bucket, max_wait)
            # Drop drained buckets so the file stays a few bytes per busy account.
            tats = {k: v for k, v in tats.items() if v > now}
            tats[key] = new_tat
            payload = json.dumps(tats).encode()
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, payload)
            os.ftruncate(fd, len(payload))
            return reservation
        finally:
            os.close(fd)  # closing releases the flock

    @staticmethod
    def _read(fd: int) -> dict[str, float]:
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        try:
            raw = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            return {}  # a torn file after a crash only forgets the current buckets
        if not isinstance(raw, dict):
            return {}
        return {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}

    def __repr__(self) -> str:
        return f"FileLimiter({str(self.path)!r})"


# The same arithmetic as gcra_reserve, on Redis's own clock so every process on every host agrees.
# Numbers go back as strings because Redis truncates Lua numbers to integers.
_GCRA_LUA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - burst * interval - now
if wait < 0 then wait = 0 end
if wait > max_wait then
  return {0, string.format('%.6f', wait)}
end
local ttl_ms = math.ceil((new_tat - now) * 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', ttl_ms)
return {1, string.format('%.6f', wait)}
"""


class RedisLimiter:
    """A bucket shared by every process that can reach one Redis.

    ``redis_client`` is a ``redis.Redis``; the script is registered once and run with ``EVALSHA`` (reloaded
    transparently after a ``SCRIPT FLUSH`` or a Redis restart). Keys expire once their bucket has drained.
    """

    def __init__(self, redis_client: Any, prefix: str = "celigo:ratelimit:") -> None:
        self.redis = redis_client
        self.prefix = prefix
        self._script = redis_client.register_script(_GCRA_LUA)

    def reserve(self, key: str, bucket: BucketConfig, max_wait: float) -> Reservation:
        """Reserve a slot for one request to the account ``key``."""
        granted, wait = self._script(
            keys=[self.prefix + key], args=[repr(bucket.interval), bucket.burst, repr(float(max_wait))]
        )
        return Reservation(granted=bool(int(granted)), wait=float(wait))

    def __repr__(self) -> str:
        return f"RedisLimiter(prefix={self.prefix!r})"
