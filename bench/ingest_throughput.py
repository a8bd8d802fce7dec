"""Ingest throughput: snippets per second end to end (load, chunk, derive metadata, embed, write
database and index) against raw `SentenceTransformer.encode` on the very same texts.

    python -m bench.ingest_throughput          # example knowledge base + 2,000 generated files
    python -m bench.ingest_throughput --full   # + 20,000 generated files
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from bench.report import peak_rss_mib, record, scratch_knowledge
from indexer.chunking import chunk_document
from indexer.embedding import Embedder
from indexer.ingest import Ingestor
from indexer.loaders.files import load_tree

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "knowledge"
WORDS = [
    "deploy",
    "service",
    "cluster",
    "rollout",
    "config",
    "secret",
    "database",
    "backup",
    "restore",
    "monitor",
    "alert",
    "latency",
    "budget",
    "review",
    "merge",
    "branch",
    "release",
    "test",
    "fixture",
    "python",
    "package",
    "pipeline",
    "model",
    "training",
    "gpu",
    "quota",
    "leave",
    "expense",
    "policy",
    "onboarding",
    "manager",
    "feedback",
    "goal",
    "incident",
    "postmortem",
    "runbook",
    "access",
    "role",
    "token",
    "laptop",
    "password",
    "network",
    "proxy",
]


def generate_corpus(root: Path, files: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    for n in range(files):
        sections = []
        for s in range(rng.randint(2, 5)):
            body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 220)))
            sections.append(f"## Section {s} {rng.choice(WORDS)}\n\n{body}.\n")
        (root / f"doc-{n:05}.md").write_text(f"# Generated document {n}\n\n" + "\n".join(sections))


def measure(embedder: Embedder, corpus: Path, label: str) -> list[str]:
    with scratch_knowledge(embedder) as knowledge:
        start = time.perf_counter()
        loaded = load_tree(corpus)
        summary = Ingestor(knowledge).ingest(loaded)
        pipeline = time.perf_counter() - start
    texts = [c.embedding_text for d in loaded.documents for c in chunk_document(d)]
    start = time.perf_counter()
    embedder.model.encode(texts, batch_size=64, normalize_embeddings=True)
    raw = time.perf_counter() - start
    n = summary.snippets_added
    overhead = (pipeline - raw) / raw * 100
    return [
        f"| {label} | {summary.files_read} | {n} | {pipeline:.1f} s | {n / pipeline:.1f} | "
        f"{len(texts) / raw:.1f} | {overhead:+.1f}% | {peak_rss_mib():.0f} MiB |"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="add the 20,000-file corpus")
    args = parser.parse_args()
    embedder = Embedder.load()
    embedder.encode(["warm up"] * 8)
    rows = [
        "| corpus | files | snippets | pipeline time | pipeline snippets/s | raw encode snippets/s "
        "| pipeline overhead | peak RSS so far |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows += measure(embedder, EXAMPLES, "examples/knowledge")
    for files in [2_000, *([20_000] if args.full else [])]:
        with tempfile.TemporaryDirectory() as tmp:
            generate_corpus(Path(tmp), files)
            rows += measure(embedder, Path(tmp), f"generated, {files} files")
    record("ingest_throughput", rows)


if __name__ == "__main__":
    main()
