"""Block Kit for the survey messages people get: the invitation DM (which also shows what
they have answered so far), the reminder, the comment modal, and the admins' survey lists.

Every button carries the person's answer token (see `people.surveys.answers`) in its value, so the
token exists nowhere but in their own DM.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.knowledge.modals import text_input
from handlers.plumbing.blocks import Block, button, context, escape, link, section
from people.surveys.answers import COMMENT_LIMIT
from people.surveys.definitions import Question, SurveyDefinition
from people.surveys.lookups import RoundInfo

ANSWER = "survey_answer"
COMMENT = "survey_comment"
COMMENT_CALLBACK = "survey_comment_modal"
COMMENT_BLOCK = "comment"
OPT_OUT_HINT = "`/lepton survey optout` stops these surveys."


CLOSED_DM = (
    "This pulse survey has closed. Thank you: the results are shared only as anonymous totals."
)
"""What every survey DM says once its round is closed, answered or not."""


def when(moment: datetime, tz: str | None = None) -> str:
    local = moment.astimezone(ZoneInfo(tz)) if tz else moment
    return f"{local:%a %d %b, %H:%M} {'' if tz else 'UTC'}".strip()


def invitation_blocks(
    definition: SurveyDefinition,
    round: RoundInfo,
    token: str,
    answers: dict[str, int] | None = None,
    comment: str | None = None,
) -> list[Block]:
    """The survey DM; with answers, the same message saying which questions are answered, never
    with what: anyone holding the bot token can read a DM back, so it must not hold answers."""
    answers = answers or {}
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": definition.title[:150]}},
        section(
            "A quick, anonymous pulse survey. Nobody (not your manager, not Lepton's admins) "
            "sees your answers: results only appear as totals of "
            f"{definition.anonymity_threshold} or more people. "
            f"Open until {when(round.closes_at)}."
        ),
    ]
    for number, question in enumerate(definition.questions, start=1):
        chosen = answers.get(question.id)
        text = f"*{number}. {escape(question.text)}*"
        if chosen is not None:
            text += "\n:white_check_mark: Answered (tap again to change it)"
        blocks.append(section(text))
        blocks.append(_choices(round.id, token, question))
        if question.kind == "enps":
            blocks.append(context("0 = not at all likely · 10 = extremely likely"))
    if definition.comment:
        text = f"*{escape(definition.comment)}* (optional)"
        if comment:
            text += "\n:white_check_mark: Comment recorded"
        blocks.append(section(text))
        label = "Edit your comment" if comment else "Add a comment"
        blocks.append(
            {
                "type": "actions",
                "block_id": COMMENT,
                "elements": [button(label, COMMENT, _value(round.id, token))],
            }
        )
    recorded = len(answers) + (1 if comment else 0)
    status = (
        f"Recorded: {len(answers)} of {len(definition.questions)} answers. "
        "You can change them until the survey closes."
        if recorded
        else "Tap an answer to record it; you can change it until the survey closes."
    )
    blocks.append(context(f"{status} {OPT_OUT_HINT}"))
    return blocks


def invitation_text(definition: SurveyDefinition) -> str:
    return f"{definition.title}: a quick anonymous survey"


def reminder_text(definition: SurveyDefinition, round: RoundInfo, permalink: str | None) -> str:
    survey = link(permalink, definition.title) if permalink else f"*{escape(definition.title)}*"
    return (
        f"A reminder: {survey} closes {when(round.closes_at)}, and your answers are not in yet. "
        f"It takes a minute, and it stays anonymous. {OPT_OUT_HINT}"
    )


def notice_text(definition: SurveyDefinition, round: RoundInfo, reason: str) -> str:
    """Why a round cannot start, for the workspace's admins: what to fix and what happens."""
    title = f"*{escape(definition.title)}* (`{definition.key}`)"
    channels = escape(", ".join(definition.channels)) or "the workspace"
    if reason == "channel_not_found":
        why = (
            f"one of its channels ({channels}) does not exist, or is private and Lepton is not "
            "in it (`/invite @Lepton` there)"
        )
    elif reason == "nobody_to_ask":
        why = f"nobody in {channels} can be asked (only bots there, or everyone opted out)"
    else:
        why = f"Slack refused to list who is in {channels} (`{escape(reason)}`)"
    return (
        f":warning: Round {round.number} of {title} has not started: {why}. Nobody was asked. "
        "Lepton tries again every few minutes and starts the round as soon as it can; "
        f"`/lepton survey close {definition.key}` cancels it. You are told this once."
    )


