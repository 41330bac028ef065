"""Mail: queued in the request's transaction (nothing lost, nothing blocks), sent after.

`queue_mail` adds a message to the outbox of the caller's tenant. `MailSender` runs in
the background (`ledgerline worker`, or each serving process; see worker.py): it claims
due messages across tenants (the platform role; `FOR UPDATE SKIP LOCKED`, so several
workers never send one twice), sends them through the configured backend, and on failure
retries with exponential backoff up to MAIL_MAX_ATTEMPTS, logging each failure; the
request that queued a message never sees a mail error.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosmtplib
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.db.leases import backoff, claim_due
from ledgerline.mail.models import MailStatus, OutboxMessage

logger = logging.getLogger(__name__)

BATCH_SIZE = 20
MAX_BACKOFF = timedelta(hours=1)
# How long a claimed message is left to its sender before another may take it.
SEND_LEASE = timedelta(minutes=5)


def _update(message: OutboxMessage) -> Any:
    return update(OutboxMessage).where(
        OutboxMessage.tenant_id == message.tenant_id, OutboxMessage.id == message.id
    )


def write_eml(folder: Path, message_id: UUID, email: EmailMessage) -> Path:
    """The message as `<UTC time>-<id>.eml` in `folder`: names sort by sending time. It
    is written under a temporary name and renamed, so a reader never sees half a file."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{message_id}.eml"
    partial = path.with_suffix(".partial")
    partial.write_bytes(email.as_bytes())
    os.replace(partial, path)
    return path


def queue_mail(session: AsyncSession, *, tenant_id: UUID, to: str, subject: str, body: str) -> None:
    session.add(OutboxMessage(tenant_id=tenant_id, to_address=to, subject=subject, body=body))


class MailSender:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database

    def _email(self, message: OutboxMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.settings.mail_from
        email["To"] = message.to_address
        email["Subject"] = message.subject
        email["Date"] = format_datetime(datetime.now(UTC))
        email["Message-ID"] = f"<{message.id}@ledgerline>"
        if self.settings.mail_backend == "file":
            # Readable as it is: no quoted-printable soft breaks inside long links.
            email.set_content(message.body or "", cte="8bit")
        else:
            email.set_content(message.body or "")
        return email

    async def _deliver(self, message: OutboxMessage) -> None:
        if self.settings.mail_backend == "console":
            logger.info(
                "mail (console backend)",
                extra={"to": message.to_address, "subject": message.subject, "body": message.body},
            )
            return
        email = self._email(message)
        if self.settings.mail_backend == "file":
            await asyncio.to_thread(write_eml, self.settings.mail_dir, message.id, email)
            return
        await aiosmtplib.send(
            email,
            hostname=self.settings.smtp_host,
            port=self.settings.smtp_port,
            username=self.settings.smtp_username or None,
            password=self.settings.smtp_password.get_secret_value() or None,
            use_tls=self.settings.smtp_tls == "tls",
            start_tls=self.settings.smtp_tls == "starttls",
            timeout=30,
        )

    async def run_once(self) -> int:
        """Send what is due now; return how many messages were tried.

        Three short steps, so no transaction stays open while a mail server is slow:
        claim (mark `sending` with a lease and count the attempt, commit), send with no
        transaction open, then record the outcome. A sender that dies mid-way leaves its
        claims to expire; they are claimed again, the attempt already counted.
        """
        claimed = await self._claim()
        for message in claimed:
            try:
                await self._deliver(message)
            except Exception as error:
                await self._record_failure(message, f"{type(error).__name__}: {error}"[:1000])
            else:
                await self._record_sent(message)
        return len(claimed)

    async def _claim(self) -> list[OutboxMessage]:
        now = datetime.now(UTC)
        async with self.database.platform_sessions() as session, session.begin():
            due = await claim_due(
                session,
                OutboxMessage,
                ready=OutboxMessage.status.in_([MailStatus.PENDING, MailStatus.SENDING]),
                status=("status", MailStatus.SENDING),
                now=now,
                lease=SEND_LEASE,
                limit=BATCH_SIZE,
            )
        return list(due)

    async def _record_sent(self, message: OutboxMessage) -> None:
        async with self.database.platform_sessions() as session, session.begin():
            values: dict[str, object] = {
                "status": MailStatus.SENT,
                "sent_at": datetime.now(UTC),
                "last_error": None,
            }
            if self.settings.mail_backend != "console":
                values["body"] = None
            await session.execute(_update(message).values(**values))

    async def _record_failure(self, message: OutboxMessage, error: str) -> None:
        gave_up = message.attempts >= self.settings.mail_max_attempts
        retry_in = backoff(message.attempts, first=timedelta(seconds=2), cap=MAX_BACKOFF)
        async with self.database.platform_sessions() as session, session.begin():
            await session.execute(
                _update(message).values(
                    status=MailStatus.FAILED if gave_up else MailStatus.PENDING,
                    next_attempt_at=datetime.now(UTC) + retry_in,
                    last_error=error,
                )
            )
        logger.warning(
            "mail not sent",
            extra={"message_id": str(message.id), "attempts": message.attempts, "error": error},
        )
