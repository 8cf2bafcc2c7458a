"""Routing rules benchmark: what 100 rules add to ingest, and how fast a rule's dry run answers.

Prints one JSON object:

* ``ingest_time_ratio_with_rules`` — the first sync of a generated simulator account (200,000 errors by
  default, as bench/sync.py builds it) with 100 enabled rules, against the same sync without rules, each into
  a fresh PostgreSQL database; the faster of ``--repeat`` runs of each counts (budget <= 1.10). The rules are
  a realistic mix: most ask for text that rarely appears, a few match broadly and set a team, assign in
  turn or tag, so the writes rules cause are measured as well as their evaluation.
* ``dry_run_p95_ms`` — a dry run (count, open count and sample) over the last 30 days of a database of
  1,000,000 errors loaded as bench/ui.py loads it (about a third of them in those 30 days), for several
  kinds of rule, ``--runs`` times each (budget <= 1,000 ms).

    uv run python bench/routing.py [--errors 200000] [--rows 1000000] [--runs 20] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import sync as sync_bench  # noqa: E402 (the repository root is on the path only now)

INGEST_BUDGET = 1.10
DRY_RUN_BUDGET_MS = 1000.0
DRY_RUN_DAYS = 30
DRY_RUN_DATABASE = "errordesk_bench_routing_dry_run"

# Conditions a lead might write; over generated data, most match little, a few match a lot.
RARE = [
    {"field": "message", "op": "contains", "value": "warehouse {i} is closed"},
    {"field": "message", "op": "regex", "value": "^Invalid quantity for SKU 9{i}[0-9]{{3}}$"},
    {"field": "code", "op": "is", "value": "E{i}"},
    {"field": "trace_key", "op": "glob", "value": "PO-{i}-*"},
    {"field": "classification", "op": "contains", "value": "class-{i}"},
]
BROAD = [
    ("any", [{"field": "message", "op": "contains", "value": "not found"}], {"tags": ["lookup"]}),
    ("all", [{"field": "retry_data", "op": "present", "value": ""}], {"tags": ["retriable"]}),
    ("all", [{"field": "code", "op": "regex", "value": "^(4|5)[0-9][0-9]$"}], {"team": "HTTP"}),
    (
        "any",
        [
            {"field": "source", "op": "is", "value": "connection"},
            {"field": "message", "op": "glob", "value": "*timed out*"},
        ],
        {"team": "Integrations", "assign_mode": "round_robin"},
    ),
]
DRY_RUNS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "message contains": ("all", [{"field": "message", "op": "contains", "value": "timed out"}]),
    "message regex": ("all", [{"field": "message", "op": "regex", "value": "^Order [0-9]+ failed"}]),
    "message glob": ("all", [{"field": "message", "op": "glob", "value": "record * already exists*"}]),
    "code and source": (
        "all",
        [
            {"field": "code", "op": "is", "value": "422"},
            {"field": "source", "op": "is", "value": "connection"},
        ],
    ),
    "classification or trace key": (
        "any",
        [
            {"field": "classification", "op": "contains", "value": "dup"},
            {"field": "trace_key", "op": "glob", "value": "SO-1234*"},
        ],
    ),
    "retry data and message": (
        "all",
        [
            {"field": "retry_data", "op": "present", "value": ""},
            {"field": "message", "op": "regex", "value": "field [^:]+: [0-9]{3}$"},
        ],
    ),
}


def create_rules(count: int, broad: bool = True) -> None:
    """``count`` rules: the broad ones first (they set teams), then rare ones, as a lead's list grows;
    without ``broad``, only rare ones (what evaluating rules costs when they seldom act)."""
    from django.contrib.auth import get_user_model

    from dashboard.actions.rules import RuleFields, do_create_rule
    from dashboard.models import Team, TeamMembership

    teams = {name: Team.objects.create(name=name) for name in ("HTTP", "Integrations")}
    for n in range(4):
        user = get_user_model().objects.create(username=f"bench-member-{n}")
        TeamMembership.objects.create(team=teams["Integrations"], user=user)
    for n, (match, conditions, actions) in enumerate(BROAD if broad else []):
        team = teams.get(str(actions.get("team", "")))
        fields = RuleFields(
            name=f"broad {n}",
            conditions=conditions,
            match=match,
            team=team,
            assign_mode=str(actions.get("assign_mode", "")),
            tags=list(actions.get("tags", [])),
        )
        do_create_rule(None, fields)
    for i in range(count - (len(BROAD) if broad else 0)):
        shape = RARE[i % len(RARE)]
        condition = {**shape, "value": shape["value"].format(i=i)}
        team = teams["HTTP"] if i % 10 == 0 else None
        do_create_rule(
            None, RuleFields(name=f"rare {i}", conditions=[condition], team=team, tags=[f"rare-{i}"])
        )


def child(base_url: str, steps: list[str]) -> None:
    """One first sync in this fresh process (``rules`` first creates the 100 rules)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from celigo_api import BucketConfig, CeligoClient, InProcessLimiter
    from dashboard.models import CeligoAccount, ErrorRecord, RoutingRule, RuleHit
    from dashboard.sync.run import sync_account

    call_command("migrate", verbosity=0)
    if "rules" in steps:
        create_rules(100, broad="rare-only" not in steps)
    account = CeligoAccount(
        name="bench", base_url=base_url, region="", rate_burst=1_000_000, rate_per_second=1_000_000
    )
    account.token = f"sim-token-{sync_bench.TOKEN_SEED}"
    account.save()
    client = CeligoClient(
        account.token,
        base_url=base_url,
        limiter=InProcessLimiter(),
        bucket=BucketConfig(burst=1_000_000, rate=1_000_000),
    )
    started = time.perf_counter()
    run = sync_account(account, full=True, client=client)
    seconds = time.perf_counter() - started
    out = {
        "seconds": seconds,
        "outcome": run.outcome,
        "rows": ErrorRecord.objects.count(),
        "rules": RoutingRule.objects.count(),
        "rule_hits": RuleHit.objects.count(),
        "routed_to_a_team": ErrorRecord.objects.filter(team__isnull=False).count(),
    }
    print(json.dumps(out))


