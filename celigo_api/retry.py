"""When to try a failed Celigo call again, and how long to wait first.

A small pure object: it looks at the error and the attempt number and never sleeps or sends anything itself,
so every rule is a one-line unit test.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from celigo_api.errors import (
    CeligoError,
    ConnectionFailed,
    MalformedResponse,
    RateLimited,
    ServerError,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter.

    * Connection errors, 429 and 5xx are retried for idempotent calls (GET, PUT, DELETE).
    * A connection error raised before the request was sent is retried for every call: Celigo never saw it.
    * A 429 is retried for every call: it is Celigo refusing the request before acting on it, and the
      documented reaction is to wait ``Retry-After`` and send again (docs/celigo-api.md §1.3).
    * A non-idempotent call (POST retry, POST run) is otherwise never repeated: a 5xx, a reset or a read
      timeout may come after Celigo acted, and a second retry writes to the destination system twice (§2.8).
    * Other 4xx are never retried.
    * A malformed 2xx body on an idempotent call is retried (a truncated proxy response); on a POST it is
      not, since Celigo acted on it.

    ``max_attempts`` counts the first try. ``random`` is injectable for tests.
    """

    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    retry_after_jitter: float = 0.25
    random: Callable[[], float] = field(default=random.random, compare=False, repr=False)

    def decide(self, attempt: int, method_idempotent: bool, error: CeligoError) -> float | None:
        """Return how many seconds to wait before the next attempt, or None to give up.

        ``attempt`` is the number of attempts already made (1 after the first failure).
        """
        if attempt >= self.max_attempts or not self._is_retriable(method_idempotent, error):
            return None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            # Retry-After plus a little jitter, as DEV-RATE's sample does, so processes that were refused
            # together do not come back together.
            return max(0.0, error.retry_after) + self.random() * self.retry_after_jitter
        return self.backoff(attempt)

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform wait in [0, min(max_delay, base_delay * 2 ** (attempt - 1))]."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(0, attempt - 1)))
        return self.random() * ceiling

    @staticmethod
    def _is_retriable(method_idempotent: bool, error: CeligoError) -> bool:
        if isinstance(error, ConnectionFailed):
            return method_idempotent or not error.request_sent
        if isinstance(error, RateLimited):
            # A RateLimited without status is our own limiter saying "longer than max_wait": not retried here.
            return error.status == 429
        if isinstance(error, ServerError):
            return method_idempotent
        if isinstance(error, MalformedResponse):
            # Only an unreadable 2xx body; a refused redirect or a foreign next page would just repeat.
            ok_status = error.status is not None and 200 <= error.status < 300
            return method_idempotent and ok_status
        return False
