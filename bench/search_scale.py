"""Search at scale: the whole answer pipeline (embed the question, FAISS and BM25 candidates,
permission and query filters, collaborative-filtering blend), warm, in the serving process, at
10k, 100k and 1M snippets; the index's recall@10 against exact search on the same vectors; the
serving process's resident memory and where it goes; and process start to ready.

    python -m bench.search_scale          # 10k and 100k snippets
    python -m bench.search_scale --full   # + 1M snippets

The corpus (bench/synthetic.py) is real Debian descriptions grown with mixed ones, with 10k
people's 1M votes. Each size is served by a fresh process wired exactly as `lepton serve` wires
it (bot.services.Services, warmed up); the parent only builds corpora and writes the report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import record

SIZES = [10_000, 100_000]
FULL_SIZES = [*SIZES, 1_000_000]
QUERIES = 300
WARM_UP = 20
K = 10
SHOWN = 3
"""Results an answer shows, whose sentences the answer line is composed from."""


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(np.asarray(samples) * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def exact_top(sessions: Any, model: str, queries: np.ndarray, k: int) -> np.ndarray:
    """Exact top-k ids by inner product, streaming the stored vectors from the database."""
    from sqlalchemy import select

    from indexer.embedding import from_bytes
    from models import SnippetEmbedding

    best_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), k), -1, dtype=np.int64)
    with sessions() as session:
        rows = session.execute(
            select(SnippetEmbedding.snippet_id, SnippetEmbedding.vector)
            .where(SnippetEmbedding.model == model)
            .execution_options(yield_per=50_000)
        )
        for part in rows.partitions():
            ids = np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part))
            block = np.stack([from_bytes(r[1]) for r in part])
            scores = queries @ block.T
            scores = np.concatenate([best_scores, scores], axis=1)
            ids_all = np.concatenate([best_ids, np.broadcast_to(ids, (len(queries), len(ids)))], 1)
            top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            best_scores = np.take_along_axis(scores, top, 1)
            best_ids = np.take_along_axis(ids_all, top, 1)
    return best_ids


def serve(queries_file: Path, users: int) -> None:
    """The child: start like `lepton serve`, then answer and measure. Prints one JSON line."""
    stages = {"start": rss_mib()}
    from bot.services import Services
    from bot.settings import load_settings
    from models import create_db_engine

    settings = load_settings(None)
    services = Services(settings, create_db_engine(settings.database_url))
    stages["imports"] = rss_mib()
    services.embedder.encode(["load"])
    stages["model"] = rss_mib()
    knowledge = services.home.knowledge
    stages["index"] = rss_mib()
    services.warm_up()
    stages["ready"] = rss_mib()
    print("READY", flush=True)

    texts: list[str] = json.loads(queries_file.read_text())
    rng = np.random.default_rng(0)
    askers = [f"U{u:07d}" for u in rng.integers(users, size=len(texts))]
    from bench.synthetic import PRIVATE_CHANNELS

    channel_sets = [
        frozenset(rng.choice(PRIVATE_CHANNELS, size=2, replace=False).tolist()) for _ in texts
    ]
    ranker = services.home.ranker
    for text, asker, channels in zip(
        texts[:WARM_UP], askers[:WARM_UP], channel_sets[:WARM_UP], strict=True
    ):
        ranker.rank(text, asker=asker, channels=channels)
    answers = services.home.answers
    whole, answer_line, found, quoted = [], [], 0, 0
    for text, asker, channels in zip(texts, askers, channel_sets, strict=True):
        started = time.perf_counter()
        ranking = ranker.rank(text, asker=asker, channels=channels)
        whole.append(time.perf_counter() - started)
        found += bool(ranking.results)
        started = time.perf_counter()
        composed = answers.compose(replace(ranking, results=ranking.results[:SHOWN]))
        answer_line.append(time.perf_counter() - started)
        quoted += bool(composed.quotes)
    stages["after queries"] = rss_mib()

    vectors = services.embedder.encode(texts)
    embed, dense, lexical = [], [], []
    for text, vector in zip(texts, vectors, strict=True):
        started = time.perf_counter()
        services.embedder.encode([text])
        embed.append(time.perf_counter() - started)
        started = time.perf_counter()
        knowledge.index.search(vector, 100)
        dense.append(time.perf_counter() - started)
        started = time.perf_counter()
        knowledge.lexical.search(text, 100)
        lexical.append(time.perf_counter() - started)
    _, approximate = knowledge.index.search(vectors, K)
    exact = exact_top(services.home.sessions, services.embedder.name, vectors, K)
    recall = np.mean(
        [
            len(set(a) & set(e)) / K
            for a, e in zip(approximate.tolist(), exact.tolist(), strict=True)
        ]
    )
    snapshot = services.home.feedback.current()
    print(
        json.dumps(
            {
                "snippets": len(knowledge.index),
                "index": knowledge.index.describe(),
                "whole": percentiles(whole),
                "answer_line": percentiles(answer_line),
                "quoted": quoted,
                "embed": percentiles(embed),
                "dense": percentiles(dense),
                "lexical": percentiles(lexical),
                "answered": found,
                "queries": len(texts),
                "recall": float(recall),
                "stages": stages,
                "bytes": {
                    "vectors": knowledge.index.nbytes(),
                    "bm25": knowledge.lexical.nbytes(),
                    "cf": snapshot.model.nbytes() if snapshot.model else 0,
                    "ratings": len(snapshot.prior),
                },
            }
        ),
        flush=True,
    )
    services.stopping.set()


def run(n: int) -> dict[str, Any]:
    import tempfile

    from bench.synthetic import build_corpus, corpus_env, load_base
    from indexer.embedding import Embedder

    embedder = Embedder.load()
    corpus = build_corpus(embedder, n)
    base = load_base(embedder)
    rng = np.random.default_rng(1)
    texts = [base.queries[i] for i in rng.choice(len(base.queries), QUERIES, replace=False)]
    del base, embedder
    with tempfile.NamedTemporaryFile("w", suffix=".json") as queries:
        queries.write(json.dumps(texts))
        queries.flush()
        started = time.perf_counter()
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.search_scale",
                "--serve",
                queries.name,
                "--users",
                str(len(corpus.users)),
            ],
            env=corpus_env(corpus),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        ready = None
        result: dict[str, Any] = {}
        for line in child.stdout:
            if line.startswith("READY") and ready is None:
                ready = time.perf_counter() - started
            elif line.startswith("{"):
                result = json.loads(line)
        if child.wait() != 0 or not result:
            raise SystemExit(f"serving process failed at {n:,} snippets")
    result["startup"] = ready
    result["build"] = corpus.build_seconds
    return result


def report(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"{QUERIES} real questions (Debian package summaries), each by a random one of 10k people "
        "with 1M votes between them, member of 2 of 10 private channels; warm, one at a time.",
        "",
        "| snippets | index | whole p50 | p95 | p99 | embed p95 | FAISS p95 | BM25 p95 "
        "| answer line p50 | p95 | recall@10 | RSS ready | start to ready |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: |",
    ]
    for r in results:
        p50, p95, p99 = r["whole"]
        line50, line95, _ = r.get("answer_line", (float("nan"),) * 3)
        lines.append(
            f"| {r['snippets']:,} | {r['index']} | {p50:.1f} ms | {p95:.1f} ms | {p99:.1f} ms "
            f"| {r['embed'][1]:.1f} ms | {r['dense'][1]:.1f} ms | {r['lexical'][1]:.1f} ms "
            f"| {line50:.1f} ms | {line95:.1f} ms "
            f"| {r['recall']:.3f} | {r['stages']['ready']:.0f} MiB | {r['startup']:.1f} s |"
        )
    lines += [
        "",
        f"The answer line is composed after the search, from the top {SHOWN} results' stored "
        "sentence vectors (`indexer.answers.compose`); it quoted something for "
        + ", ".join(f"{r.get('quoted', 0)} of {r['queries']}" for r in results)
        + " questions.",
    ]
    lines += [
        "",
        "Resident memory of the serving process, by stage (MiB), and bytes per snippet:",
        "",
    ]
    lines += [
        "| snippets | imports | + model | + index | + feedback (ready) | after queries "
        "| vectors B/snippet | BM25 B/snippet | CF model MiB |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        s, b, n = r["stages"], r["bytes"], r["snippets"]
        lines.append(
            f"| {n:,} | {s['imports']:.0f} | {s['model']:.0f} | {s['index']:.0f} "
            f"| {s['ready']:.0f} "
            f"| {s['after queries']:.0f} | {b['vectors'] / n:.0f} | {b['bm25'] / n:.0f} "
            f"| {b['cf'] / 2**20:.0f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="add the 1M-snippet corpus")
    parser.add_argument("--sizes", type=int, nargs="*", help="snippet counts to run instead")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--users", type=int, default=10_000, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.users)
        return
    sizes = args.sizes or (FULL_SIZES if args.full else SIZES)
    results = [run(n) for n in sizes]
    record("search_scale", report(results))


if __name__ == "__main__":
    main()
