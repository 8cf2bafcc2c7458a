"""Timeline entries written one by one or, for a bulk action's chunk, by the database in one statement."""

from __future__ import annotations

import pytest
from django.utils import timezone

from dashboard import timeline
from dashboard.models import Activity, ActivityKind
from tests.dashboard.factories import ErrorRecordFactory, UserFactory

pytestmark = pytest.mark.django_db


def rows(kind: str) -> list[tuple]:
    return sorted(
        Activity.objects.filter(kind=kind).values_list(
            "error_id", "actor_id", "created_at", "message", "data"
        )
    )


def test_it_records_the_same_entry_on_many_errors_as_one_by_one_would():
    actor = UserFactory(username="ana")
    errors = ErrorRecordFactory.create_batch(3)
    at = timezone.now()
    data = {"batch": 7, "job_id": "j-1", "note": "quotes ' and \" and ünïcode"}

    timeline.record(
        timeline.entry(e.pk, ActivityKind.RETRY_REQUESTED, actor=actor, at=at, **data) for e in errors
    )
    written = timeline.record_same(
        [e.pk for e in errors], ActivityKind.RESOLVE_REQUESTED, actor=actor, at=at, **data
    )

    assert written == 3
    assert rows(ActivityKind.RESOLVE_REQUESTED) == rows(ActivityKind.RETRY_REQUESTED)
    entry = Activity.objects.filter(kind=ActivityKind.RESOLVE_REQUESTED).first()
    assert entry.data == data
    assert timeline.describe(entry)


def test_a_system_actor_is_kept_in_the_data():
    error = ErrorRecordFactory()
    timeline.record_same(
        [error.pk], ActivityKind.ACTION_FAILED, actor=timeline.SYNC, action="Retry", reason="x"
    )
    entry = Activity.objects.get(error_id=error.pk)
    assert entry.actor_id is None
    assert entry.data == {"by": {"kind": "sync", "name": "the sync"}, "action": "Retry", "reason": "x"}
