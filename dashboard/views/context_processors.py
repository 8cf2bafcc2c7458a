"""What every page may ask of the access layer about the person looking at it (read only when used)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from dashboard import access


class Abilities:
    """``{{ access.can_act }}``, ``{{ access.can_manage_teams }}``, …, for the person of this request."""

    def __init__(self, user: Any) -> None:
        self.user = user

    @cached_property
    def role(self) -> str:
        return access.role_of(self.user)

    @cached_property
    def can_act(self) -> bool:
        return access.can_act(self.user)

    @cached_property
    def can_manage_teams(self) -> bool:
        return access.can_manage_teams(self.user)

    @cached_property
    def can_manage_people(self) -> bool:
        return access.can_manage_people(self.user)

    @cached_property
    def restricted(self) -> bool:
        return access.is_restricted(self.user)

    @cached_property
    def has_teams(self) -> bool:
        return bool(access.team_ids(self.user))


def abilities(request: HttpRequest) -> dict[str, Any]:
    return {"access": Abilities(getattr(request, "user", None))}
