"""Acting on errors: the outbox of action batches, applied in the background and audited.

``request_action`` records what a person asked for (an ``ActionBatch`` and, for an explicit selection, its
items) and queues it; ``run_batch`` applies it. The same functions serve the web views, the REST API, the
Celery task and ``celigo_sync`` (which pushes pending batches before it pulls).

Resolve and retry call Celigo per flow step, in chunks of at most 1000 ids (celigo-api.md §2.6, §2.8),
through the account's shared rate limiter. Assign, tag and comment are local; assign and tag are mirrored to
Celigo when the account opts in, and a failed mirror never undoes the local change (PRODUCT.md, "Actions").

Never applied twice: an item is marked ``sending`` (and committed) before its chunk goes out and
``succeeded`` after. A batch resumed after a crash sends ``sending`` resolve items again — resolving is
idempotent in Celigo — but reports ``sending`` retry items as of unknown outcome instead of retrying twice:
a retry writes to the destination system.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from celigo_api import (
    AuthenticationFailed,
    CeligoClient,
    CeligoError,
    ChunkOutcome,
    ConnectionFailed,
    OutcomeUnknown,
    RateLimited,
    ServerError,
)
from dashboard.models import (
    CELIGO_ACTIONS,
    ActionBatch,
    ActionItem,
    ActionKind,
    Activity,
    ActivityKind,
    BatchState,
    CeligoAccount,
    CeligoState,
    ErrorRecord,
    ItemOutcome,
    RetryOutcome,
    Tag,
)
from dashboard.sync import chunked

log = logging.getLogger(__name__)

CHUNK = 1000  # ids per Celigo call: the product UI's own cap (celigo-api.md §2.6, §2.8)
LOCAL_CHUNK = 2000
LEASE = timedelta(minutes=10)
INLINE_LIMIT = 500  # local actions on at most this many explicit errors apply within the request
WAIT_WHEN_DOWN = 30.0
WAIT_WHEN_REVOKED = 300.0
MAX_COMMENT = 10_000
MAX_TAGS = 20


class ActionRejected(ValueError):
    """The request is invalid; the message says why, in words for the person who asked."""


class BatchMustWait(Exception):
    """Celigo cannot take the batch now (down, rate limited, token rejected); retry after ``countdown``."""

    def __init__(self, message: str, countdown: float) -> None:
        super().__init__(message)
        self.countdown = countdown


# --- asking -----------------------------------------------------------------------------------------------


def clean_params(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate an action's parameters; raises :class:`ActionRejected` naming the field."""
    if kind not in ActionKind.values:
        raise ActionRejected(f"action: unknown action {kind!r}; use one of {', '.join(ActionKind.values)}")
    if kind == ActionKind.ASSIGN:
        assignee = params.get("assignee")
        if assignee in (None, "", "none"):
            return {"assignee": None}
        try:
            user = get_user_model().objects.get(pk=int(assignee), is_active=True)
        except (ValueError, TypeError, get_user_model().DoesNotExist):
            raise ActionRejected(f"assignee: no active user with id {assignee!r}") from None
        return {"assignee": user.pk}
    if kind in (ActionKind.TAG, ActionKind.UNTAG):
        raw = params.get("tags")
        names = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ActionRejected("tags: give a list of tag names")
        cleaned = sorted({" ".join(name.split())[:60] for name in names if name.strip()})
        if not cleaned:
            raise ActionRejected("tags: give at least one tag name")
        if len(cleaned) > MAX_TAGS:
            raise ActionRejected(f"tags: at most {MAX_TAGS} tags at once")
        return {"tags": cleaned}
    if kind == ActionKind.COMMENT:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ActionRejected("text: a comment needs some text")
        if len(text) > MAX_COMMENT:
            raise ActionRejected(f"text: at most {MAX_COMMENT} characters")
        return {"text": text.strip()}
    return {}


