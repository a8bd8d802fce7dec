"""Lepton's vector index side by side with the peer a team would otherwise reach for, chromadb,
on the same real-text embeddings and queries in the same run: build time, single-query latency,
recall@10 against exact search, and memory.

    python -m bench.peer_comparison                  # 100k vectors
    python -m bench.peer_comparison --full           # + 1M vectors
    python -m bench.peer_comparison --sizes 20000    # any sizes

The default run takes about 4 minutes on this 2-core machine; `--full` about 35, most of it
chroma's two HNSW builds at 1M (9 to 12 minutes each).

Vectors come from bench/synthetic.py (the real all-MiniLM-L6-v2 embeddings of Debian package
descriptions, about 33k, grown by mixing); queries are 320 real package summaries embedded live
(20 warm-up, 300 measured, k = 10, one at a time as a request would; each query's latency is its
median over 3 passes, as other jobs share this 2-core machine). Each side runs in its own
process so its resident memory is its own: "index memory" is VmRSS after building and querying
minus VmRSS just before the first vector was added (libraries imported, client open, input
vectors loaded), and "process RSS" is the side's whole VmRSS at the end.

Lepton is `indexer.search.vectors.VectorIndex`, the class it serves from. The peer is chromadb
(pinned below) in its own virtualenv under ~/.cache/lepton-bench/peer-venv, made on first run so
it cannot disturb Lepton's dependencies: a `PersistentClient` collection with
`configuration={"hnsw": {"space": "ip"}}` (inner product; the vectors are unit length, so that is
cosine) and chroma's defaults otherwise, filled in batches of `get_max_batch_size()` and queried
with `include=[]`. Telemetry is off: this machine has no route out. Chroma's build includes its
durable write (SQLite log and index files); Lepton's does not include `VectorIndex.save`, whose
time is reported beside the table.

recall@10 counts a returned id as a hit when its exact inner product reaches the exact 10th-best
one, so exact duplicates among the real descriptions are not held against either side. Chroma is
built twice per size (`--peer-builds`): its HNSW graph is built by parallel insertion and differs
from run to run, so the verdict holds Lepton to the better build on each of p95 and recall@10.

"What-if" rows show what would close a gap, changing Lepton's choices in the child process only:
Lepton's saved index loaded as a server would, searched on one faiss thread at its own nprobe and
at nlist/2 ... nlist/32 (index memory there is VmRSS growth from loading it), and, where Lepton
uses IVF, exact search forced by raising EXACT_LIMIT. indexer/search/vectors.py is copied when the
run starts and every Lepton row imports that copy, so edits made meanwhile cannot mix versions;
the report gives its hash and whether it matches the last commit.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

CHROMA_VERSION = "1.5.9"
CACHE = Path(os.environ.get("LEPTON_BENCH_CACHE", Path.home() / ".cache" / "lepton-bench"))
PEER_VENV = CACHE / "peer-venv"
SIZES = [100_000]
FULL_SIZES = [*SIZES, 1_000_000]
QUERIES = 300
WARM_UP = 20
PASSES = 3
K = 10
SEED = 0
TRUTH_CHUNK = 100_000
PEER_BUILDS = 2
SWEEP_DIVISORS = (2, 4, 8, 16, 32)
ONE_THREAD = "1 faiss thread"
EXACT = "EXACT_LIMIT above n"
SCORE_TOLERANCE = 1e-5
REPO = Path(__file__).resolve().parent.parent
MODULE = REPO / "indexer" / "vector_index.py"
SNAPSHOT = "vector_index.py"

Row = dict[str, Any]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def timed_queries(
    search: Callable[[np.ndarray], list[int]], queries: np.ndarray
) -> tuple[list[list[int]], list[float]]:
    """Warm up, then time each measured query alone, as a request would arrive, in PASSES passes;
    a query's latency is its median over the passes, so another job taking the CPU during one
    pass is not counted as the system's own tail."""
    for q in queries[:WARM_UP]:
        search(q)
    found: list[list[int]] = []
    times = np.empty((PASSES, len(queries) - WARM_UP))
    for run in range(PASSES):
        for n, q in enumerate(queries[WARM_UP:]):
            start = time.perf_counter()
            ids = search(q)
            times[run, n] = (time.perf_counter() - start) * 1000
            if run == 0:
                found.append(ids)
    return found, [float(t) for t in np.median(times, axis=0)]


