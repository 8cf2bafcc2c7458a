"""Local labels on errors (mirrored to Celigo by the outbox where the account opts in)."""

from __future__ import annotations

from collections.abc import Iterable

from dashboard import timeline
from dashboard.models import ActivityKind, ErrorRecord, Tag


def do_tag(actor: timeline.Actor, error_ids: Iterable[int], names: list[str]) -> list[Tag]:
    """Add the tags ``names`` (created when new) to errors; returns the tags."""
    ids = list(error_ids)
    tags = [Tag.objects.get_or_create(name=name)[0] for name in names]
    through = ErrorRecord.tags.through
    have = set(
        through.objects.filter(errorrecord_id__in=ids, tag__in=tags).values_list("errorrecord_id", "tag_id")
    )
    rows = [
        through(errorrecord_id=pk, tag_id=tag.pk) for pk in ids for tag in tags if (pk, tag.pk) not in have
    ]
    through.objects.bulk_create(rows, ignore_conflicts=True)
    timeline.record(timeline.entry(pk, ActivityKind.TAGGED, actor=actor, tags=names) for pk in ids)
    return tags


def do_untag(actor: timeline.Actor, error_ids: Iterable[int], names: list[str]) -> None:
    ids = list(error_ids)
    tags = Tag.objects.filter(name__in=names)
    ErrorRecord.tags.through.objects.filter(errorrecord_id__in=ids, tag__in=tags).delete()
    timeline.record(timeline.entry(pk, ActivityKind.UNTAGGED, actor=actor, tags=names) for pk in ids)
