"""Burst: a real `lepton serve` process under concurrent signed `/lepton find` commands, its Web
API calls going to the local Slack stand-in.

    python -m bench.http_burst            # 20 clients for 20 s
    python -m bench.http_burst --full     # 20 clients for 60 s

Each client is one person after another asking a question in a channel: it sends a signed slash
command (timing the HTTP acknowledgement), waits until the answer is posted in the channel, then
asks the next question, so `--clients` questions are being worked on at every moment. Every
(channel, user, question) is asked once only, so each answer can be traced to its request.
Reports ack latency p50/p99/max, answer latency, answers exactly once, errors, and the server's
resident memory (VmRSS, sampled every second) from the end of the warm-up to the end of the run,
against the targets: ack p99 <= 500 ms, max < 3 s, every answer exactly once, no errors, RSS
growth < 5%.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import re
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import record
from bot.simulated_slack.payloads import Actor, command
from bot.simulated_slack.server import RESPONSE_URL, LocalSlack, Reply, Workspace
from tests.helpers import LEPTON, LISTENING, Server, free_port, lepton_env
from tests.slack_app import blocks_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "knowledge"
TEAM = "T0LEPTON"
SECRET = "bench-http-burst-signing-secret-0001"
TOKEN = "xoxb-bench-http-burst"
USERS = 50
CHANNELS = 10
WARM_UP = 10.0  # seconds: memory growth is measured from here (the first answers load things)
ANSWER_WAIT = 30.0  # a client gives up waiting for one answer after this and asks the next
DRAIN = 60.0  # after the clients stop, how long answers still in the works may take
WINDOW = 10.0  # seconds per row of the timeline table
ACK_P99_TARGET = 0.5
ACK_MAX_TARGET = 3.0
RSS_GROWTH_TARGET = 5.0  # percent
QUESTIONS = (
    "how do I migrate our models to tensorflow 2",
    "what replaces tf.Session in TensorFlow 2",
    "how do I deploy a service to kubernetes",
    "how do I roll back a bad deploy",
    "how do I get kubectl access to the staging cluster",
    "how do I connect my laptop to the office wifi",
    "the printer on the third floor does not work",
    "how do I request access to a system",
    "who approves access requests",
    "what do I do when I am sick",
    "do I need a doctor's note for sick leave",
    "how many days of annual leave do I get",
    "how does the CI/CD pipeline work",
    "why did my CI build fail",
    "what is expected of me while on call",
    "how do I hand over the on-call pager",
    "where do we store secrets and API keys",
    "how do I rotate a leaked secret",
    "how do I set up my local development environment",
    "how do I add an alert in Prometheus",
    "where are the Grafana dashboards",
    "how do we cut a release",
    "how do I write a database migration with alembic",
    "how do I declare a new python dependency",
    "how do I turn on a feature flag",
    "how do I submit an expense",
    "what does the learning and development budget cover",
    "how do I report a security incident",
    "how do I set up the password manager and 2FA",
    "how do I declare an incident and write a postmortem",
)
HEADER = re.compile(r"<@(\w+)> asked with `/lepton`")
VERDICT = re.compile(r"_(.+)_[:.]")
FAILURE_WORDS = ("Sorry, something went wrong", "Traceback")  # the apology in replies.py
PROBLEM = re.compile(r" (WARNING|ERROR|CRITICAL) |Traceback")
QUEUE_DEPTH = re.compile(r"waitress\.queue: Task queue depth is (\d+)")

Key = tuple[str, str, str]  # (channel, user, question)


class Answers:
    """What reached the stand-in: answers posted in channels, and posts to response_urls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waiting: dict[Key, threading.Event] = {}
        self.count: Counter[Key] = Counter()
        self.first: dict[Key, float] = {}
        self.unexpected: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.nothing_found = 0
        self.responses: list[dict[str, Any]] = []

    def expect(self, key: Key) -> threading.Event:
        with self._lock:
            return self.waiting.setdefault(key, threading.Event())

    def posted(self, params: dict[str, Any]) -> None:
        arrived = time.monotonic()
        text = blocks_text(params.get("blocks")) or str(params.get("text") or "")
        header, verdict = HEADER.search(text), VERDICT.search(text)
        key = (str(params.get("channel")), header[1], verdict[1]) if header and verdict else None
        with self._lock:
            if key is None or key not in self.waiting:
                self.unexpected.append(params)
                return
            self.count[key] += 1
            self.first.setdefault(key, arrived)
            if any(word in text for word in FAILURE_WORDS):
                self.failures.append(text)
            if "I found nothing" in text:
                self.nothing_found += 1
            self.waiting[key].set()

    def responded(self, params: dict[str, Any]) -> None:
        with self._lock:
            self.responses.append(params)

    def answered(self) -> int:
        with self._lock:
            return len(self.count)


