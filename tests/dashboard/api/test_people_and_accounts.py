"""Users, teams and accounts through the API: secrets are written, never read back; changes are audited."""

from __future__ import annotations

import pytest

from dashboard.models import AuditEvent, AuditKind, CeligoAccount, Role
from tests.dashboard.factories import CeligoAccountFactory

pytestmark = pytest.mark.django_db


def test_an_accounts_token_is_written_but_never_returned(api_as):
    account = CeligoAccountFactory()
    client = api_as("admin")
    secret = "celigo-secret-token-1234"
    changed = client.patch(f"/api/v1/accounts/{account.pk}/", {"token": secret}, format="json")
    assert changed.status_code == 200
    assert secret not in changed.content.decode()
    assert changed.json()["token_last4"] == "1234"
    assert CeligoAccount.objects.get(pk=account.pk).token == secret
    assert secret not in client.get(f"/api/v1/accounts/{account.pk}/").content.decode()


def test_moving_an_account_needs_its_token_again(api_as):
    account = CeligoAccountFactory()
    moved = api_as("admin").patch(
        f"/api/v1/accounts/{account.pk}/", {"base_url": "https://x.example"}, format="json"
    )
    assert moved.status_code == 400
    assert "token" in moved.json()


def test_an_admin_adds_a_person_with_a_password_that_is_never_shown(api_as):
    client = api_as("admin")
    made = client.post(
        "/api/v1/users/",
        {"username": "wendy", "email": "w@example.com", "role": "triager", "password": "Correct-Horse-42"},
        format="json",
    )
    assert made.status_code == 201, made.content
    assert "password" not in made.json()
    assert made.json()["role"] == Role.TRIAGER
    assert AuditEvent.objects.filter(kind=AuditKind.PERSON_ADDED, user_id=made.json()["id"]).exists()
    weak = client.patch(f"/api/v1/users/{made.json()['id']}/", {"password": "123456789"}, format="json")
    assert weak.status_code == 400
    assert "password" in weak.json()


def test_a_lead_staffs_a_team_through_the_members_endpoint(api_as, warehouse, viewer):
    client = api_as("lead")
    added = client.post(f"/api/v1/teams/{warehouse.pk}/members/", {"user": viewer.pk}, format="json")
    assert added.status_code == 201
    assert added.json() == {"user": viewer.pk, "role": "member"}
    again = client.post(f"/api/v1/teams/{warehouse.pk}/members/", {"user": viewer.pk}, format="json")
    assert again.status_code == 400
    assert "user" in again.json()
    assert client.get(f"/api/v1/teams/{warehouse.pk}/members/").json() == [
        {"user": viewer.pk, "role": "member"}
    ]
    assert client.delete(f"/api/v1/teams/{warehouse.pk}/members/{viewer.pk}/").status_code == 204
