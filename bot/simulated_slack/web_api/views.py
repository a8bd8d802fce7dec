"""views.*: modals (opened with a single-use trigger_id, stacked up to 3) and the App Home."""

from __future__ import annotations

from typing import Any

from bot.simulated_slack.shapes import LocalSlackError, View, required, view_definition
from bot.simulated_slack.state import Method, WorkspaceState

MODAL_STACK_LIMIT = 3


class ViewsApi:
    """The view methods; a stale `hash` conflicts, as Slack's optimistic locking does."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state

    def methods(self) -> dict[str, Method]:
        return {
            "views.open": lambda p: self.open(p, push=False),
            "views.push": lambda p: self.open(p, push=True),
            "views.update": self.update,
            "views.publish": self.publish,
        }

    def open(self, params: dict[str, Any], *, push: bool) -> dict[str, Any]:
        """Open a modal (or push one on the stack), spending the trigger_id."""
        state = self.state
        trigger = params.get("trigger_id") or params.get("interactivity_pointer")
        if not trigger:
            raise LocalSlackError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        if trigger not in state.triggers:
            raise LocalSlackError("invalid_trigger_id")
        user = state.triggers[trigger]
        if user is None:
            raise LocalSlackError("exchanged_trigger_id")
        definition = view_definition(params, "modal")
        stack = state.modals.setdefault(user, []) if push else []
        if len(stack) >= MODAL_STACK_LIMIT:
            raise LocalSlackError("push_limit_reached")
        state.triggers[trigger] = None
        view_id = state.next_id("V")
        root = stack[0].view["root_view_id"] if stack else view_id
        view = state.new_view(user, definition, view_id, root, stack[-1].id if stack else None)
        state.modals[user] = [*stack, view]
        return {"view": view.view}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if not view_id and not external_id:
            raise LocalSlackError("invalid_arguments", "[ERROR] view_id or external_id required")
        for stack in self.state.modals.values():
            for index, old in enumerate(stack):
                if old.id != view_id and (
                    not external_id or old.view["external_id"] != external_id
                ):
                    continue
                if params.get("hash") and params["hash"] != old.hash:
                    raise LocalSlackError("hash_conflict")
                stack[index] = self._replaced(old, params)
                return {"view": stack[index].view}
        raise LocalSlackError("not_found")

    def publish(self, params: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        user = state.user(required(params, "user_id")).id
        definition = view_definition(params, "home")
        old = state.homes.get(user)
        if old and params.get("hash") and params["hash"] != old.hash:
            raise LocalSlackError("hash_conflict")
        view_id = old.id if old else state.next_id("V")
        state.homes[user] = state.new_view(user, definition, view_id, view_id, None)
        return {"view": state.homes[user].view}

    def _replaced(self, old: View, params: dict[str, Any]) -> View:
        """The modal `old` shows the new definition, in the same place on the stack."""
        return self.state.new_view(
            old.user,
            view_definition(params, "modal"),
            old.id,
            old.view["root_view_id"],
            old.view["previous_view_id"],
        )
