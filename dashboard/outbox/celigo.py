"""Resolve and retry in Celigo: per flow step, in chunks of at most 1000 ids, at the account's pace.

Never applied twice: an item is marked ``sending`` (and committed) before its chunk goes out and
``succeeded`` after. A batch resumed after a crash sends ``sending`` resolve items again — resolving is
idempotent in Celigo — but reports ``sending`` retry items as of unknown outcome instead of retrying twice:
a retry writes to the destination system (docs/architecture.md "Action semantics").
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

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
    ActionItem,
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


class CeligoSender:
    def __init__(self, batch: ActionBatch, items: BatchItems, clients: CeligoClients) -> None:
        self.batch = batch
        self.items = items
        self.clients = clients

    def apply(self) -> None:
        # One pass over the batch's pending items, sorted by step, read as plain tuples (100k of them fit
        # in a few MB); then each chunk is loaded by primary key. Filtering the items by step through the
        # errors table chunk after chunk would rescan the whole batch every time.
        items = self.items
        if self.batch.kind == ActionKind.RETRY:
            without_key = items.pending().filter(error__retry_data_key="")
            items.mark(without_key, ItemOutcome.SKIPPED, "No retry data key: Celigo cannot retry it")
        pending = (
            items.pending()
            .order_by("error__account_id", "error__celigo_flow_id", "error__celigo_step_id", "pk")
            .values_list("pk", "error__account_id", "error__celigo_flow_id", "error__celigo_step_id")
        )
        for (account_id, flow_id, step_id), rows in groupby(list(pending), key=lambda row: row[1:4]):
            if items.cancelled():
                return
            account = CeligoAccount.objects.get(pk=account_id)
            for chunk_ids in chunked([row[0] for row in rows], CHUNK):
                # Still pending: a resumed batch sends only what is left.
                chunk = list(items.pending().filter(pk__in=chunk_ids).select_related("error").order_by("pk"))
                if chunk:
                    self.send_chunk(account, flow_id, step_id, chunk)
            items.renew_lease()
            items.settle(self.clients.take_calls())

    def send_chunk(self, account: CeligoAccount, flow_id: str, step_id: str, chunk: list[ActionItem]) -> None:
        self.items.mark_items(chunk, ItemOutcome.SENDING, "")
        client = self.clients.get(account)
        try:
            if self.batch.kind == ActionKind.RESOLVE:
                outcome = client.resolve_errors(flow_id, step_id, [item.error.error_id for item in chunk])[0]
            else:
                keys = [item.error.retry_data_key for item in chunk]
                outcome = client.retry_errors(flow_id, step_id, keys)[0]
        except AuthenticationFailed as exc:
            self.items.mark_items(chunk, ItemOutcome.PENDING, "")
            raise BatchMustWait(
                f"Celigo rejects {account.name}'s API token; waiting for a new one ({exc})", WAIT_WHEN_REVOKED
            ) from None
        except RateLimited as exc:
            self.items.mark_items(chunk, ItemOutcome.PENDING, "")
            raise BatchMustWait(
                f"Rate limited; resuming in {exc.retry_after or 0:.0f} s", exc.retry_after or WAIT_WHEN_DOWN
            ) from None
        self.record_outcome(chunk, outcome)

    def record_outcome(self, chunk: list[ActionItem], outcome: ChunkOutcome) -> None:
        if outcome.ok:
            self.items.mark_items(chunk, ItemOutcome.SUCCEEDED, "")
            self.apply_success(chunk, outcome)
            return
        error = outcome.error
        if self.not_applied(error):
            self.items.mark_items(chunk, ItemOutcome.PENDING, "")
            raise BatchMustWait(f"Celigo is unavailable ({error}); resuming when it answers", WAIT_WHEN_DOWN)
        if isinstance(error, (OutcomeUnknown, ServerError)):
            message = f"Outcome unknown ({error}); check Celigo before retrying again"
        else:
            message = str(error) if error else "Celigo refused the request"
        self.items.mark_items(chunk, ItemOutcome.FAILED, message[:1000])
        action = self.batch.get_kind_display()
        timeline.record(
            timeline.entry(
                item.error_id,
                ActivityKind.ACTION_FAILED,
                actor=self.batch.actor,
                batch=self.batch.pk,
                action=action,
                reason=message[:2000],
            )
            for item in chunk
        )

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

    def apply_success(self, chunk: list[ActionItem], outcome: ChunkOutcome) -> None:
        """What Celigo accepted, on our side: resolved now, or a retry whose outcome later syncs verify."""
        actor = self.batch.actor
        ids = [item.error_id for item in chunk]
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
        timeline.record(
            timeline.entry(pk, kind, actor=actor, at=now, **data, batch=self.batch.pk) for pk in ids
        )
