"""Two workspaces installed through the real OAuth flow on one Lepton, played as an attacker in
workspace Bravo would: nothing of Acme's knowledge, votes, questions, surveys, training or
admin rights reaches Bravo, and the other way round; each workspace's invitations and nudges go
out with its own token, once.

Acme (T0LEPTON) holds the example knowledge base; Bravo (T0BRAVO) starts empty. Both are served
by one simulated Slack that answers each bot token as that token's workspace.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import migrate
from bot.services import Services
from bot.settings import load_settings
from bot.simulated_slack.payloads import (
    Actor,
    block_action,
    command,
    event,
    message_shortcut,
    view_submission,
)
from bot.simulated_slack.server import LocalSlack
from bot.simulated_slack.workspace import Workspace
from bot.worker import tick
from indexer.ingest.loaders.files import load_tree
from models import AuditLog, Document, QueryLog, Rating, Snippet, create_db_engine
from models.workspace import ALL_WORKSPACES
from models.workspace import Workspace as Key
from people.surveys.definitions import load_surveys
from tests.conftest import fresh_database
from tests.helpers import run_lepton
from tests.oauth_flow import CLIENT_ID, CLIENT_SECRET, connect_oauth, install
from tests.slack_app import (
    EXAMPLES,
    SECRET,
    TEAM,
    TOKEN_KEY,
    RunningApp,
    blocks_text,
    running_app,
    settle,
    wait_for,
)

BRAVO = "T0BRAVO"
TOKEN_A = "xoxb-1111-2222-acmeinstalledtoken"
TOKEN_B = "xoxb-3333-4444-bravoinstalledtoken"
ALICE = Actor(TEAM, "UALICE01", "alice", "CGENERAL")  # Acme admin
AMY = Actor(TEAM, "UAMY0001", "amy", "CGENERAL")
BOB = Actor(BRAVO, "UBOB0001", "bob", "CBRAVO", team_domain="bravo")  # Bravo owner
BEN = Actor(BRAVO, "UBEN0001", "ben", "CBRAVO", team_domain="bravo")
BRAVO_NOTE = "Zephyrine upgrade: Bravo moves TensorFlow 2.0 jobs with the zephyrine runner."
ACME_SECRET = "The quokkaflux rotation code for the Acme lab door is kept with facilities."
SURVEYS = """
surveys:
  - key: pulse
    title: Weekly pulse
    questions:
      - id: workload
        text: My workload is manageable
    channels: ["#general"]
    send_time: "09:00"
    window: 14d
    remind_before: null
    anonymity_threshold: 3
