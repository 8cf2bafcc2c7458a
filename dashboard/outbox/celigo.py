"""Resolve and retry in Celigo: per flow step, in chunks of at most 1000 ids, at the account's pace.

Never applied twice: a chunk's items are claimed — marked ``sending`` by this runner, with a conditional
update that fails once another runner holds the batch — and committed before the chunk goes out, and only
the claimed items are sent. A batch resumed after its runner died sends that runner's ``sending`` resolve
items again — resolving is idempotent in Celigo — but reports its ``sending`` retry items as of unknown
outcome instead of retrying twice: a retry writes to the destination system (docs/architecture.md "Action
semantics"). The bookkeeping of a chunk is a few set-wise writes, so Celigo's rate limit, not our database,
paces a bulk action.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from itertools import groupby
from operator import itemgetter
from typing import cast

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from celigo_api import (
    AuthenticationFailed,
    CeligoClient,
    ChunkOutcome,
    ConnectionFailed,
    OutcomeUnknown,
    RateLimited,
    ServerError,
)
from dashboard import timeline
from dashboard.lib.iterables import chunked
from dashboard.models import (
    ActionBatch,
    ActionKind,
    ActivityKind,
    CeligoAccount,
    CeligoState,
    ErrorRecord,
    ItemOutcome,
    RetryOutcome,
)
from dashboard.outbox.items import BatchItems

CHUNK = 1000  # ids per Celigo call: the product UI's own cap (docs/celigo-api.md §2.6, §2.8)
STREAM_CHUNK = 5000  # pending items read from the database at a time
WAIT_WHEN_DOWN = 30.0
WAIT_WHEN_REVOKED = 300.0

ClientFactory = Callable[[CeligoAccount], CeligoClient]


class BatchMustWait(Exception):
    """Celigo cannot take the batch now (down, rate limited, token rejected); retry after ``countdown``."""

    def __init__(self, message: str, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


class CeligoClients:
    """One client per account for the life of a batch, and the calls they made."""

    def __init__(self, client_for: ClientFactory) -> None:
        self.client_for = client_for
        self.clients: dict[int, CeligoClient] = {}

    def get(self, account: CeligoAccount) -> CeligoClient:
        if account.pk not in self.clients:
            self.clients[account.pk] = self.client_for(account)
        return self.clients[account.pk]

    def take_calls(self) -> int:
        """Calls made since the last time this was asked."""
        calls = sum(client.stats.calls for client in self.clients.values())
        for client in self.clients.values():
            client.stats.reset()
        return calls

    def close(self) -> None:
        for client in self.clients.values():
            client.close()


# One pending item as read for sending: item pk, error pk, account, flow, step, error id, retry data key.
PendingRow = tuple[int, int, int, str, str, str, str]
STEP = itemgetter(2, 3, 4)


def relax_commit() -> None:
    """Let this transaction commit without waiting for its WAL flush (PostgreSQL).

    Safe for an outcome: a database crash loses only a suffix of such commits, and the next claim's durable
    commit flushes every earlier one; a lost outcome leaves its items "sending", which a resumed batch
    recovers (a resolve is sent again, a retry is reported as of unknown outcome). Never for a claim.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


