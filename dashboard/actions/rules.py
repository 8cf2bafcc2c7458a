"""Leads' routing rules: saved only when valid (a rejection names the field), kept in a gapless order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from dashboard.models import ActionBatch, ActionKind, AssignMode, RoutingRule, RuleMatch, Tag, Team
from dashboard.outbox.request import request_action
from dashboard.routing.conditions import RuleInvalid, clean_conditions

Actor = AbstractBaseUser | AnonymousUser | None
MAX_TAGS = 10
TAG_MAX_LENGTH = Tag._meta.get_field("name").max_length or 60


@dataclass
class RuleFields:
    """What a person sets on a rule (the editor's form and the API's serializer both give these)."""

    name: str
    conditions: list[dict[str, Any]]
    match: str = RuleMatch.ALL
    enabled: bool = True
    team: Team | None = None
    assign_mode: str = AssignMode.NONE
    assignee: AbstractBaseUser | None = None
    tags: list[str] = field(default_factory=list)


def clean_rule(fields: RuleFields, rule: RoutingRule | None = None) -> RuleFields:
    """``fields`` checked and normalised; raises RuleInvalid naming each field that is wrong."""
    errors: dict[str, str] = {}
    name = fields.name.strip()
    others = RoutingRule.objects.exclude(pk=rule.pk) if rule is not None else RoutingRule.objects.all()
    taken = others.filter(name=name).exists()
    if not name or len(name) > 100:
        errors["name"] = "Give the rule a name of at most 100 characters."
    elif taken:
        errors["name"] = f"A rule named {name!r} exists already."
    if fields.match not in RuleMatch.values:
        errors["match"] = "Use all or any."
    conditions: list[dict[str, Any]] = []
    try:
        conditions = clean_conditions(fields.conditions)
    except RuleInvalid as invalid:
        errors.update(invalid.errors)
    errors.update(assignment_problems(fields))
    tags = sorted({tag.strip() for tag in fields.tags if tag.strip()})
    if len(tags) > MAX_TAGS or any(len(tag) > TAG_MAX_LENGTH or "\x00" in tag for tag in tags):
        errors["tags"] = f"At most {MAX_TAGS} tags of at most {TAG_MAX_LENGTH} characters."
    if not errors and fields.team is None and not fields.assign_mode and not tags:
        errors["team"] = "A rule must set a team, assign someone or add tags."
    if errors:
        raise RuleInvalid(errors)
    fields.name, fields.conditions, fields.tags = name, conditions, tags
    if fields.assign_mode != AssignMode.PERSON:
        fields.assignee = None
    return fields


def assignment_problems(fields: RuleFields) -> dict[str, str]:
    if fields.assign_mode not in AssignMode.values:
        return {"assign_mode": "Use person, round_robin, least_loaded or nobody."}
    if fields.assign_mode == AssignMode.PERSON and fields.assignee is None:
        return {"assignee": "Choose the person to assign."}
    if fields.assign_mode == AssignMode.PERSON and fields.assignee is not None and fields.team is not None:
        member = get_user_model().objects.filter(pk=fields.assignee.pk, team_memberships__team=fields.team)
        if not member.exists():
            return {"assignee": f"Choose a member of {fields.team.name}, the team this rule sets."}
    if fields.assign_mode in (AssignMode.ROUND_ROBIN, AssignMode.LEAST_LOADED) and fields.team is None:
        return {
            "team": "Taking turns or the least loaded member needs the team whose members receive the errors."
        }
    return {}


def do_create_rule(actor: Actor, fields: RuleFields) -> RoutingRule:
    """A new rule, last in the order."""
    fields = clean_rule(fields)
    try:
        with transaction.atomic():
            last = RoutingRule.objects.aggregate(last=Max("position"))["last"]
            return RoutingRule.objects.create(
                **vars(fields),
                position=0 if last is None else last + 1,
                created_by_id=actor.pk if isinstance(actor, AbstractBaseUser) else None,
            )
    except IntegrityError:
        raise RuleInvalid({"name": f"A rule named {fields.name!r} exists already."}) from None


def do_update_rule(actor: Actor, rule: RoutingRule, fields: RuleFields) -> RoutingRule:
    fields = clean_rule(fields, rule)
    for name, value in vars(fields).items():
        setattr(rule, name, value)
    rule.updated_at = timezone.now()
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:
        raise RuleInvalid({"name": f"A rule named {fields.name!r} exists already."}) from None
    return rule


def do_delete_rule(actor: Actor, rule: RoutingRule) -> None:
    with transaction.atomic():
        rule.delete()
        renumber(list(RoutingRule.objects.select_for_update().order_by("position", "pk")))


def do_move_rule(actor: Actor, rule: RoutingRule, position: int) -> list[RoutingRule]:
    """Put ``rule`` at ``position`` (0 is first; clamped) and renumber the rest; returns the new order."""
    with transaction.atomic():
        rules = [
            r for r in RoutingRule.objects.select_for_update().order_by("position", "pk") if r.pk != rule.pk
        ]
        rules.insert(max(0, min(position, len(rules))), rule)
        renumber(rules)
    return rules


def backlog_query(rule: RoutingRule) -> str:
    """The error list's query for the rule's open backlog: what its conditions match among open errors."""
    return f"status=open&matches_rule={rule.pk}"


def do_apply_rule_to_backlog(
    actor: AbstractBaseUser | AnonymousUser, rule: RoutingRule, *, run_now: bool = True
) -> ActionBatch:
    """Apply ``rule`` to the open errors it matches, as an audited batch in the outbox (the actor, the
    errors and the outcome of each are recorded; the page shows its progress). Leads only."""
    return request_action(
        actor,
        ActionKind.APPLY_RULE,
        filter_query=backlog_query(rule),
        params={"rule": rule.pk},
        run_now=run_now,
    )


def renumber(rules: list[RoutingRule]) -> None:
    changed = []
    for position, rule in enumerate(rules):
        if rule.position != position:
            rule.position = position
            changed.append(rule)
    RoutingRule.objects.bulk_update(changed, ["position"])
