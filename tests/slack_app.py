"""The Slack app running for real: Bolt behind waitress on a loopback port, its Web API calls
going to a simulated workspace, and requests signed the way Slack signs them."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bot import migrate
from bot.services import Services
from bot.serving import http_server
from bot.settings import load_settings
from bot.simulated_slack.payloads import Actor, SlackRequest, command
from bot.simulated_slack.server import LocalSlack
from bot.simulated_slack.workspace import Workspace
from indexer.embedding import Embedder
from indexer.ingest.loaders.files import load_tree
from models.workspace import Workspace as WorkspaceKey
from tests.helpers import KNOWLEDGE

SECRET = "e1c5a0b1c2d3e4f5a6b7c8d9e0f1a2b3"
TOKEN_KEY = "S2V5IGZvciBMZXB0b24ncyB0ZXN0IGluc3RhbGxzIS4="
"""Encrypts OAuth installation tokens (LEPTON_TOKEN_KEY) of every app started with OAuth."""
TEAM = "T0LEPTON"
ADMIN = "UADMIN01"
EXAMPLES = KNOWLEDGE
CORPUS = (
    "engineering/tensorflow-2-migration.md",
    "ops/deploying-to-kubernetes.md",
    "ops/wifi-and-printers.txt",
    "security/access-requests.md",
    "people/sick-leave.md",
    "ops/ci-cd-pipeline.md",
    "ops/monitoring-and-alerting.md",
    "ops/oncall-handbook.md",
    "ops/local-dev-environment.md",
    "ops/secrets-management.md",
    "engineering/release-process.rst",
)


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    headers: dict[str, str]


@dataclass
class RunningApp:
    url: str
    slack: LocalSlack
    workspace: Workspace
    services: Services

    def send(
        self,
        request: SlackRequest,
        *,
        secret: str = SECRET,
        timestamp: int | None = None,
        path: str = "/slack/events",
    ) -> Response:
        http = urllib.request.Request(
            self.url + path,
            data=request.body.encode(),
            headers=request.headers(secret, timestamp),
            method="POST",
        )
        try:
            with urllib.request.urlopen(http, timeout=10) as reply:
                return Response(reply.status, reply.read().decode(), dict(reply.headers.items()))
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read().decode(), dict(error.headers.items()))

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        http = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(http, timeout=10) as reply:
                return Response(reply.status, reply.read().decode(), dict(reply.headers.items()))
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read().decode(), dict(error.headers.items()))

    def command(self, actor: Actor, text: str) -> Response:
        ws = self.workspace
        return self.send(
            command(
                actor,
                text,
                ws.response_url(actor.channel_id, actor.user_id),
                ws.trigger_id(actor.user_id),
            )
        )

    def responses(self) -> list[dict[str, Any]]:
        return self.slack.calls_to("response_url")


def blocks_text(blocks: Any) -> str:
    """Every piece of text in Block Kit JSON, for asserting what a person would read."""
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(found)


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll until `predicate()` is truthy: listeners finish after the HTTP ack."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the app")
        time.sleep(0.05)


def settle(app: RunningApp, quiet: float = 0.5, timeout: float = 30.0) -> None:
    """Wait until the app made no Web API call for `quiet` seconds (it finished its work)."""
    deadline = time.monotonic() + timeout
    count, since = len(app.slack.calls), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = len(app.slack.calls)
        if now != count:
            count, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return
    raise AssertionError("the app never went quiet")


@contextmanager
def running_app(
    engine: Engine, data_dir: Path, embedder: Embedder, **settings: Any
) -> Iterator[RunningApp]:
    with LocalSlack() as slack:
        workspace = Workspace(slack, team_id=TEAM)
        migrate.upgrade(engine)
        # Under OAuth each workspace's token comes from its installation, so no bot token.
        settings.setdefault(
            "slack_bot_token", None if settings.get("slack_client_id") else "xoxb-test-token"
        )
        if settings.get("slack_client_id"):
            settings.setdefault("lepton_token_key", TOKEN_KEY)
        settings.setdefault("lepton_admins", ADMIN)
        config = load_settings(
            None,
            database_url=engine.url.render_as_string(hide_password=False),
            lepton_data_dir=data_dir,
            slack_signing_secret=SECRET,
            slack_api_url=slack.base_url,
            **settings,
        )
        services = Services(config, engine)
        services.__dict__["embedder"] = embedder
        corpus = data_dir / "corpus"
        for name in CORPUS:
            target = corpus / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(EXAMPLES / name, target)
        services.workspace(WorkspaceKey(TEAM)).ingestor.ingest(load_tree(corpus))
        server = http_server(services, "127.0.0.1", 0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield RunningApp(
                f"http://127.0.0.1:{server.effective_port}", slack, workspace, services
            )
        finally:
            services.stopping.set()
            server.close()
            thread.join(timeout=5)
