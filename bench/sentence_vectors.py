"""What the answer line's stored sentence vectors cost at ingest: the example knowledge base and
Slack export ingested into fresh SQLite databases with the same warm model, with sentence
vectors (as Lepton ingests) and without (every snippet's quotable sentences taken as none, so
only the model's extra work and the extra rows differ), alternating W N W N W N; the best of
each counts. Also the bytes the vectors take in the database, per snippet and per sentence.

    python -m bench.sentence_vectors
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from bench.report import record
from bot import migrate
from indexer.answers import sentences
from indexer.answers.sentences import Quotable
from indexer.embedding import Embedder
from indexer.ingest.loaders.files import load_tree
from indexer.ingest.loaders.slack_export import load_export
from indexer.ingest.pipeline import Ingestor
from indexer.search.index_store import KnowledgeIndex
from models import SnippetSentences, create_db_engine, make_session_factory
from models.workspace import LOCAL_TEAM, Workspace, workspace_sessions

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 3


@contextmanager
def without_sentences() -> Iterator[None]:
    real = sentences.quotable

    def none(text: str, source_type: str) -> Quotable:
        return Quotable(real(text, source_type).units, [])

    sentences.quotable = none
    try:
        yield
    finally:
        sentences.quotable = real


def ingest_once(embedder: Embedder, tmp: Path) -> tuple[float, int, int, int]:
    """Seconds, snippets, sentences and bytes of sentence vectors."""
    engine = create_db_engine(f"sqlite:///{tmp / 'lepton.db'}")
    migrate.upgrade(engine)
    sessions = workspace_sessions(make_session_factory(engine), Workspace(LOCAL_TEAM))
    loaded = load_tree(ROOT / "examples" / "knowledge")
    loaded.extend(load_export(ROOT / "examples" / "slack-export"))
    started = time.perf_counter()
    summary = Ingestor(KnowledgeIndex(sessions, tmp / "index", embedder)).ingest(loaded)
    seconds = time.perf_counter() - started
    with sessions() as session:
        count, size = session.execute(
            select(
                func.coalesce(func.sum(SnippetSentences.count), 0),
                func.coalesce(func.sum(func.length(SnippetSentences.vectors)), 0),
            )
        ).one()
    engine.dispose()
    return seconds, summary.snippets_added, int(count), int(size)


def main() -> None:
    embedder = Embedder.load()
    embedder.encode(["warm the model up"] * 64)
    timings: dict[str, list[float]] = {"with": [], "without": []}
    shape: dict[str, tuple[int, int, int]] = {}
    for n in range(ROUNDS * 2):
        mode = "with" if n % 2 == 0 else "without"
        with tempfile.TemporaryDirectory() as tmp:
            if mode == "with":
                seconds, *rest = ingest_once(embedder, Path(tmp))
            else:
                with without_sentences():
                    seconds, *rest = ingest_once(embedder, Path(tmp))
        timings[mode].append(seconds)
        shape[mode] = (rest[0], rest[1], rest[2])
    best_with, best_without = min(timings["with"]), min(timings["without"])
    snippets, spots, size = shape["with"]
    lines = [
        "examples/knowledge and examples/slack-export ingested into a fresh SQLite database, "
        f"alternating with and without sentence vectors, best of {ROUNDS} each (same warm model).",
        "",
        "| | ingest | snippets | sentences embedded | sentence vectors in the database |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| without | {best_without:.1f} s | {snippets} | 0 | 0 |",
        f"| with (Lepton) | {best_with:.1f} s | {snippets} | {spots} "
        f"| {size / 1024:.0f} KiB ({size / snippets:.0f} B/snippet, {size / max(spots, 1):.0f} "
        "B/sentence) |",
        "",
        f"Ingest with sentence vectors takes {best_with / best_without:.2f}x as long; "
        f"all runs (s): with {', '.join(f'{t:.1f}' for t in timings['with'])}; "
        f"without {', '.join(f'{t:.1f}' for t in timings['without'])}.",
    ]
    record("sentence_vectors", lines)


if __name__ == "__main__":
    main()
