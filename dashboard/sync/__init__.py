"""The sync engine: keep a faithful, durable copy of every Celigo error of an account, cheaply.

One cycle (docs/architecture.md "Sync semantics", docs/celigo-api.md §6):

1. per integration (and the standalone pseudo integration ``none``), the error summary (§2.1);
2. only for flows whose count or ``lastErrorAt`` changed, the per-step summary (§2.2);
3. only for steps whose count or ``lastErrorAt`` changed, the open errors since the step's watermark minus
   an overlap (§2.3), upserted in bulk;
4. when a step has fewer open errors in Celigo than here, its resolved list since the resolved watermark
   (§2.5) says who closed them; what is in neither list has been purged by Celigo's retention;
5. recent flow jobs (§3.1), one call.

A cycle in which nothing changed costs one call per integration plus two. A full reconcile (periodic, or
``--full``) walks every known step's open and resolved lists; metadata (names, structure, users, tags)
refreshes on a slower cadence.

Durability: rows are upserted by (account, flowId, stepId, errorId); a step's watermark and summary are
saved only after all of its rows are committed, and a flow's summary only after all of its steps. A sync
killed at any point leaves summaries that still differ from Celigo's, so the next run repeats the work.

``run`` holds the run and its lease, ``cycle`` the walk over an account, ``step`` the pull of one step,
``ingest`` the rows and their upsert, ``metadata`` and ``jobs`` the slower refreshes.
"""

from dashboard.sync.run import SyncBusy, sync_account

__all__ = ["SyncBusy", "sync_account"]
