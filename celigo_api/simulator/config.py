"""Configuration of a simulated integrator.io: world size, paging quirks, rate limit and faults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Literal

NextPageForm = Literal["v1", "relative", "api", "absolute"]
NEXT_PAGE_FORMS: tuple[str, ...] = ("v1", "relative", "api", "absolute")

_FAULT_KEYS = {
    "500": "error_500",
    "502": "error_502",
    "503": "error_503",
    "429": "rate_limit_429",
    "latency": "latency",
    "reset": "reset",
    "malformed": "malformed",
    "revoke_at": "revoke_at",
}


@dataclass(frozen=True)
class FaultSpec:
    """Faults injected into ``/v1`` responses, as probabilities per request.

    ``latency`` is a delay in seconds added to every request; ``revoke_at`` revokes the main account's token
    that many simulated seconds after the server started. ``reset`` really cuts the TCP connection (RST)
    after part of the body was sent; ``malformed`` sends a truncated JSON body with a matching
    Content-Length.
    """

    error_500: float = 0.0
    error_502: float = 0.0
    error_503: float = 0.0
    rate_limit_429: float = 0.0
    latency: float = 0.0
    reset: float = 0.0
    malformed: float = 0.0
    revoke_at: float | None = None

    @classmethod
    def parse(cls, spec: str) -> FaultSpec:
        """Parse a fault SPEC such as ``"500=0.05,503=0.02,429=0.01,latency=0.2,reset=0.01,revoke_at=120"``.

        Unknown keys and out-of-range probabilities raise ``ValueError``.
        """
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, raw = item.partition("=")
            if not sep or key.strip() not in _FAULT_KEYS:
                raise ValueError(f"unknown fault {item!r}; known: {', '.join(_FAULT_KEYS)}")
            values[_FAULT_KEYS[key.strip()]] = float(raw)
        faults = cls(**values)
        faults.validate()
        return faults

    def validate(self) -> None:
        """Refuse probabilities outside [0, 1] and negative delays."""
        for name in ("error_500", "error_502", "error_503", "rate_limit_429", "reset", "malformed"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1, got {value}")
        if self.latency < 0 or (self.revoke_at is not None and self.revoke_at < 0):
            raise ValueError("latency and revoke_at must not be negative")

    def to_spec(self) -> str:
        """The inverse of :meth:`parse` (only the non-default entries)."""
        names = {v: k for k, v in _FAULT_KEYS.items()}
        parts = []
        for item in fields(self):
            value = getattr(self, item.name)
            if value not in (0.0, None):
                parts.append(f"{names[item.name]}={value:g}")
        return ",".join(parts)

    def as_dict(self) -> dict[str, float | None]:
        """A JSON-friendly view, used by ``/__sim__/stats``."""
        return {item.name: getattr(self, item.name) for item in fields(self)}


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that shapes a simulated integrator.io.

    ``seed`` is ``"demo"`` (the hand-written Acme Retail account) or an int (a synthetic world sized by
    ``integrations``, ``flows_per_integration``, ``steps_per_flow``, ``standalone_flows`` and ``errors``).
    Size options are ignored for the demo seed.
    """

    seed: str | int = "demo"
    integrations: int = 3
    flows_per_integration: int = 4
    steps_per_flow: int = 3
    errors: int = 1000
    standalone_flows: int = 1
    page_size: int = 100
    link_page_size: int = 100
    jobs_page_size: int = 1000
    next_page_form: NextPageForm = "v1"
    next_page_keeps_filters: bool = True
    burst: int = 100
    rate: float = 30.0
    retry_success_ratio: float = 0.7
    retry_job_seconds: tuple[float, float] = (1.0, 2.0)
    live_rate: float = 0.0
    faults: FaultSpec = field(default_factory=FaultSpec)
    start_time: datetime | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seed, str) and self.seed != "demo":
            if not self.seed.lstrip("-").isdigit():
                raise ValueError(f"seed must be 'demo' or an integer, got {self.seed!r}")
            object.__setattr__(self, "seed", int(self.seed))
        if self.next_page_form not in NEXT_PAGE_FORMS:
            raise ValueError(f"next_page_form must be one of {NEXT_PAGE_FORMS}")
        for name in ("integrations", "flows_per_integration", "errors", "standalone_flows"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if (
            self.steps_per_flow < 1
            or self.page_size < 1
            or self.link_page_size < 1
            or self.jobs_page_size < 1
        ):
            raise ValueError("steps_per_flow and page sizes must be at least 1")
        if self.burst < 1 or self.rate <= 0:
            raise ValueError("burst must be >= 1 and rate > 0")
        if not 0.0 <= self.retry_success_ratio <= 1.0:
            raise ValueError("retry_success_ratio must be between 0 and 1")
        self.faults.validate()

    @property
    def is_demo(self) -> bool:
        """True for the hand-written demo account."""
        return self.seed == "demo"

    def with_changes(self, **changes: object) -> SimulatorConfig:
        """A copy with some options changed."""
        return replace(self, **changes)  # type: ignore[arg-type]
