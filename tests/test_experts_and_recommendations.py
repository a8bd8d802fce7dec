"""`/lepton who <topic>` and the App Home's recommendations and recent searches, on the real
model, a real FAISS index and both real databases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate as migrations
from indexer.embedding import Embedder
from indexer.ingest.documents import LoadResult, Section, SourceDocument
from indexer.ingest.loaders.slack_export import load_export
from indexer.ingest.pipeline import Ingestor
from indexer.ingest.saved_messages import SavedMessage, saved_message_document
from indexer.insights.experts import experts
from indexer.insights.recommendations import (
    REASON_SIMILAR,
    REASON_WELL_RATED,
    recent_searches,
    recommend,
)
from indexer.learning.feedback import Feedback
from indexer.search.index_store import KnowledgeIndex
from indexer.search.ranker import Ranker
from models import Document, DocumentAnswerer, QueryLog, Snippet
from tests.helpers import SLACK_EXPORT, local_sessions

pytestmark = pytest.mark.both_backends

PAYMENTS = "C0PAYMENTS"
MARIA, PRIYA = "U02ABCDEF", "U02EFGHIJ"


def _saved(
    ts: str,
    title: str,
    text: str,
    author: str,
    saved_by: str,
    private: bool = False,
) -> SourceDocument:
    return saved_message_document(
        SavedMessage(
            team_id="T1",
            channel_id=PAYMENTS if private else "C0GENERAL",
            ts=ts,
            text=text,
            permalink=f"https://example.slack.com/archives/C/p{ts.replace('.', '')}",
            author_user_id=author,
            author_name=f"{author} display name",
            saved_by=saved_by,
            title=title,
            tags=[],
            private_channel=private,
        )
    )


DOCUMENTS = [
    _saved(
        "1700000001.000100",
        "Rolling back a bad Kubernetes deployment",
        "To roll back a bad deploy run kubectl rollout undo deployment/api; it reverts the "
        "Kubernetes deployment to the previous ReplicaSet. Check kubectl rollout history first.",
        author="UKATE",
        saved_by="USAM",
    ),
    _saved(
        "1700000002.000100",
        "Kubernetes readiness probes before a rollout",
        "Give every Kubernetes deployment a readiness probe so a rollout stops sending traffic "
        "to pods that are not ready; a failed rollout can then be rolled back safely.",
        author="UKATE",
        saved_by="UKATE",
    ),
    _saved(
        "1700000003.000100",
        "Helm values for staging deployments on Kubernetes",
        "Staging deployments on Kubernetes use helm upgrade --install with values-staging.yaml; "
        "helm rollback api 3 returns the release to revision 3.",
        author="ULEO",
        saved_by="ULEO",
    ),
    _saved(
        "1700000004.000100",
        "Rolling back Kubernetes deployments by deleting pods",
        "To undo a Kubernetes deployment just delete all the pods by hand with kubectl delete pod "
        "and hope the old version comes back.",
        author="UBOB",
        saved_by="UBOB",
    ),
    _saved(
        "1700000005.000100",
        "Payments cluster: rolling back Kubernetes deployments",
        "On the payments Kubernetes cluster roll back a deployment with kubectl rollout undo "
        "after paging the payments on-call; credentials live in the payments vault.",
        author="USECRET",
        saved_by="USECRET",
        private=True,
    ),
    _saved(
        "1700000006.000100",
        "Submitting travel expenses",
        "Submit travel expenses in the finance tool within 30 days with the receipts attached; "
        "your manager approves them and the money arrives with the next payroll.",
        author="UHR",
        saved_by="UHR",
    ),
    _saved(
        "1700000007.000100",
        "Replacing a broken laptop",
        "If your laptop breaks, open an IT ticket; IT ships a replacement laptop within two "
        "working days and wipes the old one.",
        author="UIT",
        saved_by="UIT",
    ),
    SourceDocument(
        source="handbook/onboarding.md",
        source_type="markdown",
        title="Onboarding handbook",
        sections=[
            Section(
                ("Onboarding handbook", "Your first day"),
                "On your first day you get your badge at reception, meet your buddy and set up "
                "your laptop with the help of IT.",
            ),
            Section(
                ("Onboarding handbook", "Your first week"),
                "In your first week you shadow a teammate, join the team rituals and pick a "
                "starter task from the onboarding board.",
            ),
            Section(
                ("Onboarding handbook", "Your first month"),
                "By the end of your first month you agree goals with your manager and present "
                "what you learned at the team demo.",
            ),
        ],
    ),
]


@dataclass(frozen=True)
class Stack:
    sessions: sessionmaker[Session]
    feedback: Feedback
    ranker: Ranker
    ids: dict[str, int]  # snippet id by title (first snippet of a document)

    def sections(self, title: str) -> list[int]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Snippet.id)
                    .join(Document)
                    .where(Document.title == title)
                    .order_by(Snippet.ordinal)
                )
            )


@pytest.fixture
def stack(engine: Engine, embedder: Embedder, tmp_path: Path) -> Iterator[Stack]:
    migrations.upgrade(engine)
    sessions = local_sessions(engine)
    knowledge = KnowledgeIndex(sessions, tmp_path / "index", embedder)
    Ingestor(knowledge).ingest(LoadResult(documents=list(DOCUMENTS)))
    with sessions() as session:
        ids: dict[str, int] = {}
        for title, snippet_id in session.execute(
            select(Document.title, Snippet.id).join(Snippet).order_by(Snippet.ordinal.desc())
        ):
            ids[title] = snippet_id
    feedback = Feedback(sessions)
    yield Stack(sessions, feedback, Ranker(knowledge, feedback), ids)


ROLLBACK = "how do I roll back a kubernetes deployment"
K8S_ROLLBACK = "Rolling back a bad Kubernetes deployment"
K8S_PROBES = "Kubernetes readiness probes before a rollout"
HELM = "Helm values for staging deployments on Kubernetes"
BAD_ADVICE = "Rolling back Kubernetes deployments by deleting pods"
PAYMENTS_ROLLBACK = "Payments cluster: rolling back Kubernetes deployments"
EXPENSES = "Submitting travel expenses"
LAPTOP = "Replacing a broken laptop"
ONBOARDING = "Onboarding handbook"


def _dense(stack: Stack, query: str, title: str) -> float:
    ranking = stack.ranker.rank(query, limit=50, channels=frozenset({PAYMENTS}))
    return next(r.dense for r in ranking.results if r.title == title)


# --- experts --------------------------------------------------------------------------------


def test_experts_are_the_authors_and_savers_of_relevant_well_rated_knowledge(stack: Stack) -> None:
    before = experts(stack.ranker, stack.sessions, ROLLBACK)
    assert "UBOB" in {e.user_id for e in before}, "unrated snippets count"

    for user in ("U1", "U2"):
        stack.feedback.rate(user, stack.ids[BAD_ADVICE], -1, "reaction:-1")
    for user in ("U1", "U2", "U3"):
        stack.feedback.rate(user, stack.ids[K8S_ROLLBACK], 1, "reaction:+1")
    stack.feedback.rate("U1", stack.ids[HELM], -1, "button")
    stack.feedback.rate("U2", stack.ids[HELM], 1, "button")  # net 0: still counts

    found = experts(stack.ranker, stack.sessions, ROLLBACK)
    by_user = {e.user_id: e for e in found}
    assert [e.user_id for e in found] == ["UKATE", "USAM", "ULEO"]
    assert "UBOB" not in by_user, "a snippet rated down earns its author nothing"
    assert not {"UIT", "UHR"} & set(by_user), "loosely related pages make nobody an expert"
    assert "USECRET" not in by_user, "restricted knowledge credits nobody for outsiders"

    kate, sam, leo = found
    assert (kate.contributed, kate.saved) == (2, 0), "saving one's own message counts once"
    assert set(kate.sample_titles) == {K8S_ROLLBACK, K8S_PROBES}
    assert (sam.contributed, sam.saved, sam.sample_titles) == (0, 1, (K8S_ROLLBACK,))
    assert sam.score == pytest.approx(_dense(stack, ROLLBACK, K8S_ROLLBACK) * (1 + 3), rel=1e-4)
    assert leo.score == pytest.approx(_dense(stack, ROLLBACK, HELM), rel=1e-4)
    assert [e.score for e in found] == sorted((e.score for e in found), reverse=True)


def test_experts_respect_channels_limit_and_confidence(stack: Stack) -> None:
    members = experts(stack.ranker, stack.sessions, ROLLBACK, channels=frozenset({PAYMENTS}))
    assert "USECRET" in {e.user_id for e in members}
    top_two = experts(stack.ranker, stack.sessions, ROLLBACK, limit=2)
    assert [e.user_id for e in top_two] == [
        e.user_id for e in experts(stack.ranker, stack.sessions, ROLLBACK)[:2]
    ]
    assert experts(stack.ranker, stack.sessions, "best banana bread recipe with walnuts") == []
    assert experts(stack.ranker, stack.sessions, "") == []


# --- recommendations ------------------------------------------------------------------------


def _rate_like_colleagues(stack: Stack) -> None:
    """UA likes what UB and UC like; UB and UC also like expenses (and UB a restricted page);
    UD and UE like things nobody else rated."""
    fb, ids = stack.feedback, stack.ids
    for user in ("UA", "UB", "UC"):
        fb.rate(user, ids[K8S_ROLLBACK], 1, "button")
        fb.rate(user, ids[HELM], 1, "button")
    for user in ("UB", "UC"):
        fb.rate(user, ids[EXPENSES], 1, "button")
    fb.rate("UB", ids[PAYMENTS_ROLLBACK], 1, "button")
    for user in ("UD", "UE"):
        fb.rate(user, ids[LAPTOP], 1, "button")
        for snippet in stack.sections(ONBOARDING):
            fb.rate(user, snippet, 1, "button")
    fb.rate("UE", ids[BAD_ADVICE], -1, "button")
    fb.refresh()


def test_what_similar_colleagues_liked_comes_first(stack: Stack) -> None:
    _rate_like_colleagues(stack)
    mine = recommend(stack.feedback, stack.sessions, "UA", limit=10)
    titles = [r.title for r in mine]
    assert mine[0].title == EXPENSES and mine[0].reason == REASON_SIMILAR
    assert not {K8S_ROLLBACK, HELM} & set(titles), "never what I already rated"
    assert PAYMENTS_ROLLBACK not in titles, "restricted snippets only for channel members"
    assert BAD_ADVICE not in titles
    assert {r.reason for r in mine[1:]} == {REASON_WELL_RATED}
    assert set(titles[1:]) == {LAPTOP, ONBOARDING}
    assert titles.count(ONBOARDING) == 1, "one snippet per document"
    assert mine[0].url and mine[0].source.startswith("slack:") and mine[0].link == mine[0].url

    member = recommend(stack.feedback, stack.sessions, "UA", channels=frozenset({PAYMENTS}))
    assert [r.title for r in member[:2]] == [EXPENSES, PAYMENTS_ROLLBACK]
    assert member[1].reason == REASON_SIMILAR
    assert len(recommend(stack.feedback, stack.sessions, "UA", limit=2)) == 2


def test_a_rating_counts_before_the_next_refit_and_own_knowledge_is_not_suggested(
    stack: Stack,
) -> None:
    _rate_like_colleagues(stack)
    stack.feedback.rate("UA", stack.ids[EXPENSES], -1, "reaction:-1")  # no refresh
    assert EXPENSES not in {r.title for r in recommend(stack.feedback, stack.sessions, "UA")}
    for author in ("UKATE", "USAM"):  # wrote / saved the well-rated rollback page
        suggested = {r.title for r in recommend(stack.feedback, stack.sessions, author, 10)}
        assert K8S_ROLLBACK not in suggested
        assert HELM in suggested


def test_a_newcomer_gets_well_rated_snippets_and_nothing_without_ratings(stack: Stack) -> None:
    assert recommend(stack.feedback, stack.sessions, "UNEW") == []
    _rate_like_colleagues(stack)
    fresh = recommend(stack.feedback, stack.sessions, "UNEW", limit=10)
    assert fresh and {r.reason for r in fresh} == {REASON_WELL_RATED}
    assert [r.title for r in fresh[:2]] == [K8S_ROLLBACK, HELM], "three up votes beat two"
    documents = [r.source for r in fresh]
    assert len(documents) == len(set(documents))


# --- recent searches ------------------------------------------------------------------------


def test_recent_searches_are_the_latest_distinct_questions(stack: Stack) -> None:
    start = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    asked = [
        ("UA", "How do I set up the VPN?", True),
        ("UA", "expense policy", False),
        ("UB", "someone else's question", True),
        ("UA", "how do I   set up the vpn?", False),
        ("UA", "laptop replacement", True),
    ]
    with stack.sessions() as session, session.begin():
        for n, (user, query, answered) in enumerate(asked):
            session.add(
                QueryLog(
                    user_id=user,
                    surface="dm",
                    query=query,
                    answered=answered,
                    created_at=start + timedelta(minutes=n),
                )
            )
    recent = recent_searches(stack.sessions, "UA")
    assert [(r.query, r.answered) for r in recent] == [
        ("laptop replacement", True),
        ("how do I set up the vpn?", False),
        ("expense policy", False),
    ]
    assert recent[0].asked_at == start + timedelta(minutes=4)
    assert [r.query for r in recent_searches(stack.sessions, "UA", limit=1)] == [
        "laptop replacement"
    ]
    assert recent_searches(stack.sessions, "UNOBODY") == []


def test_who_credits_the_people_who_answered_a_thread_never_the_asker(
    engine: Engine, embedder: Embedder, tmp_path: Path
) -> None:
    """In the example export Priya Nair asks #help-infra how to get kubectl access and Maria
    Santos answers; Priya asked, so she is no expert, and Maria is."""
    migrations.upgrade(engine)
    sessions = local_sessions(engine)
    knowledge = KnowledgeIndex(sessions, tmp_path / "index", embedder)
    Ingestor(knowledge).ingest(load_export(SLACK_EXPORT))
    ranker = Ranker(knowledge, Feedback(sessions))
    found = {e.user_id for e in experts(ranker, sessions, "kubectl access to the staging cluster")}
    assert MARIA in found
    assert PRIYA not in found, "asking a question makes nobody an expert"

    def credits() -> list[tuple[int, str, int]]:
        with sessions() as session:
            query = select(
                DocumentAnswerer.document_id, DocumentAnswerer.user_id, DocumentAnswerer.weight
            ).order_by(DocumentAnswerer.document_id, DocumentAnswerer.user_id)
            return [tuple(row) for row in session.execute(query)]

    first = credits()
    Ingestor(knowledge).ingest(load_export(SLACK_EXPORT))
    assert credits() == first, "ingesting the export again neither doubles nor drops credit"
