"""What managers see after a pulse-survey round: averages, eNPS, distributions, per-channel
results, comments and themes, built from anonymous responses without any Slack code.

Anonymity rules, applied here so no renderer can get them wrong:

- A round shows nothing but its response count until it is closed and has at least the
  survey's `anonymity_threshold` responses; an open round is never previewed, since two
  previews a few answers apart would reveal those answers.
- A question answered by fewer than the threshold (people may skip one) is hidden too.
- Per-channel results are all-or-nothing (complementary suppression): if any group, including
  responses without a channel, is below the threshold, no group is shown, because the others
  subtracted from the total would reveal it. The same holds per question within the groups.
- Comments appear only when at least the threshold people wrote one (the survey DM tells
  whoever holds the bot token who commented), shuffled so their order does not hint at who
  answered first; a theme must appear in at least two comments, so one person's wording never
  becomes a headline.
- Answers arrive unlinked (`QuestionAnswer`): no digest can combine one person's answers.
- The trend never shows a value for a round that was itself withheld.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from statistics import fmean

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from people.surveys.definitions import Question, SurveyDefinition

HEADLINE_KINDS = ("likert", "enps")
THEME_COUNT = 5
ENPS_PROMOTER = 9
ENPS_DETRACTOR = 6


@dataclass(frozen=True)
class QuestionAnswer:
    """One answer to one question; nothing links it to its author's other answers."""

    question: str
    value: int
    segment: str | None = None


@dataclass(frozen=True)
class RoundResults:
    number: int
    opened_on: date
    asked: int
    respondents: Mapping[str | None, int]
    """How many people answered, per channel as stored (None: no channel, or merged)."""
    answers: tuple[QuestionAnswer, ...] = ()
    comments: tuple[str, ...] = ()
    closed: bool = True
    withheld: Mapping[str, int] = field(default_factory=dict)
    """Answers not kept at close, per question, because too few gave one."""
    comments_withheld: int = 0

    @property
    def responded(self) -> int:
        return sum(self.respondents.values())


@dataclass(frozen=True)
class QuestionSummary:
    """One question's results; `hidden` when too few answered it to show anything."""

    id: str
    text: str
    kind: str
    answered: int
    average: float | None
    distribution: tuple[tuple[str, int], ...]
    enps: float | None = None
    change: float | None = None
    hidden: bool = False

    @property
    def headline(self) -> float | None:
        """The number a manager watches: eNPS for enps, the average for likert."""
        return {"enps": self.enps, "likert": self.average}.get(self.kind)


@dataclass(frozen=True)
class SegmentSummary:
    name: str
    responded: int
    averages: tuple[tuple[str, float | None], ...]


@dataclass(frozen=True)
class TrendPoint:
    number: int
    opened_on: date
    values: tuple[tuple[str, float | None], ...]


@dataclass(frozen=True)
class Digest:
    survey_key: str
    title: str
    round_number: int
    opened_on: date
    asked: int
    responded: int
    response_rate: float
    threshold: int
    withheld: bool
    withheld_reason: str
    questions: tuple[QuestionSummary, ...]
    segments: tuple[SegmentSummary, ...]
    segments_hidden: bool
    segments_hidden_reason: str
    comments: tuple[str, ...]
    themes: tuple[str, ...]
    trend: tuple[TrendPoint, ...]
    previous_round: int | None = None
    comments_withheld: int = 0
    """Comments not shown because fewer than the threshold people wrote one."""


def build_digest(
    definition: SurveyDefinition,
    current: RoundResults,
    history: Sequence[RoundResults],
    rng: random.Random | None = None,
    trend_rounds: int = 8,
) -> Digest:
    """The digest for `current`, comparing it with the latest earlier round in `history`."""
    threshold = definition.anonymity_threshold
    responded = current.responded
    earlier = [r for r in history if r.number < current.number]
    previous = max(earlier, key=lambda r: r.number, default=None)
    reason = _withheld_reason(current, threshold)
    segments: tuple[SegmentSummary, ...] = ()
    segments_hidden, segments_reason = False, ""
    questions: tuple[QuestionSummary, ...] = ()
    comments: tuple[str, ...] = ()
    withheld_comments = 0
    if not reason:
        questions = tuple(_summarise(q, current, previous, threshold) for q in definition.questions)
        segments, segments_hidden, segments_reason = _segments(definition, current)
        comments = _shuffled_comments(current.comments, rng or random.SystemRandom())
        withheld_comments = current.comments_withheld
        if len(comments) < threshold:
            comments, withheld_comments = (), withheld_comments + len(comments)
    return Digest(
        survey_key=definition.key,
        title=definition.title,
        round_number=current.number,
        opened_on=current.opened_on,
        asked=current.asked,
        responded=responded,
        response_rate=min(1.0, responded / current.asked) if current.asked > 0 else 0.0,
        threshold=threshold,
        withheld=bool(reason),
        withheld_reason=reason,
        questions=questions,
        segments=segments,
        segments_hidden=segments_hidden,
        segments_hidden_reason=segments_reason,
        comments=comments,
        themes=_themes(comments),
        trend=_trend(definition, current, history, max(1, trend_rounds)),
        previous_round=previous.number if previous else None,
        comments_withheld=withheld_comments,
    )


