"""Acting on errors from the browser: bulk actions, actions on one error, the retry-data editor, batch pages.

Three personas: a triager (may act), a viewer (reads only: no buttons, 403 on every action) and a stranger
(not logged in). Resolve and retry batches stay pending here (their Celery task runs after the commit these
tests never make); the backend tests in test_actions.py apply them against the simulator.
"""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard.models import (
    ActionBatch,
    ActionItem,
    ActionKind,
    Activity,
    ActivityKind,
    BatchState,
    CeligoAccount,
    CeligoState,
    ErrorRecord,
    ItemOutcome,
    RetryOutcome,
)
from dashboard.sync.run import sync_account
from tests.dashboard.factories import ErrorRecordFactory, TagFactory, UserFactory

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db

BULK = "/errors/actions/"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def triager(client, triager):
    """The ``triager`` persona (tests/dashboard/conftest.py), logged in."""
    client.force_login(triager)
    return triager


@pytest.fixture
def viewer(client, viewer):
    """The ``viewer`` persona, logged in: may read, may not act."""
    client.force_login(viewer)
    return viewer


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def batch_made() -> ActionBatch:
    return ActionBatch.objects.get()


# --- Bulk actions on the list ------------------------------------------------------------------------


def test_it_queues_a_resolve_of_the_checked_rows_and_shows_its_progress(client, triager):
    first, second, _other = ErrorRecordFactory.create_batch(3)
    response = client.post(BULK, {"action": "resolve", "ids": [first.pk, second.pk]})
    batch = batch_made()
    assert response.status_code == 302
    assert response.url == reverse("batch-detail", args=[batch.pk])
    assert (batch.kind, batch.actor, batch.state, batch.total) == (
        ActionKind.RESOLVE,
        triager,
        BatchState.PENDING,
        2,
    )
    assert set(ActionItem.objects.filter(batch=batch).values_list("error_id", flat=True)) == {
        first.pk,
        second.pk,
    }


def test_it_swaps_in_a_polled_progress_bar_for_htmx(client, triager):
    error = ErrorRecordFactory()
    response = client.post(BULK, {"action": "retry", "ids": [error.pk]}, **HTMX)
    content = response.content.decode()
    batch = batch_made()
    assert response.status_code == 200
    assert f'hx-get="/actions/{batch.pk}/progress/?then=results"' in content
    assert 'hx-trigger="every 1500ms" data-poll-hidden="10000"' in content
    assert 'role="progressbar"' in content
    assert "HX-Trigger" not in response


def test_it_asks_before_resolving_many_errors_in_celigo(client, triager):
    ErrorRecordFactory.create_batch(12, code="E42")
    ErrorRecordFactory(code="OTHER")
    form = {"action": "resolve", "select_all": "1", "filter": "status=open&code=E42"}

    response = client.post(BULK, form, **HTMX)
    content = response.content.decode()
    assert "Resolve 12 errors in Celigo?" in content
    assert 'name="confirmed" value="1"' in content
    assert 'name="filter" value="status=open&amp;code=E42"' in content
    assert not ActionBatch.objects.exists()

    response = client.post(BULK, {**form, "confirmed": "1"}, **HTMX)
    batch = batch_made()
    assert (batch.kind, batch.filter_query, batch.selected) == (
        ActionKind.RESOLVE,
        "status=open&code=E42",
        False,
    )
    assert "every error matching the filter" in response.content.decode()
    assert "A worker turns the filter into errors when it starts the batch." in response.content.decode()


def test_it_asks_without_htmx_too(client, triager):
    ErrorRecordFactory.create_batch(11)
    response = client.post(BULK, {"action": "retry", "select_all": "1", "filter": ""})
    assert response.status_code == 200
    assert "Retry 11 errors in Celigo?" in response.content.decode()
    assert not ActionBatch.objects.exists()


