"""Block Kit for a pulse-survey digest posted to managers' channels.

Only renders a `Digest`, which has already applied the anonymity rules (withheld rounds, hidden
questions, all-or-nothing channel groups, shuffled comments), so nothing here decides what may
be shown. Comments, themes, channel names, titles and question texts are people's words and all
go through `escape`, so a comment cannot ping @channel or smuggle in a link.
"""

from __future__ import annotations

from handlers.plumbing.blocks import SECTION_LIMIT, Block, clip, context, escape, section
from people.surveys.definitions import SurveyDefinition
from people.surveys.digest import (
    Digest,
    QuestionSummary,
    compact_distribution,
    headline_text,
    segment_values,
    withheld_comments_text,
)

MESSAGE_BLOCK_LIMIT = 50
HEADER_LIMIT = 150
COMMENT_LIMIT = 1000
BAR_WIDTH = 10
FULL, EMPTY = "▇", "▁"


def digest_blocks(digest: Digest, definition: SurveyDefinition) -> list[Block]:
    """Header, response rate, one section per question, channels, themes, then comments."""
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(escape(f"{digest.title}, round {digest.round_number}"), HEADER_LIMIT),
            },
        },
        context(
            f"{digest.responded} of {digest.asked} answered ({digest.response_rate:.0%}) · "
            f"opened {digest.opened_on.isoformat()}"
        ),
    ]
    if digest.withheld:
        return [*blocks, section(f":lock: {digest.withheld_reason}")]
    for number, summary in enumerate(digest.questions, start=1):
        blocks.append(section(_question_text(number, summary, digest)))
    if digest.segments:
        lines = [
            f"• *{escape(s.name)}* ({s.responded} answers): {escape(segment_values(s, digest))}"
            for s in digest.segments
        ]
        blocks.append(section("*By channel*\n" + "\n".join(lines)))
    elif digest.segments_hidden:
        blocks.append(context(f":lock: {digest.segments_hidden_reason}"))
    if digest.themes:
        blocks.append(section("*Themes:* " + ", ".join(escape(t) for t in digest.themes)))
    if digest.comments:
        blocks.append(section(f"*Comments* ({len(digest.comments)}, in random order)"))
        blocks.extend(_comment_blocks(digest.comments, MESSAGE_BLOCK_LIMIT - len(blocks)))
    elif digest.comments_withheld:
        blocks.append(context(f":lock: {withheld_comments_text(digest)}"))
    return blocks[:MESSAGE_BLOCK_LIMIT]


def digest_fallback_text(digest: Digest) -> str:
    """One line for notifications and screen readers."""
    text = (
        f"{escape(digest.title)}, round {digest.round_number}: "
        f"{digest.responded} of {digest.asked} answered"
    )
    return f"{text}, results withheld" if digest.withheld else text


def _question_text(number: int, summary: QuestionSummary, digest: Digest) -> str:
    lines = [f"*{number}. {escape(summary.text)}*", escape(headline_text(summary, digest))]
    if not summary.hidden:
        total = max(1, summary.answered)
        lines += [
            f"`{_bar(count, total)}` {count}  {escape(label)}"
            for label, count in compact_distribution(summary)
        ]
    return "\n".join(lines)


def _bar(count: int, total: int) -> str:
    filled = round(BAR_WIDTH * count / total)
    return FULL * filled + EMPTY * (BAR_WIDTH - filled)


def _comment_blocks(comments: tuple[str, ...], room: int) -> list[Block]:
    """Quoted comments packed into as few sections as fit; a note says how many did not."""
    texts: list[str] = []
    current = ""
    shown = 0
    for comment in comments:
        quoted = "> " + clip(escape(comment), COMMENT_LIMIT).replace("\n", "\n> ")
        joined = f"{current}\n{quoted}" if current else quoted
        if len(joined) <= SECTION_LIMIT:
            current = joined
        elif len(texts) + 2 < room:
            texts.append(current)
            current = quoted
        else:
            break
        shown += 1
    if current:
        texts.append(current)
    blocks = [section(text) for text in texts]
    if shown < len(comments):
        blocks.append(context(f"{len(comments) - shown} more comments did not fit here."))
    return blocks
