"""Login is throttled per username and per address (django-axes), with a clear lockout and an admin unlock."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from tests.dashboard.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-passphrase-1"


def log_in(client: Client, username: str, password: str, address: str = "192.0.2.10"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def ana():
    user = UserFactory(username="ana")
    user.set_password(PASSWORD)
    user.save()
    return user


def test_five_wrong_passwords_lock_the_user_out_even_with_the_right_one(ana):
    client = Client()
    for _ in range(4):
        assert log_in(client, "ana", "wrong").status_code == 200  # the form again
    assert log_in(client, "ana", "wrong").status_code == 429  # the fifth locks
    response = log_in(client, "ana", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_username_locked_from_one_address_is_locked_from_another(ana):
    for _ in range(5):
        log_in(Client(), "ana", "wrong", address="192.0.2.10")
    assert log_in(Client(), "ana", PASSWORD, address="198.51.100.7").status_code == 429


def test_one_address_guessing_many_usernames_is_locked_out(ana):
    for n in range(5):
        log_in(Client(), f"guess{n}", "wrong", address="203.0.113.5")
    assert log_in(Client(), "ana", PASSWORD, address="203.0.113.5").status_code == 429
    assert log_in(Client(), "ana", PASSWORD, address="192.0.2.99").status_code == 302


def test_an_admin_unlocks_by_deleting_the_attempts(ana, admin_client):
    for _ in range(5):
        log_in(Client(), "ana", "wrong")
    attempt = AccessAttempt.objects.get(username="ana")
    changelist = reverse("admin:axes_accessattempt_changelist")
    assert admin_client.get(changelist).status_code == 200
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"}
    )
    assert not AccessAttempt.objects.filter(username="ana").exists()
    assert log_in(Client(), "ana", PASSWORD).status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(ana):
    for _ in range(4):
        log_in(Client(), "ana", "wrong")
    assert log_in(Client(), "ana", PASSWORD).status_code == 302
    for _ in range(4):
        log_in(Client(), "ana", "wrong")
    assert log_in(Client(), "ana", PASSWORD).status_code == 302


def test_the_admin_login_is_throttled_too():
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    admin.set_password(PASSWORD)
    admin.save()
    client = Client()
    for _ in range(5):
        client.post(
            reverse("admin:login"), {"username": "root", "password": "wrong"}, REMOTE_ADDR="192.0.2.20"
        )
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": PASSWORD}, REMOTE_ADDR="192.0.2.20"
    )
    assert response.status_code == 429
