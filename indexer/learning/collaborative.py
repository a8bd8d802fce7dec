"""Collaborative filtering from people's +1 / -1 votes on snippets.

The model is a low-rank, user-weighted ridge regression that predicts a person's vote on a
snippet from the snippets they liked: EASE without the diagonal constraint, solved in the top
`rank` singular directions of the (user-weighted) like matrix, so it needs no item x item
matrix and scales with the number of rated snippets. In factor form:

    like-profile p_u (0/1 per snippet)       z_u = p_u V              (fold-in, r numbers)
    liked by people like u                  pos_j = z_u diag(h) V_j   h = s^2 / (s^2 + reg)
    disliked by people like u               neg_j = sum_v max(a_uv, 0) n_vj
                                            a_uv = z_u diag(g) Q_v    g = s / (s^2 + reg)
    score_j = clip(pos_j - neg_j, -1, 1)

where Q s V^T is the truncated SVD of the like matrix with row v scaled by sqrt(w_v), and
n_vj = sqrt(w_v) where v voted -1 on j. `a_uv` is the weight the regression gives person v's
votes when predicting u's; clipping it at 0 for the -1 votes means a downvote can only lower
scores, so someone whose taste is opposite to yours cannot push anything up for you.

Each person's votes are weighted w_v = 1 / (their number of votes) ** user_weight_power, so with
the default power of 1 everybody carries one person's worth of evidence however many votes they
cast: a spammer who downvotes 300 snippets moves each by 1/300 of one vote, and someone who
only downvotes (or only rates one snippet) has no likes to be similar through at all.

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


@dataclass(frozen=True, slots=True)
class RatingRow:
    """One person's vote on one snippet: +1 / -1 (only the sign counts; 0 = vote removed)."""

    user_id: str
    item_id: int
    value: float


@dataclass(frozen=True)
class CFConfig:
    """Hyperparameters; the defaults are the best on MovieLens-100k (bench/cf_quality.py).

    `regularization` is in people: with `user_weight_power` 1 each person contributes a total
    weight of one, so the default of 4 asks for about four people's worth of evidence before a
    direction of taste counts in full.
    """

    rank: int = 64
    regularization: float = 4.0
    user_weight_power: float = 1.0
    power_iterations: int = 6
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rank < 1:
            raise ValueError("rank must be at least 1")
        if self.regularization <= 0:
            raise ValueError("regularization must be positive")
        if self.user_weight_power < 0:
            raise ValueError("user_weight_power must be non-negative")


@dataclass(frozen=True)
class _Votes:
    """Deduplicated non-zero votes with dense user and item indices."""

    user_ids: list[str]
    items: np.ndarray
    user: np.ndarray
    item: np.ndarray
    sign: np.ndarray


def _latest_votes(ratings: Iterable[RatingRow]) -> _Votes:
    """Keep each (user, item)'s last row, since a later vote replaces an earlier one."""
    index: dict[str, int] = {}
    users: list[int] = []
    items: list[int] = []
    values: list[float] = []
    for row in ratings:
        users.append(index.setdefault(row.user_id, len(index)))
        items.append(int(row.item_id))
        values.append(float(row.value))
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
    )


def rating_prior(ratings: Iterable[RatingRow], shrinkage: float = 5.0) -> dict[int, float]:
    """Per item, sum(votes) / (number of voters + shrinkage), in (-1, 1).

    Shrinking toward 0 keeps one vote from making a snippet look perfect or worthless (one +1 is
    1/6 with the default, ten are 10/15). Only each person's latest vote per item counts, so
    re-reacting cannot stack votes; one person therefore moves an item with n other voters by at
    most 2 / (n + shrinkage + 1), e.g. 0.18 for five upvotes.
    """
    if shrinkage < 0:
        raise ValueError("shrinkage must be non-negative")
    votes = _latest_votes(ratings)
    if len(votes.items) == 0:
        return {}
    total = np.bincount(votes.item, weights=votes.sign, minlength=len(votes.items))
    count = np.bincount(votes.item, minlength=len(votes.items))
    prior = total / (count + shrinkage)
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
    _user_signs: np.ndarray
    _neg_ptr: np.ndarray
    _neg_items: np.ndarray
    _neg_users: np.ndarray
    _neg_weights: np.ndarray
    _user_factors: np.ndarray
    _item_factors: np.ndarray
    _pos_filter: np.ndarray
    _neg_filter: np.ndarray

    @classmethod
    def fit(cls, ratings: Iterable[RatingRow], config: CFConfig = CFConfig()) -> CFModel:
        """A new model from votes in the order cast (a later vote on the same item wins)."""
        votes = _latest_votes(ratings)
        n_users, n_items = len(votes.user_ids), len(votes.items)
        per_user = np.bincount(votes.user, minlength=n_users).astype(np.float64)
        scale = np.zeros(n_users)
        scale[per_user > 0] = per_user[per_user > 0] ** (-config.user_weight_power / 2)
        liked = votes.sign > 0
        like_matrix = sparse.csr_matrix(
            (
                scale[votes.user[liked]].astype(np.float32),
                (votes.user[liked], votes.item[liked]),
            ),
            shape=(n_users, n_items),
        )
        left, values, right = _svd(like_matrix, config)
        denominator = values**2 + config.regularization
        user_ptr, by_user = _csr(votes.user, votes.item, n_users)
        disliked = np.flatnonzero(~liked)
        neg_ptr, by_item = _csr(votes.item[disliked], votes.user[disliked], n_items)
        neg = disliked[by_item]
        return cls(
            config=config,
            _user_index=MappingProxyType({u: i for i, u in enumerate(votes.user_ids)}),
            _items=_frozen(votes.items),
            _user_ptr=_frozen(user_ptr),
            _user_items=_frozen(votes.item[by_user]),
            _user_signs=_frozen(votes.sign[by_user]),
            _neg_ptr=_frozen(neg_ptr),
            _neg_items=_frozen(votes.item[neg]),
            _neg_users=_frozen(votes.user[neg]),
            _neg_weights=_frozen(scale[votes.user[neg]].astype(np.float32)),
            _user_factors=_frozen(np.ascontiguousarray(left, dtype=np.float32)),
            _item_factors=_frozen(np.ascontiguousarray(right.T, dtype=np.float32)),
            _pos_filter=_frozen((values**2 / denominator).astype(np.float32)),
            _neg_filter=_frozen((values / denominator).astype(np.float32)),
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
        items = self._user_items[start:stop]
        likes = items[self._user_signs[start:stop] > 0]
        if len(likes) == 0:
            return None
        return user, self._item_factors[likes].sum(axis=0)

    def _predict(self, profile: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Scores at item positions, touching only those items' factors and downvotes."""
        liked = self._item_factors[positions] @ (profile * self._pos_filter)
        entries, slot = _ranges(self._neg_ptr, positions)
        weight = self._user_factors[self._neg_users[entries]] @ (profile * self._neg_filter)
        disliked = np.bincount(
            slot, weights=np.maximum(weight, 0) * self._neg_weights[entries], minlength=len(liked)
        )
        return np.clip(liked - disliked, -1.0, 1.0)

    def _predict_all(self, profile: np.ndarray) -> np.ndarray:
        """Scores for every item: one pass over all factors and all downvotes."""
        liked = self._item_factors @ (profile * self._pos_filter)
        weight = np.maximum(self._user_factors @ (profile * self._neg_filter), 0)
        disliked = np.bincount(
            self._neg_items,
            weights=weight[self._neg_users] * self._neg_weights,
            minlength=self.n_items,
        )
        return np.clip(liked - disliked, -1.0, 1.0)

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
