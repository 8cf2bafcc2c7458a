"""Open and resolved errors of one flow step, generated on demand.

A step's initial errors are never stored: error ``i`` is a pure function of (step salt, ``i``), with
``occurredAt`` increasing with ``i`` and laid out inside the flow's runs (jobs), so filters on time or on
``_flowJobId`` become index ranges and counts become arithmetic. Only what changes is stored: resolutions,
purges, annotations, edited retry data and errors created while the server runs. That is how a million
errors cost megabytes, not gigabytes (issue 3).
"""

from __future__ import annotations

import heapq
import json
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .catalog import ErrorTemplate, StepProfile, values_for
from .clock import iso_ms
from .ids import mix64

DAY_MS = 86_400_000
# Errors, resolved errors and jobs are kept 30 days by default (docs/celigo-api.md §5 "Retention", §2.3
# purgeAt).
RETENTION_MS = 30 * DAY_MS
# Only the newest 20,000 errors of a step keep their retry data (docs/celigo-api.md §2.9, D-RR).
RETRY_DATA_KEEP = 20_000
# Every 7th generated error (offset 3) starts out resolved, so resolved lists are never empty.
RESOLVED_EVERY, RESOLVED_OFFSET = 7, 3
STEP_ID_SPAN = 10_000_000

SortKey = tuple[int, int]


@dataclass(frozen=True)
class ErrorFilter:
    """Query filters of §2.3 (open) and §2.5 (resolved), already parsed."""

    occurred_gte: int | None = None
    occurred_lte: int | None = None
    resolved_gte: int | None = None
    resolved_lte: int | None = None
    sources: frozenset[str] | None = None
    classifications: frozenset[str] | None = None
    flow_job_id: str | None = None

    def accepts_kind(self, source: str, classification: str) -> bool:
        """Whether an error with this source and classification passes the repeatable filters."""
        if self.sources is not None and source not in self.sources:
            return False
        return self.classifications is None or classification in self.classifications


