"""Pagination walks for the three styles of docs/celigo-api.md §1.5 and the four nextPageURL forms."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

import pytest

from celigo_api.simulator import SimulatorServer
from celigo_api.simulator.clock import iso_ms, parse_instant
from celigo_api.simulator.errors import ErrorFilter

from .conftest import Api, busiest_step, follow_next_page

FORMS = ["v1", "relative", "api", "absolute"]


def walk_step_errors(
    api: Api, base_url: str, path: str, params: dict[str, object], key: str, reappend: bool
) -> tuple[list[dict], list[str]]:
    """Follow nextPageURL to the end, re-appending the filters when the server drops them."""
    rows: list[dict] = []
    seen_urls: list[str] = []
    response = api.get(f"{base_url}{path}", params=params)
    while True:
        assert response.status_code == 200
        body = response.json()
        rows.extend(body[key])
        next_page = body.get("nextPageURL")
        if not next_page:
            return rows, seen_urls
        seen_urls.append(next_page)
        url = follow_next_page(base_url, next_page)
        if reappend:
            url += "&" + urlencode(params, doseq=True)
        response = api.get(url)


@pytest.mark.parametrize("keeps_filters", [True, False])
@pytest.mark.parametrize("form", FORMS)
def test_it_walks_open_errors_through_every_next_page_form_section_1_5_2(
    make_celigo_simulator: Callable[..., SimulatorServer],
    api_for: Callable[[SimulatorServer], Api],
    form: str,
    keeps_filters: bool,
) -> None:
    sim = make_celigo_simulator(next_page_form=form, next_page_keeps_filters=keeps_filters, page_size=7)
    api = api_for(sim)
    flow_id, step_id = busiest_step(sim)
    path = f"/v1/flows/{flow_id}/{step_id}/errors"
    everything, _ = walk_step_errors(api, sim.base_url, path, {}, "errors", reappend=False)
    assert len(everything) == sim.state.store(flow_id, step_id).open_count(sim.clock.now_ms())
    assert len({e["errorId"] for e in everything}) == len(everything)
    # Newest first (INFERRED order).
    assert [e["occurredAt"] for e in everything] == sorted(
        (e["occurredAt"] for e in everything), reverse=True
    )
    source = everything[0]["source"]
    filtered, urls = walk_step_errors(
        api, sim.base_url, path, {"source": source}, "errors", reappend=not keeps_filters
    )
    assert filtered == [e for e in everything if e["source"] == source]
    for url in urls:
        assert ("source=" in url) == keeps_filters
        assert {
            "v1": url.startswith("/v1/"),
            "relative": url.startswith("flows/"),
            "api": url.startswith("/api/flows/"),
            "absolute": url.startswith(sim.base_url),
        }[form]


@pytest.mark.parametrize("form", FORMS)
def test_it_walks_resolved_errors_in_the_eu_region(
    make_celigo_simulator: Callable[..., SimulatorServer], form: str
) -> None:
    sim = make_celigo_simulator(seed="demo", next_page_form=form, page_size=5)
    eu = next(a for a in sim.accounts if a.region == "eu")
    api = Api(sim.base_url_for("eu"), eu.token)
    store = max(eu.world.stores.values(), key=lambda s: s.n)
    path = f"/v1/flows/{store.flow_id}/{store.step_id}/resolved"
    rows, urls = walk_step_errors(api, sim.base_url_for("eu"), path, {}, "resolved", reappend=False)
    assert urls
    assert len(rows) == len({r["errorId"] for r in rows}) > 5
    assert [r["resolvedAt"] for r in rows] == sorted((r["resolvedAt"] for r in rows), reverse=True)


def test_it_keeps_a_walk_stable_while_errors_are_resolved(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(page_size=5)
    api = api_for(sim)
    flow_id, step_id = busiest_step(sim)
    first = api.get(f"/v1/flows/{flow_id}/{step_id}/errors").json()
    # Resolving rows already seen must not shift the next page (keyset cursor).
    seen = [e["errorId"] for e in first["errors"]]
    api.put(f"/v1/flows/{flow_id}/{step_id}/resolved", json={"errors": seen})
    second = api.get(follow_next_page(sim.base_url, first["nextPageURL"])).json()
    expected = sim.state.error_page(flow_id, step_id, False, ErrorFilter(), None, 5)[0]
    assert [e["errorId"] for e in second["errors"]] == [e["errorId"] for e in expected]


def test_it_pages_jobs_newest_first_with_created_at_lte_section_1_5_3(
    make_celigo_simulator: Callable[..., SimulatorServer], api_for: Callable[[SimulatorServer], Api]
) -> None:
    sim = make_celigo_simulator(jobs_page_size=7)
    api = api_for(sim)
    flow = next(f for f in sim.state.flows.values() if f.runs.run_count() > 10)
    jobs: list[dict] = []
    params: dict[str, object] = {"_flowId": flow.flow_id}
    while True:
        response = api.get("/v1/jobs", params=params)
        if response.status_code == 204:
            break
        page = response.json()
        assert len(page) <= 7
        jobs.extend(page)
        params["createdAt_lte"] = iso_ms(parse_instant(page[-1]["createdAt"]) - 1)
    created = [j["createdAt"] for j in jobs]
    assert created == sorted(created, reverse=True)
    assert len(jobs) == len({j["_id"] for j in jobs}) == flow.runs.run_count()
