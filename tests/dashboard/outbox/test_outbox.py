"""Action batches against the simulator over HTTP: chunking, waiting, cancel, crash recovery, audit."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from django.contrib.auth import get_user_model

from celigo_api import BucketConfig, CeligoClient, InProcessLimiter
from celigo_api.simulator import FaultSpec
from dashboard.actions.retry_data import do_edit_retry_data
from dashboard.models import (
    ActionItem,
    ActionKind,
    Activity,
    ActivityKind,
    BatchState,
    CeligoState,
    ErrorRecord,
    ItemOutcome,
    RetryOutcome,
    Tag,
)
from dashboard.outbox.celigo import BatchMustWait
from dashboard.outbox.request import cancel_batch, request_action
from dashboard.outbox.runner import run_batch
from dashboard.outbox.selection import ActionRejected
from dashboard.sync.run import sync_account
from tests.dashboard.sync.test_sync import celigo_truth, connect

pytest_plugins = ["celigo_api.simulator.pytest_plugin"]
pytestmark = pytest.mark.django_db(transaction=True)

BIG_WORLD = {
    "integrations": 1,
    "flows_per_integration": 2,
    "steps_per_flow": 3,
    "standalone_flows": 1,
    "errors": 7000,
    "page_size": 500,
    "burst": 1000,
    "rate": 1000.0,
}


def synced(sim, **options):
    account = connect(sim, rate_burst=1000, rate_per_second=1000.0, **options)
    sync_account(account)
    return account


def calls(sim, endpoint: str) -> int:
    return sim.stats()["by_endpoint"].get(endpoint, 0)


def open_per_step(account) -> Counter:
    return Counter(
        ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).values_list(
            "celigo_flow_id", "celigo_step_id"
        )
    )


def test_it_resolves_thousands_of_errors_in_chunks_of_1000_per_step(make_celigo_simulator, triager):
    sim = make_celigo_simulator(**BIG_WORLD)
    account = synced(sim)
    per_step = open_per_step(account)
    total = sum(per_step.values())
    assert total >= 5000
    assert max(per_step.values()) > 1000, "some step must need more than one chunk"
    sim.reset_stats()

    batch = request_action(triager, ActionKind.RESOLVE, filter_query="status=open", run_now=False)
    batch = run_batch(batch.pk)

    assert batch.state == BatchState.DONE
    assert (batch.total, batch.succeeded, batch.failed) == (total, total, 0)
    assert calls(sim, "resolve") == sum(math.ceil(n / 1000) for n in per_step.values())
    assert sim.stats()["rate_limited_429"] == 0
    assert not ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).exists()
    assert Activity.objects.filter(kind=ActivityKind.RESOLVE_REQUESTED, actor=triager).count() == total
    # Celigo agrees: nothing is open any more, and the next sync keeps it that way.
    truth = celigo_truth(sim)
    assert CeligoState.OPEN not in set(truth.values())
    sync_account(account, full=False)
    assert not ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).exists()


def test_it_retries_only_errors_with_a_retry_data_key_and_skips_the_rest(make_celigo_simulator, triager):
    sim = make_celigo_simulator(**BIG_WORLD)
    account = synced(sim)
    open_errors = ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)
    retriable = open_errors.exclude(retry_data_key="")
    without_key = open_errors.filter(retry_data_key="").count()
    assert without_key, "the simulated world has errors without retry data"
    per_step = Counter(retriable.values_list("celigo_flow_id", "celigo_step_id"))
    sim.reset_stats()

    batch = run_batch(request_action(triager, ActionKind.RETRY, filter_query="status=open", run_now=False).pk)

    assert batch.state == BatchState.DONE
    assert batch.skipped == without_key
    assert batch.succeeded == sum(per_step.values())
    assert calls(sim, "retry") == sum(math.ceil(n / 1000) for n in per_step.values())
    skipped = ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SKIPPED).first()
    assert "No retry data key" in skipped.message
    assert set(retriable.values_list("retry_outcome", flat=True)) == {RetryOutcome.PENDING}


def test_a_batch_waits_while_celigo_is_down_and_resumes_without_repeating(make_celigo_simulator, triager):
    sim = make_celigo_simulator(**BIG_WORLD)
    account = synced(sim)
    total = ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).count()
    sim.reset_stats()
    resolves = 0

    def goes_down_after_two_chunks(event) -> None:
        nonlocal resolves
        if event.method == "PUT" and event.path.endswith("/resolved"):
            resolves += 1
            if resolves == 2:
                sim.set_faults(FaultSpec(error_503=1.0))

    def client_for(account_):
        return CeligoClient(
            account_.token,
            base_url=account_.base_url,
            limiter=InProcessLimiter(),
            bucket=BucketConfig(burst=1000, rate=1000),
            on_request=goes_down_after_two_chunks,
        )

    batch = request_action(triager, ActionKind.RESOLVE, filter_query="status=open", run_now=False)
    with pytest.raises(BatchMustWait):
        run_batch(batch.pk, client_for=client_for)
    batch.refresh_from_db()
    assert batch.state == BatchState.WAITING
    assert "unavailable" in batch.message
    assert 0 < batch.succeeded < total
    assert not ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SENDING).exists()

    sim.set_faults(FaultSpec())
    batch = run_batch(batch.pk, client_for=client_for)
    assert batch.state == BatchState.DONE
    assert batch.succeeded == total
    assert CeligoState.OPEN not in set(celigo_truth(sim).values())


def test_a_batch_waits_while_the_token_is_rejected(make_celigo_simulator, triager):
    sim = make_celigo_simulator(**BIG_WORLD)
    account = synced(sim)
    sim.revoke_token(sim.token)
    batch = request_action(triager, ActionKind.RESOLVE, filter_query=f"account={account.pk}", run_now=False)
    with pytest.raises(BatchMustWait) as info:
        run_batch(batch.pk)
    assert info.value.countdown >= 60
    batch.refresh_from_db()
    assert batch.state == BatchState.WAITING
    assert "token" in batch.message
    assert sim.token not in batch.message
    assert ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.PENDING).count() == batch.total


def test_a_cancelled_batch_sends_nothing(celigo_simulator, triager):
    account = synced(celigo_simulator)
    celigo_simulator.reset_stats()
    ids = list(ErrorRecord.objects.filter(account=account).values_list("pk", flat=True)[:40])
    batch = request_action(triager, ActionKind.RESOLVE, error_ids=ids, run_now=False)
    cancel_batch(batch)
    batch.refresh_from_db()
    assert batch.state == BatchState.CANCELLED
    assert batch.skipped == batch.total == 40
    assert calls(celigo_simulator, "resolve") == 0


def test_cancelling_a_batch_whose_errors_are_not_selected_yet_selects_nothing(celigo_simulator, triager):
    account = synced(celigo_simulator)
    celigo_simulator.reset_stats()
    batch = request_action(triager, ActionKind.RESOLVE, filter_query=f"account={account.pk}", run_now=False)
    cancel_batch(batch)
    batch.refresh_from_db()
    assert (batch.state, batch.selected, batch.total) == (BatchState.CANCELLED, False, 0)
    assert "before its errors were selected" in batch.message
    assert not ActionItem.objects.filter(batch=batch).exists()
    assert run_batch(batch.pk) is None, "a cancelled batch is finished"
    assert calls(celigo_simulator, "resolve") == 0


def test_a_resumed_batch_never_retries_twice(celigo_simulator, triager):
    """A worker killed after sending a retry chunk: the chunk is reported, not sent again."""
    account = synced(celigo_simulator)
    errors = list(
        ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).exclude(retry_data_key="")[:6]
    )
    batch = request_action(triager, ActionKind.RETRY, error_ids=[e.pk for e in errors], run_now=False)
    # The killed worker got this far: two items sent, answer never recorded; its lease has run out.
    sent = ActionItem.objects.filter(batch=batch).order_by("pk")[:2]
    ActionItem.objects.filter(pk__in=[i.pk for i in sent]).update(outcome=ItemOutcome.SENDING)
    celigo_simulator.reset_stats()

    batch = run_batch(batch.pk)
    assert batch.state == BatchState.PARTIAL
    assert batch.failed == 2
    assert batch.succeeded == 4
    unknown = ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.FAILED)
    assert all("Outcome unknown" in item.message for item in unknown)
    sent_again = {item.error.retry_data_key for item in unknown}
    retried = {
        key for job in celigo_simulator.state.jobs.values() if job.type == "retry" for key in job.retry_keys
    }
    sent = ActionItem.objects.filter(batch=batch, outcome=ItemOutcome.SUCCEEDED).select_related("error")
    assert calls(celigo_simulator, "retry") == len(
        {(i.error.celigo_flow_id, i.error.celigo_step_id) for i in sent}
    )
    assert len(retried) == 4
    assert not retried & sent_again


def test_a_resumed_resolve_sends_the_in_flight_chunk_again(celigo_simulator, triager):
    account = synced(celigo_simulator)
    errors = list(ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)[:5])
    batch = request_action(triager, ActionKind.RESOLVE, error_ids=[e.pk for e in errors], run_now=False)
    ActionItem.objects.filter(batch=batch).update(outcome=ItemOutcome.SENDING)
    batch = run_batch(batch.pk)
    assert batch.state == BatchState.DONE
    assert batch.succeeded == 5


def test_a_finished_batch_is_never_applied_again(celigo_simulator, triager):
    account = synced(celigo_simulator)
    batch = request_action(triager, ActionKind.RESOLVE, filter_query=f"account={account.pk}", run_now=False)
    run_batch(batch.pk)
    celigo_simulator.reset_stats()
    assert run_batch(batch.pk) is None
    assert calls(celigo_simulator, "resolve") == 0


def test_retry_outcomes_are_verified_by_later_syncs(make_celigo_simulator, triager):
    sim = make_celigo_simulator(retry_success_ratio=0.5, retry_job_seconds=(0.0, 0.0))
    account = synced(sim)
    sync_account(account, full=False)
    errors = list(
        ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).exclude(retry_data_key="")[:20]
    )
    batch = run_batch(
        request_action(triager, ActionKind.RETRY, error_ids=[e.pk for e in errors], run_now=False).pk
    )
    assert batch.succeeded == 20
    sim.advance_clock(5)

    sync_account(account, full=False)
    outcomes = Counter(
        ErrorRecord.objects.filter(pk__in=[e.pk for e in errors]).values_list("retry_outcome", flat=True)
    )
    assert set(outcomes) == {RetryOutcome.SUCCEEDED, RetryOutcome.FAILED}
    failed = ErrorRecord.objects.filter(
        pk__in=[e.pk for e in errors], retry_outcome=RetryOutcome.FAILED
    ).first()
    again = ErrorRecord.objects.get(retry_of=failed)
    assert again.trace_key == failed.trace_key
    assert again.status == CeligoState.OPEN
    assert Activity.objects.filter(error=failed, kind=ActivityKind.RETRY_FAILED).exists()
    succeeded = ErrorRecord.objects.filter(
        pk__in=[e.pk for e in errors], retry_outcome=RetryOutcome.SUCCEEDED
    ).first()
    assert (succeeded.status, succeeded.resolved_by) == (CeligoState.RESOLVED, "auto")


def test_a_new_error_like_a_resolved_one_is_a_regression_routed_to_its_last_owner(celigo_simulator, triager):
    sim = celigo_simulator
    account = synced(sim)
    sync_account(account, full=False)
    error = ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN).exclude(trace_key="").first()
    request_action(triager, ActionKind.ASSIGN, error_ids=[error.pk], params={"assignee": triager.pk})
    run_batch(request_action(triager, ActionKind.RESOLVE, error_ids=[error.pk], run_now=False).pk)
    sync_account(account, full=False)
    sim.state.add_error(error.celigo_flow_id, error.celigo_step_id, trace=error.trace_key)

    sync_account(account, full=False)
    regression = ErrorRecord.objects.get(regression_of=error)
    assert regression.trace_key == error.trace_key
    assert regression.assignee == triager
    assert Activity.objects.filter(error=regression, kind=ActivityKind.REGRESSION).exists()
    routed = Activity.objects.get(error=regression, kind=ActivityKind.ASSIGNED)
    assert routed.actor is None
    assert routed.data["by"] == {"kind": "sync", "name": "the sync"}
    assert routed.data["to"] == triager.username


def test_it_assigns_tags_and_comments_locally_with_an_audit_trail(celigo_simulator, triager):
    account = synced(celigo_simulator)
    errors = list(ErrorRecord.objects.filter(account=account)[:3])
    ids = [e.pk for e in errors]
    lead = get_user_model().objects.create_user("lead", password="x" * 20)

    assert request_action(triager, ActionKind.ASSIGN, error_ids=ids, params={"assignee": lead.pk}).state == (
        BatchState.DONE
    )
    request_action(
        triager, ActionKind.TAG, error_ids=ids, params={"tags": ["urgent", " Inventory  shortfall"]}
    )
    request_action(triager, ActionKind.UNTAG, error_ids=ids[:1], params={"tags": ["urgent"]})
    request_action(triager, ActionKind.COMMENT, error_ids=ids, params={"text": "Waiting for the warehouse"})
    request_action(triager, ActionKind.ASSIGN, error_ids=ids[:1], params={"assignee": None})

    first, second = ErrorRecord.objects.get(pk=ids[0]), ErrorRecord.objects.get(pk=ids[1])
    assert first.assignee is None
    assert second.assignee == lead
    assert sorted(second.tags.values_list("name", flat=True)) == ["Inventory shortfall", "urgent"]
    assert list(first.tags.values_list("name", flat=True)) == ["Inventory shortfall"]
    kinds = list(Activity.objects.filter(error=first).order_by("pk").values_list("kind", "actor__username"))
    assert kinds == [
        (ActivityKind.ASSIGNED, "triager"),
        (ActivityKind.TAGGED, "triager"),
        (ActivityKind.UNTAGGED, "triager"),
        (ActivityKind.COMMENT, "triager"),
        (ActivityKind.ASSIGNED, "triager"),
    ]
    assert Activity.objects.filter(error=first, kind=ActivityKind.ASSIGNED).last().data == {
        "from": "lead",
        "to": None,
        "to_id": None,
    }


def test_a_failed_mirror_never_undoes_the_local_change(celigo_simulator, triager):
    account = synced(celigo_simulator, mirror_tags=True)
    error = ErrorRecord.objects.filter(account=account).first()
    batch = request_action(triager, ActionKind.TAG, error_ids=[error.pk], params={"tags": ["not-in-celigo"]})
    assert batch.state == BatchState.DONE
    assert batch.mirror_failures == 1
    assert "no such tag in Celigo" in batch.mirror_message
    assert list(error.tags.values_list("name", flat=True)) == ["not-in-celigo"]


def test_it_mirrors_tags_that_exist_in_celigo(celigo_simulator, triager):
    account = synced(celigo_simulator, mirror_tags=True)
    tag = Tag.objects.exclude(celigo_tag_id="").first()
    assert tag is not None, "the sync copies Celigo's tags"
    error = ErrorRecord.objects.filter(account=account).first()
    celigo_simulator.reset_stats()
    batch = request_action(triager, ActionKind.TAG, error_ids=[error.pk], params={"tags": [tag.name]})
    assert (batch.state, batch.mirror_failures) == (BatchState.DONE, 0)
    assert calls(celigo_simulator, "tag") == 1


def test_it_edits_retry_data_with_a_diff_in_the_timeline(celigo_simulator, triager):
    account = synced(celigo_simulator)
    error = (
        ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)
        .exclude(retry_data_key="")
        .first()
    )
    with CeligoClient(account.token, base_url=account.base_url, limiter=InProcessLimiter()) as client:
        before = client.get_retry_data(error.celigo_flow_id, error.celigo_step_id, error.retry_data_key)
        edited = {**before.data, "quantity": 3} if isinstance(before.data, dict) else {"value": before.data}
        diff, batch = do_edit_retry_data(triager, error, edited, expected_before=before.data, then_retry=True)
        after = client.get_retry_data(error.celigo_flow_id, error.celigo_step_id, error.retry_data_key)
    assert after.data == edited
    assert {k: v for k, v in after.raw.items() if k != "data"} == {
        k: v for k, v in before.raw.items() if k != "data"
    }
    assert '+  "quantity": 3' in diff
    activity = Activity.objects.get(error=error, kind=ActivityKind.RETRY_DATA_EDITED)
    assert activity.data["before"] == before.data
    assert activity.data["after"] == edited
    assert batch is not None
    assert batch.kind == ActionKind.RETRY


def test_it_refuses_a_stale_retry_data_edit(celigo_simulator, triager):
    account = synced(celigo_simulator)
    error = (
        ErrorRecord.objects.filter(account=account, status=CeligoState.OPEN)
        .exclude(retry_data_key="")
        .first()
    )
    with pytest.raises(ActionRejected, match="changed in Celigo"):
        do_edit_retry_data(triager, error, {"a": 1}, expected_before={"not": "what Celigo has"})


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("explode", {}, "action: unknown action"),
        (ActionKind.ASSIGN, {"assignee": 99999}, "assignee: no active user"),
        (ActionKind.TAG, {"tags": []}, "tags: give at least one"),
        (ActionKind.TAG, {"tags": ",".join(f"t{n}" for n in range(30))}, "tags: at most"),
        (ActionKind.COMMENT, {"text": "  "}, "text: a comment needs"),
    ],
)
def test_it_rejects_bad_requests_naming_the_field(kind, params, message, triager, celigo_simulator):
    account = synced(celigo_simulator)
    error = ErrorRecord.objects.filter(account=account).first()
    with pytest.raises(ActionRejected, match=message):
        request_action(triager, kind, error_ids=[error.pk], params=params)


def test_it_rejects_an_invalid_filter(triager):
    with pytest.raises(ActionRejected, match="filter: occurred_after"):
        request_action(triager, ActionKind.RESOLVE, filter_query="occurred_after=yesterday-ish")
