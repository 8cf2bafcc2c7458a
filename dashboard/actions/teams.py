"""Managing teams: their name, their members and team roles, and the scopes whose new errors they receive.

Each change is recorded as an ``AuditEvent`` with its data (before and after, names as they were then), in
the same transaction as the change. Owning a scope routes only the errors that arrive after the change
(``dashboard.routing``); errors already stored keep their team.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, models, transaction

from dashboard import audit
from dashboard.models import AuditKind, CeligoAccount, Flow, Integration, Step, Team, TeamMembership, TeamRole

Actor = AbstractBaseUser | AnonymousUser | None
# A team owns at most this many scopes of each kind: past that, owning the flow, integration or account
# says the same thing, and the team page stays readable.
MAX_OWNED = 500
SCOPE_KINDS: dict[str, Any] = {  # the models, by the name of their field on Team
    "accounts": CeligoAccount,
    "integrations": Integration,
    "flows": Flow,
    "steps": Step,
}
SINGULAR = {"accounts": "account", "integrations": "integration", "flows": "flow", "steps": "step"}


class TeamChangeRejected(ValueError):
    """The change is invalid; ``field`` names the form field, the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


# --- The team itself ---------------------------------------------------------------------------------


def do_create_team(actor: Actor, name: str, description: str = "") -> Team:
    name, description = name.strip(), description.strip()
    check_name_free(name)
    try:
        with transaction.atomic():
            team = Team.objects.create(name=name, description=description)
            audit.record(actor, AuditKind.TEAM_CREATED, team=team, name=name, description=description)
    except IntegrityError:
        raise name_taken(name) from None  # created by someone else meanwhile
    return team


def do_update_team(actor: Actor, team: Team, name: str, description: str) -> dict[str, Any]:
    """Rename or redescribe ``team``; returns the fields that changed with their old and new values."""
    after = {"name": name.strip(), "description": description.strip()}
    before = {"name": team.name, "description": team.description}
    changed = [field for field in after if after[field] != before[field]]
    if not changed:
        return {}
    if "name" in changed:
        check_name_free(after["name"], exclude=team)
    try:
        with transaction.atomic():
            for field in changed:
                setattr(team, field, after[field])
            team.save(update_fields=changed)
            data: dict[str, Any] = {
                "before": {field: before[field] for field in changed},
                "after": {field: after[field] for field in changed},
            }
            audit.record(actor, AuditKind.TEAM_CHANGED, team=team, **data)
    except IntegrityError:
        team.name, team.description = before["name"], before["description"]
        raise name_taken(after["name"]) from None
    return data


