"""Ratings in, learned scores out.

People rate snippets +1/-1 (reactions and buttons on answers): one current rating per person
per snippet, latest wins, removable. The collaborative-filtering model and the per-snippet
priors are fitted from the ratings table into an immutable snapshot; queries read whichever
snapshot is current while a refresh builds the next one in the background, so learning never
blocks an answer.

A reaction on an answer rates the snippets its answer line quoted (every snippet it showed when
it quoted none), and judges the answer as a whole rather than one snippet the way a button does:
it counts `REACTION_WEIGHT` of a vote, in the fit and in the asker's own results. How far one
person can move anyone else's results is bounded in `indexer/learning/collaborative.py` and
`indexer/search/hybrid.py` (`blend`).
"""

from __future__ import annotations

import logging
import os
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from indexer.learning.collaborative import CFModel, RatingRow, rating_prior
from models import Rating
from models.base import utcnow
from models.session import upsert_insert
from models.workspace import stamp

log = logging.getLogger(__name__)

REACTION_WEIGHT = 0.25
REACTION_ORIGIN = "reaction"


def vote_weight(origin: str) -> float:
    """How much one rating says: a reaction (origin "reaction:<answer>") judged a whole answer."""
    return REACTION_WEIGHT if origin.split(":", 1)[0] == REACTION_ORIGIN else 1.0


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

    def save(self, path: Path) -> None:
        """Written whole to a temporary file, then moved into place."""
        model = self.model.to_arrays() if self.model else {}
        arrays = {f"model_{k}": v for k, v in model.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("wb") as out:
            np.savez(
                out,
                prior_ids=np.fromiter(self.prior.keys(), dtype=np.int64, count=len(self.prior)),
                prior_values=np.fromiter(self.prior.values(), dtype=np.float64),
                signature_count=np.array(self.signature[0]),
                signature_latest=np.array(self.signature[1]),
                **arrays,
            )
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> FeedbackSnapshot | None:
        """The saved snapshot, or None when there is none or it cannot be read."""
        try:
            with np.load(path, allow_pickle=False) as saved:
                arrays = {k: saved[k] for k in saved.files}
        except (OSError, ValueError, zipfile.BadZipFile):
            return None
        try:
            model_arrays = {k[6:]: v for k, v in arrays.items() if k.startswith("model_")}
            return cls(
                model=CFModel.from_arrays(model_arrays) if model_arrays else None,
                prior=dict(
                    zip(arrays["prior_ids"].tolist(), arrays["prior_values"].tolist(), strict=True)
                ),
                signature=(int(arrays["signature_count"]), str(arrays["signature_latest"])),
            )
        except (KeyError, TypeError, ValueError):
            return None


class Feedback:
    def __init__(self, sessions: sessionmaker[Session], store: Path | None = None) -> None:
        self.sessions = sessions
        self.store = store
        self._snapshot = FeedbackSnapshot()
        self._refreshing = threading.Lock()

    def load_saved(self) -> bool:
        """Start from the last saved fit, current or not; False when there is none."""
        snapshot = FeedbackSnapshot.load(self.store) if self.store else None
        if snapshot is None:
            return False
        self._snapshot = snapshot
        return True

    def is_current(self) -> bool:
        with self.sessions() as session:
            return self._signature(session) == self._snapshot.signature

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
                stamp(
                    session,
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
                    ],
                )
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
        """The asker's own current votes among the candidates, by position, each times its
        `vote_weight`: fresher and more certain than any model estimate of them."""
        if user_id is None or not len(snippet_ids):
            return {}
        position = {int(i): n for n, i in enumerate(snippet_ids)}
        with self.sessions() as session:
            rows = session.execute(
                select(Rating.snippet_id, Rating.value, Rating.origin).where(
                    Rating.user_id == user_id, Rating.snippet_id.in_(list(position))
                )
            )
            return {position[s]: float(v) * vote_weight(o) for s, v, o in rows}

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
                    RatingRow(user_id=u, item_id=s, value=float(v), weight=vote_weight(o))
                    for u, s, v, o in session.execute(
                        select(Rating.user_id, Rating.snippet_id, Rating.value, Rating.origin)
                    )
                ]
            snapshot = FeedbackSnapshot(
                model=CFModel.fit(rows) if rows else None,
                prior=rating_prior(rows),
                signature=signature,
            )
            self._snapshot = snapshot
            log.info("feedback model refreshed from %d ratings", len(rows))
            if self.store is not None:
                try:
                    snapshot.save(self.store)
                except OSError:
                    log.exception("could not save the feedback model; it will be refitted")
            return snapshot

    def refresh_every(
        self, seconds: float, stop: threading.Event, at_once: bool = False
    ) -> threading.Thread:
        """Refit in a daemon thread whenever the ratings changed, checking every `seconds`
        (and straight away with `at_once`) until `stop` is set; queries keep using the previous
        snapshot meanwhile."""

        def loop() -> None:
            wait = 0.0 if at_once else seconds
            while not stop.wait(wait):
                wait = seconds
                try:
                    self.refresh()
                except Exception:  # a failed refit must not end learning for good
                    log.exception("feedback refresh failed; keeping the previous model")

        thread = threading.Thread(target=loop, name="feedback-refresh", daemon=True)
        thread.start()
        return thread
