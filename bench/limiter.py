"""Shared limiter benchmark: several OS processes hammer one Celigo account on the simulator.

The simulator enforces the same leaky bucket as Celigo (burst B, R per second) and answers 429 when it
overflows. Each process runs its own CeligoClient on one shared limiter (Redis or file) configured with the
same numbers. Prints JSON:

* ``achieved_ratio``: requests after the initial burst, per second, over the configured rate
  (``(calls - burst) / (rate * seconds)``; the budget is 1.0, the goal >= 0.95).
* ``server_429``: 429s the simulator reports in ``/__sim__/stats`` (goal 0).
* ``max_window_excess``: the worst, over all windows of the sends the clients measured, of
  ``count - (burst + rate * t)`` (<= 0 means the bucket held on the client side too).

Usage: ``uv run python bench/limiter.py [--seconds 25] [--rate 30] [--burst 100] [--processes 4]
[--limiter redis|file] [--margin 0.02]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from celigo_api import (  # noqa: E402
    BucketConfig,
    CeligoClient,
    CeligoError,
    FileLimiter,
    RateLimited,
    RedisLimiter,
    RetryPolicy,
)

SIM_TOKEN = "sim-demo-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_simulator(port: int, burst: int, rate: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celigo_api.simulator", "--port", str(port), "--seed", "demo"]
    command += ["--burst", str(burst), "--rate", str(rate), "--quiet"]
    # stderr to a file, not a pipe: a pipe nobody reads fills up and blocks the server mid-run.
    log = tempfile.NamedTemporaryFile(prefix="limiter-bench-sim-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 30
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"simulator exited: {Path(log.name).read_text()}")
        try:
            requests.get(f"http://127.0.0.1:{port}/__sim__/stats", timeout=1).raise_for_status()
            return process
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("simulator did not start")


def sim_stats(port: int) -> dict[str, Any]:
    response = requests.get(f"http://127.0.0.1:{port}/__sim__/stats", timeout=60)
    response.raise_for_status()
    return dict(response.json())


def count_429(stats: dict[str, Any]) -> int:
    """Every 429 the simulator answered: its bucket's refusals (and any injected ones, none here)."""
    return int(stats.get("by_status", {}).get("429", 0))


def make_limiter(kind: str, target: str) -> Any:
    if kind == "redis":
        import redis

        url, prefix = target.split("|", 1)
        return RedisLimiter(redis.Redis.from_url(url), prefix=prefix)
    return FileLimiter(target)


def hammer(args: dict[str, Any], ready: Any, go: Any, start: Any, queue: Any) -> None:
    """One worker process: call tokenInfo as fast as the shared bucket allows until the deadline."""
    client = CeligoClient(
        SIM_TOKEN,
        base_url=args["base_url"],
        limiter=make_limiter(args["limiter"], args["target"]),
        limiter_key=args["key"],
        bucket=BucketConfig(burst=args["burst"], rate=args["rate"]),
        max_wait=60.0,
        retry_policy=RetryPolicy(max_attempts=1),  # count every 429 instead of hiding it in a retry
        pacing_margin=args["margin"],
    )
    sent: list[float] = []
    rate_limited = failures = 0
    # Start together once every process has imported and built its client: a slow spawn must not eat
    # into the measured window.
    ready.put(os.getpid())
    go.wait()
    start_at = start.value
    time.sleep(max(0.0, start_at - time.time()))
    deadline = start_at + args["seconds"]
    while time.time() < deadline:
        try:
            client.token_info()
        except RateLimited:
            rate_limited += 1
        except CeligoError:
            failures += 1
        sent.append(time.time())
    queue.put({"sent": sent, "rate_limited": rate_limited, "failures": failures, "calls": client.stats.calls})


def max_window_excess(times: list[float], burst: int, rate: float) -> float:
    """max over i <= j of (j - i + 1) - (burst + rate * (t_j - t_i))."""
    times = sorted(times)
    worst = float("-inf")
    for i in range(len(times)):
        for j in range(i, len(times)):
            worst = max(worst, (j - i + 1) - (burst + rate * (times[j] - times[i])))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--limiter", choices=("redis", "file"), default="redis")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--margin", type=float, default=None, help="client pacing margin (default: client's)")
    options = parser.parse_args()

    port = free_port()
    simulator = start_simulator(port, options.burst, options.rate)
    workdir = tempfile.mkdtemp(prefix="limiter-bench-")
    key = f"bench-{uuid.uuid4().hex[:12]}"
    target = (
        f"{options.redis_url}|bench:celigo:"
        if options.limiter == "redis"
        else str(Path(workdir) / "limiter.json")
    )
    margin = options.margin
    if margin is None:
        import inspect

        margin = inspect.signature(CeligoClient).parameters["pacing_margin"].default
    worker_args = {
        "base_url": f"http://127.0.0.1:{port}",
        "limiter": options.limiter,
        "target": target,
        "key": key,
        "burst": options.burst,
        "rate": options.rate,
        "seconds": options.seconds,
        "margin": margin,
    }
    try:
        before = count_429(sim_stats(port))
        context = multiprocessing.get_context("spawn")
        queue, ready, go = context.Queue(), context.Queue(), context.Event()
        start = context.Value("d", 0.0)
        workers = [
            context.Process(target=hammer, args=(worker_args, ready, go, start, queue))
            for _ in range(options.processes)
        ]
        for worker in workers:
            worker.start()
        for _ in workers:
            ready.get(timeout=120)
        start_at = time.time() + 0.2
        start.value = start_at
        go.set()
        results = [queue.get(timeout=options.seconds + 120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        after = count_429(sim_stats(port))
    finally:
        simulator.terminate()
        try:
            simulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            simulator.kill()
            simulator.wait()

    sent = [t for result in results for t in result["sent"]]
    calls = sum(r["calls"] for r in results)
    elapsed = max(sent) - start_at if sent else options.seconds
    report = {
        "benchmark": "limiter",
        "limiter": options.limiter,
        "processes": options.processes,
        "burst": options.burst,
        "rate": options.rate,
        "seconds": round(elapsed, 3),
        "pacing_margin": margin,
        "calls": calls,
        "achieved_rate": round((calls - options.burst) / elapsed, 3),
        "achieved_ratio": round((calls - options.burst) / (options.rate * elapsed), 4),
        "goal_ratio": 0.95,
        "server_429": after - before if after >= 0 and before >= 0 else None,
        "client_429": sum(r["rate_limited"] for r in results),
        "other_failures": sum(r["failures"] for r in results),
        "max_window_excess": round(max_window_excess(sent, options.burst, options.rate), 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
