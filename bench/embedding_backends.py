"""Query embedding backends side by side: the packaged all-MiniLM-L6-v2 run by torch (as Lepton
runs it today), by ONNX Runtime in fp32 and dynamically quantized to int8, and by OpenVINO in
fp32 and bf16, on the same machine in one run.

Every backend goes through the same SentenceTransformer and `Embedder.encode`: tokenizer, mean
pooling and normalisation stay torch's, and only the transformer's forward pass is swapped for
the other runtime. The ONNX file is exported locally from the packaged model (torch's exporter)
and quantized with ONNX Runtime's dynamic int8 quantizer, once, into
~/.cache/lepton-bench/backends/; OpenVINO reads that same ONNX file. Nothing is downloaded.
(sentence-transformers' own `backend="onnx"` / `"openvino"` would export the same way, but it
needs optimum-onnx or optimum-intel, and neither supports the transformers 5.x Lepton runs.)
OpenVINO's bf16 is its default precision on CPUs with bf16 units (as here); fp32 is asked for.

Each measurement runs in a fresh process, so memory is comparable:
- serving: threads as a serving process sets them (`one_thread_per_question`: one torch thread;
  one ONNX Runtime intra-op thread; OpenVINO one thread per stream, a stream per core). 300 real
  short queries (Debian package summaries), one `encode([query])` each, timed p50/p95/p99:
  alone, beside two processes burning a core each, and from four threads encoding at once;
  resident memory after them, and the process's peak.
- ingest: every core (torch's default threads, ONNX Runtime and OpenVINO told the core count);
  texts/s encoding 2,000 Debian descriptions, and the process's peak memory.
- quality: the Debian retrieval benchmark (bench.retrieval_quality: 33.5k descriptions, its
  4,000 sampled queries, scored on its held-out half), dense only and Lepton's hybrid at shipped
  defaults, and cosine to torch's vectors on the same texts. Torch's vectors come from
  retrieval_quality's own cache; each other backend's are cached beside the exports under its
  own name (the first run embeds 37.5k texts per backend, later runs only time).

The machine may be shared (a test suite, other benchmarks), so timings run back to back, each
backend once early and once late, and are reported as ratios to torch as well, with the load
average at each process's start.

    python -m bench.embedding_backends        # needs: pip install -e '.[bench]'
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.debian_packages import DEFAULT_CACHE, load_known_items
from bench.report import record
from bench.retrieval_quality import SAMPLE, embeddings, metrics, rank_of
from indexer.embedding import DEFAULT_MODEL_NAME, Embedder, default_model_path
from indexer.search.hybrid import BlendWeights, blend, normalise_lexical, phrase_overlap, retrieve
from indexer.search.lexical import LexicalIndex
from indexer.search.threads import one_thread_per_question
from indexer.search.vectors import VectorIndex

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

EXPORTS = DEFAULT_CACHE.parent / "backends"
TORCH_CACHE = DEFAULT_CACHE / "embeddings"
QUERIES = 300
WARM_UP = 20
INGEST = 2_000
CONCURRENT = 4
BURNERS = 2
CORES = os.cpu_count() or 1
INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
CONDITIONS = ["alone", f"{BURNERS} CPU burners", f"{CONCURRENT} threads"]
Run = Callable[[dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class Backend:
    label: str
    kind: str  # torch, onnx or openvino
    file: str = ""  # in the export folder
    precision: str = "f32"  # OpenVINO's inference precision


BACKENDS = [
    Backend("torch (today)", "torch"),
    Backend("ONNX Runtime fp32", "onnx", "model.onnx"),
    Backend("ONNX Runtime int8", "onnx", "model-qint8.onnx"),
    Backend("OpenVINO fp32", "openvino", "model.onnx", "f32"),
    Backend("OpenVINO bf16", "openvino", "model.onnx", "bf16"),
]


def require_packages() -> list[str]:
    """Stop with how to install the bench extra if ONNX is missing; say if OpenVINO is."""
    missing = [p for p in ("onnx", "onnxruntime") if importlib.util.find_spec(p) is None]
    if missing:
        raise SystemExit(
            f"bench.embedding_backends needs {', '.join(missing)}: pip install -e '.[bench]'"
        )
    if importlib.util.find_spec("openvino") is None:
        return ["OpenVINO skipped: not installed (pip install -e '.[bench]')"]
    return []


# --------------------------------------------------------------------------- export


class _Encoder(torch.nn.Module):
    """The transformer with positional inputs and one output, as the ONNX exporter wants."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        out = self.model(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        return out.last_hidden_state


