"""`/lepton forget-me`: remove a person's id and name from everything Lepton stored about them,
in one transaction, while keeping what the team still needs in a form that no longer points at
them.

What happens to each kind of row:

- ratings, searches (`QueryLog`), training assignments and nudges: deleted. Knowledge-gap
  counts stay: they are aggregates without a user id.
- answers Lepton posted for them: in a direct message, deleted (the DM channel id leads back
  to them and nobody else can react there); in a shared channel, kept without the asker's id,
  since colleagues' ratings of that answer point at it.
- knowledge they wrote or saved: kept and still searchable, but without their Slack id or
  display name (`Document.author_user_id`, `owner`, `Snippet.author` when they wrote it;
  `saved_by_user_id` when they saved it; the credit for threads they answered, in
  `document_answerers`; someone else's authorship stays untouched).
- training they assigned to others: kept, without `assigned_by`.
- survey deliveries: anonymised, never deleted. A delivery says "one person in this segment was
  asked (and answered)"; deleting it would make past digests' response rates disagree with the
  anonymous responses still counted (more answers than people asked). The row's user id
  becomes a placeholder unique to the row (the (round, user) constraint still holds), and the
  DM channel and message ts that lead back to the person are cleared, and their reminder rows
  are deleted. Open rounds: a delivery never sent is deleted instead (nobody was asked, there
  is nothing to count, and the scheduler must not try to DM a placeholder), and a sent one gets
  a skipped reminder so none is attempted. Survey answers are untouched: they never held an
  id, and an open round's sealed answers are keyed by an HMAC of a token that exists only in
  the person's DM (deleted at close), which still refuses a second response from the same
  invitation, so totals stay exactly-once.
- survey opt-out: KEPT. It is the person's own instruction not to be surveyed; deleting it
  would silently enrol them in the next round, the opposite of what someone asking to be
  forgotten wants. It holds nothing but their id and when they opted out.
- processed-event keys and audit entries that mention them: keys deleted (they only stop
  Slack's retries of the last few minutes from being handled twice); audit entries kept with
  the id replaced, so the record of what was done stays but not by or to whom.

Not covered: sources re-ingested later bring authorship back if the source itself changed
(Slack still has the message); text inside snippets and gap labels is content, not identity, so
it is not rewritten; slack_sdk's OAuth installation tables (outside `models`) keep an
installer's id, since the workspace's tokens depend on that row.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import String, Text, cast, delete, func, literal, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from models import (
    Answer,
    AnswerSnippet,
    Assignment,
    AuditLog,
    Document,
    DocumentAnswerer,
    Nudge,
    ProcessedEvent,
    QueryLog,
    Rating,
    Snippet,
    SurveyDelivery,
    SurveyOptOut,
    SurveyReminder,
    SurveyRound,
)
from models.base import Base, utcnow
from models.sending import SENT, SKIPPED

FORGOTTEN = "[forgotten]"
DELIVERY_PLACEHOLDER = "forgotten-"
KEY_BATCH = 500
DIRECT_MESSAGE = "D"  # Slack's direct-message channel ids start with D

# kind -> (one, many, what forget-me does to it), in the order people read them.
KINDS: dict[str, tuple[str, str, str]] = {
    "ratings": ("rating", "ratings", "deleted"),
    "searches": ("search", "searches", "deleted"),
    "answers": (
        "answer to your questions",
        "answers to your questions",
        "deleted or no longer name you",
    ),
    "saved_snippets": (
        "item you wrote or saved",
        "items you wrote or saved",
        "no longer name you (the knowledge stays searchable)",
    ),
    "training_assignments": ("training assignment", "training assignments", "deleted"),
    "training_nudges": ("training reminder", "training reminders", "deleted"),
    "assignments_made": (
        "training assignment you made",
        "training assignments you made",
        "no longer name you",
    ),
    "survey_deliveries": (
        "survey invitation",
        "survey invitations",
        "no longer name you (anonymous answers stay in the totals)",
    ),
    "log_entries": ("log entry", "log entries", "no longer name you"),
}


def describe(kind: str, count: int) -> str:
    """Counted noun, e.g. "12 ratings" or "1 search", for confirmation and summary messages."""
    one, many, _ = KINDS[kind]
    return f"{count} {one if count == 1 else many}"


@dataclass(frozen=True)
class ForgetSummary:
    ratings: int = 0
    searches: int = 0
    answers: int = 0
    saved_snippets: int = 0
    training_assignments: int = 0
    training_nudges: int = 0
    assignments_made: int = 0
    survey_deliveries: int = 0
    log_entries: int = 0
    kept_survey_opt_out: bool = False

    @property
    def counts(self) -> dict[str, int]:
        """Per kind, keyed like `personal_data_counts`, so the two can be compared."""
        values = asdict(self)
        return {kind: int(values[kind]) for kind in KINDS}

    def lines(self) -> list[str]:
        """What a person reads after forget-me: only the kinds that held something."""
        out = [f"{describe(kind, n)}: {KINDS[kind][2]}" for kind, n in self.counts.items() if n]
        if not out:
            out.append("Lepton held no personal data about you.")
        if self.kept_survey_opt_out:
            out.append("Your survey opt-out is kept, so you will still not be surveyed.")
        return out


def personal_data_counts(sessions: sessionmaker[Session], user_id: str) -> dict[str, int]:
    """What `forget_user` would touch, per kind (the keys of `KINDS`), for a confirmation
    message; all zeros afterwards."""
    _check(user_id)
    with sessions() as session:
        counted = {
            "ratings": _count(session, Rating, Rating.user_id == user_id),
            "searches": _count(session, QueryLog, QueryLog.user_id == user_id),
            "answers": _count(session, Answer, Answer.asker_user_id == user_id),
            "saved_snippets": len(_document_ids(session, user_id)),
            "training_assignments": _count(session, Assignment, Assignment.user_id == user_id),
            "training_nudges": _count(session, Nudge, Nudge.user_id == user_id),
            "assignments_made": _count(session, Assignment, _assigned_by_other(user_id)),
            "survey_deliveries": _count(session, SurveyDelivery, SurveyDelivery.user_id == user_id),
            "log_entries": len(_event_keys(session, user_id))
            + len(_audit_entries(session, user_id)),
        }
    return {kind: counted[kind] for kind in KINDS}


def forget_user(sessions: sessionmaker[Session], user_id: str) -> ForgetSummary:
    """Apply forget-me atomically: either every trace listed in the module docstring goes, or
    (on any error) nothing changes and the person can simply try again."""
    _check(user_id)
    with sessions() as session, session.begin():
        query_ids = select(QueryLog.id).where(QueryLog.user_id == user_id)
        # Explicitly, not through ON DELETE SET NULL: that needs SQLite's foreign-key pragma.
        _run(session, update(Answer).where(Answer.query_id.in_(query_ids)).values(query_id=None))
        answers = _forget_answers(session, user_id)
        ratings = _run(session, delete(Rating).where(Rating.user_id == user_id))
        searches = _run(session, delete(QueryLog).where(QueryLog.user_id == user_id))
        documents = _forget_authorship(session, user_id)
        nudges = _run(session, delete(Nudge).where(Nudge.user_id == user_id))
        assignments = _run(session, delete(Assignment).where(Assignment.user_id == user_id))
        made = _run(
            session,
            update(Assignment).where(_assigned_by_other(user_id)).values(assigned_by=None),
        )
        deliveries = _forget_deliveries(session, user_id)
        log_entries = _forget_logs(session, user_id)
        opted_out = (
            session.scalar(select(SurveyOptOut.user_id).where(SurveyOptOut.user_id == user_id))
            is not None
        )
    return ForgetSummary(
        ratings=ratings,
        searches=searches,
        answers=answers,
        saved_snippets=documents,
        training_assignments=assignments,
        training_nudges=nudges,
        assignments_made=made,
        survey_deliveries=deliveries,
        log_entries=log_entries,
        kept_survey_opt_out=opted_out,
    )


def _check(user_id: str) -> None:
    if not user_id or not user_id.strip():
        raise ValueError("a user id is required")


def _count(session: Session, model: type[Base], where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)


def _run(session: Session, statement: Any) -> int:
    result = session.execute(statement.execution_options(synchronize_session=False))
    return int(result.rowcount or 0)


def _assigned_by_other(user_id: str) -> ColumnElement[bool]:
    """Training this person assigned to someone else (their own rows are deleted anyway)."""
    return (Assignment.assigned_by == user_id) & (Assignment.user_id != user_id)


def _forget_answers(session: Session, user_id: str) -> int:
    """Answers in their direct messages go (the DM channel id leads back to them, and nobody
    else can react there); answers in shared channels stay, without the asker."""
    mine = Answer.asker_user_id == user_id
    direct = select(Answer.id).where(mine, Answer.channel_id.startswith(DIRECT_MESSAGE))
    # Explicitly rather than through ON DELETE rules, which need SQLite's foreign-key pragma.
    _run(session, update(Rating).where(Rating.answer_id.in_(direct)).values(answer_id=None))
    _run(session, delete(AnswerSnippet).where(AnswerSnippet.answer_id.in_(direct)))
    deleted = _run(
        session, delete(Answer).where(mine, Answer.channel_id.startswith(DIRECT_MESSAGE))
    )
    return deleted + _run(session, update(Answer).where(mine).values(asker_user_id=None))


def _document_ids(session: Session, user_id: str) -> list[int]:
    return list(
        session.scalars(
            select(Document.id).where(
                or_(
                    Document.author_user_id == user_id,
                    Document.saved_by_user_id == user_id,
                    Document.id.in_(
                        select(DocumentAnswerer.document_id).where(
                            DocumentAnswerer.user_id == user_id
                        )
                    ),
                )
            )
        )
    )


def _forget_authorship(session: Session, user_id: str) -> int:
    """Their id and display name leave the knowledge; the knowledge itself stays."""
    touched = _document_ids(session, user_id)
    authored = select(Document.id).where(Document.author_user_id == user_id)
    _run(session, update(Snippet).where(Snippet.document_id.in_(authored)).values(author=None))
    _run(
        session,
        update(Document)
        .where(Document.author_user_id == user_id)
        .values(author_user_id=None, owner=None),
    )
    _run(
        session,
        update(Document).where(Document.saved_by_user_id == user_id).values(saved_by_user_id=None),
    )
    _run(session, delete(DocumentAnswerer).where(DocumentAnswerer.user_id == user_id))
    return len(touched)


def _forget_deliveries(session: Session, user_id: str) -> int:
    """Delete never-sent invitations of open rounds and the person's reminders, anonymise the
    rest (see module docs)."""
    open_rounds = select(SurveyRound.id).where(SurveyRound.closed_at.is_(None))
    mine = SurveyDelivery.user_id == user_id
    unsent = _run(
        session,
        delete(SurveyDelivery).where(
            mine,
            SurveyDelivery.round_id.in_(open_rounds),
            SurveyDelivery.status != SENT,
            SurveyDelivery.responded.is_(False),
        ),
    )
    _run(session, delete(SurveyReminder).where(SurveyReminder.user_id == user_id))
    placeholder = literal(DELIVERY_PLACEHOLDER) + cast(SurveyDelivery.id, String)
    anonymised = _run(
        session,
        update(SurveyDelivery)
        .where(mine)
        .values(user_id=placeholder, channel_id=None, message_ts=None),
    )
    waiting = session.execute(
        select(SurveyDelivery.round_id, SurveyDelivery.user_id).where(
            SurveyDelivery.user_id.startswith(DELIVERY_PLACEHOLDER),
            SurveyDelivery.round_id.in_(open_rounds),
            SurveyDelivery.responded.is_(False),
        )
    ).all()
    no_reminder = [
        SurveyReminder(
            round_id=round_id,
            user_id=anonymous,
            status=SKIPPED,
            not_before=utcnow(),
            error=FORGOTTEN,
        )
        for round_id, anonymous in waiting
        if session.scalar(
            select(SurveyReminder.id).where(
                SurveyReminder.round_id == round_id, SurveyReminder.user_id == anonymous
            )
        )
        is None
    ]
    session.add_all(no_reminder)
    return unsent + anonymised


def _mentions(user_id: str) -> re.Pattern[str]:
    """The id as a whole token, so forgetting U1 leaves U12 alone."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(user_id)}(?![A-Za-z0-9])")


