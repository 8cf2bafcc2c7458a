"""The leaky bucket: its arithmetic as properties, and its three stores under real concurrency."""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from celigo_api import BucketConfig, FileLimiter, InProcessLimiter, RedisLimiter
from celigo_api.ratelimit import bucket_level, gcra_reserve

buckets = st.builds(
    BucketConfig, burst=st.integers(min_value=1, max_value=200), rate=st.floats(min_value=0.5, max_value=500)
)
gaps = st.lists(st.floats(min_value=0, max_value=2, allow_nan=False), min_size=1, max_size=300)


def _schedule(
    bucket: BucketConfig, arrival_gaps: list[float], max_wait: float = math.inf
) -> list[float | None]:
    """Send times for requests arriving after ``arrival_gaps``; None where refused."""
    tat: float | None = None
    now = 0.0
    sent: list[float | None] = []
    for gap in arrival_gaps:
        now += gap
        reservation, tat = gcra_reserve(tat, now, bucket, max_wait)
        sent.append(now + reservation.wait if reservation.granted else None)
    return sent


def _assert_window_bound(times: list[float], bucket: BucketConfig, slack: float = 1e-6) -> None:
    """Never more than burst + rate * t requests in any window of length t."""
    times = sorted(times)
    for i in range(len(times)):
        for j in range(i, len(times)):
            allowed = bucket.burst + bucket.rate * (times[j] - times[i]) + slack
            assert j - i + 1 <= allowed, (i, j, times[i], times[j])


@given(bucket=buckets, arrival_gaps=gaps)
@settings(max_examples=200, deadline=None)
def test_it_never_lets_more_than_burst_plus_rate_t_through_any_window(
    bucket: BucketConfig, arrival_gaps: list[float]
) -> None:
    sent = [t for t in _schedule(bucket, arrival_gaps) if t is not None]
    _assert_window_bound(sent, bucket)


@given(bucket=buckets, arrival_gaps=gaps)
@settings(max_examples=200, deadline=None)
def test_it_sends_in_reservation_order_and_never_before_arrival(
    bucket: BucketConfig, arrival_gaps: list[float]
) -> None:
    sent = _schedule(bucket, arrival_gaps)
    arrivals = [sum(arrival_gaps[: i + 1]) for i in range(len(arrival_gaps))]
    assert all(s is not None and s >= a - 1e-9 for s, a in zip(sent, arrivals, strict=True))
    assert sent == sorted(sent)  # type: ignore[type-var]


@given(bucket=buckets, n=st.integers(min_value=1, max_value=500))
def test_it_waits_no_longer_than_needed(bucket: BucketConfig, n: int) -> None:
    # n requests at once: the first `burst` go now, then one per interval (work-conserving).
    sent = _schedule(bucket, [0.0] * n)
    expected_last = max(0, n - bucket.burst) * bucket.interval
    assert sent[-1] == pytest.approx(expected_last, abs=1e-9)


@given(bucket=buckets, arrival_gaps=gaps, max_wait=st.floats(min_value=0, max_value=5))
@settings(max_examples=200, deadline=None)
def test_it_reserves_nothing_when_the_wait_exceeds_max_wait(
    bucket: BucketConfig, arrival_gaps: list[float], max_wait: float
) -> None:
    tat: float | None = None
    now = 0.0
    for gap in arrival_gaps:
        now += gap
        reservation, new_tat = gcra_reserve(tat, now, bucket, max_wait)
        if reservation.granted:
            assert 0 <= reservation.wait <= max_wait
            # At the moment it is sent, the bucket holds at most `burst` requests, this one included.
            assert bucket_level(new_tat, now + reservation.wait, bucket) <= bucket.burst + 1e-6
        else:
            assert reservation.wait > max_wait
            assert new_tat == (now if tat is None else tat)
        tat = new_tat


@given(bucket=buckets, idle=st.floats(min_value=0, max_value=100))
def test_it_refills_at_the_configured_rate(bucket: BucketConfig, idle: float) -> None:
    tat: float | None = None
    for _ in range(bucket.burst * 2):
        _, tat = gcra_reserve(tat, 0.0, bucket, math.inf)
    level = bucket_level(tat, idle, bucket)
    assert level == pytest.approx(max(0.0, bucket.burst * 2 - idle * bucket.rate), abs=1e-6)


def test_it_rejects_a_nonsense_bucket() -> None:
    with pytest.raises(ValueError, match="burst"):
        BucketConfig(burst=0)
    with pytest.raises(ValueError, match="rate"):
        BucketConfig(rate=0)


def test_it_shares_the_in_process_bucket_between_threads() -> None:
    bucket = BucketConfig(burst=5, rate=50.0)
    limiter = InProcessLimiter()
    sent: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            reservation = limiter.reserve("acct", bucket, max_wait=10)
            time.sleep(reservation.wait)
            with lock:
                sent.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sent) == 40
    _assert_window_bound(sent, bucket, slack=2)
    assert max(sent) - min(sent) >= (40 - 5) / 50 * 0.9


def test_it_keeps_separate_buckets_per_key() -> None:
    limiter = InProcessLimiter(clock=lambda: 0.0)
    bucket = BucketConfig(burst=1, rate=1.0)
    assert limiter.reserve("a", bucket, 10).wait == 0
    assert limiter.reserve("b", bucket, 10).wait == 0
    assert limiter.reserve("a", bucket, 10).wait == 1.0


# --- several OS processes on one shared bucket -------------------------------------------------------------

