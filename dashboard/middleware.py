"""Wiring for every response: pages and exports of a logged-in person are never cached anywhere."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.cache import patch_cache_control


class NoStoreForPeopleMiddleware:
    """``Cache-Control: private, no-store`` on whatever a logged-in person receives (pages, partials, CSV):
    a shared cache or the browser's disk must not keep third-party payloads or what a team may see."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
