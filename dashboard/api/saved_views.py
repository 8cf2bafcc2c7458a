"""``/api/v1/views/``: saved error-list filters; private ones are their owner's (and leads' and admins')."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404
from rest_framework import serializers, viewsets

from dashboard import access
from dashboard.api.errors import PK_PATTERN
from dashboard.api.pagination import KeysetCursorPagination
from dashboard.models import SavedView

QUERY_MAX_LENGTH = 4000


class SavedViewSerializer(serializers.ModelSerializer[SavedView]):
    query_string = serializers.CharField(
        max_length=QUERY_MAX_LENGTH, allow_blank=True, required=False, help_text="The list's filter query."
    )

    class Meta:
        model = SavedView
        fields = ["id", "name", "query_string", "shared", "owner", "created_at"]
        read_only_fields = ["id", "owner", "created_at"]

    def validate_name(self, name: str) -> str:
        owner = self.instance.owner_id if self.instance else self.context["request"].user.pk
        clash = SavedView.objects.filter(owner_id=owner, name=name.strip())
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("You already have a view with this name.")
        return name.strip()


class SavedViewViewSet(viewsets.ModelViewSet[SavedView]):
    """Everyone saves their own views; the owner, a lead or an admin changes or deletes one."""

    queryset = SavedView.objects.none()
    serializer_class = SavedViewSerializer
    pagination_class = KeysetCursorPagination
    filter_backends: list[Any] = []
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[SavedView]:
        return access.visible_saved_views(self.request.user).order_by("-created_at", "-id")

    def get_object(self) -> SavedView:
        view = super().get_object()
        unsafe = self.request.method not in ("GET", "HEAD", "OPTIONS")
        if (
            unsafe
            and view.owner_id != self.request.user.pk
            and not access.can_manage_teams(self.request.user)
        ):
            raise Http404("no such view")  # a colleague's shared view: theirs to change
        return view

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        serializer.save(owner=self.request.user)
