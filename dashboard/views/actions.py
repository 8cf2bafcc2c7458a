"""Acting on errors from the browser: bulk actions on the list, actions on one error, the retry-data editor,
and the action batches (live progress, result, and the per-batch audit record).

Every view here hands the work to the outbox or a ``do_*`` action; the views only read the form, ask for
confirmation where a mistake would be costly, and show the outcome. The access layer decides who may post
(everyone else gets a 403) and which errors and batches each person reaches.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_POST

import celigo_api
from dashboard.access import get_error_for_user, visible_batches, visible_errors
from dashboard.actions.retry_data import do_edit_retry_data, retry_data_diff
from dashboard.lib import jsontext
from dashboard.models import (
    CELIGO_ACTIONS,
    ActionBatch,
    ActionItem,
    ActionKind,
    ErrorRecord,
    ItemOutcome,
    Team,
)
from dashboard.outbox.request import cancel_batch, clean_params, request_action
from dashboard.outbox.selection import ActionRejected, validate_filter
from dashboard.views.guards import act_required
from dashboard.views.paging import optional_id, page_number

# Celigo actions on more errors than this ask "Resolve 37,412 errors in Celigo?" first.
CONFIRM_ABOVE = 10
BATCH_PAGE_SIZE = 50
ITEM_PAGE_SIZE = 50
# The progress summary names this many failures; the batch page pages through all of them.
SUMMARY_FAILURES = 10
RETRY_DATA_EDIT_LIMIT = 200_000
ITEM_COLUMNS = (
    "message", "outcome", "updated_at", "error__error_id", "error__code", "error__status",
    "error__celigo_flow_id", "error__flow__name",
)  # fmt: skip
# What the page does when a polled batch finishes: reload the list's rows, or reload the whole page.
AFTER_FINISH = {"results", "refresh"}


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def action_params(kind: str, post: QueryDict) -> dict[str, Any]:
    if kind == ActionKind.ASSIGN:
        return {"assignee": post.get("assignee", "")}
    if kind == ActionKind.SET_TEAM:
        return {"team": post.get("team", "")}
    if kind in (ActionKind.TAG, ActionKind.UNTAG):
        return {"tags": post.get("tags", "")}
    if kind == ActionKind.COMMENT:
        return {"text": post.get("text", "")}
    return {}


# --- Bulk actions on the error list ------------------------------------------------------------------


def bulk_selection(post: QueryDict) -> dict[str, Any]:
    """Either every error the list's filter matches, or the checked rows."""
    if post.get("select_all") == "1":
        return {"filter_query": post.get("filter", "")}
    ids = [pk for pk in map(optional_id, post.getlist("ids")) if pk is not None]
    if not ids:
        raise ActionRejected("selection: select at least one error")
    return {"error_ids": ids}


def selection_count(user: Any, selection: dict[str, Any]) -> int:
    if "filter_query" in selection:
        return validate_filter(selection["filter_query"], user).order_by().count()
    return visible_errors(user).filter(pk__in=selection["error_ids"]).count()


@require_POST
@act_required
def bulk_action(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("action", "")
    list_url = reverse("error-list") + "?" + request.POST.get("filter", "")
    try:
        params = clean_params(kind, action_params(kind, request.POST))
        selection = bulk_selection(request.POST)
        if kind in CELIGO_ACTIONS and request.POST.get("confirmed") != "1":
            count = selection_count(request.user, selection)
            if count > CONFIRM_ABOVE:
                return confirm_bulk_action(request, kind, count)
        batch = request_action(request.user, kind, params=params, **selection)
    except ActionRejected as exc:
        return rejected(request, exc, list_url)
    if not is_htmx(request):
        return redirect("batch-detail", batch.pk)
    return progress_response(request, batch, after_finish="results")


def confirm_bulk_action(request: HttpRequest, kind: str, count: int) -> HttpResponse:
    context = {
        "kind": ActionKind(kind),
        "count": count,
        # Posted again as they came, plus the confirmation.
        "fields": [
            (k, v) for k, values in request.POST.lists() for v in values if k != "csrfmiddlewaretoken"
        ],
        "list_url": reverse("error-list") + "?" + request.POST.get("filter", ""),
    }
    template = "actions/partials/confirm.html" if is_htmx(request) else "actions/confirm.html"
    return render(request, template, context)


def rejected(request: HttpRequest, exc: ActionRejected, back: str) -> HttpResponse:
    """The request was refused: say why where the person is, never a 500."""
    if is_htmx(request):
        # htmx 2 swaps only 2xx answers; the alert replaces the progress area.
        return render(request, "actions/partials/rejected.html", {"problem": str(exc)})
    messages.error(request, str(exc))
    return redirect(back)


# --- Actions on one error ----------------------------------------------------------------------------


@require_POST
@act_required
def error_action(request: HttpRequest, pk: int) -> HttpResponse:
    error = get_error_for_user(
        request.user, pk, write=True, base=ErrorRecord.objects.only("pk", "retry_data_key")
    )
    kind = request.POST.get("action", "")
    try:
        if kind == ActionKind.RETRY and not error.retry_data_key:
            raise ActionRejected("retry: this error has no retry data key, so Celigo cannot retry it")
        batch = request_action(
            request.user, kind, error_ids=[error.pk], params=action_params(kind, request.POST)
        )
    except ActionRejected as exc:
        messages.error(request, str(exc))
        return redirect("error-detail", pk)
    if batch.finished:
        messages.success(request, f"{describe(batch)}: done.")
    else:
        link = format_html('<a href="{}">follow it</a>', reverse("batch-detail", args=[batch.pk]))
        messages.info(request, format_html("{} sent to Celigo; {}.", describe(batch), link))
    return redirect("error-detail", pk)


# --- The retry-data editor ---------------------------------------------------------------------------


def parse_json(text: str, what: str) -> Any:
    try:
        value = jsontext.loads(text)
    except ValueError as exc:
        raise ActionRejected(f"{what}: not valid JSON ({exc})") from None
    problem = jsontext.storable_problem(value)
    if problem:
        raise ActionRejected(f"{what}: contains {problem}, which cannot be stored or sent")
    return value


def editor_context(error: ErrorRecord, text: str, before: str, problem: str = "") -> dict[str, Any]:
    return {"error": error, "text": text, "before": before, "problem": problem}


def retry_data_editor(error: ErrorRecord, data: Any) -> dict[str, Any] | None:
    """The editor's starting state, or None when the document is too large to edit in a browser."""
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True)
    if len(text) > RETRY_DATA_EDIT_LIMIT:
        return None
    return editor_context(error, text, json.dumps(data, ensure_ascii=False, sort_keys=True))


