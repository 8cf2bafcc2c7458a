"""A batch's items and counters: what is pending, marking outcomes, cancellation, the lease and progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from dashboard.models import ActionBatch, ActionItem, ItemOutcome

LEASE = timedelta(minutes=10)


class BatchItems:
    def __init__(self, batch: ActionBatch) -> None:
        self.batch = batch

    def pending(self) -> QuerySet[ActionItem]:
        return ActionItem.objects.filter(batch=self.batch, outcome=ItemOutcome.PENDING)

    def cancel_requested(self) -> bool:
        return ActionBatch.objects.filter(pk=self.batch.pk, cancel_requested=True).exists()

    def cancelled(self) -> bool:
        """Whether someone cancelled the batch; if so, what was not sent yet is skipped."""
        if self.cancel_requested():
            self.mark(self.pending(), ItemOutcome.SKIPPED, "Cancelled before it was sent")
            return True
        return False

    def mark_items(self, items: Sequence[ActionItem], outcome: str, message: str) -> None:
        if items:
            self.mark(ActionItem.objects.filter(pk__in=[i.pk for i in items]), outcome, message)

    def mark(self, items: QuerySet[ActionItem], outcome: str, message: str) -> None:
        updates: dict[str, Any] = {"outcome": outcome, "message": message, "updated_at": timezone.now()}
        if outcome == ItemOutcome.SENDING:
            updates["attempts"] = F("attempts") + 1
        items.update(**updates)

    def settle(self, celigo_calls: int = 0) -> dict[str, int]:
        """Write the outcome counts (the progress bar reads them) and the Celigo calls made since."""
        items = ActionItem.objects.filter(batch=self.batch)
        counts = {
            "succeeded": items.filter(outcome=ItemOutcome.SUCCEEDED).count(),
            "failed": items.filter(outcome=ItemOutcome.FAILED).count(),
            "skipped": items.filter(outcome=ItemOutcome.SKIPPED).count(),
        }
        ActionBatch.objects.filter(pk=self.batch.pk).update(
            **counts, celigo_calls=F("celigo_calls") + celigo_calls
        )
        return counts

    def renew_lease(self) -> None:
        ActionBatch.objects.filter(pk=self.batch.pk).update(lease_expires_at=timezone.now() + LEASE)
