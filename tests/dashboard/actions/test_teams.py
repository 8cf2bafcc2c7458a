"""Managing teams: each do_* changes what it says, refuses bad input naming the field, and is audited."""

from __future__ import annotations

import pytest

from dashboard.actions import teams as team_actions
from dashboard.actions.teams import (
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
    AuditKind,
    CeligoAccount,
    Flow,
    Integration,
    Role,
    Step,
    Team,
    TeamMembership,
    TeamRole,
)
from tests.dashboard.factories import (
    CeligoAccountFactory,
    ErrorRecordFactory,
    FlowFactory,
    IntegrationFactory,
    StepFactory,
    person,
)

pytestmark = pytest.mark.django_db

NO_SCOPES: dict = {"accounts": [], "integrations": [], "flows": [], "steps": []}


def only_event(kind: str) -> AuditEvent:
    return AuditEvent.objects.get(kind=kind)


def test_it_creates_a_team_and_records_who_did(lead):
    team = do_create_team(lead, "  Billing ", "Invoices and payments")
    assert (team.name, team.description) == ("Billing", "Invoices and payments")
    event = only_event(AuditKind.TEAM_CREATED)
    assert (event.actor, event.team, event.data) == (
        lead,
        team,
        {"name": "Billing", "description": "Invoices and payments"},
    )


@pytest.mark.parametrize("name", ["Warehouse", "warehouse", " WAREHOUSE "])
def test_it_refuses_a_name_another_team_has_naming_the_field(lead, warehouse, name):
    with pytest.raises(TeamChangeRejected) as refused:
        do_create_team(lead, name, "")
    assert refused.value.field == "name"
    assert "already exists" in str(refused.value)
    assert Team.objects.count() == 1
    assert not AuditEvent.objects.exists()


def test_it_refuses_a_blank_name(lead):
    with pytest.raises(TeamChangeRejected, match=r"^name: "):
        do_create_team(lead, "   ", "")


def test_it_records_a_change_with_the_fields_before_and_after(lead, warehouse):
    changes = do_update_team(lead, warehouse, "Warehouse EU", "")
    warehouse.refresh_from_db()
    assert warehouse.name == "Warehouse EU"
    expected = {"before": {"name": "Warehouse"}, "after": {"name": "Warehouse EU"}}
    assert changes == expected
    assert only_event(AuditKind.TEAM_CHANGED).data == expected


def test_an_update_that_changes_nothing_records_nothing(lead, warehouse):
    assert do_update_team(lead, warehouse, "Warehouse", "") == {}
    assert not AuditEvent.objects.exists()


def test_renaming_to_another_teams_name_is_refused_and_changes_nothing(lead, warehouse, finance):
    with pytest.raises(TeamChangeRejected, match=r"^name: "):
        do_update_team(lead, warehouse, "finance", "new words")
    warehouse.refresh_from_db()
    assert (warehouse.name, warehouse.description) == ("Warehouse", "")


def test_it_adds_a_member_with_their_team_role(lead, warehouse):
    ana = person("ana", Role.VIEWER)
    do_add_member(lead, warehouse, ana, TeamRole.LEAD)
    assert TeamMembership.objects.get(team=warehouse, user=ana).role == TeamRole.LEAD
    event = only_event(AuditKind.MEMBER_ADDED)
    assert (event.actor, event.user, event.team) == (lead, ana, warehouse)
    assert event.data == {"username": "ana", "role": "lead"}


def test_adding_refuses_a_member_twice_a_deactivated_person_and_an_unknown_role(lead, warehouse):
    ana, gone = person("ana", Role.VIEWER), person("gone", Role.VIEWER, is_active=False)
    do_add_member(lead, warehouse, ana, TeamRole.MEMBER)
    for user, role, field in [(ana, "member", "user"), (gone, "member", "user"), (gone, "boss", "role")]:
        with pytest.raises(TeamChangeRejected) as refused:
            do_add_member(lead, warehouse, user, role)
        assert refused.value.field == field
    assert TeamMembership.objects.count() == 1
    assert AuditEvent.objects.count() == 1


def test_it_changes_a_members_team_role_saying_from_what_to_what(lead, warehouse, restricted):
    assert do_set_member_role(lead, warehouse, restricted, TeamRole.LEAD) is True
    assert do_set_member_role(lead, warehouse, restricted, TeamRole.LEAD) is False
    assert TeamMembership.objects.get(user=restricted).role == TeamRole.LEAD
    event = only_event(AuditKind.MEMBER_ROLE_CHANGED)
    assert (event.user, event.team) == (restricted, warehouse)
    assert event.data == {"username": "restricted", "from": "member", "to": "lead"}


