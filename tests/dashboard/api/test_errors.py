"""``/api/v1/errors/``: the fields, the filters (the HTML list's), pagination and what a request costs."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from itertools import cycle

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard.models import CeligoState
from dashboard.queries.filters import ORDERING_FIELDS
from tests.dashboard.factories import (
    ErrorRecordFactory,
    StepFactory,
    TagFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

ERRORS = "/api/v1/errors/"
FIELDS = [
    "id", "account", "flow_id", "step_id", "error_id", "integration_id", "flow_name", "step_name",
    "occurred_at", "source", "code", "message", "classification", "trace_key", "retry_data_key",
    "flow_job_id", "status", "assignee", "team", "tags", "resolved_at", "resolved_by", "first_seen_at",
    "last_seen_at", "purged",
]  # fmt: skip
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture
def varied(db):
    """Errors on two steps, some resolved, assigned, in teams, tagged, with equal and missing dates."""
    steps = [StepFactory(), StepFactory()]
    teams = [TeamFactory(name="Ops"), TeamFactory(name="Billing"), None]
    people = [UserFactory(username="ann"), UserFactory(username="bob"), None]
    tags = [TagFactory(name="vip"), TagFactory(name="later")]
    now = timezone.now().replace(microsecond=0)
    when = [now - timedelta(hours=1), now - timedelta(hours=2), now - timedelta(hours=1), None]
    errors = []
    for n, (step, team, person, occurred) in enumerate(
        zip(cycle(steps), cycle(teams), cycle(people), cycle(when), strict=False)
    ):
        if n == 23:
            break
        resolved = n % 4 == 0
        error = ErrorRecordFactory(
            step=step,
            team=team,
            assignee=person,
            occurred_at=occurred,
            code=["422", "500", "429"][n % 3],
            status=CeligoState.RESOLVED if resolved else CeligoState.OPEN,
            resolved_at=now - timedelta(minutes=n) if resolved else None,
            resolved_by="auto" if resolved else "",
            tags=[tags[n % 2]] if n % 3 else [],
        )
        errors.append(error)
    return errors


def walk(client, url: str) -> list[int]:
    ids: list[int] = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        ids += [row["id"] for row in response.json()["results"]]
        url = response.json()["next"]
    return ids


def test_it_gives_every_documented_field_as_ids_and_utc_timestamps(api_as, triager):
    tag = TagFactory(name="vip")
    error = ErrorRecordFactory(assignee=triager, team=TeamFactory(), tags=[tag], message="x" * 50_000)
    row = api_as("viewer").get(ERRORS).json()["results"][0]
    assert list(row) == FIELDS
    assert row["id"] == error.pk
    assert row["account"] == error.account_id
    assert (row["assignee"], row["team"], row["tags"]) == (triager.pk, error.team_id, ["vip"])
    assert (row["flow_id"], row["step_id"]) == (error.celigo_flow_id, error.celigo_step_id)
    assert row["integration_id"] == error.integration.celigo_id
    assert len(row["message"]) == 50_000, "the message is whole"
    assert ISO_UTC.match(row["occurred_at"])
    assert ISO_UTC.match(row["first_seen_at"])
    assert row["status"] == "open"


def test_the_detail_adds_fingerprint_and_raw(api_as):
    error = ErrorRecordFactory(raw={"errorId": "x"})
    detail = api_as("viewer").get(f"{ERRORS}{error.pk}/").json()
    assert detail["raw"] == {"errorId": "x"}
    assert detail["fingerprint"] == error.fingerprint


@pytest.mark.parametrize("ordering", ["", *ORDERING_FIELDS, *(f"-{name}" for name in ORDERING_FIELDS)])
def test_the_cursor_visits_every_row_once_in_any_order(api_as, varied, ordering):
    client = api_as("viewer")
    url = f"{ERRORS}?page_size=4" + (f"&ordering={ordering}" if ordering else "")
    forwards = walk(client, url)
    assert sorted(forwards) == sorted(e.pk for e in varied)
    assert forwards == [row["id"] for row in client.get(url.replace("4", "100")).json()["results"]]


def test_previous_links_walk_back_the_same_pages(api_as, varied):
    client = api_as("viewer")
    pages, url = [], f"{ERRORS}?page_size=5&ordering=resolved_at"
    while url:
        body = client.get(url).json()
        pages.append([row["id"] for row in body["results"]])
        url = body["next"]
    back, url = [], client.get(f"{ERRORS}?page_size=5&ordering=resolved_at").json()["next"]
    while url:  # go to the last page, then back
        body = client.get(url).json()
        url = body["next"] or None
        last = body
    url = last["previous"]
    while url:
        body = client.get(url).json()
        back.insert(0, [row["id"] for row in body["results"]])
        url = body["previous"]
    assert back == pages[:-1]


def test_a_row_inserted_meanwhile_shifts_no_page(api_as, varied):
    client = api_as("viewer")
    first = client.get(f"{ERRORS}?page_size=5").json()
    ErrorRecordFactory(occurred_at=timezone.now())  # newer than every row: would shift an offset pager
    second = client.get(first["next"]).json()
    seen = [row["id"] for row in first["results"] + second["results"]]
    assert len(seen) == len(set(seen)) == 10


def test_the_page_size_is_capped_and_checked(api_as, varied):
    client = api_as("viewer")
    assert len(client.get(f"{ERRORS}?page_size=1000").json()["results"]) == len(varied)
    assert client.get(f"{ERRORS}?page_size=0").status_code == 400
    assert "page_size" in client.get(f"{ERRORS}?page_size=abc").json()


@pytest.mark.parametrize(
    "query",
    [
        "occurred_after=yesterday",
        "account=99999999999999999999",
        "status=closed",
        "assignee=somebody",
        "cursor=not-a-cursor",
        "cursor=eyJ2IjpbMV0sImlkIjoxLCJiIjpmYWxzZX0",  # {"v":[1],"id":1,"b":false}
        "ordering=-password",
    ],
)
def test_bad_input_is_a_400_naming_the_field(api_as, varied, query):
    response = api_as("viewer").get(f"{ERRORS}?{query}")
    assert response.status_code == 400, response.content
    assert query.split("=")[0] in response.json()


@pytest.mark.parametrize("size", [5, 100])
def test_a_page_costs_the_same_queries_whatever_its_size(api_as, varied, size):
    client = api_as("viewer")
    client.get(ERRORS)  # last_used_at is written on the first call only
    with CaptureQueriesContext(connection) as queries:
        assert client.get(f"{ERRORS}?page_size={size}&status=open").status_code == 200
    # token, profile, the page, its tags.
    assert len(queries) <= 4, [q["sql"][:120] for q in queries]


PARITY_FILTERS = [
    "",
    "status=open",
    "status=resolved&ordering=resolved_at",
    "code=429",
    "tag=vip",
    "assignee=none",
    "team=none",
    "q=ACME&ordering=-code",
    "ordering=team",
    "ordering=-assignee",
]


@pytest.mark.parametrize("query", PARITY_FILTERS)
def test_the_api_the_html_list_and_the_csv_give_the_same_errors(api_as, login_as, varied, query):
    api_ids = walk(api_as("viewer"), f"{ERRORS}?page_size=7&{query}")
    browser = login_as("viewer")
    page = browser.get(reverse("error-list") + "?" + query).content.decode()
    html_ids = [int(pk) for pk in re.findall(r'href="/errors/(\d+)/"', page)]
    export = browser.get(reverse("error-export") + "?" + query)
    csv_ids = [
        int(row["id"]) for row in csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode()))
    ]
    assert api_ids == csv_ids
    assert list(dict.fromkeys(html_ids)) == api_ids


def test_long_identifiers_come_back_whole_in_the_list_and_the_detail(api_as):
    trace_key, code = "PO-" + "7" * 1997, "E" * 300  # longer than their indexed columns
    error = ErrorRecordFactory(
        trace_key=trace_key[:500], code=code[:200], raw={"traceKey": trace_key, "code": code, "message": "x"}
    )
    ErrorRecordFactory.create_batch(3)
    client = api_as("triager")
    with CaptureQueriesContext(connection) as queries:
        listed = {row["id"]: row for row in client.get("/api/v1/errors/").json()["results"]}
    assert (listed[error.pk]["trace_key"], listed[error.pk]["code"]) == (trace_key, code)
    assert sum('"raw"' in query["sql"] for query in queries.captured_queries) == 1  # one query for the page
    detail = client.get(f"/api/v1/errors/{error.pk}/").json()
    assert (detail["trace_key"], detail["code"]) == (trace_key, code)
