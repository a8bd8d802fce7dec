"""Which workspaces Lepton serves, which one a command means, and each one's bot token.

With one bot token (SLACK_BOT_TOKEN) Lepton serves the one workspace `auth.test` names; with no
Slack credentials, the local console's. With OAuth it serves every current installation:
uninstalling or revoking removes the installation, so nothing more is sent there.
"""

from __future__ import annotations

from functools import cached_property

from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.installations import installed_workspaces
from bot.settings import Settings
from bot.slack_client import web_client
from models.workspace import LOCAL_TEAM, Workspace


class WorkspaceUnknown(Exception):
    """Which workspace a command means cannot be told; the message says how to name it."""


class Installations:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine

    def home(self) -> Workspace:
        """The workspace a command line or console command acts on."""
        if self.settings.lepton_workspace:
            return Workspace(self.settings.lepton_workspace)
        if self.settings.oauth_enabled:
            return self._only_installation()
        if self.settings.slack_bot_token:
            return self._token_workspace
        return Workspace(LOCAL_TEAM)

    def active(self) -> list[Workspace]:
        return list(self._installed())

    def bot_token(self, workspace: Workspace) -> str | None:
        """The workspace's own token with OAuth; None means SLACK_BOT_TOKEN."""
        if not self.settings.oauth_enabled:
            return None
        for key, token in self._installed().items():
            if key.team_id == workspace.team_id:
                return token
        raise WorkspaceUnknown(f"workspace {workspace.team_id} has no current installation")

    def _installed(self) -> dict[Workspace, str]:
        """Each current installation's workspace (an org-wide install's is its enterprise) and
        bot token."""
        found = {}
        for installed in installed_workspaces(self.settings, self.engine):
            team = None if installed.is_enterprise_install else installed.team_id
            if (key := Workspace.of(team, installed.enterprise_id)) is not None:
                found[key] = installed.bot_token
        return found

    def _only_installation(self) -> Workspace:
        found = self.active()
        if len(found) == 1:
            return found[0]
        if not found:
            raise WorkspaceUnknown(
                "no workspace has installed Lepton yet: install it through /slack/install, "
                "or name a workspace with --workspace"
            )
        teams = ", ".join(sorted(w.team_id for w in found))
        raise WorkspaceUnknown(
            f"several workspaces have installed Lepton ({teams}): name one with --workspace "
            "(or LEPTON_WORKSPACE)"
        )

    @cached_property
    def _token_workspace(self) -> Workspace:
        try:
            auth = web_client(self.settings).auth_test()
        except (SlackApiError, OSError) as error:
            raise WorkspaceUnknown(
                f"Slack did not say which workspace SLACK_BOT_TOKEN belongs to ({error}): "
                "set LEPTON_WORKSPACE to its team id"
            ) from error
        workspace = Workspace.of(auth.get("team_id"), auth.get("enterprise_id"))
        if workspace is None:
            raise WorkspaceUnknown("auth.test named no team: set LEPTON_WORKSPACE")
        return workspace
