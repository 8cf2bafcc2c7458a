"""Counting a filtered set of errors without reading all of it.

Counts are exact up to ``COUNT_CAP`` and reported as "more than …" beyond it: counting every row of a large
filtered set costs a scan of all of it, while counting up to the cap costs at most that many index entries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

COUNT_CAP = 10_000


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
