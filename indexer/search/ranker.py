"""The one search entry point every surface uses: query + asker -> ranked snippets, each with the
score components that "Why these?" shows.

Pipeline: parse filters -> embed -> FAISS and BM25 candidates -> permission and query filters ->
blend dense, lexical, the asker's collaborative-filtering score and the snippet's rating prior ->
collapse snippets of the same document -> an honest "no good answer" below a calibrated score.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from sqlalchemy import Select, select

from indexer.ingest.chunking import embedding_text
from indexer.learning.feedback import Feedback
from indexer.search.hybrid import BlendWeights, blend, normalise_lexical, phrase_overlap, retrieve
from indexer.search.index_store import KnowledgeIndex
from indexer.search.openings import TitleMatcher, names_a_document
from indexer.search.query import ParsedQuery, parse_query
from models import Document, Snippet
from models.knowledge import PUBLIC

MIN_CONFIDENCE = 0.35
DEFAULT_WEIGHTS = BlendWeights()
WEAK_LIMIT = 3
FILTERED_CANDIDATE_FACTOR = 10
LISTING_SCAN = 2_000


@dataclass(frozen=True)
class RankedSnippet:
    snippet_id: int
    document_id: int
    title: str
    section: str | None
    text: str
    url: str | None
    source: str
    tags: list[str]
    topic: str | None
    score: float
    dense: float
    lexical: float
    phrase: float
    cf: float
    prior: float
    more_in_document: int = 0
    source_type: str = ""
    """The loader it came from: "slack_thread" text is one "Name: message" line per post."""
    ordinal: int = 0
    """Its place in its document."""

    @property
    def link(self) -> str:
        """Where a person goes to read more: the URL, else the source path."""
        return self.url or self.source


@dataclass(frozen=True)
class Ranking:
    query: ParsedQuery
    results: list[RankedSnippet]
    confident: bool
    listing: bool = False
    has_more: bool = False
    query_vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    unmatched_phrases: tuple[str, ...] = ()
    """Quoted phrases no candidate contains: searched as plain words instead, since a quote in
    a question is as often a title or a name as a must-match phrase."""

    @property
    def top_score(self) -> float | None:
        return max(r.dense for r in self.results) if self.results else None


class Restricted(Protocol):
    visibility: str
    channel_id: str | None


def visible(snippet: Restricted, channels: frozenset[str]) -> bool:
    """Public snippets for everyone; channel-restricted ones for that channel's members only."""
    return snippet.visibility == PUBLIC or snippet.channel_id in channels


@dataclass(frozen=True, slots=True)
class _Row:
    """What ranking reads of a candidate, loaded as plain columns: building ORM objects for a
    few hundred candidates took a third of a search (bench.search_scale)."""

    id: int
    document_id: int
    title: str
    section: str | None
    text: str
    url: str | None
    channel_id: str | None
    visibility: str
    tags: list[str] | None
    topic: str | None
    source: str
    source_type: str
    ordinal: int


_ROWS = select(
    Snippet.id,
    Snippet.document_id,
    Snippet.title,
    Snippet.section,
    Snippet.text,
    Snippet.url,
    Snippet.channel_id,
    Snippet.visibility,
    Snippet.tags,
    Snippet.topic,
    Document.source,
    Document.source_type,
    Snippet.ordinal,
).join(Document, Document.id == Snippet.document_id)


SECTION_TIE_BREAK = 0.1
"""How much keywords and phrases count when choosing which section stands for a document
(bench.answer_quality: section hit@1 0.690 with the full blend, 0.705 with meaning alone, 0.713
with this, 0.698 with 0.2; which documents rank, and in what order, is unchanged)."""


