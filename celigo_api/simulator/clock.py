"""The simulator's clock and Celigo's timestamp format.

Celigo writes timestamps as ISO-8601 UTC with milliseconds and a ``Z`` (docs/celigo-api.md §1.6,
§2.3 samples); job filters also accept epoch milliseconds and plain dates (§1.6, §3.1). Internally every
instant is an integer number of epoch milliseconds, which keeps ordering and arithmetic cheap at a million
errors.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)


def iso_ms(ms: int) -> str:
    """Format epoch milliseconds the way Celigo does: ``2026-05-22T04:22:12.852Z``."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def parse_instant(value: str) -> int:
    """Parse an ISO-8601 instant, a plain date or epoch milliseconds into epoch milliseconds.

    Raises ``ValueError`` on anything else, which the handlers turn into a 400.
    """
    text = value.strip()
    if text.isdigit() and len(text) > 8:
        return int(text)
    match = _ISO_RE.match(text)
    if not match:
        raise ValueError(f"not a timestamp: {value!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    moment = datetime(
        int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC
    )
    ms = int(moment.timestamp()) * 1000 + int((fraction or "0").ljust(3, "0")[:3])
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        ms -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60) * 1000
    return ms


class SimClock:
    """Wall-clock time plus an offset that tests and ``/__sim__/clock`` can push forward.

    Time never goes backwards: ``advance`` only adds, so retry jobs, purge dates and live errors can be
    driven deterministically without sleeping.
    """

    def __init__(self, start_ms: int | None = None) -> None:
        self._lock = threading.Lock()
        self._start_ms = start_ms if start_ms is not None else int(time.time() * 1000)
        self._mono0 = time.monotonic()
        self._offset_ms = 0

    @property
    def start_ms(self) -> int:
        """The instant the simulated world was built around."""
        return self._start_ms

    def now_ms(self) -> int:
        """The current simulated instant in epoch milliseconds."""
        elapsed = int((time.monotonic() - self._mono0) * 1000)
        with self._lock:
            return self._start_ms + elapsed + self._offset_ms

    def advance(self, seconds: float) -> None:
        """Jump the clock forward by ``seconds`` (negative values are refused)."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._offset_ms += int(seconds * 1000)
