"""Triage pages at one million errors: server time and SQL queries per page, on PostgreSQL.

Creates a dedicated database, fills it inside PostgreSQL with ``bench/ui_data.sql`` (``INSERT … SELECT …
FROM generate_series``: no row crosses the wire; secondary indexes are dropped during the load and rebuilt
after, as a bulk load should), then requests each page through Django's test client in-process and prints
JSON: p50/p95/max milliseconds and the SQL query count per page, first as a triager who sees every error,
then as a member restricted to the team Warehouse (about 10 % of the rows; names prefixed ``restricted:``).
The budget is p95 <= 100 ms (common pages).

Usage: ``uv run python bench/ui.py [--rows 1000000] [--runs 20] [--keep] [--reuse]
[--admin-url postgres://postgres@127.0.0.1:5432/postgres]``. ``--keep`` leaves the database for another run,
``--reuse`` skips the load when it is already there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE = "errordesk_bench_ui"
BUDGET_MS = 100.0
# Pages that keep an aggregate for a while are also timed with the cache emptied before every request.
COLD = " (cache emptied each run)"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--open-ratio", type=float, default=0.35)
    parser.add_argument("--fingerprints", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database instead of loading again")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL URL allowed to create databases",
    )
    return parser.parse_args()


def database_url(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(admin_url: str, reuse: bool) -> bool:
    """Create the bench database; answer whether it must be loaded."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone()
        if exists and reuse:
            return False
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    return True


