"""Training suggestions on the real model and both real databases: a small catalogue and team
where the right order is known by construction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate as migrations
from indexer.embedding import Embedder
from models import (
    Assignment,
    Document,
    QueryLog,
    Rating,
    Snippet,
    TrainingModule,
)
from people.training.recommendations import (
    REASON_POPULAR,
    ModuleSuggestion,
    recommend_modules,
)
from tests.helpers import local_sessions

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
K101 = "Kubernetes 101"
K201 = "Kubernetes 201"
INCIDENT = "Incident response"
TENSORFLOW = "TensorFlow 2 migration"
COMMITS = "Writing good commit messages"

SEARCHER = "USEARCH"  # searched for Kubernetes deploys
LIKER = "ULIKER"  # no searches; rated the same office snippets as three colleagues
COLLEAGUES = ("UCOL1", "UCOL2", "UCOL3")  # like LIKER, and all completed incident response
CONTRARIAN = "UODD"  # rated those snippets down; completed TensorFlow and commit messages
NEWCOMER = "UNEW"  # nothing at all

MODULES = [
    (
        "k8s-101",
        K101,
        "Deploy your first service to Kubernetes: pods, deployments and kubectl basics.",
        "kubernetes",
        ["kubernetes", "containers", "deploy"],
    ),
    (
        "k8s-201",
        K201,
        "Rollouts, rollbacks, autoscaling and Helm for production Kubernetes deployments.",
        "kubernetes",
        ["kubernetes", "helm", "rollout"],
    ),
    (
        "incident-response",
        INCIDENT,
        "Running an incident: paging on-call, severity levels, status updates, postmortems.",
        "operations",
        ["incidents", "on-call"],
    ),
    (
        "tf2-migration",
        TENSORFLOW,
        "Port TensorFlow 1 graphs and sessions to TensorFlow 2 eager execution and Keras.",
        "machine learning",
        ["tensorflow", "python"],
    ),
    (
        "commit-messages",
        COMMITS,
        "How to write a clear git commit subject and body that reviewers understand.",
        "engineering practices",
        ["git"],
    ),
]

OFFICE_SNIPPETS = [
    (
        "Submitting travel expenses",
        "Submit expenses in the finance tool within 30 days.",
        "finance",
    ),
    ("Replacing a broken laptop", "Open an IT ticket; a replacement ships in two days.", "it"),
    ("Booking the big meeting room", "Book the big room in the office calendar.", "office"),
]


@dataclass
class World:
    sessions: sessionmaker[Session]
    embedder: Embedder

    def suggest(self, user_id: str, limit: int = 5) -> list[ModuleSuggestion]:
        return recommend_modules(self.sessions, self.embedder, user_id, NOW, limit)

    def titles(self, user_id: str, limit: int = 5) -> list[str]:
        return [s.title for s in self.suggest(user_id, limit)]

    def module_id(self, key: str) -> int:
        with self.sessions() as session:
            found = session.scalar(select(TrainingModule.id).where(TrainingModule.key == key))
        assert found is not None
        return found

    def assign(self, user_id: str, key: str, completed: bool) -> None:
        module_id = self.module_id(key)
        with self.sessions() as session, session.begin():
            session.add(
                Assignment(
                    user_id=user_id,
                    module_id=module_id,
                    origin="self",
                    completed_at=NOW - timedelta(days=3) if completed else None,
                )
            )

    def add_module(self, key: str, title: str, description: str) -> None:
        with self.sessions() as session, session.begin():
            session.add(TrainingModule(key=key, title=title, description=description))


@pytest.fixture
def world(engine: Engine, embedder: Embedder) -> Iterator[World]:
    migrations.upgrade(engine)
    sessions = local_sessions(engine)
    with sessions() as session, session.begin():
        modules = {
            key: TrainingModule(
                key=key,
                title=title,
                url=f"https://learn.example.com/{key}",
                description=description,
                topic=topic,
                tags=tags,
                minutes=30,
            )
            for key, title, description, topic, tags in MODULES
        }
        modules["k8s-201"].prerequisites = [modules["k8s-101"]]
        session.add_all(modules.values())
        document = Document(
            source_type="markdown", source="handbook/office.md", title="Office", content_hash="h"
        )
        session.add(document)
        session.flush()
        snippets = [
            Snippet(
                document_id=document.id,
                ordinal=i,
                title=title,
                text=text,
                topic=topic,
                tags=[topic],
                content_hash=f"h{i}",
            )
            for i, (title, text, topic) in enumerate(OFFICE_SNIPPETS)
        ]
        session.add_all(snippets)
        session.flush()
        for user, value in [(LIKER, 1), *((c, 1) for c in COLLEAGUES), (CONTRARIAN, -1)]:
            session.add_all(
                Rating(user_id=user, snippet_id=s.id, value=value, origin="button")
                for s in snippets
            )
        for user, key in [
            *((c, "incident-response") for c in COLLEAGUES),
            (CONTRARIAN, "tf2-migration"),
            (CONTRARIAN, "commit-messages"),
        ]:
            session.add(
                Assignment(
                    user_id=user,
                    module_id=modules[key].id,
                    origin="manager",
                    completed_at=NOW - timedelta(days=10),
                )
            )
        for query, age in [
            ("how do I deploy to kubernetes", timedelta(days=2)),
            ("kubectl rollout", timedelta(days=1)),
            ("migrating tensorflow 1 models to tensorflow 2", timedelta(days=120)),
        ]:
            session.add(QueryLog(user_id=SEARCHER, surface="dm", query=query, created_at=NOW - age))
    yield World(sessions, embedder)


def test_searches_suggest_the_first_course_before_its_follow_up(world: World) -> None:
    suggestions = world.suggest(SEARCHER)
    assert [s.title for s in suggestions][:2] == [K101, K201]
    first, second = suggestions[:2]
    assert first.reason.startswith("Matches what you searched for: ")
    assert "kubernetes" in first.reason or "kubectl" in first.reason
    assert second.reason.endswith(f"take {K101} first")
    assert first.score > second.score > 0
    assert (first.key, first.url, first.minutes) == (
        "k8s-101",
        "https://learn.example.com/k8s-101",
        30,
    )
    titles = [s.title for s in suggestions]
    # Unrelated modules are not suggested, nor is the one matching a search from four months ago.
    assert TENSORFLOW not in titles
    assert COMMITS not in titles


def test_after_completing_the_first_course_the_follow_up_comes_first(world: World) -> None:
    world.assign(SEARCHER, "k8s-101", completed=True)
    suggestions = world.suggest(SEARCHER)
    assert suggestions[0].title == K201
    assert suggestions[0].reason == f"Builds on {K101}, which you completed"
    assert K101 not in [s.title for s in suggestions]


def test_colleagues_with_the_same_ratings_suggest_what_they_completed(world: World) -> None:
    suggestions = world.suggest(LIKER)
    assert suggestions[0].title == INCIDENT
    assert suggestions[0].reason == "Completed by 3 colleagues with similar interests"
    # The contrarian voted the opposite way: their completions are not lifted.
    assert [s.title for s in suggestions] == [INCIDENT]


def test_one_colleague_is_counted_in_the_singular(world: World) -> None:
    world.assign(COLLEAGUES[0], "commit-messages", completed=True)
    suggestions = {s.title: s for s in world.suggest(LIKER)}
    assert suggestions[COMMITS].reason == "Completed by 1 colleague with similar interests"
    assert suggestions[INCIDENT].score > suggestions[COMMITS].score


def test_assigned_and_completed_modules_never_appear(world: World) -> None:
    world.assign(SEARCHER, "k8s-101", completed=False)
    world.assign(SEARCHER, "k8s-201", completed=True)
    titles = world.titles(SEARCHER)
    assert K101 not in titles
    assert K201 not in titles
    world.assign(LIKER, "incident-response", completed=False)
    assert INCIDENT not in world.titles(LIKER)


def test_a_newcomer_gets_what_colleagues_completed_most(world: World) -> None:
    suggestions = world.suggest(NEWCOMER)
    assert [s.title for s in suggestions] == [INCIDENT, TENSORFLOW, COMMITS]
    assert {s.reason for s in suggestions} == {REASON_POPULAR}
    # Equal completions tie on score and fall back to title order.
    assert suggestions[1].score == suggestions[2].score


def test_equal_scores_are_ordered_by_title_then_key(world: World) -> None:
    world.add_module("commit-messages-2", COMMITS, "The same course, second edition.")
    world.add_module("a-commit-messages", COMMITS, "The same course, first edition.")
    for key in ("commit-messages-2", "a-commit-messages"):
        world.assign(CONTRARIAN, key, completed=True)
    expected = [
        ("incident-response", INCIDENT),
        ("tf2-migration", TENSORFLOW),
        ("a-commit-messages", COMMITS),
        ("commit-messages", COMMITS),
        ("commit-messages-2", COMMITS),
    ]
    for _ in range(2):
        assert [(s.key, s.title) for s in world.suggest(NEWCOMER)] == expected


def test_limit_is_respected(world: World) -> None:
    assert len(world.suggest(NEWCOMER, limit=2)) == 2
    assert world.titles(SEARCHER, limit=1) == [K101]
    assert world.suggest(SEARCHER, limit=0) == []


def test_no_modules_no_suggestions(engine: Engine, embedder: Embedder) -> None:
    migrations.upgrade(engine)
    sessions = local_sessions(engine)
    assert recommend_modules(sessions, embedder, SEARCHER, NOW) == []
