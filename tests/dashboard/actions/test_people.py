"""Managing people: each do_* changes what it says, guards the desk against losing its admins, and audits."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from dashboard import access
from dashboard.actions.people import (
    Mailed,
    PersonChangeRejected,
    do_add_person,
    do_deactivate_person,
    do_issue_password_link,
    do_reactivate_person,
    do_set_restricted,
    do_set_role,
    mail_password_link,
)
from dashboard.models import AuditEvent, AuditKind, Profile, Role, Team, TeamMembership, TeamRole
from tests.dashboard.factories import TeamFactory, UserFactory, person

pytestmark = pytest.mark.django_db


def events(kind: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(kind=kind).order_by("pk"))


def rejected(field: str, call, *args, **kwargs) -> str:
    with pytest.raises(PersonChangeRejected) as info:
        call(*args, **kwargs)
    assert info.value.field == field
    return info.value.reason


@pytest.fixture
def ada(db):
    """An admin by role (not a superuser)."""
    return person("ada", Role.ADMIN, email="ada@example.com")


def add(actor, username="nina", **fields):
    values = {"email": f"{username}@example.com", "role": Role.TRIAGER} | fields
    return do_add_person(actor, username=username, **values)


# --- Adding ------------------------------------------------------------------------------------------


def test_it_adds_a_person_with_a_role_a_restriction_teams_and_no_usable_password(admin):
    TeamFactory(name="Warehouse")
    TeamFactory(name="Finance")
    nina = do_add_person(
        admin,
        username=" nina ",
        email="nina@example.com",
        first_name="Nina",
        last_name="Berg",
        role=Role.TRIAGER,
        restricted=True,
        teams=Team.objects.order_by("name"),
    )
    nina = get_user_model().objects.get(pk=nina.pk)
    assert (nina.username, nina.email, nina.get_full_name(), nina.is_active) == (
        "nina",
        "nina@example.com",
        "Nina Berg",
        True,
    )
    assert not nina.has_usable_password()
    assert (access.role_of(nina), access.is_restricted(nina)) == (Role.TRIAGER, True)
    memberships = TeamMembership.objects.filter(user=nina).order_by("team__name")
    assert [(m.team.name, m.role) for m in memberships] == [
        ("Finance", TeamRole.MEMBER),
        ("Warehouse", TeamRole.MEMBER),
    ]
    [event] = events(AuditKind.PERSON_ADDED)
    assert (event.actor, event.user) == (admin, nina)
    assert event.data == {
        "username": "nina",
        "email": "nina@example.com",
        "role": "triager",
        "restricted": True,
        "teams": ["Finance", "Warehouse"],
    }


def test_a_new_person_is_a_viewer_unless_told_otherwise(admin):
    nina = do_add_person(admin, username="nina", email="nina@example.com")
    assert access.role_of(nina) == Role.VIEWER
    assert not access.is_restricted(nina)


def test_it_refuses_a_username_already_taken_whatever_its_case(admin):
    UserFactory(username="Nina")
    assert "already" in rejected("username", add, admin, "nina")
    assert get_user_model().objects.filter(username__iexact="nina").count() == 1
    assert events(AuditKind.PERSON_ADDED) == []


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("email", {"email": "not-an-address"}),
        ("email", {"email": ""}),
        ("username", {"username": ""}),
        ("username", {"username": "nina smith"}),
        ("username", {"username": "n" * 151}),
        ("role", {"role": "owner"}),
    ],
)
def test_it_refuses_a_bad_field_naming_it(admin, field, fields):
    rejected(field, add, admin, **fields)
    assert not get_user_model().objects.exclude(pk=admin.pk).exists()


# --- Role and restriction ----------------------------------------------------------------------------


def test_it_changes_a_role_and_records_from_and_to(admin):
    nina = add(admin)
    assert do_set_role(admin, nina, Role.LEAD) is True
    assert Profile.objects.get(user=nina).role == Role.LEAD
    [event] = events(AuditKind.ROLE_CHANGED)
    assert (event.actor, event.user, event.data) == (
        admin,
        nina,
        {"username": "nina", "from": "triager", "to": "lead"},
    )
    assert do_set_role(admin, nina, Role.LEAD) is False
    assert len(events(AuditKind.ROLE_CHANGED)) == 1


def test_it_gives_a_role_to_a_person_without_a_profile(admin):
    old_timer = UserFactory(username="old-timer")
    assert do_set_role(admin, old_timer, Role.TRIAGER) is True
    assert events(AuditKind.ROLE_CHANGED)[0].data["from"] == "viewer"


def test_an_admin_cannot_demote_themselves(ada, admin):
    assert "yourself" in rejected("role", do_set_role, ada, ada, Role.LEAD)
    assert Profile.objects.get(user=ada).role == Role.ADMIN
    assert events(AuditKind.ROLE_CHANGED) == []


def test_the_last_active_admin_cannot_be_demoted(ada):
    inactive_admin = person("gone", Role.ADMIN, is_active=False)
    assert "last active admin" in rejected("role", do_set_role, None, ada, Role.TRIAGER)
    assert access.role_of(ada) == Role.ADMIN
    assert do_set_role(None, inactive_admin, Role.VIEWER) is True  # an inactive admin is not the last


def test_an_admin_may_demote_another_while_one_remains(ada, admin):
    assert do_set_role(admin, ada, Role.LEAD) is True
    assert access.role_of(ada) == Role.LEAD


def test_a_superusers_role_cannot_be_changed_here(admin, ada):
    assert "superuser" in rejected("role", do_set_role, ada, admin, Role.VIEWER)
    assert access.role_of(admin) == Role.ADMIN


def test_it_restricts_and_lifts_the_restriction(admin):
    nina = add(admin)
    assert do_set_restricted(admin, nina, True) is True
    assert access.is_restricted(get_user_model().objects.get(pk=nina.pk))
    assert do_set_restricted(admin, nina, True) is False
    assert do_set_restricted(admin, nina, False) is True
    assert [e.data for e in events(AuditKind.RESTRICTION_CHANGED)] == [
        {"username": "nina", "from": False, "to": True},
        {"username": "nina", "from": True, "to": False},
    ]


# --- Deactivating and reactivating -------------------------------------------------------------------


def test_it_deactivates_and_reactivates_a_person(admin):
    nina = add(admin)
    assert do_deactivate_person(admin, nina) is True
    nina = get_user_model().objects.get(pk=nina.pk)
    assert not nina.is_active
    assert not access.is_member(nina)
    assert do_deactivate_person(admin, nina) is False
    assert do_reactivate_person(admin, nina) is True
    assert get_user_model().objects.get(pk=nina.pk).is_active
    assert do_reactivate_person(admin, nina) is False
    assert [
        (e.kind, e.user_id) for e in AuditEvent.objects.exclude(kind=AuditKind.PERSON_ADDED).order_by("pk")
    ] == [
        (AuditKind.PERSON_DEACTIVATED, nina.pk),
        (AuditKind.PERSON_REACTIVATED, nina.pk),
    ]


def test_an_admin_cannot_deactivate_themselves(admin):
    assert "yourself" in rejected("active", do_deactivate_person, admin, admin)
    assert get_user_model().objects.get(pk=admin.pk).is_active


def test_the_last_active_admin_cannot_be_deactivated(ada):
    assert "last active admin" in rejected("active", do_deactivate_person, None, ada)
    assert get_user_model().objects.get(pk=ada.pk).is_active


def test_only_a_superuser_may_deactivate_or_reactivate_a_superuser(admin, ada):
    root = UserFactory(username="root", is_superuser=True)
    assert "superuser" in rejected("active", do_deactivate_person, ada, root)
    assert do_deactivate_person(admin, root) is True
    assert "superuser" in rejected("active", do_reactivate_person, ada, root)


# --- Set-password links and their e-mail -------------------------------------------------------------


def test_it_issues_an_absolute_one_time_link_and_audits_it_without_the_token(admin):
    nina = add(admin)
    link = do_issue_password_link(admin, nina, base_url="https://desk.example.com/")
    uid = urlsafe_base64_encode(force_bytes(nina.pk))
    assert link.startswith(f"https://desk.example.com/set-password/{uid}/")
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert default_token_generator.check_token(nina, token)
    [event] = events(AuditKind.PASSWORD_LINK_ISSUED)
    assert (event.actor, event.user, event.data) == (admin, nina, {"username": "nina"})
    assert token not in str(event.data)

    nina.set_password("Orange-kettle-42")
    nina.save()
    assert not default_token_generator.check_token(nina, token)  # used once, it stops working


def test_it_issues_no_link_for_a_deactivated_person(admin):
    nina = add(admin)
    do_deactivate_person(admin, nina)
    rejected("active", do_issue_password_link, admin, nina, base_url="https://desk.example.com/")
    assert events(AuditKind.PASSWORD_LINK_ISSUED) == []


def test_only_a_superuser_may_issue_a_superusers_link(admin, ada):
    root = UserFactory(username="root", is_superuser=True)
    rejected("user", do_issue_password_link, ada, root, base_url="https://desk.example.com/")
    assert do_issue_password_link(admin, root, base_url="https://desk.example.com/")


def test_it_mails_the_link_only_when_mail_is_configured(admin, settings):
    nina = add(admin)
    settings.EMAIL_CONFIGURED = False
    assert (
        mail_password_link(nina, "https://desk.example.com/set-password/x/y/", welcome=True)
        is Mailed.NOT_CONFIGURED
    )
    assert mail.outbox == []

    settings.EMAIL_CONFIGURED = True
    assert mail_password_link(nina, "https://desk.example.com/set-password/x/y/", welcome=True) is Mailed.SENT
    [message] = mail.outbox
    assert message.to == ["nina@example.com"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert "https://desk.example.com/set-password/x/y/" in message.body
    assert "Your username is nina" in message.body


def test_it_says_so_when_the_person_has_no_address_or_the_mail_fails(admin, settings):
    settings.EMAIL_CONFIGURED = True
    assert mail_password_link(UserFactory(username="mute"), "https://x/", welcome=False) is Mailed.NO_ADDRESS
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens
    assert mail_password_link(add(admin), "https://x/", welcome=False) is Mailed.FAILED
