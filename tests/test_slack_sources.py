"""Slack threads as knowledge: export zips and folders, and live history over the Web API."""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from handlers.knowledge.channel_history import fetch_channel_documents
from indexer.ingest.loaders.slack_export import load_export
from indexer.ingest.slack_threads import clean_mrkdwn, default_permalink, threads_to_documents
from tests.fake_slack import FakeSlack, Reply
from tests.helpers import run_lepton

EXAMPLE_EXPORT = Path(__file__).resolve().parents[1] / "examples" / "slack-export"
WORKSPACE = "https://acme.slack.com"
USERS = {"U1": "Ada Lovelace", "U2": "Grace Hopper"}
CHANNELS = {"C1": "deploys"}

PARENT_TS = "1709280000.000100"  # 2024-03-01 08:00:00.000100 UTC
PARENT_TEXT = (
    "How do we roll back a bad deploy of the payments service in prod without losing the "
    "queued jobs? Asking for <@U2>"
)


def message(ts: str, text: str, user: str = "U1", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "ts": ts, "user": user, "text": text, **extra}


def deploys_day_one() -> list[dict[str, Any]]:
    return [
        message("1709279000.000100", "<@U1> has joined the channel", subtype="channel_join"),
        message(PARENT_TS, PARENT_TEXT, thread_ts=PARENT_TS, reply_count=4),
        message(
            "1709280060.000200",
            "Run `make rollback ENV=prod`, then watch <https://grafana.example.com|Grafana> "
            "&amp; confirm the queue drains",
            user="U2",
            thread_ts=PARENT_TS,
        ),
        message("1709280070.000300", "thanks!", thread_ts=PARENT_TS),
        message("1709280075.000300", "thank you so much everyone :pray:", thread_ts=PARENT_TS),
        message(
            "1709280080.000400",
            "Deploy bot: rollback of payments finished in 42 seconds",
            user="U3",
            bot_id="B1",
            thread_ts=PARENT_TS,
        ),
        {
            "type": "message",
            "subtype": "bot_message",
            "ts": "1709281000.000100",
            "bot_id": "B1",
            "text": "Nightly build passed for all services, nothing to see",
        },
        message(
            "1709282000.000100",
            "Reminder: the staging database is reset every Sunday at 02:00 UTC, so do not "
            "keep anything you need there.",
            user="U2",
        ),
        message("1709283000.000100", "lol"),
        message("1709284000.000100", ""),
    ]


def deploys_day_two() -> list[dict[str, Any]]:
    return [
        message(
            "1709366400.000500",
            "Also post in <#C1> and <!here> whenever production gets rolled back.",
            user="U2",
            thread_ts=PARENT_TS,
        )
    ]


def write_export(root: Path) -> Path:
    """A small export in Slack's real layout, with a DM folder that must never be read."""
    files: dict[str, Any] = {
        "users.json": [
            {"id": "U1", "name": "ada", "profile": {"real_name": "Ada Lovelace"}},
            {"id": "U2", "name": "grace", "real_name": "Grace Hopper", "profile": {}},
            {"id": "U3", "name": "deploybot", "is_bot": True, "profile": {}},
        ],
        "channels.json": [{"id": "C1", "name": "deploys", "is_archived": False}],
        "groups.json": [{"id": "G1", "name": "secops"}],
        "dms.json": [{"id": "D1", "members": ["U1", "U2"]}],
        "mpims.json": [{"id": "G2", "name": "mpdm-ada--grace-1", "members": ["U1", "U2"]}],
        "deploys/2024-03-01.json": deploys_day_one(),
        "deploys/2024-03-02.json": deploys_day_two(),
        "secops/2024-03-01.json": [
            message(
                "1709290000.000100",
                "Rotate the Vault root token every quarter; the runbook lives in the wiki.",
            )
        ],
        "D1/2024-03-01.json": [message("1709290000.000200", "my DM secret is hunter2 " * 5)],
        "mpdm-ada--grace-1/2024-03-01.json": [
            message("1709290000.000300", "group DM secret is swordfish " * 5)
        ],
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content), encoding="utf-8")
    return root