def test_it_acts_on_every_matching_error_whatever_their_number(client, triager):
    """No 1000 cap: the batch stores the filter and turns it into errors when it starts."""
    ErrorRecordFactory.create_batch(3, code="E1")
    client.post(BULK, {"action": "resolve", "select_all": "1", "filter": "code=E1", "confirmed": "1"})
    batch = batch_made()
    assert batch.filter_query == "code=E1"
    assert not ActionItem.objects.filter(batch=batch).exists()


def test_it_assigns_tags_and_comments_the_checked_rows_at_once(client, triager):
    errors = ErrorRecordFactory.create_batch(2)
    lead = UserFactory(username="lead")
    ids = [e.pk for e in errors]

    response = client.post(BULK, {"action": "assign", "assignee": lead.pk, "ids": ids}, **HTMX)
    assert response["HX-Trigger"] == "batch-finished"  # the rows are fetched again
    assert "Assign to lead" in response.content.decode()
    client.post(BULK, {"action": "tag", "tags": "urgent, waiting on  warehouse", "ids": ids}, **HTMX)
    client.post(BULK, {"action": "untag", "tags": "urgent", "ids": ids[:1]}, **HTMX)
    client.post(BULK, {"action": "comment", "text": "Called the warehouse", "ids": ids}, **HTMX)

    first, second = (ErrorRecord.objects.get(pk=pk) for pk in ids)
    assert first.assignee == second.assignee == lead
    assert list(first.tags.values_list("name", flat=True)) == ["waiting on warehouse"]
    assert sorted(second.tags.values_list("name", flat=True)) == ["urgent", "waiting on warehouse"]
    assert Activity.objects.filter(kind=ActivityKind.COMMENT, data__text="Called the warehouse").count() == 2
    assert set(ActionBatch.objects.values_list("state", flat=True)) == {BatchState.DONE}

    client.post(BULK, {"action": "assign", "assignee": "none", "ids": ids}, **HTMX)
    assert not ErrorRecord.objects.filter(assignee__isnull=False).exists()


REJECTIONS = [
    ({"action": "explode"}, "action: unknown action"),
    ({"action": "tag", "tags": " , "}, "tags: give at least one tag name"),
    ({"action": "comment", "text": "   "}, "text: a comment needs some text"),
    ({"action": "assign", "assignee": "99999"}, "assignee: no active user"),
]


@pytest.mark.parametrize(("form", "message"), REJECTIONS)
def test_it_explains_invalid_input_instead_of_failing(client, triager, form, message):
    error = ErrorRecordFactory()
    response = client.post(BULK, {**form, "ids": [error.pk]}, **HTMX)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'data-testid="action-rejected"' in response.content.decode()
    assert not ActionBatch.objects.exists()


def test_it_explains_an_empty_selection_and_a_bad_filter(client, triager):
    response = client.post(BULK, {"action": "resolve", "ids": ["x"]}, **HTMX)
    assert "selection: select at least one error" in response.content.decode()
    response = client.post(
        BULK, {"action": "resolve", "select_all": "1", "filter": "occurred_after=soon"}, follow=True
    )
    assert response.status_code == 200
    assert any(m.startswith("filter: occurred_after") for m in messages_of(response))
    assert not ActionBatch.objects.exists()


def test_the_list_offers_bulk_actions_to_a_triager(client, triager):
    ErrorRecordFactory()
    content = client.get("/errors/").content.decode()
    for testid in ("bulk-resolve", "bulk-retry", "bulk-assign", "bulk-tag", "bulk-untag", "bulk-comment"):
        assert f'data-testid="{testid}"' in content
    assert 'hx-post="/errors/actions/"' in content
    assert 'hx-trigger="batch-finished from:body"' in content
    assert '<option value="none">Nobody (unassign)</option>' in content


# --- Roles -------------------------------------------------------------------------------------------


def test_a_viewer_sees_no_action_buttons(client, viewer):
    error = ErrorRecordFactory(retry_data_key="")
    listing = client.get("/errors/").content.decode()
    assert 'data-testid="bulk-resolve"' not in listing
    assert 'data-testid="read-only-note"' in listing
    page = client.get(reverse("error-detail", args=[error.pk])).content.decode()
    assert 'data-testid="action-resolve"' not in page
    assert 'data-testid="read-only-note"' in page
    assert "js/error-detail" not in page