def vector_index_module(work: Path) -> ModuleType:
    """indexer.search.vectors as it was when the run started: it is being tuned while runs go on,
    and the rows of one run must measure one version."""
    spec = importlib.util.spec_from_file_location("indexer.search.vectors", work / SNAPSHOT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["indexer.search.vectors"] = module
    spec.loader.exec_module(module)
    return module


def lepton_side(data: np.ndarray, queries: np.ndarray, work: Path, setting: str) -> list[Row]:
    """Build with VectorIndex as Lepton does (or with exact search forced, on one thread), query,
    and save the index for the sweep."""
    import faiss

    vector_index = vector_index_module(work)
    if setting:
        vector_index.EXACT_LIMIT = len(data) + 1
        faiss.omp_set_num_threads(1)
    ids = np.arange(len(data), dtype=np.int64)
    before = rss_mib()
    start = time.perf_counter()
    index = vector_index.VectorIndex.build(data.shape[1], ids, data)
    build = time.perf_counter() - start

    def search(q: np.ndarray) -> list[int]:
        return [int(i) for i in index.search(q, K)[1][0]]

    found, times = timed_queries(search, queries)
    after = rss_mib()
    directory = work / f"lepton-{len(data)}{'-exact' if setting else ''}"
    start = time.perf_counter()
    index.save(directory, vector_index.IndexMeta(1, "bench", data.shape[1], len(index), index.kind))
    save = time.perf_counter() - start
    return [
        {
            "system": f"Lepton, what-if: {setting}" if setting else "Lepton",
            "index": index.describe(),
            "build": build,
            "save": save,
            "times": times,
            "found": found,
            "index_mib": after - before,
            "rss_mib": after,
            "serialized_mib": index.nbytes() / 2**20,
            "exact_limit": vector_index.EXACT_LIMIT,
            "detail": (
                f"faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, "
                f"EXACT_LIMIT {vector_index.EXACT_LIMIT:,}, "
                f"IVF_NPROBE_FRACTION {vector_index.IVF_NPROBE_FRACTION:g}"
            ),
        }
    ]


def sweep_side(data: np.ndarray, queries: np.ndarray, work: Path) -> list[Row]:
    """Lepton's saved index loaded as a server would, on one faiss thread (a single query gains
    nothing from a second one on a shared machine), at its own nprobe and at others."""
    import faiss

    vector_index = vector_index_module(work)
    faiss.omp_set_num_threads(1)
    before = rss_mib()
    raw = faiss.read_index(str(work / f"lepton-{len(data)}" / vector_index.INDEX_FILE))
    index = vector_index.VectorIndex(raw, data.shape[1])
    loaded = rss_mib()
    settings: list[tuple[int, str]] = [(0, "")]
    if isinstance(raw, faiss.IndexIVF):
        default = raw.nprobe
        settings = [(default, f" (default, nlist/{raw.nlist / default:.3g})")] + [
            (raw.nlist // d, f" (nlist/{d})") for d in SWEEP_DIVISORS if raw.nlist // d != default
        ]
        settings.sort(reverse=True)

    def search(q: np.ndarray) -> list[int]:
        return [int(i) for i in index.search(q, K)[1][0]]

    rows = []
    for nprobe, label in settings:
        if nprobe:
            raw.nprobe = nprobe
        found, times = timed_queries(search, queries)
        rows.append(
            {
                "system": f"Lepton, what-if: {ONE_THREAD}",
                "index": index.describe() + label,
                "build": None,
                "times": times,
                "found": found,
                "index_mib": loaded - before,
                "rss_mib": rss_mib(),
            }
        )
    return rows


def chroma_side(data: np.ndarray, queries: np.ndarray, directory: Path) -> Row:
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(directory), settings=Settings(anonymized_telemetry=False)
    )
    collection = client.create_collection(
        "peer-comparison", configuration={"hnsw": {"space": "ip"}}, embedding_function=None
    )
    batch = client.get_max_batch_size()
    before = rss_mib()
    start = time.perf_counter()
    for first in range(0, len(data), batch):
        rows = data[first : first + batch]
        collection.add(ids=[str(i) for i in range(first, first + len(rows))], embeddings=rows)
    build = time.perf_counter() - start

    def search(q: np.ndarray) -> list[int]:
        result = collection.query(query_embeddings=[q], n_results=K, include=[])
        return [int(i) for i in result["ids"][0]]

    found, times = timed_queries(search, queries)
    after = rss_mib()
    hnsw = collection.configuration["hnsw"] or {}
    return {
        "system": f"chromadb {chromadb.__version__}",
        "index": (
            f"HNSW M {hnsw.get('max_neighbors')}, construction_ef "
            f"{hnsw.get('ef_construction')}, search_ef {hnsw.get('ef_search')}, "
            f"space {hnsw.get('space')}"
        ),
        "build": build,
        "times": times,
        "found": found,
        "index_mib": after - before,
        "rss_mib": after,
        "detail": f"PersistentClient, add batches of {batch:,}, count {collection.count():,}",
    }


def run_side(side: str, size: int, work: Path, setting: str) -> None:
    """Child process: load this size's vectors, measure one side, print its rows as JSON."""
    data = np.array(np.load(work / "vectors.npy", mmap_mode="r")[:size])
    queries = np.load(work / "queries.npy")
    if side == "lepton":
        rows = lepton_side(data, queries, work, setting)
    elif side == "sweep":
        rows = sweep_side(data, queries, work)
    else:
        rows = [chroma_side(data, queries, Path(tempfile.mkdtemp(prefix="chroma-", dir=work)))]
    print(json.dumps(rows))


def peer_python() -> Path:
    """The peer's own interpreter, made on first use with chromadb pinned."""
    python = PEER_VENV / "bin" / "python"
    check = [str(python), "-c", "import chromadb; print(chromadb.__version__)"]
    if python.exists():
        found = subprocess.run(check, capture_output=True, text=True)
        if found.returncode == 0 and found.stdout.strip() == CHROMA_VERSION:
            return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"chromadb=={CHROMA_VERSION}", "numpy"],
        check=True,
    )
    subprocess.run(check, check=True, capture_output=True)
    return python


