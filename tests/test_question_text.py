"""The question in a mention or DM: Slack's markup removed, in time linear in the message."""

from __future__ import annotations

import time

import pytest

from handlers.knowledge.events import question_text

HOSTILE = [
    "<" * 40_000,
    "<@U" * 13_000,
    "<#" * 20_000,
    "<http://" * 5_000,
    "<@UA|" * 8_000,
    "<a|" * 13_000,
]


def test_slack_markup_becomes_the_plain_question() -> None:
    text = "<@ULEPTON> how do I join <#C0123|help-infra> and read <https://x.example/a|the guide>?"
    assert question_text(text) == "how do I join help-infra and read the guide?"
    assert question_text("see <https://x.example/a> &lt;now&gt;") == "see https://x.example/a <now>"


@pytest.mark.parametrize("message", HOSTILE, ids=lambda m: f"{m[:6]!r}x{len(m)}")
def test_a_hostile_40k_message_is_read_without_holding_up_everyone(message: str) -> None:
    """A message of Slack's maximum length built to make a backtracking pattern rescan the rest
    of the message from every `<`: quadratic patterns took seconds on the first of these while
    every other request waited. The bound here is generous; linear work takes milliseconds."""
    started = time.monotonic()
    question_text(message)
    assert time.monotonic() - started < 2.0, "reading one message must not take seconds"
