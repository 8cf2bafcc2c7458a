"""Typed views of Celigo's JSON.

Every model keeps the object it was read from in ``raw`` and the fields it does not name in ``extra``, so a
field Celigo adds tomorrow is stored, not dropped. Parsing never fails on type drift the reference records:
ids and keys may be numbers or strings, ``oIndex`` is ``"1"`` or ``1`` (docs/celigo-api.md §2.3),
optional fields may be missing or null, and timestamps are ISO-8601 or epoch milliseconds (§1.6); an
unreadable value becomes None and stays visible in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

JSONObject = dict[str, Any]


def parse_timestamp(value: object) -> datetime | None:
    """An aware UTC datetime from ISO-8601 (``Z`` or offset) or epoch milliseconds; None if unreadable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value / 1000.0, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return parse_timestamp(int(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    # A naive timestamp is taken as UTC: Celigo documents UTC throughout (§1.6).
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamp(value: datetime | str) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``, the form Celigo's filters take (§1.6, §3.1)."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def as_str(value: object) -> str | None:
    """A string id or key from a string or a number; None for null, objects and lists."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    return str(value)


def as_int(value: object) -> int | None:
    """An int from an int, a float or a numeric string; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value.strip()))
        except ValueError:
            return None
    return None


def as_bool(value: object) -> bool | None:
    """A bool from a bool or ``"true"``/``"false"``; None otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def as_object(value: object) -> JSONObject:
    """``value`` if it is a JSON object, else an empty one (so a model can always be built)."""
    return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class CeligoModel:
    """Base of every model: ``raw`` is the JSON object as received."""

    raw: JSONObject = field(repr=False, compare=False)

    #: The JSON keys the model turns into attributes; everything else is in :attr:`extra`.
    known_fields: ClassVar[frozenset[str]] = frozenset()

    @property
    def extra(self) -> JSONObject:
        """The fields of ``raw`` this model has no attribute for."""
        return {k: v for k, v in self.raw.items() if k not in self.known_fields}


@dataclass(frozen=True)
class TokenInfo(CeligoModel):
    """``GET /v1/tokenInfo`` (§1.2): the user the token acts as, and its scope when given."""

    user_id: str | None
    scope: str | None

    known_fields = frozenset({"_userId", "scope"})

    @classmethod
    def from_json(cls, obj: object) -> TokenInfo:
        raw = as_object(obj)
        return cls(raw=raw, user_id=as_str(raw.get("_userId")), scope=as_str(raw.get("scope")))


@dataclass(frozen=True)
class Integration(CeligoModel):
    """An integration (§4.3)."""

    id: str
    name: str | None
    sandbox: bool | None
    last_modified: datetime | None

    known_fields = frozenset({"_id", "name", "sandbox", "lastModified"})

    @classmethod
    def from_json(cls, obj: object) -> Integration:
        raw = as_object(obj)
        return cls(
            raw=raw,
            id=as_str(raw.get("_id")) or "",
            name=as_str(raw.get("name")),
            sandbox=as_bool(raw.get("sandbox")),
            last_modified=parse_timestamp(raw.get("lastModified")),
        )


def _processor_step_ids(processors: object) -> list[str]:
    ids: list[str] = []
    if isinstance(processors, list):
        for processor in processors:
            if isinstance(processor, Mapping):
                step = as_str(processor.get("_exportId")) or as_str(processor.get("_importId"))
                if step:
                    ids.append(step)
    return ids


@dataclass(frozen=True)
class Flow(CeligoModel):
    """A flow (§4.1). ``integration_id`` is None for a standalone flow."""

    id: str
    name: str | None
    integration_id: str | None
    disabled: bool | None
    sandbox: bool | None
    last_executed_at: datetime | None
    last_modified: datetime | None

    known_fields = frozenset(
        {"_id", "name", "_integrationId", "disabled", "sandbox", "lastExecutedAt", "lastModified"}
    )

    @classmethod
    def from_json(cls, obj: object) -> Flow:
        raw = as_object(obj)
        return cls(
            raw=raw,
            id=as_str(raw.get("_id")) or "",
            name=as_str(raw.get("name")),
            integration_id=as_str(raw.get("_integrationId")),
            disabled=as_bool(raw.get("disabled")),
            sandbox=as_bool(raw.get("sandbox")),
            last_executed_at=parse_timestamp(raw.get("lastExecutedAt")),
            last_modified=parse_timestamp(raw.get("lastModified")),
        )

    @property
    def step_ids(self) -> list[str]:
        """Every export and import id the flow's errors can be filed under, in flow order (§4.1).

        Page generators, page processors, router branches' processors, and the legacy single-step
        ``_exportId`` / ``_importId``; duplicates removed.
        """
        ids: list[str] = []
        generators = self.raw.get("pageGenerators")
        if isinstance(generators, list):
            ids += [s for g in generators if isinstance(g, Mapping) and (s := as_str(g.get("_exportId")))]
        ids += _processor_step_ids(self.raw.get("pageProcessors"))
        routers = self.raw.get("routers")
        if isinstance(routers, list):
            for router in routers:
                branches = router.get("branches") if isinstance(router, Mapping) else None
                for branch in branches if isinstance(branches, list) else []:
                    if isinstance(branch, Mapping):
                        ids += _processor_step_ids(branch.get("pageProcessors"))
        for legacy in ("_exportId", "_importId"):
            if step := as_str(self.raw.get(legacy)):
                ids.append(step)
        return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class Step(CeligoModel):
    """An export or an import (§4.3): the resources a flow's steps point at."""

    id: str
    name: str | None
    adaptor_type: str | None
    connection_id: str | None
    sandbox: bool | None
    last_modified: datetime | None

    known_fields = frozenset({"_id", "name", "adaptorType", "_connectionId", "sandbox", "lastModified"})

    @classmethod
    def from_json(cls, obj: object) -> Self:
        raw = as_object(obj)
        return cls(
            raw=raw,
            id=as_str(raw.get("_id")) or "",
            name=as_str(raw.get("name")),
            adaptor_type=as_str(raw.get("adaptorType")),
            connection_id=as_str(raw.get("_connectionId")),
            sandbox=as_bool(raw.get("sandbox")),
            last_modified=parse_timestamp(raw.get("lastModified")),
        )


