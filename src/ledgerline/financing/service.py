"""Financing: programs, opportunities, offers, acceptance, settlement and repayment.

Lock order, the same in every step, so concurrent steps queue instead of deadlocking:
offer, then invoice, then program, then the ledger's balances. The budget is held by
PostgreSQL: accepting reserves the net with one conditional statement
(`committed + net <= budget`, zero rows is `budget_exhausted`), and a check on the
program refuses any `committed` outside 0..budget whatever sends it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import exists, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit.service import ANONYMOUS, AuditContext, RequestMeta
from ledgerline.config import Settings
from ledgerline.db.base import new_id
from ledgerline.db.engine import Database
from ledgerline.db.rows import locked_at_version, row_by_id
from ledgerline.events.catalog import financing_offer_accepted
from ledgerline.financing.models import (
    FinancingAcceptance,
    FinancingOffer,
    FinancingProgram,
    FinancingSettlement,
    Funding,
    OfferStatus,
    SettlementKind,
)
from ledgerline.financing.terms import EarlyPayment, early_payment, share_of
from ledgerline.invoices.models import Invoice, InvoiceStatus, InvoiceStatusChange
from ledgerline.invoices.postings import account_ids_by_code
from ledgerline.ledger import chart
from ledgerline.ledger.posting import PostingLine, post
from ledgerline.mail.service import queue_mail
from ledgerline.pagination import PageRequest, keyset_page
from ledgerline.problems import Problem
from ledgerline.security.tokens import InvalidToken, new_tenant_token, tenant_of_token, token_digest
from ledgerline.vendors.models import Vendor

OFFER_TOKEN_PREFIX = "llf_"  # noqa: S105 - a token prefix
SOURCE_TYPE = "financing_offer"

_RESERVE = text(
    "UPDATE financing_programs SET committed = committed + :amount"
    " WHERE id = :program_id AND committed + :amount <= budget RETURNING committed"
)
_RELEASE = text(
    "UPDATE financing_programs SET committed = committed - :amount"
    " WHERE id = :program_id RETURNING committed"
)


def today() -> date:
    return datetime.now(UTC).date()


def invalid_link() -> Problem:
    """The one answer for a token that is unknown, spent, expired or another tenant's."""
    return Problem(404, "offer_link_invalid", "This offer link is invalid, used up or expired.")


def effective_status(offer: FinancingOffer, now: datetime | None = None) -> OfferStatus:
    """An offered offer past its expiry reads as expired (it is marked so lazily)."""
    now = now or datetime.now(UTC)
    if offer.status == OfferStatus.OFFERED and offer.expires_at <= now:
        return OfferStatus.EXPIRED
    return offer.status


# --- programs ----------------------------------------------------------------------------


async def create_program(
    session: AsyncSession, audit: AuditContext, fields: dict[str, Any]
) -> FinancingProgram:
    funding = fields["funding"]
    if funding == Funding.FUNDER and not fields.get("funder_name"):
        raise Problem(422, "funder_name_required", "A funder program names its funder.")
    if funding == Funding.OWN_CASH and (
        fields.get("funder_name") or fields.get("funder_fee_share")
    ):
        raise Problem(
            422, "funder_fields_refused", "An own-cash program has no funder or fee share."
        )
    program = FinancingProgram(
        tenant_id=audit.tenant_id,
        id=new_id(),
        committed=Decimal("0.00"),
        **{**fields, "funder_fee_share": fields.get("funder_fee_share") or Decimal("0")},
    )
    session.add(program)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Problem(409, "program_name_taken", "A program of this name exists.") from error
    audit.record(
        session,
        "financing.program_created",
        target_type="financing_program",
        target_id=program.id,
        changes={key: str(value) for key, value in fields.items() if value is not None},
    )
    return program


async def list_programs(
    session: AsyncSession, page: PageRequest
) -> tuple[Sequence[FinancingProgram], str | None]:
    return await keyset_page(session, select(FinancingProgram), FinancingProgram.id, page)


async def read_program(session: AsyncSession, program_id: UUID) -> FinancingProgram:
    return await row_by_id(session, FinancingProgram, program_id, what="program")