def zip_folder(folder: Path, target: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return target


@pytest.fixture
def export(tmp_path: Path) -> Path:
    return write_export(tmp_path / "acme")


# clean_mrkdwn


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("ask <@U1>", "ask @Ada Lovelace"),
        ("ask <@U2|grace>", "ask @Grace Hopper"),
        ("ask <@U9>", "ask @U9"),
        ("ask <@U9|someone>", "ask @someone"),
        ("see <#C1|deploys>", "see #deploys"),
        ("see <#C1>", "see #deploys"),
        ("see <#C7|random>", "see #random"),
        ("<!here> deploy", "@here deploy"),
        ("<!channel> and <!everyone>", "@channel and @everyone"),
        ("<!here|here> now", "@here now"),
        ("<!subteam^S1|@oncall> please", "@oncall please"),
        (
            "docs <https://x.example/a?b=1&amp;c=2|the guide>",
            "docs the guide (https://x.example/a?b=1&c=2)",
        ),
        ("docs <https://x.example>", "docs https://x.example"),
        ("mail <mailto:a@b.example|a@b.example>", "mail a@b.example"),
        ("1 &lt; 2 &amp;&amp; 3 &gt; 2", "1 < 2 && 3 > 2"),
        ("literal &amp;lt; stays", "literal &lt; stays"),
        ("no tokens here", "no tokens here"),
    ],
)
def test_clean_mrkdwn(raw: str, clean: str) -> None:
    assert clean_mrkdwn(raw, USERS, CHANNELS) == clean


def test_clean_mrkdwn_never_leaves_a_ping_token() -> None:
    cleaned = clean_mrkdwn("<!here> <!channel> <!everyone> <@U1>", USERS, CHANNELS)
    assert "<" not in cleaned and ">" not in cleaned


def test_default_permalink_has_slacks_shape() -> None:
    link = default_permalink("https://acme.slack.com/")
    assert link("C1", PARENT_TS) == "https://acme.slack.com/archives/C1/p1709280000000100"
    assert default_permalink()("C1", "1.000002") == "https://slack.com/archives/C1/p1000002"


def test_thread_title_is_cut_at_a_word_boundary() -> None:
    documents, _ = threads_to_documents(
        [message(PARENT_TS, PARENT_TEXT)],
        channel_id="C1",
        channel_name="deploys",
        users=USERS,
        permalink=default_permalink(),
        restricted=False,
        source_prefix="test",
    )
    title = documents[0].title
    assert len(title) <= 80 and title.endswith("…")
    assert PARENT_TEXT.startswith(title.removesuffix("…"))
    assert PARENT_TEXT[len(title) - 1] in " ,?"


# Export folders and zips


def test_export_folder_threads_become_documents(export: Path) -> None:
    result = load_export(export, WORKSPACE)

    by_source = {d.source: d for d in result.documents}
    thread = by_source[f"slack-export:acme/C1/{PARENT_TS}"]
    assert thread.source_type == "slack_thread"
    assert thread.title.startswith("How do we roll back a bad deploy of the payments service")
    assert thread.owner == "Ada Lovelace"
    assert thread.author_user_id == "U1"
    assert thread.channel_id == "C1"
    assert thread.visibility == "public"
    assert thread.url == "https://acme.slack.com/archives/C1/p1709280000000100"
    assert thread.created_at == datetime(2024, 3, 1, 8, 0, 0, 100, tzinfo=UTC)
    assert thread.updated_at == datetime(2024, 3, 2, 8, 0, 0, 500, tzinfo=UTC)
    assert (thread.tags, thread.topic, thread.difficulty) == (None, None, None)
    [section] = thread.sections
    assert section.heading_path == ("#deploys",)
    assert section.text.splitlines() == [
        "Ada Lovelace: How do we roll back a bad deploy of the payments service in prod "
        "without losing the queued jobs? Asking for @Grace Hopper",
        "Grace Hopper: Run `make rollback ENV=prod`, then watch Grafana "
        "(https://grafana.example.com) & confirm the queue drains",
        "Grace Hopper: Also post in #deploys and @here whenever production gets rolled back.",
    ]
    assert result.files_read == 3


