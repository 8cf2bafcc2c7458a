"""Clients of the REST API for the personas of ``tests/dashboard/conftest.py``, each with its own token.

``api_as("restricted")`` is a DRF ``APIClient`` sending a write token of that persona;
``api_as("viewer", scope="read")`` one with a read token; ``api_as("anonymous")`` sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from dashboard.actions.tokens import do_create_token
from dashboard.models import TokenScope

ANONYMOUS = "anonymous"


def token_client(user, scope: str = TokenScope.WRITE, keyword: str = "Bearer") -> APIClient:
    _, secret = do_create_token(None, user, scope=scope)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {secret}")
    return client


@pytest.fixture
def api_as(request, db) -> Callable[..., APIClient]:
    def client_for(persona_or_user, scope: str = TokenScope.WRITE) -> APIClient:
        if persona_or_user == ANONYMOUS:
            return APIClient()
        user = (
            request.getfixturevalue(persona_or_user) if isinstance(persona_or_user, str) else persona_or_user
        )
        return token_client(user, scope)

    return client_for


def pytest_collection_modifyitems(items) -> None:
    # schemathesis 4.32's from_fixture reads ``node._nodeid``, which pytest 9 no longer sets; give it one.
    for item in items:
        if not hasattr(item, "_nodeid"):
            item._nodeid = item.nodeid
