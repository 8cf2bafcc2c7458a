"""Routing rules applied to a set of errors: a page of new errors from the sync, or a lead's open backlog.

Set-wise (docs/architecture.md "Routing rules"): one query evaluates every enabled rule over the whole set
(a boolean column per rule), then each rule's changes are written for all its errors at once through the
``do_*`` actions, so the cost grows with the number of rules, never with errors times rules.

* The first matching rule that sets a team decides the team; tags accumulate from every matching rule.
* The assignee comes from the first matching rule that assigns, unless that rule's team lost to an earlier
  rule's (a member of one team is never given another team's error).
* Nothing a rule does overrides a team or an assignee the error already has.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import BooleanField, Case, F, QuerySet, When

from dashboard import timeline
from dashboard.actions.assignment import do_assign, do_set_team
from dashboard.actions.tags import do_tag
from dashboard.models import AssignMode, ErrorRecord, RoutingRule, RuleHit
from dashboard.routing.assignees import pick_assignees
from dashboard.routing.conditions import rule_q

HIT_BULK_SIZE = 1000


def rule_actor(rule: RoutingRule) -> timeline.SystemActor:
    """Who acted, as the timeline names it: "Team set to Warehouse by rule Amazon shortfalls"."""
    return timeline.SystemActor("rule", f"rule {rule.name}", rule.pk)


def enabled_rules() -> list[RoutingRule]:
    return list(RoutingRule.objects.filter(enabled=True).select_related("team", "assignee"))


@dataclass
class Plan:
    """What the rules do to one set of errors: who matched, which rule won each error's team and assignee."""

    matched: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    team_of: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    assign_by: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))


def plan_for(rules: list[RoutingRule], errors: QuerySet[ErrorRecord]) -> Plan:
    """Evaluate every rule over ``errors`` in one query, and decide in rule order."""
    plan = Plan()
    if not rules:
        return plan
    columns = {
        f"rule_{rule.pk}": Case(
            When(rule_q(rule.match, rule.conditions), then=True), default=False, output_field=BooleanField()
        )
        for rule in rules
    }
    rows = errors.annotate(**columns).values_list("pk", "team_id", "assignee_id", *columns).order_by("pk")
    for pk, team_id, assignee_id, *hits in rows:
        team_rule: RoutingRule | None = None
        assigned = assignee_id is not None
        for rule, hit in zip(rules, hits, strict=True):
            if not hit:
                continue
            plan.matched[rule.pk].append(pk)
            if rule.team_id is not None and team_rule is None and team_id is None:
                team_rule = rule
                plan.team_of[rule.pk].append(pk)
            if rule.assign_mode and not assigned and (rule.team_id is None or team_rule is rule):
                assigned = True
                plan.assign_by[rule.pk].append(pk)
    return plan


def apply_rules(rules: list[RoutingRule], errors: QuerySet[ErrorRecord], now: datetime) -> Plan:
    """Apply ``rules`` (in order) to ``errors`` (a page or a chunk); returns what matched and changed."""
    plan = plan_for(rules, errors)
    for rule in rules:
        actor = rule_actor(rule)
        if plan.team_of.get(rule.pk) and rule.team is not None:
            do_set_team(actor, plan.team_of[rule.pk], rule.team, only_without_team=True)
        if plan.assign_by.get(rule.pk):
            assign(rule, actor, plan.assign_by[rule.pk])
        if plan.matched.get(rule.pk) and rule.tags:
            do_tag(actor, plan.matched[rule.pk], list(rule.tags))
        if plan.matched.get(rule.pk):
            record_hits(rule, plan.matched[rule.pk], now)
    return plan


def assign(rule: RoutingRule, actor: timeline.SystemActor, error_ids: list[int]) -> None:
    if rule.assign_mode == AssignMode.PERSON:
        if rule.assignee is not None and rule.assignee.is_active:
            do_assign(actor, error_ids, rule.assignee, only_unassigned=True)
        return
    for user, pks in pick_assignees(rule, error_ids):
        do_assign(actor, pks, user, only_unassigned=True)


def record_hits(rule: RoutingRule, error_ids: list[int], now: datetime) -> None:
    """Count the hits and remember which errors the rule matched, for the list's "routed by rule" filter."""
    RuleHit.objects.bulk_create(
        (RuleHit(rule_id=rule.pk, error_id=pk, at=now) for pk in error_ids),
        batch_size=HIT_BULK_SIZE,
        ignore_conflicts=True,
    )
    RoutingRule.objects.filter(pk=rule.pk).update(hit_count=F("hit_count") + len(error_ids), last_hit_at=now)
