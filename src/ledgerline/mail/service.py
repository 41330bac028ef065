"""Mail: queued in the request's transaction (nothing lost, nothing blocks), sent after.

`queue_mail` adds a message to the outbox of the caller's tenant. `MailSender` runs in
the background of every serving process: it claims due messages across tenants (the
platform role; `FOR UPDATE SKIP LOCKED`, so several workers never send one twice), sends
them through the configured backend, and on failure retries with exponential backoff up
to MAIL_MAX_ATTEMPTS, logging each failure; the request that queued a message never sees
a mail error.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from uuid import UUID

import aiosmtplib
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.mail.models import MailStatus, OutboxMessage

logger = logging.getLogger(__name__)

BATCH_SIZE = 20
MAX_BACKOFF = timedelta(hours=1)


def queue_mail(session: AsyncSession, *, tenant_id: UUID, to: str, subject: str, body: str) -> None:
    session.add(OutboxMessage(tenant_id=tenant_id, to_address=to, subject=subject, body=body))


class MailSender:
    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database

    async def _deliver(self, message: OutboxMessage) -> None:
        if self.settings.mail_backend == "console":
            logger.info(
                "mail (console backend)",
                extra={"to": message.to_address, "subject": message.subject, "body": message.body},
            )
            return
        email = EmailMessage()
        email["From"] = self.settings.mail_from
        email["To"] = message.to_address
        email["Subject"] = message.subject
        email.set_content(message.body or "")
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
        """Send what is due now; return how many messages were tried."""
        now = datetime.now(UTC)
        async with self.database.platform_sessions() as session, session.begin():
            due = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status == MailStatus.PENDING,
                        OutboxMessage.next_attempt_at <= now,
                    )
                    .order_by(OutboxMessage.next_attempt_at)
                    .limit(BATCH_SIZE)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for message in due:
                await self._try(message)
        return len(due)

    async def _try(self, message: OutboxMessage) -> None:
        message.attempts += 1
        try:
            await self._deliver(message)
        except Exception as error:
            message.last_error = f"{type(error).__name__}: {error}"[:1000]
            if message.attempts >= self.settings.mail_max_attempts:
                message.status = MailStatus.FAILED
            else:
                backoff = min(timedelta(seconds=2**message.attempts), MAX_BACKOFF)
                message.next_attempt_at = datetime.now(UTC) + backoff
            logger.warning(
                "mail not sent",
                extra={
                    "message_id": str(message.id),
                    "attempts": message.attempts,
                    "error": message.last_error,
                },
            )
            return
        message.status = MailStatus.SENT
        message.sent_at = datetime.now(UTC)
        message.last_error = None
        if self.settings.mail_backend != "console":
            message.body = None

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                logger.exception("mail sender failed; retrying")
            await asyncio.sleep(self.settings.mail_poll_seconds)
