"""Shared fixtures: a database test runs on a fresh, real SQLite file, and also on a fresh
database of a real PostgreSQL server where SQL behaves differently between the two (claims,
upserts, constraints, migrations, outages): those tests are marked `both_backends`.

Hypothesis runs a quick profile by default; `HYPOTHESIS_PROFILE=deep` runs ten times as many
examples."""

from __future__ import annotations

import fcntl
import itertools
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg
import pytest
from hypothesis import settings
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from indexer.embedding import BATCH_SIZE, Embedder
from models import create_db_engine
from tests.fake_slack import FakeSlack
from tests.helpers import KNOWLEDGE, SLACK_EXPORT, run_lepton
from tests.postgres_server import PostgresServer

_db_names = itertools.count()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Server URL: LEPTON_TEST_POSTGRES_URL if given, else a private cluster for this run."""
    given = os.environ.get("LEPTON_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    server = PostgresServer.start()
    try:
        yield server.url
    finally:
        server.stop()


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def fresh_database(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of a new, empty database on `backend`, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'lepton.db'}"
        return
    server_url = request.getfixturevalue("postgres_url")
    name = f"lepton_test_{os.getpid()}_{next(_db_names)}"
    with psycopg.connect(_admin_dsn(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(_admin_dsn(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ("sqlite", "postgresql")

settings.register_profile("quick", max_examples=40, deadline=None)
settings.register_profile("deep", max_examples=400, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_backends: SQL whose behaviour differs; run on PostgreSQL too"
    )


def pytest_itemcollected(item: pytest.Item) -> None:
    """Under `--dist loadgroup`, the tests of a module that share a module-scoped fixture (a
    booted app, an ingested corpus) stay on one worker, so it is built once; every other test
    goes to whichever worker is free. Marked as each test is collected, before xdist reads the
    marks."""
    info = getattr(item, "_fixtureinfo", None)
    if info and any(
        defs[-1].scope not in ("function", "session") for defs in info.name2fixturedefs.values()
    ):
        item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("both_backends") is not None
        metafunc.parametrize("db_url", BACKENDS if both else BACKENDS[:1], indirect=True)


@pytest.fixture
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database URL: SQLite, and PostgreSQL too for tests marked `both_backends`."""
    with fresh_database(request.param, request, tmp_path_factory) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A running local Slack Web API; point WebClient(base_url=fake_slack.base_url) at it."""
    with FakeSlack() as fake:
        yield fake


class RememberingEmbedder(Embedder):
    """The real model, remembering what it already embedded in this test process: the example
    knowledge base is ingested by many tests, and the same text always gets the same vector."""

    def __init__(self, loaded: Embedder) -> None:
        super().__init__(model=loaded.model, name=loaded.name)
        self._seen: dict[str, np.ndarray] = {}

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        new = list(dict.fromkeys(t for t in texts if t not in self._seen))
        if new:
            self._seen.update(zip(new, super().encode(new, batch_size), strict=True))
        return np.stack([self._seen[t] for t in texts])


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once per test process."""
    return RememberingEmbedder(Embedder.load())


def shared_template(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder built once per test run and shared by every worker: the first to need it
    builds it under a lock, the others wait and reuse it. Tests copy it, never change it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker else base
    folder, done = root / f"template-{name}", root / f"template-{name}.done"
    with (root / f"template-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def examples_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder where the real `lepton migrate` and `lepton ingest` loaded the example
    knowledge base and Slack export (the default SQLite database and index under data/)."""

    def build(cwd: Path) -> None:
        assert run_lepton("migrate", cwd=cwd).returncode == 0
        result = run_lepton("ingest", str(KNOWLEDGE), str(SLACK_EXPORT), cwd=cwd)
        assert result.returncode == 0, result.stderr

    return shared_template(tmp_path_factory, "examples", build)


@pytest.fixture
def workdir(examples_workdir: Path, tmp_path: Path) -> Path:
    """This test's own copy of `examples_workdir`, free to change."""
    return Path(shutil.copytree(examples_workdir, tmp_path / "work"))
