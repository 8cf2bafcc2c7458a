"""Applying a rule to the open backlog: a batch in the outbox, audited, leads only, at any size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from dashboard.actions.rules import RuleFields, do_apply_rule_to_backlog, do_create_rule
from dashboard.models import (
    ActionBatch,
    ActionKind,
    Activity,
    ActivityKind,
    BatchState,
    CeligoState,
    ErrorRecord,
    RoutingRule,
    RuleHit,
)
from dashboard.outbox.runner import run_batch
from dashboard.outbox.selection import ActionRejected
from dashboard.queries.rules import dry_run
from tests.dashboard.factories import ErrorRecordFactory, StepFactory

pytestmark = pytest.mark.django_db

RENO = [{"field": "message", "op": "contains", "value": "reno"}]


def make_rule(**fields) -> RoutingRule:
    return do_create_rule(None, RuleFields(name="Reno", conditions=RENO, **fields))


def test_the_backlog_batch_applies_the_rule_to_open_matching_errors_only(lead, triager, warehouse, finance):
    rule = make_rule(team=warehouse, tags=["reno"])
    matching = ErrorRecordFactory.create_batch(3, message="Shortfall at Reno")
    chosen = ErrorRecordFactory(message="Shortfall at Reno", team=finance)
    closed = ErrorRecordFactory(message="Shortfall at Reno", status=CeligoState.RESOLVED)
    other = ErrorRecordFactory(message="Timeout")
    preview = dry_run(lead, rule.match, rule.conditions, days=30, now=timezone.now())

    batch = do_apply_rule_to_backlog(lead, rule, run_now=False)
    run_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.kind, batch.state, batch.actor) == (ActionKind.APPLY_RULE, BatchState.DONE, lead)
    assert batch.total == batch.succeeded == preview.open_count == 4
    for error in (*matching, chosen, closed, other):
        error.refresh_from_db()
    assert {e.team for e in matching} == {warehouse}
    assert chosen.team == finance  # a team already chosen stays
    assert (closed.team, other.team) == (None, None)
    entry = Activity.objects.get(error=matching[0], kind=ActivityKind.TEAM_SET)
    assert entry.data["by"] == {"kind": "rule", "name": "rule Reno", "id": rule.pk}
    rule.refresh_from_db()
    assert rule.hit_count == 4

    with pytest.raises(ActionRejected, match="lead"):
        do_apply_rule_to_backlog(triager, rule)


def test_saving_with_apply_starts_the_batch_and_shows_its_page(login_as, warehouse):
    ErrorRecordFactory(message="at Reno")
    data = {
        "name": "Reno", "match": "all", "enabled": "on", "team": warehouse.pk, "assign_mode": "",
        "assignee": "", "tags": "", "apply_backlog": "on",
        "cond_field": ["message"], "cond_op": ["contains"], "cond_value": ["reno"],
    }  # fmt: skip
    response = login_as("lead").post(reverse("rule-add"), data)
    batch = ActionBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("batch-detail", args=[batch.pk])
    assert batch.params == {"rule": RoutingRule.objects.get().pk, "rule_name": "Reno"}
    assert login_as("lead").get(response["Location"]).status_code == 200


@pytest.mark.slow
def test_a_rule_applied_to_50000_backlog_errors_runs_as_a_batch(lead, warehouse):
    step = StepFactory()
    template = ErrorRecordFactory.build(step=step, message="Shortfall at Reno")
    rows = []
    for n in range(50_000):
        row = ErrorRecord(
            **{f.attname: getattr(template, f.attname) for f in ErrorRecord._meta.concrete_fields}
        )
        row.pk, row.error_id, row.trace_key = None, f"bulk{n:018d}", f"SO-{n}"
        rows.append(row)
    ErrorRecord.objects.bulk_create(rows, batch_size=5000)
    rule = make_rule(team=warehouse, tags=["reno"])

    batch = do_apply_rule_to_backlog(lead, rule, run_now=False)
    with CaptureQueriesContext(connection) as queries:
        run_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.state, batch.total, batch.succeeded) == (BatchState.DONE, 50_000, 50_000)
    assert ErrorRecord.objects.filter(team=warehouse).count() == 50_000
    assert RuleHit.objects.filter(rule=rule).count() == 50_000
    # Chunks of 2000 errors, a bounded number of queries each: nothing per error.
    assert len(queries) < 50_000 / 2000 * 40
