"""In a real browser, no page breaks the Content-Security-Policy, and what moved out of inline markup works.

Chromium reports each refused inline script, style or eval as a console error naming the policy; every page
here (overview with its chart, the list, the groups, an error, a running batch, teams, people, the admin)
must produce none.
"""

import pytest
from playwright.sync_api import expect

from dashboard.models import ActionBatch, ActionKind, BatchState, Role
from tests.dashboard.factories import ErrorRecordFactory, TeamFactory, person

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-passphrase-1"


@pytest.fixture
def admin_page(page, live_server, django_user_model):
    django_user_model.objects.create_superuser("boss", password=PASSWORD)
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/")
    return page


def csp_violations(page) -> list[str]:
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return refused


def test_no_page_breaks_the_policy(admin_page, live_server):
    refused = csp_violations(admin_page)
    error = ErrorRecordFactory(message="Quantity 'twelve' is not a number", retry_data_key="rdk")
    team = TeamFactory(name="Warehouse")
    viewer = person("viewer", Role.VIEWER)
    batch = ActionBatch.objects.create(
        kind=ActionKind.RESOLVE, actor=viewer, state=BatchState.RUNNING, total=4, succeeded=1, selected=True
    )
    for path in (
        "/",
        "/errors/",
        "/errors/?group=fingerprint",
        f"/errors/{error.pk}/",
        "/actions/",
        f"/actions/{batch.pk}/",
        "/teams/",
        f"/teams/{team.pk}/",
        "/people/",
        "/admin/",
        "/admin/dashboard/errorrecord/",
        "/api/v1/docs/",
    ):
        admin_page.goto(f"{live_server.url}{path}")
        admin_page.wait_for_load_state("networkidle")
    expect(admin_page.locator(".swagger-ui .info")).to_contain_text("Error Desk API")  # the docs page ran
    assert refused == []


def test_a_progress_bar_takes_its_width_from_its_data(admin_page, live_server, django_user_model):
    batch = ActionBatch.objects.create(
        kind=ActionKind.RESOLVE,
        actor=django_user_model.objects.get(username="boss"),
        state=BatchState.RUNNING,
        total=4,
        succeeded=1,
        selected=True,
    )
    admin_page.goto(f"{live_server.url}/actions/{batch.pk}/")
    bar = admin_page.get_by_test_id("batch-progress-bar").locator(".progress-bar")
    expect(bar).to_have_attribute("data-percent", "25")
    expect(bar).to_have_css("width", bar.evaluate("el => (el.parentElement.clientWidth * 0.25) + 'px'"))


def test_a_running_batch_is_polled_without_eval(admin_page, live_server, django_user_model):
    refused = csp_violations(admin_page)
    batch = ActionBatch.objects.create(
        kind=ActionKind.RESOLVE,
        actor=django_user_model.objects.get(username="boss"),
        state=BatchState.RUNNING,
        total=4,
        succeeded=1,
        selected=True,
    )
    admin_page.goto(f"{live_server.url}/actions/{batch.pk}/")
    expect(admin_page.get_by_test_id("batch-progress")).to_have_attribute("data-state", "running")
    ActionBatch.objects.filter(pk=batch.pk).update(state=BatchState.DONE, succeeded=4)
    expect(admin_page.get_by_test_id("batch-progress")).to_have_attribute(
        "data-state", "done", timeout=10_000
    )
    assert refused == []
