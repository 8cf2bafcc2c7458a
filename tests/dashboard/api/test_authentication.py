"""Tokens: how a script proves who it is, and what a token's scope and state allow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from dashboard.actions.tokens import do_create_token, do_revoke_token
from dashboard.models import ApiToken, AuditEvent, AuditKind, TokenScope
from tests.dashboard.api.conftest import token_client

pytestmark = pytest.mark.django_db

ERRORS = "/api/v1/errors/"


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_it_accepts_bearer_and_token_keywords(triager):
    assert token_client(triager, keyword="Bearer").get(ERRORS).status_code == 200
    assert token_client(triager, keyword="Token").get(ERRORS).status_code == 200


def test_it_answers_401_without_credentials_and_names_the_scheme():
    response = APIClient().get(ERRORS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer ed_nothing", "Token " + "x" * 500])
def test_it_answers_401_to_a_malformed_or_unknown_token(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(ERRORS).status_code == 401


def test_an_expired_token_answers_401(triager):
    token, secret = do_create_token(None, triager, expires_at=timezone.now() + timedelta(days=1))
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer(secret).get(ERRORS)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


def test_a_revoked_token_answers_401_at_once(triager):
    token, secret = do_create_token(None, triager)
    client = bearer(secret)
    assert client.get(ERRORS).status_code == 200
    do_revoke_token(triager, token)
    response = client.get(ERRORS)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_deactivated_persons_token_answers_401(triager):
    _, secret = do_create_token(None, triager)
    triager.is_active = False
    triager.save()
    assert bearer(secret).get(ERRORS).status_code == 401


def test_only_a_hash_of_the_secret_is_stored(triager):
    token, secret = do_create_token(None, triager, scope=TokenScope.WRITE)
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert secret not in str(stored)
    assert secret.startswith(f"ed_{token.prefix}_")


def test_last_used_is_written_at_most_once_a_minute(triager, django_assert_num_queries):
    token, secret = do_create_token(None, triager)
    client = bearer(secret)
    client.get(ERRORS)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    client.get(ERRORS)
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    client.get(ERRORS)
    later = ApiToken.objects.get(pk=token.pk).last_used_at
    assert later is not None
    assert later > first


def test_creating_and_revoking_a_token_is_audited(admin, triager):
    token, _ = do_create_token(admin, triager, scope=TokenScope.WRITE)
    do_revoke_token(admin, token)
    kinds = list(AuditEvent.objects.filter(user=triager).values_list("kind", "actor_id"))
    assert sorted(kinds) == sorted([(AuditKind.TOKEN_CREATED, admin.pk), (AuditKind.TOKEN_REVOKED, admin.pk)])


def test_the_browser_session_works_and_needs_csrf_for_writes(triager):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(triager)
    assert client.get(ERRORS).status_code == 200
    response = client.post("/api/v1/views/", {"name": "mine", "query_string": "status=open"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
