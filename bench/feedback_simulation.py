"""Does Lepton get better as people react? A simulation on the Debian known-item set.

Simulated colleagues share interests (clusters of the corpus). In the training phase each asks
questions from their interests, sees Lepton's top 10, and reacts as the relevance judgments say:
+1 on the right answer when it is shown, sometimes -1 on a wrong one. A share of noisy raters
react at random, and one spammer downvotes everything he is shown. Then, on held-out questions
(asked before by a colleague, never by this person) we compare nDCG@10 before and after
feedback, for people with history and for newcomers, and check the spammer could not sink the
answers he downvoted.

    python -m bench.feedback_simulation          # 300 people
    python -m bench.feedback_simulation --full   # 1,000 people
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from dataclasses import replace

import numpy as np
from sklearn.cluster import MiniBatchKMeans

from bench.debian_packages import DEFAULT_CACHE, load_known_items
from bench.report import record
from bench.retrieval_quality import embeddings
from indexer.embedding import Embedder
from indexer.learning.collaborative import CFModel, RatingRow, rating_prior
from indexer.learning.feedback import FeedbackSnapshot
from indexer.search.hybrid import (
    BlendWeights,
    Candidates,
    blend,
    normalise_lexical,
    phrase_overlap,
    retrieve,
)
from indexer.search.lexical import LexicalIndex
from indexer.search.vectors import VectorIndex

K = 10
TOPICS = 60
QUESTIONS_PER_PERSON = 20
TOPIC_POOL = 60
NOISY_SHARE = 0.1
P_UPVOTE_RIGHT = 0.9
P_DOWNVOTE_WRONG = 0.3


def ndcg(ids: np.ndarray, relevant: int) -> float:
    hits = np.flatnonzero(ids[:K] == relevant)
    return 1 / math.log2(hits[0] + 2) if len(hits) else 0.0


def ranked(
    found: Candidates,
    phrase: np.ndarray,
    snapshot: FeedbackSnapshot,
    user: str | None,
    weights: BlendWeights,
) -> np.ndarray:
    cf = snapshot.cf_scores(user, found.ids)
    prior = snapshot.priors(found.ids)
    scores = blend(weights, found.dense, normalise_lexical(found.lexical), phrase, cf, prior)
    return found.ids[np.argsort(-scores, kind="stable")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    people = 1_000 if args.full else 300
    rng = np.random.default_rng(1)
    documents, queries = load_known_items()
    embedder = Embedder.load()
    cache = DEFAULT_CACHE / "embeddings"
    doc_vectors = embeddings(embedder, [t for _, t in documents], "docs", cache)
    doc_index = {doc_id: n for n, (doc_id, _) in enumerate(documents)}
    ids = np.arange(len(documents), dtype=np.int64)
    vectors = VectorIndex.build(embedder.dim, ids, doc_vectors)
    lexical = LexicalIndex.build(ids.tolist(), [t for _, t in documents])
    topic_of = MiniBatchKMeans(TOPICS, random_state=0, n_init=3).fit_predict(doc_vectors)

    by_topic: dict[int, list[int]] = defaultdict(list)
    for q, (_, _, relevant) in enumerate(queries):
        by_topic[int(topic_of[doc_index[relevant]])].append(q)
    # Each area has a few dozen common questions, asked with a long tail of popularity.
    by_topic = {t: [int(q) for q in rng.permutation(qs)[:TOPIC_POOL]] for t, qs in by_topic.items()}
    interests = {f"U{p}": rng.choice(TOPICS, size=2, replace=False) for p in range(people)}
    noisy = {u for u in interests if rng.random() < NOISY_SHARE}
    asked: dict[str, list[int]] = {}
    for user, topics in interests.items():
        pool = np.concatenate([by_topic[int(t)] for t in topics])
        popularity = np.concatenate([1 / np.arange(1, len(by_topic[int(t)]) + 1) for t in topics])
        asked[user] = [
            int(q)
            for q in rng.choice(
                pool, QUESTIONS_PER_PERSON, replace=False, p=popularity / popularity.sum()
            )
        ]
    asked_by_anyone = {q for qs in asked.values() for q in qs}
    needed = {q for qs in by_topic.values() for q in qs}
    query_vectors = embeddings(
        embedder, [queries[q][1] for q in sorted(needed)], f"sim-queries-{people}", cache
    )
    vector_of = dict(zip(sorted(needed), query_vectors, strict=True))
    found_cache: dict[int, tuple[Candidates, np.ndarray]] = {}
    texts = [t for _, t in documents]

    def found(q: int) -> tuple[Candidates, np.ndarray]:
        if q not in found_cache:
            candidates = retrieve(
                vectors, lexical, vector_of[q], queries[q][1], BlendWeights().candidates
            )
            phrase = phrase_overlap(queries[q][1], [texts[int(i)] for i in candidates.ids])
            found_cache[q] = (candidates, phrase)
        return found_cache[q]

    weights = BlendWeights()
    empty = FeedbackSnapshot()
    ratings: dict[tuple[str, int], float] = {}
    for round_ in range(2):
        snapshot = empty if round_ == 0 else _snapshot(ratings)
        for user, questions in asked.items():
            for q in questions[round_::2]:
                relevant = doc_index[queries[q][2]]
                for item in ranked(*found(q), snapshot, user, weights)[:K]:
                    item = int(item)
                    if user in noisy:
                        if rng.random() < 0.3:
                            ratings[(user, item)] = float(rng.choice([-1, 1]))
                    elif item == relevant and rng.random() < P_UPVOTE_RIGHT:
                        ratings[(user, item)] = 1.0
                    elif item != relevant and rng.random() < P_DOWNVOTE_WRONG:
                        ratings[(user, item)] = -1.0
    upvoted = [i for (_, i), v in ratings.items() if v > 0]
    spam_targets = {int(i) for i in rng.choice(upvoted, size=min(200, len(upvoted)), replace=False)}
    for item in spam_targets:
        ratings[("USPAM", item)] = -1.0
    after = _snapshot(ratings)

    held_out: list[tuple[str | None, int]] = []
    for user, topics in list(interests.items())[: people // 2]:
        mine = set(asked[user])
        colleagues = [
            q for t in topics for q in by_topic[int(t)] if q in asked_by_anyone and q not in mine
        ]
        for q in rng.choice(colleagues, size=min(5, len(colleagues)), replace=False):
            held_out.append((user, int(q)))
    newcomer_questions = [q for _, q in held_out]

    def mean_ndcg(
        snapshot: FeedbackSnapshot, pairs: list[tuple[str | None, int]], w: BlendWeights
    ) -> float:
        return float(
            np.mean(
                [
                    ndcg(ranked(*found(q), snapshot, u, w), doc_index[queries[q][2]])
                    for u, q in pairs
                ]
            )
        )

    with_history = held_out
    newcomers: list[tuple[str | None, int]] = [(None, q) for q in newcomer_questions]
    spam_checks: list[tuple[str | None, int]] = [
        (None, q) for q in sorted(needed) if doc_index[queries[q][2]] in spam_targets
    ]
    lines = [
        f"{people} people ({len(noisy)} noisy raters, 1 spammer downvoting {len(spam_targets)} "
        f"upvoted answers), {QUESTIONS_PER_PERSON} questions each from {TOPIC_POOL} common "
        f"questions per area, {len(ratings):,} ratings. Held-out: {len(with_history)} questions "
        "a colleague asked before (people with history), the same questions from newcomers, "
        f"and {len(spam_checks)} questions whose answer the spammer downvoted (newcomers).",
        "",
        "| weights (cf, prior) | history before | history after | newcomers after "
        "| spammed answers before | spammed answers after |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    before_history = mean_ndcg(empty, with_history, weights)
    before_spam = mean_ndcg(empty, spam_checks, weights)
    for cf_weight, prior_weight in ((0.15, 0.1), (0.3, 0.1), (0.3, 0.2), (0.5, 0.2)):
        w = replace(weights, cf=cf_weight, prior=prior_weight)
        shipped = " (shipped)" if w == weights else ""
        lines.append(
            f"| {cf_weight}, {prior_weight}{shipped} | {before_history:.3f} "
            f"| {mean_ndcg(after, with_history, w):.3f} | {mean_ndcg(after, newcomers, w):.3f} "
            f"| {before_spam:.3f} | {mean_ndcg(after, spam_checks, w):.3f} |"
        )
    record("feedback_simulation", lines)


def _snapshot(ratings: dict[tuple[str, int], float]) -> FeedbackSnapshot:
    rows = [RatingRow(user_id=u, item_id=i, value=v) for (u, i), v in ratings.items()]
    return FeedbackSnapshot(model=CFModel.fit(rows), prior=rating_prior(rows))


if __name__ == "__main__":
    main()
