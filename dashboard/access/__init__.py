"""Who sees what: the one place deciding which errors, batches and saved views a person may read or act on.

Every page, htmx partial, chart, export, count, grouping, cache key and batch selection reads errors through
:func:`visible_errors` or :func:`get_error_for_user`, and asks :func:`can_act` before changing them; nothing
else filters by user (docs/architecture.md "Visibility").

* Roles (one per person, org-wide): a viewer reads; a triager also acts on errors; a lead also manages teams
  and shared views and sees everyone's batches and views; an admin also manages accounts and people. Django
  superusers are admins. A person without a profile is a viewer.
* A member *restricted to their teams* sees, counts, exports and acts on only the errors of their teams.
  Leads and admins are never restricted.
* A person's role, restriction and teams are read once per request and kept on the user object.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404

from dashboard.models import (
    ROLE_RANK,
    ActionBatch,
    ApiToken,
    ErrorRecord,
    FlowJob,
    Profile,
    Role,
    SavedView,
    Team,
    TeamMembership,
)

# Primary keys are 64-bit; a longer number in a URL is a miss, not a database error.
MAX_PK = 2**63 - 1

User = AbstractBaseUser | AnonymousUser
_TEAMS = "_error_desk_team_ids"


def is_member(user: User | None) -> bool:
    """An active, logged-in person (the login middleware keeps everyone else out of the pages)."""
    return user is not None and user.is_authenticated and bool(getattr(user, "is_active", False))


def profile_of(user: User | None) -> Profile | None:
    if not is_member(user):
        return None
    try:
        return user.profile  # type: ignore[union-attr]  # cached on the user after the first read
    except ObjectDoesNotExist:
        return None


def role_of(user: User | None) -> str:
    """The person's role; "" for nobody (anonymous, deactivated)."""
    if not is_member(user):
        return ""
    if getattr(user, "is_superuser", False):
        return Role.ADMIN
    profile = profile_of(user)
    return profile.role if profile is not None else Role.VIEWER


def has_role(user: User | None, role: str) -> bool:
    """Whether the person's role is ``role`` or above it."""
    mine = role_of(user)
    return bool(mine) and ROLE_RANK[Role(mine)] >= ROLE_RANK[Role(role)]


def is_restricted(user: User | None) -> bool:
    """Restricted to their teams' errors (leads and admins never are)."""
    profile = profile_of(user)
    return profile is not None and profile.restricted and not has_role(user, Role.LEAD)


def team_ids(user: User | None) -> list[int]:
    """The ids of the person's teams, sorted."""
    if user is None or user.pk is None or not is_member(user):
        return []
    cached = getattr(user, _TEAMS, None)
    if cached is None:
        cached = sorted(TeamMembership.objects.filter(user_id=user.pk).values_list("team_id", flat=True))
        setattr(user, _TEAMS, cached)
    return list(cached)


def visible_errors(user: User | None, base: QuerySet[ErrorRecord] | None = None) -> QuerySet[ErrorRecord]:
    """The errors ``user`` may see: ``base`` (all errors by default) narrowed to the user's scope."""
    queryset = ErrorRecord.objects.all() if base is None else base
    if not is_member(user):
        return queryset.none()
    if is_restricted(user):
        return queryset.filter(team_id__in=team_ids(user))
    return queryset


def get_error_for_user(
    user: User | None, pk: Any, *, write: bool = False, base: QuerySet[ErrorRecord] | None = None
) -> ErrorRecord:
    """One error the user may see (else 404, as if none existed) and, with ``write``, act on (else 403)."""
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
        raise PermissionDenied("Acting on errors needs the triager role.")
    return error


def can_act(user: User | None, error: ErrorRecord | None = None) -> bool:
    """May ``user`` resolve, retry, assign, tag, comment or edit retry data (of ``error``, when given)?"""
    if not has_role(user, Role.TRIAGER):
        return False
    return error is None or not is_restricted(user) or error.team_id in team_ids(user)


def assignable_teams(user: User | None) -> QuerySet[Team]:
    """The teams a person may put errors in: any team, or, restricted, only their own."""
    if not has_role(user, Role.TRIAGER):
        return Team.objects.none()
    if is_restricted(user):
        return Team.objects.filter(pk__in=team_ids(user))
    return Team.objects.all()


def can_manage_teams(user: User | None) -> bool:
    return has_role(user, Role.LEAD)


def can_manage_people(user: User | None) -> bool:
    return has_role(user, Role.ADMIN)


def scope_key(user: User | None) -> str:
    """A cache-key part that differs between people who see different errors."""
    if not is_member(user):
        return "none"
    if is_restricted(user):
        return "teams:" + ",".join(str(pk) for pk in team_ids(user))
    return "all"


def visible_flow_jobs(user: User | None) -> QuerySet[FlowJob]:
    """Flow runs carry error counts: a restricted member sees the runs of flows with errors of their teams."""
    if not is_member(user):
        return FlowJob.objects.none()
    if is_restricted(user):
        return FlowJob.objects.filter(flow_id__in=visible_errors(user).values("flow_id"))
    return FlowJob.objects.all()


def visible_batches(user: User | None) -> QuerySet[ActionBatch]:
    """A person's own batches; leads and admins see everyone's."""
    if user is None or not is_member(user):
        return ActionBatch.objects.none()
    if has_role(user, Role.LEAD):
        return ActionBatch.objects.all()
    return ActionBatch.objects.filter(actor_id=user.pk)


def visible_saved_views(user: User | None) -> QuerySet[SavedView]:
    """The person's own views and everyone's shared ones; leads and admins also see private ones."""
    if user is None or not is_member(user):
        return SavedView.objects.none()
    if has_role(user, Role.LEAD):
        return SavedView.objects.all()
    return SavedView.objects.filter(Q(owner_id=user.pk) | Q(shared=True))


def visible_api_tokens(user: User | None) -> QuerySet[ApiToken]:
    """A person's own API tokens; admins see everyone's (they manage other people's tokens)."""
    if user is None or not is_member(user):
        return ApiToken.objects.none()
    if has_role(user, Role.ADMIN):
        return ApiToken.objects.all()
    return ApiToken.objects.filter(user_id=user.pk or 0)
