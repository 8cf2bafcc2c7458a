"""Teams that own a scope receive its new errors; a person's team choice always stays."""

from __future__ import annotations

import pytest

from dashboard import timeline
from dashboard.actions.assignment import do_set_team
from dashboard.models import Activity, ActivityKind, ErrorRecord, Step, Team
from dashboard.routing.ownership import give_to_owning_team, owning_team
from dashboard.sync.run import sync_account
from tests.dashboard.factories import ErrorRecordFactory, FlowFactory, StepFactory, TeamFactory
from tests.dashboard.sync.test_sync import connect

pytestmark = pytest.mark.django_db
pytest_plugins = ["celigo_api.simulator.pytest_plugin"]


def test_the_most_specific_owner_wins():
    step = StepFactory(flow=FlowFactory())
    flow, account = step.flow, step.account
    by_account, by_integration, by_flow, by_step = (TeamFactory(name=n) for n in ("A", "I", "F", "S"))
    assert owning_team(account, step) is None
    by_account.owned_accounts.add(account)
    assert owning_team(account, step) == by_account
    by_integration.owned_integrations.add(flow.integration)
    assert owning_team(account, step) == by_integration
    by_flow.owned_flows.add(flow)
    assert owning_team(account, step) == by_flow
    by_step.owned_steps.add(step)
    assert owning_team(account, step) == by_step


def test_new_errors_go_to_the_owner_but_a_team_someone_chose_stays(triager):
    step = StepFactory(flow=FlowFactory())
    owner, chosen = TeamFactory(name="Warehouse"), TeamFactory(name="Finance")
    owner.owned_flows.add(step.flow)
    fresh, placed = (
        ErrorRecordFactory(account=step.account, flow=step.flow, step=step, team=team)
        for team in (None, chosen)
    )
    error_ids = [fresh.error_id, placed.error_id]
    for error in (fresh, placed):
        error.celigo_flow_id, error.celigo_step_id = step.flow.celigo_id, step.celigo_id
        error.save()
    assert give_to_owning_team(step.account, step, error_ids) == [fresh.pk]
    fresh.refresh_from_db(), placed.refresh_from_db()
    assert (fresh.team, placed.team) == (owner, chosen)
    entry = Activity.objects.get(error_id=fresh.pk, kind=ActivityKind.TEAM_SET)
    assert entry.data["by"]["kind"] == "ownership"
    assert timeline.describe(entry) == "Team set to Warehouse"


def test_the_sync_stores_new_errors_of_an_owned_flow_in_the_owners_queue(celigo_simulator, triager):
    sim = celigo_simulator
    account = connect(sim)
    sync_account(account)  # the first sync: the structure arrives with the errors
    step = Step.objects.get(pk=ErrorRecord.objects.filter(account=account).values("step")[:1])
    warehouse, finance = Team.objects.create(name="Warehouse"), Team.objects.create(name="Finance")
    warehouse.owned_flows.add(step.flow)
    new = [sim.state.add_error(step.flow.celigo_id, step.celigo_id)["errorId"] for _ in range(3)]

    sync_account(account)
    arrived = ErrorRecord.objects.filter(account=account, error_id__in=new)
    assert set(arrived.values_list("team", flat=True)) == {warehouse.pk}
    assert (
        not ErrorRecord.objects.filter(account=account, team__isnull=False).exclude(error_id__in=new).exists()
    )

    # A person moves one to Finance; Celigo changes it and adds more: the person's choice stays.
    moved = arrived.first()
    do_set_team(triager, [moved.pk], finance)
    sim.state.add_error(step.flow.celigo_id, step.celigo_id)
    sync_account(account, full=True)
    moved.refresh_from_db()
    assert moved.team == finance
    assert ErrorRecord.objects.filter(account=account, team=warehouse).count() == 3
