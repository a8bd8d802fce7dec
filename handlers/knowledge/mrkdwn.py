"""Markdown to Slack mrkdwn, through markdown-it-py's token stream: code blocks stay blocks,
lists stay lists, `**bold**` becomes `*bold*`, links become `<url|label>`, and a table row is
shown as "Header: cell" lines (Slack has no tables). Every piece of text is escaped, so a
snippet can neither ping `@channel` nor smuggle in a link."""

from __future__ import annotations

from markdown_it.token import Token

from handlers.plumbing.blocks import escape
from indexer.answers.passages import Unit, markdown_parser

INLINE = {
    "strong_open": "*",
    "strong_close": "*",
    "em_open": "_",
    "em_close": "_",
    "s_open": "~",
    "s_close": "~",
}


def unit_mrkdwn(unit: Unit) -> str:
    """One unit as Slack shows it; a Slack post as "*Name:* text" (already Slack markup)."""
    if unit.kind == "post":
        said = escape(unit.markdown)
        return f"*{escape(unit.author)}:* {said}" if unit.author else said
    if unit.kind == "row":
        return "\n".join(f"• {escape(s)}" for s in unit.sentences)
    return to_mrkdwn(unit.markdown)


def to_mrkdwn(markdown: str) -> str:
    out: list[str] = []
    lists: list[list[int]] = []
    """Open lists, innermost last: [0] for bullets, [next number] for ordered ones."""
    marker: str | None = None
    heading = False
    for token in markdown_parser().parse(markdown):
        kind = token.type
        if kind == "bullet_list_open":
            lists.append([0])
        elif kind == "ordered_list_open":
            lists.append([int(token.attrs.get("start") or 1)])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            number = lists[-1][0]
            marker = "    " * (len(lists) - 1) + (f"{number}." if number else "•") + " "
            if number:
                lists[-1][0] += 1
        elif kind in ("heading_open", "heading_close"):
            heading = kind == "heading_open"
        elif kind == "inline":
            text = _inline(token)
            text = f"*{text}*" if heading and text else text
            if marker is not None:
                text, marker = marker + text, None
            elif lists:
                text = "    " * len(lists) + text
            out.append(text)
        elif kind in ("fence", "code_block"):
            out.append("```\n" + escape(token.content.rstrip("\n")) + "\n```")
        elif kind == "html_block":
            out.append(escape(token.content.strip()))
    return "\n".join(out).strip()


def _inline(token: Token) -> str:
    out: list[str] = []
    href: str | None = None
    label: list[str] = []
    for child in token.children or ():
        if child.type == "link_open":
            href, label = str(child.attrs.get("href") or ""), []
        elif child.type == "link_close":
            text = "".join(label)
            out.append(f"<{escape(href)}|{text}>" if href and href.startswith("http") else text)
            href = None
        elif href is not None:
            label.append(_piece(child))
        else:
            out.append(_piece(child))
    return "".join(out)


def _piece(child: Token) -> str:
    if child.type == "text":
        return escape(child.content)
    if child.type == "code_inline":
        return f"`{escape(child.content)}`"
    if child.type in ("softbreak", "hardbreak"):
        return " " if child.type == "softbreak" else "\n"
    if child.type in ("image", "html_inline"):
        return escape(child.content)
    return INLINE.get(child.type, "")
