"""docker-compose.yml and the Dockerfile: validated as files, and their topology run as local processes.

There is no Docker engine on our build machines, so the compose file is checked by parsing it (and by
``docker compose config`` where the client has the compose plugin), and the same services are started
as plain processes on loopback, with the commands read from the compose file itself.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from kombu import Connection

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = {"migrate", "web", "worker", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_it_declares_the_production_services(compose):
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat", "migrate", "simulator"} <= set(services)
    assert services["simulator"]["profiles"] == ["demo"]
    assert "profiles" not in services["web"]


def test_it_builds_every_app_service_from_one_image(compose):
    services = compose["services"]
    images = {services[name]["image"] for name in APP_SERVICES | {"simulator"}}
    assert images == {"error-desk:latest"}
    assert all(services[name]["build"] == "." for name in APP_SERVICES)


def test_it_gives_the_long_running_services_health_checks(compose):
    services = compose["services"]
    for name in ("postgres", "redis", "web", "worker", "simulator"):
        assert services[name]["healthcheck"]["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_it_waits_for_healthy_dependencies_and_migrations(compose):
    services = compose["services"]
    for name in ("web", "worker", "beat"):
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_it_keeps_postgres_data_in_a_volume(compose):
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "pgdata" in compose["volumes"]


def test_it_requires_secrets_instead_of_defaulting_them(compose):
    env = compose["services"]["web"]["environment"]
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["FIELD_ENCRYPTION_KEYS"].startswith("${FIELD_ENCRYPTION_KEYS:?")
    assert env["REDIS_URL"] == "redis://redis:6379/0"


def test_it_runs_the_image_as_a_non_root_user_with_locked_packages():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen" in dockerfile
    assert "collectstatic" in dockerfile
    user_lines = [line for line in dockerfile.splitlines() if line.startswith("USER ")]
    assert user_lines
    assert user_lines[-1] != "USER root"
    for copied in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        for path in copied.split():
            assert (ROOT / path).exists(), f"Dockerfile copies {path}, which does not exist"


def test_it_passes_docker_compose_config_when_the_client_can():
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("this docker client has no compose plugin; the file is validated by parsing above")
    env = {**os.environ, "SECRET_KEY": "x" * 40, "FIELD_ENCRYPTION_KEYS": "k"}
    result = subprocess.run(
        [docker, "compose", "-f", "docker-compose.yml", "--profile", "demo", "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


# --- The same topology as local processes -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_argv(command: list[str], web_port: int) -> list[str]:
    """A compose command as it runs here: our interpreter, and loopback instead of 0.0.0.0:8000."""
    argv = [
        arg.replace("0.0.0.0:8000", f"127.0.0.1:{web_port}").replace("/app/var", "var") for arg in command
    ]
    if argv[0] == "python":
        return [sys.executable, *argv[1:]]
    return [sys.executable, "-m", argv[0], *argv[1:]]


@pytest.fixture
def topology_database():
    """A database of its own on the local PostgreSQL, as the compose postgres service provides."""
    admin_url = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
    name = f"errordesk_topology_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=2)
    except psycopg.OperationalError as exc:
        from tests.conftest import unavailable

        unavailable(f"PostgreSQL is unreachable: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"postgres://postgres:postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.slow
def test_it_runs_the_compose_topology_as_processes(compose, topology_database, redis_url, tmp_path):
    services = compose["services"]
    web_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_URL"))},
        "DATABASE_URL": topology_database,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "topology-test-secret-key-0123456789abcdef",
        "ERROR_DESK_VAR_DIR": str(tmp_path),
        # As the compose file sets it: behind the TLS proxy, yet probed over plain HTTP inside.
        "BEHIND_TLS_PROXY": services["web"]["environment"]["BEHIND_TLS_PROXY"].split(":-")[1].rstrip("}"),
    }
    subprocess.run(
        local_argv(services["migrate"]["command"], web_port),
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    queue = f"topology-{uuid.uuid4().hex[:8]}"
    processes = {}
    try:
        for name in ("web", "worker", "beat"):
            argv = local_argv(services[name]["command"], web_port)
            if name == "worker":
                argv += ["--queues", queue, "--hostname", f"{queue}@local"]
            processes[name] = subprocess.Popen(
                argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        health = wait_for_json(f"http://127.0.0.1:{web_port}/healthz", processes)
        assert health["status"] == "ok"
        assert set(health["parts"]) == {"database", "broker", "redis"}
        page = http.client.HTTPConnection("127.0.0.1", web_port, timeout=5)
        page.request("GET", "/login/")
        answer = page.getresponse()
        assert (answer.status, answer.getheader("Location")) == (301, f"https://127.0.0.1:{web_port}/login/")

        with Connection(redis_url) as broker:
            from dashboard.celery import app

            app.send_task("dashboard.record_heartbeat", connection=broker, queue=queue)
        with psycopg.connect(topology_database.replace("postgres://", "postgresql://", 1)) as db:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                row = db.execute(
                    "SELECT hostname FROM dashboard_workerheartbeat WHERE hostname = %s", [f"{queue}@local"]
                ).fetchone()
                if row:
                    break
                time.sleep(0.3)
            assert row, "the worker never ran the task"
            schedule = db.execute("SELECT count(*) FROM django_celery_beat_periodictask").fetchone()
            assert schedule
            assert schedule[0] >= 1
        assert all(process.poll() is None for process in processes.values()), "a service died"
    finally:
        for process in processes.values():
            process.terminate()
        for name, process in processes.items():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                pytest.fail(f"{name} did not stop on SIGTERM")


def wait_for_json(url: str, processes: dict, timeout: float = 60.0) -> dict:
    import json

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited early:\n{process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 - loopback
                return json.loads(response.read())
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"{url} never answered")
