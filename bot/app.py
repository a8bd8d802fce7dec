"""Building the Bolt app: single-workspace token mode or multi-workspace OAuth, every Web API
call to SLACK_API_URL, and every surface registered from `handlers/`."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from slack_bolt import App
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from bot.installations import installation_store
from bot.services import Services
from bot.slack_client import web_client
from bot.slack_tables import OAUTH_STATES_TABLE
from handlers import knowledge, surveys, training
from handlers.commands import lepton as commands
from handlers.plumbing import database_guard, errors

log = logging.getLogger(__name__)
MANIFEST = Path(__file__).resolve().parent.parent / "manifest.yml"
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_SECONDS = 600
LISTENER_THREADS = 32
"""Bolt runs every listener on this pool, its ack() included, and the HTTP request waits for that
ack: a command or button arriving while all threads are busy answering earlier ones is acked
only when one frees up. Bolt's default of 5 held `/lepton find` acks behind searches (p99 1.0 s
under 20 concurrent commands, bench/http_burst.py)."""


@cache
def manifest() -> dict[str, Any]:
    """The Slack app manifest: the one list of scopes, commands and events."""
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return loaded


def bot_scopes() -> list[str]:
    return list(manifest()["oauth_config"]["scopes"]["bot"])


def build_app(
    services: Services, *, process_before_response: bool = False, socket_mode: bool = False
) -> App:
    """`process_before_response` finishes each listener before answering the request (the
    console wants that to show results in order); servers ack first and work after."""
    settings = services.settings
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else None
    )
    common: dict[str, Any] = {
        "signing_secret": secret,
        "process_before_response": process_before_response,
        "request_verification_enabled": not socket_mode,
        "listener_executor": ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="lepton-listener"
        ),
    }
    if settings.oauth_enabled:
        assert settings.slack_client_id and settings.slack_client_secret
        installations = installation_store(settings, services.engine)
        sealed = installations.seal_plain_tokens()
        if sealed:
            log.info("encrypted the tokens of %d installation rows stored in the clear", sealed)
        app = App(
            client=web_client(settings, token=None),
            installation_store=installations,
            oauth_settings=OAuthSettings(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret.get_secret_value(),
                scopes=bot_scopes(),
                installation_store=installations,
                state_store=SQLAlchemyOAuthStateStore(
                    expiration_seconds=STATE_SECONDS,
                    engine=services.engine,
                    table_name=OAUTH_STATES_TABLE,
                ),
                install_path=INSTALL_PATH,
                redirect_uri_path=REDIRECT_PATH,
            ),
            **common,
        )
        # Uninstalling or revoking deletes the workspace's installations and bots, which stops
        # every send there; Lepton's own data for it stays.
        app.enable_token_revocation_listeners()
    else:
        app = App(client=web_client(settings), **common)
    database_guard.register(app, services.engine)
    for feature in (commands, knowledge, training, surveys):
        feature.register(app, services)
    errors.register(app)
    return app
