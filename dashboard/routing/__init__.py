"""Where a new error goes: called by the sync for every page of errors new to Error Desk, after they commit.

* ``ownership``: a team that owns the error's step, flow, integration or account gets it in its queue.
* ``regressions``: a failed retry is linked to the error it repeats, and a regression is flagged and routed
  to the resolved error's last owner.
* ``rules``: the leads' routing rules, in order (``conditions`` says what a rule can ask of an error).

The order is the precedence (docs/architecture.md "Routing rules"): a regression's last owner keeps it, then
the rules refine, then the owning team takes what no rule gave a team. Nothing here overrides what is set.
"""

from __future__ import annotations

from datetime import datetime

from dashboard.models import CeligoAccount, ErrorRecord, Step
from dashboard.routing.ownership import give_to_owning_team
from dashboard.routing.regressions import link_new_errors
from dashboard.routing.rules import apply_rules, enabled_rules


def on_new_errors(account: CeligoAccount, step: Step, error_ids: list[str], *, now: datetime) -> None:
    """``error_ids`` (Celigo's ids, on ``step``) were just stored for the first time."""
    if account.last_full_sync_at is not None:
        # On an account's first sync everything is new; history is not a regression.
        link_new_errors(account, step, error_ids, now)
    rules = enabled_rules()
    if rules:
        page = ErrorRecord.objects.filter(
            account=account,
            celigo_flow_id=step.flow.celigo_id,
            celigo_step_id=step.celigo_id,
            error_id__in=error_ids,
        )
        apply_rules(rules, page, now)
    give_to_owning_team(account, step, error_ids)
