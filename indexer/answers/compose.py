"""The answer itself: the one to three sentences of the best results that answer the question,
and for each result the passage around its best-matching sentence.

Extractive, never generated: every word quoted is a sentence of a source, chosen by its cosine
to the question under the same model that ranked the results. Sentence vectors come from the
database (made at ingest); a snippet stored before them is encoded here once and cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from indexer.answers import sentences
from indexer.answers.passages import Unit
from indexer.answers.sentences import Quotable, quotable, sentence_inputs
from indexer.embedding import Embedder
from indexer.memo import Memo
from indexer.search.ranker import RankedSnippet, Ranking

QUOTE_FROM = 3
"""Quotes come from the best three results at most."""
MAX_QUOTES = 3
QUOTE_FLOOR = 0.3
"""A sentence less similar than this to the question is not quoted, however it ranks."""
QUOTE_SPREAD = 0.08
"""Further quotes must come this close to the best one."""
RANK_WEIGHT = 0.5
"""How much a better-ranked result's sentence is preferred: per point of ranking score.
Floor, spread and weight were chosen on bench.answer_quality's labelled questions; a floor of
0.5 quoted nothing for a quarter of them, and 0.3 to 0.4 changed little."""
MAX_QUOTE_CHARS = 500
PASSAGE_CHARS = 420
"""About four lines at desktop width: three results and their buttons fit one screen."""
CACHE_SNIPPETS = 2048


@dataclass(frozen=True)
class Quote:
    snippet_id: int
    text: str
    author: str | None = None
    """Who said it, for a reply in a Slack thread."""
    position: int = 0
    """Its place among the snippet's quotable sentences."""


@dataclass(frozen=True)
class Passage:
    """What a result shows: whole units, starting at the one holding its best sentence."""

    units: tuple[Unit, ...]
    best: str | None
    """The sentence that matched the question best, or None when it has none."""
    starts_later: bool = False
    """Units of the snippet come before the first one shown."""


@dataclass(frozen=True)
class Composed:
    quotes: tuple[Quote, ...]
    passages: dict[int, Passage]

    @property
    def quoted_ids(self) -> list[int]:
        return list(dict.fromkeys(q.snippet_id for q in self.quotes))


NOTHING = Composed((), {})


@dataclass(frozen=True)
class _Scored:
    result: RankedSnippet
    rank: int
    found: Quotable
    similarity: np.ndarray


class AnswerComposer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        embedder: Embedder,
        cache_snippets: int = CACHE_SNIPPETS,
    ) -> None:
        self.sessions = sessions
        self.embedder = embedder
        self._cache: Memo[tuple[int, str], np.ndarray] = Memo(cache_snippets)

    def compose(self, ranking: Ranking, quote: bool = True) -> Composed:
        """Quotes only for a confident, first-page answer (`quote`): a weak match quoted
        would read as an answer it is not."""
        if not ranking.results:
            return NOTHING
        query = ranking.query_vector
        if query is None:
            query = self.embedder.encode([ranking.query.search_text])[0]
        query = np.asarray(query, dtype=np.float32).ravel()
        found = [quotable(r.text, r.source_type) for r in ranking.results]
        vectors = self._vectors(ranking.results, found)
        scored = [
            _Scored(r, n, f, v @ query if len(v) else np.zeros(0, dtype=np.float32))
            for n, (r, f, v) in enumerate(zip(ranking.results, found, vectors, strict=True))
        ]
        passages = {s.result.snippet_id: _passage(s) for s in scored}
        wanted = quote and ranking.confident and not ranking.listing
        return Composed(_quotes(scored) if wanted else (), passages)

    def _vectors(self, results: list[RankedSnippet], found: list[Quotable]) -> list[np.ndarray]:
        """Stored vectors where they match the snippet's sentences; else encoded and cached."""
        with self.sessions() as session:
            stored = sentences.load(
                session, [r.snippet_id for r in results], self.embedder.name, self.embedder.dim
            )
        out: list[np.ndarray] = []
        for result, quotable_ in zip(results, found, strict=True):
            vectors = stored.get(result.snippet_id)
            if vectors is None or len(vectors) != len(quotable_.spots):
                vectors = self._encoded(result, quotable_)
            out.append(vectors)
        return out

    def _encoded(self, result: RankedSnippet, found: Quotable) -> np.ndarray:
        return self._cache.get(
            (result.snippet_id, result.text),
            lambda: self.embedder.encode(
                sentence_inputs(result.title, result.section, found.spots)
            ),
        )