"""


@dataclass
class Two:
    app: RunningApp
    acme: Workspace
    bravo: Workspace
    url: str
    data_dir: Path

    def lepton(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The `lepton` command on this app's database, as its operator would run it."""
        env = {
            "DATABASE_URL": self.url,
            "LEPTON_DATA_DIR": str(self.data_dir),
            "SLACK_CLIENT_ID": CLIENT_ID,
            "SLACK_CLIENT_SECRET": CLIENT_SECRET,
            "SLACK_SIGNING_SECRET": SECRET,
            "LEPTON_TOKEN_KEY": TOKEN_KEY,
            "SLACK_API_URL": self.app.slack.base_url,
        }
        return run_lepton(*args, env=env, cwd=self.data_dir)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def two(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[Two]:
    surveys = tmp_path_factory.mktemp("surveys") / "surveys.yml"
    surveys.write_text(SURVEYS, encoding="utf-8")
    with fresh_database(request.param, request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        data_dir = tmp_path_factory.mktemp("two")
        try:
            with running_app(
                engine,
                data_dir,
                embedder,
                slack_client_id=CLIENT_ID,
                slack_client_secret=CLIENT_SECRET,
                lepton_surveys=surveys,
                lepton_admins="T0LEPTON:UADMIN01",
            ) as running:
                acme = running.workspace
                acme.add_user(ALICE.user_id, "alice", is_admin=True, tz="UTC")
                acme.add_user(AMY.user_id, "amy", tz="UTC")
                acme.add_user("UADMIN01", "admin", tz="UTC")
                acme.add_channel("CGENERAL", "general", members=[ALICE.user_id, AMY.user_id])
                bravo = Workspace(
                    running.slack, team_id=BRAVO, team_name="Bravo", domain="bravo", token=TOKEN_B
                )
                bravo.add_user(BOB.user_id, "bob", is_owner=True, tz="UTC")
                bravo.add_user(BEN.user_id, "ben", tz="UTC")
                bravo.add_channel("CBRAVO", "general", members=[BOB.user_id, BEN.user_id])
                oauth = connect_oauth(running)
                assert install(oauth, TEAM, TOKEN_A).status == 200
                assert install(oauth, BRAVO, TOKEN_B, "Bravo", BOB.user_id).status == 200
                yield Two(running, acme, bravo, url, data_dir)
        finally:
            engine.dispose()


# Acting in a workspace


def slash(two: Two, ws: Workspace, who: Actor, text: str) -> str:
    """`/lepton <text>`; everything the person was told or shown in the channel afterwards."""
    app = two.app
    calls = len(app.slack.calls)
    request = command(
        who, text, ws.response_url(who.channel_id, who.user_id), ws.trigger_id(who.user_id)
    )
    assert app.send(request).status == 200
    wait_for(lambda: len(app.slack.calls) > calls)
    settle(app)
    return said_since(two, calls)


def said_since(two: Two, calls: int) -> str:
    """All text Lepton sent through Slack since `calls`: messages, ephemerals, responses."""
    texts = []
    for call in two.app.slack.calls[calls:]:
        if call.method in {"chat.postMessage", "chat.postEphemeral", "response_url"}:
            texts.append(str(call.params.get("text") or ""))
            blocks = call.params.get("blocks")
            texts.append(blocks_text(json.loads(blocks) if isinstance(blocks, str) else blocks))
        elif call.method == "views.publish":
            texts.append(blocks_text(call.params.get("view")))
    return "\n".join(texts)


def tokens_since(two: Two, calls: int, *methods: str) -> set[str]:
    return {
        str(c.headers.get("Authorization"))
        for c in two.app.slack.calls[calls:]
        if c.method in methods
    }


def send_event(two: Two, team: str, payload: dict[str, Any]) -> str:
    calls = len(two.app.slack.calls)
    assert two.app.send(event(team, payload)).status == 200
    settle(two.app)
    return said_since(two, calls)


def mention(two: Two, ws: Workspace, who: Actor, text: str) -> str:
    message = ws.post_user_message(who.channel_id, who.user_id, f"<@ULEPTONBOT> {text}")
    payload = {
        "type": "app_mention",
        "user": who.user_id,
        "text": message.text,
        "ts": message.ts,
        "channel": who.channel_id,
        "event_ts": message.ts,
    }
    return send_event(two, who.team_id, payload)


def direct_message(two: Two, ws: Workspace, who: Actor, text: str) -> str:
    dm = ws.dm_channel(who.user_id)
    message = ws.post_user_message(dm, who.user_id, text)
    payload = {
        "type": "message",
        "channel_type": "im",
        "user": who.user_id,
        "text": text,
        "ts": message.ts,
        "channel": dm,
        "event_ts": message.ts,
    }
    return send_event(two, who.team_id, payload)


def add_note(two: Two, ws: Workspace, who: Actor, title: str, text: str) -> None:
    slash(two, ws, who, "add")
    modal = ws.modals(who.user_id)[-1]
    values = {"title": title, "text": text, "tags": "", "link": "https://bravo.example/ml"}
    assert two.app.send(view_submission(who, modal.view, values)).status == 200
    dm = ws.dm_channel(who.user_id)
    wait_for(lambda: any("Saved to Lepton" in m.text for m in ws.messages(dm)))


def save_message(two: Two, ws: Workspace, who: Actor, text: str) -> None:
    posted = ws.post_user_message(who.channel_id, who.user_id, text)
    shortcut = message_shortcut(
        who,
        "save_to_lepton",
        {"type": "message", "user": who.user_id, "ts": posted.ts, "text": posted.text},
        ws.response_url(who.channel_id, who.user_id),
        ws.trigger_id(who.user_id),
    )
    assert two.app.send(shortcut).status == 200
    wait_for(lambda: ws.modals(who.user_id))
    modal = ws.modals(who.user_id)[-1]
    values = {"title": "Lab door code", "text": text, "tags": ""}
    assert two.app.send(view_submission(who, modal.view, values)).status == 200
    dm = ws.dm_channel(who.user_id)
    wait_for(lambda: any("Saved to Lepton" in m.text for m in ws.messages(dm)))


def rows(two: Two, model: Any, team: str) -> int:
    with two.app.services.all_sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(model)
                .where(model.team_id == team)
                .execution_options(**ALL_WORKSPACES)
            )
            or 0
        )


