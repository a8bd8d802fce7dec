"""Soak: a real `lepton serve` process fed thousands of mixed Slack requests by a few concurrent
clients, its resident memory and open file descriptors sampled after a warm-up and at the end.

    python -m bench.soak              # 4 clients, 2,000 requests after a 300-request warm-up
    python -m bench.soak --full       # 4 clients, 10,000 requests

Each client plays its own people, one session after another: `/lepton find` in a channel, then
on that answer a Helpful press, a reaction added and removed, sometimes More results; an
@-mention in a channel; a DM to the bot. Every request is signed as Slack signs it and every
answer is traced to the request that asked for it (the answer's header and question, its
thread, its DM, its response_url), so "answered exactly once" is checked per request.
Targets: no HTTP status but 200, every request answered exactly once, no warning or error in
the server's log, open FDs flat (at most FD_SLACK more), RSS growth after the warm-up under
RSS_GROWTH_LIMIT.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.http_burst import (
    EXAMPLES,
    HEADER,
    LISTENING,
    PROBLEM,
    QUESTIONS,
    QUEUE_DEPTH,
    VERDICT,
    Server,
    free_port,
    proc_status,
    run_lepton,
    send,
)
from bench.report import record
from bot.simulated_slack.payloads import Actor, SlackRequest, block_action, command, event
from bot.simulated_slack.server import RESPONSE_URL, LocalSlack, Reply, Workspace
from handlers.knowledge.blocks import MORE_RESULTS, RATE_UP
from tests.slack_app import blocks_text

TEAM = "T0LEPTON"
SECRET = "bench-soak-signing-secret-000001"
TOKEN = "xoxb-bench-soak"
CHANNELS = 4
USERS_PER_CLIENT = 5
ANSWER_WAIT = 60.0
FD_SLACK = 4
"""Descriptors the server may hold open beyond the warm-up count: a connection or two that
waitress has not closed yet when the sample is taken, and SQLite's journal."""
RSS_GROWTH_LIMIT = 10.0
"""Percent. Measured at 4 clients on 2 cores (bench/results/soak.md): after the warm-up the
server's RSS grew 4.6% over 2,000 more requests and 4.1 to 5.0% over 3,000 (about 30 MiB of
~650: allocator arenas and the search and feedback caches settling). Keeping 64 KiB per answer
alive, a slow leak, took it to +13% over 3,000 requests; 10% sits between the two."""


@dataclass(frozen=True)
class Sample:
    rss_mib: float
    fds: int
    threads: int


def sample(pid: int) -> Sample:
    status = proc_status(pid)
    if "VmRSS" not in status:
        raise RuntimeError(f"the server (pid {pid}) is gone")
    return Sample(
        int(status["VmRSS"].split()[0]) / 1024,
        len(os.listdir(f"/proc/{pid}/fd")),
        int(status["Threads"]),
    )


class Inbox:
    """Everything the server said through the Slack stand-in, indexed by what it answers."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.count: Counter[tuple[str, ...]] = Counter()
        self.messages: dict[tuple[str, ...], dict[str, Any]] = {}
        self.unexpected: list[str] = []

    def posted(self, params: dict[str, Any], reply: dict[str, Any] | Reply) -> None:
        channel = str(params.get("channel"))
        ts = str(reply.get("ts")) if isinstance(reply, dict) else ""
        text = blocks_text(params.get("blocks") or []) or str(params.get("text") or "")
        header, verdict = HEADER.search(text), VERDICT.search(text)
        if params.get("thread_ts"):
            key: tuple[str, ...] = ("thread", channel, str(params["thread_ts"]))
        elif header and verdict:
            key = ("find", channel, header[1], verdict[1])
        elif channel.startswith("D"):
            key = ("dm", channel)
        else:
            key = ("other", channel)
        self._add(key, {**params, "ts": ts, "text_seen": text})

    def responded(self, params: dict[str, Any]) -> None:
        self._add(("respond", str(params.get("_key"))), params)

    def _add(self, key: tuple[str, ...], message: dict[str, Any]) -> None:
        with self._changed:
            self.count[key] += 1
            self.messages[key] = message
            if key[0] == "other" or "Sorry, something went wrong" in str(message):
                self.unexpected.append(json.dumps(message)[:300])
            self._changed.notify_all()

    def wait(self, key: tuple[str, ...], times: int = 1) -> dict[str, Any] | None:
        """The latest message under `key` once it has `times` of them; None on timeout."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: self.count[key] >= times, ANSWER_WAIT)
            return self.messages[key] if arrived else None


