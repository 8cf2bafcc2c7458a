"""Fault injection: the failures a robust client must survive (docs/celigo-api.md §8).

Faults apply to ``/v1`` requests only, never to ``/__sim__``. Decisions come from a seeded random
generator, so a given request sequence meets the same faults on every run.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
from collections.abc import Iterator

from .config import FaultSpec

GATEWAY_PAGES = {
    502: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>"
    "</center>\r\n</body>\r\n</html>\r\n",
    503: "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n"
    "</body></html>\n",
}


class SimulatedReset(ConnectionResetError):
    """Raised inside a response body to make the server drop the connection with a TCP RST."""


def abort_connection(sock: socket.socket) -> None:
    """Close ``sock`` so the peer sees a reset, not a clean end of stream.

    SO_LINGER with a zero timeout makes ``close`` discard unsent data and send RST instead of FIN.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


def cut_body(body: bytes) -> Iterator[bytes]:
    """Yield the first part of ``body``, then raise :class:`SimulatedReset` (the server aborts)."""
    yield body[: max(1, len(body) // 2)]
    raise SimulatedReset("simulated connection reset")


class FaultInjector:
    """Holds the current :class:`FaultSpec` and rolls the dice for each request."""

    def __init__(self, spec: FaultSpec, seed: int) -> None:
        self._spec = spec
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def spec(self) -> FaultSpec:
        """The faults in force."""
        return self._spec

    def set(self, spec: FaultSpec) -> None:
        """Replace the faults in force (takes effect on the next request)."""
        spec.validate()
        with self._lock:
            self._spec = spec

    def before(self) -> int | None:
        """A forced status for this request (500/502/503/429), or None."""
        spec = self._spec
        with self._lock:
            for status, chance in (
                (500, spec.error_500),
                (502, spec.error_502),
                (503, spec.error_503),
                (429, spec.rate_limit_429),
            ):
                if chance and self._random.random() < chance:
                    return status
        return None

    def after(self) -> str | None:
        """How to damage a successful body: "reset", "malformed", or None."""
        spec = self._spec
        with self._lock:
            if spec.reset and self._random.random() < spec.reset:
                return "reset"
            if spec.malformed and self._random.random() < spec.malformed:
                return "malformed"
        return None
