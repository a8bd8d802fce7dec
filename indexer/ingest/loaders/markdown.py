"""Markdown files with optional YAML front-matter, split into sections at ATX headings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from indexer.ingest.documents import CHANNEL, PUBLIC, LoadResult, Section, Skipped
from indexer.ingest.loaders.text import humanise, one_document, read_text, skipped
from indexer.ingest.plain_yaml import load_plain_yaml

VISIBILITY_RULE = 'visibility must be "public" or "channel:<channel id>"'

_CHANNEL_VISIBILITY = re.compile(r"channel:([CG][A-Z0-9]{2,})")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"`|\*\*|__")
_TEXT_KEYS = ("title", "topic", "difficulty", "owner", "url")
_DATE_KEYS = {"created": ("created", "created_at"), "updated": ("updated", "updated_at")}


class FrontMatterError(ValueError):
    """The front-matter block cannot be parsed; the message says where and why."""


@dataclass
class Metadata:
    """Document metadata set explicitly by an author; None means "derive it later"."""

    title: str | None = None
    tags: list[str] | None = None
    topic: str | None = None
    difficulty: str | None = None
    owner: str | None = None
    url: str | None = None
    visibility: str = PUBLIC
    channel_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def document_fields(self) -> dict[str, Any]:
        """The SourceDocument keyword arguments this metadata sets (the title is the caller's)."""
        fields = asdict(self)
        del fields["title"]
        return fields


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML mapping between leading `---` lines (empty if none) and the remaining body."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "...")), None)
    if end is None:
        raise FrontMatterError("front-matter has no closing '---' line")
    block = "\n".join(lines[1:end])
    try:
        raw = load_plain_yaml(block)
    except yaml.YAMLError as exc:
        raise FrontMatterError(_describe_yaml_error(exc, lines)) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise FrontMatterError("front-matter must be a mapping of 'key: value' lines")
    return {str(k): v for k, v in raw.items()}, "\n".join(lines[end + 1 :])


def _describe_yaml_error(exc: yaml.YAMLError, lines: list[str]) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"malformed front-matter: {problem}"
    line_no = mark.line + 2  # the opening '---' is line 1 and YAML marks count from 0
    snippet = lines[line_no - 1].strip()[:60] if line_no - 1 < len(lines) else ""
    return f'malformed front-matter at line {line_no} ("{snippet}"): {problem}'


def parse_metadata(raw: Mapping[str, Any]) -> Metadata:
    """Validate author-supplied keys; raises ValueError with a message a person can act on."""
    meta = Metadata()
    for key in _TEXT_KEYS:
        setattr(meta, key, _text(raw.get(key), key))
    meta.tags = parse_tags(raw.get("tags"))
    meta.visibility, meta.channel_id = parse_visibility(raw.get("visibility"))
    for attr, keys in _DATE_KEYS.items():
        value = next((raw[k] for k in keys if raw.get(k) is not None), None)
        setattr(meta, f"{attr}_at", _datetime(value, keys[0]))
    return meta


def parse_tags(value: Any) -> list[str] | None:
    """A YAML list or 'a, b' string -> lowercase, stripped, de-duplicated tags in order."""
    if value is None:
        return None
    if isinstance(value, str):
        items: list[Any] = value.split(",")
    elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        items = value
    else:
        raise ValueError("tags must be a list or a comma-separated string")
    tags = (str(item).strip().lower() for item in items)
    return list(dict.fromkeys(tag for tag in tags if tag))


def parse_visibility(value: Any) -> tuple[str, str | None]:
    """(visibility, channel_id): public, or visible only in one Slack channel."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", PUBLIC)):
        return PUBLIC, None
    match = _CHANNEL_VISIBILITY.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{VISIBILITY_RULE}, not {value!r}")
    return CHANNEL, match.group(1)


def _text(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        raise ValueError(f"{key} must be a single value")
    return str(value).strip() or None


def _datetime(value: Any, key: str) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{key} must be a date like 2026-01-31, not {value!r}") from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise ValueError(f"{key} must be a date like 2026-01-31, not {value!r}")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lowercase, punctuation dropped, spaces -> '-'."""
    kept = (c for c in heading.strip().lower() if c.isalnum() or c in "-_ ")
    return "".join(kept).replace(" ", "-")


@dataclass
class _Block:
    heading: tuple[int, str] | None
    lines: list[str] = field(default_factory=list)


def _blocks(body: str) -> list[_Block]:
    """Lines grouped under their heading; '#' lines inside code fences stay body text."""
    blocks = [_Block(None)]
    fence: str | None = None
    for line in body.split("\n"):
        fence_match = _FENCE.match(line)
        if fence is not None:
            closing = line.strip()
            if closing.startswith(fence) and closing == closing[0] * len(closing):
                fence = None
        elif fence_match:
            fence = fence_match.group(1)
        elif heading := _ATX.fullmatch(line):
            text = _EMPHASIS.sub("", _LINK.sub(r"\1", heading.group(2) or "")).strip()
            blocks.append(_Block((len(heading.group(1)), text)))
            continue
        blocks[-1].lines.append(line)
    return blocks


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _sections(blocks: list[_Block], titles: tuple[str, ...]) -> list[Section]:
    """Sections with heading paths; H1s naming the document (`titles`) are left out of paths."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    slug_counts: dict[str, int] = {}
    for block in blocks:
        anchor = None
        if block.heading is not None:
            level, text = block.heading
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append(block.heading)
            slug = github_slug(text)
            seen = slug_counts.get(slug, 0)
            slug_counts[slug] = seen + 1
            anchor = f"{slug}-{seen}" if seen else slug
        body = "\n".join(block.lines).strip("\n").rstrip()
        if not body.strip():
            continue
        path = tuple(
            t for lvl, t in stack if t and not (lvl == 1 and any(_same(t, x) for x in titles))
        )
        sections.append(Section(heading_path=path, text=body, anchor=anchor))
    return sections


def load(path: Path) -> LoadResult:
    source = str(path.resolve())
    text = read_text(path)
    if isinstance(text, Skipped):
        return LoadResult(skipped=[text], files_read=1)
    try:
        raw, body = split_front_matter(text)
        meta = parse_metadata(raw)
    except ValueError as exc:
        return skipped(source, str(exc))
    blocks = _blocks(body)
    h1s = [b.heading[1] for b in blocks if b.heading and b.heading[0] == 1]
    title = meta.title or (h1s[0] if h1s else None) or humanise(path.stem)
    # A lone H1 names the document even when the front-matter title words it differently.
    sections = _sections(blocks, (title, *h1s[:1]) if len(h1s) == 1 else (title,))
    if not sections:
        return skipped(source, "empty")
    return one_document(path, title, sections, **meta.document_fields())
