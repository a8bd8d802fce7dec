"""Hybrid candidate retrieval and score blending, free of the database so the quality benchmark
runs the very code that serves answers.

Candidates are the union of FAISS's dense top-k and BM25's top-k; every candidate gets both
scores (dense from its stored vector, BM25 from its posting lists), so a snippet found by one
side is never scored zero by the other just because it fell outside that side's top-k.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from indexer.search.lexical import LexicalIndex, tokenize
from indexer.search.vectors import VectorIndex

GATE_LOW = 0.25
GATE_HIGH = 0.4


@dataclass(frozen=True)
class BlendWeights:
    """Defaults chosen by bench/retrieval_quality.py and bench/feedback_simulation.py;
    `gate_low` / `gate_high` are the cosines between which learned scores fade in."""

    dense: float = 0.7
    lexical: float = 0.3
    phrase: float = 0.1
    cf: float = 0.3
    prior: float = 0.2
    candidates: int = 100
    gate_low: float = GATE_LOW
    gate_high: float = GATE_HIGH


@dataclass(frozen=True)
class Candidates:
    ids: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray


def retrieve(
    vectors: VectorIndex, lexical: LexicalIndex, query_vector: np.ndarray, query_text: str, k: int
) -> Candidates:
    dense_scores, dense_ids = vectors.search(query_vector, k)
    dense_ids, dense_scores = dense_ids[0], dense_scores[0]
    keep = dense_ids >= 0
    dense_ids, dense_scores = dense_ids[keep], dense_scores[keep]
    _, lexical_ids = lexical.search(query_text, k)
    extra = np.setdiff1d(lexical_ids, dense_ids, assume_unique=False)
    ids = np.concatenate([dense_ids, extra]).astype(np.int64)
    dense = np.concatenate(
        [dense_scores, vectors.vectors(extra) @ query_vector.ravel() if len(extra) else []]
    ).astype(np.float32)
    return Candidates(ids=ids, dense=dense, lexical=lexical.scores_for(query_text, ids))


def normalise_lexical(scores: np.ndarray) -> np.ndarray:
    """BM25 has no fixed scale; dividing by the best candidate's makes it comparable to cosine."""
    top = float(scores.max()) if len(scores) else 0.0
    return scores / top if top > 0 else np.zeros_like(scores)


def phrase_overlap(query_text: str, texts: Sequence[str]) -> np.ndarray:
    """Share of the query's word pairs found, in order, in each text: BM25 counts words one by
    one, so "roll back" and "back roll" look alike to it; this tells them apart."""
    terms = tokenize(query_text)
    pairs = set(itertools.pairwise(terms))
    if not pairs:
        return np.zeros(len(texts), dtype=np.float32)
    out = np.zeros(len(texts), dtype=np.float32)
    for n, text in enumerate(texts):
        lowered = text.lower()
        if not any(_may_hold(lowered, a) and _may_hold(lowered, b) for a, b in pairs):
            continue
        words = tokenize(text)
        out[n] = len(pairs & set(itertools.pairwise(words))) / len(pairs)
    return out


def _may_hold(lowered: str, term: str) -> bool:
    """Whether a text could contain a word that stems to `term`: a stem is the start of its
    word, but for "-ies"/"-ied" turned into "y". Most candidates hold no query pair at all, and
    this skips tokenizing them (8 of a search's 50 ms at 100k snippets)."""
    return term in lowered or (term.endswith("y") and term[:-1] in lowered)


def blend(
    weights: BlendWeights,
    dense: np.ndarray,
    lexical: np.ndarray,
    phrase: np.ndarray,
    cf: np.ndarray,
    prior: np.ndarray,
) -> np.ndarray:
    """`lexical` must already be normalised (see `normalise_lexical`).

    Ratings only reorder snippets that are about the question: the learned part is scaled by
    `relevance_gate`, 0 up to cosine `gate_low` and whole from `gate_high`, so a :+1: cannot
    carry a snippet into an unrelated search ("Password Manager and 2FA" is at 0.20 to
    "tensorflow 2.0"). On labelled questions over the example knowledge base, the right
    document's best snippet is below 0.25 for 2% of them; other documents' snippets in the top
    10 are for 43%.

    The bound: a person v's votes move anyone else's score on a snippet by at most
    gate * (cf * person_cap + prior * c_v / k) = 0.03 + 0.04 * min(1, 20 / n_v) directly with
    the defaults, n_v being v's votes (person_cap, c_v, k: `indexer/learning/collaborative.py`,
    which also says what v's likes do to the collaborative model's shared taste directions).
    """
    gate = relevance_gate(dense, weights.gate_low, weights.gate_high)
    learned = (weights.cf * cf + weights.prior * prior) * gate
    return (
        weights.dense * dense + weights.lexical * lexical + weights.phrase * phrase + learned
    ).astype(np.float32)


def relevance_gate(dense: np.ndarray, low: float = GATE_LOW, high: float = GATE_HIGH) -> np.ndarray:
    """0 for snippets unrelated to the query (cosine <= low), 1 from high up, linear between."""
    return np.clip((dense - low) / (high - low), 0.0, 1.0)
