"""Where a new error goes: called by the sync for every page of errors new to Error Desk, after they commit.

* ``ownership``: a team that owns the error's step, flow, integration or account gets it in its queue.
* ``regressions``: a failed retry is linked to the error it repeats, and a regression is flagged and routed
  to the resolved error's last owner.

Routing rules and notifications attach here too. Nothing here overrides what a person set.
"""

from __future__ import annotations

from datetime import datetime

from dashboard.models import CeligoAccount, Step
from dashboard.routing.ownership import give_to_owning_team
from dashboard.routing.regressions import link_new_errors


def on_new_errors(account: CeligoAccount, step: Step, error_ids: list[str], *, now: datetime) -> None:
    """``error_ids`` (Celigo's ids, on ``step``) were just stored for the first time."""
    give_to_owning_team(account, step, error_ids)
    if account.last_full_sync_at is not None:
        # On an account's first sync everything is new; history is not a regression.
        link_new_errors(account, step, error_ids, now)
