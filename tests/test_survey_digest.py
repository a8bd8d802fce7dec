"""What a manager sees in a pulse-survey digest, and what they must never see."""

from __future__ import annotations

import io
import json
import random
import struct
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from matplotlib.image import imread

from handlers.surveys.digest_blocks import digest_blocks, digest_fallback_text
from people.surveys.chart import trend_chart_png
from people.surveys.definitions import SurveyDefinition, parse_surveys
from people.surveys.digest import (
    Digest,
    QuestionAnswer,
    RoundResults,
    build_digest,
    digest_text,
)


def survey(threshold: int = 5, segmented: bool = False, **extra: object) -> SurveyDefinition:
    entry: dict[str, object] = {
        "key": "pulse",
        "title": "Weekly pulse",
        "comment": "Anything else?",
        "anonymity_threshold": threshold,
        "questions": [
            {"id": "support", "text": "I feel supported by my manager"},
            {"id": "recommend", "text": "Would you recommend working here?", "kind": "enps"},
            {
                "id": "office",
                "text": "Where do you work best?",
                "kind": "choice",
                "labels": ["Office", "Home", "Either"],
            },
        ],
        **extra,
    }
    if segmented:
        entry |= {"channels": ["eng", "ops"], "segment_by_channel": True}
    return parse_surveys({"surveys": [entry]})[0]


@dataclass(frozen=True)
class Response:
    """One person's answers, before closing splits them."""

    answers: dict[str, int]
    comment: str | None = None
    segment: str | None = None


def answers(support: int, recommend: int = 8, office: int = 0, **kw: object) -> Response:
    return Response({"support": support, "recommend": recommend, "office": office}, **kw)


def round_of(number: int, responses: list[Response], asked: int = 9, closed: bool = True):
    """A round as closing stores it: each person's answers split into unlinked single answers
    and comments, and how many answered per channel."""
    opened = date(2024, 5, 6) + timedelta(weeks=number - 1)
    return RoundResults(
        number,
        opened,
        asked,
        respondents=Counter(r.segment for r in responses),
        answers=tuple(
            QuestionAnswer(q, v, r.segment) for r in responses for q, v in r.answers.items()
        ),
        comments=tuple(r.comment for r in responses if r.comment),
        closed=closed,
    )


def digest(definition, current, history=(), seed: int = 0) -> Digest:
    return build_digest(definition, current, list(history), rng=random.Random(seed))


def rendered(result: Digest, definition: SurveyDefinition) -> str:
    return digest_text(result, definition) + json.dumps(digest_blocks(result, definition))


def question(result: Digest, question_id: str):
    return next(q for q in result.questions if q.id == question_id)


def test_response_rate_counts_answers_against_people_asked():
    result = digest(survey(), round_of(1, [answers(4)] * 7, asked=9))
    assert (result.responded, result.asked) == (7, 9)
    assert result.response_rate == pytest.approx(7 / 9)
    assert "7 of 9 answered (78%)" in digest_text(result, survey())
    assert digest_fallback_text(result) == "Weekly pulse, round 1: 7 of 9 answered"
    nobody_asked = digest(survey(), round_of(1, [], asked=0))
    assert nobody_asked.response_rate == 0.0


def test_likert_average_and_distribution_in_label_order():
    values = [5, 4, 4, 2, 4, 5]
    result = digest(survey(), round_of(1, [answers(v) for v in values]))
    support = question(result, "support")
    assert support.average == pytest.approx(24 / 6)
    assert support.answered == 6
    assert support.distribution == (
        ("Strongly disagree", 0),
        ("Disagree", 1),
        ("Neutral", 0),
        ("Agree", 3),
        ("Strongly agree", 2),
    )
    assert "Strongly disagree 0 · Disagree 1 · Neutral 0 · Agree 3 · Strongly agree 2" in (
        digest_text(result, survey())
    )
    office = question(result, "office")
    assert office.average is None
    assert office.distribution == (("Office", 6), ("Home", 0), ("Either", 0))


def test_enps_is_promoters_minus_detractors_in_percent():
    balanced = [10, 9, 8, 7, 6, 0]
    result = digest(survey(), round_of(1, [answers(3, v) for v in balanced]))
    assert question(result, "recommend").enps == 0.0

    # 3 promoters (10, 9, 9), 1 detractor (5), 3 passives of 7: (3 - 1) / 7 = 28.571...%
    mostly_happy = [10, 9, 9, 8, 7, 7, 5]
    result = digest(survey(), round_of(1, [answers(3, v) for v in mostly_happy]))
    recommend = question(result, "recommend")
    assert recommend.enps == 28.6
    assert recommend.average == pytest.approx(55 / 7)
    assert "eNPS +28.6" in digest_text(result, survey())


