"""The FAISS index, keyed by snippet id so updates and deletes are by id.

Exact inner-product search (`IndexFlatIP`) up to `EXACT_LIMIT` vectors; above it an inverted-file
index (`IndexIVFFlat`), which, unlike HNSW, supports removal by id, so edits never force a
rebuild. Both numbers come from bench/index_choice.py (results in bench/results): exact search
stays under 7 ms p95 to 100k vectors but takes 23 ms at 300k; IVF with nlist = 4·sqrt(n) needs
nprobe = nlist/4 for recall@10 above 0.95 (0.966 at 100k, 0.980 at 300k, 4 ms) on the
benchmark's hard, evenly spread vectors.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

EXACT_LIMIT = 100_000
IVF_NPROBE_FRACTION = 1 / 4
INDEX_FILE = "faiss.index"
META_FILE = "faiss.json"


@dataclass(frozen=True)
class IndexMeta:
    """Stored beside the index; compared with the database before the index is trusted."""

    version: int
    model: str
    dim: int
    count: int
    kind: str


class VectorIndex:
    def __init__(self, index: faiss.Index, dim: int) -> None:
        self._index = index
        self.dim = dim

    @classmethod
    def build(cls, dim: int, ids: np.ndarray, vectors: np.ndarray) -> VectorIndex:
        """Exact below EXACT_LIMIT vectors, IVF above, trained on the vectors given."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if len(ids) < EXACT_LIMIT:
            index: faiss.Index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        else:
            nlist = int(4 * math.sqrt(len(ids)))
            quantizer = faiss.IndexFlatIP(dim)
            ivf = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            rng = np.random.default_rng(0)
            sample = vectors[
                rng.choice(len(vectors), size=min(len(vectors), nlist * 64), replace=False)
            ]
            ivf.train(sample)
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
            ivf.nprobe = max(1, int(nlist * IVF_NPROBE_FRACTION))
            index = ivf
        if len(ids):
            index.add_with_ids(vectors, ids)
        return cls(index, dim)

    @property
    def kind(self) -> str:
        return "ivf" if isinstance(self._index, faiss.IndexIVF) else "flat"

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def vectors(self, ids: np.ndarray | list[int]) -> np.ndarray:
        """Stored vectors by id (each id must be present), to score lexical-only candidates."""
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def ids(self) -> np.ndarray:
        """Every id held, for consistency checks against the database."""
        if isinstance(self._index, faiss.IndexIVF):
            lists = self._index.invlists
            parts = [
                faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                for i in range(self._index.nlist)
                if lists.list_size(i)
            ]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return faiss.vector_to_array(self._index.id_map)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(ids, dtype=np.int64),
            )

    def remove(self, ids: np.ndarray | list[int]) -> int:
        if not len(ids):
            return 0
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) per query row; missing slots have id -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if len(self) == 0 or k <= 0:
            empty = (len(queries), max(k, 0))
            return np.zeros(empty, dtype=np.float32), np.full(empty, -1, dtype=np.int64)
        scores, ids = self._index.search(queries, min(k, len(self)))
        return scores, ids

    def save(self, directory: Path, meta: IndexMeta) -> None:
        """Write index then metadata, each atomically: a crash leaves a stale meta, never a
        meta that vouches for a half-written index."""
        directory.mkdir(parents=True, exist_ok=True)
        tmp_index = directory / f".{INDEX_FILE}.tmp"
        faiss.write_index(self._index, str(tmp_index))
        os.replace(tmp_index, directory / INDEX_FILE)
        tmp_meta = directory / f".{META_FILE}.tmp"
        tmp_meta.write_text(json.dumps(asdict(meta)))
        os.replace(tmp_meta, directory / META_FILE)

    @classmethod
    def load(cls, directory: Path) -> tuple[VectorIndex, IndexMeta] | None:
        """The stored index and its metadata, or None when either is missing or unreadable."""
        try:
            meta = IndexMeta(**json.loads((directory / META_FILE).read_text()))
            index = faiss.read_index(str(directory / INDEX_FILE))
        except (OSError, ValueError, TypeError, RuntimeError):
            return None
        if index.ntotal != meta.count or index.d != meta.dim:
            return None
        return cls(index, meta.dim), meta
