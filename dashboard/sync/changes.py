"""What a stored page changed about errors we already had: closed, reopened, a retry that succeeded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard import timeline
from dashboard.models import ActivityKind, CeligoState, ErrorRecord, RetryOutcome
from dashboard.sync.context import RunCounters
from dashboard.sync.ingest import Row

# What ``existing`` holds per error id, read before the page is written.
EXISTING_COLUMNS = ("pk", "status", "purged", "retry_data_key", "code", "resolved_at", "retry_outcome")


def existing_rows(
    account_id: int, flow_id: str, step_id: str, error_ids: list[str]
) -> dict[str, tuple[Any, ...]]:
    return {
        found[0]: found[1:]
        for found in ErrorRecord.objects.filter(
            account_id=account_id, celigo_flow_id=flow_id, celigo_step_id=step_id, error_id__in=error_ids
        ).values_list("error_id", *EXISTING_COLUMNS)
    }


def record_changes(
    rows: dict[str, Row],
    existing: dict[str, tuple[Any, ...]],
    state: str,
    now: datetime,
    counters: RunCounters,
) -> None:
    """Count new, updated and closed errors and put what Celigo did on their timelines."""
    entries = []
    retried_ok: list[int] = []
    for error_id, row in rows.items():
        before = existing.get(error_id)
        if before is None:
            counters.new += 1
            continue
        pk, old_status, old_purged, old_rdk, old_code, old_resolved_at, retry_outcome = before
        if (
            state == CeligoState.RESOLVED
            and retry_outcome == RetryOutcome.PENDING
            and row["resolved_by"] == "auto"
        ):
            # docs/celigo-api.md §2.8: a retried record that succeeds is resolved by "auto".
            retried_ok.append(pk)
            entries.append(timeline.entry(pk, ActivityKind.RETRY_SUCCEEDED, at=now))
        if old_status == CeligoState.OPEN and state == CeligoState.RESOLVED:
            counters.closed += 1
            resolved_at = row["resolved_at"]
            entries.append(
                timeline.entry(
                    pk,
                    ActivityKind.RESOLVED_IN_CELIGO,
                    at=now,
                    resolved_by=row["resolved_by"],
                    resolved_at=resolved_at.isoformat() if resolved_at else None,
                )
            )
        elif old_status == CeligoState.RESOLVED and state == CeligoState.OPEN:
            counters.updated += 1
            entries.append(timeline.entry(pk, ActivityKind.REOPENED_IN_CELIGO, at=now))
        elif (
            old_purged
            or old_rdk != row["retry_data_key"]
            or old_code != row["code"]
            or (state == CeligoState.RESOLVED and old_resolved_at != row["resolved_at"])
        ):
            counters.updated += 1
    if retried_ok:
        ErrorRecord.objects.filter(pk__in=retried_ok).update(retry_outcome=RetryOutcome.SUCCEEDED)
    timeline.record(entries)


def record_opened_and_closed(
    account_id: int,
    flow_id: str,
    step_id: str,
    rows: dict[str, Row],
    error_ids: list[str],
    now: datetime,
    counters: RunCounters,
) -> None:
    """Errors first seen in the resolved list by an incremental pull opened and closed since the last one:
    their timelines say who closed them, as for an error we saw open (docs/architecture.md "Sync
    semantics")."""
    found = ErrorRecord.objects.filter(
        account_id=account_id, celigo_flow_id=flow_id, celigo_step_id=step_id, error_id__in=error_ids
    ).values_list("error_id", "pk")
    entries = []
    for error_id, pk in found:
        row = rows[error_id]
        resolved_at = row["resolved_at"]
        entries.append(
            timeline.entry(
                pk,
                ActivityKind.RESOLVED_IN_CELIGO,
                at=now,
                resolved_by=row["resolved_by"],
                resolved_at=resolved_at.isoformat() if resolved_at else None,
            )
        )
    counters.closed += len(entries)
    timeline.record(entries)
