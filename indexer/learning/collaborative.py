"""Collaborative filtering and the rating prior, from people's +1 / -1 votes on snippets.

The model is a low-rank, user-weighted ridge regression that predicts a person's vote on a
snippet from the snippets they liked: EASE without the diagonal constraint, solved in the top
`rank` singular directions of the (user-weighted) like matrix X, so it needs no item x item
matrix and scales with the number of rated snippets. With Q s V^T the truncated SVD of X:

    like-profile p_u (r_uj per liked snippet)   z_u = p_u V                (fold-in, r numbers)
    weight the regression gives v's votes       a_uv = z_u diag(g) Q_v     g = s / (s^2 + reg)
    v's part of u's score on j                  c_uvj = a_uv x_vj          (v liked j)
                                                c_uvj = max(a_uv, 0) y_vj  (v disliked j)
    score_uj = clip(sum_v clip(c_uvj, -cap, cap), -1, 1)

where x_vj = sqrt(w_v) r_vj is X's entry for a like and y_vj = -sqrt(w_v) r_vj for a dislike.
Without the cap, the sum over likes is exactly the regression's prediction
z_u diag(s^2 / (s^2 + reg)) V_j (Q^T X = s V^T), so scoring person by person loses nothing and
lets each person's part be capped. Clipping a_uv at 0 for the -1 votes means a downvote can only
lower scores: someone whose taste is opposite to yours cannot push anything up for you.

Weights: r_vj is how much one vote says (1 for a button on a snippet, less for a reaction that
rated a whole answer; see `RatingRow.weight`), and w_v = 1 / (sum_j r_vj) ** user_weight_power,
so with the default power of 1 everybody carries one person's worth of evidence however many
votes they cast, and someone who only downvotes has no likes to be similar through at all.

The bound, for anyone u other than v: v's votes enter u's score on a snippet as one part,
c_uvj, so they move it by at most `person_cap` (0.1) directly, whatever v does. v's likes also
reshape the taste directions everyone shares (Q, s, V), which shifts the other parts; that
effect has no cap of its own, but v's row of X weighs |x_v|^2 = sum_likes r^2 / sum_all r <= 1
person against a regularisation of four, and next to nothing for a spammer whose votes are
mostly downvotes. Measured (tests/test_collaborative.py): a twin who copies your likes and
casts one more vote moves your score by under 0.15 in all; with 300 downvotes, under 0.01.

Negative votes are targets, never inputs: similarity comes from shared likes only. Votes cast
after a fit count from the next fit; the model is immutable so a refresh can be swapped in while
queries keep using the old one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from types import MappingProxyType

import numpy as np
from scipy import sparse
from sklearn.utils.extmath import randomized_svd

EXACT_SVD_MARGIN = 10
PRIOR_SHRINKAGE = 5.0
PRIOR_BUDGET = 20.0


@dataclass(frozen=True, slots=True)
class RatingRow:
    """One person's vote on one snippet: +1 / -1 (only the sign counts; 0 = vote removed).

    `weight` in (0, 1] is how much the vote says: 1 for a judgement of this snippet (a button),
    less for a reaction on an answer, which rates every snippet the answer showed at once."""

    user_id: str
    item_id: int
    value: float
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.weight <= 1:
            raise ValueError("a vote's weight is in (0, 1]")


@dataclass(frozen=True)
class CFConfig:
    """Hyperparameters; the defaults are the best on MovieLens-100k (bench/cf_quality.py).

    `regularization` is in people: with `user_weight_power` 1 each person contributes a total
    weight of one, so the default of 4 asks for about four people's worth of evidence before a
    direction of taste counts in full. `person_cap` bounds one person's part of anyone else's
    score (None: uncapped, the model before issue 21; kept for the benchmarks' comparison).
    """

    rank: int = 64
    regularization: float = 4.0
    user_weight_power: float = 1.0
    power_iterations: int = 6
    seed: int = 0
    person_cap: float | None = 0.1

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError("rank must be at least 1")
        if self.regularization <= 0:
            raise ValueError("regularization must be positive")
        if self.user_weight_power < 0:
            raise ValueError("user_weight_power must be non-negative")
        if self.person_cap is not None and self.person_cap <= 0:
            raise ValueError("person_cap must be positive")


@dataclass(frozen=True)
class _Votes:
    """Deduplicated non-zero votes with dense user and item indices."""

    user_ids: list[str]
    items: np.ndarray
    user: np.ndarray
    item: np.ndarray
    sign: np.ndarray
    weight: np.ndarray


def _latest_votes(ratings: Iterable[RatingRow]) -> _Votes:
    """Keep each (user, item)'s last row, since a later vote replaces an earlier one."""
    index: dict[str, int] = {}
    users: list[int] = []
    items: list[int] = []
    values: list[float] = []
    weights: list[float] = []
    for row in ratings:
        users.append(index.setdefault(row.user_id, len(index)))
        items.append(int(row.item_id))
        values.append(float(row.value))
        weights.append(float(row.weight))
    user = np.asarray(users, dtype=np.int64)
    item_ids, item = np.unique(np.asarray(items, dtype=np.int64), return_inverse=True)
    key = user * max(len(item_ids), 1) + item
    _, first_from_end = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - first_from_end
    sign = np.sign(np.asarray(values, dtype=np.float64)[last]).astype(np.int8)
    last = last[sign != 0]
    user_of, user = np.unique(user[last], return_inverse=True)
    kept_items, item = np.unique(item_ids[item[last]], return_inverse=True)
    names = list(index)
    return _Votes(
        user_ids=[names[u] for u in user_of],
        items=kept_items,
        user=user.astype(np.int32),
        item=item.astype(np.int32),
        sign=sign[sign != 0],
        weight=np.asarray(weights, dtype=np.float64).reshape(-1)[last],
    )


def rating_prior(
    ratings: Iterable[RatingRow],
    shrinkage: float = PRIOR_SHRINKAGE,
    budget: float | None = PRIOR_BUDGET,
) -> dict[int, float]:
    """Per item, the weighted mean vote shrunk toward 0 (neutral), in (-1, 1):

        prior_j = sum_v e_vj s_vj / (sum_v e_vj + k),   e_vj = c_v r_vj,
        c_v = min(1, B / sum_j r_vj)

    with s the vote's sign, r its weight (`RatingRow.weight`), k = `shrinkage` pseudo-votes of
    0 and B = `budget`: a person's votes carry B votes' worth in all, so someone who rates
    more than B snippets has each vote count B / n (budget None: every vote counts in full, the
    prior before issue 21). Only each person's latest vote per item counts.

    The bound: with or without person v's vote, prior_j differs by at most e_vj / k <= c_v / k
    (the change is e (s (W + k) - S) / ((W + k)(W + k + e)) for others' total weight W and sum
    |S| <= W, and (2W + k) / (W + k)^2 <= 1 / k). With k = 5 and B = 20 that is 0.2 for
    someone with at most twenty votes and 0.2 * 20 / n beyond: 0.013 for a spammer with 300.
    B = 20 was chosen by bench/feedback_simulation.py (10 halves the lift, 40 adds little).
    """
    if shrinkage < 0:
        raise ValueError("shrinkage must be non-negative")
    if budget is not None and budget <= 0:
        raise ValueError("budget must be positive")
    votes = _latest_votes(ratings)
    if len(votes.items) == 0:
        return {}
    effort = np.bincount(votes.user, weights=votes.weight, minlength=len(votes.user_ids))
    share = np.ones_like(effort) if budget is None else np.minimum(1.0, budget / effort)
    evidence = share[votes.user] * votes.weight
    total = np.bincount(votes.item, weights=evidence * votes.sign, minlength=len(votes.items))
    weight = np.bincount(votes.item, weights=evidence, minlength=len(votes.items))
    prior = total / (weight + shrinkage)
    return dict(zip(votes.items.tolist(), prior.tolist(), strict=True))


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _csr(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, order) grouping entries by row, columns ascending within a row."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, order


def _ranges(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the entries of `rows` in a CSR layout, and which of `rows` each belongs to."""
    start, stop = indptr[rows], indptr[rows + 1]
    lengths = stop - start
    total = int(lengths.sum())
    offsets = np.repeat(start - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total), np.repeat(np.arange(len(rows)), lengths)


def _exact_svd(matrix: sparse.csr_matrix, rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top singular triplets through the Gram matrix of the short side (cheap when it is)."""
    wide = matrix.shape[0] <= matrix.shape[1]
    short = matrix if wide else matrix.T.tocsr()
    gram = (short @ short.T).toarray().astype(np.float64)
    eigenvalues, vectors = np.linalg.eigh(gram)
    order = np.argsort(eigenvalues)[::-1][:rank]
    values = np.sqrt(np.maximum(eigenvalues[order], 0.0))
    near = vectors[:, order]
    inverse = np.divide(1.0, values, out=np.zeros_like(values), where=values > 1e-9)
    far = (short.T @ near) * inverse
    return (near, values, far.T) if wide else (far, values, near.T)


def _svd(matrix: sparse.csr_matrix, config: CFConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-`rank` singular triplets: exact when one side is small, randomized otherwise."""
    rank = min(config.rank, *matrix.shape)
    if matrix.nnz == 0 or rank == 0:
        return (
            np.zeros((matrix.shape[0], rank)),
            np.zeros(rank),
            np.zeros((rank, matrix.shape[1])),
        )
    if min(matrix.shape) <= 2 * (rank + EXACT_SVD_MARGIN):
        return _exact_svd(matrix, rank)
    return randomized_svd(matrix, rank, n_iter=config.power_iterations, random_state=config.seed)


@dataclass(frozen=True, eq=False, repr=False)
class CFModel:
    """Fitted model; build with `CFModel.fit`. Immutable (arrays are read-only), thread-safe.

    Scores are the regression's prediction of the person's vote: 0 means no evidence, about
    +0.2..+0.8 for items the people with the same likes upvoted, negative for items they
    downvoted; always clipped to [-1, 1] so they can be blended with cosine similarities.
    """

    config: CFConfig
    _user_index: Mapping[str, int]
    _items: np.ndarray
    _user_ptr: np.ndarray
    _user_items: np.ndarray
    _user_values: np.ndarray
    _vote_ptr: np.ndarray
    _vote_users: np.ndarray
    _vote_values: np.ndarray
    _user_factors: np.ndarray
    _item_factors: np.ndarray
    _filter: np.ndarray

    @classmethod
    def fit(cls, ratings: Iterable[RatingRow], config: CFConfig = CFConfig()) -> CFModel:
        """A new model from votes in the order cast (a later vote on the same item wins)."""
        votes = _latest_votes(ratings)
        n_users, n_items = len(votes.user_ids), len(votes.items)
        effort = np.bincount(votes.user, weights=votes.weight, minlength=n_users)
        scale = np.zeros(n_users)
        scale[effort > 0] = effort[effort > 0] ** (-config.user_weight_power / 2)
        strength = votes.weight * votes.sign
        liked = votes.sign > 0
        like_matrix = sparse.csr_matrix(
            (
                (scale[votes.user] * votes.weight)[liked].astype(np.float32),
                (votes.user[liked], votes.item[liked]),
            ),
            shape=(n_users, n_items),
        )
        left, values, right = _svd(like_matrix, config)
        user_ptr, by_user = _csr(votes.user, votes.item, n_users)
        vote_ptr, by_item = _csr(votes.item, votes.user, n_items)
        return cls(
            config=config,
            _user_index=MappingProxyType({u: i for i, u in enumerate(votes.user_ids)}),
            _items=_frozen(votes.items),
            _user_ptr=_frozen(user_ptr),
            _user_items=_frozen(votes.item[by_user]),
            _user_values=_frozen(strength[by_user].astype(np.float32)),
            _vote_ptr=_frozen(vote_ptr),
            _vote_users=_frozen(votes.user[by_item]),
            _vote_values=_frozen((scale[votes.user] * strength)[by_item].astype(np.float32)),
            _user_factors=_frozen(np.ascontiguousarray(left, dtype=np.float32)),
            _item_factors=_frozen(np.ascontiguousarray(right.T, dtype=np.float32)),
            _filter=_frozen((values / (values**2 + config.regularization)).astype(np.float32)),
        )

    @property
    def n_users(self) -> int:
        return len(self._user_index)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything the model holds, as arrays for `np.savez`; `from_arrays` reverses it."""
        arrays = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        arrays["user_ids"] = np.array(list(self._user_index), dtype=str)
        arrays["config"] = np.array(json.dumps(asdict(self.config)))
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> CFModel:
        users = arrays["user_ids"].tolist()
        held = {
            f.name: _frozen(np.array(arrays[f.name]))
            for f in fields(cls)
            if f.name not in ("config", "_user_index")
        }
        return cls(
            config=CFConfig(**json.loads(str(arrays["config"]))),
            _user_index=MappingProxyType({u: i for i, u in enumerate(users)}),
            **held,
        )

    def nbytes(self) -> int:
        """Bytes of the model's arrays (the user-id map comes on top)."""
        return sum(value.nbytes for value in vars(self).values() if isinstance(value, np.ndarray))

    @property
    def n_items(self) -> int:
        return len(self._items)

    def _profile(self, user_id: str) -> tuple[int, np.ndarray] | None:
        """The user's index and folded-in like profile, or None without likes to go on."""
        user = self._user_index.get(user_id)
        if user is None:
            return None
        start, stop = self._user_ptr[user], self._user_ptr[user + 1]
        strength = self._user_values[start:stop]
        likes = strength > 0
        if not likes.any():
            return None
        items = self._user_items[start:stop][likes]
        return user, strength[likes] @ self._item_factors[items]

    def _parts(self, profile: np.ndarray, entries: np.ndarray) -> np.ndarray:
        """Each vote's part of the score (c_uvj in the module docstring), capped per person."""
        voters = self._vote_users[entries]
        if len(entries) >= len(self._user_factors):
            weight = (self._user_factors @ (profile * self._filter))[voters]
        else:
            unique, which = np.unique(voters, return_inverse=True)
            weight = (self._user_factors[unique] @ (profile * self._filter))[which]
        values = self._vote_values[entries]
        parts = np.where(values > 0, weight, np.maximum(weight, 0)) * values
        cap = self.config.person_cap
        return parts if cap is None else np.clip(parts, -cap, cap)

    def _predict(self, profile: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Scores at item positions, touching only the votes on those items."""
        entries, slot = _ranges(self._vote_ptr, positions)
        summed = np.bincount(slot, weights=self._parts(profile, entries), minlength=len(positions))
        return np.clip(summed, -1.0, 1.0)

    def _predict_all(self, profile: np.ndarray) -> np.ndarray:
        """Scores for every item: one pass over all votes."""
        parts = self._parts(profile, np.arange(len(self._vote_users)))
        sums = np.add.reduceat(parts, self._vote_ptr[:-1]) if len(parts) else parts
        summed = np.where(np.diff(self._vote_ptr) > 0, sums, 0.0)
        return np.clip(summed, -1.0, 1.0)

    def scores(self, user_id: str, item_ids: Sequence[int]) -> np.ndarray:
        """Predicted vote per item (float32, [-1, 1]); 0 for unknown users and unrated items.

        For items the user voted on this is the model's reconstruction, not their own vote.
        """
        ids = np.asarray(item_ids, dtype=np.int64).reshape(-1)
        out = np.zeros(len(ids), dtype=np.float32)
        found = self._profile(user_id)
        if found is None or self.n_items == 0 or len(ids) == 0:
            return out
        positions = np.minimum(np.searchsorted(self._items, ids), self.n_items - 1)
        known = self._items[positions] == ids
        out[known] = self._predict(found[1], positions[known])
        return out

    def recommend(
        self, user_id: str, k: int, exclude_rated: bool = True
    ) -> list[tuple[int, float]]:
        """Up to k (item_id, score) with positive scores, best first (ties by item id)."""
        found = self._profile(user_id)
        if found is None or k <= 0:
            return []
        user, profile = found
        predicted = self._predict_all(profile).astype(np.float64)
        if exclude_rated:
            predicted[self._user_items[self._user_ptr[user] : self._user_ptr[user + 1]]] = -math.inf
        top = np.flatnonzero(predicted > 0)
        if len(top) > k:
            top = top[np.argpartition(-predicted[top], k - 1)[:k]]
        top = top[np.lexsort((self._items[top], -predicted[top]))]
        return [(int(self._items[i]), float(predicted[i])) for i in top]
