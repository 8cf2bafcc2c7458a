"""Every kind of audit event reads as a sentence made from its data, in one place."""

from __future__ import annotations

import pytest

from dashboard import audit
from dashboard.audit.sentences import SENTENCES
from dashboard.models import AuditEvent, AuditKind, Team


def test_every_kind_has_a_sentence():
    assert set(SENTENCES) == set(AuditKind.values)


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            AuditKind.PERSON_ADDED,
            {"username": "ana", "role": "triager", "restricted": True, "teams": ["Warehouse"]},
            "Added ana as triager, restricted to their teams, in Warehouse",
        ),
        (
            AuditKind.ROLE_CHANGED,
            {"username": "ana", "from": "viewer", "to": "lead"},
            "Changed ana's role from viewer to lead",
        ),
        (
            AuditKind.RESTRICTION_CHANGED,
            {"username": "ana", "to": False},
            "ana is no longer restricted to their teams",
        ),
        (AuditKind.MEMBER_ADDED, {"username": "ana", "role": "lead"}, "Added ana to Warehouse as team lead"),
        (AuditKind.MEMBER_REMOVED, {"username": "ana"}, "Removed ana from Warehouse"),
        (
            AuditKind.TEAM_CHANGED,
            {"before": {"name": "Wh"}, "after": {"name": "Warehouse"}},
            "Changed the name from “Wh” to “Warehouse”",
        ),
        (
            AuditKind.SCOPES_CHANGED,
            {"added": {"flows": [{"name": "Orders", "id": 4}]}, "removed": {}},
            "Now owns flows Orders",
        ),
    ],
)
def test_it_renders_each_kind_from_its_data(kind, data, expected):
    assert audit.describe(AuditEvent(kind=kind, data=data, team=Team(name="Warehouse"))) == expected
