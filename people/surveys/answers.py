"""What one person does with a survey: the invitation they get, the answers they give or
change, the rounds still waiting for them, and opting out. Also what becomes of answers when a
round closes, since that is the other half of how they are stored.

Anonymity, in storage, against whoever reads the database or its raw files (SQLite's WAL,
PostgreSQL's dead rows) and holds the bot token, but not the app's secret:

- Who was asked and whether they answered is `SurveyDelivery`; nothing else names a person.
- While a round is open, a person's answers exist only sealed (`people.surveys.sealing`): one
  fixed-size AES-GCM ciphertext per person, under a key derived from the Slack signing secret
  (never stored). It is found again by `respondent_key`, an HMAC, under that secret, of a
  random token that lives only in the buttons of the person's DM: reading the DM back with the
  bot token gives the token, not the key. So the commit that marks someone as having answered
  pairs their delivery with ciphertext, and no commit, time or row order pairs them with what
  they answered.
- At close, in one transaction, the sealed rows are opened and deleted, and the answers are
  written as single answers (`SurveyAnswer`) and comments (`SurveyComment`) that point at no
  person and not at each other, under the rules of `people.surveys.closing`.
- Then the files are rid of the sealed rows (`models.session.forget_deleted`): SQLite deletes
  with zeros (`secure_delete`) and checkpoints and truncates its WAL; PostgreSQL rewrites the
  sealed table (VACUUM FULL).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import (
    Survey,
    SurveyAnswer,
    SurveyComment,
    SurveyDelivery,
    SurveyOptOut,
    SurveyRound,
    SurveySealedAnswers,
)
from models.sending import SENT
from people.surveys.closing import close_drafts
from people.surveys.definitions import SurveyDefinition
from people.surveys.lookups import RoundInfo, SurveyError, round_info
from people.surveys.sealing import Draft, Seal, Unreadable, clean_comment

COMMENT_LIMIT = 2000
NOT_YOURS = "This survey was not sent to you, so nothing was recorded."

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    """What a person has answered so far in a round, to show back to them in their DM."""

    definition: SurveyDefinition
    round: RoundInfo
    answers: dict[str, int]
    comment: str | None


@dataclass(frozen=True)
class Invitation:
    """A survey DM to send: the token goes only into the person's buttons."""

    definition: SurveyDefinition
    round: RoundInfo
    token: str


LOCAL_SECRET = b"lepton-local-console"
"""The key of a Lepton with no Slack secret at all (the console): nothing to protect there."""


def respondent_key(token: str, secret: bytes = LOCAL_SECRET) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(24)


