"""What an audit event says, from its kind and data (names as they were then), in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dashboard.models import AuditEvent, AuditKind, Role, TeamRole


def describe(event: AuditEvent) -> str:
    data = event.data or {}
    who = data.get("username", "someone")
    team = f" {event.team.name}" if event.team is not None else ""
    sentence = SENTENCES.get(event.kind)
    return sentence(data, who, team) if sentence else event.get_kind_display()


def _person_added(data: dict[str, Any], who: str, team: str) -> str:
    teams = f", in {', '.join(data['teams'])}" if data.get("teams") else ""
    restricted = ", restricted to their teams" if data.get("restricted") else ""
    return f"Added {who} as {role(data.get('role', Role.VIEWER))}{restricted}{teams}"


def _team_changed(data: dict[str, Any], who: str, team: str) -> str:
    after = data.get("after", {})
    changes = [
        f"{field} from “{old}” to “{after.get(field, '')}”" for field, old in data.get("before", {}).items()
    ]
    return "Changed the " + "; ".join(changes)


def _scopes_changed(data: dict[str, Any], who: str, team: str) -> str:
    def listed(scopes: dict[str, list[dict[str, Any]]]) -> str:
        return "; ".join(
            f"{kind} {', '.join(str(s.get('name')) for s in found)}" for kind, found in scopes.items()
        )

    parts = []
    if data.get("added"):
        parts.append(f"Now owns {listed(data['added'])}")
    if data.get("removed"):
        parts.append(f"no longer owns {listed(data['removed'])}")
    return ". ".join(parts) or "Owned scopes changed"


def role(value: Any) -> str:
    return str(dict(Role.choices).get(value, value or "")).split(":")[0].lower()


def team_role(value: Any) -> str:
    return str(dict(TeamRole.choices).get(value, value or "")).lower()


SENTENCES: dict[str, Callable[[dict[str, Any], str, str], str]] = {
    AuditKind.PERSON_ADDED: _person_added,
    AuditKind.ROLE_CHANGED: lambda d, who, team: (
        f"Changed {who}'s role from {role(d.get('from'))} to {role(d.get('to'))}"
    ),
    AuditKind.RESTRICTION_CHANGED: lambda d, who, team: (
        f"Restricted {who} to their teams" if d.get("to") else f"{who} is no longer restricted to their teams"
    ),
    AuditKind.PERSON_DEACTIVATED: lambda d, who, team: f"Deactivated {who}",
    AuditKind.PERSON_REACTIVATED: lambda d, who, team: f"Reactivated {who}",
    AuditKind.PASSWORD_LINK_ISSUED: lambda d, who, team: f"Issued a set-password link for {who}",
    AuditKind.TEAM_CREATED: lambda d, who, team: f"Created the team “{d.get('name', '')}”",
    AuditKind.TEAM_CHANGED: _team_changed,
    AuditKind.MEMBER_ADDED: lambda d, who, team: f"Added {who} to{team} as {team_role(d.get('role'))}",
    AuditKind.MEMBER_ROLE_CHANGED: lambda d, who, team: (
        f"Changed {who}'s role in{team} from {team_role(d.get('from'))} to {team_role(d.get('to'))}"
    ),
    AuditKind.MEMBER_REMOVED: lambda d, who, team: f"Removed {who} from{team}",
    AuditKind.SCOPES_CHANGED: _scopes_changed,
    AuditKind.TOKEN_CREATED: lambda d, who, team: (
        f"Created the {d.get('scope', '')} API token {d.get('prefix', '')} for {who}"
    ),
    AuditKind.TOKEN_REVOKED: lambda d, who, team: f"Revoked the API token {d.get('prefix', '')} of {who}",
}
