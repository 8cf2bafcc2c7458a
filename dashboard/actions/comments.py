"""Notes people leave on errors."""

from __future__ import annotations

from collections.abc import Iterable

from dashboard import timeline
from dashboard.models import ActivityKind


def do_comment(actor: timeline.Actor, error_ids: Iterable[int], text: str) -> int:
    """Leave the same note on each error; returns how many."""
    return timeline.record(
        timeline.entry(pk, ActivityKind.COMMENT, actor=actor, text=text) for pk in error_ids
    )
