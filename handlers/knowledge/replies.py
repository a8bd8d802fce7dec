"""The words Lepton says outside answers: help, admin reports, confirmations and refusals.
Everything that came from users or documents goes through `escape`."""

from __future__ import annotations

import re
from collections.abc import Mapping

from handlers.commands.parser import Command
from handlers.plumbing.blocks import Block, escape, link, section
from indexer.insights.experts import Expert
from indexer.insights.usage import GapSummary, UsageReport
from people.privacy import describe

HELP = """*Lepton* answers "how do we do X here?" from your team's knowledge.
• `/lepton find <question>` (or just `/lepton <question>`): search; react :+1: or :-1: to teach me
• `/lepton find --private <question>` (or `-p`): an answer only you see, until you share it
• `@lepton <question>` in a channel answers in the thread; a DM to me answers in the DM
• *Share to channel* on an answer only you see (or in our DM) posts it for everyone there
• `/lepton add`: write a snippet; the *Save to Lepton* message shortcut saves a message
• `/lepton who <topic>`: people who know about a topic
• `/lepton train`: your training (`train suggest`, `train join <module>`, `train done <module>`)
• `/lepton survey optout` (or `optin`): stop (or resume) pulse surveys; admins: `survey list`
• `/lepton forget-me`: delete your personal data from Lepton
• `/lepton stats`, `/lepton gaps`: usage and unanswered questions (admins)
Search syntax: `tag:vpn`, `topic:security`, `source:handbook`, `"exact phrase"`."""
MENTION_HELP = (
    "Ask me a question after the mention, e.g. `@lepton how do I get VPN access?`, "
    "or type `/lepton help`."
)
EMPTY_QUERY = "What should I look for? Try `/lepton find tensorflow 2.0`."
ADMIN_ONLY = "Sorry, `{command}` is for Lepton admins. Ask one of them, or see `/lepton help`."
SENT_TO_DM = (
    "I can't post in this channel, so I sent the answer to our DM. "
    "Invite me with `/invite @lepton` to answer here."
)
SLACK_AWAY = (
    "Slack isn't taking my messages right now, so I couldn't post the answer. "
    "Please try again in a minute."
)
CANNOT_ANSWER_HERE = (
    "I can't post in this conversation, so I couldn't answer here. Ask me in our DM instead."
)
GONE = "That answer is no longer available. Ask again with `/lepton find`."
PRIVATE_HINT = "Only you can see this answer. *Share to channel* posts it here for everyone."
SHARE_GONE = (
    "I can't find that answer any more, so nothing was shared. Ask again, then share the new "
    "answer."
)
NOT_YOURS_TO_SHARE = "Only the person who asked can share this answer."
CANNOT_SHARE_HERE = (
    "I'm not a member of this channel, so I can't post the answer here. Invite me with "
    "`/invite @lepton`, then press *Share to channel* again."
)
NO_SHARE_FORM = "Slack would not open the form (`{error}`); please press *Share to channel* again."
SHARE_FORM_GARBLED = "This form arrived garbled, so nothing was shared; close it and try again."
PICK_A_CHANNEL = "Pick the channel to share the answer in."
NOT_IN_CHANNEL = (
    "I'm not in {channel}, so I can't post there. Invite me with /invite @lepton in that "
    "channel, or pick another one."
)
ARCHIVED = "{channel} is archived; pick another channel."
SLACK_AWAY_FORM = "Slack isn't answering right now, so nothing was shared; try again in a minute."
NOT_YOURS = "Only the person who asked can confirm this."
KEPT = "OK, nothing was deleted."
WHO_NEEDS_TOPIC = "Which topic? Try `/lepton who kubernetes`."
ALREADY_SAVED = "That snippet was already in Lepton, unchanged."
DATABASE_AWAY = (
    "I can't reach my knowledge base right now, so nothing was saved. Please try again shortly."
)
SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
SLACK_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,64}$")


def help_blocks(command: Command) -> list[Block]:
    text = EMPTY_QUERY if command.name == "empty" else HELP
    if command.notice:
        text = f"{command.notice}\n\n{text}"
    return [section(text)]


def rated(value: int) -> str:
    if value > 0:
        return "Thanks! Marked as helpful; I will rank it higher for you and people like you."
    return "Thanks! Marked as not helpful; I will show it less."


def saved_by_someone(user_id: str) -> str:
    return (
        f"That message is already in Lepton, saved by <@{user_id}>; only they can change it. "
        "Ask them, or add your own note with `/lepton add`."
    )


def saved(title: str, url: str | None) -> str:
    return f"Saved to Lepton: {link(url, title)}. People can now find it with `/lepton find`."


def shared_by(user_id: str) -> str:
    return f"Shared by {mention(user_id)} from a question they asked Lepton"


def shared_in(channel_id: str, left_out: int) -> str:
    """To the sharer: where the answer went, and what people there could not be shown."""
    done = f"I shared the answer in <#{channel_id}>."
    if not left_out:
        return done
    results = "result" if left_out == 1 else "results"
    return f"{done} I left out {left_out} {results} that not everyone there may see."


