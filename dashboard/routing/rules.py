"""Routing rules applied to a set of errors: a page of new errors from the sync, or a lead's open backlog.

Set-wise (docs/architecture.md "Routing rules"): one query evaluates every enabled rule over the whole set
(a boolean column per rule); then teams and assignees are written per rule for all its errors through the
``do_*`` actions, and tags, hits and counters for all rules at once, so the cost grows with the number of
rules that act, never with errors times rules.

* The first matching rule that sets a team decides the team; tags accumulate from every matching rule.
* The assignee comes from the first matching rule that assigns, unless that rule's team lost to an earlier
  rule's (a member of one team is never given another team's error).
* Nothing a rule does overrides a team or an assignee the error already has.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import BooleanField, Case, F, PositiveBigIntegerField, QuerySet, Value, When

from dashboard import timeline
from dashboard.actions.assignment import do_assign, do_set_team
from dashboard.models import ActivityKind, AssignMode, ErrorRecord, RoutingRule, RuleHit, Tag
from dashboard.routing.assignees import pick_assignees
from dashboard.routing.conditions import rule_q

HIT_BULK_SIZE = 5000  # rows per INSERT of hits and tag links


def rule_actor(rule: RoutingRule) -> timeline.SystemActor:
    """Who acted, as the timeline names it: "Team set to Warehouse by rule Amazon shortfalls"."""
    return timeline.SystemActor("rule", f"rule {rule.name}", rule.pk)


def enabled_rules() -> list[RoutingRule]:
    # Team and assignee are read only for the few rules that act on a page, so they are not joined here.
    return list(RoutingRule.objects.filter(enabled=True))


@dataclass
class Plan:
    """What the rules do to one set of errors: who matched, which rule won each error's team and assignee."""

    matched: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    team_of: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    assign_by: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))


def rule_columns(rules: list[RoutingRule]) -> dict[str, Case]:
    return {
        f"rule_{rule.pk}": Case(
            When(rule_q(rule.match, rule.conditions), then=True), default=False, output_field=BooleanField()
        )
        for rule in rules
    }


# The SQL of the evaluation query for a list of rules, compiled once: building 100 rules' expressions costs
# the ORM more than PostgreSQL takes to run them over a page (bench/routing.py).
COMPILED: dict[tuple[Any, ...], tuple[str, tuple[Any, ...]]] = {}
COMPILED_KEPT = 8


def evaluate(rules: list[RoutingRule], errors: QuerySet[ErrorRecord]) -> list[tuple[Any, ...]]:
    """``(pk, team_id, assignee_id, matched by rule 1, matched by rule 2, …)`` for each error, by pk."""
    if connection.vendor != "postgresql":
        columns = rule_columns(rules)
        return list(
            errors.annotate(**columns).values_list("pk", "team_id", "assignee_id", *columns).order_by("pk")
        )
    pks = list(errors.values_list("pk", flat=True))
    if not pks:
        return []
    key = tuple((rule.pk, rule.match, json.dumps(rule.conditions, sort_keys=True)) for rule in rules)
    if key not in COMPILED:
        columns = rule_columns(rules)
        query = ErrorRecord.objects.annotate(**columns).values_list("pk", "team_id", "assignee_id", *columns)
        sql, params = query.order_by().query.sql_with_params()
        table = connection.ops.quote_name(ErrorRecord._meta.db_table)
        if len(COMPILED) >= COMPILED_KEPT:
            COMPILED.clear()
        # The query has no WHERE of its own (only its CASE subqueries do): the page's ids are the one filter.
        COMPILED[key] = (f'{sql} WHERE {table}."id" = ANY(%s) ORDER BY {table}."id"', tuple(params))
    sql, params = COMPILED[key]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pks])
        return list(cursor.fetchall())