class Export(Step):
    """An export (page generator or lookup)."""

    @property
    def is_lookup(self) -> bool:
        return as_bool(self.raw.get("isLookup")) is True


class Import(Step):
    """An import."""


@dataclass(frozen=True)
class User(CeligoModel):
    """A user with access to the account, from ``GET /v1/ashares`` (§4.4). The owner is not listed there.

    ``id`` is the share id; ``user_id`` is ``sharedWithUser._id``, the id ``resolvedBy`` holds.
    """

    id: str
    user_id: str | None
    email: str | None
    name: str | None
    access_level: str | None
    accepted: bool | None
    disabled: bool | None

    known_fields = frozenset({"_id", "sharedWithUser", "accessLevel", "accepted", "disabled"})

    @classmethod
    def from_json(cls, obj: object) -> User:
        raw = as_object(obj)
        shared = as_object(raw.get("sharedWithUser"))
        return cls(
            raw=raw,
            id=as_str(raw.get("_id")) or "",
            user_id=as_str(shared.get("_id")),
            email=as_str(shared.get("email")),
            name=as_str(shared.get("name")),
            access_level=as_str(raw.get("accessLevel")),
            accepted=as_bool(raw.get("accepted")),
            disabled=as_bool(raw.get("disabled")),
        )


@dataclass(frozen=True)
class Tag(CeligoModel):
    """A tag definition from ``GET /v1/tags``; its shape is INFERRED (§2.13), so ``tag`` or ``name``."""

    id: str
    name: str | None

    known_fields = frozenset({"_id", "tag", "name"})

    @classmethod
    def from_json(cls, obj: object) -> Tag:
        raw = as_object(obj)
        return cls(raw=raw, id=as_str(raw.get("_id")) or "", name=as_str(raw.get("tag") or raw.get("name")))


@dataclass(frozen=True)
class FlowErrorCount(CeligoModel):
    """One row of an integration's error summary (§2.1)."""

    flow_id: str
    num_error: int
    last_error_at: datetime | None

    known_fields = frozenset({"_flowId", "numError", "lastErrorAt"})

    @classmethod
    def from_json(cls, obj: object) -> FlowErrorCount:
        raw = as_object(obj)
        return cls(
            raw=raw,
            flow_id=as_str(raw.get("_flowId")) or "",
            num_error=as_int(raw.get("numError")) or 0,
            last_error_at=parse_timestamp(raw.get("lastErrorAt")),
        )