def export_folder() -> Path:
    weights = Path(default_model_path()) / "model.safetensors"
    return EXPORTS / f"{DEFAULT_MODEL_NAME}-{hashlib.sha256(weights.read_bytes()).hexdigest()[:12]}"


def export(folder: Path) -> str:
    """model.onnx exported from the packaged model, and its dynamic int8 quantization; checked
    against torch on a padded batch. Done once per packaged model."""
    # Only after Lepton's own modules are imported: this import appends onnxruntime/transformers
    # to sys.path, and its `models` package would hide Lepton's.
    from onnxruntime.quantization import QuantType, quantize_dynamic

    embedder = Embedder.load()
    sample = embedder.model.tokenizer(
        ["wifi", "a longer text, so that the first one is padded"],
        padding=True,
        return_tensors="pt",
    )
    fp32, int8 = folder / "model.onnx", folder / "model-qint8.onnx"
    folder.mkdir(parents=True, exist_ok=True)
    if not fp32.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _Encoder(embedder.model[0].model).eval(),
                tuple(sample[name] for name in INPUTS),
                str(folder / "tmp.onnx"),
                input_names=INPUTS,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*INPUTS, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        (folder / "tmp.onnx").replace(fp32)
    if not int8.exists():
        quantize_dynamic(fp32, folder / "tmp.onnx", weight_type=QuantType.QInt8, per_channel=True)
        (folder / "tmp.onnx").replace(int8)
    with torch.no_grad():
        expected = embedder.model[0].model(**sample).last_hidden_state.numpy()
    got = onnx_runner(fp32, 1)[0]({n: sample[n].numpy() for n in INPUTS})
    mask = sample["attention_mask"].numpy()[..., None]
    return f"{float(np.abs((got - expected) * mask).max()):.1e}"


# --------------------------------------------------------------------------- runtimes


def onnx_runner(path: Path, threads: int) -> tuple[Run, str]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        return session.run(None, {n: feed[n] for n in names})[0]

    return run, f"ORT intra_op {threads}"


def openvino_runner(path: Path, threads: int, streams: int, precision: str) -> tuple[Run, str]:
    import openvino as ov

    core = ov.Core()
    config = {
        "INFERENCE_NUM_THREADS": threads,
        "NUM_STREAMS": streams,
        "INFERENCE_PRECISION_HINT": precision,
    }
    compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
    local = threading.local()  # an infer request is not thread-safe: one per thread

    def run(feed: dict[str, np.ndarray]) -> np.ndarray:
        if not hasattr(local, "request"):
            local.request = compiled.create_infer_request()
        return np.array(local.request.infer(feed)[0], copy=True)

    return run, f"OV {threads} threads / {streams} streams"


class _Compiled(torch.nn.Module):
    """Stands in for the transformer inside the SentenceTransformer: same inputs, same output."""

    def __init__(self, run: Run, config: Any) -> None:
        super().__init__()
        self.run = run
        self.config = config

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        **_: Any,
    ) -> dict[str, torch.Tensor]:
        types = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids
        tensors = (input_ids, attention_mask, types)
        feed = {name: tensor.numpy() for name, tensor in zip(INPUTS, tensors, strict=True)}
        return {"last_hidden_state": torch.from_numpy(self.run(feed))}