def plan_for(rules: list[RoutingRule], errors: QuerySet[ErrorRecord]) -> Plan:
    """Evaluate every rule over ``errors`` in one query, and decide in rule order."""
    plan = Plan()
    if not rules:
        return plan
    for pk, team_id, assignee_id, *hits in evaluate(rules, errors):
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
    """Apply ``rules`` (in order) to ``errors`` (a page or a chunk); returns what matched and changed.

    The writes of one set share one transaction. For a page of new errors (not already inside a transaction,
    as the outbox's chunks are) it commits without waiting for its WAL flush: a crash could lose it, which
    leaves those errors unrouted exactly as a crash just before routing would, and it saves a disk flush
    per page, as the sync's own page transactions do (``sync/ingest.py`` ``relax_commit``).
    """
    plan = plan_for(rules, errors)
    if not plan.matched:
        return plan
    # Turns are taken first, each under its rule's row lock for a moment, and the hit counters are moved last,
    # their rows locked in id order: the sync's parallel threads never hold one rule's row while waiting for
    # another's.
    assignments = [
        (rule, picks) for rule in rules if (picks := assignees(rule, plan.assign_by.get(rule.pk, [])))
    ]
    relaxed = not transaction.get_connection().in_atomic_block
    with transaction.atomic():
        if relaxed:
            relax_commit()
        for rule in rules:
            if plan.team_of.get(rule.pk) and rule.team is not None:
                do_set_team(rule_actor(rule), plan.team_of[rule.pk], rule.team, only_without_team=True)
        for rule, picks in assignments:
            for user, pks in picks:
                do_assign(rule_actor(rule), pks, user, only_unassigned=True)
        add_tags(rules, plan, now)
        record_hits(plan, now)
        count_hits(plan, now)
    return plan


def relax_commit() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def add_tags(rules: list[RoutingRule], plan: Plan, now: datetime) -> None:
    """Every matching rule's tags on the whole set at once: what ``do_tag`` does for one call (create the
    tags, link them, one timeline entry per error naming the rule), done in a few queries for all rules."""
    wanted = {rule.pk: list(rule.tags) for rule in rules if rule.tags and plan.matched.get(rule.pk)}
    if not wanted:
        return
    names = sorted({name for tags in wanted.values() for name in tags})
    tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    if len(tag_ids) < len(names):
        Tag.objects.bulk_create([Tag(name=n) for n in names if n not in tag_ids], ignore_conflicts=True)
        tag_ids = dict(Tag.objects.filter(name__in=names).values_list("name", "pk"))
    through = ErrorRecord.tags.through
    pairs = {
        (pk, tag_ids[name])
        for rule_pk, tags in wanted.items()
        for pk in plan.matched[rule_pk]
        for name in tags
    }
    through.objects.bulk_create(
        (through(errorrecord_id=pk, tag_id=tag_id) for pk, tag_id in sorted(pairs)),
        batch_size=HIT_BULK_SIZE,
        ignore_conflicts=True,
    )
    for rule in rules:
        if rule.pk in wanted:
            timeline.record_same(
                plan.matched[rule.pk],
                ActivityKind.TAGGED,
                actor=rule_actor(rule),
                at=now,
                tags=wanted[rule.pk],
            )


def assignees(rule: RoutingRule, error_ids: list[int]) -> list[tuple[AbstractBaseUser, list[int]]]:
    """Who the rule gives which of ``error_ids``: its person, or its team's members in turn or by load."""
    if not error_ids:
        return []
    if rule.assign_mode == AssignMode.PERSON:
        active = rule.assignee is not None and rule.assignee.is_active
        return [(rule.assignee, error_ids)] if active and rule.assignee is not None else []
    return pick_assignees(rule, error_ids)


def record_hits(plan: Plan, now: datetime) -> None:
    """Remember which errors each rule matched (the list's "routed by rule" filter), in one insert."""
    RuleHit.objects.bulk_create(
        (
            RuleHit(rule_id=rule_pk, error_id=pk, at=now)
            for rule_pk, pks in plan.matched.items()
            for pk in pks
        ),
        batch_size=HIT_BULK_SIZE,
        ignore_conflicts=True,
    )


def count_hits(plan: Plan, now: datetime) -> None:
    """Add to each rule's hit count and date its last hit: one update, its rows locked in id order first."""
    added = Case(
        *(When(pk=rule_pk, then=Value(len(pks))) for rule_pk, pks in plan.matched.items()),
        default=Value(0),
        output_field=PositiveBigIntegerField(),
    )
    rule_pks = sorted(plan.matched)
    list(RoutingRule.objects.select_for_update().filter(pk__in=rule_pks).order_by("pk").values_list("pk"))
    RoutingRule.objects.filter(pk__in=rule_pks).update(hit_count=F("hit_count") + added, last_hit_at=now)
