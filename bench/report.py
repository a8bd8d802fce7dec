"""Where benchmark results go (a Markdown section per run, with the machine and the command),
and the scratch setup several benchmarks share."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot import migrate
from indexer.embedding import Embedder
from indexer.search.index_store import KnowledgeIndex
from models import create_db_engine, make_session_factory
from models.workspace import LOCAL_TEAM, Workspace, workspace_sessions

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        memory = f"{mem_kb / 2**20:.0f} GiB"
    except (OSError, StopIteration):
        memory = "unknown memory"
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def record(name: str, lines: list[str]) -> Path:
    """Append one run to bench/results/NAME.md and echo it."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    command = "python -m bench." + name + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else "")
    section = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"- machine: {machine()}",
        f"- command: `{command}`",
        "",
        *lines,
        "",
    ]
    with path.open("a") as out:
        out.write("\n".join(section) + "\n")
    print("\n".join(section))
    return path


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def scratch_knowledge(embedder: Embedder) -> Iterator[KnowledgeIndex]:
    """An empty, migrated SQLite database and index in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_db_engine(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(engine)
        try:
            sessions = workspace_sessions(make_session_factory(engine), Workspace(LOCAL_TEAM))
            yield KnowledgeIndex(sessions, Path(tmp) / "index", embedder)
        finally:
            engine.dispose()
