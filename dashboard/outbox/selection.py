"""Which errors a batch acts on: a stored error-list filter, read through the access layer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.http import QueryDict
from django.utils import timezone

from dashboard.access import visible_errors
from dashboard.models import ActionBatch, ActionItem, ErrorRecord, ItemOutcome
from dashboard.queries.filters import ErrorFilter


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
    """Turn the batch's filter into items, now, as its actor would see the list at this moment.

    One ``INSERT … SELECT`` over the filter's own query: the database copies the ids, so "all 111,646
    matching errors" costs no Python object per error.
    """
    errors = validate_filter(batch.filter_query, batch.actor).order_by()
    chosen, params = errors.annotate(chosen_id=F("pk")).values_list("chosen_id").query.sql_with_params()
    quote, meta = connection.ops.quote_name, ActionItem._meta
    fields = ("batch", "error", "outcome", "message", "attempts", "claimed_by", "updated_at")
    column = {field.name: str(field.column) for field in meta.concrete_fields}
    columns = ", ".join(quote(column[name]) for name in fields)
    now = meta.get_field("updated_at").get_db_prep_value(timezone.now(), connection)
    # "WHERE true": SQLite reads "FROM (…) ON CONFLICT" as a join otherwise. Only names and the ORM's own
    # SQL are interpolated.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT %s, chosen.chosen_id, %s, '', 0, '', %s FROM ({chosen}) AS chosen WHERE true ON CONFLICT DO NOTHING"  # noqa: S608, E501
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [batch.pk, ItemOutcome.PENDING, now, *params])
        total = cursor.rowcount
        ActionBatch.objects.filter(pk=batch.pk).update(selected=True, total=total)
    batch.selected, batch.total = True, total
    return total
