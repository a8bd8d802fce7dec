"""A knowledge base of any size for the scale benchmarks, written straight into Lepton's tables.

Embedding a million texts takes this machine most of a day, so the corpus is grown from real
data: the Debian package descriptions of bench.retrieval_quality (about 33.5k real texts with their
real all-MiniLM-L6-v2 vectors, embedded once and cached). The first snippets are those
descriptions as they are; every further snippet mixes two of them, text and vector alike:

    text   = a description with a fifth of its words dropped + a few words of another one
    vector = normalise(v_a + 0.3 v_b + noise),  noise ~ N(0, (0.5 / sqrt(dim))^2) per component

so snippets form the topical clusters real embeddings do (cosine to their main source about 0.85)
without being copies, and words and vectors agree. Queries are the packages' real one-line
summaries, embedded live by the code under test. Four snippets make a document, 3% are restricted
to one of ten private channels, and a ratings table of 10k people and 1M votes (Zipf-popular
snippets, 80% +1) feeds the collaborative model. Each snippet's quotable sentences get vectors
near its own (the same noise), stored as ingest stores them, so composing an answer line costs
what it costs in production (their values do not change the work).

Built corpora are kept under ~/.cache/lepton-bench/corpus-N so a rerun reuses them.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, insert

from bench.debian_packages import DEFAULT_CACHE, load_known_items
from bench.retrieval_quality import embeddings
from bot import migrate
from indexer.answers.sentences import STORED, quotable
from indexer.embedding import Embedder
from models import (
    Document,
    IndexState,
    Rating,
    Snippet,
    SnippetEmbedding,
    SnippetSentences,
    create_db_engine,
)
from models.knowledge import CHANNEL, PUBLIC
from models.workspace import LOCAL_TEAM, Workspace, workspace_sessions

CORPUS_CACHE = DEFAULT_CACHE.parent
CORPUS_LAYOUT = "ws-sentences"
"""Part of the cache path: a corpus built for an older schema is rebuilt, not reused."""
SNIPPETS_PER_DOCUMENT = 4
RESTRICTED_SHARE = 0.03
PRIVATE_CHANNELS = [f"CPRIV{n:04d}" for n in range(10)]
TOPICS = ["ops", "engineering", "security", "people", "data", "it", "finance", "design"]
NOISE = 0.5
MIX = 0.3
BATCH = 20_000
USERS = 10_000
RATINGS = 1_000_000


@dataclass(frozen=True)
class Base:
    """The real texts and vectors the corpus grows from, and the real queries."""

    names: list[str]
    texts: list[str]
    vectors: np.ndarray
    queries: list[str]


@dataclass(frozen=True)
class Corpus:
    database_url: str
    data_dir: Path
    snippets: int
    users: list[str]
    build_seconds: float


def load_base(embedder: Embedder) -> Base:
    documents, queries = load_known_items()
    texts = [t for _, t in documents]
    vectors = embeddings(embedder, texts, "docs", DEFAULT_CACHE / "embeddings")
    return Base([n for n, _ in documents], texts, vectors, [q for _, q, _ in queries])


def _mixed(base: Base, start: int, stop: int, seed: int) -> Iterator[tuple[str, str, np.ndarray]]:
    """(title, text, vector) of snippets start..stop; the same for the same seed and range."""
    rng = np.random.default_rng([seed, start])
    size = len(base.texts)
    dim = base.vectors.shape[1]
    for n in range(start, stop):
        if n < size:
            yield base.names[n], base.texts[n], base.vectors[n]
            continue
        a, b = rng.integers(size, size=2)
        words = base.texts[a].split()
        kept = [w for w, keep in zip(words, rng.random(len(words)) > 0.2, strict=True) if keep]
        extra = base.texts[b].split()[: int(rng.integers(3, 12))]
        vector = base.vectors[a] + MIX * base.vectors[b] + rng.normal(0, NOISE / dim**0.5, dim)
        vector /= np.linalg.norm(vector)
        yield f"{base.names[a]} ({n})", " ".join(kept + extra), vector.astype(np.float32)


def vectors(base: Base, n: int, seed: int = 0) -> np.ndarray:
    """Just the vectors of the first `n` snippets, for index-only comparisons."""
    out = np.empty((n, base.vectors.shape[1]), dtype=np.float32)
    for start in range(0, n, BATCH):
        stop = min(n, start + BATCH)
        for row, (_, _, vector) in enumerate(_mixed(base, start, stop, seed), start):
            out[row] = vector
    return out


def _write_knowledge(engine: Engine, base: Base, n: int, model: str, seed: int) -> None:
    rng = np.random.default_rng([seed, 1])
    dim = base.vectors.shape[1]
    with engine.begin() as connection:
        for start in range(0, n, BATCH):
            stop = min(n, start + BATCH)
            documents, snippets, stored, sentences = [], [], [], []
            for n_id, (title, text, vector) in enumerate(_mixed(base, start, stop, seed), start):
                doc_id, ordinal = divmod(n_id, SNIPPETS_PER_DOCUMENT)
                restricted = rng.random() < RESTRICTED_SHARE
                channel = PRIVATE_CHANNELS[int(rng.integers(len(PRIVATE_CHANNELS)))]
                topic = TOPICS[int(rng.integers(len(TOPICS)))]
                if ordinal == 0:
                    documents.append(
                        {
                            "id": doc_id + 1,
                            "team_id": LOCAL_TEAM,
                            "source_type": "file",
                            "source": f"generated/{doc_id:07d}.md",
                            "title": title,
                            "content_hash": f"{doc_id:064d}",
                            "visibility": PUBLIC,
                            "tags": [],
                            "topic": topic,
                        }
                    )
                snippets.append(
                    {
                        "id": n_id + 1,
                        "team_id": LOCAL_TEAM,
                        "document_id": doc_id + 1,
                        "ordinal": ordinal,
                        "title": title,
                        "section": None,
                        "text": text,
                        "url": None,
                        "channel_id": channel if restricted else None,
                        "visibility": CHANNEL if restricted else PUBLIC,
                        "tags": [topic],
                        "topic": topic,
                        "content_hash": f"{n_id:064d}",
                    }
                )
                stored.append(
                    {
                        "snippet_id": n_id + 1,
                        "team_id": LOCAL_TEAM,
                        "model": model,
                        "dim": dim,
                        "vector": np.asarray(vector, dtype="<f4").tobytes(),
                    }
                )
                spots = len(quotable(text, "file").spots)
                near = vector + rng.normal(0, NOISE / np.sqrt(dim), (spots, dim))
                near /= np.linalg.norm(near, axis=1, keepdims=True)
                sentences.append(
                    {
                        "snippet_id": n_id + 1,
                        "team_id": LOCAL_TEAM,
                        "model": model,
                        "count": spots,
                        "vectors": near.astype(STORED).tobytes(),
                    }
                )
            if documents:
                connection.execute(insert(Document), documents)
            connection.execute(insert(Snippet), snippets)
            connection.execute(insert(SnippetEmbedding), stored)
            connection.execute(insert(SnippetSentences), sentences)
        connection.execute(
            insert(IndexState), [{"team_id": LOCAL_TEAM, "version": 1, "model": model}]
        )


def _write_ratings(engine: Engine, n: int, users: list[str], seed: int) -> None:
    """RATINGS votes: people's activity and snippets' popularity both Zipf-like, 80% +1."""
    rng = np.random.default_rng([seed, 2])
    total = min(RATINGS, n * len(users) // 20)
    activity = 1 / np.arange(1, len(users) + 1) ** 0.8
    people = rng.choice(len(users), size=total, p=activity / activity.sum())
    popularity = rng.zipf(1.3, size=total) - 1
    items = (popularity + rng.integers(n, size=total) * (popularity >= n)) % n
    pairs = np.unique(people.astype(np.int64) * n + items)
    values = np.where(rng.random(len(pairs)) < 0.8, 1, -1)
    with engine.begin() as connection:
        for start in range(0, len(pairs), BATCH):
            part = pairs[start : start + BATCH]
            connection.execute(
                insert(Rating),
                [
                    {
                        "team_id": LOCAL_TEAM,
                        "user_id": users[int(p // n)],
                        "snippet_id": int(p % n) + 1,
                        "value": int(v),
                        "origin": "reaction",
                    }
                    for p, v in zip(part, values[start : start + BATCH], strict=True)
                ],
            )


def build_corpus(embedder: Embedder, n: int, seed: int = 0, fresh: bool = False) -> Corpus:
    """The migrated SQLite database of `n` snippets with ratings, and its FAISS and BM25 files,
    built by Lepton's own KnowledgeIndex; reused when already built."""
    from bot.services import INDEX_DIR, WORKSPACES_DIR
    from indexer.search.index_store import KnowledgeIndex
    from models import make_session_factory

    root = CORPUS_CACHE / f"corpus-{CORPUS_LAYOUT}-{n}-{seed}"
    done = root / "built"
    url = f"sqlite:///{root / 'lepton.db'}"
    users = [f"U{u:07d}" for u in range(USERS)]
    if fresh and root.exists():
        shutil.rmtree(root)
    if done.exists():
        return Corpus(url, root / "data", n, users, float(done.read_text()))
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    started = time.perf_counter()
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    base = load_base(embedder)
    _write_knowledge(engine, base, n, embedder.name, seed)
    _write_ratings(engine, n, users, seed)
    sessions = workspace_sessions(make_session_factory(engine), Workspace(LOCAL_TEAM))
    KnowledgeIndex(
        sessions, root / "data" / WORKSPACES_DIR / LOCAL_TEAM / INDEX_DIR, embedder
    ).open()
    engine.dispose()
    seconds = time.perf_counter() - started
    done.write_text(f"{seconds:.1f}")
    return Corpus(url, root / "data", n, users, seconds)


def corpus_env(corpus: Corpus) -> dict[str, str]:
    """Environment for a Lepton process serving the corpus."""
    return {
        **os.environ,
        "DATABASE_URL": corpus.database_url,
        "LEPTON_DATA_DIR": str(corpus.data_dir),
    }