@pytest.fixture(scope="module")
def knowledge(two: Two) -> Two:
    """Bravo adds a note on TensorFlow; Acme saves a message only Acme may know."""
    add_note(two, two.bravo, BOB, "Zephyrine TensorFlow upgrade", BRAVO_NOTE)
    save_message(two, two.acme, ALICE, ACME_SECRET)
    return two


# Knowledge


def test_each_workspace_finds_only_its_own_knowledge_on_every_surface(knowledge: Two) -> None:
    two = knowledge
    in_bravo = [
        slash(two, two.bravo, BEN, "find tensorflow 2.0"),
        mention(two, two.bravo, BEN, "how do we move to tensorflow 2.0?"),
        direct_message(two, two.bravo, BEN, "tensorflow 2.0 migration"),
        slash(two, two.bravo, BEN, "find quokkaflux lab door code"),
        slash(two, two.bravo, BEN, "find source:slack"),
        slash(two, two.bravo, BEN, "who tensorflow"),
    ]
    assert "zephyrine" in in_bravo[0].lower(), "Bravo's own note answers Bravo"
    for said in in_bravo:
        assert "TensorFlow 2 Migration Guide" not in said
        assert "kept with facilities" not in said, "Acme's saved message never reaches Bravo"
        assert "<@UALICE01>" not in said
    in_acme = [
        slash(two, two.acme, AMY, "find tensorflow 2.0"),
        mention(two, two.acme, AMY, "how do we move to tensorflow 2.0?"),
        direct_message(two, two.acme, AMY, "tensorflow 2.0 zephyrine runner"),
        slash(two, two.acme, AMY, "find source:note"),
        slash(two, two.acme, AMY, "who zephyrine"),
    ]
    assert "TensorFlow 2 Migration Guide" in in_acme[0]
    for said in in_acme:
        assert "Bravo moves TensorFlow" not in said, "Bravo's note never reaches Acme"
        assert "bravo.example" not in said
        assert "<@UBOB0001>" not in said


def test_the_app_home_recommends_only_the_viewers_workspace(knowledge: Two) -> None:
    two = knowledge
    slash(two, two.acme, AMY, "find tensorflow 2.0")
    answer, snippet = latest_answer(two.acme, "CGENERAL")
    press(two, two.acme, AMY, "rate_up", answer, snippet)
    for team in (TEAM, BRAVO):
        two.app.services.workspace(Key(team)).feedback.refresh()
    slash(two, two.bravo, BEN, "find zephyrine runner")
    acme_home = send_event(
        two, TEAM, {"type": "app_home_opened", "user": ALICE.user_id, "tab": "home"}
    )
    assert "TensorFlow" in acme_home, "Amy's vote recommends the guide to her colleagues"
    seen = send_event(two, BRAVO, {"type": "app_home_opened", "user": BEN.user_id, "tab": "home"})
    assert "Your recent searches" in seen and "zephyrine runner" in seen
    assert "TensorFlow 2 Migration Guide" not in seen and "kept with facilities" not in seen
    assert "Nothing yet" in seen, "Acme's votes recommend nothing in Bravo"


def press(two: Two, ws: Workspace, who: Actor, action: str, answer: Any, snippet: str) -> None:
    """`who` presses a rating button of `answer` (in Acme's #general) for `snippet`."""
    pressed = block_action(
        who,
        {"action_id": action, "value": snippet},
        {"type": "message", "channel_id": "CGENERAL", "message_ts": answer.ts},
        ws.response_url(who.channel_id, who.user_id),
        {"ts": answer.ts, "blocks": answer.blocks},
    )
    assert two.app.send(pressed).status == 200
    settle(two.app)


def latest_answer(ws: Workspace, channel: str) -> tuple[Any, str]:
    """Lepton's latest answer in `channel`, and the snippet id its first rating button carries."""
    for message in reversed(ws.messages(channel)):
        for block in message.blocks or []:
            for element in block.get("elements", []):
                if element.get("action_id") == "rate_down":
                    return message, str(element["value"])
    raise AssertionError(f"no answer with rating buttons in {channel}")


def test_votes_in_one_workspace_never_move_the_other(knowledge: Two) -> None:
    two = knowledge
    acme_answer, snippet = latest_answer(two.acme, "CGENERAL")
    acme_ratings = rows(two, Rating, TEAM)
    reaction = {
        "type": "reaction_added",
        "user": BEN.user_id,
        "reaction": "-1",
        "item": {"type": "message", "channel": "CGENERAL", "ts": acme_answer.ts},
        "event_ts": "1700000001.000100",
    }
    send_event(two, BRAVO, reaction)
    press(two, two.bravo, BEN, "rate_down", acme_answer, snippet)
    assert rows(two, Rating, TEAM) == acme_ratings, "Bravo's votes are not Acme's"
    with two.app.services.all_sessions() as session:
        crossed = session.scalar(
            select(func.count())
            .select_from(Rating)
            .join(Snippet, Snippet.id == Rating.snippet_id)
            .where(Snippet.team_id != Rating.team_id)
            .execution_options(**ALL_WORKSPACES)
        )
    assert crossed == 0, "no rating points at another workspace's snippet"