def test_a_viewer_cannot_act_at_all(client, viewer):
    error = ErrorRecordFactory()
    batch = ActionBatch.objects.create(kind=ActionKind.RESOLVE, total=1, selected=True)
    posts = [
        (BULK, {"action": "resolve", "ids": [error.pk]}),
        (BULK, {"action": "comment", "text": "hi", "ids": [error.pk]}),
        (reverse("error-action", args=[error.pk]), {"action": "assign", "assignee": viewer.pk}),
        (reverse("error-retry-data-review", args=[error.pk]), {"data": "{}", "before": "{}"}),
        (reverse("error-retry-data-save", args=[error.pk]), {"data": "{}", "before": "{}"}),
        (reverse("batch-cancel", args=[batch.pk]), {}),
    ]
    for url, form in posts:
        assert client.post(url, form).status_code == 403, url
    assert "needs the triager role" in client.post(BULK, posts[0][1]).content.decode()
    assert ActionBatch.objects.count() == 1
    assert not ActionBatch.objects.get().cancel_requested
    assert ErrorRecord.objects.get().assignee is None
    # A colleague's batch is theirs (and their leads'): to a viewer it does not exist.
    assert client.get(reverse("batch-list")).status_code == 200
    assert client.get(reverse("batch-detail", args=[batch.pk])).status_code == 404