def drop_database(admin_url: str) -> None:
    from django.db import connections

    connections.close_all()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def load(url: str, args: argparse.Namespace) -> dict[str, float]:
    sql = (ROOT / "bench" / "ui_data.sql").read_text()
    sql = sql.replace(":rows", str(int(args.rows))).replace(":open_ratio", str(float(args.open_ratio)))
    sql = sql.replace(":fingerprints", str(int(args.fingerprints)))
    timings: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        indexes = conn.execute(
            """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'dashboard_errorrecord'
               AND indexname NOT IN ('dashboard_errorrecord_pkey', 'error_unique_per_step')"""
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        started = time.perf_counter()
        with conn.transaction():
            conn.execute(sql.encode())  # our own file, no user input
        timings["insert_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            conn.execute(definition)
        timings["index_seconds"] = round(time.perf_counter() - started, 1)
        started = time.perf_counter()
        # Autovacuum would do this in production; index-only scans need the visibility map it sets.
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_seconds"] = round(time.perf_counter() - started, 1)
    return timings


def samples(user: Any) -> tuple[Any, Any, Any, Any]:
    """An account, an integration, a flow and an open error the user can see, to put in URLs."""
    from dashboard.access import visible_errors
    from dashboard.models import CeligoAccount, Flow, Integration

    visible = visible_errors(user)
    account = CeligoAccount.objects.filter(pk__in=visible.values("account_id")).order_by("pk").first()
    integration = (
        Integration.objects.filter(account=account, pk__in=visible.values("integration_id"))
        .order_by("pk")
        .first()
    )
    flow = list(Flow.objects.filter(pk__in=visible.values("flow_id")).order_by("pk")[:11])[-1]
    sample = visible.filter(status="open").order_by("-occurred_at")[500]
    assert account is not None
    assert integration is not None
    return account, integration, flow, sample


def pages(user: Any) -> dict[str, str]:
    """The pages to time, with objects (a flow, an error) the user can see."""
    account, integration, flow, sample = samples(user)
    return {
        "list: open, newest first (default)": "/errors/?status=open",
        "list: all statuses, newest first": "/errors/",
        "list: open, oldest first": "/errors/?status=open&ordering=occurred_at",
        "list: open, sort by code": "/errors/?status=open&ordering=code",
        "list: open, sort by source desc": "/errors/?status=open&ordering=-source",
        "list: resolved, latest resolved first": "/errors/?status=resolved&ordering=-resolved_at",
        "list: open in one account": f"/errors/?status=open&account={account.pk}",
        "list: open in one integration": f"/errors/?status=open&integration_id={integration.celigo_id}",
        "list: open in one flow": f"/errors/?status=open&flow_id={flow.celigo_id}",
        "list: open with one code": "/errors/?status=open&code=422",
        "list: open, one class, last 7 days": "/errors/?status=open&classification=value&occurred=7d",
        "list: assigned to me": "/errors/?assignee=me&status=open",
        "list: search a trace key": f"/errors/?q={sample.trace_key}",
        "list: search message words, open": "/errors/?status=open&q=timed+out",
        "list: one fingerprint": f"/errors/?status=open&fingerprint={sample.fingerprint}",
        "list: page 20": "/errors/?status=open&page=20",
        "grouped: open": "/errors/?status=open&group=fingerprint",
        f"grouped: open{COLD}": "/errors/?status=open&group=fingerprint",
        "grouped: open in one account": f"/errors/?status=open&account={account.pk}&group=fingerprint",
        "grouped: open, last 7 days": "/errors/?status=open&occurred=7d&group=fingerprint",
        "overview: page": "/",
        "overview: accounts and sync": "/overview/accounts/",
        "overview: open per account": "/overview/drill/?level=account",
        "overview: open per integration": f"/overview/drill/?level=integration&parent={account.pk}",
        "overview: ageing": "/overview/ageing/",
        "overview: open per team": "/overview/teams/",
        "overview: trend": "/overview/trend/",
        f"overview: trend{COLD}": "/overview/trend/",
        "overview: recent flow runs": "/overview/jobs/",
        "detail": f"/errors/{sample.pk}/",
    }


def measure(runs: int, username: str, prefix: str = "") -> dict[str, Any]:
    """Time every page as ``username``; result names start with ``prefix``."""
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user = get_user_model().objects.filter(username=username).first()
    assert user is not None
    client = Client()
    client.force_login(user)
    results: dict[str, Any] = {}

    for name, url in pages(user).items():
        name = prefix + name
        cold = name.endswith(COLD)
        client.get(url)  # warm the connection and PostgreSQL's buffers, as a page in use is
        samples = []
        queries = 0
        for _ in range(runs):
            if cold:
                cache.clear()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                samples.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured)
        samples.sort()
        p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
        results[name] = {
            "url": url,
            "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(p95, 1),
            "max_ms": round(samples[-1], 1),
            "queries": queries,
            "within_budget": p95 <= BUDGET_MS,
        }
        print(f"{name}: p95 {p95:.1f} ms, {queries} queries", file=sys.stderr)
    return results


def main() -> None:
    args = parse_args()
    url = database_url(args.admin_url, DATABASE)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("ERROR_DESK_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    must_load = create_database(args.admin_url, args.reuse)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    # The test client renders through the manifest storage when DEBUG is off; collect static files once.
    if not (Path(settings.STATIC_ROOT) / "staticfiles.json").exists():
        call_command("collectstatic", interactive=False, verbosity=0)
    settings.ALLOWED_HOSTS = ["*"]
    load_timings: dict[str, float] = {}
    if must_load:
        call_command("migrate", verbosity=0)
        load_timings = load(url, args)
    from dashboard.models import ErrorRecord

    try:
        report = {
            "rows": ErrorRecord.objects.count(),
            "open": ErrorRecord.objects.filter(status="open").count(),
            "load": load_timings,
            "runs_per_page": args.runs,
            "budget_p95_ms": BUDGET_MS,
            # A triager who sees everything, then a member restricted to Warehouse (about 10 % of the rows).
            "pages": {
                **measure(args.runs, "bench-user-1"),
                **measure(args.runs, "bench-restricted", prefix="restricted: "),
            },
            "restricted_team_rows": ErrorRecord.objects.filter(team__name="Warehouse").count(),
        }
        report["all_within_budget"] = all(page["within_budget"] for page in report["pages"].values())
        print(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            drop_database(args.admin_url)


if __name__ == "__main__":
    main()
