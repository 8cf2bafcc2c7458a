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
from django.db.models.functions import TruncDate
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


def fingerprint_groups(
    queryset: QuerySet[ErrorRecord], ordering: str = "-count", page: int = 1
) -> tuple[list[FingerprintGroup], int]:
    """One page of fingerprint groups of the filtered errors, and the number of groups.

    Two levels: (fingerprint, flow) pairs first, which the (status, fingerprint, flow_id, occurred_at) index
    of migration 0004 yields in order without touching the table, then the pairs per fingerprint.
    """
    pairs = (
        queryset.order_by()
        .values("fingerprint", "flow_id")
        .annotate(n=Count("*"), first_seen=Min("occurred_at"), last_seen=Max("occurred_at"))
    )
    inner_sql, params = pairs.query.sql_with_params()
    order = GROUP_ORDERINGS.get(ordering, GROUP_ORDERINGS["-count"])
    # Two example flows per group (the lowest and highest id) cost nothing more than the grouping itself;
    # the page says how many flows there are in all.
    sql = f"""
        SELECT fingerprint, SUM(n) AS total, MIN(first_seen) AS first_seen, MAX(last_seen) AS last_seen,
               COUNT(*) AS flow_count, COUNT(*) OVER () AS groups, MIN(flow_id), MAX(flow_id)
        FROM ({inner_sql}) pairs
        GROUP BY fingerprint
        ORDER BY {order}, fingerprint
        LIMIT %s OFFSET %s
    """  # noqa: S608 - only the fixed ORDER BY choices and the ORM's own SQL are interpolated
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, GROUP_PAGE_SIZE, (page - 1) * GROUP_PAGE_SIZE])
        rows = cursor.fetchall()
    groups: list[FingerprintGroup] = []
    flow_ids: dict[str, list[int]] = {}
    total_groups = 0
    for row in rows:
        fingerprint, total, first_seen, last_seen, flow_count, total_groups, *top = row
        groups.append(
            FingerprintGroup(
                fingerprint, int(total), _as_datetime(first_seen), _as_datetime(last_seen), flow_count
            )
        )
        flow_ids[fingerprint] = sorted({int(pk) for pk in top if pk is not None})
    _attach_group_details(groups, flow_ids)
    return groups, int(total_groups)


def _as_datetime(value: Any) -> datetime | None:
    # SQLite hands back aggregates over a raw cursor as text.
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _attach_group_details(groups: list[FingerprintGroup], flow_ids: dict[str, list[int]]) -> None:
    messages = dict(
        ErrorFingerprint.objects.filter(fingerprint__in=[g.fingerprint for g in groups]).values_list(
            "fingerprint", "normalised_message"
        )
    )
    flows = Flow.objects.only("name", "celigo_id").in_bulk([pk for ids in flow_ids.values() for pk in ids])
    for group in groups:
        group.normalised_message = messages.get(group.fingerprint, "")
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


def ageing_buckets(now: datetime | None = None) -> tuple[list[AgeingBucket], int]:
    """Open errors by age, and how many are past Celigo's retention (purged, or purge date passed).

    Cumulative range counts on the (status, occurred_at) index, subtracted into buckets: each count reads
    index entries only.
    """
    now = now or timezone.now()
    edges = [
        ("< 1 hour", timedelta(hours=1)),
        ("< 1 day", timedelta(days=1)),
        ("< 7 days", timedelta(days=7)),
        ("< 30 days", timedelta(days=30)),
    ]
    base = open_errors()
    total = base.count()
    buckets: list[AgeingBucket] = []
    previous_count, previous_start = 0, None
    for label, age in edges:
        start = now - age
        cumulative = base.filter(occurred_at__gte=start).count()
        query = {"status": "open", "occurred_after": _iso(start)}
        if previous_start:
            query["occurred_before"] = _iso(previous_start)
        buckets.append(AgeingBucket(label, cumulative - previous_count, query))
        previous_count, previous_start = cumulative, start
    buckets.append(
        AgeingBucket(
            "Older", total - previous_count, {"status": "open", "occurred_before": _iso(now - edges[-1][1])}
        )
    )
    past_retention = base.filter(purged=True).count() + base.filter(purged=False, purge_at__lt=now).count()
    return buckets, past_retention


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
    start = today - timedelta(days=days - 1)
    key = f"overview-trend:{start.isoformat()}"
    earlier = cache.get(key)
    if earlier is None:
        earlier = _daily_counts(start, today)
        cache.set(key, earlier, TREND_CACHE_SECONDS)
    new_by_day, closed_by_day = earlier
    today_new, today_closed = _daily_counts(today, None)
    new_by_day, closed_by_day = {**new_by_day, **today_new}, {**closed_by_day, **today_closed}
    labels = [(start + timedelta(days=i)).date() for i in range(days)]
    return Trend(
        days=[d.isoformat() for d in labels],
        new=[new_by_day.get(d, 0) for d in labels],
        closed=[closed_by_day.get(d, 0) for d in labels],
    )


def _daily_counts(start: datetime, end: datetime | None) -> tuple[dict[date, int], dict[date, int]]:
    result = []
    for column in ("occurred_at", "resolved_at"):
        rows = ErrorRecord.objects.filter(**{f"{column}__gte": start})
        if end is not None:
            rows = rows.filter(**{f"{column}__lt": end})
        counts = rows.annotate(day=TruncDate(column)).values("day").annotate(n=Count("*")).order_by()
        result.append({row["day"]: row["n"] for row in counts})
    return result[0], result[1]


def recent_flow_jobs(limit: int = 10) -> list[FlowJob]:
    return list(FlowJob.objects.select_related("flow", "account").order_by("-created_at")[:limit])


def account_sync_status() -> list[tuple[CeligoAccount, SyncRun | None]]:
    latest = SyncRun.objects.filter(account=OuterRef("pk")).order_by("-started_at").values("pk")[:1]
    accounts = list(CeligoAccount.objects.annotate(latest_run_id=Subquery(latest)))
    runs = SyncRun.objects.in_bulk([a.latest_run_id for a in accounts if a.latest_run_id])
    return [(account, runs.get(account.latest_run_id)) for account in accounts]
