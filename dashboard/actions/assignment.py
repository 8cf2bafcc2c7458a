"""Who works on an error: its assignee (a person) and, separately, its team."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser

from dashboard import timeline
from dashboard.models import ActivityKind, ErrorRecord, Team


def do_assign(
    actor: timeline.Actor,
    error_ids: Iterable[int],
    assignee: AbstractBaseUser | None,
    *,
    only_unassigned: bool = False,
) -> list[int]:
    """Assign errors to ``assignee`` (None: unassign); returns the ids that changed.

    ``only_unassigned`` leaves errors someone already owns alone (the sync routing a regression, a rule).
    The team is never touched.
    """
    assignee_id = assignee.pk if assignee is not None else None
    before = dict(ErrorRecord.objects.filter(pk__in=list(error_ids)).values_list("pk", "assignee_id"))
    changed = [
        pk for pk, old in before.items() if old != assignee_id and (old is None or not only_unassigned)
    ]
    if not changed:
        return []
    ErrorRecord.objects.filter(pk__in=changed).update(assignee_id=assignee_id)
    names = dict(
        get_user_model()
        .objects.filter(pk__in={v for v in before.values() if v})
        .values_list("pk", "username")
    )
    to = assignee.get_username() if assignee is not None else None
    timeline.record(
        timeline.entry(
            pk, ActivityKind.ASSIGNED, actor=actor, **change(names.get(before[pk]), to, assignee_id)
        )
        for pk in changed
    )
    return changed


def do_set_team(
    actor: timeline.Actor, error_ids: Iterable[int], team: Team | None, *, only_without_team: bool = False
) -> list[int]:
    """Put errors in ``team``'s queue (None: no team); returns the ids that changed. The assignee stays."""
    team_id = team.pk if team is not None else None
    before = dict(ErrorRecord.objects.filter(pk__in=list(error_ids)).values_list("pk", "team_id"))
    changed = [pk for pk, old in before.items() if old != team_id and (old is None or not only_without_team)]
    if not changed:
        return []
    ErrorRecord.objects.filter(pk__in=changed).update(team_id=team_id)
    names = dict(Team.objects.filter(pk__in={v for v in before.values() if v}).values_list("pk", "name"))
    to = team.name if team is not None else None
    timeline.record(
        timeline.entry(pk, ActivityKind.TEAM_SET, actor=actor, **change(names.get(before[pk]), to, team_id))
        for pk in changed
    )
    return changed


def change(before: str | None, after: str | None, after_id: int | None) -> dict[str, Any]:
    """A timeline entry's data for a change of owner: names (as they were then) and the new owner's id."""
    return {"from": before, "to": after, "to_id": after_id}
