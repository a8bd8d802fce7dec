"""Does Lepton get better as people react, and can one person game it? A simulation on the
Debian known-item set (one right answer per question).

Teams of colleagues share interests (two clusters of the corpus each). In each team some people
have history (they asked and rated 20 questions), some rated little (2 questions) and some are
newcomers (nothing). Each question shows the top 5 (an answer); people rate it with buttons on
one snippet (+1 on the right answer when shown, sometimes -1 on a wrong one) or with a reaction
on the whole answer (+1 when the right answer is among the five, else -1, on all five). A share
of noisy raters vote at random, and one spammer down-votes the right answer of every common
question (thousands of votes), after copying one colleague's likes so the collaborative model
takes him for that colleague's twin.

Held-out: questions a teammate asked and rated, never this person, phrased differently from
how they were rated (a question template and a third of the words dropped). We report
nDCG@10 before feedback and with the prior, the collaborative (CF) term or both, for the
three kinds of people and three ways of rating (buttons, reactions, half each); how many right
answers the spammer pushed out of someone's top 5 / top 10; and how often a person's own
upvote from another area entered their top 10 for an unrelated question. Every figure is
computed for the learning before issue 21 (`BEFORE`: every vote in full, no per-person cap,
reactions as full votes, the old relevance gate) and after it (`AFTER`, the shipped defaults)
on the same ratings: exposure during the rating phase uses the ranking without feedback, so
both see exactly the same votes.

    python -m bench.feedback_simulation          # 40 teams of 8
    python -m bench.feedback_simulation --full   # 125 teams of 8
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np
from sklearn.cluster import MiniBatchKMeans

from bench.debian_packages import DEFAULT_CACHE, load_known_items
from bench.report import record
from bench.retrieval_quality import embeddings
from indexer.embedding import Embedder
from indexer.learning.collaborative import (
    PRIOR_BUDGET,
    PRIOR_SHRINKAGE,
    CFConfig,
    CFModel,
    RatingRow,
    rating_prior,
)
from indexer.learning.feedback import REACTION_WEIGHT, FeedbackSnapshot
from indexer.search.hybrid import (
    GATE_HIGH,
    GATE_LOW,
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
SHOWN = 5
TOPICS = 60
TOPIC_POOL = 60
TEAM_SIZE = 8
ROLES = ("history",) * 4 + ("light",) * 2 + ("newcomer",) * 2
QUESTIONS = {"history": 20, "light": 2, "newcomer": 0}
HELD_OUT = 5
FAR_AREAS = 5
NOISY_SHARE = 0.1
P_UPVOTE_RIGHT = 0.9
P_DOWNVOTE_WRONG = 0.3
P_REACT = 0.8
TEMPLATES = (
    "I need {}",
    "is there a package for {}?",
    "how can I get {}",
    "looking for {}",
    "which tool does {}",
    "anything for {}",
)
WORLDS = ("buttons", "reactions", "mixed")
GROUPS = ("history", "light", "newcomer")
GROUP_NAMES = {
    "history": "people with history",
    "light": "colleagues who rated little",
    "newcomer": "newcomers",
}

Votes = dict[tuple[str, int], tuple[float, str]]
Pair = tuple[str, int]


@dataclass(frozen=True)
class Learning:
    """How ratings become scores: the knobs issue 21 changed."""

    name: str
    budget: float | None
    person_cap: float | None
    reaction_weight: float
    gate: tuple[float, float]

    def weight(self, origin: str) -> float:
        return self.reaction_weight if origin == "reaction" else 1.0

    def blend_weights(self, cf: float = 0.3, prior: float = 0.2) -> BlendWeights:
        low, high = self.gate
        return BlendWeights(cf=cf, prior=prior, gate_low=low, gate_high=high)


BEFORE = Learning("before", budget=None, person_cap=None, reaction_weight=1.0, gate=(0.1, 0.35))
AFTER = Learning(
    "after",
    budget=PRIOR_BUDGET,
    person_cap=CFConfig().person_cap,
    reaction_weight=REACTION_WEIGHT,
    gate=(GATE_LOW, GATE_HIGH),
)


@dataclass
class Fitted:
    """One learning's snapshot and everyone's own (weighted) votes."""

    learning: Learning
    snapshot: FeedbackSnapshot
    own: dict[str, dict[int, float]]


def fit(learning: Learning, votes: Votes) -> Fitted:
    rows = [
        RatingRow(user_id=u, item_id=i, value=v, weight=learning.weight(origin))
        for (u, i), (v, origin) in votes.items()
    ]
    own: dict[str, dict[int, float]] = defaultdict(dict)
    for row in rows:
        own[row.user_id][row.item_id] = row.value * row.weight
    model = CFModel.fit(rows, CFConfig(person_cap=learning.person_cap))
    prior = rating_prior(rows, PRIOR_SHRINKAGE, learning.budget)
    return Fitted(learning, FeedbackSnapshot(model=model, prior=prior), own)


def ndcg(ids: np.ndarray, relevant: int) -> float:
    hits = np.flatnonzero(ids[:K] == relevant)
    return 1 / math.log2(hits[0] + 2) if len(hits) else 0.0


def rephrase(text: str, rng: np.random.Generator) -> str:
    """The same need in other words: a question template, about a third of the words dropped."""
    words = text.split()
    kept = [w for n, w in enumerate(words) if n == 0 or rng.random() > 0.35]
    if len(kept) < 2:
        kept = words[:2]
    return str(rng.choice(TEMPLATES)).format(" ".join(kept).lower())


class Simulation:
    def __init__(self, teams: int, embedder: Embedder) -> None:
        self.rng = np.random.default_rng(1)
        documents, self.queries = load_known_items()
        cache = DEFAULT_CACHE / "embeddings"
        doc_vectors = embeddings(embedder, [t for _, t in documents], "docs", cache)
        self.doc_index = {doc_id: n for n, (doc_id, _) in enumerate(documents)}
        ids = np.arange(len(documents), dtype=np.int64)
        self.texts = [t for _, t in documents]
        self.vectors = VectorIndex.build(embedder.dim, ids, doc_vectors)
        self.lexical = LexicalIndex.build(ids.tolist(), self.texts)
        clusters = MiniBatchKMeans(TOPICS, random_state=0, n_init=3).fit(doc_vectors)
        topic_of = clusters.labels_
        centres = clusters.cluster_centers_
        centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
        self.closeness = centres @ centres.T

        by_topic: dict[int, list[int]] = defaultdict(list)
        for q, (_, _, relevant) in enumerate(self.queries):
            by_topic[int(topic_of[self.doc_index[relevant]])].append(q)
        # Each area has a few dozen common questions, asked with a long tail of popularity.
        self.by_topic = {
            t: [int(q) for q in self.rng.permutation(qs)[:TOPIC_POOL]] for t, qs in by_topic.items()
        }
        self.topic_of = {q: t for t, qs in self.by_topic.items() for q in qs}
        self.team_topics = [
            self.rng.choice(sorted(self.by_topic), size=2, replace=False) for _ in range(teams)
        ]
        self.team: dict[str, int] = {}
        self.role: dict[str, str] = {}
        for t in range(teams):
            for n, role in enumerate(ROLES[:TEAM_SIZE]):
                user = f"T{t}U{n}"
                self.team[user], self.role[user] = t, role
        raters = [u for u in self.team if self.role[u] != "newcomer"]
        self.noisy = {u for u in raters if self.rng.random() < NOISY_SHARE}
        self.asked = {u: self._questions(u, QUESTIONS[self.role[u]]) for u in self.team}
        pool = sorted({q for t in self.team_topics for topic in t for q in self.by_topic[topic]})
        self.pool = pool
        self.phrasing = {q: rephrase(self.queries[q][1], self.rng) for q in pool}
        texts = [self.queries[q][1] for q in pool] + [self.phrasing[q] for q in pool]
        vectors = embeddings(embedder, texts, "sim-queries", cache)
        self.query_vector = {
            (q, held): vectors[n + (len(pool) if held else 0)]
            for held in (False, True)
            for n, q in enumerate(pool)
        }
        self._found: dict[tuple[int, bool], tuple[Candidates, np.ndarray]] = {}

    def _questions(self, user: str, count: int) -> list[int]:
        if count == 0:
            return []
        topics = self.team_topics[self.team[user]]
        pool = np.concatenate([self.by_topic[int(t)] for t in topics])
        popularity = np.concatenate(
            [1 / np.arange(1, len(self.by_topic[int(t)]) + 1) for t in topics]
        )
        chosen = self.rng.choice(pool, count, replace=False, p=popularity / popularity.sum())
        return [int(q) for q in chosen]

    def relevant(self, q: int) -> int:
        return self.doc_index[self.queries[q][2]]

    def found(self, q: int, held_out: bool) -> tuple[Candidates, np.ndarray]:
        """Candidates and phrase overlap for the rated (False) or the other phrasing (True)."""
        key = (q, held_out)
        if key not in self._found:
            text = self.phrasing[q] if held_out else self.queries[q][1]
            candidates = retrieve(
                self.vectors, self.lexical, self.query_vector[key], text, BlendWeights().candidates
            )
            phrase = phrase_overlap(text, [self.texts[int(i)] for i in candidates.ids])
            self._found[key] = (candidates, phrase)
        return self._found[key]

    def ranked(
        self, q: int, fitted: Fitted | None, user: str | None, weights: BlendWeights
    ) -> np.ndarray:
        """The ranker's blend: CF score, replaced by the asker's own vote where there is one."""
        found, phrase = self.found(q, held_out=True)
        if fitted is None:
            cf = prior = np.zeros(len(found.ids), dtype=np.float32)
        else:
            cf = fitted.snapshot.cf_scores(user, found.ids)
            mine = fitted.own.get(user or "", {})
            for n, item in enumerate(found.ids.tolist()):
                if item in mine:
                    cf[n] = mine[item]
            prior = fitted.snapshot.priors(found.ids)
        scores = blend(weights, found.dense, normalise_lexical(found.lexical), phrase, cf, prior)
        return found.ids[np.argsort(-scores, kind="stable")]

    def shown(self, q: int) -> list[int]:
        """What an answer to the rated phrasing shows, without feedback (the same for every
        learning compared, so they all see the same votes)."""
        found, phrase = self.found(q, held_out=False)
        zero = np.zeros(len(found.ids), dtype=np.float32)
        scores = blend(
            BlendWeights(), found.dense, normalise_lexical(found.lexical), phrase, zero, zero
        )
        return [int(i) for i in found.ids[np.argsort(-scores, kind="stable")][:SHOWN]]

    def votes(self, world: str) -> Votes:
        rng = np.random.default_rng(2)
        votes: Votes = {}
        for user, questions in self.asked.items():
            for q in questions:
                shown, right = self.shown(q), self.relevant(q)
                reaction = world == "reactions" or (world == "mixed" and rng.random() < 0.5)
                if reaction:
                    if rng.random() < P_REACT:
                        good = right in shown
                        if user in self.noisy:
                            good = bool(rng.random() < 0.5)
                        for item in shown:
                            votes[(user, item)] = (1.0 if good else -1.0, "reaction")
                    continue
                for item in shown:
                    if user in self.noisy:
                        if rng.random() < 0.3:
                            votes[(user, item)] = (float(rng.choice([-1, 1])), "button")
                    elif item == right and rng.random() < P_UPVOTE_RIGHT:
                        votes[(user, item)] = (1.0, "button")
                    elif item != right and rng.random() < P_DOWNVOTE_WRONG:
                        votes[(user, item)] = (-1.0, "button")
        return votes

    def spam(self, votes: Votes) -> Votes:
        """One spammer: copies a colleague's likes (to look like their twin to the CF model),
        then down-votes the right answer of every common question."""
        twin = next(u for u in self.team if self.role[u] == "history" and u not in self.noisy)
        likes = {i for (u, i), (v, _) in votes.items() if u == twin and v > 0}
        spammed = dict(votes)
        for item in likes:
            spammed[("USPAM", item)] = (1.0, "button")
        for q in self.pool:
            if self.relevant(q) not in likes:
                spammed[("USPAM", self.relevant(q))] = (-1.0, "button")
        return spammed

    def held_out(self, group: str) -> list[Pair]:
        """Up to five questions per person that a teammate rated and they never asked."""
        rng = np.random.default_rng(3)
        pairs: list[Pair] = []
        for user, team in self.team.items():
            if self.role[user] != group:
                continue
            mine = set(self.asked[user])
            theirs = sorted(
                {q for u, t in self.team.items() if t == team for q in self.asked[u]} - mine
            )
            for q in rng.choice(theirs, size=min(HELD_OUT, len(theirs)), replace=False):
                pairs.append((user, int(q)))
        return pairs

    def elsewhere(self) -> list[Pair]:
        """Five questions per person with history from the areas least like their team's (of
        the areas some team works in): what their upvotes must not follow them into."""
        rng = np.random.default_rng(4)
        used = sorted({self.topic_of[q] for q in self.pool})
        pairs: list[Pair] = []
        for user, team in self.team.items():
            if self.role[user] != "history":
                continue
            mine = [int(t) for t in self.team_topics[team]]
            far = sorted(used, key=lambda t: float(self.closeness[t, mine].max()))[:FAR_AREAS]
            other = [q for t in far for q in self.by_topic[t]]
            for q in rng.choice(other, size=HELD_OUT, replace=False):
                pairs.append((user, int(q)))
        return pairs


def mean_ndcg(
    sim: Simulation,
    pairs: Iterable[Pair],
    fitted: Fitted | None,
    weights: BlendWeights,
    newcomer: bool = False,
) -> float:
    return float(
        np.mean(
            [
                ndcg(sim.ranked(q, fitted, None if newcomer else u, weights), sim.relevant(q))
                for u, q in pairs
            ]
        )
    )


def pushed_out(
    sim: Simulation,
    pairs: list[Pair],
    clean: Fitted,
    spammed: Fitted,
    top: int,
    newcomer: bool,
) -> tuple[int, int, set[int]]:
    """(pairs whose right answer is in the top `top` without the spammer but not with him,
    pairs whose right answer is there without him, the answers pushed out)."""
    weights = clean.learning.blend_weights()
    lost, there, answers = 0, 0, set()
    for user, q in pairs:
        asker = None if newcomer else user
        right = sim.relevant(q)
        if right in sim.ranked(q, clean, asker, weights)[:top]:
            there += 1
            if right not in sim.ranked(q, spammed, asker, weights)[:top]:
                lost += 1
                answers.add(right)
    return lost, there, answers


def intrusions(sim: Simulation, pairs: list[Pair], fitted: Fitted) -> tuple[int, int]:
    """(the asker's own upvotes that feedback put into their top 10 for a question from an
    area unlike theirs, those of them below the relevance floor: cosine < GATE_LOW)."""
    weights = fitted.learning.blend_weights()
    count = unrelated = 0
    for user, q in pairs:
        liked = {i for i, v in fitted.own.get(user, {}).items() if v > 0}
        without = set(sim.ranked(q, None, user, weights)[:K].tolist())
        with_feedback = set(sim.ranked(q, fitted, user, weights)[:K].tolist())
        entered = (with_feedback - without) & liked
        found, _ = sim.found(q, held_out=True)
        cosine = dict(zip(found.ids.tolist(), found.dense.tolist(), strict=True))
        count += len(entered)
        unrelated += sum(cosine[i] < GATE_LOW for i in entered)
    return count, unrelated


def lift_rows(
    sim: Simulation, world: str, fitted: Fitted, groups: dict[str, list[Pair]]
) -> list[str]:
    learning = fitted.learning
    model_only = replace(fitted, own={})
    rows = []
    for group in GROUPS:
        pairs, newcomer = groups[group], group == "newcomer"
        before = mean_ndcg(sim, pairs, None, learning.blend_weights(), newcomer)
        prior = mean_ndcg(sim, pairs, fitted, learning.blend_weights(cf=0.0), newcomer)
        cf = mean_ndcg(sim, pairs, fitted, learning.blend_weights(prior=0.0), newcomer)
        both = mean_ndcg(sim, pairs, fitted, learning.blend_weights(), newcomer)
        model = mean_ndcg(sim, pairs, model_only, learning.blend_weights(), newcomer)
        rows.append(
            f"| {learning.name} | {world} | {GROUP_NAMES[group]} ({len(pairs)}) | {before:.3f} "
            f"| {prior - before:+.3f} | {cf - before:+.3f} | {both - before:+.3f} "
            f"| {both - prior:+.3f} | {model - prior:+.3f} |"
        )
    return rows


def spam_cells(
    sim: Simulation, groups: dict[str, list[Pair]], clean: Fitted, dirty: Fitted
) -> list[str]:
    """Newcomers' top 5, the others' top 10, and the distinct answers pushed out of a top 10."""
    new5, there5, _ = pushed_out(sim, groups["newcomer"], clean, dirty, SHOWN, True)
    cells, answers = [f"{new5} of {there5}"], set()
    for group in ("light", "history"):
        lost, there, pushed = pushed_out(sim, groups[group], clean, dirty, K, False)
        cells.append(f"{lost} of {there}")
        answers |= pushed
    answers |= pushed_out(sim, groups["newcomer"], clean, dirty, K, True)[2]
    return [*cells, str(len(answers))]


SWEEP = (
    ("shipped", AFTER),
    (f"prior budget 10 (shipped {PRIOR_BUDGET:g})", replace(AFTER, budget=10.0)),
    ("prior budget 40", replace(AFTER, budget=40.0)),
    ("no prior budget", replace(AFTER, budget=None)),
    (f"reactions weigh 0.5 (shipped {REACTION_WEIGHT})", replace(AFTER, reaction_weight=0.5)),
    ("reactions weigh 1", replace(AFTER, reaction_weight=1.0)),
    ("no CF person cap", replace(AFTER, person_cap=None)),
    ("old gate (0.1 to 0.35)", replace(AFTER, gate=(0.1, 0.35))),
)


def sweep(
    sim: Simulation, groups: dict[str, list[Pair]], votes: Votes, spammed: Votes
) -> list[str]:
    """One knob at a time around the shipped learning, in the mixed world."""
    rows = [
        "| learning (mixed) | newcomers: + both | rated little: + both | history: + both "
        "| newcomers: left the top 5 | rated little: left the top 10 | history: left the top "
        "10 | answers pushed out |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, learning in SWEEP:
        clean, dirty = fit(learning, votes), fit(learning, spammed)
        weights = learning.blend_weights()
        lifts = []
        for group in ("newcomer", "light", "history"):
            pairs, newcomer = groups[group], group == "newcomer"
            before = mean_ndcg(sim, pairs, None, weights, newcomer)
            lifts.append(f"{mean_ndcg(sim, pairs, dirty, weights, newcomer) - before:+.3f}")
        rows.append(f"| {label} | {' | '.join(lifts + spam_cells(sim, groups, clean, dirty))} |")
    return rows


def report(sim: Simulation) -> list[str]:
    started = time.perf_counter()
    groups = {g: sim.held_out(g) for g in GROUPS}
    elsewhere = sim.elsewhere()
    lift = [
        "| learning | rating by | held-out questions of | nDCG@10 before feedback | + prior "
        "| + CF | + both | CF on top of the prior | CF on top of the prior, no own-vote "
        "override |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    spam = [
        "| learning | rating by | newcomers: left the top 5 | colleagues who rated little: "
        "left the top 10 | people with history: left the top 10 | answers pushed out of "
        "someone's top 10 |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    unrelated = [
        "| learning | rating by | own upvotes put into the top 10 | of which below cosine "
        f"{GATE_LOW} |",
        "| --- | --- | ---: | ---: |",
    ]
    sizes, tuning = [], []
    for world in WORLDS:
        votes = sim.votes(world)
        spammed = sim.spam(votes)
        sizes.append(
            f"{world}: {len(votes):,} votes "
            f"({sum(o == 'reaction' for v, o in votes.values()):,} from reactions), "
            f"the spammer {len(spammed) - len(votes):,}"
        )
        for learning in (BEFORE, AFTER):
            clean, dirty = fit(learning, votes), fit(learning, spammed)
            lift += lift_rows(sim, world, dirty, groups)
            cells = " | ".join(spam_cells(sim, groups, clean, dirty))
            spam.append(f"| {learning.name} | {world} | {cells} |")
            count, below = intrusions(sim, elsewhere, dirty)
            unrelated.append(f"| {learning.name} | {world} | {count} | {below} |")
        if world == "mixed":
            tuning = sweep(sim, groups, votes, spammed)
    people = len(sim.team)
    return [
        f"{len(sim.team_topics)} teams of {TEAM_SIZE} ({people} people: per team 4 with "
        "history who rated 20 questions, 2 colleagues who rated 2, 2 newcomers), "
        f"{len(sim.noisy)} noisy raters, {len(sim.pool):,} common questions; answers show "
        f"{SHOWN}. Votes per way of rating: " + "; ".join(sizes) + ". Held-out questions "
        "(a teammate rated them, this person never asked) are phrased differently from the "
        "rated ones; every figure includes the spammer and the noisy raters.",
        "",
        f"`before`: every vote in full in the prior (shrinkage {PRIOR_SHRINKAGE:g}), CF without "
        "a per-person cap, reactions as full votes, learned scores gated from cosine 0.1 to "
        f"0.35. `after`: prior budget {PRIOR_BUDGET:g} votes per person, CF person cap "
        f"{AFTER.person_cap}, reactions weigh {REACTION_WEIGHT}, gate from {GATE_LOW} to "
        f"{GATE_HIGH}. Blend weights CF 0.3, prior 0.2 (the lift columns set the other to 0). "
        "As in the ranker, the asker's own vote replaces the CF score of what they rated; the "
        "last column scores those with the model instead.",
        "",
        "Lift in nDCG@10:",
        "",
        *lift,
        "",
        "The spammer: right answers in someone's top k without his votes that are not there "
        "with them (same people, same questions, same other votes):",
        "",
        *spam,
        "",
        f"A person's own upvotes entering their top 10 for {len(elsewhere)} questions from the "
        f"{FAR_AREAS} areas least like their team's (Debian descriptions are alike to the "
        "model: most of these still have cosine 0.3 to 0.6 to the question):",
        "",
        *unrelated,
        "",
        "One knob at a time around the shipped learning (mixed ratings, spammer included):",
        "",
        *tuning,
        "",
        f"({time.perf_counter() - started:.0f} s after embedding)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    sim = Simulation(125 if args.full else 40, Embedder.load())
    record("feedback_simulation", report(sim))


if __name__ == "__main__":
    main()
