"""The overview: where the open errors are, how old they are, the trend, recent runs and sync health.

The page is a shell; each panel is its own htmx fragment that the page polls, so one slow panel never holds
the others back and each stays within its own query budget.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from dashboard.access import scope_key, visible_errors, visible_flow_jobs
from dashboard.queries import overview as queries
from dashboard.views.paging import optional_id

# Seconds between refreshes while the tab is visible; static/js/overview.js stretches it when hidden.
REFRESH_SECONDS = 15


@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "overview/overview.html", {"refresh_seconds": REFRESH_SECONDS})


@require_GET
def overview_accounts(request: HttpRequest) -> HttpResponse:
    return render(request, "overview/partials/accounts.html", {"accounts": queries.account_sync_status()})


@require_GET
def overview_ageing(request: HttpRequest) -> HttpResponse:
    buckets, past_retention = queries.ageing_buckets(visible_errors(request.user))
    context = {
        "buckets": buckets,
        "past_retention": past_retention,
        "total": sum(bucket.count for bucket in buckets),
    }
    return render(request, "overview/partials/ageing.html", context)


@require_GET
def overview_teams(request: HttpRequest) -> HttpResponse:
    rows = queries.team_rows(visible_errors(request.user))
    return render(request, "overview/partials/teams.html", {"rows": rows})


@require_GET
def overview_trend(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "overview/partials/trend.html",
        {"trend": queries.trend(visible_errors(request.user), scope_key(request.user))},
    )


@require_GET
def overview_jobs(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "overview/partials/jobs.html",
        {"jobs": queries.recent_flow_jobs(visible_flow_jobs(request.user))},
    )


@require_GET
def overview_drill(request: HttpRequest) -> HttpResponse:
    """Open errors per account, or the integrations / flows / steps of one parent (expanded on click)."""
    level = request.GET.get("level", "account")
    if level not in queries.DRILL_LEVELS:
        raise Http404("unknown level")
    parent = optional_id(request.GET.get("parent"))
    account = optional_id(request.GET.get("account"))
    if level != "account" and parent is None and not (level == "flow" and account is not None):
        raise Http404("a parent is required")
    rows = queries.drill_down(visible_errors(request.user), level, parent, account)
    context = {"rows": rows, "level": level, "account": account if level != "integration" else parent}
    return render(request, "overview/partials/drill.html", context)
