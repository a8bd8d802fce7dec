"""Reading what the person types in the console: each line is one action and its argument."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "quit",
    "blank",
    "help",
    "as",
    "press",
    "field",
    "submit",
    "cancel",
    "command",
    "mention",
    "dm",
    "say",
    "save",
    "home",
    "wait",
    "react",
]
QUIT = frozenset({"quit", "exit", ":q"})
PREFIXES: tuple[tuple[str, Kind], ...] = (
    ("/lepton", "command"),
    ("@lepton", "mention"),
    ("dm ", "dm"),
    ("say ", "say"),
)
WORDS: dict[str, Kind] = {"help": "help", "save": "save", "home": "home", "wait": "wait"}


@dataclass(frozen=True)
class Typed:
    """One line, read as what the person meant; `value` is a modal field's new value."""

    kind: Kind
    argument: str = ""
    value: str = ""


def parse(line: str, modal_fields: Collection[str] | None) -> Typed:
    """What `line` asks for; with a modal open (`modal_fields`), `name: value` fills a field.

    Anything unrecognised is a `/lepton` command, so a bare question is a search.
    """
    text = line.strip()
    lowered = text.lower()
    if lowered in QUIT:
        return Typed("quit")
    if not text:
        return Typed("blank")
    if lowered.startswith("as "):
        return Typed("as", lowered[3:].strip())
    if lowered.startswith("press ") or lowered.isdigit():
        return Typed("press", lowered.removeprefix("press ").strip())
    modal = _modal_input(text, modal_fields) if modal_fields is not None else None
    if modal is not None:
        return modal
    for prefix, kind in PREFIXES:
        if lowered.startswith(prefix):
            return Typed(kind, text[len(prefix) :].strip())
    if lowered in WORDS:
        return Typed(WORDS[lowered])
    if text.startswith((":", "-:")) and text.endswith(":"):
        return Typed("react", text)
    return Typed("command", text)


def _modal_input(text: str, fields: Collection[str]) -> Typed | None:
    lowered = text.lower()
    if lowered in ("submit", "cancel"):
        return Typed("submit" if lowered == "submit" else "cancel")
    name, colon, value = text.partition(":")
    if colon and name.strip().lower() in fields:
        return Typed("field", name.strip().lower(), value.strip())
    return None
