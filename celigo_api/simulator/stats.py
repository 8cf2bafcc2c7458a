"""Request counters for ``/__sim__/stats`` and the benchmarks, and the write log of resolves and retries."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any


class SimStats:
    """Thread-safe counters: requests per endpoint and status, 429s, injected faults, concurrency.

    The write log counts, per action (``resolve``, ``retry``), how many times each ``flowId/stepId/id`` (an
    error id, or a retry data key) was sent in a request Celigo accepted: "never sent twice" is checked on
    it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._since = time.time()
            self._endpoints: Counter[str] = Counter()
            self._statuses: Counter[int] = Counter()
            self._accounts: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._rate_limited = 0
            self._in_flight = 0
            self._peak = 0
            self._written: dict[str, Counter[str]] = {"resolve": Counter(), "retry": Counter()}

    def begin(self) -> None:
        """A request started."""
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def end(self, endpoint: str, status: int, account: str | None) -> None:
        """A request finished with ``status``."""
        with self._lock:
            self._in_flight -= 1
            self._endpoints[endpoint] += 1
            self._statuses[status] += 1
            if account:
                self._accounts[account] += 1

    def rate_limited(self) -> None:
        """The leaky bucket refused a request."""
        with self._lock:
            self._rate_limited += 1

    def wrote(self, action: str, flow_id: str, step_id: str, ids: list[str]) -> None:
        """Celigo accepted ``action`` on ``ids`` of one step."""
        with self._lock:
            self._written[action].update(f"{flow_id}/{step_id}/{i}" for i in ids)

    def written(self, action: str) -> Counter[str]:
        """How many times each ``flowId/stepId/id`` was sent with ``action``."""
        with self._lock:
            return Counter(self._written[action])

    def fault(self, kind: str) -> None:
        """A fault was injected."""
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """All counters as JSON-friendly data."""
        with self._lock:
            return {
                "since": self._since,
                "requests": sum(self._endpoints.values()),
                "by_endpoint": dict(self._endpoints),
                "by_status": {str(k): v for k, v in sorted(self._statuses.items())},
                "by_account": dict(self._accounts),
                "rate_limited_429": self._rate_limited,
                "faults": dict(self._faults),
                "in_flight": self._in_flight,
                "peak_concurrency": self._peak,
                "written": {action: sum(ids.values()) for action, ids in self._written.items()},
                "written_twice": {
                    action: sorted(key for key, n in ids.items() if n > 1)
                    for action, ids in self._written.items()
                },
            }