@dataclass(frozen=True)
class StepErrorCount(CeligoModel):
    """One row of a flow's per-step error summary (§2.2); steps without errors may appear with 0."""

    step_id: str
    num_error: int
    last_error_at: datetime | None

    known_fields = frozenset({"_expOrImpId", "numError", "lastErrorAt"})

    @classmethod
    def from_json(cls, obj: object) -> StepErrorCount:
        raw = as_object(obj)
        return cls(
            raw=raw,
            step_id=as_str(raw.get("_expOrImpId")) or "",
            num_error=as_int(raw.get("numError")) or 0,
            last_error_at=parse_timestamp(raw.get("lastErrorAt")),
        )


@dataclass(frozen=True)
class StepError(CeligoModel):
    """An open or resolved error of one flow step (§2.3, §2.5).

    ``retry_data_key`` is None when the error cannot be retried; ``resolved_at`` / ``resolved_by`` are set
    on resolved errors (``resolved_by`` is a user id or ``"auto"``). ``o_index`` accepts ``"1"`` and ``1``.
    """

    error_id: str
    occurred_at: datetime | None
    source: str | None
    code: str | None
    message: str | None
    classification: str | None
    classified_by: str | None
    trace_key: str | None
    retry_data_key: str | None
    flow_job_id: str | None
    req_and_res_key: str | None
    o_index: int | None
    export_data_uri: str | None
    import_data_uri: str | None
    purge_at: datetime | None
    retriable: bool | None
    resolved_at: datetime | None
    resolved_by: str | None

    known_fields = frozenset(
        {
            "errorId",
            "occurredAt",
            "source",
            "code",
            "message",
            "classification",
            "classifiedBy",
            "traceKey",
            "retryDataKey",
            "_flowJobId",
            "reqAndResKey",
            "oIndex",
            "exportDataURI",
            "importDataURI",
            "purgeAt",
            "retriable",
            "resolvedAt",
            "resolvedBy",
        }
    )

    @classmethod
    def from_json(cls, obj: object) -> StepError:
        raw = as_object(obj)
        message = raw.get("message")
        return cls(
            raw=raw,
            error_id=as_str(raw.get("errorId")) or as_str(raw.get("_id")) or "",
            occurred_at=parse_timestamp(raw.get("occurredAt")),
            source=as_str(raw.get("source")),
            code=as_str(raw.get("code")),
            # A message that is an object (seen from some adaptors) is kept as text rather than dropped.
            message=message if isinstance(message, str) or message is None else str(message),
            classification=as_str(raw.get("classification")),
            classified_by=as_str(raw.get("classifiedBy")),
            trace_key=as_str(raw.get("traceKey")),
            retry_data_key=as_str(raw.get("retryDataKey")) or None,
            flow_job_id=as_str(raw.get("_flowJobId")),
            req_and_res_key=as_str(raw.get("reqAndResKey")) or None,
            o_index=as_int(raw.get("oIndex")),
            export_data_uri=as_str(raw.get("exportDataURI")),
            import_data_uri=as_str(raw.get("importDataURI")),
            purge_at=parse_timestamp(raw.get("purgeAt")),
            retriable=as_bool(raw.get("retriable")),
            resolved_at=parse_timestamp(raw.get("resolvedAt")),
            resolved_by=as_str(raw.get("resolvedBy")),
        )


@dataclass(frozen=True)
class RetryData(CeligoModel):
    """The retry data of one error (§2.9): the failed record in ``data`` plus Celigo's envelope."""

    data: Any
    stage: str | None
    trace_key: str | None

    known_fields = frozenset({"data", "stage", "traceKey"})

    @classmethod
    def from_json(cls, obj: object) -> RetryData:
        raw = as_object(obj)
        return cls(
            raw=raw,
            data=raw.get("data"),
            stage=as_str(raw.get("stage")),
            trace_key=as_str(raw.get("traceKey")),
        )

    def with_data(self, data: Any) -> JSONObject:
        """The whole object with ``data`` replaced: what ``PUT …/data`` needs, since PUT erases omitted
        fields (§1.6, §2.9)."""
        return {**self.raw, "data": data}


