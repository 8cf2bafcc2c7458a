"""The error list (flat or grouped by fingerprint), its CSV export, saved views and the error detail."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Max, Prefetch, Q, QuerySet
from django.db.models.functions import Substr
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.decorators.http import require_GET, require_POST

import celigo_api
from dashboard.access import (
    assignable_teams,
    can_act,
    can_manage_teams,
    get_error_for_user,
    scope_key,
    visible_batches,
    visible_errors,
    visible_saved_views,
)
from dashboard.celigo import web_client_for
from dashboard.lib import jsontext
from dashboard.lib.iterables import primed
from dashboard.models import (
    FINISHED_STATES,
    ActionBatch,
    Activity,
    CeligoAccount,
    CeligoState,
    ErrorRecord,
    Integration,
    SavedView,
    Tag,
    Team,
)
from dashboard.queries.counts import capped_count
from dashboard.queries.export import csv_lines, iter_error_rows
from dashboard.queries.filters import ErrorFilter, Period, assignee_choices
from dashboard.queries.groups import GROUP_ORDERINGS, GROUP_PAGE_SIZE, fingerprint_groups
from dashboard.views.actions import describe, retry_data_editor
from dashboard.views.paging import page_number

PAGE_SIZE = 50
# Beyond this many rows a page number is refused: OFFSET walks every skipped row, so narrow the filter.
MAX_OFFSET = 10_000
MESSAGE_PREVIEW = 300
LIST_COLUMNS = (
    "occurred_at", "celigo_flow_id", "celigo_step_id", "error_id", "source", "code", "classification",
    "status", "purged", "regression_of_id", "account__name", "flow__name", "flow__celigo_id", "step__name",
    "step__celigo_id", "assignee__username", "team__name",
)  # fmt: skip
GROUPS_CACHE_SECONDS = 60
# A broad search term matches a large share of the rows; counting them is cut short sooner.
SEARCH_COUNT_CAP = 1_000
# The detail page shows this much of a message; its download, the export and the API carry all of it.
MESSAGE_DISPLAY_LIMIT = 100_000
RAW_DISPLAY_LIMIT = 20_000
MESSAGE_COLLAPSE_AT = 1_500
RELATED_LIMIT = 10

# Parameters that shape the page but do not select errors.
VIEW_PARAMS = {"page", "group", "group_ordering"}

COLUMNS = [
    ("Occurred", "occurred_at"),
    ("Account", "account"),
    ("Flow", "flow"),
    ("Step", "step"),
    ("Source", "source"),
    ("Code", "code"),
    ("Class", "classification"),
    ("Message", "message"),
    ("Status", "status"),
    ("Assignee", "assignee"),
]
GROUP_COLUMNS = [
    ("Errors", "count"),
    ("First seen", "first_seen"),
    ("Last seen", "last_seen"),
    ("Flows", "flows"),
]


def filter_query(request: HttpRequest) -> str:
    """The URL query that selects the errors shown, without paging or display options."""
    pairs = [(k, v) for k, values in request.GET.lists() for v in values if k not in VIEW_PARAMS and v != ""]
    return urlencode(pairs)


class ErrorListView(View):
    """Declares what it lists and how it filters; the rest is paging and rendering."""

    filterset_class = ErrorFilter
    template_name = "errors/list.html"
    partial_template_name = "errors/partials/results.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        filterset = self.filterset_class(request.GET, queryset=visible_errors(request.user), request=request)
        grouped = request.GET.get("group") == "fingerprint"
        context: dict[str, Any] = {
            "filterset": filterset,
            "grouped": grouped,
            "filter_query": filter_query(request),
            "page": page_number(request),
            "columns": COLUMNS,
            "group_columns": GROUP_COLUMNS,
            "current_ordering": request.GET.get("ordering", "-occurred_at"),
            "active_filters": [
                (k, v) for k, values in request.GET.lists() for v in values if k not in VIEW_PARAMS and v
            ],
            "can_act": can_act(request.user),
        }
        if filterset.is_valid():
            queryset = filterset.qs
            if grouped:
                context.update(self.grouped_context(request, queryset, context["page"]))
            else:
                searching = bool(filterset.form.cleaned_data.get("q"))
                context.update(self.rows_context(queryset, context["page"], searching))
                if context["can_act"] and context["rows"]:
                    context["assignable_users"] = assignable_users()
                    context["assignable_teams"] = assignable_teams(request.user).only("pk", "name")
        else:
            context["invalid"] = True
        if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "results":
            return render(request, self.partial_template_name, context)
        context.update(self.form_context(request, filterset))
        return render(request, self.template_name, context)

    def rows_context(self, queryset: QuerySet[ErrorRecord], page: int, searching: bool) -> dict[str, Any]:
        count = capped_count(queryset, SEARCH_COUNT_CAP if searching else None)
        offset = (page - 1) * PAGE_SIZE
        if offset > MAX_OFFSET:
            return {"count": count, "rows": [], "offset_too_deep": True}
        rows = list(
            queryset.select_related("account", "flow", "step", "assignee", "team")
            .prefetch_related(Prefetch("tags", queryset=Tag.objects.only("name")))
            # Only the columns shown: third-party messages can be megabytes (the list needs their first
            # lines), and the related rows carry raw JSON documents.
            .only(*LIST_COLUMNS)
            .annotate(message_head=Substr("message", 1, MESSAGE_PREVIEW))[offset : offset + PAGE_SIZE + 1]
        )
        return {
            "count": count,
            "rows": rows[:PAGE_SIZE],
            "has_next": len(rows) > PAGE_SIZE and offset + PAGE_SIZE <= MAX_OFFSET,
            "has_previous": page > 1,
            "first_index": offset + 1,
        }

    def grouped_context(self, request: HttpRequest, queryset: QuerySet[ErrorRecord], page: int) -> dict:
        ordering = request.GET.get("group_ordering", "-count")
        if ordering not in GROUP_ORDERINGS:
            ordering = "-count"
        # Grouping reads every matching index entry (a third of a second for the open backlog of a million
        # errors), so one grouping serves the same question for a minute; the page says when it was counted.
        # A finished action batch changes what the groups count, so its end starts a fresh grouping.
        last_batch = ActionBatch.objects.aggregate(last=Max("finished_at"))["last"]
        key = (
            "error-groups:"
            + hashlib.sha256(
                f"{scope_key(request.user)}|{request.user.pk}|{filter_query(request)}|{ordering}|{page}|{last_batch}".encode()
            ).hexdigest()
        )
        cached = cache.get(key)
        if cached is None:
            cached = (*fingerprint_groups(queryset, ordering, page), timezone.now())
            cache.set(key, cached, GROUPS_CACHE_SECONDS)
        groups, total, counted_at = cached
        return {
            "counted_at": counted_at,
            "groups": groups,
            "group_count": total,
            "group_ordering": ordering,
            "has_next": page * GROUP_PAGE_SIZE < total,
            "has_previous": page > 1,
        }

    def form_context(self, request: HttpRequest, filterset: ErrorFilter) -> dict[str, Any]:
        user = request.user
        return {
            "accounts": CeligoAccount.objects.only("pk", "name"),
            "integrations": Integration.objects.only("pk", "name", "celigo_id").order_by("name"),
            "teams": Team.objects.only("pk", "name"),
            "tags": Tag.objects.only("pk", "name"),
            "assignees": assignee_choices(),
            "periods": Period.CHOICES,
            # Leads may see everyone's views; the menu offers a person their own and the shared ones.
            "saved_views": visible_saved_views(user)
            .filter(Q(owner_id=user.pk) | Q(shared=True))
            .select_related("owner"),
            "data": filterset.data,
        }


error_list = ErrorListView.as_view()


def assignable_users() -> list[tuple[int, str]]:
    users = get_user_model().objects.filter(is_active=True).order_by("username")
    return list(users.values_list("pk", "username"))


@require_GET
def error_count(request: HttpRequest) -> HttpResponse:
    """The exact number of matching errors, asked for on demand when the page showed a capped one."""
    filterset = ErrorFilter(request.GET, queryset=visible_errors(request.user), request=request)
    if not filterset.is_valid():
        return HttpResponseBadRequest("Invalid filter")
    count = filterset.qs.order_by().count()
    return render(request, "errors/partials/exact_count.html", {"count": count})


@require_GET
def error_export(request: HttpRequest) -> HttpResponseBase:
    filterset = ErrorFilter(request.GET, queryset=visible_errors(request.user), request=request)
    if not filterset.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errs)}" for name, errs in filterset.errors.items())
        return HttpResponseBadRequest(f"Invalid filter: {problems}", content_type="text/plain; charset=utf-8")
    # The query runs before the first byte is sent, so a failure is an error status, not a cut file.
    rows = primed(iter_error_rows(filterset.qs))
    response = StreamingHttpResponse(csv_lines(rows), content_type="text/csv")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="errors-{stamp}.csv"'
    return response


@require_POST
def saved_view_create(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()[:100]
    query = request.POST.get("query_string", "")[:4000]
    list_url = reverse("error-list")
    if not name:
        messages.error(request, "Give the view a name.")
        return redirect(f"{list_url}?{query}")
    SavedView.objects.update_or_create(
        owner_id=request.user.pk,
        name=name,
        defaults={"query_string": query, "shared": "shared" in request.POST},
    )
    messages.success(request, f"Saved the view “{name}”.")
    return redirect(f"{list_url}?{query}")


@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    view = get_object_or_404(visible_saved_views(request.user), pk=pk)
    if view.owner_id != request.user.pk and not can_manage_teams(request.user):
        raise Http404("no such view")  # someone else's view: as if it did not exist
    view.delete()
    messages.success(request, f"Deleted the view “{view.name}”.")
    return HttpResponseRedirect(reverse("error-list"))


# --- Detail -----------------------------------------------------------------------------------------


@require_GET
def error_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if "download" in request.GET:
        return error_download(request, pk)
    user = request.user
    error = get_error_for_user(
        user,
        pk,
        base=ErrorRecord.objects.select_related(
            "account", "integration", "flow", "step", "assignee", "team", "retry_of", "regression_of"
        ).prefetch_related("tags"),
    )
    visible = visible_errors(user)
    message = error.message or ""
    context = {
        "error": error,
        "message": message[:MESSAGE_DISPLAY_LIMIT],
        "message_truncated": len(message) > MESSAGE_DISPLAY_LIMIT,
        "message_collapsed": len(message) > MESSAGE_COLLAPSE_AT,
        **raw_display(error),
        "activities": Activity.objects.filter(error=error).select_related("actor"),
        "same_trace": related_errors(
            visible, error, Q(account_id=error.account_id, trace_key=error.trace_key)
        )
        if error.trace_key
        else [],
        "same_fingerprint": related_errors(visible, error, Q(fingerprint=error.fingerprint))
        if error.fingerprint
        else [],
        "fingerprint_count": capped_count(visible.filter(fingerprint=error.fingerprint))
        if error.fingerprint
        else None,
        **linked_errors(visible, error),
    }
    context.update(actions_context(request, error))
    return render(request, "errors/detail.html", context)


def error_download(request: HttpRequest, pk: int) -> HttpResponse:
    """``?download=message``: the whole message as a UTF-8 file (the page shows a bounded part);
    ``?download=json``: Celigo's whole error object. Every character as Celigo sent it (docs/architecture.md
    "Text Celigo sends"); the same access check as the page."""
    error = get_error_for_user(request.user, pk)
    if request.GET["download"] == "json":
        text = json.dumps(error.raw, indent=2, ensure_ascii=False, sort_keys=True)
        response = HttpResponse(text.encode("utf-8"), content_type="application/json")
        name = f"error-{error.pk}.json"
    else:
        response = HttpResponse(error.message.encode("utf-8"), content_type="text/plain; charset=utf-8")
        name = f"error-{error.pk}-message.txt"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def raw_display(error: ErrorRecord) -> dict[str, Any]:
    raw_json = json.dumps(error.raw, indent=2, ensure_ascii=False, sort_keys=True)
    return {"raw_json": raw_json[:RAW_DISPLAY_LIMIT], "raw_truncated": len(raw_json) > RAW_DISPLAY_LIMIT}


def linked_errors(visible: QuerySet[ErrorRecord], error: ErrorRecord) -> dict[str, list[ErrorRecord]]:
    """Errors that a failed retry of this one produced, and errors that brought it back as a regression."""
    # Only a retried or a resolved error can have either, so an open error never retried costs no query.
    if error.status == CeligoState.OPEN and not error.retry_outcome:
        return {"retry_failures": [], "regressions": []}
    linked = list(
        visible.filter(Q(retry_of=error) | Q(regression_of=error))
        .only("pk", "error_id", "status", "occurred_at", "retry_of_id", "regression_of_id")
        .order_by("occurred_at", "id")[: 2 * RELATED_LIMIT]
    )
    return {
        "retry_failures": [e for e in linked if e.retry_of_id == error.pk][:RELATED_LIMIT],
        "regressions": [e for e in linked if e.regression_of_id == error.pk][:RELATED_LIMIT],
    }


def actions_context(request: HttpRequest, error: ErrorRecord) -> dict[str, Any]:
    """The action forms, and the batches on this error still under way (their progress is polled)."""
    if not can_act(request.user, error):
        return {"can_act": False}
    unfinished = (
        visible_batches(request.user)
        .filter(items__error=error)
        .exclude(state__in=FINISHED_STATES)
        .select_related("actor")
        .order_by("created_at")[:5]
    )
    return {
        "can_act": True,
        "assignable_users": assignable_users(),
        "assignable_teams": assignable_teams(request.user).only("pk", "name"),
        "batches_under_way": [(batch, describe(batch)) for batch in unfinished],
    }


def related_errors(visible: QuerySet[ErrorRecord], error: ErrorRecord, condition: Q) -> list[ErrorRecord]:
    return list(
        visible.filter(condition)
        .exclude(pk=error.pk)
        .select_related("flow", "step")
        .defer("message", "raw")
        .annotate(message_head=Substr("message", 1, 160))
        .order_by("-occurred_at", "-id")[:RELATED_LIMIT]
    )


def celigo_failure(exc: celigo_api.CeligoError, what: str) -> str:
    if isinstance(exc, celigo_api.NotFound):
        return f"Celigo no longer has the {what} of this error (it was purged or never kept)."
    if isinstance(exc, celigo_api.AuthenticationFailed):
        return "Celigo rejected the account's API token; update it on the account page."
    if isinstance(exc, celigo_api.RateLimited):
        return "The account's Celigo rate limit is busy right now; try again in a few seconds."
    if isinstance(exc, (celigo_api.ConnectionFailed, celigo_api.ServerError)):
        return "Celigo did not answer; try again later."
    return f"Celigo refused the request ({exc.status or 'no status'})."


@require_GET
def error_retry_data(request: HttpRequest, pk: int) -> HttpResponse:
    error = get_error_for_user(request.user, pk, base=ErrorRecord.objects.select_related("account"))
    context: dict[str, Any] = {"error": error}
    if not error.retry_data_key:
        context["problem"] = "This error has no retry data key: Celigo cannot retry it."
    else:
        try:
            with web_client_for(error.account) as client:
                retry_data = client.get_retry_data(
                    error.celigo_flow_id, error.celigo_step_id, error.retry_data_key
                )
            context["retry_data"] = retry_data
            context["pretty"] = pretty_json(retry_data.data)
            if can_act(request.user, error):
                context["editor"] = retry_data_editor(error, retry_data.data)
                context["too_large_to_edit"] = context["editor"] is None
        except celigo_api.CeligoError as exc:
            context["problem"] = celigo_failure(exc, "retry data")
    return render(request, "errors/partials/retry_data.html", context)


@require_GET
def error_http_log(request: HttpRequest, pk: int) -> HttpResponse:
    error = get_error_for_user(request.user, pk, base=ErrorRecord.objects.select_related("account"))
    context: dict[str, Any] = {"error": error}
    if not error.req_and_res_key:
        context["problem"] = "Celigo logged no HTTP request for this error."
    else:
        try:
            with web_client_for(error.account) as client:
                exchange = client.get_request_log(
                    error.celigo_flow_id, error.celigo_step_id, error.req_and_res_key
                )
            context["sides"] = [
                (
                    "Request",
                    exchange.request,
                    pretty_json(exchange.request.headers),
                    pretty_body(exchange.request.body),
                ),
                (
                    "Response",
                    exchange.response,
                    pretty_json(exchange.response.headers),
                    pretty_body(exchange.response.body),
                ),
            ]
        except celigo_api.CeligoError as exc:
            context["problem"] = celigo_failure(exc, "HTTP request log")
    return render(request, "errors/partials/http_log.html", context)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)[
        :MESSAGE_DISPLAY_LIMIT
    ]


def pretty_body(body: Any) -> str:
    """Bodies arrive as JSON text, other text, or already-parsed JSON; show JSON indented either way."""
    if body is None:
        return ""
    if isinstance(body, str):
        try:
            return pretty_json(jsontext.loads(body))
        except ValueError:
            return body[:MESSAGE_DISPLAY_LIMIT]
    return pretty_json(body)
