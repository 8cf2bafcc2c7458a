"""A triager acts on the demo data in Chromium: a bulk resolve with its live progress bar, a retry-data edit
reviewed as a diff then saved and retried (its outcome shown after a sync), and assign / tag / comment.

The Celery task that applies a batch is replaced by a list of queued batch ids (the seam ``request_action``
queues through); the test applies a queued batch with ``run_batch`` — what the task does — while the page
polls, so the progress bar is seen moving from pending to done. The screenshot of the batch progress in
docs/screenshots/ comes from this run.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from celigo_api.simulator import SimulatorConfig, SimulatorServer
from dashboard.models import ActionBatch, BatchState, CeligoAccount, CeligoState, ErrorRecord, Profile, Role
from dashboard.outbox.runner import run_batch
from dashboard.sync.run import sync_account

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "a-long-passphrase-1"


@pytest.fixture
def simulator():
    # Every retry fails again, at once: the outcome after the next sync is certain.
    config = SimulatorConfig(seed="demo", retry_success_ratio=0.0, retry_job_seconds=(0.0, 0.0))
    with SimulatorServer(config) as server:
        yield server


@pytest.fixture
def demo_account(simulator):
    account = CeligoAccount(name="Demo (simulated)", base_url=simulator.base_url, region="")
    account.token = simulator.token
    account.save()
    sync_account(account, full=True)
    return account


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """Batch ids handed to the Celery task, which does not run here: the test applies them."""
    ids: list[int] = []
    monkeypatch.setattr("dashboard.outbox.request.enqueue_batch", ids.append)
    return ids


@pytest.fixture
def triager(page: Page, live_server, django_user_model):
    user = django_user_model.objects.create_user("triager", email="triager@example.com", password=PASSWORD)
    Profile.objects.create(user=user, role=Role.TRIAGER)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("triager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    return user


def apply(queued: list[int]) -> ActionBatch:
    assert queued, "the action was queued for the worker"
    batch = run_batch(queued.pop(0))
    assert batch is not None
    return batch


def test_it_resolves_every_matching_error_with_a_live_progress_bar(
    page: Page, live_server, demo_account, triager, queued
):
    # A step with more open errors than a confirmation-free action may touch, few enough for one page.
    per_step = Counter(
        ErrorRecord.objects.filter(status=CeligoState.OPEN).values_list("celigo_flow_id", "celigo_step_id")
    )
    (flow_id, step_id), count = min(
        ((step, n) for step, n in per_step.items() if 10 < n <= 50), key=lambda pair: pair[1]
    )
    page.goto(f"{live_server.url}/errors/?status=open&flow_id={flow_id}&step_id={step_id}")
    expect(page.get_by_test_id("error-row")).to_have_count(count)

    page.locator("#select-page").check()
    page.get_by_test_id("select-all-matching").click()
    page.get_by_test_id("bulk-resolve").click()
    expect(page.get_by_test_id("action-confirm")).to_contain_text(f"Resolve {count} errors in Celigo?")
    page.get_by_test_id("confirm-action").click()

    progress = page.get_by_test_id("batch-progress")
    expect(progress.get_by_test_id("batch-state")).to_have_text("Pending")
    batch = apply(queued)
    assert (batch.state, batch.succeeded) == (BatchState.DONE, count)

    # The polled fragment reaches 100 % and stops; the rows are fetched again and have left the open list.
    expect(progress.get_by_test_id("batch-state")).to_have_text("Done", timeout=10_000)
    expect(progress.get_by_test_id("batch-progress-bar")).to_have_attribute("aria-valuenow", "100")
    expect(progress.get_by_test_id("batch-counts")).to_contain_text(f"{count} of {count} processed")
    expect(page.get_by_text("No errors match these filters.")).to_be_visible()

    # Without the status filter the same rows show as resolved.
    page.get_by_test_id("active-filters").get_by_text("status: open").click()
    expect(page.get_by_test_id("error-row").filter(has_text="open")).to_have_count(0)
    assert not ErrorRecord.objects.filter(
        celigo_flow_id=flow_id, celigo_step_id=step_id, status=CeligoState.OPEN
    ).exists()

    # The Actions page lists the batch as its audit record.
    page.get_by_role("link", name="Actions", exact=True).click()
    expect(page.get_by_test_id("batch-row").first).to_contain_text("Resolve")
    expect(page.get_by_test_id("batch-row").first).to_contain_text("triager")
    expect(page.get_by_test_id("batch-row").first).to_contain_text("Done")

    # Its page: the progress, who asked for what, and each error with its outcome.
    page.get_by_test_id("batch-row").first.get_by_role("link", name="Resolve").click()
    expect(page.get_by_test_id("batch-record")).to_contain_text(f"flow_id={flow_id}")
    expect(page.get_by_test_id("item-row")).to_have_count(count)
    expect(page.get_by_test_id("item-row").filter(has_text="resolved")).to_have_count(count)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "action-progress.png"))


def test_it_edits_retry_data_reviews_the_diff_saves_and_retries(
    page: Page, live_server, simulator, demo_account, triager, queued
):
    error = (
        ErrorRecord.objects.filter(status=CeligoState.OPEN)
        .exclude(retry_data_key="")
        .order_by("-occurred_at")
        .first()
    )
    page.goto(f"{live_server.url}/errors/{error.pk}/")
    editor = page.get_by_test_id("retry-data-text")
    editor.scroll_into_view_if_needed()
    expect(editor).to_be_visible()
    data = json.loads(editor.input_value())

    # Checked while typed: invalid JSON cannot be reviewed.
    editor.fill('{"broken": ')
    expect(page.get_by_test_id("retry-data-json-error")).to_contain_text("Not valid JSON")
    expect(page.get_by_test_id("retry-data-review-button")).to_be_disabled()

    changed = {**data, "quantity": 3} if isinstance(data, dict) else {"value": data, "quantity": 3}
    editor.fill(json.dumps(changed, indent=2))
    page.get_by_test_id("retry-data-review-button").click()
    expect(page.get_by_test_id("diff")).to_contain_text('+  "quantity": 3')
    page.get_by_test_id("retry-data-save-retry").click()

    expect(page.get_by_text("Saved the retry data in Celigo and queued a retry.")).to_be_visible()
    expect(page.get_by_test_id("activity")).to_contain_text("Retry data edited and retried")
    expect(page.get_by_test_id("activity").get_by_test_id("diff")).to_contain_text('"quantity": 3')
    expect(page.get_by_test_id("batch-progress")).to_be_visible()

    apply(queued)
    # The polled progress sees the retry sent and reloads the page, which shows the retry as pending.
    expect(page.get_by_test_id("retry-outcome")).to_have_text("retry pending", timeout=10_000)

    # The next sync sees the retry fail again (a new error with the same trace key) and links the two.
    simulator.advance_clock(5)
    sync_account(demo_account)
    page.reload()
    expect(page.get_by_test_id("retry-outcome")).to_have_text("retry failed again")
    page.get_by_test_id("retry-failure-link").first.click()
    expect(page.get_by_test_id("retry-of-link")).to_have_text(error.error_id)
    expect(page).to_have_url(re.compile(r"/errors/\d+/$"))


def test_it_assigns_tags_and_comments_from_the_detail_page(
    page: Page, live_server, demo_account, triager, django_user_model
):
    django_user_model.objects.create_user("lead", password=PASSWORD)
    error = ErrorRecord.objects.filter(status=CeligoState.OPEN).order_by("-occurred_at").first()
    page.goto(f"{live_server.url}/errors/{error.pk}/")

    page.get_by_test_id("assignee-select").select_option(label="lead")
    page.get_by_test_id("action-assign").click()
    expect(page.get_by_text("Assign to lead: done.")).to_be_visible()
    expect(page.get_by_test_id("error-fields")).to_contain_text("lead")

    page.get_by_test_id("tags-input").fill("urgent, waiting on  warehouse")
    page.get_by_test_id("action-tag").click()
    expect(page.get_by_test_id("tag")).to_have_text(["urgent", "waiting on warehouse"])
    page.get_by_test_id("tags-input").fill("urgent")
    page.get_by_test_id("action-untag").click()
    expect(page.get_by_test_id("tag")).to_have_text(["waiting on warehouse"])

    page.get_by_test_id("comment-text").fill("Called the warehouse <b>twice</b>")
    page.get_by_test_id("action-comment").click()
    activity = page.get_by_test_id("activity")
    expect(activity).to_contain_text("Called the warehouse <b>twice</b>")  # shown as text, not markup
    expect(activity).to_contain_text("Assigned to lead")
    expect(activity).to_contain_text("Tagged urgent, waiting on warehouse")
    expect(activity).to_contain_text("Untagged urgent")
    error.refresh_from_db()
    assert error.assignee.username == "lead"
