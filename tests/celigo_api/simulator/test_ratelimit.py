"""The server-side leaky bucket per account (docs/celigo-api.md §1.3)."""

from __future__ import annotations

import time
from collections.abc import Callable

from celigo_api.simulator import SimulatorServer
from celigo_api.simulator.ratelimit import LeakyBucket

from .conftest import Api


def test_it_refuses_a_burst_of_150_quick_calls_with_429_and_integer_retry_after_section_1_3(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(burst=100, rate=30.0)
    api = api_for(sim)
    responses = [api.get("/v1/tokenInfo") for _ in range(150)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited
    assert sum(r.status_code == 200 for r in responses) >= 100
    for response in limited:
        assert response.headers["Retry-After"].isdigit()
        assert int(response.headers["Retry-After"]) >= 1
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["errors"][0]["code"] == "rate_limited"
    assert sim.stats()["rate_limited_429"] == len(limited)


def test_it_never_limits_calls_paced_under_the_rate(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(burst=5, rate=40.0)
    api = api_for(sim)
    start = time.monotonic()
    statuses = []
    for n in range(60):
        # 30 calls per second against a 40/s bucket of 5.
        time.sleep(max(0.0, start + n / 30 - time.monotonic()))
        statuses.append(api.get("/v1/tokenInfo").status_code)
    assert set(statuses) == {200}


def test_it_keeps_one_bucket_per_account(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(burst=10, rate=1.0)
    api = api_for(sim)
    assert [api.get("/v1/tokenInfo").status_code for _ in range(12)].count(429) >= 2
    eu = Api(sim.base_url_for("eu"), sim.accounts[1].token)
    assert eu.get("/v1/tokenInfo").status_code == 200


def test_it_admits_again_after_the_retry_after_delay() -> None:
    bucket = LeakyBucket(burst=2, rate=20.0)
    assert bucket.take() is None
    assert bucket.take() is None
    wait = bucket.take()
    assert wait == 1
    time.sleep(0.06)
    assert bucket.take() is None
