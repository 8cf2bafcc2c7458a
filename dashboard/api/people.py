"""``/api/v1/users/`` (admins) and ``/api/v1/teams/`` with their members; every change through actions/."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from dashboard import access
from dashboard.actions import people, teams
from dashboard.api.errors import PK_PATTERN
from dashboard.api.pagination import KeysetCursorPagination
from dashboard.api.permissions import CanManagePeople, CanManageTeamsOrReadOnly
from dashboard.models import Profile, Role, Team, TeamMembership, TeamRole

User = get_user_model()


def refused(exc: people.PersonChangeRejected | teams.TeamChangeRejected) -> ValidationError:
    return ValidationError({exc.field: [exc.reason]})


class UserSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(max_length=150)
    # A string in the schema, not ``format: email``: a person made by ``createsuperuser`` may have none, and
    # "" would break that format in the list; what is written is checked as an address (validate_email).
    email = serializers.CharField(max_length=254)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)
    restricted = serializers.BooleanField(default=False)
    is_active = serializers.BooleanField(default=True)
    password = serializers.CharField(
        write_only=True, required=False, max_length=128, style={"input_type": "password"}
    )

    def validate_email(self, value: str) -> str:
        try:
            EmailValidator()(value)
        except DjangoValidationError:
            raise serializers.ValidationError("Enter a valid email address.") from None
        return value

    def to_representation(self, user: Any) -> dict[str, Any]:
        return {
            "id": user.pk,
            "username": user.get_username(),
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "role": access.role_of(user) or Role.VIEWER,
            "restricted": access.is_restricted(user) if user.is_active else bool(profile_flag(user)),
            "is_active": user.is_active,
        }


def profile_flag(user: Any) -> bool:
    try:
        return bool(user.profile.restricted)
    except Profile.DoesNotExist:
        return False


def set_password(user: Any, password: str | None) -> None:
    if password is None:
        return
    try:
        password_validation.validate_password(password, user)
    except DjangoValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(password)
    user.save(update_fields=["password"])


class UserViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Any],
):
    """People, for admins: add one, change their role, restriction, address or password, deactivate them."""

    queryset = User.objects.none()
    serializer_class = UserSerializer
    pagination_class = KeysetCursorPagination
    permission_classes = [*viewsets.GenericViewSet.permission_classes, CanManagePeople]
    filter_backends: list[Any] = []
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[Any]:
        return User.objects.select_related("profile").order_by("username", "id")

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        data = serializer.validated_data
        try:
            with transaction.atomic():
                user = people.do_add_person(
                    self.request.user,
                    username=data["username"],
                    email=data["email"],
                    first_name=data.get("first_name", ""),
                    last_name=data.get("last_name", ""),
                    role=data["role"],
                    restricted=data["restricted"],
                )
                set_password(user, data.get("password"))
        except people.PersonChangeRejected as exc:
            raise refused(exc) from exc
        serializer.instance = user

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        user: Any = serializer.instance
        data, actor = serializer.validated_data, self.request.user
        try:
            with transaction.atomic():
                if "role" in data:
                    people.do_set_role(actor, user, data["role"])
                if "restricted" in data:
                    people.do_set_restricted(actor, user, data["restricted"])
                if data.get("is_active") is False:
                    people.do_deactivate_person(actor, user)
                elif data.get("is_active") is True:
                    people.do_reactivate_person(actor, user)
                self.update_fields(user, data)
                set_password(user, data.get("password"))
        except people.PersonChangeRejected as exc:
            raise refused(exc) from exc
        serializer.instance = User.objects.select_related("profile").get(pk=user.pk)

    def update_fields(self, user: Any, data: dict[str, Any]) -> None:
        changed = []
        for name in ("email", "first_name", "last_name"):
            if name in data and data[name] != getattr(user, name):
                people.check_field(name, data[name])
                setattr(user, name, data[name])
                changed.append(name)
        if "username" in data and data["username"] != user.get_username():
            raise ValidationError({"username": ["A username cannot be changed."]})
        if changed:
            user.save(update_fields=changed)


class TeamSerializer(serializers.ModelSerializer[Team]):
    members = serializers.SerializerMethodField()

    class Meta:
        model = Team
        fields = ["id", "name", "description", "members", "created_at"]
        read_only_fields = ["id", "members", "created_at"]

    def get_members(self, team: Team) -> list[dict[str, Any]]:
        return [{"user": m.user_id, "role": m.role} for m in team.memberships.all()]


class MemberSerializer(serializers.Serializer[Any]):
    user = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    role = serializers.ChoiceField(choices=TeamRole.choices, default=TeamRole.MEMBER)


class TeamViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet[Team],
):
    """Teams: everyone reads them; leads and admins create, rename and staff them."""

    queryset = Team.objects.none()
    serializer_class = TeamSerializer
    pagination_class = KeysetCursorPagination
    permission_classes = [*viewsets.GenericViewSet.permission_classes, CanManageTeamsOrReadOnly]
    filter_backends: list[Any] = []
    lookup_value_regex = PK_PATTERN

    def get_queryset(self) -> QuerySet[Team]:
        memberships = TeamMembership.objects.only("team_id", "user_id", "role").order_by("user_id")
        return Team.objects.prefetch_related(Prefetch("memberships", queryset=memberships)).order_by(
            "name", "id"
        )

    def perform_create(self, serializer: serializers.BaseSerializer[Any]) -> None:
        data = serializer.validated_data
        try:
            serializer.instance = teams.do_create_team(
                self.request.user, data["name"], data.get("description", "")
            )
        except teams.TeamChangeRejected as exc:
            raise refused(exc) from exc

    def perform_update(self, serializer: serializers.BaseSerializer[Any]) -> None:
        team: Any = serializer.instance
        data = serializer.validated_data
        try:
            teams.do_update_team(
                self.request.user,
                team,
                data.get("name", team.name),
                data.get("description", team.description),
            )
        except teams.TeamChangeRejected as exc:
            raise refused(exc) from exc
        serializer.instance = self.get_queryset().get(pk=team.pk)

    @extend_schema(methods=["GET"], responses=MemberSerializer(many=True))
    @extend_schema(methods=["POST"], request=MemberSerializer, responses={201: MemberSerializer})
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def members(self, request: Request, pk: str) -> Response:
        team = self.get_object()
        if request.method == "GET":
            return Response([{"user": m.user_id, "role": m.role} for m in team.memberships.all()])
        asked = MemberSerializer(data=request.data)
        asked.is_valid(raise_exception=True)
        user = member_candidate(asked.validated_data["user"])
        try:
            membership = teams.do_add_member(request.user, team, user, asked.validated_data["role"])
        except teams.TeamChangeRejected as exc:
            raise refused(exc) from exc
        return Response({"user": user.pk, "role": membership.role}, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["PATCH"], request=MemberSerializer, responses=MemberSerializer)
    @extend_schema(methods=["DELETE"], request=None, responses={204: None})
    @action(
        detail=True,
        methods=["patch", "delete"],
        url_path=r"members/(?P<user_id>[0-9]{1,18})",
        url_name="member",
    )
    def member(self, request: Request, pk: str, user_id: str) -> Response:
        team = self.get_object()
        user = member_candidate(int(user_id), not_found=True)
        try:
            if request.method == "DELETE":
                teams.do_remove_member(request.user, team, user)
                return Response(status=status.HTTP_204_NO_CONTENT)
            asked_role = request.data.get("role") if isinstance(request.data, dict) else None
            role = MemberSerializer(data={"user": user.pk, "role": asked_role})
            role.is_valid(raise_exception=True)
            teams.do_set_member_role(request.user, team, user, role.validated_data["role"])
        except teams.TeamChangeRejected as exc:
            raise refused(exc) from exc
        return Response({"user": user.pk, "role": role.validated_data["role"]})


def member_candidate(user_id: int, *, not_found: bool = False) -> Any:
    if not_found:
        return get_object_or_404(User, pk=user_id)
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise ValidationError({"user": [f"No user with id {user_id}."]})
    return user
