"""Reading a round's results back as a digest, with the earlier rounds its trend needs. The
anonymity rules live in `people.surveys.digest`; this only loads what it is built from."""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Survey, SurveyAnswer, SurveyComment, SurveyDelivery, SurveyRound
from models.sending import SENT
from people.surveys.closing import respondents_of, withheld_of
from people.surveys.definitions import SurveyDefinition
from people.surveys.digest import Digest, QuestionAnswer, RoundResults, build_digest
from people.surveys.lookups import SurveyError, survey_by_key

TREND_ROUNDS = 8


class SurveyResults:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def digest(
        self, key: str, number: int | None = None, rng: random.Random | None = None
    ) -> tuple[SurveyDefinition, Digest]:
        """The digest of a round (the latest by default); an open round's results are withheld."""
        with self.sessions() as session:
            survey = survey_by_key(session, key)
            rows = list(
                session.scalars(
                    select(SurveyRound)
                    .where(SurveyRound.survey_id == survey.id)
                    .order_by(SurveyRound.number)
                )
            )
            if not rows:
                raise SurveyError(f"Survey `{key}` has not run yet.")
            chosen = next((r for r in rows if r.number == number), None) if number else rows[-1]
            if chosen is None:
                raise SurveyError(f"Survey `{key}` has no round {number}.")
            used = [r for r in rows if r.number <= chosen.number][-TREND_ROUNDS:]
            results = {r.id: _results(session, r) for r in used}
            definition = SurveyDefinition.from_json(survey.definition)
        current = results.pop(chosen.id)
        return definition, build_digest(
            definition, current, list(results.values()), rng, TREND_ROUNDS
        )

    def digest_of_round(self, round_id: int) -> tuple[SurveyDefinition, Digest]:
        """The digest a closed round's queued posts carry, looked up by the round's id."""
        with self.sessions() as session:
            row = session.get_one(SurveyRound, round_id)
            key, number = session.get_one(Survey, row.survey_id).key, row.number
        return self.digest(key, number)


def _results(session: Session, row: SurveyRound) -> RoundResults:
    asked = session.scalar(
        select(func.count()).where(SurveyDelivery.round_id == row.id, SurveyDelivery.status == SENT)
    )
    if row.closed_at is None:
        responded = session.scalar(
            select(func.count()).where(
                SurveyDelivery.round_id == row.id, SurveyDelivery.responded.is_(True)
            )
        )
        return RoundResults(
            number=row.number,
            opened_on=date.fromisoformat(row.send_on),
            asked=asked or 0,
            respondents={None: responded or 0},
            closed=False,
        )
    answers = session.execute(
        select(SurveyAnswer.question, SurveyAnswer.value, SurveyAnswer.segment).where(
            SurveyAnswer.round_id == row.id
        )
    ).all()
    comments = session.scalars(select(SurveyComment.text).where(SurveyComment.round_id == row.id))
    return RoundResults(
        number=row.number,
        opened_on=date.fromisoformat(row.send_on),
        asked=asked or 0,
        respondents=respondents_of(row.tally),
        answers=tuple(QuestionAnswer(q, v, s) for q, v, s in answers),
        comments=tuple(comments),
        withheld=withheld_of(row.tally),
        comments_withheld=int((row.tally or {}).get("comments_withheld", 0)),
    )
