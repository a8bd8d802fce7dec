"""What one person does with a survey: the invitation they get, the answers they give or
change, the rounds still waiting for them, and opting out. Also how answers are anonymised when
a round closes, since that is the other half of how they are stored.

Anonymity, in storage: `SurveyDelivery` says who was asked and whether they answered;
`SurveyResponse` holds what was answered, with a random id, no user id and no timestamp. The
only link while a round is open is `respondent_key`, an HMAC of a random token that lives only
in the buttons of the person's own DM, under a key the database does not hold (from the Slack
signing secret): whoever reads the DM back with the bot token learns the token, but cannot
compute the key it is stored under without that secret. Closing a round wipes the keys and
rewrites the responses in random order, so neither the key nor the physical row order can be
matched to the order in which people were asked or answered. It also merges every segment
with fewer answers than the anonymity threshold into an unnamed group of at least that size:
otherwise the only answer tagged with a small segment would belong to the one person of that
segment who answered.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import Survey, SurveyDelivery, SurveyOptOut, SurveyResponse, SurveyRound
from models.sending import SENT
from people.surveys.definitions import SurveyDefinition
from people.surveys.lookups import RoundInfo, SurveyError, round_info

COMMENT_LIMIT = 2000
NOT_YOURS = "This survey was not sent to you, so nothing was recorded."


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
        """One try; a double-click racing to create the same response retries once."""
        with self.sessions() as session, session.begin():
            row, delivery, definition = _open_invitation(session, round_id, user_id, message, now)
            key = respondent_key(token, self.secret)
            response = session.scalar(
                select(SurveyResponse).where(SurveyResponse.respondent_key == key)
            )
            if response is not None and response.round_id != round_id:
                raise SurveyError(NOT_YOURS)
            if response is None:
                response = SurveyResponse(
                    id=secrets.token_hex(16),
                    round_id=round_id,
                    respondent_key=key,
                    segment=delivery.segment,
                    answers={},
                )
            if answer is not None:
                question = definition.question(answer[0])
                if question is None or answer[1] not in dict(question.choices()):
                    raise SurveyError("That answer is not one of the choices; nothing changed.")
                response.answers = {**response.answers, answer[0]: answer[1]}
            if comment is not None:
                response.comment = comment.strip()[:COMMENT_LIMIT] or None
            if response.answers or response.comment:
                session.add(response)
                delivery.responded = True
            else:
                if response in session:
                    session.delete(response)
                delivery.responded = False
            session.flush()
            return Recorded(
                definition,
                round_info(session, row, definition.key, counted=False),
                dict(response.answers),
                response.comment,
            )

    def recorded(
        self, round_id: int, user_id: str, token: str, now: datetime, message: tuple[str, str]
    ) -> Recorded:
        """What this person answered so far, under the same checks as recording."""
        with self.sessions() as session:
            row, _, definition = _open_invitation(session, round_id, user_id, message, now)
            response = session.scalar(
                select(SurveyResponse).where(
                    SurveyResponse.respondent_key == respondent_key(token, self.secret)
                )
            )
            return Recorded(
                definition,
                round_info(session, row, definition.key, counted=False),
                dict(response.answers) if response else {},
                response.comment if response else None,
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


def anonymise(session: Session, round_id: int, threshold: int) -> None:
    """On closing: drop the keys, hide small segments, and rewrite the rows in random order
    under new random ids."""
    rows = [
        (r.segment, dict(r.answers), r.comment)
        for r in session.scalars(select(SurveyResponse).where(SurveyResponse.round_id == round_id))
    ]
    kept = _segments_to_keep([s for s, _, _ in rows], threshold)
    session.execute(delete(SurveyResponse).where(SurveyResponse.round_id == round_id))
    random.SystemRandom().shuffle(rows)
    session.add_all(
        SurveyResponse(
            id=secrets.token_hex(16),
            round_id=round_id,
            segment=s if s in kept else None,
            answers=a,
            comment=c,
        )
        for s, a, c in rows
    )


def _segments_to_keep(segments: Sequence[str | None], threshold: int) -> set[str]:
    """Segments with at least `threshold` answers, minus the smallest of them while the unnamed
    rest (small segments and answers without one) is smaller than `threshold` but not empty."""
    sizes = Counter(s for s in segments if s is not None)
    kept = {s: n for s, n in sizes.items() if n >= threshold}
    unnamed = len(segments) - sum(kept.values())
    while kept and 0 < unnamed < threshold:
        smallest = min(kept, key=lambda s: (kept[s], s))
        unnamed += kept.pop(smallest)
    return set(kept)


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
