"""Injected faults, token revocation and the /__sim__ control API (issue 3)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import requests

from celigo_api.simulator import FaultSpec, SimulatorServer

from .conftest import Api


def test_it_parses_and_prints_a_fault_spec() -> None:
    spec = FaultSpec.parse(
        "500=0.05,502=0.02,503=0.02,429=0.01,latency=0.2,reset=0.01,malformed=0.01,revoke_at=120"
    )
    assert spec == FaultSpec(0.05, 0.02, 0.02, 0.01, 0.2, 0.01, 0.01, 120.0)
    assert FaultSpec.parse(spec.to_spec()) == spec
    for bad in ("404=0.1", "500=2", "latency", "latency=-1"):
        with pytest.raises(ValueError, match=r"."):
            FaultSpec.parse(bad)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_it_injects_server_errors(
    make_celigo_simulator: Callable[..., SimulatorServer],
    api_for: Callable[[SimulatorServer], Api],
    status: int,
) -> None:
    sim = make_celigo_simulator(faults=FaultSpec.parse(f"{status}=1"))
    response = api_for(sim).get("/v1/flows")
    assert response.status_code == status
    if status == 500:
        assert response.json()["errors"][0]["code"] == "internal_error"
    else:
        # Gateways answer HTML: a client must not assume JSON on 5xx.
        assert response.headers["Content-Type"].startswith("text/html")
    assert sim.stats()["faults"] == {str(status): 1}


def test_it_forces_429_with_retry_after(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(faults=FaultSpec(rate_limit_429=1.0))
    response = api_for(sim).get("/v1/flows")
    assert response.status_code == 429
    assert response.headers["Retry-After"].isdigit()
    assert response.json()["errors"][0]["code"] == "rate_limited"


def test_it_injects_faults_at_the_configured_probability(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(faults=FaultSpec(error_503=0.3), burst=1000, rate=1000)
    api = api_for(sim)
    statuses = [api.get("/v1/tokenInfo").status_code for _ in range(200)]
    assert 30 <= statuses.count(503) <= 90
    assert statuses.count(200) == 200 - statuses.count(503)


def test_it_adds_latency(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(faults=FaultSpec(latency=0.3))
    start = time.monotonic()
    assert api_for(sim).get("/v1/tokenInfo").status_code == 200
    assert time.monotonic() - start >= 0.3


def test_it_resets_the_connection_mid_body(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(faults=FaultSpec(reset=1.0))
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as caught:
        api_for(sim).get("/v1/flows")
    assert "reset" in str(caught.value).lower() or "IncompleteRead" in str(caught.value)
    sim.set_faults(FaultSpec())
    assert api_for(sim).get("/v1/flows").status_code == 200


def test_it_sends_malformed_json_with_a_matching_length(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(faults=FaultSpec(malformed=1.0))
    response = api_for(sim).get("/v1/flows")
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(ValueError, match=r"."):
        response.json()


def test_it_revokes_the_main_token_at_the_configured_moment(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(faults=FaultSpec(revoke_at=60))
    api = api_for(sim)
    assert api.get("/v1/tokenInfo").status_code == 200
    sim.advance_clock(61)
    response = api.get("/v1/tokenInfo")
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_it_changes_faults_at_run_time_through_the_control_api(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator()
    api = api_for(sim)
    assert (
        requests.put(f"{sim.base_url}/__sim__/faults", json={"spec": "500=1"}, timeout=5).status_code == 200
    )
    assert api.get("/v1/tokenInfo").status_code == 500
    assert requests.put(f"{sim.base_url}/__sim__/faults", json={}, timeout=5).json()["error_500"] == 0
    assert api.get("/v1/tokenInfo").status_code == 200
    assert (
        requests.put(f"{sim.base_url}/__sim__/faults", json={"spec": "nope=1"}, timeout=5).status_code == 400
    )


def test_it_never_injects_faults_into_the_control_api(
    make_celigo_simulator: Callable[..., SimulatorServer],
) -> None:
    sim = make_celigo_simulator(faults=FaultSpec(error_500=1.0, reset=1.0))
    assert requests.get(f"{sim.base_url}/__sim__/stats", timeout=5).status_code == 200


def test_it_reports_and_resets_statistics(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator()
    api = api_for(sim)
    api.get("/v1/flows")
    api.get("/v1/flows")
    api.get("/v1/nowhere")
    stats = requests.get(f"{sim.base_url}/__sim__/stats", timeout=5).json()
    assert stats["by_endpoint"] == {"flows": 2, "not_found": 1}
    assert stats["by_status"] == {"200": 2, "404": 1}
    assert stats["peak_concurrency"] >= 1
    assert requests.post(f"{sim.base_url}/__sim__/reset", timeout=5).json() == {"ok": True}
    assert sim.stats()["requests"] == 0


def test_it_advances_the_clock_and_revokes_through_the_control_api(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator()
    before = requests.get(f"{sim.base_url}/__sim__/clock", timeout=5).json()["nowMs"]
    after = requests.post(f"{sim.base_url}/__sim__/clock", json={"advance": 3600}, timeout=5).json()["nowMs"]
    assert after - before >= 3_600_000
    requests.post(f"{sim.base_url}/__sim__/revoke", json={"token": sim.token}, timeout=5)
    assert api_for(sim).get("/v1/tokenInfo").status_code == 401
    accounts = requests.get(f"{sim.base_url}/__sim__/accounts", timeout=5).json()
    assert [a["token"] for a in accounts] == ["sim-token-1", "sim-eu-token-1"]


def test_it_measures_peak_concurrency(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    sim = make_celigo_simulator(faults=FaultSpec(latency=0.2))
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: api_for(sim).get("/v1/tokenInfo"), range(4)))
    assert sim.stats()["peak_concurrency"] >= 2
