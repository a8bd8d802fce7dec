"""Block Kit for training: the nudge DM with Done / Snooze / Open, what a nudge turns into
once answered, and the weekly completion digest for managers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from handlers.plumbing.blocks import Block, button, context, escape, link, section
from people.training.assignments import (
    SNOOZE_DAYS,
    AssignmentView,
    CompletionReport,
    OpenAssignment,
)
from people.training.recommendations import ModuleSuggestion

DONE = "train_done"
SNOOZE = "train_snooze"
OPEN = "train_open"
ENROL = "train_enrol"
MAX_LISTED = 10
TRAIN_HINT = "`/lepton train` lists your training."


def due_phrase(due_at: datetime, now: datetime) -> str:
    days = (due_at.astimezone(UTC).date() - now.astimezone(UTC).date()).days
    when = f"{due_at:%a %d %b}"
    if days > 1:
        return f"is due in {days} days ({when})"
    if days == 1:
        return f"is due tomorrow ({when})"
    if days == 0 and now <= due_at:
        return f"is due today ({when})"
    late = max(-days, 1)
    return f"was due {when}, {late} day{'s' if late != 1 else ''} ago"


def nudge_text(assignment: OpenAssignment, now: datetime) -> str:
    return f"Reminder: {assignment.module_title} {due_phrase(assignment.due_at, now)}"


def nudge_blocks(
    assignment: OpenAssignment, url: str | None, kind: str, others: int, now: datetime
) -> list[Block]:
    lead = "Your snooze is over. " if kind == "snooze_over" else ""
    title = link(url, assignment.module_title) if url else f"*{escape(assignment.module_title)}*"
    value = json.dumps({"a": assignment.assignment_id, "m": assignment.module_key})
    actions: list[Block] = [
        button("Done", DONE, value, "primary"),
        *(
            button(f"Snooze {d} day{'s' if d > 1 else ''}", f"{SNOOZE}:{d}", value)
            for d in SNOOZE_DAYS
        ),
    ]
    if url:
        actions.append({**button("Open", OPEN, value), "url": url})
    more = f"You have {others} other open training{'s' if others != 1 else ''}. " if others else ""
    return [
        section(f"{lead}{title} {due_phrase(assignment.due_at, now)}."),
        {"type": "actions", "block_id": "nudge", "elements": actions},
        context(f"{more}{TRAIN_HINT} I nudge at most once a day, in your working hours."),
    ]


def done_blocks(title: str, open_prerequisites: list[str]) -> list[Block]:
    text = f":white_check_mark: Marked *{escape(title)}* done. Nice work!"
    if open_prerequisites:
        text += " Its prerequisites are still open: " + ", ".join(
            f"`{escape(k)}`" for k in open_prerequisites
        )
    return [section(text)]


def snoozed_blocks(title: str, until: datetime) -> list[Block]:
    return [
        section(f":zzz: Snoozed *{escape(title)}* until {until:%a %d %b}. I will remind you then.")
    ]


def progress_blocks(views: list[AssignmentView], now: datetime) -> list[Block]:
    """`/lepton train` and the App Home: open assignments with Done buttons, then done ones."""
    if not views:
        return [section("_No training assigned to you. `/lepton train suggest` finds some._")]
    open_ = [v for v in views if v.completed_at is None][:MAX_LISTED]
    done = [v for v in views if v.completed_at is not None]
    blocks: list[Block] = []
    for view in open_:
        title = link(view.url, view.title) if view.url else f"*{escape(view.title)}*"
        state = due_phrase(view.due_at, now) if view.due_at else "has no due date"
        extra = f" · needs {', '.join(view.blocked_by)} first" if view.blocked_by else ""
        snoozed = (
            f" · snoozed until {view.snoozed_until:%a %d %b}"
            if view.snoozed_until and view.snoozed_until > now
            else ""
        )
        minutes = f" · {view.minutes} min" if view.minutes else ""
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"{title} {state}{minutes}{extra}{snoozed}"},
                "accessory": button(
                    "Done", DONE, json.dumps({"a": view.assignment_id, "m": view.module_key})
                ),
            }
        )
    total = len(views)
    blocks.append(
        context(f"{len(done)} of {total} done. `/lepton train done <module>` marks one done.")
    )
    return blocks


def suggestion_blocks(suggestions: list[ModuleSuggestion]) -> list[Block]:
    if not suggestions:
        return [section("_No suggestions yet: search and rate answers, and I will learn._")]
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"{link(s.url, s.title) if s.url else escape(s.title)}"
                + (f" · {s.minutes} min" if s.minutes else "")
                + f"\n_{escape(s.reason)}_",
            },
            "accessory": button("Enrol", ENROL, json.dumps({"m": s.key}), "primary"),
        }
        for s in suggestions[:MAX_LISTED]
    ]


def training_digest_blocks(report: CompletionReport, week: str) -> list[Block]:
    """Aggregates only: no names, so the digest never shames anyone in public."""
    rate = f"{report.done / report.assigned:.0%}" if report.assigned else "0%"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Training, week {week}"}},
        context(
            f"{plural(report.people, 'person', 'people')} · {report.assigned} assigned · "
            f"{report.done} done ({rate}) · {report.overdue} overdue"
        ),
    ]
    lines = [
        f"• *{escape(m.title)}*: {m.done} of {m.assigned} done"
        + (f", {m.overdue} overdue" if m.overdue else "")
        for m in report.modules
        if m.assigned
    ]
    chunk: list[str] = []
    for line in lines:
        if sum(len(x) + 1 for x in chunk) + len(line) > 2900:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    return blocks[:50]


def training_digest_text(report: CompletionReport, week: str) -> str:
    return (
        f"Training, week {week}: {report.done} of {report.assigned} done, {report.overdue} overdue"
    )


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
