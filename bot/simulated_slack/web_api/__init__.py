"""The Web API of a simulated workspace, one module per method family, all on one state."""

from __future__ import annotations

from typing import Any, Protocol

from bot.simulated_slack.shapes import LocalSlackError
from bot.simulated_slack.state import Method, WorkspaceState
from bot.simulated_slack.web_api.chat import ChatApi
from bot.simulated_slack.web_api.conversations import ConversationsApi
from bot.simulated_slack.web_api.files import FilesApi
from bot.simulated_slack.web_api.responses import ResponseUrls
from bot.simulated_slack.web_api.users import UsersApi
from bot.simulated_slack.web_api.views import ViewsApi


class Family(Protocol):
    """A group of Web API methods (chat.*, views.*, ...) sharing the workspace's state."""

    def methods(self) -> dict[str, Method]: ...


def web_api(state: WorkspaceState) -> dict[str, Method]:
    """Every method the workspace answers, each under the state's lock and with Slack's
    `{"ok": false, "error": ...}` for a `LocalSlackError`."""
    families: tuple[Family, ...] = (
        UsersApi(state),
        ConversationsApi(state),
        ChatApi(state),
        ViewsApi(state),
        FilesApi(state),
        ResponseUrls(state),
    )
    return {
        name: _answering(state, method)
        for family in families
        for name, method in family.methods().items()
    }


def _answering(state: WorkspaceState, method: Method) -> Method:
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        with state.lock:
            try:
                return {"ok": True, **method(params)}
            except LocalSlackError as error:
                return error.body()

    return answer
