"""Running a batch: take its lease, select its errors, recover from a crash, apply it, settle its state."""

from __future__ import annotations

import logging
import uuid

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from dashboard.celigo import client_for as default_client_for
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
from dashboard.outbox.items import LEASE, BatchItems
from dashboard.outbox.local import apply_local
from dashboard.outbox.selection import select_items

log = logging.getLogger(__name__)


def acquire_batch(batch_id: int, owner: str) -> ActionBatch | None:
    now = timezone.now()
    taken = (
        ActionBatch.objects.filter(pk=batch_id)
        .exclude(state__in=FINISHED_STATES)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner))
        .update(
            lease_owner=owner,
            lease_expires_at=now + LEASE,
            state=BatchState.RUNNING,
            attempts=F("attempts") + 1,
        )
    )
    if not taken:
        return None
    batch = ActionBatch.objects.get(pk=batch_id)
    if batch.started_at is None:
        batch.started_at = now
        batch.save(update_fields=["started_at"])
    return batch


def run_batch(batch_id: int, client_for: ClientFactory | None = None) -> ActionBatch | None:
    """Apply a batch as far as possible. Raises :class:`BatchMustWait` when Celigo cannot take it now.

    Returns None when the batch is finished already or another worker holds it.
    """
    owner = uuid.uuid4().hex
    batch = acquire_batch(batch_id, owner)
    if batch is None:
        return None
    runner = BatchRunner(batch, client_for or default_client_for)
    try:
        runner.run()
    except BatchMustWait as exc:
        runner.settle_counts()
        ActionBatch.objects.filter(pk=batch.pk).update(
            state=BatchState.WAITING, message=str(exc)[:2000], lease_owner="", lease_expires_at=None
        )
        raise
    except Exception as exc:
        log.exception("action batch %s failed", batch.pk)
        runner.settle_counts()
        ActionBatch.objects.filter(pk=batch.pk).update(
            state=BatchState.FAILED,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            lease_owner="",
            lease_expires_at=None,
        )
        raise
    finally:
        runner.clients.close()
    batch.refresh_from_db()
    return batch


class BatchRunner:
    """One batch while a worker holds its lease; the work itself is in ``celigo`` and ``local``."""

    def __init__(self, batch: ActionBatch, client_for: ClientFactory) -> None:
        self.batch = batch
        self.items = BatchItems(batch)
        self.clients = CeligoClients(client_for)

    def run(self) -> None:
        batch = self.batch
        if not batch.selected:
            select_items(batch)
        if batch.kind in CELIGO_ACTIONS:
            self.recover_in_flight()
        if not self.items.cancelled():
            if batch.kind in CELIGO_ACTIONS:
                CeligoSender(batch, self.items, self.clients).apply()
            else:
                apply_local(batch, self.items, self.clients)
        self.finish()

    def recover_in_flight(self) -> None:
        """Items a crashed worker sent without recording the answer."""
        in_flight = ActionItem.objects.filter(batch=self.batch, outcome=ItemOutcome.SENDING)
        if self.batch.kind == ActionKind.RESOLVE:
            in_flight.update(outcome=ItemOutcome.PENDING)  # resolving twice is harmless
        else:
            self.items.mark(
                in_flight,
                ItemOutcome.FAILED,
                "Outcome unknown: the retry was sent but its answer was lost; check Celigo's Retries tab "
                "before retrying again",
            )

    def finish(self) -> None:
        counts = self.settle_counts()
        batch = self.batch
        if self.items.cancel_requested():
            state = BatchState.CANCELLED
        elif counts["failed"] and (counts["succeeded"] or counts["skipped"]):
            state = BatchState.PARTIAL
        elif counts["failed"]:
            state = BatchState.FAILED
        else:
            state = BatchState.DONE
        ActionBatch.objects.filter(pk=batch.pk).update(
            state=state,
            finished_at=timezone.now(),
            lease_owner="",
            lease_expires_at=None,
            message="" if state != BatchState.FAILED else batch.message,
        )

    def settle_counts(self) -> dict[str, int]:
        return self.items.settle(self.clients.take_calls())


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
