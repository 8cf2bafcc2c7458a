"""Routing rules on new errors: what each condition matches, the order rules decide in, what they never
override, how members take turns, and that the cost grows with rules, not with errors."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import access, timeline
from dashboard.actions.assignment import do_assign, do_set_team
from dashboard.actions.rules import RuleFields, do_create_rule, do_move_rule, do_update_rule
from dashboard.models import (
    Activity,
    ActivityKind,
    AssignMode,
    ErrorRecord,
    RoutingRule,
    RuleHit,
    Step,
    Team,
    TeamMembership,
)
from dashboard.queries.filters import ErrorFilter
from dashboard.queries.rules import dry_run
from dashboard.routing import on_new_errors
from dashboard.routing.conditions import RuleInvalid
from dashboard.routing.rules import apply_rules, enabled_rules
from dashboard.sync.run import sync_account
from tests.dashboard.factories import ErrorRecordFactory, StepFactory, TeamFactory, UserFactory
from tests.dashboard.sync.test_sync import connect

pytestmark = pytest.mark.django_db
pytest_plugins = ["celigo_api.simulator.pytest_plugin"]


def make_rule(name="rule", conditions=None, match="all", **fields) -> RoutingRule:
    conditions = conditions or [{"field": "code", "op": "is", "value": "422"}]
    return do_create_rule(None, RuleFields(name=name, conditions=conditions, match=match, **fields))


def route(*errors: ErrorRecord):
    plan = apply_rules(
        enabled_rules(), ErrorRecord.objects.filter(pk__in=[e.pk for e in errors]), timezone.now()
    )
    for error in errors:
        error.refresh_from_db()
    return plan


def members(team: Team, count: int) -> list:
    people = [UserFactory(username=f"{team.name.lower()}{i}") for i in range(count)]
    for user in people:
        TeamMembership.objects.create(team=team, user_id=user.pk)
    return people


@pytest.mark.parametrize(
    ("field", "op", "value", "matching", "other"),
    [
        ("source", "is", "connection", {"source": "connection"}, {"source": "application"}),
        (
            "classification",
            "contains",
            "MISS",
            {"classification": "missing"},
            {"classification": "duplicate"},
        ),
        ("code", "is", "422", {"code": "422"}, {"code": "4221"}),
        (
            "message",
            "contains",
            "Shortfall",
            {"message": "Inventory shortfall at Reno"},
            {"message": "Timeout"},
        ),
        (
            "message",
            "glob",
            "order * failed?",
            {"message": "Order 12 failed!"},
            {"message": "Order 12 failed"},
        ),
        (
            "message",
            "regex",
            r"^SKU-\d{3}( |$)",
            {"message": "SKU-123 missing"},
            {"message": "SKU-12 missing"},
        ),
        ("message", "glob", "*reno*", {"message": "line one\nat Reno\nend"}, {"message": "at Tahoe"}),
        ("trace_key", "glob", "SO-*", {"trace_key": "SO-77"}, {"trace_key": "PO-77"}),
        ("trace_key", "regex", "^PO-[0-9]+$", {"trace_key": "PO-77"}, {"trace_key": "PO-77x"}),
        ("retry_data", "present", "", {"retry_data_key": "rdk1"}, {"retry_data_key": ""}),
        ("retry_data", "absent", "", {"retry_data_key": ""}, {"retry_data_key": "rdk1"}),
    ],
)
def test_it_matches_each_condition_kind(field, op, value, matching, other):
    make_rule(conditions=[{"field": field, "op": op, "value": value}], tags=["hit"])
    yes, no = ErrorRecordFactory(**matching), ErrorRecordFactory(**other)
    plan = route(yes, no)
    assert dict(plan.matched) == {RoutingRule.objects.get().pk: [yes.pk]}


def test_it_matches_account_integration_flow_and_step():
    here, there = ErrorRecordFactory(), ErrorRecordFactory()
    for field, value in (
        ("account", here.account_id),
        ("integration", here.integration.celigo_id),
        ("flow", here.celigo_flow_id),
        ("step", here.celigo_step_id),
    ):
        RoutingRule.objects.all().delete()
        make_rule(conditions=[{"field": field, "op": "is", "value": value}], tags=["x"])
        assert list(route(here, there).matched.values()) == [[here.pk]], field


def test_all_needs_every_condition_and_any_needs_one():
    conditions = [
        {"field": "code", "op": "is", "value": "422"},
        {"field": "message", "op": "contains", "value": "reno"},
    ]
    both = ErrorRecordFactory(code="422", message="Shortfall at Reno")
    one = ErrorRecordFactory(code="422", message="Shortfall at Tahoe")
    neither = ErrorRecordFactory(code="500", message="Timeout")
    every = make_rule("every", conditions, match="all", tags=["every"])
    some = make_rule("some", conditions, match="any", tags=["some"])
    plan = route(both, one, neither)
    assert plan.matched[every.pk] == [both.pk]
    assert plan.matched[some.pk] == [both.pk, one.pk]
    assert sorted(both.tags.values_list("name", flat=True)) == ["every", "some"]
    assert list(neither.tags.all()) == []


def test_the_first_rule_that_sets_a_team_wins_and_tags_accumulate():
    warehouse, finance = TeamFactory(name="Warehouse"), TeamFactory(name="Finance")
    tagger = make_rule("tag first", tags=["amazon"])
    first = make_rule("warehouse", team=warehouse, tags=["stock"])
    second = make_rule("finance", team=finance, tags=["money"])
    error = ErrorRecordFactory(code="422")
    route(error)
    assert error.team == warehouse
    assert sorted(error.tags.values_list("name", flat=True)) == ["amazon", "money", "stock"]

    do_move_rule(None, second, 0)  # the order decides
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["finance", "tag first", "warehouse"]
    later = ErrorRecordFactory(code="422")
    route(later)
    assert later.team == finance
    assert {tagger.pk, first.pk, second.pk} == set(
        RuleHit.objects.filter(error_id=later.pk).values_list("rule", flat=True)
    )


def test_the_timeline_names_the_rule_and_the_rule_counts_its_hits():
    warehouse = TeamFactory(name="Warehouse")
    rule = make_rule("Amazon shortfalls", team=warehouse, tags=["stock"])
    errors = ErrorRecordFactory.create_batch(3, code="422")
    before = timezone.now()
    route(*errors)
    entry = Activity.objects.get(error=errors[0], kind=ActivityKind.TEAM_SET)
    assert entry.data["by"] == {"kind": "rule", "name": "rule Amazon shortfalls", "id": rule.pk}
    assert timeline.describe(entry) == "Team set to Warehouse"
    tagged = Activity.objects.get(error=errors[0], kind=ActivityKind.TAGGED)
    assert tagged.data["by"]["id"] == rule.pk
    rule.refresh_from_db()
    assert rule.hit_count == 3
    assert rule.last_hit_at is not None
    assert rule.last_hit_at >= before


def test_a_disabled_rule_does_nothing():
    make_rule(tags=["x"], enabled=False)
    error = ErrorRecordFactory(code="422")
    assert not route(error).matched


def test_a_persons_assignment_and_team_choice_stay(triager):
    warehouse, finance = TeamFactory(name="Warehouse"), TeamFactory(name="Finance")
    lead_of_warehouse = members(warehouse, 1)[0]
    make_rule("warehouse", team=warehouse, assign_mode=AssignMode.PERSON, assignee=lead_of_warehouse)
    chosen, assigned = ErrorRecordFactory(code="422"), ErrorRecordFactory(code="422")
    do_set_team(triager, [chosen.pk], finance)
    do_assign(triager, [assigned.pk], triager)
    route(chosen, assigned)
    # The team a person chose stays, and no member of another team is given its error.
    assert (chosen.team, chosen.assignee) == (finance, None)
    # The person assigned stays; the rule still puts the error in its team's queue.
    assert (assigned.team, assigned.assignee) == (warehouse, triager)


def test_an_assigning_rule_whose_team_lost_does_not_assign():
    warehouse, finance = TeamFactory(name="Warehouse"), TeamFactory(name="Finance")
    members(finance, 2)
    make_rule("warehouse", team=warehouse)
    make_rule("finance", team=finance, assign_mode=AssignMode.ROUND_ROBIN)
    error = ErrorRecordFactory(code="422")
    route(error)
    assert (error.team, error.assignee) == (warehouse, None)


def test_round_robin_is_fair_over_100_errors_across_pages():
    warehouse = TeamFactory(name="Warehouse")
    people = members(warehouse, 3)
    make_rule("turns", team=warehouse, assign_mode=AssignMode.ROUND_ROBIN)
    errors = ErrorRecordFactory.create_batch(100, code="422")
    for start in range(0, 100, 30):  # pages of 30, 30, 30 and 10: turns carry over between pages
        route(*errors[start : start + 30])
    got = Counter(e.assignee_id for e in errors)
    assert sorted(got.values()) == [33, 33, 34]
    assert set(got) == {p.pk for p in people}
    # In turn: consecutive errors never go to the same person.
    ordered = [e.assignee_id for e in sorted(errors, key=lambda e: e.pk)]
    assert all(a != b for a, b in itertools.pairwise(ordered))


def test_least_loaded_gives_work_to_whoever_has_the_least():
    warehouse = TeamFactory(name="Warehouse")
    busy, some, idle = members(warehouse, 3)
    for person, count in ((busy, 5), (some, 2)):
        ErrorRecordFactory.create_batch(count, code="500", assignee=person)
    ErrorRecordFactory.create_batch(
        4, code="500", assignee=idle, status="resolved"
    )  # closed work is not load
    make_rule("least", team=warehouse, assign_mode=AssignMode.LEAST_LOADED)
    errors = ErrorRecordFactory.create_batch(6, code="422")
    route(*errors)
    got = Counter(e.assignee_id for e in errors)
    # idle (0 open) takes two to reach some's 2; then they alternate: idle 4, some 2, busy (5) none.
    assert got == {idle.pk: 4, some.pk: 2}


def test_a_restricted_member_sees_errors_as_soon_as_a_rule_routes_them(restricted, warehouse):
    make_rule(
        "to warehouse", conditions=[{"field": "message", "op": "contains", "value": "reno"}], team=warehouse
    )
    error = ErrorRecordFactory(message="Inventory shortfall at Reno")
    assert not access.visible_errors(restricted).filter(pk=error.pk).exists()
    on_new_errors(error.account, error.step, [str(error.error_id)], now=timezone.now())
    assert access.visible_errors(restricted).filter(pk=error.pk).exists()


def test_rules_come_before_ownership_and_ownership_takes_the_rest():
    step = StepFactory()
    owner, ruled = TeamFactory(name="Owner"), TeamFactory(name="Ruled")
    owner.owned_steps.add(step)
    make_rule("reno", conditions=[{"field": "message", "op": "contains", "value": "reno"}], team=ruled)
    reno = ErrorRecordFactory(step=step, message="at Reno")
    other = ErrorRecordFactory(step=step, message="at Tahoe")
    on_new_errors(step.account, step, [str(reno.error_id), str(other.error_id)], now=timezone.now())
    reno.refresh_from_db(), other.refresh_from_db()
    assert (reno.team, other.team) == (ruled, owner)


def test_the_list_filters_errors_routed_by_a_rule(lead):
    rule = make_rule("reno", conditions=[{"field": "message", "op": "contains", "value": "reno"}], tags=["r"])
    reno, other = ErrorRecordFactory(message="at Reno"), ErrorRecordFactory(message="at Tahoe")
    route(reno, other)
    found = ErrorFilter({"rule": str(rule.pk)}, queryset=access.visible_errors(lead)).qs
    assert list(found) == [reno]
    assert not ErrorFilter({"rule": "x1"}, queryset=ErrorRecord.objects.all()).is_valid()


def test_the_dry_run_count_is_what_the_rule_then_applies(lead):
    conditions = [{"field": "message", "op": "regex", "value": "(?i)short(fall|age)"}]
    now = timezone.now()
    for days_ago, message in ((1, "Shortfall"), (2, "shortage"), (3, "Timeout"), (40, "Shortfall long ago")):
        ErrorRecordFactory(message=message, occurred_at=now - timedelta(days=days_ago))
    preview = dry_run(lead, "all", conditions, days=30, now=now)
    assert (preview.count, preview.open_count) == (2, 2)
    assert [e.message for e in preview.sample] == ["Shortfall", "shortage"]
    rule = make_rule("short", conditions=conditions, tags=["short"])
    recent = ErrorRecord.objects.filter(occurred_at__gte=now - timedelta(days=30))
    apply_rules([rule], recent, now)
    rule.refresh_from_db()
    assert rule.hit_count == preview.count


def test_evaluation_is_set_wise(django_assert_max_num_queries):
    """The queries a page costs depend on the rules, not on how many errors the page holds."""
    warehouse = TeamFactory(name="Warehouse")
    members(warehouse, 3)
    for i in range(10):
        make_rule(
            f"tags {i}",
            conditions=[{"field": "message", "op": "regex", "value": f"^Order [0-9]+ failed.{{0,{i}}}"}],
            tags=[f"t{i}"],
        )
    make_rule("team", team=warehouse, assign_mode=AssignMode.ROUND_ROBIN)
    small = ErrorRecordFactory.create_batch(20, code="422")
    large = ErrorRecordFactory.create_batch(400, code="422")
    now = timezone.now()
    rules = enabled_rules()
    with django_assert_max_num_queries(10 * len(rules)) as counted:  # a few writes per rule that matched
        apply_rules(rules, ErrorRecord.objects.filter(pk__in=[e.pk for e in small]), now)
    few = len(counted.captured_queries)
    with django_assert_max_num_queries(few + 2):  # bulk writes split at 1000 or 5000 rows; nothing per error
        apply_rules(rules, ErrorRecord.objects.filter(pk__in=[e.pk for e in large]), now)


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("(unclosed", "not valid"),
        ("(a+)+$", "repeats a group"),
        (r"(\w*x)*y", "repeats a group"),
        (r"(a)\1", "back-reference"),
        ("a" * 301, "longer than"),
    ],
)
def test_a_rule_with_a_bad_regex_cannot_be_saved(pattern, why):
    with pytest.raises(RuleInvalid) as refused:
        make_rule(conditions=[{"field": "message", "op": "regex", "value": pattern}], tags=["x"])
    assert why in refused.value.errors["conditions"]
    assert refused.value.errors["conditions"].startswith("Condition 1:")
    assert not RoutingRule.objects.exists()


def test_a_rule_is_checked_field_by_field():
    with pytest.raises(RuleInvalid) as refused:
        make_rule(name="", conditions=[{"field": "colour", "op": "is", "value": "red"}])
    assert set(refused.value.errors) == {"name", "conditions"}
    with pytest.raises(RuleInvalid) as refused:
        make_rule(assign_mode=AssignMode.ROUND_ROBIN)
    assert "team" in refused.value.errors
    with pytest.raises(RuleInvalid) as refused:
        make_rule(conditions=[{"field": "account", "op": "is", "value": "999999"}], tags=["x"])
    assert "account" in refused.value.errors["conditions"]
    rule = make_rule(tags=["x"])
    with pytest.raises(RuleInvalid) as refused:
        do_update_rule(None, rule, RuleFields(name="rule", conditions=[], tags=["x"]))
    assert "conditions" in refused.value.errors


def test_the_sync_routes_new_errors_by_the_rules(celigo_simulator, restricted, warehouse):
    sim = celigo_simulator
    account = connect(sim)
    rule = make_rule(
        "everything here", conditions=[{"field": "account", "op": "is", "value": account.pk}], team=warehouse
    )
    sync_account(account)  # the first sync: rules apply to everything it stores
    stored = ErrorRecord.objects.filter(account=account, status="open")
    assert stored.exists()
    assert set(stored.values_list("team", flat=True)) == {warehouse.pk}
    rule.refresh_from_db()
    assert rule.hit_count == stored.count()
    assert access.visible_errors(restricted).filter(account=account).count() == stored.count()

    step = Step.objects.get(pk=stored.values("step")[:1])
    new = sim.state.add_error(step.flow.celigo_id, step.celigo_id)["errorId"]
    sync_account(account)
    arrived = ErrorRecord.objects.get(account=account, error_id=new)
    assert arrived.team == warehouse
    entry = Activity.objects.get(error=arrived, kind=ActivityKind.TEAM_SET)
    assert entry.data["by"]["name"] == "rule everything here"
