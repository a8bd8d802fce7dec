"""Slack workspace exports (a .zip as downloaded, or its extracted folder) -> thread documents.

Zips are read in memory and never extracted, so a hostile archive cannot write anywhere; size
limits keep a zip bomb from exhausting memory. DMs and group DMs are never read: they are private.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from indexer.ingest.documents import LoadResult, Skipped
from indexer.ingest.slack_threads import default_permalink, threads_to_documents

MAX_MEMBER_BYTES = 50 * 1024**2
MAX_TOTAL_BYTES = 2 * 1024**3
MAX_RATIO = 100
# Below this much data the ratio says nothing useful: a tiny zip of repetitive JSON is harmless.
RATIO_FLOOR_BYTES = 1024**2


@dataclass(frozen=True)
class Limits:
    """How much an export may unpack to before it is refused."""

    member_bytes: int = MAX_MEMBER_BYTES
    total_bytes: int = MAX_TOTAL_BYTES
    ratio: float = MAX_RATIO


class _Archive(Protocol):
    """Members by relative POSIX name with their uncompressed size, readable up to a limit."""

    sizes: dict[str, int]
    unsafe: list[str]
    unsafe_reason: str

    def read(self, name: str, limit: int) -> bytes: ...


@dataclass
class _ZipArchive:
    zip: zipfile.ZipFile
    sizes: dict[str, int] = field(default_factory=dict)
    unsafe: list[str] = field(default_factory=list)
    unsafe_reason: str = "unsafe path in zip"

    def __post_init__(self) -> None:
        for info in self.zip.infolist():
            if info.is_dir():
                continue
            if _is_unsafe(info.filename):
                self.unsafe.append(info.filename)
            else:
                self.sizes[info.filename] = info.file_size

    def read(self, name: str, limit: int) -> bytes:
        # Bounded read: the size in the zip header may lie.
        with self.zip.open(name) as member:
            return member.read(limit + 1)


@dataclass
class _FolderArchive:
    root: Path
    sizes: dict[str, int] = field(default_factory=dict)
    unsafe: list[str] = field(default_factory=list)
    unsafe_reason: str = "links outside the export folder"

    def __post_init__(self) -> None:
        real_root = self.root.resolve()
        for path in sorted(self.root.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(self.root).as_posix()
            if not path.resolve().is_relative_to(real_root):
                self.unsafe.append(name)
            else:
                self.sizes[name] = path.stat().st_size

    def read(self, name: str, limit: int) -> bytes:
        with (self.root / name).open("rb") as file:
            return file.read(limit + 1)


def load_export(
    path: Path,
    workspace_url: str = "https://slack.com",
    *,
    max_member_bytes: int = MAX_MEMBER_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
) -> LoadResult:
    """Public and private channel threads; member size applies to both, total and ratio to zips."""
    limits = Limits(max_member_bytes, max_total_bytes, max_ratio)
    if path.is_dir():
        return _load(_FolderArchive(path), path, path.name, workspace_url, limits)
    try:
        with zipfile.ZipFile(path) as archive:
            refusal = _bomb_check(archive, limits)
            if refusal:
                return LoadResult(skipped=[Skipped(str(path), refusal)])
            return _load(_ZipArchive(archive), path, path.stem, workspace_url, limits)
    except (zipfile.BadZipFile, OSError) as exc:
        return LoadResult(skipped=[Skipped(str(path), f"not a readable Slack export zip: {exc}")])


def _bomb_check(archive: zipfile.ZipFile, limits: Limits) -> str | None:
    infos = archive.infolist()
    total = sum(info.file_size for info in infos)
    packed = sum(info.compress_size for info in infos)
    if total > limits.total_bytes:
        return f"looks like a zip bomb: {total} bytes uncompressed"
    if total > RATIO_FLOOR_BYTES and total > limits.ratio * max(packed, 1):
        return f"looks like a zip bomb: compression ratio over {limits.ratio:g}:1"
    return None


def _is_unsafe(name: str) -> bool:
    posix = name.replace("\\", "/")
    return (
        posix.startswith("/")
        or bool(re.match(r"[A-Za-z]:", posix))
        or (".." in PurePosixPath(posix).parts)
    )


def _load(
    archive: _Archive, path: Path, export_name: str, workspace_url: str, limits: Limits
) -> LoadResult:
    result = LoadResult(
        skipped=[Skipped(f"{path}/{name}", archive.unsafe_reason) for name in archive.unsafe]
    )
    root = _export_root(archive)
    if root is None:
        reason = "channels.json not found: not a Slack export, or not its top folder"
        result.skipped.append(Skipped(f"{path}/channels.json", reason))
        return result

    reader = _JsonReader(archive, path, limits, result)
    users: dict[str, str] = {}
    if root + "users.json" in archive.sizes:
        users = _users(reader.read(root + "users.json"))
    else:
        reason = "users.json missing: people are shown by user id"
        result.skipped.append(Skipped(f"{path}/{root}users.json", reason))
    public = _channels(reader.read(root + "channels.json"))
    private = _channels(reader.read(root + "groups.json", required=False))
    names = {c["id"]: c["name"] for c in [*public, *private]}
    prefix = f"slack-export:{export_name}"
    permalink = default_permalink(workspace_url)
    for channel, restricted in [*((c, False) for c in public), *((c, True) for c in private)]:
        messages: list[dict[str, Any]] = []
        for name in _day_files(archive, f"{root}{channel['name']}/"):
            day = reader.read(name)
            if day is None:
                continue
            if not isinstance(day, list):
                result.skipped.append(Skipped(f"{path}/{name}", "not a list of messages"))
                continue
            result.files_read += 1
            messages.extend(m for m in day if isinstance(m, dict))
        documents, skipped = threads_to_documents(
            messages,
            channel_id=channel["id"],
            channel_name=channel["name"],
            users=users,
            permalink=permalink,
            restricted=restricted,
            source_prefix=prefix,
            channels=names,
        )
        result.documents.extend(documents)
        result.skipped.extend(skipped)
    return result


@dataclass
class _JsonReader:
    """Parses members, recording each unusable one in `result` and returning None for it."""

    archive: _Archive
    path: Path
    limits: Limits
    result: LoadResult

    def read(self, name: str, *, required: bool = True) -> Any:
        if name not in self.archive.sizes:
            if required:
                self._skip(name, "missing from the export")
            return None
        if self.archive.sizes[name] > self.limits.member_bytes:
            return self._skip(name, self._too_large())
        try:
            raw = self.archive.read(name, self.limits.member_bytes)
        except (zipfile.BadZipFile, zlib.error, OSError) as exc:
            return self._skip(name, f"unreadable: {exc}")
        if len(raw) > self.limits.member_bytes:
            return self._skip(name, self._too_large())
        try:
            return json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError:
            return self._skip(name, "not UTF-8 text")
        except json.JSONDecodeError as exc:
            return self._skip(
                name, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            )

    def _skip(self, name: str, reason: str) -> None:
        self.result.skipped.append(Skipped(f"{self.path}/{name}", reason))

    def _too_large(self) -> str:
        return f"larger than {self.limits.member_bytes / 1024**2:g} MiB uncompressed"


def _export_root(archive: _Archive) -> str | None:
    """ "" for a normal export; "name/" when someone zipped the extracted folder."""
    if "channels.json" in archive.sizes:
        return ""
    nested = [n for n in archive.sizes if n.endswith("/channels.json") and n.count("/") == 1]
    return nested[0].removesuffix("channels.json") if len(nested) == 1 else None


def _users(data: Any) -> dict[str, str]:
    if not isinstance(data, list):
        return {}
    users = {}
    for user in data:
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            continue
        profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
        name = profile.get("real_name") or user.get("real_name") or user.get("name")
        if name:
            users[user["id"]] = str(name)
    return users


def _channels(data: Any) -> list[dict[str, str]]:
    if not isinstance(data, list):
        return []
    found = [
        {"id": c["id"], "name": c["name"]}
        for c in data
        if isinstance(c, dict) and isinstance(c.get("id"), str) and isinstance(c.get("name"), str)
    ]
    return sorted(found, key=lambda c: c["name"])


def _day_files(archive: _Archive, folder: str) -> list[str]:
    return sorted(
        name
        for name in archive.sizes
        if name.startswith(folder) and name.endswith(".json") and "/" not in name[len(folder) :]
    )
