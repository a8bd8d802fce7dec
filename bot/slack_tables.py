"""Tables of slack_sdk's OAuth installation and state stores, so migrations own them too.

They live here rather than in `models/` because their shape is defined by slack_sdk, and the
Slack-free core must not import Slack.
"""

from __future__ import annotations

from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, String

INSTALLATIONS_TABLE = SQLAlchemyInstallationStore.default_installations_table_name
BOTS_TABLE = SQLAlchemyInstallationStore.default_bots_table_name
OAUTH_STATES_TABLE = SQLAlchemyOAuthStateStore.default_table_name
TOKEN_COLUMNS = {
    INSTALLATIONS_TABLE: ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    BOTS_TABLE: ("bot_token", "bot_refresh_token"),
}
SEALED_TOKEN_LENGTH = 400
"""Tokens are stored encrypted (bot.installations): a Fernet token of a 239-character Slack
token fits, where slack_sdk's 200 characters hold one of 79 at most."""


def slack_metadata() -> MetaData:
    metadata = MetaData()
    SQLAlchemyInstallationStore.build_installations_table(metadata, INSTALLATIONS_TABLE)
    SQLAlchemyInstallationStore.build_bots_table(metadata, BOTS_TABLE)
    SQLAlchemyOAuthStateStore.build_oauth_states_table(metadata, OAUTH_STATES_TABLE)
    for table, columns in TOKEN_COLUMNS.items():
        for column in columns:
            metadata.tables[table].c[column].type = String(SEALED_TOKEN_LENGTH)
    return metadata
