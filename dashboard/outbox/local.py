"""Local actions of a batch (assign, set team, tag, untag, comment), applied chunk by chunk through the
``do_*`` actions, then mirrored to Celigo where the account opts in."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from dashboard.actions.assignment import do_assign, do_set_team
from dashboard.actions.comments import do_comment
from dashboard.actions.tags import do_tag, do_untag
from dashboard.lib.leases import LeaseLost
from dashboard.models import ActionBatch, ActionKind, ErrorRecord, ItemOutcome, RoutingRule, Team
from dashboard.outbox.celigo import CeligoClients
from dashboard.outbox.items import BatchItems
from dashboard.outbox.mirror import mirror
from dashboard.routing.rules import apply_rules

LOCAL_CHUNK = 2000


def _assign(batch: ActionBatch, ids: list[int]) -> None:
    assignee_id = batch.params.get("assignee")
    assignee = get_user_model().objects.filter(pk=assignee_id).first() if assignee_id else None
    do_assign(batch.actor, ids, assignee)


def _set_team(batch: ActionBatch, ids: list[int]) -> None:
    team_id = batch.params.get("team")
    do_set_team(batch.actor, ids, Team.objects.filter(pk=team_id).first() if team_id else None)


def _apply_rule(batch: ActionBatch, ids: list[int]) -> None:
    """A lead applying a rule to the open backlog: the rule acts as it would on new errors (its timeline
    entries name it), filling only what is empty; a rule deleted meanwhile does nothing."""
    rule = RoutingRule.objects.select_related("team", "assignee").filter(pk=batch.params.get("rule")).first()
    if rule is not None:
        apply_rules([rule], ErrorRecord.objects.filter(pk__in=ids), timezone.now())


LOCAL_ACTIONS: dict[str, Callable[[ActionBatch, list[int]], object]] = {
    ActionKind.ASSIGN: _assign,
    ActionKind.SET_TEAM: _set_team,
    ActionKind.TAG: lambda batch, ids: do_tag(batch.actor, ids, batch.params["tags"]),
    ActionKind.UNTAG: lambda batch, ids: do_untag(batch.actor, ids, batch.params["tags"]),
    ActionKind.COMMENT: lambda batch, ids: do_comment(batch.actor, ids, batch.params["text"]),
    ActionKind.APPLY_RULE: _apply_rule,
}


def apply_local(batch: ActionBatch, items: BatchItems, clients: CeligoClients) -> None:
    action = LOCAL_ACTIONS[batch.kind]
    while True:
        items.count("celigo_calls", clients.take_calls())
        if not items.keep_lease():
            items.cancelled()
            return
        chunk = list(items.pending().select_related("error", "error__account")[:LOCAL_CHUNK])
        if not chunk:
            return
        with transaction.atomic():
            action(batch, [item.error_id for item in chunk])
            done = items.ours().filter(pk__in=[item.pk for item in chunk], outcome=ItemOutcome.PENDING)
            if items.mark(done, ItemOutcome.SUCCEEDED, "") != len(chunk):
                # Another runner holds the batch now: undo this chunk, it is that runner's to apply.
                raise LeaseLost(f"batch #{batch.pk}: another runner took it over")
        items.count("succeeded", len(chunk))
        mirror(batch, [item.error for item in chunk], clients)
