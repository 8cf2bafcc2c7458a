from __future__ import annotations

import os
import shutil

import pytest
import redis as redis_lib
from django.db import connection

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """A missing service skips a test on a developer machine and fails it in CI."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required services must be up)")
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> str:
    url = os.environ["TEST_REDIS_URL"]
    client = redis_lib.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis_lib.RedisError as exc:
        unavailable(f"Redis at {url} is unreachable: {exc}")
    finally:
        client.close()
    return url


@pytest.fixture
def redis_client(redis_url: str):
    client = redis_lib.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not shutil.which(path):
        unavailable(f"Chromium not found at {path}")
    return path


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("postgres"):
            item.fixturenames.append("_needs_postgres")


@pytest.fixture
def _needs_postgres(db) -> None:
    if connection.vendor != "postgresql":
        unavailable("this test needs PostgreSQL (set DATABASE_URL=postgres://…)")


@pytest.fixture(scope="session", autouse=True)
def _collected_static(django_db_blocker) -> None:
    """Pages render through the manifest storage production uses, so collect static files once."""
    import fcntl
    from pathlib import Path

    from django.conf import settings
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    root.parent.mkdir(parents=True, exist_ok=True)
    manifest = root / "staticfiles.json"
    from django.apps import apps

    # Our static/ and every installed app's (Swagger UI comes with drf-spectacular-sidecar).
    folders = [Path(d) for d in settings.STATICFILES_DIRS]
    folders += [Path(config.path) / "static" for config in apps.get_app_configs()]
    sources = [p for d in folders if d.is_dir() for p in d.rglob("*") if p.is_file()]
    newest_source = max(p.stat().st_mtime for p in sources)
    # pytest-xdist workers start together: one collects while the others wait, then find it done.
    with open(root.parent / "collectstatic.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not manifest.exists() or manifest.stat().st_mtime < newest_source:
            call_command("collectstatic", interactive=False, verbosity=0)
