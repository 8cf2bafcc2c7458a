"""Cursor pagination over whatever order the filterset chose, keyed on (sort value, id).

DRF's ``CursorPagination`` keys on the first sort column alone and skips ties by an offset, which grows
without bound on a column like ``status``; a keyset of (value, id) costs the same on page 1 and page 500,
and a row inserted meanwhile never shifts a page (docs/api.md "Pagination").
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import F, Model, Q, QuerySet
from django.db.models.expressions import OrderBy
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class SortKey:
    """The first sort column of a queryset (its tie-breaker is always id, in the same direction)."""

    field: str
    descending: bool
    nulls_first: bool

    def value_of(self, row: Model) -> Any:
        value: Any = row
        for part in self.field.split("__"):
            value = getattr(value, part, None)
            if value is None:
                return None
        return value

    def after(self, value: Any, pk: int) -> Q:
        """Rows that come after (value, pk) in this order."""
        op = "lt" if self.descending else "gt"
        if value is None:
            condition = Q(**{f"{self.field}__isnull": True, f"pk__{op}": pk})
            return condition | Q(**{f"{self.field}__isnull": False}) if self.nulls_first else condition
        condition = Q(**{f"{self.field}__{op}": value}) | Q(**{self.field: value, f"pk__{op}": pk})
        if not self.nulls_first:
            return condition | Q(**{f"{self.field}__isnull": True})
        # Also bound the column on its own, so the planner can read an index on it as a range.
        return Q(**{f"{self.field}__{op}e": value}) & condition

    def reversed(self) -> SortKey:
        return SortKey(self.field, not self.descending, not self.nulls_first)


def sort_key_of(queryset: QuerySet[Any]) -> SortKey:
    order = list(queryset.query.order_by) or ["-pk"]
    first = order[0]
    # Without NULLS FIRST/LAST, PostgreSQL puts nulls last going up; SQLite puts them first.
    nulls_high = connection.vendor == "postgresql"
    if isinstance(first, OrderBy) and isinstance(first.expression, F):
        descending = first.descending
        nulls_first = True if first.nulls_first else False if first.nulls_last else (descending == nulls_high)
        return SortKey(str(getattr(first.expression, "name", "pk")), descending, nulls_first)
    name = str(first)
    descending = name.startswith("-")
    field = name.lstrip("-")
    return SortKey("pk" if field == "id" else field, descending, descending == nulls_high)


def encode_cursor(value: Any, pk: int, backwards: bool) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, Model):
        value = value.pk
    raw = json.dumps({"v": value, "id": pk, "b": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int, bool]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        value, pk, backwards = raw["v"], raw["id"], raw["b"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ValidationError({"cursor": ["Invalid cursor."]}) from None
    valid_pk = isinstance(pk, int) and not isinstance(pk, bool) and 0 <= pk < 2**63
    if not valid_pk or not isinstance(backwards, bool) or not isinstance(value, str | int | None):
        raise ValidationError({"cursor": ["Invalid cursor."]})
    if isinstance(value, str) and len(value) > 1000:
        raise ValidationError({"cursor": ["Invalid cursor."]})
    return value, pk, backwards


def typed_value(queryset: QuerySet[Any], key: SortKey, value: Any) -> Any:
    """A cursor's value as the column's type (a date from its text), or a 400 if it cannot be one."""
    if value is None:
        return value
    if key.field == "pk":
        if not isinstance(value, int):
            raise ValidationError({"cursor": ["Invalid cursor."]})
        return value
    model = queryset.model
    field = None
    for part in key.field.split("__"):
        field = model._meta.get_field(part)
        model = field.related_model or model
    if field is not None and field.get_internal_type() == "DateTimeField":
        parsed = parse_datetime(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValidationError({"cursor": ["Invalid cursor."]})
        return parsed
    if not isinstance(value, str):
        raise ValidationError({"cursor": ["Invalid cursor."]})
    return value


class KeysetCursorPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    page_size = DEFAULT_PAGE_SIZE
    max_page_size = MAX_PAGE_SIZE

    def paginate_queryset(  # type: ignore[override]  # pages querysets only
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.base_url = request.build_absolute_uri()
        size = self.get_page_size(request)
        if not queryset.query.order_by:
            queryset = queryset.order_by("-pk")
        key = sort_key_of(queryset)
        cursor = request.query_params.get(self.cursor_query_param)
        backwards = False
        if cursor:
            value, pk, backwards = decode_cursor(cursor)
            value = typed_value(queryset, key, value)
            if backwards:
                queryset = queryset.reverse().filter(key.reversed().after(value, pk))
            else:
                queryset = queryset.filter(key.after(value, pk))
        rows = list(queryset[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        if backwards:
            rows.reverse()
        self.key = key
        self.next_cursor = self.previous_cursor = None
        if rows:
            first, last = rows[0], rows[-1]
            if more or backwards:
                self.next_cursor = encode_cursor(key.value_of(last), last.pk, False)
            if (more and backwards) or (cursor and not backwards):
                self.previous_cursor = encode_cursor(key.value_of(first), first.pk, True)
        return rows

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or len(raw) > 6 or int(raw) < 1:
            problem = f"Use a number from 1 to {self.max_page_size}."
            raise ValidationError({self.page_size_query_param: [problem]})
        return min(int(raw), self.max_page_size)

    def link(self, cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return replace_query_param(self.base_url, self.cursor_query_param, cursor)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            OrderedDict(
                [
                    ("next", self.link(self.next_cursor)),
                    ("previous", self.link(self.previous_cursor)),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "The pagination cursor: follow the next and previous links.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Results per page (at most {self.max_page_size}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


def paginated(request: Request, queryset: QuerySet[Any], serializer_class: Any) -> Response:
    """One page of a queryset other than the view's own (an error's timeline, a batch's items)."""
    paginator = KeysetCursorPagination()
    rows = paginator.paginate_queryset(queryset, request)
    return paginator.get_paginated_response(serializer_class(rows, many=True).data)
