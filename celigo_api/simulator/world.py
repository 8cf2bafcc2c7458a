"""The in-memory integrator.io account: resources, jobs, errors, and how they change over time.

One :class:`World` is one Celigo account. Every public method takes the world's lock, so HTTP handler
threads, the ticker thread and tests poking ``sim.state`` directly never see a half-applied change.
Time-driven behaviour (retry jobs finishing, live errors, purges) is applied by :meth:`World.tick`, which
handlers call before answering, so an advanced clock is visible on the very next request.
"""

from __future__ import annotations

import threading
from bisect import insort
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .catalog import StepProfile
from .clock import SimClock, iso_ms
from .errors import RETENTION_MS, ErrorFilter, ErrorStore, RunLayout, StoredError
from .ids import hash_text, mix64, object_id

# §3.1/§3.2: job statuses and types the UI knows.
ACTIVE_STATUSES = ("queued", "running")
PARENT_TYPES = ("flow", "retry", "bulk_retry")
# A live run keeps collecting errors for this long before it completes and a new run starts.
LIVE_RUN_MS = 60_000
# Keeps one huge clock jump with a live rate from creating millions of errors in one request.
MAX_LIVE_ERRORS_PER_TICK = 10_000


class NotFound(LookupError):
    """A resource the request names does not exist in this account."""


class Conflict(ValueError):
    """The request is well formed but the resource's state forbids it (a 422)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Step:
    """One export or import of a flow; its ``_id`` is the ``stepId`` of the error paths (§2)."""

    step_id: str
    name: str
    is_import: bool
    is_lookup: bool
    profile: StepProfile
    connection_id: str
    integration_id: str | None
    sandbox: bool
    created_ms: int
    o_index: int = 0

    def to_json(self) -> dict[str, Any]:
        """The export or import document (§4.3), including the bulky fields ``include=`` avoids."""
        doc: dict[str, Any] = {
            "_id": self.step_id,
            "name": self.name,
            "adaptorType": self.profile.adaptor_type,
            "_connectionId": self.connection_id,
            "sandbox": self.sandbox,
            "createdAt": iso_ms(self.created_ms),
            "lastModified": iso_ms(self.created_ms + 3 * 86_400_000),
        }
        if self.integration_id:
            doc["_integrationId"] = self.integration_id
        if not self.is_import:
            doc["isLookup"] = self.is_lookup
        # §4.3: exports and imports may hold sample data with live PII; present so projections matter.
        doc["sampleData"] = self.profile.record(
            {
                "trace": "1001",
                "email": "jane.doe@example.com",
                "customer": "Jane Doe",
                "company": "Contoso Ltd",
                "sku": "SKU-10001",
                "qty": "1",
                "amount": "19.99",
                "currency": "USD",
                "location": "Main Warehouse",
                "subsidiary": "Acme Retail US",
                "sf_id": "001000000000000AAA",
                "line": "1",
                "retry_s": "5",
                "channel": "#ops-alerts",
                "file_date": "2026-01-01",
            }
        )
        return doc


@dataclass
class Flow:
    """A flow: page generators, then page processors or router branches (§4.1)."""

    flow_id: str
    name: str
    integration_id: str | None
    disabled: bool
    sandbox: bool
    auto_resolve: bool
    generators: list[Step]
    processors: list[Step]
    branches: list[tuple[str, list[Step]]]
    created_ms: int
    schedule: str
    runs: RunLayout
    last_executed_ms: int | None = None

    @property
    def steps(self) -> list[Step]:
        """Every step in flow order: generators, processors, then each branch's processors."""
        steps = self.generators + self.processors
        for _, branch in self.branches:
            steps = steps + branch
        return steps

    def to_json(self) -> dict[str, Any]:
        """The flow document as ``GET /v1/flows`` returns it."""

        def processor(step: Step) -> dict[str, Any]:
            kind = "import" if step.is_import else "export"
            return {
                "type": kind,
                f"_{kind}Id": step.step_id,
                "proceedOnFailure": False,
                "responseMapping": {"fields": [], "lists": []},
            }

        doc: dict[str, Any] = {
            "_id": self.flow_id,
            "name": self.name,
            "description": f"{self.name} (simulated)",
            "disabled": self.disabled,
            "sandbox": self.sandbox,
            "schedule": self.schedule,
            "timezone": "America/New_York",
            # The flow setting behind auto-resolve by traceKey (§5); the field name is INFERRED.
            "autoResolveMatchingTraceKeys": self.auto_resolve,
            "pageGenerators": [{"_exportId": s.step_id, "skipRetries": False} for s in self.generators],
            "createdAt": iso_ms(self.created_ms),
            "lastModified": iso_ms(self.created_ms + 86_400_000),
        }
        if self.integration_id:
            doc["_integrationId"] = self.integration_id
        # §4.1: a flow uses either pageProcessors or routers, never both.
        if self.branches:
            doc["routers"] = [
                {
                    "id": f"router-{self.flow_id[-6:]}",
                    "routeRecordsTo": "first_matching_branch",
                    "branches": [
                        {"name": name, "pageProcessors": [processor(s) for s in steps]}
                        for name, steps in self.branches
                    ],
                }
            ]
        else:
            doc["pageProcessors"] = [processor(s) for s in self.processors]
        if self.last_executed_ms is not None:
            doc["lastExecutedAt"] = iso_ms(self.last_executed_ms)
        return doc


