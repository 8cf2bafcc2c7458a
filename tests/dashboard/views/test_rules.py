"""The routing rule pages: leads list, order, write and delete rules, and see a live dry run before saving."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard.actions.rules import RuleFields, do_create_rule
from dashboard.models import ErrorRecord, RoutingRule
from dashboard.routing.rules import apply_rules
from tests.dashboard.factories import ErrorRecordFactory

pytestmark = pytest.mark.django_db


def editor_post(name="Reno shortfalls", rows=(("message", "contains", "reno"),), **fields):
    data = {"name": name, "match": "all", "enabled": "on", "team": "", "assign_mode": "", "assignee": ""}
    data |= {"tags": "stock", "days": "7"} | fields
    data["cond_field"] = [r[0] for r in rows] + [""]
    data["cond_op"] = [r[1] for r in rows] + ["is"]
    data["cond_value"] = [r[2] for r in rows] + [""]
    return data


def make_rule(name: str, tags=("x",)) -> RoutingRule:
    conditions = [{"field": "code", "op": "is", "value": "422"}]
    return do_create_rule(None, RuleFields(name=name, conditions=conditions, tags=list(tags)))


@pytest.mark.parametrize("persona", ["viewer", "triager", "restricted"])
def test_only_leads_and_admins_reach_the_rules(login_as, persona, warehouse):
    assert login_as(persona).get(reverse("rule-list")).status_code == 403
    assert login_as(persona).post(reverse("rule-add"), editor_post()).status_code == 403
    assert b'data-testid="nav-rules"' not in login_as(persona).get(reverse("team-list")).content
    assert b'data-testid="nav-rules"' in login_as("lead").get(reverse("team-list")).content


def test_a_lead_writes_a_rule_and_sees_it_listed_with_its_hits(login_as, warehouse):
    client = login_as("lead")
    assert client.get(reverse("rule-add")).status_code == 200
    response = client.post(reverse("rule-add"), editor_post(team=str(warehouse.pk)))
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.conditions == [{"field": "message", "op": "contains", "value": "reno"}]
    assert (rule.team, rule.tags, rule.enabled) == (warehouse, ["stock"], True)
    error = ErrorRecordFactory(message="Shortfall at Reno")
    apply_rules([rule], ErrorRecord.objects.all(), timezone.now())
    page = client.get(reverse("rule-list"))
    assert "Message contains &#x27;reno&#x27;" in page.content.decode()
    assert f'href="/errors/?rule={rule.pk}"' in page.content.decode()
    routed = client.get(reverse("error-list"), {"rule": rule.pk})
    assert error.error_id in routed.content.decode()
    assert f'name="rule" value="{rule.pk}"' in routed.content.decode()  # the filter stays as others change

    edit = client.post(reverse("rule-edit", args=[rule.pk]), editor_post(name="Reno", enabled=""))
    assert edit.status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.enabled) == ("Reno", False)


def test_a_rule_with_an_invalid_regex_is_not_saved_and_the_page_says_which_field(login_as):
    response = login_as("lead").post(reverse("rule-add"), editor_post(rows=[("message", "regex", "(a+)+$")]))
    assert response.status_code == 400
    assert "Conditions: Condition 1: the regular expression repeats a group" in response.content.decode()
    assert not RoutingRule.objects.exists()
    response = login_as("lead").post(
        reverse("rule-add"), editor_post(assign_mode="round_robin", rows=[("code", "is", "1")])
    )
    assert b'data-testid="error-team"' in response.content


def test_the_dry_run_counts_and_samples_what_the_rule_as_typed_would_match(login_as):
    now = timezone.now()
    ErrorRecordFactory(message="Shortfall at Reno", occurred_at=now - timedelta(days=2))
    ErrorRecordFactory(
        message="Shortfall at Reno, resolved", occurred_at=now - timedelta(days=3), status="resolved"
    )
    ErrorRecordFactory(message="Shortfall at Reno long ago", occurred_at=now - timedelta(days=20))
    ErrorRecordFactory(message="Timeout", occurred_at=now - timedelta(days=1))
    client = login_as("lead")
    week = client.post(reverse("rule-dry-run"), editor_post())
    assert week.context["result"].count == 2
    assert week.context["result"].open_count == 1
    assert "Shortfall at Reno, resolved" in week.content.decode()
    month = client.post(reverse("rule-dry-run"), editor_post(days="30"))
    assert month.context["result"].count == 3
    bad = client.post(reverse("rule-dry-run"), editor_post(rows=[("message", "regex", "(x")]))
    assert "Condition 1" in bad.content.decode()
    assert login_as("triager").post(reverse("rule-dry-run"), editor_post()).status_code == 403


def test_rules_move_up_and_down_and_are_deleted(login_as):
    first, _second, third = (make_rule(name) for name in ("first", "second", "third"))
    client = login_as("lead")
    client.post(reverse("rule-move", args=[third.pk]), {"direction": "up"})
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["first", "third", "second"]
    client.post(reverse("rule-move", args=[first.pk]), {"direction": "down"})
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["third", "first", "second"]
    client.post(reverse("rule-delete", args=[first.pk]))
    assert list(RoutingRule.objects.values_list("name", "position")) == [("third", 0), ("second", 1)]
