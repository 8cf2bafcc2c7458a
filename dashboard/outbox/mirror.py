"""Copying assignment and tags to Celigo where the account opts in (docs/celigo-api.md §2.12, §2.13).

A failed mirror is counted and explained on the batch; the local change it copies is never undone.
"""

from __future__ import annotations

from itertools import groupby

from django.contrib.auth import get_user_model
from django.db.models import F

from celigo_api import CeligoError, ChunkOutcome
from dashboard.models import ActionBatch, ActionKind, CeligoAccount, ErrorRecord, Tag
from dashboard.outbox.celigo import CeligoClients

MIRRORED = (ActionKind.ASSIGN, ActionKind.TAG, ActionKind.UNTAG)


def step_key(error: ErrorRecord) -> tuple[int, str, str]:
    return error.account_id, error.celigo_flow_id, error.celigo_step_id


def mirror(batch: ActionBatch, errors: list[ErrorRecord], clients: CeligoClients) -> None:
    if batch.kind not in MIRRORED:
        return
    failures: list[str] = []
    failed_count = 0
    for (_, flow_id, step_id), group in groupby(sorted(errors, key=step_key), key=step_key):
        step_errors = list(group)
        account = step_errors[0].account
        wanted = account.mirror_assignments if batch.kind == ActionKind.ASSIGN else account.mirror_tags
        if not wanted:
            continue
        try:
            outcomes = mirror_step(batch, clients, account, flow_id, step_id, step_errors)
        except CeligoError as exc:
            outcomes = [ChunkOutcome(ids=tuple(e.error_id for e in step_errors), ok=False, error=exc)]
        for outcome in outcomes:
            if not outcome.ok:
                failed_count += len(outcome.ids)
                failures.append(f"{flow_id}/{step_id}: {outcome.error}")
    if failed_count:
        ActionBatch.objects.filter(pk=batch.pk).update(
            mirror_failures=F("mirror_failures") + failed_count, mirror_message="; ".join(failures)[:2000]
        )


def mirror_step(
    batch: ActionBatch,
    clients: CeligoClients,
    account: CeligoAccount,
    flow_id: str,
    step_id: str,
    errors: list[ErrorRecord],
) -> list[ChunkOutcome]:
    client = clients.get(account)
    error_ids = tuple(e.error_id for e in errors)
    if batch.kind == ActionKind.ASSIGN:
        assignee_id = batch.params.get("assignee")
        user = get_user_model().objects.filter(pk=assignee_id).first() if assignee_id else None
        email = getattr(user, "email", "") or None
        if user is not None and not email:
            problem = ValueError(f"{user.get_username()} has no e-mail address for Celigo")
            return [ChunkOutcome(ids=error_ids, ok=False, error=problem)]
        return client.assign_errors(flow_id, step_id, list(error_ids), email)
    # docs/celigo-api.md §2.13 (INFERRED): the tag call replaces an error's tag set, so send each error's
    # full local set of tags that exist in Celigo, grouped by identical sets.
    outcomes: list[ChunkOutcome] = []
    sets: dict[tuple[str, ...], list[ErrorRecord]] = {}
    for error in errors:
        ids = tuple(sorted(error.tags.exclude(celigo_tag_id="").values_list("celigo_tag_id", flat=True)))
        sets.setdefault(ids, []).append(error)
    missing = Tag.objects.filter(name__in=batch.params["tags"], celigo_tag_id="").values_list(
        "name", flat=True
    )
    if missing:
        problem = ValueError(f"no such tag in Celigo: {', '.join(missing)}")
        outcomes.append(ChunkOutcome(ids=error_ids, ok=False, error=problem))
    for tag_ids, group in sets.items():
        pairs = [(e.error_id, e.retry_data_key or None) for e in group]
        outcomes += client.tag_errors(flow_id, step_id, pairs, list(tag_ids), variant=account.tag_variant)  # type: ignore[arg-type]
    return outcomes
