"""The `lepton` command as an operator meets it: help everywhere, honest exits."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bot import migrate as migrations
from bot.cli import cli
from tests.helpers import lepton_env, run_lepton

SUBCOMMANDS = [
    "migrate",
    "ingest",
    "reindex",
    "find",
    "serve",
    "socket",
    "worker",
    "console",
    "stats",
]


def test_help_works_even_with_broken_settings(tmp_path: Path) -> None:
    result = run_lepton("--help", env={"PORT": "broken"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage: lepton" in result.stdout


@pytest.mark.parametrize("subcommand", SUBCOMMANDS)
def test_every_command_has_help_even_with_broken_settings(
    subcommand: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In process (click's runner): the same code path as the real command above, without
    starting Python and importing the model's libraries once per command."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        cli, [subcommand, "--help"], env=lepton_env({"PORT": "broken"}), prog_name="lepton"
    )
    assert result.exit_code == 0, result.output
    assert f"Usage: lepton {subcommand}" in result.output


def test_migrate_creates_schema_then_is_a_no_op(db_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db_url}
    first = run_lepton("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    head = migrations.head_revision()
    assert f"migrated from an empty database to {head}" in first.stdout
    second = run_lepton("migrate", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert f"already at revision {head}; nothing to do" in second.stdout
    stats = run_lepton("stats", env=env, cwd=tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert "snippets: 0" in stats.stdout


def test_default_database_is_a_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    result = run_lepton("migrate", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "lepton.db").stat().st_size > 0


def test_commands_refuse_an_unmigrated_database(tmp_path: Path) -> None:
    result = run_lepton("stats", cwd=tmp_path)
    assert result.returncode == 1
    assert "run `lepton migrate` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    result = run_lepton(
        "migrate", env={"DATABASE_URL": "postgresql://lepton:pw@127.0.0.1:1/lepton"}, cwd=tmp_path
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("lepton: DATABASE_URL: cannot use postgresql+psycopg://lepton:***@")
    assert ":pw@" not in result.stderr


def test_a_broken_survey_file_is_reported_by_survey_commands_only(tmp_path: Path) -> None:
    (tmp_path / "surveys.yml").write_text("surveys:\n  - key: Pulse Check\n    title: Pulse\n")
    env = {"LEPTON_SURVEYS": "surveys.yml"}
    assert run_lepton("migrate", env=env, cwd=tmp_path).returncode == 0
    training = run_lepton("training", "list", env=env, cwd=tmp_path)
    assert training.returncode == 0, training.stderr
    listed = run_lepton("survey", "list", env=env, cwd=tmp_path)
    assert listed.returncode == 2
    assert "surveys.yml: surveys[0].key:" in listed.stderr
    assert "surveys.yml: surveys[0].questions: Field required" in listed.stderr
    assert "Traceback" not in listed.stderr
