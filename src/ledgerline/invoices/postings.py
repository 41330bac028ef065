"""What invoices and their payments post, through `ledger.posting.post`, in the
transaction of the step that causes it (so nothing is ever approved or paid unposted).

- Approved: Dr each line's account (the line's `account_code`, else the vendor's default
  expense account, else 6000; a line an asset was bought on: the asset account of the
  asset's category, else 1500) with its net amount; per row of the tax summary, Dr its
  input-tax account (1400 unless the tax code names another) with the recoverable share
  and Dr the vendor's expense account with the rest, and for reverse charge Cr the code's
  output-tax account with the tax; Cr 2000 with the total. Amounts per account are
  summed into one line each. The vendor is the party of every line.
- A credit note approved: the mirror of the above (Dr 2000, Cr expenses and tax).
- Paid: Dr 2000, Cr the paying account (1000 unless the payment names another asset
  account), with the vendor as party.
- Voided after approval, payment reversed: the mirror entry of the approval or payment.

Each entry is dated by its business date (issue date, `paid_on`, the day of the void or
reversal) and names its source: ("invoice", id, "approval" | "void"), ("payment", id,
"payment" | "reversal").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.assets.models import Asset
from ledgerline.audit.service import AuditContext
from ledgerline.db import driver
from ledgerline.invoices.models import Invoice, InvoiceKind, InvoiceLine, InvoicePayment
from ledgerline.ledger import chart
from ledgerline.ledger.models import Account, AccountType, JournalEntry
from ledgerline.ledger.posting import EntryDraft, PostingLine, post, post_many, reverse
from ledgerline.problems import Problem
from ledgerline.vendors.models import Vendor

INVOICE = "invoice"
PAYMENT = "payment"
APPROVAL = "approval"
VOID = "void"
REVERSAL = "reversal"


async def accounts_by_code(session: AsyncSession, codes: set[str]) -> dict[str, Account]:
    found = {
        account.code: account
        for account in await session.scalars(select(Account).where(Account.code.in_(codes)))
    }
    _refuse_unknown(codes, set(found))
    return found


# Sent with asyncpg itself (db/driver.py): every approval asks them. Nothing they read is
# written earlier in an approval's transaction.
_ACCOUNT_IDS = "SELECT code, id FROM ledger_accounts WHERE code = ANY($1::varchar[])"
_DEFAULT_EXPENSE = "SELECT default_expense_account_id FROM vendors WHERE id = $1"
_ASSET_LINES = """
SELECT a.purchase_invoice_line, coalesce(c.asset_account_code, $2) AS account_code
FROM assets a JOIN asset_categories c ON c.id = a.category_id
WHERE a.purchase_invoice_id = $1
"""


async def account_ids_by_code(session: AsyncSession, codes: set[str]) -> dict[str, UUID]:
    """The ids of the tenant's accounts with these codes (as `accounts_by_code` checks
    them), for a caller that posts to them and needs nothing else of them."""
    connection = await driver.driver_connection(session)
    found = {row["code"]: row["id"] for row in await connection.fetch(_ACCOUNT_IDS, list(codes))}
    _refuse_unknown(codes, set(found))
    return found


def _refuse_unknown(codes: set[str], found: set[str]) -> None:
    missing = sorted(codes - found)
    if missing:
        raise Problem(
            422,
            "unknown_account_code",
            f"This tenant has no account {', '.join(missing)}.",
            extra={"account_codes": missing},
        )


async def post_approval(
    session: AsyncSession,
    audit: AuditContext,
    invoice: Invoice,
    lines: Sequence[InvoiceLine],
    *,
    entry_id: UUID | None = None,
    along: Sequence[EntryDraft] = (),
) -> UUID:
    """The approved invoice's entry: expenses and input tax against accounts payable; a
    credit note's is its mirror (Dr accounts payable, Cr expenses and tax). `along` are
    other entries of the same approval (the release of its purchase orders' accruals),
    posted with it by one `post_many` call: every balance both touch is then locked in
    one ordered statement, so concurrent approvals queue instead of deadlocking."""
    assert invoice.vendor_id is not None
    assert invoice.currency is not None
    assert invoice.issue_date is not None
    connection = await driver.driver_connection(session)
    vendor = await connection.fetchrow(_DEFAULT_EXPENSE, invoice.vendor_id)
    summary = invoice.tax_summary or []
    wanted = {chart.GENERAL_EXPENSES, chart.ACCOUNTS_PAYABLE}
    wanted |= {line.account_code for line in lines if line.account_code}
    for row in summary:
        wanted.add(str(row["input_account_code"]))
        if row["reverse_charge"]:
            wanted.add(str(row["output_account_code"]))
    bought = await _asset_lines(session, invoice)
    wanted |= set(bought.values())
    accounts = await account_ids_by_code(session, wanted)
    default_expense = (vendor["default_expense_account_id"] if vendor else None) or accounts[
        chart.GENERAL_EXPENSES
    ]
    debits: dict[UUID, Decimal] = defaultdict(Decimal)
    credits: dict[UUID, Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.position in bought:
            account_id = accounts[bought[line.position]]
        else:
            account_id = accounts[line.account_code] if line.account_code else default_expense
        debits[account_id] += line.line_subtotal
    for row in summary:
        tax, recoverable = Decimal(str(row["tax_amount"])), Decimal(str(row["recoverable_amount"]))
        debits[accounts[str(row["input_account_code"])]] += recoverable
        debits[default_expense] += tax - recoverable  # input tax that cannot be reclaimed
        if row["reverse_charge"]:
            credits[accounts[str(row["output_account_code"])]] += tax
    credits[accounts[chart.ACCOUNTS_PAYABLE]] += invoice.total
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        debits, credits = credits, debits
    currency, party = invoice.currency, invoice.vendor_id
    posting = [
        PostingLine.dr(account_id, amount, currency, party)
        for account_id, amount in debits.items()
        if amount
    ] + [
        PostingLine.cr(account_id, amount, currency, party)
        for account_id, amount in credits.items()
        if amount
    ]
    what = "Credit note" if invoice.kind == InvoiceKind.CREDIT_NOTE else "Invoice"
    approval = EntryDraft(
        INVOICE,
        invoice.id,
        APPROVAL,
        invoice.issue_date,
        posting,
        memo=f"{what} {invoice.number}",
        entry_id=entry_id,
    )
    *_, posted = await post_many(session, audit, [*along, approval])
    if bought:
        await session.execute(
            update(Asset)
            .where(Asset.purchase_invoice_id == invoice.id)
            .values(acquisition_entry_id=posted, version=Asset.version + 1)
            .execution_options(synchronize_session=False)
        )
    return posted


async def _asset_lines(session: AsyncSession, invoice: Invoice) -> dict[int, str]:
    """The positions of the invoice's lines assets were bought on, with the asset
    account each goes to (the asset's category's, else 1500)."""
    if invoice.kind != InvoiceKind.INVOICE:
        return {}
    connection = await driver.driver_connection(session)
    rows = await connection.fetch(_ASSET_LINES, invoice.id, chart.FIXED_ASSETS)
    return {
        row["purchase_invoice_line"] - 1: str(row["account_code"])
        for row in rows
        if row["purchase_invoice_line"] is not None
    }


async def assets_bought_on(session: AsyncSession, invoice: Invoice) -> bool:
    found = await session.scalar(
        select(Asset.id).where(Asset.purchase_invoice_id == invoice.id).limit(1)
    )
    return found is not None


async def expense_account_of_line(
    session: AsyncSession, invoice: Invoice, line: InvoiceLine
) -> Account:
    """The account an invoice's approval debits with a line's net amount (were no asset
    bought on it): its `account_code`, else the vendor's default, else 6000."""
    if line.account_code:
        return (await accounts_by_code(session, {line.account_code}))[line.account_code]
    vendor = await session.scalar(select(Vendor).where(Vendor.id == invoice.vendor_id))
    if vendor is not None and vendor.default_expense_account_id is not None:
        account = await session.scalar(
            select(Account).where(Account.id == vendor.default_expense_account_id)
        )
        if account is not None:
            return account
    return (await accounts_by_code(session, {chart.GENERAL_EXPENSES}))[chart.GENERAL_EXPENSES]


async def post_void(
    session: AsyncSession, audit: AuditContext, invoice: Invoice, on: date
) -> JournalEntry | None:
    """The mirror of the invoice's approval entry, if it was posted."""
    approval = await session.scalar(
        select(JournalEntry).where(
            JournalEntry.source_type == INVOICE,
            JournalEntry.source_id == invoice.id,
            JournalEntry.kind == APPROVAL,
        )
    )
    if approval is None:  # approved before the ledger existed: nothing to undo
        return None
    return await reverse(
        session,
        audit,
        approval,
        source_type=INVOICE,
        source_id=invoice.id,
        kind=VOID,
        occurred_on=on,
        memo=f"Invoice {invoice.number} voided",
    )


async def paying_account(session: AsyncSession, account_id: UUID | None, currency: str) -> Account:
    """The account a payment leaves from: the one named (an active asset account that
    may hold the currency), else 1000."""
    if account_id is None:
        return (await accounts_by_code(session, {chart.BANK}))[chart.BANK]
    account = await session.scalar(select(Account).where(Account.id == account_id))
    if account is None:
        raise Problem(422, "account_not_found", "This tenant has no such account.")
    if account.type != AccountType.ASSET or not account.active:
        raise Problem(
            422,
            "paying_account_invalid",
            f"Account {account.code} is not an active asset account.",
        )
    if account.currency is not None and account.currency != currency:
        raise Problem(
            422,
            "account_currency_mismatch",
            f"Account {account.code} holds {account.currency} only, not {currency}.",
        )
    return account


async def post_payment(
    session: AsyncSession,
    audit: AuditContext,
    invoice: Invoice,
    payment: InvoicePayment,
    paying: Account,
) -> JournalEntry:
    assert invoice.vendor_id is not None
    assert invoice.currency is not None
    payable = (await accounts_by_code(session, {chart.ACCOUNTS_PAYABLE}))[chart.ACCOUNTS_PAYABLE]
    currency, party = invoice.currency, invoice.vendor_id
    return await post(
        session,
        audit,
        source_type=PAYMENT,
        source_id=payment.id,
        kind=PAYMENT,
        occurred_on=payment.paid_on,
        lines=[
            PostingLine.dr(payable.id, payment.amount, currency, party),
            PostingLine.cr(paying.id, payment.amount, currency, party),
        ],
        memo=f"Payment of invoice {invoice.number}"
        + (f" ({payment.reference})" if payment.reference else ""),
    )


async def post_payment_reversal(
    session: AsyncSession, audit: AuditContext, payment: InvoicePayment, on: date
) -> JournalEntry:
    original = await session.scalar(select(JournalEntry).where(JournalEntry.id == payment.entry_id))
    assert original is not None
    return await reverse(
        session,
        audit,
        original,
        source_type=PAYMENT,
        source_id=payment.id,
        kind=REVERSAL,
        occurred_on=on,
        memo="Payment reversed",
    )
