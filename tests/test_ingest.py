"""Ingestion end to end with the real model, a real FAISS index and real databases."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate as migrations
from indexer.embedding import Embedder
from indexer.ingest.documents import LoadResult
from indexer.ingest.loaders.files import load_tree
from indexer.ingest.pipeline import Ingestor, IngestSummary
from indexer.learning.feedback import Feedback
from indexer.search import vectors as vector_index
from indexer.search.index_store import KnowledgeIndex, index_state
from indexer.search.ranker import RankedSnippet, Ranker
from indexer.search.vectors import VectorIndex
from models import Document, Rating, Snippet, SnippetEmbedding
from tests.helpers import local_sessions

pytestmark = pytest.mark.both_backends

DEPLOY = """---
title: Deploying to Kubernetes
tags: [kubernetes, deploy]
topic: ops
difficulty: intermediate
url: https://wiki.example/deploy
---
# Deploying to Kubernetes

## Build the image

Run `make image` and push it to the registry; CI tags images with the commit SHA.

## Roll out

Use `deployctl rollout my-service --env staging` and watch the pods become ready.

## Roll back

`deployctl rollback my-service` returns to the previous ReplicaSet within a minute.
"""

LEAVE = """---
title: Annual leave policy
tags: [leave, holidays]
topic: people
difficulty: beginner
---
# Annual leave policy

Everyone gets 27 days of annual leave plus public holidays. Book leave in the HR portal at
least two weeks ahead for anything longer than three days, and tell your team in #team-plans.
"""

UNTAGGED = """# Rotating the staging database password

