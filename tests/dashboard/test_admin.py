"""The admin: accounts take a write-only token checked with Celigo; records are read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from dashboard.models import ActionBatch, Activity, AuditEvent, CeligoAccount, SyncRun
from tests.dashboard.factories import ActivityFactory

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db


def account_form(sim, **overrides) -> dict:
    data = {
        "name": "Acme",
        "region": "",
        "base_url": sim.base_url,
        "enabled": "on",
        "rate_burst": 100,
        "rate_per_second": 30,
        "sync_interval_seconds": 120,
        "full_sync_interval_hours": 24,
        "metadata_interval_minutes": 60,
        "tag_variant": "error_ids",
        "token": sim.token,
    }
    return {**data, **overrides}


def test_it_adds_an_account_with_a_checked_token(admin_client, celigo_simulator):
    response = admin_client.post(reverse("admin:dashboard_celigoaccount_add"), account_form(celigo_simulator))
    assert response.status_code == 302
    assert CeligoAccount.objects.get(name="Acme").token == celigo_simulator.token


def test_it_refuses_a_rejected_token_with_the_reason(admin_client, celigo_simulator):
    response = admin_client.post(
        reverse("admin:dashboard_celigoaccount_add"), account_form(celigo_simulator, token="wrong")
    )
    assert response.status_code == 200
    assert "rejected the token" in response.content.decode()
    assert not CeligoAccount.objects.exists()


def test_it_never_shows_the_token_and_keeps_it_when_left_empty(admin_client, celigo_simulator):
    admin_client.post(reverse("admin:dashboard_celigoaccount_add"), account_form(celigo_simulator))
    account = CeligoAccount.objects.get(name="Acme")
    page = admin_client.get(
        reverse("admin:dashboard_celigoaccount_change", args=[account.pk])
    ).content.decode()
    assert celigo_simulator.token not in page
    admin_client.post(
        reverse("admin:dashboard_celigoaccount_change", args=[account.pk]),
        account_form(celigo_simulator, token="", sync_interval_seconds=600),
    )
    account.refresh_from_db()
    assert account.token == celigo_simulator.token
    assert account.sync_interval_seconds == 600


def test_sync_runs_are_read_only(admin_client, celigo_simulator):
    account = CeligoAccount(name="Acme", base_url=celigo_simulator.base_url, region="")
    account.token = celigo_simulator.token
    account.save()
    run = SyncRun.objects.create(account=account)
    assert admin_client.get(reverse("admin:dashboard_syncrun_changelist")).status_code == 200
    assert admin_client.get(reverse("admin:dashboard_syncrun_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:dashboard_syncrun_change", args=[run.pk]), {"outcome": "failed"}
    )
    assert response.status_code == 403


def test_moving_an_account_to_another_host_needs_its_token_again(admin_client, celigo_simulator):
    admin_client.post(reverse("admin:dashboard_celigoaccount_add"), account_form(celigo_simulator))
    account = CeligoAccount.objects.get(name="Acme")
    change = reverse("admin:dashboard_celigoaccount_change", args=[account.pk])
    for moved in ({"base_url": "https://collector.example.net"}, {"base_url": "", "region": "eu"}):
        response = admin_client.post(change, account_form(celigo_simulator, token="", **moved))
        assert response.status_code == 200
        assert "needs the account&#x27;s token again" in response.content.decode()
    account.refresh_from_db()
    assert account.base_url == celigo_simulator.base_url
    assert account.region == ""


@pytest.mark.parametrize(
    "field", ["rate_burst", "rate_per_second", "sync_interval_seconds", "full_sync_interval_hours"]
)
@pytest.mark.parametrize("value", [0, -1])
def test_paces_and_intervals_below_one_are_refused_by_name(admin_client, celigo_simulator, field, value):
    response = admin_client.post(
        reverse("admin:dashboard_celigoaccount_add"), account_form(celigo_simulator, **{field: value})
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert not CeligoAccount.objects.exists()


@pytest.mark.parametrize(
    "model", ["errorrecord", "activity", "actionbatch", "syncrun", "auditevent", "celigoaccount"]
)
def test_records_of_what_happened_cannot_be_deleted_in_the_admin(admin_client, celigo_simulator, model):
    activity = ActivityFactory()
    account = activity.error.account
    objects = {
        "errorrecord": activity.error,
        "activity": activity,
        "actionbatch": ActionBatch.objects.create(kind="resolve"),
        "syncrun": SyncRun.objects.create(account=account),
        "auditevent": AuditEvent.objects.create(kind="team_created"),
        "celigoaccount": account,
    }
    target = objects[model]
    delete = reverse(f"admin:dashboard_{model}_delete", args=[target.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = admin_client.get(reverse(f"admin:dashboard_{model}_changelist"))
    assert "delete_selected" not in changelist.content.decode()
    assert type(target).objects.filter(pk=target.pk).exists()
    assert Activity.objects.filter(pk=activity.pk).exists()
