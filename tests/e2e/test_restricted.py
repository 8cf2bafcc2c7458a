"""A warehouse member restricted to their team, in Chromium: every view shows only their team's errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from dashboard.models import ActionBatch, Role, TeamMembership
from tests.dashboard.factories import ErrorRecordFactory, TeamFactory, person

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-passphrase-1"


@pytest.fixture
def teams():
    """Team A (the member's) with 3 open errors, team B with 5 and one error in no team, all recent."""
    now = timezone.now()
    team_a, team_b = TeamFactory(name="Warehouse"), TeamFactory(name="Finance")
    ours = [
        ErrorRecordFactory(
            team=team_a, code="WH-SHORT", error_id=f"WAREHOUSE{i:013d}", occurred_at=now - timedelta(days=i)
        )
        for i in range(3)
    ]
    theirs = [
        ErrorRecordFactory(
            team=team_b, code="FIN-LEDGER", error_id=f"FINANCE{i:015d}", occurred_at=now - timedelta(days=i)
        )
        for i in range(5)
    ]
    ErrorRecordFactory(team=None, code="NO-TEAM", error_id="TEAMLESS00000000000001", occurred_at=now)
    member = person("warehouse-member", Role.TRIAGER, restricted=True)
    member.set_password(PASSWORD)
    member.save()
    TeamMembership.objects.create(team_id=team_a.pk, user=member)
    return ours, theirs


def log_in(page: Page, base: str) -> None:
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{base}/login/")
    page.get_by_label("Username").fill("warehouse-member")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")


def test_a_restricted_member_sees_counts_lists_groups_exports_and_charts_of_their_team_only(
    page: Page, live_server, teams
):
    ours, theirs = teams
    base = live_server.url
    log_in(page, base)

    # Overview: the open total, the team panel and the trend chart count team A's errors only.
    expect(page.get_by_test_id("open-total")).to_have_text("3")
    expect(page.get_by_test_id("team-row")).to_have_count(1)
    expect(page.get_by_test_id("teams-table")).to_contain_text("Warehouse")
    page.wait_for_function("() => window.Chart && Chart.getChart('trend-chart') !== undefined")
    new_per_day = json.loads(page.locator("#trend-new").text_content())
    assert sum(new_per_day) == 3

    # The list and its queues.
    page.goto(f"{base}/errors/?status=open")
    expect(page.get_by_test_id("error-row")).to_have_count(3)
    content = page.content()
    assert "FIN-LEDGER" not in content
    assert "NO-TEAM" not in content
    page.get_by_test_id("queues").click()
    page.get_by_test_id("queue-team-unassigned").click()
    expect(page.get_by_test_id("error-row")).to_have_count(3)

    # Grouped by message: one group, of three.
    page.goto(f"{base}/errors/?status=open&group=fingerprint")
    expect(page.get_by_test_id("group-row")).to_have_count(1)
    assert "FIN-LEDGER" not in page.content()

    # The CSV export of the whole open list.
    page.goto(f"{base}/errors/?status=open")
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8"))))
    assert sorted(row["error_id"] for row in rows) == sorted(e.error_id for e in ours)

    # Their own error opens; a guessed id of another team's error is a 404, as if it did not exist.
    page.goto(f"{base}/errors/{ours[0].pk}/")
    expect(page.get_by_test_id("error-message")).to_be_visible()
    response = page.goto(f"{base}/errors/{theirs[0].pk}/")
    assert response is not None
    assert response.status == 404
    assert theirs[0].error_id not in page.content()

    # A forged resolve of that error, with a valid session and CSRF token: 404, and no batch for Celigo.
    page.goto(f"{base}/errors/{ours[0].pk}/")
    token = page.locator("input[name=csrfmiddlewaretoken]").first.get_attribute("value") or ""
    forged = page.request.post(
        f"{base}/errors/{theirs[0].pk}/actions/",
        form={"action": "resolve", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/errors/{ours[0].pk}/"},
    )
    assert forged.status == 404
    assert not ActionBatch.objects.exists()