def comment_modal(
    definition: SurveyDefinition, round_id: int, token: str, message: dict[str, str], initial: str
) -> Block:
    return {
        "type": "modal",
        "callback_id": COMMENT_CALLBACK,
        "private_metadata": json.dumps({**json.loads(_value(round_id, token)), **message}),
        "title": {"type": "plain_text", "text": "Your comment"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(
                f"{escape(definition.comment or 'Anything else?')}\nAnonymous: shown to managers "
                f"in random order, and only if at least {definition.anonymity_threshold} people "
                "comment; otherwise it is discarded unread. Leave out names and details that "
                "would identify you."
            ),
            text_input(
                COMMENT_BLOCK,
                "Comment",
                initial,
                multiline=True,
                optional=True,
                max_length=COMMENT_LIMIT,
            ),
        ],
    }


def button_value(raw: str) -> dict[str, Any]:
    """The parsed value of a survey button; ValueError when it is not one of ours."""
    data = json.loads(raw)
    if not isinstance(data, dict) or not _is_id(data.get("r")) or not _is_token(data.get("t")):
        raise ValueError("not a survey button")
    return data


def _is_id(value: Any) -> bool:
    """A database id: an int (not a bool) that fits the column."""
    return type(value) is int and 0 < value < 2**31


def _is_token(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 200


def surveys_list_blocks(
    definitions: list[SurveyDefinition], latest: dict[str, RoundInfo | None]
) -> list[Block]:
    if not definitions:
        return [section("No surveys are defined. Add them to the survey file (LEPTON_SURVEYS).")]
    lines = []
    for d in definitions:
        info = latest.get(d.key)
        state = "never run" if info is None else f"round {info.number} " + _state(info)
        lines.append(f"• `{d.key}` *{escape(d.title)}*: {state}")
    return [section("*Surveys*\n" + "\n".join(lines))]


def survey_blocks(definition: SurveyDefinition, rounds: list[RoundInfo]) -> list[Block]:
    d = definition
    schedule = (
        ", ".join(f"{k}={v}" for k, v in vars(d.schedule).items() if v) if d.schedule else "by hand"
    )
    lines = [
        f"*{escape(d.title)}* (`{d.key}`)",
        f"Audience: {escape(d.audience)} · schedule: {schedule} at {d.send_time:%H:%M} local, "
        f"weekdays · open {_duration(d.window)}"
        + (f", reminder {_duration(d.remind_before)} before closing" if d.remind_before else ""),
        f"Digest to: {escape(', '.join(d.digest_channels) or 'nowhere (on demand only)')} · "
        f"anonymity threshold {d.anonymity_threshold}",
        *(f"{n}. {escape(q.text)} ({q.kind})" for n, q in enumerate(d.questions, start=1)),
    ]
    if d.comment:
        lines.append(f"Comment: {escape(d.comment)}")
    for r in rounds:
        lines.append(
            f"Round {r.number} ({r.send_on}): {_state(r)}; asked {r.asked}, "
            f"answered {r.responded}, reminded {r.reminded}"
            + (f", waiting {r.pending}" if r.pending else "")
            + (f", failed {r.failed}" if r.failed else "")
        )
    return [section("\n".join(lines))]


def _state(info: RoundInfo) -> str:
    return f"open until {when(info.closes_at)}" if info.open else "closed"


def _choices(round_id: int, token: str, question: Question) -> Block:
    return {
        "type": "actions",
        "block_id": f"q:{question.id}",
        "elements": [
            button(
                label,
                f"{ANSWER}:{question.id}:{value}",
                _value(round_id, token, question.id, value),
            )
            for value, label in question.choices()
        ],
    }


def _value(round_id: int, token: str, question: str | None = None, value: int | None = None) -> str:
    data: dict[str, Any] = {"r": round_id, "t": token}
    if question is not None:
        data |= {"q": question, "v": value}
    return json.dumps(data, separators=(",", ":"))


def _duration(delta: Any) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
