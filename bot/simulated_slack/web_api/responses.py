"""POSTs to the response_urls a `Workspace` minted: ephemerals, bot messages, or edits."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.simulated_slack.shapes import RESPONSE_URL, Message, content, flag
from bot.simulated_slack.state import Content, Method, Responder, WorkspaceState


class ResponseUrls:
    """Answers a response_url as Slack does for the interaction that handed it out."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state

    def methods(self) -> dict[str, Method]:
        return {RESPONSE_URL: self.respond}

    def respond(self, params: dict[str, Any]) -> dict[str, Any]:
        """A POST to a response_url; keys this workspace did not mint are only recorded."""
        responder = self.state.responders.get(params.get("_key", ""))
        if responder is None:
            return {}
        if flag(params, "delete_original"):
            self._delete_original(responder)
            return {}
        said = Content(*content(params))
        if flag(params, "replace_original") and responder.message_ts:
            self._replace_original(responder, said)
        elif params.get("response_type") == "in_channel":
            channel = self.state.channels[responder.channel]
            self.state.post(channel, self.state.team.bot_user_id, said, params.get("thread_ts"))
        else:
            self.state.ephemeral(responder.channel, responder.user, said, params.get("thread_ts"))
        return {}

    def _ephemerals(self, responder: Responder) -> list[Message]:
        return self.state.ephemerals.setdefault((responder.channel, responder.user), [])

    def _delete_original(self, responder: Responder) -> None:
        mine, original = self._ephemerals(responder), responder.message_ts
        mine[:] = [m for m in mine if m.ts != original]
        self.state.messages[responder.channel].pop(original or "", None)

    def _replace_original(self, responder: Responder, said: Content) -> None:
        """Edit the message the interaction was on: a channel message, or an ephemeral."""
        messages, original = self.state.messages[responder.channel], responder.message_ts or ""
        changes = {"text": said.text, "blocks": said.blocks, "attachments": said.attachments}
        if original in messages:
            messages[original] = replace(messages[original], **changes, edited=True)
            return
        mine = self._ephemerals(responder)
        mine[:] = [replace(m, **changes) if m.ts == original else m for m in mine]
