"""Collaborative filtering on small groups whose right answer is known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.learning.collaborative import (
    PRIOR_BUDGET,
    PRIOR_SHRINKAGE,
    CFConfig,
    CFModel,
    RatingRow,
    rating_prior,
)
from indexer.learning.feedback import REACTION_WEIGHT

UNRATED = 999


def votes(user: str, items: list[int], value: float = 1.0) -> list[RatingRow]:
    return [RatingRow(user, item, value) for item in items]


def two_camps() -> list[RatingRow]:
    """Alice likes 1, 2; three people who like 1, 2 also like 3; another camp likes 4-7."""
    return [
        *votes("alice", [1, 2]),
        *votes("bob", [1, 2, 3]),
        *votes("carol", [1, 2, 3]),
        *votes("dan", [1, 2, 3]),
        *votes("erin", [4, 5, 6]),
        *votes("fay", [4, 5, 6]),
        *votes("gus", [4, 5, 7]),
    ]


def test_similar_users_likes_rank_first() -> None:
    model = CFModel.fit(two_camps())
    scores = model.scores("alice", [6, 3, 7, UNRATED])
    assert scores.dtype == np.float32
    assert scores[1] > 0.1
    assert scores[1] > max(scores[0], scores[2], scores[3])
    assert model.recommend("alice", 3)[0][0] == 3
    assert model.recommend("erin", 1)[0][0] == 7


def test_scores_are_clipped_to_unit_range_and_keep_input_order() -> None:
    model = CFModel.fit(two_camps())
    scores = model.scores("bob", [3, UNRATED, 1, 3])
    assert np.all(np.abs(scores) <= 1.0)
    assert scores[1] == 0.0
    assert scores[0] == scores[3]


def test_downvotes_from_similar_users_lower_an_item() -> None:
    liked_elsewhere = [*votes("erin", [8]), *votes("fay", [8])]
    neutral = CFModel.fit(two_camps() + liked_elsewhere)
    panned = CFModel.fit(
        two_camps() + liked_elsewhere + votes("bob", [8], -1) + votes("carol", [8], -1)
    )
    before, after = neutral.scores("alice", [8])[0], panned.scores("alice", [8])[0]
    assert after < before - 0.05
    assert after < 0.0
    liked, unrated, disliked = panned.scores("alice", [3, UNRATED, 8])
    assert liked > unrated > disliked


def test_latest_vote_wins() -> None:
    changed_mind = two_camps() + votes("bob", [8]) + votes("carol", [8]) + votes("carol", [8], -1)
    removed = two_camps() + votes("bob", [8]) + votes("bob", [8], 0.0)
    assert CFModel.fit(changed_mind).scores("alice", [8])[0] < 0.1
    assert CFModel.fit(removed).scores("alice", [8])[0] == 0.0
    assert "bob" in {r.user_id for r in removed}


def test_opposite_users_do_not_boost() -> None:
    """People who dislike what Alice likes and like what she dislikes: their downvote of 9 must
    not raise 9 for her. Hal, who likes both 1 and 4, links the camps so that the regression
    gives the opposite users a negative weight for Alice, which must not turn into a boost."""
    base = [*two_camps(), *votes("alice", [4], -1), *votes("hal", [1, 4])]
    opposite = [
        row
        for user in ("olga", "oscar")
        for row in [*votes(user, [1, 2], -1), *votes(user, [4]), *votes(user, [9], -1)]
    ]
    without = CFModel.fit(base).scores("alice", [3, 9])
    with_them = CFModel.fit(base + opposite).scores("alice", [3, 9])
    assert without[1] == 0.0
    assert with_them[1] <= 0.0
    assert with_them[0] == pytest.approx(without[0], abs=0.02)


def spammer(weight_power: float) -> tuple[float, float, float]:
    """Alice's score for 3 without and with Zed, who shares her likes and downvotes 301 items."""
    config = CFConfig(user_weight_power=weight_power)
    zed = votes("zed", [1, 2]) + votes("zed", [3, *range(100, 400)], -1)
    before = CFModel.fit(two_camps(), config).scores("alice", [3])[0]
    after, unrated = CFModel.fit(two_camps() + zed, config).scores("alice", [3, 150])
    return float(before), float(after), float(unrated)


def test_one_downvoting_spammer_barely_moves_anything() -> None:
    before, after, unrated = spammer(weight_power=1.0)
    assert after > unrated
    assert abs(after - before) < 0.05 * before
    assert abs(unrated) < 0.01


def test_spammer_bound_comes_from_user_weighting() -> None:
    """Without weighting people by 1/#votes the same spammer does sink the item."""
    before, after, _ = spammer(weight_power=0.0)
    assert before - after > 0.3 * before