async def update_program(
    session: AsyncSession,
    audit: AuditContext,
    program_id: UUID,
    changes: dict[str, Any],
    *,
    if_match: str | None,
) -> FinancingProgram:
    """Rename, re-rate or re-budget at the version read. The row lock holds acceptances
    back meanwhile, so a budget checked against `committed` here stays above it."""
    program = await locked_at_version(
        session, FinancingProgram, program_id, if_match, what="program"
    )
    budget = changes.get("budget")
    if budget is not None and budget < program.committed:
        raise Problem(
            409,
            "budget_below_committed",
            f"The budget cannot go below what accepted offers hold ({program.committed}).",
            extra={"committed": str(program.committed)},
        )
    before = {key: str(getattr(program, key)) for key in changes}
    for key, value in changes.items():
        setattr(program, key, value)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Problem(409, "program_name_taken", "A program of this name exists.") from error
    audit.record(
        session,
        "financing.program_updated",
        target_type="financing_program",
        target_id=program.id,
        changes={
            key: {"before": before[key], "after": str(value)} for key, value in changes.items()
        },
    )
    return program


# --- opportunities -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Opportunity:
    invoice: Invoice
    open_amount: Decimal
    terms: EarlyPayment


def _live_offer_of_invoice() -> Any:
    """An accepted offer, or an offered one not yet expired, of the invoice."""
    return exists().where(
        FinancingOffer.invoice_id == Invoice.id,
        (FinancingOffer.status == OfferStatus.ACCEPTED)
        | (
            (FinancingOffer.status == OfferStatus.OFFERED)
            & (FinancingOffer.expires_at > func.now())
        ),
    )


def _check_pay_on(pay_on: date) -> None:
    if pay_on < today():
        raise Problem(422, "pay_on_in_past", "An early payment is paid today or later.")


async def opportunities(
    session: AsyncSession, page: PageRequest, *, program_id: UUID, pay_on: date
) -> tuple[FinancingProgram, list[Opportunity], str | None]:
    """Approved invoices with something open in the program's currency, due at least
    `min_days_early` days after `pay_on`, without a live offer; each with its terms."""
    program = await read_program(session, program_id)
    _check_pay_on(pay_on)
    statement = select(Invoice).where(
        Invoice.status == InvoiceStatus.APPROVED,
        Invoice.currency == program.currency,
        Invoice.total > Invoice.amount_paid,
        Invoice.due_date >= pay_on + timedelta(days=program.min_days_early),
        ~_live_offer_of_invoice(),
    )
    rows, cursor = await keyset_page(session, statement, Invoice.id, page)
    found = []
    for invoice in rows:
        assert invoice.due_date is not None
        open_amount = invoice.total - invoice.amount_paid
        terms = early_payment(open_amount, program.apr, program.day_count, pay_on, invoice.due_date)
        found.append(Opportunity(invoice, open_amount, terms))
    return program, found, cursor


# --- offers ------------------------------------------------------------------------------


def _offer_mail(settings: Settings, offer: FinancingOffer, number: str, token: str) -> str:
    return (
        f"We offer to pay invoice {number} early.\n\n"
        f"Open amount: {offer.open_amount} {offer.currency}\n"
        f"Paid on: {offer.pay_on.isoformat()} instead of {offer.due_date.isoformat()}"
        f" ({offer.days_early} days early)\n"
        f"Discount: {offer.discount} {offer.currency}\n"
        f"You receive: {offer.net_amount} {offer.currency}\n\n"
        f"To accept, open this link before {offer.expires_at.isoformat(timespec='seconds')}"
        f" (it works once):\n{settings.portal_base_url}/financing/accept?token={token}\n"
    )