@require_POST
@act_required
def retry_data_review(request: HttpRequest, pk: int) -> HttpResponse:
    """The diff of the person's edit against the data they loaded, before anything is written."""
    error = get_error_for_user(request.user, pk, write=True)
    context: dict[str, Any] = {"error": error}
    try:
        after = parse_json(request.POST.get("data", ""), "retry data")
        before = parse_json(request.POST.get("before", ""), "before")
        context["diff"] = retry_data_diff(before, after)
        if not context["diff"]:
            raise ActionRejected("retry data: nothing changed")
    except ActionRejected as exc:
        context["problem"] = str(exc)
    return render(request, "errors/partials/retry_data_review.html", context)


@require_POST
@act_required
def retry_data_save(request: HttpRequest, pk: int) -> HttpResponse:
    error = get_error_for_user(
        request.user, pk, write=True, base=ErrorRecord.objects.select_related("account")
    )
    text, before_text = request.POST.get("data", ""), request.POST.get("before", "")
    then_retry = request.POST.get("then_retry") == "1"
    try:
        after = parse_json(text, "retry data")
        before = parse_json(before_text, "before")
        _diff, batch = do_edit_retry_data(
            request.user, error, after, expected_before=before, then_retry=then_retry
        )
    except ActionRejected as exc:
        problem = str(exc)
    except celigo_api.CeligoError as exc:
        problem = celigo_write_failure(exc)
    else:
        done = "Saved the retry data in Celigo"
        messages.success(request, f"{done} and queued a retry." if batch else f"{done}.")
        url = reverse("error-detail", args=[pk])
        if is_htmx(request):
            return HttpResponse(headers={"HX-Redirect": url})
        return redirect(url)
    # Nothing was written: give the person their edit back with the reason.
    return render(
        request, "errors/partials/retry_data_editor.html", editor_context(error, text, before_text, problem)
    )


def celigo_write_failure(exc: celigo_api.CeligoError) -> str:
    if isinstance(exc, celigo_api.NotFound):
        return "Celigo no longer has this retry data (the error was purged or retried meanwhile)."
    if isinstance(exc, celigo_api.AuthenticationFailed):
        return "Celigo rejected the account's API token; update it on the account page."
    if isinstance(exc, celigo_api.RateLimited):
        return "The account's Celigo rate limit is busy right now; try saving again in a few seconds."
    if isinstance(exc, (celigo_api.ConnectionFailed, celigo_api.ServerError)):
        return "Celigo did not answer, so the retry data may not be saved; reload it before saving again."
    return f"Celigo refused the new retry data ({exc.status or 'no status'}): {str(exc)[:300]}"


# --- Batches -----------------------------------------------------------------------------------------


def describe(
    batch: ActionBatch, usernames: dict[int, str] | None = None, teams: dict[int, str] | None = None
) -> str:
    """What the batch does, in words: "Assign to alice", "Add tags urgent, later", "Resolve"."""
    params = batch.params or {}
    if batch.kind == ActionKind.ASSIGN:
        assignee = params.get("assignee")
        if not assignee:
            return "Unassign"
        if usernames is None:
            usernames = assignee_names([batch])
        return f"Assign to {usernames.get(assignee, f'user #{assignee}')}"
    if batch.kind == ActionKind.SET_TEAM:
        team = params.get("team")
        if not team:
            return "Clear team"
        if teams is None:
            teams = team_names([batch])
        return f"Set team to {teams.get(team, f'team #{team}')}"
    if batch.kind in (ActionKind.TAG, ActionKind.UNTAG):
        return f"{batch.get_kind_display()} {', '.join(params.get('tags', []))}"
    if batch.kind == ActionKind.COMMENT:
        text = params.get("text", "")
        return f"Comment “{text[:60]}{'…' if len(text) > 60 else ''}”"
    return batch.get_kind_display()