def test_export_skips_joins_bots_chatter_and_dms(export: Path) -> None:
    result = load_export(export, WORKSPACE)

    everything = "\n".join(d.text for d in result.documents)
    for unwanted in ("has joined", "Deploy bot", "Nightly build", "thanks", "thank you", "lol"):
        assert unwanted not in everything
    assert "hunter2" not in everything and "swordfish" not in everything
    assert sorted(d.source.rsplit("/", 1)[1] for d in result.documents) == [
        PARENT_TS,
        "1709282000.000100",
        "1709290000.000100",
    ]
    too_short = [s for s in result.skipped if s.reason.startswith("too short")]
    assert [s.source for s in too_short] == ["slack-export:acme/C1"]


def test_private_channel_threads_are_channel_visible(export: Path) -> None:
    result = load_export(export, WORKSPACE)

    [secret] = [d for d in result.documents if d.channel_id == "G1"]
    assert secret.visibility == "channel"
    assert secret.sections[0].heading_path == ("#secops",)
    public = [d for d in result.documents if d.channel_id == "C1"]
    assert public and all(d.visibility == "public" for d in public)


def test_zip_gives_the_same_documents_as_the_folder(export: Path, tmp_path: Path) -> None:
    zipped = zip_folder(export, tmp_path / "acme.zip")

    from_folder = load_export(export, WORKSPACE)
    from_zip = load_export(zipped, WORKSPACE)

    assert [d.source for d in from_zip.documents] == [d.source for d in from_folder.documents]
    assert [d.content_hash() for d in from_zip.documents] == [
        d.content_hash() for d in from_folder.documents
    ]
    assert from_zip.files_read == from_folder.files_read == 3


