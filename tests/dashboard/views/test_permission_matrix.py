"""Who may do what, URL by URL: every pattern of the URLconf, every persona, one test per cell.

``MATRIX`` has a row per (URL name, method[, which object]) and a column per persona (see
``tests/dashboard/conftest.py``) plus the anonymous visitor. A URL pattern added without a row fails
``test_every_url_pattern_has_a_row``, so no page escapes the matrix; the Django admin is skipped as a
namespace and checked on its own (``test_the_django_admin_is_for_admins_only``).

A cell is the status code the persona gets; ``LOGIN`` is a 302 to the login page that asks to come back
(``?next=``), and a plain 302 is any other redirect. Nothing may answer 5xx, and neither a GET nor a
request that was refused (403, 404, 405 or a login redirect) may change anything.

A viewer reads and never acts; triagers act; leads and admins also see everyone's batches and views. The
``restricted`` persona is restricted to the team "Warehouse", which owns the shared error and batch; the
``outsider`` is restricted to "Finance" and must not learn they exist. Beyond the statuses, no body may
show the error id of an error outside the persona's visibility (``test_no_body_shows_an_error_it_hides``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import pytest
from django.test.client import ClientHandler
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from dashboard import access
from dashboard.models import (
    ActionBatch,
    ActionItem,
    ActionKind,
    Activity,
    ApiToken,
    AuditEvent,
    ErrorRecord,
    RoutingRule,
    SavedView,
    Team,
    TeamMembership,
)
from tests.dashboard.factories import ActionBatchFactory, ErrorRecordFactory, SavedViewFactory, UserFactory

pytestmark = pytest.mark.django_db

# A 302 to the login page with ?next=: the visitor must log in first.
LOGIN = "login"
Status = int | str
# Namespaces left out of the matrix; the admin has its own test below, and the REST API its own matrix over
# the same personas, which walks every /api/v1/ pattern (tests/dashboard/api/test_api_matrix.py).
SKIPPED_NAMESPACES = {"admin", "api"}
# Answers that refuse: the request must not have changed anything (nor may any GET).
REFUSALS = {403, 404, 405, LOGIN}


class Row(NamedTuple):
    """One line of the matrix: what to request, and what each persona gets."""

    name: str
    method: str
    # Which shared object fills the pattern's <int:pk>: "error", "batch", "their-view" (a colleague's saved
    # view), "own-view" (a saved view of the persona asking), "team" (Warehouse, the colleague one of its
    # members), "person" (the colleague), "token" (an API token of the colleague), "link" (the colleague's
    # set-password link, an invalid one), "rule" (a routing rule), or None for a pattern without arguments.
    target: str | None
    anonymous: Status
    viewer: Status
    triager: Status
    lead: Status
    admin: Status
    restricted: Status
    outsider: Status


COLUMNS = ("anonymous", "viewer", "triager", "lead", "admin", "restricted", "outsider")


def get(name: str, target: str | None, *expect: Status) -> Row:
    return Row(name, "GET", target, *expect)


def post(name: str, target: str | None, *expect: Status) -> Row:
    return Row(name, "POST", target, *expect)


# The shared error and batch belong to the team Warehouse: the outsider (restricted to Finance) gets 404 for
# them as if they did not exist; a batch is its owner's (a colleague here), and leads' and admins'.
# fmt: off
MATRIX: tuple[Row, ...] = (
    #    url name                       pk            anonymous viewer triager lead admin restricted outsider
    # Overview: the page and its htmx panels.
    get("home",                         None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("overview-accounts",            None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("overview-ageing",              None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("overview-trend",               None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("overview-jobs",                None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("overview-drill",               None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("overview-teams",               None,         LOGIN,    200,   200,    200, 200,  200,       200),
    # The error list, its exact count and its CSV export.
    get("error-list",                   None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("error-count",                  None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("error-export",                 None,         LOGIN,    200,   200,    200, 200,  200,       200),
    # Saved views: anyone logged in saves their own; the owner, a lead or an admin deletes one.
    post("saved-view-create",           None,         LOGIN,    302,   302,    302, 302,  302,       302),
    get("saved-view-create",            None,         LOGIN,    405,   405,    405, 405,  405,       405),
    post("saved-view-delete",           "own-view",   LOGIN,    302,   302,    302, 302,  302,       302),
    post("saved-view-delete",           "their-view", LOGIN,    404,   404,    302, 302,  404,       404),
    get("saved-view-delete",            "own-view",   LOGIN,    405,   405,    405, 405,  405,       405),
    # One error: the page, and the data fetched from Celigo on demand (none here: the error has no keys).
    get("error-detail",                 "error",      LOGIN,    200,   200,    200, 200,  200,       404),
    get("error-retry-data",             "error",      LOGIN,    200,   200,    200, 200,  200,       404),
    get("error-http-log",               "error",      LOGIN,    200,   200,    200, 200,  200,       404),
    # Acting on errors: the triager role or 403; never through a GET; another team's error is a 404.
    post("error-bulk-action",           None,         LOGIN,    403,   302,    302, 302,  302,       302),
    get("error-bulk-action",            None,         LOGIN,    405,   405,    405, 405,  405,       405),
    post("error-action",                "error",      LOGIN,    403,   302,    302, 302,  302,       404),
    get("error-action",                 "error",      LOGIN,    405,   405,    405, 405,  405,       405),
    post("error-retry-data-review",     "error",      LOGIN,    403,   200,    200, 200,  200,       404),
    get("error-retry-data-review",      "error",      LOGIN,    405,   405,    405, 405,  405,       405),
    # 200: the editor comes back saying why nothing was saved (this error has no retry data key).
    post("error-retry-data-save",       "error",      LOGIN,    403,   200,    200, 200,  200,       404),
    get("error-retry-data-save",        "error",      LOGIN,    405,   405,    405, 405,  405,       405),
    # Action batches: the owner's, and leads' and admins'; cancelling is acting.
    get("batch-list",                   None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("batch-detail",                 "batch",      LOGIN,    404,   404,    200, 200,  404,       404),
    get("batch-progress",               "batch",      LOGIN,    404,   404,    200, 200,  404,       404),
    post("batch-cancel",                "batch",      LOGIN,    403,   404,    302, 302,  404,       404),
    get("batch-cancel",                 "batch",      LOGIN,    405,   405,    405, 405,  405,       405),
    # Teams: everyone logged in reads them; leads and admins manage them (403 for the rest).
    get("team-list",                    None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("team-detail",                  "team",       LOGIN,    200,   200,    200, 200,  200,       200),
    get("team-add",                     None,         LOGIN,    403,   403,    200, 200,  403,       403),
    post("team-add",                    None,         LOGIN,    403,   403,    302, 302,  403,       403),
    get("team-edit",                    "team",       LOGIN,    403,   403,    200, 200,  403,       403),
    post("team-edit",                   "team",       LOGIN,    403,   403,    302, 302,  403,       403),
    post("team-member-add",             "team",       LOGIN,    403,   403,    302, 302,  403,       403),
    get("team-member-add",              "team",       LOGIN,    405,   405,    405, 405,  405,       405),
    post("team-member-role",            "team",       LOGIN,    403,   403,    302, 302,  403,       403),
    get("team-member-role",             "team",       LOGIN,    405,   405,    405, 405,  405,       405),
    post("team-member-remove",          "team",       LOGIN,    403,   403,    302, 302,  403,       403),
    get("team-member-remove",           "team",       LOGIN,    405,   405,    405, 405,  405,       405),
    post("team-scopes",                 "team",       LOGIN,    403,   403,    302, 302,  403,       403),
    get("team-scopes",                  "team",       LOGIN,    405,   405,    405, 405,  405,       405),
    get("team-scope-search",            None,         LOGIN,    403,   403,    200, 200,  403,       403),
    # Routing rules: leads and admins only (403 for the rest); "rule" is a rule a lead wrote.
    get("rule-list",                    None,         LOGIN,    403,   403,    200, 200,  403,       403),
    get("rule-add",                     None,         LOGIN,    403,   403,    200, 200,  403,       403),
    post("rule-add",                    None,         LOGIN,    403,   403,    302, 302,  403,       403),
    get("rule-edit",                    "rule",       LOGIN,    403,   403,    200, 200,  403,       403),
    post("rule-edit",                   "rule",       LOGIN,    403,   403,    302, 302,  403,       403),
    post("rule-move",                   "rule",       LOGIN,    403,   403,    302, 302,  403,       403),
    get("rule-move",                    "rule",       LOGIN,    405,   405,    405, 405,  405,       405),
    post("rule-delete",                 "rule",       LOGIN,    403,   403,    302, 302,  403,       403),
    get("rule-delete",                  "rule",       LOGIN,    405,   405,    405, 405,  405,       405),
    post("rule-dry-run",                None,         LOGIN,    403,   403,    200, 200,  403,       403),
    get("rule-dry-run",                 None,         LOGIN,    405,   405,    405, 405,  405,       405),
    # People: admins only (403 for the rest). The colleague is the person; adding one or issuing a link
    # answers 200 with the link shown once. A set-password link needs no login: this one is invalid (200).
    get("people-list",                  None,         LOGIN,    403,   403,    403, 200,  403,       403),
    get("person-add",                   None,         LOGIN,    403,   403,    403, 200,  403,       403),
    post("person-add",                  None,         LOGIN,    403,   403,    403, 200,  403,       403),
    get("person-detail",                "person",     LOGIN,    403,   403,    403, 200,  403,       403),
    post("person-detail",               "person",     LOGIN,    403,   403,    403, 302,  403,       403),
    post("person-password-link",        "person",     LOGIN,    403,   403,    403, 200,  403,       403),
    get("person-password-link",         "person",     LOGIN,    405,   405,    405, 405,  405,       405),
    get("password-set",                 "link",       200,      200,   200,    200, 200,  200,       200),
    post("password-set",                "link",       200,      200,   200,    200, 200,  200,       200),
    # API tokens: everyone manages their own; admins also see and revoke everyone's (a colleague's here).
    get("token-list",                   None,         LOGIN,    200,   200,    200, 200,  200,       200),
    post("token-list",                  None,         LOGIN,    200,   200,    200, 200,  200,       200),
    post("token-revoke",                "token",      LOGIN,    404,   404,    404, 302,  404,       404),
    get("token-revoke",                 "token",      LOGIN,    405,   405,    405, 405,  405,       405),
    # System: the status page needs a login, the health check does not.
    get("system-status",                None,         LOGIN,    200,   200,    200, 200,  200,       200),
    get("healthz",                      None,         200,      200,   200,    200, 200,  200,       200),
    # Logging in and out: a logged-in visitor of the login page goes home; logging out is a POST.
    get("login",                        None,         200,      302,   302,    302, 302,  302,       302),
    post("logout",                      None,         LOGIN,    302,   302,    302, 302,  302,       302),
    get("logout",                       None,         LOGIN,    405,   405,    405, 405,  405,       405),
)
# fmt: on


def rule_form(world: Any) -> dict[str, Any]:
    return {
        "name": "Matrix rule", "match": "all", "enabled": "on", "tags": "matrix", "days": "7",
        "cond_field": ["code"], "cond_op": ["is"], "cond_value": ["422"],
    }  # fmt: skip


# What the POST rows send: minimal, valid-looking forms (a comment is the mildest action there is).
FORMS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "saved-view-create": lambda world: {"name": "Matrix view", "query_string": "status=open"},
    "error-bulk-action": lambda world: {"action": "comment", "text": "matrix", "ids": [world.error.pk]},
    "error-action": lambda world: {"action": "comment", "text": "matrix"},
    "error-retry-data-review": lambda world: {"data": '{"qty": 2}', "before": '{"qty": 1}'},
    "error-retry-data-save": lambda world: {"data": '{"qty": 2}', "before": '{"qty": 1}'},
    "person-add": lambda world: {"username": "matrix-person", "email": "m@example.com", "role": "viewer"},
    "person-detail": lambda world: {"role": "triager", "active": "on"},
    "password-set": lambda world: {"new_password1": "Matrix-pass-1234", "new_password2": "Matrix-pass-1234"},
    "team-add": lambda world: {"name": "Matrix team", "description": "matrix"},
    "team-edit": lambda world: {"name": "Warehouse", "description": "matrix"},
    "team-member-add": lambda world: {"user": UserFactory(username="newcomer").pk, "role": "member"},
    "team-member-role": lambda world: {"user": world.batch.actor_id, "role": "lead"},
    "team-member-remove": lambda world: {"user": world.batch.actor_id},
    "team-scopes": lambda world: {"flows": [world.error.flow_id]},
    "token-list": lambda world: {"name": "matrix", "scope": "read"},
    "rule-add": rule_form,
    "rule-edit": rule_form,
    "rule-move": lambda world: {"direction": "up"},
    "rule-dry-run": rule_form,
}


def url_names(resolver: URLResolver | None = None, namespace: str = "") -> set[str]:
    """Every URL pattern's name, namespaced ("ns:name"); an unnamed pattern shows as "<unnamed …>"."""
    resolver = resolver or get_resolver()
    names: set[str] = set()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace in SKIPPED_NAMESPACES:
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names |= url_names(entry, inner)
        elif isinstance(entry, URLPattern):
            names.add(f"{namespace}{entry.name}" if entry.name else f"<unnamed {namespace}{entry.pattern}>")
    return names