def run_child(database_url: str, base_url: str, steps: list[str]) -> dict[str, Any]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-" + "k" * 40,
        "FIELD_ENCRYPTION_KEYS": sync_bench.BENCH_FIELD_KEY,
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, __file__, "--child", base_url, *steps],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise RuntimeError(f"the sync process failed:\n{result.stderr[-4000:]}")
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    """First syncs without and with rules, alternating, each into a fresh database."""
    simulator, base_url = sync_bench.start_simulator(args, args.errors)
    timings: dict[str, list[float]] = {"without": [], "with": []}
    last: dict[str, dict[str, Any]] = {}
    try:
        for _ in range(args.repeat):
            for label in ("without", "with"):
                name = f"errordesk_bench_routing_{label}"
                url = sync_bench.database(name)
                try:
                    mix = ["rules"] + (["rare-only"] if args.rare_only else [])
                    measured = run_child(url, base_url, mix if label == "with" else [])
                finally:
                    sync_bench.drop_database(name)
                timings[label].append(float(measured["seconds"]))
                last[label] = measured
    finally:
        simulator.terminate()
        simulator.wait()
    without, with_rules = min(timings["without"]), min(timings["with"])
    return {
        "errors": last["with"]["rows"],
        "rules": last["with"]["rules"],
        "rule_hits": last["with"]["rule_hits"],
        "routed_to_a_team": last["with"]["routed_to_a_team"],
        "first_sync_seconds_without_rules": [round(t, 2) for t in timings["without"]],
        "first_sync_seconds_with_rules": [round(t, 2) for t in timings["with"]],
        "rule_mix": "rare only" if args.rare_only else "4 broad rules (2 teams, round robin, tags) + 96 rare",
        "ingest_time_ratio_with_rules": round(with_rules / without, 3),
        "budget": INGEST_BUDGET,
    }


def dry_runs(args: argparse.Namespace) -> dict[str, Any]:
    """Dry runs over 30 days of ``--rows`` errors loaded by bench/ui.py's SQL, in this process."""
    from bench import ui as ui_bench

    url = ui_bench.database_url(args.admin_url, DRY_RUN_DATABASE)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ.setdefault("FIELD_ENCRYPTION_KEYS", sync_bench.BENCH_FIELD_KEY)
    os.environ["DJANGO_SETTINGS_MODULE"] = "dashboard.settings"
    sync_bench.drop_database(DRY_RUN_DATABASE)
    sync_bench.database(DRY_RUN_DATABASE)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from dashboard.models import ErrorRecord
    from dashboard.queries.rules import dry_run

    try:
        call_command("migrate", verbosity=0)
        load = ui_bench.load(url, argparse.Namespace(rows=args.rows, open_ratio=0.35, fingerprints=2000))
        lead = get_user_model().objects.create(username="bench-lead")  # no profile: sees every error
        now = timezone.now()
        window = ErrorRecord.objects.filter(occurred_at__gte=now - timedelta(days=DRY_RUN_DAYS)).count()
        rules: dict[str, Any] = {}
        every: list[float] = []
        for label, (match, conditions) in DRY_RUNS.items():
            times = []
            result = None
            for _ in range(args.runs):
                started = time.perf_counter()
                result = dry_run(lead, match, conditions, days=DRY_RUN_DAYS, now=timezone.now())
                times.append((time.perf_counter() - started) * 1000)
            every += times
            assert result is not None
            rules[label] = {
                "count": result.count,
                "p50_ms": round(statistics.median(times), 1),
                "p95_ms": round(percentile(times, 95), 1),
            }
        return {
            "rows": ErrorRecord.objects.count(),
            "rows_in_the_last_30_days": window,
            "load": load,
            "runs_per_rule": args.runs,
            "rules": rules,
            "dry_run_p95_ms": round(percentile(every, 95), 1),
            "budget_ms": DRY_RUN_BUDGET_MS,
        }
    finally:
        connections.close_all()
        sync_bench.drop_database(DRY_RUN_DATABASE)


def percentile(values: list[float], pct: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--errors", type=int, default=200_000)
    parser.add_argument("--integrations", type=int, default=20)
    parser.add_argument("--flows-per-integration", type=int, default=20)
    parser.add_argument("--steps-per-flow", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=1, help="first syncs of each kind; the fastest counts")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--rare-only", action="store_true", help="100 rules that seldom match, none broad")
    parser.add_argument("--skip-dry-run", action="store_true")
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL URL allowed to create databases",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:])
        return
    report: dict[str, Any] = {}
    if not args.skip_ingest:
        report["ingest"] = ingest(args)
        report["ingest_time_ratio_with_rules"] = report["ingest"]["ingest_time_ratio_with_rules"]
    if not args.skip_dry_run:
        report["dry_run"] = dry_runs(args)
        report["dry_run_p95_ms"] = report["dry_run"]["dry_run_p95_ms"]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
