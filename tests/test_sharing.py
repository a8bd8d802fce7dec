"""Private answers and sharing them, over real HTTP against the simulated Slack: a question
answered for the asker alone, shared to the channel once however often it is pressed, a DM answer
shared through the channel picker, and nothing from a private channel ever reaching a channel
whose members are not all in it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import func, select

from bot.simulated_slack.payloads import (
    Actor,
    SlackRequest,
    block_action,
    event,
    view_submission,
)
from bot.simulated_slack.shapes import Message
from handlers.knowledge import replies
from handlers.knowledge.answer_refs import SHARE
from indexer.ingest.documents import LoadResult, Section, SourceDocument
from models import Answer, AnswerSnippet, Rating, create_db_engine
from models.knowledge import CHANNEL
from tests.conftest import fresh_database
from tests.helpers import run_lepton
from tests.slack_app import ADMIN, TEAM, RunningApp, blocks_text, running_app, settle, wait_for

ALICE, BOB, CAROL = "UALICE01", "UBOB0001", "UCAROL01"
SECRET_FACT = "QBR-2026"


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[RunningApp]:
    with fresh_database("sqlite", request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        try:
            with running_app(engine, tmp_path_factory.mktemp("app"), embedder) as running:
                ws = running.workspace
                people = [ALICE, BOB, CAROL, ADMIN]
                for user in people:
                    ws.add_user(user, user[1:].lower().rstrip("0123456789"))
                ws.add_channel("CGENERAL", "general", members=people)
                ws.add_channel("CRANDOM", "random", members=people, bot_member=False)
                ws.add_channel("CSECRET", "secret", is_private=True, members=[ALICE])
                running.services.home.ingestor.ingest(LoadResult(documents=[_board_deck()]))
                yield running
        finally:
            engine.dispose()


def _board_deck() -> SourceDocument:
    """Knowledge only #secret's members may see."""
    return SourceDocument(
        source="slack:CSECRET:1700000000.000100",
        source_type="slack_message",
        title="Board deck password location",
        sections=[
            Section(
                (),
                "The quarterly board deck password is kept in the finance vault under "
                f"{SECRET_FACT}. Ask the CFO's office for access to the vault.",
            )
        ],
        channel_id="CSECRET",
        visibility=CHANNEL,
    )


def actor(user: str, channel: str = "CGENERAL") -> Actor:
    return Actor(TEAM, user, user.lower(), channel)


def history(app: RunningApp, channel: str) -> list[dict[str, Any]]:
    """The channel as Lepton's bot reads it: conversations.history with the bot token."""
    client = WebClient(token="xoxb-test-token", base_url=app.slack.base_url)
    return list(client.conversations_history(channel=channel, limit=200)["messages"])


def ephemerals(app: RunningApp, user: str, channel: str = "CGENERAL") -> list[Message]:
    return app.workspace.ephemerals(channel, user)


def ask_privately(app: RunningApp, user: str, question: str, flag: str = "--private") -> Message:
    before = len(ephemerals(app, user))
    assert app.command(actor(user), f"find {flag} {question}").status == 200
    wait_for(lambda: len(ephemerals(app, user)) > before)
    settle(app)
    return ephemerals(app, user)[-1]


def button_of(message: Message, action_id: str) -> tuple[str, str]:
    """The block id and value of the message's `action_id` button."""
    return next(
        (block["block_id"], element["value"])
        for block in message.blocks
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )


def press_request(
    app: RunningApp,
    user: str,
    channel: str,
    message_ts: str,
    action_id: str,
    block_id: str,
    value: str,
    *,
    ephemeral: bool,
) -> SlackRequest:
    container = {"type": "message", "message_ts": message_ts, "channel_id": channel}
    if ephemeral:
        container["is_ephemeral"] = True
    return block_action(
        actor(user, channel),
        {"action_id": action_id, "block_id": block_id, "value": value},
        container,
        app.workspace.response_url(channel, user, message_ts),
        trigger_id=app.workspace.trigger_id(user),
    )


