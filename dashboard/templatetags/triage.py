"""Template helpers for the triage pages. Third-party text is never marked safe here."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from django import template

from dashboard import timeline
from dashboard.models import Activity

register = template.Library()


@register.filter
def sentence(activity: Activity) -> str:
    """What a timeline entry says, rendered from its kind and data (escaped by the template)."""
    return timeline.describe(activity)


@register.filter
def http_url(value: Any) -> str:
    """The value when it is an http(s) URL, else "": Celigo-provided links must not run script."""
    text = str(value or "").strip()
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return ""
    return text if scheme in {"http", "https"} else ""


@register.filter
def as_query(params: dict[str, str]) -> str:
    return urlencode(params)


@register.simple_tag
def sort_query(filter_query: str, column: str, current: str) -> str:
    """The list query sorted on ``column``: ascending first, descending when it is already ascending."""
    pairs = [(k, v) for k, v in parse_qsl(filter_query) if k != "ordering"]
    target = f"-{column}" if current == column else column
    return urlencode([*pairs, ("ordering", target)])


@register.simple_tag
def with_params(filter_query: str, **params: Any) -> str:
    pairs = [(k, v) for k, v in parse_qsl(filter_query) if k not in params]
    pairs += [(k, str(v)) for k, v in params.items() if v not in (None, "")]
    return urlencode(pairs)


@register.simple_tag
def without(filter_query: str, name: str, value: str) -> str:
    return urlencode([(k, v) for k, v in parse_qsl(filter_query) if (k, v) != (name, value)])


@register.simple_tag
def toggle_order(current: str, key: str) -> str:
    """Descending first (biggest groups, newest), ascending on the second click."""
    return key if current == f"-{key}" else f"-{key}"
