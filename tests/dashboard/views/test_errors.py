"""The error list: every filter, every sort, paging, grouping, saved views, export, and hostile input."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from dashboard.models import CeligoState, ErrorRecord, RetryOutcome, SavedView
from dashboard.queries.counts import COUNT_CAP
from dashboard.queries.filters import ORDERING_FIELDS, ErrorFilter
from tests.dashboard.factories import (
    ErrorRecordFactory,
    FlowFactory,
    SavedViewFactory,
    StepFactory,
    TagFactory,
    TeamFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
LIST = "/errors/"


def listed_ids(response) -> set[int]:
    return {row.pk for row in response.context["rows"]}


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()


@pytest.fixture
def viewer(client, viewer):
    """The ``viewer`` persona (tests/dashboard/conftest.py), logged in: reads every page, acts on nothing."""
    client.force_login(viewer)
    return viewer


@pytest.fixture
def pair(viewer):
    """Two errors that differ on every filterable field: filters must pick ``hit`` and leave ``miss``."""
    now = timezone.now()
    tag = TagFactory(name="urgent")
    team = TeamFactory(name="Warehouse")
    hit = ErrorRecordFactory(
        source="mapping",
        code="INVALID_FLD_VALUE",
        classification="value",
        message="Quantity 'twelve' is not a number",
        trace_key="PO-778",
        error_id="hit-error-000000000000001",
        occurred_at=now - timedelta(hours=2),
        assignee=viewer,
        team=team,
        retry_outcome=RetryOutcome.FAILED,
        tags=[tag],
    )
    original = ErrorRecordFactory(
        status=CeligoState.RESOLVED,
        resolved_at=now - timedelta(days=20),
        occurred_at=now - timedelta(days=21),
    )
    miss = ErrorRecordFactory(
        source="connection",
        code="timeout",
        classification="intermittent",
        message="Socket hang up",
        trace_key="SO-1",
        occurred_at=now - timedelta(days=3),
        status=CeligoState.RESOLVED,
        resolved_at=now - timedelta(hours=1),
    )
    hit.regression_of = original
    hit.save()
    return hit, miss, original


def filter_cases(hit, miss, viewer):
    return {
        "account": str(hit.account_id),
        "integration_id": hit.integration.celigo_id,
        "flow_id": hit.celigo_flow_id,
        "step_id": hit.celigo_step_id,
        "source": "mapping",
        "classification": "value",
        "code": "INVALID_FLD_VALUE",
        "assignee": str(viewer.pk),
        "team": str(hit.team_id),
        "tag": "urgent",
        "occurred": "24h",
        "occurred_after": (timezone.now() - timedelta(hours=3)).isoformat(),
        "regression": "true",
        "retry_outcome": "failed",
        "fingerprint": hit.fingerprint,
        "q": "twelve",
    }


FILTER_NAMES = [
    "account",
    "integration_id",
    "flow_id",
    "step_id",
    "source",
    "classification",
    "code",
    "assignee",
    "team",
    "tag",
    "occurred",
    "occurred_after",
    "regression",
    "retry_outcome",
    "fingerprint",
    "q",
]


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_it_filters_on_each_field(client, pair, viewer, name):
    hit, miss, _ = pair
    value = filter_cases(hit, miss, viewer)[name]
    response = client.get(LIST, {name: value})
    assert response.status_code == 200
    assert hit.pk in listed_ids(response)
    assert miss.pk not in listed_ids(response)


def test_it_filters_on_status(client, pair):
    hit, miss, original = pair
    assert listed_ids(client.get(LIST, {"status": "open"})) == {hit.pk}
    assert listed_ids(client.get(LIST, {"status": "resolved"})) == {miss.pk, original.pk}


def test_it_filters_on_assignee_me_and_none(client, pair, viewer):
    hit, miss, original = pair
    assert listed_ids(client.get(LIST, {"assignee": "me"})) == {hit.pk}
    assert listed_ids(client.get(LIST, {"assignee": "none"})) == {miss.pk, original.pk}


def test_it_filters_on_resolved_ranges_and_presets(client, pair):
    _, miss, original = pair
    assert listed_ids(client.get(LIST, {"resolved": "24h"})) == {miss.pk}
    assert listed_ids(client.get(LIST, {"resolved": "30d"})) == {miss.pk, original.pk}
    before = (timezone.now() - timedelta(days=2)).isoformat()
    assert listed_ids(client.get(LIST, {"resolved_before": before})) == {original.pk}
    after = (timezone.now() - timedelta(days=2)).isoformat()
    assert listed_ids(client.get(LIST, {"resolved_after": after})) == {miss.pk}


def test_it_filters_on_occurred_before_and_the_other_presets(client, pair):
    hit, miss, original = pair
    assert listed_ids(
        client.get(LIST, {"occurred_before": (timezone.now() - timedelta(days=1)).isoformat()})
    ) == {
        miss.pk,
        original.pk,
    }
    assert listed_ids(client.get(LIST, {"occurred": "7d"})) == {hit.pk, miss.pk}
    assert hit.pk in listed_ids(client.get(LIST, {"occurred": "today"})) or timezone.localtime().hour < 2
    assert listed_ids(client.get(LIST, {"occurred": "15d"})) == {hit.pk, miss.pk}


def test_it_filters_regressions_out(client, pair):
    _hit, miss, original = pair
    assert listed_ids(client.get(LIST, {"regression": "false"})) == {miss.pk, original.pk}


@pytest.mark.parametrize("field", ["message", "code", "trace_key", "error_id"])
def test_it_searches_message_code_trace_key_and_error_id(client, pair, field):
    hit, _, _ = pair
    needle = {"message": "TWELVE", "code": "fld_val", "trace_key": "PO-778", "error_id": "hit-error-0000"}[
        field
    ]
    assert listed_ids(client.get(LIST, {"q": needle})) == {hit.pk}


def test_it_treats_like_wildcards_in_search_as_text(client, pair):
    hit, _, _ = pair
    done = ErrorRecordFactory(message="100% done_ok")
    assert listed_ids(client.get(LIST, {"q": "%"})) == {done.pk}
    # Only the errors with a literal underscore (hit's code is INVALID_FLD_VALUE).
    assert listed_ids(client.get(LIST, {"q": "_"})) == {hit.pk, done.pk}


@pytest.mark.parametrize("column", sorted(ORDERING_FIELDS))
def test_it_sorts_on_every_column_both_ways(client, viewer, column):
    flow_a, flow_b = FlowFactory(name="A flow"), FlowFactory(name="B flow")
    now = timezone.now()
    first = ErrorRecordFactory(
        step=StepFactory(flow=flow_a, name="A step"),
        occurred_at=now - timedelta(days=2),
        source="a-source",
        code="a-code",
        classification="a-class",
        message="a message",
        trace_key="a-trace",
        error_id="a-error",
        retry_outcome="",
        resolved_at=now - timedelta(days=2),
        first_seen_at=now - timedelta(days=2),
        last_seen_at=now - timedelta(days=2),
        team=TeamFactory(name="A team"),
        assignee=UserFactory(username="a-user"),
    )
    second = ErrorRecordFactory(
        step=StepFactory(flow=flow_b, name="B step"),
        occurred_at=now - timedelta(days=1),
        source="b-source",
        code="b-code",
        classification="b-class",
        message="b message",
        trace_key="b-trace",
        error_id="b-error",
        status=CeligoState.RESOLVED,
        retry_outcome=RetryOutcome.SUCCEEDED,
        resolved_at=now - timedelta(days=1),
        first_seen_at=now - timedelta(days=1),
        last_seen_at=now - timedelta(days=1),
        team=TeamFactory(name="B team"),
        assignee=UserFactory(username="b-user"),
    )
    if column == "account":
        first.account.name, second.account.name = "A account", "B account"
        first.account.save()
        second.account.save()
    ascending = [row.pk for row in client.get(LIST, {"ordering": column}).context["rows"]]
    descending = [row.pk for row in client.get(LIST, {"ordering": f"-{column}"}).context["rows"]]
    assert ascending == [first.pk, second.pk]
    assert descending == [second.pk, first.pk]


def test_it_sorts_newest_first_by_default(client, pair):
    hit, miss, original = pair
    assert [row.pk for row in client.get(LIST).context["rows"]] == [hit.pk, miss.pk, original.pk]


def test_it_pages_through_results(client, viewer, settings):
    ErrorRecordFactory.create_batch(55)
    first = client.get(LIST)
    assert len(first.context["rows"]) == 50
    assert first.context["has_next"]
    second = client.get(LIST, {"page": "2"})
    assert len(second.context["rows"]) == 5
    assert not second.context["has_next"]
    assert listed_ids(first).isdisjoint(listed_ids(second))
    assert client.get(LIST, {"page": "zero"}).context["page"] == 1


def test_it_refuses_pages_beyond_the_offset_limit(client, viewer):
    response = client.get(LIST, {"page": "500"})
    assert response.status_code == 200
    assert response.context["offset_too_deep"]
    assert "Narrow the filters" in response.content.decode()


def test_it_caps_the_count_and_says_so(client, viewer, monkeypatch):
    monkeypatch.setattr("dashboard.queries.counts.COUNT_CAP", 3)
    ErrorRecordFactory.create_batch(5)
    response = client.get(LIST)
    assert response.context["count"].capped
    assert "more than 3" in response.content.decode()
    exact = client.get(reverse("error-count"))
    assert "exactly 5" in exact.content.decode()


def test_it_states_an_exact_count_under_the_cap(client, pair):
    response = client.get(LIST)
    assert not response.context["count"].capped
    assert response.context["count"].value == 3
    assert COUNT_CAP >= 10_000


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"account": "abc"}, "account"),
        ({"account": "99999"}, "account"),
        ({"status": "sleeping"}, "status"),
        ({"assignee": "somebody"}, "assignee"),
        ({"occurred_after": "yesterday-ish"}, "occurred_after"),
        ({"resolved_before": "2026-13-45"}, "resolved_before"),
        ({"occurred": "3w"}, "occurred"),
        ({"retry_outcome": "maybe"}, "retry_outcome"),
        ({"team": "x"}, "team"),
        ({"ordering": "password"}, "ordering"),
        ({"q": "x" * 500}, "q"),
        ({"flow_id": "f" * 100}, "flow_id"),
        ({"occurred_after": "2026-05-02T00:00", "occurred_before": "2026-05-01T00:00"}, "occurred_before"),
    ],
)
def test_it_explains_invalid_filters_instead_of_failing(client, pair, params, field):
    response = client.get(LIST, params)
    assert response.status_code == 200
    assert response.context["invalid"]
    assert field in response.context["filterset"].errors
    assert "Some filters are not valid" in response.content.decode()
    export = client.get(reverse("error-export"), params)
    assert export.status_code == 400
    assert field in export.content.decode()


def test_it_survives_odd_unicode_and_nul_bytes_in_filters(client, pair):
    for value in ["💥\u202e", "' OR 1=1 --", "%00"]:
        response = client.get(LIST, {"q": value, "code": value})
        assert response.status_code == 200
    # No database stores a NUL: refused before any view, naming the field.
    response = client.get(LIST, {"code": "\x00"})
    assert response.status_code == 400
    assert response.content.decode().startswith("code: ")


def test_it_keeps_the_filter_state_in_the_links(client, pair):
    _hit, _, _ = pair
    response = client.get(LIST, {"status": "open", "code": "INVALID_FLD_VALUE", "ordering": "-code"})
    content = response.content.decode()
    assert response.context["filter_query"] == "status=open&code=INVALID_FLD_VALUE&ordering=-code"
    assert 'href="/errors/export.csv?status=open&amp;code=INVALID_FLD_VALUE&amp;ordering=-code"' in content
    assert 'value="status=open&amp;code=INVALID_FLD_VALUE&amp;ordering=-code"' in content  # select-all filter


def test_it_renders_checkboxes_and_the_select_all_matching_control(client, pair):
    hit, _, _ = pair
    content = client.get(LIST).content.decode()
    assert f'name="ids" value="{hit.pk}"' in content
    assert 'data-testid="select-all-matching"' in content
    assert 'data-slot="bulk-actions"' in content


def test_it_groups_by_fingerprint(client, viewer):
    flow_a, flow_b = FlowFactory(name="Orders"), FlowFactory(name="Invoices")
    for n, flow in enumerate([flow_a, flow_a, flow_b]):
        ErrorRecordFactory(
            step=StepFactory(flow=flow), message=f"Order {n} failed: customer 'X{n}' not found"
        )
    ErrorRecordFactory(message="Socket hang up")
    response = client.get(LIST, {"group": "fingerprint"})
    groups = response.context["groups"]
    assert response.context["group_count"] == 2
    assert [g.count for g in groups] == [3, 1]
    assert groups[0].flow_count == 2
    assert {flow.name for flow in groups[0].flows} == {"Orders", "Invoices"}
    assert groups[0].normalised_message == "Order <n> failed: customer <value> not found"
    assert groups[0].first_seen is not None
    assert groups[0].last_seen >= groups[0].first_seen
    content = response.content.decode()
    assert f"fingerprint={groups[0].fingerprint}" in content


@pytest.mark.parametrize("ordering", ["count", "-count", "first_seen", "-last_seen", "flows", "bogus"])
def test_it_sorts_groups(client, viewer, ordering):
    ErrorRecordFactory.create_batch(2, message="Timeout after 5 s")
    ErrorRecordFactory(message="Socket hang up", occurred_at=timezone.now() - timedelta(days=3))
    response = client.get(LIST, {"group": "fingerprint", "group_ordering": ordering})
    counts = [g.count for g in response.context["groups"]]
    assert sorted(counts) == [1, 2]
    if ordering in ("count", "first_seen"):
        assert counts == [1, 2]
    if ordering in ("-count", "-last_seen", "bogus"):
        assert counts == [2, 1]


def test_it_groups_only_the_filtered_errors(client, pair):
    hit, _, _ = pair
    response = client.get(LIST, {"group": "fingerprint", "status": "open"})
    assert [g.fingerprint for g in response.context["groups"]] == [hit.fingerprint]


def test_it_exports_the_filtered_set_as_streamed_csv(client, pair):
    hit, _miss, _ = pair
    response = client.get(reverse("error-export"), {"status": "open"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row["error_id"] for row in rows] == [hit.error_id]
    assert rows[0]["tags"] == "urgent"


def test_it_saves_views_per_user_and_shares_them(client, viewer, django_user_model):
    response = client.post(
        reverse("saved-view-create"), {"name": "My queue", "query_string": "assignee=me&status=open"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/errors/?assignee=me&status=open"
    other = UserFactory(username="other")
    SavedViewFactory(owner=other, name="Team queue", query_string="team=1", shared=True)
    SavedViewFactory(owner=other, name="Private", query_string="code=1", shared=False)
    names = [view.name for view in client.get(LIST).context["saved_views"]]
    assert names == ["My queue", "Team queue"]


def test_it_deletes_only_its_own_saved_views(client, viewer):
    mine = SavedViewFactory(owner=viewer)
    theirs = SavedViewFactory(owner=UserFactory(), shared=True)
    assert client.post(reverse("saved-view-delete", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("saved-view-delete", args=[mine.pk])).status_code == 302
    assert list(SavedView.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_it_refuses_a_saved_view_without_a_name(client, viewer):
    client.post(reverse("saved-view-create"), {"name": " ", "query_string": "status=open"})
    assert not SavedView.objects.exists()


XSS_PAYLOADS = [
    "<script>alert('x')</script>",
    '<img src=x onerror="alert(1)">',
    "javascript:alert(document.cookie)",
    '"><svg onload=alert(1)>',
]


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_it_escapes_hostile_text_in_the_list_and_groups(client, viewer, payload):
    ErrorRecordFactory(
        message=payload,
        code=payload,
        source=payload,
        classification=payload,
        trace_key=payload,
        step=StepFactory(name=payload, flow=FlowFactory(name=payload)),
    )
    TagFactory(name=payload[:60])
    for params in ({}, {"group": "fingerprint"}, {"q": payload}, {"code": payload}):
        content = client.get(LIST, params).content.decode()
        assert "<script>alert" not in content
        assert "<img src=x" not in content
        assert "<svg onload" not in content
        assert 'href="javascript:' not in content


def test_it_uses_one_filterset_with_the_api_query_names():
    names = set(ErrorFilter.base_filters)
    api_names = {
        "account", "integration_id", "flow_id", "step_id", "source", "classification", "code", "status",
        "assignee", "team", "tag", "occurred_after", "occurred_before", "q", "ordering",
    }  # fmt: skip
    assert api_names <= names
    assert {"resolved_after", "resolved_before", "regression", "retry_outcome", "fingerprint"} <= names


def test_it_requires_login(client):
    assert client.get(LIST)["Location"].startswith("/login/")
    assert client.get(reverse("error-export"))["Location"].startswith("/login/")


def test_it_answers_the_results_fragment_to_htmx(client, pair):
    response = client.get(LIST, headers={"HX-Request": "true", "HX-Target": "results"})
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert 'data-testid="error-table"' in response.content.decode()


def test_it_keeps_the_list_query_count_bounded(client, viewer, django_assert_max_num_queries):
    tags = [TagFactory(name=f"t{n}") for n in range(3)]
    for _ in range(30):
        ErrorRecordFactory(tags=tags, assignee=viewer, team=TeamFactory(name="Ops"))
    with django_assert_max_num_queries(14):
        client.get(LIST, {"status": "open", "tag": "t1", "ordering": "-code"})
    with django_assert_max_num_queries(14):
        client.get(LIST, {"group": "fingerprint"})
    ErrorRecordFactory.create_batch(30)
    with django_assert_max_num_queries(14):
        client.get(LIST)
    assert ErrorRecord.objects.count() == 60


def test_it_counts_search_matches_up_to_a_lower_cap(client, viewer, monkeypatch):
    monkeypatch.setattr("dashboard.views.errors.SEARCH_COUNT_CAP", 2)
    ErrorRecordFactory.create_batch(3, message="Request timed out")
    response = client.get(LIST, {"q": "timed out"})
    assert str(response.context["count"]) == "more than 2"
    assert not client.get(LIST).context["count"].capped


def test_it_reuses_a_grouping_for_a_minute_and_says_when_it_was_counted(client, viewer):
    ErrorRecordFactory(message="Socket hang up")
    first = client.get(LIST, {"group": "fingerprint"})
    ErrorRecordFactory(message="Socket hang up")
    again = client.get(LIST, {"group": "fingerprint"})
    assert [g.count for g in again.context["groups"]] == [g.count for g in first.context["groups"]] == [1]
    assert "counted " in again.content.decode()
    assert [
        g.count for g in client.get(LIST, {"group": "fingerprint", "status": "open"}).context["groups"]
    ] == [2]