@dataclass
class Tally:
    """Per request kind: sent, HTTP statuses, and the answers expected and seen."""

    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    expected: Counter[tuple[str, ...]] = field(default_factory=Counter)
    kinds: dict[tuple[str, ...], str] = field(default_factory=dict)
    missing: list[tuple[str, ...]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def total(self) -> int:
        return sum(self.sent.values())


class Client:
    """One thread of people asking, pressing and reacting, each waiting for its answer."""

    def __init__(
        self,
        number: int,
        url: str,
        workspace: Workspace,
        inbox: Inbox,
        tally: Tally,
        channels: list[str],
    ) -> None:
        self.url, self.ws, self.inbox, self.tally = url, workspace, inbox, tally
        self.users = [f"U{number:02d}{n:05d}" for n in range(USERS_PER_CLIENT)]
        self.channels = channels
        self.random = random.Random(number)
        self.questions = itertools.count()
        self.last: tuple[Actor, dict[str, Any]] | None = None

    def post(self, kind: str, request: SlackRequest) -> bool:
        status, body = send(self.url, request.body, request.headers(SECRET))
        with self.tally.lock:
            self.tally.sent[kind] += 1
            self.tally.statuses[status] += 1
            if status != 200:
                self.tally.bad.append(f"{kind}: HTTP {status} {body[:200]!r}")
        return status == 200

    def expect(self, kind: str, key: tuple[str, ...], times: int = 1) -> dict[str, Any] | None:
        with self.tally.lock:
            self.tally.expected[key] += 1
            self.tally.kinds[key] = kind
        found = self.inbox.wait(key, times)
        if found is None:
            with self.tally.lock:
                self.tally.missing.append(key)
        return found

    def question(self) -> str:
        """A known question made unique, so each answer can be traced to its request."""
        return f"{self.random.choice(QUESTIONS)} ({next(self.questions)})"

    def session(self, budget: Callable[[], bool]) -> None:
        user, channel = self.random.choice(self.users), self.random.choice(self.channels)
        actor = Actor(TEAM, user, user.lower(), channel)
        asked = self.question()
        find = command(
            actor,
            f"find {asked}",
            self.ws.response_url(channel, user),
            self.ws.trigger_id(user),
        )
        if not (budget() and self.post("find", find)):
            return
        answer = self.expect("find", ("find", channel, user, asked))
        # Buttons and reactions go on the previous session's answer: a person reads an answer
        # before reacting to it, and by then it is recorded (it is recorded just after it is
        # posted, so pressing within milliseconds of the post would find nothing).
        if self.last is not None:
            self.respond_to(*self.last, budget)
        self.last = (actor, answer) if answer is not None else None
        if budget():
            self.mention(actor)
        if budget():
            self.dm(user)

    def respond_to(self, actor: Actor, answer: dict[str, Any], budget: Callable[[], bool]) -> None:
        buttons = {
            e["action_id"]: e["value"]
            for b in answer.get("blocks") or []
            if b.get("type") == "actions"
            for e in b.get("elements", [])
        }
        if RATE_UP in buttons and budget():
            self.press(actor, answer["ts"], RATE_UP, buttons[RATE_UP])
        if budget():
            self.react(actor.channel_id, answer["ts"])
        if MORE_RESULTS in buttons and self.random.random() < 0.3 and budget():
            self.press(actor, answer["ts"], MORE_RESULTS, buttons[MORE_RESULTS])

    def press(self, actor: Actor, ts: str, action_id: str, value: str) -> None:
        response_url = self.ws.response_url(actor.channel_id, actor.user_id, ts)
        request = block_action(
            actor,
            {"action_id": action_id, "block_id": "b", "value": value},
            {"type": "message", "message_ts": ts, "channel_id": actor.channel_id},
            response_url,
            trigger_id=self.ws.trigger_id(actor.user_id),
        )
        if not self.post(action_id, request):
            return
        if action_id == RATE_UP:
            said = self.expect(action_id, ("respond", response_url.rsplit("/", 1)[1]))
            if said is not None and "Marked as helpful" not in str(said.get("text")):
                with self.tally.lock:
                    self.tally.bad.append(f"{action_id}: told {said.get('text')!r}")
        else:
            self.expect(action_id, ("thread", actor.channel_id, ts))

    def react(self, channel: str, ts: str) -> None:
        """Someone else reacts :+1: to the answer, then takes it back: ratings, no message."""
        other = self.random.choice(self.users)
        for kind, change in (
            ("reaction_added", self.ws.add_reaction),
            ("reaction_removed", self.ws.remove_reaction),
        ):
            change(channel, ts, other, "+1")
            payload = {
                "type": kind,
                "user": other,
                "reaction": "+1",
                "item": {"type": "message", "channel": channel, "ts": ts},
                "item_user": self.ws.bot_user_id,
                "event_ts": f"{time.time():.6f}",
            }
            self.post(kind, event(TEAM, payload))

    def mention(self, actor: Actor) -> None:
        said = self.ws.post_user_message(
            actor.channel_id, actor.user_id, f"<@{self.ws.bot_user_id}> {self.question()}"
        )
        payload = {
            "type": "app_mention",
            "user": actor.user_id,
            "text": said.text,
            "ts": said.ts,
            "channel": actor.channel_id,
            "event_ts": said.ts,
        }
        if self.post("app_mention", event(TEAM, payload)):
            self.expect("app_mention", ("thread", actor.channel_id, said.ts))

    def dm(self, user: str) -> None:
        dm = self.ws.dm_channel(user)
        said = self.ws.post_user_message(dm, user, self.question())
        payload = {
            "type": "message",
            "channel_type": "im",
            "user": user,
            "text": said.text,
            "ts": said.ts,
            "channel": dm,
            "event_ts": said.ts,
        }
        if self.post("dm", event(TEAM, payload)):
            with self.tally.lock:
                times = self.tally.expected[("dm", dm)] + 1
            self.expect("dm", ("dm", dm), times)


def drive(clients: list[Client], requests: int) -> None:
    """Run sessions on every client until `requests` more have been sent in all."""
    tally = clients[0].tally
    stop_at = tally.total() + requests

    def budget() -> bool:
        with tally.lock:
            return tally.total() < stop_at

    def loop(client: Client) -> None:
        while budget():
            client.session(budget)

    threads = [threading.Thread(target=loop, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@dataclass
class Soak:
    warm_up: int
    requests: int
    clients: int
    tally: Tally
    inbox: Inbox
    after_warm_up: Sample
    at_end: Sample
    seconds: float
    exit_code: int
    problems: list[str]

    @property
    def rss_growth(self) -> float:
        return (self.at_end.rss_mib - self.after_warm_up.rss_mib) / self.after_warm_up.rss_mib * 100

    @property
    def fd_growth(self) -> int:
        return self.at_end.fds - self.after_warm_up.fds

    def not_once(self) -> list[tuple[tuple[str, ...], int, int]]:
        """(key, expected, seen) for every answer that did not arrive exactly as often as asked."""
        return [
            (key, want, self.inbox.count[key])
            for key, want in self.tally.expected.items()
            if self.inbox.count[key] != want
        ]


def build_workspace(slack: LocalSlack, inbox: Inbox, clients: int) -> tuple[Workspace, list[str]]:
    workspace = Workspace(slack, team_id=TEAM)
    users = [f"U{c:02d}{n:05d}" for c in range(clients) for n in range(USERS_PER_CLIENT)]
    for user in users:
        workspace.add_user(user, user.lower())
    channels = [f"C{n:07d}" for n in range(CHANNELS)]
    for n, channel_id in enumerate(channels):
        workspace.add_channel(channel_id, f"soak-{n}", members=users)
    post, respond = slack.handler("chat.postMessage"), slack.handler(RESPONSE_URL)
    assert post is not None and respond is not None

    def posted(params: dict[str, Any]) -> dict[str, Any] | Reply:
        reply = post(params)
        inbox.posted(params, reply)
        return reply

    def responded(params: dict[str, Any]) -> dict[str, Any] | Reply:
        inbox.responded(params)
        return respond(params)

    slack.on("chat.postMessage", posted)
    slack.on(RESPONSE_URL, responded)
    return workspace, channels


def run(
    requests: int,
    clients: int,
    directory: Path,
    warm_up: int = 300,
    documents: Iterable[str] | None = None,
) -> Soak:
    """Serve, warm up with `warm_up` requests, sample, send `requests` more, drain, sample."""
    inbox, tally = Inbox(), Tally()
    corpus = EXAMPLES
    if documents is not None:
        corpus = directory / "corpus"
        for name in documents:
            (corpus / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(EXAMPLES / name, corpus / name)
    with LocalSlack() as slack:
        workspace, channels = build_workspace(slack, inbox, clients)
        env = {
            "DATABASE_URL": f"sqlite:///{directory / 'lepton.db'}",
            "LEPTON_DATA_DIR": str(directory / "data"),
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_API_URL": slack.base_url,
        }
        run_lepton(env, directory, "migrate")
        run_lepton(env, directory, "ingest", str(corpus))
        port = free_port()
        server = Server.start(env, directory, port)
        try:
            server.wait_until_listening()
            url = f"http://127.0.0.1:{port}/slack/events"
            team = [Client(n, url, workspace, inbox, tally, channels) for n in range(clients)]
            drive(team, warm_up)
            after_warm_up = sample(server.process.pid)
            started = time.monotonic()
            drive(team, requests)
            seconds = time.monotonic() - started
            time.sleep(2.0)  # a duplicate answer, if any, would arrive now
            at_end = sample(server.process.pid)
        finally:
            code = server.stop()
    serving = server.lines[next(i for i, s in enumerate(server.lines) if LISTENING in s) :]
    # waitress warns when a request waits for one of its threads: a symptom, not an error.
    problems = [line for line in serving if PROBLEM.search(line) and not QUEUE_DEPTH.search(line)]
    return Soak(
        warm_up, requests, clients, tally, inbox, after_warm_up, at_end, seconds, code, problems
    )


def report(soak: Soak) -> list[str]:
    tally, warm, end = soak.tally, soak.after_warm_up, soak.at_end
    not_once = soak.not_once()
    checks = [
        ("every status 200", set(tally.statuses) == {200} and not tally.bad),
        ("every request answered exactly once", not not_once and not soak.inbox.unexpected),
        ("no warnings or errors logged", not soak.problems and soak.exit_code == 0),
        (f"open FDs flat (+{FD_SLACK} at most)", soak.fd_growth <= FD_SLACK),
        (f"RSS growth < {RSS_GROWTH_LIMIT:.0f}%", soak.rss_growth < RSS_GROWTH_LIMIT),
    ]
    verdict = "PASS" if all(ok for _, ok in checks) else "MISS"
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(tally.sent.items()))
    lines = [
        f"- **{verdict}**: " + "; ".join(f"{n}: {'pass' if ok else 'MISS'}" for n, ok in checks),
        f"- {soak.clients} clients, {soak.warm_up} warm-up requests then {soak.requests} "
        f"measured in {soak.seconds:.0f} s ({soak.requests / soak.seconds:.1f}/s); real "
        "`lepton serve` (waitress) on SQLite; Slack stand-in on loopback",
        f"- requests by kind (warm-up included): {kinds}",
        f"- HTTP statuses: {dict(sorted(tally.statuses.items()))}; answers expected "
        f"{sum(tally.expected.values())}, not exactly once {len(not_once)}, unexpected posts "
        f"{len(soak.inbox.unexpected)}; warning or error log lines {len(soak.problems)}, "
        f"exit code {soak.exit_code}",
        f"- server RSS: {warm.rss_mib:.0f} MiB after the warm-up, {end.rss_mib:.0f} MiB at "
        f"the end ({soak.rss_growth:+.1f}%)",
        f"- open FDs: {warm.fds} after the warm-up, {end.fds} at the end; threads "
        f"{warm.threads} -> {end.threads}",
    ]
    if not_once or soak.problems or tally.bad or soak.inbox.unexpected:
        lines += ["", "First problems:", "", "```"]
        lines += [
            f"{tally.kinds[k]} answer {k}: expected {w}, seen {s}" for k, w, s in not_once[:5]
        ]
        lines += [f"server: {line[:300]}" for line in soak.problems[:5]]
        lines += tally.bad[:5] + soak.inbox.unexpected[:5]
        lines.append("```")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="10,000 requests instead of 2,000")
    parser.add_argument("--requests", type=int, default=None, help="override the count")
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    requests = args.requests or (10_000 if args.full else 2_000)
    with tempfile.TemporaryDirectory() as scratch:
        soak = run(requests, args.clients, Path(scratch))
    record("soak", report(soak))


if __name__ == "__main__":
    main()
