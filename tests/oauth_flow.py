"""Slack's side of an OAuth install, and a browser going through it against a running app.

The browser is played by hand: it follows the install link (read from the page), Slack sends it
back to /slack/oauth_redirect with `code` and `state`, and it returns the state cookie the
install page set, as a browser would.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import Engine

from bot.app import INSTALL_PATH, REDIRECT_PATH, bot_scopes
from tests.slack_app import TEAM, Response, RunningApp, running_app

CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "c0ffee0ddba11c0ffee0ddba11c0ffee"
COOKIE = "slack-app-oauth-state"
TOKEN = "xoxb-1111-2222-installedacmetoken"
INSTALLER = "UALICE01"


@dataclass
class Slack:
    """Slack's side of OAuth: each code it hands out is exchanged once for an installation."""

    app: RunningApp
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def exchange(self, params: dict[str, Any]) -> dict[str, Any]:
        grant = self.codes.pop(str(params.get("code")), None)
        return grant or {"ok": False, "error": "invalid_code"}

    def authorize(
        self,
        team_id: str = TEAM,
        team_name: str = "Acme",
        token: str = TOKEN,
        installer: str = INSTALLER,
    ) -> str:
        """The person clicks Allow: Slack mints a code for an oauth.v2.access answer."""
        code = f"{len(self.codes) + 1}.{team_id}.code"
        self.codes[code] = {
            "ok": True,
            "app_id": "ALEPTON",
            "authed_user": {"id": installer},
            "scope": ",".join(bot_scopes()),
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": "ULEPTONBOT",
            "team": {"id": team_id, "name": team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }
        return code


def header(response: Response, name: str) -> str:
    return next((v for k, v in response.headers.items() if k.lower() == name.lower()), "")


@dataclass(frozen=True)
class InstallPage:
    response: Response
    authorize_url: str
    query: dict[str, list[str]]
    cookie: str
    """What the browser sends back: `slack-app-oauth-state=<state>`."""

    @property
    def state(self) -> str:
        return self.query["state"][0]


def open_install_page(app: RunningApp) -> InstallPage:
    page = app.get(INSTALL_PATH)
    assert page.status == 200, page.body
    links = re.findall(r'<a href="([^"]+)"', page.body)
    assert len(links) == 1, page.body
    url = html.unescape(links[0])
    jar = SimpleCookie(header(page, "Set-Cookie"))
    assert COOKIE in jar, header(page, "Set-Cookie")
    return InstallPage(page, url, parse_qs(urlsplit(url).query), f"{COOKIE}={jar[COOKIE].value}")


def redirect(app: RunningApp, cookie: str | None = None, **query: str) -> Response:
    """Slack sends the browser back to our redirect URL."""
    headers = {"Cookie": cookie} if cookie is not None else {}
    return app.get(f"{REDIRECT_PATH}?{urlencode(query)}", headers)


def install(
    slack: Slack,
    team_id: str = TEAM,
    token: str = TOKEN,
    team_name: str = "Acme",
    installer: str = INSTALLER,
) -> Response:
    page = open_install_page(slack.app)
    code = slack.authorize(team_id, team_name, token, installer)
    return redirect(slack.app, page.cookie, code=code, state=page.state)


@contextmanager
def oauth_app(engine: Engine, data_dir: Path, embedder: Any, **settings: Any) -> Iterator[Slack]:
    with running_app(
        engine,
        data_dir,
        embedder,
        slack_client_id=CLIENT_ID,
        slack_client_secret=CLIENT_SECRET,
        **settings,
    ) as running:
        running.workspace.add_user(INSTALLER, "alice")
        running.workspace.add_channel("CGENERAL", "general", members=[INSTALLER])
        yield connect_oauth(running)


def connect_oauth(running: RunningApp) -> Slack:
    """Slack's side of OAuth for a running app: oauth.v2.access exchanges the codes it minted."""
    oauth = Slack(running)
    running.slack.on("oauth.v2.access", oauth.exchange)
    return oauth
