"""JSON bodies no parser or database can hold are a 400 that says why, on every write endpoint."""

from __future__ import annotations

import pytest

from dashboard.models import ActionBatch, SavedView
from tests.dashboard.factories import ErrorRecordFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[" * 100_000, "nested deeper than 64 levels"),
        ('{"action": "comment", "ids": [1], "params": {"text": "a\\u0000b"}}', "a NUL character"),
        ('{"action": "comment", "ids": [1], "params": {"text": "\\ud800"}}', "an unpaired surrogate"),
        ('{"action": "comment", "ids": [1], "params": {"\\u0000": 1}}', "a NUL character"),
        ("{not json", "JSON parse error"),
        (b"\xff\xfe", "JSON parse error"),
    ],
)
def test_actions_refuse_json_no_database_can_hold(api_as, body, problem):
    ErrorRecordFactory()
    response = api_as("triager").post("/api/v1/actions/", body, content_type="application/json")
    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert not ActionBatch.objects.exists()


def test_a_saved_view_with_a_nul_in_its_name_is_a_400(api_as):
    response = api_as("triager").post(
        "/api/v1/views/",
        '{"name": "mine\\u0000", "query_string": "status=open"}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not SavedView.objects.exists()