class SurveyAnswers:
    """One person's side of a survey, checked against their own invitation every time."""

    def __init__(self, sessions: sessionmaker[Session], secret: bytes = LOCAL_SECRET) -> None:
        self.sessions = sessions
        self.secret = secret
        self.seal = Seal(secret)

    def record(
        self,
        round_id: int,
        user_id: str,
        token: str,
        now: datetime,
        *,
        message: tuple[str, str],
        answer: tuple[str, int] | None = None,
        comment: str | None = None,
    ) -> Recorded:
        """Record (or change) one answer or the comment. `message` is the (channel, ts) the
        button was pressed in: it must be the clicker's own invitation, and the round open."""
        for attempt in (1, 2):
            try:
                return self._record(round_id, user_id, token, now, answer, message, comment)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _record(
        self,
        round_id: int,
        user_id: str,
        token: str,
        now: datetime,
        answer: tuple[str, int] | None,
        message: tuple[str, str],
        comment: str | None,
    ) -> Recorded:
        """One try; a double-click racing to create the same row retries once."""
        with self.sessions() as session, session.begin():
            row, delivery, definition = _open_invitation(session, round_id, user_id, message, now)
            key = respondent_key(token, self.secret)
            stored = session.get(SurveySealedAnswers, key)
            if stored is not None and stored.round_id != round_id:
                raise SurveyError(NOT_YOURS)
            draft = (
                self.seal.open(round_id, key, stored.sealed)
                if stored is not None
                else Draft(segment=delivery.segment)
            )
            answers, text = dict(draft.answers), draft.comment
            if answer is not None:
                question = definition.question(answer[0])
                if question is None or answer[1] not in dict(question.choices()):
                    raise SurveyError("That answer is not one of the choices; nothing changed.")
                answers[answer[0]] = answer[1]
            if comment is not None:
                text = clean_comment(comment, COMMENT_LIMIT)
            draft = Draft(answers, text, draft.segment)
            if draft.empty:
                if stored is not None:
                    session.delete(stored)
            elif stored is None:
                session.add(
                    SurveySealedAnswers(
                        respondent_key=key,
                        round_id=round_id,
                        sealed=self.seal.close(round_id, key, draft),
                    )
                )
            else:
                stored.sealed = self.seal.close(round_id, key, draft)
            delivery.responded = not draft.empty
            session.flush()
            return Recorded(
                definition,
                round_info(session, row, definition.key, counted=False),
                draft.answers,
                draft.comment,
            )

    def recorded(
        self, round_id: int, user_id: str, token: str, now: datetime, message: tuple[str, str]
    ) -> Recorded:
        """What this person answered so far, under the same checks as recording."""
        with self.sessions() as session:
            row, _, definition = _open_invitation(session, round_id, user_id, message, now)
            key = respondent_key(token, self.secret)
            stored = session.get(SurveySealedAnswers, key)
            draft = (
                self.seal.open(round_id, key, stored.sealed)
                if stored is not None and stored.round_id == round_id
                else Draft()
            )
            return Recorded(
                definition,
                round_info(session, row, definition.key, counted=False),
                draft.answers,
                draft.comment,
            )

    def invitation(self, delivery: SurveyDelivery) -> Invitation:
        """The DM for one planned invitation, with a fresh token that only its buttons carry."""
        with self.sessions() as session:
            row = session.get_one(SurveyRound, delivery.round_id)
            survey = session.get_one(Survey, row.survey_id)
            return Invitation(
                SurveyDefinition.from_json(survey.definition),
                round_info(session, row, survey.key, counted=False),
                new_token(),
            )

    def waiting_for(self, user_id: str, now: datetime) -> list[tuple[RoundInfo, SurveyDelivery]]:
        """Open rounds that asked this person and that they have not answered yet."""
        with self.sessions() as session:
            rows = session.execute(
                select(SurveyRound, SurveyDelivery, Survey.key)
                .join(SurveyDelivery, SurveyDelivery.round_id == SurveyRound.id)
                .join(Survey, Survey.id == SurveyRound.survey_id)
                .where(
                    SurveyDelivery.user_id == user_id,
                    SurveyDelivery.status == SENT,
                    SurveyDelivery.responded.is_(False),
                    SurveyRound.closed_at.is_(None),
                    SurveyRound.closes_at > now,
                )
            ).all()
            return [(round_info(session, r, key), d) for r, d, key in rows]

    def opt_out(self, user_id: str) -> bool:
        """True when this changed anything. Invitations not yet sent are skipped at send time."""
        with self.sessions() as session, session.begin():
            if (
                session.scalar(select(SurveyOptOut.user_id).where(SurveyOptOut.user_id == user_id))
                is not None
            ):
                return False
            session.add(SurveyOptOut(user_id=user_id))
            return True

    def opt_in(self, user_id: str) -> bool:
        """True when this person had opted out; they are asked again from the next round."""
        with self.sessions() as session, session.begin():
            gone = session.execute(delete(SurveyOptOut).where(SurveyOptOut.user_id == user_id))
            return bool(gone.rowcount)

    def opted_out(self, user_id: str) -> bool:
        with self.sessions() as session:
            return (
                session.scalar(select(SurveyOptOut.user_id).where(SurveyOptOut.user_id == user_id))
                is not None
            )

    def unseal(self, session: Session, round_id: int, threshold: int) -> None:
        """At close: open and delete the round's sealed rows and keep what
        `people.surveys.closing` allows of them. A row that no longer opens (the secret changed
        while the round was open) is counted in the log, never guessed at."""
        drafts: list[Draft] = []
        unreadable = 0
        for stored in session.scalars(
            select(SurveySealedAnswers).where(SurveySealedAnswers.round_id == round_id)
        ):
            try:
                drafts.append(self.seal.open(round_id, stored.respondent_key, stored.sealed))
            except Unreadable:
                unreadable += 1
        if unreadable:
            log.warning(
                "survey round %s: %d sealed answers could not be opened (was the signing "
                "secret changed while it was open?) and are not counted",
                round_id,
                unreadable,
            )
        session.execute(delete(SurveySealedAnswers).where(SurveySealedAnswers.round_id == round_id))
        closed = close_drafts(drafts, threshold)
        session.add_all(
            SurveyAnswer(round_id=round_id, question=q, value=v, segment=s)
            for q, v, s in closed.answers
        )
        session.add_all(SurveyComment(round_id=round_id, text=text) for text in closed.comments)
        session.get_one(SurveyRound, round_id).tally = closed.tally()


def _open_invitation(
    session: Session, round_id: int, user_id: str, message: tuple[str, str], now: datetime
) -> tuple[SurveyRound, SurveyDelivery, SurveyDefinition]:
    """The round and this person's invitation, if `message` is that invitation and the round
    is still open; otherwise a SurveyError saying why."""
    row = session.get(SurveyRound, round_id)
    delivery = session.scalar(
        select(SurveyDelivery).where(
            SurveyDelivery.round_id == round_id, SurveyDelivery.user_id == user_id
        )
    )
    if (
        row is None
        or delivery is None
        or delivery.status != SENT
        or message != (delivery.channel_id, delivery.message_ts)
    ):
        raise SurveyError(NOT_YOURS)
    definition = SurveyDefinition.from_json(session.get_one(Survey, row.survey_id).definition)
    if row.closed_at is not None or row.closes_at <= now:
        closed = row.closed_at or row.closes_at
        raise SurveyError(
            f"*{definition.title}* closed on {closed:%a %d %b} and takes no more answers, "
            "so this was not recorded."
        )
    return row, delivery, definition
