"""The answer line on the real model, a real FAISS index and the example knowledge base: the
sentences quoted are the ones that answer, a thread is quoted from its replies, a weak match
quotes nothing, and the sentence vectors come from ingest, not from running the model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate as migrations
from indexer.answers.compose import AnswerComposer
from indexer.answers.sentences import quotable, sentence_inputs
from indexer.embedding import BATCH_SIZE, Embedder
from indexer.ingest.loaders.files import load_tree
from indexer.ingest.loaders.slack_export import load_export
from indexer.ingest.pipeline import Ingestor
from indexer.learning.feedback import Feedback
from indexer.search.index_store import KnowledgeIndex
from indexer.search.ranker import Ranker
from models import Document, Snippet, SnippetEmbedding, SnippetSentences, create_db_engine
from tests.helpers import ingested, local_sessions

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "knowledge"
SLACK_EXPORT = ROOT / "examples" / "slack-export"
SHOWN = 3
LONG_PAGE = """# Parking at the Amsterdam office

## Spaces

The garage under the building has 40 spaces shared by everyone in the office.
Bicycles go in the racks by the side entrance, never in the lobby.
Visitors park in the public garage across the street and keep their ticket.
Motorbikes use the two marked spaces next to the lift.
The garage door opens with your badge between 07:00 and 20:00.
Outside those hours, call the security desk on extension 4400.
Electric cars charge at the four chargers on level -1, for at most three hours at a time.

