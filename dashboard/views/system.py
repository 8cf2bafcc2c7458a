from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from dashboard.access import can_manage_people
from dashboard.system.health import last_worker_heartbeat, system_health


@login_not_required
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    parts = system_health()
    healthy = all(part.ok for part in parts)
    body: dict[str, object] = {
        "status": "ok" if healthy else "unavailable",
        "failing": [part.name for part in parts if not part.ok],
    }
    # Failure details carry host names, user names and paths: only for staff who are logged in; anyone
    # else (a load balancer, a monitor) learns which parts are up.
    if request.user.is_authenticated and (request.user.is_staff or can_manage_people(request.user)):
        body["parts"] = {part.name: part.as_dict() for part in parts}
    else:
        body["parts"] = {part.name: {"ok": part.ok} for part in parts}
    return JsonResponse(body, status=200 if healthy else 503)


@require_GET
def system_status(request: HttpRequest) -> HttpResponse:
    context = {
        "parts": system_health(),
        "heartbeat": last_worker_heartbeat(),
        "broker": "Redis" if settings.REDIS_URL else "filesystem (embedded)",
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "celigo_base_url": settings.CELIGO_BASE_URL,
    }
    return render(request, "system/status.html", context)
