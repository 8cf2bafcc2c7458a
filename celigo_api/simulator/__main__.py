"""Command line: ``python -m celigo_api.simulator --port P [options]``.

Serves a simulated integrator.io until Ctrl-C or SIGTERM, after printing the base URLs and tokens::

    python -m celigo_api.simulator --seed demo --port 8765
    curl -H "Authorization: Bearer sim-demo-token" http://127.0.0.1:8765/v1/flows

Fault SPEC (``--faults``): comma-separated ``key=value`` pairs, probabilities per request unless noted::

    500=0.05,502=0.02,503=0.02,429=0.01,latency=0.2,reset=0.01,malformed=0.01,revoke_at=120

``500``/``502``/``503``: answer that status (502/503 with an HTML gateway page); ``429``: a forced
``rate_limited`` answer with Retry-After; ``latency``: seconds added to every request; ``reset``: cut the
TCP connection (RST) half-way through the body; ``malformed``: truncated JSON; ``revoke_at``: seconds after
start when the main token is revoked (401). Faults can be changed at run time with ``PUT /__sim__/faults``.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .config import NEXT_PAGE_FORMS, FaultSpec, SimulatorConfig
from .server import SimulatorServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m celigo_api.simulator",
        description="A faithful fake Celigo integrator.io API server.",
        epilog="Fault SPEC example: 500=0.05,502=0.02,503=0.02,429=0.01,latency=0.2,reset=0.01,"
        "malformed=0.01,revoke_at=120 (probabilities per request; latency in seconds; revoke_at in "
        "seconds after start). "
        "Tokens: sim-demo-token / sim-eu-token for --seed demo, sim-token-<seed> / sim-eu-token-<seed> "
        "otherwise. Regions: NA at the root, EU/AU/CA under /eu, /au, /ca. Control API under /__sim__/.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind, 0 for any (default 8765)")
    parser.add_argument("--seed", default="demo", help="'demo' (the Acme Retail account) or an integer")
    parser.add_argument("--integrations", type=int, default=3, help="integrations (int seeds)")
    parser.add_argument(
        "--flows-per-integration", type=int, default=4, help="flows per integration (int seeds)"
    )
    parser.add_argument("--steps-per-flow", type=int, default=3, help="steps per flow (int seeds)")
    parser.add_argument(
        "--standalone-flows", type=int, default=1, help="flows without integration (int seeds)"
    )
    parser.add_argument("--errors", type=int, default=1000, help="total errors, up to 1,000,000 (int seeds)")
    parser.add_argument("--page-size", type=int, default=100, help="step-error page size (nextPageURL)")
    parser.add_argument("--link-page-size", type=int, default=100, help="Link-header list page size")
    parser.add_argument(
        "--next-page-form",
        choices=NEXT_PAGE_FORMS,
        default="v1",
        help="form of nextPageURL (docs/celigo-api.md §1.5.2)",
    )
    parser.add_argument(
        "--next-page-drops-filters",
        action="store_true",
        help="nextPageURL omits the caller's filters (the client must re-append them)",
    )
    parser.add_argument("--burst", type=int, default=100, help="leaky bucket size per account (default 100)")
    parser.add_argument(
        "--rate", type=float, default=30.0, help="leak rate, requests/s per account (default 30)"
    )
    parser.add_argument(
        "--retry-success-ratio", type=float, default=0.7, help="share of retries that succeed"
    )
    parser.add_argument("--faults", default="", metavar="SPEC", help="faults to inject, see below")
    parser.add_argument("--live-rate", type=float, default=0.0, help="new errors per second while running")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until interrupted."""
    args = _parser().parse_args(argv)
    try:
        config = SimulatorConfig(
            seed=args.seed,
            integrations=args.integrations,
            flows_per_integration=args.flows_per_integration,
            steps_per_flow=args.steps_per_flow,
            standalone_flows=args.standalone_flows,
            errors=args.errors,
            page_size=args.page_size,
            link_page_size=args.link_page_size,
            next_page_form=args.next_page_form,
            next_page_keeps_filters=not args.next_page_drops_filters,
            burst=args.burst,
            rate=args.rate,
            retry_success_ratio=args.retry_success_ratio,
            live_rate=args.live_rate,
            faults=FaultSpec.parse(args.faults),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = SimulatorServer(config, host=args.host, port=args.port, log_requests=not args.quiet)
    print(f"Celigo simulator (seed {config.seed}) listening on {server.base_url}", flush=True)
    for account in server.accounts:
        print(
            f"  {account.region.upper():3} {server.base_url_for(account.region):32} token={account.token}"
            f"  ({account.name})",
            flush=True,
        )
    print(f"  control API: {server.base_url}/__sim__/stats   (Ctrl-C to stop)", flush=True)

    def _stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must run outside the serving thread.
        threading.Thread(target=server.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    # Also handle SIGINT ourselves: a shell starting us in the background would otherwise ignore Ctrl-C.
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server._stop.set()
        server._server.server_close()
    print("Celigo simulator stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
