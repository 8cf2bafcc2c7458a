"""Recent flow runs (docs/celigo-api.md §3.2), one call per cycle from a watermark."""

from __future__ import annotations

from datetime import timedelta
from itertools import islice

from celigo_api import Job
from dashboard.lib.text import clean_json, clean_text
from dashboard.models import Flow, FlowJob
from dashboard.sync.context import SyncContext

JOBS_OVERLAP = timedelta(hours=1)
FIRST_JOBS_WINDOW = timedelta(days=1)
MAX_JOBS_PER_CYCLE = 2000


def read_jobs(context: SyncContext) -> tuple[list[Job], dict[str, int]]:
    """The recent flow runs, and per flow how many errors they filed that we have not counted yet.

    A run's ``numError`` counts every error it filed (§3.4), including one resolved before we looked,
    which the error summaries do not show (docs/architecture.md "Sync semantics"). Nothing is stored here:
    :func:`store_jobs` runs after the flows are synced, so a sync killed between the two counts them again.
    """
    account = context.account
    watermark = account.jobs_watermark
    since = (watermark - JOBS_OVERLAP) if watermark else (context.started - FIRST_JOBS_WINDOW)
    jobs = [
        job
        for job in islice(context.client.iter_jobs(createdAt_gte=since, type="flow"), MAX_JOBS_PER_CYCLE)
        if job.id
    ]
    ids = [clean_text(job.id, 64) for job in jobs]
    counted = dict(
        FlowJob.objects.filter(account=account, celigo_id__in=ids).values_list("celigo_id", "num_error")
    )
    unseen: dict[str, int] = {}
    for job, celigo_id in zip(jobs, ids, strict=True):
        filed = (job.num_error or 0) - counted.get(celigo_id, 0)
        if job.flow_id and filed > 0:
            flow_id = clean_text(job.flow_id, 64)
            unseen[flow_id] = unseen.get(flow_id, 0) + filed
    return jobs, unseen


def store_jobs(context: SyncContext, flows: dict[str, Flow], jobs: list[Job]) -> None:
    account = context.account
    watermark = account.jobs_watermark
    newest = watermark
    for job in jobs:
        FlowJob.objects.update_or_create(
            account=account,
            celigo_id=clean_text(job.id, 64),
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
