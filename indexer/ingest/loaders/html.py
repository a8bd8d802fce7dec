"""HTML pages: visible text only, split into sections at h1-h6."""

from __future__ import annotations

import re
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag
from bs4.element import PreformattedString

from indexer.ingest.documents import LoadResult, Section, Skipped
from indexer.ingest.loaders.text import humanise, one_document, read_text, skipped

HIDDEN_TAGS = ("script", "style", "noscript", "template", "iframe")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCKS = frozenset(
    {
        *_HEADINGS,
        *("address", "article", "aside", "blockquote", "br", "dd", "details", "div", "dl"),
        *("dt", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "nav"),
        *("ol", "p", "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr"),
        "ul",
    }
)
_CELLS = ("td", "th")
_SPACE = re.compile(r"\s+")


def _normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


class _Builder:
    """Accumulates text into sections as the page is walked in document order."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.sections: list[Section] = []
        self.stack: list[tuple[int, str]] = []
        self.anchor: str | None = None
        self.parts: list[str] = []

    def flush(self) -> None:
        lines = (line.strip() for line in "".join(self.parts).split("\n"))
        text = "\n".join(line for line in lines if line)
        if text:
            path = tuple(
                h
                for lvl, h in self.stack
                if h and not (lvl == 1 and h.casefold() == self.title.casefold())
            )
            self.sections.append(Section(heading_path=path, text=text, anchor=self.anchor))
        self.parts = []

    def heading(self, tag: Tag) -> None:
        self.flush()
        level = int(tag.name[1])
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, _normalise(tag.get_text(" "))))
        tag_id = tag.get("id")
        self.anchor = tag_id if isinstance(tag_id, str) and tag_id else None


def _walk(root: Tag, builder: _Builder) -> None:
    """Document-order walk without recursion, so deeply nested markup cannot overflow."""
    stack: list[PageElement | None] = [root]  # None marks the end of a block element
    while stack:
        node = stack.pop()
        if node is None:
            builder.parts.append("\n")
        elif isinstance(node, PreformattedString):
            continue  # comments, doctype, processing instructions: never visible
        elif isinstance(node, NavigableString):
            raw = str(node)
            builder.parts.append(raw if node.find_parent("pre") else _SPACE.sub(" ", raw))
        elif isinstance(node, Tag) and node.name in _HEADINGS:
            builder.heading(node)
        elif isinstance(node, Tag):
            if node.name in _CELLS and node.find_previous_sibling(_CELLS):
                builder.parts.append(" | ")
            if node.name in _BLOCKS:
                builder.parts.append("\n")
                stack.append(None)
            stack.extend(reversed(node.contents))


def load(path: Path) -> LoadResult:
    source = str(path.resolve())
    text = read_text(path)
    if isinstance(text, Skipped):
        return LoadResult(skipped=[text], files_read=1)
    soup = BeautifulSoup(text, "html.parser")
    for hidden in soup.find_all(HIDDEN_TAGS):
        hidden.decompose()
    title_tag, first_h1 = soup.find("title"), soup.find("h1")
    title = next(
        (t for t in (_normalise(tag.get_text(" ")) for tag in (title_tag, first_h1) if tag) if t),
        humanise(path.stem),
    )
    if soup.head is not None:
        soup.head.decompose()
    builder = _Builder(title)
    _walk(soup.body or soup, builder)
    builder.flush()
    if not builder.sections:
        return skipped(source, "empty")
    return one_document(path, title, builder.sections)