def enps_score(values: Sequence[int]) -> float | None:
    """% promoters (9-10) minus % detractors (0-6), one decimal; None without answers."""
    if not values:
        return None
    promoters = sum(v >= ENPS_PROMOTER for v in values)
    detractors = sum(v <= ENPS_DETRACTOR for v in values)
    return round(100 * (promoters - detractors) / len(values), 1)


def digest_text(digest: Digest, definition: SurveyDefinition) -> str:
    """Plain text for a terminal or a notification fallback; no markup, nothing escaped."""
    lines = [
        f"{digest.title}, round {digest.round_number} (opened {digest.opened_on.isoformat()})",
        f"{digest.responded} of {digest.asked} answered ({digest.response_rate:.0%})",
    ]
    if digest.withheld:
        return "\n".join([*lines, digest.withheld_reason])
    for number, summary in enumerate(digest.questions, start=1):
        lines += ["", f"{number}. {summary.text}", f"   {headline_text(summary, digest)}"]
        if not summary.hidden:
            lines.append("   " + " · ".join(f"{k} {n}" for k, n in compact_distribution(summary)))
    if digest.segments:
        lines += ["", "By channel:"]
        lines += [
            f"  {s.name} ({s.responded}): {segment_values(s, digest)}" for s in digest.segments
        ]
    elif digest.segments_hidden:
        lines += ["", digest.segments_hidden_reason]
    if digest.themes:
        lines += ["", "Themes: " + ", ".join(digest.themes)]
    if digest.comments:
        lines += ["", "Comments:"]
        lines += ["> " + c.replace("\n", "\n> ") for c in digest.comments]
    elif digest.comments_withheld:
        lines += ["", withheld_comments_text(digest)]
    return "\n".join(lines)


def withheld_comments_text(digest: Digest) -> str:
    n = digest.comments_withheld
    return (
        f"{n} {'comment is' if n == 1 else 'comments are'} withheld: comments appear when at "
        f"least {digest.threshold} people write one, so none can be traced to its author."
    )


def headline_text(summary: QuestionSummary, digest: Digest) -> str:
    """One line shared by text and Block Kit, e.g. "Average 4.1 / 5, ▲ +0.4 since round 2"."""
    if summary.hidden:
        return (
            f"Only {summary.answered} answered this question; hidden below "
            f"{digest.threshold} answers so nobody can be singled out."
        )
    if summary.kind == "choice":
        return f"{summary.answered} answered"
    if summary.kind == "enps":
        shown = f"eNPS {summary.enps:+.1f} (average {summary.average:.1f} / 10)"
    else:
        shown = f"Average {summary.average:.1f} / 5"
    if summary.change is not None:
        rounded = round(summary.change, 1)
        arrow = "▲" if rounded > 0 else "▼" if rounded < 0 else "■"
        shown += f", {arrow} {summary.change:+.1f} since round {digest.previous_round}"
    return f"{shown}, {summary.answered} answered"


def compact_distribution(summary: QuestionSummary) -> tuple[tuple[str, int], ...]:
    """The distribution as few buckets: eNPS as detractors / passives / promoters."""
    if summary.kind != "enps":
        return summary.distribution
    counts = [n for _, n in summary.distribution]
    return (
        ("Detractors (0-6)", sum(counts[: ENPS_DETRACTOR + 1])),
        ("Passives (7-8)", sum(counts[ENPS_DETRACTOR + 1 : ENPS_PROMOTER])),
        ("Promoters (9-10)", sum(counts[ENPS_PROMOTER:])),
    )


def segment_values(segment: SegmentSummary, digest: Digest) -> str:
    """Like "Q1 4.2 · Q2 eNPS +10.0", with "hidden" where the question is hidden for every group."""
    kinds = {q.id: (n, q.kind) for n, q in enumerate(digest.questions, start=1)}
    parts = []
    for question_id, value in segment.averages:
        number, kind = kinds.get(question_id, (0, "choice"))
        if kind == "choice":
            continue
        if value is None:
            parts.append(f"Q{number} hidden")
        else:
            parts.append(
                f"Q{number} eNPS {value:+.1f}" if kind == "enps" else f"Q{number} {value:.1f}"
            )
    return " · ".join(parts)


def _withheld_reason(current: RoundResults, threshold: int) -> str:
    if not current.closed:
        return (
            "Results are withheld until the round closes, so two previews cannot be compared "
            "to single out one answer."
        )
    responded = current.responded
    if responded >= threshold:
        return ""
    people = "person" if current.asked == 1 else "people"
    said = (
        f"Only {responded} of {current.asked} {people} answered"
        if responded
        else f"Nobody answered (of {current.asked} {people} asked)"
    )
    return f"{said}; results appear at {threshold} or more responses so nobody can be singled out."


