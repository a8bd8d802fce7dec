"""Thread settings for processes that answer questions."""

from __future__ import annotations

import faiss


def one_thread_per_question() -> None:
    """A question is a few dozen tokens and one vector search: too little work to split across
    cores, and a split encode or search stalls whenever another thread or process holds a
    core. On this 2-core machine under load, bench.search_scale measured single-question
    encodes at p99 497 ms with torch's default 2 threads and 21 ms with 1, and
    bench.peer_comparison an IVF search at p95 4.7 ms with FAISS's 2 threads and 0.7 ms with 1.
    Concurrent requests still use every core, one question each. Process-wide, so serving
    processes call it and batch jobs (ingestion) keep every core.
    """
    import torch

    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
