"""pytest fixtures: load with ``pytest_plugins = ["celigo_api.simulator.pytest_plugin"]``.

* ``celigo_simulator`` — a running simulator with a small deterministic world (seed 1: 2 integrations,
  2 flows each, 3 steps per flow, 1 standalone flow, 300 errors, page size 20), fresh per test.
* ``make_celigo_simulator(**config_kwargs)`` — a factory for any :class:`SimulatorConfig`; every server it
  starts is stopped at the end of the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .config import SimulatorConfig
from .server import SimulatorServer

SMALL_WORLD: dict[str, Any] = {
    "seed": 1,
    "integrations": 2,
    "flows_per_integration": 2,
    "steps_per_flow": 3,
    "standalone_flows": 1,
    "errors": 300,
    "page_size": 20,
    "link_page_size": 5,
}


@pytest.fixture
def make_celigo_simulator() -> Iterator[Callable[..., SimulatorServer]]:
    """A factory starting simulators; keyword arguments override the small default world."""
    started: list[SimulatorServer] = []

    def make(**config_kwargs: Any) -> SimulatorServer:
        server = SimulatorServer(SimulatorConfig(**{**SMALL_WORLD, **config_kwargs}))
        started.append(server.start())
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def celigo_simulator(make_celigo_simulator: Callable[..., SimulatorServer]) -> SimulatorServer:
    """A running simulator with a small deterministic world."""
    return make_celigo_simulator()
