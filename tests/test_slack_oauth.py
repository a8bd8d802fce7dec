"""Multi-workspace install over real HTTP: the install page, Slack's redirect back with a code,
the installation stored in slack_sdk's tables, and commands answered with that workspace's token.

The browser and Slack's side of the flow are in `tests/oauth_flow.py`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from bot.app import bot_scopes
from bot.simulated_slack.payloads import Actor, command
from bot.slack_tables import BOTS_TABLE, INSTALLATIONS_TABLE, OAUTH_STATES_TABLE, slack_metadata
from models import create_db_engine
from tests.conftest import fresh_database
from tests.oauth_flow import (
    CLIENT_ID,
    CLIENT_SECRET,
    COOKIE,
    INSTALLER,
    TOKEN,
    Slack,
    header,
    install,
    oauth_app,
    open_install_page,
    redirect,
)
from tests.slack_app import (
    TEAM,
    TOKEN_KEY,
    Response,
    RunningApp,
    settle,
    wait_for,
)

ALICE = Actor(TEAM, INSTALLER, "alice", "CGENERAL")
TABLES = slack_metadata().tables


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def slack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[Slack]:
    with fresh_database(request.param, request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        try:
            with oauth_app(engine, tmp_path_factory.mktemp("oauth"), embedder) as oauth:
                yield oauth
        finally:
            engine.dispose()


def stored(app: RunningApp) -> dict[str, int]:
    with app.services.engine.connect() as conn:
        return {
            name: conn.scalar(select(func.count()).select_from(TABLES[name])) or 0
            for name in (INSTALLATIONS_TABLE, BOTS_TABLE)
        }


def installation_rows(app: RunningApp, team_id: str) -> list[dict[str, Any]]:
    table = TABLES[INSTALLATIONS_TABLE]
    with app.services.engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.team_id == team_id))
        return [dict(row._mapping) for row in rows]


@pytest.fixture(scope="module")
def installed(slack: Slack) -> str:
    """Acme has installed Lepton; the bot token Slack granted it."""
    done = install(slack)
    assert done.status == 200, done.body
    return TOKEN


def test_install_page_links_to_slack_with_our_client_id_scopes_and_a_fresh_state(
    slack: Slack,
) -> None:
    app = slack.app
    first, second = open_install_page(app), open_install_page(app)
    assert first.authorize_url.startswith("https://slack.com/oauth/v2/authorize?")
    assert first.query["client_id"] == [CLIENT_ID]
    assert first.query["scope"][0].split(",") == bot_scopes()
    assert first.cookie == f"{COOKIE}={first.state}"
    assert first.state != second.state, "every visit gets its own state"
    cookie = header(first.response, "Set-Cookie")
    assert "HttpOnly" in cookie and "Secure" in cookie
    with app.services.engine.connect() as conn:
        table = TABLES[OAUTH_STATES_TABLE]
        states = set(conn.scalars(select(table.c.state)))
    assert {first.state, second.state} <= states, "the state store remembers issued states"


def test_redirect_with_state_and_code_exchanges_the_code_and_stores_the_installation(
    slack: Slack,
) -> None:
    app = slack.app
    before = stored(app)
    calls = len(app.slack.calls)
    token = "xoxb-1111-3333-secondinstall"
    page = open_install_page(app)
    code = slack.authorize(token=token)
    done = redirect(app, page.cookie, code=code, state=page.state)

    assert done.status == 200, done.body
    assert "slack://app?team=T0LEPTON&amp;id=ALEPTON" in done.body, "the success page opens Slack"
    assert f"{COOKIE}=deleted" in header(done, "Set-Cookie")
    new = app.slack.calls[calls:]
    exchange = [c for c in new if c.method == "oauth.v2.access"]
    assert [c.params for c in exchange] == [{"code": code}]
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert exchange[0].headers["Authorization"] == f"Basic {basic}"
    checks = [c for c in new if c.method == "auth.test"]
    assert checks and checks[0].headers["Authorization"] == f"Bearer {token}"

    assert stored(app) == {k: v + 1 for k, v in before.items()}
    latest = max(installation_rows(app, TEAM), key=lambda row: row["id"])
    assert latest["client_id"] == CLIENT_ID
    assert latest["app_id"] == "ALEPTON"
    assert latest["team_name"] == "Acme"
    assert Fernet(TOKEN_KEY).decrypt(latest["bot_token"].encode()).decode() == token, "encrypted"
    assert latest["bot_user_id"] == "ULEPTONBOT"
    assert latest["bot_id"] == "BLEPTON"
    assert latest["bot_scopes"].split(",") == bot_scopes()
    assert latest["user_id"] == INSTALLER


def assert_refused(slack: Slack, response: Response, status: int, before: dict[str, int]) -> None:
    assert response.status == status, response.body
    assert "went wrong" in response.body.lower(), response.body
    assert stored(slack.app) == before


def test_a_state_is_good_for_one_install_only(slack: Slack) -> None:
    app = slack.app
    page = open_install_page(app)
    first = redirect(app, page.cookie, code=slack.authorize(), state=page.state)
    assert first.status == 200, first.body
    before, calls = stored(app), len(app.slack.calls_to("oauth.v2.access"))
    again = redirect(app, page.cookie, code=slack.authorize(), state=page.state)
    assert_refused(slack, again, 401, before)
    assert len(app.slack.calls_to("oauth.v2.access")) == calls, "no code is exchanged"


def test_a_forged_state_is_refused_even_with_a_matching_cookie(slack: Slack) -> None:
    app = slack.app
    before, calls = stored(app), len(app.slack.calls_to("oauth.v2.access"))
    forged = "0123456789abcdef-forged"
    refused = redirect(app, f"{COOKIE}={forged}", code=slack.authorize(), state=forged)
    assert_refused(slack, refused, 401, before)
    assert len(app.slack.calls_to("oauth.v2.access")) == calls


def test_a_redirect_without_the_state_cookie_is_refused(slack: Slack) -> None:
    """Someone else's browser (or a link pasted elsewhere) cannot finish an install."""
    app = slack.app
    page = open_install_page(app)
    before, calls = stored(app), len(app.slack.calls_to("oauth.v2.access"))
    code = slack.authorize()
    for cookie in (None, f"{COOKIE}=some-other-state", "unrelated=1"):
        refused = redirect(app, cookie, code=code, state=page.state)
        assert_refused(slack, refused, 400, before)
    assert len(app.slack.calls_to("oauth.v2.access")) == calls


