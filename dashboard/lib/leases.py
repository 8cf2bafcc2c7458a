"""Leases with a heartbeat: who may work on a row (an account's sync, an action batch) right now.

A lease is an owner and an expiry on the row. Its holder renews it while it works, with a conditional update
that fails once someone else took it over; a holder that lost it stops before its next Celigo call. The
expiry is short, so a worker killed with SIGKILL holds the row for at most that long; on the same machine
a dead holder's process is noticed at once, so the next worker need not wait even that (docs/architecture.md
"Sync semantics", "Action semantics").
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone


def this_machine() -> str:
    """Where a pid names this process: the host name and the PID namespace (containers on one host, or with
    one host name, each have their own)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        namespace = ""
    return f"{socket.gethostname()[:24]}~{namespace}"


HOST = this_machine()


class LeaseLost(Exception):
    """Another worker took the lease over: stop before the next call, finish nothing."""


def new_owner() -> str:
    """An owner that says where it runs: ``host~pidns:pid:random``, at most 64 characters."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:16]}"


def process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # someone else's process: alive
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # A killed child its parent has not reaped yet is a zombie: dead, but still listed.
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def holder_is_dead(owner: str) -> bool:
    """Whether ``owner`` is a process of this machine that no longer runs (other machines: unknown)."""
    host, _, rest = owner.partition(":")
    pid, _, _ = rest.partition(":")
    if host != HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    return process_is_gone(int(pid))


@dataclass(frozen=True)
class Taken:
    """A lease just taken; ``previous`` is a holder that stopped without releasing it, if any."""

    owner: str
    previous: str = ""
    last_heartbeat: datetime | None = None


@dataclass(frozen=True)
class LeaseField:
    """The owner and expiry columns of a leased model, and how long one heartbeat lasts."""

    owner: str
    expires: str
    duration: timedelta

    def take(self, rows: QuerySet[Any], owner: str, **updates: Any) -> Taken | None:
        """Take the lease of the one row in ``rows`` if it is free, expired, ours or its holder is dead."""
        now = timezone.now()
        current = rows.values(self.owner, self.expires).first()
        if current is None:
            return None
        holder, expires = current[self.owner], current[self.expires]
        free = not holder or expires is None or expires < now or holder == owner or holder_is_dead(holder)
        if not free:
            return None
        # Conditional on the holder and expiry just read: of two workers taking it over, one wins.
        taken = rows.filter(**{self.owner: holder, self.expires: expires}).update(
            **{self.owner: owner, self.expires: now + self.duration}, **updates
        )
        if not taken:
            return None
        if not holder or holder == owner:
            return Taken(owner)
        return Taken(owner, previous=holder, last_heartbeat=expires - self.duration if expires else None)

    def renew(self, rows: QuerySet[Any], owner: str, **updates: Any) -> None:
        """Extend the lease (and apply ``updates``) if ``owner`` still holds it; :class:`LeaseLost` if not."""
        kept = rows.filter(**{self.owner: owner}).update(
            **{self.expires: timezone.now() + self.duration}, **updates
        )
        if not kept:
            raise LeaseLost("another worker took over")

    def release(self, rows: QuerySet[Any], owner: str, **updates: Any) -> bool:
        """Give the lease up (applying ``updates``) if ``owner`` still holds it; whether it did."""
        return bool(
            rows.filter(**{self.owner: owner}).update(**{self.owner: "", self.expires: None}, **updates)
        )
