"""`/lepton ...` text -> one command, decided in one place so every surface (Slack, console,
tests) agrees on what a line means and what a bad line gets told."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

MAX_QUERY_CHARS = 300
SUBCOMMANDS = ("find", "add", "help", "stats", "gaps", "who", "forget-me", "survey", "train")
ADMIN_ONLY = frozenset({"stats", "gaps"})
HELP_WORDS = frozenset({"help", "-h", "--help", "?"})
PRIVATE_FLAGS = ("--private", "-p")
"""Before a question: answer only the asker (an ephemeral they can share to the channel)."""
CLOSE_ENOUGH = 0.75


@dataclass(frozen=True)
class Command:
    """`name` is a subcommand, "help" or "empty"; `notice` is something the user should read
    before the answer (a cut query, a typo'd subcommand)."""

    name: str
    argument: str = ""
    notice: str | None = None
    private: bool = False
    """`find --private` (or `-p`): only the asker sees the answer, until they share it."""

    @property
    def admin_only(self) -> bool:
        return self.name in ADMIN_ONLY


def parse_command(text: str) -> Command:
    """`find <q>` and bare `<q>` search (`--private` or `-p` first: only the asker sees the
    answer); a lone word that looks like a mistyped subcommand gets help rather than a search
    for the typo."""
    words = " ".join(text.split())
    if not words:
        return Command("help")
    head, _, rest = words.partition(" ")
    name = head.lower()
    if name in HELP_WORDS:
        return Command("help")
    if name in PRIVATE_FLAGS:
        return _with_argument("find", words)
    if name in SUBCOMMANDS:
        return _with_argument(name, rest)
    if not rest and (near := difflib.get_close_matches(name, SUBCOMMANDS, 1, CLOSE_ENOUGH)):
        return Command(
            "help", notice=f"`{head}` is not a Lepton command. Did you mean `{near[0]}`?"
        )
    if rest and (meant := _swapped(name)):
        return Command(
            "help",
            notice=f"`{head}` is not a Lepton command. Did you mean `/lepton {meant} {rest}`?",
        )
    if name.startswith("-"):
        return Command("help", notice=_not_an_option(head))
    return _with_argument("find", words)


def _near_flag(word: str) -> str | None:
    """The option `word` is a slip of the fingers for (`--privte`), if any."""
    near = difflib.get_close_matches(word.lower(), PRIVATE_FLAGS[:1], 1, CLOSE_ENOUGH)
    return near[0] if near else None


def _not_an_option(word: str) -> str:
    near = _near_flag(word)
    return f"`{word}` is not a Lepton option." + (f" Did you mean `{near}`?" if near else "")


def _swapped(word: str) -> str | None:
    """The subcommand `word` is with two neighbouring letters swapped (`fnid`, `sruvey`): a
    slip of the fingers, unlike a real word that merely looks like one (`gap`, `mind`), which
    starts a question and is searched."""
    for command in SUBCOMMANDS:
        if len(word) != len(command) or word == command:
            continue
        differ = [n for n, (a, b) in enumerate(zip(word, command, strict=True)) if a != b]
        if len(differ) == 2 and differ[1] == differ[0] + 1:
            first, second = differ
            if word[first] == command[second] and word[second] == command[first]:
                return command
    return None


def _with_argument(name: str, argument: str) -> Command:
    if name != "find":
        return Command(name, argument.strip())
    query, private = argument.strip(), False
    while (flag := query.partition(" ")[0]).lower() in PRIVATE_FLAGS:
        query, private = query[len(flag) :].strip(), True
    if flag.startswith("--") and _near_flag(flag):
        return Command("help", notice=_not_an_option(flag))
    if not query:
        return Command("empty", private=private)
    if len(query) > MAX_QUERY_CHARS:
        cut = query[:MAX_QUERY_CHARS].rsplit(" ", 1)[0] or query[:MAX_QUERY_CHARS]
        return Command(
            "find",
            cut,
            notice=f"Your question was long, so I searched for its first {len(cut)} characters.",
            private=private,
        )
    return Command("find", query, private=private)


SURVEY_ACTIONS = ("list", "show", "start", "close", "digest", "optout", "optin")
SURVEY_FOR_EVERYONE = frozenset({"optout", "optin"})
SURVEY_NEEDS_KEY = frozenset({"show", "start", "close", "digest"})
SURVEY_USAGE = (
    "`/lepton survey optout` (or `optin`) for everyone; admins: `/lepton survey list`, "
    "`show <survey>`, `start <survey>`, `close <survey>`, `digest <survey> [round]`."
)


@dataclass(frozen=True)
class SurveyCommand:
    """`problem` is set (and shown with the usage) when the line cannot be run."""

    action: str
    key: str = ""
    number: int | None = None
    problem: str | None = None

    @property
    def admin_only(self) -> bool:
        return self.action not in SURVEY_FOR_EVERYONE | {"help"}


def parse_survey(argument: str) -> SurveyCommand:
    words = argument.split()
    if not words:
        return SurveyCommand("help", problem="Which survey command?")
    action = words[0].lower()
    if action not in SURVEY_ACTIONS:
        near = difflib.get_close_matches(action, SURVEY_ACTIONS, 1, CLOSE_ENOUGH)
        hint = f" Did you mean `{near[0]}`?" if near else ""
        return SurveyCommand("help", problem=f"`{words[0]}` is not a survey command.{hint}")
    key = words[1].lower() if len(words) > 1 else ""
    if action in SURVEY_NEEDS_KEY and not key:
        return SurveyCommand("help", problem=f"`{action}` needs a survey name.")
    number = None
    if action == "digest" and len(words) > 2:
        if not words[2].isdigit() or int(words[2]) < 1:
            return SurveyCommand("help", problem=f"`{words[2]}` is not a round number.")
        number = int(words[2])
    extra = (
        words[3:] if action == "digest" else words[2:] if action in SURVEY_NEEDS_KEY else words[1:]
    )
    if extra:
        return SurveyCommand("help", problem=f"`{' '.join(extra)}` was not expected there.")
    return SurveyCommand(action, key, number)


TRAIN_ACTIONS = ("mine", "done", "join", "suggest", "modules", "assign", "digest")
TRAIN_FOR_ADMINS = frozenset({"assign", "digest"})
TRAIN_NEEDS_KEY = frozenset({"done", "join"})
TRAIN_USAGE = (
    "`/lepton train` (your training), `train done <module>`, `train join <module>`, "
    "`train suggest`, `train modules`; admins: `train assign @person|#channel <module|path> "
    "[YYYY-MM-DD]`, `train digest`."
)


@dataclass(frozen=True)
class TrainCommand:
    action: str
    key: str = ""
    target: str = ""
    due: str = ""
    problem: str | None = None

    @property
    def admin_only(self) -> bool:
        return self.action in TRAIN_FOR_ADMINS


def parse_train(argument: str) -> TrainCommand:
    words = argument.split()
    if not words:
        return TrainCommand("mine")
    action = words[0].lower()
    if action not in TRAIN_ACTIONS:
        near = difflib.get_close_matches(action, TRAIN_ACTIONS, 1, CLOSE_ENOUGH)
        hint = f" Did you mean `{near[0]}`?" if near else ""
        return TrainCommand("help", problem=f"`{words[0]}` is not a training command.{hint}")
    rest = words[1:]
    if action in TRAIN_NEEDS_KEY:
        if len(rest) != 1:
            return TrainCommand("help", problem=f"`{action}` takes one module name.")
        return TrainCommand(action, key=rest[0].lower())
    if action == "assign":
        if len(rest) not in (2, 3):
            return TrainCommand(
                "help", problem="`assign` takes a person or channel, a module or path, a due date."
            )
        return TrainCommand(action, key=rest[1].lower(), target=rest[0], due="".join(rest[2:]))
    if rest:
        return TrainCommand("help", problem=f"`{' '.join(rest)}` was not expected there.")
    return TrainCommand(action)
