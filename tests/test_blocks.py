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
    confidence_cues,
    fallback_text,
    why_text,
)
from handlers.plumbing.blocks import escape, link
from indexer.answers.compose import Composed, Passage, Quote
from indexer.answers.passages import units
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


def shown(result_: RankedSnippet) -> str:
    """The result's section text, as Slack renders it."""
    blocks = answer_blocks(ranking([result_]), "q")
    return str(blocks[1]["text"]["text"])  # type: ignore[index]


def test_markdown_reaches_slack_as_mrkdwn_with_code_blocks_intact() -> None:
    text = (
        "Run **make dev** first, see [the guide](https://wiki.example/dev?a=1&b=2).\n\n"
        "```bash\n# start local Postgres 16\nmake db-up\nalembic upgrade head\n```\n\n"
        "1. Clone the repo.\n2. Run `make setup`.\n   - then `make dev`\n"
    )
    body = shown(result(1, text=text))
    assert "Run *make dev* first" in body and "**" not in body
    assert "<https://wiki.example/dev?a=1&amp;b=2|the guide>" in body
    assert "```\n# start local Postgres 16\nmake db-up\nalembic upgrade head\n```" in body, (
        "a comment line in a code block must not swallow the commands after it"
    )
    assert "1. Clone the repo.\n2. Run `make setup`.\n    • then `make dev`" in body


def test_a_table_shows_each_row_under_its_headers_not_pipes() -> None:
    text = "| Period | Pay |\n|---|---|\n| January | 100 EUR |\n| February | 200 EUR |\n"
    body = shown(result(1, text=text))
    assert "• Period: January; Pay: 100 EUR" in body
    assert "• Period: February; Pay: 200 EUR" in body
    assert "|---|" not in body and "| Period |" not in body


def test_a_slack_thread_shows_who_answered_not_the_question_again() -> None:
    thread = result(
        1,
        source_type="slack_thread",
        title="How do I get kubectl access?",
        text="Priya Nair: How do I get kubectl access to staging?\n"
        "Maria Santos: Request the k8s-staging-viewer role in the access portal.\n"
        "Priya Nair: Thanks, that worked!",
    )
    body = shown(thread)
    assert "*Maria Santos:* Request the k8s-staging-viewer role" in body
    assert "How do I get kubectl access to staging?" not in body


def test_a_long_passage_stops_at_a_whole_unit_and_closes_its_code_block() -> None:
    code = "```\n" + "\n".join(f"step {n} --with-a-long-flag" for n in range(60)) + "\n```"
    body = shown(result(1, text=f"Short intro sentence here.\n\n{code}\n\nA closing paragraph."))
    assert body.count("```") % 2 == 0, "an open code block would swallow the buttons' text"
    assert "A closing paragraph." not in body
    assert len(body) < 700


def test_confidence_labels_never_contradict_the_order() -> None:
    """The second result is closer in meaning than the first, but ranks below it: it must not
    be labelled a stronger match than the one above it."""
    results = [
        result(1, dense=0.5),
        result(2, dense=0.7),
        result(3, dense=0.3),
        result(4, dense=0.62),
    ]
    assert confidence_cues(results) == [
        "good match",
        "good match",
        "possible match",
        "possible match",
    ]
    text = all_text(answer_blocks(ranking(results), "q"))
    assert "strong match" not in text


def test_the_answer_line_quotes_each_sentence_linked_to_where_it_comes_from() -> None:
    doc = result(1, title="API guidelines", url="https://wiki.example/api")
    thread = result(
        2,
        title="how long is v1 kept?",
        section="#help-infra",
        url="https://slack.example/archives/C1/p1",
        source_type="slack_thread",
        text="Priya Nair: how long is v1 kept?\nMaria Santos: Six months <!channel> @here.",
    )
    composed = Composed(
        quotes=(
            Quote(doc.snippet_id, "A deprecated version stays available for six months."),
            Quote(thread.snippet_id, "Six months <!channel> @here.", author="Maria Santos"),
        ),
        passages={},
    )
    blocks = answer_blocks(ranking([doc, thread]), "q", composed=composed)
    line = str(blocks[1]["text"]["text"])  # type: ignore[index]
    first, second = line.split("\n")
    assert first.startswith(">A deprecated version stays available for six months.")
    assert first.endswith("_— 1. <https://wiki.example/api|API guidelines>_")
    assert second.startswith(">Six months &lt;!channel&gt;")
    assert "@here" not in second.replace("@\u200dhere", ""), "a quote must not ping the channel"
    assert "Maria Santos in <https://slack.example/archives/C1/p1|#help-infra>" in second
    assert str(blocks[2]["text"]["text"]).startswith("*1.*"), "then the sources"  # type: ignore[index]


def test_no_answer_line_when_nothing_is_quoted() -> None:
    blocks = answer_blocks(ranking([result(1)]), "q", composed=Composed((), {}))
    assert str(blocks[1]["text"]["text"]).startswith("*1.*")  # type: ignore[index]


def test_a_result_shows_the_passage_chosen_around_its_best_sentence() -> None:
    text = "Opening paragraph about something else.\n\nThe answer is here, in the second one."
    r = result(1, text=text)
    chosen = Passage(tuple(units(text)[1:]), "The answer is here, in the second one.", True)
    blocks = answer_blocks(ranking([r]), "q", composed=Composed((), {r.snippet_id: chosen}))
    body = str(blocks[1]["text"]["text"])  # type: ignore[index]
    assert body.split("\n")[1:] == ["…", "The answer is here, in the second one."]
