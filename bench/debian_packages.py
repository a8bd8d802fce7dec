"""Known-item retrieval benchmark built from Debian's archive metadata.

Debian's package descriptions are a large, public, human-written corpus with a natural
query/answer pairing: a package's one-line summary (the query) and its long description (the
single relevant document). That gives tens of thousands of judged queries without anyone
labelling them, which is what nDCG@10 / MRR measurements need.

The metadata is fetched with Debian's own tool, `apt-get update`, but with every piece of apt
state redirected into a private cache directory, so the machine's package lists are never read
or written. Once fetched (and parsed), everything works offline from the cache.

    python -m bench.debian_packages      # fetch if needed, print counts and examples
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

DEFAULT_CACHE = (
    Path(os.environ.get("LEPTON_BENCH_CACHE", Path.home() / ".cache" / "lepton-bench")) / "debian"
)
SYSTEM_LISTS = Path("/var/lib/apt/lists")
MIN_SUMMARY_WORDS = 2
MIN_LONG_WORDS = 8
# Bump when the record-building rules change, so stale parsed caches are rebuilt.
FORMAT_VERSION = 2
PARSED_NAME = "known_items.json.gz"
FETCH_STAMP = ".fetch-complete"

Documents = list[tuple[str, str]]
Queries = list[tuple[str, str, str]]


# --------------------------------------------------------------------------- sources


def _os_codename() -> str:
    """The release codename, used to tell the Debian archive apart from third-party repos."""
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME":
            return value.strip().strip('"')
    raise RuntimeError("no VERSION_CODENAME in /etc/os-release; is this a Debian system?")


def _deb822_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Split deb822 text (sources, Packages, Translation) into field dicts.

    Continuation lines are kept verbatim (with their leading space) after a newline, so callers
    can undo field-specific formatting themselves.
    """
    fields: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, ""
        elif line.startswith("#"):
            continue
        elif line[0] in " \t" and key:
            fields[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
    if fields:
        yield fields


def _configured_sources() -> Iterator[tuple[str, str, list[str], str]]:
    """Yield (uri, suite, components, signed_by) for every enabled `deb` source on the machine."""
    etc = Path("/etc/apt")
    one_line = [etc / "sources.list", *sorted((etc / "sources.list.d").glob("*.list"))]
    for path in one_line:
        if not path.is_file():
            continue
        for raw in path.read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line.startswith("deb "):
                continue
            options: dict[str, str] = {}
            rest = line[4:].strip()
            if rest.startswith("["):
                opts, _, rest = rest[1:].partition("]")
                for opt in opts.split():
                    name, _, value = opt.partition("=")
                    options[name.lower()] = value
            uri, suite, *components = rest.split()
            yield uri, suite, components, options.get("signed-by", "")
    for path in sorted((etc / "sources.list.d").glob("*.sources")):
        for stanza in _deb822_stanzas(path.read_text()):
            fields = {k.lower(): v for k, v in stanza.items()}
            if (
                fields.get("enabled", "yes").lower() == "no"
                or "deb" not in fields.get("types", "").split()
            ):
                continue
            signed_by = fields.get("signed-by", "")
            if "\n" in signed_by:  # an inline key block; fall back to the trusted keyrings
                signed_by = ""
            for uri in fields.get("uris", "").split():
                for suite in fields.get("suites", "").split():
                    yield uri, suite, fields.get("components", "").split(), signed_by


def _main_archive_line(arch: str) -> str:
    """The private sources.list line: the machine's own Debian mirror, release suite, `main` only.

    Only the release suite (not -updates/-security/-backports) is used so the package set is
    the stable release's, and third-party repositories are excluded by requiring the suite to be
    this system's codename.
    """
    codename = _os_codename()
    for uri, suite, components, signed_by in _configured_sources():
        if suite == codename and "main" in components:
            options = [f"arch={arch}", "lang=en", "target=Packages,Translations"]
            if signed_by:
                options.append(f"signed-by={signed_by}")
            return f"deb [{' '.join(options)}] {uri} {suite} main\n"
    raise RuntimeError(f"no 'deb ... {codename} main' source configured in /etc/apt")


# --------------------------------------------------------------------------- fetch


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """mtime and size of every entry under `root`, to prove a run left it alone."""
    if not root.exists():
        return {}
    entries = {".": (root.stat().st_mtime_ns, 0)}
    for path in root.rglob("*"):
        st = path.lstat()
        entries[str(path.relative_to(root))] = (st.st_mtime_ns, st.st_size)
    return entries


def _apt_config(cache: Path) -> str:
    """apt.conf loaded after the system's, overriding everything that could touch system state.

    Hooks are cleared because the system's update hooks (e.g. PackageKit's) act on the system's
    package cache, not ours. Indexes are stored uncompressed so parsing needs no external tools.
    """
    empty = cache / "empty.d"
    return f"""\
Dir::State "{cache}/state/";
Dir::State::Lists "{cache}/lists/";
Dir::State::status "{cache}/state/status";
Dir::State::extended_states "{cache}/state/extended_states";
Dir::Cache "{cache}/apt-cache/";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Dir::Log "{cache}/log/";
Dir::Etc::SourceList "{cache}/sources.list";
Dir::Etc::SourceParts "{empty}/";
Dir::Etc::Preferences "{cache}/preferences";
Dir::Etc::PreferencesParts "{empty}/";
Acquire::GzipIndexes "false";
Acquire::Languages "en";
Acquire::PDiffs "false";
APT::Sandbox::User "root";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
"""


def fetch_lists(cache: Path) -> Path:
    """Download the Debian `main` indexes into `cache`/lists with `apt-get update`; return it.

    Uses apt rather than raw HTTP so the mirror, proxy and signature checking configured on the
    machine apply unchanged. A completed earlier fetch is reused, which makes later runs offline.
    Raises if the system's lists directory changed during the run.
    """
    lists = cache / "lists"
    if (lists / FETCH_STAMP).exists():
        return lists
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise RuntimeError("apt-get and dpkg are needed to fetch the Debian package lists")
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()

    for sub in ("lists/partial", "state", "apt-cache/archives/partial", "log", "empty.d"):
        (cache / sub).mkdir(parents=True, exist_ok=True)
    (cache / "state" / "status").touch()
    (cache / "preferences").touch()
    (cache / "sources.list").write_text(_main_archive_line(arch))
    conf = cache / "apt.conf"
    conf.write_text(_apt_config(cache))

    before = _snapshot(SYSTEM_LISTS)
    subprocess.run(["apt-get", "-q", "-c", str(conf), "update"], check=True, timeout=3600)
    if _snapshot(SYSTEM_LISTS) != before:
        raise RuntimeError(f"{SYSTEM_LISTS} changed during the private apt-get update")
    if not any(lists.glob("*_Packages*")):
        raise RuntimeError(f"apt-get update produced no Packages index in {lists}")
    (lists / FETCH_STAMP).touch()
    return lists


# --------------------------------------------------------------------------- parse


def _read_index(path: Path) -> str:
    """Text of an index file, whichever compression apt chose to store it with."""
    suffix = path.suffix
    if suffix == ".gz":
        data = gzip.decompress(path.read_bytes())
    elif suffix == ".xz":
        data = lzma.decompress(path.read_bytes())
    elif suffix == ".bz2":
        data = bz2.decompress(path.read_bytes())
    elif suffix in (".lz4", ".zst"):  # no stdlib codec; apt depends on these tools anyway
        tool = "lz4" if suffix == ".lz4" else "zstd"
        data = subprocess.run([tool, "-dc", str(path)], check=True, capture_output=True).stdout
    else:
        data = path.read_bytes()
    return data.decode("utf-8", errors="replace")


def _index_files(lists: Path, kind: str) -> list[Path]:
    """Index files of one kind (`Packages` or `Translation-en`), skipping apt's own leftovers."""
    return sorted(
        p
        for p in lists.glob(f"*_{kind}*")
        if p.is_file() and p.name.split("_")[-1].split(".")[0] == kind
    )


def _undo_description(body: str) -> str:
    """Undo Debian's description formatting: one leading space, and ` .` for a blank line."""
    lines = []
    for line in body.split("\n"):
        stripped = line[1:] if line.startswith(" ") else line
        lines.append("" if stripped.strip() == "." else stripped.rstrip())
    return "\n".join(lines).strip()


def read_packages(lists: Path) -> list[tuple[str, str, str]]:
    """(package, summary, long description): one binary package per source package, first
    seen wins. A source's binaries (lib, -dev, -doc, -dbg...) describe the same software in
    near-identical words, so keeping them all would fill the set with queries that have several
    equally right answers; one per source gives the ~34k descriptions the issue describes.

    The Packages index often carries only the summary and a `Description-md5`; the long text
    then lives in Translation-en, keyed by package and that md5.
    """
    translations: dict[tuple[str, str], str] = {}
    for path in _index_files(lists, "Translation-en"):
        for stanza in _deb822_stanzas(_read_index(path)):
            text = stanza.get("Description-en")
            if text is not None and "Package" in stanza:
                translations[(stanza["Package"], stanza.get("Description-md5", ""))] = text

    packages: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for path in _index_files(lists, "Packages"):
        for stanza in _deb822_stanzas(_read_index(path)):
            name = stanza.get("Package")
            source = stanza.get("Source", name or "").split(" ", 1)[0]
            if not name or source in seen:
                continue
            seen.add(source)
            text = stanza.get("Description", "")
            if "\n" not in text:
                text = translations.get((name, stanza.get("Description-md5", "")), text)
            summary, _, body = text.partition("\n")
            packages.append((name, " ".join(summary.split()), _undo_description(body)))
    return packages


def build_known_items(
    packages: list[tuple[str, str, str]],
) -> tuple[Documents, Queries, dict[str, int]]:
    """Known-item documents and queries, plus how many packages each rule dropped.

    Texts too short to identify a package are dropped, and so is every package whose long
    description or summary repeats an earlier one's: a query with several identical candidate
    documents has no single right answer.
    """
    stats = {"packages": len(packages), "too_short": 0, "duplicate_long": 0, "duplicate_summary": 0}
    longs: set[str] = set()
    summaries: set[str] = set()
    documents: Documents = []
    queries: Queries = []
    for name, summary, long in packages:
        if len(summary.split()) < MIN_SUMMARY_WORDS or len(long.split()) < MIN_LONG_WORDS:
            stats["too_short"] += 1
        elif long in longs:
            stats["duplicate_long"] += 1
        elif summary in summaries:
            stats["duplicate_summary"] += 1
        else:
            longs.add(long)
            summaries.add(summary)
            documents.append((name, long))
            queries.append((name, summary, name))
    stats["documents"] = len(documents)
    stats["queries"] = len(queries)
    return documents, queries, stats


def _release_date(lists: Path) -> str:
    """The archive's Release date, recorded so a result can be tied to a metadata snapshot."""
    for path in sorted(lists.glob("*_InRelease")):
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("Date:"):
                return line[5:].strip()
    return ""


def _load_cached(cache: Path) -> dict | None:
    """The parsed dataset from a previous run, if it was built by this format version."""
    path = cache / PARSED_NAME
    if not path.exists():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as f:
        data = json.load(f)
    return data if data.get("version") == FORMAT_VERSION else None


def build(cache: Path = DEFAULT_CACHE) -> dict:
    """Fetch (if needed), parse and cache the dataset; returns the cached JSON structure."""
    data = _load_cached(cache)
    if data is not None:
        return data
    lists = fetch_lists(cache)
    documents, queries, stats = build_known_items(read_packages(lists))
    data = {
        "version": FORMAT_VERSION,
        "release_date": _release_date(lists),
        "stats": stats,
        "documents": documents,
        "queries": queries,
    }
    tmp = cache / (PARSED_NAME + ".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    os.replace(tmp, cache / PARSED_NAME)
    return data


def load_known_items(cache: Path = DEFAULT_CACHE) -> tuple[Documents, Queries]:
    """(documents [(doc_id, text)], queries [(query_id, text, relevant_doc_id)]).

    Document and query ids are both the package name: the set is one query per document.
    """
    data = build(cache)
    documents = [(doc_id, text) for doc_id, text in data["documents"]]
    queries = [(qid, text, rel) for qid, text, rel in data["queries"]]
    return documents, queries


def main() -> None:
    start = time.perf_counter()
    data = build(DEFAULT_CACHE)
    stats = data["stats"]
    print(f"cache: {DEFAULT_CACHE}  (archive date {data['release_date'] or 'unknown'})")
    print(
        f"packages read {stats['packages']:,}; dropped: too short {stats['too_short']:,}, "
        f"duplicate long text {stats['duplicate_long']:,}, "
        f"duplicate summary {stats['duplicate_summary']:,}"
    )
    print(f"documents {stats['documents']:,}, queries {stats['queries']:,}")
    documents = dict(data["documents"])
    for qid, query, relevant in random.Random().sample(data["queries"], 3):
        print(f"\n[{qid}] query: {query}\n  relevant: {documents[relevant][:300]!r}")
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