def request_action(
    actor: AbstractBaseUser | AnonymousUser,
    kind: str,
    *,
    error_ids: Iterable[int] | None = None,
    filter_query: str | None = None,
    params: dict[str, Any] | None = None,
    run_now: bool = True,
) -> ActionBatch:
    """Record an action over explicit errors or over every error a list filter matches, and queue it."""
    params = clean_params(kind, params or {})
    if (error_ids is None) == (filter_query is None):
        raise ActionRejected("selection: give either error ids or a filter, not both")
    if filter_query is not None:
        validate_filter(filter_query, actor)
    with transaction.atomic():
        batch = ActionBatch.objects.create(
            kind=kind,
            params=params,
            actor_id=actor.pk if actor.is_authenticated else None,
            filter_query=filter_query or "",
            selected=error_ids is not None,
        )
        if error_ids is not None:
            ids = sorted({int(pk) for pk in error_ids})
            existing = list(ErrorRecord.objects.filter(pk__in=ids).values_list("pk", flat=True))
            if not existing:
                raise ActionRejected("selection: none of the given errors exists")
            ActionItem.objects.bulk_create(
                [ActionItem(batch=batch, error_id=pk) for pk in existing], batch_size=5000
            )
            batch.total = len(existing)
            batch.save(update_fields=["total"])
    if run_now:
        if kind not in CELIGO_ACTIONS and batch.selected and batch.total <= INLINE_LIMIT:
            run_batch(batch.pk)  # a local change on a few errors shows at once
            batch.refresh_from_db()
        else:
            from dashboard.tasks import run_action_batch

            transaction.on_commit(lambda: run_action_batch.delay(batch.pk))
    return batch


def validate_filter(filter_query: str, actor: Any) -> QuerySet[ErrorRecord]:
    from dashboard.filters import ErrorFilter

    filterset = ErrorFilter(
        QueryDict(filter_query), queryset=ErrorRecord.objects.all(), request=FilterRequest(actor)
    )
    if not filterset.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in filterset.errors.items())
        raise ActionRejected(f"filter: {problems}")
    return filterset.qs


@dataclass
class FilterRequest:
    """What ErrorFilter needs of a request ("assignee=me" is the acting user), for a filter run later."""

    user: Any


def retry_data_diff(before: Any, after: Any) -> str:
    """A unified diff of two JSON documents, pretty-printed with sorted keys so only real changes show."""
    import difflib
    import json

    def lines(value: Any) -> list[str]:
        return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).splitlines(keepends=True)

    return "".join(difflib.unified_diff(lines(before), lines(after), "before", "after"))


def edit_retry_data(
    actor: Any,
    error: ErrorRecord,
    new_data: Any,
    *,
    expected_before: Any = None,
    then_retry: bool = False,
    client: CeligoClient | None = None,
) -> tuple[str, ActionBatch | None]:
    """Replace an error's retry data in Celigo (GET, then PUT the whole object; celigo-api.md §2.9).

    ``expected_before`` is the data the person edited; if Celigo's copy changed meanwhile, nothing is written
    and :class:`ActionRejected` says so. The before/after diff goes into the timeline. Returns the diff and,
    with ``then_retry``, the retry batch queued for this error.
    """
    if not error.retry_data_key:
        raise ActionRejected("retry data: this error has no retry data key; Celigo cannot retry it")
    if client is None:
        from dashboard.celigo import WEB_MAX_WAIT_SECONDS, client_for

        client = client_for(error.account, max_wait=WEB_MAX_WAIT_SECONDS)
    current = client.get_retry_data(error.celigo_flow_id, error.celigo_step_id, error.retry_data_key)
    if expected_before is not None and current.data != expected_before:
        raise ActionRejected("retry data: it changed in Celigo since you opened it; reload and edit again")
    diff = retry_data_diff(current.data, new_data)
    if not diff:
        raise ActionRejected("retry data: nothing changed")
    client.put_retry_data(
        error.celigo_flow_id, error.celigo_step_id, error.retry_data_key, current.with_data(new_data)
    )
    Activity.objects.create(
        error=error,
        kind=ActivityKind.RETRY_DATA_EDITED,
        actor_id=getattr(actor, "pk", None),
        message="Retry data edited" + (" and retried" if then_retry else ""),
        data={"before": current.data, "after": new_data, "diff": diff},
    )
    batch = request_action(actor, ActionKind.RETRY, error_ids=[error.pk]) if then_retry else None
    return diff, batch


