"""What a closed round keeps of people's answers. Whoever holds the bot token can read in each
survey DM which questions its person answered and whether they commented, so the stored rows
must not single anyone out even to someone who knows that:

- each answer is its own row, linked to no other answer nor to a comment, so a partial set of
  answers cannot be matched to the person who gave it;
- a question fewer than the threshold answered keeps only that count (the digest hides it
  anyway), and so do comments when fewer than the threshold wrote one;
- within a question, a channel with fewer answers than the threshold is merged into an unnamed
  group of at least that size, since the only answer tagged with a small channel would belong
  to the one person there who answered;
- rows come out in the order of their content, which says nothing about who or when.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from people.surveys.sealing import Draft

UNNAMED = ""
"""The stored name of the group without a channel, in a round's tally."""


@dataclass(frozen=True)
class ClosedRound:
    answers: list[tuple[str, int, str | None]] = field(default_factory=list)
    """(question, value, channel or None), sorted."""
    comments: list[str] = field(default_factory=list)
    respondents: Counter[str] = field(default_factory=Counter)
    """People who answered, per channel (merged like answers; UNNAMED for the rest)."""
    withheld: Counter[str] = field(default_factory=Counter)
    """Answers not kept, per question."""
    comments_withheld: int = 0

    def tally(self) -> dict[str, Any]:
        """The counts stored on the round, for the digest."""
        return {
            "respondents": dict(self.respondents),
            "withheld": dict(self.withheld),
            "comments_withheld": self.comments_withheld,
        }


def close_drafts(drafts: Sequence[Draft], threshold: int) -> ClosedRound:
    threshold = max(1, threshold)
    kept = _segments_to_keep([d.segment for d in drafts], threshold)
    respondents = Counter((d.segment if d.segment in kept else None) or UNNAMED for d in drafts)
    by_question: dict[str, list[tuple[int, str | None]]] = {}
    for draft in drafts:
        for question, value in draft.answers.items():
            by_question.setdefault(question, []).append((value, draft.segment))
    answers: list[tuple[str, int, str | None]] = []
    withheld: Counter[str] = Counter()
    for question, given in by_question.items():
        if len(given) < threshold:
            withheld[question] = len(given)
            continue
        channels = _segments_to_keep([s for _, s in given], threshold)
        answers += [(question, v, s if s in channels else None) for v, s in given]
    comments = sorted(d.comment for d in drafts if d.comment)
    return ClosedRound(
        answers=sorted(answers, key=lambda a: (a[0], a[1], a[2] or UNNAMED)),
        comments=comments if len(comments) >= threshold else [],
        respondents=respondents,
        withheld=withheld,
        comments_withheld=0 if len(comments) >= threshold else len(comments),
    )


def respondents_of(tally: dict[str, Any] | None) -> dict[str | None, int]:
    return {name or None: int(n) for name, n in _counts(tally, "respondents").items()}


def withheld_of(tally: dict[str, Any] | None) -> dict[str, int]:
    return {name: int(n) for name, n in _counts(tally, "withheld").items()}


def _counts(tally: dict[str, Any] | None, key: str) -> dict[str, Any]:
    found = (tally or {}).get(key)
    return found if isinstance(found, dict) else {}


def _segments_to_keep(segments: Iterable[str | None], threshold: int) -> set[str]:
    """Segments with at least `threshold` entries, minus the smallest of them while the unnamed
    rest (small segments and entries without one) is smaller than `threshold` but not empty."""
    listed = list(segments)
    sizes = Counter(s for s in listed if s is not None)
    kept = {s: n for s, n in sizes.items() if n >= threshold}
    unnamed = len(listed) - sum(kept.values())
    while kept and 0 < unnamed < threshold:
        smallest = min(kept, key=lambda s: (kept[s], s))
        unnamed += kept.pop(smallest)
    return set(kept)