def test_a_superuser_may_act(client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    error = ErrorRecordFactory()
    response = client.post(BULK, {"action": "comment", "text": "ok", "ids": [error.pk]})
    assert response.status_code == 302


def test_a_stranger_is_sent_to_log_in(client):
    error = ErrorRecordFactory()
    response = client.post(BULK, {"action": "resolve", "ids": [error.pk]})
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert client.get(reverse("batch-list")).status_code == 302
    assert not ActionBatch.objects.exists()


def test_every_action_needs_the_csrf_token(triager):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(triager)
    error = ErrorRecordFactory()
    assert browser.post(BULK, {"action": "resolve", "ids": [error.pk]}).status_code == 403
    assert browser.post(reverse("error-action", args=[error.pk]), {"action": "resolve"}).status_code == 403
    assert not ActionBatch.objects.exists()


# --- Actions on one error ----------------------------------------------------------------------------


def detail(client, error):
    return client.get(reverse("error-detail", args=[error.pk]))


def act(client, error, **form):
    return client.post(reverse("error-action", args=[error.pk]), form, follow=True)


def test_it_resolves_one_error_and_follows_the_batch_on_its_page(client, triager):
    error = ErrorRecordFactory()
    response = act(client, error, action="resolve")
    batch = batch_made()
    assert response.redirect_chain[-1][0] == reverse("error-detail", args=[error.pk])
    assert any("Resolve sent to Celigo" in m for m in messages_of(response))
    content = response.content.decode()
    assert f'hx-get="/actions/{batch.pk}/progress/?then=refresh"' in content
    assert f'href="/actions/{batch.pk}/"' in content


def test_retry_is_disabled_with_a_reason_without_a_retry_data_key(client, triager):
    error = ErrorRecordFactory(retry_data_key="")
    content = detail(client, error).content.decode()
    assert 'data-testid="action-retry" disabled' in content
    assert "No retry data key: Celigo cannot retry this error." in content
    response = act(client, error, action="retry")
    assert any(m.startswith("retry: this error has no retry data key") for m in messages_of(response))
    assert not ActionBatch.objects.exists()


def test_it_assigns_tags_and_comments_one_error(client, triager):
    error = ErrorRecordFactory()
    lead = UserFactory(username="lead")
    TagFactory(name="later")

    act(client, error, action="assign", assignee=lead.pk)
    act(client, error, action="tag", tags="urgent, later")
    act(client, error, action="untag", tags="later")
    response = act(client, error, action="comment", text="<b>Called</b> the warehouse")

    error.refresh_from_db()
    assert error.assignee == lead
    assert list(error.tags.values_list("name", flat=True)) == ["urgent"]
    content = response.content.decode()
    assert "&lt;b&gt;Called&lt;/b&gt; the warehouse" in content  # in the timeline, escaped
    assert "<b>Called</b>" not in content
    assert any("Comment" in m and "done" in m for m in messages_of(response))
    assert f'<option value="{lead.pk}" selected>lead</option>' in content

    act(client, error, action="assign", assignee="none")
    error.refresh_from_db()
    assert error.assignee is None


def test_it_explains_a_refused_action_on_one_error(client, triager):
    error = ErrorRecordFactory()
    response = act(client, error, action="comment", text="")
    assert "text: a comment needs some text" in messages_of(response)
    assert response.status_code == 200


def test_it_links_failed_retries_and_regressions(client, triager):
    retried = ErrorRecordFactory(retry_outcome=RetryOutcome.FAILED, status=CeligoState.RESOLVED)
    again = ErrorRecordFactory(retry_of=retried, trace_key=retried.trace_key)
    came_back = ErrorRecordFactory(regression_of=retried)

    content = detail(client, retried).content.decode()
    assert "retry failed again" in content
    assert f'href="/errors/{again.pk}/" data-testid="retry-failure-link"' in content
    assert f'href="/errors/{came_back.pk}/" data-testid="regression-link"' in content
    content = detail(client, again).content.decode()
    assert f'href="/errors/{retried.pk}/" data-testid="retry-of-link"' in content
    content = detail(client, came_back).content.decode()
    assert f'href="/errors/{retried.pk}/" data-testid="regression-of-link"' in content
    pending = ErrorRecordFactory(retry_outcome=RetryOutcome.PENDING)
    assert "retry pending" in detail(client, pending).content.decode()


def test_the_timeline_shows_retry_data_edits_with_their_diff_escaped(client, triager):
    error = ErrorRecordFactory()
    Activity.objects.create(
        error_id=error.pk,
        kind=ActivityKind.RETRY_DATA_EDITED,
        actor=triager,
        message="Retry data edited",
        data={
            "before": {},
            "after": {},
            "diff": '--- before\n+++ after\n-  "a": 1\n+  "a": "<script>x</script>"\n',
        },
    )
    content = detail(client, error).content.decode()
    assert (
        '<span class="diff-add">+  &quot;a&quot;: &quot;&lt;script&gt;x&lt;/script&gt;&quot;</span>'
        in content
    )
    assert "<script>x" not in content


def test_the_detail_page_keeps_its_queries_bounded_for_a_triager(
    client, triager, django_assert_max_num_queries
):
    error = ErrorRecordFactory(trace_key="SO-1", retry_outcome=RetryOutcome.FAILED)
    for _ in range(5):
        Activity.objects.create(
            error_id=error.pk, kind=ActivityKind.COMMENT, actor_id=UserFactory().pk, data={"text": "x"}
        )
        ErrorRecordFactory(retry_of=error)
    with django_assert_max_num_queries(16):
        assert detail(client, error).status_code == 200


# --- The retry-data editor (the simulator plays Celigo) ----------------------------------------------


@pytest.fixture
def retriable(celigo_simulator):
    account = CeligoAccount(name="Simulated", base_url=celigo_simulator.base_url, region="")
    account.token = celigo_simulator.token
    account.save()
    sync_account(account, full=True)
    return (
        ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)
        .exclude(retry_data_key="")
        .first()
    )


def editor(client, error) -> tuple[str, str]:
    """The editor's text and its hidden copy of the data as loaded."""
    response = client.get(reverse("error-retry-data", args=[error.pk]))
    state = response.context["editor"]
    assert state is not None
    assert 'data-testid="retry-data-text"' in response.content.decode()
    return state["text"], state["before"]


def edited(text: str) -> str:
    data = json.loads(text)
    changed = {**data, "quantity": 3} if isinstance(data, dict) else {"value": data, "quantity": 3}
    return json.dumps(changed)


