"""The local try-out: a terminal prompt over the real search pipeline.

This first version answers questions only (`/lepton find ...`, `@lepton ...` or plain text);
the Slack flows (reactions, buttons, surveys, App Home) join it when the Slack app lands, and
until then it says so rather than pretending.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from indexer.questions import Asked, Questions
from indexer.ranker import Ranking

PROMPT = "you> "
HELP = """Ask anything, e.g. `/lepton find tensorflow 2.0` or `how do I deploy to k8s?`.
Commands: /lepton find <query>, /lepton help, quit."""
NOT_YET = (
    "only questions work in this version of the console; reactions, buttons, surveys "
    "and the App Home arrive with the Slack app."
)


CONSOLE_USER = "UCONSOLE"


def render(ranking: Ranking) -> list[str]:
    results = ranking.results
    if not results:
        return ["lepton> I found nothing for that. Try other words."]
    if ranking.listing:
        lines = ["lepton> Snippets matching your filters:"]
    elif ranking.confident:
        lines = ["lepton> Here is what I found:"]
    else:
        lines = ["lepton> I found nothing strong. The closest weak matches:"]
    for rank, result in enumerate(results, start=1):
        heading = f"{result.title} > {result.section}" if result.section else result.title
        excerpt = " ".join(result.text.split())
        lines.append(f"  {rank}. {heading}")
        lines.append(f"     {excerpt[:160]}{'…' if len(excerpt) > 160 else ''}")
        lines.append(f"     {result.link}")
    return lines


def answer(line: str, questions: Questions) -> list[str] | None:
    """The reply to one input line; None means the session should end."""
    text = line.strip()
    if text.lower() in {"quit", "exit", ":q"}:
        return None
    if not text:
        return []
    command = re.match(r"^/lepton(?:\s+find\b|\s+|$)|^@lepton\b", text, re.IGNORECASE)
    if command:
        text = text[command.end() :].strip()
        if text.lower() == "help" or (command.group(0).lower() == "/lepton" and not text):
            return HELP.splitlines()
    elif text.startswith(("/", ":")):
        return [f"lepton> {NOT_YET}"]
    if not text:
        return ["lepton> What should I look for? Try `/lepton find tensorflow 2.0`."]
    ranking, _ = questions.ask(text, Asked(surface="console", user_id=CONSOLE_USER))
    return render(ranking)


def run(
    questions: Questions, lines: Iterable[str], echo: Callable[[str], None], show_input: bool
) -> None:
    echo(HELP)
    for line in lines:
        if show_input:
            echo(f"{PROMPT}{line.rstrip()}")
        reply = answer(line, questions)
        if reply is None:
            break
        for out in reply:
            echo(out)
