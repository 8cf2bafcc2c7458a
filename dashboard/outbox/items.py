"""A batch's items under its lease: claiming them before they are sent, marking outcomes, cancellation, the
heartbeat that renews the lease, and the progress counters.

Every write here is conditional on this runner still holding the batch, so a runner whose lease ran out
(a slow database, a long step) cannot claim, skip or finish anything behind the back of the runner that
took the batch over (docs/architecture.md "Action semantics").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from dashboard.lib.leases import LeaseField, holder_is_dead
from dashboard.models import ActionBatch, ActionItem, ItemOutcome

# The lease is a heartbeat renewed before every chunk: a killed runner holds its batch for a minute at most
# (on its own machine, not at all).
LEASE = timedelta(seconds=60)
BATCH_LEASE = LeaseField("lease_owner", "lease_expires_at", LEASE)
# A chunk claimed this recently may still be on its way to Celigo: its runner can be alive though its lease
# ran out. Longer than one call can take (the client's 30 s pacing wait plus its 30 s timeout).
CLAIM_IN_FLIGHT = timedelta(minutes=2)
COUNTERS = ("succeeded", "failed", "skipped")


class BatchItems:
    def __init__(self, batch: ActionBatch, owner: str) -> None:
        self.batch = batch
        self.owner = owner
        self.unreported = {"succeeded": 0, "failed": 0, "skipped": 0, "celigo_calls": 0}

    def rows(self) -> QuerySet[ActionBatch]:
        return ActionBatch.objects.filter(pk=self.batch.pk)

    def all(self) -> QuerySet[ActionItem]:
        return ActionItem.objects.filter(batch_id=self.batch.pk)

    def pending(self) -> QuerySet[ActionItem]:
        return self.all().filter(outcome=ItemOutcome.PENDING)

    def ours(self) -> QuerySet[ActionItem]:
        """Items of the batch, writable only while this runner holds the lease."""
        return self.all().filter(batch__lease_owner=self.owner)

    # --- cancelling and the heartbeat ---------------------------------------------------------------

    def cancel_requested(self) -> bool:
        return self.rows().filter(cancel_requested=True).exists()

    def cancelled(self) -> bool:
        """Whether someone cancelled the batch; if so, what was not sent yet is skipped."""
        if self.cancel_requested():
            skipped = self.mark(
                self.ours().filter(outcome=ItemOutcome.PENDING),
                ItemOutcome.SKIPPED,
                "Cancelled before it was sent",
            )
            self.count("skipped", skipped)
            return True
        return False

    def count(self, name: str, amount: int) -> None:
        self.unreported[name] += amount

    def keep_lease(self) -> bool:
        """Renew the lease and write the progress made since; False if the batch was cancelled meanwhile.

        Raises :class:`LeaseLost` when another runner holds the batch now: this one must not call Celigo
        again.
        """
        updates: dict[str, Any] = {name: F(name) + n for name, n in self.unreported.items() if n}
        if self.unreported["succeeded"]:
            updates["waiting_since"] = None  # Celigo took a chunk: the batch no longer waits
        kept = (
            self.rows()
            .filter(lease_owner=self.owner, cancel_requested=False)
            .update(lease_expires_at=timezone.now() + LEASE, **updates)
        )
        if not kept:
            BATCH_LEASE.renew(self.rows(), self.owner, **updates)  # LeaseLost unless cancelled
            self.unreported = dict.fromkeys(self.unreported, 0)
            return False
        self.unreported = dict.fromkeys(self.unreported, 0)
        return True

    # --- claims and outcomes ------------------------------------------------------------------------

    def claim(self, ids: Sequence[int]) -> list[int]:
        """Mark the still pending ``ids`` as being sent by this runner; the ones it got, which alone it sends.

        One conditional update: an item another runner claimed, or any item once this runner lost the
        lease, is not claimed (and so never sent twice).
        """
        if not ids:
            return []
        claimed = (
            self.ours()
            .filter(pk__in=ids, outcome=ItemOutcome.PENDING)
            .update(
                outcome=ItemOutcome.SENDING,
                claimed_by=self.owner,
                message="",
                attempts=F("attempts") + 1,
                updated_at=timezone.now(),
            )
        )
        if claimed == len(ids):
            return list(ids)
        if not claimed:
            return []
        return sorted(self.claimed().filter(pk__in=ids).values_list("pk", flat=True))

    def claimed(self) -> QuerySet[ActionItem]:
        return self.all().filter(outcome=ItemOutcome.SENDING, claimed_by=self.owner)

    def settle_claimed(self, ids: Sequence[int], outcome: str, message: str = "") -> int:
        """Record what Celigo answered for items this runner claimed and sent."""
        settled = self.mark(self.claimed().filter(pk__in=ids), outcome, message)
        if outcome in COUNTERS:
            self.count(outcome, settled)
        return settled

    def mark(self, items: QuerySet[ActionItem], outcome: str, message: str) -> int:
        return items.update(outcome=outcome, message=message, updated_at=timezone.now())

    def in_flight_elsewhere(self) -> QuerySet[ActionItem]:
        """Items another runner claimed, perhaps still waiting for Celigo's answer."""
        return self.all().filter(outcome=ItemOutcome.SENDING).exclude(claimed_by=self.owner)

    def abandoned(self) -> QuerySet[ActionItem]:
        """Claimed items whose runner is gone: it died on this machine, or its claim is too old to be live."""
        in_flight = self.in_flight_elsewhere()
        claimers = set(in_flight.values_list("claimed_by", flat=True).distinct().order_by())
        dead = [owner for owner in claimers if not owner or holder_is_dead(owner)]
        return in_flight.filter(Q(claimed_by__in=dead) | Q(updated_at__lt=timezone.now() - CLAIM_IN_FLIGHT))

    # --- the counters ---------------------------------------------------------------------------------

    def settle(self, celigo_calls: int = 0) -> dict[str, int]:
        """Count the outcomes again (the progress bar reads them) and add the Celigo calls made since."""
        counts = {name: self.all().filter(outcome=name).count() for name in COUNTERS}
        calls = celigo_calls + self.unreported["celigo_calls"]
        self.rows().update(**counts, celigo_calls=F("celigo_calls") + calls)
        self.unreported = dict.fromkeys(self.unreported, 0)
        return counts
