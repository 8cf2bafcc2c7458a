"""One sync run of an account: take its lease, record a SyncRun around the cycle, say how it ended."""

from __future__ import annotations

import logging
from datetime import datetime

from django.utils import timezone

from celigo_api import (
    AuthenticationFailed,
    CeligoClient,
    CeligoError,
    PermissionDenied,
    RateLimited,
    RequestEvent,
)
from dashboard.celigo import client_for
from dashboard.lib.leases import LeaseLost, Taken, new_owner
from dashboard.models import AccountStatus, CeligoAccount, SyncKind, SyncOutcome, SyncRun
from dashboard.sync.context import SyncContext, acquire_lease, release_lease
from dashboard.sync.cycle import SyncCycle

log = logging.getLogger(__name__)


class SyncBusy(Exception):
    """Another worker holds this account's sync lease."""


def sync_account(
    account: CeligoAccount, *, full: bool | None = None, client: CeligoClient | None = None
) -> SyncRun:
    """Run one sync of ``account`` now, in this process. Raises :class:`SyncBusy` if one is running.

    ``RateLimited`` propagates (after the run is recorded) so a Celery task can reschedule itself;
    every other Celigo failure is recorded on the run and on the account, and the run is returned.
    """
    owner = new_owner()
    taken = acquire_lease(account.pk, owner)
    if taken is None:
        raise SyncBusy(f"a sync of {account.name} is already running")
    try:
        account.refresh_from_db()
        resumed = close_interrupted_runs(account, taken)
        is_full = account.full_sync_due() if full is None else full
        run = SyncRun.objects.create(account=account, kind=SyncKind.FULL if is_full else SyncKind.INCREMENTAL)
        own_client = client is None
        client = client or client_for(account)
        client.stats.reset()
        context = SyncContext(account, client, run, owner, full=is_full)
        if resumed:
            log.warning("%s", resumed)
            context.counters().note(resumed)
        caller_hook = client.on_request

        def heartbeat(event: RequestEvent) -> None:
            if caller_hook is not None:
                caller_hook(event)
            context.keep_lease()

        client.on_request = heartbeat
        try:
            SyncCycle(context).run()
        except LeaseLost:
            # Another worker syncs the account now: stop, and leave the account's status to that run.
            context.run.outcome = SyncOutcome.FAILED
            context.run.failure_message = (
                "stopped: this sync's lease ran out and another sync of the account took over"
            )
        except AuthenticationFailed as exc:
            fail(
                context,
                exc,
                AccountStatus.REVOKED,
                "Celigo rejected the API token (revoked, expired or wrong region)",
            )
        except PermissionDenied as exc:
            fail(
                context,
                exc,
                AccountStatus.FAILING,
                "The API token lacks permission for this account's resources",
            )
        except RateLimited as exc:
            fail(
                context,
                exc,
                AccountStatus.FAILING,
                f"Rate limited by Celigo; retrying in {exc.retry_after or 0:.0f} s",
            )
            raise
        except CeligoError as exc:
            fail(context, exc, AccountStatus.FAILING, "Celigo did not answer as expected")
        except Exception as exc:
            fail(context, exc, AccountStatus.FAILING, "The sync failed")
            raise
        else:
            succeed(context)
        finally:
            client.on_request = caller_hook
            record(context)
            if own_client:
                client.close()
        return run
    finally:
        release_lease(account.pk, owner)


RESUMING = "the previous sync of {account} stopped without finishing at {at}; resuming"


def close_interrupted_runs(account: CeligoAccount, taken: Taken) -> str:
    """A run still marked running while we hold the lease was cut off (its worker died): close it as
    interrupted, at its last heartbeat, and say so ("" when there was none)."""
    interrupted = SyncRun.objects.filter(account=account, outcome=SyncOutcome.RUNNING)
    last = interrupted.order_by("-started_at").values_list("started_at", flat=True).first()
    if last is None:
        return ""
    stopped: datetime = max(taken.last_heartbeat or last, last)
    at = timezone.localtime(stopped).strftime("%H:%M")
    interrupted.update(
        outcome=SyncOutcome.FAILED,
        finished_at=stopped,
        failure_message=f"interrupted: the worker stopped without finishing at {at} (its last heartbeat)",
    )
    return RESUMING.format(account=account.name, at=at)


def succeed(context: SyncContext) -> None:
    context.run.outcome = SyncOutcome.SUCCEEDED
    update: dict[str, object] = {"status": AccountStatus.OK, "status_message": ""}
    if context.full:
        update["last_full_sync_at"] = context.started
    context.set_account(**update)


def fail(context: SyncContext, exc: BaseException, status: str, summary: str) -> None:
    log.warning("sync of account %s failed: %s", context.account.pk, exc)
    context.run.outcome = SyncOutcome.FAILED
    context.run.failure_message = f"{summary}: {exc}"[:2000]
    context.set_account(status=status, status_message=context.run.failure_message)


def record(context: SyncContext) -> None:
    run, stats, totals = context.run, context.client.stats, context.totals()
    run.finished_at = timezone.now()
    run.api_calls = stats.calls
    run.rate_limited = stats.rate_limited
    run.steps_pulled = totals.steps_pulled
    run.errors_new = totals.new
    run.errors_updated = totals.updated
    run.errors_closed = totals.closed
    run.errors_purged = totals.purged
    run.errors_malformed = totals.malformed
    run.notes = totals.notes
    run.save()
