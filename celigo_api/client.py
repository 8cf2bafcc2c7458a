"""The Celigo integrator.io client: every call the dashboard makes, paced and retried."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import requests

from celigo_api.errors import (
    AuthenticationFailed,
    CeligoError,
    ConnectionFailed,
    MalformedResponse,
    OutcomeUnknown,
    RateLimited,
    error_for_status,
)
from celigo_api.models import (
    ChunkOutcome,
    Export,
    Flow,
    FlowErrorCount,
    HttpExchange,
    Import,
    Integration,
    Job,
    RetryData,
    StepError,
    StepErrorCount,
    Tag,
    TokenInfo,
    User,
    as_str,
    format_timestamp,
)
from celigo_api.pagination import keep_filters, parse_link_header, resolve_next_page_url
from celigo_api.ratelimit import BucketConfig, InProcessLimiter, Limiter
from celigo_api.retry import RetryPolicy
from celigo_api.transport import HttpResponse, Transport, path_of

logger = logging.getLogger("celigo_api")

#: API roots per region (docs/celigo-api.md §1.1). AU and CA come from the newest GH-AI file only.
REGION_BASE_URLS = {
    "na": "https://api.integrator.io",
    "us": "https://api.integrator.io",
    "eu": "https://api.eu.integrator.io",
    "au": "https://api.au.integrator.io",
    "ca": "https://api.ca.integrator.io",
}

#: Standalone flows are summarised under this pseudo integration id, as the product UI does (§2.1).
STANDALONE_INTEGRATION_ID = "none"

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})

# One bucket per account for every client of this process when no limiter is injected.
_PROCESS_LIMITER = InProcessLimiter()

T = TypeVar("T")
Params = list[tuple[str, str]]


@dataclass
class ClientStats:
    """Counters a sync run records. ``calls`` counts HTTP attempts, retries included."""

    calls: int = 0
    rate_limited: int = 0
    retries: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    limiter_wait_seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def reset(self) -> None:
        """Zero every counter (start of a run)."""
        for name in self.as_dict():
            setattr(self, name, type(getattr(self, name))())


@dataclass(frozen=True)
class RequestEvent:
    """Passed to ``on_request`` after every HTTP attempt. Carries no headers and no query string."""

    method: str
    path: str
    status: int | None
    elapsed: float
    attempt: int
    error: str | None


def limiter_key_for_token(token: str) -> str:
    """The default limiter key: a hash of the token, so the token itself never reaches Redis or a file."""
    return "token-" + hashlib.sha256(token.encode()).hexdigest()[:24]


def _normalise_token(token: str) -> str:
    # A pasted "Bearer abc" would be sent as "Bearer Bearer abc", which Celigo answers with
    # 400 "Bearer Authentication Failed" (docs/celigo-api.md §1.2).
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[len("bearer ") :].strip()
    return token


def _normalise_base_url(base_url: str) -> str:
    base = base_url.strip().rstrip("/")
    if base.endswith("/v1"):
        base = base[: -len("/v1")]
    return base


def _seg(value: str) -> str:
    """One URL path segment; ids are hex, but keys are Celigo's strings and must not smuggle a '/'."""
    return quote(str(value), safe="")


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CeligoClient:
    """A client for one Celigo account.

    Every call waits for room in the account's leaky bucket (``limiter``, keyed by ``limiter_key``; by
    default a bucket shared by the clients of this process), then retries according to ``retry_policy``.
    Any single wait longer than ``max_wait`` seconds raises :class:`RateLimited` with ``retry_after`` instead
    of sleeping, so a background task can reschedule itself.

    ``region`` picks the API root (``na``, ``eu``, ``au``, ``ca``); ``base_url`` overrides it (a proxy, the
    simulator) and may carry a path prefix. The token is sent only to that origin.
    """

    def __init__(
        self,
        token: str,
        region: str = "na",
        base_url: str | None = None,
        limiter: Limiter | None = None,
        limiter_key: str | None = None,
        bucket: BucketConfig | None = None,
        timeout: float = 30.0,
        max_wait: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        chunk_size: int = 1000,
        on_request: Callable[[RequestEvent], None] | None = None,
        session: requests.Session | None = None,
        jobs_page_size: int = 1000,
        pacing_margin: float = 0.02,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        token = _normalise_token(token)
        if not token:
            raise ValueError("a Celigo API token is required")
        if base_url is None:
            try:
                base_url = REGION_BASE_URLS[region.lower()]
            except KeyError:
                raise ValueError(f"unknown Celigo region {region!r}; give base_url instead") from None
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.__token = token
        self.base_url = _normalise_base_url(base_url)
        self.region = region
        self.limiter: Limiter = limiter if limiter is not None else _PROCESS_LIMITER
        self.limiter_key = limiter_key or limiter_key_for_token(token)
        self.bucket = bucket or BucketConfig()
        self.max_wait = max_wait
        self.retry_policy = retry_policy or RetryPolicy()
        self.chunk_size = chunk_size
        self.jobs_page_size = jobs_page_size
        self.on_request = on_request
        self.stats = ClientStats()
        self._transport = Transport(session, timeout=timeout)
        self._sleep = sleep
        self._pacing_bucket = _paced(self.bucket, pacing_margin)
        self._stats_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CeligoClient(base_url={self.base_url!r}, limiter_key={self.limiter_key!r}, token='***')"

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()

    def __enter__(self) -> CeligoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the request loop -------------------------------------------------------------------------------

    def _url(self, *segments: str) -> str:
        return self.base_url + "/v1/" + "/".join(segments)

    def _count(self, name: str, amount: float = 1) -> None:
        with self._stats_lock:
            setattr(self.stats, name, getattr(self.stats, name) + amount)

    def _pace(self) -> None:
        reservation = self.limiter.reserve(self.limiter_key, self._pacing_bucket, self.max_wait)
        if not reservation.granted:
            raise RateLimited(
                f"the account's request budget is exhausted for {reservation.wait:.1f}s",
                retry_after=reservation.wait,
            )
        if reservation.wait > 0:
            self._count("limiter_wait_seconds", reservation.wait)
            self._sleep(reservation.wait)

    def _request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> tuple[HttpResponse, Any]:
        """Send one logical call: pace, send, map errors, parse JSON, retry as the policy says.

        Returns the response and its parsed JSON body (None for 204 or an empty body).
        """
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS
        headers = {"Authorization": f"Bearer {self.__token}", "Accept": "application/json"}
        attempt = 0
        while True:
            self._pace()
            attempt += 1
            try:
                return self._attempt(method, url, headers, params, json_body, attempt, idempotent)
            except CeligoError as exc:
                error = self._redacted(exc)
            wait = self.retry_policy.decide(attempt, idempotent, error)
            if wait is None:
                raise error
            if wait > self.max_wait:
                if isinstance(error, RateLimited):
                    raise RateLimited(
                        error.message, retry_after=wait, status=error.status, method=method, path=error.path
                    ) from None
                raise error
            self._count("retries")
            logger.info("retrying %s %s in %.2fs after %s", method, path_of(url), wait, type(error).__name__)
            self._sleep(wait)

    def _redacted(self, error: CeligoError) -> CeligoError:
        """Mask the token in a message: a server or proxy may echo the Authorization header back."""
        token = self.__token
        if token in error.message or any(token in d.message for d in error.details):
            error.message = error.message.replace(token, "***")
            error.args = (error.message,)
            error.details = tuple(replace(d, message=d.message.replace(token, "***")) for d in error.details)
        return error

    def _attempt(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        params: Params | None,
        json_body: Any,
        attempt: int,
        idempotent: bool,
    ) -> tuple[HttpResponse, Any]:
        self._count("calls")
        path = path_of(url)
        try:
            response = self._transport.send(method, url, headers=headers, params=params, json_body=json_body)
        except ConnectionFailed as exc:
            self._count("connection_errors")
            self._emit(method, path, None, 0.0, attempt, type(exc).__name__)
            if exc.request_sent and not idempotent:
                raise OutcomeUnknown(
                    f"no response after sending ({exc.message}); Celigo may have acted on it",
                    method=method,
                    path=path,
                ) from None
            raise
        self._emit(method, path, response.status, response.elapsed, attempt, None)
        logger.debug("%s %s -> %s in %.3fs", method, path, response.status, response.elapsed)
        if response.status >= 400:
            if response.status == 429:
                self._count("rate_limited")
            elif response.status >= 500:
                self._count("server_errors")
            raise error_for_status(
                response.status,
                response.body,
                retry_after=_retry_after(response.headers.get("Retry-After")),
                method=method,
                path=path,
            )
        if 300 <= response.status < 400:
            raise MalformedResponse(
                f"unexpected redirect ({response.status}); not followed",
                status=response.status,
                method=method,
                path=path,
            )
        # 204, or any 2xx without a body, is "nothing": Celigo answers an empty list with 204 (§1.4).
        if response.status == 204 or not response.body.strip():
            return response, None
        try:
            return response, json.loads(response.body)
        except ValueError:
            raise MalformedResponse(
                "the response body is not valid JSON", status=response.status, method=method, path=path
            ) from None

    def _emit(
        self, method: str, path: str, status: int | None, elapsed: float, attempt: int, error: str | None
    ) -> None:
        if self.on_request is not None:
            self.on_request(RequestEvent(method, path, status, elapsed, attempt, error))

    def _get(self, url: str, params: Params | None = None) -> Any:
        return self._request("GET", url, params=params)[1]

    # --- pagination -------------------------------------------------------------------------------------

    def _iter_link_list(self, url: str, params: Params | None) -> Iterator[Any]:
        """Items of a Link-paged list (§1.5.1). The next link is followed as given: it is opaque."""
        current: str | None = url
        while current is not None:
            response, body = self._request("GET", current, params=params)
            yield from _as_list(body, response)
            next_link = parse_link_header(response.headers.get("Link")).get("next")
            if not next_link:
                return
            following = resolve_next_page_url(next_link, response.url, self.base_url)
            if following == response.url:
                raise MalformedResponse(
                    "the Link header's next page is the page just read", path=path_of(url)
                )
            current, params = following, None

    def _iter_next_page_url(self, url: str, params: Params, key: str) -> Iterator[Any]:
        """Items of a ``nextPageURL``-paged list (§1.5.2), the caller's filters kept on every page."""
        current: str | None = url
        query: Params | None = params
        while current is not None:
            response, body = self._request("GET", current, params=query)
            if body is None:
                return
            if not isinstance(body, Mapping):
                raise MalformedResponse(f"expected an object with {key!r}", path=path_of(url))
            items = body.get(key)
            if items is None and key != "errors":
                # INFERRED tolerance: a resolved list that uses the open list's key (§2.5 names `resolved`).
                items = body.get("errors")
            if items is not None and not isinstance(items, list):
                raise MalformedResponse(f"{key!r} is not a list", path=path_of(url))
            yield from items or ()
            next_page = body.get("nextPageURL")
            if not isinstance(next_page, str) or not next_page.strip():
                return  # no nextPageURL means no more pages, as in the product UI (§1.5.2)
            following = keep_filters(resolve_next_page_url(next_page, response.url, self.base_url), params)
            if following == response.url:
                raise MalformedResponse("nextPageURL points at the page just read", path=path_of(url))
            current, query = following, None

    # --- account and metadata ---------------------------------------------------------------------------

    def token_info(self) -> TokenInfo:
        """``GET /v1/tokenInfo``: the cheap health check of a token (§1.2)."""
        return TokenInfo.from_json(self._get(self._url("tokenInfo")))

    def iter_integrations(self, include: Iterable[str] = ()) -> Iterator[Integration]:
        """All integrations (§4.3). ``include`` switches to the summary projection (§1.5.1)."""
        for item in self._iter_link_list(self._url("integrations"), _include(include)):
            yield Integration.from_json(item)

    def iter_flows(self, integration_id: str | None = None, include: Iterable[str] = ()) -> Iterator[Flow]:
        """All flows, or those of one integration (``_integrationId`` filter, §4.1)."""
        params = _include(include)
        if integration_id is not None:
            params.append(("_integrationId", integration_id))
        for item in self._iter_link_list(self._url("flows"), params):
            yield Flow.from_json(item)

    def get_flow(self, flow_id: str) -> Flow:
        """One flow (§4.1)."""
        return Flow.from_json(self._get(self._url("flows", _seg(flow_id))))

    def iter_exports(
        self, integration_id: str | None = None, include: Iterable[str] = ()
    ) -> Iterator[Export]:
        """All exports (§4.3)."""
        params = _include(include)
        if integration_id is not None:
            params.append(("_integrationId", integration_id))
        for item in self._iter_link_list(self._url("exports"), params):
            yield Export.from_json(item)

    def iter_imports(
        self, integration_id: str | None = None, include: Iterable[str] = ()
    ) -> Iterator[Import]:
        """All imports (§4.3)."""
        params = _include(include)
        if integration_id is not None:
            params.append(("_integrationId", integration_id))
        for item in self._iter_link_list(self._url("imports"), params):
            yield Import.from_json(item)

    def iter_users(self) -> Iterator[User]:
        """Users with access to the account, from ``/v1/ashares`` (§4.4; the owner is not listed)."""
        for item in self._iter_link_list(self._url("ashares"), None):
            yield User.from_json(item)

    def iter_tags(self) -> Iterator[Tag]:
        """Tag definitions, ``GET /v1/tags`` (§2.13)."""
        for item in self._iter_link_list(self._url("tags"), None):
            yield Tag.from_json(item)

    def error_filter_metadata(self) -> dict[str, list[str]]:
        """The enums of the error filters (``source``, ``classification``), §2.4."""
        body = self._get(self._url("errors", "filterMetadata"))
        filters = body.get("filters") if isinstance(body, Mapping) else None
        result: dict[str, list[str]] = {}
        for entry in filters if isinstance(filters, list) else []:
            if isinstance(entry, Mapping) and isinstance(entry.get("enums"), list):
                result[str(entry.get("name"))] = [str(v) for v in entry["enums"]]
        return result

    # --- error summaries and lists ----------------------------------------------------------------------

    def integration_error_summary(
        self, integration_id: str | None, sandbox: bool = False
    ) -> list[FlowErrorCount]:
        """Open-error counts per flow of one integration (§2.1). None or ``"none"`` means standalone flows."""
        url = self._url("integrations", _seg(integration_id or STANDALONE_INTEGRATION_ID), "errors")
        body = self._get(url, [("sandbox", "true")] if sandbox else None)
        return [FlowErrorCount.from_json(row) for row in _rows(body, ("flowErrors", "errors"), url)]

    def flow_error_summary(self, flow_id: str) -> list[StepErrorCount]:
        """Open-error counts per step of one flow (§2.2); steps without errors may appear with 0."""
        url = self._url("flows", _seg(flow_id), "errors")
        return [StepErrorCount.from_json(row) for row in _rows(self._get(url), ("flowErrors",), url)]

    def iter_open_errors(
        self,
        flow_id: str,
        step_id: str,
        occurred_after: datetime | str | None = None,
        occurred_before: datetime | str | None = None,
        sources: Iterable[str] = (),
        classifications: Iterable[str] = (),
        flow_job_id: str | None = None,
    ) -> Iterator[StepError]:
        """The open errors of one step, every page (§2.3). Bounds are inclusive (``_gte`` / ``_lte``)."""
        params = _error_filters(
            "occurredAt", occurred_after, occurred_before, sources, classifications, flow_job_id
        )
        url = self._url("flows", _seg(flow_id), _seg(step_id), "errors")
        for item in self._iter_next_page_url(url, params, "errors"):
            yield StepError.from_json(item)

    def iter_resolved_errors(
        self,
        flow_id: str,
        step_id: str,
        resolved_after: datetime | str | None = None,
        resolved_before: datetime | str | None = None,
        sources: Iterable[str] = (),
        classifications: Iterable[str] = (),
        flow_job_id: str | None = None,
    ) -> Iterator[StepError]:
        """The resolved errors of one step, every page (§2.5; the body's key is ``resolved``)."""
        params = _error_filters(
            "resolvedAt", resolved_after, resolved_before, sources, classifications, flow_job_id
        )
        url = self._url("flows", _seg(flow_id), _seg(step_id), "resolved")
        for item in self._iter_next_page_url(url, params, "resolved"):
            yield StepError.from_json(item)

    # --- actions on errors ------------------------------------------------------------------------------

    def _run_chunks(
        self,
        items: Sequence[T],
        send: Callable[[Sequence[T]], Any],
        ids_of: Callable[[Sequence[T]], tuple[Any, ...]] = tuple,
    ) -> list[ChunkOutcome]:
        """Send ``items`` in chunks of at most ``chunk_size``; one outcome per chunk.

        A failed chunk is recorded and the next one is tried; only :class:`AuthenticationFailed` propagates,
        because every later chunk would fail the same way.
        """
        outcomes: list[ChunkOutcome] = []
        for chunk in _chunks(items, self.chunk_size):
            ids = ids_of(chunk)
            try:
                body = send(chunk)
            except AuthenticationFailed:
                raise
            except CeligoError as exc:
                outcomes.append(ChunkOutcome(ids=ids, ok=False, error=exc))
                continue
            outcomes.append(ChunkOutcome(ids=ids, ok=True, response=body, job_id=_job_id(body)))
        return outcomes

    def resolve_errors(self, flow_id: str, step_id: str, error_ids: Sequence[str]) -> list[ChunkOutcome]:
        """Resolve errors: ``PUT …/resolved {"errors": [ids]}``, 204 (§2.6). Idempotent, so retried."""
        url = self._url("flows", _seg(flow_id), _seg(step_id), "resolved")
        return self._run_chunks(
            list(error_ids), lambda chunk: self._request("PUT", url, json_body={"errors": list(chunk)})[1]
        )

    def purge_resolved_errors(
        self, flow_id: str, step_id: str, error_ids: Sequence[str]
    ) -> list[ChunkOutcome]:
        """Delete resolved errors for good: ``DELETE …/resolved {"errors": [ids]}`` (§2.7)."""
        url = self._url("flows", _seg(flow_id), _seg(step_id), "resolved")
        return self._run_chunks(
            list(error_ids), lambda chunk: self._request("DELETE", url, json_body={"errors": list(chunk)})[1]
        )

    def retry_errors(self, flow_id: str, step_id: str, retry_data_keys: Sequence[str]) -> list[ChunkOutcome]:
        """Retry errors: ``POST …/retry {"retryDataKeys": [...]}`` (§2.8); ``job_id`` is the retry job.

        A retry writes to the destination system, so a chunk whose response was lost is reported as
        :class:`OutcomeUnknown` and never sent again by the client.
        """
        url = self._url("flows", _seg(flow_id), _seg(step_id), "retry")
        return self._run_chunks(
            list(retry_data_keys),
            lambda chunk: self._request("POST", url, json_body={"retryDataKeys": list(chunk)})[1],
        )

    def get_retry_data(self, flow_id: str, step_id: str, retry_data_key: str) -> RetryData:
        """``GET …/{retryDataKey}/data`` (§2.9)."""
        return RetryData.from_json(
            self._get(self._url("flows", _seg(flow_id), _seg(step_id), _seg(retry_data_key), "data"))
        )

    def put_retry_data(
        self, flow_id: str, step_id: str, retry_data_key: str, retry_data: RetryData | Mapping[str, Any]
    ) -> Any:
        """Replace the retry data: ``PUT …/{retryDataKey}/data`` with the *whole* object (§2.9).

        Pass the :class:`RetryData` from :meth:`get_retry_data` after :meth:`RetryData.with_data`, or the
        whole dict; PUT erases omitted fields (§1.6).
        """
        body = retry_data.raw if isinstance(retry_data, RetryData) else dict(retry_data)
        url = self._url("flows", _seg(flow_id), _seg(step_id), _seg(retry_data_key), "data")
        return self._request("PUT", url, json_body=body)[1]

    def get_request_log(self, flow_id: str, step_id: str, req_and_res_key: str) -> HttpExchange:
        """The HTTP request and response behind an error: ``GET …/requests/{reqAndResKey}`` (§2.10)."""
        url = self._url("flows", _seg(flow_id), _seg(step_id), "requests", _seg(req_and_res_key))
        return HttpExchange.from_json(self._get(url))

    def assign_errors(
        self,
        flow_id: str,
        step_id: str,
        error_ids: Sequence[str],
        email: str | None,
        variant: Literal["put", "post"] = "put",
        user_id: str | None = None,
    ) -> list[ChunkOutcome]:
        """Assign errors to a user by email: ``PUT …/errors/assign {errorIds, email}`` (§2.12, GH-AI).

        The call is unconfirmed (CONFLICT in §2.12), so ``variant="post"`` sends the same body with POST
        (AI-DOC). Unassigning with ``email=None`` is INFERRED. Assignment sets a value, so repeating it is
        harmless and the call is retried like an idempotent one (INFERRED).
        """
        method = "PUT" if variant == "put" else "POST"
        url = self._url("flows", _seg(flow_id), _seg(step_id), "errors", "assign")

        def send(chunk: Sequence[str]) -> Any:
            body: dict[str, Any] = {"errorIds": list(chunk), "email": email}
            if user_id:
                body["_userId"] = user_id
            return self._request(method, url, json_body=body, idempotent=True)[1]

        return self._run_chunks(list(error_ids), send)

    def tag_errors(
        self,
        flow_id: str,
        step_id: str,
        errors: Sequence[str | StepError | tuple[str, str | None]],
        tag_ids: Sequence[str],
        variant: Literal["error_ids", "errors_rdk"] = "error_ids",
    ) -> list[ChunkOutcome]:
        """Set the tags of errors: ``PUT …/{stepId}/tags`` (§2.13, CONFLICT).

        ``variant="error_ids"`` sends ``{errorIds, tagIds}`` (GH-AI api-reference); ``"errors_rdk"`` sends
        ``{errors: [{id, rdk}], tagIds}`` (GH-AI tool guide), for which ``errors`` should be
        :class:`StepError` objects or ``(error_id, retry_data_key)`` pairs. The call is assumed to replace
        the tag set (INFERRED), so it is retried like an idempotent one.
        """
        pairs = [_error_and_rdk(e) for e in errors]
        url = self._url("flows", _seg(flow_id), _seg(step_id), "tags")

        def send(chunk: Sequence[tuple[str, str | None]]) -> Any:
            body: dict[str, Any]
            if variant == "errors_rdk":
                body = {"errors": [{"id": i, "rdk": rdk} for i, rdk in chunk], "tagIds": list(tag_ids)}
            else:
                body = {"errorIds": [i for i, _ in chunk], "tagIds": list(tag_ids)}
            return self._request("PUT", url, json_body=body, idempotent=True)[1]

        return self._run_chunks(pairs, send, ids_of=lambda chunk: tuple(i for i, _ in chunk))

    # --- jobs -------------------------------------------------------------------------------------------

    def iter_jobs(self, **filters: Any) -> Iterator[Job]:
        """Jobs matching ``filters`` (names as in §3.1, e.g. ``_flowId``, ``type``, ``createdAt_gte``),
        newest first, every page.

        ``/v1/jobs`` has no cursor (§1.5.3): each page is re-requested with ``createdAt_lte`` set to the
        oldest ``createdAt`` seen. The bound is kept inclusive and jobs already yielded are skipped, so jobs
        sharing that millisecond across a page break are not lost (the documented "minus 1 ms" would skip
        them); only a page made entirely of one millisecond steps back by 1 ms. A page shorter than
        ``jobs_page_size`` (1000; DEV-JOBS says 1001) is the last. A list value becomes a repeated param
        (``status=a&status=b``); datetimes are sent as ISO-8601 with milliseconds.
        """
        base_params = _job_filters(filters)
        upper: str | None = next((v for k, v in base_params if k == "createdAt_lte"), None)
        base_params = [(k, v) for k, v in base_params if k != "createdAt_lte"]
        seen: set[str] = set()
        url = self._url("jobs")
        while True:
            params = base_params + ([("createdAt_lte", upper)] if upper else [])
            response, body = self._request("GET", url, params=params)
            page = [Job.from_json(item) for item in _as_list(body, response)]
            fresh = [job for job in page if job.id not in seen]
            seen.update(job.id for job in fresh)
            yield from fresh
            if len(page) < self.jobs_page_size:
                return
            oldest = min((j.created_at for j in page if j.created_at is not None), default=None)
            if oldest is None:
                raise MalformedResponse(
                    "a full page of jobs without createdAt cannot be paged", path="/v1/jobs"
                )
            if not fresh:
                oldest -= timedelta(milliseconds=1)
            upper = format_timestamp(oldest)

    def get_job(self, job_id: str) -> Job:
        """``GET /v1/jobs/{id}`` (§3.3)."""
        return Job.from_json(self._get(self._url("jobs", _seg(job_id))))

    def get_job_family(self, job_id: str) -> Job:
        """``GET /v1/jobs/{id}/family``: the job with its ``children`` (§3.3)."""
        body = self._get(self._url("jobs", _seg(job_id), "family"))
        if isinstance(body, list):  # INFERRED tolerance: a family given as a one-element list
            body = body[0] if body else {}
        return Job.from_json(body)

    def iter_latest_flow_jobs(self, flow_id: str) -> Iterator[Job]:
        """``GET /v1/flows/{id}/jobs/latest`` (§3.3)."""
        url = self._url("flows", _seg(flow_id), "jobs", "latest")
        response, body = self._request("GET", url)
        for item in _as_list(body, response):
            yield Job.from_json(item)

    def run_flow(self, flow_id: str, body: Mapping[str, Any] | None = None) -> str:
        """Run a flow now: ``POST /v1/flows/{id}/run`` → 201 ``{_jobId}`` (§4.2). Returns the job id.

        Never repeated after the request went out: a lost response raises :class:`OutcomeUnknown`.
        """
        url = self._url("flows", _seg(flow_id), "run")
        response, result = self._request("POST", url, json_body=dict(body or {}))
        job_id = _job_id(result)
        if job_id is None:
            raise MalformedResponse(
                "the run response carries no job id", status=response.status, path=path_of(url)
            )
        return job_id

    def cancel_job(self, job_id: str) -> Any:
        """``PUT /v1/jobs/{id}/cancel`` (§3.3)."""
        return self._request("PUT", self._url("jobs", _seg(job_id), "cancel"))[1]


# --- helpers ---------------------------------------------------------------------------------------------


def _paced(bucket: BucketConfig, margin: float) -> BucketConfig:
    """The bucket the client paces itself with: ``margin`` smaller and slower than Celigo's.

    Reserving slots exactly at Celigo's numbers is not enough: a request reserved first can reach Celigo
    after one reserved later (scheduling, connection set-up), and Redis's clock and Celigo's may tick at
    slightly different rates. With 2% the first burst leaves a couple of slots free for that jitter, and the
    2% slower refill keeps draining Celigo's bucket below ours, so the slack grows instead of being eaten by
    clock drift. It costs 2% of the throughput (bench/README.md, "Shared limiter").
    """
    if margin <= 0:
        return bucket
    return BucketConfig(burst=max(1, int(bucket.burst * (1 - margin))), rate=bucket.rate * (1 - margin))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (integer seconds per §1.3; an HTTP date is also accepted)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _include(fields: Iterable[str]) -> Params:
    if isinstance(fields, str):
        fields = [fields]
    names = [f for f in fields if f]
    return [("include", ",".join(names))] if names else []


def _as_list(body: Any, response: HttpResponse) -> list[Any]:
    if body is None:
        return []
    if not isinstance(body, list):
        raise MalformedResponse("expected a JSON list", status=response.status, path=path_of(response.url))
    return body


def _rows(body: Any, keys: Sequence[str], url: str) -> list[Any]:
    """A summary's rows: a bare list, or the list under one of ``keys`` (INFERRED: accept both shapes)."""
    if body is None:
        return []
    if isinstance(body, list):
        return body
    if isinstance(body, Mapping):
        for key in keys:
            if isinstance(body.get(key), list):
                return list(body[key])
        if not any(key in body for key in keys):
            return []
    raise MalformedResponse("unexpected error summary shape", path=path_of(url))


def _error_filters(
    field: str,
    after: datetime | str | None,
    before: datetime | str | None,
    sources: Iterable[str],
    classifications: Iterable[str],
    flow_job_id: str | None,
) -> Params:
    params: Params = []
    if after is not None:
        params.append((f"{field}_gte", format_timestamp(after)))
    if before is not None:
        params.append((f"{field}_lte", format_timestamp(before)))
    # Repeated, not comma-joined, as the product UI sends them (§2.3).
    params += [("source", s) for s in ([sources] if isinstance(sources, str) else sources)]
    params += [
        ("classification", c)
        for c in ([classifications] if isinstance(classifications, str) else classifications)
    ]
    if flow_job_id:
        params.append(("_flowJobId", flow_job_id))
    return params


def _job_filters(filters: Mapping[str, Any]) -> Params:
    params: Params = []
    for name, value in filters.items():
        values = value if isinstance(value, list | tuple | set | frozenset) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, datetime):
                item = format_timestamp(item)
            elif isinstance(item, bool):
                item = "true" if item else "false"
            params.append((name, str(item)))
    return params


def _job_id(body: Any) -> str | None:
    """The job id in a run or retry response: ``_jobId`` (§4.2) or a job object's ``_id`` (§2.8, 3P-NS)."""
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if isinstance(body, Mapping):
        return as_str(body.get("_jobId")) or as_str(body.get("_id"))
    return None


def _error_and_rdk(error: str | StepError | tuple[str, str | None]) -> tuple[str, str | None]:
    if isinstance(error, StepError):
        return error.error_id, error.retry_data_key
    if isinstance(error, tuple):
        return str(error[0]), error[1]
    return str(error), None


__all__ = [
    "REGION_BASE_URLS",
    "STANDALONE_INTEGRATION_ID",
    "CeligoClient",
    "ClientStats",
    "RequestEvent",
    "limiter_key_for_token",
]
