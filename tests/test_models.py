"""The schema's guarantees, checked on the real databases: these are what later features rely on
for exactly-once delivery, one rating per person and nothing left behind on delete."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate as migrations
from models import (
    Assignment,
    Document,
    Nudge,
    Rating,
    Snippet,
    SnippetEmbedding,
    Survey,
    SurveyDelivery,
    SurveyRound,
    TrainingModule,
)
from tests.helpers import local_sessions

pytestmark = pytest.mark.both_backends


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    migrations.upgrade(engine)
    yield local_sessions(engine)


NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _snippet(session: Session, source: str = "guide.md") -> Snippet:
    doc = Document(source_type="file", source=source, title="Guide", content_hash="h")
    snippet = Snippet(document=doc, ordinal=0, title="Guide", text="body", content_hash="h")
    session.add(snippet)
    session.flush()
    return snippet


def test_one_rating_per_person_per_snippet(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        snippet = _snippet(session)
        session.add(Rating(user_id="U1", snippet_id=snippet.id, value=1, origin="button"))
        session.commit()
        session.add(Rating(user_id="U1", snippet_id=snippet.id, value=-1, origin="reaction"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_rating_must_be_a_vote(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        snippet = _snippet(session)
        session.add(Rating(user_id="U1", snippet_id=snippet.id, value=5, origin="button"))
        with pytest.raises(IntegrityError):
            session.commit()


def test_deleting_a_document_leaves_nothing_behind(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        snippet = _snippet(session)
        session.add(SnippetEmbedding(snippet_id=snippet.id, model="m", dim=1, vector=b"\0" * 4))
        session.add(Rating(user_id="U1", snippet_id=snippet.id, value=1, origin="button"))
        session.commit()
        session.delete(session.get(Document, snippet.document_id))
        session.commit()
        for model in (Snippet, SnippetEmbedding, Rating):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_one_survey_delivery_per_person_per_round(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        survey = Survey(key="pulse", title="Pulse")
        rnd = SurveyRound(
            number=1, send_on="2026-11-30", closes_at=datetime.now(UTC) + timedelta(days=3)
        )
        session.add(survey)
        session.flush()
        rnd.survey_id = survey.id
        session.add(rnd)
        session.flush()
        session.add(SurveyDelivery(round_id=rnd.id, user_id="U1", not_before=rnd.closes_at))
        session.commit()
        session.add(SurveyDelivery(round_id=rnd.id, user_id="U1", not_before=rnd.closes_at))
        with pytest.raises(IntegrityError):
            session.commit()


def test_one_nudge_per_person_per_local_day(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        module = TrainingModule(key="k8s-101", title="Kubernetes 101")
        session.add(module)
        session.flush()
        first = Assignment(user_id="U1", module_id=module.id, origin="admin")
        other = TrainingModule(key="sec-101", title="Security 101")
        session.add_all([first, other])
        session.flush()
        second = Assignment(user_id="U1", module_id=other.id, origin="self")
        session.add(second)
        session.flush()
        session.add(
            Nudge(user_id="U1", assignment_id=first.id, local_day="2026-11-23", not_before=NOW)
        )
        session.commit()
        session.add(
            Nudge(user_id="U1", assignment_id=second.id, local_day="2026-11-23", not_before=NOW)
        )
        with pytest.raises(IntegrityError):
            session.commit()


def test_datetimes_come_back_as_aware_utc(sessions: sessionmaker[Session]) -> None:
    tokyo = datetime(2026, 11, 23, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    with sessions() as session:
        snippet = _snippet(session)
        snippet.document.source_updated_at = tokyo
        session.commit()
        doc_id = snippet.document_id
    with sessions() as session:
        stored = session.get(Document, doc_id)
        assert stored is not None
        assert stored.source_updated_at == tokyo
        assert stored.source_updated_at.utcoffset() == timedelta(0)
        with pytest.raises(Exception, match="naive datetime"):
            stored.source_updated_at = datetime(2026, 1, 1)
            session.commit()
