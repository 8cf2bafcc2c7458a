"""Running the simulator: a threaded werkzeug server in a background thread, as a context manager.

werkzeug's development server closes every connection after one response (it sends ``Connection: close``),
so clients cannot reuse connections; that is fine for a simulator and is measured by ``bench/simulator.py``.
"""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .accounts import REGIONS, SimAccount, build_accounts
from .app import SimulatorApp
from .clock import SimClock
from .config import FaultSpec, SimulatorConfig
from .faults import SimulatedReset, abort_connection
from .world import World

TICK_SECONDS = 0.25


class SimRequestHandler(WSGIRequestHandler):
    """werkzeug's handler, quiet by default, able to abort a connection with a TCP reset."""

    verbose = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.verbose:
            super().log_request(code, size)

    def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
        # werkzeug routes ConnectionError raised while streaming a body here; a SimulatedReset means the
        # application asked for the connection to be cut mid-body (faults.cut_body).
        if isinstance(error, SimulatedReset):
            abort_connection(self.connection)


class _VerboseHandler(SimRequestHandler):
    verbose = True


class SimulatorServer:
    """A simulated integrator.io served over HTTP on ``host:port`` (``port=0`` picks a free port).

    Use as a context manager; ``base_url`` is the NA root, ``base_url_for("eu")`` the EU root.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        log_requests: bool = False,
    ) -> None:
        self.config = config or SimulatorConfig()
        start_ms = int(self.config.start_time.timestamp() * 1000) if self.config.start_time else None
        self.clock = SimClock(start_ms)
        self.accounts: list[SimAccount] = build_accounts(self.config, self.clock)
        self.app = SimulatorApp(self.config, self.accounts, self)
        handler = _VerboseHandler if log_requests else SimRequestHandler
        self._server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=handler
        )
        self.host = host
        self.port = self._server.server_port
        self._thread: threading.Thread | None = None
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> SimulatorServer:
        """Serve in background threads."""
        self._thread = threading.Thread(target=self._serve, name="celigo-sim", daemon=True)
        self._thread.start()
        self._ticker = threading.Thread(target=self._tick_forever, name="celigo-sim-tick", daemon=True)
        self._ticker.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in (self._thread, self._ticker):
            if thread is not None:
                thread.join(timeout=5)

    def _serve(self) -> None:
        # A short poll interval keeps stop() fast: shutdown() waits for the loop to notice.
        self._server.serve_forever(poll_interval=0.05)

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`stop` or an interrupt (used by the CLI)."""
        self._ticker = threading.Thread(target=self._tick_forever, name="celigo-sim-tick", daemon=True)
        self._ticker.start()
        self._serve()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _tick_forever(self) -> None:
        # Live errors and job progress also happen lazily on each request; ticking keeps `state` and
        # `/__sim__/stats` current when nobody is calling.
        while not self._stop.wait(TICK_SECONDS):
            self.tick()

    # --- the public surface used by tests and benchmarks -----------------------------------------------

    @property
    def base_url(self) -> str:
        """The NA API root, e.g. ``http://127.0.0.1:8765`` (paths start with ``/v1``)."""
        return f"http://{self.host}:{self.port}"

    def base_url_for(self, region: str) -> str:
        """The API root of a region: NA is the root, EU/AU/CA a path prefix."""
        if region not in REGIONS:
            raise ValueError(f"unknown region {region!r}; known: {', '.join(REGIONS)}")
        return self.base_url if region == "na" else f"{self.base_url}/{region}"

    @property
    def token(self) -> str:
        """The main NA account's token."""
        return self.accounts[0].token

    @property
    def state(self) -> World:
        """The main account's world (thread-safe; hold ``state.lock`` for multi-step changes)."""
        return self.accounts[0].world

    def stats(self) -> dict[str, Any]:
        """Request counts per endpoint and status, 429s issued, faults injected, peak concurrency."""
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the statistics and empty the rate-limit buckets."""
        self.app.stats.reset()
        self.app.limiter.reset()

    def set_faults(self, faults: FaultSpec) -> None:
        """Replace the injected faults at run time."""
        self.app.set_faults(faults)

    def revoke_token(self, token: str) -> None:
        """Make ``token`` answer 401 from now on."""
        self.app.revoke(token)

    def advance_clock(self, seconds: float) -> None:
        """Move the simulated clock forward and apply everything that became due."""
        self.clock.advance(seconds)
        self.tick()

    def tick(self) -> None:
        """Apply due job progress, retry outcomes, live errors and purges in every account."""
        for account in self.accounts:
            account.world.tick()