def test_it_removes_a_member_and_refuses_a_stranger(lead, warehouse, restricted, triager):
    do_remove_member(lead, warehouse, restricted)
    assert not TeamMembership.objects.filter(team=warehouse).exists()
    event = only_event(AuditKind.MEMBER_REMOVED)
    assert (event.user, event.data) == (restricted, {"username": "restricted", "role": "member"})
    with pytest.raises(TeamChangeRejected, match=r"^user: triager is not a member of Warehouse"):
        do_remove_member(lead, warehouse, triager)
    with pytest.raises(TeamChangeRejected, match=r"^user: "):
        do_set_member_role(lead, warehouse, triager, TeamRole.LEAD)


def test_it_sets_owned_scopes_and_records_what_was_added_and_removed_by_kind(lead, warehouse):
    account: CeligoAccount = CeligoAccountFactory(name="Production")
    integration: Integration = IntegrationFactory(account=account, name="Shopify")
    old_flow: Flow = FlowFactory(name="Old orders")
    new_flow: Flow = FlowFactory(name="Orders")
    step: Step = StepFactory(name="Post invoice")
    warehouse.owned_flows.add(old_flow)

    changes = do_set_owned_scopes(
        lead, warehouse, accounts=[account], integrations=[integration], flows=[new_flow], steps=[step]
    )

    assert list(warehouse.owned_accounts.all()) == [account]
    assert list(warehouse.owned_integrations.all()) == [integration]
    assert list(warehouse.owned_flows.all()) == [new_flow]
    assert list(warehouse.owned_steps.all()) == [step]
    expected = {
        "added": {
            "accounts": [{"id": account.pk, "name": "Production"}],
            "integrations": [{"id": integration.pk, "name": "Shopify"}],
            "flows": [{"id": new_flow.pk, "name": "Orders"}],
            "steps": [{"id": step.pk, "name": "Post invoice"}],
        },
        "removed": {"flows": [{"id": old_flow.pk, "name": "Old orders"}]},
    }
    assert changes == expected
    event = only_event(AuditKind.SCOPES_CHANGED)
    assert (event.actor, event.team, event.data) == (lead, warehouse, expected)


def test_setting_the_same_scopes_again_records_nothing(lead, warehouse):
    flow = FlowFactory()
    warehouse.owned_flows.add(flow)
    assert do_set_owned_scopes(lead, warehouse, **{**NO_SCOPES, "flows": [flow]}) == {}
    assert not AuditEvent.objects.exists()


def test_a_scope_another_team_owns_is_refused_naming_the_scope_and_the_team(lead, warehouse, finance):
    flow, free = FlowFactory(name="Invoices to NetSuite"), FlowFactory(name="Free")
    finance.owned_flows.add(flow)
    with pytest.raises(TeamChangeRejected) as refused:
        do_set_owned_scopes(lead, warehouse, **{**NO_SCOPES, "flows": [free, flow]})
    assert refused.value.field == "flows"
    assert str(refused.value) == "flows: the flow “Invoices to NetSuite” is already owned by the team Finance"
    assert not warehouse.owned_flows.exists()
    assert list(finance.owned_flows.all()) == [flow]
    assert not AuditEvent.objects.exists()


def test_a_team_owns_a_bounded_number_of_each_kind(lead, warehouse, monkeypatch):
    monkeypatch.setattr(team_actions, "MAX_OWNED", 2)
    steps = [StepFactory(), StepFactory(), StepFactory()]
    with pytest.raises(TeamChangeRejected, match=r"^steps: a team owns at most 2 steps"):
        do_set_owned_scopes(lead, warehouse, **{**NO_SCOPES, "steps": steps})


def test_owning_a_scope_leaves_the_errors_already_there_where_they_were(lead, warehouse, finance):
    error_of_finance, teamless = ErrorRecordFactory(team=finance), ErrorRecordFactory(team=None)
    do_set_owned_scopes(lead, warehouse, **{**NO_SCOPES, "flows": [error_of_finance.flow, teamless.flow]})
    error_of_finance.refresh_from_db()
    teamless.refresh_from_db()
    assert (error_of_finance.team, teamless.team) == (finance, None)
