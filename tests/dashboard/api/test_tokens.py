"""Making, listing and revoking API tokens: the page, the command and the endpoint."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from dashboard.api.throttling import ApiTokenRateThrottle
from dashboard.models import ApiToken, AuditEvent, AuditKind, TokenScope

pytestmark = pytest.mark.django_db


def works(secret: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client.get("/api/v1/errors/").status_code


def test_the_page_shows_a_new_secret_once_and_it_works(login_as, triager):
    browser = login_as("triager")
    page = browser.post(reverse("token-list"), {"name": "warehouse", "scope": "write", "expires_days": "30"})
    found = re.search(r'value="(ed_[^"]+)" readonly data-testid="token-secret"', page.content.decode())
    assert found, "the new secret is on the page"
    secret = found.group(1)
    assert works(secret) == 200
    token = ApiToken.objects.get(user=triager)
    assert (token.scope, token.name) == (TokenScope.WRITE, "warehouse")
    assert token.expires_at is not None
    listing = browser.get(reverse("token-list")).content.decode()
    assert f"ed_{token.prefix}" in listing
    assert secret not in listing
    assert AuditEvent.objects.filter(kind=AuditKind.TOKEN_CREATED, user=triager, actor=triager).exists()


def test_revoking_on_the_page_stops_the_token(login_as, triager):
    token, secret = ApiToken.issue(triager)
    response = login_as("triager").post(reverse("token-revoke", args=[token.pk]))
    assert response.status_code == 302
    assert works(secret) == 401
    assert AuditEvent.objects.filter(kind=AuditKind.TOKEN_REVOKED, user=triager).exists()


def test_an_admin_sees_and_revokes_everyones_tokens_others_only_their_own(login_as, triager, viewer):
    theirs, _ = ApiToken.issue(triager)
    assert f"ed_{theirs.prefix}" not in login_as("viewer").get(reverse("token-list")).content.decode()
    assert login_as("viewer").post(reverse("token-revoke", args=[theirs.pk])).status_code == 404
    assert f"ed_{theirs.prefix}" in login_as("admin").get(reverse("token-list")).content.decode()
    assert login_as("admin").post(reverse("token-revoke", args=[theirs.pk])).status_code == 302
    theirs.refresh_from_db()
    assert theirs.revoked_at is not None


def test_the_command_prints_the_token_alone_on_its_last_line(triager):
    out = StringIO()
    call_command("api_token", "create", "triager", "--scope", "write", "--expires-days", "7", stdout=out)
    secret = out.getvalue().rstrip("\n").splitlines()[-1]
    assert secret.startswith("ed_")
    assert " " not in secret
    assert works(secret) == 200
    token = ApiToken.objects.get(user=triager)
    assert token.scope == TokenScope.WRITE

    listing = StringIO()
    call_command("api_token", "list", stdout=listing)
    assert f"ed_{token.prefix}" in listing.getvalue()
    assert secret not in listing.getvalue()

    call_command("api_token", "revoke", f"ed_{token.prefix}", stdout=StringIO())
    assert works(secret) == 401


def test_the_command_refuses_unknown_people_and_bad_expiries(triager):
    with pytest.raises(CommandError, match="no user"):
        call_command("api_token", "create", "nobody", stdout=StringIO())
    with pytest.raises(CommandError, match="expires_days"):
        call_command("api_token", "create", "triager", "--expires-days", "0", stdout=StringIO())
    with pytest.raises(CommandError, match="no single token"):
        call_command("api_token", "revoke", "ffffffff", stdout=StringIO())


def test_the_endpoint_returns_the_secret_only_when_it_makes_the_token(api_as):
    client = api_as("viewer")
    made = client.post("/api/v1/tokens/", {"name": "bi", "scope": "read", "expires_days": 90}, format="json")
    assert made.status_code == 201
    assert works(made.json()["token"]) == 200
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert all("token" not in row and "secret_hash" not in row for row in listed)
    assert client.delete(f"/api/v1/tokens/{made.json()['id']}/").status_code == 204
    assert works(made.json()["token"]) == 401


def test_a_throttled_token_gets_429_with_retry_after(api_as, monkeypatch):
    monkeypatch.setattr(ApiTokenRateThrottle, "THROTTLE_RATES", {"api": "3/min"})
    client = api_as("viewer")
    statuses = [client.get("/api/v1/errors/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert int(client.get("/api/v1/errors/")["Retry-After"]) > 0
    assert api_as("viewer").get("/api/v1/errors/").status_code == 200, "another token has its own bucket"


def test_throttle_counts_are_kept_in_redis_when_it_is_the_cache(
    api_as, monkeypatch, redis_client, redis_url, settings
):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
    }
    monkeypatch.setattr(ApiTokenRateThrottle, "THROTTLE_RATES", {"api": "2/min"})
    for key in redis_client.scan_iter("*throttle_api_*"):  # counts of an earlier run's tokens (ids repeat)
        redis_client.delete(key)
    client = api_as("viewer")
    assert [client.get("/api/v1/errors/").status_code for _ in range(3)] == [200, 200, 429]
    token = ApiToken.objects.latest("created_at")
    # Every web process reads the same count: it is in Redis, not in this process's memory.
    assert redis_client.keys(f"*throttle_api_token-{token.pk}")
