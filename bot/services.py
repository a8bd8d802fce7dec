"""The composition root's wiring: one place that builds the database, model, index and the
services on top, so commands, the Slack app and the worker all share the same parts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import models
from bot.settings import Settings
from bot.slack_client import web_client
from handlers.plumbing.directory import SlackDirectory
from handlers.plumbing.membership import Membership
from handlers.plumbing.once import Once
from handlers.plumbing.sending import ChannelNames
from handlers.plumbing.services import HomeSection
from handlers.surveys.delivery import SlackSurveyCouriers
from handlers.training.delivery import SlackTrainingCouriers
from indexer.embedding import Embedder
from indexer.ingest.pipeline import Ingestor
from indexer.insights.questions import Questions
from indexer.learning.feedback import Feedback
from indexer.search.index_store import KnowledgeIndex
from indexer.search.ranker import Ranker
from indexer.search.threads import one_thread_per_question
from models.base import utcnow
from people.outbox import RetryLater
from people.surveys.definitions import load_surveys
from people.surveys.rounds import Surveys, TickReport
from people.training.assignments import Training
from people.training.schedule import TrainingReport, training_tick

INDEX_DIR = "index"
log = logging.getLogger(__name__)
FEEDBACK_REFRESH_SECONDS = 30.0
FEEDBACK_FILE = "feedback.npz"


@dataclass(frozen=True)
class ScheduledWork:
    surveys: TickReport
    training: TrainingReport | None


@dataclass
class Services:
    settings: Settings
    engine: Engine
    stopping: threading.Event = field(default_factory=threading.Event)
    home_sections: dict[str, HomeSection] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    """What "now" is for the handlers: the real clock, or the console's, which `wait` moves on."""

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
        """The last saved fit at once (fitted now on a first start), then refitted in the
        background whenever ratings change."""
        feedback = Feedback(self.sessions, self.settings.lepton_data_dir / FEEDBACK_FILE)
        saved = feedback.load_saved()
        if not saved:
            feedback.refresh()
        feedback.refresh_every(FEEDBACK_REFRESH_SECONDS, self.stopping, at_once=saved)
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

    @cached_property
    def surveys(self) -> Surveys:
        """Surveys, with the definitions file (LEPTON_SURVEYS) stored on first use."""
        surveys = Surveys(self.sessions)
        if self.settings.lepton_surveys is not None:
            surveys.sync(load_surveys(self.settings.lepton_surveys))
        return surveys

    @cached_property
    def sending_client(self) -> WebClient:
        return web_client(self.settings, retry_uncertain=False)

    @cached_property
    def training(self) -> Training:
        return Training(self.sessions)

    @cached_property
    def channels(self) -> ChannelNames:
        return ChannelNames(self.sending_client)

    @cached_property
    def directory(self) -> SlackDirectory:
        """Kept between scheduler runs, so the people list is not re-read every run."""
        return SlackDirectory(self.sending_client, self.channels)

    def scheduled_work(self, now: datetime) -> ScheduledWork:
        """One pass of everything the scheduler does: survey rounds (open, send, remind, close,
        digest) and training (plan and send nudges, the weekly digest)."""
        client, channels, directory = self.sending_client, self.channels, self.directory
        lease = timedelta(seconds=self.settings.lepton_send_lease_seconds)
        surveys = SlackSurveyCouriers(client, self.surveys, channels)
        survey_report = self.surveys.tick(now, directory, surveys.couriers(), lease)
        training = SlackTrainingCouriers(client, self.training, channels, now)
        learners = sorted({a.user_id for a in self.training.open_assignments(now)})
        try:
            zones = directory.zones(learners)
        except RetryLater:
            log.warning("Slack did not list people's time zones; nudges wait for the next run")
            zones = None
        training_report = (
            training_tick(
                self.training,
                zones,
                training.nudge,
                training.digest,
                sorted(self.settings.lepton_training_digest_channels),
                now,
                lease,
            )
            if zones is not None
            else None
        )
        return ScheduledWork(survey_report, training_report)

    def warm_up(self) -> None:
        """Load the model, the index and the learned scores now, so the first question is as
        fast as the rest, each question on one thread; and drop delivery claims too old for
        Slack to retry."""
        one_thread_per_question()
        self.ranker.rank("warm up", limit=1)
        self.once.forget_old()
