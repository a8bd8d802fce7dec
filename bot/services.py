"""The composition root's wiring: one place that builds the database, model, index and the
services on top, so commands, the Slack app and the worker all share the same parts."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import models
from bot.settings import Settings
from bot.slack_client import web_client
from bot.workspaces import Installations, WorkspaceUnknown
from handlers.plumbing.directory import SlackDirectory
from handlers.plumbing.membership import Membership
from handlers.plumbing.once import Once, forget_old_claims
from handlers.plumbing.sending import ChannelNames
from handlers.plumbing.services import HomeSection
from handlers.surveys.delivery import SlackSurveyCouriers
from handlers.training.delivery import SlackTrainingCouriers
from indexer.answers.compose import AnswerComposer
from indexer.embedding import Embedder
from indexer.ingest.pipeline import Ingestor
from indexer.insights.questions import Questions
from indexer.learning.feedback import Feedback
from indexer.search.index_store import KnowledgeIndex
from indexer.search.ranker import Ranker
from indexer.search.threads import one_thread_per_question
from models.base import utcnow
from models.session import refresh_statistics
from models.workspace import Workspace, adopt_local_rows, workspace_sessions
from people.outbox import RetryLater
from people.surveys.answers import LOCAL_SECRET
from people.surveys.definitions import load_surveys
from people.surveys.rounds import Surveys, TickReport
from people.training.assignments import Training
from people.training.schedule import TrainingReport, training_tick

INDEX_DIR = "index"
WORKSPACES_DIR = "workspaces"
log = logging.getLogger(__name__)
FEEDBACK_REFRESH_SECONDS = 30.0
FEEDBACK_FILE = "feedback.npz"


def respondent_secret(settings: Settings) -> bytes:
    """What survey respondent keys are keyed with: a secret every process shares and the
    database never holds (the signing secret; the app token in Socket Mode); the console,
    with neither, uses the fixed local key."""
    shared = settings.slack_signing_secret or settings.slack_app_token
    if shared is None:
        return LOCAL_SECRET
    return hashlib.sha256(b"lepton-respondent:" + shared.get_secret_value().encode()).digest()


@dataclass(frozen=True)
class ScheduledWork:
    surveys: TickReport
    training: TrainingReport | None


@dataclass
class Services:
    """The process's parts: settings, database, model, and each workspace's services, built on
    first use. A Slack request is served by `in_workspace`; the command line and the console
    act on `home` (the workspace a single-workspace install serves, or the one
    `LEPTON_WORKSPACE` names)."""

    settings: Settings
    engine: Engine
    stopping: threading.Event = field(default_factory=threading.Event)
    home_sections: dict[str, HomeSection] = field(default_factory=dict)
    clock: Callable[[], datetime] = utcnow
    """What "now" is for the handlers: the real clock, or the console's, which `wait` moves on."""
    _workspaces: dict[str, WorkspaceServices] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def all_sessions(self) -> sessionmaker[Session]:
        """Sessions bound to no workspace: only statements marked ALL_WORKSPACES may touch
        workspace rows through them."""
        return models.make_session_factory(self.engine)

    @cached_property
    def embedder(self) -> Embedder:
        return Embedder.load(self.settings.lepton_embedding_model or None)

    @cached_property
    def membership(self) -> Membership:
        return Membership()

    @cached_property
    def installations(self) -> Installations:
        return Installations(self.settings, self.engine)

    @cached_property
    def home(self) -> WorkspaceServices:
        """With one bot token, the console's data (loaded before the token was set) becomes
        the token's workspace's on first use, as long as that workspace has none yet."""
        workspace = self.installations.home()
        if not self.settings.oauth_enabled:
            with self.all_sessions() as session, session.begin():
                moved = adopt_local_rows(session, workspace)
            if moved:
                log.info("%d rows of the local workspace now belong to %s", moved, workspace)
        return self.workspace(workspace)

    def workspace(self, workspace: Workspace) -> WorkspaceServices:
        with self._lock:
            found = self._workspaces.get(workspace.team_id)
            if found is None:
                found = WorkspaceServices(self, workspace)
                self._workspaces[workspace.team_id] = found
            return found

    def in_workspace(self, workspace: Workspace | None) -> WorkspaceServices | None:
        """The services of the workspace a Slack request came from: with one bot token there is
        one workspace; with OAuth, the installation Bolt authorized the request for."""
        if not self.settings.oauth_enabled:
            return self.home
        return self.workspace(workspace) if workspace else None

    def active_workspaces(self) -> list[WorkspaceServices]:
        """Every workspace Lepton may send to now: uninstalled or revoked ones are left out."""
        if not self.settings.oauth_enabled:
            return [self.home]
        return [self.workspace(w) for w in self.installations.active()]

    def installed_teams(self) -> set[str]:
        """Team ids Lepton may send to now; none when that cannot be told (Slack away)."""
        try:
            return {w.team.team_id for w in self.active_workspaces()}
        except WorkspaceUnknown:
            return set()

    def warm_up(self) -> None:
        """Load the model, the home index and the learned scores now, so the first question is
        as fast as the rest, each question on one thread, with the database's planner
        statistics fresh; and drop delivery claims too old for Slack to retry."""
        one_thread_per_question()
        refresh_statistics(self.engine)
        for workspace in self.active_workspaces():
            workspace.ranker.rank("warm up", limit=1)
        forget_old_claims(self.all_sessions)