def cancel_batch(batch: ActionBatch) -> None:
    """Stop a batch: a running worker stops before its next step; a batch nobody runs now settles at once."""
    ActionBatch.objects.filter(pk=batch.pk).update(cancel_requested=True)
    if batch.state in (BatchState.PENDING, BatchState.WAITING):
        run_batch(batch.pk)  # takes the lease only if no worker holds it, and sends nothing once cancelled


# --- running ----------------------------------------------------------------------------------------------


def acquire_batch(batch_id: int, owner: str) -> ActionBatch | None:
    now = timezone.now()
    taken = (
        ActionBatch.objects.filter(pk=batch_id)
        .exclude(state__in=[BatchState.DONE, BatchState.PARTIAL, BatchState.FAILED, BatchState.CANCELLED])
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner))
        .update(
            lease_owner=owner,
            lease_expires_at=now + LEASE,
            state=BatchState.RUNNING,
            attempts=F("attempts") + 1,
        )
    )
    if not taken:
        return None
    batch = ActionBatch.objects.get(pk=batch_id)
    if batch.started_at is None:
        batch.started_at = now
        batch.save(update_fields=["started_at"])
    return batch


def run_batch(
    batch_id: int, client_for: Callable[[CeligoAccount], CeligoClient] | None = None
) -> ActionBatch | None:
    """Apply a batch as far as possible. Raises :class:`BatchMustWait` when Celigo cannot take it now.

    Returns None when the batch is finished already or another worker holds it.
    """
    if client_for is None:
        from dashboard.celigo import client_for as default_client_for

        client_for = default_client_for
    owner = uuid.uuid4().hex
    batch = acquire_batch(batch_id, owner)
    if batch is None:
        return None
    runner = BatchRunner(batch, client_for)
    try:
        runner.run()
    except BatchMustWait as exc:
        runner.settle_counts()
        ActionBatch.objects.filter(pk=batch.pk).update(
            state=BatchState.WAITING, message=str(exc)[:2000], lease_owner="", lease_expires_at=None
        )
        raise
    except Exception as exc:
        log.exception("action batch %s failed", batch.pk)
        runner.settle_counts()
        ActionBatch.objects.filter(pk=batch.pk).update(
            state=BatchState.FAILED,
            message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
            lease_owner="",
            lease_expires_at=None,
        )
        raise
    finally:
        for client in runner.clients.values():
            client.close()
    batch.refresh_from_db()
    return batch