def press(
    app: RunningApp,
    user: str,
    channel: str,
    message: Message,
    action_id: str,
    *,
    ephemeral: bool = True,
) -> SlackRequest:
    block_id, value = button_of(message, action_id)
    request = press_request(
        app, user, channel, message.ts, action_id, block_id, value, ephemeral=ephemeral
    )
    assert app.send(request).status == 200
    return request


def shown_ids(app: RunningApp, channel: str, ref: str) -> list[int]:
    with app.services.home.sessions() as session:
        answer = session.scalar(
            select(Answer).where(Answer.channel_id == channel, Answer.message_ts == ref)
        )
        assert answer is not None, f"no answer recorded for {channel} {ref}"
        return list(
            session.scalars(
                select(AnswerSnippet.snippet_id)
                .where(AnswerSnippet.answer_id == answer.id)
                .order_by(AnswerSnippet.rank)
            )
        )


def ratings_of(app: RunningApp, user: str) -> dict[int, int]:
    with app.services.home.sessions() as session:
        return dict(
            session.execute(
                select(Rating.snippet_id, Rating.value).where(Rating.user_id == user)
            ).all()
        )


def titles(blocks: list[dict[str, Any]]) -> list[str]:
    """Each result's first line (rank and title), in order."""
    return [
        b["text"]["text"].split("\n", 1)[0]
        for b in blocks
        if b["type"] == "section" and b["text"]["text"].startswith("*")
    ]


def private_key_of(message: Message) -> str:
    return button_of(message, SHARE)[1]


def test_a_private_answer_is_for_the_asker_until_shared_once(app: RunningApp) -> None:
    before = [m["ts"] for m in history(app, "CGENERAL")]
    private = ask_privately(app, ALICE, "how do I deploy to kubernetes")
    text = blocks_text(private.blocks)
    assert "Kubernetes" in text and replies.PRIVATE_HINT in text
    assert [m["ts"] for m in history(app, "CGENERAL")] == before, "nothing new in the channel"
    assert not ephemerals(app, BOB), "nobody else sees it"
    key = private_key_of(private)
    shown = shown_ids(app, "CGENERAL", key)
    assert len(shown) == 3

    # Its buttons work like any answer's.
    press(app, ALICE, "CGENERAL", private, "rate_up")
    wait_for(lambda: ratings_of(app, ALICE).get(shown[0]) == 1)
    press(app, ALICE, "CGENERAL", private, "why_these")
    wait_for(lambda: "people like you" in ephemerals(app, ALICE)[-1].text)

    # Share, pressed twice at once (a double click) and once more later (Slack's retry).
    share = press_request(
        app, ALICE, "CGENERAL", private.ts, SHARE, *button_of(private, SHARE), ephemeral=True
    )
    clicks = [threading.Thread(target=app.send, args=(share,)) for _ in range(2)]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    settle(app)
    assert app.send(share).status == 200
    settle(app)
    new = [m for m in history(app, "CGENERAL") if m["ts"] not in before]
    assert len(new) == 1, "shared exactly once"
    shared = new[0]
    shared_text = blocks_text(shared["blocks"])
    assert "Shared by <@UALICE01> from a question they asked Lepton" in shared_text
    assert titles(shared["blocks"]) == titles(private.blocks), "the same answer"
    assert replies.PRIVATE_HINT not in shared_text
    assert "private-" not in json.dumps(shared["blocks"]), "no private key on a real message"
    assert "Share to channel" not in shared_text
    assert private.ts not in [m.ts for m in ephemerals(app, ALICE)], "the private one is gone"
    assert shown_ids(app, "CGENERAL", shared["ts"]) == shown

    # A reaction on the shared message rates what it showed, as on any answer's.
    app.workspace.add_reaction("CGENERAL", shared["ts"], BOB, "+1")
    reaction = {
        "type": "reaction_added",
        "user": BOB,
        "reaction": "+1",
        "item": {"type": "message", "channel": "CGENERAL", "ts": shared["ts"]},
        "item_user": "ULEPTONBOT",
        "event_ts": "1700000001.000001",
    }
    app.send(event(TEAM, reaction))
    wait_for(lambda: ratings_of(app, BOB))
    settle(app)
    assert set(ratings_of(app, BOB)) <= set(shown), "what the shared answer showed"
    assert set(ratings_of(app, BOB).values()) == {1}


