"""Multi-workspace retrieval: one shared index filtered to the asker's workspace, or one index
per workspace? Every snippet belongs to one Slack workspace, and FAISS and BM25 candidates must
be restricted to the asker's workspace before blending. Compared, at 100 workspaces x 10k
snippets and at 1 workspace x 1M:

  (a) one shared `VectorIndex` (IVF-fp16 at these sizes) searched with a FAISS ID selector
      (`IDSelectorBatch`, as the FAISS wiki suggests, and a bitmap for comparison), and one shared
      `LexicalIndex` whose posting lists are cut to the workspace's rows before scoring;
  (b) a `VectorIndex` and a `LexicalIndex` per workspace, as Lepton builds them (exact flat
      below 100k vectors, IVF-fp16 above).

For each: build time, serialized bytes and resident-memory growth, single-query latency of k=50
candidates and recall@10 against exact search within the workspace, the BM25 top-50 latency,
and, for (a), how much of the workspace's true top-10 the IVF misses because the lists it probes
are filled with other workspaces' vectors.

    python -m bench.workspace_filtering          # 20 workspaces x 5k, 1 x 100k
    python -m bench.workspace_filtering --full   # 100 x 10k, 1 x 1M

Vectors and texts are bench/synthetic.py's corpus (real all-MiniLM-L6-v2 embeddings of Debian
descriptions, grown by mixing); queries are real package summaries. Snippets are dealt to
workspaces at random, so a workspace's ids are interleaved with everyone else's, as ingests of
many teams are, and each workspace covers the same topics.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import faiss
import numpy as np

from bench.report import record
from bench.search_scale import rss_mib
from bench.synthetic import BATCH, Base, _mixed, load_base
from indexer.search.lexical import LexicalIndex
from indexer.search.vectors import VectorIndex

SHAPES = [(20, 5_000), (1, 100_000)]
FULL_SHAPES = [(100, 10_000), (1, 1_000_000)]
QUERIES = 300
WARM_UP = 20
REPEATS = 3
K = 50
TOP = 10
NPROBE_FACTORS = (1, 2, 4)
EXACT_BLOCK = 100_000
T = TypeVar("T")


@dataclass(frozen=True)
class Built:
    """What building one variant cost."""

    seconds: float
    nbytes: int
    rss_mib: float


@dataclass(frozen=True)
class Run:
    """One variant's queries: the k=50 ids of each (first TOP compared) and per-query seconds."""

    ids: list[np.ndarray]
    seconds: list[float]

    def p(self, q: float) -> float:
        return float(np.percentile(np.asarray(self.seconds) * 1000, q))

    def recall(self, truth: np.ndarray) -> float:
        return float(
            np.mean(
                [len(set(f[:TOP]) & set(t)) / TOP for f, t in zip(self.ids, truth, strict=True)]
            )
        )


