"""What every part of a sync run shares: the account, its client, the run record, the lease, the counters."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from celigo_api import CeligoClient
from dashboard.models import CeligoAccount, SyncRun

LEASE = timedelta(minutes=10)
MAX_NOTES = 50
COUNTER_NAMES = ("steps_pulled", "new", "updated", "closed", "purged", "malformed")


@dataclass
class RunCounters:
    """What one part of a run (the cycle, or one step pull) changed; the run adds them up."""

    steps_pulled: int = 0
    new: int = 0
    updated: int = 0
    closed: int = 0
    purged: int = 0
    malformed: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)

    def add(self, other: RunCounters) -> None:
        for name in COUNTER_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.notes += other.notes[: MAX_NOTES - len(self.notes)]


# --- the lease ------------------------------------------------------------------------------------------


def acquire_lease(account_id: int, owner: str, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    taken = (
        CeligoAccount.objects.filter(pk=account_id)
        .filter(
            Q(sync_lease_expires_at__isnull=True)
            | Q(sync_lease_expires_at__lt=now)
            | Q(sync_lease_owner=owner)
        )
        .update(sync_lease_owner=owner, sync_lease_expires_at=now + LEASE)
    )
    return taken == 1


def renew_lease(account_id: int, owner: str) -> None:
    CeligoAccount.objects.filter(pk=account_id, sync_lease_owner=owner).update(
        sync_lease_expires_at=timezone.now() + LEASE
    )


def release_lease(account_id: int, owner: str) -> None:
    CeligoAccount.objects.filter(pk=account_id, sync_lease_owner=owner).update(
        sync_lease_owner="", sync_lease_expires_at=None
    )


@dataclass
class SyncContext:
    account: CeligoAccount
    client: CeligoClient
    run: SyncRun
    owner: str
    full: bool
    known_fingerprints: set[str] = field(default_factory=set)
    parts: list[RunCounters] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    lease_renewed: float = field(default_factory=time.monotonic)

    @property
    def started(self) -> datetime:
        return self.run.started_at

    def counters(self) -> RunCounters:
        """New counters for one part of the run (a step pull may run in its own thread)."""
        counters = RunCounters()
        with self.lock:
            self.parts.append(counters)
        return counters

    def totals(self) -> RunCounters:
        total = RunCounters()
        with self.lock:
            for part in self.parts:
                total.add(part)
        return total

    def keep_lease(self) -> None:
        """Renew the account's lease when a tenth of it has passed (a long reconcile outlives one)."""
        if time.monotonic() - self.lease_renewed > LEASE.total_seconds() / 10:
            renew_lease(self.account.pk, self.owner)
            self.lease_renewed = time.monotonic()

    def set_account(self, **fields: Any) -> None:
        if "status" in fields and fields["status"] != self.account.status:
            fields["status_changed_at"] = timezone.now()
        CeligoAccount.objects.filter(pk=self.account.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.account, name, value)
