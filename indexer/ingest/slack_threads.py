"""Turn Slack messages into one document per thread, shared by the export loader and live history.

Slack-free on purpose: messages are plain dicts in the shape both the export and the Web API use.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from indexer.ingest.documents import PUBLIC, Section, Skipped, SourceDocument

SOURCE_TYPE = "slack_thread"
MIN_THREAD_CHARS = 60
TITLE_CHARS = 80

# System and app messages carry no team knowledge.
_SKIPPED_SUBTYPES = frozenset(
    {
        "bot_message",
        "bot_add",
        "bot_remove",
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
        "group_join",
        "group_leave",
        "group_topic",
        "group_purpose",
        "group_name",
        "group_archive",
        "group_unarchive",
        "pinned_item",
        "unpinned_item",
        "tombstone",
    }
)

# Words that on their own only acknowledge, so a reply made of nothing else is chatter.
_CHATTER_TEXT = """
thanks thank thx ty tyvm you so much a lot lots all everyone again ok okay k kk cool nice great
awesome perfect lol lmao haha hah +1 yes yep yeah no nope sure np got it will do done ack noted
same me too this wow
"""
_CHATTER_WORDS = frozenset(_CHATTER_TEXT.split())

_TOKEN = re.compile(r"<([^<>\n]+)>")
_ENTITY = re.compile(r"&(lt|gt|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-']+:", re.IGNORECASE)
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)")


def clean_mrkdwn(text: str, users: Mapping[str, str], channels: Mapping[str, str]) -> str:
    """Plain readable text from Slack mrkdwn; broadcasts become bare words so they never ping."""

    def token(match: re.Match[str]) -> str:
        target, _, label = match.group(1).partition("|")
        if target.startswith("@"):
            user_id = target[1:]
            return "@" + (users.get(user_id) or label.lstrip("@") or user_id)
        if target.startswith("#"):
            channel_id = target[1:]
            return "#" + (channels.get(channel_id) or label.lstrip("#") or channel_id)
        if target.startswith("!"):
            command = target[1:]
            if command in ("here", "channel", "everyone"):
                return "@" + command
            if command.startswith("subteam^"):
                return label or "@group"
            return label or command.partition("^")[0]
        if target.startswith("mailto:") and label in ("", target.removeprefix("mailto:")):
            return target.removeprefix("mailto:")
        if label and label != target:
            return f"{label} ({target})"
        return target

    replaced = _TOKEN.sub(token, text)
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], replaced)


def default_permalink(workspace_url: str = "https://slack.com") -> Callable[[str, str], str]:
    """Slack's own permalink shape, built locally so no chat.getPermalink call per thread."""
    base = workspace_url.rstrip("/")

    def permalink(channel_id: str, ts: str) -> str:
        return f"{base}/archives/{channel_id}/p{ts.replace('.', '')}"

    return permalink


def ts_to_datetime(ts: str) -> datetime:
    """Exact, timezone-aware time of a Slack ts like "1712345678.000200"."""
    seconds, _, fraction = ts.partition(".")
    micros = int((fraction + "000000")[:6])
    return datetime.fromtimestamp(int(seconds), tz=UTC) + timedelta(microseconds=micros)


def referenced_user_ids(messages: Iterable[Mapping[str, Any]]) -> set[str]:
    """Authors and mentioned people, so a live fetch knows whose names to look up."""
    found: set[str] = set()
    for message in messages:
        if message.get("bot_id"):
            continue
        if isinstance(message.get("user"), str):
            found.add(message["user"])
        found.update(_MENTION.findall(str(message.get("text") or "")))
    return found