def _event_keys(session: Session, user_id: str) -> list[str]:
    pattern = _mentions(user_id)
    keys = session.scalars(
        select(ProcessedEvent.key).where(ProcessedEvent.key.contains(user_id, autoescape=True))
    )
    return [k for k in keys if pattern.search(k)]


def _audit_entries(session: Session, user_id: str) -> list[AuditLog]:
    pattern = _mentions(user_id)
    rows = session.scalars(
        select(AuditLog).where(
            or_(
                AuditLog.actor.contains(user_id, autoescape=True),
                AuditLog.target.contains(user_id, autoescape=True),
                cast(AuditLog.details, Text).contains(user_id, autoescape=True),
            )
        )
    )
    return [
        row
        for row in rows
        if pattern.search(row.actor)
        or pattern.search(row.target or "")
        or _scrub(row.details, pattern) != row.details
    ]


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    """A copy of a JSON value with every mention of the id replaced."""
    if isinstance(value, str):
        return pattern.sub(FORGOTTEN, value)
    if isinstance(value, Mapping):
        return {_scrub(k, pattern): _scrub(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    return value


def _forget_logs(session: Session, user_id: str) -> int:
    pattern = _mentions(user_id)
    keys = _event_keys(session, user_id)
    for start in range(0, len(keys), KEY_BATCH):
        part = keys[start : start + KEY_BATCH]
        _run(session, delete(ProcessedEvent).where(ProcessedEvent.key.in_(part)))
    entries = _audit_entries(session, user_id)
    for entry in entries:
        entry.actor = pattern.sub(FORGOTTEN, entry.actor)
        entry.target = pattern.sub(FORGOTTEN, entry.target) if entry.target else entry.target
        entry.details = _scrub(entry.details, pattern)
    session.flush()
    return len(keys) + len(entries)
