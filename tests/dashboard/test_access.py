"""The access layer: who reads which errors, who may act, and what a cache key of a person's scope says."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from dashboard import access
from dashboard.models import ErrorRecord, Role
from tests.dashboard.factories import (
    ActionBatchFactory,
    ErrorRecordFactory,
    FlowJobFactory,
    SavedViewFactory,
    UserFactory,
    person,
)

pytestmark = pytest.mark.django_db


def test_unrestricted_people_see_every_error_and_restricted_ones_their_teams(personas, warehouse, finance):
    ours, theirs, nobodys = (ErrorRecordFactory(team=team) for team in (warehouse, finance, None))
    for name, user in personas.items():
        expected = {"restricted": {ours}, "outsider": {theirs}}.get(name, {ours, theirs, nobodys})
        assert set(access.visible_errors(user)) == expected, name


def test_leads_and_admins_are_never_restricted(warehouse):
    lead = person("restricted-lead", Role.LEAD, restricted=True)
    assert not access.is_restricted(lead)
    assert access.scope_key(lead) == "all"


def test_a_restricted_member_acts_only_on_their_teams_errors(restricted, warehouse, finance):
    assert access.can_act(restricted, ErrorRecordFactory(team=warehouse))
    assert not access.can_act(restricted, ErrorRecordFactory(team=finance))
    with pytest.raises(Http404):  # as if it did not exist
        access.get_error_for_user(restricted, ErrorRecordFactory(team=finance).pk, write=True)


def test_it_shows_nothing_to_anonymous_or_deactivated_people():
    ErrorRecordFactory()
    assert not access.visible_errors(AnonymousUser()).exists()
    assert not access.visible_errors(None).exists()
    assert not access.visible_errors(UserFactory(is_active=False)).exists()


def test_it_narrows_a_given_queryset_without_widening_it(viewer):
    wanted, _other = ErrorRecordFactory(code="A"), ErrorRecordFactory(code="B")
    assert list(access.visible_errors(viewer, ErrorRecord.objects.filter(code="A"))) == [wanted]


def test_it_answers_404_for_a_missing_or_impossible_error(viewer):
    for pk in (0, -1, "x", 10**30, ErrorRecordFactory().pk + 1):
        with pytest.raises(Http404):
            access.get_error_for_user(viewer, pk)


def test_it_answers_403_when_a_reader_asks_to_write(viewer, triager):
    error = ErrorRecordFactory()
    assert access.get_error_for_user(viewer, error.pk) == error
    with pytest.raises(PermissionDenied):
        access.get_error_for_user(viewer, error.pk, write=True)
    assert access.get_error_for_user(triager, error.pk, write=True) == error


def test_triagers_and_above_may_act(personas):
    acting = {name for name, user in personas.items() if access.can_act(user)}
    assert acting == {"admin", "lead", "triager", "restricted", "outsider"}
    assert not access.can_act(AnonymousUser())
    assert not access.can_act(UserFactory(is_active=False, is_superuser=True))


def test_a_scope_key_tells_apart_people_who_see_different_errors(viewer, restricted, outsider):
    keys = [access.scope_key(user) for user in (viewer, restricted, outsider, AnonymousUser())]
    assert keys[0] == "all"
    assert len(set(keys)) == 4


def test_saved_views_are_their_owners_unless_shared_and_leads_see_all(viewer, triager, lead):
    mine = SavedViewFactory(owner=viewer)
    shared = SavedViewFactory(owner=triager, shared=True)
    private = SavedViewFactory(owner=triager, shared=False)
    assert set(access.visible_saved_views(viewer)) == {mine, shared}
    assert set(access.visible_saved_views(lead)) == {mine, shared, private}
    assert not access.visible_saved_views(AnonymousUser()).exists()


def test_batches_are_their_owners_and_leads_and_admins(viewer, triager, lead, admin):
    mine, theirs = ActionBatchFactory(actor=triager), ActionBatchFactory(actor=viewer)
    assert list(access.visible_batches(triager)) == [mine]
    assert set(access.visible_batches(lead)) == set(access.visible_batches(admin)) == {mine, theirs}
    assert not access.visible_batches(AnonymousUser()).exists()


def test_a_person_without_a_profile_is_a_viewer_and_a_superuser_an_admin():
    assert access.role_of(UserFactory()) == Role.VIEWER
    assert access.role_of(UserFactory(is_superuser=True)) == Role.ADMIN
    assert access.role_of(AnonymousUser()) == ""


def test_a_restricted_member_sees_the_flow_runs_of_flows_with_their_teams_errors(
    restricted, viewer, warehouse
):
    ours, theirs = FlowJobFactory(), FlowJobFactory()
    ErrorRecordFactory(flow=ours.flow, team=warehouse)
    ErrorRecordFactory(flow=theirs.flow, team=None)
    assert list(access.visible_flow_jobs(restricted)) == [ours]
    assert set(access.visible_flow_jobs(viewer)) == {ours, theirs}
