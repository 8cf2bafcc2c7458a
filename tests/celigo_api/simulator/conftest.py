"""Shared helpers for the simulator's tests: a session that speaks Celigo's auth header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from celigo_api.simulator import SimulatorServer

# Imported rather than listed in pytest_plugins: pytest only accepts that in the top-level conftest.
from celigo_api.simulator.pytest_plugin import celigo_simulator, make_celigo_simulator

__all__ = ["celigo_simulator", "make_celigo_simulator"]


class Api:
    """A tiny client for tests: ``api.get("/v1/flows")`` against a simulator base URL with a token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.url(path), timeout=10, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.put(self.url(path), json=json, timeout=10, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.post(self.url(path), json=json, timeout=10, **kwargs)

    def delete(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.session.delete(self.url(path), json=json, timeout=10, **kwargs)


@pytest.fixture
def api(celigo_simulator: SimulatorServer) -> Api:
    """A client of the small default simulator, authenticated as the main NA account."""
    return Api(celigo_simulator.base_url, celigo_simulator.token)


@pytest.fixture
def api_for() -> Callable[[SimulatorServer], Api]:
    """Build a client for any simulator (main NA account)."""
    return lambda sim: Api(sim.base_url, sim.token)


def busiest_step(sim: SimulatorServer) -> tuple[str, str]:
    """(flowId, stepId) of the enabled production step holding the most generated errors."""
    world = sim.state
    stores = [s for s in world.stores.values() if not world.flows[s.flow_id].disabled]
    store = max(stores, key=lambda s: (s.n, s.step_id))
    return store.flow_id, store.step_id


def follow_next_page(base_url: str, next_page_url: str) -> str:
    """Resolve any of the four nextPageURL forms (docs/celigo-api.md §1.5.2) against a region's base URL."""
    if next_page_url.startswith(("http://", "https://")):
        return next_page_url
    if next_page_url.startswith("/api/"):
        return f"{base_url}/v1{next_page_url.removeprefix('/api')}"
    if next_page_url.startswith("/v1/"):
        return f"{base_url}{next_page_url}"
    return f"{base_url}/v1/{next_page_url.lstrip('/')}"
