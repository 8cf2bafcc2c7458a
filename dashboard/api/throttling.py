"""Per-token request throttling; the counters live in the default cache (Redis when REDIS_URL is set, so
every web process shares them)."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from dashboard.models import ApiToken


class ApiTokenRateThrottle(SimpleRateThrottle):
    """One bucket per token (a person's scripts do not starve their browser), else per person."""

    scope = "api"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
