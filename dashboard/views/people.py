"""The people of the desk, for admins (``access.can_manage_people``, else 403): who they are, their role,
whether they are restricted to their teams, and whether they may still log in.

A new person gets no password: the page shows a one-time set-password link once (and e-mails it when mail
is configured), and the person chooses their password on :class:`SetPasswordView`, the one page here that
needs no login. Every change goes through ``actions/people.py``, which guards and audits it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard import audit
from dashboard.access import MAX_PK
from dashboard.actions.people import (
    PersonChangeRejected,
    do_add_person,
    do_deactivate_person,
    do_issue_password_link,
    do_reactivate_person,
    do_set_restricted,
    do_set_role,
    link_valid_days,
    mail_password_link,
)
from dashboard.models import AuditEvent, Profile, Role, Team, TeamMembership
from dashboard.views.guards import manage_people_required

PEOPLE_PAGE_SIZE = 50
EVENTS_SHOWN = 20
RESTRICTED_HELP = "Sees, counts, exports and acts on only their teams' errors (leads and admins never are)."


# --- Forms -------------------------------------------------------------------------------------------


class BootstrapForm(forms.Form):
    """Fields rendered with Bootstrap's classes (``templates/people/partials/field.html``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "form-check-input"
            elif isinstance(widget, forms.Select):
                widget.attrs["class"] = "form-select"
            else:
                widget.attrs["class"] = "form-control"


class AddPersonForm(BootstrapForm):
    username = forms.CharField(
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text="Letters, digits and @ . + - _ only; what they log in with.",
    )
    email = forms.EmailField(label="E-mail", max_length=254)
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)
    restricted = forms.BooleanField(
        label="Restricted to their teams", required=False, help_text=RESTRICTED_HELP
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="They join as plain members.",
    )


class PersonChangeForm(BootstrapForm):
    role = forms.ChoiceField(choices=Role.choices)
    restricted = forms.BooleanField(
        label="Restricted to their teams", required=False, help_text=RESTRICTED_HELP
    )
    active = forms.BooleanField(
        label="Active", required=False, help_text="A deactivated person cannot log in and counts as nobody."
    )

    def __init__(self, *args: Any, person: Any, **kwargs: Any) -> None:
        profile = profile_of(person)
        initial = {"role": stored_role(person), "restricted": profile.restricted, "active": person.is_active}
        super().__init__(*args, initial=initial, **kwargs)
        if person.is_superuser:
            self.fields["role"].disabled = True
            self.fields["role"].help_text = "A superuser is an admin whatever their role says."


def profile_of(person: Any) -> Profile:
    """The stored profile, or the one a person without a profile is read as (a viewer, unrestricted)."""
    try:
        return person.profile
    except Profile.DoesNotExist:
        return Profile(user=person)


def stored_role(person: Any) -> str:
    """The role the person has, as ``access.role_of`` reads it, whether or not they are active."""
    return Role.ADMIN if person.is_superuser else profile_of(person).role


# --- Reading -----------------------------------------------------------------------------------------


@require_GET
@manage_people_required
def people_list(request: HttpRequest) -> HttpResponse:
    people = (
        get_user_model()
        .objects.select_related("profile")
        .prefetch_related(
            Prefetch(
                "team_memberships",
                queryset=TeamMembership.objects.select_related("team").order_by("team__name"),
            )
        )
        .order_by("-is_active", "username")
    )
    page = Paginator(people, PEOPLE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(person, stored_role(person), profile_of(person).restricted) for person in page]
    return render(request, "people/list.html", {"page": page, "rows": rows})


def get_person(pk: int) -> Any:
    if not 0 < pk <= MAX_PK:
        raise Http404("no such person")
    person = get_user_model().objects.select_related("profile").filter(pk=pk).first()
    if person is None:
        raise Http404("no such person")
    return person


def person_context(person: Any, form: PersonChangeForm) -> dict[str, Any]:
    events = list(AuditEvent.objects.filter(user_id=person.pk).select_related("actor", "team")[:EVENTS_SHOWN])
    return {
        "person": person,
        "form": form,
        "role": stored_role(person),
        "teams": Team.objects.filter(memberships__user_id=person.pk).order_by("name"),
        "events": [(event, audit.describe(event)) for event in events],
        "valid_days": link_valid_days(),
    }


# --- Changing ----------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@manage_people_required
def person_add(request: HttpRequest) -> HttpResponse:
    form = AddPersonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            person = do_add_person(request.user, **form.cleaned_data)
        except PersonChangeRejected as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.reason)
        else:
            return password_link_page(request, person, welcome=True)
    return render(request, "people/add.html", {"form": form, "mail_configured": settings.EMAIL_CONFIGURED})


@require_http_methods(["GET", "POST"])
@manage_people_required
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person(pk)
    form = PersonChangeForm(request.POST if request.method == "POST" else None, person=person)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():  # one refused change undoes the others
                changed = apply_changes(request.user, person, form)
        except PersonChangeRejected as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.reason)
            person = get_person(pk)  # as stored: the refused change was rolled back
        else:
            messages.success(request, f"Saved {person.get_username()}." if changed else "Nothing changed.")
            return redirect("person-detail", person.pk)
    return render(request, "people/detail.html", person_context(person, form))


def apply_changes(actor: Any, person: Any, form: PersonChangeForm) -> bool:
    """Call the action of each field the admin changed; returns whether anything changed."""
    data, changed = form.cleaned_data, set(form.changed_data)
    results = []
    if "active" in changed and data["active"]:
        results.append(do_reactivate_person(actor, person))
    if "role" in changed:
        results.append(do_set_role(actor, person, data["role"]))
    if "restricted" in changed:
        results.append(do_set_restricted(actor, person, data["restricted"]))
    if "active" in changed and not data["active"]:
        results.append(do_deactivate_person(actor, person))
    return any(results)


@never_cache
@require_POST
@manage_people_required
def person_password_link(request: HttpRequest, pk: int) -> HttpResponse:
    person = get_person(pk)
    try:
        return password_link_page(request, person, welcome=False)
    except PersonChangeRejected as exc:
        messages.error(request, exc.reason)
        return redirect("person-detail", person.pk)


def password_link_page(request: HttpRequest, person: AbstractBaseUser, *, welcome: bool) -> HttpResponse:
    """The one time the link is shown: it is not stored, and the page is not cached."""
    link = do_issue_password_link(request.user, person, base_url=request.build_absolute_uri("/"))
    context = {
        "person": person,
        "link": link,
        "welcome": welcome,
        "mailed": mail_password_link(person, link, welcome=welcome).name.lower(),
        "valid_days": link_valid_days(),
    }
    return render(request, "people/password_link.html", context)


# --- The set-password link ---------------------------------------------------------------------------


class SetPasswordView(PasswordResetConfirmView):
    """Where a set-password link leads: choose a password, then log in with it.

    Django's view checks the token (it works once: setting the password changes what the token signs),
    moves it from the URL into the session before showing the form, and never caches the page. A link of a
    deactivated person does not work.
    """

    template_name = "people/set_password.html"
    success_url = reverse_lazy("login")

    def get_user(self, uidb64: str) -> Any:
        user = super().get_user(uidb64)
        return user if user is not None and user.is_active else None

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        messages.success(self.request, "Your password is set. Log in with it.")
        return response


set_password = login_not_required(SetPasswordView.as_view())
