"""Lepton's configuration: environment variables and an optional `.env`, checked once at start-up.

Every problem is reported as one line naming the variable, so a misconfigured deploy says what
to fix instead of failing later with a traceback from deep inside Slack or SQLAlchemy.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

ADMIN_ENTRY = re.compile(r"^(?:[TE][A-Z0-9]{2,}:)?[UW][A-Z0-9]{2,}$")
EMOJI_NAME = re.compile(r"^[a-z0-9_+\-']+$")
DEFAULT_UP_REACTIONS = frozenset(
    {"+1", "thumbsup", "white_check_mark", "heavy_check_mark", "heart", "tada", "raised_hands"}
)
DEFAULT_DOWN_REACTIONS = frozenset({"-1", "thumbsdown", "x"})
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
MAKE_TOKEN_KEY = (
    'make one with: python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"'
)


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line per variable, ready to print."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    lepton_data_dir: Path = Field(default=Path("data"), description="index files and other state")
    database_url: str = Field(default="", description="SQLAlchemy URL; default SQLite in data dir")
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    lepton_token_key: SecretStr | None = Field(
        default=None, description="Fernet keys encrypting OAuth tokens; the first encrypts"
    )
    slack_api_url: str = DEFAULT_SLACK_API_URL
    lepton_workspace: str | None = Field(
        default=None, description="team id the command line acts on when several are installed"
    )
    slack_timeout_seconds: float = Field(
        default=15.0, gt=0, le=300, description="how long one Web API call may take"
    )
    port: int = Field(default=3000, ge=1, le=65535)
    lepton_admins: Annotated[frozenset[str], NoDecode] = frozenset()
    lepton_embedding_model: str = Field(default="", description="local model path")
    lepton_up_reactions: Annotated[frozenset[str], NoDecode] = DEFAULT_UP_REACTIONS
    lepton_down_reactions: Annotated[frozenset[str], NoDecode] = DEFAULT_DOWN_REACTIONS
    lepton_surveys: Path | None = Field(default=None, description="survey definitions file")
    lepton_training_digest_channels: Annotated[frozenset[str], NoDecode] = frozenset()
    lepton_tick_seconds: int = Field(default=30, ge=1, le=3600)
    lepton_send_lease_seconds: int = Field(default=120, ge=1, le=3600)
    log_level: str = "INFO"

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_client_id",
        "slack_client_secret",
        "lepton_token_key",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("lepton_token_key")
    @classmethod
    def _token_keys_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        keys = [key.strip() for key in value.get_secret_value().split(",") if key.strip()]
        if not keys:
            raise ValueError(f"holds no key; {MAKE_TOKEN_KEY}")
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key)
            except ValueError:
                raise ValueError(
                    f"key {position} of {len(keys)} is not a Fernet key (32 url-safe "
                    f"base64-encoded bytes); {MAKE_TOKEN_KEY}"
                ) from None
        return SecretStr(",".join(keys))

    @field_validator("slack_api_url")
    @classmethod
    def _api_url_shape(cls, value: str) -> str:
        value = value.strip() or DEFAULT_SLACK_API_URL
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("lepton_admins", mode="before")
    @classmethod
    def _split_admins(cls, value: Any) -> frozenset[str]:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        ids = frozenset(str(v) for v in value or ())
        bad = sorted(i for i in ids if not ADMIN_ENTRY.match(i))
        if bad:
            raise ValueError(
                f"{bad[0]!r} is neither a Slack user ID (like U012AB3CD) nor a workspace and "
                "user ID (like T0123AB:U012AB3CD)"
            )
        return ids

    @field_validator("lepton_training_digest_channels", mode="before")
    @classmethod
    def _split_channels(cls, value: Any) -> frozenset[str]:
        if isinstance(value, str):
            value = [part for part in re.split(r"[,\s]+", value) if part]
        return frozenset(str(v) for v in value or ())

    @field_validator("lepton_up_reactions", "lepton_down_reactions", mode="before")
    @classmethod
    def _split_reactions(cls, value: Any) -> frozenset[str]:
        if isinstance(value, str):
            value = [part.strip().strip(":") for part in value.split(",") if part.strip()]
        names = frozenset(str(v).lower() for v in value or ())
        bad = sorted(n for n in names if not EMOJI_NAME.match(n))
        if bad:
            raise ValueError(f"{bad[0]!r} is not an emoji name (like +1 or white_check_mark)")
        return names

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @model_validator(mode="after")
    def _derive_and_check(self) -> Settings:
        if not self.database_url.strip():
            self.database_url = f"sqlite:///{(self.lepton_data_dir / 'lepton.db').as_posix()}"
        self.database_url = normalise_database_url(self.database_url)
        if self.lepton_embedding_model and not Path(self.lepton_embedding_model).exists():
            raise ValueError(
                "LEPTON_EMBEDDING_MODEL: no model at "
                f"{self.lepton_embedding_model!r} (it must be a local path; nothing is downloaded)"
            )
        both = sorted(self.lepton_up_reactions & self.lepton_down_reactions)
        if both:
            raise ValueError(
                f"LEPTON_DOWN_REACTIONS: {both[0]!r} is also in LEPTON_UP_REACTIONS; "
                "a reaction cannot mean both"
            )
        if bool(self.slack_client_id) != bool(self.slack_client_secret):
            missing = "SLACK_CLIENT_SECRET" if self.slack_client_id else "SLACK_CLIENT_ID"
            raise ValueError(f"{missing}: is not set, and OAuth needs both client ID and secret")
        if self.oauth_enabled and self.lepton_token_key is None:
            raise ValueError(
                "LEPTON_TOKEN_KEY: is not set, and OAuth needs it to encrypt each workspace's "
                f"tokens in the database; {MAKE_TOKEN_KEY}"
            )
        return self

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.slack_client_id and self.slack_client_secret)

    def listed_admins(self, team_id: str) -> list[str]:
        """The user IDs `is_listed_admin` grants in this workspace."""
        found = {e.split(":", 1)[1] for e in self.lepton_admins if e.startswith(f"{team_id}:")}
        if not self.oauth_enabled:
            found |= {e for e in self.lepton_admins if ":" not in e}
        return sorted(found)

    def is_listed_admin(self, team_id: str, user_id: str) -> bool:
        """`TEAM:USER` entries grant admin in that workspace; a bare user ID does only while
        Lepton serves one workspace (with OAuth it would grant every workspace that user is in)."""
        if f"{team_id}:{user_id}" in self.lepton_admins:
            return True
        return not self.oauth_enabled and user_id in self.lepton_admins

    def reaction_value(self, name: str) -> int | None:
        """+1, -1 or None for a reaction name; skin tones count as the base emoji."""
        base = name.split("::", 1)[0].lower()
        if base in self.lepton_up_reactions:
            return 1
        if base in self.lepton_down_reactions:
            return -1
        return None

    @property
    def has_slack_credentials(self) -> bool:
        return bool(self.slack_bot_token or self.oauth_enabled or self.slack_app_token)

    def require(self, command: str, *names: str) -> None:
        """Fail with one line per missing variable that `command` cannot run without."""
        missing = [n for n in names if not getattr(self, n.lower())]
        if missing:
            raise SettingsError(
                "\n".join(f"{n}: is not set, and `lepton {command}` needs it" for n in missing)
            )


def normalise_database_url(url: str) -> str:
    """Accept the URLs platforms hand out (`postgres://...`) and pick the driver we ship."""
    url = url.strip()
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("DATABASE_URL: is not a URL like sqlite:///data/lepton.db") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend not in {"sqlite", "postgresql"}:
        raise ValueError(f"DATABASE_URL: {backend!r} is not supported; use sqlite or postgresql")
    return parsed.render_as_string(hide_password=False)


def _describe(error: dict[str, Any]) -> str:
    field = ".".join(str(part) for part in error.get("loc", ())) or ""
    message = str(error.get("msg", "is invalid"))
    message = re.sub(r"^(Value error|Assertion failed), ", "", message)
    if not field and re.match(r"^[A-Z_]+: ", message):
        return message
    name = field.upper() or "configuration"
    value = error.get("input")
    secret = "SECRET" in name or "TOKEN" in name
    quoted = isinstance(value, str) and repr(value) in message
    shown = "" if secret or quoted or not isinstance(value, str) else f" (got {value!r})"
    return f"{name}: {message}{shown}"


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read and validate settings; raise SettingsError with one line per bad variable."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError("\n".join(_describe(e) for e in exc.errors())) from None
