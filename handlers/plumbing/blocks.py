"""Block Kit primitives every message is built from, so every surface looks the same, and so
nothing a user or a document wrote can ping @channel, mention someone or smuggle in a link.

Slack renders `<...>` as links, mentions and broadcasts, so `&`, `<` and `>` in untrusted text
are always escaped; plain-text "@here" words get a zero-width joiner so no client or future
`link_names` setting can turn them into a broadcast; and only http(s) URLs become links.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

SECTION_LIMIT = 3000
BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
ZERO_WIDTH_JOINER = "\u200d"

Block = dict[str, Any]


def escape(text: str) -> str:
    """Untrusted text, safe inside mrkdwn: no links, mentions or broadcasts survive."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return BROADCAST.sub(lambda m: f"@{ZERO_WIDTH_JOINER}{m.group(1)}", text)


def link(url: str | None, label: str) -> str:
    """`<url|label>` for http(s) URLs only; anything else shows as escaped text."""
    shown = escape(label).replace("|", "¦")
    if not url or not re.match(r"^https?://[^\s]+$", url, re.IGNORECASE):
        return shown
    safe_url = quote(url, safe=":/?#[]@!$&'()*+,;=%~.-_")
    return f"<{safe_url}|{shown}>"


def destination(url: str | None) -> str | None:
    """The host a link really goes to, as ASCII (a look-alike Unicode host shows as `xn--`), so
    a label cannot pass one site off as another."""
    if not url or not re.match(r"^https?://", url, re.IGNORECASE):
        return None
    host = urlsplit(url).hostname or ""
    try:
        return host.encode("idna").decode("ascii") or None
    except UnicodeError:
        return escape(host) or None


def shown_source(source: str) -> str:
    """A file's place without the server's own folders: its last two path parts."""
    if not source.startswith("/"):
        return source
    return "/".join(PurePosixPath(source).parts[-2:])


def clip(text: str, limit: int) -> str:
    """Escaped text cut to `limit` with "…", never through the middle of an `&amp;` entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    ampersand = cut.rfind("&", max(0, len(cut) - 5))
    if ampersand != -1 and ";" not in cut[ampersand:]:
        cut = cut[:ampersand]
    return cut.rstrip() + "…"


def section(text: str) -> Block:
    """A mrkdwn section, cut to Slack's limit."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button