def test_every_url_pattern_has_a_row():
    """A new page must say who may reach it: add its rows to MATRIX (and its form to FORMS if it posts)."""
    in_urlconf = url_names()
    in_matrix = {row.name for row in MATRIX}
    assert in_urlconf - in_matrix == set(), "URL patterns without a row in MATRIX"
    assert in_matrix - in_urlconf == set(), "MATRIX rows for URL names the URLconf no longer has"


def test_the_matrix_has_no_duplicate_rows():
    keys = [(row.name, row.method, row.target) for row in MATRIX]
    assert len(keys) == len(set(keys))
    assert set(FORMS) <= {row.name for row in MATRIX if row.method == "POST"}


def test_the_personas_mean_what_their_names_say(personas):
    assert all(user.username == name and user.is_active for name, user in personas.items())
    can_act = {name for name, user in personas.items() if access.can_act(user)}
    assert can_act == {"admin", "lead", "triager", "restricted", "outsider"}
    assert {name for name, user in personas.items() if user.is_superuser or user.is_staff} == {"admin"}
    teams = {
        name: set(Team.objects.filter(members=user).values_list("name", flat=True))
        for name, user in personas.items()
    }
    assert teams == {
        "admin": set(), "lead": set(), "triager": set(), "viewer": set(),
        "restricted": {"Warehouse"}, "outsider": {"Finance"},
    }  # fmt: skip