def _visible(round_: RoundResults, threshold: int) -> bool:
    return round_.closed and round_.responded >= threshold


def _values(question: Question, answers: Sequence[QuestionAnswer]) -> list[int]:
    """Answers that are one of the question's choices; others (options since changed) are
    dropped rather than miscounted."""
    allowed = {value for value, _ in question.choices()}
    return [a.value for a in answers if a.question == question.id and a.value in allowed]


def _headline(question: Question, values: Sequence[int], threshold: int) -> float | None:
    if question.kind not in HEADLINE_KINDS or len(values) < max(1, threshold):
        return None
    return enps_score(values) if question.kind == "enps" else fmean(values)


def _summarise(
    question: Question, current: RoundResults, previous: RoundResults | None, threshold: int
) -> QuestionSummary:
    values = _values(question, current.answers)
    if len(values) < threshold:
        answered = len(values) + current.withheld.get(question.id, 0)
        return QuestionSummary(
            question.id, question.text, question.kind, answered, None, (), hidden=True
        )
    headline = _headline(question, values, threshold)
    change = None
    if previous is not None and headline is not None and _visible(previous, threshold):
        before = _headline(question, _values(question, previous.answers), threshold)
        change = None if before is None else round(headline - before, 2)
    return QuestionSummary(
        id=question.id,
        text=question.text,
        kind=question.kind,
        answered=len(values),
        average=fmean(values) if question.kind in HEADLINE_KINDS else None,
        distribution=tuple((label, values.count(v)) for v, label in question.choices()),
        enps=enps_score(values) if question.kind == "enps" else None,
        change=change,
    )


def _segments(
    definition: SurveyDefinition, current: RoundResults
) -> tuple[tuple[SegmentSummary, ...], bool, str]:
    """Every group at or above the threshold, or none at all. Answers without a segment are a
    group too for the check: total minus the shown groups would otherwise reveal them."""
    if not definition.segment_by_channel:
        return (), False, ""
    threshold = definition.anonymity_threshold
    sizes = {name: n for name, n in current.respondents.items() if n}
    groups: dict[str | None, list[QuestionAnswer]] = {name: [] for name in sizes}
    for answer in current.answers:
        groups.setdefault(answer.segment, []).append(answer)
    if not any(name is not None for name in groups):
        return (), False, ""
    if any(sizes.get(name, 0) < threshold for name in groups):
        return (
            (),
            True,
            f"Per-channel results are hidden: at least one group has fewer than {threshold} "
            "responses.",
        )
    shown_questions = {
        q.id
        for q in definition.questions
        if not any(0 < len(_values(q, group)) < threshold for group in groups.values())
    }
    segments = tuple(
        SegmentSummary(
            name=name,
            responded=sizes[name],
            averages=tuple(
                (
                    q.id,
                    _headline(q, _values(q, group), threshold) if q.id in shown_questions else None,
                )
                for q in definition.questions
            ),
        )
        for name, group in sorted((n, g) for n, g in groups.items() if n is not None)
    )
    return segments, False, ""


def _shuffled_comments(comments: Sequence[str], rng: random.Random) -> tuple[str, ...]:
    shown = [c.strip() for c in comments if c.strip()]
    rng.shuffle(shown)
    return tuple(shown)


def _themes(comments: Sequence[str]) -> tuple[str, ...]:
    """The words and two-word phrases most comments share; each needs two comments at least."""
    if len(comments) < 2:
        return ()
    vectorizer = CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=2, binary=True)
    try:
        matrix = vectorizer.fit_transform(comments)
    except ValueError:
        return ()
    frequency = np.asarray((matrix > 0).sum(axis=0)).ravel()
    ranked = sorted(
        zip(vectorizer.get_feature_names_out(), frequency, strict=True),
        key=lambda item: (-int(item[1]), str(item[0])),
    )
    return tuple(str(term) for term, _ in ranked[:THEME_COUNT])


def _trend(
    definition: SurveyDefinition,
    current: RoundResults,
    history: Sequence[RoundResults],
    limit: int,
) -> tuple[TrendPoint, ...]:
    threshold = definition.anonymity_threshold
    by_number = {r.number: r for r in history if r.number < current.number}
    by_number[current.number] = current
    rounds = [by_number[n] for n in sorted(by_number)][-limit:]
    charted = [q for q in definition.questions if q.kind in HEADLINE_KINDS]
    return tuple(
        TrendPoint(
            number=r.number,
            opened_on=r.opened_on,
            values=tuple(
                (
                    q.id,
                    _headline(q, _values(q, r.answers), threshold)
                    if _visible(r, threshold)
                    else None,
                )
                for q in charted
            ),
        )
        for r in rounds
    )
