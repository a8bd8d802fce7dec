"""`/lepton ...` text -> one command, decided in one place so every surface (Slack, console,
tests) agrees on what a line means and what a bad line gets told."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

MAX_QUERY_CHARS = 300
SUBCOMMANDS = ("find", "add", "help", "stats", "gaps", "who", "forget-me")
ADMIN_ONLY = frozenset({"stats", "gaps"})
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})
CLOSE_ENOUGH = 0.75


@dataclass(frozen=True)
class Command:
    """`name` is a subcommand, "help" or "empty"; `notice` is something the user should read
    before the answer (a cut query, a typo'd subcommand)."""

    name: str
    argument: str = ""
    notice: str | None = None

    @property
    def admin_only(self) -> bool:
        return self.name in ADMIN_ONLY


def parse_command(text: str) -> Command:
    """`find <q>` and bare `<q>` search; a lone word that looks like a mistyped subcommand gets
    help rather than a search for the typo."""
    words = " ".join(text.split())
    if not words:
        return Command("help")
    head, _, rest = words.partition(" ")
    name = head.lower()
    if name in HELP_WORDS:
        return Command("help")
    if name in SUBCOMMANDS:
        return _with_argument(name, rest)
    if not rest and (near := difflib.get_close_matches(name, SUBCOMMANDS, 1, CLOSE_ENOUGH)):
        return Command(
            "help", notice=f"`{head}` is not a Lepton command. Did you mean `{near[0]}`?"
        )
    if name.startswith("-"):
        return Command("help", notice=f"`{head}` is not a Lepton option.")
    return _with_argument("find", words)


def _with_argument(name: str, argument: str) -> Command:
    if name != "find":
        return Command(name, argument.strip())
    query = argument.strip()
    if not query:
        return Command("empty")
    if len(query) > MAX_QUERY_CHARS:
        cut = query[:MAX_QUERY_CHARS].rsplit(" ", 1)[0] or query[:MAX_QUERY_CHARS]
        return Command(
            "find",
            cut,
            notice=f"Your question was long, so I searched for its first {len(cut)} characters.",
        )
    return Command("find", query)
