"""The access layer: who reads which errors, who may act, and what a cache key of a person's scope says."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from dashboard import access
from dashboard.models import ErrorRecord
from tests.dashboard.factories import ActionBatchFactory, ErrorRecordFactory, SavedViewFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_it_shows_every_error_to_every_member_today(personas):
    errors = ErrorRecordFactory.create_batch(3)
    for user in personas.values():
        assert set(access.visible_errors(user)) == set(errors)


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


def test_only_people_with_the_permission_may_act(personas):
    acting = {name for name, user in personas.items() if access.can_act(user)}
    assert acting == {"admin", "lead", "triager", "restricted", "outsider"}
    assert not access.can_act(AnonymousUser())
    assert not access.can_act(UserFactory(is_active=False, is_superuser=True))


def test_a_scope_key_tells_apart_people_who_see_different_errors(viewer):
    assert access.scope_key(viewer) == "all"
    assert access.scope_key(AnonymousUser()) != access.scope_key(viewer)


def test_saved_views_are_their_owners_unless_shared(viewer, triager):
    mine = SavedViewFactory(owner=viewer)
    shared = SavedViewFactory(owner=triager, shared=True)
    SavedViewFactory(owner=triager, shared=False)
    assert set(access.visible_saved_views(viewer)) == {mine, shared}
    assert not access.visible_saved_views(AnonymousUser()).exists()


def test_batches_are_visible_to_members_only(viewer):
    batch = ActionBatchFactory()
    assert list(access.visible_batches(viewer)) == [batch]
    assert not access.visible_batches(AnonymousUser()).exists()
