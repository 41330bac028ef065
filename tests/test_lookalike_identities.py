"""Look-alike identities: one person, one account, however the address is typed; names
that only look alike are refused; uploaded names lose the controls that disguise them."""

from __future__ import annotations

import httpx
import pytest

from ledgerline.values import mixes_scripts, normalize_email
from tests.helpers.documents import PNG, upload
from tests.helpers.http import API, problem_code
from tests.helpers.identity import PASSWORD, Account, login, signup

CYRILLIC_O = "\u043e"
FULLWIDTH_O = "\uff4f"
CYRILLIC_A = "\u0430"


async def add_user(client: httpx.AsyncClient, owner: Account, email: str) -> httpx.Response:
    return await client.post(
        f"{API}/users",
        json={"email": email, "full_name": "Olga", "password": PASSWORD},
        headers=owner.headers,
    )


async def test_a_fullwidth_or_upper_case_address_is_the_same_user(
    client: httpx.AsyncClient, owner: Account
) -> None:
    created = await add_user(client, owner, "olga@example.com")
    assert created.status_code == 201, created.text
    for same in (f"{FULLWIDTH_O}lga@example.com", "OLGA@Example.COM"):
        again = await add_user(client, owner, same)
        assert (again.status_code, problem_code(again)) == (409, "email_taken"), same
    signed_in = await login(client, "ownerco", f"{FULLWIDTH_O}LGA@example.com")
    assert signed_in.status_code == 200, signed_in.text


@pytest.mark.parametrize(
    "email",
    [
        f"{CYRILLIC_O}lga@example.com",  # a Cyrillic o among Latin letters
        f"olga@ex{CYRILLIC_A}mple.com",  # a homograph domain
        "olga@xn--exmple-4nf.com",  # the same domain, already in IDNA's ASCII form
    ],
)
async def test_an_address_that_mixes_scripts_is_refused(
    client: httpx.AsyncClient, owner: Account, email: str
) -> None:
    created = await add_user(client, owner, email)
    assert (created.status_code, problem_code(created)) == (422, "validation_failed")
    signed_up = await client.post(
        f"{API}/auth/signup",
        json={
            "tenant": {"name": "Mixed", "slug": "mixed"},
            "owner": {"email": email, "password": PASSWORD, "full_name": "Mixed"},
        },
    )
    assert signed_up.status_code == 422, signed_up.text


async def test_an_address_in_one_other_script_is_stored_with_an_ascii_domain(
    client: httpx.AsyncClient,
) -> None:
    owner = await signup(client, "cyrillic", "иван@пример.рф")
    users = await client.get(f"{API}/users", headers=owner.headers)
    assert [u["email"] for u in users.json()["items"]] == ["иван@xn--e1afmkfd.xn--p1ai"]


def test_scripts_that_may_share_a_name() -> None:
    assert not mixes_scripts("olga")
    assert not mixes_scripts("иван")
    assert not mixes_scripts("yamada山田やまだ")  # Latin with Japanese scripts (UTS 39)
    assert mixes_scripts(f"{CYRILLIC_O}lga")
    assert mixes_scripts("\u03b1lpha")  # a Greek alpha among Latin letters


def test_normalising_never_refuses_what_it_looks_up() -> None:
    assert normalize_email(f" {FULLWIDTH_O}LGA@Example.COM ") == "olga@example.com"
    assert normalize_email("no-at-sign") == "no-at-sign"
    assert normalize_email("x@-bad-.example") == "x@-bad-.example"


async def test_uploaded_names_lose_bidirectional_controls(
    client: httpx.AsyncClient, owner: Account
) -> None:
    disguised = "invoice\u202egnp.exe"  # shows as "invoiceexe.png"
    uploaded = await upload(client, owner, (disguised, PNG))
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["files"][0]["filename"] == "invoicegnp.exe"
