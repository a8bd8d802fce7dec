"""Query syntax: free text, `tag:`, `topic:` and `source:` filters, and "quoted phrases".

    kubernetes rollback tag:k8s topic:"site reliability" "deployctl undo"

Filter values may be quoted. Repeating a filter key widens it (tag:a tag:b matches either); a
phrase must appear in the snippet's text, title or section (case-insensitive). A query that is
only filters lists the matching snippets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FILTER_KEYS = ("tag", "topic", "source")
_TOKEN = re.compile(
    r'(?P<key>tag|topic|source):(?:"(?P<qvalue>[^"]*)"|(?P<value>\S*))'
    r'|"(?P<phrase>[^"]+)"',
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    phrases: tuple[str, ...] = ()
    tags: frozenset[str] = field(default_factory=frozenset)
    topics: frozenset[str] = field(default_factory=frozenset)
    sources: tuple[str, ...] = ()

    @property
    def has_filters(self) -> bool:
        return bool(self.tags or self.topics or self.sources or self.phrases)

    @property
    def search_text(self) -> str:
        """What is embedded and matched lexically: free text plus the phrases' words."""
        return " ".join(part for part in (self.text, *self.phrases) if part)

    def matches(self, *, tags: list[str], topic: str | None, source: str, text: str) -> bool:
        if self.tags and not self.tags & {t.lower() for t in tags}:
            return False
        if self.topics and (topic or "").lower() not in self.topics:
            return False
        if self.sources and not any(s in source.lower() for s in self.sources):
            return False
        haystack = text.lower()
        return all(phrase.lower() in haystack for phrase in self.phrases)


def parse_query(raw: str) -> ParsedQuery:
    tags: set[str] = set()
    topics: set[str] = set()
    sources: list[str] = []
    phrases: list[str] = []
    for match in _TOKEN.finditer(raw):
        if match.group("phrase") is not None:
            phrase = " ".join(match.group("phrase").split())
            if phrase:
                phrases.append(phrase)
            continue
        value = " ".join((match.group("qvalue") or match.group("value") or "").split()).lower()
        if not value:
            continue
        key = match.group("key").lower()
        if key == "tag":
            tags.add(value)
        elif key == "topic":
            topics.add(value)
        else:
            sources.append(value)
    text = " ".join(_TOKEN.sub(" ", raw).split())
    return ParsedQuery(
        text=text,
        phrases=tuple(phrases),
        tags=frozenset(tags),
        topics=frozenset(topics),
        sources=tuple(sources),
    )
