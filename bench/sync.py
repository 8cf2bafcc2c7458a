"""Sync engine benchmark: API calls per cycle, ingest speed against raw SQL, and worker memory.

Runs against a generated simulator account (default: 20 integrations x 20 flows x 3 steps = 1,200 steps,
200,000 errors) and a PostgreSQL database of its own, and prints one JSON object:

* ``no_change_cycle_calls`` — Celigo calls of an incremental sync in which nothing changed, against the
  budget (integrations + 2) and a naive poll of every step's open list (one call per step, at least);
* ``after_100_new_errors_in_10_steps_calls`` — calls of the next incremental sync after that change;
* ``after_100_new_errors_20_resolved_*`` — then 100 new errors in 10 other steps, of which the 20 newest
  (2 per step) are resolved before the sync: the sync's calls, the new rows it recorded, and how many of
  them it recorded as resolved (goal: 100 and 20);
* ``ingest`` — first-sync rows/s (HTTP from the simulator included) against a raw psycopg
  ``INSERT … ON CONFLICT DO UPDATE`` of the same rows into the same (emptied) table, in batches of 1,000
  (goal: ratio ≥ 0.5);
* ``memory`` — peak RSS of the syncing process at the full size and at a tenth of it (goal: flat).

    uv run python bench/sync.py [--errors 200000] [--integrations 20] [--flows-per-integration 20]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres")
TOKEN_SEED = 7
# Production settings need a Fernet key for the stored Celigo token; this one encrypts a benchmark's only.
BENCH_FIELD_KEY = base64.urlsafe_b64encode(b"bench-only-field-encryption-key!").decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database(name: str) -> str:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(name: str) -> None:
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_simulator(args: argparse.Namespace, errors: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celigo_api.simulator",
            "--port",
            str(port),
            "--seed",
            str(TOKEN_SEED),
            "--integrations",
            str(args.integrations),
            "--flows-per-integration",
            str(args.flows_per_integration),
            "--steps-per-flow",
            str(args.steps_per_flow),
            "--errors",
            str(errors),
            "--page-size",
            "1000",
            "--burst",
            "1000000",
            "--rate",
            "1000000",
            "--quiet",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base_url + "/__sim__/stats", timeout=2):  # noqa: S310 - loopback
                return process, base_url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the simulator did not start")


def run_child(database_url: str, base_url: str, steps: list[str]) -> dict[str, Any]:
    """Run ``steps`` of the benchmark in a fresh Django process (so its peak RSS is its own)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-" + "k" * 40,
        "FIELD_ENCRYPTION_KEYS": BENCH_FIELD_KEY,
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, __file__, "--child", base_url, *steps],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def child(base_url: str, steps: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from celigo_api import BucketConfig, CeligoClient, InProcessLimiter
    from dashboard.models import CeligoAccount, ErrorRecord, Integration, Step
    from dashboard.sync.run import sync_account

    out: dict[str, object] = {}
    if "migrate" in steps:
        call_command("migrate", verbosity=0)
    account = CeligoAccount.objects.filter(name="bench").first()
    if account is None:
        account = CeligoAccount(
            name="bench", base_url=base_url, region="", rate_burst=1_000_000, rate_per_second=1_000_000
        )
        account.token = f"sim-token-{TOKEN_SEED}"
        account.save()

    def client() -> CeligoClient:
        return CeligoClient(
            account.token,
            base_url=base_url,
            limiter=InProcessLimiter(),
            bucket=BucketConfig(burst=1_000_000, rate=1_000_000),
        )

    if "first" in steps:
        started = time.perf_counter()
        run = sync_account(account, full=True, client=client())
        out["first_sync_seconds"] = time.perf_counter() - started
        out["first_sync_outcome"] = run.outcome
        out["rows"] = ErrorRecord.objects.count()
        out["first_sync_calls"] = run.api_calls
    if "cycles" in steps:
        sync_account(account, full=False, client=client())  # settles summaries a full reconcile derives
        quiet = sync_account(account, full=False, client=client())
        out["no_change_cycle_calls"] = quiet.api_calls
        out["integrations"] = Integration.objects.count()
        out["steps"] = Step.objects.count()
        chosen = list(Step.objects.filter(account=account).select_related("flow").order_by("pk")[:10])
        for step in chosen:
            control(
                base_url, "errors", {"flowId": step.flow.celigo_id, "stepId": step.celigo_id, "count": 10}
            )
        changed = sync_account(account, full=False, client=client())
        out["after_100_new_errors_in_10_steps_calls"] = changed.api_calls
        out["after_100_new_errors_new_rows"] = changed.errors_new
        # Ten other steps get 10 new errors each; the 2 newest of each are resolved again before the sync,
        # so their steps' open counts rise by 8 and nothing but the resolved lists shows the other 20.
        for step in Step.objects.filter(account=account).select_related("flow").order_by("pk")[10:20]:
            target = {"flowId": step.flow.celigo_id, "stepId": step.celigo_id}
            control(base_url, "errors", {**target, "count": 10})
            control(base_url, "resolve", {**target, "newest": 2})
        births = sync_account(account, full=False, client=client())
        out["after_100_new_errors_20_resolved_calls"] = births.api_calls
        out["after_100_new_errors_20_resolved_rows_recorded"] = births.errors_new
        out["after_100_new_errors_20_resolved_recorded_resolved"] = ErrorRecord.objects.filter(
            account=account, status="resolved", first_seen_at__gte=births.started_at
        ).count()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def control(base_url: str, name: str, body: dict[str, object]) -> None:
    """POST to the simulator's control API (``/__sim__/errors``, ``/__sim__/resolve``)."""
    data = json.dumps(body).encode()
    request = urllib.request.Request(f"{base_url}/__sim__/{name}", data=data, method="POST")  # noqa: S310
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - loopback


def raw_insert_rate(database_url: str) -> float:
    """Rows/s of a plain psycopg ``INSERT … ON CONFLICT DO UPDATE`` of the rows the sync stored, into the
    same table (same indexes and foreign keys) emptied first, in batches of 1,000 with a commit each."""
    from psycopg.types.json import Jsonb

    with psycopg.connect(database_url) as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'dashboard_errorrecord' AND column_name <> 'id' ORDER BY ordinal_position"
            )
        ]
        rows = conn.execute(f"SELECT {', '.join(columns)} FROM dashboard_errorrecord").fetchall()  # noqa: S608
        conn.execute("TRUNCATE dashboard_errorrecord CASCADE")
        conn.commit()
        key = ["account_id", "celigo_flow_id", "celigo_step_id", "error_id"]
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
        placeholders = ", ".join(["%s"] * len(columns))
        sql = (
            f"INSERT INTO dashboard_errorrecord ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}"
        )
        raw_column = columns.index("raw")
        # Links between errors point at rows of the emptied table; they do not matter for the timing.
        unlinked = {columns.index("retry_of_id"), columns.index("regression_of_id")}
        prepared = [
            tuple(Jsonb(v) if i == raw_column else None if i in unlinked else v for i, v in enumerate(r))
            for r in rows
        ]
        started = time.perf_counter()
        with conn.cursor() as cursor:
            for start in range(0, len(prepared), 1000):
                cursor.executemany(sql, prepared[start : start + 1000])
                conn.commit()
        return len(prepared) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--errors", type=int, default=200_000)
    parser.add_argument("--integrations", type=int, default=20)
    parser.add_argument("--flows-per-integration", type=int, default=20)
    parser.add_argument("--steps-per-flow", type=int, default=3)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:])
        return

    results: dict[str, object] = {"errors": args.errors}
    memory: dict[str, float] = {}
    for size in (args.errors // 10, args.errors):
        name = f"errordesk_bench_sync_{size}"
        url = database(name)
        simulator, base_url = start_simulator(args, size)
        try:
            steps = ["migrate", "first"] + (["cycles"] if size == args.errors else [])
            measured = run_child(url, base_url, steps)
            memory[f"peak_rss_mb_at_{size}_errors"] = round(float(measured["peak_rss_mb"]), 1)
            if size == args.errors:
                sync_rate = float(measured["rows"]) / float(measured["first_sync_seconds"])
                raw_rate = raw_insert_rate(url)
                steps_count = int(measured["steps"])
                results.update(
                    integrations=measured["integrations"],
                    steps=steps_count,
                    no_change_cycle_calls=measured["no_change_cycle_calls"],
                    no_change_budget=int(measured["integrations"]) + 2,
                    naive_poll_calls_at_least=steps_count,
                    after_100_new_errors_in_10_steps_calls=measured["after_100_new_errors_in_10_steps_calls"],
                    after_100_new_errors_new_rows=measured["after_100_new_errors_new_rows"],
                    after_100_new_errors_20_resolved_calls=measured["after_100_new_errors_20_resolved_calls"],
                    after_100_new_errors_20_resolved_rows_recorded=measured[
                        "after_100_new_errors_20_resolved_rows_recorded"
                    ],
                    after_100_new_errors_20_resolved_recorded_resolved=measured[
                        "after_100_new_errors_20_resolved_recorded_resolved"
                    ],
                    ingest={
                        "rows": measured["rows"],
                        "first_sync_seconds": round(float(measured["first_sync_seconds"]), 2),
                        "first_sync_calls": measured["first_sync_calls"],
                        "sync_rows_per_second": round(sync_rate),
                        "raw_insert_rows_per_second": round(raw_rate),
                        "ratio": round(sync_rate / raw_rate, 3),
                    },
                )
        finally:
            simulator.terminate()
            simulator.wait()
            drop_database(name)
    small, large = memory.values()
    results["memory"] = {**memory, "growth_ratio": round(large / small, 3)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
