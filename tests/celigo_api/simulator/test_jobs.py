"""Contract tests for jobs (docs/celigo-api.md §3) and running flows (§4.2)."""

from __future__ import annotations

import re

from celigo_api.simulator import SimulatorServer

from .conftest import Api, busiest_step

JOB_FIELDS = {
    "_id",
    "type",
    "status",
    "_flowId",
    "numError",
    "numResolved",
    "numOpenError",
    "numSuccess",
    "numIgnore",
    "numPagesGenerated",
    "createdAt",
    "lastModified",
    "purgeAt",
}


def test_it_requires_a_scoping_filter_for_parent_jobs_section_3_1(api: Api) -> None:
    for params in ({}, {"type": "flow"}, {"status": "completed"}, {"type": "export"}):
        response = api.get("/v1/jobs", params=params)
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == "invalid_query"


def test_it_lists_parent_jobs_newest_first_with_the_job_shape_section_3_2(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, _ = busiest_step(celigo_simulator)
    jobs = api.get("/v1/jobs", params={"_flowId": flow_id}).json()
    assert jobs
    assert [j["createdAt"] for j in jobs] == sorted((j["createdAt"] for j in jobs), reverse=True)
    for job in jobs:
        assert set(job) >= JOB_FIELDS
        assert job["type"] == "flow"
        assert job["numOpenError"] == job["numError"] - job["numResolved"]
        assert re.fullmatch(r"[0-9a-f]{24}", job["_id"])


def test_it_filters_jobs_by_type_in_brackets_status_and_dates_section_3_1(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, _ = busiest_step(celigo_simulator)
    api.post(f"/v1/flows/{flow_id}/run", json={})
    bracketed = api.get(
        "/v1/jobs", params={"_flowId_in[0]": flow_id, "type_in[0]": "flow", "type_in[1]": "retry"}
    )
    assert bracketed.status_code == 200
    assert {j["type"] for j in bracketed.json()} == {"flow"}
    queued = api.get("/v1/jobs", params={"_flowId": flow_id, "status": ["queued", "running"]}).json()
    assert len(queued) == 1
    completed = api.get("/v1/jobs", params={"_flowId": flow_id, "status": "completed"}).json()
    assert all(j["status"] == "completed" for j in completed)
    middle = completed[len(completed) // 2]["createdAt"]
    since = api.get("/v1/jobs", params={"_flowId": flow_id, "createdAt_gte": middle}).json()
    assert all(j["createdAt"] >= middle for j in since)
    with_errors = api.get("/v1/jobs", params={"_flowId": flow_id, "numError_gte": 1}).json()
    assert all(j["numError"] >= 1 for j in with_errors)
    integration = celigo_simulator.state.flows[flow_id].integration_id or "none"
    assert api.get("/v1/jobs", params={"_integrationId": integration, "type": "flow"}).status_code == 200


def test_it_lists_step_jobs_of_a_flow_job_section_3_1(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    parent = api.get("/v1/jobs", params={"_flowId": flow_id}).json()[0]
    children = api.get(
        "/v1/jobs", params={"_flowJobId": parent["_id"], "type_in": ["export", "import"]}
    ).json()
    assert len(children) == len(celigo_simulator.state.flows[flow_id].steps)
    for child in children:
        assert child["_flowJobId"] == parent["_id"]
        assert "oIndex" in child
        assert ("_exportId" in child) != ("_importId" in child)
    assert api.get("/v1/jobs", params={"type": "import", "_flowId": flow_id}).status_code == 400
    imports = api.get("/v1/jobs", params={"type": "import", "_importId": step_id}).json()
    assert imports
    assert {j["_importId"] for j in imports} == {step_id}


def test_it_gets_a_job_and_its_family_section_3_3(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, _ = busiest_step(celigo_simulator)
    parent = api.get("/v1/jobs", params={"_flowId": flow_id}).json()[0]
    assert api.get(f"/v1/jobs/{parent['_id']}").json() == parent
    family = api.get(f"/v1/jobs/{parent['_id']}/family").json()
    assert family["_id"] == parent["_id"]
    assert sum(c["numError"] for c in family["children"]) == parent["numError"]
    latest = api.get(f"/v1/flows/{flow_id}/jobs/latest").json()
    assert latest[0]["_id"] == parent["_id"]


def test_it_keeps_job_counts_consistent_with_the_errors_section_3_4(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    jobs = [j for j in api.get("/v1/jobs", params={"_flowId": flow_id}).json() if j["numError"]][:3]
    assert jobs
    for job in jobs:
        family = api.get(f"/v1/jobs/{job['_id']}/family").json()
        for child in family["children"]:
            step = child.get("_importId") or child["_exportId"]
            base = f"/v1/flows/{flow_id}/{step}"
            opened = api.get(f"{base}/errors", params={"_flowJobId": job["_id"]}).json()["errors"]
            resolved = api.get(f"{base}/resolved", params={"_flowJobId": job["_id"]}).json()["resolved"]
            assert child["numOpenError"] == len(opened)
            assert child["numResolved"] == len(resolved)
    # Resolving an error decrements numOpenError of its run (§3.4).
    error = api.get(f"/v1/flows/{flow_id}/{step_id}/errors").json()["errors"][0]
    before = api.get(f"/v1/jobs/{error['_flowJobId']}").json()
    api.put(f"/v1/flows/{flow_id}/{step_id}/resolved", json={"errors": [error["errorId"]]})
    after = api.get(f"/v1/jobs/{error['_flowJobId']}").json()
    assert after["numOpenError"] == before["numOpenError"] - 1
    assert after["numResolved"] == before["numResolved"] + 1


def test_it_runs_a_flow_with_201_and_a_job_id_section_4_2(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow = next(f for f in celigo_simulator.state.flows.values() if not f.disabled)
    response = api.post(f"/v1/flows/{flow.flow_id}/run", json={})
    assert response.status_code == 201
    job_id = response.json()["_jobId"]
    job = api.get(f"/v1/jobs/{job_id}").json()
    assert job["type"] == "flow"
    assert job["status"] == "queued"
    celigo_simulator.advance_clock(1.5)
    assert api.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    celigo_simulator.advance_clock(3)
    done = api.get(f"/v1/jobs/{job_id}/family").json()
    assert done["status"] == "completed"
    assert all(c["status"] == "completed" for c in done["children"])
    flow_doc = api.get(f"/v1/flows/{flow.flow_id}").json()
    assert flow_doc["lastExecutedAt"] == done["endedAt"]


def test_it_refuses_to_run_a_disabled_flow_with_422_section_4_2(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow = next(f for f in celigo_simulator.state.flows.values() if f.disabled)
    response = api.post(f"/v1/flows/{flow.flow_id}/run", json={})
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "invalid_flow"


def test_it_cancels_a_queued_job_and_refuses_a_finished_one_section_3_3(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    errors = api.get(f"/v1/flows/{flow_id}/{step_id}/errors").json()["errors"]
    keys = [e["retryDataKey"] for e in errors if "retryDataKey" in e][:3]
    job = api.post(f"/v1/flows/{flow_id}/{step_id}/retry", json={"retryDataKeys": keys}).json()
    assert api.put(f"/v1/jobs/{job['_id']}/cancel").status_code == 204
    canceled = api.get(f"/v1/jobs/{job['_id']}").json()
    assert canceled["status"] == "canceled"
    assert canceled["canceledBy"] == api.get("/v1/tokenInfo").json()["_userId"]
    celigo_simulator.advance_clock(10)
    # A canceled retry changes nothing: the errors are still open.
    still_open = {e["errorId"] for e in api.get(f"/v1/flows/{flow_id}/{step_id}/errors").json()["errors"]}
    assert {e["errorId"] for e in errors if e.get("retryDataKey") in keys} <= still_open
    finished = api.put(f"/v1/jobs/{job['_id']}/cancel")
    assert finished.status_code == 422
