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
from collections.abc import Sequence
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


def _stem(word: str) -> str:
    """A light suffix stripper: enough to match deploy/deploying/deployed, never clever."""
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
        self.ids = ids
        self.avg_length = avg_length
        self.alive = np.ones(len(ids), dtype=bool)
        self._row_of = {int(i): r for r, i in enumerate(ids)}
        self.changed_rows = 0

    @classmethod
    def build(cls, ids: Sequence[int], texts: Sequence[str]) -> LexicalIndex:
        tokens = [tokenize(text) for text in texts]
        vocabulary: dict[str, int] = {}
        for terms in tokens:
            for term in terms:
                vocabulary.setdefault(term, len(vocabulary))
        tf_matrix = _term_counts(tokens, vocabulary)
        n = len(texts)
        df = np.bincount(tf_matrix.indices, minlength=len(vocabulary))
        idf = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.array([len(t) for t in tokens], dtype=np.float32)
        avg = float(lengths.mean()) if n else 1.0
        weights = cls._weigh(tf_matrix, lengths, idf, avg)
        return cls(vocabulary, idf, weights.tocsc(), np.asarray(ids, dtype=np.int64), avg)

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

    def search(self, query: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, snippet ids) of the best `k` snippets sharing a term with the query."""
        cols = self.query_columns(query)
        if not len(cols) or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores = np.asarray(self.weights[:, cols].sum(axis=1)).ravel()
        scores[~self.alive] = 0
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return scores[hits], self.ids[hits]

    def scores_for(self, query: str, snippet_ids: Sequence[int]) -> np.ndarray:
        """BM25 of given snippets (0 for unknown ones), for candidates found by dense search."""
        cols = self.query_columns(query)
        out = np.zeros(len(snippet_ids), dtype=np.float32)
        if not len(cols):
            return out
        rows = [self._row_of.get(int(i), -1) for i in snippet_ids]
        known = [n for n, r in enumerate(rows) if r >= 0 and self.alive[r]]
        if known:
            picked = self.weights[[rows[n] for n in known]][:, cols]
            out[known] = np.asarray(picked.sum(axis=1)).ravel()
        return out

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
        start = len(self.ids)
        self.weights = sparse.vstack([self.weights, extra], format="csc")
        self.ids = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        self.alive = np.concatenate([self.alive, np.ones(len(ids), dtype=bool)])
        self._row_of.update({int(i): start + n for n, i in enumerate(ids)})
        self.changed_rows += len(ids)

    def remove(self, ids: Sequence[int]) -> None:
        for snippet_id in ids:
            row = self._row_of.pop(int(snippet_id), None)
            if row is not None:
                self.alive[row] = False
                self.changed_rows += 1

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
        index._row_of = {int(i): r for r, i in enumerate(stored) if i >= 0}
        return index, int(meta["version"])
