"""Answer messages: what people see, and what nobody can smuggle into them."""

from __future__ import annotations

import json

from handlers.knowledge.blocks import (
    MORE_RESULTS,
    RATE_DOWN,
    RATE_UP,
    SECTION_MARK,
    WHY_THESE,
    answer_blocks,
    fallback_text,
    why_text,
)
from handlers.plumbing.blocks import escape, link
from indexer.search.query import parse_query
from indexer.search.ranker import RankedSnippet, Ranking


def result(n: int, **fields: object) -> RankedSnippet:
    base: dict[str, object] = {
        "snippet_id": 100 + n,
        "document_id": n,
        "title": f"Doc {n}",
        "section": "Setup",
        "text": "word " * 200,
        "url": f"https://wiki.example/doc-{n}",
        "source": f"/kb/{n}.md",
        "tags": ["ops"],
        "topic": "ops",
        "score": 0.8,
        "dense": 0.65,
        "lexical": 1.0,
        "phrase": 0.5,
        "cf": 0.0,
        "prior": 0.0,
    }
    base.update(fields)
    return RankedSnippet(**base)  # type: ignore[arg-type]


def ranking(results: list[RankedSnippet], **flags: bool) -> Ranking:
    return Ranking(
        query=parse_query("q"),
        results=results,
        confident=flags.get("confident", True),
        listing=flags.get("listing", False),
        has_more=flags.get("has_more", False),
    )


def all_text(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_untrusted_text_cannot_ping_mention_or_link() -> None:
    hostile = "<!channel> <!here|here> @here @Everyone <@U0BOSS> <https://evil.example|login> & co"
    safe = escape(hostile)
    assert "<" not in safe and ">" not in safe
    assert "@here" not in safe.lower().replace("\u200d", "X")
    assert "@everyone" not in safe.lower()
    assert "&amp; co" in safe


def test_only_http_links_become_links_and_cannot_break_out() -> None:
    assert link("javascript:alert(1)", "x") == "x"
    assert link(None, "<b>") == "&lt;b&gt;"
    made = link("https://wiki.example/a>b|c", "Title | with pipe")
    assert made.startswith("<https://wiki.example/a%3Eb%7Cc|")
    assert made.count("|") == 1 and made.count(">") == 1


def test_answer_has_results_with_rating_buttons_and_follow_ups() -> None:
    results = [result(n) for n in range(5)]
    blocks = answer_blocks(ranking(results, has_more=True), "deploy", offset=0)
    assert blocks[0]["text"]["text"] == "Here is what I found for _deploy_:"
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    rate_values = [
        (b["action_id"], b["value"]) for b in buttons if b["action_id"] in (RATE_UP, RATE_DOWN)
    ]
    assert rate_values == [(a, str(100 + n)) for n in range(5) for a in (RATE_UP, RATE_DOWN)]
    follow = {b["action_id"]: b["value"] for b in buttons}
    assert follow[MORE_RESULTS] == "5" and WHY_THESE in follow
    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(s) <= 3000 for s in sections)
    assert f"<https://wiki.example/doc-0|Doc 0> {SECTION_MARK} Setup" in sections[1]
    assert "strong match" in all_text(blocks)


def test_weak_and_empty_answers_say_so() -> None:
    weak = answer_blocks(ranking([result(1, dense=0.2)], confident=False), "banana bread")
    assert weak[0]["text"]["text"].startswith("I found nothing strong for _banana bread_")
    assert "possible match" in all_text(weak)
    empty = answer_blocks(ranking([], confident=False), "<!channel>")
    assert "&lt;!channel&gt;" in empty[0]["text"]["text"]
    assert len(empty) == 1


def test_documents_cannot_inject_through_titles_sections_or_tags() -> None:
    evil = result(
        1,
        title="<!channel> urgent",
        section="<@U0BOSS>",
        tags=["<https://x|y>"],
        text="@here please <https://phish.example|reset your password>",
    )
    text = all_text(answer_blocks(ranking([evil]), "q"))
    assert "<!channel>" not in text and "<@U0BOSS>" not in text
    assert "<https://phish" not in text and "<https://x" not in text
    assert "@here" not in text
    assert "<!channel>" not in fallback_text(ranking([evil]), "q")
    assert "&lt;!channel&gt;" in why_text(ranking([evil]))


def test_a_link_shows_where_it_really_goes() -> None:
    """Anyone can `/lepton add` a note titled "HR portal" linking elsewhere: the answer names
    the host, in ASCII, so a look-alike host shows as what it is."""
    planted = result(1, title="HR portal", url="https://hr-portal.evil.example/login")
    lookalike = result(2, title="Payroll", url="https://payr\u043ell.example/")  # a Cyrillic o
    text = all_text(answer_blocks(ranking([planted, lookalike]), "hr"))
    assert "on hr-portal.evil.example" in text
    assert "on xn--payrll-" in text


def test_a_file_without_a_url_never_shows_the_servers_folders() -> None:
    local = result(1, url=None, source="/srv/lepton/knowledge/ops/vpn-setup.md")
    text = all_text(answer_blocks(ranking([local]), "vpn"))
    assert "source: ops/vpn-setup.md" in text
    assert "/srv/lepton" not in text