MP_BUCKET = BucketConfig(burst=10, rate=100.0)
MP_PROCESSES = 4
MP_SECONDS = 1.5


def _make_limiter(kind: str, target: str) -> Any:
    if kind == "redis":
        url, prefix = target.split("|", 1)
        return RedisLimiter(redis.Redis.from_url(url), prefix=prefix)
    return FileLimiter(target)


def _hammer(kind: str, target: str, start_at: float, queue: Any) -> None:
    limiter = _make_limiter(kind, target)
    sent: list[float] = []
    time.sleep(max(0.0, start_at - time.time()))
    while time.time() < start_at + MP_SECONDS:
        reservation = limiter.reserve("acct", MP_BUCKET, max_wait=5)
        assert reservation.granted
        time.sleep(reservation.wait)
        sent.append(time.time())
    queue.put(sent)


def _run_processes(kind: str, target: str) -> list[float]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start_at = time.time() + 0.5
    processes = [
        context.Process(target=_hammer, args=(kind, target, start_at, queue)) for _ in range(MP_PROCESSES)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(timeout=10)
        assert process.exitcode == 0
    return [t for sent in results for t in sent]


def _assert_shared_bucket_held(sent: list[float]) -> None:
    # Sleep overshoot and scheduling on a busy machine can bunch two sends together; a lost update between
    # processes would let whole bursts through, far beyond this slack.
    _assert_window_bound(sent, MP_BUCKET, slack=3)
    expected = MP_BUCKET.burst + MP_BUCKET.rate * MP_SECONDS
    assert len(sent) >= 0.9 * expected, (len(sent), expected)
    assert len(sent) <= expected + MP_PROCESSES


@pytest.mark.redis
@pytest.mark.slow
def test_it_holds_one_bucket_across_processes_on_redis(
    redis_client: redis.Redis, redis_url: str, redis_prefix: str
) -> None:
    _assert_shared_bucket_held(_run_processes("redis", f"{redis_url}|{redis_prefix}"))


@pytest.mark.slow
def test_it_holds_one_bucket_across_processes_in_a_file(tmp_path: Path) -> None:
    _assert_shared_bucket_held(_run_processes("file", str(tmp_path / "limiter.json")))


# --- the Lua script against the Python arithmetic ----------------------------------------------------------


@pytest.mark.redis
def test_it_computes_the_same_waits_in_lua_as_in_python(redis_client: redis.Redis, redis_prefix: str) -> None:
    limiter = RedisLimiter(redis_client, prefix=redis_prefix)
    bucket = BucketConfig(burst=3, rate=10.0)
    started = time.monotonic()
    waits, elapsed = [], []
    for _ in range(6):
        elapsed.append(time.monotonic() - started)
        waits.append(limiter.reserve("acct", bucket, max_wait=10).wait)
    # The bucket drains while the calls run, so each wait is the ideal one minus the time already passed
    # (on a loaded machine that time is not negligible).
    ideal = [0, 0, 0, 0.1, 0.2, 0.3]
    expected = [max(0.0, want - spent) for want, spent in zip(ideal, elapsed, strict=True)]
    assert waits == pytest.approx(expected, abs=0.01)


@pytest.mark.redis
def test_it_reserves_nothing_in_redis_beyond_max_wait(redis_client: redis.Redis, redis_prefix: str) -> None:
    limiter = RedisLimiter(redis_client, prefix=redis_prefix)
    bucket = BucketConfig(burst=1, rate=10.0)
    assert limiter.reserve("acct", bucket, max_wait=0.15).granted
    assert limiter.reserve("acct", bucket, max_wait=0.15).wait == pytest.approx(0.1, abs=0.02)
    refused = limiter.reserve("acct", bucket, max_wait=0.15)
    assert not refused.granted
    assert refused.wait == pytest.approx(0.2, abs=0.02)
    assert limiter.reserve("acct", bucket, max_wait=0.15).wait == pytest.approx(0.2, abs=0.02)  # unchanged


@pytest.mark.redis
def test_it_expires_drained_buckets_in_redis(redis_client: redis.Redis, redis_prefix: str) -> None:
    RedisLimiter(redis_client, prefix=redis_prefix).reserve("acct", BucketConfig(), max_wait=1)
    ttl = redis_client.pttl(redis_prefix + "acct")
    assert 0 < ttl <= 1100


@pytest.mark.redis
def test_it_survives_a_script_flush(redis_client: redis.Redis, redis_prefix: str) -> None:
    limiter = RedisLimiter(redis_client, prefix=redis_prefix)
    limiter.reserve("acct", BucketConfig(), max_wait=1)
    redis_client.script_flush()
    assert limiter.reserve("acct", BucketConfig(), max_wait=1).granted


def test_it_shares_the_file_bucket_and_survives_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "limiter.json"
    clock = iter([0.0, 0.0, 0.0, 0.0])
    limiter = FileLimiter(path, clock=lambda: next(clock))
    other = FileLimiter(path, clock=lambda: 0.0)
    bucket = BucketConfig(burst=1, rate=2.0)
    assert limiter.reserve("acct", bucket, 10).wait == 0
    assert other.reserve("acct", bucket, 10).wait == 0.5
    path.write_text("{not json")
    assert limiter.reserve("acct", bucket, 10).wait == 0


def test_it_skips_without_redis_on_a_developer_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.celigo_api.conftest import require_redis

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_redis("redis://127.0.0.1:1/0")


def test_it_fails_without_redis_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.celigo_api.conftest import require_redis

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_redis("redis://127.0.0.1:1/0")