def test_a_bad_code_or_a_cancelled_install_stores_nothing(slack: Slack) -> None:
    app = slack.app
    before = stored(app)
    page = open_install_page(app)
    bad = redirect(app, page.cookie, code="not-a-code", state=page.state)
    assert_refused(slack, bad, 401, before)
    page = open_install_page(app)
    cancelled = redirect(app, page.cookie, error="access_denied", state=page.state)
    assert_refused(slack, cancelled, 200, before)


def test_a_command_from_an_installed_workspace_is_answered_with_its_token(
    slack: Slack, installed: str
) -> None:
    app = slack.app
    calls = len(app.slack.calls)
    reply = app.command(ALICE, "find tensorflow 2.0")
    assert reply.status == 200
    wait_for(lambda: any(c.method == "chat.postMessage" for c in app.slack.calls[calls:]))
    settle(app)
    new = app.slack.calls[calls:]
    posted = [c for c in new if c.method == "chat.postMessage"]
    assert [c.params["channel"] for c in posted] == ["CGENERAL"]
    answer = app.workspace.messages("CGENERAL")[-1]
    assert "TensorFlow" in str(answer.blocks)
    assert all(c.headers.get("Authorization") == f"Bearer {installed}" for c in posted)
    api = [c for c in new if c.method not in {"response_url", "oauth.v2.access"}]
    assert api and all(c.headers.get("Authorization") == f"Bearer {installed}" for c in api), (
        "every Web API call for Acme uses Acme's installed token"
    )


def test_a_workspace_that_never_installed_gets_no_answer(slack: Slack, installed: str) -> None:
    app = slack.app
    stranger = Actor("T0STRANGER", "USTRANGER1", "mallory", "CELSEWHERE")
    calls = len(app.slack.calls)
    reply = app.send(command(stranger, "find tensorflow 2.0", app.slack.response_url("stranger")))
    assert reply.status == 200
    settle(app)
    new = app.slack.calls[calls:]
    assert not [c for c in new if c.method.startswith("chat.")], "nothing is posted anywhere"
    told = [c.params.get("text", "") for c in new if c.method == "response_url"]
    assert len(told) == 1 and "reinstall this app" in told[0], "only Bolt's install notice"
    assert "TensorFlow" not in told[0], "no knowledge leaks to a stranger"
    # and the app is still fine for the workspace that did install
    before = len(app.slack.calls_to("chat.postMessage"))
    app.command(ALICE, "find kubernetes deploy")
    wait_for(lambda: len(app.slack.calls_to("chat.postMessage")) > before)