@dataclass
class Job:
    """A flow, step (export/import) or retry job (§3.2)."""

    job_id: str
    type: str
    created_ms: int
    flow: Flow
    status: str = "completed"
    step: Step | None = None
    flow_job_id: str | None = None
    started_ms: int | None = None
    ended_ms: int | None = None
    num_error: int = 0
    num_resolved: int = 0
    num_success: int = 0
    num_ignore: int = 0
    num_pages: int = 0
    children: list[Job] = field(default_factory=list)
    triggered_by: str | None = None
    canceled_by: str | None = None
    start_at_ms: int | None = None
    end_at_ms: int | None = None
    retry_keys: list[str] = field(default_factory=list)
    live: bool = False

    def counts(self) -> tuple[int, int]:
        """(numError, numResolved); a flow job sums its step jobs (§3.4: counters are per run and step)."""
        if self.type == "flow" and self.children:
            return sum(c.num_error for c in self.children), sum(c.num_resolved for c in self.children)
        return self.num_error, self.num_resolved

    def to_json(self) -> dict[str, Any]:
        """The job object of ``GET /v1/jobs`` (§3.2)."""
        num_error, num_resolved = self.counts()
        last = self.ended_ms or self.started_ms or self.created_ms
        doc: dict[str, Any] = {
            "_id": self.job_id,
            "type": self.type,
            "status": self.status,
            "_flowId": self.flow.flow_id,
            "numError": num_error,
            "numResolved": num_resolved,
            "numOpenError": num_error - num_resolved,
            "numSuccess": self.num_success,
            "numIgnore": self.num_ignore,
            "numPagesGenerated": self.num_pages,
            "numPagesProcessed": self.num_pages if self.status == "completed" else 0,
            "doneExporting": self.status not in ACTIVE_STATUSES,
            "createdAt": iso_ms(self.created_ms),
            "lastModified": iso_ms(last),
            "purgeAt": iso_ms(self.created_ms + RETENTION_MS),
            "files": [],
        }
        if self.flow.integration_id:
            doc["_integrationId"] = self.flow.integration_id
        step = self.step or (
            self.flow.generators[0] if self.type == "flow" and self.flow.generators else None
        )
        if step is not None:
            doc["_importId" if step.is_import else "_exportId"] = step.step_id
        if self.flow_job_id:
            doc["_flowJobId"] = self.flow_job_id
        if self.step is not None and self.type in ("export", "import"):
            doc["oIndex"] = self.step.o_index
            if self.step.is_import:
                doc["retriable"] = True
        if self.started_ms is not None:
            doc["startedAt"] = iso_ms(self.started_ms)
        if self.ended_ms is not None:
            doc["endedAt"] = iso_ms(self.ended_ms)
            doc["lastExecutedAt"] = iso_ms(self.ended_ms)
        if self.status == "running":
            doc["percentComplete"] = 50
        if self.triggered_by:
            doc["triggeredBy"] = self.triggered_by
        if self.canceled_by:
            doc["canceledBy"] = self.canceled_by
        return doc


@dataclass(frozen=True)
class WorldSettings:
    """The parts of the simulator configuration the world itself needs."""

    retry_success_ratio: float = 0.7
    retry_job_seconds: tuple[float, float] = (1.0, 2.0)
    live_rate: float = 0.0


