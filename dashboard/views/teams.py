"""The teams: their queues of open errors, their members and the scopes they own; leads manage them here.

Everyone logged in reads. Leads and admins (``access.can_manage_teams``, else 403) create and rename teams,
add, remove and promote members, and choose the scopes whose new errors a team receives, through
``actions/teams.py``. Every count of errors starts from ``access.visible_errors``, so a member restricted
to their teams counts only their teams' errors, whichever team's page they read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Count, Min, Model, Q
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from dashboard import audit
from dashboard.access import MAX_PK, can_manage_teams, visible_errors
from dashboard.actions.teams import (
    MAX_OWNED,
    SCOPE_KINDS,
    TeamChangeRejected,
    do_add_member,
    do_create_team,
    do_remove_member,
    do_set_member_role,
    do_set_owned_scopes,
    do_update_team,
)
from dashboard.models import (
    AuditEvent,
    CeligoAccount,
    CeligoState,
    Flow,
    Integration,
    Step,
    Team,
    TeamRole,
)
from dashboard.views.guards import manage_teams_required
from dashboard.views.paging import page_number

TEAM_PAGE_SIZE = 100
MEMBERS_SHOWN = 500
EVENTS_SHOWN = 20
SEARCH_LIMIT = 50
# The add-member and integration pickers list at most this many choices (and always the ones already chosen).
CHOICES_SHOWN = 1000
SEARCHABLE = {"flow": "flows", "step": "steps"}
SCOPE_RELATIONS = {
    "accounts": (),
    "integrations": ("account",),
    "flows": ("account", "integration"),
    "steps": ("account", "flow"),
}
OWNERSHIP_NOTE = "Changing ownership does not move errors already stored: only new errors are routed."


# --- Forms -------------------------------------------------------------------------------------------


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 3}))


class MemberForm(forms.Form):
    user = forms.ModelChoiceField(queryset=get_user_model().objects.all())
    role = forms.ChoiceField(choices=TeamRole.choices)


class RemoveMemberForm(forms.Form):
    user = forms.ModelChoiceField(queryset=get_user_model().objects.all())


class ScopesForm(forms.Form):
    accounts = forms.ModelMultipleChoiceField(queryset=CeligoAccount.objects.all(), required=False)
    integrations = forms.ModelMultipleChoiceField(queryset=Integration.objects.all(), required=False)
    flows = forms.ModelMultipleChoiceField(queryset=Flow.objects.all(), required=False)
    steps = forms.ModelMultipleChoiceField(queryset=Step.objects.all(), required=False)


class ScopeSearchForm(forms.Form):
    kind = forms.ChoiceField(choices=[(kind, kind) for kind in SEARCHABLE], required=False)
    q = forms.CharField(max_length=100, required=False)
    team = forms.IntegerField(min_value=1, max_value=MAX_PK, required=False)


def form_problem(form: forms.Form) -> str:
    """What is wrong with a form, each problem prefixed by the field it is about."""
    return "; ".join(f"{field}: {' '.join(map(str, problems))}" for field, problems in form.errors.items())


# --- Reading -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    """A team's open errors as the reader may see them."""

    open: int = 0
    unassigned: int = 0
    oldest: datetime | None = None


def queues(user: Any, team_pks: list[int]) -> dict[int, Queue]:
    """The queues of these teams, in one grouped query whatever their number."""
    rows = (
        visible_errors(user)
        .filter(team_id__in=team_pks, status=CeligoState.OPEN)
        .order_by()
        .values("team_id")
        .annotate(
            open=Count("pk"),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
            oldest=Min("occurred_at"),
        )
    )
    return {row["team_id"]: Queue(row["open"], row["unassigned"], row["oldest"]) for row in rows}


