"""Slack OAuth installations with their tokens encrypted at rest, and the workspaces Lepton may
send to.

A bot token reads and posts in its whole workspace, so a copy of the database (a backup, the
SQLite file) must not hold one in the clear. Each token column of slack_sdk's two tables gets a
column type that encrypts with Fernet under LEPTON_TOKEN_KEY as the value is bound and decrypts
it as the row is read: every slack_sdk method that writes or reads a token (save, save_bot,
find_installation, find_bot, and whatever it adds later) passes through it, and a token is never
encrypted twice. LEPTON_TOKEN_KEY may list several keys: the first encrypts, all decrypt, so a
key is rotated by putting a new one first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from sqlalchemy import Column, Dialect, Engine, String, Table, func, select, type_coerce
from sqlalchemy.types import TypeDecorator

from bot.settings import Settings
from bot.slack_tables import BOTS_TABLE, INSTALLATIONS_TABLE

TOKEN_COLUMNS = ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token")
PLAIN_PREFIX = "xox"
"""Every token Slack grants here (xoxb-, xoxp-, xoxe-, xoxe.xoxb-) starts so; a Fernet token
never does (its first byte, 0x80, encodes as `g`)."""
log = logging.getLogger(__name__)


class TokenKeyError(Exception):
    """A stored token does not decrypt with any key in LEPTON_TOKEN_KEY."""

    def __init__(self, column: str, workspace: str | None = None) -> None:
        self.column = column
        where = f" of workspace {workspace}" if workspace else ""
        super().__init__(
            f"LEPTON_TOKEN_KEY: the stored {column}{where} does not decrypt with any key it "
            "lists; it was encrypted under a key no longer listed (when rotating, keep the old "
            "key after the new one) or it was altered. Reinstalling the app stores a new token."
        )

    def of(self, enterprise_id: str | None, team_id: str | None) -> TokenKeyError:
        return TokenKeyError(self.column, team_id or enterprise_id)


def token_keys(value: str) -> MultiFernet:
    """The keys of LEPTON_TOKEN_KEY (comma-separated, already checked by the settings)."""
    return MultiFernet([Fernet(key.strip()) for key in value.split(",") if key.strip()])


class SealedToken(TypeDecorator[str]):
    """A string column whose values are Fernet tokens in the database and plain in Python."""

    impl = String
    cache_ok = False
    """The keys are not part of SQLAlchemy's statement cache key, so a compiled statement of a
    store with other keys must never be reused for this one."""

    def __init__(self, keys: MultiFernet, column: str, length: int | None) -> None:
        super().__init__(length)
        self.keys = keys
        self.column = column

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.keys.encrypt(value.encode()).decode()

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        try:
            return self.keys.decrypt(value.encode()).decode()
        except InvalidToken:
            raise TokenKeyError(self.column) from None


@dataclass(frozen=True)
class Installed:
    """A workspace (or Grid org) that has Lepton installed now, with its own bot token."""

    team_id: str | None
    enterprise_id: str | None
    bot_token: str
    bot_user_id: str | None
    is_enterprise_install: bool


class EncryptedInstallationStore(SQLAlchemyInstallationStore):
    def __init__(
        self,
        client_id: str,
        engine: Engine,
        keys: MultiFernet,
        *,
        bots_table_name: str = BOTS_TABLE,
        installations_table_name: str = INSTALLATIONS_TABLE,
    ) -> None:
        super().__init__(
            client_id=client_id,
            engine=engine,
            bots_table_name=bots_table_name,
            installations_table_name=installations_table_name,
        )
        self.keys = keys
        for table in (self.installations, self.bots):
            self._seal(table)

    def _seal(self, table: Table) -> None:
        """Swap each token column of slack_sdk's table for a sealed one of the same length."""
        sealed = [
            Column(
                column.name,
                SealedToken(
                    self.keys, f"{table.name}.{column.name}", cast(String, column.type).length
                ),
            )
            for column in table.c
            if column.name in TOKEN_COLUMNS
        ]
        Table(table.name, self.metadata, *sealed, extend_existing=True)

    def find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        try:
            return super().find_bot(
                enterprise_id=enterprise_id,
                team_id=team_id,
                is_enterprise_install=is_enterprise_install,
            )
        except TokenKeyError as error:
            raise error.of(enterprise_id, team_id) from None

    def find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        try:
            return super().find_installation(
                enterprise_id=enterprise_id,
                team_id=team_id,
                user_id=user_id,
                is_enterprise_install=is_enterprise_install,
            )
        except TokenKeyError as error:
            raise error.of(enterprise_id, team_id) from None

    def installed(self) -> list[Installed]:
        """The latest bot of each workspace (as `find_bot` picks it). Uninstalling or revoking
        deletes a workspace's bots, which leaves it out. A bot whose token does not decrypt is
        logged and left out, so one bad row stops sends to its workspace only."""
        c = self.bots.c
        latest = (
            func.row_number()
            .over(
                partition_by=(c.enterprise_id, c.team_id),
                order_by=(c.installed_at.desc(), c.id.desc()),
            )
            .label("latest")
        )
        ranked = (
            select(
                c.team_id,
                c.enterprise_id,
                type_coerce(c.bot_token, String).label("sealed"),
                c.bot_user_id,
                c.is_enterprise_install,
                latest,
            )
            .where(c.client_id == self.client_id, c.bot_token.is_not(None))
            .subquery()
        )
        with self.engine.connect() as conn:
            rows = conn.execute(select(ranked).where(ranked.c.latest == 1)).all()
        found = []
        for row in rows:
            try:
                token = self.keys.decrypt(row.sealed.encode()).decode()
            except InvalidToken:
                log.error(
                    "%s",
                    TokenKeyError(f"{BOTS_TABLE}.bot_token").of(row.enterprise_id, row.team_id),
                )
                continue
            found.append(
                Installed(
                    row.team_id,
                    row.enterprise_id,
                    token,
                    row.bot_user_id,
                    bool(row.is_enterprise_install),
                )
            )
        return found

    def seal_plain_tokens(self) -> int:
        """Encrypt the tokens stored before they were encrypted; how many rows were changed.
        Reading one as it is would fail, so this runs when the app is built."""
        changed = 0
        with self.engine.begin() as conn:
            for table in (self.installations, self.bots):
                columns = [table.c[name] for name in TOKEN_COLUMNS if name in table.c]
                raw = select(
                    table.c.id, *(type_coerce(col, String).label(col.name) for col in columns)
                ).where(table.c.client_id == self.client_id)
                for row in conn.execute(raw).mappings().all():
                    plain: dict[str, Any] = {
                        col.name: row[col.name]
                        for col in columns
                        if (row[col.name] or "").startswith(PLAIN_PREFIX)
                    }
                    if plain:
                        conn.execute(table.update().where(table.c.id == row["id"]).values(**plain))
                        changed += 1
        return changed


def installation_store(settings: Settings, engine: Engine) -> EncryptedInstallationStore:
    """The store for OAuth mode (the settings guarantee a client ID and LEPTON_TOKEN_KEY)."""
    assert settings.slack_client_id and settings.lepton_token_key
    return EncryptedInstallationStore(
        settings.slack_client_id, engine, token_keys(settings.lepton_token_key.get_secret_value())
    )


def installed_workspaces(settings: Settings, engine: Engine) -> list[Installed]:
    """Every workspace Lepton may send to now, each with its own token; none without OAuth."""
    if not settings.oauth_enabled:
        return []
    return installation_store(settings, engine).installed()
