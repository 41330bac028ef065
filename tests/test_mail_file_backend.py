"""MAIL_BACKEND=file: each sent message an .eml file in MAIL_FILE_DIR, the default in
development (the README's walk-throughs read their links from it); refused in production."""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from ledgerline.config import Settings
from ledgerline.db.engine import Database
from ledgerline.mail.service import MailSender
from tests.helpers.database import owner_sql
from tests.helpers.http import API
from tests.helpers.identity import Account


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def test_each_message_is_written_as_an_eml_file_and_its_body_leaves_the_outbox(
    client: httpx.AsyncClient,
    owner: Account,
    settings: Settings,
    database: Database,
    tmp_path: Path,
) -> None:
    requested = await client.post(
        f"{API}/auth/password-reset/request",
        json={"email": owner.email},
        headers={"X-Tenant-ID": str(owner.tenant_id)},
    )
    assert requested.status_code == 202, requested.text
    to_files = settings.model_copy(
        update={"mail_backend": "file", "mail_file_dir": tmp_path / "mail"}
    )
    assert await MailSender(to_files, database).run_once() == 2  # verification and reset

    files = sorted((tmp_path / "mail").iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]
    messages = [read_eml(path) for path in files]
    assert {message["To"] for message in messages} == {owner.email}
    assert {message["From"] for message in messages} == {settings.mail_from}
    reset = next(m for m in messages if "password" in str(m["Subject"]).lower())
    body = reset.get_content()
    token = re.search(r"token=(llp_\S+)", body)
    assert token is not None, body
    # The link stays on one line of the file as written, ready for grep.
    assert token.group(0) in files[messages.index(reset)].read_text()

    rows = await owner_sql(settings, owner.tenant_id, "SELECT status, body FROM mail_outbox")
    assert [(row["status"], row["body"]) for row in rows] == [("sent", None), ("sent", None)]


def settings_of(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("environment", "backend"),
    [("development", "file"), ("test", "console"), ("production", None)],
)
def test_an_unset_backend_is_the_file_in_development_and_the_console_elsewhere(
    environment: str, backend: str | None
) -> None:
    if backend is None:
        with pytest.raises(ValidationError, match="MAIL_BACKEND=console"):
            settings_of(environment=environment, secret_key="k" * 48, mail_backend="")
        return
    assert settings_of(environment=environment, mail_backend="").mail_backend == backend
    assert settings_of(environment=environment).mail_backend == backend


def test_the_files_go_to_data_dir_unless_mail_file_dir_says_otherwise(tmp_path: Path) -> None:
    assert settings_of(data_dir=tmp_path, mail_file_dir="").mail_dir == tmp_path / "mail"
    assert settings_of(mail_file_dir=tmp_path / "box").mail_dir == tmp_path / "box"


def test_production_refuses_the_file_backend() -> None:
    with pytest.raises(ValidationError, match="MAIL_BACKEND=file"):
        settings_of(environment="production", secret_key="k" * 48, mail_backend="file")
