"""The do_* actions: each changes what it says, leaves the rest alone, and records who did it as data."""

from __future__ import annotations

import pytest

from dashboard import timeline
from dashboard.actions.assignment import do_assign, do_set_team
from dashboard.actions.comments import do_comment
from dashboard.actions.tags import do_tag, do_untag
from dashboard.models import Activity, ActivityKind, ErrorRecord
from tests.dashboard.factories import ErrorRecordFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def entries(kind: str) -> list[Activity]:
    return list(Activity.objects.filter(kind=kind).order_by("error_id"))


def test_it_assigns_only_what_changes_and_says_from_whom_to_whom(triager, lead):
    mine, theirs, unowned = (
        ErrorRecordFactory(assignee=lead),
        ErrorRecordFactory(assignee=triager),
        ErrorRecordFactory(),
    )
    changed = do_assign(triager, [mine.pk, theirs.pk, unowned.pk], lead)
    assert sorted(changed) == sorted([theirs.pk, unowned.pk])
    assert set(ErrorRecord.objects.values_list("assignee_id", flat=True)) == {lead.pk}
    recorded = entries(ActivityKind.ASSIGNED)
    assert [(e.error_id, e.actor_id, e.data) for e in recorded] == [
        (theirs.pk, triager.pk, {"from": "triager", "to": "lead", "to_id": lead.pk}),
        (unowned.pk, triager.pk, {"from": None, "to": "lead", "to_id": lead.pk}),
    ]
    assert timeline.describe(recorded[0]) == "Assigned to lead"


def test_assigning_a_person_never_clears_the_team(triager):
    team = TeamFactory()
    error = ErrorRecordFactory(team=team)
    do_assign(triager, [error.pk], triager)
    error.refresh_from_db()
    assert (error.assignee, error.team) == (triager, team)


def test_the_sync_routes_only_errors_nobody_owns(lead, triager):
    owned, unowned = ErrorRecordFactory(assignee=triager), ErrorRecordFactory()
    assert do_assign(timeline.SYNC, [owned.pk, unowned.pk], lead, only_unassigned=True) == [unowned.pk]
    owned.refresh_from_db()
    assert owned.assignee == triager
    routed = Activity.objects.get(kind=ActivityKind.ASSIGNED)
    assert routed.actor is None
    assert routed.data["by"] == {"kind": "sync", "name": "the sync"}


def test_it_unassigns():
    error = ErrorRecordFactory(assignee=UserFactory(username="ana"))
    assert do_assign(None, [error.pk], None) == [error.pk]
    assert timeline.describe(Activity.objects.get()) == "Unassigned"


def test_setting_a_team_keeps_the_assignee(triager):
    warehouse, finance = TeamFactory(name="Warehouse"), TeamFactory(name="Finance")
    error = ErrorRecordFactory(assignee=triager, team=finance)
    assert do_set_team(triager, [error.pk], warehouse) == [error.pk]
    error.refresh_from_db()
    assert (error.assignee, error.team) == (triager, warehouse)
    entry = Activity.objects.get(kind=ActivityKind.TEAM_SET)
    assert entry.data == {"from": "Finance", "to": "Warehouse", "to_id": warehouse.pk}
    assert timeline.describe(entry) == "Team set to Warehouse"
    assert do_set_team(triager, [error.pk], warehouse) == []


def test_a_rule_never_overrides_a_team_a_person_chose(triager):
    chosen = TeamFactory()
    error = ErrorRecordFactory(team=chosen)
    rule = timeline.SystemActor("rule", "Amazon inventory", id=7)
    assert do_set_team(rule, [error.pk], TeamFactory(), only_without_team=True) == []
    error.refresh_from_db()
    assert error.team == chosen


def test_it_tags_and_untags_with_the_names_in_the_timeline(triager):
    first, second = ErrorRecordFactory(), ErrorRecordFactory()
    do_tag(triager, [first.pk, second.pk], ["urgent", "warehouse"])
    do_tag(triager, [first.pk], ["urgent"])  # already there: nothing doubles
    assert sorted(first.tags.values_list("name", flat=True)) == ["urgent", "warehouse"]
    do_untag(triager, [first.pk], ["warehouse"])
    assert list(first.tags.values_list("name", flat=True)) == ["urgent"]
    assert list(second.tags.values_list("name", flat=True)) == ["urgent", "warehouse"]
    untagged = Activity.objects.get(kind=ActivityKind.UNTAGGED)
    assert untagged.data == {"tags": ["warehouse"]}
    assert timeline.describe(untagged) == "Untagged warehouse"


def test_a_comment_is_data_and_reads_as_itself(triager):
    errors = ErrorRecordFactory.create_batch(2)
    assert do_comment(triager, [e.pk for e in errors], "Called the warehouse") == 2
    for entry in entries(ActivityKind.COMMENT):
        assert entry.message == ""
        assert entry.data == {"text": "Called the warehouse"}
        assert timeline.describe(entry) == "Called the warehouse"
