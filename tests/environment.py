"""Test-run environment, loaded with ``-p`` so it runs before pytest-django imports the settings.

The suite talks to real services where the behaviour lives there. Without ``DATABASE_URL`` it uses the
local PostgreSQL when one answers on 127.0.0.1:5432 and falls back to SQLite on a bare machine; under
``CI=true`` a missing service is a failure, never a skip (see ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_POSTGRES = ("127.0.0.1", 5432)
LOCAL_REDIS = ("127.0.0.1", 6379)


def port_open(address: tuple[str, int], timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


os.environ.setdefault("SECRET_KEY", "tests-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdHMtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE=")  # tests only
os.environ.setdefault("ERROR_DESK_VAR_DIR", str(ROOT / "var" / "test"))
if "DATABASE_URL" not in os.environ and port_open(LOCAL_POSTGRES):
    os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/errordesk"
# REDIS_URL switches the app's broker; tests that need Redis take TEST_REDIS_URL through a fixture.
if "TEST_REDIS_URL" not in os.environ:
    os.environ["TEST_REDIS_URL"] = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"


def pytest_report_header() -> list[str]:
    database = os.environ.get("DATABASE_URL") or "sqlite (embedded default)"
    return [
        f"error-desk: database={database} redis={os.environ['TEST_REDIS_URL']} CI={os.environ.get('CI', '')}"
    ]