def spawn(side: str, size: int, work: Path, python: Path, setting: str = "") -> list[Row]:
    if side != "chroma":
        command = [sys.executable, "-m", "bench.peer_comparison"]
    else:
        command = [str(python), str(Path(__file__).resolve())]
    command += ["--side", side, "--size", str(size), "--work", str(work), "--setting", setting]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{side} at {size:,} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class Truth:
    """One size's vectors, the measured queries and each query's exact K-th best score."""

    data: np.ndarray
    queries: np.ndarray
    kth: np.ndarray


def measure(
    side: str, size: int, work: Path, python: Path, truth: Truth, setting: str = ""
) -> list[Row]:
    """One side's rows, with recall@10 against exact search."""
    rows = spawn(side, size, work, python, setting)
    for row in rows:
        row["recall"] = recall(row["found"], truth.data, truth.queries, truth.kth)
        print(table_row(size, row), flush=True)
    return rows


def exact_top(data: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-K (scores, ids) by inner product, a chunk of vectors at a time."""
    best_scores = np.full((len(queries), K), -np.inf, dtype=np.float32)
    best_ids = np.full((len(queries), K), -1, dtype=np.int64)
    for first in range(0, len(data), TRUTH_CHUNK):
        scores = queries @ data[first : first + TRUTH_CHUNK].T
        top = np.argpartition(-scores, K - 1, axis=1)[:, :K]
        merged_scores = np.hstack([best_scores, np.take_along_axis(scores, top, axis=1)])
        merged_ids = np.hstack([best_ids, top + first])
        order = np.argsort(-merged_scores, axis=1)[:, :K]
        best_scores = np.take_along_axis(merged_scores, order, axis=1)
        best_ids = np.take_along_axis(merged_ids, order, axis=1)
    return best_scores, best_ids


def recall(found: list[list[int]], data: np.ndarray, queries: np.ndarray, kth: np.ndarray) -> float:
    """Share of returned ids scoring at least the exact K-th best (ties count as hits)."""
    hits = []
    for ids, q, threshold in zip(found, queries, kth, strict=True):
        valid = [i for i in ids if i >= 0]
        scores = data[valid] @ q if valid else np.zeros(0, dtype=np.float32)
        hits.append(int(np.sum(scores >= threshold - SCORE_TOLERANCE)) / K)
    return float(np.mean(hits))


def percentiles(times: list[float]) -> tuple[float, float, float]:
    p50, p95, p99 = np.percentile(times, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def verdict(lepton: Row, peers: list[Row]) -> str:
    """Whether Lepton is no slower (p95) and no worse (recall@10) than the peer's best build on
    each, and by how much: HNSW builds differ from run to run, and a lucky one should not decide."""
    lp95 = percentiles(lepton["times"])[1]
    pp95 = min(percentiles(peer["times"])[1] for peer in peers)
    speed = (
        f"no slower: p95 {lp95:.2f} ms vs {pp95:.2f} ms ({pp95 / lp95:.2f}x as fast)"
        if lp95 <= pp95
        else f"SLOWER: p95 {lp95:.2f} ms vs {pp95:.2f} ms ({lp95 / pp95:.2f}x the time)"
    )
    best = max(peer["recall"] for peer in peers)
    delta = lepton["recall"] - best
    quality = "no worse" if delta >= 0 else "WORSE"
    return f"{speed}; {quality}: recall@10 {lepton['recall']:.3f} vs {best:.3f} ({delta:+.3f})"


def table_row(size: int, result: Row) -> str:
    p50, p95, p99 = percentiles(result["times"])
    build = "loaded" if result["build"] is None else f"{result['build']:.1f} s"
    return (
        f"| {size:,} | {result['system']} | {result['index']} | {build} | "
        f"{p50:.2f} ms | {p95:.2f} ms | {p99:.2f} ms | {result['recall']:.3f} | "
        f"{result['index_mib']:,.0f} MiB | {result['rss_mib']:,.0f} MiB |"
    )


def query_vectors() -> tuple[np.ndarray, Any]:
    """WARM_UP + QUERIES real package summaries, embedded by Lepton's own embedder."""
    from bench.synthetic import load_base
    from indexer.embedding import Embedder

    embedder = Embedder.load()
    base = load_base(embedder)
    rng = np.random.default_rng(SEED)
    chosen = rng.choice(len(base.queries), size=WARM_UP + QUERIES, replace=False)
    return embedder.encode([base.queries[i] for i in chosen]), base


def module_version(current: bytes) -> str:
    """Which indexer/search/vectors.py the Lepton rows measured: it may hold uncommitted edits."""
    committed = subprocess.run(
        ["git", "show", "HEAD:indexer/search/vectors.py"], cwd=REPO, capture_output=True
    ).stdout
    state = "as committed" if current == committed else "with uncommitted edits"
    return f"indexer/search/vectors.py sha256 {hashlib.sha256(current).hexdigest()[:12]} ({state})"


def load_average() -> str:
    """Other jobs on the machine move tail latencies, so the report says how busy it was."""
    return Path("/proc/loadavg").read_text().split()[0]


def size_list(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--sizes", type=size_list, help="comma-separated, e.g. 20000,300000")
    parser.add_argument(
        "--peer-builds", type=int, default=PEER_BUILDS, help="chroma builds per size"
    )
    parser.add_argument("--side", choices=["lepton", "sweep", "chroma"], help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--setting", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        run_side(args.side, args.size, args.work, args.setting)
        return

    from bench.report import record
    from bench.synthetic import vectors

    sizes = args.sizes or (FULL_SIZES if args.full else SIZES)
    python = peer_python()
    load_at_start = load_average()
    snapshot = MODULE.read_bytes()
    queries, base = query_vectors()
    measured = queries[WARM_UP:]
    lines = [
        f"{QUERIES} real queries one at a time (k = {K}) after {WARM_UP} warm-up queries, each "
        f"query's latency the median of {PASSES} passes; "
        "each side in its own process; vectors: bench/synthetic.py (real embeddings to "
        f"{len(base.vectors):,}, mixtures beyond); {module_version(snapshot)}",
        "",
        "| vectors | system | index | build | p50 | p95 | p99 | recall@10 | index memory "
        "| process RSS |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    verdicts, notes = [], []
    with tempfile.TemporaryDirectory(prefix="peer-comparison-") as tmp:
        work = Path(tmp)
        (work / SNAPSHOT).write_bytes(snapshot)
        data = vectors(base, max(sizes), SEED)
        np.save(work / "vectors.npy", data)
        np.save(work / "queries.npy", queries)
        for size in sorted(sizes):
            truth = Truth(data[:size], measured, exact_top(data[:size], measured)[0][:, K - 1])
            lepton = measure("lepton", size, work, python, truth)[0]
            peers = [
                measure("chroma", size, work, python, truth)[0] for _ in range(args.peer_builds)
            ]
            for number, peer in enumerate(peers, 1):
                peer["system"] += f", build {number}" if len(peers) > 1 else ""
            alternatives = measure("sweep", size, work, python, truth)
            if size >= lepton["exact_limit"]:
                alternatives += measure(
                    "lepton", size, work, python, truth, f"{EXACT}, {ONE_THREAD}"
                )
            lines += [table_row(size, row) for row in [lepton, *peers, *alternatives]]
            verdicts.append(f"- {size:,} vectors: Lepton is {verdict(lepton, peers)}.")
            verdicts += [
                f"  - {alt['system']}, {alt['index']}: {verdict(alt, peers)}."
                for alt in alternatives
            ]
            notes.append(
                f"- {size:,}: Lepton {lepton['detail']}; save {lepton['save']:.1f} s, "
                f"serialized {lepton['serialized_mib']:,.0f} MiB. {peers[0]['system']}: "
                f"{peers[0]['detail']}."
            )
    notes.append(
        f"- 1-minute load average at start {load_at_start}, at end {load_average()} "
        f"({os.cpu_count()} cores; other jobs share the machine)."
    )
    record("peer_comparison", [*lines, "", *verdicts, "", *notes])


if __name__ == "__main__":
    main()
