"""Slack messages, modals and the App Home as terminal text, with every button numbered so a
person can press it by typing its number."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WIDTH = 96
LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
BARE_LINK = re.compile(r"<(https?://[^|>]+)>")
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
CHANNEL = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
BROADCAST = re.compile(r"<!(channel|here|everyone)>")


@dataclass(frozen=True)
class Button:
    """A pressable button and where it sits, enough to build Slack's block_actions payload."""

    label: str
    action_id: str
    value: str
    block_id: str
    container: dict[str, Any]


def mrkdwn(text: str, name_of: Callable[[str], str]) -> str:
    """Slack's markup as a terminal shows it: links as `label (url)`, mentions as @name,
    channels as #name."""
    text = LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    text = BARE_LINK.sub(lambda m: m.group(1), text)
    text = MENTION.sub(lambda m: "@" + name_of(m.group(1)), text)
    text = CHANNEL.sub(lambda m: "#" + (m.group(2) or name_of(m.group(1))), text)
    text = BROADCAST.sub(lambda m: "@" + m.group(1), text)
    return html.unescape(text).replace("\u200d", "")


class Renderer:
    def __init__(self, name_of: Callable[[str], str]) -> None:
        self.name_of = name_of
        self.buttons: list[Button] = []
        self._fresh = False

    def new_turn(self) -> None:
        """The next reply that shows buttons numbers them from 1 again, so `press 1` means the
        first button on screen; replies without buttons leave the old numbers usable."""
        self._fresh = True

    def blocks(
        self, blocks: list[dict[str, Any]], container: dict[str, Any], indent: str
    ) -> list[str]:
        lines: list[str] = []
        for block in blocks:
            kind = block.get("type")
            if kind == "section":
                lines.extend(self._text(block.get("text", {}).get("text", ""), indent))
            elif kind == "header":
                lines.append(f"{indent}== {block.get('text', {}).get('text', '')} ==")
            elif kind == "context":
                parts = [e.get("text", "") for e in block.get("elements", []) if "text" in e]
                lines.extend(self._text(" · ".join(parts), indent + "  "))
            elif kind == "divider":
                lines.append(indent + "-" * 20)
            elif kind == "actions":
                lines.append(
                    indent
                    + "  ".join(
                        self._button(e, block, container) for e in block.get("elements", [])
                    )
                )
            elif kind == "input":
                element = block.get("element", {})
                label = block.get("label", {}).get("text", block.get("block_id", ""))
                value = element.get("initial_value", "")
                optional = " (optional)" if block.get("optional") else ""
                lines.append(f"{indent}{block.get('block_id')}: {value}    [{label}{optional}]")
        return lines

    def message(
        self, heading: str, text: str, blocks: list[dict[str, Any]], container: dict[str, Any]
    ) -> list[str]:
        body = self.blocks(blocks, container, "  ") if blocks else self._text(text, "  ")
        return [heading, *body]

    def _text(self, text: str, indent: str) -> list[str]:
        return [indent + line for line in mrkdwn(text, self.name_of).splitlines() if line.strip()]

    def _button(
        self, element: dict[str, Any], block: dict[str, Any], container: dict[str, Any]
    ) -> str:
        if element.get("type") != "button":
            return ""
        label = element.get("text", {}).get("text", "button")
        if self._fresh:
            self.buttons, self._fresh = [], False
        self.buttons.append(
            Button(
                label=label,
                action_id=str(element.get("action_id", "")),
                value=str(element.get("value", "")),
                block_id=str(block.get("block_id", "")),
                container=container,
            )
        )
        return f"[{len(self.buttons)}] {label}"