def test_change_since_previous_round():
    definition = survey()
    earlier = round_of(1, [answers(2)] * 5)
    before = round_of(2, [answers(3, 10)] * 5)
    now = round_of(3, [answers(4, 0)] * 5)
    result = digest(definition, now, [before, earlier])
    assert result.previous_round == 2
    assert question(result, "support").change == pytest.approx(1.0)
    assert question(result, "recommend").change == pytest.approx(-200.0)
    assert question(result, "office").change is None
    text = digest_text(result, definition)
    assert "+1.0 since round 2" in text
    assert "▲ +1.0 since round 2" in json.dumps(
        digest_blocks(result, definition), ensure_ascii=False
    )


def test_no_change_against_a_round_below_threshold_or_first_round():
    definition = survey()
    too_small = round_of(1, [answers(1)] * 4)
    result = digest(definition, round_of(2, [answers(4)] * 5), [too_small])
    assert question(result, "support").change is None
    assert "since round" not in digest_text(result, definition)
    first = digest(definition, round_of(1, [answers(4)] * 5))
    assert question(first, "support").change is None


def test_below_threshold_withholds_everything():
    definition = survey()
    secret = "my manager ignores me"
    responses = [answers(1, 0, comment=secret), answers(1, 0, comment=secret)]
    result = digest(definition, round_of(1, responses, asked=9))
    assert result.withheld
    assert result.responded == 2
    assert (result.questions, result.comments, result.themes, result.segments) == ((), (), (), ())
    assert result.withheld_reason == (
        "Only 2 of 9 people answered; results appear at 5 or more responses "
        "so nobody can be singled out."
    )
    assert result.trend[-1].values == (("support", None), ("recommend", None))
    shown = rendered(result, definition)
    assert secret not in shown
    assert "Average" not in shown and "eNPS" not in shown
    assert "results withheld" in digest_fallback_text(result)


def test_open_round_is_withheld_even_above_threshold():
    definition = survey()
    responses = [answers(5, comment="great week")] * 8
    result = digest(definition, round_of(1, responses, closed=False))
    assert result.withheld
    assert "until the round closes" in result.withheld_reason
    assert result.questions == () and result.comments == ()
    assert "great week" not in rendered(result, definition)


def test_segments_shown_when_every_group_meets_threshold():
    definition = survey(threshold=3, segmented=True)
    responses = [answers(5, segment="eng")] * 3 + [answers(2, segment="ops")] * 4
    result = digest(definition, round_of(1, responses))
    assert not result.segments_hidden
    assert [(s.name, s.responded) for s in result.segments] == [("eng", 3), ("ops", 4)]
    assert dict(result.segments[0].averages)["support"] == 5.0
    assert dict(result.segments[1].averages)["support"] == 2.0
    assert "ops (4): Q1 2.0" in digest_text(result, definition)


def test_segments_all_hidden_when_one_group_is_small():
    definition = survey(threshold=3, segmented=True)
    responses = [answers(4, 8, segment="eng")] * 5 + [answers(1, 0, segment="ops")] * 2
    result = digest(definition, round_of(1, responses))
    assert result.segments == ()
    assert result.segments_hidden
    assert result.segments_hidden_reason == (
        "Per-channel results are hidden: at least one group has fewer than 3 responses."
    )
    shown = rendered(result, definition)
    assert "ops" not in shown
    assert "eng (" not in shown and "1.0" not in shown and "-100" not in shown


def test_responses_without_a_segment_count_as_a_group_for_suppression():
    definition = survey(threshold=3, segmented=True)
    responses = [answers(4, segment="eng")] * 3 + [answers(4, segment="ops")] * 3 + [answers(1)]
    result = digest(definition, round_of(1, responses))
    assert result.segments == () and result.segments_hidden


def test_comments_are_shuffled_not_in_answer_order():
    definition = survey()
    written = [f"comment number {n}" for n in range(8)]
    responses = [answers(3, comment=f"  {c}  ") for c in written] + [answers(3, comment="   ")]
    orders = {digest(definition, round_of(1, responses), seed=s).comments for s in range(5)}
    assert all(set(order) == set(written) for order in orders)
    assert any(list(order) != written for order in orders)
    assert len(orders) > 1


def test_themes_need_at_least_two_comments():
    definition = survey()
    comments = [
        "Too many meetings this week",
        "meetings eat my focus time",
        "the coffee machine is broken",
        "Fewer meetings please, more focus time",
        "I love the new onboarding",
    ]
    result = digest(definition, round_of(1, [answers(3, comment=c) for c in comments]))
    assert result.themes[0] == "meetings"
    assert set(result.themes) <= {"meetings", "focus", "focus time", "time"}
    assert {"focus time", "focus"} <= set(result.themes)
    for single in ("coffee", "onboarding", "broken", "love"):
        assert single not in result.themes
    lone = digest(definition, round_of(1, [answers(3, comment="coffee coffee")] + [answers(3)] * 4))
    assert lone.themes == ()
    unrelated = ["alpha bravo", "charlie delta", "echo foxtrot", "golf hotel", "india juliet"]
    result = digest(definition, round_of(1, [answers(3, comment=c) for c in unrelated]))
    assert result.themes == ()


