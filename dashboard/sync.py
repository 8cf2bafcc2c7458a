"""The sync engine: keep a faithful, durable copy of every Celigo error of an account, cheaply.

One cycle (PRODUCT.md "Sync semantics", celigo-api.md §6):

1. per integration (and the standalone pseudo integration ``none``), the error summary (§2.1);
2. only for flows whose count or ``lastErrorAt`` changed, the per-step summary (§2.2);
3. only for steps whose count or ``lastErrorAt`` changed, the open errors since the step's watermark minus
   an overlap (§2.3), upserted in bulk;
4. when a step has fewer open errors in Celigo than here, its resolved list since the resolved watermark
   (§2.5) says who closed them; what is in neither list has been purged by Celigo's retention;
5. recent flow jobs (§3.1), one call.

A cycle in which nothing changed costs one call per integration plus two. A full reconcile (periodic, or
``--full``) walks every known step's open and resolved lists; metadata (names, structure, users, tags)
refreshes on a slower cadence.

Durability: rows are upserted by (account, flowId, stepId, errorId); a step's watermark and summary are
saved only after all of its rows are committed, and a flow's summary only after all of its steps. A sync
killed at any point leaves summaries that still differ from Celigo's, so the next run repeats the work.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from celigo_api import (
    STANDALONE_INTEGRATION_ID,
    AuthenticationFailed,
    CeligoClient,
    CeligoError,
    NotFound,
    PermissionDenied,
    RateLimited,
    StepError,
)
from dashboard.fingerprint import fingerprint
from dashboard.models import (
    AccountStatus,
    Activity,
    ActivityKind,
    CeligoAccount,
    CeligoState,
    CeligoUser,
    ErrorFingerprint,
    ErrorRecord,
    Flow,
    FlowJob,
    Integration,
    RetryOutcome,
    Step,
    StepKind,
    SyncKind,
    SyncOutcome,
    SyncRun,
    Tag,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors can be written in Celigo with an occurredAt slightly before the moment they become visible, so
# each pull re-reads a window before the watermark; upserts make the re-read harmless.
OVERLAP = timedelta(minutes=10)
JOBS_OVERLAP = timedelta(hours=1)
FIRST_JOBS_WINDOW = timedelta(days=1)
MAX_JOBS_PER_CYCLE = 2000
UPSERT_BATCH = 1000
LEASE = timedelta(minutes=10)
MESSAGE_LIMIT = 65_536  # characters kept in the message column; the raw JSON keeps the original
MAX_NOTES = 50
RETRY_IN_FLIGHT = timedelta(days=1)
PARALLEL_MIN_STEPS = 100
RECONCILE_THREADS = 4

CELIGO_FIELDS = [
    "integration",
    "flow",
    "step",
    "occurred_at",
    "source",
    "code",
    "message",
    "classification",
    "classified_by",
    "trace_key",
    "retry_data_key",
    "flow_job_id",
    "req_and_res_key",
    "o_index",
    "export_data_uri",
    "import_data_uri",
    "purge_at",
    "retriable",
    "raw",
    "fingerprint",
    "last_seen_at",
]
RESOLUTION_FIELDS = ["status", "resolved_at", "resolved_by"]


class SyncBusy(Exception):
    """Another worker holds this account's sync lease."""


# --- the lease ------------------------------------------------------------------------------------------


