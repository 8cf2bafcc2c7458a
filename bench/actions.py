"""Bulk action benchmark: resolve 100,000 errors spread over 100 steps through the outbox.

Syncs a generated simulator account into a PostgreSQL database of its own, then resolves every open error
with one action batch ("all matching status=open") at the account's rate limit, and prints JSON: Celigo calls
made against the minimum (sum over steps of ceil(errors / 1000)), the achieved request rate against the
configured one and against the bucket's ceiling (burst + rate x wall time: the most calls Celigo would have
taken; goal >= 0.5), the 429s the simulator issued (goal 0) and the wall time.

    uv run python bench/actions.py [--errors 130000] [--burst 100] [--rate 30]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync import TOKEN_SEED, database, drop_database, start_simulator  # noqa: E402

BENCH_FIELD_KEY = "YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleSE="  # a Fernet key for this throwaway database


def sim_stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/__sim__/stats", timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--errors", type=int, default=130_000, help="errors generated (about 80%% stay open)")
    parser.add_argument("--integrations", type=int, default=5)
    parser.add_argument("--flows-per-integration", type=int, default=10)
    parser.add_argument("--steps-per-flow", type=int, default=2)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    name = "errordesk_bench_actions"
    url = database(name)
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY="bench-" + "k" * 40,
        FIELD_ENCRYPTION_KEYS=BENCH_FIELD_KEY,
        DJANGO_SETTINGS_MODULE="dashboard.settings",
    )
    os.environ.pop("REDIS_URL", None)
    simulator, base_url = start_simulator(args, args.errors)
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from celigo_api import BucketConfig, CeligoClient, InProcessLimiter
        from dashboard.models import ActionKind, CeligoAccount, CeligoState, ErrorRecord
        from dashboard.outbox.request import request_action
        from dashboard.outbox.runner import run_batch
        from dashboard.sync.run import sync_account

        call_command("migrate", verbosity=0)
        account = CeligoAccount(name="bench", base_url=base_url, region="")
        account.token = f"sim-token-{TOKEN_SEED}"
        account.save()
        fast = CeligoClient(
            account.token,
            base_url=base_url,
            limiter=InProcessLimiter(),
            bucket=BucketConfig(burst=1_000_000, rate=1_000_000),
        )
        sync_account(account, full=True, client=fast)
        per_step = Counter(
            ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).values_list(
                "celigo_flow_id", "celigo_step_id"
            )
        )
        open_errors = sum(per_step.values())
        minimum = sum(math.ceil(n / 1000) for n in per_step.values())

        # The batch runs at the account's limit, as in production; the simulator enforces a bucket just as
        # large, so any 429 is a pacing bug of ours.
        CeligoAccount.objects.filter(pk=account.pk).update(rate_burst=args.burst, rate_per_second=args.rate)
        account.refresh_from_db()
        user = get_user_model().objects.create_user("bench")
        reset = urllib.request.Request(base_url + "/__sim__/reset", data=b"{}", method="POST")  # noqa: S310
        urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 - loopback

        def client_for(acc: CeligoAccount) -> CeligoClient:
            return CeligoClient(
                acc.token,
                base_url=base_url,
                limiter=InProcessLimiter(),
                bucket=BucketConfig(burst=acc.rate_burst, rate=acc.rate_per_second),
            )

        started = time.perf_counter()
        batch = request_action(user, ActionKind.RESOLVE, filter_query="status=open", run_now=False)
        batch = run_batch(batch.pk, client_for=client_for)
        wall = time.perf_counter() - started
        assert batch is not None
        stats = sim_stats(base_url)
        resolve_calls = stats["by_endpoint"].get("resolve", 0)
        # Beyond the burst, calls cannot come faster than the rate: that is the ceiling we compare with.
        ceiling = args.burst + args.rate * wall
        print(
            json.dumps(
                {
                    "steps": len(per_step),
                    "open_errors_resolved": batch.succeeded,
                    "batch_state": batch.state,
                    "celigo_calls": resolve_calls,
                    "minimum_calls": minimum,
                    "wall_seconds": round(wall, 2),
                    "achieved_calls_per_second": round(resolve_calls / wall, 2),
                    "configured": {"burst": args.burst, "rate": args.rate},
                    "calls_vs_bucket_ceiling": round(resolve_calls / ceiling, 3),
                    "server_429s": stats["rate_limited_429"],
                    "errors_per_second": round(batch.succeeded / wall),
                },
                indent=2,
            )
        )
        assert open_errors == batch.succeeded
    finally:
        simulator.terminate()
        simulator.wait()
        if not args.keep:
            drop_database(name)


if __name__ == "__main__":
    main()
