"""Every kind of timeline entry reads as a sentence made from its data, in one place."""

from __future__ import annotations

import pytest

from dashboard import timeline
from dashboard.models import Activity, ActivityKind
from dashboard.timeline.sentences import SENTENCES


def sentence(kind: str, **data) -> str:
    return timeline.describe(Activity(kind=kind, data=data))


def test_every_kind_has_a_sentence():
    assert set(SENTENCES) == set(ActivityKind.values)


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (ActivityKind.RESOLVED_IN_CELIGO, {"resolved_by": "auto"}, "Resolved in Celigo by auto"),
        (ActivityKind.RESOLVED_IN_CELIGO, {"resolved_by": ""}, "Resolved in Celigo by someone"),
        (ActivityKind.ASSIGNED, {"from": "ana", "to": None}, "Unassigned"),
        (ActivityKind.TAGGED, {"tags": ["a", "b"]}, "Tagged a, b"),
        (ActivityKind.RETRY_FAILED, {"new_error": 4}, "The retry failed again; Celigo filed a new error"),
        (ActivityKind.RETRY_FAILED, {"retry_of": 3}, "This error is the failed retry of an earlier one"),
        (ActivityKind.RETRY_DATA_EDITED, {"retried": True}, "Retry data edited and retried"),
        (ActivityKind.ACTION_FAILED, {"action": "Retry", "reason": "422"}, "Retry failed: 422"),
    ],
)
def test_it_renders_each_kind_from_its_data(kind, data, expected):
    assert sentence(kind, **data) == expected


def test_an_entry_recorded_before_entries_carried_data_keeps_its_sentence():
    old = Activity(kind=ActivityKind.COMMENT, message="Called the warehouse", data={})
    assert timeline.describe(old) == "Called the warehouse"


def test_a_system_actor_is_kept_in_the_data():
    rule = timeline.SystemActor("rule", "Amazon inventory", id=7)
    entry = timeline.entry(1, ActivityKind.TAGGED, actor=rule, tags=["amazon"])
    assert entry.actor_id is None
    assert entry.data == {"by": {"kind": "rule", "name": "Amazon inventory", "id": 7}, "tags": ["amazon"]}
