"""Socket Mode end to end: the app asks the Web API stand-in for a WebSocket URL
(`apps.connections.open`), connects to a local WebSocket server playing Slack, and answers the
envelopes Slack would push down it, acking each one over the socket."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from bot.serving import socket_handler
from bot.simulated_slack.payloads import Actor, command, unique_id
from bot.simulated_slack.payloads import event as event_request
from models import create_db_engine
from tests.conftest import fresh_database
from tests.slack_app import TEAM, RunningApp, blocks_text, running_app, settle, wait_for

APP_TOKEN = "xapp-1-ALEPTON-1-localsocketmode"
ALICE = Actor(TEAM, "UALICE01", "alice", "CGENERAL")
HELLO = {
    "type": "hello",
    "num_connections": 1,
    "debug_info": {"host": "applink-local", "build_number": 1, "approximate_connection_time": 60},
    "connection_info": {"app_id": "ALEPTON"},
}


class SocketSlack:
    """Slack's side of Socket Mode: a WebSocket server that pushes envelopes and collects what
    the app sends back."""

    def __init__(self) -> None:
        self.connections: queue.Queue[ServerConnection] = queue.Queue()
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/"

    def _handle(self, connection: ServerConnection) -> None:
        self.connections.put(connection)
        try:
            for message in connection:
                self.received.put(json.loads(message))
        except ConnectionClosed:
            pass

    def reply_to(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        """The app's ack of one envelope (anything else it sent meanwhile is dropped)."""
        while True:
            message = self.received.get(timeout=timeout)
            if message.get("envelope_id") == envelope_id:
                return message

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@dataclass
class Connected:
    app: RunningApp
    slack: SocketSlack
    socket: ServerConnection
    handler: SocketModeHandler

    def slash_command(self, actor: Actor, text: str) -> str:
        """Push `/lepton text` down the socket as Slack does; the envelope's id."""
        ws = self.app.workspace
        form = command(
            actor,
            text,
            ws.response_url(actor.channel_id, actor.user_id),
            ws.trigger_id(actor.user_id),
        )
        envelope_id = unique_id("envelope-")
        self.socket.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "payload": dict(parse_qsl(form.body, keep_blank_values=True)),
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                }
            )
        )
        return envelope_id

    def event(self, event: dict[str, Any]) -> str:
        """Push an Events API event down the socket as Slack does; the envelope's id."""
        envelope_id = unique_id("envelope-")
        payload = json.loads(event_request(TEAM, event).body)
        self.socket.send(
            json.dumps({"envelope_id": envelope_id, "payload": payload, "type": "events_api"})
        )
        return envelope_id


@pytest.fixture(scope="module")
def connected(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[Connected]:
    with fresh_database("sqlite", request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        slack = SocketSlack()
        try:
            with running_app(
                engine, tmp_path_factory.mktemp("socket"), embedder, slack_app_token=APP_TOKEN
            ) as running:
                running.workspace.add_user("UALICE01", "alice")
                running.workspace.add_channel("CGENERAL", "general", members=["UALICE01"])
                running.slack.on("apps.connections.open", {"ok": True, "url": slack.url})
                handler = socket_handler(running.services)
                handler.connect()
                socket = slack.connections.get(timeout=10)
                try:
                    socket.send(json.dumps(HELLO))
                    yield Connected(running, slack, socket, handler)
                finally:
                    handler.close()  # up to 3 s: slack_sdk's client waits out its receive timeout
        finally:
            slack.close()
            engine.dispose()


def test_the_app_opens_the_socket_with_its_app_level_token(connected: Connected) -> None:
    opened = [c for c in connected.app.slack.calls if c.method == "apps.connections.open"]
    assert len(opened) == 1
    assert opened[0].headers["Authorization"] == f"Bearer {APP_TOKEN}"


def test_a_slash_command_is_acked_over_the_socket_then_answered_in_the_channel(
    connected: Connected,
) -> None:
    app = connected.app
    before = len(app.slack.calls_to("chat.postMessage"))
    envelope_id = connected.slash_command(ALICE, "find tensorflow")
    ack = connected.slack.reply_to(envelope_id)
    assert ack == {"envelope_id": envelope_id}
    wait_for(lambda: len(app.slack.calls_to("chat.postMessage")) > before)
    settle(app)
    posted = [c for c in app.slack.calls if c.method == "chat.postMessage"][before:]
    assert [c.params["channel"] for c in posted] == ["CGENERAL"]
    assert posted[0].headers["Authorization"] == "Bearer xoxb-test-token"
    assert "TensorFlow" in str(app.workspace.messages("CGENERAL")[-1].blocks)


def test_an_answer_given_in_the_ack_travels_back_in_the_ack_payload(connected: Connected) -> None:
    envelope_id = connected.slash_command(ALICE, "help")
    ack = connected.slack.reply_to(envelope_id)
    assert "Lepton* answers" in json.dumps(ack["payload"])


def test_the_app_home_shows_each_section_once_with_two_apps_in_one_process(
    connected: Connected,
) -> None:
    """The HTTP app and the Socket Mode app here are built on the same services."""
    opened = {"type": "app_home_opened", "user": "UALICE01", "tab": "home", "event_ts": "2.2"}
    connected.slack.reply_to(connected.event(opened))
    home = wait_for(lambda: connected.app.workspace.home("UALICE01"))
    text = blocks_text(home.view["blocks"])
    for header in ("Recommended for you", "Your training", "Surveys"):
        assert text.count(header) == 1, text
