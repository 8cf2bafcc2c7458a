"""Recent flow runs (docs/celigo-api.md §3.2), one call per cycle from a watermark."""

from __future__ import annotations

from datetime import timedelta

from dashboard.lib.text import clean_json, clean_text
from dashboard.models import Flow, FlowJob
from dashboard.sync.context import SyncContext

JOBS_OVERLAP = timedelta(hours=1)
FIRST_JOBS_WINDOW = timedelta(days=1)
MAX_JOBS_PER_CYCLE = 2000


def refresh_jobs(context: SyncContext, flows: dict[str, Flow]) -> None:
    account = context.account
    watermark = account.jobs_watermark
    since = (watermark - JOBS_OVERLAP) if watermark else (context.started - FIRST_JOBS_WINDOW)
    newest = watermark
    for count, job in enumerate(context.client.iter_jobs(createdAt_gte=since, type="flow")):
        if count >= MAX_JOBS_PER_CYCLE:
            break
        if not job.id:
            continue
        FlowJob.objects.update_or_create(
            account=account,
            celigo_id=job.id,
            defaults={
                "flow": flows.get(job.flow_id or ""),
                "flow_celigo_id": clean_text(job.flow_id, 64),
                "type": clean_text(job.type, 20),
                "status": clean_text(job.status, 20),
                "created_at": job.created_at,
                "started_at": job.started_at,
                "ended_at": job.ended_at,
                "num_success": job.num_success or 0,
                "num_error": job.num_error or 0,
                "num_ignore": job.num_ignore or 0,
                "num_resolved": job.num_resolved or 0,
                "num_open_error": job.num_open_error or 0,
                "raw": clean_json(job.raw),
            },
        )
        newest = max(filter(None, [newest, job.created_at]), default=None)
    if newest != watermark:
        context.set_account(jobs_watermark=newest)