def corpus(base: Base, n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Texts and vectors of snippets 0..n in one pass; batch for batch the stream of
    bench.synthetic.vectors(base, n, seed), so the vectors are those, with their texts."""
    texts: list[str] = []
    out = np.empty((n, base.vectors.shape[1]), dtype=np.float32)
    for start in range(0, n, BATCH):
        rows = _mixed(base, start, min(n, start + BATCH), seed)
        for row, (_, text, vector) in enumerate(rows, start):
            texts.append(text)
            out[row] = vector
    return texts, out


_LIBC = ctypes.CDLL("libc.so.6")


def settled_rss() -> float:
    """Resident MiB after collecting garbage and handing malloc's free pages back, so that a
    difference is what a structure keeps rather than what building it left behind."""
    gc.collect()
    _LIBC.malloc_trim(0)
    return rss_mib()


def measured(make: Callable[[], T]) -> tuple[T, float, float]:
    """(result, seconds, resident MiB it added)."""
    before = settled_rss()
    started = time.perf_counter()
    made = make()
    seconds = time.perf_counter() - started
    return made, seconds, settled_rss() - before


def exact_top(
    vectors: np.ndarray, members: list[np.ndarray], asked: np.ndarray, queries: np.ndarray
) -> np.ndarray:
    """Exact top-10 ids of each query within its workspace, on the float32 vectors."""
    truth = np.empty((len(queries), TOP), dtype=np.int64)
    for w in np.unique(asked):
        rows = np.flatnonzero(asked == w)
        best = np.full((len(rows), TOP), -np.inf, dtype=np.float32)
        best_ids = np.full((len(rows), TOP), -1, dtype=np.int64)
        for start in range(0, len(members[w]), EXACT_BLOCK):
            ids = members[w][start : start + EXACT_BLOCK]
            scores = np.concatenate([best, queries[rows] @ vectors[ids].T], axis=1)
            all_ids = np.concatenate([best_ids, np.broadcast_to(ids, (len(rows), len(ids)))], 1)
            top = np.argpartition(-scores, TOP - 1, axis=1)[:, :TOP]
            best = np.take_along_axis(scores, top, 1)
            best_ids = np.take_along_axis(all_ids, top, 1)
        order = np.argsort(-best, axis=1)
        truth[rows] = np.take_along_axis(best_ids, order, 1)
    return truth


def timed_together(variants: dict[str, Callable[[int], np.ndarray]], count: int) -> dict[str, Run]:
    """Each query alone, as a request would run it, after a few unmeasured ones. The variants
    take turns query by query and each query runs REPEATS times, fastest kept: the machine is
    shared, so this keeps other processes' preemptions out of the percentiles while keeping the
    spread between queries, and whatever noise remains falls on every variant alike.

    FAISS runs on one thread here. A single IVF query never leaves its thread anyway, but a
    flat search opens an OpenMP region, and on this shared, oversubscribed machine that region
    waits for a descheduled second thread: 10k flat searches took 0.9 ms p50 and 12-20 ms p95
    on 2 threads against 0.63 / 0.75 ms on one, which would measure the neighbours, not the
    index."""
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return _interleaved(variants, count)
    finally:
        faiss.omp_set_num_threads(threads)


def _interleaved(variants: dict[str, Callable[[int], np.ndarray]], count: int) -> dict[str, Run]:
    for search in variants.values():
        for i in range(min(WARM_UP, count)):
            search(i)
    ids: dict[str, list[np.ndarray]] = {name: [] for name in variants}
    best: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for i in range(count):
        fastest = dict.fromkeys(names, float("inf"))
        for repeat in range(REPEATS):
            turn = (i + repeat) % len(names)
            for name in names[turn:] + names[:turn]:
                started = time.perf_counter()
                found = variants[name](i)
                fastest[name] = min(fastest[name], time.perf_counter() - started)
                if repeat == 0:
                    ids[name].append(found)
        for name in names:
            best[name].append(fastest[name])
    return {name: Run(ids[name], best[name]) for name in names}


def selected_search(
    index: faiss.Index, selector: faiss.IDSelector, query: np.ndarray, nprobe: int
) -> np.ndarray:
    """k ids from the shared index among the selected ones. The parameters are made per call:
    that is how concurrent requests would each pass their own workspace (nprobe must be given
    again, as SearchParametersIVF defaults to 1)."""
    if isinstance(index, faiss.IndexIVF):
        params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
    else:
        params = faiss.SearchParameters(sel=selector)
    _, ids = index.search(query[None, :], K, params=params)
    return ids[0]


def lexical_within(
    index: LexicalIndex, owner_of_row: np.ndarray, query: str, workspace: int
) -> np.ndarray:
    """Top-k BM25 ids among one workspace's rows of a shared index. Posting entries of other
    workspaces are dropped before scores are summed: exact, unlike fetching more and filtering
    afterwards, which comes back short whenever other workspaces fill the top."""
    cols = index.query_columns(query)
    if not len(cols):
        return np.zeros(0, dtype=np.int64)
    postings = [index._posting(int(c)) for c in cols]
    rows = np.concatenate([r for r, _ in postings])
    weights = np.concatenate([w for _, w in postings])
    mine = owner_of_row[rows] == workspace
    rows, weights = rows[mine], weights[mine]
    if len(postings) > 1:
        rows, slot = np.unique(rows, return_inverse=True)
        weights = np.bincount(slot, weights=weights).astype(np.float32)
    live = index.alive[rows] & (weights > 0)
    rows, weights = rows[live], weights[live]
    if len(rows) > K:
        top = np.argpartition(-weights, K - 1)[:K]
        rows, weights = rows[top], weights[top]
    return index.ids[rows[np.lexsort((rows, -weights))]]


def list_of_ids(ivf: faiss.IndexIVF, n: int) -> np.ndarray:
    """The inverted list holding each id (ids are 0..n-1 here)."""
    where = np.full(n, -1, dtype=np.int64)
    lists = ivf.invlists
    for i in range(ivf.nlist):
        size = lists.list_size(i)
        if size:
            where[faiss.rev_swig_ptr(lists.get_ids(i), size)] = i
    return where


def probed_share(
    ivf: faiss.IndexIVF,
    where: np.ndarray,
    members: list[np.ndarray],
    asked: np.ndarray,
    queries: np.ndarray,
    truth: np.ndarray,
    nprobe: int,
) -> tuple[float, float, float]:
    """(vectors scanned per query, of which the workspace's, share of the true top-10 lying in
    lists never probed): why a selector over a shared IVF loses recall."""
    sizes = np.bincount(where, minlength=ivf.nlist)
    _, probed = ivf.quantizer.search(queries, nprobe)
    counts: dict[int, np.ndarray] = {}
    scanned, own, unprobed = [], [], []
    for i, w in enumerate(asked.tolist()):
        if w not in counts:
            counts[w] = np.bincount(where[members[w]], minlength=ivf.nlist)
        scanned.append(sizes[probed[i]].sum())
        own.append(counts[w][probed[i]].sum())
        unprobed.append(np.mean(~np.isin(where[truth[i]], probed[i])))
    return float(np.mean(scanned)), float(np.mean(own)), float(np.mean(unprobed))


def mib(nbytes: float) -> str:
    return f"{nbytes / 2**20:,.0f} MiB"


def shape_name(workspaces: int, per: int) -> str:
    return f"{workspaces} x {per:,}"


def workspaces_of(n: int, workspaces: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """(owner of each snippet id, each workspace's ids ascending): dealt at random, evenly."""
    owner = np.random.default_rng([workspaces, n]).permutation(n) % workspaces
    order = np.argsort(owner, kind="stable")
    return owner, np.split(order, np.cumsum(np.bincount(owner, minlength=workspaces))[:-1])


def per_workspace(
    workspaces: int,
    shared: tuple[T, Built],
    build: Callable[[np.ndarray], T],
    members: list[np.ndarray],
    nbytes: Callable[[T], int],
) -> tuple[dict[int, T], Built]:
    """An index per workspace and what they cost together; with one workspace that index is
    the shared one, built once."""
    if workspaces == 1:
        return {0: shared[0]}, shared[1]
    made, seconds, rss = measured(lambda: {w: build(m) for w, m in enumerate(members)})
    return made, Built(seconds, sum(nbytes(v) for v in made.values()), rss)


def run_shape(
    workspaces: int,
    texts: list[str],
    vectors: np.ndarray,
    shared: tuple[VectorIndex, Built],
    shared_lexical: tuple[LexicalIndex, Built],
    query_texts: list[str],
    query_vectors: np.ndarray,
) -> tuple[list[str], list[str], list[str], list[str]]:
    """Rows of the vector, selector and BM25 tables, and the verdict line, for one shape."""
    n, count = len(vectors), len(query_texts)
    owner, members = workspaces_of(n, workspaces)
    asked = np.random.default_rng([workspaces, 1]).integers(workspaces, size=count)
    truth = exact_top(vectors, members, asked, query_vectors)
    name = shape_name(workspaces, n // workspaces)
    same = " (the same index)" if workspaces == 1 else ""
    index, built = shared
    ivf = index._index
    nprobe = ivf.nprobe if isinstance(ivf, faiss.IndexIVF) else 0
    queried = np.unique(asked).tolist()

    own, own_built = per_workspace(
        workspaces,
        shared,
        lambda m: VectorIndex.build(vectors.shape[1], m, vectors[m]),
        members,
        VectorIndex.nbytes,
    )
    batch, batch_seconds, batch_rss = measured(
        lambda: {w: faiss.IDSelectorBatch(members[w]) for w in queried}
    )
    bitmap, bitmap_seconds, bitmap_rss = measured(
        lambda: {
            w: faiss.IDSelectorBitmap(np.packbits(owner == w, bitorder="little")) for w in queried
        }
    )
    selectors = {"IDSelectorBatch": (batch, batch_seconds, batch_rss)}
    selectors["IDSelectorBitmap"] = (bitmap, bitmap_seconds, bitmap_rss)
    probes = [min(nprobe * f, ivf.nlist) for f in NPROBE_FACTORS] if nprobe else [0]
    settings = [("IDSelectorBatch", p) for p in (probes if workspaces > 1 else probes[:1])]
    settings.append(("IDSelectorBitmap", probes[0]))

    def shared_search(label: str, p: int) -> Callable[[int], np.ndarray]:
        chosen = selectors[label][0]
        return lambda i: selected_search(ivf, chosen[int(asked[i])], query_vectors[i], p)

    variants = {(label, p): shared_search(label, p) for label, p in settings}
    runs = timed_together(
        {
            **{f"{label} {p}": search for (label, p), search in variants.items()},
            "own": lambda i: own[int(asked[i])].search(query_vectors[i], K)[1][0],
        },
        count,
    )
    mine = runs["own"]
    kind = index.describe().split(",")[0]
    vector_rows, selector_rows = [], []
    where = list_of_ids(ivf, n) if nprobe else None
    for label, p in settings:
        run = runs[f"{label} {p}"]
        probing = f", nprobe {p}" if nprobe else ""
        vector_rows.append(
            f"| {name} | (a) shared + {label}{probing} | {kind} | {built.seconds:.1f} s "
            f"| {mib(built.nbytes)} | {built.rss_mib:,.0f} MiB | {run.p(50):.2f} ms "
            f"| {run.p(95):.2f} ms | {run.recall(truth):.3f} |"
        )
        if where is not None:
            scanned, in_workspace, unprobed = probed_share(
                ivf, where, members, asked, query_vectors, truth, p
            )
            made, seconds, rss = selectors[label]
            selector_rows.append(
                f"| {name} | {label} | {seconds / len(made) * 1000:.2f} ms "
                f"| {rss:,.1f} MiB ({len(made)}) | {p} | {scanned:,.0f} "
                f"| {in_workspace:,.0f} ({in_workspace / scanned:.1%}) | {unprobed:.3f} "
                f"| {1 - run.recall(truth):.3f} |"
            )
    vector_rows.append(
        f"| {name} | (b) per workspace{same} | {own[0].describe().split(',')[0]} "
        f"| {own_built.seconds:.1f} s | {mib(own_built.nbytes)} | {own_built.rss_mib:,.0f} MiB "
        f"| {mine.p(50):.2f} ms | {mine.p(95):.2f} ms | {mine.recall(truth):.3f} |"
    )

    lexical = shared_lexical[0]
    owner_of_row = owner[lexical.ids]
    own_lexical, own_lexical_built = per_workspace(
        workspaces,
        shared_lexical,
        lambda m: LexicalIndex.build(m.tolist(), (texts[i] for i in m.tolist())),
        members,
        LexicalIndex.nbytes,
    )
    lexical_runs = timed_together(
        {
            "shared": lambda i: lexical_within(
                lexical, owner_of_row, query_texts[i], int(asked[i])
            ),
            "own": lambda i: own_lexical[int(asked[i])].search(query_texts[i], K)[1],
        },
        count,
    )
    agreement = np.mean(
        [
            len(set(a.tolist()) & set(b.tolist())) / max(len(b), 1)
            for a, b in zip(lexical_runs["shared"].ids, lexical_runs["own"].ids, strict=True)
        ]
    )
    lexical_rows = [
        f"| {name} | {label} | {cost.seconds:.1f} s | {mib(cost.nbytes)} "
        f"| {cost.rss_mib:,.0f} MiB | {run.p(50):.2f} ms | {run.p(95):.2f} ms "
        f"| {agreement:.3f} |"
        for label, run, cost in (
            (
                "(a) shared, postings cut to the workspace",
                lexical_runs["shared"],
                shared_lexical[1],
            ),
            (f"(b) per workspace{same}", lexical_runs["own"], own_lexical_built),
        )
    ]

    selected = runs[f"IDSelectorBatch {probes[0]}"]
    bm25_mine, bm25_shared = lexical_runs["own"], lexical_runs["shared"]
    verdict = (
        f"- {name}: per-workspace indexes p95 {mine.p(95):.2f} ms vs {selected.p(95):.2f} ms "
        f"through an IDSelectorBatch on the shared index ({selected.p(95) / mine.p(95):.2f}x "
        f"as long), recall@10 {mine.recall(truth):.3f} vs {selected.recall(truth):.3f}; vector "
        f"memory {mib(own_built.nbytes)} vs {mib(built.nbytes)}; BM25 p95 {bm25_mine.p(95):.2f} "
        f"ms vs {bm25_shared.p(95):.2f} ms ({bm25_shared.p(95) / bm25_mine.p(95):.2f}x as long)."
    )
    return vector_rows, selector_rows, lexical_rows, [verdict]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="100 x 10k and 1 x 1M snippets")
    args = parser.parse_args()
    shapes = FULL_SHAPES if args.full else SHAPES
    n = shapes[0][0] * shapes[0][1]
    assert all(w * per == n for w, per in shapes), "every shape holds the same corpus"

    from indexer.embedding import Embedder

    load_before, began = os.getloadavg()[0], time.perf_counter()
    embedder = Embedder.load()
    base = load_base(embedder)
    rng = np.random.default_rng(1)
    query_texts = [base.queries[i] for i in rng.choice(len(base.queries), QUERIES, replace=False)]
    query_vectors = embedder.encode(query_texts)
    del embedder
    started = time.perf_counter()
    texts, vectors = corpus(base, n)
    print(f"corpus of {n:,} in {time.perf_counter() - started:.0f} s", flush=True)
    del base

    ids = np.arange(n, dtype=np.int64)
    index, seconds, rss = measured(lambda: VectorIndex.build(vectors.shape[1], ids, vectors))
    shared = (index, Built(seconds, index.nbytes(), rss))
    print(f"shared {index.describe()} in {seconds:.0f} s", flush=True)
    lexical, seconds, rss = measured(lambda: LexicalIndex.build(ids.tolist(), texts))
    shared_lexical = (lexical, Built(seconds, lexical.nbytes(), rss))
    print(f"shared BM25 in {seconds:.0f} s", flush=True)

    tables: list[list[str]] = [[], [], [], []]
    for workspaces, per in shapes:
        parts = run_shape(
            workspaces, texts, vectors, shared, shared_lexical, query_texts, query_vectors
        )
        for table, rows in zip(tables, parts, strict=True):
            table.extend(rows)
        print(f"{shape_name(workspaces, per)} done", flush=True)
    vector_rows, selector_rows, lexical_rows, verdicts = tables
    lines = [
        f"faiss {faiss.__version__}, built on {faiss.omp_get_max_threads()} threads and searched "
        f"on one (see `timed_together`); {n:,} snippets "
        f"(bench/synthetic.py), dealt to workspaces at random; {QUERIES} real questions (Debian "
        f"package summaries), each from a random workspace, one at a time, k={K}, the variants "
        f"taking turns and each query's fastest of {REPEATS} runs kept; recall@{TOP} against "
        "exact search within the workspace. Memory: serialized bytes (`nbytes()`) and resident "
        "growth after gc and malloc_trim; (b) sums its indexes.",
        "",
        "Vector candidates:",
        "",
        "| shape | approach | index | build | serialized | RSS growth | p50 | p95 | recall@10 |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *vector_rows,
        "",
        "(a) what the selector costs and why it loses recall: selectors are built once per "
        "workspace (cost per workspace, and resident MiB for all workspaces asked); the IVF "
        "probes the lists nearest the query whoever owns them, so it scans many vectors of which "
        "few are the workspace's, and the workspace's true top-10, further out than the global "
        "top-10, often lies in lists it never probes.",
        "",
        "| shape | selector | build each | RSS (workspaces) | nprobe | vectors scanned "
        "| of them the workspace's | true top-10 in unprobed lists | lost (1 - recall@10) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *selector_rows,
        "",
        f"BM25 candidates (top {K}); the agreement column is the share of the per-workspace "
        f"index's top {K} the shared one also returns (their IDF differs: the shared index "
        "counts every workspace's documents).",
        "",
        "| shape | approach | build | nbytes | RSS growth | p50 | p95 | agreement |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        *lexical_rows,
        "",
        *verdicts,
        f"- whole run {(time.perf_counter() - began) / 60:.1f} min; 1-minute load average at "
        f"start {load_before:.2f}, at end {os.getloadavg()[0]:.2f} (2 cores, shared with other "
        "jobs).",
    ]
    record("workspace_filtering", lines)


if __name__ == "__main__":
    main()
