"""Typed models keep everything and accept the type drift the reference records."""

from datetime import UTC, datetime

from celigo_api import Flow, HttpExchange, Job, RetryData, StepError, StepErrorCount, Tag, User
from celigo_api.models import format_timestamp, parse_timestamp


def test_it_parses_a_step_error_and_keeps_unknown_fields() -> None:
    raw = {
        "errorId": "e1",
        "occurredAt": "2026-05-22T04:22:12.852Z",
        "oIndex": "1",
        "retryDataKey": "rdk",
        "_flowJobId": "j1",
        "traceKey": 2345,
        "assignedTo": "a@example.com",
        "newField": {"x": 1},
    }
    error = StepError.from_json(raw)
    assert error.error_id == "e1"
    assert error.occurred_at == datetime(2026, 5, 22, 4, 22, 12, 852000, tzinfo=UTC)
    assert (error.o_index, error.trace_key, error.flow_job_id) == (1, "2345", "j1")
    assert error.extra == {"assignedTo": "a@example.com", "newField": {"x": 1}}
    assert error.raw is raw or error.raw == raw


def test_it_accepts_a_numeric_oindex_and_missing_fields() -> None:
    error = StepError.from_json({"errorId": 7, "oIndex": 2, "retryDataKey": None, "occurredAt": None})
    assert (error.error_id, error.o_index, error.retry_data_key, error.occurred_at) == ("7", 2, None, None)
    assert error.message is None


def test_it_does_not_crash_on_garbage() -> None:
    error = StepError.from_json(
        {"errorId": "e", "oIndex": "first", "occurredAt": "yesterday", "message": {"a": 1}}
    )
    assert (error.o_index, error.occurred_at, error.message) == (None, None, "{'a': 1}")
    assert StepError.from_json(None).error_id == ""


def test_it_reads_resolved_fields() -> None:
    error = StepError.from_json({"errorId": "e", "resolvedAt": 1779423732852, "resolvedBy": "auto"})
    assert error.resolved_by == "auto"
    assert error.resolved_at is not None
    assert error.resolved_at.tzinfo is UTC


def test_it_parses_timestamps_in_every_form() -> None:
    expected = datetime(2026, 5, 22, 4, 22, 12, 852000, tzinfo=UTC)
    assert parse_timestamp("2026-05-22T04:22:12.852Z") == expected
    assert parse_timestamp("2026-05-22T06:22:12.852+02:00") == expected
    assert parse_timestamp("2026-05-22T04:22:12.852") == expected
    assert parse_timestamp(int(expected.timestamp() * 1000)) == expected
    assert parse_timestamp(str(int(expected.timestamp() * 1000))) == expected
    assert parse_timestamp(True) is None


def test_it_formats_timestamps_as_celigo_filters_want() -> None:
    assert (
        format_timestamp(datetime(2026, 5, 22, 4, 22, 12, 852000, tzinfo=UTC)) == "2026-05-22T04:22:12.852Z"
    )
    assert format_timestamp(datetime(2026, 5, 22)) == "2026-05-22T00:00:00.000Z"


def test_it_lists_every_step_of_a_flow() -> None:
    flow = Flow.from_json(
        {
            "_id": "f",
            "pageGenerators": [{"_exportId": "e1"}],
            "pageProcessors": [{"type": "import", "_importId": "i1"}, {"type": "export", "_exportId": "e2"}],
            "routers": [{"branches": [{"pageProcessors": [{"_importId": "i2"}, {"_importId": "i1"}]}]}],
            "_exportId": "legacy",
        }
    )
    assert flow.step_ids == ["e1", "i1", "e2", "i2", "legacy"]
    assert flow.integration_id is None


def test_it_reads_summaries_users_tags_jobs() -> None:
    assert StepErrorCount.from_json({"_expOrImpId": "s", "numError": "3"}).num_error == 3
    user = User.from_json({"_id": "share", "sharedWithUser": {"_id": "u", "email": "a@b.c"}})
    assert (user.id, user.user_id, user.email) == ("share", "u", "a@b.c")
    assert Tag.from_json({"_id": "t", "tag": "urgent"}).name == "urgent"
    job = Job.from_json(
        {"_id": "j", "status": "cancelled", "children": [{"_id": "c", "oIndex": "1"}], "numError": 5}
    )
    assert (job.status, job.children[0].id, job.num_error) == ("canceled", "c", 5)


def test_it_builds_the_whole_retry_data_object_for_put() -> None:
    retry = RetryData.from_json({"data": {"a": 1}, "stage": "import", "traceKey": 5, "other": True})
    assert retry.with_data({"a": 2}) == {"data": {"a": 2}, "stage": "import", "traceKey": 5, "other": True}


def test_it_reads_an_http_exchange() -> None:
    exchange = HttpExchange.from_json(
        {
            "request": {"url": "u", "method": "POST", "body": "{}"},
            "response": {"status": "422", "bodyKey": "k"},
        }
    )
    assert (exchange.request.method, exchange.response.status, exchange.response.body_key) == (
        "POST",
        422,
        "k",
    )
