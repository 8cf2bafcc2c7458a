"""Indexes the triage pages need at a million errors, on PostgreSQL only.

They live outside the model state on purpose: a trigram GIN index and partial covering indexes have no
SQLite equivalent, and the embedded SQLite database holds demo-sized data that needs none of them.
"""

from django.db import migrations

# The free-text search (`q`) is one ILIKE over this expression, so one trigram index serves it; the same
# expression is built in dashboard/filters.py (SEARCH_EXPRESSION) and must stay identical to be used.
SEARCH_EXPRESSION = "(message || ' ' || code || ' ' || trace_key || ' ' || error_id)"

INDEXES = {
    "error_search_trgm": f"USING gin ({SEARCH_EXPRESSION} gin_trgm_ops)",
    # The list over every status sorted by time (the status-led index only serves one status at a time).
    "error_occurred": "(occurred_at DESC)",
    # Sorting on a column with few distinct values: with the id tie-breaker in the index, the first page is
    # read in order instead of sorting every row of the first value (error_code & co. lead with the column
    # but cannot give the tie-breaker order).
    "error_sort_code": "(code, id)",
    "error_sort_source": "(source, id)",
    "error_sort_classification": "(classification, id)",
    # Latest resolved first, open errors (no resolved_at) last; error_resolved_at is partial, which an
    # ORDER BY cannot use.
    "error_sort_resolved": "(resolved_at DESC NULLS LAST, id DESC)",
    # Grouped view: (fingerprint, flow) counts and first/last seen from the index alone, over all accounts
    # (read in fingerprint order, so grouped as it streams) or within one.
    "error_group_fingerprint": "(status, fingerprint, flow_id, occurred_at)",
    "error_group_account_fingerprint": "(status, account_id, fingerprint, flow_id, occurred_at)",
    # Overview drill-down: open counts per account, integration, flow and step from the index alone.
    "error_drilldown": "(status, account_id, integration_id, flow_id, step_id)",
    # Overview ageing: open errors Celigo has purged, or whose purge date has passed. Two columns on purpose:
    # Django's AlterField drops every undeclared single-column index on a column whose db_index it turns off.
    "error_open_retention": "(purged, purge_at) WHERE status = 'open'",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON dashboard_errorrecord {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0003_saved_views")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