def test_more_results_on_a_private_answer_stay_private(app: RunningApp) -> None:
    private = ask_privately(app, CAROL, "how do we deploy a release to production", flag="-p")
    before = [m["ts"] for m in history(app, "CGENERAL")]
    count = len(ephemerals(app, CAROL))
    press(app, CAROL, "CGENERAL", private, "more_results")
    wait_for(lambda: len(ephemerals(app, CAROL)) > count)
    settle(app)
    page = ephemerals(app, CAROL)[-1]
    assert "*4.*" in blocks_text(page.blocks)
    assert not set(shown_ids(app, "CGENERAL", private_key_of(page))) & set(
        shown_ids(app, "CGENERAL", private_key_of(private))
    )
    assert [m["ts"] for m in history(app, "CGENERAL")] == before, "no thread reply either"


def test_a_private_mention_answers_in_the_thread_for_the_asker_alone(app: RunningApp) -> None:
    question = app.workspace.post_user_message(
        "CGENERAL", BOB, "<@ULEPTONBOT> -p how do I request access to production?"
    )
    mention = {
        "type": "app_mention",
        "user": BOB,
        "text": question.text,
        "ts": question.ts,
        "channel": "CGENERAL",
        "event_ts": question.ts,
    }
    count = len(ephemerals(app, BOB))
    app.send(event(TEAM, mention))
    wait_for(lambda: len(ephemerals(app, BOB)) > count)
    settle(app)
    private = ephemerals(app, BOB)[-1]
    assert private.thread_ts == question.ts
    assert "access" in blocks_text(private.blocks).lower()
    assert app.workspace.thread("CGENERAL", question.ts)[1:] == []
    press(app, BOB, "CGENERAL", private, SHARE)
    wait_for(lambda: app.workspace.thread("CGENERAL", question.ts)[1:])
    settle(app)
    (reply,) = app.workspace.thread("CGENERAL", question.ts)[1:]
    assert "Shared by <@UBOB0001>" in blocks_text(reply.blocks)


def test_where_lepton_is_not_a_member_the_private_answer_comes_through_the_command(
    app: RunningApp,
) -> None:
    """Lepton may not post in #random, but the command's response_url reaches the asker; its
    Share then says how to let Lepton in, and the private answer stays."""
    count = len(ephemerals(app, CAROL, "CRANDOM"))
    app.command(actor(CAROL, "CRANDOM"), "find -p wifi printer")
    wait_for(lambda: len(ephemerals(app, CAROL, "CRANDOM")) > count)
    settle(app)
    private = ephemerals(app, CAROL, "CRANDOM")[-1]
    assert "printer" in blocks_text(private.blocks).lower()
    press(app, CAROL, "CRANDOM", private, SHARE)
    wait_for(lambda: ephemerals(app, CAROL, "CRANDOM")[-1].text == replies.CANNOT_SHARE_HERE)
    assert not app.workspace.messages("CRANDOM")
    assert private.ts in [m.ts for m in ephemerals(app, CAROL, "CRANDOM")]


def dm_answer(app: RunningApp, user: str, question: str) -> tuple[str, Message]:
    dm = app.workspace.dm_channel(user)
    message = app.workspace.post_user_message(dm, user, question)
    payload = {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": question,
        "ts": message.ts,
        "channel": dm,
        "event_ts": message.ts,
    }
    app.send(event(TEAM, payload))
    wait_for(lambda: [m for m in app.workspace.messages(dm) if m.ts > message.ts and m.blocks])
    settle(app)
    return dm, next(m for m in app.workspace.messages(dm) if m.ts > message.ts and m.blocks)


def open_share_modal(app: RunningApp, user: str, dm: str, answer: Message) -> dict[str, Any]:
    modals = len(app.workspace.modals(user))
    press(app, user, dm, answer, SHARE, ephemeral=False)
    wait_for(lambda: len(app.workspace.modals(user)) > modals)
    return app.workspace.modals(user)[-1].view