def threads_to_documents(
    messages: Iterable[Mapping[str, Any]],
    *,
    channel_id: str,
    channel_name: str,
    users: Mapping[str, str],
    permalink: Callable[[str, str], str],
    restricted: bool,
    source_prefix: str,
    channels: Mapping[str, str] | None = None,
) -> tuple[list[SourceDocument], list[Skipped]]:
    """One document per thread worth keeping; system, bot and chatter messages are left out.

    Messages may repeat (a parent appears in history and in its replies); each ts counts once.
    Too-short threads are reported as one aggregate Skipped per channel, not one per "lol".
    """
    channel_names = {channel_id: channel_name, **(channels or {})}
    threads = _by_thread(messages)
    documents: list[SourceDocument] = []
    too_short = 0
    for thread_ts in sorted(threads, key=_sort_key):
        thread = threads[thread_ts]
        lines = _thread_lines(thread_ts, thread, users, channel_names)
        if not lines:
            continue
        if sum(len(text) for _, _, text in lines) < MIN_THREAD_CHARS:
            too_short += 1
            continue
        names = {uid: _name(uid, thread[ts], users) for ts, uid, _ in lines}
        head_uid = lines[0][1]
        documents.append(
            SourceDocument(
                source=f"{source_prefix}/{channel_id}/{thread_ts}",
                source_type=SOURCE_TYPE,
                title=_title(lines[0][2]),
                sections=[
                    Section(
                        heading_path=(f"#{channel_name}",),
                        text="\n".join(f"{names[uid]}: {text}" for _, uid, text in lines),
                    )
                ],
                url=permalink(channel_id, thread_ts),
                owner=names[head_uid],
                author_user_id=head_uid or None,
                answerers=_answerers(thread, lines[1:], head_uid),
                channel_id=channel_id,
                visibility="channel" if restricted else PUBLIC,
                created_at=ts_to_datetime(thread_ts),
                updated_at=ts_to_datetime(lines[-1][0]),
            )
        )
    skipped = []
    if too_short:
        reason = f"too short: {too_short} thread(s) under {MIN_THREAD_CHARS} characters"
        skipped.append(Skipped(source=f"{source_prefix}/{channel_id}", reason=reason))
    return documents, skipped


def _by_thread(
    messages: Iterable[Mapping[str, Any]],
) -> dict[str, dict[str, Mapping[str, Any]]]:
    """Messages by thread ts, then by their own ts, so a message seen twice counts once; one
    with an unusable ts is dropped, and a bad `thread_ts` makes a message its own thread."""
    threads: dict[str, dict[str, Mapping[str, Any]]] = {}
    for message in messages:
        ts = message.get("ts")
        if not isinstance(ts, str) or _sort_key(ts) is None:
            continue
        thread_ts = message.get("thread_ts")
        key = thread_ts if isinstance(thread_ts, str) and _sort_key(thread_ts) else ts
        threads.setdefault(key, {})[ts] = message
    return threads


def _answerers(
    thread: Mapping[str, Mapping[str, Any]], replies: list[tuple[str, str, str]], asker: str
) -> tuple[tuple[str, int], ...]:
    """Each replier but the asker, weighted by 1 + the reactions on their replies."""
    weights: dict[str, int] = {}
    for ts, uid, _ in replies:
        if not uid or uid == asker:
            continue
        reactions = thread[ts].get("reactions") or []
        earned = sum(int(r.get("count") or 0) for r in reactions if isinstance(r, Mapping))
        weights[uid] = weights.get(uid, 0) + 1 + earned
    return tuple(sorted(weights.items()))


def _thread_lines(
    thread_ts: str,
    thread: Mapping[str, Mapping[str, Any]],
    users: Mapping[str, str],
    channel_names: Mapping[str, str],
) -> list[tuple[str, str, str]]:
    """(ts, author id, cleaned text) in order, without noise; replies that are only chatter
    are left out, but the parent always stays since it says what the thread is about."""
    lines: list[tuple[str, str, str]] = []
    for ts in sorted(thread, key=_sort_key):
        message = thread[ts]
        if _is_noise(message):
            continue
        text = clean_mrkdwn(str(message["text"]), users, channel_names).strip()
        if ts != thread_ts and _is_chatter(text):
            continue
        lines.append((ts, str(message.get("user") or ""), text))
    return lines


def _sort_key(ts: str) -> Decimal | None:
    try:
        value = Decimal(ts)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _is_noise(message: Mapping[str, Any]) -> bool:
    if message.get("subtype") in _SKIPPED_SUBTYPES or message.get("bot_id"):
        return True
    return not str(message.get("text") or "").strip()


def _is_chatter(text: str) -> bool:
    if len(text) < 15 or len(text.split()) < 3:
        return True
    words = re.sub(r"[^\w\s+']", " ", _EMOJI_CODE.sub(" ", text.lower())).split()
    return all(word in _CHATTER_WORDS for word in words)


def _name(user_id: str, message: Mapping[str, Any], users: Mapping[str, str]) -> str:
    """The directory name, else the profile the export embeds in the message, else the id."""
    if user_id in users:
        return users[user_id]
    profile = message.get("user_profile")
    if isinstance(profile, Mapping):
        name = profile.get("real_name") or profile.get("display_name") or profile.get("name")
        if name:
            return str(name)
    return user_id or "unknown"


def _title(text: str) -> str:
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if len(first) <= TITLE_CHARS:
        return first
    cut = first[: TITLE_CHARS - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + "…"
