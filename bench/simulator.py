"""Benchmark the Celigo simulator: world generation time/memory and requests/s served on loopback.

Usage: ``uv run python bench/simulator.py [--seconds 3] [--threads 4]``. Prints one JSON document.

Throughput is measured with client threads in the same process (``requests``, one session per thread) on a
cheap endpoint (``GET /v1/tokenInfo``) and on a full step-error page (100 errors, ``GET
/v1/flows/{f}/{s}/errors``). werkzeug closes each connection after one response, so every request pays a
TCP handshake, as a client of this simulator always will. The rate limit is lifted for the measurement.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import requests

# Run as a script from anywhere: make the project importable, as bench/limiter.py does.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celigo_api.simulator import SimulatorConfig, SimulatorServer
from celigo_api.simulator.accounts import build_accounts
from celigo_api.simulator.clock import SimClock
from celigo_api.simulator.errors import ErrorFilter

SIZES: list[tuple[str, dict[str, int]]] = [
    ("10k", {"integrations": 3, "flows_per_integration": 4, "steps_per_flow": 3, "errors": 10_000}),
    ("100k", {"integrations": 5, "flows_per_integration": 10, "steps_per_flow": 4, "errors": 100_000}),
    ("1M", {"integrations": 10, "flows_per_integration": 10, "steps_per_flow": 5, "errors": 1_000_000}),
]


def measure_generation() -> list[dict[str, Any]]:
    """Time and peak Python heap of building each benchmark world, plus the cost of a deep page."""
    results = []
    for label, sizes in SIZES:
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        config = SimulatorConfig(
            seed=1,
            integrations=sizes["integrations"],
            flows_per_integration=sizes["flows_per_integration"],
            steps_per_flow=sizes["steps_per_flow"],
            errors=sizes["errors"],
        )
        world = build_accounts(config, SimClock())[0].world
        built = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        store = max(world.stores.values(), key=lambda s: s.n)
        now = world.clock.now_ms()
        started = time.perf_counter()
        cursor = None
        for _ in range(10):
            _, cursor = store.page(False, ErrorFilter(), cursor, 100, now)
        pages = (time.perf_counter() - started) / 10
        results.append(
            {
                "size": label,
                "errors": sizes["errors"],
                "steps": len(world.stores),
                "build_seconds": round(built, 3),
                "peak_heap_mb": round(peak / 2**20, 1),
                "largest_step_errors": store.n,
                "page_of_100_ms": round(pages * 1000, 2),
            }
        )
    return results


def hammer(url: str, token: str, seconds: float, threads: int) -> dict[str, Any]:
    """Requests/s served to ``threads`` clients calling ``url`` for ``seconds``."""
    counts = [0] * threads
    failures = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    deadline = time.perf_counter() + seconds

    def client(n: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            response = session.get(url, timeout=10)
            latencies[n].append(time.perf_counter() - started)
            if response.status_code == 200:
                counts[n] += 1
            else:
                failures[n] += 1

    workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    every = sorted(x for per in latencies for x in per)
    return {
        "threads": threads,
        "requests": sum(counts),
        "failures": sum(failures),
        "requests_per_second": round(sum(counts) / elapsed, 1),
        "p50_ms": round(every[len(every) // 2] * 1000, 2) if every else None,
        "p95_ms": round(every[int(len(every) * 0.95)] * 1000, 2) if every else None,
    }


def measure_throughput(seconds: float, threads: int) -> dict[str, Any]:
    config = SimulatorConfig(
        seed=1,
        errors=100_000,
        integrations=5,
        flows_per_integration=10,
        steps_per_flow=4,
        burst=10**9,
        rate=1e9,
        page_size=100,
    )
    with SimulatorServer(config) as sim:
        store = max(sim.state.stores.values(), key=lambda s: s.n)
        page_url = f"{sim.base_url}/v1/flows/{store.flow_id}/{store.step_id}/errors"
        results = {
            "token_info": hammer(f"{sim.base_url}/v1/tokenInfo", sim.token, seconds, threads),
            "step_error_page_100": hammer(page_url, sim.token, seconds, threads),
            "token_info_1_thread": hammer(f"{sim.base_url}/v1/tokenInfo", sim.token, seconds, 1),
        }
        results["server_peak_concurrency"] = sim.stats()["peak_concurrency"]
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    args = parser.parse_args()
    report = {
        "benchmark": "celigo_simulator",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "generation": measure_generation(),
        "throughput": measure_throughput(args.seconds, args.threads),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