def load(backend: Backend, serving: bool) -> tuple[Embedder, str]:
    """The backend's Embedder and its thread setting; serving processes get one thread per
    question, as `one_thread_per_question` gives torch, ingest gets every core."""
    if serving:
        one_thread_per_question()
    embedder = Embedder.load()
    if backend.kind == "torch":
        return embedder, f"torch {torch.get_num_threads()} thread(s)"
    path = export_folder() / backend.file
    if backend.kind == "onnx":
        run, setting = onnx_runner(path, 1 if serving else CORES)
    else:
        run, setting = openvino_runner(path, CORES, CORES if serving else 1, backend.precision)
    transformer = embedder.model[0]
    transformer.model = _Compiled(run, transformer.model.config)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    return Embedder(embedder.model, f"{DEFAULT_MODEL_NAME} {backend.label} {digest}"), setting


# --------------------------------------------------------------------------- measurements


def memory_mib() -> tuple[float, float]:
    """(resident now, peak resident) of this process."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    rss, peak = (float(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM"))
    return rss, peak


def timed(embedder: Embedder, query: str) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    vector = embedder.encode([query])[0]
    return time.perf_counter() - started, vector


def serve(backend: Backend, queries: list[str]) -> dict[str, Any]:
    """One serving process: single-query latencies under each condition, then its memory."""
    load_average = os.getloadavg()[0]
    embedder, setting = load(backend, serving=True)
    for query in queries[:WARM_UP]:
        embedder.encode([query])
    alone = [timed(embedder, q) for q in queries]
    latencies = [np.array([t for t, _ in alone])]
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BURNERS)]
    try:
        latencies.append(np.array([timed(embedder, q)[0] for q in queries]))
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    with ThreadPoolExecutor(CONCURRENT) as pool:
        latencies.append(np.array([t for t, _ in pool.map(lambda q: timed(embedder, q), queries)]))
    rss, peak = memory_mib()
    return {
        "setting": setting,
        "latencies": latencies,
        "vectors": np.stack([v for _, v in alone]),
        "rss": rss,
        "peak": peak,
        "load": load_average,
    }


def throughput(backend: Backend, texts: list[str]) -> dict[str, Any]:
    """One ingest process: texts/s through `Embedder.encode` at its default batch, then its
    peak memory."""
    load_average = os.getloadavg()[0]
    embedder, setting = load(backend, serving=False)
    embedder.encode(texts[:128])
    started = time.perf_counter()
    embedder.encode(texts)
    rate = len(texts) / (time.perf_counter() - started)
    return {"setting": setting, "rate": rate, "peak": memory_mib()[1], "load": load_average}


def corpus_vectors(
    backend: Backend, documents: list[str], queries: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """The retrieval benchmark's vectors, through bench.retrieval_quality's cache: torch's are
    the ones it keeps, the others are kept beside the exports under their own names."""
    embedder, _ = load(backend, serving=False)
    cache = TORCH_CACHE if backend.kind == "torch" else EXPORTS / "embeddings"
    return (
        embeddings(embedder, documents, "docs", cache),
        embeddings(embedder, queries, "queries", cache),
    )


def in_process(function: Callable[..., Any], *args: Any) -> Any:
    """Run in a fresh process (spawned: nothing inherited), so memory and threads are its own."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


