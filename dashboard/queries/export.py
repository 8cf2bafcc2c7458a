"""Stored errors as flat rows, for ``export_errors``, CSV downloads and the REST API's field list.

Every Celigo field is exported whole, exactly as Celigo sent it (docs/architecture.md "Text Celigo sends").
JSON lines carry every character; CSV prefixes a value that a spreadsheet would run as a formula with '.

Rows are produced in chunks from a server-side cursor, so memory stays flat whatever the row count.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet

from dashboard.models import ErrorRecord, Tag

EXPORT_FIELDS = [
    "id",
    "account",
    "integration_id",
    "flow_id",
    "flow_name",
    "step_id",
    "step_name",
    "error_id",
    "occurred_at",
    "source",
    "code",
    "message",
    "classification",
    "trace_key",
    "retry_data_key",
    "flow_job_id",
    "status",
    "assignee",
    "team",
    "tags",
    "resolved_at",
    "resolved_by",
    "first_seen_at",
    "last_seen_at",
    "purged",
]
CHUNK = 2000
LINE_BREAKS = re.compile("[\x85\u2028\u2029]")


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def export_queryset(queryset: QuerySet[ErrorRecord]) -> QuerySet[ErrorRecord]:
    return queryset.select_related(
        "account", "integration", "flow", "step", "assignee", "team"
    ).prefetch_related(Prefetch("tags", queryset=Tag.objects.only("name")))


def error_row(error: ErrorRecord) -> dict[str, Any]:
    return {
        "id": error.pk,
        "account": error.account.name,
        "integration_id": error.integration.celigo_id if error.integration else None,
        "flow_id": error.celigo_flow_id,
        "flow_name": error.flow.name if error.flow else None,
        "step_id": error.celigo_step_id,
        "step_name": error.step.name if error.step else None,
        "error_id": error.error_id,
        "occurred_at": iso(error.occurred_at),
        "source": error.celigo_value("source"),
        "code": error.celigo_value("code"),
        "message": error.message,
        "classification": error.celigo_value("classification"),
        "trace_key": error.celigo_value("trace_key"),
        "retry_data_key": error.celigo_value("retry_data_key") or None,
        "flow_job_id": error.celigo_value("flow_job_id") or None,
        "status": error.status,
        "assignee": error.assignee.get_username() if error.assignee else None,
        "team": error.team.name if error.team else None,
        "tags": sorted(tag.name for tag in error.tags.all()),
        "resolved_at": iso(error.resolved_at),
        "resolved_by": error.celigo_value("resolved_by") or None,
        "first_seen_at": iso(error.first_seen_at),
        "last_seen_at": iso(error.last_seen_at),
        "purged": error.purged,
    }


def iter_error_rows(queryset: QuerySet[ErrorRecord]) -> Iterator[dict[str, Any]]:
    for error in export_queryset(queryset).iterator(chunk_size=CHUNK):
        yield error_row(error)


def jsonl_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        line = json.dumps(row, ensure_ascii=False)
        if LINE_BREAKS.search(line):
            # Inside JSON strings these are legal as they are, but readers that split on every Unicode line
            # break (Python's splitlines, some editors) would cut the line; their escapes read back the same.
            line = LINE_BREAKS.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
        yield line + "\n"


def csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    yield buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    for row in rows:
        row = {**row, "tags": ",".join(row["tags"])}
        writer.writerow({key: neutralise_formula(value) for key, value in row.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def neutralise_formula(value: Any) -> Any:
    """Third-party text starting with = + - @ would run as a formula in a spreadsheet (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