async def create_offer(
    session: AsyncSession,
    settings: Settings,
    audit: AuditContext,
    *,
    invoice_id: UUID,
    program_id: UUID,
    pay_on: date,
) -> FinancingOffer:
    """Offer the invoice's vendor the open amount less the discount, paid on `pay_on`;
    mailed with a single-use acceptance link. The invoice's row lock orders offers of
    one invoice; the partial unique index refuses a second live one regardless."""
    program = await read_program(session, program_id)
    invoice = await row_by_id(session, Invoice, invoice_id, what="invoice", for_update=True)
    if invoice.status != InvoiceStatus.APPROVED:
        raise Problem(
            409,
            "invoice_not_approved",
            f"Only an approved invoice is financed, not a {invoice.status} one.",
        )
    assert invoice.vendor_id is not None
    assert invoice.due_date is not None
    if invoice.currency != program.currency:
        raise Problem(
            422,
            "currency_mismatch",
            f"The program pays {program.currency}; the invoice is in {invoice.currency}.",
        )
    _check_pay_on(pay_on)
    days_early = (invoice.due_date - pay_on).days
    if days_early < program.min_days_early:
        raise Problem(
            422,
            "too_few_days_early",
            f"The program pays at least {program.min_days_early} days before the due date"
            f" ({invoice.due_date.isoformat()}).",
        )
    vendor = await row_by_id(session, Vendor, invoice.vendor_id, what="vendor")
    if not vendor.email:
        raise Problem(422, "vendor_email_missing", "The vendor has no email to send the offer to.")
    await session.execute(
        update(FinancingOffer)
        .where(
            FinancingOffer.invoice_id == invoice.id,
            FinancingOffer.status == OfferStatus.OFFERED,
            FinancingOffer.expires_at <= func.now(),
        )
        .values(
            status=OfferStatus.EXPIRED, closed_at=func.now(), version=FinancingOffer.version + 1
        )
        .execution_options(synchronize_session=False)
    )
    live = await session.scalar(
        select(FinancingOffer.id).where(
            FinancingOffer.invoice_id == invoice.id,
            FinancingOffer.status.in_([OfferStatus.OFFERED, OfferStatus.ACCEPTED]),
        )
    )
    if live is not None:
        raise Problem(
            409,
            "offer_exists",
            "This invoice has a live offer; withdraw it first.",
            extra={"offer_id": str(live)},
        )
    open_amount = invoice.total - invoice.amount_paid
    terms = early_payment(open_amount, program.apr, program.day_count, pay_on, invoice.due_date)
    token = new_tenant_token(OFFER_TOKEN_PREFIX, audit.tenant_id)
    now = datetime.now(UTC)
    last_moment = datetime.combine(pay_on + timedelta(days=1), time(), UTC)
    offer = FinancingOffer(
        tenant_id=audit.tenant_id,
        id=new_id(),
        program_id=program.id,
        invoice_id=invoice.id,
        invoice_version=invoice.version,
        vendor_id=vendor.id,
        vendor_email=vendor.email,
        currency=program.currency,
        open_amount=open_amount,
        discount=terms.discount,
        net_amount=terms.net_amount,
        apr=program.apr,
        day_count=program.day_count,
        days_early=terms.days_early,
        pay_on=pay_on,
        due_date=invoice.due_date,
        status=OfferStatus.OFFERED,
        token_hash=token_digest(settings, token),
        expires_at=min(now + timedelta(hours=settings.financing_offer_ttl_hours), last_moment),
    )
    session.add(offer)
    await session.flush()
    queue_mail(
        session,
        tenant_id=audit.tenant_id,
        to=vendor.email,
        subject=f"Early payment offer for invoice {invoice.number}",
        body=_offer_mail(settings, offer, invoice.number or "", token),
    )
    audit.record(
        session,
        "financing.offer_made",
        target_type="financing_offer",
        target_id=offer.id,
        changes={
            "invoice_id": str(invoice.id),
            "program_id": str(program.id),
            "pay_on": pay_on.isoformat(),
            "open_amount": str(open_amount),
            "discount": str(terms.discount),
            "net_amount": str(terms.net_amount),
        },
    )
    return offer


async def list_offers(
    session: AsyncSession,
    page: PageRequest,
    *,
    program_id: UUID | None,
    invoice_id: UUID | None,
    status: OfferStatus | None,
) -> tuple[Sequence[FinancingOffer], str | None]:
    statement = select(FinancingOffer)
    if program_id is not None:
        statement = statement.where(FinancingOffer.program_id == program_id)
    if invoice_id is not None:
        statement = statement.where(FinancingOffer.invoice_id == invoice_id)
    if status == OfferStatus.EXPIRED:
        statement = statement.where(
            (FinancingOffer.status == OfferStatus.EXPIRED)
            | (
                (FinancingOffer.status == OfferStatus.OFFERED)
                & (FinancingOffer.expires_at <= func.now())
            )
        )
    elif status == OfferStatus.OFFERED:
        statement = statement.where(
            FinancingOffer.status == OfferStatus.OFFERED, FinancingOffer.expires_at > func.now()
        )
    elif status is not None:
        statement = statement.where(FinancingOffer.status == status)
    return await keyset_page(session, statement, FinancingOffer.id, page)


