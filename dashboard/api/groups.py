"""``/api/v1/groups/``: the filtered errors grouped by the fingerprint of their message."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from dashboard import access
from dashboard.models import ErrorRecord
from dashboard.queries.filters import ErrorFilter
from dashboard.queries.groups import GROUP_ORDERINGS, GROUP_PAGE_SIZE, fingerprint_groups

MAX_PAGE = 1000


class GroupSerializer(serializers.Serializer[Any]):
    fingerprint = serializers.CharField()
    title = serializers.CharField(
        source="normalised_message", help_text="The message with its variable parts masked."
    )
    count = serializers.IntegerField()
    flow_count = serializers.IntegerField()
    first_seen_at = serializers.DateTimeField(source="first_seen", allow_null=True)
    last_seen_at = serializers.DateTimeField(source="last_seen", allow_null=True)


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
        if not raw_page.isdigit() or not 1 <= int(raw_page[:5]) <= MAX_PAGE or len(raw_page) > 5:
            raise ValidationError({"page": [f"Use a number from 1 to {MAX_PAGE}."]})
        page = int(raw_page)
        groups, total = fingerprint_groups(self.filter_queryset(self.get_queryset()), ordering, page)
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
