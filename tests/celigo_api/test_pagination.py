"""nextPageURL forms and Link headers (docs/celigo-api.md §1.5)."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from celigo_api import ForeignNextPageURL
from celigo_api.pagination import keep_filters, parse_link_header, resolve_next_page_url

BASE = "https://api.integrator.io"
CURRENT = "https://api.integrator.io/v1/flows/f1/s1/errors?source=a"


def test_it_resolves_a_v1_path_against_the_base_url() -> None:
    assert (
        resolve_next_page_url("/v1/flows/f1/s1/errors?p=2", CURRENT, BASE)
        == BASE + "/v1/flows/f1/s1/errors?p=2"
    )


def test_it_keeps_the_region_prefix_of_the_base_url_for_a_v1_path() -> None:
    base = "http://127.0.0.1:8000/eu"
    current = base + "/v1/flows/f1/s1/errors"
    assert (
        resolve_next_page_url("/v1/flows/f1/s1/errors?p=2", current, base)
        == base + "/v1/flows/f1/s1/errors?p=2"
    )


def test_it_turns_an_api_path_into_a_v1_path() -> None:
    assert (
        resolve_next_page_url("/api/flows/f1/s1/errors?p=2", CURRENT, BASE)
        == BASE + "/v1/flows/f1/s1/errors?p=2"
    )


def test_it_does_not_double_v1_in_an_api_v1_path() -> None:
    assert (
        resolve_next_page_url("/api/v1/flows/f1/s1/errors", CURRENT, BASE) == BASE + "/v1/flows/f1/s1/errors"
    )


def test_it_resolves_a_relative_url_against_the_current_request() -> None:
    assert resolve_next_page_url("errors?p=2", CURRENT, BASE) == BASE + "/v1/flows/f1/s1/errors?p=2"
    assert resolve_next_page_url("?p=2", CURRENT, BASE) == BASE + "/v1/flows/f1/s1/errors?p=2"


def test_it_resolves_a_path_relative_to_the_v1_root() -> None:
    expected = BASE + "/v1/flows/f1/s1/errors?after=9"
    assert resolve_next_page_url("flows/f1/s1/errors?after=9", CURRENT, BASE) == expected
    eu = "http://127.0.0.1:8000/eu"
    assert (
        resolve_next_page_url("flows/f1/s1/errors?after=9", eu + "/v1/flows/f1/s1/errors", eu)
        == eu + "/v1/flows/f1/s1/errors?after=9"
    )


def test_it_follows_an_absolute_url_on_the_same_origin() -> None:
    url = "https://api.integrator.io:443/v1/flows/f1/s1/errors?p=2"
    assert resolve_next_page_url(url, CURRENT, BASE) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/v1/flows/f1/s1/errors?p=2",
        "http://api.integrator.io/v1/flows/f1/s1/errors",
        "https://api.integrator.io:8443/v1/flows",
        "//evil.example.com/v1/flows",
    ],
)
def test_it_refuses_an_absolute_url_on_another_origin(url: str) -> None:
    with pytest.raises(ForeignNextPageURL, match="another host"):
        resolve_next_page_url(url, CURRENT, BASE)


def test_it_re_appends_filters_the_next_url_lacks() -> None:
    url = keep_filters(BASE + "/v1/x?after=abc", [("source", "a"), ("source", "b"), ("occurredAt_gte", "T")])
    assert parse_qsl(urlsplit(url).query) == [
        ("after", "abc"),
        ("source", "a"),
        ("source", "b"),
        ("occurredAt_gte", "T"),
    ]


def test_it_leaves_filters_the_next_url_already_has() -> None:
    url = BASE + "/v1/x?after=abc&source=a&source=b"
    assert keep_filters(url, [("source", "a"), ("source", "b")]) == url


def test_it_parses_link_headers() -> None:
    header = (
        '<https://api.integrator.io/v1/flows?skip=100&limit=1000>; rel="next", '
        '</v1/flows?skip=0>; rel="first"'
    )
    assert parse_link_header(header) == {
        "next": "https://api.integrator.io/v1/flows?skip=100&limit=1000",
        "first": "/v1/flows?skip=0",
    }


def test_it_parses_an_absent_or_odd_link_header() -> None:
    assert parse_link_header(None) == {}
    assert parse_link_header("garbage") == {}
    assert parse_link_header("<a>; rel=next") == {"next": "a"}
