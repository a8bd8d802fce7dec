"""OAuth installation tokens encrypted at rest: installed through the real flow against the local
Web API stand-in, then read back from the database file and its rows, used for the workspace's
commands, rotated, refused under a key that cannot read them, and deleted when Slack says the
app was uninstalled or its token revoked.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Engine, func, inspect, select, text

import models
from bot.app import bot_scopes, build_app
from bot.installations import (
    TOKEN_COLUMNS,
    EncryptedInstallationStore,
    TokenKeyError,
    installed_workspaces,
    token_keys,
)
from bot.settings import MAKE_TOKEN_KEY, SettingsError, load_settings
from bot.simulated_slack.payloads import Actor, command, event
from bot.slack_tables import BOTS_TABLE, INSTALLATIONS_TABLE
from models import create_db_engine
from tests.conftest import BACKENDS, fresh_database
from tests.helpers import run_lepton
from tests.oauth_flow import CLIENT_ID, CLIENT_SECRET, INSTALLER, Slack, install, oauth_app
from tests.slack_app import TEAM, TOKEN_KEY, RunningApp, settle, wait_for

TOKEN = "xoxb-1111-2222-sealedacmetoken"
NEW_KEY = "TmV3IGtleSBwdXQgZmlyc3Qgd2hlbiByb3RhdGluZy4="
LOST_KEY = "QSBrZXkgdGhpcyBMZXB0b24gbm8gbG9uZ2VyIGhhcy4="
ALICE = Actor(TEAM, INSTALLER, "alice", "CGENERAL")
SLACK_TABLES = (INSTALLATIONS_TABLE, BOTS_TABLE)


@pytest.fixture(scope="module", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    with fresh_database(request.param, request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def slack(
    database: Engine, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[Slack]:
    with oauth_app(database, tmp_path_factory.mktemp("sealed"), embedder) as oauth:
        yield oauth


@pytest.fixture(scope="module")
def installed(slack: Slack) -> str:
    """Acme has installed Lepton through the real flow; the bot token Slack granted it."""
    done = install(slack, token=TOKEN)
    assert done.status == 200, done.body
    return TOKEN


def store(app: RunningApp, keys: str = TOKEN_KEY) -> EncryptedInstallationStore:
    return EncryptedInstallationStore(CLIENT_ID, app.services.engine, token_keys(keys))


def teams(app: RunningApp) -> set[str | None]:
    return {i.team_id for i in installed_workspaces(app.services.settings, app.services.engine)}


def raw_rows(engine: Engine, table: str, team_id: str | None = None) -> list[dict[str, Any]]:
    """Rows as the database holds them, through plain SQL (no column types of ours)."""
    where, params = ("WHERE team_id = :team", {"team": team_id}) if team_id else ("", {})
    with engine.connect() as conn:
        found = conn.execute(text(f"SELECT * FROM {table} {where} ORDER BY id"), params)
        return [dict(row._mapping) for row in found]


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in models.Base.metadata.sorted_tables
        }


def legacy_installation(team_id: str, token: str) -> Installation:
    return Installation(
        app_id="ALEPTON",
        enterprise_id=None,
        team_id=team_id,
        team_name=team_id,
        bot_token=token,
        bot_id="BLEPTON",
        bot_user_id="ULEPTONBOT",
        bot_scopes=bot_scopes(),
        user_id="UINSTALL1",
        installed_at=time.time(),
    )


def test_the_granted_token_is_nowhere_in_the_database_in_the_clear(
    slack: Slack, installed: str
) -> None:
    engine = slack.app.services.engine
    dumped = []
    with engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            dumped += [repr(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}"))]
    assert dumped and not [row for row in dumped if installed in row]

    sealed: list[str] = []
    for table in SLACK_TABLES:
        rows = raw_rows(engine, table, TEAM)
        assert rows, table
        for row in rows:
            assert row["bot_token"] and not row["bot_token"].startswith("xox")
            assert Fernet(TOKEN_KEY).decrypt(row["bot_token"].encode()).decode() == installed
            assert all(row[name] is None for name in TOKEN_COLUMNS[1:] if name in row)
            sealed.append(row["bot_token"])

    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        files = [f for f in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if f.exists()]
        assert Path(f"{path}-wal") in files, "WAL mode: recent writes sit in the -wal file"
        held = b"".join(f.read_bytes() for f in files)
        assert installed.encode() not in held
        assert any(token.encode() in held for token in sealed), "we read where the rows live"


def test_a_command_from_the_workspace_is_answered_with_its_decrypted_token(
    slack: Slack, installed: str
) -> None:
    app = slack.app
    calls = len(app.slack.calls)
    assert app.command(ALICE, "find tensorflow 2.0").status == 200
    wait_for(lambda: any(c.method == "chat.postMessage" for c in app.slack.calls[calls:]))
    settle(app)
    new = [c for c in app.slack.calls[calls:] if c.method not in {"response_url"}]
    assert {c.method for c in new} >= {"auth.test", "chat.postMessage"}
    assert {c.headers.get("Authorization") for c in new} == {f"Bearer {installed}"}
    assert "TensorFlow" in str(app.workspace.messages("CGENERAL")[-1].blocks)
    assert teams(app) >= {TEAM}
    [acme] = [
        i
        for i in installed_workspaces(app.services.settings, app.services.engine)
        if i.team_id == TEAM
    ]
    assert (acme.bot_token, acme.bot_user_id, acme.enterprise_id) == (installed, "ULEPTONBOT", None)
    assert not acme.is_enterprise_install


def test_a_token_under_a_key_no_longer_listed_is_refused_clearly_and_others_go_on(
    slack: Slack, installed: str, caplog: pytest.LogCaptureFixture
) -> None:
    app, lost_team, lost_token = slack.app, "T0LOSTKEY", "xoxb-5555-6666-underalostkey"
    lost = store(app, LOST_KEY)
    lost.save(legacy_installation(lost_team, lost_token))
    try:
        with pytest.raises(TokenKeyError) as raised:
            store(app).find_installation(enterprise_id=None, team_id=lost_team)
        message = str(raised.value)
        assert message.startswith("LEPTON_TOKEN_KEY: the stored slack_installations.bot_token")
        assert lost_team in message and "keep the old key after the new one" in message
        with pytest.raises(TokenKeyError):
            store(app).find_bot(enterprise_id=None, team_id=lost_team)

        with caplog.at_level(logging.ERROR):
            found = teams(app)
        assert TEAM in found and lost_team not in found, "one bad row hides only its workspace"
        assert f"slack_bots.bot_token of workspace {lost_team}" in caplog.text

        calls = len(app.slack.calls)
        stranger = Actor(lost_team, "UINSTALL1", "lou", "CLOST")
        with caplog.at_level(logging.ERROR):
            app.send(command(stranger, "find tensorflow 2.0", app.slack.response_url("lost")))
            settle(app)
        new = app.slack.calls[calls:]
        assert not [c for c in new if c.method.startswith("chat.")]
        assert not [c for c in new if lost_token in str(c.headers) or lost_token in str(c.params)]
        told = [c.params.get("text", "") for c in new if c.method == "response_url"]
        assert len(told) == 1 and "TensorFlow" not in told[0], told
        assert f"bot_token of workspace {lost_team} does not decrypt" in caplog.text

        before = len(app.slack.calls_to("chat.postMessage"))
        app.command(ALICE, "find kubernetes deploy")
        wait_for(lambda: len(app.slack.calls_to("chat.postMessage")) > before)
    finally:
        lost.delete_all(enterprise_id=None, team_id=lost_team)


def test_with_a_new_key_put_first_old_rows_still_read_and_new_ones_use_the_new_key(
    slack: Slack, installed: str, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> None:
    engine, team, token = slack.app.services.engine, "T0ROTATED", "xoxb-7777-8888-afterrotation"
    rotated = f"{NEW_KEY}, {TOKEN_KEY}"
    try:
        with oauth_app(
            engine, tmp_path_factory.mktemp("rotated"), embedder, lepton_token_key=rotated
        ) as restarted:
            app = restarted.app
            calls = len(app.slack.calls)
            app.command(ALICE, "find tensorflow 2.0")
            wait_for(lambda: app.slack.calls_to("chat.postMessage"))
            posted = [c for c in app.slack.calls[calls:] if c.method == "chat.postMessage"]
            assert posted[0].headers["Authorization"] == f"Bearer {installed}"
            assert install(restarted, team_id=team, token=token).status == 200
            assert {TEAM, team} <= teams(app)

        for table in SLACK_TABLES:
            [row] = raw_rows(engine, table, team)
            assert Fernet(NEW_KEY).decrypt(row["bot_token"].encode()).decode() == token
            with pytest.raises(InvalidToken):
                Fernet(TOKEN_KEY).decrypt(row["bot_token"].encode())
        bot = store(slack.app, NEW_KEY).find_bot(enterprise_id=None, team_id=team)
        assert bot is not None and bot.bot_token == token
    finally:
        store(slack.app, rotated).delete_all(enterprise_id=None, team_id=team)


def test_tokens_stored_in_the_clear_before_are_encrypted_when_the_app_is_built(
    slack: Slack, installed: str
) -> None:
    app, team, token = slack.app, "T0LEGACY", "xoxb-9999-0000-storedintheclear"
    plain = SQLAlchemyInstallationStore(
        client_id=CLIENT_ID,
        engine=app.services.engine,
        bots_table_name=BOTS_TABLE,
        installations_table_name=INSTALLATIONS_TABLE,
    )
    plain.save(legacy_installation(team, token))
    try:
        assert [r["bot_token"] for t in SLACK_TABLES for r in raw_rows(plain.engine, t, team)] == [
            token,
            token,
        ]
        build_app(app.services)
        for table in SLACK_TABLES:
            [row] = raw_rows(plain.engine, table, team)
            assert Fernet(TOKEN_KEY).decrypt(row["bot_token"].encode()).decode() == token
        assert team in teams(app)
        assert store(app).seal_plain_tokens() == 0, "nothing is encrypted twice"
    finally:
        plain.delete_all(enterprise_id=None, team_id=team)


def test_revoking_or_uninstalling_stops_sends_there_and_keeps_lepton_s_data(
    slack: Slack, installed: str
) -> None:
    app, engine = slack.app, slack.app.services.engine
    revoked, uninstalled = "T0REVOKED", "T0UNINSTALL"
    for team, token in ((revoked, "xoxb-2-3-revokedtoken"), (uninstalled, "xoxb-4-5-leavingtoken")):
        assert install(slack, team_id=team, token=token).status == 200
    assert {TEAM, revoked, uninstalled} <= teams(app)
    kept = row_counts(engine)
    assert kept["documents"] and kept["snippets"], "there is knowledge to keep"

    tokens = {"oauth": [], "bot": ["ULEPTONBOT"]}
    done = app.send(event(revoked, {"type": "tokens_revoked", "tokens": tokens}))
    assert done.status == 200, done.body
    wait_for(lambda: revoked not in teams(app))
    assert raw_rows(engine, BOTS_TABLE, revoked) == []

    done = app.send(event(uninstalled, {"type": "app_uninstalled"}))
    assert done.status == 200, done.body
    wait_for(lambda: not any(raw_rows(engine, t, uninstalled) for t in SLACK_TABLES))
    assert uninstalled not in teams(app) and TEAM in teams(app)

    after = row_counts(engine)
    assert {name: n for name, n in after.items() if n < kept[name]} == {}

    calls = len(app.slack.calls)
    gone = Actor(uninstalled, "UINSTALL1", "uma", "CGONE")
    app.send(command(gone, "find tensorflow 2.0", app.slack.response_url("gone")))
    settle(app)
    new = app.slack.calls[calls:]
    assert not [c for c in new if c.method.startswith("chat.")], "nothing is sent there"


def test_oauth_without_a_token_key_is_one_clear_line_at_start_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("LEPTON_TOKEN_KEY", raising=False)
    with pytest.raises(SettingsError) as raised:
        load_settings(None, slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET)
    assert str(raised.value) == (
        "LEPTON_TOKEN_KEY: is not set, and OAuth needs it to encrypt each workspace's tokens "
        f"in the database; {MAKE_TOKEN_KEY}"
    )
    env = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET}
    result = run_lepton("migrate", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"lepton: {raised.value}"]
    assert load_settings(None).lepton_token_key is None, "not needed without OAuth"


def test_a_malformed_token_key_is_named_without_echoing_it_and_the_hint_makes_a_good_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEPTON_TOKEN_KEY", f"{TOKEN_KEY},not-a-fernet-key")
    with pytest.raises(SettingsError) as raised:
        load_settings(None)
    message = str(raised.value)
    assert message.startswith("LEPTON_TOKEN_KEY: key 2 of 2 is not a Fernet key")
    assert "not-a-fernet-key" not in message and TOKEN_KEY not in message
    assert len(message.splitlines()) == 1

    code = re.search(r'python -c "([^"]+)"', message)
    assert code, message
    made = subprocess.run(
        [sys.executable, "-c", code.group(1)], capture_output=True, text=True, check=True
    ).stdout.strip()
    monkeypatch.setenv("LEPTON_TOKEN_KEY", f" {made} , {TOKEN_KEY} ")
    settings = load_settings(None, slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET)
    assert settings.lepton_token_key is not None
    assert settings.lepton_token_key.get_secret_value() == f"{made},{TOKEN_KEY}"
    assert made not in repr(settings)
