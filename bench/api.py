"""``GET /api/v1/errors/`` at one million errors: server time and SQL queries per request, on PostgreSQL.

Builds the same world as ``bench/ui.py`` (``bench/ui_data.sql``, loaded inside PostgreSQL) in a database of
its own, gives the bench triager and the member restricted to Warehouse a read token each, and requests the
API in-process through Django's test client with ``Authorization: Bearer`` (middleware, authentication,
throttle, filterset, serializer: the server time without the network). Prints JSON: p50/p95/max ms and SQL
queries per request for the common filters, the 50th page reached through the cursor, the restricted
member's lists, and one list at page sizes 10 and 200 (its query count must not change).
Budget: p95 <= 100 ms.

Usage: ``uv run python bench/api.py [--rows 1000000] [--runs 20] [--keep] [--reuse]
[--admin-url postgres://postgres@127.0.0.1:5432/postgres]``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ui  # noqa: E402  (the path above makes the package importable when run as a script)

DATABASE = "errordesk_bench_api"
BUDGET_MS = 100.0
CURSOR_PAGE = 50


def requests_for(user: Any) -> dict[str, str]:
    account, integration, flow, sample = ui.samples(user)
    base = "/api/v1/errors/"
    since = sample.occurred_at.isoformat().replace("+00:00", "Z")
    return {
        "open, newest first (default)": f"{base}?status=open",
        "all statuses, newest first": base,
        "open, oldest first": f"{base}?status=open&ordering=occurred_at",
        "open, sort by code": f"{base}?status=open&ordering=code",
        "resolved, latest resolved first": f"{base}?status=resolved&ordering=-resolved_at",
        "open since a time (a sync script)": f"{base}?status=open&occurred_after={since}",
        "open in one account": f"{base}?status=open&account={account.pk}",
        "open in one integration": f"{base}?status=open&integration_id={integration.celigo_id}",
        "open in one flow": f"{base}?status=open&flow_id={flow.celigo_id}",
        "open with one code": f"{base}?status=open&code=422",
        "assigned to me": f"{base}?assignee=me&status=open",
        "search a trace key": f"{base}?q={sample.trace_key}",
        "one fingerprint": f"{base}?status=open&fingerprint={sample.fingerprint}",
        "page size 10": f"{base}?status=open&page_size=10",
        "page size 200": f"{base}?status=open&page_size=200",
        "groups: open": "/api/v1/groups/?status=open",
    }


def client_for(username: str) -> Any:
    from django.contrib.auth import get_user_model
    from django.test import Client

    from dashboard.models import ApiToken, TokenScope

    user = get_user_model().objects.get(username=username)
    _, secret = ApiToken.issue(user, scope=TokenScope.READ, name="bench")
    return user, Client(headers={"Authorization": f"Bearer {secret}"})


def cursor_url(client: Any, url: str, page: int) -> tuple[str, int]:
    """The URL of the ``page``-th page (the last on a small world), following ``next`` as a script does."""
    reached = 1
    while reached < page:
        following = client.get(url).json()["next"]
        if not following:
            break
        url, reached = following.replace("http://testserver", ""), reached + 1
    return url, reached


def time_request(client: Any, url: str, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url)  # warm the connection and PostgreSQL's buffers
    samples, queries = [], 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        queries = len(captured)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {
        "url": url,
        "p50_ms": round(statistics.median(samples), 1),
        "p95_ms": round(p95, 1),
        "max_ms": round(samples[-1], 1),
        "queries": queries,
        "within_budget": p95 <= BUDGET_MS,
    }


def measure(runs: int, username: str, prefix: str = "") -> dict[str, Any]:
    user, client = client_for(username)
    urls = requests_for(user)
    url, reached = cursor_url(client, "/api/v1/errors/?status=open", CURSOR_PAGE)
    urls[f"page {reached} through the cursor"] = url
    results = {}
    for name, url in urls.items():
        results[prefix + name] = time_request(client, url, runs)
        print(f"{prefix}{name}: p95 {results[prefix + name]['p95_ms']} ms", file=sys.stderr)
    return results


def main() -> None:
    args = ui.parse_args()
    ui.DATABASE = DATABASE
    url = ui.database_url(args.admin_url, DATABASE)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("ERROR_DESK_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZmc=")
    os.environ["API_REQUESTS_PER_MINUTE"] = "1000000"  # the bench measures requests, not the throttle
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    must_load = ui.create_database(args.admin_url, args.reuse)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    load_timings: dict[str, float] = {}
    if must_load:
        call_command("migrate", verbosity=0)
        load_timings = ui.load(url, args)
    from dashboard.models import ErrorRecord

    try:
        report: dict[str, Any] = {
            "rows": ErrorRecord.objects.count(),
            "open": ErrorRecord.objects.filter(status="open").count(),
            "load": load_timings,
            "runs_per_request": args.runs,
            "budget_p95_ms": BUDGET_MS,
            "requests": {
                **measure(args.runs, "bench-user-1"),
                **measure(args.runs, "bench-restricted", prefix="restricted: "),
            },
            "restricted_team_rows": ErrorRecord.objects.filter(team__name="Warehouse").count(),
        }
        requests = report["requests"]
        report["queries_independent_of_page_size"] = (
            requests["page size 10"]["queries"] == requests["page size 200"]["queries"]
        )
        report["all_within_budget"] = all(r["within_budget"] for r in requests.values())
        print(json.dumps(report, indent=2))
    finally:
        if not args.keep:
            ui.drop_database(args.admin_url)


if __name__ == "__main__":
    main()
