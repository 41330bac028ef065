"""`ledger.posting.post`, the one way into the journal, in the app's own transactions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from sqlalchemy import text

from ledgerline.audit.models import ActorType
from ledgerline.audit.service import Actor, AuditContext, RequestMeta
from ledgerline.db.base import new_id
from ledgerline.db.engine import Database
from ledgerline.ledger.models import JournalEntry
from ledgerline.ledger.posting import PostingLine, post, reverse
from ledgerline.problems import Problem
from tests.helpers.identity import Account
from tests.helpers.ledger import account_ids, balances, cache_disagreements

D = Decimal


def audit_of(owner: Account) -> AuditContext:
    return AuditContext(
        owner.tenant_id, Actor(ActorType.USER, owner.user_id), RequestMeta(None, None, None)
    )


@pytest.fixture
async def accounts(database: Database, owner: Account) -> dict[str, UUID]:
    return await account_ids(database, owner.tenant_id)


async def post_pair(
    database: Database,
    owner: Account,
    debit: UUID,
    credit: UUID,
    amount: str,
    on: date = date(2026, 3, 5),
    source_id: UUID | None = None,
) -> JournalEntry:
    async with database.tenant_transaction(owner.tenant_id) as session:
        return await post(
            session,
            audit_of(owner),
            source_type="manual",
            source_id=source_id or new_id(),
            kind="manual",
            occurred_on=on,
            lines=[
                PostingLine.dr(debit, D(amount), "EUR"),
                PostingLine.cr(credit, D(amount), "EUR"),
            ],
        )


async def close(database: Database, tenant_id: UUID, *months: str) -> None:
    async with database.tenant_transaction(tenant_id) as session:
        for month in months:
            await session.execute(
                text(
                    "INSERT INTO ledger_periods (tenant_id, period, status)"
                    " VALUES (:tenant, :month, 'closed')"
                    " ON CONFLICT (tenant_id, period) DO UPDATE SET status = 'closed'"
                ),
                {"tenant": tenant_id, "month": date.fromisoformat(f"{month}-01")},
            )


async def test_a_posting_moves_the_cached_balances_and_numbers_the_lines(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    await post_pair(database, owner, accounts["6000"], accounts["1000"], "100.00")
    await post_pair(database, owner, accounts["6000"], accounts["1000"], "0.50")
    await post_pair(database, owner, accounts["1000"], accounts["6000"], "20.25")
    assert await balances(database, owner.tenant_id) == {
        ("6000", "EUR"): D("80.25"),
        ("1000", "EUR"): D("-80.25"),
    }
    assert await cache_disagreements(database, owner.tenant_id) == []
    async with database.tenant_transaction(owner.tenant_id) as session:
        running = await session.execute(
            text(
                "SELECT account_seq, balance_after FROM journal_lines WHERE account_id = :a"
                " ORDER BY account_seq"
            ),
            {"a": accounts["6000"]},
        )
        assert [tuple(row) for row in running] == [
            (1, D("100.00")),
            (2, D("100.50")),
            (3, D("80.25")),
        ]


async def test_an_unbalanced_posting_is_422_before_the_database_sees_it(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    with pytest.raises(Problem) as refused:
        async with database.tenant_transaction(owner.tenant_id) as session:
            await post(
                session,
                audit_of(owner),
                source_type="manual",
                source_id=new_id(),
                kind="manual",
                occurred_on=date(2026, 3, 5),
                lines=[
                    PostingLine.dr(accounts["6000"], D("10.00"), "EUR"),
                    PostingLine.cr(accounts["1000"], D("9.00"), "EUR"),
                ],
            )
    assert (refused.value.status, refused.value.code) == (422, "unbalanced_entry")


async def test_an_event_in_a_closed_month_posts_on_the_first_day_of_the_first_open_one(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    await close(database, owner.tenant_id, "2026-02", "2026-03", "2026-05")
    entry = await post_pair(
        database, owner, accounts["6000"], accounts["1000"], "5.00", on=date(2026, 2, 17)
    )
    assert (entry.occurred_on, entry.posted_on, entry.period) == (
        date(2026, 2, 17),
        date(2026, 4, 1),
        date(2026, 4, 1),
    )
    open_month = await post_pair(
        database, owner, accounts["6000"], accounts["1000"], "5.00", on=date(2026, 4, 9)
    )
    assert open_month.posted_on == date(2026, 4, 9)


async def test_a_posting_past_the_overdraft_limit_is_409_and_posts_nothing(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    async with database.tenant_transaction(owner.tenant_id) as session:
        await session.execute(
            text(
                "INSERT INTO ledger_accounts (tenant_id, id, code, name, type, overdraft_limit,"
                " active, version) VALUES (:tenant, :id, '1010', 'Till', 'asset', 0, true, 1)"
            ),
            {"tenant": owner.tenant_id, "id": (till := new_id())},
        )
    await post_pair(database, owner, till, accounts["3000"], "30.00")
    with pytest.raises(Problem) as refused:
        await post_pair(database, owner, accounts["6000"], till, "30.01")
    assert (refused.value.status, refused.value.code) == (409, "insufficient_funds")
    await post_pair(database, owner, accounts["6000"], till, "30.00")
    assert (await balances(database, owner.tenant_id))[("1010", "EUR")] == D("0.00")
    assert await cache_disagreements(database, owner.tenant_id) == []


async def test_one_event_posts_once_and_an_entry_reverses_once(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    source = new_id()
    original = await post_pair(
        database, owner, accounts["6000"], accounts["1000"], "7.00", source_id=source
    )
    with pytest.raises(Problem) as twice:
        await post_pair(
            database, owner, accounts["6000"], accounts["1000"], "7.00", source_id=source
        )
    assert (twice.value.status, twice.value.code) == (409, "already_posted")

    async def reverse_it() -> JournalEntry:
        async with database.tenant_transaction(owner.tenant_id) as session:
            return await reverse(
                session,
                audit_of(owner),
                original,
                source_type="manual",
                source_id=source,
                kind="reversal",
                occurred_on=date(2026, 3, 6),
            )

    reversal = await reverse_it()
    assert reversal.reverses == original.id
    with pytest.raises(Problem) as again:
        await reverse_it()
    assert (again.value.status, again.value.code) == (409, "entry_already_reversed")
    assert await balances(database, owner.tenant_id) == {
        ("6000", "EUR"): D("0.00"),
        ("1000", "EUR"): D("0.00"),
    }
    assert await cache_disagreements(database, owner.tenant_id) == []
