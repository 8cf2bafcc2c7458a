"""The WSGI application: routing, authentication, rate limiting, faults and the ``/v1`` handlers.

Status codes, envelopes and pagination follow docs/celigo-api.md §1-4; each handler names its section.
INFERRED choices are flagged where they are made and summarised in the package docstring.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.exceptions import NotFound as RouteNotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .accounts import REGIONS, SimAccount
from .clock import parse_instant
from .config import FaultSpec, SimulatorConfig
from .control import ControlApp
from .errors import ErrorFilter
from .faults import GATEWAY_PAGES, FaultInjector, cut_body
from .ratelimit import RateLimiter
from .stats import SimStats
from .world import Conflict, Job, NotFound, World

JSON_TYPE = "application/json; charset=utf-8"
MAX_LINK_LIMIT = 1000


class ApiError(Exception):
    """A 4xx/5xx answered with the ``{"errors":[{code,message}]}`` envelope (§1.4)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def response(self) -> Response:
        item = {"code": self.code, "message": self.message}
        if self.field:
            item["field"] = self.field
        return json_response({"errors": [item]}, self.status)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response with Celigo's content type."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        body = text.encode()
    except UnicodeEncodeError:
        # A lone surrogate in third-party text: send it \u-escaped, as JSON.stringify does.
        body = json.dumps(data, separators=(",", ":")).encode()
    return Response(body, status=status, headers=headers, content_type=JSON_TYPE)


def no_content() -> Response:
    """204 with no body: empty lists and bodiless successes (§1.4)."""
    return Response(status=204)


@dataclass
class Ctx:
    """What a handler needs about the current request."""

    request: Request
    account: SimAccount
    world: World
    prefix: str

    @property
    def args(self) -> MultiDict[str, str]:
        return self.request.args

    def absolute(self, path: str, query: str = "") -> str:
        """An absolute URL on this server, in this request's region."""
        return f"{self.request.host_url.rstrip('/')}{self.prefix}{path}" + (f"?{query}" if query else "")

    def body(self) -> Any:
        """The JSON request body, or 400 ``invalid_json``."""
        raw = self.request.get_data(cache=True)
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "invalid_json", f"The request body is not valid JSON: {exc}") from exc


URL_MAP = Map(
    [
        Rule("/v1/tokenInfo", endpoint="token_info", methods=["GET"]),
        Rule("/v1/integrations", endpoint="integrations", methods=["GET"]),
        Rule("/v1/integrations/<iid>", endpoint="integration", methods=["GET"]),
        Rule("/v1/integrations/<iid>/flows", endpoint="integration_flows", methods=["GET"]),
        Rule("/v1/integrations/<iid>/ashares", endpoint="integration_ashares", methods=["GET"]),
        Rule("/v1/integrations/<iid>/errors", endpoint="integration_errors", methods=["GET"]),
        Rule("/v1/connections", endpoint="connections", methods=["GET"]),
        Rule("/v1/connections/<rid>", endpoint="connection", methods=["GET"]),
        Rule("/v1/exports", endpoint="exports", methods=["GET"]),
        Rule("/v1/exports/<rid>", endpoint="export", methods=["GET"]),
        Rule("/v1/imports", endpoint="imports", methods=["GET"]),
        Rule("/v1/imports/<rid>", endpoint="import", methods=["GET"]),
        Rule("/v1/ashares", endpoint="ashares", methods=["GET"]),
        Rule("/v1/ashares/<rid>", endpoint="ashare", methods=["GET"]),
        Rule("/v1/tags", endpoint="tags", methods=["GET"]),
        Rule("/v1/errors/filterMetadata", endpoint="filter_metadata", methods=["GET"]),
        Rule("/v1/flows", endpoint="flows", methods=["GET"]),
        Rule("/v1/flows/<fid>", endpoint="flow", methods=["GET"]),
        Rule("/v1/flows/<fid>/errors", endpoint="flow_errors", methods=["GET"]),
        Rule("/v1/flows/<fid>/run", endpoint="run_flow", methods=["POST"]),
        Rule("/v1/flows/<fid>/jobs/latest", endpoint="latest_jobs", methods=["GET"]),
        Rule("/v1/flows/<fid>/<sid>/errors", endpoint="step_errors", methods=["GET"]),
        Rule("/v1/flows/<fid>/<sid>/errors/signedURL", endpoint="errors_file", methods=["GET"]),
        Rule("/v1/flows/<fid>/<sid>/errors/assign", endpoint="assign", methods=["PUT"]),
        Rule("/v1/flows/<fid>/<sid>/resolved", endpoint="resolved_errors", methods=["GET"]),
        Rule("/v1/flows/<fid>/<sid>/resolved", endpoint="resolve", methods=["PUT"]),
        Rule("/v1/flows/<fid>/<sid>/resolved", endpoint="purge", methods=["DELETE"]),
        Rule("/v1/flows/<fid>/<sid>/resolved/signedURL", endpoint="resolved_file", methods=["GET"]),
        Rule("/v1/flows/<fid>/<sid>/retry", endpoint="retry", methods=["POST"]),
        Rule("/v1/flows/<fid>/<sid>/tags", endpoint="tag", methods=["PUT"]),
        Rule("/v1/flows/<fid>/<sid>/requests/<key>", endpoint="request_log", methods=["GET"]),
        Rule("/v1/flows/<fid>/<sid>/<rdk>/data", endpoint="retry_data", methods=["GET"]),
        Rule("/v1/flows/<fid>/<sid>/<rdk>/data", endpoint="put_retry_data", methods=["PUT"]),
        Rule("/v1/flows/<fid>/<sid>/<rdk>/signedURL", endpoint="retry_data_file", methods=["GET"]),
        Rule("/v1/jobs", endpoint="jobs", methods=["GET"]),
        Rule("/v1/jobs/<jid>", endpoint="job", methods=["GET"]),
        Rule("/v1/jobs/<jid>/family", endpoint="job_family", methods=["GET"]),
        Rule("/v1/jobs/<jid>/cancel", endpoint="cancel_job", methods=["PUT"]),
    ],
    strict_slashes=False,
    merge_slashes=False,
)