def test_single_upvote_from_a_stranger_moves_nothing_for_others() -> None:
    model = CFModel.fit([*two_camps(), *votes("yuri", [50])])
    assert abs(model.scores("alice", [50])[0]) < 0.01
    assert model.scores("alice", [3])[0] == pytest.approx(
        CFModel.fit(two_camps()).scores("alice", [3])[0], abs=1e-4
    )


def test_a_spammer_with_hundreds_of_votes_moves_the_prior_by_at_most_his_share() -> None:
    """Zed down-votes 301 snippets, twice: his votes carry a budget of 20 votes in all, so each
    counts 20 / 301 and, against the pseudo-count k = 5, moves a prior by at most
    (20 / 301) / 5 = 0.013 (it moved five people's 0.5 to 0.45, and an unrated snippet to -1/6,
    when every vote counted in full)."""
    upvotes = votes("bob", [3]) + votes("carol", [3]) + votes("dan", [3])
    upvotes += votes("erin", [3]) + votes("fay", [3])
    zed = votes("zed", [3, *range(100, 400)], -1)
    before = rating_prior(upvotes)[3]
    after = rating_prior(upvotes + zed + zed)
    bound = (20 / 301) / 5
    assert before == pytest.approx(0.5)
    assert 0 < before - after[3] <= bound
    assert -bound <= after[150] < 0


@given(
    others=st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 9), st.sampled_from([-1.0, 1.0])),
        max_size=40,
    ),
    count=st.integers(0, 80),
    ups=st.lists(st.booleans(), min_size=80, max_size=80),
)
def test_one_person_moves_any_prior_by_at_most_their_share_over_k(
    others: list[tuple[int, int, float]], count: int, ups: list[bool]
) -> None:
    """|prior with v - prior without v| <= c_v / k on every snippet, c_v = min(1, 20 / n_v),
    whether v rated a few snippets others rated too or dozens nobody else did."""
    rows = [RatingRow(f"u{u}", item, value) for u, item, value in others]
    theirs = [RatingRow("v", item, 1.0 if ups[item] else -1.0) for item in range(count)]
    share = min(1.0, 20 / max(count, 1))
    without, with_v = rating_prior(rows), rating_prior(rows + theirs)
    for item in with_v.keys() | without.keys():
        assert abs(with_v.get(item, 0.0) - without.get(item, 0.0)) <= share / 5 + 1e-9


def test_budget_and_pseudo_count_are_the_documented_ones() -> None:
    assert (PRIOR_BUDGET, PRIOR_SHRINKAGE) == (20.0, 5.0)
    assert CFConfig().person_cap == 0.1


def test_a_reaction_counts_less_than_a_button() -> None:
    """A reaction rates a whole answer: it weighs REACTION_WEIGHT of a vote, in the prior, in the
    budget and in the collaborative model."""
    button = rating_prior([RatingRow("a", 1, 1.0)])[1]
    reaction = rating_prior([RatingRow("a", 1, 1.0, weight=REACTION_WEIGHT)])[1]
    assert button == pytest.approx(1 / 6)
    assert reaction == pytest.approx(REACTION_WEIGHT / (REACTION_WEIGHT + 5))
    by_reaction = [*two_camps(), RatingRow("bob", 8, 1.0, REACTION_WEIGHT)]
    by_button = [*two_camps(), *votes("bob", [8])]
    from_reaction = CFModel.fit(by_reaction).scores("alice", [8])[0]
    from_button = CFModel.fit(by_button).scores("alice", [8])[0]
    assert 0 < from_reaction < from_button
    with pytest.raises(ValueError, match="weight"):
        RatingRow("a", 1, 1.0, weight=0.0)


def test_one_persons_part_of_another_persons_score_is_capped() -> None:
    """Each vote enters another person's score as one part, capped at `person_cap`. The 1/n
    weighting keeps parts small in most groups; in one this small, Fay's vote on 6 moves Erin's
    score on it by 0.145 uncapped, and by the cap with it."""
    rows = [
        *votes("alice", [1, 2]),
        *(row for name in ("bob", "carol", "dan") for row in votes(name, [1, 2, 3])),
        *votes("erin", [4, 5, 6]),
        *votes("gus", [4, 5, 7]),
    ]
    for cap, most in ((None, 0.2), (0.1, 0.1 + 1e-6), (0.05, 0.05 + 1e-6)):
        config = CFConfig(person_cap=cap)
        without = CFModel.fit([*rows, *votes("fay", [4, 5])], config).scores("erin", [6])[0]
        liked = CFModel.fit([*rows, *votes("fay", [4, 5, 6])], config).scores("erin", [6])[0]
        disliked = CFModel.fit(
            [*rows, *votes("fay", [4, 5]), *votes("fay", [6], -1)], config
        ).scores("erin", [6])[0]
        assert 0 < liked - without <= most
        assert 0 < without - disliked <= most
        if cap is None:
            assert liked - without > 0.1, "without the cap one person moves it further"


