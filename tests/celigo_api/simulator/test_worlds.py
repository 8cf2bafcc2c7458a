"""Seeds: determinism, the demo account's content, and a million-error world (issue 3)."""

from __future__ import annotations

import gc
import re
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from celigo_api.simulator import SimulatorConfig, SimulatorServer
from celigo_api.simulator.accounts import build_accounts
from celigo_api.simulator.clock import SimClock
from celigo_api.simulator.errors import ErrorFilter
from celigo_api.simulator.world import World

from .conftest import Api

START = datetime(2026, 5, 22, 12, 0, tzinfo=UTC)
ALL_SOURCES = {
    "internal", "application", "connection", "resource", "transformation", "output_filter", "input_filter",
    "import_filter", "lookup", "mapping", "response_mapping", "pre_save_page_hook", "pre_map_hook",
    "post_map_hook", "post_submit_hook", "post_response_map_hook", "post_aggregate_hook", "pre_send_hook_ss",
    "pre_map_hook_ss", "post_map_hook_ss", "post_submit_hook_ss",
}  # fmt: skip
ALL_CLASSIFICATIONS = {"connection", "duplicate", "governance", "intermittent", "missing", "parse", "value"}


def snapshot(world: World) -> list:
    rows = []
    for _, store in sorted(world.stores.items()):
        for resolved in (False, True):
            rows.append(store.page(resolved, ErrorFilter(), None, 50, world.clock.now_ms())[0])
    return [sorted(world.flows), sorted(world.jobs), [u["_id"] for u in world.users], rows]


def every_error(world: World) -> list[dict]:
    now = world.clock.now_ms()
    rows = []
    for store in world.stores.values():
        for resolved in (False, True):
            rows.extend(store.page(resolved, ErrorFilter(), None, 10**7, now)[0])
    return rows


@pytest.mark.parametrize("seed", ["demo", 42])
def test_it_builds_the_same_world_for_the_same_seed(seed: str | int) -> None:
    config = SimulatorConfig(seed=seed, errors=2000)
    first = build_accounts(config, SimClock(int(START.timestamp() * 1000)))
    second = build_accounts(config, SimClock(int(START.timestamp() * 1000)))
    for a, b in zip(first, second, strict=True):
        assert a.token == b.token
        assert snapshot(a.world) == snapshot(b.world)


def test_it_builds_different_worlds_for_different_seeds() -> None:
    clock = SimClock(int(START.timestamp() * 1000))
    one = build_accounts(SimulatorConfig(seed=1), clock)[0].world
    two = build_accounts(SimulatorConfig(seed=2), clock)[0].world
    assert sorted(one.flows) != sorted(two.flows)
    assert build_accounts(SimulatorConfig(seed=2), clock)[0].token == "sim-token-2"


def test_it_sizes_synthetic_worlds_exactly() -> None:
    config = SimulatorConfig(
        seed=3, integrations=4, flows_per_integration=5, steps_per_flow=4, errors=12_345, standalone_flows=2
    )
    world = build_accounts(config, SimClock())[0].world
    assert len(world.integrations) == 4
    assert len(world.flows) == 4 * 5 + 2
    assert len(world.stores) == (4 * 5 + 2) * 4
    assert sum(s.n for s in world.stores.values()) == 12_345
    assert any(s.n == 0 for s in world.stores.values())


def test_it_fills_the_demo_account_with_realistic_errors() -> None:
    world = build_accounts(SimulatorConfig(seed="demo"), SimClock())[0].world
    rows = every_error(world)
    assert 2000 <= len(rows) <= 6000
    assert {r["source"] for r in rows} == ALL_SOURCES
    assert {r["classification"] for r in rows} >= ALL_CLASSIFICATIONS
    messages = [r["message"] for r in rows]
    assert any("<script>" in m for m in messages)
    assert any("<html>" in m.lower() for m in messages)
    assert any(len(m) > 5000 for m in messages)
    assert any(re.search(r"[\u0400-\u04ff\u4e00-\u9fff\u0600-\u06ff]", m) for m in messages)
    assert any("Insufficient inventory" in m for m in messages)
    assert any(r["code"] == "REQUIRED_FIELD_MISSING" for r in rows)
    names = {f.name for f in world.flows.values()}
    assert {
        "Shopify Order to NetSuite Sales Order",
        "Amazon Order to NetSuite Invoice",
        "Salesforce Account to NetSuite Customer",
        "HTTP Alert Webhook to Slack",
    } <= names
    flows = list(world.flows.values())
    assert any(f.branches for f in flows)
    assert any(f.disabled for f in flows)
    assert any(f.integration_id is None for f in flows)
    assert any(f.sandbox for f in flows)
    users = {u["sharedWithUser"]["_id"] for u in world.users}
    assert {r["resolvedBy"] for r in rows if "resolvedBy" in r} <= users | {"auto"}


def test_it_serves_a_walkable_demo_account(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(seed="demo", link_page_size=100)
    api = api_for(sim)
    integrations = api.get("/v1/integrations").json()
    assert "Shopify - NetSuite" in {i["name"] for i in integrations}
    total = 0
    for integration in [*integrations, {"_id": "none"}]:
        response = api.get(f"/v1/integrations/{integration['_id']}/errors")
        total += sum(r["numError"] for r in response.json()) if response.status_code == 200 else 0
    assert total > 2000


def test_it_generates_a_million_errors_fast_and_in_bounded_memory() -> None:
    config = SimulatorConfig(
        seed=7,
        integrations=10,
        flows_per_integration=10,
        steps_per_flow=5,
        errors=1_000_000,
        standalone_flows=0,
    )
    gc.collect()
    tracemalloc.start()
    started = time.perf_counter()
    world = build_accounts(config, SimClock())[0].world
    elapsed = time.perf_counter() - started
    now = world.clock.now_ms()
    assert sum(s.n for s in world.stores.values()) == 1_000_000
    open_total = sum(s.open_count(now) for s in world.stores.values())
    store = max(world.stores.values(), key=lambda s: s.n)
    page, cursor = store.page(False, ErrorFilter(), None, 100, now)
    deep, _ = store.page(False, ErrorFilter(), cursor, 100, now)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert 800_000 < open_total < 1_000_000
    assert len(page) == len(deep) == 100
    # The stated bound: a million errors cost no more than 64 MB of Python heap and 10 s to build.
    assert peak < 64 * 1024 * 1024
    assert elapsed < 10