def check_name_free(name: str, exclude: Team | None = None) -> None:
    if not name:
        raise TeamChangeRejected("name", "give the team a name")
    others = Team.objects.filter(name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise name_taken(name)


def name_taken(name: str) -> TeamChangeRejected:
    return TeamChangeRejected("name", f"a team named “{name}” already exists")


# --- Members -----------------------------------------------------------------------------------------


def do_add_member(actor: Actor, team: Team, user: AbstractBaseUser, role: str) -> TeamMembership:
    check_role(role)
    if not user.is_active:
        raise TeamChangeRejected("user", f"{user.get_username()} is deactivated")
    try:
        with transaction.atomic():
            membership = TeamMembership.objects.create(team=team, user_id=user.pk, role=role)
            audit.record(
                actor, AuditKind.MEMBER_ADDED, user=user, team=team, username=user.get_username(), role=role
            )
    except IntegrityError:
        raise TeamChangeRejected("user", f"{user.get_username()} is already a member of {team}") from None
    return membership


def do_set_member_role(actor: Actor, team: Team, user: AbstractBaseUser, role: str) -> bool:
    """Make a member a team lead or a plain member; returns whether the role changed."""
    check_role(role)
    with transaction.atomic():
        membership = membership_of(team, user, for_update=True)
        if membership.role == role:
            return False
        before = membership.role
        membership.role = role
        membership.save(update_fields=["role"])
        audit.record(
            actor,
            AuditKind.MEMBER_ROLE_CHANGED,
            user=user,
            team=team,
            username=user.get_username(),
            **{"from": before, "to": role},
        )
    return True


def do_remove_member(actor: Actor, team: Team, user: AbstractBaseUser) -> None:
    with transaction.atomic():
        membership = membership_of(team, user, for_update=True)
        membership.delete()
        audit.record(
            actor,
            AuditKind.MEMBER_REMOVED,
            user=user,
            team=team,
            username=user.get_username(),
            role=membership.role,
        )


def check_role(role: str) -> None:
    if role not in TeamRole.values:
        raise TeamChangeRejected("role", "choose member or team lead")


def membership_of(team: Team, user: AbstractBaseUser, *, for_update: bool = False) -> TeamMembership:
    memberships = TeamMembership.objects.filter(team=team, user_id=user.pk)
    membership = (memberships.select_for_update() if for_update else memberships).first()
    if membership is None:
        raise TeamChangeRejected("user", f"{user.get_username()} is not a member of {team}")
    return membership


# --- Owned scopes ------------------------------------------------------------------------------------


def do_set_owned_scopes(
    actor: Actor,
    team: Team,
    *,
    accounts: Iterable[CeligoAccount],
    integrations: Iterable[Integration],
    flows: Iterable[Flow],
    steps: Iterable[Step],
) -> dict[str, Any]:
    """Make ``team`` own exactly these scopes; returns what was added and removed, by kind.

    A scope another team owns is refused (the message names both); only new errors are routed by it.
    """
    wanted = {"accounts": accounts, "integrations": integrations, "flows": flows, "steps": steps}
    chosen = {kind: {scope.pk: scope for scope in scopes} for kind, scopes in wanted.items()}
    for kind, scopes in chosen.items():
        if len(scopes) > MAX_OWNED:
            raise TeamChangeRejected(
                kind, f"a team owns at most {MAX_OWNED} {kind}; own their parent instead"
            )
    with transaction.atomic():
        Team.objects.select_for_update().filter(pk=team.pk).first()  # one change of a team's scopes at a time
        owned = {kind: owned_scopes(team, kind) for kind in SCOPE_KINDS}
        added = {kind: [s for pk, s in chosen[kind].items() if pk not in owned[kind]] for kind in SCOPE_KINDS}
        removed = {
            kind: [s for pk, s in owned[kind].items() if pk not in chosen[kind]] for kind in SCOPE_KINDS
        }
        for kind in SCOPE_KINDS:
            refuse_owned_elsewhere(team, kind, added[kind])
        if not any(added.values()) and not any(removed.values()):
            return {}
        for kind in SCOPE_KINDS:
            owned_field(team, kind).set(list(chosen[kind]))
        data: dict[str, Any] = {"added": named(added), "removed": named(removed)}
        audit.record(actor, AuditKind.SCOPES_CHANGED, team=team, **data)
    return data


def owned_field(team: Team, kind: str) -> Any:
    return getattr(team, f"owned_{kind}")


def owned_scopes(team: Team, kind: str) -> dict[int, models.Model]:
    return {scope.pk: scope for scope in owned_field(team, kind).all()}


def refuse_owned_elsewhere(team: Team, kind: str, added: list[models.Model]) -> None:
    if not added:
        return
    relation = getattr(Team, f"owned_{kind}").field
    column = f"{relation.m2m_reverse_field_name()}_id"  # the scope's column in the ownership table
    taken = (
        relation.remote_field.through.objects.filter(**{f"{column}__in": [scope.pk for scope in added]})
        .exclude(team_id=team.pk)
        .select_related("team")
        .order_by("pk")
        .first()
    )
    if taken is not None:
        scope = next(scope for scope in added if scope.pk == getattr(taken, column))
        raise TeamChangeRejected(
            kind, f"the {SINGULAR[kind]} “{scope}” is already owned by the team {taken.team}"
        )


def named(scopes: dict[str, list[models.Model]]) -> dict[str, list[dict[str, Any]]]:
    """By kind, the scopes as ids and names (as they are now), leaving out the kinds without any."""
    return {kind: [{"id": s.pk, "name": str(s)} for s in found] for kind, found in scopes.items() if found}