def already_shared(channel_id: str) -> str:
    return f"You already shared this answer in <#{channel_id}>."


def not_shared(channel_id: str, why: str) -> str:
    return f"I couldn't share the answer in <#{channel_id}>. {why}"


def nothing_visible(channel: str) -> str:
    return (
        f"Everything in this answer comes from private channels that not everyone in {channel} "
        "is in, so none of it can be shown there."
    )


def cannot_check(reason: str) -> str:
    why = f"`{reason}`" if SLACK_ERROR_CODE.match(reason) else "an unexpected reply"
    return f"Slack wouldn't tell me about that channel ({why}); pick another one."


def answer_refused(reason: str) -> str:
    """Slack's error code when it gave one (something to search for), never a raw reply."""
    why = f"`{reason}`" if SLACK_ERROR_CODE.match(reason) else "an unexpected reply"
    return (
        f"Slack refused my answer ({why}), so nothing was posted. Try a shorter "
        "or different question; if it keeps happening, tell a Lepton admin."
    )


def forgotten(lines: list[str]) -> str:
    return "Done. Lepton deleted your personal data:\n" + "\n".join(f"• {line}" for line in lines)


def mention(user_id: str | None) -> str:
    """A mention only for a real Slack user id; anything else is shown as escaped text."""
    if user_id and SLACK_USER.match(user_id):
        return f"<@{user_id}>"
    return escape(user_id or "someone")


def stats_blocks(report: UsageReport) -> list[Block]:
    days = "\n".join(
        f"`{d.day.isoformat()}`  {d.questions:>4} asked, {d.answered:>4} answered well"
        for d in report.days
    )
    share = "n/a" if report.answered_share is None else f"{report.answered_share:.0%}"
    summary = (
        f"*Questions:* {report.total_questions} from {report.since} to {report.until}, "
        f"{share} answered well\n*Ratings:* {report.ratings_up} :+1: and "
        f"{report.ratings_down} :-1: from {report.raters} "
        f"{'person' if report.raters == 1 else 'people'}"
    )
    top = "\n".join(
        f"{n}. {link(s.url, s.title)}  (+{s.up} / -{s.down})"
        for n, s in enumerate(report.top_snippets, start=1)
    )
    return [
        section(summary),
        section(days or "_No questions yet._"),
        section("*Top-rated snippets*\n" + (top or "_None rated yet._")),
    ]


def gaps_blocks(gaps: list[GapSummary]) -> list[Block]:
    if not gaps:
        return [section("No unanswered questions lately. :tada:")]
    blocks = [section("*Questions without a good answer* (most asked first):")]
    for gap in gaps:
        heading = escape(gap.heading) if gap.heading else "_asked in private channels or DMs_"
        examples = "; ".join(f"_{escape(e)}_" for e in gap.examples[1:])
        seen = f"last asked {gap.last_seen_at:%Y-%m-%d}"
        private = f" · {gap.withheld} asked privately" if gap.withheld and gap.heading else ""
        blocks.append(
            section(
                f"*{gap.question_count} asked:* {heading}\n{seen}{private}"
                + (f" · e.g. {examples}" if examples else "")
            )
        )
    return blocks


def who_blocks(topic: str, experts: list[Expert]) -> list[Block]:
    if not experts:
        return [
            section(
                f"I don't know anyone who wrote or saved well-rated snippets on "
                f"_{escape(topic)}_ yet."
            )
        ]
    lines = [f"*People who know about _{escape(topic)}_:*"]
    for e in experts:
        titles = ", ".join(escape(t) for t in e.sample_titles)
        if e.user_id is None:
            lines.append(f"• *{escape(e.owner or '')}* owns {e.contributed} page(s), e.g. {titles}")
            continue
        parts = [f"wrote or answered {e.contributed}"] if e.contributed else []
        if e.saved:
            parts.append(f"saved {e.saved}")
        lines.append(f"• {mention(e.user_id)}: {' and '.join(parts)}, e.g. {titles}")
    return [section("\n".join(lines))]


def forget_me_blocks(user_id: str, counts: Mapping[str, int]) -> list[Block]:
    held = ", ".join(describe(kind, n) for kind, n in counts.items() if n) or "no personal data"
    return [
        section(
            f"Lepton holds {held} about you. Delete it? Anonymous aggregates (such as how many "
            "questions were asked) stay; this cannot be undone."
        ),
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Delete my data"},
                    "style": "danger",
                    "action_id": "forget_me_confirm",
                    "value": user_id,
                },
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Cancel"},
                    "action_id": "forget_me_cancel",
                    "value": "cancel",
                },
            ],
        },
    ]


def apology(reference: str) -> str:
    return (
        "Sorry, something went wrong on my side. If it keeps happening, tell an admin "
        f"the reference `{reference}`."
    )
