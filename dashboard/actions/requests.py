"""Resolve and retry: Celigo-bound, so they are requests to the outbox, applied in the background."""

from __future__ import annotations

from collections.abc import Iterable

from dashboard.access import User
from dashboard.models import ActionBatch, ActionKind
from dashboard.outbox.request import request_action


def do_resolve_errors(
    actor: User, *, error_ids: Iterable[int] | None = None, filter_query: str | None = None
) -> ActionBatch:
    """Resolve errors in Celigo (explicit ids, or every error a list filter matches)."""
    return request_action(actor, ActionKind.RESOLVE, error_ids=error_ids, filter_query=filter_query)


def do_retry_errors(
    actor: User, *, error_ids: Iterable[int] | None = None, filter_query: str | None = None
) -> ActionBatch:
    """Ask Celigo to retry errors that have retry data; later syncs verify each outcome."""
    return request_action(actor, ActionKind.RETRY, error_ids=error_ids, filter_query=filter_query)
