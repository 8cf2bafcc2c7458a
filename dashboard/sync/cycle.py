"""One sync of an account: the incremental walk from summaries down to changed steps, or a full reconcile."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from celigo_api import STANDALONE_INTEGRATION_ID, NotFound
from dashboard.lib.text import clean_text
from dashboard.models import ErrorRecord, Flow, Integration, Step, SyncOutcome, SyncRun
from dashboard.sync.context import SyncContext
from dashboard.sync.jobs import read_jobs, store_jobs
from dashboard.sync.metadata import refresh_metadata
from dashboard.sync.step import StepPull

PARALLEL_MIN_STEPS = 100
RECONCILE_THREADS = 4

StepWork = tuple[Step, int, datetime | None]


class SyncCycle:
    """Decides which steps to pull; each step is pulled by a :class:`StepPull`."""

    def __init__(self, context: SyncContext) -> None:
        self.context = context
        self.account = context.account
        self.client = context.client
        self.counters = context.counters()
        self.flows: dict[str, Flow] = {f.celigo_id: f for f in Flow.objects.filter(account=self.account)}
        self.integrations: dict[str, Integration] = {
            i.celigo_id: i for i in Integration.objects.filter(account=self.account)
        }
        self.previous_sync: datetime | None = None

    def run(self) -> None:
        context = self.context
        if context.full or self.account.metadata_due(context.started):
            refresh_metadata(context, self.integrations, self.flows)
        # Recent runs are read first and stored last. A run's error count includes errors that opened and
        # closed before we looked, which no summary shows (docs/architecture.md "Sync semantics"). Read
        # before the summaries, no error falls between the two reads; stored after the walk, a killed sync
        # counts the same runs again next time.
        jobs, unseen = read_jobs(context)
        if context.full:
            self.reconcile_all_steps()
            self.mark_expired()
        else:
            self.walk(unseen)
        store_jobs(context, self.flows, jobs)

    def walk(self, unseen: dict[str, int]) -> None:
        """Incremental: ``unseen``: per flow, how many errors its runs filed that we have not counted."""
        self.previous_sync = self.previous_sync_start()
        walked: set[str] = set()
        for flow, num_error, last_error_at in list(self.changed_flows()):
            found, pulled = self.sync_flow(flow, num_error, last_error_at)
            self.recheck(flow, unseen.get(flow.celigo_id, 0) - found, pulled)
            walked.add(flow.celigo_id)
        for flow_id, count in sorted(unseen.items()):
            if flow_id not in walked:
                self.recheck(self.flows.get(flow_id) or self.placeholder_flow(flow_id), count, set())

    def recheck(self, flow: Flow, missing: int, pulled: set[str]) -> None:
        """Read the resolved lists of a flow's other steps until its runs' errors are all found.

        When the flow's runs filed more errors than the walk found, the others opened and closed in steps
        whose count and ``lastErrorAt`` did not move. One call per step, only in such a flow.
        """
        if missing <= 0 or flow.deleted_in_celigo:
            return
        steps = list(Step.objects.filter(flow=flow).exclude(celigo_id__in=pulled).order_by("pk"))
        try:
            if not steps and not pulled:  # a flow the metadata does not know yet
                rows = self.client.flow_error_summary(flow.celigo_id)
                steps = [self.placeholder_step(flow, row.step_id) for row in rows]
            for step in steps:
                if missing <= 0:
                    break
                missing -= self.pull(
                    step, step.summary_num_error, step.summary_last_error_at, open_list=False
                )
        except NotFound as exc:  # deleted since it ran
            self.counters.note(f"flow {flow.celigo_id}: not found in Celigo ({exc})"[:300])

    def previous_sync_start(self) -> datetime | None:
        """When the account's last successful sync started (a bound for steps never read since)."""
        return (
            SyncRun.objects.filter(account=self.account, outcome=SyncOutcome.SUCCEEDED)
            .exclude(pk=self.context.run.pk)
            .order_by("-started_at")
            .values_list("started_at", flat=True)
            .first()
        )

    def changed_flows(self) -> Iterator[tuple[Flow, int, datetime | None]]:
        """Flows whose integration-summary row differs from the one applied last time (§2.1)."""
        reported = self.reported_flows()
        for flow_id, (num_error, last_error_at) in reported.items():
            flow = self.flows.get(flow_id) or self.placeholder_flow(flow_id)
            if flow.summary_num_error != num_error or flow.summary_last_error_at != last_error_at:
                yield flow, num_error, last_error_at
        for flow in list(self.flows.values()):
            if flow.celigo_id not in reported and flow.summary_num_error:
                yield flow, 0, None  # its errors all left the open list

    def reported_flows(self) -> dict[str, tuple[int, datetime | None]]:
        """Each flow's open-error count and last error time, by the integration summaries."""
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
                # docs/celigo-api.md §2.1 (INFERRED): this account does not summarise standalone flows.
                self.context.set_account(standalone_summary_supported=False)
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
        return reported

    def sync_flow(self, flow: Flow, num_error: int, last_error_at: datetime | None) -> tuple[int, set[str]]:
        """Pull the steps of one changed flow whose counts changed, then record the flow's summary.

        Returns how many errors were new to us and which steps were pulled.
        """
        rows = self.client.flow_error_summary(flow.celigo_id)
        steps = {s.celigo_id: s for s in Step.objects.filter(flow=flow)}
        reported = {row.step_id: (row.num_error, row.last_error_at) for row in rows}
        if num_error and not any(n for n, _ in reported.values()):
            # docs/celigo-api.md §2.2 gotcha: a flow summary can come back empty while the integration
            # summary counts errors; then every known step is pulled.
            self.counters.note(f"flow {flow.celigo_id}: empty step summary, pulling all steps")
            for step_id in steps:
                reported.setdefault(step_id, (-1, None))
        found, pulled = 0, set()
        for step_id, (step_errors, step_last) in reported.items():
            step = steps.get(step_id) or self.placeholder_step(flow, step_id)
            if (
                step_errors == -1
                or step.summary_num_error != step_errors
                or step.summary_last_error_at != step_last
            ):
                found += self.pull(step, max(step_errors, 0), step_last)
                pulled.add(step.celigo_id)
        for step in steps.values():
            if step.celigo_id not in reported and step.summary_num_error:
                found += self.pull(step, 0, None)
                pulled.add(step.celigo_id)
        flow.summary_num_error = num_error
        flow.summary_last_error_at = last_error_at
        flow.save(update_fields=["summary_num_error", "summary_last_error_at"])
        return found, pulled

    def pull(self, step: Step, expected_open: int, last: datetime | None, *, open_list: bool = True) -> int:
        """Pull one step incrementally; returns how many of its errors were new to us."""
        pull = StepPull(
            self.context, step, expected_open, last, open_list=open_list, previous_sync=self.previous_sync
        )
        pull.run()
        return pull.counters.new

    def reconcile_all_steps(self) -> None:
        """Full reconcile: every known step's open list from the start and its resolved list."""
        flows: list[tuple[Flow, list[StepWork]]] = []
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
        pulls = [
            StepPull(self.context, step, count, last, full=True)
            for _, work in flows
            for step, count, last in work
        ]
        if len(pulls) >= PARALLEL_MIN_STEPS:
            # A big account's reconcile is as much waiting for Celigo as writing rows: a few threads keep
            # both the network and the database busy (each thread has its own database connection).
            with ThreadPoolExecutor(max_workers=RECONCILE_THREADS, thread_name_prefix="reconcile") as pool:
                for future in [pool.submit(pull.run_in_thread) for pull in pulls]:
                    future.result()
        else:
            for pull in pulls:
                pull.run()
        for flow, work in flows:
            flow.summary_num_error = sum(count for _, count, _ in work)
            flow.summary_last_error_at = max(filter(None, (last for _, _, last in work)), default=None)
            flow.save(update_fields=["summary_num_error", "summary_last_error_at"])

    def mark_expired(self) -> None:
        """Rows not seen by this full reconcile whose ``purgeAt`` has passed are gone from Celigo."""
        started = self.context.started
        expired = ErrorRecord.objects.filter(
            account=self.account, purged=False, purge_at__lt=started, last_seen_at__lt=started
        )
        self.counters.purged += expired.update(purged=True)

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
