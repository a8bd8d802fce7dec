"""Training in Slack: Done / Snooze / Open on nudges, Enrol on suggestions, and
`/lepton train ...`. The work is in `people.training.assignments`; this module reads
payloads, calls it, and says what happened."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.commands.parser import TRAIN_USAGE, TrainCommand
from handlers.home import publish_home
from handlers.plumbing import payload_checks
from handlers.plumbing.blocks import Block, escape
from handlers.plumbing.directory import SlackDirectory
from handlers.plumbing.listeners import Press, on_actions
from handlers.plumbing.sending import ChannelNames
from handlers.plumbing.services import Services, Viewer, Wiring
from handlers.training.blocks import (
    DONE,
    ENROL,
    OPEN,
    SNOOZE,
    done_blocks,
    plural,
    progress_blocks,
    snoozed_blocks,
    suggestion_blocks,
    training_digest_blocks,
    training_digest_text,
)
from people.audit import record_audit
from people.outbox import GiveUp
from people.training.assignments import TrainingError
from people.training.recommendations import recommend_modules

USER_REF = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
CHANNEL_REF = re.compile(r"^<#([CG][A-Z0-9]+)(?:\|[^>]*)?>$")
DUE_IN = re.compile(r"^(\d{1,3})d$")
NOT_A_BUTTON = "That button is not from Lepton training, so nothing changed."
Outcome = TypeVar("Outcome")


def register(app: App, services: Wiring) -> None:
    services.home_sections["training"] = training_section
    on_actions(app, services, {DONE: _done, re.compile(rf"^{SNOOZE}:\d+$"): _snooze, ENROL: _enrol})
    app.action(OPEN)(_opened)


def _opened(ack: Ack) -> None:
    """The Open button is a link; Slack still wants the click acked."""
    ack()


def _done(services: Services, press: Press) -> None:
    if (progress := _on_module(services, press, services.training.complete)) is None:
        return
    if _in_view(press):
        publish_home(services, press.client, press.user, press.team)
        return
    blocks = done_blocks(progress.title, list(progress.open_prerequisites))
    press.answer(f"Marked {progress.title} done", blocks=blocks, replace=True)


def _snooze(services: Services, press: Press) -> None:
    digits = press.action_id.rsplit(":", 1)[1]
    days = int(digits) if len(digits) <= 3 else 0  # the service refuses odd day counts
    assignment = _value(press).get("a")
    try:
        if type(assignment) is not int or not 0 < assignment < 2**31:
            raise KeyError("a")
        view = services.training.snooze(press.user, assignment, days, services.clock())
    except (TrainingError, KeyError) as refused:
        press.answer(_refusal(refused))
        return
    assert view.snoozed_until is not None
    blocks = snoozed_blocks(view.title, view.snoozed_until)
    press.answer(f"Snoozed {view.title}", blocks=blocks, replace=True)


def _enrol(services: Services, press: Press) -> None:
    if (result := _on_module(services, press, services.training.join)) is not None:
        _tell(services, press, _enrolled(result.assigned, result.already_assigned))


def _on_module(
    services: Services, press: Press, act: Callable[[str, str, datetime], Outcome]
) -> Outcome | None:
    """`act` for the presser on the module the button carries; None after telling them why
    that could not be done."""
    try:
        return act(press.user, _module(press), services.clock())
    except (TrainingError, KeyError) as refused:
        _tell(services, press, _refusal(refused))
        return None


def train_command(
    services: Services, client: WebClient, respond: Respond, user_id: str, parsed: TrainCommand
) -> None:
    """`/lepton train ...`; the caller has checked that admin actions come from an admin."""
    training, now = services.training, services.clock()
    try:
        if parsed.action == "help":
            respond(f"{parsed.problem} {TRAIN_USAGE}")
        elif parsed.action == "mine":
            respond(blocks=progress_blocks(training.progress(user_id, now), now), text="Training")
        elif parsed.action == "done":
            progress = training.complete(user_id, parsed.key, now)
            respond(
                blocks=done_blocks(progress.title, list(progress.open_prerequisites)),
                text=f"Marked {progress.title} done",
            )
        elif parsed.action == "join":
            result = training.join(user_id, parsed.key, now)
            respond(_enrolled(result.assigned, result.already_assigned))
        elif parsed.action == "suggest":
            found = recommend_modules(services.sessions, services.embedder, user_id, now)
            respond(blocks=suggestion_blocks(found), text="Training suggestions")
        elif parsed.action == "modules":
            lines = [f"• `{m.key}` {escape(m.title)}" for m in training.modules()]
            respond("\n".join(lines) or "The training catalog is empty: `lepton training import`.")
        elif parsed.action == "assign":
            _assign(services, client, respond, user_id, parsed, now)
        else:
            record_audit(services.sessions, user_id, "training.digest")
            report = training.completion_report(now)
            week = f"{now.isocalendar().year}-W{now.isocalendar().week:02d}"
            respond(
                blocks=training_digest_blocks(report, week), text=training_digest_text(report, week)
            )
    except TrainingError as refused:
        respond(str(refused))


def training_section(services: Services, viewer: Viewer) -> list[Block]:
    """The App Home's training part: the person's list, and modules suggested for them."""
    user_id = viewer.user_id
    now = services.clock()
    suggested = recommend_modules(services.sessions, services.embedder, user_id, now, 3)
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Your training"}},
        *progress_blocks(services.training.progress(user_id, now), now),
        {"type": "header", "text": {"type": "plain_text", "text": "Suggested training"}},
        *suggestion_blocks(suggested),
    ]


def _assign(
    services: Services,
    client: WebClient,
    respond: Respond,
    admin: str,
    parsed: TrainCommand,
    now: datetime,
) -> None:
    people = _people(client, parsed.target, services.team.team_id)
    if not people:
        respond(
            f"I could not find `{escape(parsed.target)}` in this workspace; mention a person "
            "or a channel of it."
        )
        return
    due = _due(parsed.due, now)
    results = services.training.assign_many([(p, parsed.key, due) for p in people], admin, now)
    record_audit(
        services.sessions,
        admin,
        "training.assign",
        parsed.key,
        {"people": len(people), "target": parsed.target, "due": due.isoformat() if due else None},
    )
    new = sum(len(r.assigned) > 0 for r in results)
    when = f", due {due:%a %d %b}" if due else ""
    had = len(people) - new
    already = f" {had} already had it{' (due date updated)' if due else ''}." if had else ""
    everyone = plural(len(people), "person", "people")
    respond(f"Assigned `{parsed.key}` to {new} of {everyone}{when}.{already}")


def _people(client: WebClient, target: str, team: str) -> list[str]:
    """Slack ids from `<@U..>`, `<#C..>`, `@name` or `#channel` (commands are not escaped),
    of this workspace only: a person or channel of another one is not found."""
    if match := USER_REF.match(target):
        return [match[1]] if _in_workspace(client, match[1], team) else []
    channels = ChannelNames(client)
    directory = SlackDirectory(client, channels)
    humans = directory.people()
    channel = CHANNEL_REF.match(target)
    if channel or target.startswith("#"):
        try:
            channel_id = channels.id(channel[1] if channel else target)
        except GiveUp:
            return []
        try:
            pages = list(client.conversations_members(channel=channel_id, limit=200))
        except SlackApiError as error:
            if error.response.get("error") != "channel_not_found":
                raise
            return []  # a private channel Lepton is not in, or no such channel
        return [m for page in pages for m in page.get("members", []) if m in humans]
    name = target.removeprefix("@").lower()
    return [uid for uid, person in humans.items() if name in _names(person)]


def _names(person: dict[str, Any]) -> set[str]:
    profile = person.get("profile") or {}
    names = (person.get("name"), profile.get("display_name"), person.get("real_name"))
    return {str(n).lower() for n in names if n}


def _due(text: str, now: datetime) -> datetime | None:
    """`2026-12-01` (the end of that day, UTC) or `7d` (a week from today); empty: no date."""
    if not text:
        return None
    if match := DUE_IN.match(text):
        day = now.astimezone(UTC).date() + timedelta(days=int(match[1]))
    else:
        try:
            day = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            raise TrainingError(f"`{text}` is not a due date; write 2026-12-01 or 7d.") from None
    return datetime.combine(day, time(23, 59), UTC)


def _enrolled(assigned: tuple[str, ...], already: tuple[str, ...]) -> str:
    if not assigned:
        return f"You were already enrolled in {', '.join(f'`{k}`' for k in already)}."
    text = f"Enrolled you in `{assigned[-1]}`."
    if len(assigned) > 1:
        text += " Its prerequisites come first: " + ", ".join(f"`{k}`" for k in assigned[:-1])
    return text + " `/lepton train` shows your list."


def _value(press: Press) -> dict[str, Any]:
    try:
        value = json.loads(press.value)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _module(press: Press) -> str:
    """The module key a Done or Enrol button carries; KeyError when it carries none."""
    key = _value(press)["m"]
    if not isinstance(key, str):
        raise KeyError("m")
    return key


def _in_view(press: Press) -> bool:
    return payload_checks.part(press.body, "container", "type") == "view"


def _refusal(error: Exception) -> str:
    return str(error) if isinstance(error, TrainingError) else NOT_A_BUTTON


def _tell(services: Services, press: Press, text: str) -> None:
    """A reply under the message pressed, or (from the App Home) a DM and a fresh home tab."""
    if not _in_view(press):
        press.answer(text)
        return
    press.client.chat_postMessage(channel=press.user, text=text)
    publish_home(services, press.client, press.user, press.team)


def _in_workspace(client: WebClient, user_id: str, team: str) -> bool:
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError:
        return False
    return user.get("team_id") in (None, team) and not user.get("deleted")
