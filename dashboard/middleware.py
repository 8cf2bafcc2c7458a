"""Wiring for every request and response: text no database can store is refused at the door, and pages and
exports of a logged-in person are never cached anywhere."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBadRequest
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


class RefuseNulMiddleware:
    """A 400 naming the field for any query or form value (or name) holding a NUL character.

    PostgreSQL cannot store NUL in text, and no person types one; refusing it here, before any view, means no
    comment, tag, saved view or filter can carry one into a query. (The API's JSON parser refuses it in
    JSON bodies; ``dashboard.lib.jsontext``.)
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        for where, values in (("query", request.GET), ("form", request.POST)):
            for name, items in values.lists():
                if "\x00" in name or any("\x00" in item for item in items):
                    shown = name.replace("\x00", "\\u0000")[:100]
                    return HttpResponseBadRequest(
                        f"{shown}: the {where} value contains a NUL character (\\u0000), which Error Desk "
                        "cannot store.",
                        content_type="text/plain; charset=utf-8",
                    )
        return self.get_response(request)
