from celery import shared_task
from django.utils import timezone

from dashboard.models import WorkerHeartbeat


@shared_task(name="dashboard.record_heartbeat")
def record_heartbeat() -> None:
    hostname = record_heartbeat.request.hostname or "unknown"
    WorkerHeartbeat.objects.update_or_create(hostname=hostname, defaults={"seen_at": timezone.now()})
