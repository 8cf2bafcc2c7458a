"""Exact numbers behind the overview and the grouped view, pinned on small data (PostgreSQL and SQLite)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from dashboard.models import CeligoState, ErrorFingerprint, ErrorRecord
from dashboard.queries import overview
from dashboard.queries.groups import fingerprint_groups
from tests.dashboard.factories import ErrorRecordFactory, FlowFactory, StepFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


def open_errors():
    return ErrorRecord.objects.filter(status=CeligoState.OPEN)


def open_error(age: timedelta, **kwargs) -> None:
    ErrorRecordFactory(occurred_at=NOW - age, **kwargs)


def test_it_counts_each_ageing_bucket_with_edges_in_the_younger_bucket():
    for age in (timedelta(0), timedelta(hours=1), timedelta(hours=2)):
        open_error(age)
    open_error(timedelta(days=1))
    open_error(timedelta(days=6, hours=23))
    open_error(timedelta(days=7, seconds=1))
    open_error(timedelta(days=30))
    open_error(timedelta(days=30, seconds=1))
    ErrorRecordFactory(occurred_at=None, purge_at=None)
    open_error(timedelta(minutes=5), status=CeligoState.RESOLVED)
    buckets, _past = overview.ageing_buckets(ErrorRecord.objects.all(), NOW)
    assert [(b.label, b.count) for b in buckets] == [
        ("< 1 hour", 2),
        ("< 1 day", 2),
        ("< 7 days", 1),
        ("< 30 days", 2),
        ("Older", 2),  # one older than 30 days, one with no date
    ]


def test_it_counts_open_errors_past_retention_once_whether_purged_or_past_their_purge_date():
    open_error(timedelta(days=40), purged=True)  # purged, purge date passed too: counted once
    open_error(timedelta(days=1), purged=True, purge_at=NOW + timedelta(days=29))
    open_error(timedelta(days=31))  # purge date passed, not yet seen purged
    open_error(timedelta(days=29))  # purge date still ahead
    ErrorRecordFactory(occurred_at=NOW - timedelta(days=10), purge_at=None)
    open_error(timedelta(days=40), purged=True, status=CeligoState.RESOLVED)
    _buckets, past_retention = overview.ageing_buckets(ErrorRecord.objects.all(), NOW)
    assert past_retention == 3


def test_it_counts_new_and_closed_errors_per_day_including_today():
    today = timezone.localtime(NOW).replace(hour=0, minute=0, second=0, microsecond=0)
    at = [today - timedelta(days=days) for days in range(30)]
    ErrorRecordFactory(occurred_at=today + timedelta(seconds=1))
    ErrorRecordFactory(occurred_at=today)  # midnight belongs to the day it starts
    ErrorRecordFactory(occurred_at=today - timedelta(microseconds=1))  # yesterday's last instant
    ErrorRecordFactory(occurred_at=at[29])  # first day shown
    ErrorRecordFactory(occurred_at=at[29] - timedelta(seconds=1))  # before the chart
    ErrorRecordFactory(
        occurred_at=at[10] + timedelta(hours=3),
        status=CeligoState.RESOLVED,
        resolved_at=at[2] + timedelta(hours=5),
    )
    ErrorRecordFactory(occurred_at=today - timedelta(days=40), status=CeligoState.RESOLVED, resolved_at=today)
    trend = overview.trend(ErrorRecord.objects.all(), "all", now=NOW)
    assert trend.days == [day.date().isoformat() for day in reversed(at)]
    new = dict(zip(trend.days, trend.new, strict=True))
    closed = dict(zip(trend.days, trend.closed, strict=True))
    assert {day: n for day, n in new.items() if n} == {
        at[0].date().isoformat(): 2,
        at[1].date().isoformat(): 1,
        at[10].date().isoformat(): 1,
        at[29].date().isoformat(): 1,
    }
    assert {day: n for day, n in closed.items() if n} == {
        at[0].date().isoformat(): 1,
        at[2].date().isoformat(): 1,
    }


def test_it_gives_the_same_trend_from_the_cache_with_today_recounted():
    today = timezone.localtime(NOW).replace(hour=0, minute=0, second=0, microsecond=0)
    ErrorRecordFactory(occurred_at=today - timedelta(days=2))
    ErrorRecordFactory(occurred_at=today + timedelta(minutes=1))
    cold = overview.trend(ErrorRecord.objects.all(), "all", now=NOW)
    ErrorRecordFactory(occurred_at=today + timedelta(minutes=2))
    warm = overview.trend(ErrorRecord.objects.all(), "all", now=NOW)
    assert warm.new[:-1] == cold.new[:-1]
    assert (cold.new[-1], warm.new[-1]) == (1, 2)
    assert sum(warm.new) == 3


def make_groups() -> tuple[list, datetime]:
    orders, invoices, refunds = (FlowFactory(name=name) for name in ("Orders", "Invoices", "Refunds"))
    timeout = "Request timed out after {} ms"
    for minutes, flow in [(50, orders), (40, orders), (30, invoices), (20, refunds)]:
        open_error(timedelta(minutes=minutes), message=timeout.format(minutes), step=StepFactory(flow=flow))
    for minutes in (90, 10):
        open_error(timedelta(minutes=minutes), message=f"Record {minutes} already exists", step__flow=orders)
    open_error(timedelta(minutes=5), message="Socket hang up", step__flow=invoices)
    # Outside the filter: resolved errors of the same fingerprints change nothing.
    open_error(timedelta(days=3), message=timeout.format(1), status=CeligoState.RESOLVED)
    open_error(timedelta(days=3), message="Socket hang up", status=CeligoState.RESOLVED)
    return [orders, invoices, refunds], NOW


def summary(groups) -> list[tuple]:
    return [
        (g.normalised_message, g.count, g.flow_count, g.first_seen, g.last_seen, [f.name for f in g.flows])
        for g in groups
    ]


TIMEOUT_GROUP = (
    "Request timed out after <n> ms",
    4,
    3,
    NOW - timedelta(minutes=50),
    NOW - timedelta(minutes=20),
    ["Orders", "Refunds"],  # the lowest and highest flow id as examples
)
EXISTS_GROUP = (
    "Record <n> already exists",
    2,
    1,
    NOW - timedelta(minutes=90),
    NOW - timedelta(minutes=10),
    ["Orders"],
)
SOCKET_GROUP = ("Socket hang up", 1, 1, NOW - timedelta(minutes=5), NOW - timedelta(minutes=5), ["Invoices"])


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-count", [TIMEOUT_GROUP, EXISTS_GROUP, SOCKET_GROUP]),
        ("count", [SOCKET_GROUP, EXISTS_GROUP, TIMEOUT_GROUP]),
        ("-flows", [TIMEOUT_GROUP]),  # then the two one-flow groups in fingerprint order
        ("-last_seen", [SOCKET_GROUP, EXISTS_GROUP, TIMEOUT_GROUP]),
        ("last_seen", [TIMEOUT_GROUP, EXISTS_GROUP, SOCKET_GROUP]),
        ("first_seen", [EXISTS_GROUP, TIMEOUT_GROUP, SOCKET_GROUP]),
        ("-first_seen", [SOCKET_GROUP, TIMEOUT_GROUP, EXISTS_GROUP]),
    ],
)
def test_it_counts_and_dates_each_group_of_the_filtered_errors(ordering, expected):
    make_groups()
    groups, total = fingerprint_groups(open_errors(), ordering)
    assert total == 3
    assert summary(groups)[: len(expected)] == expected


def test_it_dates_groups_by_the_filtered_errors_only():
    (orders, _invoices, _refunds), _ = make_groups()
    groups, total = fingerprint_groups(open_errors().filter(flow=orders), "-count")
    assert total == 2
    timeout = (
        "Request timed out after <n> ms",
        2,
        1,
        NOW - timedelta(minutes=50),
        NOW - timedelta(minutes=40),
    )
    assert sorted(summary(groups)) == sorted([(*timeout, ["Orders"]), EXISTS_GROUP])


def test_it_dates_a_fingerprint_with_no_stored_text():
    make_groups()
    ErrorFingerprint.objects.filter(normalised_message="Socket hang up").delete()
    groups, _ = fingerprint_groups(open_errors(), "count")
    assert summary(groups)[0] == ("", *SOCKET_GROUP[1:])


def test_it_pages_groups_and_keeps_the_total(monkeypatch):
    monkeypatch.setattr("dashboard.queries.groups.GROUP_PAGE_SIZE", 2)
    make_groups()
    first, total = fingerprint_groups(open_errors(), "-count", page=1)
    second, second_total = fingerprint_groups(open_errors(), "-count", page=2)
    assert (total, second_total) == (3, 3)
    assert summary(first) == [TIMEOUT_GROUP, EXISTS_GROUP]
    assert summary(second) == [SOCKET_GROUP]
