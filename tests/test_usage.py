"""Admin insights on both real databases: usage per day, ratings, top snippets, open gaps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import migrate as migrations
from handlers.knowledge.replies import gaps_blocks
from indexer.insights.usage import DayUsage, open_gaps, usage_report
from models import Document, KnowledgeGap, QueryLog, Rating, Snippet
from tests.helpers import local_sessions

pytestmark = pytest.mark.both_backends

NOW = datetime(2024, 5, 20, 15, 30, tzinfo=UTC)


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    migrations.upgrade(engine)
    yield local_sessions(engine)


def _asked(
    session: Session,
    at: datetime,
    answered: bool,
    query: str = "question",
    user: str = "U1",
    gap_id: int | None = None,
) -> None:
    session.add(
        QueryLog(
            user_id=user,
            surface="command",
            query=query,
            answered=answered,
            created_at=at,
            gap_id=gap_id,
        )
    )


def _snippets(session: Session, titles: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for n, title in enumerate(titles):
        document = Document(
            source_type="markdown",
            source=f"kb/{n}.md",
            title=title,
            url=f"https://wiki.example.com/{n}" if n % 2 == 0 else None,
            content_hash=str(n),
        )
        snippet = Snippet(document=document, ordinal=0, title=title, text=title, content_hash="h")
        session.add(snippet)
        session.flush()
        ids[title] = snippet.id
    return ids


def _vote(session: Session, user: str, snippet_id: int, value: int, at: datetime) -> None:
    session.add(
        Rating(
            user_id=user,
            snippet_id=snippet_id,
            value=value,
            origin="button",
            created_at=at,
            updated_at=at,
        )
    )


def test_every_day_is_listed_and_quiet_days_are_zero(sessions: sessionmaker[Session]) -> None:
    plus_three = timezone(timedelta(hours=3))
    with sessions() as session, session.begin():
        _asked(session, datetime(2024, 5, 13, 23, 59, 59, tzinfo=UTC), True)  # before the window
        _asked(session, datetime(2024, 5, 14, 0, 0, tzinfo=UTC), True)  # first day, first second
        _asked(session, datetime(2024, 5, 18, 8, 0, tzinfo=UTC), False)
        _asked(session, datetime(2024, 5, 19, 1, 0, tzinfo=plus_three), True)  # 18th in UTC
        _asked(session, datetime(2024, 5, 20, 9, 0, tzinfo=UTC), True)
        _asked(session, datetime(2024, 5, 20, 10, 0, tzinfo=UTC), False)
    report = usage_report(sessions, days=7, now=NOW)
    assert (report.since, report.until) == (date(2024, 5, 14), date(2024, 5, 20))
    assert report.days == (
        DayUsage(date(2024, 5, 14), 1, 1),
        DayUsage(date(2024, 5, 15), 0, 0),
        DayUsage(date(2024, 5, 16), 0, 0),
        DayUsage(date(2024, 5, 17), 0, 0),
        DayUsage(date(2024, 5, 18), 2, 1),
        DayUsage(date(2024, 5, 19), 0, 0),
        DayUsage(date(2024, 5, 20), 2, 1),
    )
    assert (report.total_questions, report.answered) == (5, 3)
    assert report.answered_share == pytest.approx(0.6)
    assert len(usage_report(sessions, now=NOW).days) == 14


def test_an_unused_bot_reports_zeros_and_no_share(sessions: sessionmaker[Session]) -> None:
    report = usage_report(sessions, days=3, now=NOW)
    assert [d.questions for d in report.days] == [0, 0, 0]
    assert report.total_questions == 0 and report.answered_share is None
    assert (report.ratings_up, report.ratings_down, report.raters) == (0, 0, 0)
    assert report.top_snippets == ()
    with pytest.raises(ValueError, match="aware"):
        usage_report(sessions, now=datetime(2024, 5, 20, 12, 0))


def test_ratings_in_the_window_and_top_rated_snippets(sessions: sessionmaker[Session]) -> None:
    recent, old = NOW - timedelta(days=1), NOW - timedelta(days=60)
    with sessions() as session, session.begin():
        ids = _snippets(session, ["Deploys", "VPN", "Expenses", "Laptops", "Printers"])
        for user in ("U1", "U2", "U3"):
            _vote(session, user, ids["Deploys"], 1, recent)
        _vote(session, "U4", ids["Deploys"], -1, recent)  # net 2, 3 up
        _vote(session, "U1", ids["VPN"], 1, old)
        _vote(session, "U2", ids["VPN"], 1, old)  # net 2, 2 up: after Deploys
        _vote(session, "U1", ids["Expenses"], 1, recent)
        _vote(session, "U2", ids["Expenses"], -1, recent)  # net 0: not top rated
        _vote(session, "U3", ids["Laptops"], -1, recent)  # net -1
        _vote(session, "U5", ids["Printers"], 1, old)  # net 1
    report = usage_report(sessions, days=14, now=NOW)
    assert (report.ratings_up, report.ratings_down, report.raters) == (4, 3, 4)
    top = [(t.title, t.up, t.down) for t in report.top_snippets]
    assert top == [("Deploys", 3, 1), ("VPN", 2, 0), ("Printers", 1, 0)]
    first = report.top_snippets[0]
    assert first.snippet_id == ids["Deploys"]
    assert (first.source, first.url) == ("kb/0.md", "https://wiki.example.com/0")
    assert report.top_snippets[1].link == "kb/1.md", "without a URL, the source is the link"
    assert len(usage_report(sessions, now=NOW, top=1).top_snippets) == 1


def test_open_gaps_most_asked_first_with_distinct_recent_examples(
    sessions: sessionmaker[Session],
) -> None:
    def gap(label: str, count: int, days_ago: float, resolved: bool = False) -> KnowledgeGap:
        seen = NOW - timedelta(days=days_ago)
        return KnowledgeGap(
            label=label,
            question_count=count,
            first_seen_at=seen - timedelta(days=1),
            last_seen_at=seen,
            resolved_at=seen if resolved else None,
        )

    with sessions() as session, session.begin():
        gaps = {
            "vpn": gap("vpn on linux", 9, 10),
            "parking": gap("parking permit", 5, 2),
            "gym": gap("gym membership", 5, 1),
            "old": gap("fax machine", 20, 40),
            "done": gap("wifi password", 30, 1, resolved=True),
        }
        session.add_all(gaps.values())
        session.flush()
        vpn = gaps["vpn"].id
        asked = [
            "VPN on Linux?",
            "how to set up the vpn",
            "vpn   on linux?",
            "wireguard config for linux",
            "linux vpn client",
        ]
        for n, query in enumerate(asked):
            _asked(session, NOW - timedelta(days=12, hours=-n), False, query, gap_id=vpn)
        _asked(
            session, NOW - timedelta(days=2), False, "Parking permit?", gap_id=gaps["parking"].id
        )
        ids = {name: g.id for name, g in gaps.items()}

    found = open_gaps(sessions, now=NOW)
    assert [g.id for g in found] == [ids["vpn"], ids["gym"], ids["parking"]]
    assert found[0].label == "vpn on linux" and found[0].question_count == 9
    assert found[0].last_seen_at == NOW - timedelta(days=10)
    assert found[0].examples == (
        "linux vpn client",
        "wireguard config for linux",
        "vpn on linux?",
    )
    assert found[1].examples == ()
    assert found[2].examples == ("Parking permit?",)
    assert [g.id for g in open_gaps(sessions, limit=1, now=NOW)] == [ids["vpn"]]
    assert [g.id for g in open_gaps(sessions, since_days=5, now=NOW)] == [
        ids["gym"],
        ids["parking"],
    ]
    assert ids["old"] in {g.id for g in open_gaps(sessions, since_days=60, now=NOW)}


def test_gaps_quote_only_questions_asked_where_the_admin_may_read_them(
    sessions: sessionmaker[Session],
) -> None:
    """A question asked in a DM or a private channel is counted, never quoted: not as an example
    and not as the gap's heading, even when it was the first one asked."""
    with sessions() as session, session.begin():
        gap = KnowledgeGap(label="kumquat offsite budget", question_count=3, last_seen_at=NOW)
        private_only = KnowledgeGap(label="quinoa salary band", question_count=1, last_seen_at=NOW)
        session.add_all([gap, private_only])
        session.flush()
        for n, (query, channel) in enumerate(
            [
                ("kumquat offsite budget", "CPRIVATE"),
                ("who pays the kumquat offsite?", "D0DM"),
                ("kumquat offsite expenses", "CPUBLIC"),
            ]
        ):
            session.add(
                QueryLog(
                    user_id="U1",
                    channel_id=channel,
                    surface="command",
                    query=query,
                    created_at=NOW - timedelta(hours=3 - n),
                    gap_id=gap.id,
                )
            )
        session.add(
            QueryLog(
                user_id="U2",
                channel_id="D0DM",
                surface="dm",
                query="quinoa salary band for my manager",
                created_at=NOW,
                gap_id=private_only.id,
            )
        )
    found = {
        g.question_count: g for g in open_gaps(sessions, now=NOW, quotable=lambda c: c == "CPUBLIC")
    }
    shown = found[3]
    assert shown.heading == "kumquat offsite expenses"
    assert shown.examples == ("kumquat offsite expenses",) and shown.withheld == 2
    assert found[1].heading is None and found[1].examples == () and found[1].withheld == 1
    text = all_blocks_text(gaps_blocks(list(found.values())))
    assert "quinoa" not in text and "who pays" not in text and "kumquat offsite budget" not in text
    assert "asked in private channels or DMs" in text and "2 asked privately" in text


def test_top_rated_snippets_of_a_private_channel_show_only_to_its_members(
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session, session.begin():
        ids = _snippets(session, ["Board deck password", "Printer setup"])
        secret = session.get_one(Snippet, ids["Board deck password"])
        secret.visibility, secret.channel_id = "channel", "CBOARD"
        for user in ("U1", "U2"):
            _vote(session, user, ids["Board deck password"], 1, NOW)
        _vote(session, "U1", ids["Printer setup"], 1, NOW)
    outsider = [s.title for s in usage_report(sessions, now=NOW).top_snippets]
    member = [
        s.title
        for s in usage_report(sessions, now=NOW, channels=frozenset({"CBOARD"})).top_snippets
    ]
    assert outsider == ["Printer setup"]
    assert member == ["Board deck password", "Printer setup"]


def all_blocks_text(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)
