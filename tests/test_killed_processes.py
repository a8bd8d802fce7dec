"""Processes SIGKILLed midway, as a deploy or the OOM killer would: a `lepton ingest` leaves
whole documents and an index that agrees with the database, and the next ingest finishes the
job; a scheduler pass killed mid nudge run, then run again (twice at once), nudges everyone
exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from bot import migrate
from bot.services import INDEX_DIR, WORKSPACES_DIR, Services
from bot.settings import load_settings
from bot.simulated_slack.server import LocalSlack, Workspace
from indexer.embedding import Embedder
from indexer.search.index_store import KnowledgeIndex
from models import Document, Nudge
from models.workspace import LOCAL_TEAM
from people.training.catalog import import_catalog
from tests.helpers import LEPTON, kill_after_posts, lepton_env, local_sessions, run_lepton
from tests.slack_app import wait_for
from tests.test_ingest import assert_index_agrees

ROOT = Path(__file__).resolve().parent.parent
NOTES = 60
WORDS = 700


def test_an_ingest_killed_midway_leaves_whole_documents_and_the_next_finishes(
    engine: Engine, db_url: str, tmp_path: Path, embedder: Embedder
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for n in range(NOTES):
        body = " ".join(f"topic{n}word{i}" for i in range(WORDS))
        (notes / f"note-{n:02}.md").write_text(f"# Note {n}\n\n{body}\n", encoding="utf-8")
    env = {"DATABASE_URL": db_url, "LEPTON_DATA_DIR": str(tmp_path / "data")}
    assert run_lepton("migrate", env=env, cwd=tmp_path).returncode == 0
    sessions = local_sessions(engine)

    def documents() -> int:
        with sessions() as session:
            return session.scalar(select(func.count()).select_from(Document)) or 0

    ingest = subprocess.Popen(
        [str(LEPTON), "ingest", str(notes)],
        env=lepton_env(env),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: documents() > 0 or ingest.poll() is not None, timeout=240)
        ingest.send_signal(signal.SIGKILL)
    finally:
        ingest.wait(30)
    assert ingest.returncode == -signal.SIGKILL, "the ingest finished before it could be killed"
    written = documents()
    assert 0 < written < NOTES

    with sessions() as session:
        for document in session.scalars(select(Document)):
            words = sum(len(s.text.split()) for s in document.snippets)
            assert words >= WORDS, f"{document.title} was half written"
    restarted = KnowledgeIndex(
        sessions, tmp_path / "data" / WORKSPACES_DIR / LOCAL_TEAM / INDEX_DIR, embedder
    )
    restarted.open()
    assert_index_agrees(sessions, restarted)

    again = run_lepton("ingest", str(notes), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"documents: {NOTES - written} added, 0 updated" in again.stdout
    finished = KnowledgeIndex(
        sessions, tmp_path / "data" / WORKSPACES_DIR / LOCAL_TEAM / INDEX_DIR, embedder
    )
    finished.open()
    assert_index_agrees(sessions, finished)
    found = run_lepton("find", "topic7word3", env=env, cwd=tmp_path)
    assert found.stdout.startswith("1. Note 7"), found.stdout


def scheduler_pass(env: dict[str, str], at: datetime) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.scheduler_pass", at.isoformat()],
        env=lepton_env(env),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.both_backends
def test_a_nudge_run_killed_midway_and_run_again_nudges_everyone_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    monday = date(2026, 11, 30)
    start = datetime.combine(monday, time(13), UTC)  # 14:00 in Berlin, a working hour
    crowd = [f"UCROWD{n:03d}" for n in range(30)]
    with LocalSlack() as slack:
        workspace = Workspace(slack)
        for user in crowd:
            workspace.add_user(user, user.lower(), tz="Europe/Berlin")
        migrate.upgrade(engine)
        env = {
            "DATABASE_URL": db_url,
            "LEPTON_DATA_DIR": str(tmp_path / "data"),
            "SLACK_BOT_TOKEN": "xoxb-killed-nudges",
            "SLACK_API_URL": slack.base_url,
            "LEPTON_SEND_LEASE_SECONDS": "60",
        }
        services = Services(load_settings(None, **{k.lower(): v for k, v in env.items()}), engine)
        import_catalog(services.home.sessions, ROOT / "examples" / "training.yml")
        due = datetime.combine(monday + timedelta(days=3), time(23, 59), UTC)
        for user in crowd:
            services.home.training.assign(user, "kubernetes-101", due, None, start)

        victim: list[subprocess.Popen[bytes]] = []
        kill_after_posts(slack, 10, victim)
        victim.append(scheduler_pass(env, start))
        victim[0].wait(120)
        assert victim[0].returncode == -signal.SIGKILL
        with services.home.sessions() as session:
            stuck = session.scalars(select(Nudge).where(Nudge.status == "sending")).all()
        assert len(stuck) == 1, "Slack took a nudge the killed pass never recorded"

        later = start + timedelta(minutes=5)  # past the dead pass's lease
        again = [scheduler_pass(env, later), scheduler_pass(env, later)]
        for process in again:
            assert process.wait(120) == 0

        def nudges(user: str) -> int:
            dm = workspace.dm_channel(user)
            return sum(m.text.startswith("Reminder:") for m in workspace.messages(dm))

        assert {u: nudges(u) for u in crowd} == dict.fromkeys(crowd, 1)
        with services.home.sessions() as session:
            statuses = list(session.scalars(select(Nudge.status)))
        assert statuses.count("sent") == len(crowd)
        assert set(statuses) <= {"sent", "pending"}, "only later nudges wait"
