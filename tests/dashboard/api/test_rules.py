"""``/api/v1/rules/``: the same rules, order, validation and dry run as the pages, for leads' scripts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard.models import ActionBatch, ActionKind, RoutingRule
from tests.dashboard.factories import ErrorRecordFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/rules/"
RENO = [{"field": "message", "op": "contains", "value": "reno"}]


def regex(pattern: str) -> dict[str, str]:
    return {"field": "message", "op": "regex", "value": pattern}


def test_a_lead_writes_orders_and_deletes_rules(api_as, warehouse):
    api = api_as("lead")
    first = api.post(URL, {"name": "first", "conditions": RENO, "team": warehouse.pk}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["position"] == 0
    assert first.json()["conditions"] == RENO
    second = api.post(
        URL, {"name": "second", "conditions": RENO, "tags": ["b"], "position": 0}, format="json"
    )
    assert second.status_code == 201
    names = [rule["name"] for rule in api.get(URL).json()["results"]]
    assert names == ["second", "first"]
    moved = api.patch(f"{URL}{second.json()['id']}/", {"position": 5}, format="json")
    assert moved.status_code == 200
    assert [rule["name"] for rule in api.get(URL).json()["results"]] == ["first", "second"]
    assert (
        api.patch(f"{URL}{first.json()['id']}/", {"enabled": False}, format="json").json()["enabled"] is False
    )
    assert api.delete(f"{URL}{first.json()['id']}/").status_code == 204
    assert list(RoutingRule.objects.values_list("name", "position")) == [("second", 0)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "r", "conditions": [regex("(a+)+$")], "tags": ["x"]}, "conditions"),
        ({"name": "r", "conditions": [regex("(x")], "tags": ["x"]}, "conditions"),
        ({"name": "r", "conditions": [{"field": "colour", "op": "is", "value": "red"}]}, "conditions"),
        ({"name": "r", "conditions": RENO, "assign_mode": "round_robin"}, "team"),
        ({"name": "r", "conditions": RENO, "assign_mode": "person"}, "assignee"),
        ({"name": "", "conditions": RENO, "tags": ["x"]}, "name"),
        ({"name": "r", "conditions": RENO}, "team"),
    ],
)  # fmt: skip
def test_an_invalid_rule_is_a_400_naming_the_field(api_as, body, field):
    response = api_as("lead").post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not RoutingRule.objects.exists()


def test_the_dry_run_counts_what_conditions_would_match(api_as):
    now = timezone.now()
    reno = ErrorRecordFactory(message="at Reno", occurred_at=now - timedelta(days=1))
    ErrorRecordFactory(message="at Reno", occurred_at=now - timedelta(days=1), status="resolved")
    ErrorRecordFactory(message="at Reno", occurred_at=now - timedelta(days=40))
    response = api_as("lead").post(f"{URL}dry-run/", {"conditions": RENO, "days": 30}, format="json")
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert response.json()["open_count"] == 1
    assert reno.pk in response.json()["sample"]
    bad = api_as("lead").post(f"{URL}dry-run/", {"conditions": [], "days": 30}, format="json")
    assert bad.status_code == 400
    assert "conditions" in bad.json()
    assert api_as("triager").post(f"{URL}dry-run/", {"conditions": RENO}, format="json").status_code == 403


def test_applying_a_rule_to_the_backlog_starts_a_batch(api_as, warehouse):
    ErrorRecordFactory(message="at Reno")
    api = api_as("lead")
    rule = api.post(URL, {"name": "reno", "conditions": RENO, "team": warehouse.pk}, format="json").json()
    response = api.post(f"{URL}{rule['id']}/apply/")
    assert response.status_code == 202
    batch = ActionBatch.objects.get(pk=response.json()["id"])
    assert (batch.kind, batch.params["rule"]) == (ActionKind.APPLY_RULE, rule["id"])