@dataclass
class World:
    """The shared objects the <int:pk> patterns point at; all of them belong to the team Warehouse."""

    error: ErrorRecord
    batch: ActionBatch
    their_view: SavedView
    finance_error: ErrorRecord
    teamless_error: ErrorRecord


# Error ids that must never show in a body served to someone who may not see their error.
WAREHOUSE_ID = "WAREHOUSEERROR00000001"
FINANCE_ID = "FINANCEERROR0000000001"
TEAMLESS_ID = "TEAMLESSERROR000000001"
HIDDEN_FROM = {
    "restricted": {FINANCE_ID, TEAMLESS_ID},
    "outsider": {WAREHOUSE_ID, TEAMLESS_ID},
}


@pytest.fixture
def world(warehouse, finance) -> World:
    # No retry data key and no HTTP log key: the views that would call Celigo answer without calling it.
    error = ErrorRecordFactory(error_id=WAREHOUSE_ID, team=warehouse, retry_data_key="", req_and_res_key="")
    finance_error = ErrorRecordFactory(error_id=FINANCE_ID, team=finance, code="E-FINANCE")
    teamless_error = ErrorRecordFactory(error_id=TEAMLESS_ID, team=None)
    colleague = UserFactory(username="colleague")
    TeamMembership.objects.create(team=warehouse, user_id=colleague.pk)
    batch = ActionBatchFactory(kind=ActionKind.RESOLVE, actor=colleague, total=1, selected=True)
    ActionItem.objects.create(batch_id=batch.pk, error_id=error.pk)
    their_view = SavedViewFactory(
        owner=colleague, name="Warehouse queue", query_string=f"team={warehouse.pk}", shared=True
    )
    return World(error, batch, their_view, finance_error, teamless_error)


