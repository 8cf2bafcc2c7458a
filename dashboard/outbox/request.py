"""Asking for an action: validate it, record the batch (and, for explicit errors, its items), queue it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from dashboard.access import MAX_PK, User, assignable_teams, can_manage_teams, is_restricted, visible_errors
from dashboard.celery import enqueue
from dashboard.models import (
    CELIGO_ACTIONS,
    ActionBatch,
    ActionItem,
    ActionKind,
    BatchState,
    RoutingRule,
    Team,
)
from dashboard.outbox.celigo import BatchMustWait
from dashboard.outbox.runner import run_batch
from dashboard.outbox.selection import ActionRejected, validate_filter

RUN_BATCH_TASK = "dashboard.run_action_batch"
INLINE_LIMIT = 500  # local actions on at most this many explicit errors apply within the request
MAX_COMMENT = 10_000
MAX_TAGS = 20


def clean_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate an action's parameters; raises :class:`ActionRejected` naming the field."""
    if kind not in ActionKind.values:
        raise ActionRejected(f"action: unknown action {kind!r}; use one of {', '.join(ActionKind.values)}")
    if kind == ActionKind.ASSIGN:
        return {"assignee": _active_user_id(params.get("assignee"))}
    if kind == ActionKind.SET_TEAM:
        return {"team": _team_id(params.get("team"))}
    if kind in (ActionKind.TAG, ActionKind.UNTAG):
        return {"tags": _tag_names(params.get("tags"))}
    if kind == ActionKind.COMMENT:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ActionRejected("text: a comment needs some text")
        if len(text) > MAX_COMMENT:
            raise ActionRejected(f"text: at most {MAX_COMMENT} characters")
        return {"text": text.strip()}
    if kind == ActionKind.APPLY_RULE:
        rule = RoutingRule.objects.filter(pk=_rule_pk(params.get("rule"))).first()
        if rule is None:
            raise ActionRejected(f"rule: no routing rule with id {params.get('rule')!r}")
        return {"rule": rule.pk, "rule_name": rule.name}
    return {}


def _rule_pk(value: Any) -> int:
    try:
        return _bounded_int(value)
    except (ValueError, TypeError):
        return 0


def _active_user_id(value: Any) -> int | None:
    if value in (None, "", "none"):
        return None
    User = get_user_model()
    try:
        return int(User.objects.get(pk=_bounded_int(value), is_active=True).pk)
    except (ValueError, TypeError, User.DoesNotExist):
        raise ActionRejected(f"assignee: no active user with id {value!r}") from None


def _team_id(value: Any) -> int | None:
    if value in (None, "", "none"):
        return None
    try:
        return int(Team.objects.get(pk=_bounded_int(value)).pk)
    except (ValueError, TypeError, Team.DoesNotExist):
        raise ActionRejected(f"team: no team with id {value!r}") from None


def _bounded_int(value: Any) -> int:
    number = int(value)
    if not 0 < number <= MAX_PK:
        raise ValueError(value)
    return number


def _tag_names(raw: Any) -> list[str]:
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ActionRejected("tags: give a list of tag names")
    cleaned = sorted({" ".join(name.split())[:60] for name in names if name.strip()})
    if not cleaned:
        raise ActionRejected("tags: give at least one tag name")
    if len(cleaned) > MAX_TAGS:
        raise ActionRejected(f"tags: at most {MAX_TAGS} tags at once")
    return cleaned


def request_action(
    actor: User,
    kind: str,
    *,
    error_ids: Iterable[int] | None = None,
    filter_query: str | None = None,
    params: dict[str, Any] | None = None,
    run_now: bool = True,
) -> ActionBatch:
    """Record an action over explicit errors or over every error a list filter matches, and queue it.

    Only errors the actor may see are taken (explicit ids they cannot see are dropped, as if missing).
    """
    params = clean_params(kind, params or {})
    if kind == ActionKind.APPLY_RULE and not can_manage_teams(actor):
        raise ActionRejected("action: applying a routing rule needs the lead role")
    if kind == ActionKind.SET_TEAM and not may_set_team(actor, params["team"]):
        raise ActionRejected("team: you may only put errors in one of your teams")
    if (error_ids is None) == (filter_query is None):
        raise ActionRejected("selection: give either error ids or a filter, not both")
    if filter_query is not None:
        validate_filter(filter_query, actor)
    with transaction.atomic():
        batch = ActionBatch.objects.create(
            kind=kind,
            params=params,
            actor_id=actor.pk if actor.is_authenticated else None,
            filter_query=filter_query or "",
            selected=error_ids is not None,
        )
        if error_ids is not None:
            ids = sorted({pk for pk in (int(value) for value in error_ids) if 0 < pk <= MAX_PK})
            existing = list(visible_errors(actor).filter(pk__in=ids).values_list("pk", flat=True))
            if not existing:
                raise ActionRejected("selection: none of the given errors exists")
            ActionItem.objects.bulk_create(
                [ActionItem(batch=batch, error_id=pk) for pk in existing], batch_size=5000
            )
            batch.total = len(existing)
            batch.save(update_fields=["total"])
    if run_now:
        if kind not in CELIGO_ACTIONS and batch.selected and batch.total <= INLINE_LIMIT:
            run_batch(batch.pk)  # a local change on a few errors shows at once
            batch.refresh_from_db()
        else:
            transaction.on_commit(lambda: enqueue_batch(batch.pk))
    return batch


def may_set_team(actor: User, team_id: int | None) -> bool:
    """A restricted member may move errors only between their own teams (out of them, they would vanish)."""
    if team_id is None:
        return not is_restricted(actor)
    return assignable_teams(actor).filter(pk=team_id).exists()


def enqueue_batch(batch_id: int) -> None:
    """Hand the batch to a worker (``dashboard.tasks.run_action_batch``)."""
    enqueue(RUN_BATCH_TASK, batch_id)


def cancel_batch(batch: ActionBatch) -> None:
    """Stop a batch: a running worker stops before its next chunk; a batch nobody runs now settles at once.

    A batch whose filter was not turned into items yet ends here without reading it: selecting "all 37,412
    matching errors" only to skip them would hold the request (and the person) for nothing.
    """
    now = timezone.now()
    nobody_runs_it = Q(lease_owner="") | Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    ended = (
        ActionBatch.objects.filter(
            pk=batch.pk, selected=False, state__in=[BatchState.PENDING, BatchState.WAITING]
        )
        .filter(nobody_runs_it)
        .update(
            cancel_requested=True,
            state=BatchState.CANCELLED,
            finished_at=now,
            lease_owner="",
            lease_expires_at=None,
            waiting_since=None,
            message="Cancelled before its errors were selected: nothing was sent.",
        )
    )
    if ended:
        return
    ActionBatch.objects.filter(pk=batch.pk).update(cancel_requested=True)
    batch.refresh_from_db(fields=["selected", "state"])
    if batch.selected and batch.state in (BatchState.PENDING, BatchState.WAITING):
        # Takes the lease only if no worker holds it, and sends nothing once cancelled. It waits when errors
        # are still on their way to Celigo from an earlier run: the batch ends once their answer is in.
        with contextlib.suppress(BatchMustWait):
            run_batch(batch.pk)
