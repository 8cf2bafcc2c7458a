"""Teams that own a scope (a step, flow, integration or whole account) receive its new errors."""

from __future__ import annotations

from dashboard import timeline
from dashboard.actions.assignment import do_set_team
from dashboard.models import CeligoAccount, ErrorRecord, Step, Team

OWNERSHIP = timeline.SystemActor("ownership", "team ownership")


def owning_team(account: CeligoAccount, step: Step) -> Team | None:
    """The most specific owner: of the step, else its flow, else its integration, else the account."""
    flow = step.flow
    for scope in (
        {"owned_steps": step.pk},
        {"owned_flows": flow.pk},
        {"owned_integrations": flow.integration_id} if flow.integration_id else None,
        {"owned_accounts": account.pk},
    ):
        if scope is not None:
            team = Team.objects.filter(**scope).order_by("pk").first()
            if team is not None:
                return team
    return None


def give_to_owning_team(account: CeligoAccount, step: Step, error_ids: list[str]) -> list[int]:
    """Put new errors without a team into the queue of the team owning their scope; returns their ids."""
    team = owning_team(account, step)
    if team is None:
        return []
    pks = ErrorRecord.objects.filter(
        account=account,
        celigo_flow_id=step.flow.celigo_id,
        celigo_step_id=step.celigo_id,
        error_id__in=error_ids,
    ).values_list("pk", flat=True)
    return do_set_team(OWNERSHIP, list(pks), team, only_without_team=True)