def test_a_twin_who_copies_your_likes_moves_your_score_by_little() -> None:
    """The adversary the collaborative model is most exposed to: someone who likes exactly what
    you like (so the regression trusts them most) and then casts one vote. The 1/n weighting
    and the cap keep their direct part at most 0.1; with the taste directions they reshape,
    the total stays under 0.15. With 300 more votes he is nearly nobody."""
    team = {f"t{n}": [*(1 + (n + k) % 10 for k in range(6)), 20] for n in range(12)}
    rows = [row for name, liked in team.items() for row in votes(name, liked)]
    rows += votes("alice", [1, 2, 3, 4, 5, 6])
    before = CFModel.fit(rows).scores("alice", [20, 50])
    twin = votes("zed", [1, 2, 3, 4, 5, 6])
    sunk = CFModel.fit([*rows, *twin, *votes("zed", [20], -1)]).scores("alice", [20])[0]
    lifted = CFModel.fit([*rows, *twin, *votes("zed", [50])]).scores("alice", [50])[0]
    spammer = [*twin, *votes("zed", [20, *range(100, 400)], -1)]
    spammed = CFModel.fit([*rows, *spammer]).scores("alice", [20])[0]
    assert before[1] == 0.0
    assert 0 < before[0] - sunk < 0.15
    assert 0 < lifted < 0.15
    assert abs(before[0] - spammed) < 0.01


def test_unknown_users_and_empty_models_give_zeros() -> None:
    model = CFModel.fit(two_camps())
    assert not model.scores("newcomer", [1, 3, UNRATED]).any()
    assert model.recommend("newcomer", 5) == []
    only_dislikes = CFModel.fit([*two_camps(), *votes("ivy", [1, 2], -1)])
    assert not only_dislikes.scores("ivy", [3, 6]).any()
    empty = CFModel.fit([])
    assert (empty.n_users, empty.n_items) == (0, 0)
    assert empty.scores("alice", [1, 2]).tolist() == [0.0, 0.0]
    assert empty.recommend("alice", 3) == []
    assert model.scores("alice", []).shape == (0,)


def test_recommend_excludes_rated_items_unless_asked() -> None:
    model = CFModel.fit(two_camps())
    assert {item for item, _ in model.recommend("bob", 10)}.isdisjoint({1, 2, 3})
    included = model.recommend("bob", 10, exclude_rated=False)
    assert {item for item, _ in included} >= {1, 2, 3}
    assert [s for _, s in included] == sorted((s for _, s in included), reverse=True)
    assert all(score > 0 for _, score in included)


def test_rating_prior_shrinks_and_counts_each_vote_once() -> None:
    prior = rating_prior(
        votes("a", [1])
        + [RatingRow(u, 2, 1.0) for u in "abcde"]
        + votes("a", [3]) * 4
        + votes("a", [4])
        + votes("a", [4], -1)
        + votes("b", [5])
        + votes("b", [5], 0.0)
    )
    assert prior[1] == pytest.approx(1 / 6)
    assert prior[2] == pytest.approx(5 / 10)
    assert prior[3] == pytest.approx(1 / 6)
    assert prior[4] == pytest.approx(-1 / 6)
    assert 5 not in prior
    assert rating_prior(votes("a", [1]), shrinkage=0.0)[1] == 1.0
    assert rating_prior([]) == {}


def test_model_is_immutable() -> None:
    rows = two_camps()
    model = CFModel.fit(rows)
    before = model.scores("alice", [3, 8]).copy()
    refit = CFModel.fit([*rows, *votes("bob", [8]), *votes("carol", [8])])
    assert refit is not model
    assert refit.scores("alice", [8])[0] > 0
    assert np.array_equal(model.scores("alice", [3, 8]), before)
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.config = CFConfig(rank=2)  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        model._item_factors[0, 0] = 1.0
    with pytest.raises(TypeError):
        model._user_index["mallory"] = 0  # type: ignore[index]


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="rank"):
        CFConfig(rank=0)
    with pytest.raises(ValueError, match="regularization"):
        CFConfig(regularization=0.0)


def test_randomized_path_matches_exact_ranking() -> None:
    """Above the exact-SVD size the randomized SVD must still find the same neighbourhood."""
    rng = np.random.default_rng(1)
    rows = []
    for user in range(300):
        camp = user % 3
        liked = rng.choice(np.arange(camp * 40, camp * 40 + 40), 8, replace=False)
        rows += votes(f"u{user}", [int(i) for i in liked])
    model = CFModel.fit(rows, CFConfig(rank=8))
    recommended = [item for item, _ in model.recommend("u4", 10)]
    assert len(recommended) == 10
    assert all(40 <= item < 80 for item in recommended)
