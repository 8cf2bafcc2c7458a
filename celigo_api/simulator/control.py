"""``/__sim__/``: introspection and control for tests, benchmarks and the demo runner.

It lives only at the server root: it needs no Celigo token, is never reachable under ``/v1`` or a region
prefix, and is not counted in the request statistics nor subject to faults or the rate limit.

* ``GET  /__sim__/stats`` — request counts per endpoint and status, 429s issued, faults, peak concurrency
* ``POST /__sim__/reset`` — zero the statistics and empty the rate-limit buckets
* ``GET  /__sim__/accounts`` — names, tokens, regions and base URLs
* ``POST /__sim__/errors`` — ``{"flowId", "stepId", "count"?, "traceKey"?, "fields"?, "token"?}``
  adds open errors
* ``POST /__sim__/resolve`` — ``{"flowId", "stepId", "errorIds"? | "newest"?, "by"?, "token"?}`` resolves the
  given open errors, or the ``newest`` open ones (just added ones first), as a user or ``"auto"``
* ``GET|PUT /__sim__/faults`` — ``{"spec": "500=0.05,reset=0.01"}`` or FaultSpec field names
* ``POST /__sim__/revoke`` — ``{"token": "..."}`` makes a token answer 401
* ``GET|POST /__sim__/clock`` — ``{"advance": seconds}`` moves the simulated clock forward
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from .clock import iso_ms
from .config import FaultSpec
from .errors import ErrorFilter
from .world import NotFound

if TYPE_CHECKING:
    from .app import SimulatorApp


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), status=status, content_type="application/json")


class ControlApp:
    """The ``/__sim__`` WSGI sub-application."""

    def __init__(self, app: SimulatorApp, server: Any) -> None:
        self.app = app
        self.server = server

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        name = request.path.removeprefix("/__sim__").strip("/")
        handler = getattr(self, f"{request.method.lower()}_{name.replace('/', '_')}", None)
        if handler is None:
            response = _json({"error": f"no control endpoint {request.method} {request.path}"}, 404)
        else:
            try:
                body = request.get_json(force=True, silent=True) if request.get_data() else {}
                response = handler(body if isinstance(body, dict) else {})
            except (ValueError, KeyError, TypeError, NotFound) as exc:
                response = _json({"error": str(exc)}, 400)
        return response(environ, start_response)

    def get_stats(self, body: dict[str, Any]) -> Response:
        stats = self.app.stats.snapshot()
        stats["faults_in_force"] = self.app.faults.spec.as_dict()
        stats["revoked_tokens"] = len(self.app.revoked)
        return _json(stats)

    def post_reset(self, body: dict[str, Any]) -> Response:
        self.app.stats.reset()
        self.app.limiter.reset()
        return _json({"ok": True})

    def get_accounts(self, body: dict[str, Any]) -> Response:
        return _json(
            [
                {
                    "name": a.name,
                    "token": a.token,
                    "region": a.region,
                    "baseUrl": self.server.base_url_for(a.region),
                    "userId": a.user_id,
                }
                for a in self.app.accounts
            ]
        )

    def post_errors(self, body: dict[str, Any]) -> Response:
        token = body.get("token", self.app.accounts[0].token)
        account = next(a for a in self.app.accounts if a.token == token)
        world = account.world
        created = []
        with world.lock:
            world.tick()
            for _ in range(int(body.get("count", 1))):
                created.append(
                    world.add_error(
                        body["flowId"],
                        body["stepId"],
                        trace=body.get("traceKey"),
                        overrides=body.get("fields"),
                    )
                )
        return _json({"errors": created}, 201)

    def post_resolve(self, body: dict[str, Any]) -> Response:
        token = body.get("token", self.app.accounts[0].token)
        world = next(a for a in self.app.accounts if a.token == token).world
        flow_id, step_id = body["flowId"], body["stepId"]
        with world.lock:
            if "errorIds" in body:
                ids = [str(i) for i in body["errorIds"]]
            else:
                rows, _ = world.error_page(flow_id, step_id, False, ErrorFilter(), None, int(body["newest"]))
                ids = [str(row["errorId"]) for row in rows]
            by = body.get("by") or world.users_who_resolve()[0]
            resolved = world.resolve(flow_id, step_id, ids, by=by)
        return _json({"resolved": resolved, "errorIds": ids})

    def get_faults(self, body: dict[str, Any]) -> Response:
        return _json(self.app.faults.spec.as_dict())

    def put_faults(self, body: dict[str, Any]) -> Response:
        spec = FaultSpec.parse(body["spec"]) if "spec" in body else FaultSpec(**body)
        self.app.set_faults(spec)
        return _json(spec.as_dict())

    def post_revoke(self, body: dict[str, Any]) -> Response:
        self.app.revoke(str(body["token"]))
        return _json({"ok": True})

    def get_clock(self, body: dict[str, Any]) -> Response:
        now = self.app.accounts[0].world.clock.now_ms()
        return _json({"now": iso_ms(now), "nowMs": now})

    def post_clock(self, body: dict[str, Any]) -> Response:
        self.server.advance_clock(float(body.get("advance", 0)))
        return self.get_clock(body)
