"""`lepton ingest` and `lepton find` as an admin runs them on the bundled example knowledge."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from models import AuditLog, create_db_engine
from tests.helpers import KNOWLEDGE, SLACK_EXPORT, run_lepton


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


def test_ingest_and_reindex_are_in_the_audit_log(workdir: Path) -> None:
    assert run_lepton("reindex", cwd=workdir).returncode == 0
    engine = create_db_engine(f"sqlite:///{workdir / 'data' / 'lepton.db'}")
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(AuditLog.actor, AuditLog.action, AuditLog.target)).all()
    finally:
        engine.dispose()
    assert ("cli", "knowledge.ingest", f"{KNOWLEDGE}, {SLACK_EXPORT}") in rows
    assert ("cli", "knowledge.reindex", None) in rows


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


SESSION = """/lepton find tensorflow 2.0
:+1:
press 2
press 8
@lepton how do I deploy to kubernetes?
say VPN on Linux: install openconnect, then connect to vpn.acme.com with your SSO login.
save
title: VPN on Linux
tags: vpn, linux
submit
as bob
/lepton find vpn on linux
home
/lepton stats
/lepton hepl
quit
never reached
"""


def test_scripted_console_session_drives_every_flow(workdir: Path, tmp_path: Path) -> None:
    script = tmp_path / "session.txt"
    script.write_text(SESSION)
    result = run_lepton("console", "--script", str(script), cwd=workdir)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    lines = out.splitlines()

    def after(prompt: str) -> str:
        start = lines.index(f"you> {prompt}")
        end = next(
            (n for n in range(start + 1, len(lines)) if lines[n].startswith("you> ")), len(lines)
        )
        return "\n".join(lines[start + 1 : end])

    answer = after("/lepton find tensorflow 2.0")
    assert answer.startswith("#general  lepton:")
    assert "*1.* TensorFlow 2 Migration Guide" in answer
    assert "[1] Helpful  [2] Not helpful" in answer and "Why these?" in answer
    assert "reacted :+1:" in after(":+1:")
    assert "Marked as not helpful" in after("press 2")
    assert "meaning" in after("press 8") and "people like you" in after("press 8")
    assert "(thread)  lepton:" in after("@lepton how do I deploy to kubernetes?")
    assert "Kubernetes" in after("@lepton how do I deploy to kubernetes?")
    assert "[modal: Save to Lepton]" in after("save")
    assert "Saved to Lepton: VPN on Linux" in after("submit")
    assert "VPN on Linux" in after("/lepton find vpn on linux").split("*2.*")[0]
    home = after("home")
    assert "[App Home of bob]" in home and "vpn on linux" in home
    assert "is for Lepton admins" in after("/lepton stats")
    assert "Did you mean `help`?" in after("/lepton hepl")
    assert "never reached" not in out
    assert "Traceback" not in result.stderr


def test_start_without_credentials_sets_up_and_opens_the_console(tmp_path: Path) -> None:
    result = run_lepton("start", cwd=tmp_path, input="/lepton find expenses approval\n")
    assert result.returncode == 0, result.stderr
    assert "migrated from an empty database" in result.stdout
    assert "Loading the example knowledge base" in result.stdout
    assert "Here is what I found for _expenses approval_" in result.stdout


SURVEY_SESSION = """/lepton survey start pulse
press 2
press 1
as bob
press 4
as carol
press 5
as alice
/lepton survey close pulse
quit
"""


def test_console_shows_a_survey_dm_an_answer_and_the_digest(workdir: Path, tmp_path: Path) -> None:
    """The example survey (examples/surveys.yml) in a fresh console workspace."""
    cwd = workdir
    script = tmp_path / "survey.txt"
    script.write_text(SURVEY_SESSION)
    result = run_lepton("console", "--script", str(script), cwd=cwd)
    assert result.returncode == 0, result.stderr
    turns = result.stdout.split("you> ")
    started, changed = turns[1], turns[2]
    assert "DM alice <> lepton  lepton:" in started and "Fortnightly pulse" in started
    assert "[1] Strongly disagree" in started and "Add a comment" in started
    assert "DM bob" not in started, "each person sees only their own DM"
    assert "Answered (tap again to change it)" in changed and "Recorded: 1 of" in changed
    assert "You answered" not in result.stdout, "a DM never shows what was answered"
    closed = turns[-2]
    assert "3 of 3 answered" in closed
    assert "#people-leads  lepton:" in closed and "Average 3.3 / 5" in closed
    assert "[file: Fortnightly pulse: trend up to round 1" in closed
    assert "Traceback" not in result.stderr


TRAINING_SESSION = """/lepton train assign @bob kubernetes-101 10d
as bob
wait
press 2
wait
press 1
/lepton train
quit
"""


def test_console_shows_a_nudge_a_snooze_and_a_completion(workdir: Path, tmp_path: Path) -> None:
    """The example catalog (examples/training.yml), loaded by the console on first start. Due in
    10 days, no nudge falls on the day of assigning (the slots are 7, 3, 1 and 0 days ahead), so
    the first one waits for `wait` whatever the real clock says; with no scheduled survey, no
    pulse lands between the presses. The snooze counts from the console's clock."""
    cwd = workdir
    script = tmp_path / "training.txt"
    script.write_text(TRAINING_SESSION)
    no_surveys = tmp_path / "surveys.yml"
    no_surveys.write_text("surveys: []\n")
    env = {"LEPTON_SURVEYS": str(no_surveys)}
    result = run_lepton("console", "--script", str(script), cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr
    turns = result.stdout.split("you> ")
    assigned, nudged, snoozed, woke, done, listed = (
        turns[1],
        turns[3],
        turns[4],
        turns[5],
        turns[6],
        turns[7],
    )
    assert "Assigned `kubernetes-101` to 1 of 1 person" in assigned
    assert "DM bob <> lepton  lepton:" in nudged and "Kubernetes 101" in nudged
    assert "[1] Done  [2] Snooze 1 day  [3] Snooze 3 days  [4] Snooze 7 days" in nudged
    assert "Snoozed *Kubernetes 101* until" in snoozed
    # 7 days ahead is the first slot; it moves to Monday when it falls on a weekend.
    due_then, due_later = (int(re.search(r"is due in (\d+) days", t)[1]) for t in (nudged, woke))
    assert 0 < due_later < due_then <= 7
    assert "Your snooze is over." in woke
    assert "Marked *Kubernetes 101* done" in done
    assert "1 of 1 done" in listed
    assert "Traceback" not in result.stderr


def test_a_front_matter_of_nested_aliases_is_refused_in_one_short_line(
    workdir: Path, tmp_path: Path
) -> None:
    """Half a kilobyte of aliases of aliases would expand to gigabytes (and print them): the
    file is skipped with a short reason, the next file is read, and the output stays small."""
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    levels += [
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 10)}]" for n in range(8)
    ]
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "bomb.md").write_text("---\n" + "\n".join(levels) + "\n---\n# Bomb\n\nhello\n")
    (notes / "fine.md").write_text(
        "# Printer queue\n\nThe third-floor printer is named Gutenberg.\n"
    )
    assert len((notes / "bomb.md").read_bytes()) < 700
    result = run_lepton("ingest", str(notes), cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout) + len(result.stderr) < 5_000
    assert "aliases" in result.stdout and "bomb.md" in result.stdout
    assert ingest_summary(result)["documents"].startswith("1 added")


def test_a_second_console_session_on_the_same_data_is_answered_too(
    workdir: Path, tmp_path: Path
) -> None:
    """Each command is answered once per Slack trigger; a console started again on the same
    database makes new triggers, so its commands are answered, not taken for replays."""
    script = tmp_path / "find.txt"
    script.write_text("/lepton find tensorflow 2.0\nquit\n")
    for _ in range(2):
        result = run_lepton("console", "--script", str(script), cwd=workdir)
        assert result.returncode == 0, result.stderr
        assert "TensorFlow 2 Migration Guide" in result.stdout
