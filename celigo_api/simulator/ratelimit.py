"""The server side of Celigo's rate limit: a leaky bucket per account (docs/celigo-api.md §1.3).

Each request pours one unit into the account's bucket, which drains at ``rate`` units per second and holds
``burst``. A request that would overflow it is refused with 429 and an integer ``Retry-After`` (§1.3,
DEV-RATE). Real time is used, not the simulated clock: pacing is about the client's wall-clock behaviour.
"""

from __future__ import annotations

import math
import threading
import time


class LeakyBucket:
    """A thread-safe leaky bucket."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._level = 0.0
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """Admit one request (None) or return the whole seconds to wait before retrying."""
        with self._lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._stamp) * self.rate)
            self._stamp = now
            if self._level + 1.0 <= self.burst:
                self._level += 1.0
                return None
            # The wait until one unit has drained, rounded up: Retry-After is an integer (§1.3).
            return max(1, math.ceil((self._level + 1.0 - self.burst) / self.rate))

    def reset(self) -> None:
        """Empty the bucket."""
        with self._lock:
            self._level, self._stamp = 0.0, time.monotonic()


class RateLimiter:
    """One bucket per account token."""

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self._buckets: dict[str, LeakyBucket] = {}
        self._lock = threading.Lock()

    def take(self, account_key: str) -> int | None:
        """Admit a request for ``account_key`` or return the Retry-After seconds."""
        with self._lock:
            bucket = self._buckets.get(account_key)
            if bucket is None:
                bucket = self._buckets[account_key] = LeakyBucket(self.burst, self.rate)
        return bucket.take()

    def reset(self) -> None:
        """Empty every bucket."""
        with self._lock:
            self._buckets.clear()
