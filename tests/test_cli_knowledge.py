"""`lepton ingest` and `lepton find` as an admin runs them on the bundled example knowledge."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import run_lepton

ROOT = Path(__file__).resolve().parent.parent
KNOWLEDGE = ROOT / "examples" / "knowledge"
SLACK_EXPORT = ROOT / "examples" / "slack-export"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cwd = tmp_path_factory.mktemp("lepton")
    assert run_lepton("migrate", cwd=cwd).returncode == 0
    result = run_lepton("ingest", str(KNOWLEDGE), str(SLACK_EXPORT), cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd


def ingest_summary(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    return dict(
        line.split(": ", 1)
        for line in result.stdout.splitlines()
        if ": " in line and not line.startswith(" ")
    )


def test_find_tensorflow_puts_the_migration_guide_first(workdir: Path) -> None:
    result = run_lepton("find", "tensorflow 2.0", cwd=workdir)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[:2]
    assert first[0].startswith("1. TensorFlow 2 Migration Guide")
    assert first[1] == (
        "   source: https://wiki.northwind.example/eng/tensorflow-2-migration"
        + first[1].split("tensorflow-2-migration", 1)[1]
    )


def test_slack_threads_are_searchable_with_their_permalink(workdir: Path) -> None:
    result = run_lepton("find", "kubectl access to the staging cluster", "-n", "10", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert "/archives/C" in result.stdout


def test_reingest_reports_everything_unchanged(workdir: Path) -> None:
    result = run_lepton("ingest", str(KNOWLEDGE), cwd=workdir)
    assert result.returncode == 0, result.stderr
    summary = ingest_summary(result)
    assert summary["documents"].startswith("0 added, 0 updated, 0 removed")
    assert "skipped" not in summary


def test_reindex_rebuilds_and_search_still_answers(workdir: Path) -> None:
    result = run_lepton("reindex", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("index rebuilt: ")
    again = run_lepton("find", "tensorflow 2.0", cwd=workdir)
    assert again.stdout.startswith("1. TensorFlow 2 Migration Guide")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest"], "nothing to ingest"),
        (["ingest", "no/such/folder"], "no such file or folder: no/such/folder"),
        (["find", "   "], "the query is empty"),
    ],
)
def test_bad_input_gets_a_clear_message(args: list[str], message: str, workdir: Path) -> None:
    result = run_lepton(*args, cwd=workdir)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_find_on_an_empty_knowledge_base_says_what_to_do(tmp_path: Path) -> None:
    assert run_lepton("migrate", cwd=tmp_path).returncode == 0
    result = run_lepton("find", "tensorflow", cwd=tmp_path)
    assert result.returncode == 1
    assert "the knowledge base is empty: run `lepton ingest examples/knowledge` first" in (
        result.stderr
    )


def test_scripted_console_session_answers_questions(workdir: Path, tmp_path: Path) -> None:
    script = tmp_path / "session.txt"
    script.write_text("/lepton find tensorflow 2.0\n/lepton find\nquit\nnever reached\n")
    result = run_lepton("console", "--script", str(script), cwd=workdir)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    asked = lines.index("you> /lepton find tensorflow 2.0")
    assert lines[asked + 1] == "lepton> Here is what I found:"
    assert lines[asked + 2].startswith("  1. TensorFlow 2 Migration Guide")
    assert "lepton> What should I look for? Try `/lepton find tensorflow 2.0`." in lines
    assert "never reached" not in result.stdout


def test_start_without_credentials_sets_up_and_opens_the_console(tmp_path: Path) -> None:
    result = run_lepton("start", cwd=tmp_path, input="/lepton find expenses approval\n")
    assert result.returncode == 0, result.stderr
    assert "migrated from an empty database" in result.stdout
    assert "Loading the example knowledge base" in result.stdout
    assert "lepton> Here is what I found:" in result.stdout
