"""Who may do what through the REST API, URL by URL and method by method, for every persona.

The companion of ``tests/dashboard/views/test_permission_matrix.py`` (which leaves the ``api`` namespace to
this file): every /api/v1/ pattern and each method its view answers must have a row here
(``test_every_api_pattern_and_method_has_a_row``). Each persona calls with a write token of their own; the
objects are the HTML matrix's world (the shared error and batch belong to Warehouse; ``outsider`` is
restricted to Finance). What a persona may not see answers 404, never 403; a refused request changes
nothing; no body shows an error outside the persona's visibility; nothing answers 5xx.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from dashboard.models import ApiToken, RoutingRule, SyncRun, TokenScope
from tests.dashboard.api.conftest import token_client
from tests.dashboard.factories import SavedViewFactory, SyncRunFactory, UserFactory
from tests.dashboard.views.test_permission_matrix import (
    HIDDEN_FROM,
    World,
    state,
    world,  # noqa: F401 (the fixture)
)

pytestmark = pytest.mark.django_db

LOGIN = "login"  # the docs page, for people in a browser: a 302 to the login page
SAFE = {"GET", "HEAD", "OPTIONS"}


class Row(NamedTuple):
    name: str
    method: str
    # What fills the pattern: "error", "batch", "team", "person" (the colleague), "their-view", "own-view",
    # "their-token", "own-token", "account", "sync-run", "member" (Warehouse and the colleague), "rule", or
    # None.
    target: str | None
    anonymous: Any
    viewer: Any
    triager: Any
    lead: Any
    admin: Any
    restricted: Any
    outsider: Any


COLUMNS = ("anonymous", "viewer", "triager", "lead", "admin", "restricted", "outsider")


def row(name: str, method: str, target: str | None, *expect: Any) -> Row:
    return Row(f"api:{name}", method, target, *expect)


# fmt: off
MATRIX: tuple[Row, ...] = (
    #   url name            method    target          anon viewer triager lead admin restricted outsider
    row("api-root",         "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("schema",           "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("docs",             "GET",    None,           LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN),
    # Errors: another team's error is a 404 for a restricted member; the world's error has no retry data
    # key and no HTTP log, so those answer 404 (nothing to fetch) and an edit is refused with a 400.
    row("error-list",       "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("error-detail",     "GET",    "error",        401, 200,   200,    200, 200,  200,       404),
    row("error-activity",   "GET",    "error",        401, 200,   200,    200, 200,  200,       404),
    row("error-retry-data", "GET",    "error",        401, 404,   404,    404, 404,  404,       404),
    row("error-retry-data", "PUT",    "error",        401, 403,   400,    400, 400,  400,       404),
    row("error-http-log",   "GET",    "error",        401, 404,   404,    404, 404,  404,       404),
    row("group-list",       "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    # Actions: acting needs the triager role; the outsider's ids name no error they can see (a 400, the
    # answer for ids that do not exist). A batch is its owner's (the colleague), and leads' and admins'.
    row("action-list",      "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("action-list",      "POST",   None,           401, 403,   202,    202, 202,  202,       400),
    row("action-detail",    "GET",    "batch",        401, 404,   404,    200, 200,  404,       404),
    row("action-items",     "GET",    "batch",        401, 404,   404,    200, 200,  404,       404),
    row("action-cancel",    "POST",   "batch",        401, 403,   404,    202, 202,  404,       404),
    # People: admins only.
    row("user-list",        "GET",    None,           401, 403,   403,    403, 200,  403,       403),
    row("user-list",        "POST",   None,           401, 403,   403,    403, 201,  403,       403),
    row("user-detail",      "GET",    "person",       401, 403,   403,    403, 200,  403,       403),
    row("user-detail",      "PUT",    "person",       401, 403,   403,    403, 200,  403,       403),
    row("user-detail",      "PATCH",  "person",       401, 403,   403,    403, 200,  403,       403),
    # Teams: everyone reads; leads and admins manage.
    row("team-list",        "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("team-list",        "POST",   None,           401, 403,   403,    201, 201,  403,       403),
    row("team-detail",      "GET",    "team",         401, 200,   200,    200, 200,  200,       200),
    row("team-detail",      "PUT",    "team",         401, 403,   403,    200, 200,  403,       403),
    row("team-detail",      "PATCH",  "team",         401, 403,   403,    200, 200,  403,       403),
    row("team-members",     "GET",    "team",         401, 200,   200,    200, 200,  200,       200),
    row("team-members",     "POST",   "team",         401, 403,   403,    201, 201,  403,       403),
    row("team-member",      "PATCH",  "member",       401, 403,   403,    200, 200,  403,       403),
    row("team-member",      "DELETE", "member",       401, 403,   403,    204, 204,  403,       403),
    # Routing rules: leads and admins only; applying one to the backlog starts a batch.
    row("rule-list",        "GET",    None,           401, 403,   403,    200, 200,  403,       403),
    row("rule-list",        "POST",   None,           401, 403,   403,    201, 201,  403,       403),
    row("rule-detail",      "GET",    "rule",         401, 403,   403,    200, 200,  403,       403),
    row("rule-detail",      "PUT",    "rule",         401, 403,   403,    200, 200,  403,       403),
    row("rule-detail",      "PATCH",  "rule",         401, 403,   403,    200, 200,  403,       403),
    row("rule-detail",      "DELETE", "rule",         401, 403,   403,    204, 204,  403,       403),
    row("rule-dry-run",     "POST",   None,           401, 403,   403,    200, 200,  403,       403),
    row("rule-apply",       "POST",   "rule",         401, 403,   403,    202, 202,  403,       403),
    # Saved views: everyone keeps their own; a colleague's shared view is read by all, changed by its
    # owner, leads and admins.
    row("view-list",        "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("view-list",        "POST",   None,           401, 201,   201,    201, 201,  201,       201),
    row("view-detail",      "GET",    "their-view",   401, 200,   200,    200, 200,  200,       200),
    row("view-detail",      "PUT",    "their-view",   401, 404,   404,    200, 200,  404,       404),
    row("view-detail",      "PATCH",  "their-view",   401, 404,   404,    200, 200,  404,       404),
    row("view-detail",      "DELETE", "their-view",   401, 404,   404,    204, 204,  404,       404),
    row("view-detail",      "DELETE", "own-view",     401, 204,   204,    204, 204,  204,       204),
    # Tokens: everyone has their own; admins see and revoke everyone's.
    row("token-list",       "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("token-list",       "POST",   None,           401, 201,   201,    201, 201,  201,       201),
    row("token-detail",     "GET",    "their-token",  401, 404,   404,    404, 200,  404,       404),
    row("token-detail",     "GET",    "own-token",    401, 200,   200,    200, 200,  200,       200),
    row("token-detail",     "DELETE", "their-token",  401, 404,   404,    404, 204,  404,       404),
    # Celigo accounts: everyone reads; admins configure (a new account without its token is a 400, which
    # spares this test a call to Celigo); asking for a sync is acting.
    row("account-list",     "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("account-list",     "POST",   None,           401, 403,   403,    403, 400,  403,       403),
    row("account-detail",   "GET",    "account",      401, 200,   200,    200, 200,  200,       200),
    row("account-detail",   "PUT",    "account",      401, 403,   403,    403, 200,  403,       403),
    row("account-detail",   "PATCH",  "account",      401, 403,   403,    403, 200,  403,       403),
    row("account-sync",     "POST",   "account",      401, 403,   202,    202, 202,  202,       202),
    row("sync-run-list",    "GET",    None,           401, 200,   200,    200, 200,  200,       200),
    row("sync-run-detail",  "GET",    "sync-run",     401, 200,   200,    200, 200,  200,       200),
)
# fmt: on


RULE_CONDITIONS = [{"field": "code", "op": "is", "value": "422"}]


def body(name: str, method: str, shared: World) -> dict[str, Any] | None:
    account = shared.error.account
    bodies: dict[tuple[str, str], Any] = {
        ("api:error-retry-data", "PUT"): {"data": {"qty": 2}},
        ("api:action-list", "POST"): {"action": "comment", "ids": [shared.error.pk], "params": {"text": "m"}},
        ("api:user-list", "POST"): {"username": "matrix-person", "email": "m@example.com", "role": "viewer"},
        ("api:user-detail", "PUT"): {"username": "colleague", "email": "c@example.com", "role": "triager"},
        ("api:user-detail", "PATCH"): {"role": "triager"},
        ("api:team-list", "POST"): {"name": "Matrix team"},
        ("api:team-detail", "PUT"): {"name": "Warehouse", "description": "matrix"},
        ("api:team-detail", "PATCH"): {"description": "matrix"},
        ("api:team-members", "POST"): {"user": UserFactory(username="newcomer").pk, "role": "member"},
        ("api:team-member", "PATCH"): {"role": "lead"},
        ("api:view-list", "POST"): {"name": "Matrix view", "query_string": "status=open"},
        ("api:view-detail", "PUT"): {"name": "Warehouse queue", "query_string": "status=open"},
        ("api:view-detail", "PATCH"): {"shared": False},
        ("api:token-list", "POST"): {"name": "matrix", "scope": "read"},
        ("api:account-list", "POST"): {"name": "Another account"},
        ("api:account-detail", "PUT"): {"name": account.name, "sync_interval_seconds": 300},
        ("api:account-detail", "PATCH"): {"sync_interval_seconds": 300},
        ("api:rule-list", "POST"): {"name": "Matrix rule", "conditions": RULE_CONDITIONS, "tags": ["m"]},
        ("api:rule-detail", "PUT"): {"name": "Lead's rule", "conditions": RULE_CONDITIONS, "tags": ["m"]},
        ("api:rule-detail", "PATCH"): {"enabled": False},
        ("api:rule-dry-run", "POST"): {"conditions": RULE_CONDITIONS},
    }
    return bodies.get((name, method))


def kwargs_for(target: str | None, shared: World, user: Any) -> dict[str, Any]:
    colleague = shared.batch.actor
    if target is None:
        return {}
    if target == "member":
        return {"pk": shared.error.team_id, "user_id": colleague.pk}
    if target == "own-view":
        return {"pk": SavedViewFactory(owner=user or colleague, name="Mine").pk}
    if target == "their-token":
        return {"pk": ApiToken.issue(colleague)[0].pk}
    if target == "own-token":
        return {"pk": ApiToken.issue(user or colleague)[0].pk}
    if target == "rule":  # a rule a lead wrote
        return {
            "pk": RoutingRule.objects.create(name="Lead's rule", conditions=RULE_CONDITIONS, tags=["x"]).pk
        }
    if target == "sync-run":
        run = SyncRun.objects.first() or SyncRunFactory(account=shared.error.account)
        return {"pk": run.pk}
    objects = {
        "error": shared.error,
        "batch": shared.batch,
        "their-view": shared.their_view,
        "team": shared.error.team,
        "person": colleague,
        "account": shared.error.account,
    }
    return {"pk": objects[target].pk}


def api_patterns() -> set[tuple[str, str]]:
    """Every (namespaced name, method) the /api/v1/ URLconf answers, from the views themselves."""
    found: set[tuple[str, str]] = set()
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "api":
            for pattern in entry.url_patterns:
                assert isinstance(pattern, URLPattern)
                methods = getattr(pattern.callback, "actions", None) or {"get": None}
                # DRF adds "head" to a view's actions when it first answers a GET; HEAD follows GET anyway.
                found |= {(f"api:{pattern.name}", method.upper()) for method in methods if method != "head"}
    return found


def test_every_api_pattern_and_method_has_a_row():
    in_matrix = {(r.name, r.method) for r in MATRIX}
    assert api_patterns() - in_matrix == set(), "API patterns or methods without a row in MATRIX"
    assert in_matrix - api_patterns() == set(), "MATRIX rows for patterns the API no longer has"


def cells() -> list[Any]:
    return [
        pytest.param(r, persona, id=f"{r.name[4:]}-{r.method}-{r.target or ''}-{persona}")
        for r in MATRIX
        for persona in COLUMNS
    ]


@pytest.mark.parametrize(("row", "persona"), cells())
def test_api_matrix(row: Row, persona: str, world: World, request, login_as):  # noqa: F811
    expected = getattr(row, persona)
    user = None if persona == "anonymous" else request.getfixturevalue(persona)
    client = token_client(user, TokenScope.WRITE) if user is not None else login_as("anonymous")
    url = reverse(row.name, kwargs=kwargs_for(row.target, world, user))
    data = body(row.name, row.method, world)
    before = state(world)

    response = (
        getattr(client, row.method.lower())(url, data, format="json")
        if data
        else (getattr(client, row.method.lower())(url))
    )

    text = response.content.decode(errors="replace")
    leaked = {error_id for error_id in HIDDEN_FROM.get(persona, set()) if error_id in text}
    assert not leaked, f"{row.method} {url} showed {persona} errors outside their teams"
    assert response.status_code < 500, f"{row.method} {url} as {persona}: {response.status_code}"
    if expected == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    else:
        assert response.status_code == expected, f"{row.method} {url} as {persona}: {text[:300]}"
    if row.method in SAFE or expected in {401, 403, 404, 405, LOGIN}:
        assert state(world) == before, f"{row.method} {url} as {persona} changed something"


def test_the_docs_page_serves_our_own_scripts_only(login_as):
    response = login_as("viewer").get(reverse("api:docs"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "<script>" not in page.replace(" ", ""), "no inline script: the CSP allows only our own"
    assert "cdn." not in page
    assert "unpkg" not in page


@pytest.mark.parametrize(
    "row", [r for r in MATRIX if r.method not in SAFE], ids=lambda r: f"{r.name}-{r.method}"
)
def test_a_read_token_is_refused_every_write(row: Row, world: World, admin):  # noqa: F811
    client = token_client(admin, TokenScope.READ)
    url = reverse(row.name, kwargs=kwargs_for(row.target, world, admin))
    before = state(world)
    response = getattr(client, row.method.lower())(url, body(row.name, row.method, world), format="json")
    assert response.status_code == 403
    assert "read scope" in response.json()["detail"]
    assert state(world) == before