def test_trend_never_shows_a_suppressed_round():
    definition = survey()
    history = [
        round_of(1, [answers(2)] * 5),
        round_of(2, [answers(1, 0)] * 2),
        round_of(3, [answers(3)] * 6, closed=False),
    ]
    result = digest(definition, round_of(4, [answers(4, 10)] * 5), reversed(history))
    assert [p.number for p in result.trend] == [1, 2, 3, 4]
    assert [dict(p.values)["support"] for p in result.trend] == [2.0, None, None, 4.0]
    assert [dict(p.values)["recommend"] for p in result.trend] == [0.0, None, None, 100.0]
    assert all("office" not in dict(p.values) for p in result.trend)
    recent = build_digest(definition, round_of(4, [answers(4)] * 5), history, trend_rounds=2)
    assert [p.number for p in recent.trend] == [3, 4]


def test_out_of_range_answers_are_ignored():
    definition = survey()
    responses = [answers(4, 9, 1)] * 5 + [answers(7, 11, 5), Response({"support": 0, "gone": 3})]
    result = digest(definition, round_of(1, responses))
    support = question(result, "support")
    assert support.answered == 5 and support.average == 4.0
    assert sum(n for _, n in support.distribution) == 5
    assert question(result, "recommend").enps == 100.0
    assert dict(question(result, "office").distribution)["Home"] == 5


def test_question_skipped_by_too_many_is_hidden():
    definition = survey()
    responses = [Response({"support": 4, "recommend": 0})] * 2 + [Response({"support": 4})] * 4
    result = digest(definition, round_of(1, responses))
    recommend = question(result, "recommend")
    assert recommend.hidden and recommend.enps is None and recommend.distribution == ()
    assert "-100" not in rendered(result, definition)


def png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


def test_trend_chart_is_a_real_png():
    definition = survey()
    history = [round_of(n, [answers(1 + n % 5, n)] * 5) for n in range(1, 4)]
    history.append(round_of(4, [answers(3)] * 2))
    result = digest(definition, round_of(5, [answers(4, 10)] * 6), history)
    png = trend_chart_png(result, definition)
    assert png is not None and png.startswith(b"\x89PNG")
    assert png_size(png) == (800, 450)
    assert imread(io.BytesIO(png)).shape[:2] == (450, 800)


def test_trend_chart_with_only_likert_questions_and_a_dollar_title():
    definition = parse_surveys(
        {
            "surveys": [
                {
                    "key": "lunch",
                    "title": "Is $5 lunch worth it? $$",
                    "questions": [{"id": "worth", "text": "Worth $5?"}],
                }
            ]
        }
    )[0]
    result = digest(definition, round_of(1, [Response({"worth": 4})] * 5))
    png = trend_chart_png(result, definition)
    assert png is not None and png_size(png) == (800, 450)


def test_no_chart_when_nothing_to_plot():
    definition = survey()
    result = digest(definition, round_of(1, [answers(4)] * 2))
    assert trend_chart_png(result, definition) is None


def test_blocks_stay_within_slack_limits_with_many_long_comments():
    definition = survey(threshold=3, segmented=True)
    long = "this is a rather long comment about workload and meetings " * 40
    responses = [
        answers(n % 5 + 1, n % 11, segment="eng" if n % 2 else "ops", comment=f"{n} {long}")
        for n in range(200)
    ]
    result = digest(definition, round_of(1, responses, asked=250))
    blocks = digest_blocks(result, definition)
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
    assert "more comments did not fit" in json.dumps(blocks)


def test_long_title_fits_the_header():
    definition = survey(title="Quarterly & " * 12)
    result = digest(definition, round_of(1, [answers(4)] * 5))
    header = digest_blocks(result, definition)[0]["text"]["text"]
    assert len(header) <= 150 and header.endswith("…")
    assert "&amp;" in header and not header.rstrip("…").endswith(("&", "&a", "&am", "&amp"))


def test_comments_cannot_ping_or_link():
    definition = survey()
    nasty = "<!channel> hi @here"
    responses = [answers(4, comment=nasty), answers(4, comment="<https://evil.example|x>")]
    responses += [answers(4, comment=f"fine {n}") for n in range(3)]
    result = digest(definition, round_of(1, responses))
    assert nasty in result.comments
    shown = json.dumps(digest_blocks(result, definition), ensure_ascii=False)
    assert "<!channel>" not in shown and "@here" not in shown
    assert "<https://" not in shown
    assert "&lt;!channel&gt;" in shown


def test_comments_fewer_than_the_threshold_wrote_are_withheld_and_counted():
    """Whoever holds the bot token sees in each survey DM whether its person commented; two
    comments among seven answers would each be one of two people's."""
    definition = survey(threshold=5)
    responses = [answers(4, comment="the reorg hurt"), answers(2, comment="more focus time")]
    responses += [answers(3)] * 5
    result = digest(definition, round_of(1, responses))
    shown = rendered(result, definition)
    assert result.comments == () and result.themes == ()
    assert "reorg" not in shown and "focus time" not in shown
    assert "2 comments are withheld" in shown and "at least 5 people" in shown
    assert question(result, "support").average is not None, "the answers are still shown"
