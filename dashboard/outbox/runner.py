"""Running a batch: take its lease, select its errors, recover from a crash, apply it, settle its state."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F, QuerySet
from django.utils import timezone

from dashboard.celigo import client_for as default_client_for
from dashboard.lib.leases import LeaseLost, new_owner
from dashboard.models import (
    CELIGO_ACTIONS,
    FINISHED_STATES,
    ActionBatch,
    ActionItem,
    ActionKind,
    BatchState,
    ItemOutcome,
)
from dashboard.outbox.celigo import BatchMustWait, CeligoClients, CeligoSender, ClientFactory
from dashboard.outbox.items import BATCH_LEASE, CLAIM_IN_FLIGHT, BatchItems
from dashboard.outbox.local import apply_local
from dashboard.outbox.selection import select_items

log = logging.getLogger(__name__)

# Whatever stops a run half-way without saying anything about Celigo: the task's soft time limit, or the
# database going away. The batch waits and a later run resumes it.
WAIT_AFTER_INTERRUPTION = 30.0


def acquire_batch(batch_id: int, owner: str) -> ActionBatch | None:
    rows = ActionBatch.objects.filter(pk=batch_id).exclude(state__in=FINISHED_STATES)
    taken = BATCH_LEASE.take(rows, owner, state=BatchState.RUNNING, attempts=F("attempts") + 1)
    if taken is None:
        return None
    batch = ActionBatch.objects.get(pk=batch_id)
    if batch.started_at is None:
        batch.started_at = timezone.now()
        batch.save(update_fields=["started_at"])
    if taken.previous:
        at = timezone.localtime(taken.last_heartbeat or timezone.now()).strftime("%H:%M")
        log.warning(
            "the previous run of action batch %s stopped without finishing at %s; resuming", batch_id, at
        )
    return batch


def run_batch(batch_id: int, client_for: ClientFactory | None = None) -> ActionBatch | None:
    """Apply a batch as far as possible. Raises :class:`BatchMustWait` when it cannot go on now.

    Returns None when the batch is finished already or another worker holds it (or took it over).
    """
    owner = new_owner()
    batch = acquire_batch(batch_id, owner)
    if batch is None:
        return None
    runner = BatchRunner(batch, owner, client_for or default_client_for)
    try:
        runner.run()
    except LeaseLost:
        log.warning("action batch %s: the lease ran out and another worker took the batch over", batch_id)
        return None
    except BatchMustWait as exc:
        if runner.wait(exc):
            raise
    except (SoftTimeLimitExceeded, DatabaseError) as exc:
        # Nothing is known about the chunk in flight, if any: it is recovered as a dead runner's would be.
        reason = (
            "the task's time limit" if isinstance(exc, SoftTimeLimitExceeded) else f"a database error ({exc})"
        )
        wait = BatchMustWait(f"Stopped by {reason}; resuming", WAIT_AFTER_INTERRUPTION)
        try:
            connection.close_if_unusable_or_obsolete()
            runner.recover_in_flight(runner.items.claimed())
            if not runner.wait(wait):
                return runner.reread()
        except DatabaseError:
            log.exception("action batch %s: cannot record the wait; its lease will run out", batch_id)
        raise wait from exc
    except Exception as exc:
        log.exception("action batch %s failed", batch.pk)
        runner.settle_counts()
        BATCH_LEASE.release(
            runner.items.rows(),
            owner,
            state=BatchState.FAILED,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    finally:
        runner.clients.close()
    return runner.reread()


class BatchRunner:
    """One batch while a worker holds its lease; the work itself is in ``celigo`` and ``local``."""

    def __init__(self, batch: ActionBatch, owner: str, client_for: ClientFactory) -> None:
        self.batch = batch
        self.owner = owner
        self.items = BatchItems(batch, owner)
        self.clients = CeligoClients(client_for)

    def run(self) -> None:
        batch = self.batch
        if not batch.selected:
            select_items(batch)
        if batch.kind in CELIGO_ACTIONS:
            self.recover_in_flight(self.items.abandoned())
        if not self.items.cancelled():
            if batch.kind in CELIGO_ACTIONS:
                CeligoSender(batch, self.items, self.clients).apply()
            else:
                apply_local(batch, self.items, self.clients)
        in_flight = self.items.in_flight_elsewhere().count()
        if in_flight:
            # A runner whose lease ran out may still be waiting for Celigo's answer about these: sending
            # them again could apply them twice, so they are left to it (or to its claim's expiry).
            raise BatchMustWait(
                f"{in_flight} errors are on their way to Celigo from an earlier run; waiting for its answer",
                CLAIM_IN_FLIGHT.total_seconds(),
            )
        self.finish()

    def recover_in_flight(self, in_flight: QuerySet[ActionItem]) -> None:
        """Items a dead runner (or this one, interrupted) sent without recording the answer."""
        if self.batch.kind == ActionKind.RESOLVE:
            self.items.mark(in_flight, ItemOutcome.PENDING, "")  # resolving twice is harmless
        else:
            self.items.mark(
                in_flight,
                ItemOutcome.FAILED,
                "Outcome unknown: the retry was sent but its answer was lost; check Celigo's Retries tab "
                "before retrying again",
            )

    def finish(self) -> None:
        counts = self.settle_counts()
        if self.items.cancel_requested():
            state = BatchState.CANCELLED
        elif counts["failed"] and (counts["succeeded"] or counts["skipped"]):
            state = BatchState.PARTIAL
        elif counts["failed"]:
            state = BatchState.FAILED
        else:
            state = BatchState.DONE
        finished = BATCH_LEASE.release(
            self.items.rows(),
            self.owner,
            state=state,
            finished_at=timezone.now(),
            message="" if state != BatchState.FAILED else self.batch.message,
            waiting_since=None,
        )
        if not finished:
            raise LeaseLost(f"batch #{self.batch.pk}: another runner took it over before it finished")

    def wait(self, exc: BatchMustWait) -> bool:
        """Leave the batch waiting to resume; False when it has waited too long and failed instead."""
        self.settle_counts()
        now = timezone.now()
        since = self.items.rows().values_list("waiting_since", flat=True).first() or now
        limit_hours = settings.ACTION_BATCH_MAX_WAIT_HOURS
        if now - since > timedelta(hours=limit_hours):
            hours = (now - since).total_seconds() / 3600
            BATCH_LEASE.release(
                self.items.rows(),
                self.owner,
                state=BatchState.FAILED,
                finished_at=now,
                message=(f"Gave up after waiting {hours:.0f} h (the limit is {limit_hours} h): {exc}")[:2000],
            )
            return False
        BATCH_LEASE.release(
            self.items.rows(),
            self.owner,
            state=BatchState.WAITING,
            message=str(exc)[:2000],
            waiting_since=since,
        )
        return True

    def settle_counts(self) -> dict[str, int]:
        return self.items.settle(self.clients.take_calls())

    def reread(self) -> ActionBatch:
        self.batch.refresh_from_db()
        return self.batch


def pending_batches() -> QuerySet[ActionBatch]:
    return ActionBatch.objects.filter(
        state__in=[BatchState.PENDING, BatchState.WAITING, BatchState.RUNNING]
    ).order_by("created_at")


def push_pending_batches() -> list[tuple[ActionBatch, str]]:
    """Apply every unfinished batch now (``celigo_sync`` runs this before it pulls)."""
    results = []
    for batch in pending_batches():
        try:
            done = run_batch(batch.pk)
            results.append((batch, done.get_state_display() if done else "held by another worker"))
        except BatchMustWait as exc:
            results.append((batch, f"waiting: {exc}"))
    return results
