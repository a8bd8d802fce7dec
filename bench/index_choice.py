"""Which FAISS index above which size: exact `IndexFlatIP` against `IndexIVFFlat` (several
nprobe) and `IndexHNSWFlat`: single-query latency and recall@10 against exact search.

Vectors are unit-length, 384-dimensional, and lie near a 48-dimensional subspace with noise, so
neighbourhoods are continuous (as with sentence embeddings) rather than well-separated blobs,
which would make any index look perfect.

    python -m bench.index_choice          # 10k, 100k, 300k vectors
    python -m bench.index_choice --full   # + 1M
"""

from __future__ import annotations

import argparse
import math
import time

import faiss
import numpy as np

from bench.report import record

DIM = 384
QUERIES = 300
K = 10


LATENT = 48
MIXING = np.random.default_rng(42).standard_normal((LATENT, DIM)).astype(np.float32)


def embedding_like(n: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((n, LATENT)).astype(np.float32) @ MIXING
    vectors += 2.0 * rng.standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def timed_search(index: faiss.Index, queries: np.ndarray) -> tuple[np.ndarray, list[float]]:
    found = np.empty((len(queries), K), dtype=np.int64)
    times = []
    for i, q in enumerate(queries):
        start = time.perf_counter()
        _, ids = index.search(q[None, :], K)
        times.append((time.perf_counter() - start) * 1000)
        found[i] = ids[0]
    return found, times


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth, strict=True)]))


def row(
    size: int, name: str, build: float, found: np.ndarray, truth: np.ndarray, times: list[float]
) -> str:
    p50, p95 = np.percentile(times, [50, 95])
    return (
        f"| {size:,} | {name} | {build:.1f} s | {p50:.2f} ms | {p95:.2f} ms | "
        f"{recall(found, truth):.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    sizes = [10_000, 100_000, 300_000] + ([1_000_000] if args.full else [])
    rng = np.random.default_rng(0)
    lines = [
        f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, {QUERIES} queries, "
        "one at a time (as a request would)",
        "",
        "| vectors | index | build | p50 | p95 | recall@10 |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for size in sizes:
        data = embedding_like(size, rng)
        queries = embedding_like(QUERIES, rng)
        start = time.perf_counter()
        flat = faiss.IndexFlatIP(DIM)
        flat.add(data)
        build = time.perf_counter() - start
        truth, times = timed_search(flat, queries)
        lines.append(row(size, "flat (exact)", build, truth, truth, times))
        nlist = int(4 * math.sqrt(size))
        start = time.perf_counter()
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(DIM), DIM, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.train(data[rng.choice(size, min(size, nlist * 64), replace=False)])
        ivf.add(data)
        build = time.perf_counter() - start
        for fraction in (16, 8, 4):
            ivf.nprobe = max(1, nlist // fraction)
            found, times = timed_search(ivf, queries)
            lines.append(
                row(
                    size,
                    f"IVF{nlist}, nprobe {ivf.nprobe} (nlist/{fraction})",
                    build,
                    found,
                    truth,
                    times,
                )
            )
        start = time.perf_counter()
        hnsw = faiss.IndexHNSWFlat(DIM, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = 80
        hnsw.add(data)
        build = time.perf_counter() - start
        for ef in (64, 128):
            hnsw.hnsw.efSearch = ef
            found, times = timed_search(hnsw, queries)
            lines.append(row(size, f"HNSW32, efSearch {ef}", build, found, truth, times))
    record("index_choice", lines)


if __name__ == "__main__":
    main()
