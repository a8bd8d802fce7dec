"""A snippet cut into units that can be shown on their own: a paragraph, a list item, a code
block, one table row under its header, one post of a Slack thread. Each unit keeps its own
Markdown (complete, so rendering it never breaks a fence or a table) and its plain sentences,
which are what an answer quotes. Parsed with markdown-it-py: regular expressions over Markdown
get fences, tables and nested lists wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(`*\[])")
POST = re.compile(r"^(?P<author>[^:\n]{1,80}): (?P<text>.+)$")
NAME = re.compile(r"[\w.'-]+(?: [\w.'-]+){0,3}")
"""A display name: up to four words, no code or punctuation beyond . ' and -."""
CODE_SPAN = re.compile(r"```.*?(?:```|$)", re.DOTALL)
"""A code block inside a Slack post: shown, never quoted as a sentence."""
MIN_SENTENCE_CHARS = 12
FAQ_QUESTION = re.compile(r"^Q:\s")
"""An FAQ entry's question line: what was asked, never quoted as the answer."""


@dataclass(frozen=True)
class Unit:
    kind: str
    """"text", "item", "code", "row", "heading" or "post"."""
    markdown: str
    sentences: tuple[str, ...] = ()
    author: str | None = None
    """Who wrote a Slack post."""
    asked: bool = False
    """The post that opened a thread: its question, never quoted as an answer."""


@lru_cache(maxsize=1)
def markdown_parser() -> MarkdownIt:
    """CommonMark with tables and strikethrough; shared, since building one is not free."""
    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


def units(text: str, thread: bool = False) -> list[Unit]:
    """The snippet's units in order; a Slack thread is one unit per post."""
    if thread:
        return _posts(text)
    lines = text.splitlines()
    tokens = markdown_parser().parse(text)
    found: list[Unit] = []
    for position, token in enumerate(tokens):
        top = token.level == 0 or (token.type == "list_item_open" and token.level == 1)
        if token.map is None or not top:
            continue
        source = "\n".join(lines[token.map[0] : token.map[1]]).strip()
        if token.type == "paragraph_open":
            plain = _plain(tokens[position + 1])
            asked = FAQ_QUESTION.match(plain) is not None
            found.append(Unit("text", source, sentences(plain), asked=asked))
        elif token.type == "list_item_open":
            found.append(Unit("item", source, sentences(_inline_text(tokens, position))))
        elif token.type in ("fence", "code_block"):
            found.append(Unit("code", source))
        elif token.type == "heading_open":
            found.append(Unit("heading", source))
        elif token.type == "table_open":
            found += _rows(tokens, position, lines)
        elif token.type in ("blockquote_open", "html_block"):
            found.append(Unit("text", source, sentences(_inline_text(tokens, position))))
    return found


def sentences(plain: str) -> tuple[str, ...]:
    flat = " ".join(plain.split())
    return tuple(s for s in SENTENCE_END.split(flat) if len(s) >= MIN_SENTENCE_CHARS)


def _posts(text: str) -> list[Unit]:
    """One unit per post. A post runs over several lines when its message does (a code block,
    a second paragraph): a line starts a new post only outside a code block and when it opens
    with a name ("Maria Santos: ...")."""
    posts: list[tuple[str | None, list[str]]] = []
    for line in (line.strip() for line in text.splitlines()):
        if not line:
            continue
        post = POST.match(line)
        in_code = bool(posts) and "\n".join(posts[-1][1]).count("```") % 2 == 1
        if post and not in_code and NAME.fullmatch(post["author"]):
            posts.append((post["author"], [post["text"]]))
        elif posts:
            posts[-1][1].append(line)
        else:
            posts.append((None, [line]))
    found = []
    for n, (author, lines) in enumerate(posts):
        said = "\n".join(lines)
        prose = tuple(s for part in CODE_SPAN.split(said) if part for s in sentences(part))
        found.append(Unit("post", said, prose, author=author, asked=n == 0))
    return found


def _rows(tokens: list[Token], start: int, lines: list[str]) -> list[Unit]:
    """Each body row as its own small table under the header, read as "Header: cell; ..."."""
    header: list[str] = []
    header_lines: list[str] = []
    cells: list[str] = []
    row_lines: list[str] = []
    rows: list[Unit] = []
    for token in tokens[start:]:
        if token.type == "table_close":
            break
        if token.type == "thead_open" and token.map:
            header_lines = lines[token.map[0] : token.map[1] + 1]
        elif token.type == "tr_open":
            cells = []
            row_lines = lines[token.map[0] : token.map[1]] if token.map else []
        elif token.type == "inline":
            cells.append(_plain(token))
        elif token.type == "tr_close" and not header:
            header = cells
        elif token.type == "tr_close":
            said = "; ".join(f"{h}: {c}" for h, c in zip(header, cells, strict=False) if c)
            table = "\n".join([*header_lines, *row_lines])
            rows.append(Unit("row", table, (said,) if said else ()))
    return rows


def _inline_text(tokens: list[Token], start: int) -> str:
    """The plain text of every inline token inside the block that opens at `start`."""
    depth, parts = 0, []
    for token in tokens[start:]:
        depth += token.nesting
        if token.type == "inline":
            parts.append(_plain(token))
        if depth <= 0:
            break
    return " ".join(parts)


def _plain(inline: Token) -> str:
    parts = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(child.content)
    return "".join(parts)
