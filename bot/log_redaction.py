"""Logging set up so no token or secret reaches a log line.

slack_sdk logs whole Web API responses at DEBUG, including the bot token an OAuth install
grants, and an exception's text can quote a configuration value. A filter on every handler
rewrites each record before it is formatted: the configured secrets (and the Basic credentials
made from the OAuth client secret) by value, and anything shaped like a Slack token or a
response URL by pattern, since those are granted at runtime and never in the settings.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable

from pydantic import SecretStr
from sqlalchemy.engine import make_url

from bot.settings import Settings

SLACK_TOKEN = re.compile(r"\b(?:xox[a-z]|xapp)-[0-9A-Za-z-]+")
RESPONSE_URL_FIELD = re.compile(
    r"(response_url\\?\"?\s*(?::|=|%3A|%3D)\s*\\?\"?)[^\"'&\s,}]+", re.I
)
SLACK_HOOK = re.compile(r"https?(?::|%3A)(?:/|%2F|\\/){2}hooks\.slack\.com[^\s\"'&,}]*", re.I)
"""A response URL lets whoever holds it post into the conversation for half an hour: it is
redacted wherever a request body or an error quotes it, by its field name or its host."""
HIDDEN = "[redacted]"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SHORTEST_SECRET = 6


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        kept = {s for s in secrets if len(s) >= SHORTEST_SECRET}
        self._secrets = sorted(kept, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, HIDDEN)
        text = SLACK_TOKEN.sub(HIDDEN, text)
        text = RESPONSE_URL_FIELD.sub(lambda m: m.group(1) + HIDDEN, text)
        return SLACK_HOOK.sub(HIDDEN, text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold, in the forms it can travel in."""
    found = [
        value.get_secret_value()
        for value in settings.__dict__.values()
        if isinstance(value, SecretStr)
    ]
    if settings.slack_client_id and settings.slack_client_secret:
        pair = f"{settings.slack_client_id}:{settings.slack_client_secret.get_secret_value()}"
        found.append(base64.b64encode(pair.encode()).decode())
    password = make_url(settings.database_url).password
    if password:
        found.append(str(password))
    return found


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format=FORMAT)
    redactor = RedactSecrets(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        handler.addFilter(redactor)
