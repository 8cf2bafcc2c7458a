"""Who sees what: the one place deciding which errors, batches and saved views a person may read or act on.

Every page, htmx partial, chart, export, count, grouping, cache key and batch selection reads errors through
:func:`visible_errors` or :func:`get_error_for_user`, and asks :func:`can_act` before changing them; nothing
else filters by user (docs/architecture.md "Visibility"). Today every active, logged-in user reads every
error and acting needs the "can act on errors" permission; team-restricted members will be scoped here.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from dashboard.models import ActionBatch, ErrorRecord, SavedView

ACT_PERMISSION = "dashboard.act_on_errors"
# Primary keys are 64-bit; a longer number in a URL is a miss, not a database error.
MAX_PK = 2**63 - 1

User = AbstractBaseUser | AnonymousUser


def is_member(user: User | None) -> bool:
    """An active, logged-in person (the login middleware keeps everyone else out of the pages)."""
    return user is not None and user.is_authenticated and bool(getattr(user, "is_active", False))


def visible_errors(user: User | None, base: QuerySet[ErrorRecord] | None = None) -> QuerySet[ErrorRecord]:
    """The errors ``user`` may see: ``base`` (all errors by default) narrowed to the user's scope."""
    queryset = ErrorRecord.objects.all() if base is None else base
    if not is_member(user):
        return queryset.none()
    return queryset


def get_error_for_user(
    user: User | None, pk: Any, *, write: bool = False, base: QuerySet[ErrorRecord] | None = None
) -> ErrorRecord:
    """One error the user may see (else 404) and, with ``write``, act on (else 403)."""
    try:
        key = int(pk)
    except (TypeError, ValueError):
        raise Http404("no such error") from None
    if not 0 < key <= MAX_PK:
        raise Http404("no such error")
    try:
        error = visible_errors(user, base).get(pk=key)
    except ErrorRecord.DoesNotExist:
        raise Http404("no such error") from None
    if write and not can_act(user, error):
        raise PermissionDenied("Acting on errors needs the “can act on errors” permission.")
    return error


def can_act(user: User | None, error: ErrorRecord | None = None) -> bool:
    """May ``user`` resolve, retry, assign, tag, comment or edit retry data (of ``error``, when given)?"""
    return is_member(user) and isinstance(user, PermissionsMixin) and user.has_perm(ACT_PERMISSION)


def scope_key(user: User | None) -> str:
    """A cache-key part that differs between users who see different errors (``all``: everything)."""
    return "all" if is_member(user) else "none"


def visible_batches(user: User | None) -> QuerySet[ActionBatch]:
    if not is_member(user):
        return ActionBatch.objects.none()
    return ActionBatch.objects.all()


def visible_saved_views(user: User | None) -> QuerySet[SavedView]:
    """The user's own views and everyone's shared ones."""
    if user is None or not is_member(user):
        return SavedView.objects.none()
    return SavedView.objects.filter(Q(owner_id=user.pk) | Q(shared=True))
