"""The listener boilerplate, written once: ack, find who acted, drop a garbled payload, and hand
the feature's function one small object to parse, call a service with, and reply through.

Buttons and shortcuts are acked before anything else, so Slack's 3-second limit holds whatever
the work costs. A modal's ack is its answer (per-field errors, or closing it), so a submission is
acked by the feature's function; only a submission nobody can be found for is refused here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.plumbing import payload_checks, pressed
from handlers.plumbing.blocks import Block
from handlers.plumbing.services import Services, Wiring
from models.workspace import Workspace

log = logging.getLogger(__name__)
Listener = Callable[..., None]
"""What Bolt calls; it injects arguments by their names, so the names are Bolt's."""


@dataclass(frozen=True)
class Acted:
    """Someone Lepton could identify, acting through one well-formed payload."""

    user: str
    body: dict[str, Any]
    client: WebClient

    @property
    def team(self) -> str | None:
        return payload_checks.text(payload_checks.part(self.body, "team", "id")) or None


@dataclass(frozen=True)
class Press(Acted):
    """A button press or a shortcut, already acked."""

    action: dict[str, Any]
    """The button pressed; empty for a shortcut."""
    respond: Respond

    @property
    def action_id(self) -> str:
        return payload_checks.text(self.action.get("action_id"))

    @property
    def value(self) -> str:
        """The button's value, or "" when it has none (or a garbled one)."""
        return payload_checks.text(self.action.get("value"))

    def answer(
        self, text: str, *, blocks: list[Block] | None = None, replace: bool = False
    ) -> None:
        """Only the presser sees it: under the message pressed, else in their DM."""
        pressed.answer(self.client, self.body, self.respond, text, blocks=blocks, replace=replace)


@dataclass(frozen=True)
class Submission(Acted):
    """A modal submitted, not yet acked: its ack is its answer."""

    view: dict[str, Any]
    ack: Ack

    def refuse(self, errors: dict[str, str]) -> None:
        """Keep the modal open with these errors under its blocks (by block id)."""
        self.ack(response_action="errors", errors=errors)

    def accept(self) -> None:
        """Close the modal; call it before slow work."""
        self.ack()


def scoped(services: Wiring, context: BoltContext) -> Services | None:
    """The services of the workspace the request came from (an org-wide install's is its
    enterprise); None, logged, when Lepton serves no such workspace."""
    enterprise = context.enterprise_id
    team = None if context.is_enterprise_install else context.team_id
    found = services.in_workspace(Workspace.of(team, enterprise))
    if found is None:
        log.warning("skipped a request from a workspace Lepton does not serve")
    return found


PressHandler = Callable[[Services, Press], None]
SubmitHandler = Callable[[Services, Submission], None]


def on_press(services: Wiring, handle: PressHandler) -> Listener:
    """A Bolt listener that acks, then calls `handle` unless the payload names nobody."""

    def listener(
        ack: Ack,
        body: dict[str, Any],
        action: dict[str, Any] | None,
        client: WebClient,
        respond: Respond,
        context: BoltContext,
    ) -> None:
        ack()
        user = pressed.presser(body)
        if user is not None and (workspace := scoped(services, context)) is not None:
            handle(workspace, Press(user, body, client, action or {}, respond))

    return listener


def on_submit(services: Wiring, handle: SubmitHandler, garbled: dict[str, str]) -> Listener:
    """A Bolt view listener: a submission naming nobody is refused with `garbled`; any other is
    `handle`d, which must ack it."""

    def listener(
        ack: Ack,
        body: dict[str, Any],
        view: dict[str, Any],
        client: WebClient,
        context: BoltContext,
    ) -> None:
        user = pressed.presser(body)
        if user is None or (workspace := scoped(services, context)) is None:
            ack(response_action="errors", errors=garbled)
            return
        handle(workspace, Submission(user, body, client, view, ack))

    return listener


def on_actions(
    app: App, services: Wiring, handlers: Mapping[str | re.Pattern[str], PressHandler]
) -> None:
    """Register each button's handler through `on_press`."""
    for action_id, handle in handlers.items():
        app.action(action_id)(on_press(services, handle))
