"""`/lepton who <topic>`: the people who wrote or saved the knowledge that answers a topic, and
for a Slack thread the people who answered it (weighted by the reactions their replies earned),
never the person who asked.

Expertise is inferred from the same ranking that answers questions, so "who knows about X"
always agrees with what Lepton would answer about X, and it respects the asker's permissions:
a restricted snippet neither appears nor credits anyone for someone who cannot see it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.search.ranker import RankedSnippet, Ranker
from models import Document, DocumentAnswerer, Rating

CANDIDATES = 50
MAX_VOTE_BONUS = 4  # net up votes beyond this add nothing: one viral snippet is not expertise
SAMPLE_TITLES = 3
THREAD = "slack_thread"
OWNER = "owner:"
"""Tally key prefix of an owner known only by the name front matter gives."""


@dataclass(frozen=True)
class Expert:
    user_id: str | None
    contributed: int
    saved: int
    score: float
    sample_titles: tuple[str, ...]
    owner: str | None = None
    """A document owner named in front matter ("Platform Team", an email) and not matched to
    a Slack user; `user_id` is then None."""


@dataclass
class _Tally:
    contributed: int = 0
    saved: int = 0
    score: float = 0.0
    titles: list[str] = field(default_factory=list)


def experts(
    ranker: Ranker,
    sessions: sessionmaker[Session],
    topic: str,
    limit: int = 5,
    channels: frozenset[str] = frozenset(),
) -> list[Expert]:
    """People ranked by the relevance of the snippets they contributed or saved, each weighted
    up by its net up votes; nobody is named when Lepton has no confident answer on the topic,
    and a snippet that is only loosely related, or that people rated down, earns nothing."""
    if limit <= 0:
        return []
    ranking = ranker.rank(topic, asker=None, channels=channels, limit=CANDIDATES)
    if not ranking.confident or not ranking.results:
        return []
    net, people, answerers = _votes_and_people(sessions, ranking.results)
    # Only snippets that would be a good answer on their own count: a loosely related page
    # must not make its author an expert on the topic.
    floor = 0.0 if ranking.listing else ranker.min_confidence
    tallies: dict[str, _Tally] = {}
    for result in ranking.results:
        votes = net.get(result.snippet_id, 0)
        # A filter-only query ("who tag:k8s") lists exact matches without a similarity.
        relevance = 1.0 if ranking.listing else result.dense
        if votes < 0 or relevance < floor:
            continue
        weight = relevance * (1 + min(votes, MAX_VOTE_BONUS))
        if result.source_type == THREAD:
            credited = _shares(answerers.get(result.document_id, {}))
        else:
            credited = _authorship(*people.get(result.document_id, (None, None, None)))
        for user_id, share, authored in credited:
            _credit(tallies, result.title, user_id, authored, weight * share)
    ranked = sorted(
        ((user_id, t) for user_id, t in tallies.items() if t.score > 0),
        key=lambda item: (-item[1].score, -(item[1].contributed + item[1].saved), item[0]),
    )
    return [
        Expert(
            user_id=None if key.startswith(OWNER) else key,
            contributed=t.contributed,
            saved=t.saved,
            score=t.score,
            sample_titles=tuple(t.titles),
            owner=key.removeprefix(OWNER) if key.startswith(OWNER) else None,
        )
        for key, t in ranked[:limit]
    ]


def _votes_and_people(
    sessions: sessionmaker[Session], results: Sequence[RankedSnippet]
) -> tuple[
    dict[int, int],
    dict[int, tuple[str | None, str | None, str | None]],
    dict[int, dict[str, int]],
]:
    """Net votes by snippet, (author, saver, owner) by document and a thread's answerers by
    document, in one session for all results."""
    snippet_ids = [r.snippet_id for r in results]
    document_ids = {r.document_id for r in results}
    with sessions() as session:
        net = {
            snippet_id: int(total or 0)
            for snippet_id, total in session.execute(
                select(Rating.snippet_id, func.sum(Rating.value))
                .where(Rating.snippet_id.in_(snippet_ids))
                .group_by(Rating.snippet_id)
            )
        }
        people = {
            document_id: (author, saver, owner)
            for document_id, author, saver, owner in session.execute(
                select(
                    Document.id, Document.author_user_id, Document.saved_by_user_id, Document.owner
                ).where(Document.id.in_(document_ids))
            )
        }
        answerers: dict[int, dict[str, int]] = {}
        for document_id, user_id, weight in session.execute(
            select(
                DocumentAnswerer.document_id, DocumentAnswerer.user_id, DocumentAnswerer.weight
            ).where(DocumentAnswerer.document_id.in_(document_ids))
        ):
            answerers.setdefault(document_id, {})[user_id] = weight
    return net, people, answerers


def _shares(answerers: dict[str, int]) -> list[tuple[str, float, bool]]:
    """A thread's answerers, the most appreciated getting the thread's full weight."""
    top = max(answerers.values(), default=1)
    return [(user_id, weight / top, True) for user_id, weight in sorted(answerers.items())]


def _authorship(
    author: str | None, saver: str | None, owner: str | None
) -> list[tuple[str, float, bool]]:
    """A document's author (or, for a page with none, the owner its front matter names), and
    whoever saved it unless that is the author again (saving one's own message is not a second
    contribution)."""
    if author:
        credited = [(author, 1.0, True)]
    elif owner and owner.strip():
        credited = [(OWNER + " ".join(owner.split()), 1.0, True)]
    else:
        credited = []
    if saver and saver != author:
        credited.append((saver, 1.0, False))
    return credited


def _credit(
    tallies: dict[str, _Tally], title: str, user_id: str, authored: bool, weight: float
) -> None:
    tally = tallies.setdefault(user_id, _Tally())
    if authored:
        tally.contributed += 1
    else:
        tally.saved += 1
    tally.score += weight
    if len(tally.titles) < SAMPLE_TITLES and title not in tally.titles:
        tally.titles.append(title)
