"""Shared fixtures: every database test runs on a fresh SQLite file and a fresh PostgreSQL
database, both real."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from indexer.embedding import Embedder
from models import create_db_engine
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


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database URL, on each backend in turn."""
    with fresh_database(request.param, request, tmp_path_factory) as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


from tests.fake_slack import FakeSlack  # noqa: E402  (appended so existing lines stay as they are)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A running local Slack Web API; point WebClient(base_url=fake_slack.base_url) at it."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real all-MiniLM-L6-v2, loaded once for the whole run."""
    return Embedder.load()
