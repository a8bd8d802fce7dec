"""`lepton serve` and `lepton socket` as an operator runs them: a real process, configured only
through the environment, talking to a local stand-in for the Slack Web API."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.simulated_slack.payloads import Actor, command
from bot.simulated_slack.server import LocalSlack, Workspace
from tests.helpers import LEPTON, LISTENING, Server, free_port, lepton_env, run_lepton
from tests.slack_app import EXAMPLES, SECRET, TEAM, wait_for

TOKEN = "xoxb-serve-process-token"
ALICE = Actor(TEAM, "UALICE01", "alice", "CGENERAL")
DOCS = ("engineering/tensorflow-2-migration.md", "ops/deploying-to-kubernetes.md")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'lepton.db'}",
        "LEPTON_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def slack() -> Iterator[Workspace]:
    with LocalSlack() as local:
        workspace = Workspace(local, team_id=TEAM)
        workspace.add_user("UALICE01", "alice")
        workspace.add_channel("CGENERAL", "general", members=["UALICE01"])
        yield workspace


def test_serve_listens_once_ready_and_answers_signed_commands(
    slack: Workspace, tmp_path: Path
) -> None:
    env = {
        **base_env(tmp_path),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.slack.base_url,
    }
    docs = tmp_path / "docs"
    for name in DOCS:
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES / name, docs / name)
    for step in (("migrate",), ("ingest", str(docs))):
        done = run_lepton(*step, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    port = free_port()
    server = Server.start(env, tmp_path, port)
    try:
        # Loading the model and index takes seconds; the port must stay closed meanwhile, so
        # Slack never reaches a process that cannot answer yet.
        opened: list[float] = []

        def listening() -> bool:
            if not opened and accepts(port):
                opened.append(time.monotonic())
            return server.said(LISTENING)

        wait_for(listening, timeout=120)
        early = time.monotonic() - opened[0] if opened else 0.0
        assert early < 1.0, f"the port accepted connections {early:.1f}s before it was ready"
        assert f"{LISTENING}{port}/slack/events" in server.output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as health:
            assert health.status == 200  # at once, with no retry: it is ready when it says so

        request = command(
            ALICE,
            "find tensorflow",
            slack.response_url("CGENERAL", "UALICE01"),
            slack.trigger_id("UALICE01"),
        )
        http = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events",
            data=request.body.encode(),
            headers=request.headers(SECRET),
            method="POST",
        )
        with urllib.request.urlopen(http, timeout=10) as reply:
            assert reply.status == 200
        wait_for(lambda: slack.messages("CGENERAL"), timeout=30)
        posted = slack.slack.calls_to("chat.postMessage")
        assert [p["channel"] for p in posted] == ["CGENERAL"]
        assert "TensorFlow" in str(slack.messages("CGENERAL")[-1].blocks)
        auth = [c.headers["Authorization"] for c in slack.slack.calls if c.method != "response_url"]
        assert set(auth) == {f"Bearer {TOKEN}"}
    finally:
        code = server.stop()
    assert code == 0, server.output
    assert "Traceback" not in server.output


@pytest.mark.parametrize(
    ("subcommand", "given", "missing"),
    [
        ("serve", {"SLACK_BOT_TOKEN": TOKEN}, "SLACK_SIGNING_SECRET"),
        ("socket", {"SLACK_BOT_TOKEN": TOKEN}, "SLACK_APP_TOKEN"),
    ],
)
def test_a_missing_credential_is_one_line_naming_it(
    subcommand: str, given: dict[str, str], missing: str, tmp_path: Path
) -> None:
    result = run_lepton(subcommand, env={**base_env(tmp_path), **given}, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"lepton: {missing}: is not set, and `lepton {subcommand}` needs it"
    ]
    assert result.stdout == ""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_the_worker_stops_cleanly_on_ctrl_c_or_a_platforms_sigterm(
    stop: signal.Signals, slack: Workspace, tmp_path: Path
) -> None:
    """Started the way a script starts a background job (SIGINT ignored, which a child
    inherits), the worker still stops on Ctrl-C, and on the SIGTERM a platform sends before
    SIGKILL, with exit code 0 rather than being killed midway."""
    env = {
        **base_env(tmp_path),
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_API_URL": slack.slack.base_url,
    }
    assert run_lepton("migrate", env=env, cwd=tmp_path).returncode == 0
    worker = subprocess.Popen(
        [str(LEPTON), "worker"],
        env=lepton_env(env),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert worker.stdout is not None
        said = ""
        while "Scheduler started" not in said:  # a running scheduler, not one still starting
            line = worker.stdout.readline()
            assert line, f"the worker exited early:\n{said}"
            said += line
        worker.send_signal(stop)
        code = worker.wait(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    output = worker.stdout.read()
    assert code == 0, output
    assert "Traceback" not in output