@dataclass
class WorkspaceServices:
    """One workspace's services: sessions that see only its rows, its own FAISS and keyword
    index, its own collaborative-filtering model and rating prior, and a client with its token."""

    process: Services
    team: Workspace

    @property
    def settings(self) -> Settings:
        return self.process.settings

    @property
    def engine(self) -> Engine:
        return self.process.engine

    @property
    def stopping(self) -> threading.Event:
        return self.process.stopping

    @property
    def home_sections(self) -> dict[str, HomeSection]:
        return self.process.home_sections

    @property
    def embedder(self) -> Embedder:
        return self.process.embedder

    @property
    def membership(self) -> Membership:
        return self.process.membership

    def clock(self) -> datetime:
        return self.process.clock()

    def in_workspace(self, workspace: Workspace | None) -> WorkspaceServices | None:
        return self.process.in_workspace(workspace)

    @property
    def data_dir(self) -> Path:
        return self.settings.lepton_data_dir / WORKSPACES_DIR / self.team.team_id

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return workspace_sessions(self.process.all_sessions, self.team)

    @cached_property
    def knowledge(self) -> KnowledgeIndex:
        """Opened on first use: loaded from disk, or repaired if it disagrees with the database."""
        return KnowledgeIndex(self.sessions, self.data_dir / INDEX_DIR, self.embedder).open()

    @cached_property
    def ingestor(self) -> Ingestor:
        return Ingestor(self.knowledge)

    @cached_property
    def feedback(self) -> Feedback:
        """The last saved fit at once (fitted now on a first start), then refitted in the
        background whenever ratings change."""
        feedback = Feedback(self.sessions, self.data_dir / FEEDBACK_FILE)
        saved = feedback.load_saved()
        if not saved:
            feedback.refresh()
        feedback.refresh_every(FEEDBACK_REFRESH_SECONDS, self.stopping, at_once=saved)
        return feedback

    @cached_property
    def ranker(self) -> Ranker:
        return Ranker(self.knowledge, self.feedback)

    @cached_property
    def answers(self) -> AnswerComposer:
        return AnswerComposer(self.sessions, self.embedder)

    @cached_property
    def questions(self) -> Questions:
        return Questions(self.ranker, self.sessions)

    @cached_property
    def once(self) -> Once:
        return Once(self.sessions)

    @cached_property
    def surveys(self) -> Surveys:
        """Surveys, with the definitions file (LEPTON_SURVEYS) stored on first use."""
        surveys = Surveys(self.sessions, respondent_secret(self.settings))
        if self.settings.lepton_surveys is not None:
            definitions = load_surveys(self.settings.lepton_surveys)
            surveys.sync([d for d in definitions if d.runs_in(self.team.team_id)])
        return surveys

    @cached_property
    def sending_client(self) -> WebClient:
        token = self.process.installations.bot_token(self.team)
        return web_client(self.settings, token, retry_uncertain=False)

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
        admins = self.settings.listed_admins(self.team.team_id)
        surveys = SlackSurveyCouriers(client, self.surveys, channels, admins)
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
