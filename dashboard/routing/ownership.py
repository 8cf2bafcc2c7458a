"""Teams that own a scope (a step, flow, integration or whole account) receive its new errors."""

from __future__ import annotations

from django.db.models import Value

from dashboard import timeline
from dashboard.actions.assignment import do_set_team
from dashboard.models import CeligoAccount, ErrorRecord, Step, Team

OWNERSHIP = timeline.SystemActor("ownership", "team ownership")


def owning_team(account: CeligoAccount, step: Step) -> Team | None:
    """The most specific owner: of the step, else its flow, else its integration, else the account.

    One query finds it (and one more loads it): this runs for every page of new errors the sync stores.
    """
    flow = step.flow
    scopes = [
        Team.owned_steps.through.objects.filter(step_id=step.pk),
        Team.owned_flows.through.objects.filter(flow_id=flow.pk),
        Team.owned_integrations.through.objects.filter(integration_id=flow.integration_id or 0),
        Team.owned_accounts.through.objects.filter(celigoaccount_id=account.pk),
    ]
    owners = [
        scope.annotate(specificity=Value(rank)).values_list("specificity", "team_id")
        for rank, scope in enumerate(scopes)
    ]
    found = sorted(owners[0].union(*owners[1:], all=True))
    return Team.objects.filter(pk=found[0][1]).first() if found else None


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
