"""``/api/v1/groups/``: the filtered errors grouped by the fingerprint of their message."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache
from django.db.models import Max, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from dashboard import access
from dashboard.models import ActionBatch, ErrorRecord
from dashboard.queries.filters import ErrorFilter
from dashboard.queries.groups import GROUP_ORDERINGS, GROUP_PAGE_SIZE, fingerprint_groups

MAX_PAGE = 1000
GROUPS_CACHE_SECONDS = 60


class GroupSerializer(serializers.Serializer[Any]):
    fingerprint = serializers.CharField()
    title = serializers.CharField(
        source="normalised_message", help_text="The message with its variable parts masked."
    )
    count = serializers.IntegerField()
    flow_count = serializers.IntegerField()
    first_seen_at = serializers.DateTimeField(source="first_seen", allow_null=True)
    last_seen_at = serializers.DateTimeField(source="last_seen", allow_null=True)


@extend_schema_serializer(many=False)  # the list answers one page object, not an array of them
class GroupPageSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField(help_text="How many groups there are.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = GroupSerializer(many=True)


class GroupViewSet(viewsets.GenericViewSet[ErrorRecord]):
    """Message groups of the errors the caller may see, under the error list's filters; 50 a page."""

    queryset = ErrorRecord.objects.none()
    filterset_class = ErrorFilter
    serializer_class = GroupSerializer
    pagination_class = None

    def get_queryset(self) -> QuerySet[ErrorRecord]:
        return access.visible_errors(self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "page", OpenApiTypes.INT, description="The page number (1 first).", required=False
            ),
            OpenApiParameter("group_ordering", str, enum=list(GROUP_ORDERINGS), required=False),
        ],
        responses=GroupPageSerializer,
    )
    def list(self, request: Request) -> Response:
        ordering = request.query_params.get("group_ordering", "-count")
        if ordering not in GROUP_ORDERINGS:
            raise ValidationError({"group_ordering": [f"Use one of {', '.join(GROUP_ORDERINGS)}."]})
        raw_page = request.query_params.get("page", "1")
        if not raw_page.isdigit() or len(raw_page) > 5 or not 1 <= int(raw_page) <= MAX_PAGE:
            raise ValidationError({"page": [f"Use a number from 1 to {MAX_PAGE}."]})
        page = int(raw_page)
        groups, total = self.cached_groups(request, ordering, page)
        url = request.build_absolute_uri()
        return Response(
            {
                "count": total,
                "next": replace_query_param(url, "page", page + 1)
                if page * GROUP_PAGE_SIZE < total
                else None,
                "previous": (
                    None
                    if page == 1
                    else remove_query_param(url, "page")
                    if page == 2
                    else replace_query_param(url, "page", page - 1)
                ),
                "results": GroupSerializer(groups, many=True).data,
            }
        )

    def cached_groups(self, request: Request, ordering: str, page: int) -> tuple[Sequence[Any], int]:
        """As the HTML list does: grouping reads every matching index entry (a third of a second for the open
        backlog of a million errors), so one answer serves the same question, from someone who sees the
        same errors, for a minute; a batch finishing starts a fresh one."""
        queryset = self.filter_queryset(self.get_queryset())  # validates the filters (400) first
        last_batch = ActionBatch.objects.aggregate(last=Max("finished_at"))["last"]
        query = urlencode(sorted((k, v) for k, vs in request.query_params.lists() for v in vs if k != "page"))
        user = request.user
        key = (
            "api-groups:"
            + hashlib.sha256(
                f"{access.scope_key(user)}|{user.pk}|{query}|{ordering}|{page}|{last_batch}".encode()
            ).hexdigest()
        )
        cached = cache.get(key)
        if cached is None:
            cached = fingerprint_groups(queryset, ordering, page)
            cache.set(key, cached, GROUPS_CACHE_SECONDS)
        return cached
