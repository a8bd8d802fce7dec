"""`/lepton forget-me` on both real databases: afterwards no row anywhere holds the person's id,
everyone else's data is as it was, and the anonymous aggregates still add up."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import JSON, Engine, String, Text, cast, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate as migrations
from indexer.embedding import Embedder
from indexer.ingest.documents import LoadResult
from indexer.ingest.pipeline import Ingestor
from indexer.ingest.saved_messages import SavedMessage, saved_message_document
from indexer.insights.questions import Asked, Questions
from indexer.learning.feedback import Feedback
from indexer.search.index_store import KnowledgeIndex
from indexer.search.ranker import Ranker
from models import (
    Answer,
    AnswerSnippet,
    Assignment,
    AuditLog,
    Base,
    Document,
    KnowledgeGap,
    Nudge,
    ProcessedEvent,
    Rating,
    Snippet,
    Survey,
    SurveyAnswer,
    SurveyDelivery,
    SurveyOptOut,
    SurveyRound,
    SurveySealedAnswers,
    TrainingModule,
)
from people import privacy
from people.privacy import forget_user, personal_data_counts
from tests.helpers import local_sessions

pytestmark = pytest.mark.both_backends

GONE = "UFORGET9"  # forgets
KEPT = "UKEEP7"  # stays
NOW = datetime.now(UTC)
DM = {GONE: "D0DMGONE", KEPT: "D0DMKEPT"}


def references(sessions: sessionmaker[Session], needle: str) -> dict[str, int]:
    """Rows per table whose text or JSON columns contain `needle`, over every table the models
    define, so a table added later without forget-me support fails this test."""
    found: dict[str, int] = {}
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            if not columns:
                continue
            matches = [cast(c, Text).contains(needle, autoescape=True) for c in columns]
            count = session.scalar(select(func.count()).select_from(table).where(or_(*matches)))
            if count:
                found[table.name] = int(count)
    return found


def _saved(ts: str, title: str, text: str, author: str, saver: str) -> SavedMessage:
    return SavedMessage(
        team_id="T1",
        channel_id="C0GENERAL",
        ts=ts,
        text=text,
        permalink=f"https://example.slack.com/archives/C0GENERAL/p{ts.replace('.', '')}",
        author_user_id=author,
        author_name=f"{author} display name",
        saved_by=saver,
        title=title,
        tags=["howto"],
        private_channel=False,
    )


MESSAGES = [
    _saved(
        "1700000001.000100",
        "Rolling back a Kubernetes deployment",
        "Run kubectl rollout undo deployment/api to roll a bad Kubernetes deploy back to the "
        "previous ReplicaSet.",
        author=GONE,
        saver=KEPT,
    ),
    _saved(
        "1700000002.000100",
        "Booking the big meeting room",
        "Book the big meeting room in the calendar app; it seats twenty and has a projector.",
        author=KEPT,
        saver=GONE,
    ),
    _saved(
        "1700000003.000100",
        "Resetting the office printer",
        "If the office printer jams, switch it off for ten seconds and clear the rear tray.",
        author=GONE,
        saver=GONE,
    ),
    _saved(
        "1700000004.000100",
        "Ordering a second monitor",
        "Order a second monitor through the IT portal; it arrives within a week.",
        author=KEPT,
        saver=KEPT,
    ),
]


@dataclass(frozen=True)
class World:
    sessions: sessionmaker[Session]
    feedback: Feedback
    ranker: Ranker
    open_round: int
    closed_round: int


@pytest.fixture
def world(engine: Engine, embedder: Embedder, tmp_path: Path) -> Iterator[World]:
    """Both people have used every feature; GONE also opted out of surveys."""
    migrations.upgrade(engine)
    sessions = local_sessions(engine)
    knowledge = KnowledgeIndex(sessions, tmp_path / "index", embedder)
    Ingestor(knowledge).ingest(LoadResult(documents=[saved_message_document(m) for m in MESSAGES]))
    feedback = Feedback(sessions)
    ranker = Ranker(knowledge, feedback)
    questions = Questions(ranker, sessions)
    with sessions() as session:
        snippets = dict(session.execute(select(Snippet.title, Snippet.id)).all())
    for user in (GONE, KEPT):
        for title, snippet_id in snippets.items():
            feedback.rate(user, snippet_id, -1 if "printer" in title else 1, "button")
        asked = [
            ("how do I roll back a kubernetes deploy", DM[user]),
            ("best banana bread recipe", "C0GENERAL"),
        ]
        for query, channel in asked:
            ranking, query_id = questions.ask(query, Asked(surface="dm", user_id=user))
            with sessions() as session, session.begin():
                answer = Answer(
                    query_id=query_id,
                    channel_id=channel,
                    message_ts=f"{query_id}.0001",
                    asker_user_id=user,
                )
                session.add(answer)
                session.flush()
                for rank, result in enumerate(ranking.results):
                    session.add(
                        AnswerSnippet(
                            answer_id=answer.id,
                            snippet_id=result.snippet_id,
                            rank=rank,
                            score=result.score,
                        )
                    )
    with sessions() as session:
        shared = session.scalar(
            select(Answer).where(Answer.asker_user_id == GONE, Answer.channel_id == "C0GENERAL")
        )
        assert shared is not None
    # A colleague reacts on GONE's answer in a shared channel.
    feedback.rate(KEPT, snippets["Booking the big meeting room"], 1, "reaction", shared.id)
    feedback.refresh()
    with sessions() as session, session.begin():
        module = TrainingModule(key="security-101", title="Security basics")
        second = TrainingModule(key="privacy-101", title="Privacy basics")
        session.add_all([module, second])
        session.flush()
        mine = Assignment(user_id=GONE, module_id=module.id, assigned_by=KEPT, origin="manager")
        theirs = Assignment(user_id=KEPT, module_id=module.id, assigned_by=GONE, origin="manager")
        own = Assignment(user_id=KEPT, module_id=second.id, assigned_by=KEPT, origin="manager")
        session.add_all([mine, theirs, own])
        session.flush()
        for user, assignment in ((GONE, mine), (KEPT, theirs)):
            for day in ("2024-05-01", "2024-05-02"):
                session.add(
                    Nudge(user_id=user, assignment_id=assignment.id, local_day=day, not_before=NOW)
                )

        survey = Survey(key="pulse", title="Pulse", definition={"questions": ["q1"]})
        session.add(survey)
        session.flush()
        closed = SurveyRound(
            survey_id=survey.id,
            number=1,
            send_on="2024-04-17",
            opened_at=NOW - timedelta(days=14),
            closes_at=NOW - timedelta(days=7),
            closed_at=NOW - timedelta(days=7),
        )
        current = SurveyRound(
            survey_id=survey.id, number=2, send_on="2024-05-01", closes_at=NOW + timedelta(days=3)
        )
        other = Survey(key="onboarding", title="Onboarding check-in")
        session.add_all([closed, current, other])
        session.flush()
        upcoming = SurveyRound(
            survey_id=other.id, number=1, send_on="2024-05-02", closes_at=NOW + timedelta(days=7)
        )
        session.add(upcoming)
        session.flush()
        for user in (GONE, KEPT):
            session.add(_delivery(closed.id, user, sent=True, responded=True))
            session.add(_delivery(current.id, user, sent=True, responded=user == KEPT))
            session.add(_delivery(upcoming.id, user, sent=False, responded=False))
        for _ in range(2):
            session.add(SurveyAnswer(round_id=closed.id, question="q1", value=4))
        closed.tally = {"respondents": {"": 2}}
        session.add(SurveySealedAnswers(respondent_key="k" * 64, round_id=current.id, sealed=b"x"))
        session.add(SurveyOptOut(user_id=GONE))

        for user in (GONE, KEPT):
            session.add(ProcessedEvent(key=f"T1:reaction_added:{user}:C0GENERAL:1.2", done=True))
        session.add(ProcessedEvent(key="T1:app_mention:Ev0123", done=True))
        session.add(
            AuditLog(
                actor=GONE,
                action="survey.audience",
                target=KEPT,
                details={"users": [GONE, KEPT], "note": f"added by <@{GONE}>"},
            )
        )
        session.add(AuditLog(actor=KEPT, action="ingest", target="kb/", details={"files": 3}))
        closed_id, current_id = closed.id, current.id
    yield World(sessions, feedback, ranker, current_id, closed_id)


def _delivery(round_id: int, user: str, sent: bool, responded: bool) -> SurveyDelivery:
    return SurveyDelivery(
        round_id=round_id,
        user_id=user,
        segment="engineering",
        status="sent" if sent else "pending",
        not_before=NOW - timedelta(days=1),
        channel_id=DM[user] if sent else None,
        message_ts="1700000000.0001" if sent else None,
        sent_at=NOW - timedelta(days=1) if sent else None,
        responded=responded,
    )


def _survey_totals(sessions: sessionmaker[Session], round_id: int) -> tuple[int, int, int]:
    """(people asked, people who answered, anonymous answers, sealed or not) for one round."""
    with sessions() as session:
        asked = session.scalar(
            select(func.count()).where(
                SurveyDelivery.round_id == round_id, SurveyDelivery.sent_at.is_not(None)
            )
        )
        answered = session.scalar(
            select(func.count()).where(
                SurveyDelivery.round_id == round_id, SurveyDelivery.responded.is_(True)
            )
        )
        responses = sum(
            session.scalar(select(func.count()).where(table.round_id == round_id)) or 0
            for table in (SurveyAnswer, SurveySealedAnswers)
        )
    return int(asked or 0), int(answered or 0), responses


def _gap_counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return dict(session.execute(select(KnowledgeGap.label, KnowledgeGap.question_count)).all())


def test_afterwards_no_row_anywhere_holds_the_person(world: World) -> None:
    sessions = world.sessions
    assert set(references(sessions, GONE)) >= {
        "ratings",
        "query_log",
        "answers",
        "documents",
        "training_assignments",
        "training_nudges",
        "survey_deliveries",
        "survey_opt_outs",
        "processed_events",
        "audit_log",
    }
    before = personal_data_counts(sessions, GONE)
    assert before == {
        "ratings": 4,
        "searches": 2,
        "answers": 2,
        "saved_snippets": 3,
        "training_assignments": 1,
        "training_nudges": 2,
        "assignments_made": 1,
        "survey_deliveries": 3,
        "log_entries": 2,
    }

    summary = forget_user(sessions, GONE)

    assert summary.counts == before
    assert summary.kept_survey_opt_out
    assert references(sessions, GONE) == {"survey_opt_outs": 1}, "only their own opt-out"
    assert set(personal_data_counts(sessions, GONE).values()) == {0}
    lines = summary.lines()
    assert "4 ratings: deleted" in lines and "2 searches: deleted" in lines
    assert any("opt-out is kept" in line for line in lines)


def test_everyone_elses_data_and_the_aggregates_are_untouched(world: World) -> None:
    sessions = world.sessions
    theirs = personal_data_counts(sessions, KEPT)
    kept_refs = references(sessions, KEPT)
    gaps = _gap_counts(sessions)
    closed = _survey_totals(sessions, world.closed_round)
    current = _survey_totals(sessions, world.open_round)
    with sessions() as session:
        ratings = session.scalar(select(func.count()).select_from(Rating))
        documents = session.scalar(select(func.count()).select_from(Document))

    forget_user(sessions, GONE)

    # KEPT assigned training to GONE, and that assignment went with GONE.
    assert personal_data_counts(sessions, KEPT) == {**theirs, "assignments_made": 0}
    assert references(sessions, KEPT) == {**kept_refs, "training_assignments": 2}
    assert references(sessions, DM[GONE]) == {}, "nothing leads back through their DM"
    assert _gap_counts(sessions) == gaps, "knowledge-gap counts are anonymous aggregates"
    assert _survey_totals(sessions, world.closed_round) == closed
    assert _survey_totals(sessions, world.open_round) == current
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == ratings - 4
        assert session.scalar(select(func.count()).select_from(Document)) == documents
        # Authorship they did not hold stays: KEPT wrote the room note GONE saved.
        room = session.scalar(select(Document).where(Document.title.contains("meeting room")))
        assert room is not None
        assert (room.author_user_id, room.saved_by_user_id) == (KEPT, None)
        assert room.owner == f"{KEPT} display name"
        rollback = session.scalar(select(Document).where(Document.title.contains("Kubernetes")))
        assert rollback is not None
        assert (rollback.author_user_id, rollback.owner, rollback.saved_by_user_id) == (
            None,
            None,
            KEPT,
        )
        assert all(s.author is None for s in rollback.snippets)
        audit = session.scalar(select(AuditLog).where(AuditLog.action == "survey.audience"))
        assert audit is not None
        assert (audit.actor, audit.target) == (privacy.FORGOTTEN, KEPT)
        assert audit.details["users"] == [privacy.FORGOTTEN, KEPT]
        shared = session.scalar(select(Answer).where(Answer.channel_id == "C0GENERAL"))
        assert shared is not None
        answers = session.execute(select(Answer.channel_id, Answer.asker_user_id)).all()
        assert sorted((c, a or "") for c, a in answers) == [
            ("C0GENERAL", ""),
            ("C0GENERAL", KEPT),
            (DM[KEPT], KEPT),
        ], "their DM answer is gone, their channel answer stays without them"
        reacted = session.scalar(select(Rating).where(Rating.origin == "reaction"))
        assert reacted is not None and reacted.user_id == KEPT
        assert reacted.answer_id is not None, "a colleague's rating keeps its answer"
        events = set(session.scalars(select(ProcessedEvent.key)))
        assert events == {"T1:reaction_added:UKEEP7:C0GENERAL:1.2", "T1:app_mention:Ev0123"}
        upcoming = session.scalars(
            select(SurveyDelivery.user_id).where(SurveyDelivery.sent_at.is_(None))
        ).all()
        assert upcoming == [KEPT], "an invitation never sent to them is simply dropped"


def test_their_knowledge_stays_searchable_and_the_model_forgets_their_taste(
    world: World,
) -> None:
    assert world.feedback.current().model is not None
    assert world.feedback.current().model.recommend(GONE, 10, exclude_rated=False)
    forget_user(world.sessions, GONE)
    model = world.feedback.refresh().model
    assert model is not None and model.n_users == 1
    assert model.recommend(GONE, 10, exclude_rated=False) == []
    top = world.ranker.rank("how do I roll back a kubernetes deploy").results[0]
    assert top.title == "Rolling back a Kubernetes deployment"


def test_forget_me_is_all_or_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    before = personal_data_counts(world.sessions, GONE)
    refs = references(world.sessions, GONE)

    def fail(session: Session, user_id: str) -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr(privacy, "_forget_logs", fail)
    with pytest.raises(RuntimeError):
        forget_user(world.sessions, GONE)
    assert personal_data_counts(world.sessions, GONE) == before
    assert references(world.sessions, GONE) == refs


def test_forgetting_twice_or_a_stranger_finds_nothing(world: World) -> None:
    forget_user(world.sessions, GONE)
    again = forget_user(world.sessions, GONE)
    assert set(again.counts.values()) == {0}
    assert again.lines() == [
        "Lepton held no personal data about you.",
        "Your survey opt-out is kept, so you will still not be surveyed.",
    ]
    stranger = forget_user(world.sessions, "USTRANGER")
    assert stranger.lines() == ["Lepton held no personal data about you."]
    with pytest.raises(ValueError):
        forget_user(world.sessions, " ")