# Admin rights


def test_admin_rights_and_audit_stay_in_their_workspace(knowledge: Two) -> None:
    two = knowledge
    slash(two, two.acme, AMY, "find how do I expense a unicorn costume rental")
    bravo_stats = slash(two, two.bravo, BOB, "stats")
    bravo_gaps = slash(two, two.bravo, BOB, "gaps")
    assert "unicorn" not in bravo_gaps, "Acme's unanswered questions are Acme's"
    assert "for Lepton admins" not in bravo_stats, "Bravo's owner is admin in Bravo"
    acme_gaps = slash(two, two.acme, ALICE, "gaps")
    assert "unicorn" in acme_gaps
    assert "for Lepton admins" in slash(two, two.acme, AMY, "stats")
    listed = slash(two, two.acme, Actor(TEAM, "UADMIN01", "admin", "CGENERAL"), "stats")
    assert "for Lepton admins" not in listed, "a TEAM:USER entry of LEPTON_ADMINS counts there"
    foreign = slash(two, two.bravo, BOB, "train assign <@UAMY0001> security-basics")
    assert "in this workspace" in foreign, "a person of another workspace is refused clearly"
    with two.app.services.all_sessions() as session:
        audits = session.execute(
            select(AuditLog.team_id, AuditLog.action)
            .where(AuditLog.actor == BOB.user_id)
            .execution_options(**ALL_WORKSPACES)
        ).all()
    assert audits and {team for team, _ in audits} == {BRAVO}


def test_every_question_and_document_is_recorded_under_its_workspace(knowledge: Two) -> None:
    two = knowledge
    assert rows(two, Document, BRAVO) == 1
    assert rows(two, Document, TEAM) > 10
    with two.app.services.all_sessions() as session:
        bravo_questions = session.scalars(
            select(QueryLog.query)
            .where(QueryLog.team_id == BRAVO)
            .execution_options(**ALL_WORKSPACES)
        ).all()
    assert bravo_questions and not any("unicorn" in q for q in bravo_questions)


# Surveys and training


def weekday_noon() -> datetime:
    day = datetime.now(UTC).date()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, time(12), UTC)


def test_surveys_go_out_in_each_workspace_with_its_own_token_once(knowledge: Two) -> None:
    two = knowledge
    services = two.app.services
    now = weekday_noon()
    for team in (TEAM, BRAVO):
        services.workspace(Key(team)).surveys.start("pulse", now)
    calls = len(two.app.slack.calls)
    tick(services, now)
    tick(services, now + timedelta(minutes=1))
    settle(two.app)
    posted = [c for c in two.app.slack.calls[calls:] if c.method == "chat.postMessage"]
    by_token: dict[str, list[str]] = {}
    for call in posted:
        by_token.setdefault(str(call.headers.get("Authorization")), []).append(
            str(call.params.get("channel"))
        )
    acme_dms = sorted(by_token.get(f"Bearer {TOKEN_A}", []))
    bravo_dms = sorted(by_token.get(f"Bearer {TOKEN_B}", []))
    assert acme_dms == sorted([two.acme.dm_channel(u) for u in (ALICE.user_id, AMY.user_id)])
    assert bravo_dms == sorted([two.bravo.dm_channel(u) for u in (BOB.user_id, BEN.user_id)])
    assert set(by_token) == {f"Bearer {TOKEN_A}", f"Bearer {TOKEN_B}"}


def test_a_survey_file_can_name_the_workspaces_a_survey_runs_in(tmp_path: Path) -> None:
    path = tmp_path / "s.yml"
    path.write_text(
        SURVEYS.replace(
            "    anonymity_threshold: 3", "    anonymity_threshold: 3\n    workspaces: [T0BRAVO]"
        ),
        encoding="utf-8",
    )
    (only,) = load_surveys(path)
    assert only.runs_in(BRAVO) and not only.runs_in(TEAM)


# Operating several workspaces