The garage closes completely on the first Sunday of every month for cleaning.
"""


class CountingEmbedder(Embedder):
    """The real model, counting the texts it is asked to embed."""

    def __init__(self, loaded: Embedder) -> None:
        super().__init__(model=loaded.model, name=loaded.name)
        self.texts = 0

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts, batch_size)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[sessionmaker[Session], KnowledgeIndex]]:
    examples = load_tree(EXAMPLES)
    examples.extend(load_export(SLACK_EXPORT))
    root = tmp_path_factory.mktemp("answer-line")
    with ingested(root, embedder, {"parking.md": LONG_PAGE}, examples) as stack:
        yield stack


@pytest.fixture(scope="module")
def ranker(stack: tuple[sessionmaker[Session], KnowledgeIndex]) -> Ranker:
    sessions, knowledge = stack
    return Ranker(knowledge, Feedback(sessions))


@pytest.fixture
def composer(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], embedder: Embedder
) -> AnswerComposer:
    return AnswerComposer(stack[0], CountingEmbedder(embedder))


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        (
            "how long do we keep v1 of an api alive after v2 ships",
            "A deprecated version stays available for at least six months",
        ),
        ("what coverage do we need on new code", "We require 80% line coverage on new code"),
        ("uv sync gives 401 from the mirror", "run nw auth login again"),
        ("can new services use python 3.12", "Python 3.12 is allowed for new services"),
    ],
)
def test_the_answer_line_quotes_the_sentence_that_answers(
    ranker: Ranker, composer: AnswerComposer, question: str, answer: str
) -> None:
    ranking = ranker.rank(question, limit=SHOWN)
    composed = composer.compose(ranking)
    quoted = [q.text for q in composed.quotes]
    assert any(answer in q for q in quoted), quoted
    assert 1 <= len(quoted) <= 3 and sum(map(len, quoted)) <= 500
    shown = {r.snippet_id for r in ranking.results}
    assert set(composed.quoted_ids) <= shown, "a quote must come from a result the answer shows"


def test_a_thread_is_quoted_from_its_replies_with_who_said_them_never_the_question(
    ranker: Ranker, composer: AnswerComposer
) -> None:
    ranking = ranker.rank("kubectl says Forbidden right after my role got approved", limit=SHOWN)
    composed = composer.compose(ranking)
    by_id = {r.snippet_id: r for r in ranking.results}
    from_threads = [q for q in composed.quotes if by_id[q.snippet_id].source_type == "slack_thread"]
    assert from_threads, composed.quotes
    for quote in from_threads:
        thread = by_id[quote.snippet_id].text
        opening = thread.splitlines()[0]
        assert quote.author and f"{quote.author}: " in thread
        assert quote.text not in opening, "the question that opened the thread is not an answer"
    assert any("wait ~15 min for the Okta group sync" in q.text for q in from_threads)
    quoted = " ".join(q.text for q in composed.quotes)
    assert "Welcome" not in quoted, "small talk answers nothing"
    assert "approved and working" not in quoted, "the asker's thanks is not the answer"


def test_a_weak_match_quotes_nothing(ranker: Ranker, composer: AnswerComposer) -> None:
    """Quoting the closest sentence of a weak match would read as an answer it is not."""
    ranking = ranker.rank("migration routes of arctic terns over greenland", limit=SHOWN)
    assert ranking.results and not ranking.confident
    composed = composer.compose(ranking)
    assert composed.quotes == ()
    assert set(composed.passages) == {r.snippet_id for r in ranking.results}


def test_a_result_shows_the_passage_around_its_best_sentence_not_its_opening(
    ranker: Ranker, composer: AnswerComposer
) -> None:
    ranking = ranker.rank("how long can i charge my electric car in the garage", limit=SHOWN)
    top = ranking.results[0]
    assert top.title.startswith("Parking")
    passage = composer.compose(ranking).passages[top.snippet_id]
    shown = "\n".join(u.markdown for u in passage.units)
    assert passage.best is not None and "Electric cars charge" in passage.best
    assert "Electric cars charge at the four chargers" in shown
    assert "The garage under the building has 40 spaces" not in shown
    assert passage.starts_later


def test_sentence_vectors_come_from_ingest_not_from_the_model(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], ranker: Ranker, composer: AnswerComposer
) -> None:
    sessions, _ = stack
    with sessions() as session:
        rows = session.execute(
            select(Snippet.id, Snippet.text, Document.source_type, SnippetSentences.count)
            .join(Document, Document.id == Snippet.document_id)
            .outerjoin(SnippetSentences, SnippetSentences.snippet_id == Snippet.id)
        ).all()
    assert rows and all(count is not None for *_, count in rows), "every snippet has a row"
    assert all(count == len(quotable(text, kind).spots) for _, text, kind, count in rows)

    ranking = ranker.rank("what coverage do we need on new code", limit=SHOWN)
    assert composer.compose(ranking).quotes
    assert isinstance(composer.embedder, CountingEmbedder)
    assert composer.embedder.texts == 0, "composing read stored vectors; the model never ran"


def test_half_precision_storage_keeps_the_models_cosines(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], embedder: Embedder
) -> None:
    """Stored as float16: the cosine a quote is chosen by must not drift from the float32 one
    the model gives for the same sentence."""
    sessions, _ = stack
    with sessions() as session:
        snippet = session.scalars(
            select(Snippet).where(Snippet.text.contains("80% line coverage"))
        ).first()
        assert snippet is not None
        stored = session.get(SnippetSentences, snippet.id)
        assert stored is not None
        spots = quotable(snippet.text, snippet.document.source_type).spots
        fresh = embedder.encode(sentence_inputs(snippet.title, snippet.section, spots))
    vectors = np.frombuffer(stored.vectors, dtype="<f2").astype(np.float32).reshape(len(spots), -1)
    cosines = np.sum(vectors * fresh, axis=1)
    assert cosines.min() > 0.999


def test_snippets_stored_before_the_answer_line_get_vectors_on_the_next_ingest_unre_embedded(
    tmp_path: Path, embedder: Embedder
) -> None:
    """An upgraded database has snippets and no sentence vectors: the next ingest of the same
    files fills them in and leaves the snippets, their ids and their embeddings alone."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'lepton.db'}")
    migrations.upgrade(engine)
    sessions = local_sessions(engine)
    counting = CountingEmbedder(embedder)
    knowledge = KnowledgeIndex(sessions, tmp_path / "index", counting)
    folder = EXAMPLES / "engineering"
    Ingestor(knowledge).ingest(load_tree(folder))
    with sessions() as session, session.begin():
        before = {
            i: vector
            for i, vector in session.execute(
                select(SnippetEmbedding.snippet_id, SnippetEmbedding.vector)
            )
        }
        session.execute(delete(SnippetSentences))
    counting.texts = 0

    summary = Ingestor(knowledge).ingest(load_tree(folder))

    with sessions() as session:
        after = {
            i: vector
            for i, vector in session.execute(
                select(SnippetEmbedding.snippet_id, SnippetEmbedding.vector)
            )
        }
        filled = session.scalar(select(func.count()).select_from(SnippetSentences))
        spots = sum(
            len(quotable(text, kind).spots)
            for text, kind in session.execute(
                select(Snippet.text, Document.source_type).join(Document)
            )
        )
    assert after == before and summary.snippets_added == 0
    assert filled == len(before)
    assert counting.texts == spots, "only the sentences were embedded, not the snippets again"
    engine.dispose()
