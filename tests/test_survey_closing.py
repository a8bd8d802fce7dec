"""What a closed round keeps of people's answers, and the sealed form they wait in until then:
each rule is checked against someone who knows, from the survey DMs, who answered which
questions and who commented."""

from __future__ import annotations

import pytest

from people.surveys.closing import close_drafts
from people.surveys.sealing import SEALED_SIZE, Draft, Seal, Unreadable, clean_comment


def test_a_partial_set_of_answers_is_not_kept_together() -> None:
    drafts = [Draft({"a": 1, "b": 2}), Draft({"a": 3}), Draft({"a": 4, "b": 5}), Draft({"b": 1})]
    closed = close_drafts(drafts, threshold=3)
    rows = [("a", 1), ("a", 3), ("a", 4), ("b", 1), ("b", 2), ("b", 5)]
    assert closed.answers == [(q, v, None) for q, v in rows], (
        "one row per answer, in the order of content, whoever gave it"
    )


def test_a_question_too_few_answered_keeps_only_its_count() -> None:
    """Two people answered `rare`; their DMs say so, so two stored answers would be theirs."""
    drafts = [Draft({"a": 2, "rare": 1}), Draft({"a": 3, "rare": 5}), Draft({"a": 4})]
    closed = close_drafts(drafts, threshold=3)
    assert [q for q, _, _ in closed.answers] == ["a", "a", "a"]
    assert closed.withheld == {"rare": 2}
    assert closed.tally()["withheld"] == {"rare": 2}


def test_comments_fewer_than_the_threshold_wrote_are_not_kept() -> None:
    few = close_drafts([Draft({"a": 1}, "mine"), Draft({"a": 2}), Draft({"a": 3})], threshold=3)
    assert few.comments == [] and few.comments_withheld == 1
    words = ["zebra", "apple", "mango"]
    many = close_drafts([Draft({"a": n}, w) for n, w in enumerate(words)], threshold=3)
    assert many.comments == sorted(words) and many.comments_withheld == 0


def test_a_channel_is_kept_on_a_question_only_where_enough_of_it_answered() -> None:
    """Five in eng answered `a`, but only two of them `b`: on `b`, eng is merged away."""
    eng = [Draft({"a": n, "b": n}, segment="eng") for n in range(2)]
    eng += [Draft({"a": n}, segment="eng") for n in range(3)]
    ops = [Draft({"a": n, "b": n}, segment="ops") for n in range(3)]
    closed = close_drafts(eng + ops, threshold=3)
    cells: dict[tuple[str, str | None], int] = {}
    for question, _, segment in closed.answers:
        cells[question, segment] = cells.get((question, segment), 0) + 1
    assert cells == {("a", "eng"): 5, ("a", "ops"): 3, ("b", None): 5}
    assert closed.respondents == {"eng": 5, "ops": 3}


def test_a_small_channel_merges_into_an_unnamed_group_of_at_least_the_threshold() -> None:
    drafts = [Draft({"a": 1}, segment="eng")] * 4 + [Draft({"a": 2}, segment="design")]
    closed = close_drafts(drafts, threshold=3)
    assert closed.respondents == {"": 5}, "design alone (1) and the rest (1) would be too small"
    assert {segment for _, _, segment in closed.answers} == {None}


def test_every_sealed_row_has_the_same_length_and_opens_only_as_itself() -> None:
    seal = Seal(b"secret")
    short = seal.close(7, "k1", Draft({"a": 1}))
    longest = seal.close(7, "k2", Draft({f"q{n}": 10 for n in range(10)}, "😀" * 2000, "s" * 64))
    assert len(short) == len(longest), "a long comment is not told by its length"
    assert seal.open(7, "k1", short) == Draft({"a": 1})
    with pytest.raises(Unreadable):
        seal.open(8, "k1", short)  # copied into another round
    with pytest.raises(Unreadable):
        seal.open(7, "k2", short)  # swapped with another person's row
    with pytest.raises(Unreadable):
        Seal(b"another secret").open(7, "k1", short)
    assert SEALED_SIZE < len(short) < SEALED_SIZE + 64


def test_control_characters_cannot_outgrow_the_sealed_size() -> None:
    """JSON would write each as six bytes; they are dropped from comments instead."""
    comment = clean_comment("\x01" * 1990 + " fine\ttabs\nand lines ", 2000)
    assert comment == "fine\ttabs\nand lines"
    assert clean_comment(" \x00 ", 2000) is None
    seal = Seal(b"secret")
    worst = clean_comment(('\x01\\"' * 700)[:2000], 2000)
    assert len(seal.close(1, "k", Draft(comment=worst))) == len(seal.close(1, "k", Draft())), (
        "escaped quotes and backslashes still fit the one size"
    )
