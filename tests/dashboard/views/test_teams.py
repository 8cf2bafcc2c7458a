"""The team pages: everyone logged in reads the teams and their queues (counted within what they may see);
leads and admins create and edit teams, their members and the scopes they own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard.models import AuditEvent, AuditKind, CeligoState, Role, Team, TeamMembership, TeamRole
from dashboard.views.teams import OWNERSHIP_NOTE, SEARCH_LIMIT, Queue
from tests.dashboard.factories import (
    ErrorRecordFactory,
    FlowFactory,
    IntegrationFactory,
    StepFactory,
    TeamFactory,
    UserFactory,
    person,
)

pytestmark = pytest.mark.django_db

NOT_LEADS = ("viewer", "triager", "restricted")


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def queue_of(response, team: Team) -> Queue:
    return next(queue for row_team, queue in response.context["rows"] if row_team == team)


@pytest.fixture
def queues(warehouse, finance, triager):
    """Warehouse: two open errors (one unassigned, the oldest 3 days old) and a resolved one; Finance: one."""
    ErrorRecordFactory(team=warehouse, occurred_at=timezone.now() - timedelta(days=3))
    ErrorRecordFactory(team=warehouse, assignee=triager)
    ErrorRecordFactory(
        team=warehouse, status=CeligoState.RESOLVED, occurred_at=timezone.now() - timedelta(days=9)
    )
    ErrorRecordFactory(team=finance)
    ErrorRecordFactory(team=None)


# --- The list ----------------------------------------------------------------------------------------


def test_it_lists_every_team_with_its_members_and_its_queue(login_as, queues, warehouse, finance, restricted):
    response = login_as("triager").get(reverse("team-list"))
    assert response.status_code == 200
    members = {team.name: team.members_count for team, _queue in response.context["rows"]}
    assert members == {"Finance": 0, "Warehouse": 1}
    warehouse_queue = queue_of(response, warehouse)
    assert (warehouse_queue.open, warehouse_queue.unassigned) == (2, 1)
    assert warehouse_queue.oldest is not None
    assert timezone.now() - warehouse_queue.oldest > timedelta(days=2, hours=23)
    assert (queue_of(response, finance).open, queue_of(response, finance).unassigned) == (1, 1)
    body = response.content.decode()
    assert f"/errors/?status=open&amp;team={warehouse.pk}&amp;assignee=none" in body
    assert f'/errors/?status=open&amp;team={finance.pk}"' in body
    assert "3\xa0days" in body


def test_a_restricted_member_counts_only_their_teams_errors(login_as, queues, warehouse, finance):
    response = login_as("restricted").get(reverse("team-list"))
    assert queue_of(response, warehouse) == Queue(2, 1, queue_of(response, warehouse).oldest)
    assert queue_of(response, finance) == Queue()  # Finance's error is not theirs to count


def test_the_list_takes_the_same_queries_for_many_teams(
    login_as, warehouse, triager, django_assert_max_num_queries
):
    client = login_as("restricted")
    ErrorRecordFactory(team=warehouse)
    client.get(reverse("team-list"))  # the session and the person, read once
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("team-list"))
    for n in range(15):
        team = TeamFactory(name=f"Team {n}")
        TeamMembership.objects.create(team_id=team.pk, user=person(f"member{n}", Role.VIEWER))
        ErrorRecordFactory(team=team)
    with django_assert_max_num_queries(len(few)):
        response = client.get(reverse("team-list"))
    assert len(response.context["rows"]) == 16


def test_only_leads_see_the_new_team_button(login_as, warehouse):
    assert b'data-testid="new-team"' in login_as("lead").get(reverse("team-list")).content
    assert b'data-testid="new-team"' not in login_as("viewer").get(reverse("team-list")).content


# --- The detail page ---------------------------------------------------------------------------------


def test_the_team_page_shows_its_queue_members_scopes_and_recent_changes(
    login_as, queues, warehouse, restricted
):
    flow = FlowFactory(name="Orders to NetSuite")
    step = StepFactory(name="Post invoice", flow=flow)
    integration = IntegrationFactory(name="Shopify")
    warehouse.owned_flows.add(flow)
    warehouse.owned_steps.add(step)
    warehouse.owned_integrations.add(integration)
    TeamMembership.objects.filter(user=restricted).update(role=TeamRole.LEAD)
    AuditEvent.objects.create(
        kind=AuditKind.MEMBER_ADDED, team=warehouse, data={"username": "ana", "role": "lead"}
    )

    response = login_as("viewer").get(reverse("team-detail", args=[warehouse.pk]))

    assert response.status_code == 200
    assert (response.context["queue"].open, response.context["queue"].unassigned) == (2, 1)
    body = response.content.decode()
    assert "restricted" in body
    assert "Team lead" in body
    assert "Orders to NetSuite" in body
    assert "Post invoice" in body
    assert "Shopify" in body
    assert "Added ana to Warehouse as team lead" in body
    assert f"/errors/?status=open&amp;team={warehouse.pk}&amp;assignee=none" in body
    assert 'data-testid="scopes-form"' not in body
    assert 'data-testid="add-member"' not in body


def test_the_team_page_counts_within_what_the_reader_may_see(login_as, queues, warehouse, finance):
    response = login_as("restricted").get(reverse("team-detail", args=[finance.pk]))
    assert response.context["queue"] == Queue()
    response = login_as("triager").get(reverse("team-detail", args=[finance.pk]))
    assert response.context["queue"].open == 1


def test_the_team_page_shows_at_most_the_newest_audit_events(login_as, warehouse):
    for _n in range(25):
        AuditEvent.objects.create(
            kind=AuditKind.TEAM_CHANGED, team=warehouse, data={"before": {}, "after": {}}
        )
    response = login_as("viewer").get(reverse("team-detail", args=[warehouse.pk]))
    assert len(response.context["events"]) == 20


def test_leads_get_the_forms_and_the_note_that_errors_do_not_move(login_as, warehouse, restricted):
    UserFactory(username="newcomer")
    body = login_as("lead").get(reverse("team-detail", args=[warehouse.pk])).content.decode()
    assert 'data-testid="scopes-form"' in body
    assert 'data-testid="add-member"' in body
    assert OWNERSHIP_NOTE in body
    assert '<option value="' in body
    assert ">newcomer</option>" in body
    assert ">restricted</option>" not in body  # already a member


def test_an_unknown_team_is_a_404(login_as):
    assert login_as("viewer").get("/teams/999999/").status_code == 404
    assert login_as("viewer").get(f"/teams/{2**70}/").status_code == 404


# --- Creating and editing ----------------------------------------------------------------------------


def test_a_lead_creates_a_team(login_as, lead):
    response = login_as("lead").post(reverse("team-add"), {"name": "Billing", "description": "Invoices"})
    team = Team.objects.get(name="Billing")
    assert response.status_code == 302
    assert response["Location"] == reverse("team-detail", args=[team.pk])
    assert AuditEvent.objects.get(kind=AuditKind.TEAM_CREATED).actor == lead


def test_a_taken_name_is_a_form_error_on_the_name(login_as, warehouse):
    response = login_as("lead").post(reverse("team-add"), {"name": "warehouse", "description": ""})
    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["name"]
    assert "Name: a team named “warehouse” already exists" in response.content.decode()
    assert Team.objects.count() == 1


def test_a_missing_name_is_a_form_error_on_the_name(login_as):
    response = login_as("lead").post(reverse("team-add"), {"description": "x" * 400})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "description"}


def test_a_lead_edits_a_team_and_the_change_is_audited(login_as, warehouse, finance):
    url = reverse("team-edit", args=[warehouse.pk])
    client = login_as("lead")
    assert client.get(url).context["form"]["name"].value() == "Warehouse"
    response = client.post(url, {"name": "Finance", "description": ""})
    assert list(response.context["form"].errors) == ["name"]
    response = client.post(url, {"name": "Warehouse EU", "description": "Pick and pack"})
    assert response.status_code == 302
    assert AuditEvent.objects.get(kind=AuditKind.TEAM_CHANGED).data == {
        "before": {"name": "Warehouse", "description": ""},
        "after": {"name": "Warehouse EU", "description": "Pick and pack"},
    }


# --- Members -----------------------------------------------------------------------------------------


def test_a_lead_adds_promotes_and_removes_a_member(login_as, warehouse, lead):
    ana = person("ana", Role.VIEWER)
    client = login_as("lead")
    page = reverse("team-detail", args=[warehouse.pk])

    response = client.post(
        reverse("team-member-add", args=[warehouse.pk]), {"user": ana.pk, "role": "member"}
    )
    assert response["Location"] == page
    assert messages_of(response) == ["Added ana to Warehouse."]
    response = client.post(reverse("team-member-role", args=[warehouse.pk]), {"user": ana.pk, "role": "lead"})
    assert TeamMembership.objects.get(user=ana).role == TeamRole.LEAD
    response = client.post(reverse("team-member-remove", args=[warehouse.pk]), {"user": ana.pk})
    assert not TeamMembership.objects.filter(user=ana).exists()

    events = AuditEvent.objects.filter(team=warehouse, user=ana).order_by("pk")
    assert [(e.kind, e.actor, e.data) for e in events] == [
        (AuditKind.MEMBER_ADDED, lead, {"username": "ana", "role": "member"}),
        (AuditKind.MEMBER_ROLE_CHANGED, lead, {"username": "ana", "from": "member", "to": "lead"}),
        (AuditKind.MEMBER_REMOVED, lead, {"username": "ana", "role": "lead"}),
    ]
    body = client.get(page).content.decode()
    assert "Removed ana from Warehouse" in body
    assert "Changed ana&#x27;s role in Warehouse from member to team lead" in body


@pytest.mark.parametrize(
    ("name", "form", "field"),
    [
        ("team-member-add", {"user": "abc", "role": "member"}, "user"),
        ("team-member-add", {"user": "", "role": "member"}, "user"),
        ("team-member-add", {"user": "99999999", "role": "member"}, "user"),
        ("team-member-add", {"user": "ME", "role": "boss"}, "role"),
        ("team-member-role", {"user": "ME", "role": "boss"}, "role"),
        ("team-member-role", {"user": "STRANGER", "role": "lead"}, "user"),
        ("team-member-remove", {"user": "STRANGER"}, "user"),
        ("team-member-remove", {"user": str(2**70)}, "user"),
        ("team-member-add", {"user": "GONE", "role": "member"}, "user"),
        ("team-member-add", {"user": "MEMBER", "role": "member"}, "user"),
    ],
)
def test_bad_member_input_is_a_message_naming_the_field(login_as, warehouse, restricted, name, form, field):
    users = {
        "ME": UserFactory(username="ana"),
        "STRANGER": UserFactory(username="stranger"),
        "GONE": UserFactory(username="gone", is_active=False),
        "MEMBER": restricted,
    }
    form = {key: str(users[value].pk) if value in users else value for key, value in form.items()}
    response = login_as("lead").post(reverse(name, args=[warehouse.pk]), form)
    assert response.status_code == 302
    [message] = messages_of(response)
    assert message.startswith(f"{field}: "), message
    assert list(TeamMembership.objects.values_list("user__username", "role")) == [("restricted", "member")]
    assert not AuditEvent.objects.exists()


# --- Owned scopes ------------------------------------------------------------------------------------


def test_a_lead_sets_owned_scopes_by_name_and_the_change_is_audited(login_as, warehouse, lead):
    integration, flow, step = IntegrationFactory(name="Shopify"), FlowFactory(name="Orders"), StepFactory()
    response = login_as("lead").post(
        reverse("team-scopes", args=[warehouse.pk]),
        {
            "accounts": [integration.account_id],
            "integrations": [integration.pk],
            "flows": [flow.pk],
            "steps": [step.pk],
        },
    )
    assert response["Location"] == reverse("team-detail", args=[warehouse.pk])
    [message] = messages_of(response)
    assert "4 added, 0 removed" in message
    assert OWNERSHIP_NOTE in message
    assert list(warehouse.owned_flows.all()) == [flow]
    event = AuditEvent.objects.get(kind=AuditKind.SCOPES_CHANGED)
    assert event.data["added"]["integrations"] == [{"id": integration.pk, "name": "Shopify"}]
    assert event.data["removed"] == {}


def test_a_scope_of_another_team_is_refused_with_a_message_naming_both(login_as, warehouse, finance):
    flow = FlowFactory(name="Invoices")
    finance.owned_flows.add(flow)
    response = login_as("lead").post(reverse("team-scopes", args=[warehouse.pk]), {"flows": [flow.pk]})
    assert messages_of(response) == ["flows: the flow “Invoices” is already owned by the team Finance"]
    assert not warehouse.owned_flows.exists()


@pytest.mark.parametrize("flows", [["abc"], ["99999999"], [str(2**70)]])
def test_bad_scope_input_is_a_message_naming_the_field(login_as, warehouse, flows):
    response = login_as("lead").post(reverse("team-scopes", args=[warehouse.pk]), {"flows": flows})
    assert response.status_code == 302
    [message] = messages_of(response)
    assert message.startswith("flows: ")


# --- Searching flows and steps to own ----------------------------------------------------------------


def test_the_scope_search_is_bounded(login_as):
    flow = FlowFactory(name="Orders 0")
    for n in range(1, SEARCH_LIMIT + 5):
        FlowFactory(name=f"Orders {n}", integration=flow.integration, account=flow.account)
    response = login_as("lead").get(reverse("team-scope-search"), {"q": "orders", "kind": "flow"})
    assert len(response.context["matches"]) == SEARCH_LIMIT
    assert b'data-testid="more-matches"' in response.content
    assert response.content.count(b'name="flows"') == SEARCH_LIMIT


def test_the_scope_search_escapes_names_and_marks_scopes_of_other_teams(login_as, warehouse, finance):
    script = FlowFactory(name="<script>alert(1)</script>")
    finance.owned_flows.add(script)
    owned = StepFactory(name="<script> step", flow=script)
    warehouse.owned_steps.add(owned)
    client = login_as("lead")
    body = client.get(reverse("team-scope-search"), {"q": "<script>", "kind": "flow"}).content.decode()
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "disabled" in body
    assert "(owned by Finance)" in body
    steps = client.get(reverse("team-scope-search"), {"q": "script", "kind": "step", "team": warehouse.pk})
    assert steps.context["matches"] == []  # the team's own steps are already in its form


def test_the_scope_search_finds_steps_and_refuses_an_unknown_kind(login_as):
    StepFactory(name="Post invoice")
    client = login_as("lead")
    response = client.get(reverse("team-scope-search"), {"q": "invoice", "kind": "step"})
    assert [label.endswith("Post invoice") for _s, label, _o in response.context["matches"]] == [True]
    assert b'name="steps"' in response.content
    assert client.get(reverse("team-scope-search"), {"q": "x", "kind": "integration"}).status_code == 400
    assert client.get(reverse("team-scope-search"), {"q": "x", "team": "abc"}).status_code == 400
    assert client.get(reverse("team-scope-search"), {"q": "x" * 101}).status_code == 400


# --- Who may manage ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", NOT_LEADS)
def test_only_leads_and_admins_manage_teams(login_as, persona, warehouse, restricted):
    client = login_as(persona)
    pk = warehouse.pk
    forbidden = [
        client.get(reverse("team-add")),
        client.post(reverse("team-add"), {"name": "Mine"}),
        client.get(reverse("team-edit", args=[pk])),
        client.post(reverse("team-edit", args=[pk]), {"name": "Mine"}),
        client.post(reverse("team-member-add", args=[pk]), {"user": restricted.pk, "role": "lead"}),
        client.post(reverse("team-member-role", args=[pk]), {"user": restricted.pk, "role": "lead"}),
        client.post(reverse("team-member-remove", args=[pk]), {"user": restricted.pk}),
        client.post(reverse("team-scopes", args=[pk]), {"flows": [FlowFactory().pk]}),
        client.get(reverse("team-scope-search"), {"q": "a", "kind": "flow"}),
    ]
    assert [response.status_code for response in forbidden] == [403] * len(forbidden)
    assert list(Team.objects.values_list("name", flat=True)) == ["Warehouse"]
    assert TeamMembership.objects.get(user=restricted).role == TeamRole.MEMBER
    assert not warehouse.owned_flows.exists()
    assert not AuditEvent.objects.exists()
