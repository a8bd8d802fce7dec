"""Running the real `lepton` command as a user would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate
from bot.simulated_slack.server import LocalSlack, Reply
from indexer.embedding import Embedder
from indexer.ingest.documents import LoadResult
from indexer.ingest.loaders.files import load_tree
from indexer.ingest.pipeline import Ingestor
from indexer.search.index_store import KnowledgeIndex
from models import create_db_engine, make_session_factory
from models.workspace import LOCAL_TEAM, Workspace, workspace_sessions

LEPTON = Path(sys.executable).parent / "lepton"
ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "examples" / "knowledge"
SLACK_EXPORT = ROOT / "examples" / "slack-export"


def lepton_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without Lepton's or Slack's settings, plus `extra`: what a subprocess
    sees is only what the test says."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LEPTON_"))}
    clean.pop("DATABASE_URL", None)
    return {**clean, **(extra or {})}


def run_lepton(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LEPTON), *args],
        capture_output=True,
        text=True,
        env=lepton_env(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
        input=input or "",
    )


LISTENING = "Lepton is listening on http://127.0.0.1:"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A `lepton serve` process; its output is read as it comes so its pipe never fills."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, env: dict[str, str], cwd: Path, port: int, *flags: str) -> Server:
        return cls(
            subprocess.Popen(
                [str(LEPTON), "serve", *flags, "--host", "127.0.0.1", "--port", str(port)],
                env=lepton_env(env),
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def said(self, text: str) -> bool:
        if self.process.poll() is not None:
            time.sleep(0.2)  # let the reader drain what it printed before dying
            raise RuntimeError(f"lepton exited with {self.process.returncode}:\n{self.output}")
        return any(text in line for line in self.lines)

    def wait_until_listening(self, timeout: float = 180.0, poll: float = 0.1) -> None:
        ready_by = time.monotonic() + timeout
        while not self.said(LISTENING):
            if time.monotonic() > ready_by:
                raise RuntimeError(f"lepton serve did not start within {timeout:.0f} s")
            time.sleep(poll)

    def stop(self) -> int:
        """Ctrl-C, as an operator would; killed if it does not stop within 15 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        return self.process.returncode


def kill_after_posts(slack: LocalSlack, posts: int, victim: list[subprocess.Popen[Any]]) -> None:
    """SIGKILL `victim[0]` right after Slack accepted its `posts`-th message: the process dies
    between Slack posting and it recording that, the worst moment for exactly-once."""
    post = slack.handler("chat.postMessage")
    assert post is not None

    def post_then_kill(params: dict[str, Any]) -> dict[str, Any] | Reply:
        answer = post(params)
        if len(slack.calls_to("chat.postMessage")) == posts and victim:
            os.kill(victim[0].pid, signal.SIGKILL)
        return answer

    slack.on("chat.postMessage", post_then_kill)


def local_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions of the workspace a Lepton without Slack credentials serves."""
    return workspace_sessions(make_session_factory(engine), Workspace(LOCAL_TEAM))


@contextmanager
def ingested(
    root: Path, embedder: Embedder, pages: dict[str, str], *loaded: LoadResult
) -> Iterator[tuple[sessionmaker[Session], KnowledgeIndex]]:
    """A migrated SQLite database and index under `root` holding `loaded` plus `pages` (file
    name -> Markdown), ingested the way `lepton ingest` does."""
    engine = create_db_engine(f"sqlite:///{root / 'lepton.db'}")
    migrate.upgrade(engine)
    sessions = local_sessions(engine)
    knowledge = KnowledgeIndex(sessions, root / "index", embedder)
    extra = root / "extra"
    extra.mkdir()
    for name, text in pages.items():
        (extra / name).write_text(text)
    everything = LoadResult()
    for part in (*loaded, load_tree(extra)):
        everything.extend(part)
    Ingestor(knowledge).ingest(everything)
    try:
        yield sessions, knowledge
    finally:
        engine.dispose()
