"""No input gives a 500: every GET and POST parameter of the list, count, export, grouped list, drill-down,
actions, batch and retry-data views, driven with generated hostile values (hypothesis).

The values are what a script or a hostile person sends rather than what a browser does: huge and negative
numbers, times outside any calendar a database keeps, NUL characters and lone surrogates (percent-encoded
as the bytes a client would send), JSON nested past any parser's stack, megabyte strings and unknown
choices. The suite runs this on PostgreSQL and again on SQLite (Makefile ``EMBEDDED_TESTS``).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.models import CeligoAccount
from dashboard.queries.filters import ErrorFilter
from tests.dashboard.factories import ActionBatchFactory, ErrorRecordFactory

pytestmark = pytest.mark.django_db

FILTER_PARAMS = sorted(ErrorFilter.base_filters)
VIEW_PARAMS = ["page", "group", "group_ordering", "ordering", "unknown"]
ACTION_PARAMS = ["action", "ids", "select_all", "filter", "confirmed", "assignee", "team", "tags", "text"]

EDGE_VALUES = [
    "",
    " ",
    "0",
    "-1",
    "1" + "0" * 25,
    "9" * 40,
    "1e309",
    "NaN",
    "me",
    "none",
    "mine",
    "resolve",
    "retry",
    "set_team",
    "fingerprint",
    "-count",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-05:00",
    "2026-02-30T00:00:00Z",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff\ud800",
    "%00",
    "' OR 1=1 --",
    "[" * 100_000,
    '{"a": "\\ud800"}',
    '{"\\u0000": 1}',
    "x" * 1_000_000,
]


hostile = st.one_of(
    st.sampled_from(EDGE_VALUES),
    st.text(max_size=30),
    st.tuples(st.text(max_size=10), st.sampled_from(["\x00", "\ud800", "\udc00"])).map("".join),
)


moments = st.one_of(
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00", "2026-02-30T00:00:00Z"]),
    st.builds(
        lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
        st.integers(min_value=-23 * 60, max_value=23 * 60),
    ),
)
numbers = st.one_of(
    st.sampled_from(["1" + "0" * 25, "9" * 40, "-1", "0", "1e309"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
# Each parameter's own kind of trouble, besides what every parameter gets.
TYPED = {
    **dict.fromkeys(["occurred_after", "occurred_before", "resolved_after", "resolved_before"], moments),
    **dict.fromkeys(["page", "parent", "account", "ids", "assignee", "team"], numbers),
}


def value_for(name: str) -> st.SearchStrategy[str]:
    return TYPED.get(name, hostile) | hostile


def params(focus: str, others: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """The parameter in focus with a hostile value of its kind, and up to two others, in any order.

    Only a few at a time: one invalid value makes a whole filter invalid, which would hide what another
    does to the query.
    """
    other = st.sampled_from(others).flatmap(lambda name: st.tuples(st.just(name), value_for(name)))
    return st.tuples(value_for(focus), st.lists(other, max_size=2)).flatmap(
        lambda drawn: st.permutations([(focus, drawn[0]), *drawn[1]])
    )


def encoded(pairs: list[tuple[str, str]]) -> str:
    """Percent-encoded UTF-8, lone surrogates included (the bytes a hostile client can send)."""
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass")


@pytest.fixture
def world(triager, restricted, warehouse):
    account = CeligoAccount(name="Unreachable", base_url="http://127.0.0.1:9", region="")
    account.token = "not-a-real-token"
    account.save()
    error = ErrorRecordFactory(account=account, retry_data_key="rdk", team=warehouse)
    ErrorRecordFactory(account=account)
    batch = ActionBatchFactory(actor=triager)
    clients = {}
    for user in (triager, restricted):
        client = Client(raise_request_exception=False)
        client.force_login(user)
        clients[user.username] = client
    return {"error": error, "batch": batch, "clients": clients}


EXAMPLES = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
persona = st.sampled_from(["triager", "restricted"])


def assert_no_server_error(response, what: str) -> None:
    assert response.status_code < 500, what
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)  # a stream that dies half-way is a 500 too


LIST_PARAMS = FILTER_PARAMS + VIEW_PARAMS
LIST_URLS = ["/errors/", "/errors/count/", "/errors/export.csv", "/errors/?group=fingerprint&"]
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("focus", LIST_PARAMS)
def test_the_list_the_count_the_export_and_the_groups(world, focus):
    @EXAMPLES
    @given(url=st.sampled_from(LIST_URLS), query=params(focus, LIST_PARAMS), who=persona)
    def check(url, query, who):
        joiner = "" if url.endswith("&") else "?"
        response = world["clients"][who].get(f"{url}{joiner}{encoded(query)}")
        assert_no_server_error(response, f"{url} {query!r}"[:500])

    check()


DRILL_PARAMS = ["level", "parent", "account"]


@pytest.mark.parametrize("focus", DRILL_PARAMS)
def test_the_drill_down(world, focus):
    @EXAMPLES
    @given(query=params(focus, DRILL_PARAMS), who=persona)
    def check(query, who):
        response = world["clients"][who].get(f"/overview/drill/?{encoded(query)}")
        assert_no_server_error(response, repr(query)[:500])

    check()


@pytest.mark.parametrize("focus", ACTION_PARAMS)
def test_bulk_actions(world, focus):
    @EXAMPLES
    @given(form=params(focus, ACTION_PARAMS), who=persona, htmx=st.booleans())
    def check(form, who, htmx):
        headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
        response = world["clients"][who].post("/errors/actions/", encoded(form), content_type=FORM, **headers)
        assert_no_server_error(response, repr(form)[:500])

    check()


@pytest.mark.parametrize("focus", ACTION_PARAMS)
def test_actions_on_one_error(world, focus):
    url = f"/errors/{world['error'].pk}/actions/"

    @EXAMPLES
    @given(form=params(focus, ACTION_PARAMS), who=persona)
    def check(form, who):
        response = world["clients"][who].post(url, encoded(form), content_type=FORM)
        assert_no_server_error(response, repr(form)[:500])

    check()


BATCH_PARAMS = ["page", "mine", "unknown"]


@pytest.mark.parametrize("focus", BATCH_PARAMS)
@pytest.mark.parametrize("path", ["/actions/", "/actions/{batch}/", "/actions/{batch}/progress/"])
def test_the_batch_pages(world, path, focus):
    url = path.format(batch=world["batch"].pk)

    @EXAMPLES
    @given(query=params(focus, BATCH_PARAMS), who=persona)
    def check(query, who):
        response = world["clients"][who].get(f"{url}?{encoded(query)}")
        assert_no_server_error(response, f"{url} {query!r}"[:500])

    check()


RETRY_DATA_PARAMS = ["data", "before", "then_retry"]


@pytest.mark.parametrize("focus", RETRY_DATA_PARAMS)
@pytest.mark.parametrize("view", ["review", "save"])
def test_the_retry_data_editor(world, view, focus):
    url = f"/errors/{world['error'].pk}/retry-data/{view}/"

    @EXAMPLES
    @given(form=params(focus, RETRY_DATA_PARAMS), who=persona)
    def check(form, who):
        response = world["clients"][who].post(url, encoded(form), content_type=FORM)
        assert_no_server_error(response, f"{view} {form!r}"[:500])

    check()


def test_the_generated_values_reach_the_views_as_sent(world):
    """The encoding is not what keeps these tests green: a NUL arrives (and is refused) as sent."""
    response = world["clients"]["triager"].get(f"/errors/?{encoded([('code', 'a' + chr(0))])}")
    assert response.status_code == 400
