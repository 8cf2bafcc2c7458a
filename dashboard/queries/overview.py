"""Aggregate queries behind the triage pages, written so PostgreSQL answers them from indexes at 1M errors.

Counts are exact up to ``COUNT_CAP`` and reported as "more than …" beyond it: counting every row of a large
filtered set costs a scan of all of it, while counting up to the cap costs at most that many index entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from dashboard.models import (
    CeligoAccount,
    CeligoState,
    ErrorFingerprint,
    ErrorRecord,
    Flow,
    FlowJob,
    Integration,
    Step,
    SyncRun,
)

COUNT_CAP = 10_000
GROUP_PAGE_SIZE = 50


@dataclass(frozen=True)
class CappedCount:
    value: int
    capped: bool

    def __str__(self) -> str:
        return f"more than {self.value:,}" if self.capped else f"{self.value:,}"


def capped_count(queryset: QuerySet[Any], cap: int | None = None) -> CappedCount:
    cap = cap or COUNT_CAP
    found = queryset.order_by()[: cap + 1].count()
    return CappedCount(min(found, cap), found > cap)


# --- Grouped by fingerprint --------------------------------------------------------------------------


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


# --- Overview --------------------------------------------------------------------------------------


@dataclass
class DrillRow:
    key: int | None
    label: str
    count: int
    filter_query: dict[str, str]
    child_level: str | None = None


DRILL_LEVELS = ("account", "integration", "flow", "step")


def open_errors() -> QuerySet[ErrorRecord]:
    return ErrorRecord.objects.filter(status=CeligoState.OPEN)


def drill_down(level: str, parent: int | None = None, account: int | None = None) -> list[DrillRow]:
    """Open errors per account, or per integration / flow / step inside one parent.

    Each level reads only the (status, account, integration, flow, step) index entries of its parent.
    """
    if level == "account":
        rows = _account_rows()
    elif level == "integration":
        rows = _integration_rows(parent)
    elif level == "flow":
        rows = _flow_rows(parent, account)
    elif level == "step":
        rows = _step_rows(parent)
    else:
        raise ValueError(level)
    return sorted(rows, key=lambda row: -row.count)


def _counts_by(column: str, scope: Q) -> dict[Any, int]:
    counts = open_errors().filter(scope).values(column).annotate(n=Count("*")).order_by()
    return {row[column]: row["n"] for row in counts}


def _account_rows() -> list[DrillRow]:
    accounts = CeligoAccount.objects.only("name").in_bulk()
    return [
        DrillRow(pk, str(accounts.get(pk, "?")), n, {"account": str(pk)}, "integration")
        for pk, n in _counts_by("account_id", Q()).items()
    ]


def _integration_rows(account: int | None) -> list[DrillRow]:
    integrations = Integration.objects.filter(account_id=account).only("name", "celigo_id").in_bulk()
    rows = []
    for pk, n in _counts_by("integration_id", Q(account_id=account)).items():
        integration = integrations.get(pk)
        query = {"account": str(account)}
        if integration:
            query["integration_id"] = integration.celigo_id
        rows.append(DrillRow(pk, str(integration) if integration else "Standalone flows", n, query, "flow"))
    return rows


def _flow_rows(integration: int | None, account: int | None) -> list[DrillRow]:
    # Standalone flows (no integration) are asked for by account with no parent.
    scope = Q(integration_id=integration) if integration else Q(account_id=account, integration__isnull=True)
    counts = _counts_by("flow_id", scope)
    flows = Flow.objects.only("name", "celigo_id").in_bulk([pk for pk in counts if pk is not None])
    rows = []
    for pk, n in counts.items():
        flow = flows.get(pk)
        if flow:
            rows.append(DrillRow(pk, str(flow), n, {"flow_id": flow.celigo_id}, "step"))
        else:
            rows.append(DrillRow(pk, "Flow not synced yet", n, {}))
    return rows


def _step_rows(flow_pk: int | None) -> list[DrillRow]:
    counts = _counts_by("step_id", Q(flow_id=flow_pk))
    steps = (
        Step.objects.select_related("flow")
        .only("name", "celigo_id", "flow__celigo_id")
        .in_bulk([pk for pk in counts if pk is not None])
    )
    rows = []
    for pk, n in counts.items():
        step = steps.get(pk)
        query = {"flow_id": step.flow.celigo_id, "step_id": step.celigo_id} if step else {}
        rows.append(DrillRow(pk, str(step) if step else "Step not synced yet", n, query))
    return rows


@dataclass
class AgeingBucket:
    label: str
    count: int
    filter_query: dict[str, str]


AGEING_EDGES = [
    ("< 1 hour", timedelta(hours=1)),
    ("< 1 day", timedelta(days=1)),
    ("< 7 days", timedelta(days=7)),
    ("< 30 days", timedelta(days=30)),
]


def ageing_buckets(now: datetime | None = None) -> tuple[list[AgeingBucket], int]:
    """Open errors by age, and how many are past Celigo's retention (purged, or purge date passed).

    One pass: cumulative counts since each edge and the retention count are FILTERed counts of the same rows,
    which the partial index error_open_age of migration 0007 (open errors by occurred_at, carrying purged and
    purge_at) holds, so the table is not read.
    """
    now = now or timezone.now()
    starts = [now - age for _, age in AGEING_EDGES]
    # Django allows no FILTER on COUNT(*); counting a column the filter already requires non-null (purged is
    # never null) counts the same rows and keeps the scan on the index (COUNT(id) would read the table).
    counts = open_errors().aggregate(
        total=Count("*"),
        past_retention=Count("purged", filter=Q(purged=True) | Q(purge_at__lt=now)),
        **{
            f"since_{i}": Count("occurred_at", filter=Q(occurred_at__gte=start))
            for i, start in enumerate(starts)
        },
    )
    buckets: list[AgeingBucket] = []
    previous_count, previous_start = 0, None
    for i, ((label, _age), start) in enumerate(zip(AGEING_EDGES, starts, strict=True)):
        cumulative = counts[f"since_{i}"]
        query = {"status": "open", "occurred_after": _iso(start)}
        if previous_start:
            query["occurred_before"] = _iso(previous_start)
        buckets.append(AgeingBucket(label, cumulative - previous_count, query))
        previous_count, previous_start = cumulative, start
    buckets.append(
        AgeingBucket(
            "Older", counts["total"] - previous_count, {"status": "open", "occurred_before": _iso(starts[-1])}
        )
    )
    return buckets, counts["past_retention"]


def _iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


@dataclass
class Trend:
    days: list[str]
    new: list[int]
    closed: list[int]


# Per-day counts of earlier days barely move (only late-arriving errors change them) but cost a scan of a
# month of index entries, so they are kept this long; today's are counted on every request.
TREND_CACHE_SECONDS = 600


def trend(days: int = 30, now: datetime | None = None) -> Trend:
    """New (by occurred_at) and closed (by resolved_at) errors per day over the last ``days`` days."""
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    # Local midnights; adding days to an aware datetime keeps the wall clock, so DST days stay whole days.
    starts = [today - timedelta(days=days - 1 - i) for i in range(days)]
    key = f"overview-trend:{starts[0].isoformat()}"
    earlier = cache.get(key)
    if earlier is None:
        # Cold: the whole month, today included, in one statement; today's counts stay out of the cache.
        new_by_day, closed_by_day = _daily_counts(starts)
        earlier = _without_day(new_by_day, today.date()), _without_day(closed_by_day, today.date())
        cache.set(key, earlier, TREND_CACHE_SECONDS)
    else:
        today_new, today_closed = _daily_counts([today])
        new_by_day, closed_by_day = {**earlier[0], **today_new}, {**earlier[1], **today_closed}
    labels = [start.date() for start in starts]
    return Trend(
        days=[d.isoformat() for d in labels],
        new=[new_by_day.get(d, 0) for d in labels],
        closed=[closed_by_day.get(d, 0) for d in labels],
    )


def _without_day(counts: dict[date, int], day: date) -> dict[date, int]:
    return {d: n for d, n in counts.items() if d != day}


def _daily_counts(starts: list[datetime]) -> tuple[dict[date, int], dict[date, int]]:
    """Errors that occurred, and that were resolved, in each day from each start to the next (the last: open).

    One range count per day and column, joined with UNION ALL, rather than grouping by a truncated date: a
    range count reads index entries only (error_occurred, error_resolved_at) with no per-row date arithmetic,
    PostgreSQL can spread the branches over parallel workers, and the local days are cut in Python, which
    knows the time zone's rules.
    """
    table = ErrorRecord._meta.db_table
    branches, params = [], []
    for kind, column in enumerate(("occurred_at", "resolved_at")):
        for i, start in enumerate(starts):
            condition = f"{column} >= %s"
            params.append(connection.ops.adapt_datetimefield_value(start))
            if i + 1 < len(starts):
                condition += f" AND {column} < %s"
                params.append(connection.ops.adapt_datetimefield_value(starts[i + 1]))
            branches.append(f"SELECT {kind}, {i}, COUNT(*) FROM {table} WHERE {condition}")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        rows = cursor.fetchall()
    result: tuple[dict[date, int], dict[date, int]] = ({}, {})
    for kind, i, n in rows:
        if n:
            result[kind][starts[i].date()] = n
    return result


def recent_flow_jobs(limit: int = 10) -> list[FlowJob]:
    return list(FlowJob.objects.select_related("flow", "account").order_by("-created_at")[:limit])


def account_sync_status() -> list[tuple[CeligoAccount, SyncRun | None]]:
    latest = SyncRun.objects.filter(account=OuterRef("pk")).order_by("-started_at").values("pk")[:1]
    accounts = list(CeligoAccount.objects.annotate(latest_run_id=Subquery(latest)))
    runs = SyncRun.objects.in_bulk([a.latest_run_id for a in accounts if a.latest_run_id])
    return [(account, runs.get(account.latest_run_id)) for account in accounts]
