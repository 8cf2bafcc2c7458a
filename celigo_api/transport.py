"""The one place that touches ``requests``.

Everything the HTTP library can raise is turned into our own :class:`ConnectionFailed` here, with a note of
whether the request can have reached Celigo; tests that need a network failure mock exactly this seam (or the
``requests`` adapter under it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from celigo_api.errors import ConnectionFailed


@dataclass(frozen=True)
class HttpResponse:
    """A fully read response: status, headers (case-insensitive), body bytes, the URL actually requested."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    elapsed: float


# urllib3 reasons that mean no byte of the request left this machine.
_NOT_SENT_REASONS: tuple[type[BaseException], ...] = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
)


def _was_sent(exc: requests.RequestException) -> bool:
    """Could the server have received the request? When unsure, yes: that is the safe answer."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return False
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        if isinstance(reason, urllib3.exceptions.MaxRetryError):
            reason = reason.reason
        return not isinstance(reason, _NOT_SENT_REASONS)
    return True


def path_of(url: str) -> str:
    """The path of ``url`` without host or query, for messages and logs."""
    return urlsplit(url).path or "/"


class Transport:
    """Sends one HTTP request and reads its whole body; never retries (urllib3 retries stay off)."""

    def __init__(self, session: requests.Session | None = None, timeout: float = 30.0) -> None:
        self.session = session or requests.Session()
        self.timeout = timeout

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Sequence[tuple[str, str]] | None = None,
        json_body: Any = None,
    ) -> HttpResponse:
        """Send the request; raise :class:`ConnectionFailed` for any network-level failure."""
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                headers=dict(headers),
                params=list(params) if params else None,
                json=json_body,
                timeout=self.timeout,
                allow_redirects=False,  # a redirect to another host would carry the token there
            )
            body = response.content  # read inside the try: a reset mid-body raises here
        except requests.RequestException as exc:
            sent = _was_sent(exc)
            phase = "after sending" if sent else "before sending"
            # "from None": the requests exception holds the prepared request, Authorization header included,
            # and error trackers that walk __cause__ would record it.
            raise ConnectionFailed(
                f"{type(exc).__name__} {phase}: {exc}", request_sent=sent, method=method, path=path_of(url)
            ) from None
        return HttpResponse(
            status=response.status_code,
            headers=response.headers,
            body=body,
            url=response.url or url,
            elapsed=time.monotonic() - started,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self.session.close()