def test_zip_of_the_extracted_folder_is_also_understood(export: Path, tmp_path: Path) -> None:
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(nested, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(export.rglob("*.json")):
            archive.write(path, f"acme/{path.relative_to(export).as_posix()}")

    assert len(load_export(nested, WORKSPACE).documents) == 3


def test_zip_slip_and_malformed_day_are_skipped_without_stopping(
    export: Path, tmp_path: Path
) -> None:
    zipped = zip_folder(
        export,
        tmp_path / "acme.zip",
        extra={
            "../../etc/evil.json": b"[]",
            "/abs/evil.json": b"[]",
            "deploys/2024-03-03.json": b"[{not json",
        },
    )

    result = load_export(zipped, WORKSPACE)

    reasons = {s.source.removeprefix(f"{zipped}/"): s.reason for s in result.skipped}
    assert reasons["../../etc/evil.json"] == "unsafe path in zip"
    assert reasons["/abs/evil.json"] == "unsafe path in zip"
    assert reasons["deploys/2024-03-03.json"].startswith("not valid JSON")
    assert len(result.documents) == 3
    assert result.files_read == 3
    assert not (tmp_path.parent / "etc" / "evil.json").exists()


def test_highly_compressible_zip_is_refused(export: Path, tmp_path: Path) -> None:
    zipped = zip_folder(export, tmp_path / "acme.zip")
    with (
        zipfile.ZipFile(zipped, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("deploys/2024-03-05.json", "w") as member,
    ):
        chunk = b"\0" * 1024**2
        for _ in range(16):
            member.write(chunk)

    result = load_export(zipped, WORKSPACE)

    assert result.documents == []
    [refusal] = result.skipped
    assert refusal.source == str(zipped)
    assert refusal.reason.startswith("looks like a zip bomb")


def test_zip_larger_than_the_total_limit_is_refused(export: Path, tmp_path: Path) -> None:
    zipped = zip_folder(export, tmp_path / "acme.zip")

    result = load_export(zipped, WORKSPACE, max_total_bytes=1000)

    assert result.documents == []
    assert [s.reason for s in result.skipped] == [result.skipped[0].reason]
    assert result.skipped[0].reason.startswith("looks like a zip bomb")


def test_oversized_member_is_skipped_and_the_rest_loads(export: Path, tmp_path: Path) -> None:
    big = [message(f"1709300000.{i:06d}", f"filler message number {i} " * 8) for i in range(400)]
    zipped = zip_folder(
        export, tmp_path / "acme.zip", extra={"deploys/2024-03-04.json": json.dumps(big).encode()}
    )

    result = load_export(zipped, WORKSPACE, max_member_bytes=64 * 1024)

    [skip] = [s for s in result.skipped if s.source.endswith("deploys/2024-03-04.json")]
    assert skip.reason.startswith("larger than")
    assert len(result.documents) == 3


def test_missing_channels_json_is_reported(export: Path) -> None:
    (export / "channels.json").unlink()
    (export / "groups.json").unlink()

    result = load_export(export, WORKSPACE)

    assert result.documents == []
    assert any("channels.json" in s.source and "not found" in s.reason for s in result.skipped)


def test_not_a_zip_is_reported(tmp_path: Path) -> None:
    bogus = tmp_path / "export.zip"
    bogus.write_bytes(b"definitely not a zip")

    [skip] = load_export(bogus).skipped
    assert skip.source == str(bogus)


def test_example_export_loads(tmp_path: Path) -> None:
    if not (EXAMPLE_EXPORT / "channels.json").exists():
        pytest.skip("examples/slack-export is not written yet")
    result = load_export(EXAMPLE_EXPORT, WORKSPACE)

    assert result.documents and result.files_read > 0
    for document in result.documents:
        assert document.source.startswith(f"slack-export:slack-export/{document.channel_id}/")
        assert document.owner and not re.fullmatch(r"[UW][A-Z0-9]{6,}", document.owner)
        assert document.url and document.url.startswith(f"{WORKSPACE}/archives/")
        assert document.created_at and document.created_at.tzinfo is not None
        assert "<@" not in document.text and "<!" not in document.text

    zipped = zip_folder(EXAMPLE_EXPORT, tmp_path / "slack-export.zip")
    assert [d.source for d in load_export(zipped, WORKSPACE).documents] == [
        d.source for d in result.documents
    ]


# Live history over the Web API


def serve_channel(
    fake: FakeSlack, *, is_private: bool = False, rate_limit_first_history: bool = False
) -> None:
    """Two pages of history; the long thread's replies also come in two pages."""
    fake.on("auth.test", {"ok": True, "team_id": "T9", "url": f"{WORKSPACE}/"})
    fake.on(
        "conversations.info",
        {"ok": True, "channel": {"id": "C1", "name": "deploys", "is_private": is_private}},
    )
    parent = message(PARENT_TS, PARENT_TEXT, thread_ts=PARENT_TS, reply_count=3)
    standalone = message(
        "1709282000.000100",
        "Reminder: the staging database is reset every Sunday, keep nothing there.",
        user="U2",
    )
    older = message(
        "1709200000.000100", "Payments deploys need a second approver from the team in CODEOWNERS."
    )
    history = {
        "": ([standalone, parent], "page-2"),
        "page-2": ([older, message("1709100000.000100", "joined", subtype="channel_join")], ""),
    }
    first_reply = message(
        "1709280060.000200",
        "Run make rollback ENV=prod and watch the queue drain.",
        user="U2",
        thread_ts=PARENT_TS,
    )
    second_reply = message(
        "1709280090.000300",
        "Then post in <#C1> so support knows what happened.",
        thread_ts=PARENT_TS,
    )
    replies = {"": ([parent, first_reply], "replies-2"), "replies-2": ([parent, second_reply], "")}

    limited: list[bool] = []

    def page(pages: dict[str, tuple[list[dict[str, Any]], str]]) -> Any:
        def handler(params: dict[str, Any]) -> dict[str, Any] | Reply:
            if rate_limit_first_history and pages is history and not limited:
                limited.append(True)
                return Reply(429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})
            messages, next_cursor = pages[params.get("cursor", "")]
            return {
                "ok": True,
                "messages": messages,
                "has_more": bool(next_cursor),
                "response_metadata": {"next_cursor": next_cursor},
            }

        return handler

    fake.on("conversations.history", page(history))
    fake.on("conversations.replies", page(replies))
    fake.on(
        "users.info",
        lambda params: {
            "ok": True,
            "user": {"id": params["user"], "profile": {"real_name": USERS[params["user"]]}},
        },
    )


def test_live_history_follows_every_page(fake_slack: FakeSlack) -> None:
    serve_channel(fake_slack)
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url)

    result = fetch_channel_documents(client, "C1")

    sources = [d.source for d in result.documents]
    assert sources == [
        "slack:T9/C1/1709200000.000100",
        f"slack:T9/C1/{PARENT_TS}",
        "slack:T9/C1/1709282000.000100",
    ]
    thread = result.documents[1]
    assert thread.text.splitlines()[1:] == [
        "Grace Hopper: Run make rollback ENV=prod and watch the queue drain.",
        "Ada Lovelace: Then post in #deploys so support knows what happened.",
    ]
    assert thread.owner == "Ada Lovelace" and thread.visibility == "public"
    assert thread.url == f"{WORKSPACE}/archives/C1/p1709280000000100"
    assert [c.get("cursor") for c in fake_slack.calls_to("conversations.history")] == [
        None,
        "page-2",
    ]
    assert {c["limit"] for c in fake_slack.calls_to("conversations.history")} == {"200"}
    replies_calls = fake_slack.calls_to("conversations.replies")
    assert [(c["ts"], c.get("cursor")) for c in replies_calls] == [
        (PARENT_TS, None),
        (PARENT_TS, "replies-2"),
    ]
    assert sorted(c["user"] for c in fake_slack.calls_to("users.info")) == ["U1", "U2"]
    history_call = next(c for c in fake_slack.calls if c.method == "conversations.history")
    assert history_call.headers["Authorization"] == "Bearer xoxb-test"


