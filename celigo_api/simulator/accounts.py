"""Simulated Celigo accounts: who holds which token in which region (docs/celigo-api.md §1.1, §1.2).

Token conventions (fixed so the demo, tests and docs can name them):

* ``--seed demo``: ``sim-demo-token`` for the main NA account "Acme Retail (demo)", ``sim-eu-token`` for
  "Acme Retail EU (demo)".
* ``--seed <int>``: ``sim-token-<seed>`` (NA) and ``sim-eu-token-<seed>`` (EU, a small world).

Regions: NA is served at the server root, EU/AU/CA under a path prefix (``/eu``, ``/au``, ``/ca``); a token
only works under its own region, as the real tenants are isolated.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import demo, synthetic
from .build import WorldBuilder
from .clock import SimClock
from .config import SimulatorConfig
from .ids import hash_text
from .world import World, WorldSettings

REGIONS = ("na", "eu", "au", "ca")


@dataclass
class SimAccount:
    """One Celigo account the simulator serves."""

    name: str
    token: str
    region: str
    world: World

    @property
    def user_id(self) -> str:
        """The user the token acts as (``tokenInfo._userId``)."""
        return self.world.user_id


def build_accounts(config: SimulatorConfig, clock: SimClock) -> list[SimAccount]:
    """Build every account of a configuration; ``[0]`` is the main NA account."""
    settings = WorldSettings(
        retry_success_ratio=config.retry_success_ratio,
        retry_job_seconds=config.retry_job_seconds,
        live_rate=config.live_rate,
    )
    quiet = WorldSettings(config.retry_success_ratio, config.retry_job_seconds, 0.0)
    if config.is_demo:
        main = demo.build_main(WorldBuilder(salt=hash_text("demo", "na"), clock=clock, settings=settings))
        eu = demo.build_eu(WorldBuilder(salt=hash_text("demo", "eu"), clock=clock, settings=quiet))
        return [
            SimAccount(demo.MAIN_NAME, "sim-demo-token", "na", main),
            SimAccount(demo.EU_NAME, "sim-eu-token", "eu", eu),
        ]
    seed = config.seed
    main = synthetic.build(
        WorldBuilder(salt=hash_text("seed", seed, "na"), clock=clock, settings=settings), config
    )
    small = config.with_changes(errors=min(config.errors, 200))
    eu = synthetic.build(
        WorldBuilder(salt=hash_text("seed", seed, "eu"), clock=clock, settings=quiet), small, scale=0.5
    )
    return [
        SimAccount(f"Synthetic account {seed}", f"sim-token-{seed}", "na", main),
        SimAccount(f"Synthetic account {seed} (EU)", f"sim-eu-token-{seed}", "eu", eu),
    ]
