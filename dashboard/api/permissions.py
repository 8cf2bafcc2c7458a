"""Who may call what: the token's scope first, then the person's role through ``dashboard.access``."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from dashboard import access
from dashboard.models import ApiToken, TokenScope


class TokenScopeAllows(permissions.BasePermission):
    """A read-scoped token may only read: every unsafe method is a 403, whatever its owner may do."""

    message = "This token has the read scope; writing needs a token with the write scope."

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        token = request.auth
        return not isinstance(token, ApiToken) or token.scope == TokenScope.WRITE


class CanActOrReadOnly(permissions.BasePermission):
    message = "Acting on errors needs the triager role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or access.can_act(request.user)


class CanManageTeamsOrReadOnly(permissions.BasePermission):
    message = "Managing teams needs the lead role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or access.can_manage_teams(request.user)


class CanManagePeopleOrReadOnly(permissions.BasePermission):
    message = "Managing Celigo accounts needs the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in permissions.SAFE_METHODS or access.can_manage_people(request.user)


class CanManagePeople(permissions.BasePermission):
    message = "Managing people needs the admin role."

    def has_permission(self, request: Request, view: Any) -> bool:
        return access.can_manage_people(request.user)
