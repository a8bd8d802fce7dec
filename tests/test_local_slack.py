"""The local Slack stand-in, driven by the real slack_sdk WebClient over HTTP."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.simulated_slack.server import LocalSlack, LocalSlackError, Reply, Workspace


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    with LocalSlack() as slack:
        yield slack


@pytest.fixture
def ws(slack: LocalSlack) -> Workspace:
    ws = Workspace(slack)
    ws.add_user("UALICE", "alice", real_name="Alice Liddell", display_name="al", tz="Europe/London")
    ws.add_user("UBOB", "bob", real_name="Bob Stone", is_admin=True, tz_offset=-18000)
    ws.add_user("UCAROL", "carol", deleted=True)
    ws.add_channel("CGENERAL", "general", members=["UALICE", "UBOB"])
    ws.add_channel("CRANDOM", "random", members=["UALICE", "UBOB"], bot_member=False)
    ws.add_channel("CSECRET", "secret", is_private=True, members=["UALICE"])
    ws.add_channel("CHIDDEN", "hidden", is_private=True, members=["UALICE"], bot_member=False)
    return ws


@pytest.fixture
def client(slack: LocalSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.base_url)


def slack_error(call: Any) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


SECTION = {"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}
MODAL = {
    "type": "modal",
    "callback_id": "add_snippet",
    "title": {"type": "plain_text", "text": "Add a snippet"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


def test_posting_needs_the_bot_in_the_channel(ws: Workspace, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="CGENERAL", text="hi", blocks=[SECTION])
    assert posted["channel"] == "CGENERAL"
    assert posted["message"]["bot_id"] == "BLEPTON"
    [message] = ws.messages("CGENERAL")
    assert (message.ts, message.user, message.text) == (posted["ts"], "ULEPTONBOT", "hi")
    assert message.blocks == [SECTION] and message.thread_ts is None

    assert slack_error(lambda: client.chat_postMessage(channel="CRANDOM", text="x")) == (
        "not_in_channel"
    )
    assert slack_error(lambda: client.chat_postMessage(channel="CHIDDEN", text="x")) == (
        "channel_not_found"
    )
    assert slack_error(lambda: client.chat_postMessage(channel="CNOPE", text="x")) == (
        "channel_not_found"
    )
    with pytest.warns(UserWarning, match="text"):
        assert slack_error(lambda: client.chat_postMessage(channel="CGENERAL")) == "no_text"
    assert not ws.messages("CRANDOM") and not ws.messages("CHIDDEN")


def test_timestamps_strictly_increase(ws: Workspace, client: WebClient) -> None:
    first = client.chat_postMessage(channel="CGENERAL", text="one")["ts"]
    second = ws.post_user_message("CGENERAL", "UALICE", "two").ts
    third = client.chat_postMessage(channel="general", text="three")["ts"]
    assert first == "1700000000.000100"
    assert Decimal(first) < Decimal(second) < Decimal(third)


def test_dm_by_user_id_lands_in_the_stable_dm_channel(ws: Workspace, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="UALICE", text="psst")
    assert posted["channel"] == "DALICE" == ws.dm_channel("UALICE")
    opened = client.conversations_open(users="UALICE")
    assert opened["channel"]["id"] == "DALICE" and opened["already_open"]
    assert [m.text for m in ws.messages("DALICE")] == ["psst"]
    info = client.conversations_info(channel="DALICE")["channel"]
    assert info["is_im"] and info["user"] == "UALICE"
    assert slack_error(lambda: client.conversations_open(users="UNOBODY")) == "user_not_found"


def test_threads(ws: Workspace, client: WebClient) -> None:
    question = ws.post_user_message("CGENERAL", "UALICE", "how do I deploy?")
    answer = client.chat_postMessage(channel="CGENERAL", text="like so", thread_ts=question.ts)
    assert answer["message"]["thread_ts"] == question.ts
    ws.post_user_message("CGENERAL", "UBOB", "thanks", thread_ts=answer["ts"])

    thread = ws.thread("CGENERAL", question.ts)
    assert [m.text for m in thread] == ["how do I deploy?", "like so", "thanks"]
    assert all(m.thread_ts == question.ts for m in thread[1:])
    replies = client.conversations_replies(channel="CGENERAL", ts=question.ts)["messages"]
    assert [m["text"] for m in replies] == ["how do I deploy?", "like so", "thanks"]
    history = client.conversations_history(channel="CGENERAL")["messages"]
    assert [m["text"] for m in history] == ["how do I deploy?"]
    assert history[0]["reply_count"] == 2 and history[0]["thread_ts"] == question.ts
    assert slack_error(
        lambda: client.chat_postMessage(channel="CGENERAL", text="x", thread_ts="1.000001")
    ) == ("invalid_thread_ts")


def test_history_pages_newest_first_within_bounds(ws: Workspace, client: WebClient) -> None:
    stamps = [ws.post_user_message("CGENERAL", "UALICE", f"m{i}").ts for i in range(5)]
    first = client.conversations_history(channel="CGENERAL", limit=2, oldest=stamps[0])
    assert [m["text"] for m in first["messages"]] == ["m4", "m3"] and first["has_more"]
    cursor = first["response_metadata"]["next_cursor"]
    second = client.conversations_history(
        channel="CGENERAL", limit=2, oldest=stamps[0], cursor=cursor
    )
    assert [m["text"] for m in second["messages"]] == ["m2", "m1"] and not second["has_more"]
    assert slack_error(lambda: client.conversations_history(channel="CRANDOM")) == "not_in_channel"


def test_ephemerals_are_kept_per_channel_and_user(ws: Workspace, client: WebClient) -> None:
    sent = client.chat_postEphemeral(channel="CGENERAL", user="UALICE", text="only you")
    [ephemeral] = ws.ephemerals("CGENERAL", "UALICE")
    assert (ephemeral.ts, ephemeral.text) == (sent["message_ts"], "only you")
    assert ws.ephemerals("CGENERAL", "UBOB") == [] and ws.messages("CGENERAL") == []
    assert slack_error(
        lambda: client.chat_postEphemeral(channel="CSECRET", user="UBOB", text="x")
    ) == ("user_not_in_channel")


def test_update_delete_and_permalinks(ws: Workspace, client: WebClient) -> None:
    posted = client.chat_postMessage(channel="CGENERAL", text="draft", blocks=[SECTION])
    updated = client.chat_update(channel="CGENERAL", ts=posted["ts"], text="final")
    assert updated["text"] == "final"
    assert ws.message("CGENERAL", posted["ts"]).blocks == [SECTION], "blocks kept when omitted"
    link = client.chat_getPermalink(channel="CGENERAL", message_ts=posted["ts"])["permalink"]
    assert link == f"https://acme.slack.com/archives/CGENERAL/p{posted['ts'].replace('.', '')}"
    reply = client.chat_postMessage(channel="CGENERAL", text="r", thread_ts=posted["ts"])
    reply_link = client.chat_getPermalink(channel="CGENERAL", message_ts=reply["ts"])
    assert reply_link["permalink"].endswith(f"?thread_ts={posted['ts']}&cid=CGENERAL")

    theirs = ws.post_user_message("CGENERAL", "UBOB", "mine")
    assert slack_error(lambda: client.chat_update(channel="CGENERAL", ts=theirs.ts, text="x")) == (
        "cant_update_message"
    )
    client.chat_delete(channel="CGENERAL", ts=reply["ts"])
    assert [m.text for m in ws.messages("CGENERAL")] == ["final", "mine"]
    assert slack_error(lambda: client.chat_delete(channel="CGENERAL", ts=reply["ts"])) == (
        "message_not_found"
    )


def test_block_kit_limits_are_enforced(ws: Workspace, client: WebClient) -> None:
    long = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}
    error = slack_error(
        lambda: client.chat_postMessage(channel="CGENERAL", text="t", blocks=[long])
    )
    assert error == "invalid_blocks"
    too_many = [SECTION] * 51
    assert slack_error(
        lambda: client.chat_postMessage(channel="CGENERAL", text="t", blocks=too_many)
    ) == ("invalid_blocks")


def test_users_info_and_list(ws: Workspace, client: WebClient) -> None:
    alice = client.users_info(user="UALICE")["user"]
    assert alice["profile"]["real_name"] == "Alice Liddell"
    assert alice["profile"]["display_name"] == "al" and alice["tz"] == "Europe/London"
    assert alice["tz_offset"] in (0, 3600)
    bob = client.users_info(user="UBOB")["user"]
    assert (bob["is_admin"], bob["is_owner"], bob["is_bot"], bob["tz_offset"]) == (
        True,
        False,
        False,
        -18000,
    )
    assert client.users_info(user="UCAROL")["user"]["deleted"] is True
    assert client.users_info(user="ULEPTONBOT")["user"]["is_bot"] is True
    assert slack_error(lambda: client.users_info(user="UNOBODY")) == "user_not_found"
    pages = [page["members"] for page in client.users_list(limit=2)]
    assert [len(members) for members in pages] == [2, 2]
    assert {m["id"] for members in pages for m in members} == {
        "ULEPTONBOT",
        "UALICE",
        "UBOB",
        "UCAROL",
    }


def test_conversations_members_paginate_with_limit(ws: Workspace, client: WebClient) -> None:
    for n in range(5):
        ws.add_user(f"UEXTRA{n}", f"extra{n}")
        ws.add_member("CGENERAL", f"UEXTRA{n}")
    pages = [page["members"] for page in client.conversations_members(channel="CGENERAL", limit=3)]
    assert [len(members) for members in pages] == [3, 3, 2]
    assert [m for members in pages for m in members] == list(ws.channel("CGENERAL").members)
    assert slack_error(lambda: client.conversations_members(channel="CHIDDEN")) == (
        "channel_not_found"
    )
    assert client.conversations_members(channel="CRANDOM")["members"] == ["UALICE", "UBOB"]


def test_users_conversations_hides_private_channels_the_bot_is_not_in(
    ws: Workspace, client: WebClient
) -> None:
    types = "public_channel,private_channel"
    ids = {c["id"] for c in client.users_conversations(user="UALICE", types=types)["channels"]}
    assert ids == {"CGENERAL", "CRANDOM", "CSECRET"}, "CHIDDEN is private without the bot"
    bob = client.users_conversations(user="UBOB", types="private_channel")["channels"]
    assert bob == []
    public = client.users_conversations(user="UALICE")["channels"]
    assert {c["id"] for c in public} == {"CGENERAL", "CRANDOM"}
    assert {c["id"]: c["is_member"] for c in public} == {"CGENERAL": True, "CRANDOM": False}
    ws.dm_channel("UALICE")
    ims = client.users_conversations(user="UALICE", types="im")["channels"]
    assert [c["id"] for c in ims] == ["DALICE"]
    pages = [
        page["channels"] for page in client.users_conversations(user="UALICE", types=types, limit=1)
    ]
    assert [len(channels) for channels in pages] == [1, 1, 1]


def test_reactions_get_shows_reaction_state(ws: Workspace, client: WebClient) -> None:
    answer = client.chat_postMessage(channel="CGENERAL", text="answer")["ts"]
    ws.add_reaction("CGENERAL", answer, "UALICE", "+1")
    ws.add_reaction("CGENERAL", answer, "UBOB", ":+1:")
    ws.add_reaction("CGENERAL", answer, "UBOB", "eyes")
    ws.remove_reaction("CGENERAL", answer, "UBOB", "eyes")
    got = client.reactions_get(channel="CGENERAL", timestamp=answer)
    assert got["message"]["reactions"] == [{"name": "+1", "users": ["UALICE", "UBOB"], "count": 2}]
    assert ws.message("CGENERAL", answer).reactions[0].count == 2
    with pytest.raises(LocalSlackError) as raised:
        ws.add_reaction("CGENERAL", answer, "UALICE", "+1")
    assert raised.value.code == "already_reacted"


def test_modals_stack_per_user_and_need_a_trigger(ws: Workspace, client: WebClient) -> None:
    assert slack_error(lambda: client.views_open(trigger_id="", view=MODAL)) == (
        "invalid_arguments"
    )
    assert slack_error(lambda: client.views_open(trigger_id="1.2.made-up", view=MODAL)) == (
        "invalid_trigger_id"
    )
    trigger = ws.trigger_id("UALICE")
    opened = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert opened["id"].startswith("V") and opened["callback_id"] == "add_snippet"
    assert slack_error(lambda: client.views_open(trigger_id=trigger, view=MODAL)) == (
        "exchanged_trigger_id"
    )
    pushed = client.views_push(trigger_id=ws.trigger_id("UALICE"), view=MODAL)["view"]
    assert pushed["previous_view_id"] == opened["id"] == pushed["root_view_id"]
    assert [v.id for v in ws.modals("UALICE")] == [opened["id"], pushed["id"]]
    assert ws.modals("UBOB") == []

    changed = {**MODAL, "title": {"type": "plain_text", "text": "Saved"}}
    updated = client.views_update(view_id=opened["id"], view=changed, hash=opened["hash"])
    assert updated["view"]["title"]["text"] == "Saved"
    assert ws.modals("UALICE")[0].view["title"]["text"] == "Saved"
    stale = slack_error(
        lambda: client.views_update(view_id=opened["id"], view=changed, hash=opened["hash"])
    )
    assert stale == "hash_conflict"
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "x" * 25}}
    assert slack_error(
        lambda: client.views_open(trigger_id=ws.trigger_id("UBOB"), view=long_title)
    ) == ("invalid_arguments")
    assert ws.pop_modal("UALICE") is not None and len(ws.modals("UALICE")) == 1


def test_views_publish_keeps_one_home_per_user(ws: Workspace, client: WebClient) -> None:
    assert ws.home("UALICE") is None
    first = client.views_publish(user_id="UALICE", view={"type": "home", "blocks": [SECTION]})
    second = client.views_publish(user_id="UALICE", view={"type": "home", "blocks": []})
    home = ws.home("UALICE")
    assert home is not None and home.id == first["view"]["id"] == second["view"]["id"]
    assert home.blocks == [] and home.type == "home"
    assert ws.home("UBOB") is None
    assert slack_error(
        lambda: client.views_publish(user_id="UALICE", view={"type": "modal", "blocks": []})
    ) == ("invalid_arguments")


def test_response_url_is_recorded_and_dispatched(slack: LocalSlack) -> None:
    url = slack.response_url("abc")
    assert url == f"{slack.base_url.removesuffix('/api/')}/respond/abc"
    sent = WebhookClient(url).send(text="done", response_type="ephemeral")
    assert sent.status_code == 200 and json.loads(sent.body) == {"ok": True}
    assert slack.calls_to("response_url") == [
        {"text": "done", "response_type": "ephemeral", "_key": "abc"}
    ]
    slack.on("response_url", lambda params: Reply(404, body={"ok": False, "error": "expired"}))
    assert WebhookClient(url).send(text="again").status_code == 404


def test_workspace_response_urls_post_ephemerals_messages_and_replacements(
    ws: Workspace, client: WebClient
) -> None:
    WebhookClient(ws.response_url("CGENERAL", "UALICE")).send(text="just you")
    assert [m.text for m in ws.ephemerals("CGENERAL", "UALICE")] == ["just you"]
    url = ws.response_url("CGENERAL", "UALICE")
    WebhookClient(url).send(text="everyone", response_type="in_channel")
    [public] = ws.messages("CGENERAL")
    assert public.text == "everyone" and public.user == "ULEPTONBOT"
    original = ws.response_url("CGENERAL", "UBOB", message_ts=public.ts)
    WebhookClient(original).send(text="replaced", replace_original=True)
    assert ws.message("CGENERAL", public.ts).text == "replaced"
    WebhookClient(original).send(delete_original=True)
    assert ws.messages("CGENERAL") == []


def test_files_upload_v2_round_trip(ws: Workspace, slack: LocalSlack, client: WebClient) -> None:
    chart = bytes(range(256)) * 40
    sent = client.files_upload_v2(
        channel="CGENERAL", file=chart, filename="trend.png", title="Trend", initial_comment="Q3"
    )
    [upload] = ws.uploads()
    assert upload.data == chart and upload.completed
    assert (upload.filename, upload.title, upload.channels) == ("trend.png", "Trend", ("CGENERAL",))
    assert sent["file"]["id"] == upload.file_id and sent["file"]["size"] == len(chart)
    [shared] = ws.messages("CGENERAL")
    assert shared.text == "Q3" and shared.files == (upload.file_id,)
    assert [c["size"] for c in slack.calls_to("upload")] == [len(chart)]

    refused = client.files_upload_v2(channel="CGENERAL", content="x", filename="a.txt")
    assert refused["ok"]
    with pytest.raises(SlackApiError) as raised:
        client.files_upload_v2(channel="CRANDOM", content="x", filename="b.txt")
    assert raised.value.response["error"] == "not_in_channel"


def test_upload_url_accepts_multipart_bodies(slack: LocalSlack) -> None:
    announced = WebClient(base_url=slack.base_url).files_getUploadURLExternal(
        filename="notes.txt", length=5
    )
    boundary = "XyZ"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="notes.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n"
    ).encode()
    request = urllib.request.Request(
        announced["upload_url"],
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    with urllib.request.urlopen(request, timeout=5) as reply:
        assert reply.status == 200
    assert slack.uploads()[0].data == b"hello"
    unknown = urllib.request.Request(slack.upload_url("FNOPE"), data=b"x")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(unknown, timeout=5)


def test_handlers_can_be_overridden_and_reinstalled(ws: Workspace, slack: LocalSlack) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    slack.on(
        "chat.postMessage", Reply(429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})
    )
    with pytest.raises(SlackApiError) as raised:
        client.chat_postMessage(channel="CGENERAL", text="x")
    assert raised.value.response.status_code == 429
    ws.install(slack)
    assert client.chat_postMessage(channel="CGENERAL", text="x")["ok"]
    assert client.auth_test()["user_id"] == "ULEPTONBOT"
