"""Settings refuse what must never run in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ledgerline.config import EXAMPLE_SECRET_KEY, Settings


def test_production_refuses_the_example_secret_key() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY is the example value"):
        Settings(_env_file=None, environment="production", secret_key=EXAMPLE_SECRET_KEY)  # type: ignore[call-arg]


def test_production_refuses_a_short_secret_key() -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(_env_file=None, environment="production", secret_key="short")  # type: ignore[call-arg]


def test_production_accepts_a_long_random_secret_key() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="production",
        secret_key="k" * 48,
        mail_backend="smtp",
    )
    assert settings.secret_key.get_secret_value() == "k" * 48


def test_production_refuses_the_console_mail_backend() -> None:
    with pytest.raises(ValidationError, match="MAIL_BACKEND=console"):
        Settings(_env_file=None, environment="production", secret_key="k" * 48)  # type: ignore[call-arg]


def test_development_tolerates_the_example_secret_key() -> None:
    assert Settings(_env_file=None, secret_key=EXAMPLE_SECRET_KEY)  # type: ignore[call-arg]


def test_every_setting_is_documented_in_env_example() -> None:
    documented = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    missing = [
        name.upper() for name in Settings.model_fields if f"{name.upper()}=" not in documented
    ]
    assert missing == []