class World:
    """One simulated integrator.io account and everything in it."""

    def __init__(self, *, salt: int, clock: SimClock, settings: WorldSettings, user_id: str) -> None:
        self.lock = threading.RLock()
        self.salt, self.clock, self.settings = salt, clock, settings
        self.user_id = user_id
        self.built_at_ms = clock.start_ms
        self.integrations: dict[str, dict[str, Any]] = {}
        self.connections: dict[str, dict[str, Any]] = {}
        self.flows: dict[str, Flow] = {}
        self.steps: dict[str, Step] = {}
        self.users: list[dict[str, Any]] = []
        self.tags: list[dict[str, Any]] = []
        self.stores: dict[tuple[str, str], ErrorStore] = {}
        self.jobs: dict[str, Job] = {}
        self._job_order: list[tuple[int, str]] = []
        self._step_jobs: dict[tuple[str, str], Job] = {}
        self._active: list[Job] = []
        self._live_jobs: dict[str, Job] = {}
        self._counter = 0
        self._live_made = 0
        self._live_origin_ms = clock.start_ms
        self._last_tick_ms = clock.start_ms
        self._last_sweep_ms = clock.start_ms

    # --- building --------------------------------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        """A fresh deterministic ObjectId for this world."""
        self._counter += 1
        return object_id(self.salt, kind, self._counter)

    def add_job(self, job: Job) -> None:
        """Register a job (and its step jobs) so ``/v1/jobs`` can find it."""
        self.jobs[job.job_id] = job
        insort(self._job_order, (job.created_ms, job.job_id))
        for child in job.children:
            self.jobs[child.job_id] = child
            insort(self._job_order, (child.created_ms, child.job_id))
            if child.step is not None:
                self._step_jobs[(job.job_id, child.step.step_id)] = child

    def step_job(self, flow_job: Job, step: Step) -> Job:
        """The step job of ``step`` inside a flow job, created on first use."""
        child = self._step_jobs.get((flow_job.job_id, step.step_id))
        if child is None:
            child = Job(
                job_id=self.new_id("job"),
                type="import" if step.is_import else "export",
                created_ms=flow_job.created_ms,
                flow=flow_job.flow,
                status=flow_job.status,
                step=step,
                flow_job_id=flow_job.job_id,
                started_ms=flow_job.started_ms,
                ended_ms=flow_job.ended_ms,
            )
            flow_job.children.append(child)
            self.jobs[child.job_id] = child
            insort(self._job_order, (child.created_ms, child.job_id))
            self._step_jobs[(flow_job.job_id, step.step_id)] = child
        return child

    def users_who_resolve(self) -> list[str]:
        """User ids that appear as ``resolvedBy``: accepted, enabled ashares users (§4.4), plus "auto"."""
        ids = [u["sharedWithUser"]["_id"] for u in self.users if u["accepted"] and not u["disabled"]]
        return [*ids, "auto", "auto"]

    # --- reading ---------------------------------------------------------------------------------------

    def flow(self, flow_id: str) -> Flow:
        """A flow by id, or NotFound."""
        flow = self.flows.get(flow_id)
        if flow is None:
            raise NotFound(f"Flow {flow_id} not found")
        return flow

    def store(self, flow_id: str, step_id: str) -> ErrorStore:
        """The error store of a flow step, or NotFound."""
        store = self.stores.get((flow_id, step_id))
        if store is None:
            self.flow(flow_id)
            raise NotFound(f"Step {step_id} is not part of flow {flow_id}")
        return store

    def integration_summary(self, integration_id: str, sandbox: bool) -> list[dict[str, Any]]:
        """Rows of ``GET /v1/integrations/{iid}/errors`` (§2.1): flows with open errors only (INFERRED)."""
        with self.lock:
            self.tick()
            if integration_id != "none" and integration_id not in self.integrations:
                raise NotFound(f"Integration {integration_id} not found")
            target = None if integration_id == "none" else integration_id
            now = self.clock.now_ms()
            rows = []
            for flow in self.flows.values():
                if flow.integration_id != target or flow.sandbox != sandbox:
                    continue
                stores = [self.stores[(flow.flow_id, s.step_id)] for s in flow.steps]
                total = sum(s.open_count(now) for s in stores)
                if total:
                    newest = max(m for s in stores if (m := s.last_error_ms(now)) is not None)
                    rows.append({"_flowId": flow.flow_id, "numError": total, "lastErrorAt": iso_ms(newest)})
            return rows

    def flow_summary(self, flow_id: str) -> list[dict[str, Any]]:
        """``flowErrors`` of ``GET /v1/flows/{fid}/errors`` (§2.2): every step, 0 counts included."""
        with self.lock:
            self.tick()
            flow = self.flow(flow_id)
            now = self.clock.now_ms()
            rows = []
            for step in flow.steps:
                store = self.stores[(flow_id, step.step_id)]
                row: dict[str, Any] = {"_expOrImpId": step.step_id, "numError": store.open_count(now)}
                newest = store.last_error_ms(now)
                if row["numError"] and newest is not None:
                    row["lastErrorAt"] = iso_ms(newest)
                rows.append(row)
            return rows

    def error_page(
        self, flow_id: str, step_id: str, resolved: bool, flt: ErrorFilter, before: Any, limit: int
    ) -> tuple[list[dict[str, Any]], Any]:
        """One page of a step's open or resolved errors and the cursor of the next page."""
        with self.lock:
            self.tick()
            return self.store(flow_id, step_id).page(resolved, flt, before, limit, self.clock.now_ms())

    def jobs_newest_first(self) -> Iterable[Job]:
        """Every job not past its purgeAt, newest ``createdAt`` first."""
        now = self.clock.now_ms()
        for created, job_id in reversed(self._job_order):
            if created + RETENTION_MS > now:
                yield self.jobs[job_id]

    def job(self, job_id: str) -> Job:
        """A job by id, or NotFound."""
        job = self.jobs.get(job_id)
        if job is None or job.created_ms + RETENTION_MS <= self.clock.now_ms():
            raise NotFound(f"Job {job_id} not found")
        return job

    # --- changing --------------------------------------------------------------------------------------

    def _count_resolution(self, store: ErrorStore, errors: Iterable[StoredError]) -> None:
        flow = self.flows[store.flow_id]
        step = self.steps[store.step_id]
        for error in errors:
            flow_job = self.jobs.get(error.job_id)
            if flow_job is not None:
                self.step_job(flow_job, step).num_resolved += 1
        del flow

    def resolve(self, flow_id: str, step_id: str, error_ids: Iterable[str], by: str) -> int:
        """``PUT …/resolved`` (§2.6): resolve open errors; returns how many moved."""
        with self.lock:
            self.tick()
            store = self.store(flow_id, step_id)
            now = self.clock.now_ms()
            moved = store.resolve(_int_ids(error_ids), by, now, now)
            self._count_resolution(store, moved)
            return len(moved)

    def purge(self, flow_id: str, step_id: str, error_ids: Iterable[str]) -> int:
        """``DELETE …/resolved`` (§2.7): delete resolved errors for good."""
        with self.lock:
            self.tick()
            return self.store(flow_id, step_id).purge(_int_ids(error_ids), self.clock.now_ms())

    def annotate(self, flow_id: str, step_id: str, error_ids: Iterable[str], changes: dict[str, Any]) -> int:
        """Record assignment or tags on errors (§2.12, §2.13); field names are INFERRED."""
        with self.lock:
            self.tick()
            store = self.store(flow_id, step_id)
            now = self.clock.now_ms()
            changed = 0
            for eid in _int_ids(error_ids):
                if store.find(eid, now) is not None:
                    store.annotations.setdefault(eid, {}).update(changes)
                    changed += 1
            return changed

    def add_error(
        self,
        flow_id: str,
        step_id: str,
        *,
        job: Job | None = None,
        trace: str | None = None,
        overrides: dict[str, Any] | None = None,
        at_ms: int | None = None,
    ) -> dict[str, Any]:
        """Create an open error on a step, attached to a flow job, and apply auto-resolve (§5)."""
        with self.lock:
            store = self.store(flow_id, step_id)
            at = at_ms if at_ms is not None else self.clock.now_ms()
            if job is None:
                job = self._live_job(store, at)
            self._counter += 1
            h = mix64(self.salt ^ hash_text("error", self._counter))
            error = self._add(store, job, h, store.profile.template_index(h), at, trace, overrides)
            return error.data

    def _add(
        self,
        store: ErrorStore,
        flow_job: Job,
        h: int,
        template: int,
        at_ms: int,
        trace: str | None,
        overrides: dict[str, Any] | None = None,
    ) -> StoredError:
        flow = self.flows[store.flow_id]
        if trace and flow.auto_resolve:
            # §5 auto-resolve: earlier open errors with the same traceKey are resolved by "auto".
            for other in self.stores_of(flow):
                stale = other.open_ids_with_trace(trace, at_ms)
                self._count_resolution(other, other.resolve(stale, "auto", at_ms, at_ms))
        error = store.add(
            h=h,
            template=template,
            occurred_ms=at_ms,
            job_id=flow_job.job_id,
            trace=trace,
            overrides=overrides,
        )
        self.step_job(flow_job, self.steps[store.step_id]).num_error += 1
        flow.last_executed_ms = max(flow.last_executed_ms or 0, at_ms)
        return error

    def stores_of(self, flow: Flow) -> list[ErrorStore]:
        """The error stores of every step of a flow."""
        return [self.stores[(flow.flow_id, s.step_id)] for s in flow.steps]

    def retry(self, flow_id: str, step_id: str, keys: list[str]) -> Job:
        """``POST …/retry`` (§2.8): queue a retry job for the errors behind ``keys``."""
        with self.lock:
            self.tick()
            store = self.store(flow_id, step_id)
            flow = self.flows[flow_id]
            now = self.clock.now_ms()
            queued, running = self.settings.retry_job_seconds
            job = Job(
                job_id=self.new_id("job"),
                type="retry",
                created_ms=now,
                flow=flow,
                status="queued",
                step=self.steps[store.step_id],
                start_at_ms=now + int(queued * 1000),
                end_at_ms=now + int((queued + running) * 1000),
                retry_keys=list(dict.fromkeys(keys)),
                triggered_by=self.user_id,
            )
            self.add_job(job)
            self._active.append(job)
            return job

    def run_flow(self, flow_id: str) -> Job:
        """``POST /v1/flows/{id}/run`` (§4.2): a queued flow job, or Conflict on a disabled flow."""
        with self.lock:
            self.tick()
            flow = self.flow(flow_id)
            if flow.disabled:
                raise Conflict("invalid_flow", f"Flow {flow_id} is disabled and cannot be run.")
            now = self.clock.now_ms()
            queued, running = self.settings.retry_job_seconds
            job = Job(
                job_id=self.new_id("job"),
                type="flow",
                created_ms=now,
                flow=flow,
                status="queued",
                start_at_ms=now + int(queued * 1000),
                end_at_ms=now + int((queued + running) * 1000),
                triggered_by=self.user_id,
            )
            self.add_job(job)
            for step in flow.steps:
                self.step_job(job, step).status = "queued"
            self._active.append(job)
            return job

    def cancel(self, job_id: str) -> Job:
        """``PUT /v1/jobs/{id}/cancel``: stop a queued or running job; finished jobs give Conflict."""
        with self.lock:
            self.tick()
            job = self.job(job_id)
            if job.status not in ACTIVE_STATUSES:
                raise Conflict("invalid_job_state", f"Job {job_id} is {job.status} and cannot be canceled.")
            now = self.clock.now_ms()
            for target in [job, *job.children]:
                target.status, target.ended_ms, target.canceled_by = "canceled", now, self.user_id
            if job in self._active:
                self._active.remove(job)
            return job

    # --- time ------------------------------------------------------------------------------------------

    def tick(self) -> None:
        """Apply everything due by now: job progress, retry outcomes, live errors, purges."""
        with self.lock:
            now = self.clock.now_ms()
            for job in sorted(self._active, key=lambda j: (j.end_at_ms or 0, j.job_id)):
                self._advance_job(job, now)
            self._active = [j for j in self._active if j.status in ACTIVE_STATUSES]
            self._make_live_errors(now)
            for flow_id, job in list(self._live_jobs.items()):
                if now - job.created_ms >= LIVE_RUN_MS:
                    self._finish_live_job(flow_id, job)
            if now - self._last_sweep_ms > 60_000:
                self._last_sweep_ms = now
                for store in self.stores.values():
                    store.forget_expired(now)
            self._last_tick_ms = now

    def _advance_job(self, job: Job, now: int) -> None:
        assert job.start_at_ms is not None
        assert job.end_at_ms is not None
        if job.status == "queued" and now >= job.start_at_ms:
            job.status, job.started_ms = "running", job.start_at_ms
            for child in job.children:
                child.status, child.started_ms = "running", job.start_at_ms
        if job.status == "running" and now >= job.end_at_ms:
            if job.type == "retry":
                self._finish_retry(job, job.end_at_ms)
            else:
                self._finish_run(job, job.end_at_ms)
            job.status, job.ended_ms = "completed", job.end_at_ms
            for child in job.children:
                child.status, child.ended_ms = "completed", job.end_at_ms

    def _finish_retry(self, job: Job, at: int) -> None:
        """Each retried record succeeds (resolved by "auto") or fails again (a new error, same traceKey)."""
        assert job.step is not None
        store = self.stores[(job.flow.flow_id, job.step.step_id)]
        for key in job.retry_keys:
            found = store.find_by_retry_key(key, at)
            if found is None:
                continue
            state, error = found
            roll = mix64(self.salt ^ hash_text("retry", key, job.job_id)) / 2**64
            if roll < self.settings.retry_success_ratio:
                job.num_success += 1
                if state == "open":
                    self._count_resolution(store, store.resolve([error.eid], "auto", at, at))
                continue
            job.num_error += 1
            # INFERRED: the retried error leaves the open list (resolved "auto") and the record's new
            # failure is a new error with a new errorId and the same traceKey (§2.8).
            if state == "open":
                self._count_resolution(store, store.resolve([error.eid], "auto", at, at))
            data = store.retry_data.get(key)
            flow_job = self.jobs.get(error.job_id) or job
            fresh = self._add(store, flow_job, error.h, error.template, at, error.data["traceKey"])
            new_key = fresh.data.get("retryDataKey")
            if data is not None and new_key:
                store.retry_data[new_key] = data

    def _finish_run(self, job: Job, at: int) -> None:
        """A manual run ends with 0 to 2 new errors on the flow's last step (deterministic per job)."""
        job.num_success = 20 + mix64(self.salt ^ hash_text("run", job.job_id)) % 200
        job.num_pages = 1 + job.num_success // 100
        job.flow.last_executed_ms = at
        last = job.flow.steps[-1]
        store = self.stores[(job.flow.flow_id, last.step_id)]
        for n in range(mix64(self.salt ^ hash_text("run-errors", job.job_id)) % 3):
            h = mix64(self.salt ^ hash_text("run-error", job.job_id, n))
            self._add(store, job, h, store.profile.template_index(h), at - 1 + n, None)

    def _live_job(self, store: ErrorStore, at: int) -> Job:
        flow = self.flows[store.flow_id]
        job = self._live_jobs.get(flow.flow_id)
        if job is None or at - job.created_ms >= LIVE_RUN_MS:
            if job is not None:
                self._finish_live_job(flow.flow_id, job)
            job = Job(
                job_id=self.new_id("job"),
                type="flow",
                created_ms=at,
                flow=flow,
                status="running",
                started_ms=at,
                triggered_by="scheduler",
                live=True,
            )
            self.add_job(job)
            self._live_jobs[flow.flow_id] = job
        return job

    def _finish_live_job(self, flow_id: str, job: Job) -> None:
        end = job.created_ms + LIVE_RUN_MS
        job.status, job.ended_ms = "completed", end
        job.num_success = 50 + mix64(self.salt ^ hash_text("live", job.job_id)) % 500
        for child in job.children:
            child.status, child.ended_ms = "completed", end
        del self._live_jobs[flow_id]

    def _make_live_errors(self, now: int) -> None:
        """``live_rate`` errors per second, spread over enabled production flows (issue 3)."""
        rate = self.settings.live_rate
        if rate <= 0:
            return
        due = int((now - self._live_origin_ms) * rate / 1000)
        if due - self._live_made > MAX_LIVE_ERRORS_PER_TICK:
            self._live_made = due - MAX_LIVE_ERRORS_PER_TICK
        candidates = [
            s
            for s in self.stores.values()
            if not self.flows[s.flow_id].disabled and not self.flows[s.flow_id].sandbox
        ]
        while self._live_made < due and candidates:
            self._live_made += 1
            at = self._live_origin_ms + int(self._live_made * 1000 / rate)
            h = mix64(self.salt ^ hash_text("live-error", self._live_made))
            store = candidates[h % len(candidates)]
            trace = None
            if (h >> 8) % 4 == 0:
                # A record that failed before fails again: exercises auto-resolve by traceKey.
                rows, _ = store.page(False, ErrorFilter(), None, 1, at)
                trace = rows[0]["traceKey"] if rows else None
            self._add(store, self._live_job(store, at), h, store.profile.template_index(h), at, trace)


def _int_ids(error_ids: Iterable[str]) -> list[int]:
    ids = []
    for value in error_ids:
        text = str(value)
        if text.isdigit():
            ids.append(int(text))
    return ids
