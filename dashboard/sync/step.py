"""Pulling one flow step: its open list since the watermark, its resolved list since the last read, purges."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils import timezone

from celigo_api import NotFound, StepError
from dashboard import routing, timeline
from dashboard.lib.iterables import chunked, prefetched
from dashboard.models import ActivityKind, CeligoState, ErrorRecord, RetryOutcome, Step
from dashboard.sync.changes import existing_rows, record_changes, record_opened_and_closed
from dashboard.sync.context import SyncContext
from dashboard.sync.ingest import (
    UPSERT_BATCH,
    Row,
    build_row,
    store_fingerprints,
    update_fields_for,
    write_rows,
)

# Errors can be written in Celigo with an occurredAt slightly before the moment they become visible, so
# each pull re-reads a window before the watermark; upserts make the re-read harmless.
OVERLAP = timedelta(minutes=10)
RETRY_IN_FLIGHT = timedelta(days=1)


class StepPull:
    """One pull of one step, with counters of its own (pulls of a reconcile run in parallel threads)."""

    def __init__(
        self,
        context: SyncContext,
        step: Step,
        expected_open: int,
        last_error_at: datetime | None,
        *,
        full: bool = False,
        open_list: bool = True,
        previous_sync: datetime | None = None,
    ) -> None:
        self.context = context
        self.account = context.account
        self.step = step
        self.expected_open = expected_open
        self.last_error_at = last_error_at
        self.full = full
        # False when only the resolved list can have changed (docs/architecture.md "Sync semantics").
        self.open_list = open_list
        # When the last sync that ended well started: the bound for a step never read since then.
        self.previous_sync = previous_sync
        self.counters = context.counters()
        # A step without rows (an account's first sync) needs no lookup of existing rows page by page.
        self.fresh = False

    def run(self) -> None:
        self.context.keep_lease()
        self.counters.steps_pulled += 1
        try:
            self.pull()
        except NotFound as exc:
            # The flow or step was deleted in Celigo between the summary and the pull.
            step = self.step
            self.counters.note(
                f"step {step.flow.celigo_id}/{step.celigo_id}: not found in Celigo ({exc})"[:300]
            )

    def run_in_thread(self) -> None:
        try:
            self.run()
        finally:
            connections.close_all()  # this thread's connection, not the caller's

    def pull(self) -> None:
        step, full = self.step, self.full
        self.fresh = not ErrorRecord.objects.filter(
            account=self.account, celigo_flow_id=step.flow.celigo_id, celigo_step_id=step.celigo_id
        ).exists()
        since = None if full or step.open_watermark is None else step.open_watermark - OVERLAP
        seen_open: set[str] = set()
        newest_open = step.open_watermark
        if self.open_list:
            seen_open, newest_open = self.pull_list(CeligoState.OPEN, since, step.open_watermark)
        local_open = ErrorRecord.objects.filter(step=step, status=CeligoState.OPEN, purged=False)
        # Errors we retried lately may have left Celigo's open list for its Retries tab (docs/celigo-api.md
        # §2.8, INFERRED); they are neither resolved nor purged until the retry job ends.
        purgeable = local_open.exclude(
            retry_outcome=RetryOutcome.PENDING, retried_at__gte=self.context.started - RETRY_IN_FLIGHT
        )
        newest_resolved = step.resolved_watermark
        left = not full and local_open.count() > self.expected_open
        resolved_since = self.resolved_since(left)
        if full or left or resolved_since is not None:
            # The resolved list says who closed the errors that left the open list (§2.5), and holds the
            # errors that opened and closed since the last read, which no count shows. A full reconcile
            # reads it from the start, so resolved rows Celigo has forgotten show up too.
            seen_resolved, newest_resolved = self.pull_list(
                CeligoState.RESOLVED, resolved_since, step.resolved_watermark
            )
            if not full and local_open.count() > self.expected_open:
                # Which ones left without being resolved? Only the whole open list can tell; this walk
                # happens only when the counts disagree after the resolved list was applied.
                client = self.context.client
                seen_open |= {
                    e.error_id for e in client.iter_open_errors(step.flow.celigo_id, step.celigo_id)
                }
                self.mark_purged(missing(purgeable, seen_open))
            if full:
                self.mark_purged(missing(purgeable, seen_open))
                local_resolved = ErrorRecord.objects.filter(
                    step=step, status=CeligoState.RESOLVED, purged=False
                )
                self.mark_purged(missing(local_resolved, seen_resolved))
        step.open_watermark = newest_open
        step.resolved_watermark = newest_resolved
        step.summary_num_error = self.expected_open
        step.summary_last_error_at = self.last_error_at
        step.save(
            update_fields=[
                "open_watermark",
                "resolved_watermark",
                "summary_num_error",
                "summary_last_error_at",
            ]
        )

    def resolved_since(self, left: bool) -> datetime | None:
        """Where this pull reads the resolved list from; ``None`` with ``left`` means from the start.

        Every incremental pull reads it, because an error that opened and closed since the last read
        changes neither count nor ``lastErrorAt`` (docs/architecture.md "Sync semantics"). The resolved
        watermark bounds it; a step without one was last read no later than the previous good sync.
        """
        step = self.step
        if self.full:
            return None
        if step.resolved_watermark is not None:
            return step.resolved_watermark - OVERLAP
        if left or self.previous_sync is None:
            return None  # from the start, only when ``left``; an account's first sync reads nothing
        return self.previous_sync - OVERLAP

    def pull_list(
        self, state: str, since: datetime | None, watermark: datetime | None
    ) -> tuple[set[str], datetime | None]:
        """Store one of the step's lists page by page; returns the ids seen and the new watermark."""
        flow_id, step_id = self.step.flow.celigo_id, self.step.celigo_id
        client = self.context.client
        if state == CeligoState.OPEN:
            items = client.iter_open_errors(flow_id, step_id, occurred_after=since)
        else:
            items = client.iter_resolved_errors(flow_id, step_id, resolved_after=since)
        seen: set[str] = set()
        for batch in prefetched(chunked(items, UPSERT_BATCH)):
            seen.update(self.store_page(batch, state))
            moments = [e.occurred_at if state == CeligoState.OPEN else e.resolved_at for e in batch]
            watermark = max(filter(None, [watermark, *moments]), default=None)
        return seen, watermark

    def store_page(self, batch: list[StepError], state: str) -> list[str]:
        """Store one page of errors; returns the error ids stored. Malformed items are noted, not fatal."""
        now = timezone.now()
        step = self.step
        rows: dict[str, Row] = {}
        fingerprints: dict[str, str] = {}
        for item in batch:
            row = build_row(self.context, self.counters, step, item, state, now, fingerprints)
            if row is not None:
                rows[row["error_id"]] = row  # a page repeating an id keeps its last copy
        if not rows:
            return []
        existing = (
            {}
            if self.fresh
            else existing_rows(self.account.pk, step.flow.celigo_id, step.celigo_id, list(rows))
        )
        stored = write_rows(list(rows.values()), update_fields_for(state), self.counters)
        store_fingerprints(self.context, fingerprints)
        record_changes(rows, existing, state, now, self.counters)
        new_ids = [error_id for error_id in stored if error_id not in existing]
        if state == CeligoState.OPEN and new_ids:
            routing.on_new_errors(self.account, step, new_ids, now=now)
        elif new_ids and not self.full:
            record_opened_and_closed(
                self.account.pk, step.flow.celigo_id, step.celigo_id, rows, new_ids, now, self.counters
            )
        return stored

    def mark_purged(self, ids: list[int]) -> None:
        """Errors in neither of Celigo's lists were purged by its retention; the rows stay, flagged."""
        if not ids:
            return
        now = timezone.now()
        with transaction.atomic():
            ErrorRecord.objects.filter(pk__in=ids).update(purged=True, last_seen_at=now)
            timeline.record(timeline.entry(pk, ActivityKind.PURGED, at=now) for pk in ids)
        self.counters.purged += len(ids)


def missing(rows: QuerySet[ErrorRecord], seen: set[str]) -> list[int]:
    """Primary keys of ``rows`` whose error id is not in ``seen`` (compared here: ``seen`` can be huge)."""
    return [
        pk
        for pk, error_id in rows.values_list("pk", "error_id").iterator(chunk_size=5000)
        if error_id not in seen
    ]
