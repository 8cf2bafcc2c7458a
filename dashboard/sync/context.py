"""What every part of a sync run shares: the account, its client, the run record, the lease, the counters."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from celigo_api import CeligoClient
from dashboard.lib.leases import LeaseField, Taken
from dashboard.models import CeligoAccount, SyncRun

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

# A heartbeat: renewed at least every HEARTBEAT while the sync works (on every Celigo call, every step and
# during the metadata refresh), so a killed sync holds its account for at most LEASE — and, on the same
# machine, not at all (docs/architecture.md "Sync semantics").
LEASE = timedelta(seconds=60)
HEARTBEAT = 5.0
SYNC_LEASE = LeaseField("sync_lease_owner", "sync_lease_expires_at", LEASE)


def account_rows(account_id: int) -> QuerySet[CeligoAccount]:
    return CeligoAccount.objects.filter(pk=account_id)


def acquire_lease(account_id: int, owner: str) -> Taken | None:
    return SYNC_LEASE.take(account_rows(account_id), owner)


def renew_lease(account_id: int, owner: str) -> None:
    """Extend the lease; :class:`LeaseLost` when another worker took it over."""
    SYNC_LEASE.renew(account_rows(account_id), owner)


def release_lease(account_id: int, owner: str) -> None:
    SYNC_LEASE.release(account_rows(account_id), owner)


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
        """Renew the account's lease when HEARTBEAT seconds have passed; :class:`LeaseLost` if it is gone.

        Step pulls of a reconcile run in threads, so the clock is read and set under the lock.
        """
        with self.lock:
            if time.monotonic() - self.lease_renewed < HEARTBEAT:
                return
            self.lease_renewed = time.monotonic()
        renew_lease(self.account.pk, self.owner)

    def set_account(self, **fields: Any) -> None:
        if "status" in fields and fields["status"] != self.account.status:
            fields["status_changed_at"] = timezone.now()
        CeligoAccount.objects.filter(pk=self.account.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.account, name, value)
