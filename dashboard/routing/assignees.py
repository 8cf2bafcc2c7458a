"""Which member of a rule's team receives each error: the next one in turn, or the one with the least work."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count

from dashboard.models import AssignMode, CeligoState, ErrorRecord, RoutingRule, TeamMembership


def team_members(rule: RoutingRule) -> list[AbstractBaseUser]:
    """The active members of the rule's team, in user-id order (the order turns are taken in)."""
    if rule.team_id is None:
        return []
    user_ids = TeamMembership.objects.filter(team_id=rule.team_id).values("user_id")
    return list(get_user_model().objects.filter(pk__in=user_ids, is_active=True).order_by("pk"))


def pick_assignees(rule: RoutingRule, error_ids: Iterable[int]) -> list[tuple[AbstractBaseUser, list[int]]]:
    """Each member with the errors (ids, in order) they receive."""
    members = team_members(rule)
    ids = sorted(error_ids)
    if not members or not ids:
        return []
    if rule.assign_mode == AssignMode.ROUND_ROBIN:
        chosen = take_turns(rule, members, len(ids))
    else:
        chosen = least_loaded(members, len(ids))
    given: dict[int, list[int]] = {}
    for pk, member in zip(ids, chosen, strict=True):
        given.setdefault(member.pk, []).append(pk)
    return [(member, given[member.pk]) for member in members if member.pk in given]


def take_turns(rule: RoutingRule, members: list[AbstractBaseUser], count: int) -> list[AbstractBaseUser]:
    """The next ``count`` members in turn after the one who received the rule's last error.

    The turn is read and moved under a row lock, so two syncs routing at once do not both start from the
    same member.
    """
    with transaction.atomic():
        last = (
            RoutingRule.objects.select_for_update()
            .filter(pk=rule.pk)
            .values_list("last_assignee_id", flat=True)
        ).first()
        start = next((i for i, member in enumerate(members) if last is not None and member.pk > last), 0)
        chosen = [members[(start + i) % len(members)] for i in range(count)]
        RoutingRule.objects.filter(pk=rule.pk).update(last_assignee_id=chosen[-1].pk)
    return chosen


def least_loaded(members: list[AbstractBaseUser], count: int) -> list[AbstractBaseUser]:
    """Each error to the member with the fewest open errors at that moment (ties: the lowest user id)."""
    load = dict(
        ErrorRecord.objects.filter(status=CeligoState.OPEN, assignee_id__in=[m.pk for m in members])
        .values("assignee_id")
        .annotate(open=Count("pk"))
        .values_list("assignee_id", "open")
    )
    open_errors = {member.pk: load.get(member.pk, 0) for member in members}
    chosen = []
    for _ in range(count):
        member = min(members, key=lambda m: (open_errors[m.pk], m.pk))
        open_errors[member.pk] += 1
        chosen.append(member)
    return chosen
