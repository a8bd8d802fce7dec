"""The two snippet modals ("Save to Lepton" and `/lepton add`): building them, reading what was
submitted, and the per-field errors Slack shows inline when something is wrong."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from handlers.plumbing.blocks import Block
from handlers.plumbing.payload_checks import part

ADD_CALLBACK = "lepton_add"
SAVE_CALLBACK = "lepton_save"
TITLE_CHARS = 150
TEXT_CHARS = 3000
MIN_TEXT_CHARS = 10
TAGS_LIMIT = 8
URL = re.compile(r"^https?://[^\s<>|]+$", re.IGNORECASE)


@dataclass(frozen=True)
class SnippetForm:
    title: str
    text: str
    tags: list[str]
    link: str | None

    def errors(self) -> dict[str, str]:
        """Inline errors by block id; empty when the form can be saved."""
        problems: dict[str, str] = {}
        if not self.title:
            problems["title"] = "Give the snippet a title people will recognise."
        if len(self.text) < MIN_TEXT_CHARS:
            problems["text"] = f"Write at least {MIN_TEXT_CHARS} characters."
        if len(self.tags) > TAGS_LIMIT:
            problems["tags"] = f"At most {TAGS_LIMIT} tags, separated by commas."
        elif any(not re.match(r"^[\w .+#/-]{1,40}$", t) for t in self.tags):
            problems["tags"] = "Tags are short words (letters, digits, - + . # /), comma-separated."
        if self.link is not None and not URL.match(self.link):
            problems["link"] = "A link must start with https:// (or http://)."
        return problems


def add_modal() -> Block:
    return _modal(ADD_CALLBACK, "Add to Lepton", "", "", "", with_link=True, metadata={})


def save_modal(text: str, metadata: dict[str, str]) -> Block:
    """Pre-filled from the message; the saver can trim the text and fix the title."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = first_line[:80] + ("…" if len(first_line) > 80 else "")
    return _modal(
        SAVE_CALLBACK,
        "Save to Lepton",
        title,
        text[:TEXT_CHARS],
        "",
        with_link=False,
        metadata=metadata,
    )


def read_form(view: dict[str, Any]) -> SnippetForm:
    """What was typed; a field missing from the payload, or not text, reads as empty."""

    def value(block: str) -> str:
        entered = part(view, "state", "values", block, "value", "value")
        return entered.strip() if isinstance(entered, str) else ""

    tags = [t.strip().lower() for t in value("tags").split(",") if t.strip()]
    return SnippetForm(
        title=" ".join(value("title").split())[:TITLE_CHARS],
        text=value("text")[:TEXT_CHARS],
        tags=list(dict.fromkeys(tags)),
        link=value("link") or None,
    )


def metadata_of(view: dict[str, Any]) -> dict[str, str]:
    try:
        loaded = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _modal(
    callback_id: str,
    heading: str,
    title: str,
    text: str,
    tags: str,
    *,
    with_link: bool,
    metadata: dict[str, str],
) -> Block:
    blocks = [
        text_input("title", "Title", title, max_length=TITLE_CHARS),
        text_input("text", "Text", text, multiline=True, max_length=TEXT_CHARS),
        text_input(
            "tags", "Tags (comma-separated)", tags, optional=True, placeholder="vpn, onboarding"
        ),
    ]
    if with_link:
        blocks.append(
            text_input("link", "Link to the source", "", optional=True, placeholder="https://…")
        )
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": heading},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def text_input(
    block_id: str,
    label: str,
    initial: str,
    *,
    multiline: bool = False,
    optional: bool = False,
    max_length: int | None = None,
    placeholder: str | None = None,
) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": "value", "multiline": multiline}
    if initial:
        element["initial_value"] = initial
    if max_length:
        element["max_length"] = max_length
    if placeholder:
        element["placeholder"] = {"type": "plain_text", "text": placeholder}
    return {
        "type": "input",
        "block_id": block_id,
        "optional": optional,
        "label": {"type": "plain_text", "text": label},
        "element": element,
    }
