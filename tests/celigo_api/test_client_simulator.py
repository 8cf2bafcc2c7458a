"""The client against the Celigo simulator over real HTTP: every method, every paging form, faults."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from celigo_api import (
    AuthenticationFailed,
    BucketConfig,
    CeligoClient,
    ClientError,
    InProcessLimiter,
    OutcomeUnknown,
    RateLimited,
    RetryPolicy,
    StepError,
    ValidationFailed,
)
from celigo_api.simulator import FaultSpec, SimulatorServer
from celigo_api.simulator.pytest_plugin import make_celigo_simulator  # noqa: F401  (fixture)

MakeSim = Callable[..., SimulatorServer]
FAST = {"burst": 100_000, "rate": 100_000.0}
FAST_RETRIES = RetryPolicy(max_attempts=10, base_delay=0.01, max_delay=0.05)


def client_for(
    sim: SimulatorServer, region: str = "na", token: str | None = None, **kwargs: Any
) -> CeligoClient:
    options: dict[str, Any] = {
        "limiter": InProcessLimiter(),
        "bucket": BucketConfig(**FAST),
        "retry_policy": FAST_RETRIES,
        "timeout": 10.0,
    }
    options.update(kwargs)
    base_url = sim.base_url if region == "na" else sim.base_url_for(region)
    return CeligoClient(token or sim.token, base_url=base_url, **options)


@pytest.fixture
def sim(make_celigo_simulator: MakeSim) -> SimulatorServer:  # noqa: F811
    return make_celigo_simulator(**FAST)


@pytest.fixture
def client(sim: SimulatorServer) -> Iterator[CeligoClient]:
    with client_for(sim) as celigo:
        yield celigo


def all_open_errors(client: CeligoClient) -> dict[tuple[str, str, str], StepError]:
    """Every open error of the account, walked the way the sync engine does (§6)."""
    found: dict[tuple[str, str, str], StepError] = {}
    for flow in client.iter_flows():
        for step in client.flow_error_summary(flow.id):
            if step.num_error:
                for error in client.iter_open_errors(flow.id, step.step_id):
                    key = (flow.id, step.step_id, error.error_id)
                    assert key not in found, f"duplicate {key}"
                    found[key] = error
    return found


def busiest_step(client: CeligoClient) -> tuple[str, str, int]:
    best = ("", "", -1)
    for flow in client.iter_flows():
        for step in client.flow_error_summary(flow.id):
            if step.num_error > best[2]:
                best = (flow.id, step.step_id, step.num_error)
    return best


# --- metadata and Link paging ----------------------------------------------------------------------------


def test_it_reads_token_info(client: CeligoClient) -> None:
    info = client.token_info()
    assert info.user_id
    assert info.scope == "*"


def test_it_follows_link_pages_for_every_resource_list(make_celigo_simulator: MakeSim) -> None:  # noqa: F811
    sim = make_celigo_simulator(link_page_size=2, **FAST)
    client = client_for(sim)
    integrations = list(client.iter_integrations(include=["name"]))
    flows = list(client.iter_flows())
    assert len(integrations) == 2
    assert len(flows) == 2 * 2 + 1
    assert len({f.id for f in flows}) == len(flows)
    assert sum(f.integration_id is None for f in flows) == 1  # the standalone flow
    assert all(i.name for i in integrations)
    by_integration = list(
        client.iter_flows(integration_id=integrations[0].id, include=["name", "_integrationId"])
    )
    assert {f.integration_id for f in by_integration} == {integrations[0].id}
    step_ids = {s for f in flows for s in f.step_ids}
    exports, imports = list(client.iter_exports()), list(client.iter_imports())
    assert step_ids <= {e.id for e in exports} | {i.id for i in imports}
    assert list(client.iter_users())
    assert all(u.email for u in client.iter_users())
    assert list(client.iter_tags())
    assert sim.stats()["by_endpoint"]["flows"] >= 3  # five flows at two per page


def test_it_reads_flows_and_filter_metadata(client: CeligoClient) -> None:
    flow = next(client.iter_flows())
    assert client.get_flow(flow.id).id == flow.id
    assert "source" in client.error_filter_metadata()


def test_it_reads_the_eu_tenant_under_its_prefix(sim: SimulatorServer) -> None:
    client = client_for(sim, region="eu", token="sim-eu-token-1")
    assert client.token_info().user_id
    assert list(client.iter_flows())
    with pytest.raises(AuthenticationFailed):
        client_for(sim, region="eu").token_info()  # an NA token is unknown in the EU (§1.1)


# --- summaries and step errors ---------------------------------------------------------------------------


def test_it_reads_error_summaries_that_add_up(client: CeligoClient) -> None:
    flows = list(client.iter_flows())
    integration_ids = {f.integration_id for f in flows}
    per_flow = {
        row.flow_id: row.num_error for iid in integration_ids for row in client.integration_error_summary(iid)
    }
    assert set(per_flow) <= {f.id for f in flows}
    per_step = {f.id: sum(s.num_error for s in client.flow_error_summary(f.id)) for f in flows}
    assert {k: v for k, v in per_step.items() if v} == per_flow
    assert len(all_open_errors(client)) == sum(per_flow.values())


def test_it_reads_the_sandbox_summary(client: CeligoClient) -> None:
    integration = next(client.iter_integrations())
    assert isinstance(client.integration_error_summary(integration.id, sandbox=True), list)


@pytest.mark.parametrize("form", ["v1", "relative", "api", "absolute"])
@pytest.mark.parametrize("keeps_filters", [True, False])
@pytest.mark.parametrize("region", ["na", "eu"])
def test_it_pages_step_errors_in_every_next_page_form(
    make_celigo_simulator: MakeSim,  # noqa: F811
    form: str,
    keeps_filters: bool,
    region: str,
) -> None:
    sim = make_celigo_simulator(
        page_size=3, next_page_form=form, next_page_keeps_filters=keeps_filters, **FAST
    )
    client = client_for(sim, region=region, token=None if region == "na" else "sim-eu-token-1")
    flow_id, step_id, count = busiest_step(client)
    errors = list(client.iter_open_errors(flow_id, step_id))
    assert len(errors) == count > 3
    assert len({e.error_id for e in errors}) == count

    # A filter must hold on every page, whether or not the server's nextPageURL kept it.
    source = errors[0].source
    assert source is not None
    filtered = list(client.iter_open_errors(flow_id, step_id, sources=[source]))
    assert [e.error_id for e in filtered] == [e.error_id for e in errors if e.source == source]

    middle = sorted(e.occurred_at for e in errors if e.occurred_at)[count // 2]
    recent = list(client.iter_open_errors(flow_id, step_id, occurred_after=middle))
    assert {e.error_id for e in recent} == {
        e.error_id for e in errors if e.occurred_at and e.occurred_at >= middle
    }


def test_it_filters_by_classification_and_flow_job(client: CeligoClient) -> None:
    flow_id, step_id, _ = busiest_step(client)
    errors = list(client.iter_open_errors(flow_id, step_id))
    first = errors[0]
    assert first.classification is not None
    assert first.flow_job_id is not None
    by_class = list(client.iter_open_errors(flow_id, step_id, classifications=[first.classification]))
    assert {e.error_id for e in by_class} == {
        e.error_id for e in errors if e.classification == first.classification
    }
    by_job = list(client.iter_open_errors(flow_id, step_id, flow_job_id=first.flow_job_id))
    assert {e.error_id for e in by_job} == {e.error_id for e in errors if e.flow_job_id == first.flow_job_id}


# --- actions ---------------------------------------------------------------------------------------------


def test_it_resolves_in_chunks_and_finds_them_resolved(client: CeligoClient) -> None:
    client.chunk_size = 4
    user_id = client.token_info().user_id
    flow_id, step_id, count = busiest_step(client)
    errors = list(client.iter_open_errors(flow_id, step_id))
    chosen = [e.error_id for e in errors[:10]]
    started = min(e.occurred_at for e in errors if e.occurred_at) - timedelta(days=400)
    outcomes = client.resolve_errors(flow_id, step_id, chosen)
    assert [len(o.ids) for o in outcomes] == [4, 4, 2]
    assert all(o.ok for o in outcomes)
    remaining = {e.error_id for e in client.iter_open_errors(flow_id, step_id)}
    assert remaining.isdisjoint(chosen)
    assert len(remaining) == count - 10
    resolved = {e.error_id: e for e in client.iter_resolved_errors(flow_id, step_id, resolved_after=started)}
    assert set(chosen) <= set(resolved)
    assert {resolved[i].resolved_by for i in chosen} == {user_id}
    assert all(resolved[i].resolved_at for i in chosen)
    # Resolving again is harmless (idempotent PUT).
    assert all(o.ok for o in client.resolve_errors(flow_id, step_id, chosen))
    purged = client.purge_resolved_errors(flow_id, step_id, chosen[:2])
    assert all(o.ok for o in purged)


def test_it_retries_errors_and_follows_the_retry_job(client: CeligoClient, sim: SimulatorServer) -> None:
    flow_id, step_id, _ = busiest_step(client)
    keys = [e.retry_data_key for e in client.iter_open_errors(flow_id, step_id) if e.retry_data_key][:3]
    [outcome] = client.retry_errors(flow_id, step_id, keys)
    assert outcome.ok
    assert outcome.job_id
    job = client.get_job(outcome.job_id)
    assert (job.type, job.flow_id) == ("retry", flow_id)
    assert client.get_job_family(outcome.job_id).id == outcome.job_id
    retry_jobs = list(client.iter_jobs(_flowId=flow_id, type="retry"))
    assert outcome.job_id in {j.id for j in retry_jobs}


def test_it_cancels_a_job_once(client: CeligoClient) -> None:
    flow_id, step_id, _ = busiest_step(client)
    key = next(e.retry_data_key for e in client.iter_open_errors(flow_id, step_id) if e.retry_data_key)
    [outcome] = client.retry_errors(flow_id, step_id, [key])
    assert outcome.job_id
    client.cancel_job(outcome.job_id)
    assert client.get_job(outcome.job_id).status in ("canceled", "canceling")
    with pytest.raises(ValidationFailed):
        client.cancel_job(outcome.job_id)


def test_it_runs_a_flow(client: CeligoClient) -> None:
    flow = next(f for f in client.iter_flows() if not f.disabled)
    job_id = client.run_flow(flow.id)
    assert client.get_job(job_id).flow_id == flow.id
    assert job_id in {j.id for j in client.iter_latest_flow_jobs(flow.id)}


def test_it_edits_retry_data_with_a_whole_object_put(client: CeligoClient) -> None:
    flow_id, step_id, _ = busiest_step(client)
    key = next(e.retry_data_key for e in client.iter_open_errors(flow_id, step_id) if e.retry_data_key)
    before = client.get_retry_data(flow_id, step_id, key)
    assert before.data is not None
    client.put_retry_data(flow_id, step_id, key, before.with_data({"fixed": True}))
    after = client.get_retry_data(flow_id, step_id, key)
    assert after.data == {"fixed": True}
    assert {k: v for k, v in after.raw.items() if k != "data"} == {
        k: v for k, v in before.raw.items() if k != "data"
    }


def test_it_reads_the_http_log_of_an_error(client: CeligoClient) -> None:
    for flow in client.iter_flows():
        for step in client.flow_error_summary(flow.id):
            for error in client.iter_open_errors(flow.id, step.step_id) if step.num_error else ():
                if error.req_and_res_key:
                    exchange = client.get_request_log(flow.id, step.step_id, error.req_and_res_key)
                    assert exchange.request.method
                    assert exchange.response.status
                    return
    pytest.fail("no error with a reqAndResKey in the simulated world")


def test_it_assigns_and_tags_errors(client: CeligoClient) -> None:
    flow_id, step_id, _ = busiest_step(client)
    errors = list(client.iter_open_errors(flow_id, step_id))[:3]
    ids = [e.error_id for e in errors]
    tags = [t.id for t in client.iter_tags()][:2]
    assert all(o.ok for o in client.assign_errors(flow_id, step_id, ids, "avery@example.com"))
    assert all(o.ok for o in client.tag_errors(flow_id, step_id, ids, tags[:1]))
    assert all(o.ok for o in client.tag_errors(flow_id, step_id, errors, tags, variant="errors_rdk"))
    after = {e.error_id: e for e in client.iter_open_errors(flow_id, step_id)}
    assert {after[i].extra.get("assignedTo") for i in ids} == {"avery@example.com"}
    assert all(after[i].extra.get("tags") == tags for i in ids)
    # The simulator serves only the PUT form of §2.12; the POST variant's refusal is a chunk outcome.
    [refused] = client.assign_errors(flow_id, step_id, ids, "avery@example.com", variant="post")
    assert isinstance(refused.error, ClientError)
    # An unknown tag id is Celigo's invalid_ref, reported per chunk.
    [bad] = client.tag_errors(flow_id, step_id, ids, ["000000000000000000000000"])
    assert isinstance(bad.error, ValidationFailed)


def test_it_pages_jobs_by_created_at(make_celigo_simulator: MakeSim) -> None:  # noqa: F811
    # Two simulators of the same seed hold the same jobs; one serves them 4 at a time.
    small = make_celigo_simulator(jobs_page_size=4, **FAST)
    whole = make_celigo_simulator(**FAST)
    small_pages = client_for(small, jobs_page_size=4)
    flow = next(small_pages.iter_flows())
    small.reset_stats()
    paged = list(small_pages.iter_jobs(_flowId=flow.id))
    assert small.stats()["by_endpoint"]["jobs"] > 2
    assert len(paged) > 8
    assert len({j.id for j in paged}) == len(paged)
    assert [j.id for j in paged] == [j.id for j in client_for(whole).iter_jobs(_flowId=flow.id)]
    created = [j.created_at for j in paged]
    assert created == sorted(created, reverse=True)  # type: ignore[type-var]


# --- faults ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "faults",
    [
        FaultSpec(error_500=0.15, error_502=0.1, error_503=0.1),
        FaultSpec(reset=0.2),
        FaultSpec(malformed=0.2),
        FaultSpec(error_500=0.05, error_502=0.05, error_503=0.05, reset=0.05, malformed=0.05),
    ],
    ids=["5xx", "resets", "malformed", "mixed"],
)
def test_it_reads_the_same_errors_through_faults(
    client: CeligoClient, sim: SimulatorServer, faults: FaultSpec
) -> None:
    clean = all_open_errors(client)
    sim.set_faults(faults)
    faulty = all_open_errors(client)
    assert set(faulty) == set(clean)
    assert client.stats.retries > 0
    assert sum(sim.stats()["faults"].values()) > 0


def test_it_honours_retry_after_on_injected_429s(sim: SimulatorServer) -> None:
    sleeps: list[float] = []
    client = client_for(sim, sleep=sleeps.append, retry_policy=RetryPolicy(max_attempts=30))
    sim.set_faults(FaultSpec(rate_limit_429=0.5))
    for _ in range(10):
        assert client.token_info().user_id
    assert client.stats.rate_limited > 0
    assert all(wait >= 1 for wait in sleeps)  # the simulator's Retry-After is 1-3 s


def test_it_waits_out_the_server_bucket_when_it_overruns_it(make_celigo_simulator: MakeSim) -> None:  # noqa: F811
    sim = make_celigo_simulator(burst=2, rate=4.0)
    greedy = client_for(sim)  # paces at 100k/s, far beyond the server's 4/s
    started = time.monotonic()
    for _ in range(4):
        greedy.token_info()
    assert greedy.stats.rate_limited >= 1
    assert time.monotonic() - started >= 1.0  # Retry-After is whole seconds
    impatient = client_for(sim, max_wait=0.5)

    def overrun() -> None:
        for _ in range(4):
            impatient.token_info()

    with pytest.raises(RateLimited) as caught:
        overrun()
    assert caught.value.retry_after is not None
    assert caught.value.retry_after >= 1


def test_it_never_overruns_a_bucket_it_knows(make_celigo_simulator: MakeSim) -> None:  # noqa: F811
    sim = make_celigo_simulator(burst=5, rate=20.0)
    client = client_for(sim, bucket=BucketConfig(burst=5, rate=20.0))
    for _ in range(30):
        client.token_info()
    assert sim.stats()["rate_limited_429"] == 0
    assert client.stats.limiter_wait_seconds > 0.9


def test_it_reports_outcome_unknown_when_a_retry_response_is_cut(
    client: CeligoClient, sim: SimulatorServer
) -> None:
    flow_id, step_id, _ = busiest_step(client)
    key = next(e.retry_data_key for e in client.iter_open_errors(flow_id, step_id) if e.retry_data_key)
    sim.reset_stats()
    sim.set_faults(FaultSpec(reset=1.0))
    [outcome] = client.retry_errors(flow_id, step_id, [key])
    assert isinstance(outcome.error, OutcomeUnknown)
    assert sim.stats()["by_endpoint"]["retry"] == 1  # sent exactly once, and Celigo did act on it
    sim.set_faults(FaultSpec())
    assert any(j.type == "retry" for j in client.iter_jobs(_flowId=flow_id, type="retry"))


def test_it_stops_on_a_revoked_token(client: CeligoClient, sim: SimulatorServer) -> None:
    flow_id, step_id, _ = busiest_step(client)
    ids = [e.error_id for e in client.iter_open_errors(flow_id, step_id)]
    client.chunk_size = 2
    sim.revoke_token(sim.token)
    with pytest.raises(AuthenticationFailed) as caught:
        client.resolve_errors(flow_id, step_id, ids[:6])
    assert caught.value.status == 401
    assert sim.token not in str(caught.value)


def test_it_fails_mid_iteration_when_the_token_is_revoked(make_celigo_simulator: MakeSim) -> None:  # noqa: F811
    sim = make_celigo_simulator(page_size=2, **FAST)
    client = client_for(sim)
    flow_id, step_id, _ = busiest_step(client)
    errors = client.iter_open_errors(flow_id, step_id)
    next(errors)
    next(errors)
    sim.revoke_token(sim.token)
    with pytest.raises(AuthenticationFailed):
        list(errors)


def test_it_sends_a_pasted_bearer_prefix_only_once(sim: SimulatorServer) -> None:
    assert client_for(sim, token=f"Bearer {sim.token}").token_info().user_id


def test_it_never_logs_the_token_through_a_faulty_run(
    client: CeligoClient, sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    sim.set_faults(FaultSpec(error_500=0.2, reset=0.1, malformed=0.1))
    with caplog.at_level(logging.DEBUG):
        all_open_errors(client)
        sim.revoke_token(sim.token)
        with pytest.raises(AuthenticationFailed) as caught:
            client.token_info()
    assert caplog.records
    assert sim.token not in caplog.text
    assert sim.token not in repr(client)
    assert sim.token not in str(caught.value) + repr(vars(caught.value))
