"""The default chart of accounts every tenant starts with. Features and reports post to
these codes, so they are fixed: a tenant may rename or deactivate these accounts, never
recode them."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.db.base import new_id
from ledgerline.ledger.models import Account, AccountType

BANK: Final = "1000"
INPUT_TAX: Final = "1400"
FIXED_ASSETS: Final = "1500"
ACCUMULATED_DEPRECIATION: Final = "1590"
ACCUMULATED_IMPAIRMENT: Final = "1595"
ACCOUNTS_PAYABLE: Final = "2000"
GOODS_RECEIVED_NOT_INVOICED: Final = "2150"
FUNDER_PAYABLE: Final = "2400"
RETAINED_EARNINGS: Final = "3000"
REVALUATION_SURPLUS: Final = "3100"
FINANCING_INCOME: Final = "4900"
GENERAL_EXPENSES: Final = "6000"
DEPRECIATION_EXPENSE: Final = "6800"
IMPAIRMENT_LOSS: Final = "6850"
DISPOSAL_GAIN_OR_LOSS: Final = "7900"
SUSPENSE: Final = "9999"

# (code, name, type): no currency (any), no overdraft limit.
DEFAULT_CHART: Final[tuple[tuple[str, str, AccountType], ...]] = (
    (BANK, "Bank", AccountType.ASSET),
    (INPUT_TAX, "Input tax receivable", AccountType.ASSET),
    (FIXED_ASSETS, "Fixed assets at cost", AccountType.ASSET),
    (ACCUMULATED_DEPRECIATION, "Accumulated depreciation", AccountType.ASSET),
    (ACCUMULATED_IMPAIRMENT, "Accumulated impairment", AccountType.ASSET),
    (ACCOUNTS_PAYABLE, "Accounts payable", AccountType.LIABILITY),
    (GOODS_RECEIVED_NOT_INVOICED, "Goods received not invoiced", AccountType.LIABILITY),
    (FUNDER_PAYABLE, "Payable to financing funders", AccountType.LIABILITY),
    (RETAINED_EARNINGS, "Retained earnings", AccountType.EQUITY),
    (REVALUATION_SURPLUS, "Revaluation surplus", AccountType.EQUITY),
    (FINANCING_INCOME, "Financing income", AccountType.INCOME),
    (GENERAL_EXPENSES, "General expenses", AccountType.EXPENSE),
    (DEPRECIATION_EXPENSE, "Depreciation expense", AccountType.EXPENSE),
    (IMPAIRMENT_LOSS, "Impairment loss", AccountType.EXPENSE),
    (DISPOSAL_GAIN_OR_LOSS, "Gain or loss on disposal", AccountType.INCOME),
    (SUSPENSE, "Suspense", AccountType.LIABILITY),
)


async def add_default_chart(session: AsyncSession, tenant_id: UUID) -> None:
    """The default accounts of a tenant created just now, in its creating transaction."""
    await session.execute(
        insert(Account),
        [
            {
                "tenant_id": tenant_id,
                "id": new_id(),
                "code": code,
                "name": name,
                "type": account_type,
                "active": True,
                "version": 1,
            }
            for code, name, account_type in DEFAULT_CHART
        ],
    )