def submit(app: RunningApp, user: str, view: dict[str, Any], channel: str) -> dict[str, Any]:
    reply = app.send(view_submission(actor(user), view, {"channel": channel}))
    assert reply.status == 200
    answer = json.loads(reply.body) if reply.body else {}
    if not answer:
        app.workspace.pop_modal(user)  # an ack without errors closes the modal
    return answer


def dm_texts(app: RunningApp, user: str) -> list[str]:
    return [m.text for m in app.workspace.messages(app.workspace.dm_channel(user))]


def test_a_dm_answer_is_shared_to_the_channel_picked(app: RunningApp) -> None:
    dm, answer = dm_answer(app, BOB, "how many sick days do I get?")
    assert "Share to channel" in blocks_text(answer.blocks)
    view = open_share_modal(app, BOB, dm, answer)
    assert view["callback_id"] == "lepton_share"
    picker = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    assert picker["type"] == "conversations_select"
    assert picker["filter"]["include"] == ["public", "private"]

    # Lepton is not in #random: the modal says so on the field, and nothing is posted.
    posts = len(app.slack.calls_to("chat.postMessage"))
    refused = submit(app, BOB, view, "CRANDOM")
    assert refused["response_action"] == "errors"
    assert "not in #random" in refused["errors"]["channel"]
    assert "/invite @lepton" in refused["errors"]["channel"]
    assert not app.workspace.messages("CRANDOM")
    assert len(app.slack.calls_to("chat.postMessage")) == posts
    assert submit(app, BOB, view, "")["errors"]["channel"] == replies.PICK_A_CHANNEL

    before = [m["ts"] for m in history(app, "CGENERAL")]
    assert submit(app, BOB, view, "CGENERAL") == {}, "the modal closes"
    wait_for(lambda: [m for m in history(app, "CGENERAL") if m["ts"] not in before])
    settle(app)
    (shared,) = [m for m in history(app, "CGENERAL") if m["ts"] not in before]
    text = blocks_text(shared["blocks"])
    assert "Shared by <@UBOB0001> from a question they asked Lepton" in text
    assert "sick" in text.lower()
    assert titles(shared["blocks"]) == titles(answer.blocks)
    assert shown_ids(app, "CGENERAL", shared["ts"]) == shown_ids(app, dm, answer.ts)
    assert "I shared the answer in <#CGENERAL>." in dm_texts(app, BOB)

    # Submitting the same share again posts nothing more.
    again = open_share_modal(app, BOB, dm, answer)
    assert submit(app, BOB, again, "CGENERAL") == {}
    wait_for(lambda: replies.already_shared("CGENERAL") in dm_texts(app, BOB))
    assert len([m for m in history(app, "CGENERAL") if m["ts"] not in before]) == 1


def test_a_private_channel_snippet_never_leaks_into_a_shared_answer(app: RunningApp) -> None:
    """Alice is in #secret, so her DM answer may quote it; #general may not see it."""
    dm, answer = dm_answer(app, ALICE, "where is the quarterly board deck password kept?")
    assert SECRET_FACT in blocks_text(answer.blocks), "her DM answer shows #secret's snippet"
    assert len(titles(answer.blocks)) > 1, "and other results people may see"
    before = [m["ts"] for m in history(app, "CGENERAL")]
    assert submit(app, ALICE, open_share_modal(app, ALICE, dm, answer), "CGENERAL") == {}
    wait_for(lambda: [m for m in history(app, "CGENERAL") if m["ts"] not in before])
    settle(app)
    (shared,) = [m for m in history(app, "CGENERAL") if m["ts"] not in before]
    everything = json.dumps(shared)
    assert SECRET_FACT not in everything and "Board deck password" not in everything
    assert titles(shared["blocks"]), "the rest of the answer is shared"
    private_ids = set(shown_ids(app, dm, answer.ts)) - set(shown_ids(app, "CGENERAL", shared["ts"]))
    assert len(private_ids) == 1
    assert replies.shared_in("CGENERAL", 1) in dm_texts(app, ALICE)

    # In #secret itself, whose members may all see it, the whole answer is shared.
    assert submit(app, ALICE, open_share_modal(app, ALICE, dm, answer), "CSECRET") == {}
    wait_for(lambda: any(SECRET_FACT in json.dumps(m) for m in history(app, "CSECRET")))


