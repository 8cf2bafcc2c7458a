"""Contract tests for the EM 2.0 error endpoints (docs/celigo-api.md §2.1-§2.13)."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from celigo_api.simulator import SimulatorServer
from celigo_api.simulator.errors import ErrorFilter

from .conftest import Api, busiest_step

ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ERROR_FIELDS = {
    "errorId",
    "occurredAt",
    "source",
    "code",
    "message",
    "traceKey",
    "oIndex",
    "_flowJobId",
    "classification",
    "classifiedBy",
    "purgeAt",
}


@pytest.fixture
def demo(make_celigo_simulator: Callable[..., SimulatorServer]) -> SimulatorServer:
    return make_celigo_simulator(seed="demo", page_size=100, link_page_size=100, burst=10_000, rate=10_000)


@pytest.fixture
def demo_api(demo: SimulatorServer, api_for: Callable[[SimulatorServer], Api]) -> Api:
    return api_for(demo)


def open_errors(api: Api, flow_id: str, step_id: str, **params: object) -> list[dict]:
    response = api.get(f"/v1/flows/{flow_id}/{step_id}/errors", params=params)
    assert response.status_code == 200
    return response.json()["errors"]


def test_it_summarises_open_errors_per_flow_of_an_integration_section_2_1(api: Api) -> None:
    for integration in api.get("/v1/integrations").json():
        response = api.get(f"/v1/integrations/{integration['_id']}/errors")
        if response.status_code == 204:
            continue
        rows = response.json()
        assert isinstance(rows, list)
        for row in rows:
            assert set(row) == {"_flowId", "numError", "lastErrorAt"}
            assert row["numError"] > 0
            assert ISO_MS.match(row["lastErrorAt"])


def test_it_summarises_standalone_flows_under_none_section_2_1(api: Api) -> None:
    rows = api.get("/v1/integrations/none/errors").json()
    flows = {f["_id"]: f for f in api.get("/v1/flows", params={"limit": 100}).json()}
    assert rows
    assert all("_integrationId" not in flows[row["_flowId"]] for row in rows)


def test_it_separates_sandbox_flows_section_2_1(demo_api: Api) -> None:
    integrations = demo_api.get("/v1/integrations").json()
    sandbox = next(i for i in integrations if i["sandbox"])
    assert demo_api.get(f"/v1/integrations/{sandbox['_id']}/errors").status_code == 204
    rows = demo_api.get(f"/v1/integrations/{sandbox['_id']}/errors", params={"sandbox": "true"}).json()
    assert len(rows) == 1


def test_it_agrees_between_integration_flow_and_step_counts_section_2_2(api: Api) -> None:
    for row in api.get("/v1/integrations/none/errors").json():
        flow_errors = api.get(f"/v1/flows/{row['_flowId']}/errors").json()["flowErrors"]
        assert sum(step["numError"] for step in flow_errors) == row["numError"]
        assert max(s["lastErrorAt"] for s in flow_errors if s["numError"]) == row["lastErrorAt"]


def test_it_lists_every_step_in_the_flow_summary_section_2_2(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    for flow in celigo_simulator.state.flows.values():
        body = api.get(f"/v1/flows/{flow.flow_id}/errors").json()
        assert [row["_expOrImpId"] for row in body["flowErrors"]] == [s.step_id for s in flow.steps]
        for row in body["flowErrors"]:
            # lastErrorAt appears only when there are errors.
            assert ("lastErrorAt" in row) == (row["numError"] > 0)


def test_it_shapes_open_errors_with_every_field_section_2_3(demo_api: Api, demo: SimulatorServer) -> None:
    rows = []
    for flow_id, step_id in demo.state.stores:
        rows.extend(open_errors(demo_api, flow_id, step_id))
    assert len(rows) > 500
    for row in rows:
        assert set(row) >= ERROR_FIELDS
        assert ISO_MS.match(row["occurredAt"])
        assert ISO_MS.match(row["purgeAt"])
        assert row["errorId"].isdigit()
        assert isinstance(row["oIndex"], str | int)
    assert {type(r["oIndex"]) for r in rows} == {str, int}
    assert any("retryDataKey" not in r for r in rows)
    assert any("retryDataKey" in r for r in rows)
    assert any("reqAndResKey" in r for r in rows)
    assert any("exportDataURI" in r for r in rows)
    assert any("importDataURI" in r for r in rows)


def test_it_answers_an_empty_page_with_an_empty_errors_array(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    response = api.get(f"/v1/flows/{flow_id}/{step_id}/errors", params={"occurredAt_lte": "2001-01-01"})
    assert response.status_code == 200
    assert response.json() == {"errors": []}


def test_it_filters_open_errors_by_time_source_classification_and_run_section_2_3(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    everything = celigo_simulator.state.error_page(flow_id, step_id, False, ErrorFilter(), None, 10_000)[0]
    middle = sorted(e["occurredAt"] for e in everything)[len(everything) // 2]
    since = open_errors(api, flow_id, step_id, occurredAt_gte=middle)
    assert since
    assert all(e["occurredAt"] >= middle for e in since)
    until = open_errors(api, flow_id, step_id, occurredAt_lte=middle)
    assert all(e["occurredAt"] <= middle for e in until)
    sources = sorted({e["source"] for e in everything})[:2]
    by_source = open_errors(api, flow_id, step_id, source=sources)
    assert {e["source"] for e in by_source} <= set(sources)
    classification = everything[0]["classification"]
    by_class = open_errors(api, flow_id, step_id, classification=[classification])
    assert by_class
    assert {e["classification"] for e in by_class} == {classification}
    job = everything[0]["_flowJobId"]
    by_job = open_errors(api, flow_id, step_id, _flowJobId=job)
    assert {e["_flowJobId"] for e in by_job} == {job}
    assert len(by_job) == sum(1 for e in everything if e["_flowJobId"] == job)


def test_it_refuses_a_malformed_date_filter(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    response = api.get(f"/v1/flows/{flow_id}/{step_id}/errors", params={"occurredAt_gte": "yesterday"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_query_params"


def test_it_answers_404_for_a_step_outside_the_flow(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, _ = busiest_step(celigo_simulator)
    other = next(s for (f, s) in celigo_simulator.state.stores if f != flow_id)
    assert api.get(f"/v1/flows/{flow_id}/{other}/errors").status_code == 404


def test_it_lists_resolved_errors_under_the_resolved_key_section_2_5(
    demo_api: Api, demo: SimulatorServer
) -> None:
    user_ids = {u["sharedWithUser"]["_id"] for u in demo_api.get("/v1/ashares").json()}
    rows = []
    for flow_id, step_id in demo.state.stores:
        response = demo_api.get(f"/v1/flows/{flow_id}/{step_id}/resolved")
        assert response.status_code == 200
        assert "errors" not in response.json()
        rows.extend(response.json()["resolved"])
    assert rows
    for row in rows:
        assert set(row) >= ERROR_FIELDS
        assert ISO_MS.match(row["resolvedAt"])
        assert row["resolvedAt"] >= row["occurredAt"]
        # resolvedBy is a sharedWithUser._id or "auto" (§2.5, §4.4).
        assert row["resolvedBy"] == "auto" or row["resolvedBy"] in user_ids
    assert {r["resolvedBy"] == "auto" for r in rows} == {True, False}


def test_it_filters_resolved_errors_by_resolved_at_section_2_5(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    path = f"/v1/flows/{flow_id}/{step_id}/resolved"
    rows = api.get(path).json()["resolved"]
    cut = sorted(r["resolvedAt"] for r in rows)[len(rows) // 2]
    later = api.get(path, params={"resolvedAt_gte": cut}).json()["resolved"]
    assert later
    assert all(r["resolvedAt"] >= cut for r in later)
    earlier = api.get(path, params={"resolvedAt_lte": cut}).json()["resolved"]
    assert all(r["resolvedAt"] <= cut for r in earlier)


def test_it_resolves_errors_with_204_and_moves_them_section_2_6(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    before = api.get(f"/v1/flows/{flow_id}/errors").json()["flowErrors"]
    ids = [e["errorId"] for e in open_errors(api, flow_id, step_id)[:3]]
    response = api.put(f"/v1/flows/{flow_id}/{step_id}/resolved", json={"errors": ids})
    assert response.status_code == 204
    assert response.content == b""
    assert not {e["errorId"] for e in open_errors(api, flow_id, step_id)} & set(ids)
    resolved = {
        r["errorId"]: r for r in api.get(f"/v1/flows/{flow_id}/{step_id}/resolved").json()["resolved"]
    }
    user_id = api.get("/v1/tokenInfo").json()["_userId"]
    assert all(resolved[i]["resolvedBy"] == user_id for i in ids)
    after = api.get(f"/v1/flows/{flow_id}/errors").json()["flowErrors"]
    delta = {a["_expOrImpId"]: b["numError"] - a["numError"] for a, b in zip(after, before, strict=True)}
    assert delta[step_id] == 3


def test_it_refuses_a_resolve_body_without_an_errors_array(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    # AI-DOC's {"errorIds": [...]} is wrong per §2.6; the simulator refuses it.
    response = api.put(f"/v1/flows/{flow_id}/{step_id}/resolved", json={"errorIds": ["1"]})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_field"
    bad_json = api.put(
        f"/v1/flows/{flow_id}/{step_id}/resolved", data=b"{nope", headers={"Content-Type": "x"}
    )
    assert bad_json.status_code == 400


def test_it_purges_resolved_errors_section_2_7(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    path = f"/v1/flows/{flow_id}/{step_id}/resolved"
    ids = [r["errorId"] for r in api.get(path).json()["resolved"][:2]]
    assert api.delete(path, json={"errors": ids}).status_code == 204
    assert not {r["errorId"] for r in api.get(path).json()["resolved"]} & set(ids)


def test_it_starts_a_retry_job_section_2_8(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    keys = [e["retryDataKey"] for e in open_errors(api, flow_id, step_id) if "retryDataKey" in e][:2]
    response = api.post(f"/v1/flows/{flow_id}/{step_id}/retry", json={"retryDataKeys": keys})
    assert response.status_code == 201
    job = response.json()
    assert job["type"] == "retry"
    assert job["status"] == "queued"
    assert job["_flowId"] == flow_id
    assert api.get(f"/v1/jobs/{job['_id']}").json()["_id"] == job["_id"]
    retries = api.get(
        "/v1/jobs", params={"_flowId": flow_id, "type": "retry", "status": ["queued", "running"]}
    )
    assert [j["_id"] for j in retries.json()] == [job["_id"]]


def test_it_accepts_error_ids_for_a_retry_section_2_8(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    ids = [e["errorId"] for e in open_errors(api, flow_id, step_id) if "retryDataKey" in e][:2]
    assert api.post(f"/v1/flows/{flow_id}/{step_id}/retry", json={"errorIds": ids}).status_code == 201
    assert api.post(f"/v1/flows/{flow_id}/{step_id}/retry", json={}).status_code == 400


def test_it_reads_and_replaces_retry_data_section_2_9(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    key = next(e["retryDataKey"] for e in open_errors(api, flow_id, step_id) if "retryDataKey" in e)
    path = f"/v1/flows/{flow_id}/{step_id}/{key}/data"
    original = api.get(path)
    assert original.status_code == 200
    doc = original.json()
    assert {"data", "stage", "traceKey"} <= set(doc)
    edited = {**doc, "data": {**doc["data"], "edited": True}}
    assert api.put(path, json=edited).status_code == 200
    assert api.get(path).json() == edited
    # PUT replaces the whole document (§1.6, §2.9): omitted fields are gone.
    assert api.put(path, json={"data": {"only": 1}}).status_code == 200
    assert api.get(path).json() == {"data": {"only": 1}}
    assert api.put(path, json=[1, 2]).status_code == 400
    assert api.get(f"/v1/flows/{flow_id}/{step_id}/{'0' * 32}/data").status_code == 404
    signed = api.get(f"/v1/flows/{flow_id}/{step_id}/{key}/signedURL").json()
    assert signed["signedURL"].startswith("https://")


def test_it_serves_the_http_request_and_response_of_an_error_section_2_10(
    demo_api: Api, demo: SimulatorServer
) -> None:
    found = 0
    for flow_id, step_id in demo.state.stores:
        for error in open_errors(demo_api, flow_id, step_id):
            key = error.get("reqAndResKey")
            if not key:
                continue
            assert re.fullmatch(r"\d+-[0-9a-f]+-\d{3}-[A-Z]+", key)
            log = demo_api.get(f"/v1/flows/{flow_id}/{step_id}/requests/{key}")
            assert log.status_code == 200
            body = log.json()
            assert {"url", "method", "headers", "body"} <= set(body["request"])
            assert {"status", "headers"} <= set(body["response"])
            assert ("body" in body["response"]) != ("bodyKey" in body["response"])
            assert str(body["response"]["status"]) == key.split("-")[2]
            found += 1
    assert found > 20
    flow_id, step_id = next(iter(demo.state.stores))
    assert demo_api.get(f"/v1/flows/{flow_id}/{step_id}/requests/1-ab-200-GET").status_code == 404


def test_it_assigns_errors_by_email_section_2_12(api: Api, celigo_simulator: SimulatorServer) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    ids = [e["errorId"] for e in open_errors(api, flow_id, step_id)[:2]]
    email = api.get("/v1/ashares").json()[0]["sharedWithUser"]["email"]
    path = f"/v1/flows/{flow_id}/{step_id}/errors/assign"
    assert api.put(path, json={"errorIds": ids, "email": email}).status_code == 204
    rows = {e["errorId"]: e for e in open_errors(api, flow_id, step_id)}
    assert all(rows[i]["assignedTo"] == email for i in ids)
    assert api.put(path, json={"errorIds": ids, "email": None}).status_code == 204
    assert all(e.get("assignedTo") is None for e in open_errors(api, flow_id, step_id))
    assert api.put(path, json={"email": email}).status_code == 400


@pytest.mark.parametrize("variant", ["errorIds", "errors"])
def test_it_tags_errors_with_both_body_variants_section_2_13(
    api: Api, celigo_simulator: SimulatorServer, variant: str
) -> None:
    flow_id, step_id = busiest_step(celigo_simulator)
    errors = open_errors(api, flow_id, step_id)[:2]
    tags = [t["_id"] for t in api.get("/v1/tags").json()]
    if variant == "errorIds":
        body = {"errorIds": [e["errorId"] for e in errors], "tagIds": tags[:2]}
    else:
        body = {
            "errors": [{"id": e["errorId"], "rdk": e.get("retryDataKey")} for e in errors],
            "tagIds": tags[:2],
        }
    path = f"/v1/flows/{flow_id}/{step_id}/tags"
    assert api.put(path, json=body).status_code == 204
    rows = {e["errorId"]: e for e in open_errors(api, flow_id, step_id)}
    assert all(rows[e["errorId"]]["tags"] == tags[:2] for e in errors)
    # The call replaces the tag set (INFERRED, §2.13).
    assert api.put(path, json={**body, "tagIds": tags[2:3]}).status_code == 204
    assert open_errors(api, flow_id, step_id)[0]["tags"] == tags[2:3]
    unknown = api.put(path, json={**body, "tagIds": ["000000000000000000000000"]})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["code"] == "invalid_ref"


def test_it_serves_filter_metadata_and_download_links_section_2_4_and_2_11(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    filters = {f["name"]: f["enums"] for f in api.get("/v1/errors/filterMetadata").json()["filters"]}
    assert set(filters) == {"source", "classification"}
    flow_id, step_id = busiest_step(celigo_simulator)
    for kind in ("errors", "resolved"):
        assert "signedURL" in api.get(f"/v1/flows/{flow_id}/{step_id}/{kind}/signedURL").json()


def test_it_keeps_retry_data_for_the_newest_20000_errors_of_a_step_section_2_9(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(
        integrations=1, flows_per_integration=1, steps_per_flow=1, standalone_flows=0, errors=25_000
    )
    api = api_for(sim)
    store = next(iter(sim.state.stores.values()))
    now = sim.clock.now_ms()
    oldest = next(
        e
        for i in range(50)
        if (found := store.find(store.base + i, now)) and "retryDataKey" in (e := found[1].data)
    )
    newest = next(e for e in open_errors(api, store.flow_id, store.step_id) if "retryDataKey" in e)
    base = f"/v1/flows/{store.flow_id}/{store.step_id}"
    assert api.get(f"{base}/{newest['retryDataKey']}/data").status_code == 200
    # The key is still on the error, but its data is gone (INFERRED, §2.9).
    assert api.get(f"{base}/{oldest['retryDataKey']}/data").status_code == 404
