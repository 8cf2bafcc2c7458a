"""The OpenAPI schema at /api/v1/schema/ holds: schemathesis generates requests from it, on PostgreSQL, and
every answer must be no server error and match the schema.

The world is small but complete (errors in teams, a batch, views, a sync run) and holds no retry data
or HTTP log keys, so nothing here calls Celigo; connecting an account (which checks its token with Celigo)
and revoking tokens (the one this test calls with could be among them) are left to the other tests.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from dashboard.actions.tokens import do_create_token
from dashboard.models import ActionKind, TokenScope
from tests.dashboard.factories import (
    ActionBatchFactory,
    ErrorRecordFactory,
    SavedViewFactory,
    SyncRunFactory,
    TagFactory,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
EXAMPLES = 12


@pytest.fixture
def api_headers(admin, warehouse, finance) -> dict[str, str]:
    tag = TagFactory(name="vip")
    for team in (warehouse, finance, None):
        ErrorRecordFactory(team=team, retry_data_key="", req_and_res_key="", tags=[tag])
    error = ErrorRecordFactory(team=warehouse, retry_data_key="", req_and_res_key="", occurred_at=None)
    ActionBatchFactory(kind=ActionKind.RESOLVE, actor=admin, total=1, selected=True).items.create(error=error)
    SavedViewFactory(owner=admin)
    SyncRunFactory(account=error.account)
    _, secret = do_create_token(None, admin, scope=TokenScope.WRITE)
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def wsgi_app():
    """The real WSGI handler, minus closing the database connection around each request (which would close
    the test's transaction), as Django's own test client does."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield WSGIHandler()
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(api_headers, wsgi_app):
    return schemathesis.openapi.from_wsgi("/api/v1/schema/", wsgi_app, headers=api_headers)


schema = (
    schemathesis.pytest.from_fixture("api_schema")
    .exclude(method="POST", path="/api/v1/accounts/")
    .exclude(method="DELETE", path="/api/v1/tokens/{id}/")
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_answers_as_its_schema_says(case, api_headers):
    case.call_and_validate(headers=api_headers, checks=CHECKS)


@pytest.mark.django_db
def test_a_person_without_an_email_is_listed_as_the_schema_says(api_as, admin):
    """``createsuperuser`` may leave the address empty: the schema must allow what the list returns."""
    type(admin).objects.filter(pk=admin.pk).update(email="")
    response = api_as("admin").get("/api/v1/users/")
    assert response.status_code == 200
    row = next(user for user in response.json()["results"] if user["id"] == admin.pk)
    assert row["email"] == ""
    document = api_as("admin").get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "format" not in document["components"]["schemas"]["User"]["properties"]["email"]


@pytest.mark.django_db
def test_a_person_is_still_written_with_a_valid_email(api_as):
    body = {"username": "newcomer", "email": "not-an-address", "role": "viewer"}
    response = api_as("admin").post("/api/v1/users/", body, format="json")
    assert response.status_code == 400
    assert response.json()["email"] == ["Enter a valid email address."]
