"""A member restricted to their teams reaches no other team's error through any endpoint of the API."""

from __future__ import annotations

import pytest

from dashboard.models import ActionItem, ActionKind, BatchState
from dashboard.outbox.runner import run_batch
from tests.dashboard.factories import ErrorRecordFactory

pytestmark = pytest.mark.django_db

SAME_MESSAGE = "Order 7 failed: customer 'ACME' not found"


@pytest.fixture
def split(warehouse, finance):
    """Three errors in Warehouse, four in Finance and two in no team, all with the same message."""
    return {
        "warehouse": [ErrorRecordFactory(team=warehouse, message=SAME_MESSAGE) for _ in range(3)],
        "finance": [ErrorRecordFactory(team=finance, message=SAME_MESSAGE) for _ in range(4)],
        "none": [ErrorRecordFactory(team=None, message=SAME_MESSAGE) for _ in range(2)],
    }


def ids(errors) -> set[int]:
    return {error.pk for error in errors}


def test_the_list_holds_only_their_teams_errors_whatever_the_filter(api_as, split, finance):
    client = api_as("restricted")
    listed = {row["id"] for row in client.get("/api/v1/errors/?page_size=200").json()["results"]}
    assert listed == ids(split["warehouse"])
    assert client.get(f"/api/v1/errors/?team={finance.pk}").json()["results"] == []
    assert client.get("/api/v1/errors/?team=none").json()["results"] == []


@pytest.mark.parametrize("suffix", ["", "activity/", "retry-data/", "http-log/"])
def test_another_teams_error_is_a_404_on_every_error_endpoint(api_as, split, suffix):
    client = api_as("restricted")
    for error in split["finance"] + split["none"]:
        assert client.get(f"/api/v1/errors/{error.pk}/{suffix}").status_code == 404


def test_writing_another_teams_retry_data_is_a_404(api_as, split):
    error = split["finance"][0]
    response = api_as("restricted").put(f"/api/v1/errors/{error.pk}/retry-data/", {"data": {}}, format="json")
    assert response.status_code == 404


def test_groups_count_only_their_teams_errors(api_as, split):
    groups = api_as("restricted").get("/api/v1/groups/").json()
    assert groups["count"] == 1
    assert groups["results"][0]["count"] == 3
    everyone = api_as("triager").get("/api/v1/groups/").json()
    assert everyone["results"][0]["count"] == 9


def test_a_dry_run_counts_only_their_teams_errors(api_as, split):
    client = api_as("restricted")
    by_filter = {"action": "resolve", "filter": {"status": "open"}, "dry_run": True}
    assert client.post("/api/v1/actions/", by_filter, format="json").json() == {"dry_run": True, "count": 3}
    all_ids = sorted(ids(split["warehouse"] + split["finance"] + split["none"]))
    by_ids = {"action": "resolve", "ids": all_ids, "dry_run": True}
    assert client.post("/api/v1/actions/", by_ids, format="json").json()["count"] == 3


def test_an_action_by_filter_selects_only_their_teams_errors(api_as, split, restricted):
    answer = api_as("restricted").post(
        "/api/v1/actions/",
        {"action": "tag", "filter": "status=open", "params": {"tags": ["mine"]}},
        format="json",
    )
    assert answer.status_code == 202
    batch = run_batch(answer.json()["id"])
    assert batch.state == BatchState.DONE
    assert set(ActionItem.objects.filter(batch=batch).values_list("error_id", flat=True)) == ids(
        split["warehouse"]
    )


def test_an_action_on_another_teams_ids_touches_nothing(api_as, split):
    response = api_as("restricted").post(
        "/api/v1/actions/",
        {"action": "comment", "ids": sorted(ids(split["finance"])), "params": {"text": "hi"}},
        format="json",
    )
    assert response.status_code == 400
    assert "selection" in response.json()


def test_putting_errors_in_another_team_is_refused_even_in_a_dry_run(api_as, split, finance):
    client = api_as("restricted")
    for dry_run in (True, False):
        response = client.post(
            "/api/v1/actions/",
            {"action": ActionKind.SET_TEAM, "filter": {}, "params": {"team": finance.pk}, "dry_run": dry_run},
            format="json",
        )
        assert response.status_code == 400
        assert "team" in response.json()


def test_batches_of_others_are_404(api_as, split):
    answer = api_as("triager").post(
        "/api/v1/actions/",
        {"action": "comment", "ids": [split["finance"][0].pk], "params": {"text": "x"}},
        format="json",
    )
    batch = answer.json()["id"]
    for persona in ("restricted", "viewer"):
        assert api_as(persona).get(f"/api/v1/actions/{batch}/").status_code == 404
        assert api_as(persona).get(f"/api/v1/actions/{batch}/items/").status_code == 404
    assert batch not in {row["id"] for row in api_as("restricted").get("/api/v1/actions/").json()["results"]}
    assert api_as("lead").get(f"/api/v1/actions/{batch}/").status_code == 200


def test_a_link_to_another_teams_error_is_left_out_of_the_detail(api_as, warehouse, finance):
    theirs = ErrorRecordFactory(team=finance)
    mine = ErrorRecordFactory(team=warehouse, regression_of=theirs, retry_of=theirs)
    detail = api_as("restricted").get(f"/api/v1/errors/{mine.pk}/").json()
    assert (detail["regression_of"], detail["retry_of"]) == (None, None)
    assert api_as("triager").get(f"/api/v1/errors/{mine.pk}/").json()["regression_of"] == theirs.pk