def test_it_reviews_an_edit_as_a_diff_before_saving(client, triager, retriable):
    text, before = editor(client, retriable)
    review = client.post(
        reverse("error-retry-data-review", args=[retriable.pk]), {"data": edited(text), "before": before}
    )
    content = review.content.decode()
    assert '<span class="diff-add">+  &quot;quantity&quot;: 3' in content
    assert 'data-testid="retry-data-save-retry"' in content
    assert not Activity.objects.filter(kind=ActivityKind.RETRY_DATA_EDITED).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [("{not json", "retry data: not valid JSON"), (None, "retry data: nothing changed")],
)
def test_it_explains_an_edit_it_cannot_review(client, triager, retriable, data, message):
    text, before = editor(client, retriable)
    review = client.post(
        reverse("error-retry-data-review", args=[retriable.pk]), {"data": data or text, "before": before}
    )
    assert message in review.content.decode()


def test_it_saves_and_retries_an_edit_with_the_diff_in_the_timeline(client, triager, retriable):
    text, before = editor(client, retriable)
    response = client.post(
        reverse("error-retry-data-save", args=[retriable.pk]),
        {"data": edited(text), "before": before, "then_retry": "1"},
        **HTMX,
    )
    assert response["HX-Redirect"] == reverse("error-detail", args=[retriable.pk])
    activity = Activity.objects.get(error=retriable, kind=ActivityKind.RETRY_DATA_EDITED, actor=triager)
    assert activity.data["after"]["quantity"] == 3
    batch = batch_made()
    assert (batch.kind, batch.total) == (ActionKind.RETRY, 1)
    page = detail(client, retriable).content.decode()
    assert "Saved the retry data in Celigo and queued a retry." in page
    assert '<span class="diff-add">+  &quot;quantity&quot;: 3' in page
    assert json.loads(editor(client, retriable)[0])["quantity"] == 3  # Celigo has it


def test_it_keeps_the_edit_when_celigo_changed_meanwhile(client, triager, retriable):
    text, _before = editor(client, retriable)
    mine = edited(text)
    response = client.post(
        reverse("error-retry-data-save", args=[retriable.pk]),
        {"data": mine, "before": json.dumps({"not": "what Celigo has"})},
        **HTMX,
    )
    content = response.content.decode()
    assert "changed in Celigo since you opened it" in content
    assert response.context["text"] == mine
    assert "&quot;quantity&quot;: 3" in content  # still in the textarea
    assert not Activity.objects.filter(kind=ActivityKind.RETRY_DATA_EDITED).exists()


def test_it_keeps_the_edit_when_celigo_no_longer_has_the_retry_data(client, triager, retriable):
    text, before = editor(client, retriable)
    ErrorRecord.objects.filter(pk=retriable.pk).update(retry_data_key="purged-long-ago")
    response = client.post(
        reverse("error-retry-data-save", args=[retriable.pk]),
        {"data": edited(text), "before": before},
        **HTMX,
    )
    assert "Celigo no longer has this retry data" in response.content.decode()
    assert response.context["text"] == edited(text)


def test_it_refuses_invalid_json_on_save_and_keeps_it(client, triager, retriable):
    _text, before = editor(client, retriable)
    response = client.post(
        reverse("error-retry-data-save", args=[retriable.pk]), {"data": '{"a": ', "before": before}, **HTMX
    )
    assert "retry data: not valid JSON" in response.content.decode()
    assert "{&quot;a&quot;: </textarea>" in response.content.decode()


def test_it_leaves_huge_retry_data_read_only(client, triager, retriable, monkeypatch):
    monkeypatch.setattr("dashboard.views.actions.RETRY_DATA_EDIT_LIMIT", 10)
    response = client.get(reverse("error-retry-data", args=[retriable.pk]))
    assert response.context["editor"] is None
    assert "Too large to edit in the browser" in response.content.decode()