@dataclass(frozen=True)
class HttpMessage:
    """One side of a logged HTTP exchange. ``body_key`` replaces ``body`` when the body was large."""

    url: str | None
    method: str | None
    status: int | None
    headers: JSONObject
    body: Any
    body_key: str | None

    @classmethod
    def from_json(cls, obj: object) -> HttpMessage:
        raw = as_object(obj)
        return cls(
            url=as_str(raw.get("url")),
            method=as_str(raw.get("method")),
            status=as_int(raw.get("status") or raw.get("statusCode")),
            headers=as_object(raw.get("headers")),
            body=raw.get("body"),
            body_key=as_str(raw.get("bodyKey")),
        )


@dataclass(frozen=True)
class HttpExchange(CeligoModel):
    """The HTTP request and response behind an error (§2.10)."""

    request: HttpMessage
    response: HttpMessage

    known_fields = frozenset({"request", "response"})

    @classmethod
    def from_json(cls, obj: object) -> HttpExchange:
        raw = as_object(obj)
        return cls(
            raw=raw,
            request=HttpMessage.from_json(raw.get("request")),
            response=HttpMessage.from_json(raw.get("response")),
        )


_JOB_COUNTERS = ("numError", "numResolved", "numOpenError", "numSuccess", "numIgnore", "numPagesGenerated")


@dataclass(frozen=True)
class Job(CeligoModel):
    """A job (§3.2): a flow run, a step of one, or a retry. ``children`` is filled for a job family."""

    id: str
    type: str | None
    status: str | None
    flow_id: str | None
    integration_id: str | None
    export_id: str | None
    import_id: str | None
    flow_job_id: str | None
    parent_job_id: str | None
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    num_error: int | None
    num_resolved: int | None
    num_open_error: int | None
    num_success: int | None
    num_ignore: int | None
    num_pages_generated: int | None
    children: tuple[Job, ...] = ()

    known_fields = frozenset(
        {
            "_id",
            "type",
            "status",
            "_flowId",
            "_integrationId",
            "_exportId",
            "_importId",
            "_flowJobId",
            "_parentJobId",
            "createdAt",
            "startedAt",
            "endedAt",
            "children",
            *_JOB_COUNTERS,
        }
    )

    @classmethod
    def from_json(cls, obj: object) -> Job:
        raw = as_object(obj)
        children = raw.get("children")
        return cls(
            raw=raw,
            id=as_str(raw.get("_id")) or "",
            type=as_str(raw.get("type")),
            # "cancelled" appears in some prose (§3.2); the API value is "canceled".
            status=_normalise_status(as_str(raw.get("status"))),
            flow_id=as_str(raw.get("_flowId")),
            integration_id=as_str(raw.get("_integrationId")),
            export_id=as_str(raw.get("_exportId")),
            import_id=as_str(raw.get("_importId")),
            flow_job_id=as_str(raw.get("_flowJobId")),
            parent_job_id=as_str(raw.get("_parentJobId")),
            created_at=parse_timestamp(raw.get("createdAt")),
            started_at=parse_timestamp(raw.get("startedAt")),
            ended_at=parse_timestamp(raw.get("endedAt")),
            num_error=as_int(raw.get("numError")),
            num_resolved=as_int(raw.get("numResolved")),
            num_open_error=as_int(raw.get("numOpenError")),
            num_success=as_int(raw.get("numSuccess")),
            num_ignore=as_int(raw.get("numIgnore")),
            num_pages_generated=as_int(raw.get("numPagesGenerated")),
            children=tuple(Job.from_json(c) for c in children if isinstance(c, Mapping))
            if isinstance(children, list)
            else (),
        )


def _normalise_status(status: str | None) -> str | None:
    return "canceled" if status == "cancelled" else status


@dataclass(frozen=True)
class ChunkOutcome:
    """What happened to one chunk of a bulk call (resolve, retry, assign, tag).

    ``ok`` with ``error`` None on success; otherwise ``error`` holds the exception (an :class:`OutcomeUnknown`
    means the chunk may have been applied). ``response`` is the parsed body (None for 204); ``job_id`` is the
    retry job's id when Celigo returned one (§2.8).
    """

    ids: tuple[Any, ...]
    ok: bool
    error: Exception | None = None
    response: Any = None
    job_id: str | None = None