Open the secrets manager, generate a new password for the staging Postgres user, update the
Kubernetes secret with `kubectl create secret`, then restart the pods so they pick it up.
"""

FAQ = """question,answer
How do I get a laptop?,Ask IT in #help-it; laptops ship within three days.
Who approves expenses?,Your manager approves expenses in the expenses tool.
"""


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    migrations.upgrade(engine)
    yield local_sessions(engine)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    (root / "ops").mkdir(parents=True)
    (root / "people").mkdir()
    (root / "ops" / "deploy.md").write_text(DEPLOY)
    (root / "ops" / "rotate-db-password.md").write_text(UNTAGGED)
    (root / "people" / "leave.md").write_text(LEAVE)
    (root / "faq.csv").write_text(FAQ)
    return root


def make_index(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder
) -> KnowledgeIndex:
    return KnowledgeIndex(sessions, tmp_path / "index", embedder)


def ingest(
    sessions: sessionmaker[Session],
    tmp_path: Path,
    embedder: Embedder,
    root: Path,
    prune: bool = False,
) -> tuple[IngestSummary, KnowledgeIndex]:
    knowledge = make_index(sessions, tmp_path, embedder)
    prefixes = [str(root.resolve()) + "/"] if prune else []
    return Ingestor(knowledge).ingest(load_tree(root), prune_prefixes=prefixes), knowledge


def search(
    knowledge: KnowledgeIndex, query: str, limit: int = 5, channels: frozenset[str] = frozenset()
) -> list[RankedSnippet]:
    return (
        Ranker(knowledge, Feedback(knowledge.sessions))
        .rank(query, channels=channels, limit=limit)
        .results
    )


def snippet_ids(sessions: sessionmaker[Session]) -> set[int]:
    with sessions() as session:
        return set(session.scalars(select(Snippet.id)))


def assert_index_agrees(sessions: sessionmaker[Session], knowledge: KnowledgeIndex) -> None:
    assert set(knowledge.index.ids().tolist()) == snippet_ids(sessions)
    with sessions() as session:
        assert knowledge.version == index_state(session).version


def test_ingest_stores_snippets_embeddings_and_index(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    summary, knowledge = ingest(sessions, tmp_path, embedder, kb)
    assert summary.files_read == 4
    assert summary.documents_added == 5  # three pages and two FAQ pairs
    assert summary.skipped == []
    with sessions() as session:
        deploy = session.scalar(select(Document).where(Document.title == "Deploying to Kubernetes"))
        assert deploy is not None
        sections = [s.section for s in deploy.snippets]
        assert sections == ["Build the image", "Roll out", "Roll back"]
        assert deploy.snippets[2].url == "https://wiki.example/deploy#roll-back"
        assert deploy.tags == ["kubernetes", "deploy"]
        models_used = set(session.scalars(select(SnippetEmbedding.model)))
        assert models_used == {embedder.name}
        derived = session.scalar(
            select(Document).where(Document.title == "Rotating the staging database password")
        )
        assert derived is not None
        assert derived.tags, "tags are derived when the source gives none"
        assert derived.topic in {"ops", "people"}
    assert_index_agrees(sessions, knowledge)
    results = search(knowledge, "how do I roll back a deploy", limit=3)
    assert results[0].section == "Roll back"


def test_reingest_unchanged_is_a_no_op(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    ingest(sessions, tmp_path, embedder, kb)
    before = snippet_ids(sessions)
    with sessions() as session:
        version = index_state(session).version
    summary, knowledge = ingest(sessions, tmp_path, embedder, kb)
    assert (summary.documents_added, summary.documents_updated) == (0, 0)
    assert summary.documents_unchanged == 5
    assert summary.snippets_unchanged == len(before)
    assert snippet_ids(sessions) == before
    assert knowledge.version == version


def test_changed_file_keeps_untouched_snippets_and_their_ratings(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    ingest(sessions, tmp_path, embedder, kb)
    with sessions() as session:
        rollout = session.scalar(select(Snippet).where(Snippet.section == "Roll out"))
        rollback = session.scalar(select(Snippet).where(Snippet.section == "Roll back"))
        assert rollout is not None and rollback is not None
        session.add(Rating(user_id="U1", snippet_id=rollout.id, value=1, origin="button"))
        session.commit()
        rollout_id, rollback_id = rollout.id, rollback.id
    edited = DEPLOY.replace(
        "`deployctl rollback my-service` returns to the previous ReplicaSet within a minute.",
        "Rollbacks now go through `deployctl undo my-service --to previous`.",
    )
    (kb / "ops" / "deploy.md").write_text(edited)
    summary, knowledge = ingest(sessions, tmp_path, embedder, kb)
    assert summary.documents_updated == 1
    assert (summary.snippets_added, summary.snippets_removed) == (1, 1)
    with sessions() as session:
        assert session.get(Snippet, rollout_id) is not None
        assert session.get(Snippet, rollback_id) is None
        assert session.scalar(select(func.count()).select_from(Rating)) == 1
    assert_index_agrees(sessions, knowledge)
    top = search(knowledge, "deployctl undo", limit=1)[0]
    assert "deployctl undo" in top.text


def test_prune_removes_vanished_sources_only_when_asked(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    ingest(sessions, tmp_path, embedder, kb)
    (kb / "people" / "leave.md").unlink()
    summary, _ = ingest(sessions, tmp_path, embedder, kb)
    assert summary.documents_removed == 0
    summary, knowledge = ingest(sessions, tmp_path, embedder, kb, prune=True)
    assert summary.documents_removed == 1
    with sessions() as session:
        assert (
            session.scalar(select(Document).where(Document.title == "Annual leave policy")) is None
        )
    assert_index_agrees(sessions, knowledge)
    assert all(
        r.title != "Annual leave policy" for r in search(knowledge, "annual leave days", limit=5)
    )


def test_faq_pair_removed_from_file_disappears(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    ingest(sessions, tmp_path, embedder, kb)
    (kb / "faq.csv").write_text("\n".join(FAQ.splitlines()[:2]) + "\n")
    summary, knowledge = ingest(sessions, tmp_path, embedder, kb)
    assert summary.documents_removed == 1
    with sessions() as session:
        titles = set(session.scalars(select(Document.title).where(Document.source_type == "faq")))
    assert titles == {"How do I get a laptop?"}
    assert_index_agrees(sessions, knowledge)


def test_bad_files_are_reported_and_never_stop_the_batch(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    (kb / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (kb / "blob.txt").write_bytes(b"\x00\x01\x02binary")
    (kb / "latin1.md").write_bytes("# Caf\xe9\n\nna\xefve".encode("latin-1"))
    (kb / "empty.md").write_text("")
    summary, _ = ingest(sessions, tmp_path, embedder, kb)
    skipped = {Path(s.source).name for s in summary.skipped}
    assert skipped == {"broken.pdf", "blob.txt", "latin1.md", "empty.md"}
    assert summary.documents_added == 5
    with sessions() as session:
        sources = list(session.scalars(select(Document.source)))
    assert not any(Path(s.split("#")[0]).name in skipped for s in sources)


def test_index_that_disagrees_with_the_database_is_rebuilt(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    _, knowledge = ingest(sessions, tmp_path, embedder, kb)
    stale = knowledge.index  # a copy from before the next change, as a crash would leave it
    meta = VectorIndex.load(knowledge.directory)
    assert meta is not None
    (kb / "people" / "leave.md").unlink()
    ingest(sessions, tmp_path, embedder, kb, prune=True)
    stale.save(knowledge.directory, meta[1])  # the old index and version back on disk
    reopened = make_index(sessions, tmp_path, embedder).open()
    assert_index_agrees(sessions, reopened)
    shutil.rmtree(knowledge.directory)
    assert_index_agrees(sessions, make_index(sessions, tmp_path, embedder).open())


def test_a_restarted_process_still_matches_keywords(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    _, knowledge = ingest(sessions, tmp_path, embedder, kb)
    expected = knowledge.lexical.search("deployctl rollback", 5)[1].tolist()
    assert expected, "the keyword must match something"
    reopened = make_index(sessions, tmp_path, embedder).open()
    assert reopened.lexical.search("deployctl rollback", 5)[1].tolist() == expected
    (knowledge.directory / "bm25.json").unlink()
    repaired = make_index(sessions, tmp_path, embedder).open()
    assert repaired.lexical.search("deployctl rollback", 5)[1].tolist() == expected
    assert (knowledge.directory / "bm25.json").exists()


def test_an_index_that_outgrew_exact_search_is_rebuilt_as_ivf(
    sessions: sessionmaker[Session],
    tmp_path: Path,
    embedder: Embedder,
    kb: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, knowledge = ingest(sessions, tmp_path, embedder, kb)
    assert knowledge.index.kind == "flat"
    monkeypatch.setattr(vector_index, "EXACT_LIMIT", 3)
    reopened = make_index(sessions, tmp_path, embedder).open()
    assert reopened.index.kind == "ivf-fp16"
    assert_index_agrees(sessions, reopened)
    assert search(reopened, "how do I roll back a deploy", limit=3)[0].section == "Roll back"
    stored = VectorIndex.load(knowledge.directory)
    assert stored is not None and stored[1].kind == "ivf-fp16"


def test_crash_mid_ingest_leaves_whole_documents_and_a_repairable_index(
    sessions: sessionmaker[Session],
    tmp_path: Path,
    embedder: Embedder,
    kb: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for n in range(40):
        (kb / f"note-{n:02}.md").write_text(
            f"# Note {n}\n\n" + " ".join(f"word{n}x{i}" for i in range(900))
        )
    calls = {"n": 0}
    kind = type(embedder)
    real_encode = kind.encode

    def dying_encode(self: Embedder, texts: list[str], batch_size: int = 64) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real_encode(self, texts, batch_size)

    monkeypatch.setattr(kind, "encode", dying_encode)
    with pytest.raises(KeyboardInterrupt):
        ingest(sessions, tmp_path, embedder, kb)
    monkeypatch.setattr(kind, "encode", real_encode)
    with sessions() as session:
        for document in session.scalars(select(Document)):
            words = sum(len(s.text.split()) for s in document.snippets)
            assert document.snippets, "no document without its snippets"
            if document.title.startswith("Note"):
                assert words >= 900, "no half-written document"
        committed = session.scalar(select(func.count()).select_from(Document))
    assert 0 < committed < 45
    assert_index_agrees(sessions, make_index(sessions, tmp_path, embedder).open())
    summary, knowledge = ingest(sessions, tmp_path, embedder, kb)
    assert summary.documents_added == 45 - committed
    assert_index_agrees(sessions, knowledge)


def test_model_change_reembeds_instead_of_mixing(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder, kb: Path
) -> None:
    ingest(sessions, tmp_path, embedder, kb)
    # The same weights under another name: what matters is that the name differs from the
    # stored vectors', as it does when LEPTON_EMBEDDING_MODEL points somewhere new.
    other = Embedder(model=embedder.model, name=str(tmp_path / "another-model"))
    reopened = make_index(sessions, tmp_path, other).open()
    with sessions() as session:
        assert set(session.scalars(select(SnippetEmbedding.model))) == {other.name}
        assert index_state(session).model == other.name
    assert_index_agrees(sessions, reopened)
    assert len(reopened.index) == len(snippet_ids(sessions))


def test_empty_load_changes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder
) -> None:
    summary = Ingestor(make_index(sessions, tmp_path, embedder)).ingest(LoadResult())
    assert summary.lines()[0] == "files read: 0"
    assert snippet_ids(sessions) == set()


def test_saved_message_becomes_a_snippet_and_saving_again_updates_it(
    sessions: sessionmaker[Session], tmp_path: Path, embedder: Embedder
) -> None:
    from indexer.ingest.saved_messages import SavedMessage, saved_message_document

    message = SavedMessage(
        team_id="T1",
        channel_id="G42",
        ts="1767225600.000100",
        text="To rotate the staging DB password run `dbctl rotate staging` and restart pods.",
        permalink="https://acme.slack.com/archives/G42/p1767225600000100",
        author_user_id="U7",
        author_name="Dana",
        saved_by="U9",
        title="Rotate staging DB",
        tags=["Database", " secrets "],
        private_channel=True,
    )
    knowledge = make_index(sessions, tmp_path, embedder)
    first = Ingestor(knowledge).ingest(LoadResult(documents=[saved_message_document(message)]))
    assert first.documents_added == 1
    retitled = SavedMessage(**{**message.__dict__, "title": "Rotating the staging password"})
    second = Ingestor(knowledge).ingest(LoadResult(documents=[saved_message_document(retitled)]))
    assert (second.documents_added, second.documents_updated) == (0, 1)
    with sessions() as session:
        (snippet,) = session.scalars(select(Snippet)).all()
        assert snippet.title == "Rotating the staging password"
        assert snippet.tags == ["database", "secrets"]
        assert (snippet.visibility, snippet.channel_id) == ("channel", "G42")
        assert snippet.url == message.permalink
    assert search(knowledge, "rotate staging database password") == []
    shown = search(knowledge, "rotate staging database password", channels=frozenset({"G42"}))
    assert shown[0].title == "Rotating the staging password"
