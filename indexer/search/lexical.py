"""BM25 over snippet text, as a scipy sparse matrix of precomputed term weights.

Each column is a term's posting list, so a query touches only its own terms' columns. Like the
FAISS index this is a cache of the database: built from stored text, persisted beside the FAISS
files with the same version, and rebuilt whenever the versions disagree. Between full builds,
added snippets are weighted with the current statistics and removed ones are masked; the owner
rebuilds once enough has changed (`drift`).
"""

from __future__ import annotations

import json
import os
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# Lower than the textbook 1.2 / 0.75: snippets are short, so repeated terms saturate sooner and
# length says little. Chosen by bench/retrieval_quality.py (nDCG@10 +0.01 on the dev half).
K1 = 0.7
B = 0.5
MATRIX_FILE = "bm25.npz"
META_FILE = "bm25.json"
_WORD = re.compile(r"[a-z0-9][a-z0-9+#_.-]*[a-z0-9+#]|[a-z0-9]")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ness", "ies", "ied", "es", "ed", "ly", "s")


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """A light suffix stripper: enough to match deploy/deploying/deployed, never clever.
    Cached: the same few thousand words recur in every text and every query."""
    if len(word) <= 4 or not word.isalpha():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def tokenize(text: str) -> list[str]:
    words = _WORD.findall(text.lower())
    return [_stem(w) for w in words if w not in ENGLISH_STOP_WORDS]


