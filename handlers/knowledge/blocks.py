"""Block Kit for answers: a one-line verdict, each result with its source, why it ranked and
rating buttons, then the follow-ups; all text escaped through `handlers.plumbing.blocks`."""

from __future__ import annotations

from handlers.plumbing.blocks import (
    SECTION_LIMIT,
    Block,
    button,
    destination,
    escape,
    link,
    shown_source,
)
from indexer.search.ranker import RankedSnippet, Ranking

EXCERPT_CHARS = 280
SECTION_MARK = "\u203a"
RATE_UP = "rate_up"
RATE_DOWN = "rate_down"
MORE_RESULTS = "more_results"
WHY_THESE = "why_these"


def confidence_cue(result: RankedSnippet) -> str:
    if result.dense >= 0.6:
        return "strong match"
    if result.dense >= 0.45:
        return "good match"
    return "possible match"


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
    if host := destination(result.url):
        details.append(f"on {host}")
    else:
        details.append(f"source: {escape(shown_source(result.source))}")
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