def test_sharing_an_answer_that_does_not_exist_changes_nothing(app: RunningApp) -> None:
    posts, answers = len(app.slack.calls_to("chat.postMessage")), _answers(app)
    responses = len(app.responses())
    unknown = "private-0123456789abcdef0123"
    app.send(
        press_request(
            app,
            ALICE,
            "CGENERAL",
            "1700000000.000900",
            SHARE,
            f"follow_ups~{unknown}",
            unknown,
            ephemeral=True,
        )
    )
    wait_for(lambda: len(app.responses()) > responses)
    settle(app)
    assert app.responses()[-1]["text"] == replies.SHARE_GONE
    assert app.responses()[-1].get("response_type") == "ephemeral"

    # A Share press on a DM message that is not an answer: the same, and no modal.
    dm = app.workspace.dm_channel(CAROL)
    note = app.workspace.post_user_message(dm, CAROL, "just a note to self")
    modals = len(app.workspace.modals(CAROL))
    app.send(
        press_request(app, CAROL, dm, note.ts, SHARE, "follow_ups", "message", ephemeral=False)
    )
    wait_for(lambda: app.responses()[-1]["text"] == replies.SHARE_GONE)
    settle(app)
    assert len(app.workspace.modals(CAROL)) == modals

    # Someone else's DM answer, submitted through a forged modal: refused on the field.
    dm, answer = dm_answer(app, BOB, "wifi printer on the third floor")
    view = open_share_modal(app, BOB, dm, answer)
    posts, answers = len(app.slack.calls_to("chat.postMessage")), _answers(app)
    assert submit(app, CAROL, view, "CGENERAL")["errors"]["channel"] == replies.NOT_YOURS_TO_SHARE
    gone = {**view, "private_metadata": json.dumps({"c": dm, "ts": "1700000000.000901"})}
    assert submit(app, BOB, gone, "CGENERAL")["errors"]["channel"] == replies.SHARE_GONE
    settle(app)
    assert len(app.slack.calls_to("chat.postMessage")) == posts
    assert _answers(app) == answers


def _answers(app: RunningApp) -> int:
    with app.services.home.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Answer)) or 0)


def test_a_private_question_is_counted_but_never_quoted_in_gaps(app: RunningApp) -> None:
    ask_privately(app, CAROL, "how do I expense a narwhal costume rental")
    responses = len(app.responses())
    app.command(actor(ADMIN), "gaps")
    wait_for(lambda: len(app.responses()) > responses)
    shown = blocks_text(app.responses()[-1]["blocks"])
    assert "narwhal" not in shown
    assert "asked in private channels or DMs" in shown


def test_help_tells_how_to_ask_privately(app: RunningApp) -> None:
    reply = json.loads(app.command(actor(BOB), "help").body)
    assert "`/lepton find --private <question>` (or `-p`)" in blocks_text(reply["blocks"])
    typo = json.loads(app.command(actor(BOB), "find --privte vpn").body)
    assert "Did you mean `--private`?" in blocks_text(typo["blocks"])


CONSOLE_SESSION = """/lepton find -p how do I deploy to kubernetes
press 9
dm how many sick days do I get
press 9
channel: nowhere
submit
channel: #general
submit
quit
"""


def test_the_console_shares_private_and_dm_answers(workdir: Path, tmp_path: Path) -> None:
    script = tmp_path / "share.txt"
    script.write_text(CONSOLE_SESSION)
    result = run_lepton("console", "--script", str(script), cwd=workdir)
    assert result.returncode == 0, result.stderr
    turns = result.stdout.split("you> ")[1:]
    asked, shared, dm, pressed, _, unknown, _, submitted = turns[:8]
    assert asked.startswith("/lepton find -p") and "(only visible to you)" in asked
    assert "[9] Share to channel" in asked
    assert "#general  lepton:" in shared and "Shared by @alice from a question" in shared
    assert "[9] Share to channel" in dm
    assert "[modal: Share answer]" in pressed
    assert replies.PICK_A_CHANNEL in unknown
    assert "Shared by @alice from a question" in submitted
    assert "I shared the answer in #general." in submitted
    assert "Traceback" not in result.stderr