def assignee_names(batches: list[ActionBatch]) -> dict[int, str]:
    ids = {b.params.get("assignee") for b in batches if b.kind == ActionKind.ASSIGN and b.params}
    ids.discard(None)
    if not ids:
        return {}
    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))


def team_names(batches: list[ActionBatch]) -> dict[int, str]:
    ids = {b.params.get("team") for b in batches if b.kind == ActionKind.SET_TEAM and b.params}
    ids.discard(None)
    if not ids:
        return {}
    return dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))


@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    page = page_number(request)
    batches: QuerySet[ActionBatch] = (
        visible_batches(request.user).select_related("actor").defer("lease_owner", "lease_expires_at")
    )
    mine = request.GET.get("mine") == "1"
    if mine:
        batches = batches.filter(actor_id=request.user.pk)
    offset = (page - 1) * BATCH_PAGE_SIZE
    rows = list(batches.order_by("-created_at", "-id")[offset : offset + BATCH_PAGE_SIZE + 1])
    names, teams = assignee_names(rows), team_names(rows)
    for batch in rows:
        batch.summary = describe(batch, names, teams)  # type: ignore[attr-defined]
    return render(
        request,
        "actions/list.html",
        {
            "batches": rows[:BATCH_PAGE_SIZE],
            "page": page,
            "has_next": len(rows) > BATCH_PAGE_SIZE,
            "has_previous": page > 1,
            "mine": mine,
            "page_query": "mine=1&" if mine else "",
        },
    )


def batch_context(batch: ActionBatch) -> dict[str, Any]:
    context: dict[str, Any] = {"batch": batch, "summary": describe(batch)}
    if batch.finished and batch.failed:
        context["failures"] = list(
            ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.FAILED)
            .select_related("error")
            .only("message", "error__error_id", "error__code", "error__celigo_flow_id")
            .order_by("pk")[:SUMMARY_FAILURES]
        )
    return context


@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(visible_batches(request.user).select_related("actor"), pk=pk)
    outcome = request.GET.get("outcome", "")
    if outcome not in ItemOutcome.values:
        outcome = default_outcome(batch)
    page = page_number(request)
    offset = (page - 1) * ITEM_PAGE_SIZE
    items = list(
        ActionItem.objects.filter(batch=batch, outcome=outcome)
        .select_related("error", "error__flow")
        .only(*ITEM_COLUMNS)
        .order_by("pk")[offset : offset + ITEM_PAGE_SIZE + 1]
    )
    context = batch_context(batch)
    context.update(
        {
            "outcome": outcome,
            "outcomes": outcome_tabs(batch),
            "items": items[:ITEM_PAGE_SIZE],
            "page": page,
            "has_next": len(items) > ITEM_PAGE_SIZE,
            "has_previous": page > 1,
            "first_index": offset + 1,
            "errors_url": reverse("error-list") + "?" + batch.filter_query if batch.filter_query else "",
            "after_finish": "refresh",
        }
    )
    return render(request, "actions/detail.html", context)


def default_outcome(batch: ActionBatch) -> str:
    if not batch.finished:
        return ItemOutcome.PENDING
    return ItemOutcome.FAILED if batch.failed else ItemOutcome.SUCCEEDED


def outcome_tabs(batch: ActionBatch) -> list[tuple[str, str, int]]:
    # One pass over the (batch, outcome) index, whatever the batch's size.
    counts = dict(
        ActionItem.objects.filter(batch=batch)
        .values("outcome")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("outcome", "n")
    )
    return [(value, label, counts.get(value, 0)) for value, label in ItemOutcome.choices]


def progress_response(request: HttpRequest, batch: ActionBatch, after_finish: str = "") -> HttpResponse:
    context = batch_context(batch)
    context["after_finish"] = after_finish
    response = render(request, "actions/partials/progress.html", context)
    if batch.finished and after_finish == "results":
        response["HX-Trigger"] = "batch-finished"
    elif batch.finished and after_finish == "refresh":
        response["HX-Refresh"] = "true"
    return response


@require_GET
def batch_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The polled fragment; when the batch has just finished, the page around it catches up."""
    batch = get_object_or_404(visible_batches(request.user).select_related("actor"), pk=pk)
    after_finish = request.GET.get("then", "")
    if after_finish not in AFTER_FINISH:
        after_finish = ""
    return progress_response(request, batch, after_finish)


@require_POST
@act_required
def batch_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(visible_batches(request.user), pk=pk)
    if not batch.finished:
        cancel_batch(batch)
        batch.refresh_from_db()
    if is_htmx(request):
        after_finish = request.POST.get("then", "")
        return progress_response(request, batch, after_finish if after_finish in AFTER_FINISH else "")
    messages.info(request, "Cancel requested: errors not sent yet are skipped.")
    return redirect("batch-detail", pk)
