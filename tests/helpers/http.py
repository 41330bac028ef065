"""The HTTP conventions every test meets: the API prefix, problem codes, keyset pages."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

API = "/api/v1"


def problem_code(response: httpx.Response) -> Any:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return response.json()["code"]


async def all_pages(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], **params: Any
) -> list[list[dict[str, Any]]]:
    """Every page of a keyset-paginated list, following next_cursor to the end."""
    pages: list[list[dict[str, Any]]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "pagination does not end"


def b64_json(value: object) -> str:
    """`value` as JSON in unpadded base64url: the shape of list cursors and JWT segments."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
