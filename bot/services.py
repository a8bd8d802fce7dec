"""The composition root's wiring: one place that builds the database, model, index and the
services on top, so commands, the Slack app and the worker all share the same parts."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import models
from bot.settings import Settings
from handlers.home import HomeSection, empty_slot
from handlers.membership import Membership
from handlers.once import Once
from indexer.embedding import Embedder
from indexer.feedback import Feedback
from indexer.index_store import KnowledgeIndex
from indexer.ingest import Ingestor
from indexer.questions import Questions
from indexer.ranker import Ranker

INDEX_DIR = "index"
FEEDBACK_REFRESH_SECONDS = 30.0


@dataclass
class Services:
    settings: Settings
    engine: Engine
    stopping: threading.Event = field(default_factory=threading.Event)
    home_sections: list[HomeSection] = field(
        default_factory=lambda: [
            empty_slot("Your training", "No training assigned to you."),
            empty_slot("Surveys", "No survey waiting for you."),
        ]
    )

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return models.make_session_factory(self.engine)

    @cached_property
    def embedder(self) -> Embedder:
        return Embedder.load(self.settings.lepton_embedding_model or None)

    @cached_property
    def knowledge(self) -> KnowledgeIndex:
        """Opened on first use: loaded from disk, or repaired if it disagrees with the database."""
        directory = self.settings.lepton_data_dir / INDEX_DIR
        return KnowledgeIndex(self.sessions, directory, self.embedder).open()

    @cached_property
    def ingestor(self) -> Ingestor:
        return Ingestor(self.knowledge)

    @cached_property
    def feedback(self) -> Feedback:
        """Fitted once now, then refitted in the background whenever ratings change."""
        feedback = Feedback(self.sessions)
        feedback.refresh()
        feedback.refresh_every(FEEDBACK_REFRESH_SECONDS, self.stopping)
        return feedback

    @cached_property
    def ranker(self) -> Ranker:
        return Ranker(self.knowledge, self.feedback)

    @cached_property
    def questions(self) -> Questions:
        return Questions(self.ranker, self.sessions)

    @cached_property
    def membership(self) -> Membership:
        return Membership()

    @cached_property
    def once(self) -> Once:
        return Once(self.sessions)

    def warm_up(self) -> None:
        """Load the model, the index and the learned scores now, so the first question is as
        fast as the rest; and drop delivery claims too old for Slack to retry."""
        self.ranker.rank("warm up", limit=1)
        self.once.forget_old()
