"""Survey answers in Slack: the buttons in the survey DM, the comment modal, and
`/lepton survey ...`. Answers are recorded through `people.surveys.answers`; this module only
reads the payload, calls it, and redraws the DM so the person sees what was recorded."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.commands.parser import SURVEY_USAGE, SurveyCommand
from handlers.plumbing import payload_checks
from handlers.plumbing.blocks import Block, escape
from handlers.plumbing.listeners import Press, Submission, on_actions, on_submit
from handlers.plumbing.services import Services, Viewer, Wiring
from handlers.surveys.blocks import (
    ANSWER,
    COMMENT,
    COMMENT_BLOCK,
    COMMENT_CALLBACK,
    button_value,
    comment_modal,
    invitation_blocks,
    invitation_text,
    survey_blocks,
    surveys_list_blocks,
    when,
)
from handlers.surveys.digest_blocks import digest_blocks, digest_fallback_text
from people.audit import record_audit
from people.surveys.answers import Recorded
from people.surveys.lookups import SurveyError

NOT_A_SURVEY = "That button is not from a Lepton survey, so nothing was recorded."
OPTED_OUT = "You will not get Lepton surveys any more. Changed your mind? `/lepton survey optin`."
ALREADY_OUT = "You had already opted out of Lepton surveys. `/lepton survey optin` undoes it."
OPTED_IN = "Welcome back: you will get Lepton's pulse surveys again."
ALREADY_IN = "You are already getting Lepton's pulse surveys."
NO_FORM = "Slack would not open the comment form (`{error}`); please press the button again."
GARBLED_FORM = "This form arrived garbled; close it and press *Add a comment* again."


def register(app: App, services: Wiring) -> None:
    services.home_sections["surveys"] = survey_section
    on_actions(app, services, {re.compile(rf"^{ANSWER}:"): _answer, COMMENT: _comment})
    garbled = {COMMENT_BLOCK: GARBLED_FORM}
    app.view(COMMENT_CALLBACK)(on_submit(services, _comment_submitted, garbled))


def _answer(services: Services, press: Press) -> None:
    """Record the answer and redraw the DM with it."""
    try:
        value = button_value(press.value)
        question, choice = value["q"], value["v"]
        if not isinstance(question, str) or type(choice) is not int:
            raise ValueError("not a survey answer")
    except (ValueError, KeyError):
        press.answer(NOT_A_SURVEY)
        return
    channel, ts = _message(press.body)
    recorded = _or_refusal(
        services,
        press,
        services.surveys.answers.record,
        value,
        message=(channel, ts),
        answer=(question, choice),
    )
    if recorded is not None:
        _redraw(press.client, channel, ts, recorded, value["t"])


def _comment(services: Services, press: Press) -> None:
    """Open the comment modal, pre-filled with the comment recorded so far."""
    try:
        value = button_value(press.value)
    except ValueError:
        press.answer(NOT_A_SURVEY)
        return
    channel, ts = _message(press.body)
    look = services.surveys.answers.recorded
    if (recorded := _or_refusal(services, press, look, value, message=(channel, ts))) is None:
        return
    modal = comment_modal(
        recorded.definition,
        value["r"],
        value["t"],
        {"c": channel, "ts": ts},
        recorded.comment or "",
    )
    try:
        press.client.views_open(
            trigger_id=payload_checks.text(press.body.get("trigger_id")), view=modal
        )
    except SlackApiError as refused:
        press.answer(NO_FORM.format(error=refused.response["error"]))


def _or_refusal(
    services: Services,
    press: Press,
    call: Callable[..., Recorded],
    value: dict[str, Any],
    **details: Any,
) -> Recorded | None:
    """`call` for the presser's survey round and token, or None after telling them why the
    survey refused it."""
    try:
        return call(value["r"], press.user, value["t"], services.clock(), **details)
    except SurveyError as refused:
        press.answer(str(refused))
        return None


def _comment_submitted(services: Services, form: Submission) -> None:
    """Record the comment (the modal shows a refusal inline) and redraw the DM with it."""
    if (meta := _comment_metadata(form.view)) is None:
        form.refuse({COMMENT_BLOCK: GARBLED_FORM})
        return
    entered = payload_checks.part(form.view, "state", "values", COMMENT_BLOCK, "value", "value")
    try:
        recorded = services.surveys.answers.record(
            meta["r"],
            form.user,
            meta["t"],
            services.clock(),
            comment=payload_checks.text(entered),
            message=(meta["c"], meta["ts"]),
        )
    except SurveyError as refused:
        form.refuse({COMMENT_BLOCK: str(refused)[:150]})
        return
    form.accept()
    _redraw(form.client, meta["c"], meta["ts"], recorded, meta["t"])


def _comment_metadata(view: dict[str, Any]) -> dict[str, Any] | None:
    """The round, token and survey message the comment modal was opened for, or None when
    its private_metadata is not what `comment_modal` wrote."""
    try:
        meta = button_value(payload_checks.text(view.get("private_metadata")))
    except ValueError:
        return None
    if not (payload_checks.channel_id(meta.get("c")) and payload_checks.message_ts(meta.get("ts"))):
        return None
    return meta


def survey_command(
    services: Services, respond: Respond, user_id: str, parsed: SurveyCommand
) -> None:
    """`/lepton survey ...`; the caller has checked that admin actions come from an admin."""
    surveys = services.surveys
    if parsed.action == "help":
        respond(f"{parsed.problem} {SURVEY_USAGE}")
        return
    if parsed.action == "optout":
        respond(OPTED_OUT if surveys.answers.opt_out(user_id) else ALREADY_OUT)
        return
    if parsed.action == "optin":
        respond(OPTED_IN if surveys.answers.opt_in(user_id) else ALREADY_IN)
        return
    record_audit(services.sessions, user_id, f"survey.{parsed.action}", parsed.key or None)
    try:
        if parsed.action == "list":
            definitions = surveys.definitions()
            latest = {d.key: next(iter(surveys.rounds(d.key, 1)), None) for d in definitions}
            respond(blocks=surveys_list_blocks(definitions, latest), text="Surveys")
        elif parsed.action == "show":
            blocks = survey_blocks(surveys.definition(parsed.key), surveys.rounds(parsed.key))
            respond(blocks=blocks, text=f"Survey {parsed.key}")
        elif parsed.action == "start":
            started = surveys.start(parsed.key, services.clock())
            respond(
                f"Round {started.number} of `{parsed.key}` is open. Each person gets it at the "
                "survey's send time in their time zone (now, if that has passed today), on "
                "weekdays only."
            )
        elif parsed.action == "close":
            closed = surveys.close(parsed.key, services.clock())
            respond(
                f"Round {closed.number} of `{parsed.key}` is closed: {closed.responded} of "
                f"{closed.asked} answered. The digest goes to the survey's digest channels."
            )
        else:
            definition, digest = surveys.results.digest(parsed.key, parsed.number)
            respond(blocks=digest_blocks(digest, definition), text=digest_fallback_text(digest))
    except SurveyError as refused:
        respond(str(refused))


def survey_section(services: Services, viewer: Viewer) -> list[Block]:
    """The App Home's survey part: what is waiting for this person's answers. The survey file
    is read on first use, not when the home sections are wired."""
    user_id = viewer.user_id
    surveys = services.surveys
    waiting = surveys.answers.waiting_for(user_id, services.clock())
    lines = [
        f"• *{escape(surveys.definition(info.survey_key).title)}*: waiting for your "
        f"answers in our DM, open until {when(info.closes_at)}"
        for info, _ in waiting
    ]
    if not lines:
        lines = ["_No survey waiting for you._"]
    if surveys.answers.opted_out(user_id):
        lines.append("_You opted out of surveys; `/lepton survey optin` to join again._")
    return [
        {"type": "header", "text": {"type": "plain_text", "text": "Surveys"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
    ]


def _redraw(client: WebClient, channel: str, ts: str, recorded: Recorded, token: str) -> None:
    client.chat_update(
        channel=channel,
        ts=ts,
        text=invitation_text(recorded.definition),
        blocks=invitation_blocks(
            recorded.definition, recorded.round, token, recorded.answers, recorded.comment
        ),
    )


def _message(body: dict[str, Any]) -> tuple[str, str]:
    channel = payload_checks.part(body, "container", "channel_id") or payload_checks.part(
        body, "channel", "id"
    )
    message_ts = payload_checks.part(body, "container", "message_ts")
    return payload_checks.text(channel), payload_checks.text(message_ts)
