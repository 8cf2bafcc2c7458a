"""Building timeline entries: who acted (a person, or the sync or a rule) and the data of what they did."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone

from dashboard.models import Activity

BULK_SIZE = 1000


@dataclass(frozen=True)
class SystemActor:
    """Something other than a person acting on errors: the sync, later a routing rule."""

    kind: str
    name: str
    id: int | None = None

    def as_data(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, **({"id": self.id} if self.id is not None else {})}


SYNC = SystemActor("sync", "the sync")

Actor = AbstractBaseUser | AnonymousUser | SystemActor | None


def user_id_of(actor: Actor) -> int | None:
    """The acting person's id, or None for the sync, a rule or nobody."""
    if isinstance(actor, SystemActor) or actor is None or not actor.is_authenticated:
        return None
    return int(actor.pk)


def entry(
    error_id: int, kind: str, *, actor: Actor = None, at: datetime | None = None, **data: Any
) -> Activity:
    """One unsaved timeline entry; a system actor is kept in the data under ``by``."""
    if isinstance(actor, SystemActor):
        data = {"by": actor.as_data(), **data}
    return Activity(
        error_id=error_id, kind=kind, actor_id=user_id_of(actor), created_at=at or timezone.now(), data=data
    )


def record(entries: Iterable[Activity]) -> int:
    """Save entries in bulk; returns how many."""
    rows = list(entries)
    if rows:
        Activity.objects.bulk_create(rows, batch_size=BULK_SIZE)
    return len(rows)