def _quotes(scored: list[_Scored]) -> tuple[Quote, ...]:
    """The best sentence of the best few results, then any close to it, in reading order."""
    top = scored[0].result.score
    candidates = [
        (float(s.similarity[i]) + RANK_WEIGHT * (s.result.score - top), s, i)
        for s in scored[:QUOTE_FROM]
        for i in range(len(s.found.spots))
        if s.similarity[i] >= QUOTE_FLOOR
    ]
    if not candidates:
        return ()
    candidates.sort(key=lambda c: -c[0])
    best = candidates[0][0]
    chosen = [c for c in candidates if c[0] >= best - QUOTE_SPREAD][:MAX_QUOTES]
    chosen.sort(key=lambda c: (c[1].rank, c[2]))
    quotes: list[Quote] = []
    length = 0
    for _, s, i in chosen:
        spot = s.found.spots[i]
        if quotes and length + len(spot.sentence) > MAX_QUOTE_CHARS:
            continue
        author = s.found.units[spot.unit].author
        quotes.append(Quote(s.result.snippet_id, spot.sentence, author, i))
        length += len(spot.sentence)
    return tuple(quotes)


def readable(found: list[Unit]) -> list[Unit]:
    """The units a passage may show: never the question that opened a thread again, nor a
    heading the result's title already shows (unless that is all there is)."""
    return [u for u in found if not u.asked and u.kind != "heading"] or found


def _passage(s: _Scored) -> Passage:
    """The unit holding the best sentence, then the units after it while they fit (a code
    block after the sentence that introduces it, the next rows of a table, the next reply),
    then those before it if there is room left."""
    shown = readable(s.found.units)
    if not shown:
        return Passage((), None)
    if len(s.similarity):
        spot = s.found.spots[int(np.argmax(s.similarity))]
        anchor, best = s.found.units[spot.unit], spot.sentence
    else:
        anchor, best = shown[0], None
    if best is not None and len(anchor.markdown) > PASSAGE_CHARS and best in anchor.sentences:
        return _window(anchor, best)
    first = last = shown.index(anchor) if anchor in shown else 0
    size = len(shown[first].markdown)
    while last + 1 < len(shown) and size + len(shown[last + 1].markdown) <= PASSAGE_CHARS:
        last += 1
        size += len(shown[last].markdown)
    while first > 0 and size + len(shown[first - 1].markdown) <= PASSAGE_CHARS:
        first -= 1
        size += len(shown[first].markdown)
    return Passage(tuple(shown[first : last + 1]), best, starts_later=first > 0)


def _window(unit: Unit, best: str) -> Passage:
    """A paragraph too long to show whole: its best sentence, then the sentences after it while
    they fit, then those before it; shown as plain text, marked where it was cut."""
    said = unit.sentences
    first = last = said.index(best)
    size = len(best)
    while last + 1 < len(said) and size + len(said[last + 1]) < PASSAGE_CHARS:
        last += 1
        size += len(said[last]) + 1
    while first > 0 and size + len(said[first - 1]) < PASSAGE_CHARS:
        first -= 1
        size += len(said[first]) + 1
    text = " ".join(said[first : last + 1]) + (" …" if last + 1 < len(said) else "")
    part = Unit(unit.kind, text, said[first : last + 1], author=unit.author)
    return Passage((part,), best, starts_later=first > 0)
