"""The ledger's invariants are PostgreSQL's: statements sent directly as the runtime role,
past every rule in Python, are refused by the database itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledgerline.db.base import new_id
from ledgerline.db.engine import Database
from tests.helpers.identity import Account, signup
from tests.helpers.ledger import account_ids

ENTRY = (
    "INSERT INTO journal_entries (tenant_id, id, posted_on, occurred_on, period, source_type,"
    " source_id, kind, created_by_type) VALUES (:tenant, :id, :day, :day,"
    " date_trunc('month', CAST(:day AS date))::date, 'manual', :source, :kind, 'user')"
)
LINE = (
    "INSERT INTO journal_lines (tenant_id, id, entry_id, account_id, debit, credit, currency,"
    " posted_on, account_seq, balance_after) VALUES (:tenant, :id, :entry, :account, :debit,"
    " :credit, :currency, :day, :seq, 0)"
)


async def run(database: Database, tenant_id: UUID, *statements: tuple[str, dict[str, Any]]) -> None:
    """The statements in one transaction of `tenant_id`, as the runtime role; committed."""
    async with database.tenant_transaction(tenant_id) as session:
        for sql, values in statements:
            await session.execute(text(sql), values)


def entry(tenant: UUID, entry_id: UUID, day: date = date(2026, 3, 5), **more: Any) -> Any:
    values = {"tenant": tenant, "id": entry_id, "day": day, "source": entry_id, "kind": "manual"}
    return ENTRY, values | more


def line(
    tenant: UUID,
    entry_id: UUID,
    account: UUID,
    debit: str = "0",
    credit: str = "0",
    currency: str = "EUR",
    seq: int | None = None,
) -> Any:
    values = {
        "tenant": tenant,
        "id": new_id(),
        "entry": entry_id,
        "account": account,
        "debit": debit,
        "credit": credit,
        "currency": currency,
        "day": date(2026, 3, 5),
        "seq": seq if seq is not None else new_id().int % 1_000_000_000,
    }
    return LINE, values


def balanced(tenant: UUID, accounts: dict[str, UUID], amount: str = "10.00") -> list[Any]:
    entry_id = new_id()
    return [
        entry(tenant, entry_id),
        line(tenant, entry_id, accounts["6000"], debit=amount),
        line(tenant, entry_id, accounts["1000"], credit=amount),
    ]


async def refused(
    database: Database, tenant: UUID, statements: Sequence[Any], message: str
) -> None:
    with pytest.raises(DBAPIError, match=message):
        await run(database, tenant, *statements)


@pytest.fixture
async def accounts(database: Database, owner: Account) -> dict[str, UUID]:
    return await account_ids(database, owner.tenant_id)


async def test_a_balanced_entry_is_accepted(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    await run(database, owner.tenant_id, *balanced(owner.tenant_id, accounts))


async def test_an_unbalanced_entry_is_refused_at_commit(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    entry_id = new_id()
    tenant = owner.tenant_id
    statements = [
        entry(tenant, entry_id),
        line(tenant, entry_id, accounts["6000"], debit="10.00"),
        line(tenant, entry_id, accounts["1000"], credit="9.99"),
    ]
    await refused(database, tenant, statements, "does not balance in EUR")


async def test_an_entry_balanced_only_across_currencies_is_refused(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    entry_id = new_id()
    tenant = owner.tenant_id
    statements = [
        entry(tenant, entry_id),
        line(tenant, entry_id, accounts["6000"], debit="10.00", currency="EUR"),
        line(tenant, entry_id, accounts["1000"], credit="10.00", currency="USD"),
    ]
    await refused(database, tenant, statements, "does not balance")


async def test_an_entry_without_lines_is_refused(database: Database, owner: Account) -> None:
    await refused(database, owner.tenant_id, [entry(owner.tenant_id, new_id())], "has no lines")


async def test_lines_added_later_to_a_posted_entry_must_balance(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    tenant = owner.tenant_id
    statements = balanced(tenant, accounts)
    await run(database, tenant, *statements)
    entry_id = statements[0][1]["id"]
    extra = [line(tenant, entry_id, accounts["6000"], debit="5.00")]
    await refused(database, tenant, extra, "does not balance")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_lines SET debit = debit + 1",
        "DELETE FROM journal_lines",
        "UPDATE journal_entries SET memo = 'changed'",
        "DELETE FROM journal_entries",
        "UPDATE ledger_accounts SET code = '1001' WHERE code = '1000'",
        "UPDATE ledger_accounts SET overdraft_limit = 0 WHERE code = '1000'",
        "DELETE FROM ledger_accounts",
        "UPDATE invoice_payments SET amount = amount + 1",
    ],
)
async def test_the_runtime_role_cannot_change_what_was_posted(
    database: Database, owner: Account, accounts: dict[str, UUID], statement: str
) -> None:
    await run(database, owner.tenant_id, *balanced(owner.tenant_id, accounts))
    await refused(database, owner.tenant_id, [(statement, {})], "permission denied")


async def test_nothing_posts_into_a_closed_period(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    tenant = owner.tenant_id
    earlier = balanced(tenant, accounts)
    await run(database, tenant, *earlier)
    close = "UPDATE ledger_periods SET status = 'closed' WHERE period = '2026-03-01'"
    await run(database, tenant, (close, {}))
    await refused(database, tenant, balanced(tenant, accounts), "period 2026-03 is closed")
    # Nor may lines join an entry of the closed month afterwards.
    entry_id = earlier[0][1]["id"]
    pair = [
        line(tenant, entry_id, accounts["6000"], debit="1.00"),
        line(tenant, entry_id, accounts["1000"], credit="1.00"),
    ]
    await refused(database, tenant, pair, "period 2026-03 is closed")


async def test_one_business_event_posts_once(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    tenant = owner.tenant_id
    source = new_id()
    first, second = balanced(tenant, accounts), balanced(tenant, accounts)
    first[0][1]["source"] = second[0][1]["source"] = source
    await run(database, tenant, *first)
    await refused(database, tenant, second, "journal_entries_tenant_id_source_type_source_id")


async def test_an_entry_is_reversed_at_most_once(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    tenant = owner.tenant_id
    original = balanced(tenant, accounts)
    await run(database, tenant, *original)
    sql = ENTRY.replace("created_by_type)", "created_by_type, reverses)").replace(
        "'user')", "'user', :reverses)"
    )
    reversals = []
    for _ in range(2):
        mirrored = balanced(tenant, accounts)
        mirrored[0] = (sql, mirrored[0][1] | {"reverses": original[0][1]["id"]})
        reversals.append(mirrored)
    await run(database, tenant, *reversals[0])
    await refused(database, tenant, reversals[1], "journal_entries_tenant_id_reverses_key")


async def test_a_cached_balance_cannot_pass_the_overdraft_limit(
    database: Database, owner: Account
) -> None:
    tenant = owner.tenant_id
    account = new_id()
    create = (
        "INSERT INTO ledger_accounts (tenant_id, id, code, name, type, overdraft_limit, active,"
        " version) VALUES (:tenant, :id, '1010', 'Savings', 'asset', 100.00, true, 1)"
    )
    await run(database, tenant, (create, {"tenant": tenant, "id": account}))
    cached = (
        "INSERT INTO ledger_balances (tenant_id, account_id, currency, debit_total, credit_total,"
        " balance, line_count, overdraft_limit) VALUES (:tenant, :account, 'EUR', 0, 100.00,"
        " -100.00, 1, 100.00)"
    )
    await run(database, tenant, (cached, {"tenant": tenant, "account": account}))
    below = (
        "UPDATE ledger_balances SET credit_total = credit_total + 0.01, balance = balance - 0.01"
    )
    await refused(database, tenant, [(below, {})], "ledger_balances_within_overdraft_check")


async def test_a_line_cannot_post_another_currency_to_a_single_currency_account(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    tenant = owner.tenant_id
    account = new_id()
    create = (
        "INSERT INTO ledger_accounts (tenant_id, id, code, name, type, currency, active, version)"
        " VALUES (:tenant, :id, '1020', 'Dollar account', 'asset', 'USD', true, 1)"
    )
    await run(database, tenant, (create, {"tenant": tenant, "id": account}))
    entry_id = new_id()
    statements = [
        entry(tenant, entry_id),
        line(tenant, entry_id, account, debit="1.00", currency="EUR"),
        line(tenant, entry_id, accounts["1000"], credit="1.00", currency="EUR"),
    ]
    await refused(database, tenant, statements, "holds USD only")


async def test_a_line_cannot_name_another_tenants_account(
    database: Database, owner: Account, accounts: dict[str, UUID], client: Any
) -> None:
    other = await signup(client, "otherco")
    theirs = await account_ids(database, other.tenant_id)
    tenant = owner.tenant_id
    entry_id = new_id()
    statements = [
        entry(tenant, entry_id),
        line(tenant, entry_id, theirs["6000"], debit="1.00"),
        line(tenant, entry_id, accounts["1000"], credit="1.00"),
    ]
    await refused(database, tenant, statements, "journal_lines_tenant_id_account_id_fkey")


async def test_a_line_is_a_debit_or_a_credit(
    database: Database, owner: Account, accounts: dict[str, UUID]
) -> None:
    tenant = owner.tenant_id
    for debit, credit in (("1.00", "1.00"), ("0", "0"), ("-1.00", "0")):
        entry_id = new_id()
        statements = [
            entry(tenant, entry_id),
            line(tenant, entry_id, accounts["6000"], debit=debit, credit=credit),
            line(tenant, entry_id, accounts["1000"], debit=credit, credit=debit),
        ]
        await refused(database, tenant, statements, "journal_lines_debit_or_credit_check")


async def test_a_transfer_cannot_name_another_tenants_account(
    database: Database, owner: Account, accounts: dict[str, UUID], client: Any
) -> None:
    theirs = await account_ids(database, (await signup(client, "otherco")).tenant_id)
    tenant = owner.tenant_id
    statements = balanced(tenant, accounts)
    entry_id = statements[0][1]["id"]
    moved = (
        "INSERT INTO ledger_transfers (tenant_id, id, from_account_id, to_account_id, amount,"
        " currency, transfer_on, entry_id) VALUES (:tenant, :id, :source, :target, 10.00,"
        " 'EUR', '2026-03-05', :entry)"
    )
    values = {
        "tenant": tenant,
        "id": new_id(),
        "source": accounts["1000"],
        "target": theirs["1000"],
        "entry": entry_id,
    }
    await refused(
        database,
        tenant,
        [*statements, (moved, values)],
        "ledger_transfers_tenant_id_to_account_id_fkey",
    )