class RssSampler:
    """The server process's VmRSS (MiB) and thread count every second, with the seconds since
    the burst started."""

    def __init__(self, pid: int, started: float) -> None:
        self.pid, self.started = pid, started
        self.samples: list[tuple[float, float]] = []
        self.threads: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            status = proc_status(self.pid)
            now = time.monotonic() - self.started
            if "VmRSS" in status and "Threads" in status:
                self.samples.append((now, int(status["VmRSS"].split()[0]) / 1024))
                self.threads.append((now, int(status["Threads"])))
            self._stop.wait(1.0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def at(self, seconds: float) -> float:
        """The first sample at or after `seconds` (else the last one)."""
        return next((rss for t, rss in self.samples if t >= seconds), self.samples[-1][1])

    def last_before(self, seconds: float) -> float:
        return [rss for t, rss in self.samples if t <= seconds][-1]

    def threads_before(self, seconds: float) -> int:
        return [n for t, n in self.threads if t <= seconds][-1]


@dataclass(frozen=True)
class Sent:
    key: Key
    at: float  # seconds since the run started
    sent: float  # monotonic
    ack: float  # seconds
    status: int
    body: str


def proc_status(pid: int) -> dict[str, str]:
    """/proc/PID/status as {"VmRSS": "123456 kB", "Threads": "17", ...}; {} once it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return {
        name: value.strip()
        for name, _, value in (line.partition(":") for line in text.splitlines())
    }


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def run_lepton(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [str(LEPTON), *args],
        capture_output=True,
        text=True,
        env=lepton_env(env),
        cwd=cwd,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"lepton {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def build_workspace(slack: LocalSlack, answers: Answers) -> tuple[Workspace, list[Actor]]:
    workspace = Workspace(slack, team_id=TEAM)
    users = [f"U{n:07d}" for n in range(USERS)]
    for user in users:
        workspace.add_user(user, user.lower())
    channels = [(f"C{n:07d}", f"team-{n}") for n in range(CHANNELS)]
    for channel_id, name in channels:
        workspace.add_channel(channel_id, name, members=users)
    post = slack.handler("chat.postMessage")
    respond = slack.handler(RESPONSE_URL)
    assert post is not None and respond is not None

    def posted(params: dict[str, Any]) -> dict[str, Any] | Reply:
        answers.posted(params)
        return post(params)

    def responded(params: dict[str, Any]) -> dict[str, Any] | Reply:
        answers.responded(params)
        return respond(params)

    slack.on("chat.postMessage", posted)
    slack.on(RESPONSE_URL, responded)
    actors = [
        Actor(TEAM, user, user.lower(), channel_id, name)
        for user in users
        for channel_id, name in channels
    ]
    return workspace, actors


def send(url: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    http = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(http, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError as error:
        return 0, repr(error)


def burst(
    url: str,
    workspace: Workspace,
    actors: list[Actor],
    answers: Answers,
    clients: int,
    seconds: float,
    started: float,
) -> list[Sent]:
    """`clients` threads, each asking, waiting for the answer, asking again, for `seconds`."""
    combos = [(actor, q) for actor in actors for q in QUESTIONS]
    random.Random(8).shuffle(combos)
    pending, lock, sent = iter(combos), threading.Lock(), list[Sent]()
    deadline = started + seconds

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                combo = next(pending, None)
            if combo is None:  # every (channel, user, question) asked: about 7 minutes at 36/s
                return
            actor, question = combo
            key = (actor.channel_id, actor.user_id, question)
            event = answers.expect(key)
            request = command(
                actor,
                f"find {question}",
                workspace.response_url(actor.channel_id, actor.user_id),
                workspace.trigger_id(actor.user_id),
            )
            headers = request.headers(SECRET)
            before = time.monotonic()
            status, body = send(url, request.body, headers)
            acked = time.monotonic()
            with lock:
                sent.append(Sent(key, before - started, before, acked - before, status, body))
            if status == 200:
                event.wait(ANSWER_WAIT)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def run(clients: int, seconds: float, directory: Path) -> list[str]:
    load_before = load_average()
    answers = Answers()
    with LocalSlack() as slack:
        workspace, actors = build_workspace(slack, answers)
        env = {
            "DATABASE_URL": f"sqlite:///{directory / 'lepton.db'}",
            "LEPTON_DATA_DIR": str(directory / "data"),
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": slack.base_url,
        }
        run_lepton(env, directory, "migrate")
        ingested = run_lepton(env, directory, "ingest", str(EXAMPLES))
        snippets = next(
            (line for line in ingested.splitlines() if line.startswith("snippets:")), "?"
        )
        print(f"ingested examples/knowledge: {snippets}", flush=True)
        port = free_port()
        server = Server.start(env, directory, port)
        try:
            server.wait_until_listening()
            print(f"serving on port {port}; {clients} clients for {seconds:.0f} s", flush=True)
            started = time.monotonic()
            rss = RssSampler(server.process.pid, started)
            sent = burst(
                f"http://127.0.0.1:{port}/slack/events",
                workspace,
                actors,
                answers,
                clients,
                seconds,
                started,
            )
            ended = time.monotonic() - started
            load_during = load_average()
            drain_by = time.monotonic() + DRAIN
            expected = {s.key for s in sent if s.status == 200}
            while answers.answered() < len(expected) and time.monotonic() < drain_by:
                time.sleep(0.1)
            time.sleep(2.0)  # duplicates, if any, would come now
            drained = time.monotonic() - started
            rss.stop()
        finally:
            code = server.stop()
        serving = server.lines[next(i for i, s in enumerate(server.lines) if LISTENING in s) :]
    # Lepton logs "date time LEVEL name: message"; waitress warns whenever a request has to wait
    # for one of its threads, which is a symptom to show, not an error.
    depths = [int(m[1]) for line in serving if (m := QUEUE_DEPTH.search(line))]
    problems = [line for line in serving if PROBLEM.search(line) and not QUEUE_DEPTH.search(line)]
    lines = report(
        clients,
        seconds,
        sent,
        answers,
        rss,
        (ended, drained, warm_up(seconds)),
        code,
        problems,
        depths,
    )
    lines.insert(
        2,
        f"- machine load (1-minute average): {load_before:.1f} before the run, "
        f"{load_during:.1f} at the end of the burst ({os.cpu_count()} cores; this run alone "
        "keeps both busy)",
    )
    return lines


def warm_up(seconds: float) -> float:
    return min(WARM_UP, seconds / 3)


def report(
    clients: int,
    seconds: float,
    sent: list[Sent],
    answers: Answers,
    rss: RssSampler,
    times: tuple[float, float, float],
    code: int,
    problems: list[str],
    depths: list[int],
) -> list[str]:
    ended, drained, warm = times
    acks = [s.ack for s in sent]
    bad = [s for s in sent if s.status != 200 or s.body.strip()]
    statuses = Counter(s.status for s in sent)
    ok = [s for s in sent if s.status == 200]
    counts = [answers.count[s.key] for s in ok]
    once = sum(1 for c in counts if c == 1)
    missing = sum(1 for c in counts if c == 0)
    duplicated = sum(1 for c in counts if c > 1)
    waits = [answers.first[s.key] - s.sent for s in ok if s.key in answers.first]
    rss_start, rss_end = rss.at(warm), rss.last_before(ended)
    rss_first = rss.samples[0][1]
    peak = max(r for _, r in rss.samples)
    growth = (rss_end - rss_start) / rss_start * 100
    ack_p50, ack_p99, ack_max = percentile(acks, 0.5), percentile(acks, 0.99), max(acks)
    errors = len(bad) + len(answers.failures) + len(answers.responses) + len(problems)
    checks = [
        ("ack p99 <= 500 ms", ack_p99 <= ACK_P99_TARGET),
        ("ack max < 3 s", ack_max < ACK_MAX_TARGET),
        ("every question answered exactly once", once == len(ok) == len(sent)),
        ("no errors", errors == 0 and code == 0),
        ("RSS growth < 5%", growth < RSS_GROWTH_TARGET),
    ]
    verdict = "PASS" if all(passed for _, passed in checks) else "MISS"
    lines = [
        f"- **{verdict}**: "
        + "; ".join(f"{name}: {'pass' if passed else 'MISS'}" for name, passed in checks),
        f"- {clients} clients for {seconds:.0f} s (each waits for its answer before asking "
        f"again), {USERS} users in {CHANNELS} channels, {len(QUESTIONS)} questions; "
        "real `lepton serve` (waitress) on SQLite with examples/knowledge ingested; "
        "Slack stand-in on loopback",
        f"- requests: {len(sent)} in {ended:.1f} s ({len(sent) / ended:.1f}/s); "
        f"HTTP statuses: {dict(sorted(statuses.items()))}",
        f"- ack latency: p50 {ack_p50 * 1000:.0f} ms, p99 {ack_p99 * 1000:.0f} ms, "
        f"max {ack_max * 1000:.0f} ms",
        f"- answer latency (sent -> answer posted): p50 {percentile(waits, 0.5):.2f} s, "
        f"p99 {percentile(waits, 0.99):.2f} s, max {max(waits, default=0.0):.2f} s",
        f"- answers: {once} exactly once, {missing} missing, {duplicated} duplicated, "
        f"{len(answers.unexpected)} unmatched posts; {answers.nothing_found} said "
        f"'found nothing'; all in by {drained:.1f} s",
        f"- errors: {len(bad)} bad acks, {len(answers.failures)} answers with error text, "
        f"{len(answers.responses)} posts to response_url, {len(problems)} warning or error log "
        f"lines, exit code {code}; waitress queued a request {len(depths)} times (deepest "
        f"{max(depths, default=0)})",
        f"- server RSS: {rss_first:.0f} MiB when the burst began, {rss_start:.0f} MiB after the "
        f"{warm:.0f} s warm-up, {rss_end:.0f} MiB at the end ({growth:+.1f}%), peak "
        f"{peak:.0f} MiB; server threads {rss.threads_before(warm)} after the warm-up, "
        f"{rss.threads_before(ended)} at the end",
        "",
        "| seconds | requests | ack p50 | ack p99 | ack max | answer p50 | RSS at end | threads |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for start in range(0, math.ceil(seconds), int(WINDOW)):
        stop = min(start + WINDOW, seconds)
        window = [s for s in sent if start <= s.at < stop]
        w_acks = [s.ack for s in window]
        w_waits = [answers.first[s.key] - s.sent for s in window if s.key in answers.first]
        lines.append(
            f"| {start}-{stop:.0f} | {len(window)} | {percentile(w_acks, 0.5) * 1000:.0f} ms | "
            f"{percentile(w_acks, 0.99) * 1000:.0f} ms | {max(w_acks, default=0) * 1000:.0f} ms "
            f"| {percentile(w_waits, 0.5):.2f} s | {rss.last_before(max(stop, 1.0)):.0f} MiB "
            f"| {rss.threads_before(max(stop, 1.0))} |"
        )
    if problems or bad:
        lines += ["", "First warnings, errors and bad acks:", "", "```"]
        lines += [f"server: {line[:300]}" for line in problems[:5]]
        lines += [f"ack: HTTP {s.status} {s.body[:200]!r}" for s in bad[:5]]
        lines.append("```")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="60 s instead of 20 s")
    parser.add_argument("--seconds", type=float, default=None, help="override the duration")
    parser.add_argument("--clients", type=int, default=20)
    args = parser.parse_args()
    seconds = args.seconds or (60.0 if args.full else 20.0)
    with tempfile.TemporaryDirectory() as scratch:
        lines = run(args.clients, seconds, Path(scratch))
    record("http_burst", lines)


if __name__ == "__main__":
    main()
