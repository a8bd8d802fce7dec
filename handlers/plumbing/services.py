"""What the Slack adapters need from the composition root, stated here so `handlers` never
imports `bot`: `bot.services.Services` provides all of it, and a handler sees only this."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from slack_sdk import WebClient
from sqlalchemy.orm import Session, sessionmaker

from handlers.plumbing.blocks import Block
from models.workspace import Workspace

if TYPE_CHECKING:
    from handlers.plumbing.directory import SlackDirectory
    from handlers.plumbing.membership import Membership
    from handlers.plumbing.once import Once
    from indexer.answers.compose import AnswerComposer
    from indexer.embedding import Embedder
    from indexer.ingest.pipeline import Ingestor
    from indexer.insights.questions import Questions
    from indexer.learning.feedback import Feedback
    from indexer.search.ranker import Ranker
    from people.surveys.rounds import Surveys
    from people.training.assignments import Training


@dataclass(frozen=True)
class Viewer:
    """Whoever opened the App Home, and the client to ask Slack about them."""

    user_id: str
    team_id: str | None
    client: WebClient


HomeSection = Callable[["Services", Viewer], list[Block]]
"""Blocks for one part of the App Home, from the services of the viewer's workspace."""


class SlackSettings(Protocol):
    @property
    def lepton_admins(self) -> frozenset[str]: ...

    def is_listed_admin(self, team_id: str, user_id: str) -> bool: ...

    def reaction_value(self, name: str) -> int | None: ...


class Services(Protocol):
    """The parts a listener may call; each is built once, on first use."""

    home_sections: dict[str, HomeSection]
    """Each feature's section by its name, set by its `register` in the order the App Home
    shows them; by name, so an app built twice on one process's services (HTTP and Socket
    Mode) still shows each section once."""

    @property
    def settings(self) -> SlackSettings: ...
    @property
    def team(self) -> Workspace: ...
    @property
    def sessions(self) -> sessionmaker[Session]: ...
    @property
    def embedder(self) -> Embedder: ...
    @property
    def ingestor(self) -> Ingestor: ...
    @property
    def feedback(self) -> Feedback: ...
    @property
    def ranker(self) -> Ranker: ...
    @property
    def answers(self) -> AnswerComposer: ...
    @property
    def questions(self) -> Questions: ...
    @property
    def membership(self) -> Membership: ...
    @property
    def once(self) -> Once: ...
    @property
    def directory(self) -> SlackDirectory: ...
    @property
    def surveys(self) -> Surveys: ...
    @property
    def training(self) -> Training: ...

    def clock(self) -> datetime: ...

    def in_workspace(self, workspace: Workspace | None) -> Services | None:
        """The same services, seeing only `workspace` (None: no workspace Lepton serves)."""
        ...


class Wiring(Protocol):
    """What a feature's `register` is given: where its App Home section goes, and the way to the
    services of the workspace each request comes from. It holds no workspace's data itself, so
    a listener cannot answer from the wrong workspace by forgetting to ask."""

    home_sections: dict[str, HomeSection]

    def in_workspace(self, workspace: Workspace | None) -> Services | None: ...