async def read_offer(session: AsyncSession, offer_id: UUID) -> FinancingOffer:
    return await row_by_id(session, FinancingOffer, offer_id, what="offer")


async def _release(session: AsyncSession, program_id: UUID, amount: Decimal) -> None:
    await session.execute(_RELEASE, {"program_id": program_id, "amount": amount})


async def _acceptance_of(session: AsyncSession, offer_id: UUID) -> FinancingAcceptance | None:
    return await session.scalar(
        select(FinancingAcceptance).where(FinancingAcceptance.offer_id == offer_id)
    )


async def withdraw_offer(
    session: AsyncSession, audit: AuditContext, offer_id: UUID, *, if_match: str | None
) -> FinancingOffer:
    """Withdraw an offer not yet settled; an accepted one gives its reservation back."""
    offer = await locked_at_version(session, FinancingOffer, offer_id, if_match, what="offer")
    before = effective_status(offer)
    if before not in (OfferStatus.OFFERED, OfferStatus.ACCEPTED):
        raise Problem(409, "offer_closed", f"This offer is {before}; it cannot be withdrawn.")
    if before == OfferStatus.ACCEPTED:
        acceptance = await _acceptance_of(session, offer.id)
        assert acceptance is not None
        await _release(session, offer.program_id, acceptance.reserved)
    offer.status = OfferStatus.WITHDRAWN
    offer.closed_at = datetime.now(UTC)
    await session.flush()
    audit.record(
        session,
        "financing.offer_withdrawn",
        target_type="financing_offer",
        target_id=offer.id,
        changes={"status": {"before": before, "after": OfferStatus.WITHDRAWN}},
    )
    return offer


# --- acceptance --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accepted:
    acceptance: FinancingAcceptance
    offer: FinancingOffer


def _offer_tenant(token: str) -> UUID:
    try:
        return tenant_of_token(token, OFFER_TOKEN_PREFIX)
    except InvalidToken as error:
        raise invalid_link() from error


def _stale(offer: FinancingOffer, invoice: Invoice | None) -> str | None:
    """Why the invoice no longer matches the offer, if it does not."""
    if invoice is None or invoice.status == InvoiceStatus.VOID:
        return "the invoice was voided"
    if invoice.amount_paid != invoice.total - offer.open_amount:
        return "the invoice was paid in part since"
    if invoice.version != offer.invoice_version or invoice.status != InvoiceStatus.APPROVED:
        return "the invoice changed since"
    return None


def _raise_if_stale(offer: FinancingOffer, invoice: Invoice | None) -> None:
    reason = _stale(offer, invoice)
    if reason is not None:
        raise Problem(
            409, "offer_stale", f"This offer no longer stands: {reason}.", extra={"reason": reason}
        )


async def accept_offer(
    database: Database, settings: Settings, *, token: str, meta: RequestMeta
) -> Accepted:
    """The vendor accepts with the mailed token (no sign-in). The token names its tenant
    and is looked up there by its keyed hash only; unknown, spent (withdrawn, expired,
    settled) and another tenant's tokens all answer `invalid_link`. Accepting again
    answers the same acceptance."""
    tenant_id = _offer_tenant(token)
    async with database.tenant_transaction(tenant_id) as session:
        offer = await session.scalar(
            select(FinancingOffer)
            .where(FinancingOffer.token_hash == token_digest(settings, token))
            .with_for_update()
        )
        if offer is None:
            raise invalid_link()
        if offer.status == OfferStatus.ACCEPTED:
            acceptance = await _acceptance_of(session, offer.id)
            assert acceptance is not None
            return Accepted(acceptance, offer)
        if effective_status(offer) != OfferStatus.OFFERED:
            raise invalid_link()
        invoice = await session.scalar(select(Invoice).where(Invoice.id == offer.invoice_id))
        _raise_if_stale(offer, invoice)
        offer.status = OfferStatus.ACCEPTED
        acceptance = FinancingAcceptance(
            tenant_id=tenant_id,
            id=new_id(),
            offer_id=offer.id,
            program_id=offer.program_id,
            reserved=offer.net_amount,
        )
        session.add(acceptance)
        await session.flush()
        # Last before the commit: every acceptance of the program queues on its row from here.
        reserved = await session.scalar(
            _RESERVE, {"program_id": offer.program_id, "amount": offer.net_amount}
        )
        if reserved is None:
            raise Problem(
                409,
                "budget_exhausted",
                "The program's budget has no room for this offer's net amount.",
            )
        AuditContext(tenant_id, ANONYMOUS, meta).record(
            session,
            "financing.offer_accepted",
            target_type="financing_offer",
            target_id=offer.id,
            changes={
                "acceptance_id": str(acceptance.id),
                "reserved": str(offer.net_amount),
                "committed": str(reserved),
            },
        )
        await financing_offer_accepted(session, offer, acceptance.id)
        return Accepted(acceptance, offer)


