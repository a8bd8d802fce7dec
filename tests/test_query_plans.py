"""The database finds a person's votes through the (person, snippet) index, not by reading every
rating of the workspace: every scoped statement says `team_id = ?`, and without statistics
SQLite's planner preferred the `team_id` index, which in a one-workspace install holds every
row (46 ms of a 96 ms search at 1M ratings, bench.search_scale)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, event, insert

from bot import migrate as migrations
from indexer.learning.feedback import Feedback
from models import Document, Rating, Snippet, create_db_engine
from models.session import refresh_statistics
from models.workspace import LOCAL_TEAM
from tests.helpers import local_sessions

PEOPLE = 200
SNIPPETS = 100


def _fill(engine: Engine) -> None:
    rng = np.random.default_rng(0)
    with engine.begin() as conn:
        conn.execute(
            insert(Document),
            [
                {
                    "id": 1,
                    "team_id": LOCAL_TEAM,
                    "source_type": "file",
                    "source": "a.md",
                    "title": "A",
                    "content_hash": "0" * 64,
                    "visibility": "public",
                    "tags": [],
                }
            ],
        )
        conn.execute(
            insert(Snippet),
            [
                {
                    "id": n,
                    "team_id": LOCAL_TEAM,
                    "document_id": 1,
                    "ordinal": n,
                    "title": "A",
                    "text": f"text {n}",
                    "visibility": "public",
                    "tags": [],
                    "content_hash": f"{n:064d}",
                }
                for n in range(1, SNIPPETS + 1)
            ],
        )
        conn.execute(
            insert(Rating),
            [
                {
                    "team_id": LOCAL_TEAM,
                    "user_id": f"U{p:07d}",
                    "snippet_id": int(s),
                    "value": 1,
                    "origin": "button:1",
                }
                for p in range(PEOPLE)
                for s in rng.choice(np.arange(1, SNIPPETS + 1), 20, replace=False)
            ],
        )


def _own_votes_plan(engine: Engine) -> str:
    """SQLite's plan for the statement `Feedback.own_votes` really sends."""
    sent: list[tuple[str, Any]] = []

    def capture(_c: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM ratings" in statement:
            sent.append((statement, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        votes = Feedback(local_sessions(engine)).own_votes("U0000007", np.arange(1, 101))
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert len(votes) == 20, "the person's twenty votes are found"
    (statement, params), *_ = sent
    assert "team_id" in statement, "the statement is scoped to the workspace"
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params).all()
    return " | ".join(str(row[-1]) for row in rows)


def test_a_persons_votes_are_found_by_their_index_not_by_reading_the_workspace(
    tmp_path: Path,
) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'lepton.db'}")
    migrations.upgrade(engine)
    _fill(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
    unplanned = _own_votes_plan(engine)
    refresh_statistics(engine)
    planned = _own_votes_plan(engine)
    assert "ix_ratings_team_id" in unplanned, "without statistics the planner reads the team"
    assert "ix_ratings_team_id" not in planned and "user_id=?" in planned, planned
    engine.dispose()
