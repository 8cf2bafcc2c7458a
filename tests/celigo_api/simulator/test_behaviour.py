"""Behaviour over time with a controllable clock: retries, auto-resolve, purges, live errors (issue 3)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from celigo_api.simulator import SimulatorServer
from celigo_api.simulator.clock import parse_instant

from .conftest import Api, busiest_step

DAY = 86_400


def retriable(api: Api, flow_id: str, step_id: str, count: int) -> list[dict]:
    rows = api.get(f"/v1/flows/{flow_id}/{step_id}/errors").json()["errors"]
    found = [e for e in rows if "retryDataKey" in e][:count]
    assert len(found) == count
    return found


@pytest.mark.parametrize(("ratio", "succeeded"), [(1.0, 8), (0.0, 0)])
def test_it_settles_retries_by_the_success_ratio(
    make_celigo_simulator: Callable[..., SimulatorServer],
    api_for: Callable[[SimulatorServer], Api],
    ratio: float,
    succeeded: int,
) -> None:
    sim = make_celigo_simulator(retry_success_ratio=ratio, retry_job_seconds=(1.0, 2.0))
    api = api_for(sim)
    flow_id, step_id = busiest_step(sim)
    errors = retriable(api, flow_id, step_id, 8)
    job = api.post(
        f"/v1/flows/{flow_id}/{step_id}/retry", json={"retryDataKeys": [e["retryDataKey"] for e in errors]}
    )
    job_id = job.json()["_id"]
    retried_at = parse_instant(job.json()["createdAt"])
    sim.advance_clock(1.1)
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    sim.advance_clock(2)
    done = api.get(f"/v1/jobs/{job_id}").json()
    assert done["status"] == "completed"
    assert done["numSuccess"] == succeeded
    assert done["numError"] == 8 - succeeded
    opened = api.get(f"/v1/flows/{flow_id}/{step_id}/errors").json()["errors"]
    resolved = {
        r["errorId"]: r for r in api.get(f"/v1/flows/{flow_id}/{step_id}/resolved").json()["resolved"]
    }
    for error in errors:
        # Either way the retried error leaves the open list, resolved by "auto" (§2.5, §2.8).
        assert resolved[error["errorId"]]["resolvedBy"] == "auto"
        # Other flows repeat trace keys across runs, so only errors born after the retry count.
        again = [
            e
            for e in opened
            if e["traceKey"] == error["traceKey"] and parse_instant(e["occurredAt"]) > retried_at
        ]
        originals = [other for other in errors if other["traceKey"] == error["traceKey"]]
        assert len(again) == (0 if ratio == 1.0 else len(originals))
        # A failed retry keeps the record's flow run (INFERRED) and gets a new retryDataKey.
        assert {e["_flowJobId"] for e in again} <= {o["_flowJobId"] for o in originals}
        for fresh in again:
            assert fresh["retryDataKey"] not in {o["retryDataKey"] for o in originals}
            assert parse_instant(fresh["occurredAt"]) > parse_instant(error["occurredAt"])


def test_it_mixes_outcomes_deterministically_at_the_default_ratio(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    outcomes = []
    for _ in range(2):
        sim = make_celigo_simulator(seed="demo", start_time=None)
        api = api_for(sim)
        flow = next(f for f in sim.state.flows.values() if f.name == "Amazon Order to NetSuite Invoice")
        step_id = flow.steps[-1].step_id
        keys = [e["retryDataKey"] for e in retriable(api, flow.flow_id, step_id, 20)]
        job_id = api.post(f"/v1/flows/{flow.flow_id}/{step_id}/retry", json={"retryDataKeys": keys}).json()[
            "_id"
        ]
        sim.advance_clock(5)
        job = api.get(f"/v1/jobs/{job_id}").json()
        outcomes.append((job["numSuccess"], job["numError"]))
        sim.stop()
    assert outcomes[0][0] + outcomes[0][1] == 20
    assert 0 < outcomes[0][0] < 20


def test_it_retries_with_edited_retry_data(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(retry_success_ratio=0.0)
    api = api_for(sim)
    flow_id, step_id = busiest_step(sim)
    error = retriable(api, flow_id, step_id, 1)[0]
    path = f"/v1/flows/{flow_id}/{step_id}/{error['retryDataKey']}/data"
    edited = {**api.get(path).json(), "data": {"fixed": True}}
    api.put(path, json=edited)
    api.post(f"/v1/flows/{flow_id}/{step_id}/retry", json={"retryDataKeys": [error["retryDataKey"]]})
    sim.advance_clock(5)
    fresh = next(
        e
        for e in api.get(f"/v1/flows/{flow_id}/{step_id}/errors").json()["errors"]
        if e["traceKey"] == error["traceKey"] and e["errorId"] != error["errorId"]
    )
    assert api.get(f"/v1/flows/{flow_id}/{step_id}/{fresh['retryDataKey']}/data").json() == edited


def test_it_auto_resolves_earlier_errors_with_the_same_trace_key_section_5(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(seed="demo")
    api = api_for(sim)
    for flow in sim.state.flows.values():
        if flow.name not in ("Shopify Order to NetSuite Sales Order", "Amazon Order to NetSuite Invoice"):
            continue
        step_id = flow.steps[-1].step_id
        old = api.get(f"/v1/flows/{flow.flow_id}/{step_id}/errors").json()["errors"][0]
        body = {"flowId": flow.flow_id, "stepId": step_id, "traceKey": old["traceKey"]}
        created = requests.post(f"{sim.base_url}/__sim__/errors", json=body, timeout=5).json()["errors"][0]
        still_open = {
            e["errorId"] for e in api.get(f"/v1/flows/{flow.flow_id}/{step_id}/errors").json()["errors"]
        }
        assert created["errorId"] in still_open
        assert (old["errorId"] in still_open) != flow.auto_resolve
        if flow.auto_resolve:
            resolved = api.get(f"/v1/flows/{flow.flow_id}/{step_id}/resolved").json()["resolved"]
            assert next(r for r in resolved if r["errorId"] == old["errorId"])["resolvedBy"] == "auto"


def test_it_drops_errors_and_jobs_past_purge_at(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(burst=1000, rate=1000)
    api = api_for(sim)
    flow_id, step_id = busiest_step(sim)
    store = sim.state.store(flow_id, step_id)
    before = store.open_count(sim.clock.now_ms())
    sim.advance_clock(15 * DAY)
    now = sim.clock.now_ms()
    middle = store.open_count(now)
    assert 0 < middle < before
    rows = api.get(f"/v1/flows/{flow_id}/{step_id}/errors", params={}).json()["errors"]
    assert all(parse_instant(e["purgeAt"]) > now for e in rows)
    summary = {
        r["_expOrImpId"]: r["numError"] for r in api.get(f"/v1/flows/{flow_id}/errors").json()["flowErrors"]
    }
    assert summary[step_id] == middle
    sim.advance_clock(20 * DAY)
    assert api.get(f"/v1/flows/{flow_id}/{step_id}/errors").json() == {"errors": []}
    assert api.get(f"/v1/flows/{flow_id}/{step_id}/resolved").json() == {"resolved": []}
    assert api.get("/v1/jobs", params={"_flowId": flow_id}).status_code == 204


def test_it_produces_live_errors_while_running(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(live_rate=5.0)
    api = api_for(sim)

    def total() -> int:
        rows: list[dict] = []
        for integration in [*sim.state.integrations, "none"]:
            response = api.get(f"/v1/integrations/{integration}/errors")
            rows.extend(response.json() if response.status_code == 200 else [])
        return sum(r["numError"] for r in rows)

    start = total()
    sim.advance_clock(20)
    grown = total() - start
    # About 100 new errors, minus the ones auto-resolved by traceKey in auto-resolve flows.
    assert 60 <= grown <= 101
    running = [j for j in sim.state.jobs.values() if j.live]
    assert running
    assert all(j.type == "flow" for j in running)
