"""Indexes for a team's slice of the errors: what a restricted member's every page starts from.

* ``error_team_scope`` (team, status, occurred_at), carrying the columns the pages filter and group a slice
  by (account, integration, flow, step, assignee, the retention and resolution dates), so a restricted
  member's counts, drill-downs, ageing and trend read index entries only. It replaces 0009's
  ``error_team_status``, which held the keys alone. Other databases get the keys alone (SQLite has no
  INCLUDE).
* ``error_open_team`` (team) INCLUDE (assignee) over open errors: the overview's open and unassigned errors
  per team in one index-only pass.
"""

from django.db import migrations

SCOPE_COLUMNS = "(team_id, status, occurred_at DESC)"
INDEXES = {
    "error_team_scope": SCOPE_COLUMNS
    + " INCLUDE (account_id, integration_id, flow_id, step_id, assignee_id, purged, purge_at, resolved_at)",
    "error_open_team": "(team_id) INCLUDE (assignee_id) WHERE status = 'open'",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS error_team_scope ON dashboard_errorrecord {SCOPE_COLUMNS}"
        )
        return
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON dashboard_errorrecord {definition}")


def backwards(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0010_audit_events_and_roles_replace_the_act_permission")]

    operations = [
        migrations.RemoveIndex(model_name="errorrecord", name="error_team_status"),
        migrations.RunPython(forwards, backwards, elidable=False),
    ]
