"""Which errors a batch acts on: a stored error-list filter, read through the access layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import QueryDict

from dashboard.access import visible_errors
from dashboard.lib.iterables import chunked
from dashboard.models import ActionBatch, ActionItem, ErrorRecord
from dashboard.queries.filters import ErrorFilter

SELECT_CHUNK = 10_000


class ActionRejected(ValueError):
    """The request is invalid; the message names the field and says why, for the person who asked."""


@dataclass
class FilterRequest:
    """What ErrorFilter needs of a request ("assignee=me" is the acting user), for a filter run later."""

    user: Any


def validate_filter(filter_query: str, actor: Any) -> QuerySet[ErrorRecord]:
    """The errors ``actor`` sees that the list's query matches; :class:`ActionRejected` if it is invalid."""
    filterset = ErrorFilter(
        QueryDict(filter_query), queryset=visible_errors(actor), request=FilterRequest(actor)
    )
    if not filterset.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
        raise ActionRejected(f"filter: {problems}")
    return filterset.qs


def select_items(batch: ActionBatch) -> int:
    """Turn the batch's filter into items, now, as its actor would see the list at this moment."""
    ids = validate_filter(batch.filter_query, batch.actor).order_by().values_list("pk", flat=True)
    with transaction.atomic():
        total = 0
        for chunk in chunked(ids.iterator(chunk_size=SELECT_CHUNK), SELECT_CHUNK):
            ActionItem.objects.bulk_create(
                [ActionItem(batch_id=batch.pk, error_id=pk) for pk in chunk], ignore_conflicts=True
            )
            total += len(chunk)
        ActionBatch.objects.filter(pk=batch.pk).update(selected=True, total=total)
    batch.selected, batch.total = True, total
    return total
