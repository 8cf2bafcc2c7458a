"""`make run`: the embedded default starts every process, prints the URL and a login, and stops cleanly."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.core.exceptions import ImproperlyConfigured

from dashboard import env as read
from dashboard.embedded import embedded_environment
from tests.test_deployment import free_port

ROOT = Path(__file__).resolve().parents[2]
# What a newcomer's shell does not set, so `make run` picks its own.
EMBEDDED_DEFAULTS = {
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "FIELD_ENCRYPTION_KEYS",
    "CELIGO_API_TOKEN",
    "CELIGO_BASE_URL",
}


@pytest.mark.slow
def test_it_starts_the_embedded_default_and_stops_every_child_on_ctrl_c(tmp_path):
    web_port, simulator_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key not in EMBEDDED_DEFAULTS}
    env.update(ERROR_DESK_VAR_DIR=str(tmp_path), PORT=str(web_port), SIMULATOR_PORT=str(simulator_port))
    runner = subprocess.Popen(
        [sys.executable, "-m", "dashboard.embedded"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not any("Log in as:" in line for line in output):
            line = runner.stdout.readline() if runner.stdout else ""
            assert line or runner.poll() is None, "".join(output)
            output.append(line)
            assert time.monotonic() < deadline, "".join(output)
        banner = "".join(output)
        assert f"Error Desk is running at http://127.0.0.1:{web_port}/" in banner
        assert f"the bundled simulator at http://127.0.0.1:{simulator_port}" in banner
        username, password = re.search(r"Log in as: (\S+)\s+/\s+password: (\S+)", banner).groups()
        assert username == "demo"
        assert len(password) >= 12
        assert json.loads((tmp_path / "demo-login.json").read_text())["password"] == password

        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login/", timeout=5) as response:
            assert b"Log in to Error Desk" in response.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"
        children = psutil.Process(runner.pid).children(recursive=True)
        commands = " ".join(" ".join(child.cmdline()) for child in children)
        for part in (
            "gunicorn",
            "celery -A dashboard worker",
            "celery -A dashboard beat",
            "celigo_api.simulator",
        ):
            assert part in commands
    finally:
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=30)
    assert runner.returncode == 0
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


def test_the_embedded_default_keeps_its_own_encryption_key(tmp_path):
    env = embedded_environment({"ERROR_DESK_VAR_DIR": str(tmp_path)})
    keys = env["FIELD_ENCRYPTION_KEYS"].split(",")
    assert len(keys) == 1
    Fernet(keys[0])
    assert (tmp_path / "field_encryption_keys").stat().st_mode & 0o777 == 0o600
    assert embedded_environment({"ERROR_DESK_VAR_DIR": str(tmp_path)})["FIELD_ENCRYPTION_KEYS"] == keys[0]


def test_an_earlier_embedded_database_keeps_reading_its_tokens(tmp_path):
    (tmp_path / "secret_key").write_text("an-earlier-secret-key-0123456789abcdef")
    (tmp_path / "errordesk.sqlite3").write_bytes(b"")
    stored = Fernet(read.derived_field_key("an-earlier-secret-key-0123456789abcdef")).encrypt(b"celigo-token")
    env = embedded_environment({"ERROR_DESK_VAR_DIR": str(tmp_path)})
    keys = [Fernet(key) for key in env["FIELD_ENCRYPTION_KEYS"].split(",")]
    assert len(keys) == 2
    assert MultiFernet(keys).decrypt(stored) == b"celigo-token"


def test_manage_py_reads_the_keys_make_run_keeps_only_on_the_embedded_default(tmp_path):
    embedded = embedded_environment({"ERROR_DESK_VAR_DIR": str(tmp_path)})
    plain = read.with_embedded_keys({}, tmp_path)
    assert plain["SECRET_KEY"] == embedded["SECRET_KEY"]
    assert plain["FIELD_ENCRYPTION_KEYS"] == embedded["FIELD_ENCRYPTION_KEYS"]
    # A variable that is set wins; a deployment (DATABASE_URL) never reads var/.
    assert read.with_embedded_keys({"SECRET_KEY": "mine"}, tmp_path)["SECRET_KEY"] == "mine"
    deployed = read.with_embedded_keys({"DATABASE_URL": "postgres://db/errordesk"}, tmp_path)
    assert "SECRET_KEY" not in deployed
    assert "FIELD_ENCRYPTION_KEYS" not in deployed
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY: is required"):
        read.secret_key(deployed, debug=False)


def test_manage_py_does_not_make_keys_of_its_own(tmp_path):
    assert read.with_embedded_keys({}, tmp_path) == {}
    assert not (tmp_path / "secret_key").exists()


def readme_command(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``uv run python manage.py …`` as the README shows it: no key, no database in the environment."""
    env = {key: value for key, value in os.environ.items() if key not in EMBEDDED_DEFAULTS | {"DEBUG"}}
    env["ERROR_DESK_VAR_DIR"] = str(var)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_the_readme_commands_work_beside_make_run_and_its_console_shows_only_the_banner(tmp_path):
    web_port, simulator_port = free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if key not in EMBEDDED_DEFAULTS | {"DEBUG"}}
    env.update(ERROR_DESK_VAR_DIR=str(tmp_path), PORT=str(web_port), SIMULATOR_PORT=str(simulator_port))
    runner = subprocess.Popen(
        [sys.executable, "-m", "dashboard.embedded"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while not (len(output) > 1 and "Press Ctrl-C" in output[-2]):  # then the banner's closing line
            line = runner.stdout.readline() if runner.stdout else ""
            assert line or runner.poll() is None, "".join(output)
            output.append(line)
            assert time.monotonic() < deadline, "".join(output)
        console = "".join(output)
        # Only what a person needs: no request log, no Celery banner; the URL and the login come last.
        assert "GET /v1/" not in console
        assert "celery@" not in console
        assert "[tasks]" not in console
        banner = console[console.index("Error Desk is running at") :]
        assert "Log in as: demo" in banner
        assert console.rstrip().endswith("=" * 72)  # nothing after the banner
        assert (tmp_path / "log" / "simulator.log").exists()
        assert (tmp_path / "log" / "worker.log").exists()

        listed = readme_command(tmp_path, "celigo_account", "list")
        assert listed.returncode == 0, listed.stderr
        assert "Acme Retail (demo)" in listed.stdout
        for _ in range(30):  # the worker's own first sync may hold the account's lease for a while
            synced = readme_command(tmp_path, "celigo_sync", "--json")
            if "already running" not in synced.stderr:
                break
            time.sleep(2)
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout.strip().splitlines()[-1])["outcome"] == "succeeded"
        exported = readme_command(tmp_path, "export_errors", "--format", "csv", "--status", "open")
        assert exported.returncode == 0, exported.stderr
        rows = list(csv.DictReader(io.StringIO(exported.stdout)))
        assert rows
        assert {row["status"] for row in rows} == {"open"}
    finally:
        runner.send_signal(signal.SIGINT)
        runner.wait(timeout=30)
    assert runner.returncode == 0
    # The sync's requests and the worker's tasks went to var/log/, never to the console.
    assert runner.stdout is not None
    assert runner.stdout.read().strip() == "Stopping Error Desk…"
    assert "GET /v1/" in (tmp_path / "log" / "simulator.log").read_text()
