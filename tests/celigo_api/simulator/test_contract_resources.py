"""Contract tests for tokenInfo and the Link-paginated resources.

docs/celigo-api.md §1.2, §1.4, §1.5.1, §4.
"""

from __future__ import annotations

import re

import pytest

from celigo_api.simulator import SimulatorServer

from .conftest import Api

LINK_RE = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def next_link(header: str) -> str:
    """The URL of a ``Link: <url>; rel="next"`` header."""
    match = LINK_RE.match(header)
    assert match, header
    return match.group("url")


def walk_links(api: Api, path: str) -> tuple[list[dict], int]:
    """Follow Link rel="next" until it is absent; returns the items and the number of pages."""
    items: list[dict] = []
    pages = 0
    url: str | None = api.url(path)
    while url:
        response = api.get(url)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        items.extend(response.json())
        pages += 1
        link = response.headers.get("Link")
        url = next_link(link) if link else None
    return items, pages


def test_it_answers_token_info_with_user_id_and_scope_section_1_2(
    api: Api, celigo_simulator: SimulatorServer
) -> None:
    response = api.get("/v1/tokenInfo")
    assert response.status_code == 200
    assert response.json() == {"_userId": celigo_simulator.accounts[0].user_id, "scope": "*"}


@pytest.mark.parametrize(
    "resource", ["integrations", "flows", "exports", "imports", "ashares", "tags", "connections"]
)
def test_it_pages_resource_lists_with_an_opaque_link_header_section_1_5_1(api: Api, resource: str) -> None:
    everything = api.get(f"/v1/{resource}", params={"limit": 1000}).json()
    items, pages = walk_links(api, f"/v1/{resource}")
    assert [i["_id"] for i in items] == [i["_id"] for i in everything]
    assert len({i["_id"] for i in items}) == len(items)
    assert pages == -(-len(items) // 5)  # link_page_size=5 in the small world
    assert all(re.fullmatch(r"[0-9a-f]{24}", i["_id"]) for i in items)


def test_it_keeps_the_callers_filters_in_the_next_link(api: Api) -> None:
    response = api.get("/v1/flows", params={"include": "name", "limit": 2})
    url = next_link(response.headers["Link"])
    assert "include=name" in url
    assert "limit=2" in url


def test_it_projects_with_include_to_id_name_and_named_fields_section_1_5_1(api: Api) -> None:
    flows = api.get("/v1/flows", params={"include": "disabled,_integrationId"}).json()
    assert all(set(f) <= {"_id", "name", "disabled", "_integrationId"} for f in flows)
    assert all({"_id", "name", "disabled"} <= set(f) for f in flows)
    exports = api.get("/v1/exports", params={"include": "_connectionId"}).json()
    # adaptorType is always returned in summary projection (§4.3).
    assert all(set(e) == {"_id", "name", "adaptorType", "_connectionId"} for e in exports)


def test_it_supports_dot_paths_in_include(api: Api) -> None:
    users = api.get("/v1/ashares", params={"include": "sharedWithUser.email"}).json()
    assert all(set(u) == {"_id", "sharedWithUser"} and set(u["sharedWithUser"]) == {"email"} for u in users)


def test_it_removes_fields_with_exclude(api: Api) -> None:
    exports = api.get("/v1/exports", params={"exclude": "sampleData,lastModified"}).json()
    assert exports
    assert all("sampleData" not in e and "lastModified" not in e and "adaptorType" in e for e in exports)


def test_it_refuses_include_with_exclude_section_1_4(api: Api) -> None:
    response = api.get("/v1/flows", params={"include": "name", "exclude": "disabled"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid_query_params"


def test_it_answers_204_without_body_on_an_empty_list_section_1_4(api: Api) -> None:
    response = api.get("/v1/flows", params={"name": "no such flow"})
    assert response.status_code == 204
    assert response.content == b""


def test_it_filters_flows_by_integration_and_disabled_section_4_1(api: Api) -> None:
    integration = api.get("/v1/integrations").json()[0]
    flows = api.get("/v1/flows", params={"_integrationId": integration["_id"], "limit": 100}).json()
    assert flows
    assert {f["_integrationId"] for f in flows} == {integration["_id"]}
    same = api.get(f"/v1/integrations/{integration['_id']}/flows", params={"limit": 100}).json()
    assert [f["_id"] for f in same] == [f["_id"] for f in flows]
    disabled = api.get("/v1/flows", params={"disabled": "true"}).json()
    assert disabled
    assert all(f["disabled"] for f in disabled)


def test_it_shapes_flows_with_generators_and_processors_section_4_1(api: Api) -> None:
    flows = api.get("/v1/flows", params={"limit": 100}).json()
    standalone = [f for f in flows if "_integrationId" not in f]
    assert standalone, "the small world has a standalone flow"
    for flow in flows:
        assert {"_id", "name", "disabled", "pageGenerators", "createdAt", "lastModified"} <= set(flow)
        assert ("pageProcessors" in flow) != ("routers" in flow)
        assert all("_exportId" in g for g in flow["pageGenerators"])
        processors = flow.get("pageProcessors") or [
            p for r in flow["routers"] for b in r["branches"] for p in b["pageProcessors"]
        ]
        assert all(p["type"] in ("export", "import") and f"_{p['type']}Id" in p for p in processors)


def test_it_shapes_exports_imports_and_connections_section_4_3(api: Api) -> None:
    for export in api.get("/v1/exports", params={"limit": 100}).json():
        assert {"_id", "name", "adaptorType", "_connectionId", "isLookup", "sandbox"} <= set(export)
    imports = api.get("/v1/imports", params={"limit": 100}).json()
    assert all("isLookup" not in i and i["adaptorType"].endswith("Import") for i in imports)
    connection_ids = {c["_id"] for c in api.get("/v1/connections", params={"limit": 100}).json()}
    assert {i["_connectionId"] for i in imports} <= connection_ids


def test_it_shapes_ashares_without_the_owner_section_4_4(api: Api) -> None:
    users = api.get("/v1/ashares").json()
    assert users
    for user in users:
        assert {"_id", "accepted", "disabled", "sharedWithUser", "integrationAccessLevel"} <= set(user)
        assert {"_id", "email", "name"} <= set(user["sharedWithUser"])
        assert user["_id"] != user["sharedWithUser"]["_id"]


def test_it_lists_tags_section_2_13(api: Api) -> None:
    tags = api.get("/v1/tags").json()
    assert tags
    assert all({"_id", "tag"} <= set(t) for t in tags)


@pytest.mark.parametrize(
    "resource", ["integrations", "flows", "exports", "imports", "ashares", "connections"]
)
def test_it_gets_one_resource_by_id_and_ignores_include(api: Api, resource: str) -> None:
    first = api.get(f"/v1/{resource}").json()[0]
    response = api.get(f"/v1/{resource}/{first['_id']}", params={"include": "name"})
    assert response.status_code == 200
    assert response.json() == first


def test_it_answers_404_with_the_errors_envelope_section_1_4(api: Api) -> None:
    for path in (
        "/v1/flows/000000000000000000000000",
        "/v1/nothing-here",
        "/v1/jobs/000000000000000000000000",
    ):
        response = api.get(path)
        assert response.status_code == 404
        error = response.json()["errors"][0]
        assert set(error) >= {"code", "message"}


def test_it_refuses_a_bad_limit_or_cursor(api: Api) -> None:
    assert api.get("/v1/flows", params={"limit": 0}).status_code == 400
    assert api.get("/v1/flows", params={"after": "!!!"}).json()["errors"][0]["code"] == "invalid_query_params"


def test_it_lists_integration_users(api: Api) -> None:
    integration = api.get("/v1/integrations").json()[0]
    assert api.get(f"/v1/integrations/{integration['_id']}/ashares").status_code == 200
