"""Every list of the API costs the same SQL queries for 2 rows as for 12 (no query per row)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.models import ActionKind, ApiToken, TeamMembership
from tests.dashboard.factories import (
    ActionBatchFactory,
    ActivityFactory,
    CeligoAccountFactory,
    ErrorRecordFactory,
    SavedViewFactory,
    SyncRunFactory,
    TeamFactory,
    UserFactory,
    person,
)

pytestmark = pytest.mark.django_db


def make(kind: str, n: int, admin, error) -> str:
    """``n`` rows of ``kind`` the admin sees; returns the list's URL."""
    if kind == "actions":
        for _ in range(n):
            ActionBatchFactory(kind=ActionKind.RESOLVE, actor=admin).items.create(error=error)
        return "/api/v1/actions/"
    if kind == "items":
        batch = ActionBatchFactory(kind=ActionKind.RESOLVE, actor=admin)
        for _ in range(n):
            batch.items.create(error=ErrorRecordFactory())
        return f"/api/v1/actions/{batch.pk}/items/"
    if kind == "activity":
        for _ in range(n):
            ActivityFactory(error=error, actor=UserFactory())
        return f"/api/v1/errors/{error.pk}/activity/"
    if kind == "tokens":
        for _ in range(n):
            ApiToken.issue(UserFactory())
        return "/api/v1/tokens/"
    if kind == "views":
        for _ in range(n):
            SavedViewFactory(owner=UserFactory(), shared=True)
        return "/api/v1/views/"
    if kind == "teams":
        for _ in range(n):
            TeamMembership.objects.create(team_id=TeamFactory().pk, user_id=UserFactory().pk)
        return "/api/v1/teams/"
    if kind == "users":
        for i in range(n):
            person(f"p{i}-{n}", "triager", restricted=bool(i % 2))
        return "/api/v1/users/"
    if kind == "accounts":
        for _ in range(n):
            CeligoAccountFactory()
        return "/api/v1/accounts/"
    if kind == "sync-runs":
        for _ in range(n):
            SyncRunFactory()
        return "/api/v1/sync-runs/"
    raise AssertionError(kind)


def queries_for(client, url: str) -> int:
    client.get(url)  # the token's last use is written on the first request only
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(captured)


@pytest.mark.parametrize(
    "kind", ["actions", "items", "activity", "tokens", "views", "teams", "users", "accounts", "sync-runs"]
)
def test_a_list_costs_the_same_queries_for_few_and_many_rows(api_as, admin, kind):
    client = api_as("admin")
    error = ErrorRecordFactory()
    few = queries_for(client, make(kind, 2, admin, error))
    many = queries_for(client, make(kind, 12, admin, error))
    assert few == many