@pytest.fixture(scope="module")
def handler() -> ClientHandler:
    """One request handler for the module's clients: a new one loads the middleware again, and WhiteNoise
    reads every static file when it loads (most of a cell's time). Nothing here overrides settings."""
    return ClientHandler(enforce_csrf_checks=False)  # as django.test.Client builds it


def pk_of(target: str | None, world: World, user: Any) -> dict[str, Any]:
    if target is None:
        return {}
    if target == "own-view":
        owner = user if user is not None else world.their_view.owner
        return {"pk": SavedViewFactory(owner=owner, name="Mine", query_string="status=open").pk}
    if target == "team":
        return {"pk": world.error.team_id}
    if target == "person":
        return {"pk": world.batch.actor_id}  # the colleague
    if target == "token":  # the colleague's
        return {"pk": ApiToken.issue(world.batch.actor)[0].pk}
    if target == "rule":  # a rule a lead wrote
        conditions = [{"field": "code", "op": "is", "value": "422"}]
        return {"pk": RoutingRule.objects.create(name="Lead's rule", conditions=conditions, tags=["x"]).pk}
    if target == "link":  # the colleague's set-password link, with a token that never was valid
        return {"uidb64": urlsafe_base64_encode(force_bytes(world.batch.actor_id)), "token": "0-invalid"}
    return {"pk": {"error": world.error, "batch": world.batch, "their-view": world.their_view}[target].pk}


