"""Health of the parts Error Desk needs: the database, the Celery broker and, when configured, Redis.

Each check returns a ``PartHealth``; ``/healthz`` answers 503 when any required part is down and names it.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from dashboard.celery import app as celery_app
from dashboard.models import WorkerHeartbeat

CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class PartHealth:
    name: str
    ok: bool
    detail: str
    milliseconds: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def timed(name: str, check: Any) -> PartHealth:
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # any failure of a part is reported, never raised
        detail = f"{type(exc).__name__}: {exc}"
        ok = False
    return PartHealth(name, ok, detail, round((time.perf_counter() - started) * 1000, 1))


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor} reachable"


def check_broker() -> str:
    if not settings.REDIS_URL:
        queue_dir = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
        if not os.access(queue_dir, os.W_OK):
            raise PermissionError(f"queue folder {queue_dir} is not writable")
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT_SECONDS
        )
        return f"{conn.transport_cls} broker reachable"


def check_redis() -> str:
    client = redis.Redis.from_url(
        str(settings.REDIS_URL),
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
    return "PONG"


def system_health() -> list[PartHealth]:
    parts = [timed("database", check_database), timed("broker", check_broker)]
    if settings.REDIS_URL:
        parts.append(timed("redis", check_redis))
    return parts


def last_worker_heartbeat() -> dict[str, Any] | None:
    """The newest heartbeat a Celery worker recorded, for information only (workers may be scaled to 0)."""
    beat = WorkerHeartbeat.objects.order_by("-seen_at").first()
    if beat is None:
        return None
    age = (timezone.now() - beat.seen_at).total_seconds()
    return {"hostname": beat.hostname, "seen_at": beat.seen_at.isoformat(), "age_seconds": round(age, 1)}