class CeligoSender:
    def __init__(self, batch: ActionBatch, items: BatchItems, clients: CeligoClients) -> None:
        self.batch = batch
        self.items = items
        self.clients = clients
        self.accounts: dict[int, CeligoAccount] = {}

    def apply(self) -> None:
        """Send every pending item, step by step, in chunks; stop early when cancelled.

        The pending items are streamed once, sorted by step (a server-side cursor on PostgreSQL), so memory
        stays flat whatever the batch's size; each chunk is claimed before it is sent, so a row another
        runner took meanwhile is left to it.
        """
        items = self.items
        if self.batch.kind == ActionKind.RETRY:
            without_key = items.ours().filter(outcome=ItemOutcome.PENDING, error__retry_data_key="")
            items.count(
                "skipped",
                items.mark(without_key, ItemOutcome.SKIPPED, "No retry data key: Celigo cannot retry it"),
            )
        pending = self.pending_rows()
        try:
            for (account_id, flow_id, step_id), rows in groupby(pending, key=STEP):
                for chunk in chunked(rows, CHUNK):
                    # The heartbeat (ownership check, progress) and the claim commit together, durably,
                    # before the call: a claim lost in a database crash could let a retry go out twice.
                    with transaction.atomic():
                        going_on = self.heartbeat()
                        claimed = items.claim([row[0] for row in chunk]) if going_on else []
                    if not going_on:
                        items.cancelled()
                        return
                    if claimed:
                        self.send_chunk(self.account(account_id), flow_id, step_id, chunk, claimed)
        finally:
            # Closed here, not whenever the garbage collector gets to it: psycopg closes a server-side
            # cursor under the connection's lock, which another query of this thread may hold by then.
            pending.close()
        self.heartbeat()

    def pending_rows(self) -> Generator[PendingRow]:
        rows = (
            self.items.pending()
            .order_by("error__account_id", "error__celigo_flow_id", "error__celigo_step_id", "pk")
            .values_list(
                "pk",
                "error_id",
                "error__account_id",
                "error__celigo_flow_id",
                "error__celigo_step_id",
                "error__error_id",
                "error__retry_data_key",
            )
        )
        return cast(Generator[PendingRow], rows.iterator(chunk_size=STREAM_CHUNK))

    def account(self, account_id: int) -> CeligoAccount:
        if account_id not in self.accounts:
            self.accounts[account_id] = CeligoAccount.objects.get(pk=account_id)
        return self.accounts[account_id]

    def heartbeat(self) -> bool:
        """Renew the lease with the progress so far; False when cancelled, LeaseLost when taken over."""
        self.items.count("celigo_calls", self.clients.take_calls())
        return self.items.keep_lease()

    def send_chunk(
        self, account: CeligoAccount, flow_id: str, step_id: str, chunk: list[PendingRow], claimed: list[int]
    ) -> None:
        """Send the claimed rows of ``chunk`` and record the answer."""
        items = self.items
        if len(claimed) < len(chunk):
            mine = set(claimed)
            chunk = [row for row in chunk if row[0] in mine]
        client = self.clients.get(account)
        try:
            if self.batch.kind == ActionKind.RESOLVE:
                outcome = client.resolve_errors(flow_id, step_id, [row[5] for row in chunk])[0]
            else:
                outcome = client.retry_errors(flow_id, step_id, [row[6] for row in chunk])[0]
        except AuthenticationFailed as exc:
            items.settle_claimed(claimed, ItemOutcome.PENDING)
            raise BatchMustWait(
                f"Celigo rejects {account.name}'s API token; waiting for a new one ({exc})", WAIT_WHEN_REVOKED
            ) from None
        except RateLimited as exc:
            items.settle_claimed(claimed, ItemOutcome.PENDING)
            raise BatchMustWait(
                f"Rate limited; resuming in {exc.retry_after or 0:.0f} s", exc.retry_after or WAIT_WHEN_DOWN
            ) from None
        with transaction.atomic():
            relax_commit()
            wait = self.record_outcome(claimed, [row[1] for row in chunk], outcome)
        if wait is not None:
            raise wait

    def record_outcome(
        self, claimed: list[int], error_ids: list[int], outcome: ChunkOutcome
    ) -> BatchMustWait | None:
        """What Celigo answered for one chunk: a few set-wise writes, whatever the chunk's size, committed
        together (an item is never "succeeded" without its error's state and timeline entry). Returns the
        wait to raise once they are committed, if Celigo did not take the chunk."""
        items = self.items
        if outcome.ok:
            items.settle_claimed(claimed, ItemOutcome.SUCCEEDED)
            self.apply_success(error_ids, outcome)
            return None
        error = outcome.error
        if self.not_applied(error):
            items.settle_claimed(claimed, ItemOutcome.PENDING)  # committed before the batch waits
            return BatchMustWait(f"Celigo is unavailable ({error}); resuming when it answers", WAIT_WHEN_DOWN)
        if isinstance(error, (OutcomeUnknown, ServerError)):
            message = f"Outcome unknown ({error}); check Celigo before retrying again"
        else:
            message = str(error) if error else "Celigo refused the request"
        items.settle_claimed(claimed, ItemOutcome.FAILED, message[:1000])
        action = self.batch.get_kind_display()
        timeline.record_same(
            error_ids,
            ActivityKind.ACTION_FAILED,
            actor=self.batch.actor,
            batch=self.batch.pk,
            action=action,
            reason=message[:2000],
        )
        return None

    def not_applied(self, error: Exception | None) -> bool:
        """Failures after which Celigo certainly did not act, so the chunk can wait and be sent again."""
        if isinstance(error, RateLimited):
            return True
        if isinstance(error, ConnectionFailed):
            return not error.request_sent or self.batch.kind == ActionKind.RESOLVE
        if isinstance(error, ServerError):
            # A gateway answering 502/503/504 never reached Celigo; resolving is idempotent anyway.
            return self.batch.kind == ActionKind.RESOLVE or error.status in (502, 503, 504)
        return isinstance(error, OutcomeUnknown) and self.batch.kind == ActionKind.RESOLVE

    def apply_success(self, ids: list[int], outcome: ChunkOutcome) -> None:
        """What Celigo accepted, on our side: resolved now, or a retry whose outcome later syncs verify."""
        actor = self.batch.actor
        now = timezone.now()
        errors: QuerySet[ErrorRecord] = ErrorRecord.objects.filter(pk__in=ids)
        if self.batch.kind == ActionKind.RESOLVE:
            who = f"errordesk:{actor.get_username()}" if actor else "errordesk"
            errors.filter(status=CeligoState.OPEN).update(
                status=CeligoState.RESOLVED, resolved_at=now, resolved_by=who[:100]
            )
            kind, data = ActivityKind.RESOLVE_REQUESTED, {}
        else:
            errors.update(retry_outcome=RetryOutcome.PENDING, retried_at=now)
            kind, data = ActivityKind.RETRY_REQUESTED, ({"job_id": outcome.job_id} if outcome.job_id else {})
        timeline.record_same(ids, kind, actor=actor, at=now, **data, batch=self.batch.pk)
