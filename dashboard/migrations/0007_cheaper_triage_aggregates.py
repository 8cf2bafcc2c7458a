"""Indexes shaped for the overview's ageing counts and the grouped view, on PostgreSQL only (see 0004).

Two indexes of 0004 are replaced, so the table gains one index in all (each costs the sync's upsert):

* ``error_group_fingerprint`` (status, fingerprint, flow_id, occurred_at) becomes two. Counting the open backlog
  per (fingerprint, flow) reads ``error_group_pairs``, whose keys repeat, so B-tree deduplication stores one key
  per pair with its row pointers in heap order: a sixth of the size, and no visibility-map page hopping per
  entry. First and last seen are two probes per shown fingerprint on ``error_group_seen``, which also covers
  groupings filtered by time (flow_id included).
* ``error_open_retention`` (purged, purge_at) becomes ``error_open_age``: one pass over the open errors by
  occurred_at, carrying the retention columns, answers every ageing bucket and the retention count at once.
"""

from django.db import migrations

INDEXES = {
    "error_group_pairs": "(status, fingerprint, flow_id)",
    "error_group_seen": "(status, fingerprint, occurred_at) INCLUDE (flow_id)",
    "error_open_age": "(occurred_at) INCLUDE (purged, purge_at) WHERE status = 'open'",
}

REPLACED = {
    "error_group_fingerprint": "(status, fingerprint, flow_id, occurred_at)",
    "error_open_retention": "(purged, purge_at) WHERE status = 'open'",
}


def _create(schema_editor, indexes: dict[str, str]) -> None:
    for name, definition in indexes.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON dashboard_errorrecord {definition}")


def _drop(schema_editor, indexes: dict[str, str]) -> None:
    for name in indexes:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _create(schema_editor, INDEXES)
    _drop(schema_editor, REPLACED)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    _create(schema_editor, REPLACED)
    _drop(schema_editor, INDEXES)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0006_action_batches")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
