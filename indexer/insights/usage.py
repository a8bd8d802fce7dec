"""Admin insights: how much Lepton is used, how often it answers, what people rate well, and the
questions nobody could answer yet, so admins know what to write next.

Days are UTC calendar days: every process (web, worker, CLI) then agrees on "yesterday"
whatever the host's zone, and a question is never counted on two days.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from models import Document, KnowledgeGap, QueryLog, Rating, Snippet
from models.base import utcnow
from models.knowledge import PUBLIC

EXAMPLES_PER_GAP = 3
EXAMPLE_SCAN = 50  # recent questions read per gap to find distinct examples


@dataclass(frozen=True)
class DayUsage:
    day: date
    questions: int
    answered: int


@dataclass(frozen=True)
class TopSnippet:
    snippet_id: int
    title: str
    url: str | None
    source: str
    up: int
    down: int

    @property
    def link(self) -> str:
        """Where an admin goes to read it: the URL, else the source path."""
        return self.url or self.source


@dataclass(frozen=True)
class UsageReport:
    """Questions and ratings in the window `since`..`until` (UTC days, both included);
    `top_snippets` ranks snippets by everyone's current ratings, whenever they were cast, since
    that is the standing the ranker uses."""

    since: date
    until: date
    days: tuple[DayUsage, ...]
    total_questions: int
    answered: int
    answered_share: float | None
    ratings_up: int
    ratings_down: int
    raters: int
    top_snippets: tuple[TopSnippet, ...]


@dataclass(frozen=True)
class GapSummary:
    id: int
    label: str
    question_count: int
    last_seen_at: datetime
    examples: tuple[str, ...]
    """Questions as asked, from places the viewer may quote (never a DM or private channel)."""
    withheld: int = 0
    """How many of the gap's recent questions were asked where they may not be quoted."""

    @property
    def heading(self) -> str | None:
        """What the gap is about in a quotable person's words; None when all were private."""
        return self.examples[0] if self.examples else None


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def usage_report(
    sessions: sessionmaker[Session],
    days: int = 14,
    now: datetime | None = None,
    top: int = 5,
    channels: frozenset[str] = frozenset(),
) -> UsageReport:
    """Per-day questions (quiet days included as zeros, so a chart shows the gaps), the share
    answered, the window's ratings, and the best-rated snippets overall."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = _aware(now).date()
    first = today - timedelta(days=days - 1)
    start, end = _midnight(first), _midnight(today + timedelta(days=1))
    per_day = {first + timedelta(days=n): [0, 0] for n in range(days)}
    with sessions() as session:
        asked = session.execute(
            select(QueryLog.created_at, QueryLog.answered).where(
                QueryLog.created_at >= start, QueryLog.created_at < end
            )
        )
        for created_at, answered in asked:
            counts = per_day[created_at.astimezone(UTC).date()]
            counts[0] += 1
            counts[1] += int(bool(answered))
        up, down, raters = session.execute(
            select(
                func.coalesce(func.sum(case((Rating.value > 0, 1), else_=0)), 0),
                func.coalesce(func.sum(case((Rating.value < 0, 1), else_=0)), 0),
                func.count(func.distinct(Rating.user_id)),
            ).where(Rating.updated_at >= start, Rating.updated_at < end)
        ).one()
        top_snippets = _top_snippets(session, top, channels)
    rows = tuple(DayUsage(day, q, a) for day, (q, a) in per_day.items())
    total = sum(r.questions for r in rows)
    answered_total = sum(r.answered for r in rows)
    return UsageReport(
        since=first,
        until=today,
        days=rows,
        total_questions=total,
        answered=answered_total,
        answered_share=answered_total / total if total else None,
        ratings_up=int(up),
        ratings_down=int(down),
        raters=int(raters),
        top_snippets=top_snippets,
    )


def _top_snippets(session: Session, top: int, channels: frozenset[str]) -> tuple[TopSnippet, ...]:
    """Net votes first (what people agree on), then sheer number of up votes; a snippet
    restricted to a private channel only for a viewer who may see it there (`channels`)."""
    if top <= 0:
        return ()
    up = func.sum(case((Rating.value > 0, 1), else_=0))
    down = func.sum(case((Rating.value < 0, 1), else_=0))
    net = func.sum(Rating.value)
    votes = (
        select(
            Rating.snippet_id.label("snippet_id"),
            up.label("up"),
            down.label("down"),
            net.label("net"),
        )
        .group_by(Rating.snippet_id)
        .having(net > 0)
        .subquery()
    )
    rows = session.execute(
        select(
            Snippet.id,
            Snippet.title,
            func.coalesce(Snippet.url, Document.url),
            Document.source,
            votes.c.up,
            votes.c.down,
        )
        .join(votes, votes.c.snippet_id == Snippet.id)
        .join(Document, Document.id == Snippet.document_id)
        .where(or_(Snippet.visibility == PUBLIC, Snippet.channel_id.in_(sorted(channels))))
        .order_by(votes.c.net.desc(), votes.c.up.desc(), Snippet.id)
        .limit(top)
    )
    return tuple(
        TopSnippet(
            snippet_id=snippet_id,
            title=title,
            url=url,
            source=source,
            up=int(up_votes),
            down=int(down_votes),
        )
        for snippet_id, title, url, source, up_votes, down_votes in rows
    )


def open_gaps(
    sessions: sessionmaker[Session],
    limit: int = 10,
    since_days: int = 30,
    now: datetime | None = None,
    quotable: Callable[[str | None], bool] = lambda _channel: True,
) -> list[GapSummary]:
    """Unresolved gaps asked about within the window, most asked first, then most recent, each
    with a few of the actual questions so an admin sees how people phrase it: only questions
    asked where `quotable(channel_id)` holds are quoted, the others only counted."""
    if limit <= 0:
        return []
    cutoff = _aware(now) - timedelta(days=since_days)
    with sessions() as session:
        gaps = session.scalars(
            select(KnowledgeGap)
            .where(KnowledgeGap.resolved_at.is_(None), KnowledgeGap.last_seen_at >= cutoff)
            .order_by(
                KnowledgeGap.question_count.desc(),
                KnowledgeGap.last_seen_at.desc(),
                KnowledgeGap.id.desc(),
            )
            .limit(limit)
        ).all()
        examples, withheld = _examples(session, [g.id for g in gaps], quotable)
    return [
        GapSummary(
            id=g.id,
            label=g.label,
            question_count=g.question_count,
            last_seen_at=g.last_seen_at,
            examples=tuple(examples.get(g.id, ())),
            withheld=withheld.get(g.id, 0),
        )
        for g in gaps
    ]


def _examples(
    session: Session, gap_ids: list[int], quotable: Callable[[str | None], bool]
) -> tuple[dict[int, list[str]], dict[int, int]]:
    """Up to EXAMPLES_PER_GAP distinct quotable questions per gap (ignoring case and spacing),
    newest first, and how many recent ones were not quotable; a window function bounds the rows
    read however often a gap was asked."""
    if not gap_ids:
        return {}, {}
    position = (
        func.row_number()
        .over(
            partition_by=QueryLog.gap_id,
            order_by=(QueryLog.created_at.desc(), QueryLog.id.desc()),
        )
        .label("position")
    )
    recent = (
        select(
            QueryLog.gap_id.label("gap_id"),
            QueryLog.query.label("query"),
            QueryLog.channel_id.label("channel_id"),
            position,
        )
        .where(QueryLog.gap_id.in_(gap_ids))
        .subquery()
    )
    out: dict[int, list[str]] = {}
    seen: dict[int, set[str]] = {}
    withheld: dict[int, int] = {}
    rows = session.execute(
        select(recent.c.gap_id, recent.c.query, recent.c.channel_id)
        .where(recent.c.position <= EXAMPLE_SCAN)
        .order_by(recent.c.gap_id, recent.c.position)
    )
    for gap_id, query, channel_id in rows:
        if not quotable(channel_id):
            withheld[gap_id] = withheld.get(gap_id, 0) + 1
            continue
        text = " ".join(query.split())
        key = text.casefold()
        found = out.setdefault(gap_id, [])
        keys = seen.setdefault(gap_id, set())
        if not text or key in keys or len(found) >= EXAMPLES_PER_GAP:
            continue
        keys.add(key)
        found.append(text)
    return out, withheld