async def list_acceptances(
    session: AsyncSession,
    page: PageRequest,
    *,
    program_id: UUID | None,
    offer_id: UUID | None,
) -> tuple[Sequence[FinancingAcceptance], str | None]:
    statement = select(FinancingAcceptance)
    if program_id is not None:
        statement = statement.where(FinancingAcceptance.program_id == program_id)
    if offer_id is not None:
        statement = statement.where(FinancingAcceptance.offer_id == offer_id)
    return await keyset_page(session, statement, FinancingAcceptance.id, page)


# --- settlement and repayment ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settled:
    settlement: FinancingSettlement
    offer: FinancingOffer


async def _program_accounts(session: AsyncSession) -> dict[str, UUID]:
    codes = {chart.ACCOUNTS_PAYABLE, chart.BANK, chart.FINANCING_INCOME, chart.FUNDER_PAYABLE}
    return await account_ids_by_code(session, codes)


async def settle_offer(
    session: AsyncSession, audit: AuditContext, offer_id: UUID, *, if_match: str | None
) -> Settled:
    """Pay an accepted offer early, today (on or before its `pay_on`), and mark the
    invoice paid. Own cash: Dr 2000 open / Cr 1000 net / Cr 4900 discount, and the
    reservation is released. Funder: Dr 2000 open / Cr 2400 open (the funder paid the
    vendor); the reservation is held until the repayment."""
    offer = await locked_at_version(session, FinancingOffer, offer_id, if_match, what="offer")
    if offer.status != OfferStatus.ACCEPTED:
        raise Problem(
            409, "offer_not_accepted", f"This offer is {effective_status(offer)}, not accepted."
        )
    paid_on = today()
    if paid_on > offer.pay_on:
        raise Problem(
            409,
            "offer_past_pay_on",
            f"This offer was to be paid by {offer.pay_on.isoformat()}; withdraw it instead.",
        )
    invoice = await session.scalar(
        select(Invoice).where(Invoice.id == offer.invoice_id).with_for_update()
    )
    _raise_if_stale(offer, invoice)
    assert invoice is not None
    program = await read_program(session, offer.program_id)
    accounts = await _program_accounts(session)
    currency, party = offer.currency, offer.vendor_id
    lines = [PostingLine.dr(accounts[chart.ACCOUNTS_PAYABLE], offer.open_amount, currency, party)]
    if program.funding == Funding.OWN_CASH:
        lines.append(PostingLine.cr(accounts[chart.BANK], offer.net_amount, currency, party))
        if offer.discount:
            lines.append(
                PostingLine.cr(accounts[chart.FINANCING_INCOME], offer.discount, currency, party)
            )
    else:
        lines.append(
            PostingLine.cr(accounts[chart.FUNDER_PAYABLE], offer.open_amount, currency, party)
        )
    entry = await post(
        session,
        audit,
        source_type=SOURCE_TYPE,
        source_id=offer.id,
        kind=SettlementKind.SETTLEMENT,
        occurred_on=paid_on,
        lines=lines,
        memo=f"Early payment of invoice {invoice.number}"
        + (f" by {program.funder_name}" if program.funding == Funding.FUNDER else ""),
    )
    invoice.amount_paid += offer.open_amount
    invoice.status = InvoiceStatus.PAID
    session.add(
        InvoiceStatusChange(
            tenant_id=invoice.tenant_id,
            invoice_id=invoice.id,
            from_status=InvoiceStatus.APPROVED,
            to_status=InvoiceStatus.PAID,
            reason="paid early (financing)",
            actor_type=audit.actor.type,
            actor_id=audit.actor.id,
        )
    )
    if program.funding == Funding.OWN_CASH:
        await _release(session, program.id, offer.net_amount)
    offer.status = OfferStatus.SETTLED
    offer.closed_at = datetime.now(UTC)
    settlement = FinancingSettlement(
        tenant_id=audit.tenant_id,
        id=new_id(),
        offer_id=offer.id,
        program_id=program.id,
        kind=SettlementKind.SETTLEMENT,
        paid_on=paid_on,
        amount=offer.net_amount,
        entry_id=entry.id,
    )
    session.add(settlement)
    await session.flush()
    audit.record(
        session,
        "financing.offer_settled",
        target_type="financing_offer",
        target_id=offer.id,
        changes={
            "settlement_id": str(settlement.id),
            "invoice_id": str(invoice.id),
            "funding": program.funding,
            "net_amount": str(offer.net_amount),
            "entry_id": str(entry.id),
        },
    )
    return Settled(settlement, offer)


