"""The simulator starts, answers with the main token and stops."""

from __future__ import annotations

from .conftest import Api


def test_it_answers_token_info(api: Api) -> None:
    response = api.get("/v1/tokenInfo")
    assert response.status_code == 200
    assert set(response.json()) == {"_userId", "scope"}
