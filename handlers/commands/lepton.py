"""`/lepton ...`: acknowledged at once, then the work, so Slack's 3-second limit holds whatever
the search costs."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.commands.parser import Command, parse_command, parse_survey, parse_train
from handlers.knowledge import replies
from handlers.knowledge.answering import AnswerRequest, Where, answer, visible_channels
from handlers.knowledge.modals import add_modal
from handlers.knowledge.sharing import answer_privately
from handlers.plumbing import payload_checks
from handlers.plumbing.listeners import scoped
from handlers.plumbing.membership import is_public
from handlers.plumbing.services import Services, Wiring
from handlers.surveys.listeners import survey_command
from handlers.training.listeners import train_command
from indexer.insights.experts import Expert, experts
from indexer.insights.questions import Asked
from indexer.insights.usage import open_gaps, usage_report
from people.audit import record_audit
from people.outbox import GiveUp, RetryLater
from people.privacy import personal_data_counts

COMMAND = "/lepton"
NO_FORM = "Slack would not open the form (`{error}`); please run `/lepton add` again."


def register(app: App, services: Wiring) -> None:
    @app.command(COMMAND)
    def lepton(
        ack: Ack,
        command: dict[str, Any],
        client: WebClient,
        respond: Respond,
        context: BoltContext,
    ) -> None:
        if garbled := _garbled(command):
            ack(response_type="ephemeral", text=payload_checks.incomplete(garbled))
            return
        parsed = parse_command(payload_checks.text(command.get("text")))
        if parsed.name == "add":
            ack()
            try:
                client.views_open(trigger_id=command["trigger_id"], view=add_modal())
            except SlackApiError as refused:
                respond(NO_FORM.format(error=refused.response.get("error")))
            return
        if parsed.name in {"help", "empty"}:
            ack(response_type="ephemeral", blocks=replies.help_blocks(parsed))
            return
        ack()
        if (workspace := scoped(services, context)) is None:
            respond(replies.NOT_INSTALLED)
            return
        trigger = hashlib.sha256(str(command["trigger_id"]).encode()).hexdigest()[:40]
        with workspace.once.run(f"command:{trigger}") as first:
            if first:
                _run(_Invocation(workspace, client, respond, command, parsed))


def _run(call: _Invocation) -> None:
    """One delivery of a command; a replay of the same signed request (same trigger_id) is
    acked and does nothing, so it is never answered twice."""
    parsed = call.parsed
    if parsed.admin_only and not is_admin(call.services, call.client, call.user_id):
        call.respond(replies.ADMIN_ONLY.format(command=f"{COMMAND} {parsed.name}"))
        return
    if parsed.notice:
        call.respond(parsed.notice)
    _SUBCOMMANDS[parsed.name](call)


def _garbled(command: dict[str, Any]) -> str | None:
    """The first field every subcommand relies on that Slack did not send as it should."""
    checks = {
        "user_id": payload_checks.user_id,
        "channel_id": payload_checks.channel_id,
        "response_url": payload_checks.url,
        "trigger_id": payload_checks.trigger_id,
    }
    return next((name for name, valid in checks.items() if not valid(command.get(name))), None)


def is_admin(services: Services, client: WebClient, user_id: str) -> bool:
    """Admin of this workspace only: named in LEPTON_ADMINS for it, or one of its own admins or
    owners (a Grid admin of a sister workspace is not)."""
    team = services.team.team_id
    if services.settings.is_listed_admin(team, user_id):
        return True
    user = client.users_info(user=user_id).get("user") or {}
    home = user.get("team_id")
    return bool(user.get("is_admin") or user.get("is_owner")) and home in (None, team)


@dataclass(frozen=True)
class _Invocation:
    """One `/lepton` call after the ack: everything a subcommand needs."""

    services: Services
    client: WebClient
    respond: Respond
    command: dict[str, Any]
    parsed: Command

    @property
    def user_id(self) -> str:
        return str(self.command["user_id"])

    @property
    def here(self) -> Where:
        return Where(str(self.command["channel_id"]))

    @property
    def asked(self) -> Asked:
        return Asked(
            surface="command",
            user_id=self.user_id,
            team_id=self.command.get("team_id"),
            channel_id=self.command.get("channel_id"),
        )


def _find(call: _Invocation) -> None:
    if call.parsed.private and not call.here.is_dm:  # a DM with Lepton is private already
        request = AnswerRequest(call.asked, call.parsed.argument, call.here)
        answer_privately(call.services, call.client, request, call.respond, call.respond)
        return
    header = f"<@{call.user_id}> asked with `{COMMAND}`"
    request = AnswerRequest(
        call.asked, call.parsed.argument, call.here, header=header, dm_fallback=True
    )
    answer(call.services, call.client, request, call.respond)


def _stats(call: _Invocation) -> None:
    own = call.services.membership.private_channels(
        call.client, call.services.team.team_id, call.user_id
    )
    report = usage_report(call.services.sessions, channels=own)
    record_audit(call.services.sessions, call.user_id, "stats.view")
    call.respond(blocks=replies.stats_blocks(report), text="Lepton usage")


def _gaps(call: _Invocation) -> None:
    gaps = open_gaps(call.services.sessions, quotable=PublicChannels(call.client))
    record_audit(call.services.sessions, call.user_id, "gaps.view")
    call.respond(blocks=replies.gaps_blocks(gaps), text="Questions without a good answer")


def _who(call: _Invocation) -> None:
    topic = call.parsed.argument
    if not topic:
        call.respond(replies.WHO_NEEDS_TOPIC)
        return
    channels = visible_channels(call.services, call.client, call.asked, call.here)
    found = experts(call.services.ranker, call.services.sessions, topic, channels=channels)
    found = _owners_as_people(call.services, found)
    call.respond(blocks=replies.who_blocks(topic, found), text=f"Who knows about {topic}")


def _owners_as_people(services: Services, found: list[Expert]) -> list[Expert]:
    """Owners named in front matter who are people in this workspace become mentions, their
    credit added to what they wrote or answered; a team name stays a name. Slack not listing
    people now leaves every owner a name."""
    try:
        resolved = [
            replace(e, user_id=services.directory.find_person(e.owner)) if e.owner else e
            for e in found
        ]
    except (RetryLater, GiveUp):
        return found
    merged: dict[str, Expert] = {}
    for expert in resolved:
        key = expert.user_id or f"owner:{expert.owner}"
        if (earlier := merged.get(key)) is None:
            merged[key] = expert
            continue
        merged[key] = replace(
            earlier,
            contributed=earlier.contributed + expert.contributed,
            saved=earlier.saved + expert.saved,
            score=earlier.score + expert.score,
            sample_titles=tuple(dict.fromkeys(earlier.sample_titles + expert.sample_titles))[:3],
        )
    return sorted(merged.values(), key=lambda e: -e.score)


def _survey(call: _Invocation) -> None:
    parsed = parse_survey(call.parsed.argument)
    if parsed.admin_only and not is_admin(call.services, call.client, call.user_id):
        call.respond(replies.ADMIN_ONLY.format(command=f"{COMMAND} survey {parsed.action}"))
        return
    survey_command(call.services, call.respond, call.user_id, parsed)


def _train(call: _Invocation) -> None:
    parsed = parse_train(call.parsed.argument)
    if parsed.admin_only and not is_admin(call.services, call.client, call.user_id):
        call.respond(replies.ADMIN_ONLY.format(command=f"{COMMAND} train {parsed.action}"))
        return
    train_command(call.services, call.client, call.respond, call.user_id, parsed)


def _forget_me(call: _Invocation) -> None:
    counts = personal_data_counts(call.services.sessions, call.user_id)
    call.respond(
        blocks=replies.forget_me_blocks(call.user_id, counts), text="Delete your Lepton data?"
    )


_SUBCOMMANDS: dict[str, Callable[[_Invocation], None]] = {
    "find": _find,
    "stats": _stats,
    "gaps": _gaps,
    "who": _who,
    "forget-me": _forget_me,
    "survey": _survey,
    "train": _train,
}


class PublicChannels:
    """Whether a question may be quoted to an admin: asked in a public channel (or outside Slack,
    on the command line), never in a DM or a private channel. Asked once per channel."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._known: dict[str, bool] = {}

    def __call__(self, channel_id: str | None) -> bool:
        if channel_id is None:
            return True
        if channel_id not in self._known:
            self._known[channel_id] = is_public(self.client, channel_id)
        return self._known[channel_id]
