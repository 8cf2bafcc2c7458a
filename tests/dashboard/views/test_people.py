"""The People pages: admins list, add and change people and hand out one-time set-password links; the person
follows the link, chooses a password and logs in with it. Everyone else gets a 403 (anonymous: the login).
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from dashboard.models import AuditEvent, AuditKind, Profile, Role, TeamMembership
from tests.dashboard.factories import TeamFactory, UserFactory, person

pytestmark = pytest.mark.django_db

PASSWORD = "Orange-kettle-42"
NON_ADMINS = ("viewer", "triager", "lead", "restricted", "outsider")
LINK = re.compile(r'id="password-link" type="text" value="(http://testserver/set-password/[^"]+)"')


@pytest.fixture(autouse=True)
def _no_mail(settings):
    """Mail is not configured unless a test says so (pytest-django keeps it in mail.outbox)."""
    settings.EMAIL_CONFIGURED = False


@pytest.fixture
def as_admin(login_as) -> Client:
    return login_as("admin")


@pytest.fixture
def ada(db):
    """An admin by role, not a superuser."""
    return person("ada", Role.ADMIN)


def people_urls(pk: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("people-list")),
        ("get", reverse("person-add")),
        ("post", reverse("person-add")),
        ("get", reverse("person-detail", args=[pk])),
        ("post", reverse("person-detail", args=[pk])),
        ("post", reverse("person-password-link", args=[pk])),
    ]


def add_form(**fields) -> dict:
    return {"username": "nina", "email": "nina@example.com", "role": "triager"} | fields


def link_in(response) -> str:
    found = LINK.search(response.content.decode())
    assert found, "no set-password link on the page"
    return found.group(1)


def errors_of(response) -> dict:
    return response.context["form"].errors


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Who may ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", NON_ADMINS)
def test_every_people_page_is_403_for_everyone_but_admins(persona, login_as):
    colleague = UserFactory(username="colleague")
    client = login_as(persona)
    for method, url in people_urls(colleague.pk):
        response = getattr(client, method)(url, {"username": "x", "email": "x@example.com", "role": "admin"})
        assert response.status_code == 403, f"{method} {url} as {persona}"
    assert get_user_model().objects.filter(username="x").count() == 0
    assert not AuditEvent.objects.exists()


def test_a_stranger_is_sent_to_log_in(client):
    for method, url in people_urls(1):
        response = getattr(client, method)(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login") + "?next=")


def test_only_admins_see_people_in_the_navigation(login_as):
    assert 'href="/people/"' in login_as("admin").get(reverse("home")).content.decode()
    assert 'href="/people/"' not in login_as("lead").get(reverse("home")).content.decode()


def test_an_admin_by_role_manages_people_too(login_as, ada):
    assert login_as(ada).get(reverse("people-list")).status_code == 200


# --- The list ----------------------------------------------------------------------------------------


def test_the_list_shows_each_persons_role_restriction_teams_and_state(as_admin, restricted, lead):
    person("gone", Role.VIEWER, email="gone@example.com", is_active=False)
    response = as_admin.get(reverse("people-list"))
    rows = {person.username: (role, restricted) for person, role, restricted in response.context["rows"]}
    assert rows["restricted"] == (Role.TRIAGER, True)
    assert rows["lead"] == (Role.LEAD, False)
    assert rows["admin"] == (Role.ADMIN, False)  # a superuser is an admin, whatever their profile says
    body = response.content.decode()
    assert "Warehouse" in body
    assert "deactivated" in body
    assert "gone@example.com" in body
    assert 'href="/people/new/"' in body


def test_the_list_pages_by_fifty_with_the_same_queries(as_admin, django_assert_max_num_queries):
    team = TeamFactory(name="Ops")
    for number in range(60):
        user = person(f"p{number:02d}", Role.TRIAGER)
        TeamMembership.objects.create(team_id=team.pk, user_id=user.pk)
    with django_assert_max_num_queries(12):
        first = as_admin.get(reverse("people-list"))
    second = as_admin.get(reverse("people-list"), {"page": "2"})
    assert len(first.context["rows"]) == 50
    assert len(second.context["rows"]) == 11  # 60 people and the admin
    assert as_admin.get(reverse("people-list"), {"page": "nope"}).status_code == 200


# --- Adding, and the link that works once ------------------------------------------------------------


def test_an_admin_adds_a_person_who_sets_a_password_with_the_link_once(as_admin, admin):
    warehouse = TeamFactory(name="Warehouse")
    response = as_admin.post(
        reverse("person-add"),
        add_form(first_name="Nina", last_name="Berg", restricted="on", teams=[warehouse.pk]),
    )
    assert response.status_code == 200
    nina = get_user_model().objects.get(username="nina")
    assert (nina.email, nina.get_full_name(), nina.has_usable_password()) == (
        "nina@example.com",
        "Nina Berg",
        False,
    )
    assert (nina.profile.role, nina.profile.restricted) == (Role.TRIAGER, True)
    assert list(TeamMembership.objects.filter(user=nina).values_list("team__name", "role")) == [
        ("Warehouse", "member")
    ]
    link = link_in(response)
    assert 'data-testid="mail-off"' in response.content.decode()
    assert response["Cache-Control"].startswith("max-age=0")
    event = AuditEvent.objects.get(kind=AuditKind.PERSON_ADDED)
    assert (event.actor, event.user) == (admin, nina)
    assert AuditEvent.objects.filter(kind=AuditKind.PASSWORD_LINK_ISSUED, user=nina).count() == 1
    assert not any(link.split("/")[-2] in str(e.data) for e in AuditEvent.objects.all())
    # Shown once: the person's page does not show it again.
    assert link not in as_admin.get(reverse("person-detail", args=[nina.pk])).content.decode()

    stranger = Client()
    opened = stranger.get(link)
    assert opened.status_code == 302  # Django moves the token into the session, out of the URL
    form_page = stranger.get(opened.url)
    assert form_page.status_code == 200
    assert form_page.context["validlink"]
    assert 'data-testid="username">nina<' in form_page.content.decode()
    done = stranger.post(opened.url, {"new_password1": PASSWORD, "new_password2": PASSWORD}, follow=True)
    assert done.redirect_chain[-1][0] == reverse("login")
    assert "Your password is set. Log in with it." in messages_of(done)

    assert logs_in("nina", PASSWORD)
    used = Client().get(link)
    assert used.status_code == 200
    assert not used.context["validlink"]
    assert "This link is invalid or was already used" in used.content.decode()


def test_a_new_person_gets_the_link_by_mail_when_mail_is_configured(as_admin, settings, mailoutbox):
    settings.EMAIL_CONFIGURED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = as_admin.post(reverse("person-add"), add_form())
    link = link_in(response)  # still shown, in case the mail goes astray
    assert 'data-testid="mail-sent"' in response.content.decode()
    [message] = mailoutbox
    assert message.to == ["nina@example.com"]
    assert link in message.body


def test_no_mail_is_sent_when_mail_is_not_configured(as_admin, mailoutbox):
    response = as_admin.post(reverse("person-add"), add_form())
    assert link_in(response)
    assert mailoutbox == []


def test_a_mail_that_cannot_be_sent_never_loses_the_link(as_admin, settings, mailoutbox):
    settings.EMAIL_CONFIGURED = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 2  # nothing listens
    response = as_admin.post(reverse("person-add"), add_form())
    assert link_in(response)
    assert "could not be sent" in response.content.decode()


def test_a_username_already_taken_is_a_form_error_naming_the_field(as_admin):
    UserFactory(username="Nina")
    response = as_admin.post(reverse("person-add"), add_form())
    assert response.status_code == 200
    assert "already" in " ".join(errors_of(response)["username"])
    assert 'data-testid="error-username"' in response.content.decode()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("email", {"email": "nina-at-example.com"}),
        ("email", {"email": ""}),
        ("username", {"username": "nina smith"}),
        ("username", {"username": "n" * 151}),
        ("role", {"role": "owner"}),
        ("teams", {"teams": ["999999"]}),
        ("teams", {"teams": ["nope"]}),
    ],
)
def test_a_bad_field_is_a_form_error_naming_it(as_admin, field, fields):
    response = as_admin.post(reverse("person-add"), add_form(**fields))
    assert response.status_code == 200
    assert field in errors_of(response)
    assert not get_user_model().objects.filter(email="nina@example.com").exists()


# --- Changing a person -------------------------------------------------------------------------------


def test_an_admin_changes_a_persons_role_and_restriction(as_admin, viewer):
    response = as_admin.post(reverse("person-detail", args=[viewer.pk]), {"role": "lead", "active": "on"})
    assert response.status_code == 302
    assert Profile.objects.get(user=viewer).role == Role.LEAD
    as_admin.post(
        reverse("person-detail", args=[viewer.pk]), {"role": "lead", "restricted": "on", "active": "on"}
    )
    assert Profile.objects.get(user=viewer).restricted
    kinds = list(AuditEvent.objects.filter(user=viewer).order_by("pk").values_list("kind", flat=True))
    assert kinds == [AuditKind.ROLE_CHANGED, AuditKind.RESTRICTION_CHANGED]


def test_the_persons_page_lists_their_recent_changes_newest_first(as_admin, viewer):
    for role in ("triager", "lead", "triager"):
        as_admin.post(reverse("person-detail", args=[viewer.pk]), {"role": role, "active": "on"})
    page = as_admin.get(reverse("person-detail", args=[viewer.pk]))
    sentences = [sentence for _, sentence in page.context["events"]]
    assert sentences == [
        "Changed viewer's role from lead to triager",
        "Changed viewer's role from triager to lead",
        "Changed viewer's role from viewer to triager",
    ]


def test_a_deactivated_person_cannot_log_in_until_reactivated(as_admin, viewer):
    viewer.set_password(PASSWORD)
    viewer.save()
    response = as_admin.post(reverse("person-detail", args=[viewer.pk]), {"role": "viewer"})
    assert response.status_code == 302
    assert not logs_in("viewer", PASSWORD)
    assert AuditEvent.objects.filter(kind=AuditKind.PERSON_DEACTIVATED, user=viewer).exists()
    page = as_admin.get(reverse("person-detail", args=[viewer.pk])).content.decode()
    assert 'data-testid="deactivated"' in page

    as_admin.post(reverse("person-detail", args=[viewer.pk]), {"role": "viewer", "active": "on"})
    assert logs_in("viewer", PASSWORD)


def test_a_deactivated_persons_link_does_not_work(as_admin, viewer):
    link = link_in(as_admin.post(reverse("person-password-link", args=[viewer.pk])))
    as_admin.post(reverse("person-detail", args=[viewer.pk]), {"role": "viewer"})
    response = Client().get(link)
    assert response.status_code == 200
    assert not response.context["validlink"]


def test_an_admin_cannot_demote_or_deactivate_themselves(login_as, ada, admin):
    client = login_as(ada)
    url = reverse("person-detail", args=[ada.pk])
    demoted = client.post(url, {"role": "lead", "active": "on"})
    assert demoted.status_code == 200
    assert "yourself" in " ".join(errors_of(demoted)["role"])
    deactivated = client.post(url, {"role": "admin"})
    assert "yourself" in " ".join(errors_of(deactivated)["active"])
    ada.refresh_from_db()
    assert ada.is_active
    assert Profile.objects.get(user=ada).role == Role.ADMIN


def test_a_refused_change_undoes_the_others_posted_with_it(login_as, ada):
    response = login_as(ada).post(
        reverse("person-detail", args=[ada.pk]), {"role": "admin", "restricted": "on"}
    )
    assert response.status_code == 200
    assert "active" in errors_of(response)
    assert not Profile.objects.get(user=ada).restricted
    assert not AuditEvent.objects.exists()


def test_a_superuser_is_shown_as_an_admin_whatever_their_profile_says(as_admin, ada, admin):
    Profile.objects.update_or_create(user=admin, defaults={"role": Role.VIEWER})
    page = as_admin.get(reverse("person-detail", args=[admin.pk]))
    assert 'data-testid="superuser-note"' in page.content.decode()
    assert page.context["role"] == Role.ADMIN
    assert page.context["form"].fields["role"].disabled
    assert page.context["form"]["role"].value() == Role.ADMIN
    as_admin.post(reverse("person-detail", args=[admin.pk]), {"role": "viewer", "active": "on"})
    assert not AuditEvent.objects.filter(kind=AuditKind.ROLE_CHANGED).exists()


def test_a_fresh_link_is_shown_once_for_an_existing_person(as_admin, viewer, admin):
    response = as_admin.post(reverse("person-password-link", args=[viewer.pk]))
    assert response.status_code == 200
    assert link_in(response).startswith("http://testserver/set-password/")
    event = AuditEvent.objects.get(kind=AuditKind.PASSWORD_LINK_ISSUED)
    assert (event.actor, event.user) == (admin, viewer)


def test_an_admin_by_role_gets_no_link_into_a_superusers_account(login_as, ada, admin):
    response = login_as(ada).post(reverse("person-password-link", args=[admin.pk]), follow=True)
    assert "only a superuser" in " ".join(messages_of(response))
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("pk", [999_999, 2**31, 2**63 - 1, 2**64])
def test_an_unknown_person_is_a_404(as_admin, pk):
    assert as_admin.get(f"/people/{pk}/").status_code == 404
    assert as_admin.post(f"/people/{pk}/password-link/").status_code == 404


@pytest.mark.parametrize(
    ("uid", "token"), [("MQ", "0-invalid"), ("!!", "x"), ("OTk5OTk5OTk5OTk5OTk5", "0-0")]
)
def test_a_wrong_link_is_a_page_saying_so(client, uid, token):
    response = client.get(f"/set-password/{uid}/{token}/")
    assert response.status_code == 200
    assert "This link is invalid or was already used" in response.content.decode()


def test_a_weak_or_mistyped_password_is_a_form_error_and_the_link_still_works(as_admin, viewer):
    link = link_in(as_admin.post(reverse("person-password-link", args=[viewer.pk])))
    client = Client()
    form_url = client.get(link).url
    weak = client.post(form_url, {"new_password1": "viewer", "new_password2": "viewer"})
    assert weak.status_code == 200
    assert "new_password2" in weak.context["form"].errors
    mistyped = client.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD + "x"})
    assert "new_password2" in mistyped.context["form"].errors
    assert client.post(form_url, {"new_password1": PASSWORD, "new_password2": PASSWORD}).status_code == 302
    assert logs_in("viewer", PASSWORD)


def logs_in(username: str, password: str) -> bool:
    """Whether the login form lets this username and password in (a real POST: the throttle sees it)."""
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302
