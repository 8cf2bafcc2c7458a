"""The one place the dashboard builds Celigo clients from its settings (one factory: docs/architecture.md
"Packages")."""

from __future__ import annotations

from functools import cache
from typing import Any

import redis
from django.conf import settings

from celigo_api import BucketConfig, CeligoClient, FileLimiter, Limiter, RedisLimiter
from celigo_api.retry import RetryPolicy
from dashboard.models import CeligoAccount

# Idempotent calls wait at most this long for the bucket in a worker before the task is rescheduled.
WORKER_MAX_WAIT_SECONDS = 30.0
# Web requests (retry data, HTTP logs) must answer quickly or say Celigo is busy: each call waits at most
# this long for the bucket, this long for an answer, and is tried twice, so a page that makes two calls
# answers within about 2 * (3 + 2 * 4 + 1) = 24 s, inside gunicorn's 30 s.
WEB_MAX_WAIT_SECONDS = 3.0
WEB_TIMEOUT_SECONDS = 4.0
WEB_RETRY_POLICY = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=1.0)


@cache
def _limiter_for(redis_url: str | None, path: str) -> Limiter:
    if redis_url:
        return RedisLimiter(redis.Redis.from_url(redis_url))
    return FileLimiter(path)


def shared_limiter() -> Limiter:
    """Redis when configured; otherwise a locked file every local process shares (the embedded default)."""
    return _limiter_for(settings.REDIS_URL, str(settings.RATE_LIMIT_FILE))


def limiter_key(account: CeligoAccount) -> str:
    return f"account-{account.pk}"


def client_for(
    account: CeligoAccount, *, max_wait: float = WORKER_MAX_WAIT_SECONDS, **options: Any
) -> CeligoClient:
    return CeligoClient(
        account.token,
        region=account.region or "na",
        base_url=account.base_url or None,
        limiter=shared_limiter(),
        limiter_key=limiter_key(account),
        bucket=BucketConfig(burst=account.rate_burst, rate=account.rate_per_second),
        max_wait=max_wait,
        **options,
    )


def web_client_for(account: CeligoAccount) -> CeligoClient:
    """A client for a call made while a person waits: short timeouts, one retry (close it after use)."""
    return client_for(
        account, max_wait=WEB_MAX_WAIT_SECONDS, timeout=WEB_TIMEOUT_SECONDS, retry_policy=WEB_RETRY_POLICY
    )
