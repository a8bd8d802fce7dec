"""Block Kit for answers: a one-line verdict, the answer line (the sentences of the results that
answer the question, quoted, each linked to where it comes from), then each result as one
section (its title, source and a confidence cue that never contradicts the order, then the
passage around its best-matching sentence, rendered from its Markdown) and one row of rating
buttons, then the follow-ups. All text is escaped."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from handlers.knowledge.mrkdwn import unit_mrkdwn
from handlers.plumbing.blocks import (
    SECTION_LIMIT,
    Block,
    button,
    destination,
    escape,
    link,
    section,
    shown_source,
)
from indexer.answers.compose import NOTHING, PASSAGE_CHARS, Composed, Passage, Quote, readable
from indexer.answers.passages import Unit
from indexer.answers.sentences import quotable
from indexer.search.ranker import RankedSnippet, Ranking

SECTION_MARK = "\u203a"
RATE_UP = "rate_up"
RATE_DOWN = "rate_down"
MORE_RESULTS = "more_results"
WHY_THESE = "why_these"
CUES = ("strong match", "good match", "possible match")


def confidence_cue(result: RankedSnippet) -> str:
    if result.dense >= 0.6:
        return CUES[0]
    if result.dense >= 0.45:
        return CUES[1]
    return CUES[2]


def confidence_cues(results: list[RankedSnippet]) -> list[str]:
    """One cue per result, never stronger than the one above it: a label must not say the
    third result is better than the second."""
    cues: list[str] = []
    for result in results:
        level = CUES.index(confidence_cue(result))
        if cues:
            level = max(level, CUES.index(cues[-1]))
        cues.append(CUES[level])
    return cues


def passage(
    result: RankedSnippet, chosen: Passage | None = None, budget: int = PASSAGE_CHARS
) -> str:
    """The snippet as Slack shows it, in whole units (a code block, a list item, a table row,
    a reply) while they fit, from the unit holding its best sentence when `chosen` says which:
    a thread shows its replies with who wrote them, not the question again, and the heading
    already in the result's title is not repeated."""
    if chosen is not None and chosen.units:
        shown: list[Unit] = list(chosen.units)
    else:
        shown = readable(quotable(result.text, result.source_type).units)
    parts: list[str] = []
    used = 0
    for unit in shown:
        text = unit_mrkdwn(unit)
        if parts and used + len(text) > budget:
            break
        if not parts and len(text) > budget:
            text = _clip_unit(text, budget)
        parts.append(text)
        used += len(text)
    if chosen is not None and chosen.starts_later:
        parts.insert(0, "…")
    return "\n".join(parts)


def _clip_unit(text: str, budget: int) -> str:
    """A unit longer than the whole budget, cut at a line (a code block is closed again)."""
    kept = text[:budget].rsplit("\n", 1)[0] if "\n" in text[:budget] else text[: budget - 1]
    if kept.count("```") % 2:
        kept += "\n```"
    return kept.rstrip() + ("…" if not kept.endswith("```") else "")


def result_blocks(
    rank: int, result: RankedSnippet, cue: str | None = None, chosen: Passage | None = None
) -> list[Block]:
    heading = link(result.url, result.title)
    if result.section:
        heading += f" {SECTION_MARK} {escape(result.section)}"
    details = [cue or confidence_cue(result)]
    if result.more_in_document:
        details.append(f"{result.more_in_document} more in this document")
    if host := destination(result.url):
        details.append(f"on {host}")
    else:
        details.append(f"source: {escape(shown_source(result.source))}")
    body = f"*{rank}.* {heading}  _{' · '.join(details)}_\n{passage(result, chosen)}"
    value = str(result.snippet_id)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": body[:SECTION_LIMIT]}},
        {
            "type": "actions",
            "block_id": f"rate:{value}",
            "elements": [
                button("Helpful", RATE_UP, value, style="primary"),
                button("Not helpful", RATE_DOWN, value),
            ],
        },
    ]


def answer_line(composed: Composed, results: list[RankedSnippet]) -> str | None:
    """The quoted sentences, those of one source (one person, in a thread) together, each group
    followed by the number and link of the result it comes from; None when nothing answers the
    question well enough to quote."""
    if not composed.quotes:
        return None
    by_id = {r.snippet_id: (n, r) for n, r in enumerate(results, start=1)}
    groups: list[list[Quote]] = []
    for quote in composed.quotes:
        last = groups[-1][-1] if groups else None
        if last and (last.snippet_id, last.author) == (quote.snippet_id, quote.author):
            groups[-1].append(quote)
        else:
            groups.append([quote])
    lines = []
    for group in groups:
        said = escape(group[0].text)
        for before, quote in pairwise(group):
            said += (" " if quote.position == before.position + 1 else " … ") + escape(quote.text)
        rank, result = by_id[group[0].snippet_id]
        if group[0].author:
            where = f"{escape(group[0].author)} in {link(result.url, result.section or 'Slack')}"
        else:
            where = link(result.url, result.title)
        lines.append(f">{said}  _— {rank}. {where}_")
    return "\n".join(lines)


def answer_blocks(
    ranking: Ranking,
    query: str,
    offset: int = 0,
    extra: Sequence[Block] = (),
    composed: Composed | None = None,
) -> list[Block]:
    """The whole answer: a one-line verdict, the answer line when `composed` quotes one, each
    result with rating buttons, then follow-ups (`extra` buttons, such as *Share to channel*,
    join them)."""
    if not ranking.results:
        verdict = f"I found nothing for _{escape(query)}_. Try other words, or `/lepton help`."
    elif ranking.listing:
        verdict = f"Snippets matching _{escape(query)}_:"
    elif ranking.unmatched_phrases:
        quoted = ", ".join(f"“{escape(p)}”" for p in ranking.unmatched_phrases)
        verdict = f"Nothing contains {quoted} word for word; the closest matches:"
    elif ranking.confident:
        verdict = f"Here is what I found for _{escape(query)}_:"
    else:
        verdict = (
            f"I found nothing strong for _{escape(query)}_. The closest weak matches, "
            "in case they help:"
        )
    blocks: list[Block] = [{"type": "section", "text": {"type": "mrkdwn", "text": verdict}}]
    composed = composed or NOTHING
    if quoted := answer_line(composed, ranking.results):
        blocks.append(section(quoted))
    cues = confidence_cues(ranking.results)
    for rank, (result, cue) in enumerate(zip(ranking.results, cues, strict=True), offset + 1):
        blocks.extend(result_blocks(rank, result, cue, composed.passages.get(result.snippet_id)))
    follow_ups = []
    if ranking.has_more:
        follow_ups.append(button("More results", MORE_RESULTS, str(offset + len(ranking.results))))
    if ranking.results and not ranking.listing:
        follow_ups.append(button("Why these?", WHY_THESE, "why"))
    follow_ups.extend(extra)
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