def _term_counts(tokens: Sequence[list[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    """Documents x terms matrix of raw term frequencies (every term must be in `vocabulary`)."""
    rows: list[int] = []
    cols: list[int] = []
    counts: list[int] = []
    for row, terms in enumerate(tokens):
        tf: dict[int, int] = {}
        for term in terms:
            col = vocabulary[term]
            tf[col] = tf.get(col, 0) + 1
        rows.extend([row] * len(tf))
        cols.extend(tf.keys())
        counts.extend(tf.values())
    return sparse.csr_matrix(
        (np.asarray(counts, dtype=np.float32), (rows, cols)),
        shape=(len(tokens), len(vocabulary)),
    )


class LexicalBuilder:
    """Term counts gathered one text at a time, so a full build holds compact count arrays
    rather than every text and its tokens (a million snippets' tokens take gigabytes)."""

    def __init__(self) -> None:
        self.vocabulary: dict[str, int] = {}
        self.columns = array("i")
        self.counts = array("f")
        self.indptr = array("q", [0])
        self.lengths = array("f")

    def add(self, text: str) -> None:
        terms = tokenize(text)
        tf = Counter(self.vocabulary.setdefault(t, len(self.vocabulary)) for t in terms)
        self.columns.extend(tf.keys())
        self.counts.extend(tf.values())
        self.indptr.append(len(self.columns))
        self.lengths.append(len(terms))

    def finish(self, ids: Sequence[int]) -> LexicalIndex:
        n = len(self.lengths)
        if len(ids) != n:
            raise ValueError(f"{len(ids)} ids for {n} texts")
        tf_matrix = sparse.csr_matrix(
            (
                np.frombuffer(self.counts, dtype=np.float32),
                np.frombuffer(self.columns, dtype=np.int32),
                np.frombuffer(self.indptr, dtype=np.int64),
            ),
            shape=(n, len(self.vocabulary)),
        )
        df = np.bincount(tf_matrix.indices, minlength=len(self.vocabulary))
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.frombuffer(self.lengths, dtype=np.float32)
        avg = float(lengths.mean()) if n else 1.0
        weights = LexicalIndex._weigh(tf_matrix, lengths, idf, avg)
        return LexicalIndex(self.vocabulary, idf, weights.tocsc(), np.asarray(ids), avg)


class LexicalIndex:
    def __init__(
        self,
        vocabulary: dict[str, int],
        idf: np.ndarray,
        weights: sparse.csc_matrix,
        ids: np.ndarray,
        avg_length: float,
    ) -> None:
        self.vocabulary = vocabulary
        self.idf = idf
        self.weights = weights
        self.weights.sort_indices()
        self.ids = np.array(ids, dtype=np.int64)
        self.avg_length = avg_length
        self.alive = np.ones(len(ids), dtype=bool)
        self.changed_rows = 0
        self._lookup: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def build(cls, ids: Sequence[int], texts: Iterable[str]) -> LexicalIndex:
        builder = LexicalBuilder()
        for text in texts:
            builder.add(text)
        return builder.finish(ids)

    @staticmethod
    def _weigh(
        tf_matrix: sparse.csr_matrix, lengths: np.ndarray, idf: np.ndarray, avg: float
    ) -> sparse.csr_matrix:
        norm = K1 * (1 - B + B * lengths / max(avg, 1e-6))
        tf_matrix = tf_matrix.tocoo()
        tf = tf_matrix.data
        data = idf[tf_matrix.col] * tf * (K1 + 1) / (tf + norm[tf_matrix.row])
        return sparse.csr_matrix(
            (data.astype(np.float32), (tf_matrix.row, tf_matrix.col)), shape=tf_matrix.shape
        )

    def __len__(self) -> int:
        return int(self.alive.sum())

    def query_columns(self, query: str) -> np.ndarray:
        cols = {self.vocabulary[t] for t in tokenize(query) if t in self.vocabulary}
        return np.fromiter(cols, dtype=np.int64)

    def _posting(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, weights) of one term, rows ascending."""
        start, stop = self.weights.indptr[col], self.weights.indptr[col + 1]
        return self.weights.indices[start:stop], self.weights.data[start:stop]

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, snippet ids) of the best `k` snippets sharing a term with the query.

        Only the query terms' posting lists are read, so the cost follows how common the terms
        are, not the size of the corpus."""
        cols = self.query_columns(query)
        if not len(cols) or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        postings = [self._posting(int(c)) for c in cols]
        rows = np.concatenate([r for r, _ in postings])
        weights = np.concatenate([w for _, w in postings])
        if len(postings) > 1:
            rows, slot = np.unique(rows, return_inverse=True)
            weights = np.bincount(slot, weights=weights).astype(np.float32)
        live = self.alive[rows] & (weights > 0)
        rows, weights = rows[live], weights[live]
        if len(rows) > k:
            top = np.argpartition(-weights, k - 1)[:k]
            rows, weights = rows[top], weights[top]
        order = np.lexsort((rows, -weights))
        return weights[order], self.ids[rows[order]]

    def scores_for(self, query: str, snippet_ids: Sequence[int]) -> np.ndarray:
        """BM25 of given snippets (0 for unknown ones), for candidates found by dense search."""
        cols = self.query_columns(query)
        out = np.zeros(len(snippet_ids), dtype=np.float32)
        if not len(cols) or not len(snippet_ids):
            return out
        rows = self._rows_of(np.asarray(snippet_ids, dtype=np.int64))
        known = np.flatnonzero(rows >= 0)
        wanted = rows[known]
        for col in cols:
            posting, weights = self._posting(int(col))
            if not len(posting):
                continue
            at = np.minimum(np.searchsorted(posting, wanted), len(posting) - 1)
            hit = posting[at] == wanted
            out[known[hit]] += weights[at[hit]]
        return out

    def _rows_of(self, snippet_ids: np.ndarray) -> np.ndarray:
        """Row of each live snippet id, -1 for unknown or removed ones."""
        if self._lookup is None:
            live = np.flatnonzero(self.alive)
            order = np.argsort(self.ids[live], kind="stable")
            self._lookup = (self.ids[live][order], live[order])
        sorted_ids, rows = self._lookup
        if not len(sorted_ids):
            return np.full(len(snippet_ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(sorted_ids, snippet_ids), len(sorted_ids) - 1)
        return np.where(sorted_ids[at] == snippet_ids, rows[at], -1)

    def nbytes(self) -> int:
        """Bytes of the weight matrix and row arrays (the vocabulary and id map come on top)."""
        w = self.weights
        return int(w.data.nbytes + w.indices.nbytes + w.indptr.nbytes + self.ids.nbytes)

    @property
    def drift(self) -> float:
        """Share of rows added or removed since the last full build; IDF and lengths drift."""
        return self.changed_rows / max(len(self.ids), 1)

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        """Index new snippets now with the current statistics; terms new to the corpus get an
        IDF from the current corpus size. A full rebuild (when `drift` grows) makes it exact."""
        if not len(ids):
            return
        self.remove(ids)
        tokens = [tokenize(t) for t in texts]
        new_df: dict[str, int] = {}
        for terms in tokens:
            for term in set(terms) - self.vocabulary.keys():
                new_df[term] = new_df.get(term, 0) + 1
        if new_df:
            n = len(self.ids) + len(ids)
            for term in new_df:
                self.vocabulary[term] = len(self.vocabulary)
            df = np.array(list(new_df.values()), dtype=np.float32)
            self.idf = np.concatenate([self.idf, np.log1p((n - df + 0.5) / (df + 0.5))])
            self.weights = sparse.hstack(
                [self.weights, sparse.csc_matrix((self.weights.shape[0], len(new_df)))],
                format="csc",
            )
        extra = LexicalIndex._weigh(
            _term_counts(tokens, self.vocabulary),
            np.array([len(t) for t in tokens], dtype=np.float32),
            self.idf,
            self.avg_length,
        )
        self.weights = sparse.vstack([self.weights, extra], format="csc")
        self.weights.sort_indices()
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self.alive = np.concatenate([self.alive, np.ones(len(ids), dtype=bool)])
        self._lookup = None
        self.changed_rows += len(ids)

    def remove(self, ids: Sequence[int]) -> None:
        if not len(ids):
            return
        rows = self._rows_of(np.asarray(ids, dtype=np.int64))
        rows = rows[rows >= 0]
        self.alive[rows] = False
        self._lookup = None
        self.changed_rows += len(rows)

    def save(self, directory: Path, version: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{MATRIX_FILE}.tmp.npz"
        sparse.save_npz(tmp, self.weights)
        os.replace(tmp, directory / MATRIX_FILE)
        np.save(directory / ".bm25-ids.npy", np.where(self.alive, self.ids, -1))
        meta = {
            "version": version,
            "avg_length": self.avg_length,
            "vocabulary": self.vocabulary,
            "idf": self.idf.tolist(),
        }
        tmp_meta = directory / f".{META_FILE}.tmp"
        tmp_meta.write_text(json.dumps(meta))
        os.replace(tmp_meta, directory / META_FILE)

    @classmethod
    def load(cls, directory: Path) -> tuple[LexicalIndex, int] | None:
        try:
            meta = json.loads((directory / META_FILE).read_text())
            weights = sparse.load_npz(directory / MATRIX_FILE).tocsc()
            stored = np.load(directory / ".bm25-ids.npy")
        except (OSError, ValueError, KeyError):
            return None
        if weights.shape[0] != len(stored):
            return None
        index = cls(
            meta["vocabulary"],
            np.asarray(meta["idf"], dtype=np.float32),
            weights,
            np.where(stored >= 0, stored, 0),
            float(meta["avg_length"]),
        )
        index.alive = stored >= 0
        return index, int(meta["version"])
