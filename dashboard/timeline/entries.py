"""Building timeline entries: who acted (a person, or the sync or a rule) and the data of what they did."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection
from django.utils import timezone

from dashboard.lib.iterables import chunked
from dashboard.models import Activity, ErrorRecord

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


def record_same(
    error_ids: Sequence[int], kind: str, *, actor: Actor = None, at: datetime | None = None, **data: Any
) -> int:
    """The same entry on many errors (a bulk action's chunk), written by the database itself: one
    ``INSERT … SELECT`` per BULK_SIZE errors and no model instance per row. Returns how many."""
    if isinstance(actor, SystemActor):
        data = {"by": actor.as_data(), **data}
    quote, meta = connection.ops.quote_name, Activity._meta
    fields = ("error", "kind", "actor", "created_at", "message", "data")
    column = {field.name: str(field.column) for field in meta.concrete_fields}
    columns = ", ".join(quote(column[name]) for name in fields)
    activity, errors = quote(meta.db_table), quote(ErrorRecord._meta.db_table)
    # PostgreSQL types a bare parameter in a SELECT list as text, which a jsonb column does not take.
    json_value = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    created = meta.get_field("created_at").get_db_prep_value(at or timezone.now(), connection)
    values = [kind, user_id_of(actor), created, "", json.dumps(data)]
    with connection.cursor() as cursor:
        for chunk in chunked(error_ids, BULK_SIZE):
            # Only table and column names and placeholders are interpolated; every value is a parameter.
            placeholders = ", ".join(["%s"] * len(chunk))
            sql = f"INSERT INTO {activity} ({columns}) SELECT id, %s, %s, %s, %s, {json_value} FROM {errors} WHERE id IN ({placeholders})"  # noqa: S608, E501
            cursor.execute(sql, [*values, *chunk])
    return len(error_ids)
