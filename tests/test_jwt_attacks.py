"""Every forged, altered or stale access token is 401."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from pydantic import SecretStr

from ledgerline.config import Settings
from ledgerline.security.tokens import decode_access_token
from tests.helpers.http import API, b64_json
from tests.helpers.identity import Account, bearer


def claims_of(account: Account) -> dict[str, Any]:
    return jwt.decode(account.access_token, options={"verify_signature": False})


def sign(claims: dict[str, Any], key: str, algorithm: str = "HS256", kid: str = "k1") -> str:
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


async def me(client: httpx.AsyncClient, token: str, account: Account) -> int:
    response = await client.get(f"{API}/users/me", headers=bearer(token, account.tenant_id))
    return response.status_code


async def test_the_genuine_token_works(client: httpx.AsyncClient, owner: Account) -> None:
    assert await me(client, owner.access_token, owner) == 200


async def test_alg_none_is_refused(client: httpx.AsyncClient, owner: Account) -> None:
    token = f"{b64_json({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64_json(claims_of(owner))}."
    assert await me(client, token, owner) == 401


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_another_algorithm_is_refused(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    token = sign(claims_of(owner), settings.secret_key.get_secret_value(), "HS512")
    assert await me(client, token, owner) == 401


async def test_another_key_is_refused(client: httpx.AsyncClient, owner: Account) -> None:
    assert (
        await me(client, sign(claims_of(owner), "some-other-key-of-32-characters!"), owner) == 401
    )


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("aud", "someone-else"),
        ("iss", "evil-issuer"),
        ("typ", "refresh"),
        ("exp", int((datetime.now(UTC) - timedelta(seconds=5)).timestamp())),
        ("tid", "00000000-0000-0000-0000-000000000000"),
    ],
    ids=["aud", "iss", "typ", "expired", "tid"],  # a clock-made value must not name a test
)
async def test_altered_claims_are_refused(
    client: httpx.AsyncClient, owner: Account, settings: Settings, claim: str, value: Any
) -> None:
    claims = claims_of(owner) | {claim: value}
    token = sign(claims, settings.secret_key.get_secret_value())
    expected = 403 if claim == "tid" else 401  # a valid token for another tenant: forbidden
    assert await me(client, token, owner) == expected


@pytest.mark.parametrize("claim", ["sub", "jti", "exp", "sid", "typ", "aud", "iss", "role"])
async def test_a_missing_claim_is_refused(
    client: httpx.AsyncClient, owner: Account, settings: Settings, claim: str
) -> None:
    claims = claims_of(owner)
    del claims[claim]
    assert await me(client, sign(claims, settings.secret_key.get_secret_value()), owner) == 401


async def test_an_unknown_key_id_is_refused(
    client: httpx.AsyncClient, owner: Account, settings: Settings
) -> None:
    token = sign(claims_of(owner), settings.secret_key.get_secret_value(), kid="k9")
    assert await me(client, token, owner) == 401


def test_a_previous_key_still_verifies_while_the_new_one_signs(settings: Settings) -> None:
    old = settings.model_copy(update={"jwt_key_id": "k0", "secret_key": SecretStr("o" * 40)})
    from ledgerline.db.base import new_id
    from ledgerline.security.tokens import issue_access_token

    token = issue_access_token(
        old, subject=new_id(), tenant_id=new_id(), role="ASSISTANT", session_id=new_id()
    ).token
    rotated = settings.model_copy(update={"jwt_previous_keys": {"k0": SecretStr("o" * 40)}})
    assert decode_access_token(rotated, token).role == "ASSISTANT"
