"""Ratings in, learned scores out.

People rate snippets +1/-1 (reactions and buttons on answers): one current rating per person
per snippet, latest wins, removable. The collaborative-filtering model and the per-snippet
priors are fitted from the ratings table into an immutable snapshot; queries read whichever
snapshot is current while a refresh builds the next one in the background, so learning never
blocks an answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.collaborative import CFModel, RatingRow, rating_prior
from models import Rating
from models.base import utcnow
from models.session import upsert_insert

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedbackSnapshot:
    model: CFModel | None = None
    prior: dict[int, float] = field(default_factory=dict)
    signature: tuple[int, str] = (0, "")

    def cf_scores(self, user_id: str | None, snippet_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        if self.model is None or user_id is None or not len(snippet_ids):
            return np.zeros(len(snippet_ids), dtype=np.float32)
        return np.asarray(
            self.model.scores(user_id, [int(i) for i in snippet_ids]), dtype=np.float32
        )

    def priors(self, snippet_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        return np.array([self.prior.get(int(i), 0.0) for i in snippet_ids], dtype=np.float32)


class Feedback:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._snapshot = FeedbackSnapshot()
        self._refreshing = threading.Lock()

    def current(self) -> FeedbackSnapshot:
        return self._snapshot

    def rate(
        self,
        user_id: str,
        snippet_ids: int | Sequence[int],
        value: int,
        origin: str,
        answer_id: int | None = None,
    ) -> None:
        """Record a +1/-1 on one or several snippets (all an answer showed) in one transaction;
        a later rating of the same snippet by the same person replaces it."""
        if value not in (-1, 1):
            raise ValueError("a rating is +1 or -1")
        ids = [snippet_ids] if isinstance(snippet_ids, int) else list(snippet_ids)
        if not ids:
            return
        now = utcnow()
        with self.sessions() as session, session.begin():
            statement = upsert_insert(session, Rating).values(
                [
                    {
                        "user_id": user_id,
                        "snippet_id": snippet_id,
                        "value": value,
                        "origin": origin,
                        "answer_id": answer_id,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for snippet_id in ids
                ]
            )
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=["user_id", "snippet_id"],
                    set_={
                        "value": value,
                        "origin": origin,
                        "answer_id": answer_id,
                        "updated_at": now,
                    },
                )
            )

    def unrate(
        self, user_id: str, snippet_ids: int | Sequence[int], origin: str | None = None
    ) -> int:
        """Remove ratings (an undone reaction); with `origin`, only those that origin set.
        Returns how many were removed."""
        ids = [snippet_ids] if isinstance(snippet_ids, int) else list(snippet_ids)
        with self.sessions() as session, session.begin():
            statement = delete(Rating).where(Rating.user_id == user_id, Rating.snippet_id.in_(ids))
            if origin is not None:
                statement = statement.where(Rating.origin == origin)
            return int(session.execute(statement).rowcount or 0)

    def own_votes(self, user_id: str | None, snippet_ids: np.ndarray) -> dict[int, float]:
        """The asker's own current votes among the candidates, by position: fresher and more
        certain than any model estimate of them."""
        if user_id is None or not len(snippet_ids):
            return {}
        position = {int(i): n for n, i in enumerate(snippet_ids)}
        with self.sessions() as session:
            rows = session.execute(
                select(Rating.snippet_id, Rating.value).where(
                    Rating.user_id == user_id, Rating.snippet_id.in_(list(position))
                )
            )
            return {position[s]: float(v) for s, v in rows}

    def _signature(self, session: Session) -> tuple[int, str]:
        count, latest = session.execute(
            select(func.count(Rating.id), func.max(Rating.updated_at))
        ).one()
        return int(count or 0), str(latest or "")

    def refresh(self, force: bool = False) -> FeedbackSnapshot:
        """Refit from the ratings table when it changed; concurrent callers share one refit."""
        with self._refreshing:
            with self.sessions() as session:
                signature = self._signature(session)
                if not force and signature == self._snapshot.signature:
                    return self._snapshot
                rows = [
                    RatingRow(user_id=u, item_id=s, value=float(v))
                    for u, s, v in session.execute(
                        select(Rating.user_id, Rating.snippet_id, Rating.value)
                    )
                ]
            snapshot = FeedbackSnapshot(
                model=CFModel.fit(rows) if rows else None,
                prior=rating_prior(rows),
                signature=signature,
            )
            self._snapshot = snapshot
            log.info("feedback model refreshed from %d ratings", len(rows))
            return snapshot

    def refresh_every(self, seconds: float, stop: threading.Event) -> threading.Thread:
        """Refit in a daemon thread whenever the ratings changed, checking every `seconds`
        until `stop` is set; queries keep using the previous snapshot meanwhile."""

        def loop() -> None:
            while not stop.wait(seconds):
                try:
                    self.refresh()
                except Exception:  # a failed refit must not end learning for good
                    log.exception("feedback refresh failed; keeping the previous model")

        thread = threading.Thread(target=loop, name="feedback-refresh", daemon=True)
        thread.start()
        return thread
