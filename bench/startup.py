"""Start-up: a real `lepton serve` process, from exec to answering its first signed `/lepton find`,
over the scale benchmark's corpus (bench/synthetic.py: real Debian descriptions grown with mixed
ones, 10k people's 1M votes).

    python -m bench.startup          # 100k snippets
    python -m bench.startup --full   # 100k and 1M snippets

`lepton serve` loads the model, the FAISS and BM25 files and the saved feedback fit before it
listens, so "listening" is "ready to answer"; the first question's answer is timed too. Three
starts per size; the first may find the files out of the page cache, the others will not.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.http_burst import (
    SECRET,
    TEAM,
    TOKEN,
    Server,
    free_port,
    send,
)
from bench.report import record
from bench.synthetic import Corpus, build_corpus
from bot.simulated_slack.payloads import Actor, command
from bot.simulated_slack.server import RESPONSE_URL, LocalSlack, Workspace
from indexer.embedding import Embedder

STARTS = 3
SIZES = [100_000]
FULL_SIZES = [100_000, 1_000_000]
QUESTION = "tool to convert audio files between formats"
TIMEOUT = 300.0


def start_once(corpus: Corpus, directory: Path) -> tuple[float, float]:
    """(seconds from exec to listening, seconds from then to the first answer posted)."""
    with LocalSlack() as slack:
        workspace = Workspace(slack, team_id=TEAM)
        workspace.add_user("U0000001", "asker")
        workspace.add_channel("C0000001", "general", members=["U0000001"])
        port = free_port()
        env = {
            "DATABASE_URL": corpus.database_url,
            "LEPTON_DATA_DIR": str(corpus.data_dir),
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": slack.base_url,
        }
        started = time.monotonic()
        server = Server.start(env, directory, port, "--no-scheduler")
        try:
            server.wait_until_listening(TIMEOUT, poll=0.02)
            listening = time.monotonic() - started
            actor = Actor(TEAM, "U0000001", "asker", "C0000001", "general")
            request = command(actor, QUESTION, slack.response_url("first"))
            asked = time.monotonic()
            status, body = send(
                f"http://127.0.0.1:{port}/slack/events",
                request.body,
                request.headers(SECRET),
            )
            if status != 200:
                raise RuntimeError(f"first question got HTTP {status}: {body}")
            while not (slack.calls_to("chat.postMessage") or slack.calls_to(RESPONSE_URL)):
                if time.monotonic() - asked > TIMEOUT:
                    raise RuntimeError("the first question was never answered")
                time.sleep(0.01)
            return listening, time.monotonic() - asked
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="add the 1M-snippet corpus")
    args = parser.parse_args()
    embedder = Embedder.load()
    corpora = [build_corpus(embedder, n) for n in (FULL_SIZES if args.full else SIZES)]
    del embedder
    lines = [
        f"`lepton serve --no-scheduler` started {STARTS} times per size; ready = listening "
        "(the model, FAISS, BM25 and the feedback fit are loaded before it listens).",
        "",
        "| snippets | exec to ready, each start | median | first answer after ready |",
        "| ---: | --- | ---: | ---: |",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in corpora:
            runs = [start_once(corpus, Path(tmp)) for _ in range(STARTS)]
            ready = [r for r, _ in runs]
            first = statistics.median(a for _, a in runs)
            lines.append(
                f"| {corpus.snippets:,} | {', '.join(f'{r:.1f} s' for r in ready)} "
                f"| {statistics.median(ready):.1f} s | {first * 1000:.0f} ms |"
            )
    record("startup", lines)


if __name__ == "__main__":
    main()
