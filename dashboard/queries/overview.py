"""Aggregates behind the overview page, written so PostgreSQL answers them from indexes at 1M errors.

Each function takes the errors the person may see (``dashboard.access.visible_errors``), so every count,
chart and cached aggregate is of their scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from dashboard.models import (
    CeligoAccount,
    CeligoState,
    ErrorRecord,
    Flow,
    FlowJob,
    Integration,
    Step,
    SyncRun,
    Team,
)


@dataclass
class DrillRow:
    key: int | None
    label: str
    count: int
    filter_query: dict[str, str]
    child_level: str | None = None


DRILL_LEVELS = ("account", "integration", "flow", "step")


def drill_down(
    errors: QuerySet[ErrorRecord], level: str, parent: int | None = None, account: int | None = None
) -> list[DrillRow]:
    """Open errors per account, or per integration / flow / step inside one parent.

    Each level reads only the (status, account, integration, flow, step) index entries of its parent.
    """
    open_errors = errors.filter(status=CeligoState.OPEN)
    if level == "account":
        rows = _account_rows(open_errors)
    elif level == "integration":
        rows = _integration_rows(open_errors, parent)
    elif level == "flow":
        rows = _flow_rows(open_errors, parent, account)
    elif level == "step":
        rows = _step_rows(open_errors, parent)
    else:
        raise ValueError(level)
    return sorted(rows, key=lambda row: -row.count)


def _counts_by(open_errors: QuerySet[ErrorRecord], column: str, scope: Q) -> dict[Any, int]:
    counts = open_errors.filter(scope).values(column).annotate(n=Count("*")).order_by()
    return {row[column]: row["n"] for row in counts}


def _account_rows(open_errors: QuerySet[ErrorRecord]) -> list[DrillRow]:
    accounts = CeligoAccount.objects.only("name").in_bulk()
    return [
        DrillRow(pk, str(accounts.get(pk, "?")), n, {"account": str(pk)}, "integration")
        for pk, n in _counts_by(open_errors, "account_id", Q()).items()
    ]


def _integration_rows(open_errors: QuerySet[ErrorRecord], account: int | None) -> list[DrillRow]:
    integrations = Integration.objects.filter(account_id=account).only("name", "celigo_id").in_bulk()
    rows = []
    for pk, n in _counts_by(open_errors, "integration_id", Q(account_id=account)).items():
        integration = integrations.get(pk)
        query = {"account": str(account)}
        if integration:
            query["integration_id"] = integration.celigo_id
        rows.append(DrillRow(pk, str(integration) if integration else "Standalone flows", n, query, "flow"))
    return rows


def _flow_rows(
    open_errors: QuerySet[ErrorRecord], integration: int | None, account: int | None
) -> list[DrillRow]:
    # Standalone flows (no integration) are asked for by account with no parent.
    scope = Q(integration_id=integration) if integration else Q(account_id=account, integration__isnull=True)
    counts = _counts_by(open_errors, "flow_id", scope)
    flows = Flow.objects.only("name", "celigo_id").in_bulk([pk for pk in counts if pk is not None])
    rows = []
    for pk, n in counts.items():
        flow = flows.get(pk)
        if flow:
            rows.append(DrillRow(pk, str(flow), n, {"flow_id": flow.celigo_id}, "step"))
        else:
            rows.append(DrillRow(pk, "Flow not synced yet", n, {}))
    return rows


def _step_rows(open_errors: QuerySet[ErrorRecord], flow_pk: int | None) -> list[DrillRow]:
    counts = _counts_by(open_errors, "step_id", Q(flow_id=flow_pk))
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
class TeamRow:
    team: Team | None
    open: int
    unassigned: int

    @property
    def filter_query(self) -> dict[str, str]:
        return {"status": "open", "team": str(self.team.pk) if self.team else "none"}


def team_rows(errors: QuerySet[ErrorRecord]) -> list[TeamRow]:
    """Open errors per team (and in no team), with how many nobody is assigned; the largest queue first.

    One index-only pass over the partial index error_open_team of migration 0011.
    """
    counts = (
        errors.filter(status=CeligoState.OPEN)
        .order_by()
        .values("team_id")
        # Assigned ones counted, not unassigned ones: a FILTER would read a column the index does not hold.
        .annotate(n=Count("*"), assigned=Count("assignee_id"))
    )
    rows = list(counts)
    teams = Team.objects.only("name").in_bulk([row["team_id"] for row in rows if row["team_id"]])
    return sorted(
        (TeamRow(teams.get(row["team_id"]), row["n"], row["n"] - row["assigned"]) for row in rows),
        key=lambda row: (row.team is None, -row.open),
    )


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


def ageing_buckets(
    errors: QuerySet[ErrorRecord], now: datetime | None = None
) -> tuple[list[AgeingBucket], int]:
    """Open errors by age, and how many are past Celigo's retention (purged, or purge date passed).

    One pass: cumulative counts since each edge and the retention count are FILTERed counts of the same rows,
    which the partial index error_open_age of migration 0007 (open errors by occurred_at, carrying purged and
    purge_at) holds, so the table is not read.
    """
    now = now or timezone.now()
    starts = [now - age for _, age in AGEING_EDGES]
    # Django allows no FILTER on COUNT(*); counting a column the filter already requires non-null (purged is
    # never null) counts the same rows and keeps the scan on the index (COUNT(id) would read the table).
    counts = errors.filter(status=CeligoState.OPEN).aggregate(
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


def trend(errors: QuerySet[ErrorRecord], scope: str, days: int = 30, now: datetime | None = None) -> Trend:
    """New (by occurred_at) and closed (by resolved_at) errors per day over the last ``days`` days.

    ``scope`` (``dashboard.access.scope_key``) keys the cache, so people who see different errors never
    share a cached trend.
    """
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    # Local midnights; adding days to an aware datetime keeps the wall clock, so DST days stay whole days.
    starts = [today - timedelta(days=days - 1 - i) for i in range(days)]
    key = f"overview-trend:{scope}:{starts[0].isoformat()}"
    earlier = cache.get(key)
    if earlier is None:
        # Cold: the whole month, today included, in one statement; today's counts stay out of the cache.
        new_by_day, closed_by_day = _daily_counts(errors, starts)
        earlier = _without_day(new_by_day, today.date()), _without_day(closed_by_day, today.date())
        cache.set(key, earlier, TREND_CACHE_SECONDS)
    else:
        today_new, today_closed = _daily_counts(errors, [today])
        new_by_day, closed_by_day = {**earlier[0], **today_new}, {**earlier[1], **today_closed}
    labels = [start.date() for start in starts]
    return Trend(
        days=[d.isoformat() for d in labels],
        new=[new_by_day.get(d, 0) for d in labels],
        closed=[closed_by_day.get(d, 0) for d in labels],
    )


def _without_day(counts: dict[date, int], day: date) -> dict[date, int]:
    return {d: n for d, n in counts.items() if d != day}


def _daily_counts(
    errors: QuerySet[ErrorRecord], starts: list[datetime]
) -> tuple[dict[date, int], dict[date, int]]:
    """Errors that occurred, and that were resolved, in each day from each start to the next (the last: open).

    One range count per day and column, joined with UNION ALL, rather than grouping by a truncated date: a
    range count reads index entries only (error_occurred, error_resolved_at) with no per-row date arithmetic,
    PostgreSQL can spread the branches over parallel workers, and the local days are cut in Python, which
    knows the time zone's rules. Each branch is the scoped queryset's own SQL, which PostgreSQL flattens
    into a plain count.
    """
    branches: list[str] = []
    params: list[Any] = []
    for kind, column in enumerate(("occurred_at", "resolved_at")):
        for i, start in enumerate(starts):
            bounds = {f"{column}__gte": start}
            if i + 1 < len(starts):
                bounds[f"{column}__lt"] = starts[i + 1]
            sql, branch_params = errors.filter(**bounds).order_by().values("pk").query.sql_with_params()
            branches.append(f"SELECT {kind}, {i}, COUNT(*) FROM ({sql}) AS day")  # noqa: S608
            params.extend(branch_params)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(branches), params)
        rows = cursor.fetchall()
    result: tuple[dict[date, int], dict[date, int]] = ({}, {})
    for kind, i, n in rows:
        if n:
            result[kind][starts[i].date()] = n
    return result


def recent_flow_jobs(jobs: QuerySet[FlowJob], limit: int = 10) -> list[FlowJob]:
    return list(jobs.select_related("flow", "account").order_by("-created_at")[:limit])


def account_sync_status() -> list[tuple[CeligoAccount, SyncRun | None]]:
    latest = SyncRun.objects.filter(account=OuterRef("pk")).order_by("-started_at").values("pk")[:1]
    accounts = list(CeligoAccount.objects.annotate(latest_run_id=Subquery(latest)))
    runs = SyncRun.objects.in_bulk([a.latest_run_id for a in accounts if a.latest_run_id])
    return [(account, runs.get(account.latest_run_id)) for account in accounts]
