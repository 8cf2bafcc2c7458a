"""Assembling a :class:`~.world.World` from flow descriptions (shared by the demo and synthetic seeds)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalog import StepProfile
from .clock import SimClock, iso_ms
from .errors import DAY_MS, ErrorStore, RunLayout
from .ids import hash_text, mix64
from .world import Flow, Job, Step, World, WorldSettings

# Generated history spans the last 25 days, inside the 30-day retention (§5), ending shortly before "now".
HISTORY_MS = 25 * DAY_MS
HISTORY_END_MS = 10 * 60_000


@dataclass(frozen=True)
class StepDef:
    """A step to create: its name, its kind of content and how many errors it starts with."""

    name: str
    profile: StepProfile
    errors: int
    is_import: bool = True
    is_lookup: bool = False


@dataclass(frozen=True)
class FlowDef:
    """A flow to create. ``branches`` makes it a router flow (§4.1)."""

    name: str
    generators: tuple[StepDef, ...]
    processors: tuple[StepDef, ...] = ()
    branches: tuple[tuple[str, tuple[StepDef, ...]], ...] = ()
    disabled: bool = False
    auto_resolve: bool = False
    runs: int = 20
    schedule: str = "? 0 */1 * * *"


@dataclass
class UserDef:
    """A user with access to the account, as ``/v1/ashares`` lists them (§4.4)."""

    name: str
    email: str
    access_level: str | None = "manage"
    accepted: bool = True
    disabled: bool = False
    integrations: list[str] = field(default_factory=list)


class WorldBuilder:
    """Creates resources in a fresh world with deterministic ids."""

    def __init__(self, *, salt: int, clock: SimClock, settings: WorldSettings) -> None:
        self.salt = salt
        self.world = World(salt=salt, clock=clock, settings=settings, user_id="")
        self.now_ms = clock.start_ms
        self._step_ordinal = 0

    def users(self, users: list[UserDef], token_user: int = 0) -> None:
        """Add the ashares users; the API token acts as ``users[token_user]`` (tokenInfo ``_userId``)."""
        world = self.world
        for n, user in enumerate(users):
            share: dict[str, Any] = {
                "_id": world.new_id("ashare"),
                "accepted": user.accepted,
                "disabled": user.disabled,
                "sharedWithUser": {
                    "_id": world.new_id("user"),
                    "email": user.email,
                    "name": user.name,
                    "allowedToResetMFA": user.access_level == "administrator",
                    "accountSSOLinked": "not_linked",
                },
                "allowToEditRetryData": user.access_level in ("manage", "administrator"),
                "lastModified": iso_ms(self.now_ms - (n + 2) * 7 * DAY_MS),
            }
            if user.access_level:
                share["accessLevel"] = user.access_level
            share["integrationAccessLevel"] = [
                {"_integrationId": iid, "accessLevel": "manage"} for iid in user.integrations
            ]
            world.users.append(share)
        world.user_id = world.users[token_user]["sharedWithUser"]["_id"] if users else world.new_id("user")

    def tags(self, names: list[str]) -> None:
        """Add tag definitions (``GET /v1/tags``; object shape INFERRED, §2.13)."""
        for n, name in enumerate(names):
            moment = iso_ms(self.now_ms - (n + 1) * 3 * DAY_MS)
            self.world.tags.append(
                {"_id": self.world.new_id("tag"), "tag": name, "createdAt": moment, "lastModified": moment}
            )

    def integration(self, name: str, *, sandbox: bool = False, description: str = "") -> str:
        """Add an integration (§4.3) and return its id."""
        iid = self.world.new_id("integration")
        self.world.integrations[iid] = {
            "_id": iid,
            "name": name,
            "description": description or f"{name} integration",
            "sandbox": sandbox,
            "mode": "settings",
            "flowGroupings": [],
            "createdAt": iso_ms(self.now_ms - 200 * DAY_MS),
            "lastModified": iso_ms(self.now_ms - 20 * DAY_MS),
        }
        return iid

    def _connection(self, profile: StepProfile, sandbox: bool) -> str:
        for cid, conn in self.world.connections.items():
            if conn["name"] == profile.connection and conn["sandbox"] == sandbox:
                return cid
        cid = self.world.new_id("connection")
        kind = (
            profile.adaptor_type.removesuffix("DistributedImport")
            .removesuffix("Export")
            .removesuffix("Import")
        )
        self.world.connections[cid] = {
            "_id": cid,
            "name": profile.connection,
            "type": kind.lower(),
            "offline": False,
            "sandbox": sandbox,
            "lastModified": iso_ms(self.now_ms - 40 * DAY_MS),
        }
        return cid

    def flow(self, spec: FlowDef, integration_id: str | None, *, sandbox: bool = False) -> Flow:
        """Add a flow, its steps, its past runs (flow and step jobs) and its steps' errors."""
        world = self.world
        flow_id = world.new_id("flow")
        h = mix64(self.salt ^ hash_text("flow", flow_id))
        runs = max(1, spec.runs)
        start = self.now_ms - HISTORY_MS + int(h % 3_600_000)
        span = self.now_ms - HISTORY_END_MS - start
        interval = span // runs
        starts = [start + j * interval for j in range(runs)]
        layout = RunLayout(
            starts_ms=starts,
            duration_ms=min(interval // 2, 15 * 60_000),
            job_ids=[world.new_id("job") for _ in range(runs)],
        )

        def make_step(step_def: StepDef) -> Step:
            step = Step(
                step_id=world.new_id("import" if step_def.is_import else "export"),
                name=step_def.name,
                is_import=step_def.is_import,
                is_lookup=step_def.is_lookup,
                profile=step_def.profile,
                connection_id=self._connection(step_def.profile, sandbox),
                integration_id=integration_id,
                sandbox=sandbox,
                created_ms=self.now_ms - 180 * DAY_MS,
            )
            world.steps[step.step_id] = step
            return step

        generators = [make_step(s) for s in spec.generators]
        processors = [make_step(s) for s in spec.processors]
        branches = [(name, [make_step(s) for s in steps]) for name, steps in spec.branches]
        flow = Flow(
            flow_id=flow_id,
            name=spec.name,
            integration_id=integration_id,
            disabled=spec.disabled,
            sandbox=sandbox,
            auto_resolve=spec.auto_resolve,
            generators=generators,
            processors=processors,
            branches=branches,
            created_ms=self.now_ms - 190 * DAY_MS,
            schedule=spec.schedule,
            runs=layout,
            last_executed_ms=starts[-1] + layout.duration_ms,
        )
        world.flows[flow_id] = flow
        defs = (
            list(spec.generators) + list(spec.processors) + [s for _, steps in spec.branches for s in steps]
        )
        for o_index, (step, step_def) in enumerate(zip(flow.steps, defs, strict=True)):
            step.o_index = o_index
            world.stores[(flow_id, step.step_id)] = ErrorStore(
                flow_id=flow_id,
                step_id=step.step_id,
                is_import=step.is_import,
                o_index=o_index,
                ordinal=self._step_ordinal,
                salt=mix64(self.salt ^ hash_text("step", self._step_ordinal)),
                profile=step.profile,
                runs=layout,
                count=step_def.errors,
                unique_traces=spec.auto_resolve,
                resolve_delay_ms=3_600_000 * (1 + (h >> (o_index % 40)) % 30),
                built_at_ms=self.now_ms,
                resolvers=world.users_who_resolve(),
            )
            self._step_ordinal += 1
        self._past_jobs(flow, layout)
        return flow

    def _past_jobs(self, flow: Flow, layout: RunLayout) -> None:
        """One completed flow job per past run, with step jobs whose counters match the errors (§3.4)."""
        world = self.world
        for run, (job_id, started) in enumerate(zip(layout.job_ids, layout.starts_ms, strict=True)):
            h = mix64(self.salt ^ hash_text("run", job_id))
            ended = started + layout.duration_ms + 1000
            job = Job(
                job_id=job_id,
                type="flow",
                created_ms=started - 1500,
                flow=flow,
                started_ms=started,
                ended_ms=ended,
                num_success=int(h % 400),
                num_ignore=int((h >> 9) % 5),
                num_pages=1 + int((h >> 17) % 6),
                triggered_by="scheduler",
            )
            world.add_job(job)
            for step in flow.steps:
                store = world.stores[(flow.flow_id, step.step_id)]
                child = world.step_job(job, step)
                if store.n:
                    first, after = layout.block_start(run, store.n), layout.block_start(run + 1, store.n)
                    child.num_error = after - first
                    child.num_resolved = store.starts_resolved_between(first, after)
                child.num_success = job.num_success
                child.num_pages = job.num_pages