def test_live_history_of_a_private_channel_is_channel_visible(fake_slack: FakeSlack) -> None:
    serve_channel(fake_slack, is_private=True)
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url)

    result = fetch_channel_documents(client, "C1", oldest=1709000000.5)

    assert result.documents and all(d.visibility == "channel" for d in result.documents)
    assert fake_slack.calls_to("conversations.history")[0]["oldest"] == "1709000000.500000"


def test_rate_limited_history_is_retried_without_duplicates(fake_slack: FakeSlack) -> None:
    serve_channel(fake_slack, rate_limit_first_history=True)
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url)

    result = fetch_channel_documents(client, "C1")

    sources = [d.source for d in result.documents]
    assert len(sources) == len(set(sources)) == 3
    assert [c.get("cursor") for c in fake_slack.calls_to("conversations.history")] == [
        None,
        None,
        "page-2",
    ]
    assert sum(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers) == 1
    fetch_channel_documents(client, "C1")
    assert sum(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers) == 1


def test_channel_without_the_bot_gives_an_actionable_skip(fake_slack: FakeSlack) -> None:
    serve_channel(fake_slack)
    fake_slack.on("conversations.history", {"ok": False, "error": "not_in_channel"})
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url)

    result = fetch_channel_documents(client, "C1")

    assert result.documents == []
    [skip] = result.skipped
    assert skip.source == "slack:T9/C1"
    assert skip.reason == "bot is not a member of #deploys: invite it with /invite @lepton"


def test_unknown_private_channel_gives_an_actionable_skip(fake_slack: FakeSlack) -> None:
    serve_channel(fake_slack)
    fake_slack.on("conversations.info", {"ok": False, "error": "channel_not_found"})
    client = WebClient(token="xoxb-test", base_url=fake_slack.base_url)

    [skip] = fetch_channel_documents(client, "G404").skipped

    assert "bot is not a member of #G404" in skip.reason and "/invite @lepton" in skip.reason


def test_folder_symlink_leaving_the_export_is_not_followed(export: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps([message("1709400000.000100", "outside secret " * 10)]))
    (export / "deploys" / "2024-03-09.json").symlink_to(outside)

    result = load_export(export, WORKSPACE)

    assert "outside secret" not in "\n".join(d.text for d in result.documents)
    [skip] = [s for s in result.skipped if s.source.endswith("2024-03-09.json")]
    assert skip.reason == "links outside the export folder"


def test_cli_ingests_a_live_channel_through_slack_api_url(
    fake_slack: FakeSlack, tmp_path: Path
) -> None:
    serve_channel(fake_slack, rate_limit_first_history=True)
    env = {"SLACK_API_URL": fake_slack.base_url, "SLACK_BOT_TOKEN": "xoxb-test"}
    assert run_lepton("migrate", cwd=tmp_path).returncode == 0
    result = run_lepton("ingest", "--slack-channel", "C1", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "documents: 3 added" in result.stdout
    found = run_lepton("find", "how do I roll back payments in prod", env=env, cwd=tmp_path)
    assert f"source: {WORKSPACE}/archives/C1/p1709280000000100" in found.stdout


def test_cli_live_channel_needs_a_bot_token(tmp_path: Path) -> None:
    result = run_lepton("ingest", "--slack-channel", "C1", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "lepton: SLACK_BOT_TOKEN: is not set, and `lepton ingest --slack-channel` needs it"
    )
