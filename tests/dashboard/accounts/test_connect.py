"""Connecting Celigo accounts: token checks, encryption at rest, schedules and the celigo_account command."""

from __future__ import annotations

import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django_celery_beat.models import PeriodicTask

from dashboard.accounts.connect import (
    TokenCheckFailed,
    add_account,
    check_token,
    ensure_account_from_environment,
)
from dashboard.accounts.schedules import account_task_name
from dashboard.lib import crypto
from dashboard.models import AccountStatus, CeligoAccount

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db


def sim_regions(sim) -> dict[str, str]:
    return {region: sim.base_url_for(region) for region in ("na", "eu", "au", "ca")}


def test_it_checks_a_good_token(celigo_simulator):
    info = check_token(celigo_simulator.token, base_url=celigo_simulator.base_url)
    assert info.user_id


def test_it_names_the_right_region_for_a_token_of_another_region(make_celigo_simulator):
    sim = make_celigo_simulator(seed="demo")
    with pytest.raises(TokenCheckFailed) as info:
        check_token("sim-eu-token", region="na", region_urls=sim_regions(sim))
    assert str(info.value).startswith("the token belongs to the EU region")
    assert "--region eu" in str(info.value)
    assert "\n" not in str(info.value)


def test_it_reports_a_revoked_token_in_one_line(celigo_simulator):
    celigo_simulator.revoke_token(celigo_simulator.token)
    with pytest.raises(TokenCheckFailed) as info:
        check_token(celigo_simulator.token, base_url=celigo_simulator.base_url)
    assert "rejected the token" in str(info.value)
    assert celigo_simulator.token not in str(info.value)


def test_it_encrypts_the_token_at_rest(celigo_simulator):
    account = add_account("Acme", celigo_simulator.token, base_url=celigo_simulator.base_url)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT token_encrypted, token_last4 FROM dashboard_celigoaccount WHERE id = %s", [account.pk]
        )
        encrypted, last4 = cursor.fetchone()
    assert celigo_simulator.token not in encrypted
    assert last4 == celigo_simulator.token[-4:]
    assert CeligoAccount.objects.get(pk=account.pk).token == celigo_simulator.token
    assert celigo_simulator.token not in repr(account) + str(account) + account.masked_token


def test_it_decrypts_with_an_older_key_after_rotation(settings):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    stored = crypto.encrypt("secret-token")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(stored) == "secret-token"
    rotated = crypto.rotate(stored)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "secret-token"
    with pytest.raises(crypto.UndecryptableSecret):
        crypto.decrypt(stored)


def test_it_schedules_one_beat_entry_per_account_following_its_interval(celigo_simulator):
    account = add_account("Acme", celigo_simulator.token, base_url=celigo_simulator.base_url)
    task = PeriodicTask.objects.get(name=account_task_name(account))
    assert task.task == "dashboard.sync_account"
    assert json.loads(task.args) == [account.pk]
    assert task.interval.every == account.sync_interval_seconds

    account.sync_interval_seconds = 600
    account.enabled = False
    account.save()
    task.refresh_from_db()
    assert (task.interval.every, task.enabled) == (600, False)

    account.delete()
    assert not PeriodicTask.objects.filter(name=account_task_name(account)).exists()


def test_it_connects_the_environment_token_once_at_start_up(celigo_simulator, settings):
    settings.CELIGO_API_TOKEN = celigo_simulator.token
    settings.CELIGO_BASE_URL = celigo_simulator.base_url
    settings.CELIGO_REGION = None
    account = ensure_account_from_environment()
    assert account is not None
    assert account.base_url == celigo_simulator.base_url
    assert ensure_account_from_environment() is None  # an account exists now
    assert CeligoAccount.objects.count() == 1


def test_it_connects_a_bad_environment_token_marked_with_the_reason(celigo_simulator, settings):
    settings.CELIGO_API_TOKEN = "not-a-real-token"
    settings.CELIGO_BASE_URL = celigo_simulator.base_url
    settings.CELIGO_REGION = None
    account = ensure_account_from_environment()
    assert account.status == AccountStatus.REVOKED
    assert "rejected the token" in account.status_message


# --- the command ---------------------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("celigo_account", *args, stdout=out)
    return out.getvalue()


def test_the_command_adds_an_account_from_a_token_file(celigo_simulator, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(celigo_simulator.token + "\n")
    output = run("add", "Acme", "--base-url", celigo_simulator.base_url, "--token-file", str(token_file))
    assert output.startswith("Connected Acme")
    assert celigo_simulator.token not in output
    assert CeligoAccount.objects.get(name="Acme").token == celigo_simulator.token


def test_the_command_reads_the_token_from_the_environment(celigo_simulator, monkeypatch):
    monkeypatch.setenv("CELIGO_API_TOKEN", celigo_simulator.token)
    run("add", "Acme", "--base-url", celigo_simulator.base_url)
    assert CeligoAccount.objects.filter(name="Acme").exists()


def test_the_command_prompts_for_the_token_without_echo(celigo_simulator, monkeypatch):
    monkeypatch.delenv("CELIGO_API_TOKEN", raising=False)
    prompts = []

    def getpass(prompt: str) -> str:
        prompts.append(prompt)
        return celigo_simulator.token

    monkeypatch.setattr("getpass.getpass", getpass)
    run("add", "Acme", "--base-url", celigo_simulator.base_url)
    assert prompts == ["Celigo API token (input hidden): "]


def test_the_command_never_takes_the_token_as_an_argument():
    with pytest.raises(CommandError):
        run("add", "Acme", "--token", "abc")


def test_the_command_reports_a_revoked_token_in_one_line(celigo_simulator, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("wrong-token")
    with pytest.raises(CommandError) as info:
        run("add", "Acme", "--base-url", celigo_simulator.base_url, "--token-file", str(token_file))
    assert str(info.value).startswith("token check failed: Celigo at")
    assert not CeligoAccount.objects.exists()


def test_the_command_lists_accounts_with_masked_tokens_and_removes_them(celigo_simulator):
    add_account("Acme", celigo_simulator.token, base_url=celigo_simulator.base_url)
    listing = run("list")
    assert "Acme" in listing
    assert "…" + celigo_simulator.token[-4:] in listing
    assert celigo_simulator.token not in listing
    assert run("remove", "Acme").startswith("Removed Acme")
    assert run("list") == "No Celigo accounts connected.\n"
    with pytest.raises(CommandError):
        run("remove", "Acme")
