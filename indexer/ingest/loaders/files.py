"""Walk a knowledge folder (or one file) and hand each file to the loader for its type."""

from __future__ import annotations

import logging
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType

from indexer.ingest.documents import LoadResult, Skipped
from indexer.ingest.loaders import faq, html, markdown, pdf, rst, text
from indexer.ingest.loaders.text import skipped

MAX_FILE_BYTES = 20 * 1024 * 1024
LOADERS: Mapping[str, Callable[[Path], LoadResult]] = MappingProxyType(
    {
        ".md": markdown.load,
        ".markdown": markdown.load,
        ".rst": rst.load,
        ".html": html.load,
        ".htm": html.load,
        ".txt": text.load,
        ".pdf": pdf.load,
        ".csv": faq.load,
        ".json": faq.load,
    }
)

logger = logging.getLogger(__name__)


def load_tree(root: Path) -> LoadResult:
    """Every supported file under `root`, in sorted order; a bad file is skipped, never fatal."""
    if not root.exists():
        raise FileNotFoundError(f"ingest path does not exist: {root}")
    base = root.resolve()
    result = LoadResult()
    seen: set[Path] = set()
    paths: Iterator[Path | Skipped] = iter([base]) if base.is_file() else _walk(base, base)
    for item in paths:
        if isinstance(item, Skipped):
            result.skipped.append(item)
        else:
            result.extend(_load_file(item, seen))
    return result


def _walk(directory: Path, base: Path) -> Iterator[Path | Skipped]:
    """Files to load, plus Skipped entries for paths that must not be followed."""
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        yield Skipped(str(directory), exc.strerror or str(exc))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_symlink():
            try:
                target = entry.resolve()
            except (OSError, RuntimeError) as exc:
                yield Skipped(str(entry), f"broken link: {exc}")
                continue
            if not target.is_relative_to(base):
                yield Skipped(str(entry), "links outside the ingest folder")
            elif target.is_dir():
                yield Skipped(str(entry), "link to a folder; not followed (load the folder itself)")
            else:
                yield entry
        elif entry.is_dir():
            yield from _walk(entry, base)
        else:
            yield entry


def _load_file(path: Path, seen: set[Path]) -> LoadResult:
    try:
        info = path.stat()
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:
        return skipped(path, getattr(exc, "strerror", None) or str(exc))
    if not stat.S_ISREG(info.st_mode):
        return skipped(path, "not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        return skipped(path, "larger than 20 MiB")
    if resolved in seen:
        return skipped(path, f"same file as {resolved}, already loaded")
    seen.add(resolved)
    suffix = path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        return skipped(path, f"unsupported file type {suffix or '(no extension)'}")
    try:
        return loader(path)
    except Exception as exc:  # a loader bug must cost one file, not the whole ingest
        logger.warning("loader failed on %s", path, exc_info=True)
        return skipped(path, f"could not load: {type(exc).__name__}: {exc}")
