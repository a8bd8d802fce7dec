"""Settings: sensible defaults, `.env` support, and one clear line per bad variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DEFAULT_SLACK_API_URL, SettingsError, load_settings
from tests.helpers import run_lepton

SETTING_VARS = [
    "DATABASE_URL",
    "LEPTON_DATA_DIR",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_API_URL",
    "PORT",
    "LEPTON_ADMINS",
    "LEPTON_EMBEDDING_MODEL",
    "LOG_LEVEL",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTING_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_need_no_configuration() -> None:
    settings = load_settings(None)
    assert settings.database_url == "sqlite:///data/lepton.db"
    assert settings.slack_api_url == DEFAULT_SLACK_API_URL
    assert settings.port == 3000
    assert settings.lepton_admins == frozenset()
    assert not settings.has_slack_credentials


def test_database_defaults_into_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEPTON_DATA_DIR", "/srv/lepton")
    assert load_settings(None).database_url == "sqlite:////srv/lepton/lepton.db"


def test_env_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    Path(".env").write_text(
        "PORT=4000\nLEPTON_ADMINS=U01AAA, U02BBB\nSLACK_API_URL=http://127.0.0.1:9/api\n"
    )
    settings = load_settings(".env")
    assert settings.port == 4000
    assert settings.lepton_admins == {"U01AAA", "U02BBB"}
    assert settings.slack_api_url == "http://127.0.0.1:9/api/"
    monkeypatch.setenv("PORT", "5000")
    assert load_settings(".env").port == 5000


def test_platform_postgres_urls_use_the_shipped_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://app:s3cret@db.internal:5432/lepton")
    assert load_settings(None).database_url == (
        "postgresql+psycopg://app:s3cret@db.internal:5432/lepton"
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PORT", "eighty"),
        ("PORT", "70000"),
        ("DATABASE_URL", "mysql://db/lepton"),
        ("DATABASE_URL", "not a url"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token"),
        ("SLACK_APP_TOKEN", "xoxb-wrong-kind"),
        ("SLACK_API_URL", "slack.com/api"),
        ("LEPTON_ADMINS", "U01AAA,alice"),
        ("LEPTON_EMBEDDING_MODEL", "/nowhere/model"),
        ("SLACK_CLIENT_ID", "123.456"),
        ("LOG_LEVEL", "LOUD"),
    ],
)
def test_malformed_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings(None)
    message = str(raised.value)
    assert len(message.splitlines()) == 1
    expected = "SLACK_CLIENT_SECRET" if name == "SLACK_CLIENT_ID" else name
    assert message.startswith(f"{expected}: ")


def test_secrets_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-1234-very-secret")
    with pytest.raises(SettingsError) as raised:
        load_settings(None)
    assert "very-secret" not in str(raised.value)


def test_require_names_each_missing_variable() -> None:
    settings = load_settings(None)
    with pytest.raises(SettingsError) as raised:
        settings.require("socket", "SLACK_APP_TOKEN", "SLACK_BOT_TOKEN")
    assert str(raised.value).splitlines() == [
        "SLACK_APP_TOKEN: is not set, and `lepton socket` needs it",
        "SLACK_BOT_TOKEN: is not set, and `lepton socket` needs it",
    ]


def test_cli_reports_bad_setting_without_traceback(tmp_path: Path) -> None:
    result = run_lepton("migrate", env={"PORT": "eighty"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "lepton: PORT: Input should be a valid integer, unable to parse string as an integer "
        "(got 'eighty')"
    ]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()
