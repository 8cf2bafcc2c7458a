"""A real Celery round trip: this process sends a task, a real worker process runs it and writes the DB."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from kombu import Connection

from dashboard.celery import app as celery_app
from dashboard.models import WorkerHeartbeat

ROOT = Path(__file__).resolve().parents[2]


def worker_database_url() -> str:
    """The URL of the database pytest-django created, for a worker in another process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    port = db.get("PORT") or 5432
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{port}/{db['NAME']}"


def start_worker(env_overrides: dict[str, str], hostname: str, *extra: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"REDIS_URL", "DATABASE_URL"}}
    env.update(env_overrides, DATABASE_URL=worker_database_url())
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dashboard",
            "worker",
            "--pool",
            "solo",
            "--hostname",
            hostname,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel",
            "WARNING",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_heartbeat(
    hostname: str, worker: subprocess.Popen[str], timeout: float = 60.0
) -> WorkerHeartbeat:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        beat = WorkerHeartbeat.objects.filter(hostname=hostname).first()
        if beat is not None:
            return beat
        if worker.poll() is not None:
            pytest.fail(f"worker exited early:\n{worker.stdout.read() if worker.stdout else ''}")
        time.sleep(0.2)
    pytest.fail(f"no heartbeat from {hostname} within {timeout} s")


def stop(worker: subprocess.Popen[str]) -> None:
    worker.terminate()
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_through_the_filesystem_broker(tmp_path):
    hostname = f"fs-{uuid.uuid4().hex[:8]}@roundtrip"
    (tmp_path / "celery" / "queue").mkdir(parents=True)
    worker = start_worker({"ERROR_DESK_VAR_DIR": str(tmp_path)}, hostname)
    try:
        queue = str(tmp_path / "celery" / "queue")
        options = {
            "data_folder_in": queue,
            "data_folder_out": queue,
            "control_folder": str(tmp_path / "control"),
        }
        broker = Connection("filesystem://", transport_options=options)
        with broker:
            celery_app.send_task("dashboard.record_heartbeat", connection=broker)
        assert wait_for_heartbeat(hostname, worker).seen_at is not None
    finally:
        stop(worker)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_runs_a_task_through_redis(redis_url, tmp_path):
    hostname = f"redis-{uuid.uuid4().hex[:8]}@roundtrip"
    # A queue of its own, so a worker of another test run on the same Redis cannot take the message.
    queue = f"roundtrip-{uuid.uuid4().hex[:8]}"
    worker = start_worker(
        {"REDIS_URL": redis_url, "ERROR_DESK_VAR_DIR": str(tmp_path)}, hostname, "--queues", queue
    )
    try:
        with Connection(redis_url) as broker:
            celery_app.send_task("dashboard.record_heartbeat", connection=broker, queue=queue)
        assert wait_for_heartbeat(hostname, worker).seen_at is not None
    finally:
        stop(worker)


@pytest.mark.django_db
def test_services_queue_tasks_by_name_through_the_tasks_own_options(settings):
    """``enqueue`` never imports the tasks module, yet runs the registered task (eagerly here)."""
    from dashboard.celery import enqueue

    celery_app.conf.task_always_eager = True
    try:
        enqueue("dashboard.record_heartbeat")
    finally:
        celery_app.conf.task_always_eager = False
    assert WorkerHeartbeat.objects.count() == 1