@require_GET
def team_list(request: HttpRequest) -> HttpResponse:
    page = page_number(request)
    offset = (page - 1) * TEAM_PAGE_SIZE
    teams = list(
        Team.objects.annotate(members_count=Count("memberships")).order_by("name", "pk")[
            offset : offset + TEAM_PAGE_SIZE + 1
        ]
    )
    shown = teams[:TEAM_PAGE_SIZE]
    counts = queues(request.user, [team.pk for team in shown])
    context = {
        "rows": [(team, counts.get(team.pk, Queue())) for team in shown],
        "page": page,
        "has_next": len(teams) > TEAM_PAGE_SIZE,
        "has_previous": page > 1,
    }
    return render(request, "teams/list.html", context)


@require_GET
def team_detail(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    members = list(
        team.memberships.select_related("user").order_by("user__username", "pk")[: MEMBERS_SHOWN + 1]
    )
    owned = {kind: owned_scopes(team, kind) for kind in SCOPE_KINDS}
    events = AuditEvent.objects.filter(team=team).select_related("actor").order_by("-created_at", "-id")
    context: dict[str, Any] = {
        "team": team,
        "queue": queues(request.user, [team.pk]).get(team.pk, Queue()),
        "members": members[:MEMBERS_SHOWN],
        "more_members": len(members) > MEMBERS_SHOWN,
        "owned": [(kind, owned[kind]) for kind in SCOPE_KINDS],
        "events": [(event, audit.describe(event)) for event in events[:EVENTS_SHOWN]],
        "ownership_note": OWNERSHIP_NOTE,
        "max_owned": MAX_OWNED,
    }
    if can_manage_teams(request.user):
        context.update(management_context(team, members, owned))
    return render(request, "teams/detail.html", context)


def owned_scopes(team: Team, kind: str) -> list[tuple[Model, str]]:
    scopes = getattr(team, f"owned_{kind}").select_related(*SCOPE_RELATIONS[kind]).order_by("name", "pk")
    return [(scope, scope_label(kind, scope)) for scope in scopes[:MAX_OWNED]]


def scope_label(kind: str, scope: Any) -> str:
    """A scope by name, with what it sits in: names repeat across accounts and integrations."""
    if kind == "integrations":
        return f"{scope.account} / {scope}"
    if kind == "flows":
        return f"{scope.account} / {scope.integration or 'standalone flows'} / {scope}"
    if kind == "steps":
        return f"{scope.account} / {scope.flow} / {scope}"
    return str(scope)


def management_context(team: Team, members: list[Any], owned: dict[str, list[Any]]) -> dict[str, Any]:
    member_ids = [membership.user_id for membership in members]
    candidates = (
        get_user_model().objects.filter(is_active=True).exclude(pk__in=member_ids).order_by("username")
    )
    owned_integrations = {scope.pk for scope, _label in owned["integrations"]}
    integrations = Integration.objects.select_related("account").filter(
        Q(pk__in=owned_integrations)
        | Q(pk__in=Integration.objects.order_by("account__name", "name").values("pk")[:CHOICES_SHOWN])
    )
    owned_accounts = {scope.pk for scope, _label in owned["accounts"]}
    return {
        "can_manage": True,
        "candidates": candidates[:CHOICES_SHOWN],
        "team_roles": TeamRole.choices,
        "account_choices": [
            (account, account.pk in owned_accounts)
            for account in CeligoAccount.objects.order_by("name")[:CHOICES_SHOWN]
        ],
        "integration_choices": [
            (scope, scope_label("integrations", scope), scope.pk in owned_integrations)
            for scope in integrations.order_by("account__name", "name", "pk")
        ],
    }


# --- Managing ----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@manage_teams_required
def team_add(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            team = do_create_team(request.user, form.cleaned_data["name"], form.cleaned_data["description"])
        except TeamChangeRejected as exc:
            form.add_error(exc.field, exc.reason)
        else:
            messages.success(request, f"Created the team “{team}”.")
            return redirect("team-detail", team.pk)
    return render(request, "teams/form.html", {"form": form, "team": None})


@require_http_methods(["GET", "POST"])
@manage_teams_required
def team_edit(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)
    initial = {"name": team.name, "description": team.description}
    form = TeamForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            changed = do_update_team(request.user, team, **form.cleaned_data)
        except TeamChangeRejected as exc:
            form.add_error(exc.field, exc.reason)
        else:
            messages.success(request, f"Saved the team “{team}”." if changed else "Nothing changed.")
            return redirect("team-detail", team.pk)
    return render(request, "teams/form.html", {"form": form, "team": team})


def change_team(
    request: HttpRequest, team: Team, form: forms.Form, change: Callable[[dict[str, Any]], str]
) -> HttpResponse:
    """Apply a valid form's change and say how it went, on the team's page; a refusal names the field."""
    if not form.is_valid():
        messages.error(request, form_problem(form))
    else:
        try:
            messages.success(request, change(form.cleaned_data))
        except TeamChangeRejected as exc:
            messages.error(request, str(exc))
    return redirect("team-detail", team.pk)


@require_POST
@manage_teams_required
def team_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)

    def add(data: dict[str, Any]) -> str:
        do_add_member(request.user, team, data["user"], data["role"])
        return f"Added {data['user'].get_username()} to {team}."

    return change_team(request, team, MemberForm(request.POST), add)


@require_POST
@manage_teams_required
def team_member_role(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)

    def set_role(data: dict[str, Any]) -> str:
        changed = do_set_member_role(request.user, team, data["user"], data["role"])
        role = TeamRole(data["role"]).label.lower()
        return f"{data['user'].get_username()} is now {role} of {team}." if changed else "Nothing changed."

    return change_team(request, team, MemberForm(request.POST), set_role)


@require_POST
@manage_teams_required
def team_member_remove(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)

    def remove(data: dict[str, Any]) -> str:
        do_remove_member(request.user, team, data["user"])
        return f"Removed {data['user'].get_username()} from {team}."

    return change_team(request, team, RemoveMemberForm(request.POST), remove)


@require_POST
@manage_teams_required
def team_scopes(request: HttpRequest, pk: int) -> HttpResponse:
    team = get_object_or_404(Team, pk=pk)

    def set_scopes(data: dict[str, Any]) -> str:
        changes = do_set_owned_scopes(request.user, team, **data)
        if not changes:
            return "Nothing changed."
        added = sum(len(found) for found in changes["added"].values())
        removed = sum(len(found) for found in changes["removed"].values())
        return f"Saved the owned scopes ({added} added, {removed} removed). {OWNERSHIP_NOTE}"

    return change_team(request, team, ScopesForm(request.POST), set_scopes)


@require_GET
@manage_teams_required
def team_scope_search(request: HttpRequest) -> HttpResponse:
    """Flows or steps whose name matches, to tick into a team's scopes form (an htmx partial)."""
    form = ScopeSearchForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(form_problem(form))
    kind = SEARCHABLE[form.cleaned_data["kind"] or "flow"]
    query, team = form.cleaned_data["q"].strip(), form.cleaned_data["team"]
    context: dict[str, Any] = {"kind": kind, "query": query, "matches": [], "more": False}
    if query:
        found = (
            SCOPE_KINDS[kind]
            ._default_manager.filter(name__icontains=query)
            .select_related(*SCOPE_RELATIONS[kind])
        )
        if team is not None:
            found = found.exclude(owning_teams__pk=team)  # already in the form, ticked
        found = found.prefetch_related("owning_teams").order_by("name", "pk")[: SEARCH_LIMIT + 1]
        context["matches"] = [
            (scope, scope_label(kind, scope), ", ".join(t.name for t in scope.owning_teams.all()))
            for scope in list(found)[:SEARCH_LIMIT]
        ]
        context["more"] = len(found) > SEARCH_LIMIT
    return render(request, "teams/partials/scope_search.html", context)
