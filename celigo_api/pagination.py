"""Where the next page is: ``nextPageURL`` in the body and ``Link`` headers (docs/celigo-api.md §1.5).

Pure functions over URLs; the client does the fetching.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from celigo_api.errors import ForeignNextPageURL

QueryParams = Sequence[tuple[str, str]]

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url`` with default ports made explicit, for same-origin checks."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS.get(scheme)


def ensure_same_origin(url: str, base_url: str) -> None:
    """Refuse a URL on another scheme, host or port: the client would send the account's token there."""
    if origin(url) != origin(base_url):
        shown = urlunsplit(urlsplit(url)._replace(query="", fragment=""))
        raise ForeignNextPageURL(f"refusing to follow a next-page URL on another host: {shown}")


def resolve_next_page_url(next_url: str, current_url: str, base_url: str) -> str:
    """Turn any of the four ``nextPageURL`` forms into an absolute URL on ``base_url``'s host.

    ``base_url`` is the API root without ``/v1`` (it may carry a path prefix, e.g. a region or a proxy).

    * ``/v1/...``: appended to ``base_url``, keeping its path prefix (§1.5.2, INFERRED).
    * ``/api/...``: the product UI's form; ``/api`` is stripped and ``/v1`` put in its place, as the UI does
      against ``integrator.io/api`` (§1.1, §1.5.2). ``/api/v1/...`` is not doubled.
    * absolute ``http(s)://...``: followed only on the same scheme, host and port as ``base_url``.
    * anything else is relative. ``?after=x`` and ``errors?after=x`` resolve against the URL of the page
      just read (RFC 3986). A path that starts with the same collection as the current one after ``/v1/``
      (``flows/F/S/errors?…`` while reading ``/v1/flows/…``) is taken as relative to the ``/v1`` root
      instead, since RFC resolution would nest it (``/v1/flows/F/S/flows/F/S/errors``). Which of the two
      Celigo sends, if either, is unknown (INFERRED), so both are accepted.
    """
    next_url = next_url.strip()
    root = base_url.rstrip("/")
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", next_url) or next_url.startswith("//"):
        absolute = urljoin(current_url, next_url)
        ensure_same_origin(absolute, base_url)
        return absolute
    if next_url == "/v1" or next_url.startswith(("/v1/", "/v1?")):
        return root + next_url
    if next_url == "/api" or next_url.startswith(("/api/", "/api?")):
        rest = next_url[len("/api") :]
        if not (rest.startswith("/v1/") or rest.startswith("/v1?")):
            rest = "/v1" + rest
        return root + rest
    resolved = urljoin(_api_root_for(next_url, current_url) or current_url, next_url)
    ensure_same_origin(resolved, base_url)
    return resolved


def _api_root_for(next_url: str, current_url: str) -> str | None:
    """The ``…/v1/`` root of ``current_url`` when ``next_url`` names the same top collection, else None."""
    parts = urlsplit(current_url)
    marker = parts.path.find("/v1/")
    if marker < 0 or next_url.startswith(("?", "#", ".")):
        return None
    root_path = parts.path[: marker + len("/v1/")]
    collection = parts.path[len(root_path) :].split("/", 1)[0]
    first = re.split(r"[/?#]", next_url, maxsplit=1)[0]
    if not collection or first != collection:
        return None
    return urlunsplit(parts._replace(path=root_path, query="", fragment=""))


def keep_filters(url: str, filters: QueryParams) -> str:
    """Re-append every caller filter whose name the next URL lacks, as the product UI does (§1.5.2).

    A name already present in the next URL wins (the server may have rewritten it, e.g. a cursor window);
    a repeated filter (``source=a&source=b``) is re-added whole.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {name for name, _ in query}
    missing = [(name, value) for name, value in filters if name not in present]
    if not missing:
        return url
    return urlunsplit(parts._replace(query=urlencode(query + missing)))


_LINK_PART = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")


def parse_link_header(value: str | None) -> dict[str, str]:
    """Map each ``rel`` of an RFC 5988 ``Link`` header to its URL (§1.5.1)."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK_PART.finditer(value):
        url, params = match.group(1).strip(), match.group(2)
        for param in params.split(";"):
            name, _, rel_value = param.strip().partition("=")
            if name.strip().lower() == "rel":
                for rel in rel_value.strip().strip('"').split():
                    links.setdefault(rel.lower(), url)
    return links
