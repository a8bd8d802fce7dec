"""The training catalog: modules and learning paths read from a YAML or CSV file, checked as a
whole and stored all or nothing, so a typo never leaves half a catalog (or a prerequisite cycle)
behind for assignments to trip over.

YAML holds `modules: [...]` and optionally `paths: [...]`; CSV holds modules only, one a row,
with the header `key,title,link,description,tags,topic,difficulty,minutes,prerequisites` and
lists separated by `;` or `|`. Every problem is reported with where it is: the CSV line, or the
YAML item and its line.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from indexer.ingest.plain_yaml import no_alias_loader
from indexer.search.ranker import RankedSnippet, Ranker
from models import LearningPath, TrainingModule

KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TAG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9+#._-]{0,31}$")
DIFFICULTIES = ("beginner", "intermediate", "advanced")
MAX_MINUTES = 10_000
MAX_TAGS = 20
MODULE_FIELDS = (
    "key",
    "title",
    "link",
    "description",
    "tags",
    "topic",
    "difficulty",
    "minutes",
    "prerequisites",
)
PATH_FIELDS = ("key", "title", "description", "modules")
_LIST_SEPARATORS = re.compile(r"[;|,]")


class CatalogError(ValueError):
    """Every problem found in a catalog file, one per line, naming where it is."""


@dataclass(frozen=True)
class ModuleSpec:
    key: str
    title: str
    url: str | None
    description: str | None
    tags: tuple[str, ...]
    topic: str | None
    difficulty: str | None
    minutes: int | None
    prerequisites: tuple[str, ...]


@dataclass(frozen=True)
class PathSpec:
    key: str
    title: str
    description: str | None
    module_keys: tuple[str, ...]


@dataclass(frozen=True)
class ImportReport:
    modules_created: int = 0
    modules_updated: int = 0
    modules_unchanged: int = 0
    paths_created: int = 0
    paths_updated: int = 0
    paths_unchanged: int = 0

    def summary(self) -> str:
        return (
            f"modules: {self.modules_created} new, {self.modules_updated} updated, "
            f"{self.modules_unchanged} unchanged; paths: {self.paths_created} new, "
            f"{self.paths_updated} updated, {self.paths_unchanged} unchanged"
        )


@dataclass(frozen=True)
class RelatedSnippet:
    snippet_id: int
    title: str
    url: str | None


@dataclass(frozen=True)
class _Where:
    """Where an item sits in its file, to prefix each problem with."""

    source: str
    item: str | None = None
    line: int | None = None
    field_lines: Mapping[str, int] | None = None

    @property
    def label(self) -> str:
        return self.item if self.item else f"line {self.line}"

    def __call__(self, field: str | None, message: str) -> str:
        if self.item is None:
            where = f"{self.source} line {self.line}"
            return f"{where}: {field}: {message}" if field else f"{where}: {message}"
        line = (self.field_lines or {}).get(field or "", self.line)
        where = f"{self.source} {self.item}{'.' + field if field else ''}"
        return f"{where}: {message}" + (f" (line {line})" if line else "")


@dataclass(frozen=True)
class _Item:
    """A parsed module or path with where it came from."""

    spec: ModuleSpec | PathSpec
    where: _Where


class _Fields:
    """Reads one item's fields, noting a problem per bad field instead of stopping at the first."""

    def __init__(self, raw: Mapping[Any, Any], where: _Where, problems: list[str]) -> None:
        self.raw, self.where, self.problems = raw, where, problems
        self.ok = True

    def problem(self, field: str, message: str) -> None:
        self.ok = False
        self.problems.append(self.where(field, message))

    def _present(self, name: str) -> Any:
        value = self.raw.get(name)
        if isinstance(value, str):
            value = value.strip()
        return None if value in (None, "") else value

    def text(self, name: str, limit: int, required: bool = False) -> str | None:
        value = self._present(name)
        if value is None:
            if required:
                self.problem(name, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.problem(name, "must be text")
            return None
        value = str(value)
        if len(value) > limit:
            self.problem(name, f"is {len(value)} characters long; at most {limit} fit")
            return None
        return value

    def key(self, name: str = "key") -> str | None:
        value = self.text(name, 64, required=True)
        if value is not None and not KEY_PATTERN.match(value):
            self.problem(name, _bad_key(value))
            return None
        return value

    def link(self, name: str) -> str | None:
        value = self.text(name, 2048)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            self.problem(
                name, f"`{value}` is not a web link: it must start with http:// or https://"
            )
            return None
        return value

    def minutes(self, name: str) -> int | None:
        value = self._present(name)
        if value is None:
            return None
        whole_text = isinstance(value, str) and value.isascii() and value.isdigit()
        if whole_text or (isinstance(value, float) and value.is_integer()):
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problem(name, "must be a whole number of minutes")
            return None
        if not 1 <= value <= MAX_MINUTES:
            self.problem(name, f"must be between 1 and {MAX_MINUTES} minutes")
            return None
        return value

    def difficulty(self, name: str) -> str | None:
        value = self.text(name, 32)
        if value is None:
            return None
        if value.lower() not in DIFFICULTIES:
            self.problem(name, f"`{value}` is not one of {', '.join(DIFFICULTIES)}")
            return None
        return value.lower()

    def _list(self, name: str) -> list[str] | None:
        value = self._present(name)
        if value is None:
            return []
        if isinstance(value, str):
            return [part.strip() for part in _LIST_SEPARATORS.split(value) if part.strip()]
        if isinstance(value, list) and all(
            isinstance(v, str | int) and not isinstance(v, bool) for v in value
        ):
            return [str(v).strip() for v in value if str(v).strip()]
        self.problem(name, "must be a list of words")
        return None

    def tags(self, name: str) -> tuple[str, ...]:
        values = self._list(name)
        if values is None:
            return ()
        tags = list(dict.fromkeys(v.lower() for v in values))
        for tag in tags:
            if not TAG_PATTERN.match(tag):
                self.problem(
                    name,
                    f"`{tag}` is not a tag: use one short word (letters, digits, - _ . + #), "
                    "at most 32 characters",
                )
        if len(tags) > MAX_TAGS:
            self.problem(name, f"has {len(tags)} tags; at most {MAX_TAGS} are allowed")
        return tuple(tags)

    def keys(self, name: str) -> tuple[str, ...]:
        values = self._list(name)
        if values is None:
            return ()
        for value in values:
            if not KEY_PATTERN.match(value):
                self.problem(name, _bad_key(value))
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            self.problem(name, f"lists `{repeated[0]}` more than once")
        return tuple(dict.fromkeys(v for v in values if KEY_PATTERN.match(v)))

    def unknown(self, allowed: Sequence[str]) -> None:
        for name in self.raw:
            if str(name) not in allowed:
                self.problem(str(name), f"is not a known field (use {', '.join(allowed)})")


def import_catalog(sessions: sessionmaker[Session], path: Path) -> ImportReport:
    """Check the whole file against itself and the stored catalog, then store it in one
    transaction. Modules missing from the file stay: assignments still point at them."""
    modules, paths, problems = _read_catalog(path)
    source = path.name
    with sessions() as session:
        try:
            with session.begin():
                stored = {
                    m.key: m
                    for m in session.scalars(
                        select(TrainingModule).options(selectinload(TrainingModule.prerequisites))
                    )
                }
                stored_paths = {p.key: p for p in session.scalars(select(LearningPath))}
                problems += _cross_check(modules, paths, stored, stored_paths)
                if problems:
                    raise CatalogError("\n".join(problems))
                return _store(session, modules, paths, stored, stored_paths)
        except IntegrityError:
            raise CatalogError(
                f"{source}: the catalog was changed by someone else at the same time; "
                "nothing was imported, please try again"
            ) from None


def _read_catalog(path: Path) -> tuple[list[_Item], list[_Item], list[str]]:
    """Each item checked on its own, with the problems found; the cross-item checks need the
    database. Items whose key is readable are kept even when other fields are wrong, so the
    cross-item checks still run and report everything at once."""
    source = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise CatalogError(f"{source}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{source}: is not UTF-8 text") from None
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        return _read_yaml(source, text)
    if suffix == ".csv":
        modules, problems = _read_csv(source, text)
        return modules, [], problems
    raise CatalogError(f"{source}: use a .yml, .yaml or .csv file")


def _read_yaml(source: str, text: str) -> tuple[list[_Item], list[_Item], list[str]]:
    loader = no_alias_loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as error:
        raise CatalogError(f"{source}: not valid YAML: {error}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: expected `modules:` (and optionally `paths:`) at the top")
    problems: list[str] = []
    for name in data:
        if name not in ("modules", "paths"):
            problems.append(f"{source} {name}: is not known here (use modules, paths)")
    modules: list[_Item] = []
    paths: list[_Item] = []
    for section, fields, parse, into in (
        ("modules", MODULE_FIELDS, _module, modules),
        ("paths", PATH_FIELDS, _path, paths),
    ):
        items = data.get(section) or []
        section_node = _child(root, section)
        if not isinstance(items, list):
            line = _line(section_node)
            problems.append(
                f"{source} {section}: must be a list" + (f" (line {line})" if line else "")
            )
            continue
        for index, raw in enumerate(items):
            node = _child(section_node, index)
            where = _Where(source, f"{section}[{index}]", _line(node), _field_lines(node))
            if not isinstance(raw, dict):
                problems.append(where(None, f"must be a mapping of {', '.join(fields)}"))
                continue
            item = parse(raw, where, problems)
            if item is not None:
                into.append(_Item(item, where))
    if not modules and not paths and not problems:
        problems.append(f"{source}: has no modules and no paths")
    return modules, paths, problems


def _read_csv(source: str, text: str) -> tuple[list[_Item], list[str]]:
    reader = csv.reader(io.StringIO(text))
    problems: list[str] = []
    try:
        header = [h.strip().lower() for h in next(reader, [])]
    except csv.Error as error:
        raise CatalogError(f"{source} line 1: {error}") from None
    header = ["link" if h == "url" else h for h in header]
    head = _Where(source, line=1)
    missing = [name for name in ("key", "title") if name not in header]
    unknown = [h for h in header if h not in MODULE_FIELDS]
    if not header:
        problems.append(head(None, f"is empty; expected the header {','.join(MODULE_FIELDS)}"))
    elif missing or unknown or len(set(header)) != len(header):
        problems.extend(head(None, f"the header has no `{name}` column") for name in missing)
        problems.extend(
            head(None, f"unknown column `{name}` (use {', '.join(MODULE_FIELDS)})")
            for name in unknown
        )
        if len(set(header)) != len(header):
            problems.append(head(None, "the header names a column twice"))
    if problems:
        raise CatalogError("\n".join(problems))
    modules: list[_Item] = []
    last_line = reader.line_num
    try:
        for row in reader:
            where, last_line = _Where(source, line=last_line + 1), reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                problems.append(
                    where(None, f"has {len(row)} cells but the header has {len(header)}")
                )
                continue
            item = _module(dict(zip(header, row, strict=False)), where, problems)
            if item is not None:
                modules.append(_Item(item, where))
    except csv.Error as error:
        problems.append(_Where(source, line=last_line + 1)(None, str(error)))
    if not modules and not problems:
        problems.append(f"{source}: has no modules")
    return modules, problems


def _module(raw: Mapping[Any, Any], where: _Where, problems: list[str]) -> ModuleSpec | None:
    if "url" in raw and "link" not in raw:
        raw = {("link" if k == "url" else k): v for k, v in raw.items()}
    fields = _Fields(raw, where, problems)
    fields.unknown(MODULE_FIELDS)
    key = fields.key()
    spec = ModuleSpec(
        key=key or "",
        title=fields.text("title", 255, required=True) or "",
        url=fields.link("link"),
        description=fields.text("description", 10_000),
        tags=fields.tags("tags"),
        topic=fields.text("topic", 128),
        difficulty=fields.difficulty("difficulty"),
        minutes=fields.minutes("minutes"),
        prerequisites=fields.keys("prerequisites"),
    )
    if key is not None and key in spec.prerequisites:
        fields.problem("prerequisites", "a module cannot require itself")
    return spec if key is not None else None


def _path(raw: Mapping[Any, Any], where: _Where, problems: list[str]) -> PathSpec | None:
    fields = _Fields(raw, where, problems)
    fields.unknown(PATH_FIELDS)
    key = fields.key()
    spec = PathSpec(
        key=key or "",
        title=fields.text("title", 255, required=True) or "",
        description=fields.text("description", 10_000),
        module_keys=fields.keys("modules"),
    )
    if fields.ok and not spec.module_keys:
        fields.problem("modules", "is required: list the module keys in the order to take them")
    return spec if key is not None else None


def _cross_check(
    modules: Sequence[_Item],
    paths: Sequence[_Item],
    stored: Mapping[str, TrainingModule],
    stored_paths: Mapping[str, LearningPath],
) -> list[str]:
    """Duplicates, unknown keys, cycles and path order, over the file and what is stored."""
    in_file: dict[str, _Item] = {}
    for item in modules:
        in_file.setdefault(item.spec.key, item)
    graph = {key: tuple(p.key for p in m.prerequisites) for key, m in stored.items()}
    graph.update({key: item.spec.prerequisites for key, item in in_file.items()})
    return (
        _duplicates(modules)
        + _duplicates(paths)
        + _key_clashes(
            modules,
            paths,
            set(in_file) | set(stored),
            {i.spec.key for i in paths} | set(stored_paths),
        )
        + _prerequisite_problems(modules, in_file, graph)
        + [problem for item in paths for problem in _path_problems(item, graph)]
    )


def _key_clashes(
    modules: Sequence[_Item], paths: Sequence[_Item], module_keys: set[str], path_keys: set[str]
) -> list[str]:
    """A bulk assignment row names a module or a path in the same column, so keys must not
    clash."""
    return [
        item.where("key", f"`{item.spec.key}` is already a learning path's key")
        for item in modules
        if item.spec.key in path_keys
    ] + [
        item.where("key", f"`{item.spec.key}` is already a module's key")
        for item in paths
        if item.spec.key in module_keys
    ]


def _prerequisite_problems(
    modules: Sequence[_Item], in_file: Mapping[str, _Item], graph: Mapping[str, tuple[str, ...]]
) -> list[str]:
    """Unknown prerequisites, and each cycle reported once, at its first module in the file
    (a cycle only through stored modules was accepted before and is not this file's doing)."""
    known = sorted(graph)
    problems = [
        item.where(
            "prerequisites",
            f"no module `{prerequisite}` in this file or in the catalog"
            + _did_you_mean(prerequisite, known),
        )
        for item in modules
        for prerequisite in item.spec.prerequisites
        if prerequisite not in graph
    ]
    for cycle in _cycles(graph):
        first = next((in_file[key] for key in cycle if key in in_file), None)
        if first is not None:
            problems.append(
                first.where("prerequisites", f"prerequisite cycle: {' -> '.join(cycle)}")
            )
    return problems


def _path_problems(item: _Item, graph: Mapping[str, tuple[str, ...]]) -> list[str]:
    """A path's unknown modules, and modules listed before their own prerequisites."""
    order = item.spec.module_keys
    known = sorted(graph)
    problems = [
        item.where(
            "modules",
            f"no module `{key}` in this file or in the catalog" + _did_you_mean(key, known),
        )
        for key in order
        if key not in graph
    ]
    position = {key: n for n, key in enumerate(order)}
    for n, key in enumerate(order):
        for prerequisite in prerequisites_first(graph, key):
            if position.get(prerequisite, -1) > n:
                problems.append(
                    item.where(
                        "modules",
                        f"`{key}` comes before its prerequisite `{prerequisite}`; "
                        "list prerequisites first",
                    )
                )
    return problems


def _duplicates(items: Sequence[_Item]) -> list[str]:
    first: dict[str, _Item] = {}
    problems = []
    for item in items:
        if (earlier := first.setdefault(item.spec.key, item)) is not item:
            problems.append(
                item.where(
                    "key", f"`{item.spec.key}` is used twice (first at {earlier.where.label})"
                )
            )
    return problems


def prerequisites_first(graph: Mapping[str, Sequence[str]], key: str) -> list[str]:
    """Every prerequisite of `key`, direct or not, each after its own prerequisites; stops at
    cycles instead of looping, so it is safe on data that has not been checked yet."""
    order: list[str] = []
    seen = {key}
    stack: list[tuple[str, Iterator[str]]] = [(key, iter(sorted(graph.get(key, ()))))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if node != key:
                order.append(node)
        elif child not in seen:
            seen.add(child)
            stack.append((child, iter(sorted(graph.get(child, ())))))
    return order


def _cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each distinct prerequisite cycle once, as `a, b, ..., a` (self-loops are reported
    separately, where they are written)."""
    state: dict[str, int] = {}
    found: list[list[str]] = []
    reported: set[frozenset[str]] = set()
    for root in sorted(graph):
        if root in state:
            continue
        state[root] = 1
        path = [root]
        stack: list[Iterator[str]] = [iter(sorted(graph.get(root, ())))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                state[path.pop()] = 2
            elif child == path[-1] or state.get(child) == 2:
                continue
            elif state.get(child) == 1:
                cycle = [*path[path.index(child) :], child]
                if frozenset(cycle) not in reported:
                    reported.add(frozenset(cycle))
                    found.append(cycle)
            else:
                state[child] = 1
                path.append(child)
                stack.append(iter(sorted(graph.get(child, ()))))
    return found


def _store(
    session: Session,
    modules: Sequence[_Item],
    paths: Sequence[_Item],
    stored: dict[str, TrainingModule],
    existing_paths: Mapping[str, LearningPath],
) -> ImportReport:
    counts = dict.fromkeys(("created", "updated", "unchanged"), 0)
    for item in modules:
        spec: ModuleSpec = item.spec
        module = stored.get(spec.key)
        if module is None:
            module = TrainingModule(key=spec.key, tags=[], prerequisites=[])
            session.add(module)
            stored[spec.key] = module
            counts["created"] += 1
        elif _module_values(module) == _spec_values(spec):
            counts["unchanged"] += 1
        else:
            counts["updated"] += 1
        for name, value in _spec_values(spec).items():
            if name != "prerequisites" and getattr(module, name) != value:
                setattr(module, name, value)
    for item in modules:
        module = stored[item.spec.key]
        wanted = [stored[key] for key in item.spec.prerequisites]
        if sorted(p.key for p in module.prerequisites) != sorted(p.key for p in wanted):
            module.prerequisites = wanted
    path_counts = dict.fromkeys(("created", "updated", "unchanged"), 0)
    for item in paths:
        path_spec: PathSpec = item.spec
        values = {
            "title": path_spec.title,
            "description": path_spec.description,
            "module_keys": list(path_spec.module_keys),
        }
        learning_path = existing_paths.get(path_spec.key)
        if learning_path is None:
            session.add(LearningPath(key=path_spec.key, **values))
            path_counts["created"] += 1
            continue
        changed = {k: v for k, v in values.items() if getattr(learning_path, k) != v}
        for name, value in changed.items():
            setattr(learning_path, name, value)
        path_counts["updated" if changed else "unchanged"] += 1
    session.flush()
    return ImportReport(
        modules_created=counts["created"],
        modules_updated=counts["updated"],
        modules_unchanged=counts["unchanged"],
        paths_created=path_counts["created"],
        paths_updated=path_counts["updated"],
        paths_unchanged=path_counts["unchanged"],
    )


def _spec_values(spec: ModuleSpec) -> dict[str, Any]:
    return {
        "title": spec.title,
        "url": spec.url,
        "description": spec.description,
        "tags": list(spec.tags),
        "topic": spec.topic,
        "difficulty": spec.difficulty,
        "minutes": spec.minutes,
        "prerequisites": sorted(spec.prerequisites),
    }


def _module_values(module: TrainingModule) -> dict[str, Any]:
    return {
        "title": module.title,
        "url": module.url,
        "description": module.description,
        "tags": list(module.tags or []),
        "topic": module.topic,
        "difficulty": module.difficulty,
        "minutes": module.minutes,
        "prerequisites": sorted(p.key for p in module.prerequisites),
    }


def related_snippets(
    ranker: Ranker, sessions: sessionmaker[Session], module_key: str, limit: int = 3
) -> list[RelatedSnippet]:
    """Public knowledge-base reading for a module, found by the ranker that answers questions so
    reading and answers agree (same index, permissions, ratings and one result per document):
    the module's title and description are the query, among snippets sharing one of its tags
    or its topic, most relevant first. An unknown module has nothing related."""
    with sessions() as session:
        module = session.scalar(select(TrainingModule).where(TrainingModule.key == module_key))
        if module is None or limit <= 0:
            return []
        tags = sorted({t.lower() for t in module.tags or []})
        topic = " ".join((module.topic or "").replace('"', " ").split()).lower()
        text = _free_text(f"{module.title} {module.description or ''}")
    # The query language ANDs a tag filter with a topic filter, so "shares a tag or the topic"
    # is two searches for the same text, merged by document.
    filters = [" ".join(f"tag:{tag}" for tag in tags)] if tags else []
    filters += [f'topic:"{topic}"'] if topic else []
    best: dict[int, RankedSnippet] = {}
    for where in filters:
        for result in ranker.rank(f"{text} {where}", limit=limit).results:
            seen = best.get(result.document_id)
            if seen is None or result.score > seen.score:
                best[result.document_id] = result
    ranked = sorted(best.values(), key=lambda r: (-r.score, r.snippet_id))[:limit]
    return [RelatedSnippet(snippet_id=r.snippet_id, title=r.title, url=r.url) for r in ranked]


def _free_text(text: str) -> str:
    """Module text as plain query words: a quote or `tag:` in a description must not turn into
    a phrase or a filter that the reading then has to match."""
    return " ".join(text.replace('"', " ").replace(":", " ").split())


def _bad_key(value: str) -> str:
    return (
        f"`{value}` is not a valid key: use 1 to 64 lowercase letters, digits, `-` or `_`, "
        "starting with a letter or digit"
    )


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f". Did you mean `{close[0]}`?" if close else ""


def _child(node: yaml.Node | None, name: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(name, str):
        return next((v for k, v in node.value if getattr(k, "value", None) == name), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(name, int) and name < len(node.value):
        return node.value[name]
    return None


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _field_lines(node: yaml.Node | None) -> dict[str, int]:
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}