class SimulatorApp:
    """The integrator.io API as a WSGI callable, plus the ``/__sim__`` control API."""

    def __init__(self, config: SimulatorConfig, accounts: list[SimAccount], server: Any) -> None:
        self.config = config
        self.accounts = accounts
        self.stats = SimStats()
        self.limiter = RateLimiter(config.burst, config.rate)
        seed = config.seed if isinstance(config.seed, int) else 0
        self.faults = FaultInjector(config.faults, seed)
        self.revoked: set[str] = set()
        self.started_ms = accounts[0].world.clock.now_ms()
        self.control = ControlApp(self, server)

    # --- plumbing --------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/__sim__" or path.startswith("/__sim__/"):
            return self.control(environ, start_response)
        self.stats.begin()
        endpoint, status, account_name = "unknown", 500, None
        try:
            response, endpoint, account_name = self._serve(environ, path)
            status = response.status_code
            return self._damage(response, environ)(environ, start_response)
        finally:
            self.stats.end(endpoint, status, account_name)

    def _serve(self, environ: dict[str, Any], path: str) -> tuple[Response, str, str | None]:
        region, prefix, rest = "na", "", path
        head = path.split("/", 2)
        if len(head) > 1 and head[1] in REGIONS[1:]:
            region, prefix, rest = head[1], f"/{head[1]}", "/" + (head[2] if len(head) > 2 else "")
        adapter = URL_MAP.bind("simulator", path_info=rest, url_scheme="http")
        try:
            endpoint, url_args = adapter.match(method=environ["REQUEST_METHOD"])
        except MethodNotAllowed:
            endpoint, url_args = "method_not_allowed", {}
        except (RouteNotFound, HTTPException):
            endpoint, url_args = "not_found", {}
        spec = self.faults.spec
        if spec.latency:
            time.sleep(spec.latency)
        self._maybe_revoke()
        forced = self.faults.before()
        if forced is not None:
            self.stats.fault(str(forced))
            return self._forced(forced), endpoint, None
        request = Request(environ)
        auth = self._authenticate(request, region)
        if isinstance(auth, Response):
            return auth, endpoint, None
        account = auth
        retry_after = self.limiter.take(account.token)
        if retry_after is not None:
            self.stats.rate_limited()
            return _rate_limited(retry_after), endpoint, account.name
        ctx = Ctx(request=request, account=account, world=account.world, prefix=prefix)
        try:
            if endpoint == "not_found":
                raise ApiError(404, "not_found", f"No route for {request.method} {rest}")
            if endpoint == "method_not_allowed":
                raise ApiError(405, "method_not_allowed", f"{request.method} is not allowed on {rest}")
            handler = getattr(self, f"h_{endpoint}")
            return handler(ctx, **url_args), endpoint, account.name
        except ApiError as exc:
            return exc.response(), endpoint, account.name
        except NotFound as exc:
            return ApiError(404, "not_found", str(exc)).response(), endpoint, account.name
        except Conflict as exc:
            return ApiError(422, exc.code, str(exc)).response(), endpoint, account.name

    def _authenticate(self, request: Request, region: str) -> SimAccount | Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and token.lower().startswith("bearer "):
            # §1.2 (3P-IA): a doubled "Bearer " prefix is a 400, not a 401.
            return ApiError(400, "bearer_auth_failed", "Bearer Authentication Failed").response()
        for account in self.accounts:
            # §1.1: tenants are isolated; a token is unknown outside its own region.
            matches = scheme.lower() == "bearer" and token == account.token and account.region == region
            if matches and token not in self.revoked:
                return account
        # §1.4 (3P-SPEC): 401 answers {"message": ...}, not the errors envelope.
        return json_response({"message": "Unauthorized"}, 401)

    def _maybe_revoke(self) -> None:
        revoke_at = self.faults.spec.revoke_at
        if revoke_at is None:
            return
        due = self.accounts[0].world.clock.now_ms() - self.started_ms >= revoke_at * 1000
        if due and self.accounts[0].token not in self.revoked:
            self.revoked.add(self.accounts[0].token)
            self.stats.fault("revoke")

    def _forced(self, status: int) -> Response:
        if status == 429:
            return _rate_limited(1 + int(time.time()) % 3)
        if status == 500:
            return ApiError(500, "internal_error", "An unexpected error occurred.").response()
        # Gateways in front of the API answer 502/503 with HTML, not JSON (INFERRED, realistic).
        return Response(GATEWAY_PAGES[status], status=status, content_type="text/html")

    def _damage(self, response: Response, environ: dict[str, Any]) -> Response:
        if response.status_code >= 300 or response.status_code == 204:
            return response
        body = response.get_data()
        if len(body) < 2:
            return response
        kind = self.faults.after()
        if kind == "malformed":
            self.stats.fault("malformed")
            response.set_data(body[: max(1, len(body) * 2 // 3)])
        elif kind == "reset" and environ.get("werkzeug.socket") is not None:
            self.stats.fault("reset")
            # The full Content-Length is announced, half the body is sent, then the socket is aborted
            # (see server.SimRequestHandler.connection_dropped): the client sees a real reset.
            damaged = Response(cut_body(body), status=response.status_code, headers=response.headers)
            damaged.headers["Content-Length"] = str(len(body))
            return damaged
        return response

    def revoke(self, token: str) -> None:
        """Make ``token`` answer 401 from now on."""
        self.revoked.add(token)

    def set_faults(self, spec: FaultSpec) -> None:
        """Replace the injected faults."""
        self.faults.set(spec)

    # --- §1.2 ------------------------------------------------------------------------------------------

    def h_token_info(self, ctx: Ctx) -> Response:
        """§1.2: ``{"_userId", "scope"}``."""
        return json_response({"_userId": ctx.account.user_id, "scope": "*"})

    # --- §4 resources with Link pagination (§1.5.1) ----------------------------------------------------

    def _link_list(self, ctx: Ctx, items: list[dict[str, Any]], always: tuple[str, ...] = ()) -> Response:
        include, exclude = ctx.args.get("include"), ctx.args.get("exclude")
        if include is not None and exclude is not None:
            raise ApiError(400, "invalid_query_params", "include and exclude cannot be used together.")
        limit = _int_arg(ctx.args, "limit", self.config.link_page_size, 1, MAX_LINK_LIMIT)
        offset = _decode_offset(ctx.args.get("after"))
        page = items[offset : offset + limit]
        if not page:
            return no_content()
        if include is not None:
            page = [_include(item, include.split(","), always) for item in page]
        elif exclude is not None:
            page = [_exclude(item, exclude.split(",")) for item in page]
        headers = {}
        if offset + limit < len(items):
            # INFERRED: an opaque cursor; clients must follow the link as given (§1.5.1).
            query = [(k, v) for k, v in ctx.args.items(multi=True) if k != "after"]
            query.append(("after", _encode_offset(offset + limit)))
            headers["Link"] = (
                f'<{ctx.absolute(ctx.request.path[len(ctx.prefix) :], urlencode(query))}>; rel="next"'
            )
        return json_response(page, 200, headers)

    def _by_id(self, items: Iterable[dict[str, Any]], rid: str, kind: str) -> Response:
        for item in items:
            if item["_id"] == rid:
                return json_response(item)
        raise ApiError(404, "not_found", f"{kind} {rid} not found")

    def h_integrations(self, ctx: Ctx) -> Response:
        with ctx.world.lock:
            items = [i for i in ctx.world.integrations.values() if _matches(i, ctx.args, ("sandbox", "name"))]
        return self._link_list(ctx, items)

    def h_integration(self, ctx: Ctx, iid: str) -> Response:
        return self._by_id(ctx.world.integrations.values(), iid, "Integration")

    def _flow_docs(self, world: World, integration_id: str | None = None, scoped: bool = False) -> list[dict]:
        with world.lock:
            return [
                f.to_json() for f in world.flows.values() if not scoped or f.integration_id == integration_id
            ]

    def h_flows(self, ctx: Ctx) -> Response:
        items = [
            f
            for f in self._flow_docs(ctx.world)
            if _matches(f, ctx.args, ("_integrationId", "name", "disabled", "sandbox"))
        ]
        return self._link_list(ctx, items)

    def h_integration_flows(self, ctx: Ctx, iid: str) -> Response:
        if iid not in ctx.world.integrations and iid != "none":
            raise ApiError(404, "not_found", f"Integration {iid} not found")
        return self._link_list(ctx, self._flow_docs(ctx.world, None if iid == "none" else iid, scoped=True))

    def h_flow(self, ctx: Ctx, fid: str) -> Response:
        with ctx.world.lock:
            return json_response(ctx.world.flow(fid).to_json())

    def _steps(self, ctx: Ctx, imports: bool) -> list[dict[str, Any]]:
        with ctx.world.lock:
            return [s.to_json() for s in ctx.world.steps.values() if s.is_import == imports]

    def h_exports(self, ctx: Ctx) -> Response:
        items = [
            s for s in self._steps(ctx, False) if _matches(s, ctx.args, ("_integrationId", "externalId"))
        ]
        return self._link_list(ctx, items, always=("adaptorType",))

    def h_imports(self, ctx: Ctx) -> Response:
        items = [s for s in self._steps(ctx, True) if _matches(s, ctx.args, ("_integrationId", "externalId"))]
        return self._link_list(ctx, items, always=("adaptorType",))

    def h_export(self, ctx: Ctx, rid: str) -> Response:
        return self._by_id(self._steps(ctx, False), rid, "Export")

    def h_import(self, ctx: Ctx, rid: str) -> Response:
        return self._by_id(self._steps(ctx, True), rid, "Import")

    def h_connections(self, ctx: Ctx) -> Response:
        return self._link_list(ctx, list(ctx.world.connections.values()))

    def h_connection(self, ctx: Ctx, rid: str) -> Response:
        return self._by_id(ctx.world.connections.values(), rid, "Connection")

    def h_ashares(self, ctx: Ctx) -> Response:
        """§4.4: users with access; the owner is not listed."""
        return self._link_list(ctx, list(ctx.world.users))

    def h_ashare(self, ctx: Ctx, rid: str) -> Response:
        return self._by_id(ctx.world.users, rid, "User")

    def h_integration_ashares(self, ctx: Ctx, iid: str) -> Response:
        if iid not in ctx.world.integrations:
            raise ApiError(404, "not_found", f"Integration {iid} not found")
        users = [
            u
            for u in ctx.world.users
            if u.get("accessLevel") or any(a["_integrationId"] == iid for a in u["integrationAccessLevel"])
        ]
        return self._link_list(ctx, users)

    def h_tags(self, ctx: Ctx) -> Response:
        return self._link_list(ctx, list(ctx.world.tags))

    def h_filter_metadata(self, ctx: Ctx) -> Response:
        """§2.4: the enums of the source and classification filters."""
        sources, classes = set(), set()
        for store in ctx.world.stores.values():
            for template in store.profile.templates:
                sources.add(template.source)
                classes.add(template.classification)
        return json_response(
            {
                "filters": [
                    {"name": "source", "enums": sorted(sources)},
                    {"name": "classification", "enums": sorted(classes)},
                ]
            }
        )

    # --- §2.1, §2.2 summaries --------------------------------------------------------------------------

    def h_integration_errors(self, ctx: Ctx, iid: str) -> Response:
        """§2.1: one row per flow with open errors; ``none`` = standalone flows (INFERRED to work)."""
        sandbox = ctx.args.get("sandbox", "false").lower() == "true"
        rows = ctx.world.integration_summary(iid, sandbox)
        return json_response(rows) if rows else no_content()

    def h_flow_errors(self, ctx: Ctx, fid: str) -> Response:
        """§2.2: ``{"flowErrors": [...]}`` with every step, ``lastErrorAt`` only when errors exist."""
        return json_response({"flowErrors": ctx.world.flow_summary(fid)})

    # --- §2.3, §2.5 step error lists with nextPageURL (§1.5.2) -----------------------------------------

    def _error_filter(self, ctx: Ctx, resolved: bool) -> ErrorFilter:
        args = ctx.args
        sources = {v for v in args.getlist("source") if v}
        classes = {v for v in args.getlist("classification") if v}
        return ErrorFilter(
            occurred_gte=_instant_arg(args, "occurredAt_gte"),
            occurred_lte=_instant_arg(args, "occurredAt_lte"),
            resolved_gte=_instant_arg(args, "resolvedAt_gte") if resolved else None,
            resolved_lte=_instant_arg(args, "resolvedAt_lte") if resolved else None,
            sources=frozenset(sources) if sources else None,
            classifications=frozenset(classes) if classes else None,
            flow_job_id=args.get("_flowJobId") or None,
        )

    def _error_list(self, ctx: Ctx, fid: str, sid: str, resolved: bool) -> Response:
        flt = self._error_filter(ctx, resolved)
        before = _decode_key(ctx.args.get("after"))
        # `limit` is ignored, as 3P-SPEC observed (§2.3); the page size is a server option.
        rows, last = ctx.world.error_page(fid, sid, resolved, flt, before, self.config.page_size)
        body: dict[str, Any] = {"resolved" if resolved else "errors": rows}
        if last is not None:
            body["nextPageURL"] = self._next_page_url(ctx, fid, sid, resolved, last)
        return json_response(body)

    def _next_page_url(self, ctx: Ctx, fid: str, sid: str, resolved: bool, last: tuple[int, int]) -> str:
        """§1.5.2: the four forms the client must accept; filters kept or not (both INFERRED)."""
        path = f"/v1/flows/{fid}/{sid}/{'resolved' if resolved else 'errors'}"
        query: list[tuple[str, str]] = []
        if self.config.next_page_keeps_filters:
            query = [(k, v) for k, v in ctx.args.items(multi=True) if k != "after"]
        query.append(("after", _encode_key(last)))
        qs = urlencode(query)
        form = self.config.next_page_form
        if form == "relative":
            return f"{path.removeprefix('/v1/')}?{qs}"
        if form == "api":
            return f"/api{path.removeprefix('/v1')}?{qs}"
        if form == "absolute":
            return ctx.absolute(path, qs)
        return f"{path}?{qs}"

    def h_step_errors(self, ctx: Ctx, fid: str, sid: str) -> Response:
        return self._error_list(ctx, fid, sid, resolved=False)

    def h_resolved_errors(self, ctx: Ctx, fid: str, sid: str) -> Response:
        return self._error_list(ctx, fid, sid, resolved=True)

    def _signed(self, ctx: Ctx, what: str) -> Response:
        stamp = int(time.time())
        return json_response(
            {"signedURL": f"https://s3.amazonaws.com/integrator-sim/{what}?Expires={stamp + 900}"}
        )

    def h_errors_file(self, ctx: Ctx, fid: str, sid: str) -> Response:
        """§2.11: a signed URL to download open errors."""
        ctx.world.store(fid, sid)
        return self._signed(ctx, f"{fid}/{sid}/errors.csv")

    def h_resolved_file(self, ctx: Ctx, fid: str, sid: str) -> Response:
        ctx.world.store(fid, sid)
        return self._signed(ctx, f"{fid}/{sid}/resolved.csv")

    # --- §2.6-§2.13 actions ----------------------------------------------------------------------------

    def h_resolve(self, ctx: Ctx, fid: str, sid: str) -> Response:
        """§2.6: ``{"errors": [ids]}`` → 204."""
        ids = _id_list(ctx.body(), "errors")
        ctx.world.resolve(fid, sid, ids, ctx.account.user_id)
        self.stats.wrote("resolve", fid, sid, ids)
        return no_content()

    def h_purge(self, ctx: Ctx, fid: str, sid: str) -> Response:
        """§2.7: delete resolved errors for good → 204 (status INFERRED)."""
        ctx.world.purge(fid, sid, _id_list(ctx.body(), "errors"))
        return no_content()

    def h_retry(self, ctx: Ctx, fid: str, sid: str) -> Response:
        """§2.8: ``{"retryDataKeys": [...]}`` (or ``errorIds``) → 201 with the retry job (INFERRED)."""
        body = ctx.body()
        world = ctx.world
        if isinstance(body, dict) and "errorIds" in body and "retryDataKeys" not in body:
            keys = []
            with world.lock:
                store = world.store(fid, sid)
                now = world.clock.now_ms()
                for eid in _id_list(body, "errorIds"):
                    found = store.find(int(eid), now) if eid.isdigit() else None
                    if found and found[1].data.get("retryDataKey"):
                        keys.append(found[1].data["retryDataKey"])
        else:
            keys = _id_list(body, "retryDataKeys")
        job = world.retry(fid, sid, keys)
        self.stats.wrote("retry", fid, sid, keys)
        with world.lock:
            return json_response(job.to_json(), 201)

    def h_retry_data(self, ctx: Ctx, fid: str, sid: str, rdk: str) -> Response:
        """§2.9: ``{"data", "stage", "traceKey"}``; 404 once the data is no longer kept."""
        world = ctx.world
        with world.lock:
            store = world.store(fid, sid)
            found = store.find_by_retry_key(rdk, world.clock.now_ms())
            if found is None or not store.has_retry_data(found[1]):
                raise ApiError(404, "not_found", f"Retry data {rdk} not found")
            stage = "page_processor_import" if store.is_import else "page_generator_export"
            return json_response(store.retry_data.get(rdk) or store.default_retry_data(found[1], stage))

    def h_put_retry_data(self, ctx: Ctx, fid: str, sid: str, rdk: str) -> Response:
        """§2.9: PUT replaces the whole object; answers 200 with it (INFERRED)."""
        body = ctx.body()
        if not isinstance(body, dict) or "data" not in body:
            raise ApiError(
                400, "invalid_field", "The body must be the retry data object with 'data'.", "data"
            )
        world = ctx.world
        with world.lock:
            store = world.store(fid, sid)
            found = store.find_by_retry_key(rdk, world.clock.now_ms())
            if found is None or not store.has_retry_data(found[1]):
                raise ApiError(404, "not_found", f"Retry data {rdk} not found")
            store.retry_data[rdk] = copy.deepcopy(body)
            return json_response(body)

    def h_retry_data_file(self, ctx: Ctx, fid: str, sid: str, rdk: str) -> Response:
        ctx.world.store(fid, sid)
        return self._signed(ctx, f"{fid}/{sid}/{rdk}.json")

    def h_request_log(self, ctx: Ctx, fid: str, sid: str, key: str) -> Response:
        """§2.10: ``{"request": {...}, "response": {...}}``."""
        world = ctx.world
        with world.lock:
            store = world.store(fid, sid)
            error = store.find_by_request_key(key, world.clock.now_ms())
            if error is None:
                raise ApiError(404, "not_found", f"Request {key} not found")
            return json_response(store.request_log(error))

    def h_assign(self, ctx: Ctx, fid: str, sid: str) -> Response:
        """§2.12: ``{"errorIds", "email"}`` → 204 (status INFERRED); empty email unassigns (INFERRED)."""
        body = ctx.body()
        ids = _id_list(body, "errorIds")
        email = body.get("email")
        if email is not None and not isinstance(email, str):
            raise ApiError(400, "invalid_field", "email must be a string.", "email")
        ctx.world.annotate(fid, sid, ids, {"assignedTo": email or None})
        return no_content()

    def h_tag(self, ctx: Ctx, fid: str, sid: str) -> Response:
        """§2.13: both body variants; the tag set is replaced (INFERRED) → 204."""
        body = ctx.body()
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_field", "The body must be an object.")
        if "errors" in body:
            entries = body["errors"]
            if not isinstance(entries, list) or not all(isinstance(e, dict) and "id" in e for e in entries):
                raise ApiError(400, "invalid_field", "errors must be a list of {id, rdk}.", "errors")
            ids = [str(e["id"]) for e in entries]
        else:
            ids = _id_list(body, "errorIds")
        tag_ids = body.get("tagIds")
        if not isinstance(tag_ids, list) or not all(isinstance(t, str) for t in tag_ids):
            raise ApiError(400, "invalid_field", "tagIds must be a list of tag ids.", "tagIds")
        known = {t["_id"] for t in ctx.world.tags}
        unknown = [t for t in tag_ids if t not in known]
        if unknown:
            raise ApiError(400, "invalid_ref", f"Unknown tag id(s): {', '.join(unknown)}", "tagIds")
        ctx.world.annotate(fid, sid, ids, {"tags": list(tag_ids)})
        return no_content()

    # --- §3 jobs, §4.2 run -----------------------------------------------------------------------------

    def h_jobs(self, ctx: Ctx) -> Response:
        """§3.1: newest first, at most ``jobs_page_size``; page with ``createdAt_lte``."""
        query = _JobQuery.parse(ctx.args)
        world = ctx.world
        with world.lock:
            world.tick()
            page = []
            for job in world.jobs_newest_first():
                if query.matches(job):
                    page.append(job.to_json())
                    if len(page) == self.config.jobs_page_size:
                        break
        return json_response(page) if page else no_content()

    def h_job(self, ctx: Ctx, jid: str) -> Response:
        with ctx.world.lock:
            ctx.world.tick()
            return json_response(ctx.world.job(jid).to_json())

    def h_job_family(self, ctx: Ctx, jid: str) -> Response:
        """§3.3: the job with its step jobs under ``children``."""
        with ctx.world.lock:
            ctx.world.tick()
            job = ctx.world.job(jid)
            doc = job.to_json()
            doc["children"] = [c.to_json() for c in job.children]
            return json_response(doc)

    def h_cancel_job(self, ctx: Ctx, jid: str) -> Response:
        """§3.3: cancel a queued or running job → 204 (INFERRED); a finished job → 422."""
        ctx.world.cancel(jid)
        return no_content()

    def h_run_flow(self, ctx: Ctx, fid: str) -> Response:
        """§4.2: 201 ``{"_jobId"}``; 422 ``invalid_flow`` on a disabled flow."""
        ctx.body()
        job = ctx.world.run_flow(fid)
        return json_response({"_jobId": job.job_id}, 201)

    def h_latest_jobs(self, ctx: Ctx, fid: str) -> Response:
        """§3.3: the latest flow job of a flow, as an array."""
        with ctx.world.lock:
            ctx.world.tick()
            ctx.world.flow(fid)
            for job in ctx.world.jobs_newest_first():
                if job.type == "flow" and job.flow.flow_id == fid:
                    return json_response([job.to_json()])
        return no_content()


@dataclass
class _JobQuery:
    """The filters of ``GET /v1/jobs`` (§3.1), including the UI's bracket-indexed arrays."""

    types: set[str] | None
    statuses: set[str] | None
    flow_ids: set[str] | None
    integration_id: str | None
    export_id: str | None
    import_id: str | None
    flow_job_id: str | None
    created_gte: int | None
    created_lte: int | None
    bounds: dict[str, tuple[int | None, int | None]]
    hide_empty: bool

    @classmethod
    def parse(cls, args: MultiDict[str, str]) -> _JobQuery:
        types = _multi(args, "type_in") or ({args["type"]} if args.get("type") else None)
        flow_ids = _multi(args, "_flowId_in") or ({args["_flowId"]} if args.get("_flowId") else None)
        parent_required = (
            "_integrationId",
            "_flowId",
            "_exportId",
            "_importId",
            "_flowJobId",
            "createdAt_gte",
            "createdAt_lte",
            "_flowId_in",
            "_parentJobId",
        )
        child = types is not None and types <= {"export", "import"}
        needed = ("_flowJobId", "_exportId", "_importId", "_parentJobId") if child else parent_required
        given = {k.split("[")[0] for k in args}
        if not given.intersection(needed):
            # §3.1 (DEV-JOBS): parent jobs need a scoping filter, child jobs a flow job or step.
            raise ApiError(
                400,
                "invalid_query",
                "A required filter is missing: provide one of " + ", ".join(needed) + ".",
            )
        bounds = {}
        for name in ("numError", "numSuccess", "numIgnore"):
            bounds[name] = (_int_or_none(args, f"{name}_gte"), _int_or_none(args, f"{name}_lte"))
        return cls(
            types=types or ({"flow", "retry", "bulk_retry"} if not child else None),
            statuses=set(args.getlist("status")) or _multi(args, "status_in"),
            flow_ids=flow_ids,
            integration_id=args.get("_integrationId"),
            export_id=args.get("_exportId"),
            import_id=args.get("_importId"),
            flow_job_id=args.get("_flowJobId") or args.get("_parentJobId"),
            created_gte=_instant_arg(args, "createdAt_gte"),
            created_lte=_instant_arg(args, "createdAt_lte"),
            bounds=bounds,
            hide_empty=args.get("hideEmpty", "").lower() == "true",
        )

    def matches(self, job: Job) -> bool:
        if self.types is not None and job.type not in self.types:
            return False
        if self.statuses and job.status not in self.statuses:
            return False
        if self.created_gte is not None and job.created_ms < self.created_gte:
            return False
        if self.created_lte is not None and job.created_ms > self.created_lte:
            return False
        if self.flow_ids is not None and job.flow.flow_id not in self.flow_ids:
            return False
        if self.integration_id is not None and (job.flow.integration_id or "none") != self.integration_id:
            return False
        if self.flow_job_id is not None and job.flow_job_id != self.flow_job_id:
            return False
        step = job.step or (job.flow.generators[0] if job.type == "flow" and job.flow.generators else None)
        if self.export_id is not None and (step is None or step.is_import or step.step_id != self.export_id):
            return False
        if self.import_id is not None and (
            step is None or not step.is_import or step.step_id != self.import_id
        ):
            return False
        num_error, _ = job.counts()
        values = {"numError": num_error, "numSuccess": job.num_success, "numIgnore": job.num_ignore}
        for name, (low, high) in self.bounds.items():
            if (low is not None and values[name] < low) or (high is not None and values[name] > high):
                return False
        return not (self.hide_empty and num_error == 0 and job.num_success == 0)


def _rate_limited(retry_after: int) -> Response:
    """§1.3: 429, integer Retry-After, the ``rate_limited`` envelope."""
    body = {
        "errors": [
            {"code": "rate_limited", "message": f"Too many requests. Retry after {retry_after} seconds."}
        ]
    }
    return json_response(body, 429, {"Retry-After": str(retry_after)})


def _multi(args: MultiDict[str, str], name: str) -> set[str] | None:
    """Repeated (``a=1&a=2``), bracketed (``a[0]=1&a[1]=2``, ``a[]=1``) or comma-separated values."""
    values: list[str] = []
    for key, value in args.items(multi=True):
        if key == name or (key.startswith(name + "[") and key.endswith("]")):
            values.extend(v for v in value.split(",") if v)
    return set(values) or None


def _instant_arg(args: MultiDict[str, str], name: str) -> int | None:
    value = args.get(name)
    if value is None or value == "":
        return None
    try:
        return parse_instant(value)
    except (ValueError, OverflowError) as exc:
        raise ApiError(400, "invalid_query_params", f"{name} is not a valid date: {value!r}", name) from exc


def _int_or_none(args: MultiDict[str, str], name: str) -> int | None:
    value = args.get(name)
    if value is None:
        return None
    if not value.lstrip("-").isdigit():
        raise ApiError(400, "invalid_query_params", f"{name} must be an integer.", name)
    return int(value)


def _int_arg(args: MultiDict[str, str], name: str, default: int, low: int, high: int) -> int:
    value = _int_or_none(args, name)
    if value is None:
        return default
    if not low <= value <= high:
        raise ApiError(400, "invalid_query_params", f"{name} must be between {low} and {high}.", name)
    return value


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if text.startswith("o:") and text[2:].isdigit():
            return int(text[2:])
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise ApiError(400, "invalid_query_params", "The page cursor is not valid.", "after")


def _encode_key(key: tuple[int, int]) -> str:
    return base64.urlsafe_b64encode(f"k:{key[0]}:{key[1]}".encode()).decode().rstrip("=")


def _decode_key(token: str | None) -> tuple[int, int] | None:
    if not token:
        return None
    try:
        parts = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().split(":")
        if len(parts) == 3 and parts[0] == "k" and parts[1].isdigit() and parts[2].isdigit():
            return int(parts[1]), int(parts[2])
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise ApiError(400, "invalid_query_params", "The page cursor is not valid.", "after")


def _id_list(body: Any, name: str) -> list[str]:
    values = body.get(name) if isinstance(body, dict) else None
    if not isinstance(values, list) or not values or not all(isinstance(v, str | int) for v in values):
        raise ApiError(400, "invalid_field", f"{name} must be a non-empty array of ids.", name)
    return [str(v) for v in values]


def _matches(item: dict[str, Any], args: MultiDict[str, str], names: tuple[str, ...]) -> bool:
    for name in names:
        wanted = args.get(name)
        if wanted is None:
            continue
        value = item.get(name)
        if isinstance(value, bool):
            if value != (wanted.lower() == "true"):
                return False
        elif str(value) != wanted:
            return False
    return True


def _include(item: dict[str, Any], paths: list[str], always: tuple[str, ...]) -> dict[str, Any]:
    """§1.5.1 summary projection: ``_id``, ``name`` (+ always-returned fields) plus the named paths."""
    out: dict[str, Any] = {k: item[k] for k in ("_id", "name", *always) if k in item}
    for path in (p.strip() for p in paths if p.strip()):
        parts = path.split(".")
        source: Any = item
        for part in parts:
            source = source.get(part) if isinstance(source, dict) else None
            if source is None:
                break
        if source is None:
            continue
        target = out
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = source
    return out


def _exclude(item: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(item)
    for path in (p.strip() for p in paths if p.strip()):
        parts = path.split(".")
        target: Any = out
        for part in parts[:-1]:
            target = target.get(part) if isinstance(target, dict) else None
        if isinstance(target, dict):
            target.pop(parts[-1], None)
    return out
