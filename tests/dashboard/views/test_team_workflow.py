"""The team assignment workflow in the triage pages: queues, set team, assign to me, the overview by team."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.models import ActionBatch, Activity, ActivityKind, ErrorRecord
from tests.dashboard.factories import ErrorRecordFactory

pytestmark = pytest.mark.django_db

LIST = reverse("error-list")
BULK = reverse("error-bulk-action")


def action(error) -> str:
    return reverse("error-action", args=[error.pk])


def listed(client, **params) -> set[int]:
    response = client.get(LIST, params)
    assert response.status_code == 200
    return {row.pk for row in response.context["rows"]}


def test_the_queues_show_mine_my_teams_and_my_teams_unassigned(login_as, restricted, warehouse, finance):
    mine = ErrorRecordFactory(team=warehouse, assignee=restricted)
    ours = ErrorRecordFactory(team=warehouse)
    ErrorRecordFactory(team=finance)
    client = login_as(restricted)
    page = client.get(LIST).content.decode()
    for queue in ("queue-mine", "queue-team", "queue-team-unassigned"):
        assert f'data-testid="{queue}"' in page
    assert listed(client, assignee="me") == {mine.pk}
    assert listed(client, team="mine") == {mine.pk, ours.pk}
    assert listed(client, team="mine", assignee="none") == {ours.pk}


def test_people_in_no_team_get_no_team_queues(login_as):
    page = login_as("triager").get(LIST).content.decode()
    assert 'data-testid="queue-mine"' in page
    assert 'data-testid="queue-team"' not in page


def test_a_team_filter_of_none_or_garbage_is_clear(login_as, warehouse):
    teamless, placed = ErrorRecordFactory(team=None), ErrorRecordFactory(team=warehouse)
    client = login_as("viewer")
    assert listed(client, team="none") == {teamless.pk}
    assert listed(client, team=str(warehouse.pk)) == {placed.pk}
    response = client.get(LIST, {"team": "<script>"})
    assert response.status_code == 200
    assert response.context["invalid"]


def test_a_triager_sets_the_team_of_chosen_errors_and_keeps_their_assignees(login_as, triager, warehouse):
    errors = ErrorRecordFactory.create_batch(2, assignee=triager)
    client = login_as(triager)
    response = client.post(BULK, {"action": "set_team", "team": warehouse.pk, "ids": [e.pk for e in errors]})
    assert response.status_code == 302
    assert set(ErrorRecord.objects.values_list("team", "assignee")) == {(warehouse.pk, triager.pk)}
    assert Activity.objects.filter(kind=ActivityKind.TEAM_SET, actor=triager).count() == 2
    batch_page = client.get(reverse("batch-list")).content.decode()
    assert "Set team to Warehouse" in batch_page


def test_assign_to_me_is_one_click_and_never_clears_the_team(login_as, triager, warehouse):
    error = ErrorRecordFactory(team=warehouse)
    client = login_as(triager)
    page = client.get(reverse("error-detail", args=[error.pk])).content.decode()
    assert 'data-testid="action-assign-to-me"' in page
    assert client.post(action(error), {"action": "assign", "assignee": triager.pk}).status_code == 302
    error.refresh_from_db()
    assert (error.assignee, error.team) == (triager, warehouse)
    page = client.get(reverse("error-detail", args=[error.pk])).content.decode()
    assert 'data-testid="action-assign-to-me"' not in page


def test_a_restricted_member_may_move_errors_only_between_their_teams(
    login_as, restricted, warehouse, finance
):
    error = ErrorRecordFactory(team=warehouse)
    client = login_as(restricted)
    page = client.get(reverse("error-detail", args=[error.pk])).content.decode()
    assert "Finance" not in page  # not offered
    for team in (finance.pk, "none"):
        response = client.post(action(error), {"action": "set_team", "team": team}, follow=True)
        assert "you may only put errors in one of your teams" in response.content.decode()
    error.refresh_from_db()
    assert error.team == warehouse
    assert not ActionBatch.objects.exists()


def test_a_forged_action_on_another_teams_error_is_a_404_and_changes_nothing(login_as, outsider, warehouse):
    error = ErrorRecordFactory(team=warehouse)
    client = login_as(outsider)
    assert client.post(action(error), {"action": "resolve"}).status_code == 404
    response = client.post(BULK, {"action": "comment", "text": "x", "ids": [error.pk]}, follow=True)
    assert "none of the given errors exists" in response.content.decode()
    assert not ActionBatch.objects.exists()
    assert not Activity.objects.exists()


def test_the_overview_counts_open_errors_per_team_in_the_readers_scope(login_as, warehouse, finance, triager):
    ErrorRecordFactory.create_batch(3, team=warehouse)
    ErrorRecordFactory(team=warehouse, assignee=triager)
    ErrorRecordFactory.create_batch(2, team=finance)
    ErrorRecordFactory(team=None)
    rows = login_as("viewer").get(reverse("overview-teams")).context["rows"]
    assert [(r.team.name if r.team else None, r.open, r.unassigned) for r in rows] == [
        ("Warehouse", 4, 3),
        ("Finance", 2, 2),
        (None, 1, 1),
    ]
    rows = login_as("restricted").get(reverse("overview-teams")).context["rows"]
    assert [(r.team.name, r.open) for r in rows] == [("Warehouse", 4)]