def test_the_command_line_asks_which_workspace_when_several_are_installed(
    knowledge: Two, tmp_path: Path
) -> None:
    two = knowledge
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "bravo-oncall.md").write_text(
        "# Bravo on-call\n\nBravo's pager rotation changes on Mondays at 10:00.\n",
        encoding="utf-8",
    )
    unnamed = two.lepton("ingest", str(notes))
    assert unnamed.returncode != 0
    assert "several workspaces have installed Lepton" in unnamed.stderr
    assert "--workspace" in unnamed.stderr
    assert rows(two, Document, BRAVO) == 1, "nothing was ingested anywhere"
    named = two.lepton("--workspace", BRAVO, "ingest", str(notes))
    assert named.returncode == 0, named.stderr
    assert f"Ingesting into workspace {BRAVO}" in named.stdout
    assert rows(two, Document, BRAVO) == 2
    listed = two.lepton("workspace", "list")
    assert f"{BRAVO}  installed  2 documents" in listed.stdout
    assert f"{TEAM}  installed" in listed.stdout


def test_an_uninstalled_workspace_gets_nothing_more_and_can_be_deleted_whole(
    knowledge: Two,
) -> None:
    two = knowledge
    refused = two.lepton("workspace", "delete", BRAVO, "--yes")
    assert refused.returncode != 0 and "still installed" in refused.stderr
    assert two.app.send(event(BRAVO, {"type": "app_uninstalled"})).status == 200
    wait_for(lambda: BRAVO not in two.app.services.installed_teams())
    assert rows(two, Document, BRAVO) == 2, "uninstalling keeps the workspace's data"
    bravo = two.app.services.workspace(Key(BRAVO)).surveys
    bravo.close("pulse", weekday_noon())
    bravo.start("pulse", weekday_noon())  # due now: a worker still serving Bravo would send
    calls = len(two.app.slack.calls)
    tick(two.app.services, weekday_noon() + timedelta(minutes=1))
    settle(two.app)
    assert f"Bearer {TOKEN_B}" not in tokens_since(two, calls, "chat.postMessage")
    acme_documents = rows(two, Document, TEAM)
    deleted = two.lepton("workspace", "delete", BRAVO, "--yes")
    assert deleted.returncode == 0, deleted.stderr
    for model in (Document, Snippet, Rating, QueryLog):
        assert rows(two, model, BRAVO) == 0
    assert rows(two, Document, TEAM) == acme_documents, "Acme keeps everything"
    assert not (two.data_dir / "workspaces" / BRAVO).exists()
    with two.app.services.all_sessions() as session:
        trail = session.scalars(
            select(AuditLog.action)
            .where(AuditLog.team_id == BRAVO)
            .execution_options(**ALL_WORKSPACES)
        ).all()
    assert trail == ["workspace.delete"], "the deletion itself is on record"


# One workspace, as before


def test_knowledge_loaded_before_the_bot_token_becomes_its_workspaces(
    engine: Any, tmp_path: Path, embedder: Any
) -> None:
    """Someone tries Lepton in the console, then sets SLACK_BOT_TOKEN: their knowledge is the
    token's workspace's (auth.test names it), and is never merged into a workspace with data."""

    migrate.upgrade(engine)
    url = engine.url.render_as_string(hide_password=False)
    local = Services(load_settings(None, database_url=url, lepton_data_dir=tmp_path), engine)
    local.__dict__["embedder"] = embedder
    assert local.home.team == Key("T0LEPTON")
    local.home.ingestor.ingest(load_tree(EXAMPLES / "ops"))
    with LocalSlack() as slack:
        Workspace(slack, team_id="T0REAL", token="xoxb-real-token")
        settings = load_settings(
            None,
            database_url=url,
            lepton_data_dir=tmp_path,
            slack_bot_token="xoxb-real-token",
            slack_api_url=slack.base_url,
        )
        served = Services(settings, engine)
        served.__dict__["embedder"] = embedder
        assert served.home.team == Key("T0REAL")
        assert served.home.ranker.rank("deploy to kubernetes").results, "the console's knowledge"
        assert rows_of(engine, "T0LEPTON") == 0
        again = Services(local.settings, engine)
        again.__dict__["embedder"] = embedder
        again.home.ingestor.ingest(load_tree(EXAMPLES / "people"))
        console_rows = rows_of(engine, "T0LEPTON")
        restarted = Services(settings, engine)
        assert restarted.home.team == Key("T0REAL")
        assert rows_of(engine, "T0LEPTON") == console_rows, "never merged into T0REAL's data"


def rows_of(engine: Any, team: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(select(func.count()).select_from(Document).where(Document.team_id == team))
            or 0
        )
