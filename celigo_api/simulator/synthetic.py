"""Synthetic worlds for ``--seed <int>``: any size, up to a million errors, deterministic per seed.

The shape comes from the size options; the content reuses the demo's error catalog. Errors are spread
unevenly (a few hot steps, some steps clean) the way real accounts look, by largest-remainder allocation
of hashed weights so the total is exactly ``errors``.
"""

from __future__ import annotations

from . import catalog as c
from .build import FlowDef, StepDef, UserDef, WorldBuilder
from .config import SimulatorConfig
from .ids import hash_text, mix64
from .world import World

USERS = [
    UserDef("Avery Admin", "avery@example.com", "administrator"),
    UserDef("Blake Manager", "blake@example.com", "manage"),
    UserDef("Casey Monitor", "casey@example.com", "monitor"),
    UserDef("Drew Invited", "drew@example.com", "manage", accepted=False),
]


def _allocate(total: int, weights: list[int]) -> list[int]:
    if not weights:
        return []
    mass = sum(weights) or 1
    exact = [total * w / mass for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda k: (counts[k] - exact[k], k))
    for k in order[: total - sum(counts)]:
        counts[k] += 1
    return counts


def build(builder: WorldBuilder, config: SimulatorConfig, *, scale: float = 1.0) -> World:
    """Populate a synthetic account sized by ``config`` (``scale`` shrinks it, for the EU account)."""
    salt = builder.salt
    n_integrations = max(1, int(config.integrations * scale)) if config.integrations else 0
    n_flows = max(1, int(config.flows_per_integration * scale)) if config.flows_per_integration else 0
    n_standalone = config.standalone_flows if scale == 1.0 else 0
    total_errors = int(config.errors * scale)
    steps = config.steps_per_flow
    integration_ids = [builder.integration(f"Integration {k + 1:03d}") for k in range(n_integrations)]
    builder.users(USERS)
    builder.tags(["P1", "P2", "Known issue", "Customer data"])
    placements: list[tuple[str | None, int]] = [(iid, f) for iid in integration_ids for f in range(n_flows)]
    placements += [(None, f) for f in range(n_standalone)]
    weights = []
    for k in range(len(placements) * steps):
        h = mix64(salt ^ hash_text("weight", k))
        weights.append(0 if h % 5 == 0 else int((h >> 8) % 1000) ** 2 + 1)
    counts = _allocate(total_errors, weights)
    for k, (iid, f) in enumerate(placements):
        h = mix64(salt ^ hash_text("flow-shape", k))
        export = c.EXPORT_PROFILES[h % len(c.EXPORT_PROFILES)]
        step_defs = [StepDef(f"{export.connection} export", export, counts[k * steps], is_import=False)]
        for s in range(1, steps):
            profile = c.IMPORT_PROFILES[(h >> (4 * s)) % len(c.IMPORT_PROFILES)]
            step_defs.append(StepDef(f"{profile.connection} import {s}", profile, counts[k * steps + s]))
        processors = tuple(step_defs[1:])
        branches: tuple[tuple[str, tuple[StepDef, ...]], ...] = ()
        if (h >> 40) % 6 == 0 and len(processors) >= 2:
            middle = len(processors) // 2
            branches = (("Branch A", processors[:middle]), ("Branch B", processors[middle:]))
            processors = ()
        name = f"Flow {k + 1:04d}" + (" (standalone)" if iid is None else "")
        spec = FlowDef(
            name,
            (step_defs[0],),
            processors,
            branches,
            disabled=iid is not None and f == n_flows - 1 and n_flows > 1 and k % 2 == 1,
            auto_resolve=(h >> 44) % 5 == 0,
            runs=10 + int((h >> 48) % 30),
        )
        builder.flow(spec, iid)
    return builder.world