class BatchRunner:
    def __init__(self, batch: ActionBatch, client_for: Callable[[CeligoAccount], CeligoClient]) -> None:
        self.batch = batch
        self.client_for = client_for
        self.clients: dict[int, CeligoClient] = {}
        self.now = timezone.now()

    # --- the steps ---------------------------------------------------------------------------------------

    def run(self) -> None:
        batch = self.batch
        if not batch.selected:
            self.select()
        if batch.kind in CELIGO_ACTIONS:
            self.recover_in_flight()
        if not self.cancelled():
            if batch.kind in CELIGO_ACTIONS:
                self.apply_celigo()
            else:
                self.apply_local()
        self.finish()

    def select(self) -> None:
        """Turn the stored filter into items, now, as the person would have seen the list at this moment."""
        queryset = validate_filter(self.batch.filter_query, self.batch.actor)
        ids = queryset.order_by().values_list("pk", flat=True)
        with transaction.atomic():
            total = 0
            for chunk in chunked(ids.iterator(chunk_size=10_000), 10_000):
                ActionItem.objects.bulk_create(
                    [ActionItem(batch_id=self.batch.pk, error_id=pk) for pk in chunk], ignore_conflicts=True
                )
                total += len(chunk)
            ActionBatch.objects.filter(pk=self.batch.pk).update(selected=True, total=total)
        self.batch.selected, self.batch.total = True, total

    def recover_in_flight(self) -> None:
        """Items a crashed worker sent without recording the answer."""
        in_flight = ActionItem.objects.filter(batch=self.batch, outcome=ItemOutcome.SENDING)
        if self.batch.kind == ActionKind.RESOLVE:
            in_flight.update(outcome=ItemOutcome.PENDING)  # resolving twice is harmless
        else:
            self.mark(
                in_flight,
                ItemOutcome.FAILED,
                "Outcome unknown: the retry was sent but its answer was lost; check Celigo's Retries tab "
                "before retrying again",
            )

    def cancelled(self) -> bool:
        if ActionBatch.objects.filter(pk=self.batch.pk, cancel_requested=True).exists():
            self.mark(self.pending(), ItemOutcome.SKIPPED, "Cancelled before it was sent")
            return True
        return False

    def finish(self) -> None:
        counts = self.settle_counts()
        batch = self.batch
        cancelled = ActionBatch.objects.filter(pk=batch.pk, cancel_requested=True).exists()
        if cancelled:
            state = BatchState.CANCELLED
        elif counts["failed"] and (counts["succeeded"] or counts["skipped"]):
            state = BatchState.PARTIAL
        elif counts["failed"]:
            state = BatchState.FAILED
        else:
            state = BatchState.DONE
        ActionBatch.objects.filter(pk=batch.pk).update(
            state=state,
            finished_at=timezone.now(),
            lease_owner="",
            lease_expires_at=None,
            message="" if state != BatchState.FAILED else batch.message,
        )

    def settle_counts(self) -> dict[str, int]:
        items = ActionItem.objects.filter(batch=self.batch)
        counts = {
            "succeeded": items.filter(outcome=ItemOutcome.SUCCEEDED).count(),
            "failed": items.filter(outcome=ItemOutcome.FAILED).count(),
            "skipped": items.filter(outcome=ItemOutcome.SKIPPED).count(),
        }
        calls = sum(client.stats.calls for client in self.clients.values())
        ActionBatch.objects.filter(pk=self.batch.pk).update(**counts, celigo_calls=F("celigo_calls") + calls)
        for client in self.clients.values():
            client.stats.reset()
        return counts

    # --- Celigo actions ----------------------------------------------------------------------------------

    def pending(self) -> QuerySet[ActionItem]:
        return ActionItem.objects.filter(batch=self.batch, outcome=ItemOutcome.PENDING)

    def apply_celigo(self) -> None:
        # One pass over the batch's pending items, sorted by step, read as plain tuples (100k of them fit
        # in a few MB); then each chunk is loaded by primary key. Filtering the items by step through the
        # errors table chunk after chunk would rescan the whole batch every time.
        if self.batch.kind == ActionKind.RETRY:
            without_key = self.pending().filter(error__retry_data_key="")
            self.mark(without_key, ItemOutcome.SKIPPED, "No retry data key: Celigo cannot retry it")
        pending = (
            self.pending()
            .order_by("error__account_id", "error__celigo_flow_id", "error__celigo_step_id", "pk")
            .values_list(
                "pk",
                "error__account_id",
                "error__celigo_flow_id",
                "error__celigo_step_id",
            )
        )
        by_step = groupby(list(pending), key=lambda row: row[1:4])
        for (account_id, flow_id, step_id), rows in by_step:
            if self.cancelled():
                return
            account = CeligoAccount.objects.get(pk=account_id)
            item_ids = [row[0] for row in rows]
            for chunk_ids in chunked(item_ids, CHUNK):
                # Still pending: a resumed batch sends only what is left.
                chunk = list(self.pending().filter(pk__in=chunk_ids).select_related("error").order_by("pk"))
                if chunk:
                    self.send_chunk(account, flow_id, step_id, chunk)
            ActionBatch.objects.filter(pk=self.batch.pk).update(lease_expires_at=timezone.now() + LEASE)
            self.settle_counts()

    def client(self, account: CeligoAccount) -> CeligoClient:
        if account.pk not in self.clients:
            self.clients[account.pk] = self.client_for(account)
        return self.clients[account.pk]

    def send_chunk(self, account: CeligoAccount, flow_id: str, step_id: str, chunk: list[ActionItem]) -> None:
        self.mark_items(chunk, ItemOutcome.SENDING, "")
        client = self.client(account)
        try:
            if self.batch.kind == ActionKind.RESOLVE:
                outcome = client.resolve_errors(flow_id, step_id, [item.error.error_id for item in chunk])[0]
            else:
                outcome = client.retry_errors(
                    flow_id, step_id, [item.error.retry_data_key for item in chunk]
                )[0]
        except AuthenticationFailed as exc:
            self.mark_items(chunk, ItemOutcome.PENDING, "")
            raise BatchMustWait(
                f"Celigo rejects {account.name}'s API token; waiting for a new one ({exc})", WAIT_WHEN_REVOKED
            ) from None
        except RateLimited as exc:
            self.mark_items(chunk, ItemOutcome.PENDING, "")
            raise BatchMustWait(
                f"Rate limited; resuming in {exc.retry_after or 0:.0f} s", exc.retry_after or WAIT_WHEN_DOWN
            ) from None
        self.record_outcome(chunk, outcome)

    def record_outcome(self, chunk: list[ActionItem], outcome: ChunkOutcome) -> None:
        if outcome.ok:
            self.mark_items(chunk, ItemOutcome.SUCCEEDED, "")
            self.apply_success(chunk, outcome)
            return
        error = outcome.error
        if self.not_applied(error):
            self.mark_items(chunk, ItemOutcome.PENDING, "")
            raise BatchMustWait(f"Celigo is unavailable ({error}); resuming when it answers", WAIT_WHEN_DOWN)
        if isinstance(error, (OutcomeUnknown, ServerError)):
            message = f"Outcome unknown ({error}); check Celigo before retrying again"
        else:
            message = str(error) if error else "Celigo refused the request"
        self.mark_items(chunk, ItemOutcome.FAILED, message[:1000])
        Activity.objects.bulk_create(
            [
                Activity(
                    error_id=item.error_id,
                    kind=ActivityKind.ACTION_FAILED,
                    actor_id=self.batch.actor_id,
                    message=f"{self.batch.get_kind_display()} failed: {message}"[:2000],
                    data={"batch": self.batch.pk},
                )
                for item in chunk
            ]
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
        actor = self.batch.actor
        ids = [item.error_id for item in chunk]
        now = timezone.now()
        if self.batch.kind == ActionKind.RESOLVE:
            who = f"errordesk:{actor.get_username()}" if actor else "errordesk"
            ErrorRecord.objects.filter(pk__in=ids, status=CeligoState.OPEN).update(
                status=CeligoState.RESOLVED, resolved_at=now, resolved_by=who[:100]
            )
            kind, message, data = ActivityKind.RESOLVE_REQUESTED, "Resolved in Celigo from Error Desk", {}
        else:
            ErrorRecord.objects.filter(pk__in=ids).update(retry_outcome=RetryOutcome.PENDING, retried_at=now)
            kind, message = ActivityKind.RETRY_REQUESTED, "Retry sent to Celigo"
            data = {"job_id": outcome.job_id} if outcome.job_id else {}
        Activity.objects.bulk_create(
            [
                Activity(
                    error_id=pk,
                    kind=kind,
                    actor=actor,
                    created_at=now,
                    message=message,
                    data={**data, "batch": self.batch.pk},
                )
                for pk in ids
            ]
        )

    # --- local actions -----------------------------------------------------------------------------------

    def apply_local(self) -> None:
        while True:
            chunk = list(self.pending().select_related("error", "error__account")[:LOCAL_CHUNK])
            if not chunk or self.cancelled():
                return
            with transaction.atomic():
                getattr(self, f"local_{self.batch.kind}")(chunk)
                self.mark_items(chunk, ItemOutcome.SUCCEEDED, "")
            self.mirror(chunk)
            self.settle_counts()

    def local_assign(self, chunk: list[ActionItem]) -> None:
        assignee_id = self.batch.params.get("assignee")
        User = get_user_model()
        assignee = User.objects.filter(pk=assignee_id).first() if assignee_id else None
        before = dict(
            ErrorRecord.objects.filter(pk__in=[i.error_id for i in chunk]).values_list("pk", "assignee_id")
        )
        names = dict(
            User.objects.filter(pk__in={v for v in before.values() if v}).values_list("pk", "username")
        )
        changed = [pk for pk, old in before.items() if old != assignee_id]
        ErrorRecord.objects.filter(pk__in=changed).update(assignee=assignee)
        to = assignee.get_username() if assignee else None
        Activity.objects.bulk_create(
            [
                Activity(
                    error_id=pk,
                    kind=ActivityKind.ASSIGNED,
                    actor_id=self.batch.actor_id,
                    message=f"Assigned to {to}" if to else "Unassigned",
                    data={"from": names.get(before[pk]) if before[pk] else None, "to": to},
                )
                for pk in changed
            ]
        )

    def local_tag(self, chunk: list[ActionItem]) -> None:
        tags = [Tag.objects.get_or_create(name=name)[0] for name in self.batch.params["tags"]]
        through = ErrorRecord.tags.through
        have = set(
            through.objects.filter(errorrecord_id__in=[i.error_id for i in chunk], tag__in=tags).values_list(
                "errorrecord_id", "tag_id"
            )
        )
        rows = [
            through(errorrecord_id=i.error_id, tag_id=t.pk)
            for i in chunk
            for t in tags
            if (i.error_id, t.pk) not in have
        ]
        through.objects.bulk_create(rows, ignore_conflicts=True)
        self.tag_activity(chunk, ActivityKind.TAGGED, "Tagged")

    def local_untag(self, chunk: list[ActionItem]) -> None:
        tags = Tag.objects.filter(name__in=self.batch.params["tags"])
        ErrorRecord.tags.through.objects.filter(
            errorrecord_id__in=[i.error_id for i in chunk], tag__in=tags
        ).delete()
        self.tag_activity(chunk, ActivityKind.UNTAGGED, "Untagged")

    def tag_activity(self, chunk: list[ActionItem], kind: str, verb: str) -> None:
        names = self.batch.params["tags"]
        Activity.objects.bulk_create(
            [
                Activity(
                    error_id=i.error_id,
                    kind=kind,
                    actor_id=self.batch.actor_id,
                    message=f"{verb} {', '.join(names)}",
                    data={"tags": names},
                )
                for i in chunk
            ]
        )

    def local_comment(self, chunk: list[ActionItem]) -> None:
        text = self.batch.params["text"]
        Activity.objects.bulk_create(
            [
                Activity(
                    error_id=i.error_id, kind=ActivityKind.COMMENT, actor_id=self.batch.actor_id, message=text
                )
                for i in chunk
            ]
        )

    def mirror(self, chunk: list[ActionItem]) -> None:
        """Copy assignment or tags to Celigo where the account opts in; failures are noted, never undone."""
        kind = self.batch.kind
        if kind not in (ActionKind.ASSIGN, ActionKind.TAG, ActionKind.UNTAG):
            return
        by_step = sorted(
            chunk, key=lambda i: (i.error.account_id, i.error.celigo_flow_id, i.error.celigo_step_id)
        )
        failures: list[str] = []
        failed_count = 0
        for (_, flow_id, step_id), group in groupby(
            by_step, key=lambda i: (i.error.account_id, i.error.celigo_flow_id, i.error.celigo_step_id)
        ):
            items = list(group)
            account = items[0].error.account
            wanted = account.mirror_assignments if kind == ActionKind.ASSIGN else account.mirror_tags
            if not wanted:
                continue
            try:
                outcomes = self.mirror_step(account, flow_id, step_id, [i.error for i in items])
            except CeligoError as exc:
                outcomes = [ChunkOutcome(ids=tuple(i.error.error_id for i in items), ok=False, error=exc)]
            for outcome in outcomes:
                if not outcome.ok:
                    failed_count += len(outcome.ids)
                    failures.append(f"{flow_id}/{step_id}: {outcome.error}")
        if failed_count:
            message = "; ".join(failures)[:2000]
            ActionBatch.objects.filter(pk=self.batch.pk).update(
                mirror_failures=F("mirror_failures") + failed_count, mirror_message=message
            )

    def mirror_step(
        self, account: CeligoAccount, flow_id: str, step_id: str, errors: list[ErrorRecord]
    ) -> list[ChunkOutcome]:
        client = self.client(account)
        if self.batch.kind == ActionKind.ASSIGN:
            assignee_id = self.batch.params.get("assignee")
            user = get_user_model().objects.filter(pk=assignee_id).first() if assignee_id else None
            email = getattr(user, "email", "") or None
            if user is not None and not email:
                return [
                    ChunkOutcome(
                        ids=tuple(e.error_id for e in errors),
                        ok=False,
                        error=ValueError(f"{user.get_username()} has no e-mail address for Celigo"),
                    )
                ]
            return client.assign_errors(flow_id, step_id, [e.error_id for e in errors], email)
        # celigo-api.md §2.13 (INFERRED): the tag call replaces an error's tag set, so send each error's full
        # local set of tags that exist in Celigo, grouped by identical sets.
        outcomes: list[ChunkOutcome] = []
        sets: dict[tuple[str, ...], list[ErrorRecord]] = {}
        for error in errors:
            ids = tuple(sorted(error.tags.exclude(celigo_tag_id="").values_list("celigo_tag_id", flat=True)))
            sets.setdefault(ids, []).append(error)
        missing = Tag.objects.filter(name__in=self.batch.params["tags"], celigo_tag_id="").values_list(
            "name", flat=True
        )
        if missing:
            outcomes.append(
                ChunkOutcome(
                    ids=tuple(e.error_id for e in errors),
                    ok=False,
                    error=ValueError(f"no such tag in Celigo: {', '.join(missing)}"),
                )
            )
        for tag_ids, group in sets.items():
            pairs = [(e.error_id, e.retry_data_key or None) for e in group]
            outcomes += client.tag_errors(flow_id, step_id, pairs, list(tag_ids), variant=account.tag_variant)  # type: ignore[arg-type]
        return outcomes

    # --- bookkeeping -------------------------------------------------------------------------------------

    def mark_items(self, items: Sequence[ActionItem], outcome: str, message: str) -> None:
        if items:
            self.mark(ActionItem.objects.filter(pk__in=[i.pk for i in items]), outcome, message)

    def mark(self, items: QuerySet[ActionItem], outcome: str, message: str) -> None:
        updates: dict[str, Any] = {"outcome": outcome, "message": message, "updated_at": timezone.now()}
        if outcome == ItemOutcome.SENDING:
            updates["attempts"] = F("attempts") + 1
        items.update(**updates)


def pending_batches() -> QuerySet[ActionBatch]:
    return ActionBatch.objects.filter(
        state__in=[BatchState.PENDING, BatchState.WAITING, BatchState.RUNNING]
    ).order_by("created_at")


def push_pending_batches() -> list[tuple[ActionBatch, str]]:
    """Apply every unfinished batch now (``celigo_sync`` runs this before it pulls)."""
    results = []
    for batch in pending_batches():
        try:
            done = run_batch(batch.pk)
            results.append((batch, done.get_state_display() if done else "held by another worker"))
        except BatchMustWait as exc:
            results.append((batch, f"waiting: {exc}"))
    return results