def test_a_viewer_gets_the_retry_data_read_only(client, viewer, retriable):
    response = client.get(reverse("error-retry-data", args=[retriable.pk]))
    assert response.context.get("editor") is None
    assert "retry-data-text" not in response.content.decode()


# --- Batches -----------------------------------------------------------------------------------------


def finished_batch(actor, *, failed: int = 0, **fields) -> ActionBatch:
    errors = ErrorRecordFactory.create_batch(2 + failed)
    batch = ActionBatch.objects.create(
        kind=ActionKind.RESOLVE,
        actor=actor,
        selected=True,
        total=len(errors),
        succeeded=2,
        failed=failed,
        state=BatchState.PARTIAL if failed else BatchState.DONE,
        finished_at=timezone.now(),
        **fields,
    )
    for n, error in enumerate(errors):
        outcome = ItemOutcome.FAILED if n >= 2 else ItemOutcome.SUCCEEDED
        message = f"<i>Celigo</i> refused #{n}" if outcome == ItemOutcome.FAILED else ""
        ActionItem.objects.create(batch=batch, error=error, outcome=outcome, message=message)
    return batch


def progress(client, batch, then=""):
    return client.get(reverse("batch-progress", args=[batch.pk]), {"then": then} if then else {})


def test_the_progress_partial_polls_while_a_batch_runs(client, triager):
    batch = ActionBatch.objects.create(
        kind=ActionKind.RESOLVE, actor=triager, selected=True, total=200, succeeded=50, skipped=10,
        state=BatchState.RUNNING,
    )  # fmt: skip
    content = progress(client, batch).content.decode()
    assert f'hx-get="/actions/{batch.pk}/progress/"' in content
    assert 'aria-valuenow="30"' in content
    assert "60 of 200 processed" in content
    assert 'data-testid="batch-cancel"' in content


def test_the_progress_partial_says_why_a_batch_waits(client, triager):
    batch = ActionBatch.objects.create(
        kind=ActionKind.RETRY, actor=triager, selected=True, total=5, state=BatchState.WAITING,
        message="Celigo is unavailable (502 <Bad Gateway>); resuming when it answers",
    )  # fmt: skip
    content = progress(client, batch).content.decode()
    assert "Waiting for Celigo" in content
    assert "502 &lt;Bad Gateway&gt;" in content
    assert "hx-trigger=" in content


def test_the_progress_partial_stops_polling_and_lists_failures_when_finished(client, triager):
    batch = finished_batch(triager, failed=2, mirror_failures=3, mirror_message="no such tag in Celigo: x")
    response = progress(client, batch, then="results")
    content = response.content.decode()
    assert "hx-get" not in content
    assert "hx-trigger" not in content
    assert response["HX-Trigger"] == "batch-finished"
    assert "Partially failed" in content
    assert "&lt;i&gt;Celigo&lt;/i&gt; refused #2" in content
    assert "Not copied to Celigo for 3 errors" in content
    assert 'data-testid="batch-cancel"' not in content
    assert progress(client, batch, then="refresh")["HX-Refresh"] == "true"
    assert "HX-Trigger" not in progress(client, batch)


def test_it_cancels_a_pending_batch(client, triager):
    errors = ErrorRecordFactory.create_batch(3)
    client.post(BULK, {"action": "resolve", "ids": [e.pk for e in errors]})
    batch = batch_made()
    response = client.post(reverse("batch-cancel", args=[batch.pk]), {"then": "results"}, **HTMX)
    batch.refresh_from_db()
    assert batch.state == BatchState.CANCELLED
    assert batch.skipped == 3
    assert "Cancelled" in response.content.decode()
    assert set(ErrorRecord.objects.values_list("status", flat=True)) == {CeligoState.OPEN}