def state(world: World) -> tuple:
    """What a request could have changed."""
    error = ErrorRecord.objects.get(pk=world.error.pk)
    return (
        ActionBatch.objects.count(),
        ActionBatch.objects.filter(cancel_requested=True).count(),
        ActionItem.objects.count(),
        Activity.objects.count(),
        AuditEvent.objects.count(),
        ApiToken.objects.filter(revoked_at__isnull=False).count(),
        sorted(SavedView.objects.values_list("pk", "name", "query_string", "shared")),
        (error.status, error.assignee_id, error.team_id, sorted(error.tags.values_list("name", flat=True))),
    )


def cells() -> list[Any]:
    params = []
    for row in MATRIX:
        variant = f"-{row.target}" if row.target and row.target.endswith("view") else ""
        for persona in COLUMNS:
            params.append(
                pytest.param(row, persona, id=f"{row.name}-{row.method}{variant}-{persona}"),
            )
    return params


def body_of(response) -> bytes:
    """Read the whole answer, so a streamed export that breaks half-way fails here."""
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


@pytest.mark.parametrize(("row", "persona"), cells())
def test_permission_matrix(row: Row, persona: str, world: World, login_as, handler, request):
    expected = getattr(row, persona)
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    client = login_as(user or persona)
    client.handler = handler
    kwargs = pk_of(row.target, world, user)
    url = reverse(row.name, kwargs=kwargs)
    data = FORMS[row.name](world) if row.name in FORMS else {}
    before = state(world)

    response = client.get(url) if row.method == "GET" else client.post(url, data)
    body = body_of(response).decode(errors="replace")
    leaked = {error_id for error_id in HIDDEN_FROM.get(persona, set()) if error_id in body}
    assert not leaked, f"{row.method} {url} showed {persona} errors outside their teams"

    assert response.status_code < 500, f"{row.method} {url} as {persona}: {response.status_code}"
    location = response.get("Location", "")
    if expected == LOGIN:
        assert response.status_code == 302, f"{row.method} {url} as {persona}"
        assert location.startswith(reverse("login") + "?next="), location
    else:
        assert response.status_code == expected, f"{row.method} {url} as {persona}"
        if expected == 302:
            assert not location.startswith(reverse("login") + "?next="), "a login bounce, not a redirect"
    if row.method == "GET" or expected in REFUSALS:
        assert state(world) == before, f"{row.method} {url} as {persona} changed something"


# --- The Django admin: its own site, skipped above as a namespace ------------------------------------

ADMIN_LOGIN = "admin-login"
ADMIN_INDEX = {
    "anonymous": ADMIN_LOGIN,  # the admin sends strangers to its own login page, not to /login/
    "viewer": ADMIN_LOGIN,
    "triager": ADMIN_LOGIN,
    "lead": ADMIN_LOGIN,
    "admin": 200,
    "restricted": ADMIN_LOGIN,
    "outsider": ADMIN_LOGIN,
}


@pytest.mark.parametrize("persona", COLUMNS)
def test_the_django_admin_is_for_admins_only(persona: str, login_as):
    response = login_as(persona).get("/admin/")
    expected = ADMIN_INDEX[persona]
    location = response.get("Location", "")
    if expected == ADMIN_LOGIN:
        assert response.status_code == 302
        assert location.startswith(reverse("admin:login") + "?next=/admin/"), location
    elif expected == LOGIN:
        assert response.status_code == 302
        assert location.startswith(reverse("login") + "?next="), location
    else:
        assert response.status_code == expected
