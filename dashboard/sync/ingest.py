"""Storing pages of Celigo errors: one error as column values, and the idempotent upsert that writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from django.db import DatabaseError, connection, transaction

from celigo_api import StepError
from dashboard.lib.fingerprint import fingerprint
from dashboard.lib.text import clean_text
from dashboard.models import CeligoState, ErrorFingerprint, ErrorRecord, Step
from dashboard.sync.context import RunCounters, SyncContext

UPSERT_BATCH = 1000

# Columns Celigo owns, rewritten whenever an error is seen again; resolution fields come from the resolved
# list only.
CELIGO_FIELDS = [
    "integration",
    "flow",
    "step",
    "occurred_at",
    "source",
    "code",
    "message",
    "classification",
    "classified_by",
    "trace_key",
    "retry_data_key",
    "flow_job_id",
    "req_and_res_key",
    "o_index",
    "export_data_uri",
    "import_data_uri",
    "purge_at",
    "retriable",
    "raw",
    "fingerprint",
    "last_seen_at",
]
RESOLUTION_FIELDS = ["status", "resolved_at", "resolved_by"]
UPSERT_KEY = ["account", "celigo_flow_id", "celigo_step_id", "error_id"]

Row = dict[str, Any]
LIMITS: dict[str, int | None] = {
    f.name: getattr(f, "max_length", None) for f in ErrorRecord._meta.concrete_fields
}


def update_fields_for(state: str) -> list[str]:
    fields = CELIGO_FIELDS + (RESOLUTION_FIELDS if state == CeligoState.RESOLVED else [])
    if state == CeligoState.OPEN:
        # An id back in the open list is open, whatever we thought before (e.g. a resolve that Celigo did
        # not apply); its resolution fields stay for the timeline.
        fields = [*fields, "status"]
    return [*fields, "purged"]


def build_row(
    context: SyncContext,
    counters: RunCounters,
    step: Step,
    item: StepError,
    state: str,
    now: datetime,
    fingerprints: dict[str, str],
) -> Row | None:
    """One error as column values (model instances cost more than the insert itself at this volume)."""
    error_id = clean_text(item.error_id, LIMITS["error_id"])
    if not error_id:
        counters.malformed += 1
        counters.note(f"step {step.celigo_id}: an error without errorId was skipped")
        return None
    # Stored whole (escaped, read back exactly: docs/architecture.md "Text Celigo sends"), however long;
    # pages bound what they show.
    message = clean_text(item.message)
    hashed, normalised = fingerprint(message)
    fingerprints[hashed] = normalised
    flow = step.flow
    resolved = state == CeligoState.RESOLVED
    return {
        "account_id": context.account.pk,
        "celigo_flow_id": flow.celigo_id,
        "celigo_step_id": step.celigo_id,
        "error_id": error_id,
        "integration_id": flow.integration_id,
        "flow_id": flow.pk,
        "step_id": step.pk,
        "occurred_at": item.occurred_at,
        "source": clean_text(item.source, LIMITS["source"]),
        "code": clean_text(item.code, LIMITS["code"]),
        "message": message,
        "classification": clean_text(item.classification, LIMITS["classification"]),
        "classified_by": clean_text(item.classified_by, LIMITS["classified_by"]),
        "trace_key": clean_text(item.trace_key, LIMITS["trace_key"]),
        "retry_data_key": clean_text(item.retry_data_key, LIMITS["retry_data_key"]),
        "flow_job_id": clean_text(item.flow_job_id, LIMITS["flow_job_id"]),
        "req_and_res_key": clean_text(item.req_and_res_key, LIMITS["req_and_res_key"]),
        "o_index": item.o_index if item.o_index is not None and abs(item.o_index) < 2**31 else None,
        "export_data_uri": clean_text(item.export_data_uri),
        "import_data_uri": clean_text(item.import_data_uri),
        "purge_at": item.purge_at,
        "retriable": item.retriable,
        "raw": item.raw,  # escaped by the field when written (CeligoJSONField)
        "status": state,
        "purged": False,
        "first_seen_at": now,
        "last_seen_at": now,
        "fingerprint": hashed,
        "resolved_at": (item.resolved_at or now) if resolved else None,
        "resolved_by": clean_text(item.resolved_by, LIMITS["resolved_by"]) if resolved else "",
    }


def write_rows(rows: list[Row], update_fields: list[str], counters: RunCounters) -> list[str]:
    """Upsert a page in one transaction; returns the error ids stored. One bad row never costs the page."""
    try:
        with transaction.atomic():
            relax_commit()
            upsert_errors(rows, update_fields)
        return [row["error_id"] for row in rows]
    except DatabaseError:
        stored = []
        for row in rows:
            try:
                with transaction.atomic():
                    upsert_errors([row], update_fields)
                stored.append(row["error_id"])
            except DatabaseError as exc:
                counters.malformed += 1
                counters.note(f"error {row['error_id']}: not stored ({type(exc).__name__}: {exc})"[:300])
        return stored


def store_fingerprints(context: SyncContext, fingerprints: dict[str, str]) -> None:
    unknown = {k: v for k, v in fingerprints.items() if k not in context.known_fingerprints}
    if unknown:
        # In key order: parallel step threads inserting overlapping sets then lock rows in the same order
        # and cannot deadlock on each other.
        ErrorFingerprint.objects.bulk_create(
            [ErrorFingerprint(fingerprint=k, normalised_message=v) for k, v in sorted(unknown.items())],
            ignore_conflicts=True,
        )
        context.known_fingerprints.update(unknown)


def relax_commit() -> None:
    """Let this transaction commit without waiting for its WAL flush (PostgreSQL).

    Safe for the sync's invariant: PostgreSQL loses only a suffix of such commits in a crash, never one in
    the middle, and a step's watermark is always committed after its rows, so a lost page takes its
    watermark with it and the next run fetches it again. It saves a disk flush per page (bench/sync.py).
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def upsert_errors(rows: list[Row], update_fields: list[str]) -> None:
    """``INSERT … ON CONFLICT (account, flowId, stepId, errorId) DO UPDATE`` with one ``executemany``.

    Django's ``bulk_create(update_conflicts=True)`` does the same, but on PostgreSQL it sends each column
    as one array through ``UNNEST``, and escaping the raw-JSON column as a text array cost four times the
    insert itself (bench/sync.py). A prepared row-wise statement in pipeline mode does not. SQLite (3.24+)
    understands the same statement. Columns a row does not name take the model field's default.
    """
    meta = ErrorRecord._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    column: dict[str, str] = {f.name: str(f.column) for f in fields}
    key = [column[name] for name in UPSERT_KEY]
    updates = [column[name] for name in update_fields]
    # Identifiers come from the model and are quoted; values travel as parameters.
    table = quote(meta.db_table)
    names = ", ".join(quote(c) for c in column.values())
    placeholders = ", ".join(["%s"] * len(fields))
    conflict = ", ".join(quote(c) for c in key)
    assignments = ", ".join(f"{quote(c)} = EXCLUDED.{quote(c)}" for c in updates)
    sql = f"INSERT INTO {table} ({names}) VALUES ({placeholders}) ON CONFLICT ({conflict}) DO UPDATE SET {assignments}"  # noqa: S608, E501
    defaults = {f.attname: f.get_default() for f in fields}
    # JSON needs the backend's adapter, and SQLite stores dates as text; the rest passes as-is.
    needs_prep = {"JSONField"} if connection.vendor == "postgresql" else {"JSONField", "DateTimeField"}
    adapted = {f.attname for f in fields if f.get_internal_type() in needs_prep}
    values = [
        [
            f.get_db_prep_save(row.get(f.attname, defaults[f.attname]), connection)
            if f.attname in adapted
            else row.get(f.attname, defaults[f.attname])
            for f in fields
        ]
        for row in rows
    ]
    if connection.vendor == "postgresql":
        _executemany_prepared(sql, values)
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def _executemany_prepared(sql: str, values: list[list[Any]]) -> None:
    """Django's psycopg cursors bind parameters client-side and never prepare, so every row would be parsed
    and planned anew; a server-binding cursor with a prepared statement does it once per page (2-3x faster
    here). PgBouncer 1.21+ in transaction mode handles protocol-level prepares."""
    connection.ensure_connection()
    raw_connection = connection.connection
    threshold = raw_connection.prepare_threshold
    raw_connection.prepare_threshold = 0
    try:
        with psycopg.Cursor(raw_connection) as cursor:
            cursor.executemany(sql, values)
    finally:
        raw_connection.prepare_threshold = threshold
