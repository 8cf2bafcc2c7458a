"""`make run`: the embedded default starts every process, prints the URL and a login, and stops cleanly."""

from __future__ import annotations

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
