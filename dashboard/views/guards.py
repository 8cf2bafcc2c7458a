"""Views that only some roles may reach: the access layer decides, a refusal is a 403 that says why."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from dashboard import access

View = Callable[..., HttpResponse]


def allowed_if(check: Callable[[Any], bool], refusal: str) -> Callable[[View], View]:
    """A decorator letting through only people for whom ``check(user)`` holds."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not check(request.user):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


act_required = allowed_if(access.can_act, "Acting on errors needs the triager role.")
manage_teams_required = allowed_if(access.can_manage_teams, "Managing teams needs the lead role.")
manage_people_required = allowed_if(access.can_manage_people, "Managing people needs the admin role.")
