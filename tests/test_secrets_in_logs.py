"""No token or secret ever reaches the logs: a real `lepton serve` at LOG_LEVEL=DEBUG (where
slack_sdk prints every request and response) goes through an OAuth install, answers questions
with the installed token, refuses a forged request and meets Slack errors; then everything it
printed is scanned for each secret it was given or granted."""

from __future__ import annotations

import base64
import html
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest

from bot.app import INSTALL_PATH, REDIRECT_PATH, bot_scopes
from bot.simulated_slack.payloads import Actor, SlackRequest, command, event
from bot.simulated_slack.server import LocalSlack, Reply, Workspace
from tests.helpers import Server, free_port, run_lepton
from tests.slack_app import EXAMPLES, SECRET, TEAM, TOKEN_KEY, wait_for
from tests.test_serve_process import base_env

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "5ec7e75ec7e75ec7e75ec7e75ec7e7aa"
GRANTED = "xoxb-1111-2222-grantedinstalltoken"
REFRESHED = "xoxe-1-grantedrefreshtokenvalue"
APP_TOKEN = "xapp-1-A111-222-appleveltokenvalue"
ALICE = Actor(TEAM, "UALICE01", "alice", "CGENERAL")


class Lepton:
    """`lepton serve` under OAuth, reached over loopback HTTP like Slack and a browser would."""

    def __init__(self, server: Server, port: int, slack: Workspace) -> None:
        self.server, self.port, self.slack = server, port, slack

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, Any]:
        request = urllib.request.Request(self.url(path), headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                return reply.status, reply.read().decode(), reply.headers
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(), error.headers

    def send(self, request: SlackRequest, secret: str = SECRET) -> int:
        http = urllib.request.Request(
            self.url("/slack/events"),
            data=request.body.encode(),
            headers=request.headers(secret),
            method="POST",
        )
        try:
            with urllib.request.urlopen(http, timeout=10) as reply:
                return reply.status
        except urllib.error.HTTPError as error:
            return error.code

    def install(self) -> None:
        status, page, headers = self.get(INSTALL_PATH)
        assert status == 200, page
        link = html.unescape(re.findall(r'<a href="([^"]+)"', page)[0])
        state = parse_qs(urlsplit(link).query)["state"][0]
        jar = SimpleCookie(headers.get("Set-Cookie"))
        cookie = "; ".join(f"{k}={v.value}" for k, v in jar.items())
        query = urlencode({"code": "1.acme.code", "state": state})
        status, body, _ = self.get(f"{REDIRECT_PATH}?{query}", {"Cookie": cookie})
        assert status == 200, body


def grant(params: dict[str, Any]) -> dict[str, Any]:
    """Slack's oauth.v2.access: the code buys a bot token (with token rotation's refresh)."""
    if params.get("code") != "1.acme.code":
        return {"ok": False, "error": "invalid_code"}
    return {
        "ok": True,
        "app_id": "ALEPTON",
        "authed_user": {"id": ALICE.user_id, "access_token": "xoxp-1111-userscopedtokenvalue"},
        "scope": ",".join(bot_scopes()),
        "token_type": "bot",
        "access_token": GRANTED,
        "refresh_token": REFRESHED,
        "expires_in": 43200,
        "bot_user_id": "ULEPTONBOT",
        "team": {"id": TEAM, "name": "Acme"},
        "enterprise": None,
        "is_enterprise_install": False,
    }


@pytest.fixture
def lepton(tmp_path: Path) -> Iterator[Lepton]:
    with LocalSlack() as local:
        slack = Workspace(local, team_id=TEAM)
        slack.add_user("UALICE01", "alice")
        slack.add_channel("CGENERAL", "general", members=["UALICE01"])
        local.on("oauth.v2.access", grant)
        env = {
            **base_env(tmp_path),
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "SLACK_APP_TOKEN": APP_TOKEN,
            "SLACK_API_URL": local.base_url,
            "LOG_LEVEL": "DEBUG",
            "LEPTON_TOKEN_KEY": TOKEN_KEY,
            "LEPTON_WORKSPACE": TEAM,
        }
        docs = tmp_path / "docs"
        docs.mkdir()
        shutil.copy(EXAMPLES / "engineering/tensorflow-2-migration.md", docs)
        for step in (("migrate",), ("ingest", str(docs))):
            done = run_lepton(*step, env=env, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
        port = free_port()
        server = Server.start(env, tmp_path, port)
        try:
            server.wait_until_listening()
            yield Lepton(server, port, slack)
        finally:
            server.stop()


def test_debug_logs_of_an_install_answers_and_errors_hold_no_secret(lepton: Lepton) -> None:
    slack = lepton.slack
    lepton.install()

    respond_to = slack.response_url("CGENERAL", ALICE.user_id)
    asked = command(ALICE, "find tensorflow", respond_to, "1.2.a1b2c3d4e5f6")
    assert lepton.send(asked) == 200
    wait_for(lambda: slack.messages("CGENERAL"), timeout=30)
    hook = "https://hooks.slack.com/commands/T0LEPTON/5550001/Zq8HookSecretPart"
    assert lepton.send(command(ALICE, "stats", hook, "1.3.b2c3d4e5f6a1")) == 200
    used = {c.headers.get("Authorization") for c in slack.slack.calls if c.method == "auth.test"}
    assert f"Bearer {GRANTED}" in used, "the installed token is the one in use"

    assert lepton.send(asked, secret="forged-" + SECRET) == 401
    slack.slack.on("chat.postMessage", Reply(500, body={"ok": False, "error": "internal_error"}))
    mention = {
        "type": "app_mention",
        "user": ALICE.user_id,
        "text": "<@ULEPTONBOT> tf2",
        "ts": "1700000000.000100",
        "channel": "CGENERAL",
        "event_ts": "1700000000.000100",
    }
    assert lepton.send(event(TEAM, mention, event_id="EvLOGS1")) == 200
    wait_for(lambda: any("chat.postMessage" in line for line in lepton.server.lines[-400:]))
    lepton.server.stop()

    logged = lepton.server.output
    assert "oauth.v2.access" in logged and "DEBUG" in logged, "the logs were really verbose"
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    for secret in (SECRET, CLIENT_SECRET, GRANTED, REFRESHED, APP_TOKEN, basic):
        assert secret not in logged, f"{secret[:6]}... was written to the log"
    assert not re.search(r"xox[abpre]-[0-9A-Za-z-]{6,}", logged), "a Slack token in the log"
    assert "response_url" in logged, "request bodies were logged"
    readable = unquote(logged).replace("\\/", "/")
    for url in (respond_to, hook):
        assert urlsplit(url).path not in readable, f"{url} was written to the log"
