"""Editing an error's retry data in Celigo, with the before/after diff on its timeline."""

from __future__ import annotations

import difflib
import json
from contextlib import ExitStack
from typing import Any

import celigo_api
from celigo_api import CeligoClient
from dashboard import timeline
from dashboard.celigo import web_client_for
from dashboard.lib import jsontext
from dashboard.models import ActionBatch, ActionKind, Activity, ActivityKind, ErrorRecord
from dashboard.outbox.request import request_action
from dashboard.outbox.selection import ActionRejected


def retry_data_diff(before: Any, after: Any) -> str:
    """A unified diff of two JSON documents, pretty-printed with sorted keys so only real changes show."""

    def lines(value: Any) -> list[str]:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines(keepends=True)

    return "".join(difflib.unified_diff(lines(before), lines(after), "before", "after"))


def do_edit_retry_data(
    actor: timeline.Actor,
    error: ErrorRecord,
    new_data: Any,
    *,
    expected_before: Any = None,
    then_retry: bool = False,
    client: CeligoClient | None = None,
) -> tuple[str, ActionBatch | None]:
    """Replace an error's retry data in Celigo (GET, then PUT the whole object; docs/celigo-api.md §2.9).

    ``expected_before`` is the data the person edited; if Celigo's copy changed meanwhile, nothing is written
    and :class:`ActionRejected` says so. The before/after diff goes into the timeline. Returns the diff and,
    with ``then_retry``, the retry batch queued for this error.
    """
    if not error.retry_data_key:
        raise ActionRejected("retry data: this error has no retry data key; Celigo cannot retry it")
    problem = jsontext.storable_problem(new_data)
    if problem:
        raise ActionRejected(f"retry data: contains {problem}, which cannot be stored or sent")
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(web_client_for(error.account))
        current = client.get_retry_data(error.celigo_flow_id, error.celigo_step_id, error.retry_data_key)
        if expected_before is not None and current.data != expected_before:
            raise ActionRejected(
                "retry data: it changed in Celigo since you opened it; reload and edit again"
            )
        diff = retry_data_diff(current.data, new_data)
        if not diff:
            raise ActionRejected("retry data: nothing changed")
        # Written before the PUT, so an edit whose answer is lost (or whose process dies) is still on record.
        edit = timeline.entry(
            error.pk,
            ActivityKind.RETRY_DATA_EDITED,
            actor=actor,
            before=current.data,
            after=new_data,
            diff=diff,
            retried=False,
            outcome=EditOutcome.PENDING,
        )
        timeline.record([edit])
        try:
            client.put_retry_data(
                error.celigo_flow_id, error.celigo_step_id, error.retry_data_key, current.with_data(new_data)
            )
        except celigo_api.CeligoError as exc:
            complete(
                edit, EditOutcome.UNKNOWN if answer_lost(exc) else EditOutcome.REFUSED, reason=str(exc)[:300]
            )
            raise
    complete(edit, EditOutcome.SAVED, retried=then_retry)
    if not then_retry or isinstance(actor, timeline.SystemActor) or actor is None:
        return diff, None
    return diff, request_action(actor, ActionKind.RETRY, error_ids=[error.pk])


class EditOutcome:
    """What became of a retry-data edit: ``pending`` until Celigo answers the PUT."""

    PENDING = "pending"
    SAVED = "saved"
    REFUSED = "refused"
    UNKNOWN = "unknown"


def answer_lost(exc: celigo_api.CeligoError) -> bool:
    """Celigo may have saved the data: the request left but no answer came, or a gateway failed."""
    if isinstance(exc, celigo_api.ConnectionFailed):
        return exc.request_sent
    return isinstance(exc, (celigo_api.ServerError, celigo_api.MalformedResponse))


def complete(edit: Activity, outcome: str, **data: object) -> None:
    """Fill in the outcome of the pending entry: the one change a timeline entry ever receives."""
    edit.data = {**edit.data, **data, "outcome": outcome}
    Activity.objects.filter(pk=edit.pk).update(data=edit.data)