def test_the_batch_list_says_who_did_what_when(client, triager, lead):
    client.force_login(lead)  # a lead sees everyone's batches
    ActionBatch.objects.create(kind=ActionKind.ASSIGN, actor=triager, params={"assignee": lead.pk}, total=4)
    ActionBatch.objects.create(
        kind=ActionKind.TAG, actor_id=lead.pk, params={"tags": ["urgent"]}, filter_query="code=E1"
    )
    finished_batch(triager, failed=1)
    content = client.get(reverse("batch-list")).content.decode()
    assert "Assign to lead" in content
    assert "Add tags urgent" in content
    assert 'href="/errors/?code=E1"' in content
    assert "Partially failed" in content
    assert content.count('data-testid="batch-row"') == 3
    mine = client.get(reverse("batch-list"), {"mine": "1"}).content.decode()
    assert mine.count('data-testid="batch-row"') == 1
    client.force_login(triager)  # a triager, their own
    assert client.get(reverse("batch-list")).content.decode().count('data-testid="batch-row"') == 2
    assert 'href="/actions/"' in content  # the nav item


def test_the_batch_list_keeps_its_query_count_flat(client, lead, django_assert_max_num_queries):
    client.force_login(lead)

    def make(n):
        for i in range(n):
            user = UserFactory()
            ActionBatch.objects.create(kind=ActionKind.ASSIGN, actor_id=user.pk, params={"assignee": user.pk})
            ActionBatch.objects.create(
                kind=ActionKind.COMMENT, actor_id=user.pk, params={"text": f"note {i}"}
            )

    make(2)
    with django_assert_max_num_queries(7):  # with the person's profile and teams, read once
        client.get(reverse("batch-list"))
    make(25)
    with django_assert_max_num_queries(7):
        response = client.get(reverse("batch-list"))
    assert response.context["has_next"]


def test_the_batch_page_is_its_audit_record(client, triager):
    batch = finished_batch(triager, failed=2, filter_query="status=open&code=E1")
    content = client.get(reverse("batch-detail", args=[batch.pk])).content.decode()
    assert "triager" in content
    assert 'href="/errors/?status=open&amp;code=E1"' in content
    assert content.count('data-testid="item-row"') == 2  # the failures first
    succeeded = client.get(reverse("batch-detail", args=[batch.pk]), {"outcome": "succeeded"})
    assert succeeded.content.decode().count('data-testid="item-row"') == 2
    tabs = {value: count for value, _label, count in succeeded.context["outcomes"]}
    assert tabs == {"pending": 0, "sending": 0, "succeeded": 2, "failed": 2, "skipped": 0}


def test_the_page_of_a_running_batch_shows_what_is_left_and_reloads_when_it_ends(client, triager):
    errors = ErrorRecordFactory.create_batch(2)
    client.post(BULK, {"action": "resolve", "ids": [e.pk for e in errors]})
    batch = batch_made()
    response = client.get(reverse("batch-detail", args=[batch.pk]))
    assert response.context["outcome"] == "pending"
    assert response.content.decode().count('data-testid="item-row"') == 2
    assert f'hx-get="/actions/{batch.pk}/progress/?then=refresh"' in response.content.decode()


def test_the_batch_page_pages_through_its_errors(client, triager, monkeypatch):
    monkeypatch.setattr("dashboard.views.actions.ITEM_PAGE_SIZE", 2)
    batch = finished_batch(triager, failed=3)
    first = client.get(reverse("batch-detail", args=[batch.pk]), {"outcome": "failed"})
    assert len(first.context["items"]) == 2
    assert first.context["has_next"]
    second = client.get(reverse("batch-detail", args=[batch.pk]), {"outcome": "failed", "page": "2"})
    assert len(second.context["items"]) == 1
    assert client.get(reverse("batch-detail", args=[999999])).status_code == 404


def test_a_finished_batch_refreshes_the_grouped_view(client, triager):
    ErrorRecordFactory(message="Socket hang up")
    grouped = {"group": "fingerprint"}
    assert client.get("/errors/", grouped).context["group_count"] == 1
    ErrorRecordFactory(message="Customer not found")
    assert client.get("/errors/", grouped).context["group_count"] == 1  # counted a moment ago
    finished_batch(triager)
    assert client.get("/errors/", grouped).context["group_count"] == 3
