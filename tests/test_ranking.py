"""The ranker on the real model, a real FAISS index and the example knowledge base."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.embedding import Embedder
from indexer.ingest.loaders.files import load_tree
from indexer.insights.questions import Asked, Questions
from indexer.learning.feedback import REACTION_WEIGHT, Feedback
from indexer.search.hybrid import BlendWeights, relevance_gate
from indexer.search.index_store import KnowledgeIndex
from indexer.search.ranker import MIN_CONFIDENCE, Ranker
from models import KnowledgeGap, QueryLog, Rating, Snippet
from tests.helpers import ingested

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "knowledge"
SECRET = """---
title: Acquisition of Contoso (confidential)
tags: [m-and-a]
topic: people
visibility: channel:C0LEADERS
---
# Acquisition of Contoso

The Contoso acquisition closes in March; integration planning lives in the leadership channel.
"""


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[sessionmaker[Session], KnowledgeIndex]]:
    root = tmp_path_factory.mktemp("ranking")
    with ingested(root, embedder, {"contoso.md": SECRET}, load_tree(EXAMPLES)) as stack:
        yield stack


@pytest.fixture
def feedback(stack: tuple[sessionmaker[Session], KnowledgeIndex]) -> Iterator[Feedback]:
    sessions, _ = stack
    yield Feedback(sessions)
    with sessions() as session, session.begin():
        session.query(Rating).delete()


@pytest.fixture
def ranker(stack: tuple[sessionmaker[Session], KnowledgeIndex], feedback: Feedback) -> Ranker:
    return Ranker(stack[1], feedback)


def test_results_carry_consistent_score_components(ranker: Ranker) -> None:
    ranking = ranker.rank("how do I roll back a bad deploy on kubernetes")
    assert ranking.confident
    top = ranking.results[0]
    assert "roll back" in f"{top.title} {top.text}".lower()
    weights = BlendWeights()
    for r in ranking.results:
        expected = (
            weights.dense * r.dense
            + weights.lexical * r.lexical
            + weights.phrase * r.phrase
            + weights.cf * r.cf
            + weights.prior * r.prior
        )
        assert r.score == pytest.approx(expected, abs=1e-5)
    assert [r.score for r in ranking.results] == sorted(
        (r.score for r in ranking.results), reverse=True
    )


def test_lexical_evidence_finds_rare_exact_terms(ranker: Ranker) -> None:
    ranking = ranker.rank("k8s-staging-viewer")
    assert ranking.results
    assert all(r.lexical > 0 for r in ranking.results[:2])
    assert "k8s-staging-viewer" in ranking.results[0].text


def test_filters_and_phrases_narrow_results(ranker: Ranker) -> None:
    tagged = ranker.rank("deploy tag:kubernetes").results
    assert tagged and all("kubernetes" in r.tags for r in tagged)
    people = ranker.rank("how much leave do I get topic:people").results
    assert people and all(r.topic == "people" for r in people)
    faq = ranker.rank("laptop source:faq").results
    assert faq and all("faq" in r.source for r in faq)
    phrase = ranker.rank('access "k8s-staging-viewer"').results
    assert phrase and all("k8s-staging-viewer" in r.text for r in phrase)


def test_a_query_of_only_filters_lists_matching_snippets(ranker: Ranker) -> None:
    ranking = ranker.rank("tag:security", limit=50)
    assert ranking.listing and ranking.results
    assert all("security" in r.tags for r in ranking.results)


def test_restricted_snippets_only_for_channel_members(ranker: Ranker) -> None:
    outsider = ranker.rank("Contoso acquisition integration planning").results
    assert all("Contoso" not in r.title for r in outsider)
    member = ranker.rank(
        "Contoso acquisition integration planning", channels=frozenset({"C0LEADERS"})
    ).results
    assert member[0].title == "Acquisition of Contoso (confidential)"


def test_snippets_of_one_document_are_collapsed(ranker: Ranker) -> None:
    ranking = ranker.rank("tensorflow 2.0", limit=5)
    documents = [r.document_id for r in ranking.results]
    assert len(documents) == len(set(documents))
    top = ranking.results[0]
    assert top.title.startswith("TensorFlow 2 Migration Guide")
    assert top.more_in_document >= 3


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("how big is the raise when you get promoted", "Pay"),
        ("my kid is sick, do i take a day off", "Sick children and carers"),
    ],
)
def test_a_document_is_shown_by_the_section_that_answers_not_the_one_sharing_a_word(
    ranker: Ranker, question: str, section: str
) -> None:
    """The word "promoted" made "What you can do" stand for the promotion page, though "Pay"
    answers the question: keywords decide which document, meaning decides which section."""
    (top, *_) = ranker.rank(question, limit=3).results
    assert top.section is not None and top.section.endswith(section), top.section


@pytest.mark.parametrize(
    ("question", "opening"),
    [
        ("tensorflow 2.0", "This is the canonical guide for upgrading"),
        ("expenses", "spend company money as if it were your own"),
    ],
)
def test_a_question_that_names_a_document_is_answered_by_its_opening(
    ranker: Ranker, question: str, opening: str
) -> None:
    """Every section of the TensorFlow guide repeats its title, so the shortest ("Getting help")
    matched "tensorflow 2.0" best; the reader wants what the guide is about."""
    (top, *_) = ranker.rank(question, limit=3).results
    assert top.ordinal == 0 and opening in top.text, (top.section, top.text[:80])


def test_a_real_question_about_a_named_document_still_gets_its_section(ranker: Ranker) -> None:
    (top, *_) = ranker.rank("how do i run tf_upgrade_v2", limit=3).results
    assert top.section is not None and top.section.startswith("Step 1"), top.section
    (top, *_) = ranker.rank("tensorflow 2.0 pin the version?", limit=3).results
    assert top.ordinal != 0, "a question mark makes it a question, not a name"


def test_no_good_answer_is_honest_and_recorded_as_a_gap(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], ranker: Ranker
) -> None:
    sessions, _ = stack
    questions = Questions(ranker, sessions)
    asked = Asked(surface="console", user_id="U1")
    first, _ = questions.ask("what is the best banana bread recipe with walnuts", asked)
    second, _ = questions.ask("banana bread recipe with walnuts please", asked)
    other, _ = questions.ask("who won the 1998 football world cup final", asked)
    answered, query_id = questions.ask("how do I request kubectl access to staging", asked)
    assert not first.confident and not second.confident and not other.confident
    assert len(first.results) <= 3
    assert answered.confident
    with sessions() as session:
        gaps = {g.label: g.question_count for g in session.scalars(select(KnowledgeGap))}
        logged = session.get(QueryLog, query_id)
    assert gaps == {
        "what is the best banana bread recipe with walnuts": 2,
        "who won the 1998 football world cup final": 1,
    }
    assert logged is not None and logged.answered and logged.user_id == "U1"


def _snippet_id(sessions: sessionmaker[Session], title_part: str, section: str) -> int:
    with sessions() as session:
        found = session.scalar(
            select(Snippet.id).where(Snippet.title.contains(title_part), Snippet.section == section)
        )
    assert found is not None
    return found


def test_ratings_latest_wins_and_removal_undoes(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], feedback: Feedback
) -> None:
    sessions, _ = stack
    snippet = _snippet_id(sessions, "TensorFlow", "Step 4: Move to Keras")
    feedback.rate("U1", snippet, 1, "reaction:+1")
    feedback.rate("U1", snippet, -1, "button")
    with sessions() as session:
        values = list(session.scalars(select(Rating.value).where(Rating.snippet_id == snippet)))
    assert values == [-1]
    assert not feedback.unrate("U1", snippet, origin="reaction:+1")
    assert feedback.unrate("U1", snippet, origin="button")
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 0
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        feedback.rate("U1", snippet, 5, "button")


def test_upvotes_lift_a_snippet_for_everyone_and_a_spammer_cannot_sink_it(
    feedback: Feedback, ranker: Ranker
) -> None:
    query = "how do I get a laptop or replace a broken one"
    before = ranker.rank(query, limit=10).results
    target = before[1]
    for user in ("U1", "U2", "U3", "U4", "U5", "U6"):
        feedback.rate(user, target.snippet_id, 1, "button")
    feedback.refresh()
    after = ranker.rank(query, asker="UNEW", limit=10).results
    lifted = next(r for r in after if r.snippet_id == target.snippet_id)
    assert lifted.prior > 0.5
    assert lifted.score > target.score
    assert after.index(lifted) == 0, "six upvotes lift it to the top for a newcomer"
    for result in after:
        feedback.rate("USPAM", result.snippet_id, -1, "button")
    feedback.refresh()
    spammed = ranker.rank(query, asker="UNEW", limit=10).results
    assert spammed[0].snippet_id == target.snippet_id
    assert spammed[0].prior > 0.4


def test_a_restarted_process_ranks_with_the_saved_fit_at_once(
    feedback: Feedback, tmp_path: Path
) -> None:
    ids = list(range(1, 7))
    for user in ("U1", "U2", "U3"):
        feedback.rate(user, ids[:3], 1, "button")
    feedback.rate("U1", ids[4], -1, "button")
    feedback.rate("U4", ids[0], 1, "button")
    store = tmp_path / "feedback.npz"
    fitted = Feedback(feedback.sessions, store)
    assert not fitted.load_saved(), "nothing saved yet"
    fitted.refresh()
    restarted = Feedback(feedback.sessions, store)
    assert restarted.load_saved() and restarted.is_current()
    before, after = fitted.current(), restarted.current()
    assert after.cf_scores("U4", ids).tolist() == before.cf_scores("U4", ids).tolist()
    assert after.cf_scores("U4", ids)[1] > 0, "U4's likes resemble U1-U3's"
    assert after.priors(ids).tolist() == before.priors(ids).tolist()
    feedback.rate("U5", ids[5], 1, "button")
    assert not restarted.is_current(), "a vote since the save is noticed"
    store.write_bytes(store.read_bytes()[:100])
    assert not Feedback(feedback.sessions, store).load_saved(), "a damaged file is refitted"


def test_the_askers_own_vote_counts_at_once(feedback: Feedback, ranker: Ranker) -> None:
    query = "how do I get a laptop or replace a broken one"
    top = ranker.rank(query, asker="UME").results[0]
    feedback.rate("UME", top.snippet_id, -1, "reaction:7")
    reacted = feedback.own_votes("UME", np.array([top.snippet_id]))
    assert reacted == {0: -REACTION_WEIGHT}, "a reaction judged the whole answer: it says less"
    feedback.rate("UME", top.snippet_id, -1, "button:7")
    assert feedback.own_votes("UME", np.array([top.snippet_id])) == {0: -1.0}
    again = ranker.rank(query, asker="UME", limit=50).results
    assert again[0].snippet_id != top.snippet_id
    assert all(r.cf == -1.0 for r in again if r.snippet_id == top.snippet_id)
    others = ranker.rank(query, asker="UOTHER").results
    assert others[0].snippet_id == top.snippet_id, "one person's vote is theirs alone, until refit"


def test_a_vote_on_an_unrelated_snippet_does_not_follow_the_voter_everywhere(
    feedback: Feedback, ranker: Ranker
) -> None:
    laptop = ranker.rank("how do I get a laptop or replace a broken one", asker="UFAN").results[0]
    feedback.rate("UFAN", laptop.snippet_id, 1, "reaction:+1")
    for user in ("UF1", "UF2", "UF3"):
        feedback.rate(user, laptop.snippet_id, 1, "button")
    feedback.refresh()
    ranking = ranker.rank("tensorflow 2 migration", asker="UFAN", limit=10)
    assert ranking.confident
    assert ranking.results[0].snippet_id != laptop.snippet_id
    assert "TensorFlow" in ranking.results[0].title


SPAMMED_QUESTIONS = (
    "how do I get a laptop or replace a broken one",
    "how do I roll back a bad deploy on kubernetes",
    "tensorflow 2.0",
    "how much parental leave do I get",
)


def test_a_spammer_with_hundreds_of_votes_cannot_push_a_relevant_snippet_out_of_a_top_5(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], feedback: Feedback, ranker: Ranker
) -> None:
    """USPAM copies UME's likes (so the collaborative model takes him for her twin), then
    down-votes every snippet of every document that strongly matches these questions (cosine
    >= MIN_CONFIDENCE) and hundreds of unrelated snippets. Every strong match in a newcomer's
    top 5 and in UME's stays there, and a newcomer's scores move by at most the prior's bound,
    0.2 * (20 / n) / 5 for n votes. When each vote counted in full (issue 21), it was 0.033."""
    sessions, _ = stack
    liked = [
        _snippet_id(sessions, "TensorFlow", "Step 4: Move to Keras"),
        _snippet_id(sessions, "TensorFlow", "Step 6: Pin the version"),
    ]
    for user in ("UME", "UA", "UB"):
        feedback.rate(user, liked, 1, "button:1")
    feedback.refresh()
    askers = (None, "UME")
    before = {
        (q, a): ranker.rank(q, asker=a, limit=5).results for q in SPAMMED_QUESTIONS for a in askers
    }
    candidates = {
        r.document_id for q in SPAMMED_QUESTIONS for r in ranker.rank(q, limit=40).results
    }
    strong = {
        r.document_id
        for q in SPAMMED_QUESTIONS
        for r in ranker.rank(q, limit=40).results
        if r.dense >= MIN_CONFIDENCE
    }
    with sessions() as session:
        targets = list(session.scalars(select(Snippet.id).where(Snippet.document_id.in_(strong))))
        filler = list(
            session.scalars(
                select(Snippet.id)
                .where(Snippet.document_id.not_in(candidates))
                .order_by(Snippet.id)
            )
        )
    spam = [s for s in targets + filler if s not in liked]
    assert len(spam) >= 200
    feedback.rate("USPAM", liked, 1, "button:2")
    feedback.rate("USPAM", spam, -1, "button:2")
    feedback.refresh()
    bound = 0.2 * (20 / (len(spam) + len(liked))) / 5
    for (question, asker), results in before.items():
        after = ranker.rank(question, asker=asker, limit=5).results
        kept = {r.snippet_id for r in after}
        for r in results:
            if r.dense >= MIN_CONFIDENCE:
                assert r.snippet_id in kept, f"{r.title} / {r.section} left {asker}'s top 5"
        if asker is None:
            moved = {r.snippet_id: r.score for r in after}
            for r in results:
                if r.snippet_id in moved:
                    assert abs(moved[r.snippet_id] - r.score) <= bound + 1e-6


UNRELATED_QUESTIONS = (
    "tensorflow 2.0",
    "how do I roll back a bad deploy on kubernetes",
    "how much parental leave do I get",
    "pagination for list endpoints",
)


def test_a_helpful_vote_never_carries_a_snippet_into_an_unrelated_search(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], feedback: Feedback, ranker: Ranker
) -> None:
    """One person's Helpful on "Password Manager and 2FA" put it 5th in their own answer to
    "tensorflow 2.0" (issue 21). However many people found it helpful, its score for an
    unrelated question stays what retrieval alone gives it, for the voter and for everyone."""
    sessions, _ = stack
    helpful = _snippet_id(sessions, "Password Manager", "Help")
    with sessions() as session:
        document = session.scalar(select(Snippet.document_id).where(Snippet.id == helpful))
    weights = BlendWeights()
    for question in UNRELATED_QUESTIONS:
        top = ranker.rank(question, asker="UME", limit=10).results
        assert document not in {r.document_id for r in top}
    feedback.rate("UME", helpful, 1, "button:1")
    for user in ("UF1", "UF2", "UF3", "UF4", "UF5"):
        feedback.rate(user, helpful, 1, "button:1")
    feedback.refresh()
    for question in UNRELATED_QUESTIONS:
        for asker in ("UME", "UNEW"):
            results = ranker.rank(question, asker=asker, limit=50).results
            assert document not in {r.document_id for r in results[:10]}, question
            for r in results:
                if r.snippet_id == helpful:
                    retrieval = (
                        weights.dense * r.dense
                        + weights.lexical * r.lexical
                        + weights.phrase * r.phrase
                    )
                    assert r.score == pytest.approx(retrieval, abs=1e-6), question


def test_similar_colleagues_ratings_personalise_and_newcomers_are_unharmed(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], feedback: Feedback, ranker: Ranker
) -> None:
    sessions, _ = stack
    query = "how do I get a laptop or replace a broken one"
    baseline = ranker.rank(query, limit=10).results
    relevant = [r for r in baseline if relevance_gate(np.array([r.dense]))[0] > 0.5]
    assert len(relevant) >= 2
    liked = relevant[-1].snippet_id
    shared = [
        _snippet_id(sessions, "TensorFlow", "Step 4: Move to Keras"),
        _snippet_id(sessions, "TensorFlow", "Step 6: Pin the version"),
    ]
    for user in ("UA", "UB", "UC"):
        for snippet in shared:
            feedback.rate(user, snippet, 1, "button")
        feedback.rate(user, liked, 1, "button")
    for snippet in shared:
        feedback.rate("UME", snippet, 1, "button")
    feedback.refresh()
    mine = ranker.rank(query, asker="UME", limit=10).results
    newcomer = ranker.rank(query, asker="UNEW", limit=10).results
    mine_liked = next(r for r in mine if r.snippet_id == liked)
    new_liked = next(r for r in newcomer if r.snippet_id == liked)
    assert mine_liked.cf > 0 and new_liked.cf == 0
    assert mine.index(mine_liked) <= newcomer.index(new_liked)
    assert mine_liked.score > new_liked.score


def test_background_refresh_picks_up_new_ratings_without_blocking(
    stack: tuple[sessionmaker[Session], KnowledgeIndex], feedback: Feedback, ranker: Ranker
) -> None:
    import threading
    import time

    sessions, _ = stack
    snippet = _snippet_id(sessions, "TensorFlow", "Step 4: Move to Keras")
    stop = threading.Event()
    thread = feedback.refresh_every(0.05, stop)
    try:
        before = feedback.current()
        feedback.rate("U1", snippet, 1, "button")
        deadline = time.monotonic() + 10
        while feedback.current() is before and time.monotonic() < deadline:
            ranker.rank("tensorflow keras")  # answers keep flowing meanwhile
            time.sleep(0.05)
        assert feedback.current() is not before
        assert feedback.current().priors([snippet])[0] > 0
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
