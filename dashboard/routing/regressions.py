"""Errors that repeat earlier ones: a retry that failed again, and a regression of a resolved error."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db.models import Q

from dashboard import timeline
from dashboard.actions.assignment import do_assign
from dashboard.models import ActivityKind, CeligoAccount, CeligoState, ErrorRecord, RetryOutcome, Step

MAX_EARLIER = 20_000


def link_new_errors(account: CeligoAccount, step: Step, error_ids: list[str], now: datetime) -> None:
    """Tie errors new to us to the errors they repeat (docs/architecture.md "Action semantics").

    * A failed retry: Celigo files a new error with the same trace key as a retried one (docs/celigo-api.md
      §2.8); the old error's retry outcome becomes "failed again" and the two are linked.
    * A regression: the same trace key as a resolved error, or the same fingerprint on the same step; it is
      flagged and routed to the resolved error's last assignee, unless someone already owns it.
    """
    fresh = list(
        ErrorRecord.objects.filter(
            account=account,
            celigo_flow_id=step.flow.celigo_id,
            celigo_step_id=step.celigo_id,
            error_id__in=error_ids,
        ).values_list("pk", "trace_key", "fingerprint", "assignee_id")
    )
    fresh_pks = [pk for pk, *_ in fresh]
    trace_keys = {trace for _, trace, _, _ in fresh if trace}
    fingerprints = {fp for _, _, fp, _ in fresh if fp}
    earlier = (
        ErrorRecord.objects.filter(account=account)
        .filter(
            Q(trace_key__in=trace_keys, retry_outcome=RetryOutcome.PENDING)
            | Q(trace_key__in=trace_keys, status=CeligoState.RESOLVED)
            | Q(step=step, fingerprint__in=fingerprints, status=CeligoState.RESOLVED)
        )
        .exclude(pk__in=fresh_pks)
        .order_by("-resolved_at", "-pk")
        .values_list("pk", "trace_key", "fingerprint", "retry_outcome", "status", "assignee_id", "step_id")[
            :MAX_EARLIER
        ]
    )
    retried: dict[str, int] = {}
    resolved_by_trace: dict[str, tuple[int, int | None]] = {}
    resolved_by_fingerprint: dict[str, tuple[int, int | None]] = {}
    for pk, trace, fp, outcome, status, assignee_id, step_pk in earlier:
        if outcome == RetryOutcome.PENDING and trace:
            retried.setdefault(trace, pk)
        elif status == CeligoState.RESOLVED:
            if trace:
                resolved_by_trace.setdefault(trace, (pk, assignee_id))
            if step_pk == step.pk and fp:
                resolved_by_fingerprint.setdefault(fp, (pk, assignee_id))
    entries = []
    route_to: dict[int, list[int]] = defaultdict(list)
    for pk, trace, fp, assignee_id in fresh:
        if trace and trace in retried:
            old = retried.pop(trace)
            ErrorRecord.objects.filter(pk=old).update(retry_outcome=RetryOutcome.FAILED)
            ErrorRecord.objects.filter(pk=pk).update(retry_of_id=old)
            entries += [
                timeline.entry(old, ActivityKind.RETRY_FAILED, at=now, new_error=pk),
                timeline.entry(pk, ActivityKind.RETRY_FAILED, at=now, retry_of=old),
            ]
            continue
        match = resolved_by_trace.get(trace) if trace else None
        match = match or resolved_by_fingerprint.get(fp)
        if match is None:
            continue
        old, last_assignee = match
        ErrorRecord.objects.filter(pk=pk).update(regression_of_id=old)
        routed = assignee_id is None and last_assignee is not None
        if routed and last_assignee is not None:
            route_to[last_assignee].append(pk)
        entries.append(
            timeline.entry(
                pk,
                ActivityKind.REGRESSION,
                at=now,
                regression_of=old,
                assigned_to=last_assignee if routed else None,
            )
        )
    timeline.record(entries)
    users = get_user_model().objects.in_bulk(list(route_to))
    for user_id, pks in route_to.items():
        if user_id in users:
            do_assign(timeline.SYNC, pks, users[user_id], only_unassigned=True)
