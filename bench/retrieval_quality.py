"""Retrieval quality on real data no one here wrote: Debian package descriptions, known-item
queries (query = a package's one-line summary, relevant document = its long description).

Runs Lepton's own retrieval code (VectorIndex, LexicalIndex, hybrid.retrieve/blend) and reports
nDCG@10, Recall@10 and MRR@10 for BM25 only, dense only, a plain 50/50 min-max blend, and
Lepton's hybrid. Blend weights are chosen on a development half of the queries and reported on
the other half, so the reported figure is not tuned on the queries it is measured on.

    python -m bench.retrieval_quality          # 4,000 sampled queries over the whole corpus
    python -m bench.retrieval_quality --full   # every query
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.debian_packages import DEFAULT_CACHE, load_known_items
from bench.report import record
from indexer.embedding import Embedder
from indexer.search.hybrid import BlendWeights, blend, normalise_lexical, phrase_overlap, retrieve
from indexer.search.lexical import LexicalIndex
from indexer.search.vectors import VectorIndex

K = 10
SAMPLE = 4_000
Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def embeddings(embedder: Embedder, texts: list[str], label: str, cache: Path) -> np.ndarray:
    """Embedding 60k descriptions takes minutes; vectors are cached per text and model, so a
    changed subset only embeds what is new."""
    store = cache / f"{label}-{hashlib.sha256(embedder.name.encode()).hexdigest()[:12]}"
    keys = [hashlib.sha1(t.encode()).hexdigest() for t in texts]
    known: dict[str, np.ndarray] = {}
    if store.with_suffix(".npy").exists():
        stored = np.load(store.with_suffix(".npy"))
        stored_keys = json.loads(store.with_suffix(".json").read_text())
        known = dict(zip(stored_keys, stored, strict=True))
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items())
    if missing:
        fresh = embedder.encode([t for _, t in missing], batch_size=128)
        known.update({k: v for (k, _), v in zip(missing, fresh, strict=True)})
        cache.mkdir(parents=True, exist_ok=True)
        np.save(store.with_suffix(".npy"), np.stack(list(known.values())))
        store.with_suffix(".json").write_text(json.dumps(list(known)))
    return np.stack([known[k] for k in keys]).astype(np.float32)


def metrics(ranks: list[int | None]) -> tuple[float, float, float]:
    """nDCG@10, Recall@10, MRR@10 for known-item queries (rank is 1-based, None = not in top 10)."""
    ndcg = np.mean([1 / math.log2(r + 1) if r else 0.0 for r in ranks])
    recall = np.mean([1.0 if r else 0.0 for r in ranks])
    mrr = np.mean([1 / r if r else 0.0 for r in ranks])
    return float(ndcg), float(recall), float(mrr)


def rank_of(ids: np.ndarray, relevant: int) -> int | None:
    hits = np.flatnonzero(ids[:K] == relevant)
    return int(hits[0]) + 1 if len(hits) else None


def min_max(x: np.ndarray) -> np.ndarray:
    span = float(x.max() - x.min()) if len(x) else 0.0
    return (x - x.min()) / span if span > 0 else np.zeros_like(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    documents, queries = load_known_items()
    doc_index = {doc_id: n for n, (doc_id, _) in enumerate(documents)}
    rng = np.random.default_rng(0)
    if not args.full and len(queries) > SAMPLE:
        queries = [queries[i] for i in sorted(rng.choice(len(queries), SAMPLE, replace=False))]
    embedder = Embedder.load()
    cache = DEFAULT_CACHE / "embeddings"
    started = time.perf_counter()
    doc_vectors = embeddings(embedder, [t for _, t in documents], "docs", cache)
    query_vectors = embeddings(embedder, [q for _, q, _ in queries], "queries", cache)
    embed_time = time.perf_counter() - started
    ids = np.arange(len(documents), dtype=np.int64)
    vectors = VectorIndex.build(embedder.dim, ids, doc_vectors)
    lexical = LexicalIndex.build(ids.tolist(), [t for _, t in documents])

    texts = [t for _, t in documents]
    candidates = []
    for (_, text, relevant), vector in zip(queries, query_vectors, strict=True):
        found = retrieve(vectors, lexical, vector, text, BlendWeights().candidates)
        phrase = phrase_overlap(text, [texts[int(i)] for i in found.ids])
        candidates.append((doc_index[relevant], found, phrase))

    def evaluate(score: Scorer, subset: np.ndarray) -> tuple[float, float, float]:
        ranks = []
        for n in subset:
            relevant, found, phrase = candidates[n]
            order = np.argsort(-score(found.dense, found.lexical, phrase), kind="stable")
            ranks.append(rank_of(found.ids[order], relevant))
        return metrics(ranks)

    def hybrid(weights: BlendWeights) -> Scorer:
        return lambda d, lx, p: blend(weights, d, normalise_lexical(lx), p, 0 * d, 0 * d)

    order = rng.permutation(len(candidates))
    dev, test = order[: len(order) // 2], order[len(order) // 2 :]
    defaults = BlendWeights()
    grid = [round(w, 2) for w in np.arange(0.3, 0.91, 0.05)]
    best = max(
        grid,
        key=lambda w: evaluate(hybrid(replace(defaults, dense=w, lexical=round(1 - w, 2))), dev)[0],
    )
    chosen = replace(defaults, dense=best, lexical=round(1 - best, 2))
    rows: list[tuple[str, Scorer]] = [
        ("BM25 only (Lepton's LexicalIndex)", lambda d, lx, p: lx),
        (f"dense only ({vectors.kind} FAISS index)", lambda d, lx, p: d),
        ("plain 50/50 min-max blend", lambda d, lx, p: 0.5 * min_max(d) + 0.5 * min_max(lx)),
        (
            "Lepton hybrid without the phrase component "
            f"(dense {defaults.dense}, lexical {defaults.lexical})",
            hybrid(replace(defaults, phrase=0.0)),
        ),
        (
            f"Lepton hybrid, shipped defaults (dense {defaults.dense}, "
            f"lexical {defaults.lexical}, phrase {defaults.phrase})",
            hybrid(defaults),
        ),
        (f"Lepton hybrid, dense weight chosen on the dev half ({chosen.dense})", hybrid(chosen)),
    ]
    lines = [
        f"{len(documents):,} documents, {len(queries):,} queries "
        f"({'all' if args.full else 'sampled'}); figures on a random held-out half "
        f"({len(test):,} queries); embedding took {embed_time:.0f} s "
        "(cached after the first run)",
        "",
        "| method | nDCG@10 | Recall@10 | MRR@10 |",
        "| --- | ---: | ---: | ---: |",
    ]
    for label, scorer in rows:
        ndcg, recall, mrr = evaluate(scorer, test)
        lines.append(f"| {label} | {ndcg:.3f} | {recall:.3f} | {mrr:.3f} |")
    record("retrieval_quality", lines)


if __name__ == "__main__":
    main()