async def repay_offer(
    session: AsyncSession,
    audit: AuditContext,
    offer_id: UUID,
    *,
    paid_on: date | None,
    if_match: str | None,
) -> Settled:
    """The tenant repays the funder the open amount (dated the due date unless another
    day is given): Dr 2400 open / Cr 1000 open less the funder's fee share / Cr 4900 the
    fee share; the reservation is released."""
    offer = await locked_at_version(session, FinancingOffer, offer_id, if_match, what="offer")
    program = await read_program(session, offer.program_id)
    if program.funding != Funding.FUNDER:
        raise Problem(409, "not_funder_financed", "Only a funder's early payment is repaid.")
    if offer.status != OfferStatus.SETTLED:
        raise Problem(
            409, "offer_not_settled", f"This offer is {effective_status(offer)}, not settled."
        )
    settled_on = await session.scalar(
        select(FinancingSettlement.paid_on).where(
            FinancingSettlement.offer_id == offer.id,
            FinancingSettlement.kind == SettlementKind.SETTLEMENT,
        )
    )
    assert settled_on is not None
    day = paid_on or offer.due_date
    if day < settled_on:
        raise Problem(
            422, "repaid_before_settled", "A repayment is dated on or after the settlement."
        )
    fee = share_of(offer.discount, program.funder_fee_share)
    accounts = await _program_accounts(session)
    currency, party = offer.currency, offer.vendor_id
    lines = [
        PostingLine.dr(accounts[chart.FUNDER_PAYABLE], offer.open_amount, currency, party),
        PostingLine.cr(accounts[chart.BANK], offer.open_amount - fee, currency, party),
    ]
    if fee:
        lines.append(PostingLine.cr(accounts[chart.FINANCING_INCOME], fee, currency, party))
    entry = await post(
        session,
        audit,
        source_type=SOURCE_TYPE,
        source_id=offer.id,
        kind=SettlementKind.REPAYMENT,
        occurred_on=day,
        lines=lines,
        memo=f"Repayment to {program.funder_name}",
    )
    await _release(session, program.id, offer.net_amount)
    offer.status = OfferStatus.REPAID
    repayment = FinancingSettlement(
        tenant_id=audit.tenant_id,
        id=new_id(),
        offer_id=offer.id,
        program_id=program.id,
        kind=SettlementKind.REPAYMENT,
        paid_on=day,
        amount=offer.open_amount - fee,
        entry_id=entry.id,
    )
    session.add(repayment)
    await session.flush()
    audit.record(
        session,
        "financing.offer_repaid",
        target_type="financing_offer",
        target_id=offer.id,
        changes={
            "settlement_id": str(repayment.id),
            "amount": str(repayment.amount),
            "fee_share": str(fee),
            "entry_id": str(entry.id),
        },
    )
    return Settled(repayment, offer)


async def list_settlements(
    session: AsyncSession,
    page: PageRequest,
    *,
    program_id: UUID | None,
    offer_id: UUID | None,
    kind: SettlementKind | None,
) -> tuple[Sequence[FinancingSettlement], str | None]:
    statement = select(FinancingSettlement)
    if program_id is not None:
        statement = statement.where(FinancingSettlement.program_id == program_id)
    if offer_id is not None:
        statement = statement.where(FinancingSettlement.offer_id == offer_id)
    if kind is not None:
        statement = statement.where(FinancingSettlement.kind == kind)
    return await keyset_page(session, statement, FinancingSettlement.id, page)
