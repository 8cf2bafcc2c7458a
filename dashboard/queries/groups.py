"""Message groups: the filtered errors grouped by the fingerprint of their normalised message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection
from django.db.models import Count, Max, Min, OuterRef, QuerySet, Subquery

from dashboard.models import ErrorFingerprint, ErrorRecord, Flow

GROUP_PAGE_SIZE = 50


@dataclass
class FingerprintGroup:
    fingerprint: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    flow_count: int
    normalised_message: str = ""
    flows: list[Flow] = field(default_factory=list)


GROUP_ORDERINGS = {
    "-count": "total DESC",
    "count": "total ASC",
    "-last_seen": "last_seen DESC",
    "last_seen": "last_seen ASC",
    "-first_seen": "first_seen DESC",
    "first_seen": "first_seen ASC",
    "-flows": "flow_count DESC",
    "flows": "flow_count ASC",
}


# Orderings that need every group's first and last seen; the others choose the page from counts alone.
SEEN_ORDERINGS = {"-last_seen", "last_seen", "-first_seen", "first_seen"}


def fingerprint_groups(
    queryset: QuerySet[ErrorRecord], ordering: str = "-count", page: int = 1
) -> tuple[list[FingerprintGroup], int]:
    """One page of fingerprint groups of the filtered errors, and the number of groups.

    Two levels: (fingerprint, flow) pair counts first, which the deduplicated (status, fingerprint, flow_id)
    index of migration 0007 yields in order without touching the table, then the pairs per fingerprint. First
    and last seen are looked up for the page's fingerprints only (two index probes each), unless the page is
    ordered by them: then they are aggregated per fingerprint for every group.
    """
    if ordering not in GROUP_ORDERINGS:
        ordering = "-count"
    pairs = queryset.order_by().values("fingerprint", "flow_id").annotate(n=Count("*"))
    sql, params = pairs.query.sql_with_params()
    seen_join = seen_columns = ""
    if ordering in SEEN_ORDERINGS:
        # Joined per fingerprint rather than carried by every pair: (status, fingerprint, occurred_at) yields
        # these in fingerprint order, while MIN/MAX per pair would sort every entry by (fingerprint, flow).
        seen = (
            queryset.order_by()
            .values("fingerprint")
            .annotate(first_seen=Min("occurred_at"), last_seen=Max("occurred_at"))
        )
        seen_sql, seen_params = seen.query.sql_with_params()
        seen_join = f"JOIN ({seen_sql}) seen ON seen.fingerprint = pairs.fingerprint"
        seen_columns = ", MIN(seen.first_seen) AS first_seen, MAX(seen.last_seen) AS last_seen"
        params = (*params, *seen_params)
    # Two example flows per group (the lowest and highest id) cost nothing more than the grouping itself;
    # the page says how many flows there are in all.
    sql = f"""
        SELECT pairs.fingerprint, SUM(n) AS total, COUNT(*) AS flow_count, COUNT(*) OVER () AS groups,
               MIN(flow_id), MAX(flow_id){seen_columns}
        FROM ({sql}) pairs {seen_join}
        GROUP BY pairs.fingerprint
        ORDER BY {GROUP_ORDERINGS[ordering]}, pairs.fingerprint
        LIMIT %s OFFSET %s
    """  # noqa: S608 - only fixed column and ORDER BY choices and the ORM's own SQL are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, GROUP_PAGE_SIZE, (page - 1) * GROUP_PAGE_SIZE])
        rows = cursor.fetchall()
    groups: list[FingerprintGroup] = []
    flow_ids: dict[str, list[int]] = {}
    for fingerprint, total, flow_count, _groups, *top in rows:
        groups.append(FingerprintGroup(fingerprint, int(total), None, None, flow_count))
        flow_ids[fingerprint] = sorted({int(pk) for pk in top[:2] if pk is not None})
    _attach_group_details(queryset, groups, flow_ids)
    return groups, int(rows[0][3]) if rows else 0


def _as_datetime(value: Any) -> datetime | None:
    # SQLite hands back aggregates over a raw cursor as text.
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _attach_group_details(
    queryset: QuerySet[ErrorRecord], groups: list[FingerprintGroup], flow_ids: dict[str, list[int]]
) -> None:
    """The message, first and last seen (of the filtered errors) and example flows of each shown group."""
    dated = queryset.filter(fingerprint=OuterRef("fingerprint"), occurred_at__isnull=False).values(
        "occurred_at"
    )
    details = {
        fingerprint: (message, first_seen, last_seen)
        for fingerprint, message, first_seen, last_seen in ErrorFingerprint.objects.filter(
            fingerprint__in=[g.fingerprint for g in groups]
        )
        # ORDER BY … LIMIT 1 per fingerprint: an index probe on (status, fingerprint, occurred_at).
        .annotate(
            first_seen=Subquery(dated.order_by("occurred_at")[:1]),
            last_seen=Subquery(dated.order_by("-occurred_at")[:1]),
        )
        .values_list("fingerprint", "normalised_message", "first_seen", "last_seen")
    }
    # A fingerprint the sync stored no text for (none in practice but the empty one) is dated directly.
    missing = [g.fingerprint for g in groups if g.fingerprint not in details]
    if missing:
        for row in (
            queryset.order_by()
            .filter(fingerprint__in=missing)
            .values("fingerprint")
            .annotate(first_seen=Min("occurred_at"), last_seen=Max("occurred_at"))
        ):
            details[row["fingerprint"]] = ("", row["first_seen"], row["last_seen"])
    flows = Flow.objects.only("name", "celigo_id").in_bulk([pk for ids in flow_ids.values() for pk in ids])
    for group in groups:
        message, first_seen, last_seen = details.get(group.fingerprint, ("", None, None))
        group.normalised_message = message
        group.first_seen, group.last_seen = _as_datetime(first_seen), _as_datetime(last_seen)
        group.flows = [flows[pk] for pk in flow_ids[group.fingerprint] if pk in flows]
