"""A tenant's audit trail, read through HTTP as its owner reads it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers.http import API, all_pages
from tests.helpers.identity import Account


async def audit_events(
    client: httpx.AsyncClient, owner: Account, **params: Any
) -> list[dict[str, Any]]:
    """The tenant's whole audit trail (or the part `params` filter), newest first."""
    pages = await all_pages(client, f"{API}/audit", owner.headers, **params)
    return [event for page in pages for event in page]