@dataclass
class RunLayout:
    """The past runs (flow jobs) of one flow: when each started and how long it ran.

    Error ``i`` of a step holding ``n`` errors belongs to run ``i * J // n`` and occurred inside that run,
    so ``occurredAt`` grows with ``i`` and every error's ``_flowJobId`` names a real flow job (§3.4).
    """

    starts_ms: list[int]
    duration_ms: int
    job_ids: list[str]

    def __post_init__(self) -> None:
        self._index = {job_id: j for j, job_id in enumerate(self.job_ids)}

    def run_count(self) -> int:
        """How many past runs the flow has."""
        return len(self.starts_ms)

    def run_index(self, job_id: str) -> int | None:
        """The position of a flow job among the flow's past runs, if it is one."""
        return self._index.get(job_id)

    def block_start(self, run: int, n: int) -> int:
        """The first error index that belongs to ``run`` in a step holding ``n`` errors."""
        return -(-run * n // len(self.starts_ms))

    def run_of(self, i: int, n: int) -> int:
        """The run error ``i`` belongs to."""
        return i * len(self.starts_ms) // n

    def occurred_ms(self, i: int, n: int) -> int:
        """When error ``i`` of ``n`` occurred: strictly inside its run, spread evenly."""
        run = self.run_of(i, n)
        first, after = self.block_start(run, n), self.block_start(run + 1, n)
        return self.starts_ms[run] + ((i - first + 1) * self.duration_ms) // (after - first + 1)


@dataclass
class StoredError:
    """An error that exists in memory: created at run time, or a generated one that was resolved."""

    eid: int
    h: int
    template: int
    occurred_ms: int
    job_id: str
    data: dict[str, Any]
    resolved_ms: int | None = None


@dataclass
class _Ordered:
    """Errors by id plus their sort keys, re-sorted lazily (appends arrive mostly in order)."""

    by_id: dict[int, StoredError] = field(default_factory=dict)
    keys: list[SortKey] = field(default_factory=list)
    dirty: bool = False

    def add(self, key: SortKey, error: StoredError) -> None:
        if self.keys and key < self.keys[-1]:
            self.dirty = True
        self.keys.append(key)
        self.by_id[error.eid] = error

    def pop(self, eid: int) -> StoredError | None:
        # The key stays in ``keys`` and is skipped on read; compacting when half are stale bounds the waste.
        error = self.by_id.pop(eid, None)
        if error is not None and len(self.keys) > 64 and len(self.keys) > 2 * len(self.by_id):
            live = {e.eid for e in self.by_id.values()}
            self.keys = [k for k in self.keys if k[1] in live]
        return error

    def sorted_keys(self) -> list[SortKey]:
        if self.dirty:
            self.keys.sort()
            self.dirty = False
        return self.keys

    def descending(self, before: SortKey | None) -> Iterator[tuple[SortKey, StoredError]]:
        keys = self.sorted_keys()
        top = len(keys) if before is None else bisect_left(keys, before)
        for position in range(top - 1, -1, -1):
            key = keys[position]
            error = self.by_id.get(key[1])
            if error is not None and self._key_of(error) == key:
                yield key, error

    @staticmethod
    def _key_of(error: StoredError) -> SortKey:
        moment = error.resolved_ms if error.resolved_ms is not None else error.occurred_ms
        return (moment, error.eid)


class ErrorStore:
    """The errors of one step of one flow (docs/celigo-api.md §2: errors are stored per flow step)."""

    def __init__(
        self,
        *,
        flow_id: str,
        step_id: str,
        is_import: bool,
        o_index: int,
        ordinal: int,
        salt: int,
        profile: StepProfile,
        runs: RunLayout,
        count: int,
        unique_traces: bool,
        resolve_delay_ms: int,
        built_at_ms: int,
        resolvers: list[str],
    ) -> None:
        self.flow_id, self.step_id, self.is_import, self.o_index = flow_id, step_id, is_import, o_index
        self.salt, self.profile, self.runs, self.n = salt, profile, runs, count
        self.base = STEP_ID_SPAN * (ordinal + 100)
        self.unique_traces = unique_traces
        self.trace_base = 1000 + salt % 900_000
        self.resolve_delay_ms = resolve_delay_ms
        self.resolvers = resolvers or ["auto"]
        # Generated errors old enough to have been resolved before the world was built start out resolved.
        self.cut = self._first_index_after(built_at_ms - resolve_delay_ms - 60_000)
        self.removed_open: set[int] = set()
        self.purged_resolved: set[int] = set()
        self.open_extra = _Ordered()
        self.resolved_extra = _Ordered()
        self.annotations: dict[int, dict[str, Any]] = {}
        self.retry_data: dict[str, Any] = {}
        self.extra_traces: dict[str, set[int]] = {}
        self.next_extra = count

    # --- generated errors: pure functions of the index -------------------------------------------------

    def occurred_ms(self, i: int) -> int:
        """When generated error ``i`` occurred."""
        return self.runs.occurred_ms(i, self.n)

    def _first_index_after(self, moment_ms: int) -> int:
        """The first generated index whose occurredAt is later than ``moment_ms``."""
        if self.n == 0:
            return 0
        return bisect_right(range(self.n), moment_ms, key=self.occurred_ms)

    def _first_index_from(self, moment_ms: int) -> int:
        return bisect_left(range(self.n), moment_ms, key=self.occurred_ms) if self.n else 0

    def _hash(self, i: int) -> int:
        return mix64(self.salt ^ i)

    def _starts_resolved(self, i: int) -> bool:
        return i % RESOLVED_EVERY == RESOLVED_OFFSET and i < self.cut

    @staticmethod
    def _count_resolved_below(x: int) -> int:
        return (x + RESOLVED_EVERY - 1 - RESOLVED_OFFSET) // RESOLVED_EVERY if x > 0 else 0

    def starts_resolved_between(self, lo: int, hi: int) -> int:
        """How many generated errors in [lo, hi) start out resolved."""
        hi = min(hi, self.cut)
        return max(0, self._count_resolved_below(hi) - self._count_resolved_below(lo)) if hi > lo else 0

    def template_of(self, h: int) -> ErrorTemplate:
        """The template an error with hash ``h`` is written from."""
        return self.profile.templates[self.profile.template_index(h)]

    def _trace(self, i: int, h: int) -> str:
        if self.unique_traces:
            return f"{self.profile.trace_prefix}{self.trace_base + i}"
        # Other flows see the same record fail in several runs, as real flows do.
        pool = max(1, self.n // 3)
        return f"{self.profile.trace_prefix}{self.trace_base + (h >> 20) % pool}"

    def generated_index_of_trace(self, trace: str) -> int | None:
        """The generated error carrying ``trace``, when traces are unique in this step."""
        prefix = self.profile.trace_prefix
        if not self.unique_traces or not trace.startswith(prefix) or not trace[len(prefix) :].isdigit():
            return None
        i = int(trace[len(prefix) :]) - self.trace_base
        return i if 0 <= i < self.n else None

    def retry_data_key(self, h: int, eid: int) -> str:
        """A 32-hex retryDataKey; the error id is encoded in it so lookups need no index (INFERRED format)."""
        return f"{mix64(h ^ 1):016x}{mix64(h ^ 2) & 0xFFFF:04x}{eid:012x}"

    def request_key(self, h: int, eid: int, occurred_ms: int, method: str, status: int) -> str:
        """A reqAndResKey shaped like ``<epochms>-<hex>-<status>-<METHOD>`` (docs/celigo-api.md §2.10)."""
        return f"{occurred_ms}-{mix64(h ^ 3) & 0xFFFFFFFF:08x}{eid:012x}-{status}-{method}"

    def _build(
        self, eid: int, h: int, template: ErrorTemplate, occurred_ms: int, job_id: str, trace: str
    ) -> dict[str, Any]:
        values = values_for(h, trace)
        error: dict[str, Any] = {
            "errorId": str(eid),
            "occurredAt": iso_ms(occurred_ms),
            "source": template.source,
            "code": template.code,
            "message": template.render(values),
            "traceKey": trace,
            # §2.3: the D-ERR sample shows oIndex as a string; other payloads carry a number. Serve both.
            "oIndex": str(self.o_index) if (h >> 33) & 1 else self.o_index,
            "_flowJobId": job_id,
            "classification": template.classification,
            "classifiedBy": "autopilot",
            "purgeAt": iso_ms(occurred_ms + RETENTION_MS),
        }
        if (h >> 35) % 3:
            if self.is_import:
                error["importDataURI"] = (
                    f"https://1234567.app.netsuite.com/app/common/search/ss.nl?id={trace}"
                )
            else:
                error["exportDataURI"] = f"{self.profile.base_url}/records/{trace}"
        # §2.3: retryDataKey may be absent (not retriable); some retriable kinds still lack one.
        if template.retriable and (h >> 40) % 10:
            error["retryDataKey"] = self.retry_data_key(h, eid)
        if template.http is not None:
            method, status = template.http
            error["reqAndResKey"] = self.request_key(h, eid, occurred_ms, method, status)
        return error

    def _render_generated(self, i: int) -> dict[str, Any]:
        h = self._hash(i)
        job = self.runs.job_ids[self.runs.run_of(i, self.n)]
        error = self._build(
            self.base + i, h, self.template_of(h), self.occurred_ms(i), job, self._trace(i, h)
        )
        if self._starts_resolved(i):
            error["resolvedAt"] = iso_ms(self.occurred_ms(i) + self.resolve_delay_ms)
            error["resolvedBy"] = self.resolvers[(h >> 45) % len(self.resolvers)]
        return error

    def _annotated(self, error: dict[str, Any]) -> dict[str, Any]:
        extra = self.annotations.get(int(error["errorId"]))
        return {**error, **extra} if extra else error

    def _stored_from_generated(self, i: int) -> StoredError:
        h = self._hash(i)
        return StoredError(
            eid=self.base + i,
            h=h,
            template=self.profile.template_index(h),
            occurred_ms=self.occurred_ms(i),
            job_id=self.runs.job_ids[self.runs.run_of(i, self.n)],
            data=self._render_generated(i),
        )

    # --- views -----------------------------------------------------------------------------------------

    def _live_floor(self, now_ms: int) -> int:
        """The first generated index not yet past its purgeAt (errors past purgeAt disappear)."""
        return self._first_index_after(now_ms - RETENTION_MS)

    def _generated_open(self, flt: ErrorFilter, before: SortKey | None, now_ms: int) -> Iterator[tuple]:
        if self.n == 0:
            return
        lo, hi = self._live_floor(now_ms), self.n
        if flt.occurred_gte is not None:
            lo = max(lo, self._first_index_from(flt.occurred_gte))
        if flt.occurred_lte is not None:
            hi = min(hi, self._first_index_after(flt.occurred_lte))
        if flt.flow_job_id is not None:
            run = self.runs.run_index(flt.flow_job_id)
            if run is None:
                return
            lo, hi = (
                max(lo, self.runs.block_start(run, self.n)),
                min(hi, self.runs.block_start(run + 1, self.n)),
            )
        if before is not None:
            hi = min(
                hi, bisect_left(range(self.n), before, key=lambda i: (self.occurred_ms(i), self.base + i))
            )
        picky = flt.sources is not None or flt.classifications is not None
        for i in range(hi - 1, lo - 1, -1):
            if self._starts_resolved(i) or i in self.removed_open:
                continue
            if picky:
                template = self.template_of(self._hash(i))
                if not flt.accepts_kind(template.source, template.classification):
                    continue
            yield (self.occurred_ms(i), self.base + i), 0, i

    def _generated_resolved(self, flt: ErrorFilter, before: SortKey | None, now_ms: int) -> Iterator[tuple]:
        delay = self.resolve_delay_ms
        lo, hi = self._live_floor(now_ms), self.cut
        if flt.resolved_gte is not None:
            lo = max(lo, self._first_index_from(flt.resolved_gte - delay))
        if flt.resolved_lte is not None:
            hi = min(hi, self._first_index_after(flt.resolved_lte - delay))
        if flt.occurred_gte is not None:
            lo = max(lo, self._first_index_from(flt.occurred_gte))
        if flt.occurred_lte is not None:
            hi = min(hi, self._first_index_after(flt.occurred_lte))
        if flt.flow_job_id is not None:
            run = self.runs.run_index(flt.flow_job_id)
            if run is None:
                return
            lo, hi = (
                max(lo, self.runs.block_start(run, self.n)),
                min(hi, self.runs.block_start(run + 1, self.n)),
            )
        if before is not None:
            hi = min(
                hi,
                bisect_left(
                    range(self.n), before, key=lambda i: (self.occurred_ms(i) + delay, self.base + i)
                ),
            )
        top = hi - 1 - ((hi - 1 - RESOLVED_OFFSET) % RESOLVED_EVERY)
        picky = flt.sources is not None or flt.classifications is not None
        for i in range(top, lo - 1, -RESOLVED_EVERY):
            if i in self.purged_resolved:
                continue
            if picky:
                template = self.template_of(self._hash(i))
                if not flt.accepts_kind(template.source, template.classification):
                    continue
            yield (self.occurred_ms(i) + delay, self.base + i), 0, i

    def _stored(
        self, ordered: _Ordered, flt: ErrorFilter, before: SortKey | None, now_ms: int
    ) -> Iterator[tuple]:
        for key, error in ordered.descending(before):
            if error.occurred_ms + RETENTION_MS <= now_ms or not _stored_matches(error, flt):
                continue
            yield key, 1, error

    def page(
        self, resolved: bool, flt: ErrorFilter, before: SortKey | None, limit: int, now_ms: int
    ) -> tuple[list[dict[str, Any]], SortKey | None]:
        """One page of open (or resolved) errors, newest first, and the key to continue after.

        Newest first is INFERRED (the order is not documented); paging is keyset-based so errors that
        arrive or leave during a walk neither repeat nor shift later pages.
        """
        if resolved:
            sources = (
                self._generated_resolved(flt, before, now_ms),
                self._stored(self.resolved_extra, flt, before, now_ms),
            )
        else:
            sources = (
                self._generated_open(flt, before, now_ms),
                self._stored(self.open_extra, flt, before, now_ms),
            )
        rows: list[dict[str, Any]] = []
        last: SortKey | None = None
        for key, kind, item in heapq.merge(*sources, key=lambda row: row[0], reverse=True):
            if len(rows) == limit:
                return rows, last
            rows.append(self._annotated(self._render_generated(item) if kind == 0 else item.data))
            last = key
        return rows, None

    def open_count(self, now_ms: int) -> int:
        """How many errors are open now (the ``numError`` of §2.1 and §2.2)."""
        lo = self._live_floor(now_ms)
        removed = len(self.removed_open) if lo == 0 else sum(1 for i in self.removed_open if i >= lo)
        generated = (self.n - lo) - self.starts_resolved_between(lo, self.n) - removed
        extra = sum(1 for e in self.open_extra.by_id.values() if e.occurred_ms + RETENTION_MS > now_ms)
        return generated + extra

    def last_error_ms(self, now_ms: int) -> int | None:
        """When the newest open error occurred (``lastErrorAt``), or None without open errors."""
        newest = None
        lo = self._live_floor(now_ms)
        for i in range(self.n - 1, lo - 1, -1):
            if not self._starts_resolved(i) and i not in self.removed_open:
                newest = self.occurred_ms(i)
                break
        for error in self.open_extra.by_id.values():
            if error.occurred_ms + RETENTION_MS > now_ms and (newest is None or error.occurred_ms > newest):
                newest = error.occurred_ms
        return newest

    # --- lookups ---------------------------------------------------------------------------------------

    def _generated_index(self, eid: int) -> int | None:
        i = eid - self.base
        return i if 0 <= i < self.n else None

    def find(self, eid: int, now_ms: int) -> tuple[str, StoredError] | None:
        """Locate an error by id: ("open" | "resolved", its stored form), or None if unknown or purged."""
        i = self._generated_index(eid)
        if i is not None:
            if self.occurred_ms(i) + RETENTION_MS <= now_ms:
                return None
            if self._starts_resolved(i) and i not in self.purged_resolved:
                stored = self._stored_from_generated(i)
                stored.resolved_ms = self.occurred_ms(i) + self.resolve_delay_ms
                return "resolved", stored
            if not self._starts_resolved(i) and i not in self.removed_open:
                return "open", self._stored_from_generated(i)
        for state, ordered in (("open", self.open_extra), ("resolved", self.resolved_extra)):
            error = ordered.by_id.get(eid)
            if error is not None and error.occurred_ms + RETENTION_MS > now_ms:
                return state, error
        return None

    def find_by_retry_key(self, key: str, now_ms: int) -> tuple[str, StoredError] | None:
        """The error a retryDataKey belongs to, if it is in this step."""
        if len(key) != 32:
            return None
        try:
            eid = int(key[20:], 16)
        except ValueError:
            return None
        found = self.find(eid, now_ms)
        if found is None or found[1].data.get("retryDataKey") != key:
            return None
        return found

    def find_by_request_key(self, key: str, now_ms: int) -> StoredError | None:
        """The error a reqAndResKey belongs to, if it is in this step."""
        parts = key.split("-")
        if len(parts) != 4 or len(parts[1]) != 20:
            return None
        try:
            eid = int(parts[1][8:], 16)
        except ValueError:
            return None
        found = self.find(eid, now_ms)
        if found is None or found[1].data.get("reqAndResKey") != key:
            return None
        return found[1]

    def open_ids_with_trace(self, trace: str, now_ms: int) -> list[int]:
        """Ids of open errors carrying ``trace`` (for auto-resolve by traceKey, §5)."""
        ids = [eid for eid in self.extra_traces.get(trace, ()) if eid in self.open_extra.by_id]
        i = self.generated_index_of_trace(trace)
        open_generated = i is not None and not self._starts_resolved(i) and i not in self.removed_open
        if i is not None and open_generated and self.find(self.base + i, now_ms) is not None:
            ids.append(self.base + i)
        return ids

    def has_retry_data(self, error: StoredError) -> bool:
        """Whether the retry data of an error is still kept (newest 20,000 per step, §2.9)."""
        i = self._generated_index(error.eid)
        return i is None or i >= self.n - RETRY_DATA_KEEP

    def default_retry_data(self, error: StoredError, stage: str) -> dict[str, Any]:
        """The retry data Celigo would hold for an error: the failed record plus its context (§2.9)."""
        values = values_for(error.h, error.data["traceKey"])
        return {"data": self.profile.record(values), "stage": stage, "traceKey": error.data["traceKey"]}

    def request_log(self, error: StoredError) -> dict[str, Any]:
        """The HTTP request/response pair behind an error with a reqAndResKey (§2.10)."""
        template = self.profile.templates[error.template]
        method, status = template.http or ("GET", 500)
        values = values_for(error.h, error.data["traceKey"])
        request_body = json.dumps(self.profile.record(values), ensure_ascii=False)
        response_body = template.response_body or error.data["message"]
        response: dict[str, Any] = {
            "status": status,
            "headers": {"content-type": "text/html" if response_body.startswith("<") else "application/json"},
        }
        # §2.10: a large body is replaced by bodyKey (fetched as a blob through a signed URL).
        if len(response_body) > 4096:
            response["bodyKey"] = f"{error.data['reqAndResKey']}-response"
        else:
            response["body"] = response_body
        return {
            "request": {
                "url": f"{self.profile.base_url}/{values['trace'].lstrip('#')}",
                "method": method,
                "headers": {"authorization": "Bearer ********", "content-type": "application/json"},
                "body": request_body,
            },
            "response": response,
        }

    # --- changes ---------------------------------------------------------------------------------------

    def resolve(self, eids: Iterable[int], by: str, at_ms: int, now_ms: int) -> list[StoredError]:
        """Move open errors to resolved; unknown or already resolved ids are ignored (INFERRED)."""
        moved = []
        for eid in eids:
            found = self.find(eid, now_ms)
            if found is None or found[0] != "open":
                continue
            error = found[1]
            i = self._generated_index(eid)
            if i is not None and eid not in self.open_extra.by_id:
                self.removed_open.add(i)
            else:
                self.open_extra.pop(eid)
            error.resolved_ms = at_ms
            error.data = {**error.data, "resolvedAt": iso_ms(at_ms), "resolvedBy": by}
            self.resolved_extra.add((at_ms, eid), error)
            moved.append(error)
        return moved

    def purge(self, eids: Iterable[int], now_ms: int) -> int:
        """Delete resolved errors for good (§2.7); returns how many were deleted."""
        deleted = 0
        for eid in eids:
            found = self.find(eid, now_ms)
            if found is None or found[0] != "resolved":
                continue
            if self.resolved_extra.pop(eid) is None:
                self.purged_resolved.add(eid - self.base)
            self.annotations.pop(eid, None)
            deleted += 1
        return deleted

    def add(
        self,
        *,
        h: int,
        template: int,
        occurred_ms: int,
        job_id: str,
        trace: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> StoredError:
        """Create a new open error (a live run, a failed retry, or ``/__sim__/errors``)."""
        eid = self.base + self.next_extra
        self.next_extra += 1
        trace = trace or f"{self.profile.trace_prefix}L{eid}"
        data = self._build(eid, h, self.profile.templates[template], occurred_ms, job_id, trace)
        if overrides:
            data.update(overrides)
        error = StoredError(
            eid=eid, h=h, template=template, occurred_ms=occurred_ms, job_id=job_id, data=data
        )
        self.open_extra.add((occurred_ms, eid), error)
        self.extra_traces.setdefault(data["traceKey"], set()).add(eid)
        return error

    def forget_expired(self, now_ms: int) -> None:
        """Drop stored errors past their purgeAt so memory stays flat over long runs."""
        for ordered in (self.open_extra, self.resolved_extra):
            for eid in [e.eid for e in ordered.by_id.values() if e.occurred_ms + RETENTION_MS <= now_ms]:
                ordered.pop(eid)
                self.annotations.pop(eid, None)


def _stored_matches(error: StoredError, flt: ErrorFilter) -> bool:
    data = error.data
    if not flt.accepts_kind(data["source"], data["classification"]):
        return False
    if flt.flow_job_id is not None and error.job_id != flt.flow_job_id:
        return False
    checks: tuple[tuple[int | None, int | None, Callable[[], int | None]], ...] = (
        (flt.occurred_gte, flt.occurred_lte, lambda: error.occurred_ms),
        (flt.resolved_gte, flt.resolved_lte, lambda: error.resolved_ms),
    )
    for low, high, moment in checks:
        if low is None and high is None:
            continue
        value = moment()
        if value is None or (low is not None and value < low) or (high is not None and value > high):
            return False
    return True
