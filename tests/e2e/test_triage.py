"""A triager's journey through the demo data in Chromium: overview, filter, search, group, detail, export.

The simulator's demo account is synced into the test database once; the journey is one test because the
live server's transactional database is emptied after each test. The screenshots in docs/screenshots/ come
from this run.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from celigo_api.simulator import SimulatorConfig, SimulatorServer
from dashboard.models import CeligoAccount, ErrorRecord
from dashboard.sync.run import sync_account

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "a-long-passphrase-1"


@pytest.fixture
def demo_account():
    with SimulatorServer(SimulatorConfig(seed="demo")) as simulator:
        account = CeligoAccount(name="Demo (simulated)", base_url=simulator.base_url, region="")
        account.token = simulator.token
        account.save()
        sync_account(account, full=True)
        yield account


def log_in(page: Page, base_url: str, django_user_model) -> None:
    django_user_model.objects.create_user("triager", password=PASSWORD)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill("triager")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base_url}/")


def test_it_lets_a_triager_find_read_and_export_errors(
    page: Page, live_server, django_user_model, demo_account
):
    base = live_server.url
    open_count = ErrorRecord.objects.filter(status="open").count()
    assert open_count > 100
    log_in(page, base, django_user_model)

    # Overview: every panel arrives by htmx; the account drills down to its integrations.
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_test_id("accounts-table")).to_contain_text("Demo (simulated)")
    expect(page.get_by_test_id("open-total")).to_have_text(f"{open_count:,}")
    expect(page.get_by_test_id("jobs-table")).to_be_visible()
    page.get_by_test_id("drill-account").get_by_test_id("drill-expand").first.click()
    expect(page.get_by_test_id("drill-integration").locator("li").first).to_be_visible()
    page.wait_for_function("() => window.Chart && Chart.getChart('trend-chart') !== undefined")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "overview.png"), full_page=True)

    # The list of open errors, newest first.
    page.get_by_role("link", name="Errors", exact=True).click()
    expect(page.get_by_test_id("result-count")).to_contain_text("errors")
    rows = page.get_by_test_id("error-row")
    expect(rows).to_have_count(50)
    page.screenshot(path=str(SCREENSHOTS / "errors.png"))

    # Select a page, then everything matching: the form carries the filter, not the ids.
    page.locator("#select-page").check()
    expect(page.get_by_test_id("selection-bar")).to_be_visible()
    page.get_by_test_id("select-all-matching").click()
    expect(page.get_by_text("errors matching these filters are selected")).to_be_visible()
    assert page.get_by_test_id("bulk-filter").input_value() == "status=open"

    # Filter on a code.
    code = ErrorRecord.objects.filter(status="open").exclude(code="").values_list("code", flat=True).first()
    assert code is not None
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(rf"code={re.escape(code)}"))
    expected = ErrorRecord.objects.filter(status="open", code=code).count()
    expect(page.get_by_test_id("result-count")).to_contain_text(f"{expected:,} error")
    page.get_by_label("Code").fill("")

    # Search a trace key.
    target = ErrorRecord.objects.filter(status="open").exclude(trace_key="").order_by("-occurred_at").first()
    page.get_by_label("Search").fill(target.trace_key)
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_test_id("error-row").first).to_be_visible()
    assert page.get_by_test_id("error-row").count() >= 1
    page.get_by_label("Search").fill("")
    page.get_by_role("button", name="Apply").click()

    # Grouped by message, then one group's errors.
    page.get_by_test_id("grouped-mode").click()
    expect(page.get_by_test_id("group-row").first).to_be_visible()
    page.get_by_test_id("group-link").first.click()
    expect(page).to_have_url(re.compile(r"fingerprint=[0-9a-f]{16}"))
    assert "group=" not in page.url
    expect(page.get_by_test_id("error-row").first).to_be_visible()

    # Export the filtered set as CSV.
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    body = Path(download_info.value.path()).read_text(encoding="utf-8")
    exported = list(csv.DictReader(io.StringIO(body)))
    fingerprint = re.search(r"fingerprint=([0-9a-f]{16})", page.url).group(1)
    assert len(exported) == ErrorRecord.objects.filter(status="open", fingerprint=fingerprint).count()
    assert {row["status"] for row in exported} == {"open"}

    # The detail page of an error with retry data and an HTTP log, fetched from Celigo lazily.
    error = (
        ErrorRecord.objects.filter(status="open")
        .exclude(retry_data_key="")
        .exclude(req_and_res_key="")
        .order_by("-occurred_at")
        .first()
    )
    page.goto(f"{base}/errors/{error.pk}/")
    expect(page.get_by_test_id("error-message")).to_contain_text(error.message[:40])
    expect(page.get_by_test_id("retry-data").locator("pre")).to_be_visible()
    expect(page.get_by_test_id("activity")).to_contain_text("First seen by Error Desk")
    page.get_by_test_id("http-log").scroll_into_view_if_needed()
    expect(page.get_by_test_id("http-log")).to_contain_text("Response")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / "error-detail.png"), full_page=True)
    page.get_by_test_id("flow-link").click()
    expect(page).to_have_url(re.compile(rf"flow_id={error.celigo_flow_id}"))
