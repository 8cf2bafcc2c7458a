"""The /api/v1/ URLconf: one router over the viewsets, the OpenAPI schema and its interactive docs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from dashboard.api.accounts import AccountViewSet, SyncRunViewSet
from dashboard.api.actions import ActionViewSet
from dashboard.api.errors import ErrorViewSet
from dashboard.api.groups import GroupViewSet
from dashboard.api.people import TeamViewSet, UserViewSet
from dashboard.api.rules import RuleViewSet
from dashboard.api.saved_views import SavedViewViewSet
from dashboard.api.tokens import TokenViewSet

app_name = "api"

router = DefaultRouter()
router.register("errors", ErrorViewSet, basename="error")
router.register("groups", GroupViewSet, basename="group")
router.register("actions", ActionViewSet, basename="action")
router.register("users", UserViewSet, basename="user")
router.register("teams", TeamViewSet, basename="team")
router.register("rules", RuleViewSet, basename="rule")
router.register("views", SavedViewViewSet, basename="view")
router.register("tokens", TokenViewSet, basename="token")
router.register("accounts", AccountViewSet, basename="account")
router.register("sync-runs", SyncRunViewSet, basename="sync-run")


# DRF's views are exempt from the login middleware (they authenticate a token or the session themselves
# and answer 401), all but the docs page, which is for people in a browser: it sends them to log in.
urlpatterns = [
    *router.urls,
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", login_required(SpectacularSwaggerSplitView.as_view(url_name="api:schema")), name="docs"),
]