class Ranker:
    def __init__(
        self,
        knowledge: KnowledgeIndex,
        feedback: Feedback,
        weights: BlendWeights = DEFAULT_WEIGHTS,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        self.knowledge = knowledge
        self.feedback = feedback
        self.weights = weights
        self.min_confidence = min_confidence
        self.titles = TitleMatcher(knowledge.embedder)

    def rank(
        self,
        query: str,
        asker: str | None = None,
        channels: frozenset[str] = frozenset(),
        limit: int = 5,
        offset: int = 0,
    ) -> Ranking:
        parsed = parse_query(query)
        self.knowledge.refresh_if_stale()
        if not parsed.search_text:
            if not parsed.has_filters:
                return Ranking(parsed, [], confident=False)
            return self._listing(parsed, channels, limit, offset)
        vector = self.knowledge.embedder.encode([parsed.search_text])[0]
        k = self.weights.candidates * (FILTERED_CANDIDATE_FACTOR if parsed.has_filters else 1)
        k = max(k, (offset + limit) * 4)
        found = retrieve(
            self.knowledge.index, self.knowledge.lexical, vector, parsed.search_text, k
        )
        snippets = self._load(_ROWS.where(Snippet.id.in_(found.ids.tolist())))
        keep = self._kept(found.ids.tolist(), snippets, parsed, channels)
        unmatched: tuple[str, ...] = ()
        if parsed.phrases and not keep:
            unmatched = parsed.phrases
            keep = self._kept(found.ids.tolist(), snippets, replace(parsed, phrases=()), channels)
        ids = found.ids[keep]
        dense, lexical = found.dense[keep], normalise_lexical(found.lexical[keep])
        snapshot = self.feedback.current()
        cf = snapshot.cf_scores(asker, ids)
        for n, vote in self.feedback.own_votes(asker, ids).items():
            cf[n] = vote
        prior = snapshot.priors(ids)
        phrase = phrase_overlap(parsed.search_text, [_text(snippets[int(i)]) for i in ids])
        scores = blend(self.weights, dense, lexical, phrase, cf, prior)
        order = np.argsort(-scores, kind="stable")
        ranked = self._collapse(
            [
                _ranked(
                    snippets[int(ids[n])],
                    scores[n],
                    dense[n],
                    lexical[n],
                    phrase[n],
                    cf[n],
                    prior[n],
                )
                for n in order
            ]
        )
        confident = any(r.dense >= self.min_confidence for r in ranked)
        if not confident:
            return Ranking(
                parsed,
                ranked[:WEAK_LIMIT],
                confident=False,
                query_vector=vector,
                unmatched_phrases=unmatched,
            )
        page = ranked[offset : offset + limit]
        if names_a_document(parsed.search_text):
            page = [self._opening_if_named(r, vector, parsed, channels) for r in page]
        return Ranking(
            parsed,
            page,
            confident=True,
            has_more=len(ranked) > offset + limit,
            query_vector=vector,
            unmatched_phrases=unmatched,
        )

    @staticmethod
    def _kept(
        ids: list[int], snippets: dict[int, _Row], parsed: ParsedQuery, channels: frozenset[str]
    ) -> list[int]:
        """Positions of the candidates this query may show (filters, phrases, permissions)."""
        return [
            n
            for n, i in enumerate(ids)
            if (s := snippets.get(i)) is not None and _allowed(s, parsed, channels)
        ]

    def _listing(
        self, parsed: ParsedQuery, channels: frozenset[str], limit: int, offset: int
    ) -> Ranking:
        """A filter-only query lists matching snippets, best-rated first, then newest."""
        statement = _ROWS.order_by(Snippet.updated_at.desc()).limit(LISTING_SCAN)
        if parsed.topics:
            statement = statement.where(Snippet.topic.in_(sorted(parsed.topics)))
        rows = self._load(statement)
        matching = [s for s in rows.values() if _allowed(s, parsed, channels)]
        ids = np.array([s.id for s in matching], dtype=np.int64)
        prior = self.feedback.current().priors(ids)
        order = np.argsort(-prior, kind="stable")
        ranked = self._collapse(
            [_ranked(matching[n], prior[n], 0.0, 0.0, 0.0, 0.0, prior[n]) for n in order]
        )
        return Ranking(
            parsed,
            ranked[offset : offset + limit],
            confident=True,
            listing=True,
            has_more=len(ranked) > offset + limit,
        )

    def _opening_if_named(
        self,
        result: RankedSnippet,
        vector: np.ndarray,
        parsed: ParsedQuery,
        channels: frozenset[str],
    ) -> RankedSnippet:
        """The document's opening instead of the section that matched, when the question is
        about as close to the document's title as to that section: it names the document."""
        if result.ordinal == 0 or not self.titles.named(result.title, vector, result.dense):
            return result
        rows = self._load(
            _ROWS.where(Snippet.document_id == result.document_id)
            .order_by(Snippet.ordinal)
            .limit(1)
        )
        opening = next(iter(rows.values()), None)
        if (
            opening is None
            or opening.id == result.snippet_id
            or not _allowed(opening, parsed, channels)
        ):
            return result
        return replace(
            result,
            snippet_id=opening.id,
            section=opening.section,
            text=opening.text,
            url=opening.url,
            ordinal=opening.ordinal,
        )

    def _load(self, statement: Select[Any]) -> dict[int, _Row]:
        with self.knowledge.sessions() as session:
            return {row[0]: _Row(*row) for row in session.execute(statement)}

    @staticmethod
    def _collapse(ranked: list[RankedSnippet]) -> list[RankedSnippet]:
        """One result per document, placed where its best snippet ranks but showing the
        section closest in meaning to the question (with a tenth of the keyword and phrase
        scores to break near ties): a short "Getting help" section that repeats the title's
        words would otherwise stand for the whole guide. No two results have the same text."""
        chosen: dict[int, RankedSnippet] = {}
        for item in ranked:
            held = chosen.get(item.document_id)
            if held is None or _section_fit(item) > _section_fit(held):
                chosen[item.document_id] = item
        best: dict[int, int] = {}
        texts: set[str] = set()
        out: list[RankedSnippet] = []
        for item in ranked:
            if item.document_id in best:
                slot = best[item.document_id]
                out[slot] = _with_more(out[slot])
                continue
            shown = chosen[item.document_id]
            key = " ".join(shown.text.split()).lower()
            if key in texts:
                continue
            texts.add(key)
            best[item.document_id] = len(out)
            out.append(shown)
        return out


def _section_fit(item: RankedSnippet) -> float:
    return item.dense + SECTION_TIE_BREAK * (item.lexical + item.phrase)


def _with_more(item: RankedSnippet) -> RankedSnippet:
    return replace(item, more_in_document=item.more_in_document + 1)


def _allowed(s: _Row, parsed: ParsedQuery, channels: frozenset[str]) -> bool:
    """Visible to the asker and matching the query's filters and phrases."""
    return visible(s, channels) and parsed.matches(
        tags=s.tags or [], topic=s.topic, source=s.source, text=_text(s)
    )


def _text(s: _Row) -> str:
    return embedding_text(s.title, s.section, s.text)


def _ranked(
    s: _Row,
    score: float,
    dense: float,
    lexical: float,
    phrase: float,
    cf: float,
    prior: float,
) -> RankedSnippet:
    return RankedSnippet(
        snippet_id=s.id,
        document_id=s.document_id,
        title=s.title,
        section=s.section,
        text=s.text,
        url=s.url,
        source=s.source,
        source_type=s.source_type,
        ordinal=s.ordinal,
        tags=list(s.tags or ()),
        topic=s.topic,
        score=float(score),
        dense=float(dense),
        lexical=float(lexical),
        phrase=float(phrase),
        cf=float(cf),
        prior=float(prior),
    )