def acquire_lease(account_id: int, owner: str, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    taken = (
        CeligoAccount.objects.filter(pk=account_id)
        .filter(
            Q(sync_lease_expires_at__isnull=True)
            | Q(sync_lease_expires_at__lt=now)
            | Q(sync_lease_owner=owner)
        )
        .update(sync_lease_owner=owner, sync_lease_expires_at=now + LEASE)
    )
    return taken == 1


def renew_lease(account_id: int, owner: str) -> None:
    CeligoAccount.objects.filter(pk=account_id, sync_lease_owner=owner).update(
        sync_lease_expires_at=timezone.now() + LEASE
    )


def release_lease(account_id: int, owner: str) -> None:
    CeligoAccount.objects.filter(pk=account_id, sync_lease_owner=owner).update(
        sync_lease_owner="", sync_lease_expires_at=None
    )


# --- text hygiene ---------------------------------------------------------------------------------------


def clean_text(value: Any, limit: int | None = None) -> str:
    """Text PostgreSQL accepts: no NUL, no lone surrogates, at most ``limit`` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text[:limit] if limit is not None else text


def clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def clean_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """``clean_json`` only when needed: one C-speed dump finds NULs and lone surrogates, which are rare."""
    dumped = json.dumps(raw, ensure_ascii=False)
    try:
        dumped.encode("utf-8")
    except UnicodeEncodeError:
        return dict(clean_json(raw))
    return dict(clean_json(raw)) if "\\u0000" in dumped else raw


Row = dict[str, Any]
LIMITS: dict[str, int | None] = {
    f.name: getattr(f, "max_length", None) for f in ErrorRecord._meta.concrete_fields
}


# --- one run --------------------------------------------------------------------------------------------


@dataclass
class RunCounters:
    steps_pulled: int = 0
    new: int = 0
    updated: int = 0
    closed: int = 0
    purged: int = 0
    malformed: int = 0
    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        if len(self.notes) < MAX_NOTES:
            self.notes.append(text)


def sync_account(
    account: CeligoAccount, *, full: bool | None = None, client: CeligoClient | None = None
) -> SyncRun:
    """Run one sync of ``account`` now, in this process. Raises :class:`SyncBusy` if one is running.

    ``RateLimited`` propagates (after the run is recorded) so a Celery task can reschedule itself;
    every other Celigo failure is recorded on the run and on the account, and the run is returned.
    """
    owner = uuid.uuid4().hex
    if not acquire_lease(account.pk, owner):
        raise SyncBusy(f"a sync of {account.name} is already running")
    try:
        account.refresh_from_db()
        # A run still marked running while we hold the lease was cut off (its worker died).
        SyncRun.objects.filter(account=account, outcome=SyncOutcome.RUNNING).update(
            outcome=SyncOutcome.FAILED,
            finished_at=timezone.now(),
            failure_message="interrupted: the worker stopped before the sync finished",
        )
        is_full = account.full_sync_due() if full is None else full
        run = SyncRun.objects.create(account=account, kind=SyncKind.FULL if is_full else SyncKind.INCREMENTAL)
        own_client = client is None
        if client is None:
            from dashboard.celigo import client_for

            client = client_for(account)
        client.stats.reset()
        engine = AccountSync(account, client, run, owner, full=is_full)
        try:
            engine.run()
        except AuthenticationFailed as exc:
            engine.fail(
                exc, AccountStatus.REVOKED, "Celigo rejected the API token (revoked, expired or wrong region)"
            )
        except PermissionDenied as exc:
            engine.fail(
                exc, AccountStatus.FAILING, "The API token lacks permission for this account's resources"
            )
        except RateLimited as exc:
            engine.fail(
                exc,
                AccountStatus.FAILING,
                f"Rate limited by Celigo; retrying in {exc.retry_after or 0:.0f} s",
            )
            raise
        except CeligoError as exc:
            engine.fail(exc, AccountStatus.FAILING, "Celigo did not answer as expected")
        except Exception as exc:
            engine.fail(exc, AccountStatus.FAILING, "The sync failed")
            raise
        else:
            engine.succeed()
        finally:
            engine.record()
            if own_client:
                client.close()
        return run
    finally:
        release_lease(account.pk, owner)


class AccountSync:
    """The work of one sync run; each method is one step of the algorithm in the module docstring."""

    def __init__(
        self, account: CeligoAccount, client: CeligoClient, run: SyncRun, owner: str, *, full: bool
    ) -> None:
        self.account = account
        self.client = client
        self.run_record = run
        self.owner = owner
        self.full = full
        # Each thread of a parallel reconcile counts on its own; record() adds them up.
        self.local = threading.local()
        self.all_counters: list[RunCounters] = []
        self.counters_lock = threading.Lock()
        self.started = run.started_at
        self.flows: dict[str, Flow] = {f.celigo_id: f for f in Flow.objects.filter(account=account)}
        self.known_fingerprints: set[str] = set()
        self.lease_renewed = time.monotonic()
        self.integrations: dict[str, Integration] = {
            i.celigo_id: i for i in Integration.objects.filter(account=account)
        }

    @property
    def counters(self) -> RunCounters:
        counters: RunCounters | None = getattr(self.local, "counters", None)
        if counters is None:
            counters = self.local.counters = RunCounters()
            with self.counters_lock:
                self.all_counters.append(counters)
        return counters

    @property
    def fresh_step(self) -> bool:
        """The step this thread is pulling held no rows before: every error on it is new."""
        return bool(getattr(self.local, "fresh_step", False))

    @fresh_step.setter
    def fresh_step(self, value: bool) -> None:
        self.local.fresh_step = value

    # --- outcome ---------------------------------------------------------------------------------------

    def succeed(self) -> None:
        run = self.run_record
        run.outcome = SyncOutcome.SUCCEEDED
        update: dict[str, Any] = {"status": AccountStatus.OK, "status_message": ""}
        if self.full:
            update["last_full_sync_at"] = self.started
        self.set_account(**update)

    def fail(self, exc: BaseException, status: str, summary: str) -> None:
        log.warning("sync of account %s failed: %s", self.account.pk, exc)
        self.run_record.outcome = SyncOutcome.FAILED
        self.run_record.failure_message = f"{summary}: {exc}"[:2000]
        self.set_account(status=status, status_message=self.run_record.failure_message)

    def set_account(self, **fields: Any) -> None:
        if "status" in fields and fields["status"] != self.account.status:
            fields["status_changed_at"] = timezone.now()
        CeligoAccount.objects.filter(pk=self.account.pk).update(**fields)
        for name, value in fields.items():
            setattr(self.account, name, value)

    def record(self) -> None:
        run, stats = self.run_record, self.client.stats
        counters = RunCounters()
        for part in self.all_counters:
            for name in ("steps_pulled", "new", "updated", "closed", "purged", "malformed"):
                setattr(counters, name, getattr(counters, name) + getattr(part, name))
            counters.notes += part.notes[: MAX_NOTES - len(counters.notes)]
        run.finished_at = timezone.now()
        run.api_calls = stats.calls
        run.rate_limited = stats.rate_limited
        run.steps_pulled = counters.steps_pulled
        run.errors_new = counters.new
        run.errors_updated = counters.updated
        run.errors_closed = counters.closed
        run.errors_purged = counters.purged
        run.errors_malformed = counters.malformed
        run.notes = counters.notes
        run.save()

    # --- the cycle -------------------------------------------------------------------------------------

    def run(self) -> None:
        if self.full or self.account.metadata_due(self.started):
            self.refresh_metadata()
        if self.full:
            self.reconcile_all_steps()
            self.mark_expired()
        else:
            for flow, num_error, last_error_at in self.changed_flows():
                self.sync_flow(flow, num_error, last_error_at)
        self.refresh_jobs()

    def changed_flows(self) -> Iterator[tuple[Flow, int, datetime | None]]:
        """Flows whose integration-summary row differs from the one applied last time (§2.1)."""
        integration_ids = [i.celigo_id for i in self.integrations.values() if not i.deleted_in_celigo]
        if self.account.standalone_summary_supported:
            integration_ids.append(STANDALONE_INTEGRATION_ID)
        reported: dict[str, tuple[int, datetime | None]] = {}
        for integration_id in integration_ids:
            try:
                rows = self.client.integration_error_summary(integration_id, sandbox=self.account.sandbox)
            except NotFound:
                if integration_id != STANDALONE_INTEGRATION_ID:
                    raise
                # celigo-api.md §2.1 (INFERRED): this account does not summarise standalone flows.
                self.set_account(standalone_summary_supported=False)
                self.counters.note("standalone-flow summary unsupported; polling standalone flows one by one")
                continue
            for row in rows:
                reported[row.flow_id] = (row.num_error, row.last_error_at)
        if not self.account.standalone_summary_supported:
            for flow in self.flows.values():
                if flow.integration_id is None and not flow.deleted_in_celigo:
                    steps = self.client.flow_error_summary(flow.celigo_id)
                    reported.setdefault(
                        flow.celigo_id,
                        (
                            sum(s.num_error for s in steps),
                            max((s.last_error_at for s in steps if s.last_error_at), default=None),
                        ),
                    )
        for flow_id, (num_error, last_error_at) in reported.items():
            flow = self.flows.get(flow_id) or self.placeholder_flow(flow_id)
            if flow.summary_num_error != num_error or flow.summary_last_error_at != last_error_at:
                yield flow, num_error, last_error_at
        for flow in list(self.flows.values()):
            if flow.celigo_id not in reported and flow.summary_num_error:
                yield flow, 0, None  # its errors all left the open list

    def sync_flow(self, flow: Flow, num_error: int, last_error_at: datetime | None) -> None:
        """Pull the steps of one changed flow whose counts changed, then record the flow's summary."""
        rows = self.client.flow_error_summary(flow.celigo_id)
        steps = {s.celigo_id: s for s in Step.objects.filter(flow=flow)}
        reported = {row.step_id: (row.num_error, row.last_error_at) for row in rows}
        if num_error and not any(n for n, _ in reported.values()):
            # celigo-api.md §2.2 gotcha: a flow summary can come back empty while the integration summary
            # counts errors; then every known step is pulled.
            self.counters.note(f"flow {flow.celigo_id}: empty step summary, pulling all steps")
            for step_id in steps:
                reported.setdefault(step_id, (-1, None))
        for step_id, (step_errors, step_last) in reported.items():
            step = steps.get(step_id) or self.placeholder_step(flow, step_id)
            if (
                step_errors == -1
                or step.summary_num_error != step_errors
                or step.summary_last_error_at != step_last
            ):
                self.sync_step(step, max(step_errors, 0), step_last)
        for step in steps.values():
            if step.celigo_id not in reported and step.summary_num_error:
                self.sync_step(step, 0, None)
        flow.summary_num_error = num_error
        flow.summary_last_error_at = last_error_at
        flow.save(update_fields=["summary_num_error", "summary_last_error_at"])

    def reconcile_all_steps(self) -> None:
        """Full reconcile: every known step's open list from the start and its resolved list."""
        flows: list[tuple[Flow, list[tuple[Step, int, datetime | None]]]] = []
        for flow in list(self.flows.values()):
            if flow.deleted_in_celigo:
                continue  # its step endpoints answer 404; its rows expire through mark_expired
            rows = {r.step_id: r for r in self.client.flow_error_summary(flow.celigo_id)}
            steps = {s.celigo_id: s for s in Step.objects.filter(flow=flow)}
            for step_id in rows.keys() - steps.keys():
                steps[step_id] = self.placeholder_step(flow, step_id)
            work = []
            for step_id, step in steps.items():
                row = rows.get(step_id)
                work.append((step, *((row.num_error, row.last_error_at) if row else (0, None))))
            flows.append((flow, work))
        steps_total = sum(len(work) for _, work in flows)
        if steps_total >= PARALLEL_MIN_STEPS:
            # A big account's reconcile is as much waiting for Celigo as writing rows: a few threads keep
            # both the network and the database busy (each thread has its own database connection).
            with ThreadPoolExecutor(max_workers=RECONCILE_THREADS, thread_name_prefix="reconcile") as pool:
                futures = [
                    pool.submit(self.sync_step_in_thread, step, count, last)
                    for _, work in flows
                    for step, count, last in work
                ]
                for future in futures:
                    future.result()
        else:
            for _, work in flows:
                for step, count, last in work:
                    self.sync_step(step, count, last, full=True)
        for flow, work in flows:
            flow.summary_num_error = sum(count for _, count, _ in work)
            flow.summary_last_error_at = max(filter(None, (last for _, _, last in work)), default=None)
            flow.save(update_fields=["summary_num_error", "summary_last_error_at"])

    def sync_step_in_thread(self, step: Step, count: int, last: datetime | None) -> None:
        try:
            self.sync_step(step, count, last, full=True)
        finally:
            connections.close_all()  # this thread's connection, not the caller's

    def sync_step(
        self, step: Step, expected_open: int, last_error_at: datetime | None, *, full: bool = False
    ) -> None:
        if time.monotonic() - self.lease_renewed > LEASE.total_seconds() / 10:
            renew_lease(self.account.pk, self.owner)
            self.lease_renewed = time.monotonic()
        self.counters.steps_pulled += 1
        try:
            self.pull_step(step, expected_open, last_error_at, full=full)
        except NotFound as exc:
            # The flow or step was deleted in Celigo between the summary and the pull.
            self.counters.note(
                f"step {step.flow.celigo_id}/{step.celigo_id}: not found in Celigo ({exc})"[:300]
            )

    def pull_step(
        self, step: Step, expected_open: int, last_error_at: datetime | None, *, full: bool
    ) -> None:
        # A step without rows (an account's first sync) needs no lookup of existing rows page by page.
        self.fresh_step = not ErrorRecord.objects.filter(
            account=self.account, celigo_flow_id=step.flow.celigo_id, celigo_step_id=step.celigo_id
        ).exists()
        since = None if full or step.open_watermark is None else step.open_watermark - OVERLAP
        seen_open, newest_open = self.pull_list(step, CeligoState.OPEN, since, step.open_watermark)
        local_open = ErrorRecord.objects.filter(step=step, status=CeligoState.OPEN, purged=False)
        # Errors we retried lately may have left Celigo's open list for its Retries tab (celigo-api.md §2.8,
        # INFERRED); they are neither resolved nor purged until the retry job ends.
        purgeable = local_open.exclude(
            retry_outcome=RetryOutcome.PENDING, retried_at__gte=self.started - RETRY_IN_FLIGHT
        )
        newest_resolved = step.resolved_watermark
        if full or local_open.count() > expected_open:
            # Some errors left the open list: the resolved list says who closed them (§2.5). A full
            # reconcile reads it from the start, so resolved rows Celigo has forgotten show up too.
            resolved_since = (
                None if full or step.resolved_watermark is None else step.resolved_watermark - OVERLAP
            )
            seen_resolved, newest_resolved = self.pull_list(
                step, CeligoState.RESOLVED, resolved_since, step.resolved_watermark
            )
            if not full and local_open.count() > expected_open:
                # Which ones left without being resolved? Only the whole open list can tell; this walk
                # happens only when the counts disagree after the resolved list was applied.
                seen_open |= {
                    e.error_id for e in self.client.iter_open_errors(step.flow.celigo_id, step.celigo_id)
                }
                self.mark_purged(missing(purgeable, seen_open))
            if full:
                self.mark_purged(missing(purgeable, seen_open))
                local_resolved = ErrorRecord.objects.filter(
                    step=step, status=CeligoState.RESOLVED, purged=False
                )
                self.mark_purged(missing(local_resolved, seen_resolved))

        step.open_watermark = newest_open
        step.resolved_watermark = newest_resolved
        step.summary_num_error = expected_open
        step.summary_last_error_at = last_error_at
        step.save(
            update_fields=[
                "open_watermark",
                "resolved_watermark",
                "summary_num_error",
                "summary_last_error_at",
            ]
        )

    def mark_expired(self) -> None:
        """Rows not seen by this full reconcile whose ``purgeAt`` has passed are gone from Celigo."""
        expired = ErrorRecord.objects.filter(
            account=self.account, purged=False, purge_at__lt=self.started, last_seen_at__lt=self.started
        )
        self.counters.purged += expired.update(purged=True)

    def pull_list(
        self, step: Step, state: str, since: datetime | None, watermark: datetime | None
    ) -> tuple[set[str], datetime | None]:
        """Upsert one of the step's lists page by page; returns the ids seen and the new watermark."""
        flow_id, step_id = step.flow.celigo_id, step.celigo_id
        if state == CeligoState.OPEN:
            items = self.client.iter_open_errors(flow_id, step_id, occurred_after=since)
        else:
            items = self.client.iter_resolved_errors(flow_id, step_id, resolved_after=since)
        seen: set[str] = set()
        for batch in prefetched(chunked(items)):
            seen.update(self.upsert(step, batch, state))
            moments = [e.occurred_at if state == CeligoState.OPEN else e.resolved_at for e in batch]
            watermark = max(filter(None, [watermark, *moments]), default=None)
        return seen, watermark

    def mark_purged(self, ids: list[int]) -> None:
        """Errors in neither of Celigo's lists were purged by its retention; the rows stay, flagged."""
        if not ids:
            return
        now = timezone.now()
        with transaction.atomic():
            ErrorRecord.objects.filter(pk__in=ids).update(purged=True, last_seen_at=now)
            Activity.objects.bulk_create(
                [
                    Activity(
                        error_id=pk,
                        kind=ActivityKind.PURGED,
                        created_at=now,
                        message="No longer in Celigo's open or resolved list",
                    )
                    for pk in ids
                ],
                batch_size=UPSERT_BATCH,
            )
        self.counters.purged += len(ids)

    # --- upsert ----------------------------------------------------------------------------------------

    def upsert(self, step: Step, batch: list[StepError], state: str) -> list[str]:
        """Store one page of errors; returns the error ids stored. Malformed items are noted, not fatal."""
        now = timezone.now()
        rows: dict[str, Row] = {}
        fingerprints: dict[str, str] = {}
        for item in batch:
            row = self.build_row(step, item, state, now, fingerprints)
            if row is not None:
                rows[row["error_id"]] = row  # a page repeating an id keeps its last copy
        if not rows:
            return []
        existing = (
            {}
            if self.fresh_step
            else {
                found[0]: found[1:]
                for found in ErrorRecord.objects.filter(
                    account=self.account,
                    celigo_flow_id=step.flow.celigo_id,
                    celigo_step_id=step.celigo_id,
                    error_id__in=list(rows),
                ).values_list(
                    "error_id",
                    "pk",
                    "status",
                    "purged",
                    "retry_data_key",
                    "code",
                    "resolved_at",
                    "retry_outcome",
                )
            }
        )
        update_fields = CELIGO_FIELDS + (RESOLUTION_FIELDS if state == CeligoState.RESOLVED else [])
        if state == CeligoState.OPEN:
            # An id back in the open list is open, whatever we thought before (e.g. a resolve that Celigo
            # did not apply); keep its resolution fields for the timeline.
            update_fields = [*update_fields, "status"]
        stored = self.write(list(rows.values()), [*update_fields, "purged"])
        self.store_fingerprints(fingerprints)
        self.count_and_record_changes(rows, existing, state, now)
        new_ids = [error_id for error_id in stored if error_id not in existing]
        if state == CeligoState.OPEN and new_ids and self.account.last_full_sync_at is not None:
            # On an account's first sync everything is new; history is not a regression.
            link_new_errors(self.account, step, new_ids, now)
        return stored

    def build_row(
        self, step: Step, item: StepError, state: str, now: datetime, fingerprints: dict[str, str]
    ) -> Row | None:
        """One error as column values (model instances cost more than the insert itself at this volume)."""
        error_id = clean_text(item.error_id, LIMITS["error_id"])
        if not error_id:
            self.counters.malformed += 1
            self.counters.note(f"step {step.celigo_id}: an error without errorId was skipped")
            return None
        message = clean_text(item.message)
        if len(message) > MESSAGE_LIMIT:
            self.counters.malformed += 1
            self.counters.note(f"error {error_id}: message of {len(message)} characters truncated")
            message = message[:MESSAGE_LIMIT]
        hashed, normalised = fingerprint(message)
        fingerprints[hashed] = normalised
        flow = step.flow
        resolved = state == CeligoState.RESOLVED
        return {
            "account_id": self.account.pk,
            "celigo_flow_id": flow.celigo_id,
            "celigo_step_id": step.celigo_id,
            "error_id": error_id,
            "integration_id": flow.integration_id,
            "flow_id": flow.pk,
            "step_id": step.pk,
            "occurred_at": item.occurred_at,
            "source": clean_text(item.source, LIMITS["source"]),
            "code": clean_text(item.code, LIMITS["code"]),
            "message": message,
            "classification": clean_text(item.classification, LIMITS["classification"]),
            "classified_by": clean_text(item.classified_by, LIMITS["classified_by"]),
            "trace_key": clean_text(item.trace_key, LIMITS["trace_key"]),
            "retry_data_key": clean_text(item.retry_data_key, LIMITS["retry_data_key"]),
            "flow_job_id": clean_text(item.flow_job_id, LIMITS["flow_job_id"]),
            "req_and_res_key": clean_text(item.req_and_res_key, LIMITS["req_and_res_key"]),
            "o_index": item.o_index if item.o_index is not None and abs(item.o_index) < 2**31 else None,
            "export_data_uri": clean_text(item.export_data_uri),
            "import_data_uri": clean_text(item.import_data_uri),
            "purge_at": item.purge_at,
            "retriable": item.retriable,
            "raw": clean_raw(item.raw),
            "status": state,
            "purged": False,
            "first_seen_at": now,
            "last_seen_at": now,
            "fingerprint": hashed,
            "resolved_at": (item.resolved_at or now) if resolved else None,
            "resolved_by": clean_text(item.resolved_by, LIMITS["resolved_by"]) if resolved else "",
        }

    def write(self, rows: list[Row], update_fields: list[str]) -> list[str]:
        try:
            with transaction.atomic():
                relax_commit()
                upsert_errors(rows, update_fields)
            return [row["error_id"] for row in rows]
        except DatabaseError:
            # One bad row must not cost the page: store row by row and note the ones that still fail.
            stored = []
            for row in rows:
                try:
                    with transaction.atomic():
                        upsert_errors([row], update_fields)
                    stored.append(row["error_id"])
                except DatabaseError as exc:
                    self.counters.malformed += 1
                    self.counters.note(
                        f"error {row['error_id']}: not stored ({type(exc).__name__}: {exc})"[:300]
                    )
            return stored

    def store_fingerprints(self, fingerprints: dict[str, str]) -> None:
        unknown = {k: v for k, v in fingerprints.items() if k not in self.known_fingerprints}
        if unknown:
            ErrorFingerprint.objects.bulk_create(
                [ErrorFingerprint(fingerprint=k, normalised_message=v) for k, v in unknown.items()],
                ignore_conflicts=True,
            )
            self.known_fingerprints.update(unknown)

    def count_and_record_changes(
        self, rows: dict[str, Row], existing: dict[str, tuple[Any, ...]], state: str, now: datetime
    ) -> None:
        activities = []
        retried_ok: list[int] = []
        for error_id, row in rows.items():
            before = existing.get(error_id)
            if before is None:
                self.counters.new += 1
                continue
            pk, old_status, old_purged, old_rdk, old_code, old_resolved_at, retry_outcome = before
            if (
                state == CeligoState.RESOLVED
                and retry_outcome == RetryOutcome.PENDING
                and row["resolved_by"] == "auto"
            ):
                # celigo-api.md §2.8: a retried record that succeeds is resolved by "auto".
                retried_ok.append(pk)
                activities.append(
                    Activity(
                        error_id=pk,
                        kind=ActivityKind.RETRY_SUCCEEDED,
                        created_at=now,
                        message="The retry succeeded: Celigo resolved the error automatically",
                    )
                )
            if old_status == CeligoState.OPEN and state == CeligoState.RESOLVED:
                self.counters.closed += 1
                who = row["resolved_by"] or "someone"
                activities.append(
                    Activity(
                        error_id=pk,
                        kind=ActivityKind.RESOLVED_IN_CELIGO,
                        created_at=now,
                        message=f"Resolved in Celigo by {who}",
                        data={
                            "resolved_by": row["resolved_by"],
                            "resolved_at": row["resolved_at"].isoformat() if row["resolved_at"] else None,
                        },
                    )
                )
            elif old_status == CeligoState.RESOLVED and state == CeligoState.OPEN:
                self.counters.updated += 1
                activities.append(
                    Activity(
                        error_id=pk,
                        kind=ActivityKind.REOPENED_IN_CELIGO,
                        created_at=now,
                        message="Listed as open in Celigo again",
                    )
                )
            elif (
                old_purged
                or old_rdk != row["retry_data_key"]
                or old_code != row["code"]
                or (state == CeligoState.RESOLVED and old_resolved_at != row["resolved_at"])
            ):
                self.counters.updated += 1
        if retried_ok:
            ErrorRecord.objects.filter(pk__in=retried_ok).update(retry_outcome=RetryOutcome.SUCCEEDED)
        if activities:
            Activity.objects.bulk_create(activities)

    # --- placeholders for rows seen before their metadata --------------------------------------------

    def placeholder_flow(self, flow_id: str) -> Flow:
        flow, _ = Flow.objects.get_or_create(account=self.account, celigo_id=clean_text(flow_id, 64))
        self.flows[flow.celigo_id] = flow
        return flow

    def placeholder_step(self, flow: Flow, step_id: str) -> Step:
        step, _ = Step.objects.get_or_create(
            account=self.account, flow=flow, celigo_id=clean_text(step_id, 64), defaults={"in_flow": False}
        )
        return step

    # --- metadata and jobs -----------------------------------------------------------------------------

    def refresh_metadata(self) -> None:
        client, account = self.client, self.account
        integrations = {i.id: i for i in client.iter_integrations() if i.id}
        for celigo_id, found in integrations.items():
            obj, _ = Integration.objects.update_or_create(
                account=account,
                celigo_id=celigo_id,
                defaults={
                    "name": clean_text(found.name, 500),
                    "sandbox": bool(found.sandbox),
                    "deleted_in_celigo": False,
                    "raw": clean_json(found.raw),
                },
            )
            self.integrations[celigo_id] = obj
        Integration.objects.filter(account=account).exclude(celigo_id__in=list(integrations)).update(
            deleted_in_celigo=True
        )
        for obj in self.integrations.values():
            obj.deleted_in_celigo = obj.celigo_id not in integrations

        names: dict[str, tuple[str, str, str]] = {}
        for export in client.iter_exports(include=("name", "adaptorType")):
            names[export.id] = (
                StepKind.EXPORT,
                clean_text(export.name, 500),
                clean_text(export.adaptor_type, 100),
            )
        for imp in client.iter_imports(include=("name", "adaptorType")):
            names[imp.id] = (StepKind.IMPORT, clean_text(imp.name, 500), clean_text(imp.adaptor_type, 100))

        flows = {f.id: f for f in client.iter_flows() if f.id}
        for celigo_id, item in flows.items():
            integration = self.integrations.get(item.integration_id or "")
            flow, _ = Flow.objects.update_or_create(
                account=account,
                celigo_id=celigo_id,
                defaults={
                    "name": clean_text(item.name, 500),
                    "integration": integration,
                    "disabled": bool(item.disabled),
                    "deleted_in_celigo": False,
                    "raw": clean_json(item.raw),
                },
            )
            self.flows[celigo_id] = flow
            step_ids = item.step_ids
            for position, step_id in enumerate(step_ids):
                kind, name, adaptor = names.get(step_id, ("", "", ""))
                Step.objects.update_or_create(
                    flow=flow,
                    celigo_id=step_id,
                    defaults={
                        "account": account,
                        "kind": kind,
                        "name": name,
                        "adaptor_type": adaptor,
                        "position": position,
                        "in_flow": True,
                    },
                )
            Step.objects.filter(flow=flow).exclude(celigo_id__in=step_ids).update(in_flow=False)
            # Rows stored before the flow's metadata arrived get their links now.
            ErrorRecord.objects.filter(account=account, celigo_flow_id=celigo_id, flow__isnull=True).update(
                flow=flow, integration=integration
            )
        Flow.objects.filter(account=account).exclude(celigo_id__in=list(flows)).update(deleted_in_celigo=True)

        for user in client.iter_users():
            if user.user_id:
                CeligoUser.objects.update_or_create(
                    account=account,
                    user_id=user.user_id,
                    defaults={"email": clean_text(user.email, 254), "name": clean_text(user.name, 200)},
                )
        for tag in client.iter_tags():
            if tag.name:
                Tag.objects.update_or_create(
                    name=clean_text(tag.name, 60), defaults={"celigo_tag_id": tag.id}
                )
        self.run_record.metadata_refreshed = True
        self.set_account(last_metadata_sync_at=self.started)

    def refresh_jobs(self) -> None:
        since = (
            (self.account.jobs_watermark - JOBS_OVERLAP)
            if self.account.jobs_watermark
            else (self.started - FIRST_JOBS_WINDOW)
        )
        newest = self.account.jobs_watermark
        for count, job in enumerate(self.client.iter_jobs(createdAt_gte=since, type="flow")):
            if count >= MAX_JOBS_PER_CYCLE:
                break
            if not job.id:
                continue
            FlowJob.objects.update_or_create(
                account=self.account,
                celigo_id=job.id,
                defaults={
                    "flow": self.flows.get(job.flow_id or ""),
                    "flow_celigo_id": clean_text(job.flow_id, 64),
                    "type": clean_text(job.type, 20),
                    "status": clean_text(job.status, 20),
                    "created_at": job.created_at,
                    "started_at": job.started_at,
                    "ended_at": job.ended_at,
                    "num_success": job.num_success or 0,
                    "num_error": job.num_error or 0,
                    "num_ignore": job.num_ignore or 0,
                    "num_resolved": job.num_resolved or 0,
                    "num_open_error": job.num_open_error or 0,
                    "raw": clean_json(job.raw),
                },
            )
            newest = max(filter(None, [newest, job.created_at]), default=None)
        if newest != self.account.jobs_watermark:
            self.set_account(jobs_watermark=newest)


def relax_commit() -> None:
    """Let this transaction commit without waiting for its WAL flush (PostgreSQL).

    Safe for the sync's invariant: PostgreSQL loses only a suffix of such commits in a crash, never one in
    the middle, and a step's watermark is always committed after its rows, so a lost page takes its
    watermark with it and the next run fetches it again. It saves a disk flush per page (bench/sync.py).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


UPSERT_KEY = ["account", "celigo_flow_id", "celigo_step_id", "error_id"]


def upsert_errors(rows: list[Row], update_fields: list[str]) -> None:
    """``INSERT … ON CONFLICT (account, flowId, stepId, errorId) DO UPDATE`` with one ``executemany``.

    Django's ``bulk_create(update_conflicts=True)`` does the same, but on PostgreSQL it sends each column
    as one array through ``UNNEST``, and escaping the raw-JSON column as a text array cost four times the
    insert itself (bench/sync.py). A prepared row-wise statement in pipeline mode does not. SQLite (3.24+)
    understands the same statement. Columns a row does not name take the model field's default.
    """
    meta = ErrorRecord._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    column: dict[str, str] = {f.name: str(f.column) for f in fields}
    key = [column[name] for name in UPSERT_KEY]
    updates = [column[name] for name in update_fields]
    # Identifiers come from the model and are quoted; values travel as parameters.
    table = quote(meta.db_table)
    names = ", ".join(quote(c) for c in column.values())
    placeholders = ", ".join(["%s"] * len(fields))
    conflict = ", ".join(quote(c) for c in key)
    assignments = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updates)
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders}) ON CONFLICT ({conflict}) DO UPDATE SET {assignments}"  # noqa: S608, E501
    defaults = {f.attname: f.get_default() for f in fields}
    # JSON needs the backend's adapter, and SQLite stores dates as text; the rest passes as-is.
    needs_prep = {"JSONField"} if connection.vendor == "postgresql" else {"JSONField", "DateTimeField"}
    adapted = {f.attname for f in fields if f.get_internal_type() in needs_prep}
    values = [
        [
            f.get_db_prep_save(row.get(f.attname, defaults[f.attname]), connection)
            if f.attname in adapted
            else row.get(f.attname, defaults[f.attname])
            for f in fields
        ]
        for row in rows
    ]
    if connection.vendor == "postgresql":
        # Django's psycopg cursors bind parameters client-side and never prepare, so every row would be
        # parsed and planned anew; a server-binding cursor with a prepared statement does it once per page
        # (2-3x faster here). PgBouncer 1.21+ in transaction mode handles protocol-level prepares.
        import psycopg

        connection.ensure_connection()
        raw_connection = connection.connection
        threshold = raw_connection.prepare_threshold
        raw_connection.prepare_threshold = 0
        try:
            with psycopg.Cursor(raw_connection) as cursor:
                cursor.executemany(sql, values)
        finally:
            raw_connection.prepare_threshold = threshold
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def missing(rows: QuerySet[ErrorRecord], seen: set[str]) -> list[int]:
    """Primary keys of ``rows`` whose error id is not in ``seen`` (compared here: ``seen`` can be huge)."""
    return [
        pk
        for pk, error_id in rows.values_list("pk", "error_id").iterator(chunk_size=5000)
        if error_id not in seen
    ]


def link_new_errors(account: CeligoAccount, step: Step, error_ids: list[str], now: datetime) -> None:
    """Tie errors new to us to the errors they repeat (PRODUCT.md, "Actions semantics").

    * A failed retry: Celigo files a new error with the same trace key as a retried one (§2.8); the old
      error's retry outcome becomes "failed again" and the two are linked.
    * A regression: the same trace key as a resolved error, or the same fingerprint on the same step; it is
      flagged and routed to the resolved error's last assignee.
    """
    fresh = list(
        ErrorRecord.objects.filter(
            account=account,
            celigo_flow_id=step.flow.celigo_id,
            celigo_step_id=step.celigo_id,
            error_id__in=error_ids,
        ).values_list("pk", "trace_key", "fingerprint", "assignee_id")
    )
    fresh_pks = [pk for pk, *_ in fresh]
    trace_keys = {trace for _, trace, _, _ in fresh if trace}
    fingerprints = {fp for _, _, fp, _ in fresh if fp}
    earlier = (
        ErrorRecord.objects.filter(account=account)
        .filter(
            Q(trace_key__in=trace_keys, retry_outcome=RetryOutcome.PENDING)
            | Q(trace_key__in=trace_keys, status=CeligoState.RESOLVED)
            | Q(step=step, fingerprint__in=fingerprints, status=CeligoState.RESOLVED)
        )
        .exclude(pk__in=fresh_pks)
        .order_by("-resolved_at", "-pk")
        .values_list("pk", "trace_key", "fingerprint", "retry_outcome", "status", "assignee_id", "step_id")[
            :20_000
        ]
    )
    retried: dict[str, int] = {}
    resolved_by_trace: dict[str, tuple[int, int | None]] = {}
    resolved_by_fingerprint: dict[str, tuple[int, int | None]] = {}
    for pk, trace, fp, outcome, status, assignee_id, step_pk in earlier:
        if outcome == RetryOutcome.PENDING and trace:
            retried.setdefault(trace, pk)
        elif status == CeligoState.RESOLVED:
            if trace:
                resolved_by_trace.setdefault(trace, (pk, assignee_id))
            if step_pk == step.pk and fp:
                resolved_by_fingerprint.setdefault(fp, (pk, assignee_id))
    activities = []
    for pk, trace, fp, assignee_id in fresh:
        if trace and trace in retried:
            old = retried.pop(trace)
            ErrorRecord.objects.filter(pk=old).update(retry_outcome=RetryOutcome.FAILED)
            ErrorRecord.objects.filter(pk=pk).update(retry_of_id=old)
            activities += [
                Activity(
                    error_id=old,
                    kind=ActivityKind.RETRY_FAILED,
                    created_at=now,
                    message="The retry failed again; Celigo filed a new error",
                    data={"new_error": pk},
                ),
                Activity(
                    error_id=pk,
                    kind=ActivityKind.RETRY_FAILED,
                    created_at=now,
                    message="This error is the failed retry of an earlier one",
                    data={"retry_of": old},
                ),
            ]
            continue
        match = resolved_by_trace.get(trace) if trace else None
        match = match or resolved_by_fingerprint.get(fp)
        if match is None:
            continue
        old, last_assignee = match
        updates: dict[str, Any] = {"regression_of_id": old}
        if assignee_id is None and last_assignee is not None:
            updates["assignee_id"] = last_assignee
        ErrorRecord.objects.filter(pk=pk).update(**updates)
        activities.append(
            Activity(
                error_id=pk,
                kind=ActivityKind.REGRESSION,
                created_at=now,
                message="Regression: this repeats an error that was resolved",
                data={"regression_of": old, "assigned_to": updates.get("assignee_id")},
            )
        )
    if activities:
        Activity.objects.bulk_create(activities)


def prefetched(batches: Iterator[list[StepError]], depth: int = 2) -> Iterator[list[StepError]]:
    """Fetch the next pages from Celigo in a thread while this one writes the current page.

    Only the fetching thread consumes the list's iterator (the client itself may serve several threads at
    once: its session, limiter and counters are thread-safe); an exception in that thread (a failed page) is
    raised here, in order, after the pages before it.
    """
    pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        pages.put(("page", batch), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pages.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            pages.put(("error", exc))

    worker = threading.Thread(target=fetch, name="celigo-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = pages.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join(timeout=30)


def chunked(items: Iterable[T], size: int = UPSERT_BATCH) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, read lazily (pages of errors, ids of a batch)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
