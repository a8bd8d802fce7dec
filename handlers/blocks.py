"""Block Kit for answers, built in one place so every surface looks the same, and so nothing a
user or a document wrote can ping @channel, mention someone or smuggle in a link.

Slack renders `<...>` as links, mentions and broadcasts, so `&`, `<` and `>` in untrusted text
are always escaped; plain-text "@here" words get a zero-width joiner so no client or future
`link_names` setting can turn them into a broadcast; and only http(s) URLs become links.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from indexer.ranker import RankedSnippet, Ranking

EXCERPT_CHARS = 280
SECTION_LIMIT = 3000
BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
ZERO_WIDTH_JOINER = "\u200d"
SECTION_MARK = "\u203a"
RATE_UP = "rate_up"
RATE_DOWN = "rate_down"
MORE_RESULTS = "more_results"
WHY_THESE = "why_these"

Block = dict[str, Any]


def escape(text: str) -> str:
    """Untrusted text, safe inside mrkdwn: no links, mentions or broadcasts survive."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return BROADCAST.sub(lambda m: f"@{ZERO_WIDTH_JOINER}{m.group(1)}", text)


def link(url: str | None, label: str) -> str:
    """`<url|label>` for http(s) URLs only; anything else shows as escaped text."""
    shown = escape(label).replace("|", "¦")
    if not url or not re.match(r"^https?://[^\s]+$", url, re.IGNORECASE):
        return shown
    safe_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~.-_")
    return f"<{safe_url}|{shown}>"


def confidence_cue(result: RankedSnippet) -> str:
    if result.dense >= 0.6:
        return "strong match"
    if result.dense >= 0.45:
        return "good match"
    return "possible match"


def clip(text: str, limit: int) -> str:
    """Escaped text cut to `limit` with "…", never through the middle of an `&amp;` entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    ampersand = cut.rfind("&", max(0, len(cut) - 5))
    if ampersand != -1 and ";" not in cut[ampersand:]:
        cut = cut[:ampersand]
    return cut.rstrip() + "…"


def section(text: str) -> Block:
    """A mrkdwn section, cut to Slack's limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}]}


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"


def result_blocks(rank: int, result: RankedSnippet) -> list[Block]:
    heading = link(result.url, result.title)
    if result.section:
        heading += f" {SECTION_MARK} {escape(result.section)}"
    body = f"*{rank}.* {heading}\n{escape(_excerpt(result.text))}"
    details = [confidence_cue(result)]
    if result.tags:
        details.append("tags: " + ", ".join(escape(t) for t in result.tags[:5]))
    if result.more_in_document:
        details.append(f"{result.more_in_document} more section(s) in this document")
    if not result.url:
        details.append(f"source: {escape(result.source)}")
    value = str(result.snippet_id)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:SECTION_LIMIT]}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(details)}]},
        {
            "type": "actions",
            "block_id": f"rate:{value}",
            "elements": [
                button("Helpful", RATE_UP, value, style="primary"),
                button("Not helpful", RATE_DOWN, value),
            ],
        },
    ]


def answer_blocks(ranking: Ranking, query: str, offset: int = 0) -> list[Block]:
    """The whole answer: a one-line verdict, each result with rating buttons, then follow-ups."""
    if not ranking.results:
        verdict = f"I found nothing for _{escape(query)}_. Try other words, or `/lepton help`."
    elif ranking.listing:
        verdict = f"Snippets matching _{escape(query)}_:"
    elif ranking.confident:
        verdict = f"Here is what I found for _{escape(query)}_:"
    else:
        verdict = (
            f"I found nothing strong for _{escape(query)}_. The closest weak matches, "
            "in case they help:"
        )
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": verdict}}]
    for rank, result in enumerate(ranking.results, start=offset + 1):
        blocks.extend(result_blocks(rank, result))
    follow_ups = []
    if ranking.has_more:
        follow_ups.append(button("More results", MORE_RESULTS, str(offset + len(ranking.results))))
    if ranking.results and not ranking.listing:
        follow_ups.append(button("Why these?", WHY_THESE, "why"))
    if follow_ups:
        blocks.append({"type": "actions", "block_id": "follow_ups", "elements": follow_ups})
    return blocks


def why_text(ranking: Ranking) -> str:
    """Each result's score components, for the "Why these?" reply."""
    lines = ["*Why these results* (score = weighted sum of the parts):"]
    for rank, r in enumerate(ranking.results, start=1):
        lines.append(
            f"{rank}. {escape(r.title)}: score {r.score:.2f} = meaning {r.dense:.2f}, "
            f"words {r.lexical:.2f}, phrases {r.phrase:.2f}, people like you {r.cf:+.2f}, "
            f"ratings {r.prior:+.2f}"
        )
    return "\n".join(lines)


def fallback_text(ranking: Ranking, query: str) -> str:
    """Notification and screen-reader text: titles only, escaped."""
    titles = ", ".join(escape(r.title) for r in ranking.results[:3])
    return f"Lepton: {titles}" if titles else f"Lepton found nothing for {escape(query)}"


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button