@dataclass
class Retrieval:
    """bench.retrieval_quality's corpus, queries and held-out half, with its lexical index."""

    documents: list[str]
    queries: list[tuple[str, str]]  # (text, relevant document)
    doc_index: dict[str, int]
    test: np.ndarray
    lexical: LexicalIndex

    @classmethod
    def load(cls) -> Retrieval:
        documents, queries = load_known_items()
        rng = np.random.default_rng(0)  # the same draws, in order, as bench.retrieval_quality
        if len(queries) > SAMPLE:
            queries = [queries[i] for i in sorted(rng.choice(len(queries), SAMPLE, replace=False))]
        order = rng.permutation(len(queries))
        ids = np.arange(len(documents), dtype=np.int64)
        return cls(
            [t for _, t in documents],
            [(q, relevant) for _, q, relevant in queries],
            {doc_id: n for n, (doc_id, _) in enumerate(documents)},
            order[len(order) // 2 :],
            LexicalIndex.build(ids.tolist(), [t for _, t in documents]),
        )

    def ndcg(self, doc_vectors: np.ndarray, query_vectors: np.ndarray) -> tuple[float, float]:
        """nDCG@10 dense only, and Lepton's hybrid at its shipped defaults."""
        ids = np.arange(len(self.documents), dtype=np.int64)
        vectors = VectorIndex.build(doc_vectors.shape[1], ids, doc_vectors)
        weights = BlendWeights()
        dense, hybrid = [], []
        for n in self.test:
            text, relevant = self.queries[n]
            found = retrieve(vectors, self.lexical, query_vectors[n], text, weights.candidates)
            phrase = phrase_overlap(text, [self.documents[int(i)] for i in found.ids])
            d = found.dense
            blended = blend(weights, d, normalise_lexical(found.lexical), phrase, 0 * d, 0 * d)
            for ranks, score in ((dense, d), (hybrid, blended)):
                order = np.argsort(-score, kind="stable")
                ranks.append(rank_of(found.ids[order], self.doc_index[relevant]))
        return metrics(dense)[0], metrics(hybrid)[0]


# --------------------------------------------------------------------------- report


def percentiles(seconds: np.ndarray) -> np.ndarray:
    return np.percentile(seconds * 1000, [50, 95, 99])


def joined(values: list[float], digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def main() -> None:
    notes = require_packages()
    backends = [b for b in BACKENDS if b.kind != "openvino" or not notes]
    started = time.perf_counter()
    load_before = os.getloadavg()
    check = in_process(export, export_folder())
    retrieval = Retrieval.load()
    rng = np.random.default_rng(1)
    queries = [q for q, _ in retrieval.queries]
    short = [queries[i] for i in rng.choice(len(queries), QUERIES, replace=False)]
    texts = [retrieval.documents[i] for i in rng.choice(len(retrieval.documents), INGEST, False)]

    # Timings back to back, each backend once early and once late, so that a change in the
    # machine's other load falls on all of them alike; quality after, from cached vectors.
    rounds = backends + backends[::-1]
    served: dict[str, list[dict[str, Any]]] = {b.label: [] for b in backends}
    for b in rounds:
        served[b.label].append(in_process(serve, b, short))
    ingested: dict[str, list[dict[str, Any]]] = {b.label: [] for b in backends}
    for b in rounds:
        ingested[b.label].append(in_process(throughput, b, texts))
    vectors = {
        b.label: in_process(corpus_vectors, b, retrieval.documents, queries) for b in backends
    }
    quality = {b.label: retrieval.ndcg(*vectors[b.label]) for b in backends}
    base = backends[0].label
    # A query backend changed without re-embedding: its queries against torch's documents.
    mixed = {b.label: retrieval.ndcg(vectors[base][0], vectors[b.label][1]) for b in backends}

    def latency(label: str, condition: int) -> np.ndarray:
        return percentiles(np.concatenate([r["latencies"][condition] for r in served[label]]))

    def rate(label: str) -> float:
        """Texts over total time, both rounds."""
        return len(ingested[label]) / sum(1 / r["rate"] for r in ingested[label])

    torch_vectors = np.vstack(vectors[base])
    header = " | ".join(f"{c} p50 / p95 / p99 ms" for c in CONDITIONS)
    lines = [
        f"Serving: {QUERIES} single-query `encode([query])` calls (Debian package summaries) "
        f"per condition: {CONDITIONS[0]} (one after another, no load added by this benchmark), "
        f"beside {BURNERS} processes each burning a core (`while True: pass`), and from "
        f"{CONCURRENT} threads at once in the same process. Ingest: {INGEST:,} Debian "
        "descriptions through `Embedder.encode` (batches of 64 in token order). Each backend "
        "in a fresh process per measurement, two rounds (forward, then reverse order); "
        "latencies pooled over both (600 per condition), throughput is texts over total time. "
        f"Quality: bench.retrieval_quality's {len(retrieval.documents):,} documents, nDCG@10 "
        f"on its held-out {len(retrieval.test):,} of {len(queries):,} sampled queries, with "
        "documents and queries embedded by the backend, and with only the queries (documents "
        "embedded by torch, as after switching without re-embedding); cosine "
        "to torch over all those documents and queries. ONNX export checked against torch: "
        f"max |diff| {check} on the last hidden state.",
        "",
        f"Load average (1/5/15 min) {joined(list(load_before))} at the start, "
        f"{joined(list(os.getloadavg()))} at the end (a test suite was running on the same "
        f"2 cores); run took {(time.perf_counter() - started) / 60:.0f} min.",
        *[f"- {note}" for note in notes],
        "",
        f"| backend | serving threads | {header} | RSS / peak MiB | load at start |",
        "| --- | --- | " + " | ".join("---:" for _ in range(len(CONDITIONS) + 2)) + " |",
    ]
    for b in backends:
        runs = served[b.label]
        cells = [" / ".join(f"{x:.1f}" for x in latency(b.label, c)) for c in range(3)]
        lines.append(
            f"| {b.label} | {runs[0]['setting']} | {' | '.join(cells)} | "
            f"{max(r['rss'] for r in runs):.0f} / {max(r['peak'] for r in runs):.0f} | "
            f"{joined([r['load'] for r in runs])} |"
        )
    lines += [
        "",
        "| backend | ingest threads | texts/s (each round) | peak MiB | load at start | "
        "dense nDCG@10 | hybrid nDCG@10 | the same, queries only (torch's documents) | "
        "cosine to torch mean / min | single-query min |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for b in backends:
        runs = ingested[b.label]
        cosine = np.sum(np.vstack(vectors[b.label]) * torch_vectors, axis=1)
        single = np.sum(served[b.label][0]["vectors"] * served[base][0]["vectors"], axis=1)
        dense, hybrid = quality[b.label]
        lines.append(
            f"| {b.label} | {runs[0]['setting']} | {rate(b.label):.0f} "
            f"({joined([r['rate'] for r in runs], 0)}) | {max(r['peak'] for r in runs):.0f} | "
            f"{joined([r['load'] for r in runs])} | {dense:.4f} | {hybrid:.4f} | "
            f"{mixed[b.label][0]:.4f} / {mixed[b.label][1]:.4f} | "
            f"{cosine.mean():.6f} / {cosine.min():.6f} | {single.min():.6f} |"
        )
    lines += [
        "",
        "Ratios to torch (latency: lower is better; throughput: higher is better; nDCG: "
        "difference, the target is within 0.005):",
        "",
        "| backend | "
        + " | ".join(f"{c} p50 / p99" for c in CONDITIONS)
        + " | ingest texts/s | Δ dense nDCG@10 | Δ hybrid nDCG@10 | serving RSS |",
        "| --- | " + " | ".join("---:" for _ in range(len(CONDITIONS) + 4)) + " |",
    ]
    for b in backends:
        ratios = [
            " / ".join(f"{x:.2f}" for x in (latency(b.label, c) / latency(base, c))[[0, 2]])
            for c in range(3)
        ]
        rss = max(r["rss"] for r in served[b.label]) / max(r["rss"] for r in served[base])
        lines.append(
            f"| {b.label} | {' | '.join(ratios)} | {rate(b.label) / rate(base):.2f} | "
            f"{quality[b.label][0] - quality[base][0]:+.4f} | "
            f"{quality[b.label][1] - quality[base][1]:+.4f} | {rss:.2f} |"
        )
    record("embedding_backends", lines)


if __name__ == "__main__":
    main()
