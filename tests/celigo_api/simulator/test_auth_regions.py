"""Authentication, region isolation and the reach of /__sim__ (docs/celigo-api.md §1.1, §1.2, §1.4)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from celigo_api.simulator import SimulatorServer

from .conftest import Api


@pytest.fixture
def demo(make_celigo_simulator: Callable[..., SimulatorServer]) -> SimulatorServer:
    return make_celigo_simulator(seed="demo")


def test_it_uses_the_documented_demo_tokens(demo: SimulatorServer) -> None:
    assert [(a.name, a.token, a.region) for a in demo.accounts] == [
        ("Acme Retail (demo)", "sim-demo-token", "na"),
        ("Acme Retail EU (demo)", "sim-eu-token", "eu"),
    ]
    assert demo.token == "sim-demo-token"
    assert demo.base_url_for("eu") == f"{demo.base_url}/eu"
    assert demo.base_url_for("na") == demo.base_url


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic c2ltLWRlbW8tdG9rZW4=", "sim-demo-token"])
def test_it_answers_401_with_a_message_body_section_1_4(demo: SimulatorServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = requests.get(f"{demo.base_url}/v1/flows", headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_it_refuses_a_doubled_bearer_prefix_with_400_section_1_2(demo: SimulatorServer) -> None:
    headers = {"Authorization": "Bearer Bearer sim-demo-token"}
    response = requests.get(f"{demo.base_url}/v1/flows", headers=headers, timeout=5)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Bearer Authentication Failed"


def test_it_isolates_regions_section_1_1(demo: SimulatorServer) -> None:
    na, eu = demo.base_url, demo.base_url_for("eu")
    assert Api(na, "sim-demo-token").get("/v1/tokenInfo").status_code == 200
    assert Api(eu, "sim-eu-token").get("/v1/tokenInfo").status_code == 200
    assert Api(eu, "sim-demo-token").get("/v1/tokenInfo").status_code == 401
    assert Api(na, "sim-eu-token").get("/v1/tokenInfo").status_code == 401
    assert Api(demo.base_url_for("au"), "sim-demo-token").get("/v1/tokenInfo").status_code == 401
    na_flows = {f["_id"] for f in Api(na, "sim-demo-token").get("/v1/flows").json()}
    eu_flows = {f["_id"] for f in Api(eu, "sim-eu-token").get("/v1/flows").json()}
    assert na_flows
    assert eu_flows
    assert not na_flows & eu_flows


def test_it_revokes_a_token(demo: SimulatorServer) -> None:
    api = Api(demo.base_url, demo.token)
    assert api.get("/v1/tokenInfo").status_code == 200
    demo.revoke_token(demo.token)
    assert api.get("/v1/tokenInfo").status_code == 401
    assert Api(demo.base_url_for("eu"), "sim-eu-token").get("/v1/tokenInfo").status_code == 200


@pytest.mark.parametrize(
    "path", ["/v1/__sim__/stats", "/eu/__sim__/stats", "/eu/v1/__sim__/stats", "/api/__sim__/stats"]
)
def test_it_never_serves_the_control_api_under_a_token_path(demo: SimulatorServer, path: str) -> None:
    with_token = requests.get(
        f"{demo.base_url}{path}", headers={"Authorization": "Bearer sim-demo-token"}, timeout=5
    )
    assert with_token.status_code in (401, 404)
    assert "by_endpoint" not in with_token.text
    without = requests.get(f"{demo.base_url}{path}", timeout=5)
    assert without.status_code == 401


def test_it_serves_the_control_api_without_a_token(demo: SimulatorServer) -> None:
    assert requests.get(f"{demo.base_url}/__sim__/stats", timeout=5).status_code == 200


def test_it_answers_405_for_a_wrong_method(demo: SimulatorServer) -> None:
    response = Api(demo.base_url, demo.token).post("/v1/flows", json={})
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == "method_not_allowed"
