"""Training assignments: who has to take which module by when, with prerequisites assigned
first, self-enrolment, completion, snoozing and the aggregate report managers see. Slack-free:
handlers and the scheduler call this and only render or deliver what it returns.

Prerequisites that are already completed are not assigned again, and neither are their own
prerequisites: once someone has done a module, what it builds on is assumed known.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from models import Assignment, LearningPath, TrainingModule
from models.session import upsert_insert
from models.workspace import stamp
from people.training.catalog import KEY_PATTERN, ModuleSpec, PathSpec, prerequisites_first

SNOOZE_DAYS = (1, 3, 7)
ORIGIN_LENGTH = 64
USER_ID_LENGTH = 32
SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{1,31}$")
_MENTION = re.compile(r"^<@([A-Z0-9]+)(?:\|[^>]*)?>$")
CSV_COLUMNS = ("user", "module", "due")


class TrainingError(ValueError):
    """Something a person asked for that cannot be done; the message says why, for them."""


@dataclass(frozen=True)
class AssignResult:
    """Module keys by what happened to them, prerequisites before what needs them."""

    user_id: str
    assigned: tuple[str, ...]
    already_assigned: tuple[str, ...]
    already_completed: tuple[str, ...]


@dataclass(frozen=True)
class Progress:
    """What completing a module did, to confirm back to the person."""

    module_key: str
    title: str
    completed_at: datetime
    newly_completed: bool
    open_prerequisites: tuple[str, ...]
    still_open: int


@dataclass(frozen=True)
class AssignmentView:
    assignment_id: int
    module_key: str
    title: str
    url: str | None
    minutes: int | None
    due_at: datetime | None
    completed_at: datetime | None
    snoozed_until: datetime | None
    overdue: bool
    blocked_by: tuple[str, ...]
    origin: str
    assigned_by: str | None


@dataclass(frozen=True)
class OpenAssignment:
    """An unfinished assignment with a due date, for the scheduler's nudges."""

    user_id: str
    assignment_id: int
    module_key: str
    module_title: str
    due_at: datetime
    snoozed_until: datetime | None
    overdue: bool
    snoozed: bool


@dataclass(frozen=True)
class ModuleCompletion:
    key: str
    title: str
    assigned: int
    done: int
    overdue: int


@dataclass(frozen=True)
class CompletionReport:
    """Counts only: the managers' digest must never single anyone out."""

    generated_at: datetime
    modules: tuple[ModuleCompletion, ...]
    assigned: int
    done: int
    overdue: int
    people: int


class _Catalog:
    """Every module and path, loaded once per transaction: catalogs are small and prerequisite
    walks would otherwise query per step."""

    def __init__(self, session: Session) -> None:
        query = select(TrainingModule).options(selectinload(TrainingModule.prerequisites))
        self.modules = {m.key: m for m in session.scalars(query)}
        self.by_id = {m.id: m for m in self.modules.values()}
        self.paths = {p.key: p for p in session.scalars(select(LearningPath))}
        self.graph = {
            key: tuple(sorted(p.key for p in m.prerequisites)) for key, m in self.modules.items()
        }

    def module(self, key: str) -> TrainingModule:
        key = _normal(key)
        if key in self.modules:
            return self.modules[key]
        if key in self.paths:
            raise TrainingError(f"`{key}` is a learning path, not a single module.")
        raise TrainingError(
            f"There is no training module `{key}`." + _did_you_mean(key, self.modules)
        )

    def path(self, key: str) -> LearningPath:
        key = _normal(key)
        if key in self.paths:
            return self.paths[key]
        if key in self.modules:
            raise TrainingError(f"`{key}` is a single module, not a learning path.")
        raise TrainingError(f"There is no learning path `{key}`." + _did_you_mean(key, self.paths))

    def targets(self, key: str) -> list[tuple[TrainingModule, str]]:
        """A module, or each module of a path in order, with the origin to record."""
        key = _normal(key)
        if key in self.paths:
            path = self.paths[key]
            return [(self.module(k), _origin(f"path:{path.key}")) for k in path.module_keys]
        if key in self.modules:
            return [(self.modules[key], "admin")]
        raise TrainingError(
            f"There is no training module or path `{key}`."
            + _did_you_mean(key, [*self.modules, *self.paths])
        )

    def open_prerequisites(self, key: str, done: set[str]) -> tuple[str, ...]:
        """What `key` still waits on, whether or not `key` itself is done; nothing behind a
        completed prerequisite counts."""
        graph = _pruned(self.graph, done - {key})
        return tuple(k for k in prerequisites_first(graph, key) if k not in done)


class Training:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # Catalog

    def modules(self, search: str | None = None) -> list[ModuleSpec]:
        """Modules by title; with `search`, those whose key, title, topic, tags or description
        contain every word of it."""
        words = (search or "").lower().split()
        with self.sessions() as session:
            catalog = _Catalog(session)
            found = [
                _module_info(m, catalog)
                for m in catalog.modules.values()
                if all(word in _haystack(m) for word in words)
            ]
        return sorted(found, key=lambda m: (m.title.lower(), m.key))

    def module(self, key: str) -> ModuleSpec:
        with self.sessions() as session:
            catalog = _Catalog(session)
            return _module_info(catalog.module(key), catalog)

    def paths(self) -> list[PathSpec]:
        with self.sessions() as session:
            rows = session.scalars(select(LearningPath).order_by(LearningPath.title))
            return [
                PathSpec(p.key, p.title, p.description, tuple(p.module_keys or [])) for p in rows
            ]

    # Assigning

    def assign(
        self,
        user_id: str,
        module_key: str,
        due: datetime | None,
        assigned_by: str | None,
        now: datetime,
        origin: str = "admin",
    ) -> AssignResult:
        """Assign a module and whatever it builds on that the person has not done yet; assigning
        again only moves the due date."""
        _check_user(user_id)
        _check_due(due, now)
        with self.sessions() as session, session.begin():
            catalog = _Catalog(session)
            module = catalog.module(module_key)
            return _Assigner(session, catalog, assigned_by, now).run(
                user_id, [(module, _origin(origin))], due
            )

    def assign_path(
        self,
        user_id: str,
        path_key: str,
        due: datetime | None,
        assigned_by: str | None,
        now: datetime,
    ) -> AssignResult:
        _check_user(user_id)
        _check_due(due, now)
        with self.sessions() as session, session.begin():
            catalog = _Catalog(session)
            path = catalog.path(path_key)
            return _Assigner(session, catalog, assigned_by, now).run(
                user_id, catalog.targets(path.key), due
            )

    def assign_many(
        self,
        rows: Iterable[tuple[str, str, datetime | None]],
        assigned_by: str | None,
        now: datetime,
    ) -> list[AssignResult]:
        """Bulk assignment (a CSV, everyone in a channel): every row is checked before anything
        is written, so a typo on row 40 does not leave 39 people assigned and the rest not."""
        rows = list(rows)
        if not rows:
            raise TrainingError("Nothing to assign: the list is empty.")
        with self.sessions() as session, session.begin():
            catalog = _Catalog(session)
            plans: list[tuple[str, list[tuple[TrainingModule, str]], datetime | None]] = []
            problems = []
            for number, (user_id, key, due) in enumerate(rows, start=1):
                try:
                    _check_user(user_id)
                    _check_due(due, now)
                    plans.append((user_id, catalog.targets(key), due))
                except TrainingError as error:
                    problems.append(f"row {number} ({user_id}, {key}): {error}")
            if problems:
                raise TrainingError(
                    f"Nobody was assigned anything; {len(problems)} of {len(rows)} rows "
                    "need fixing:\n" + "\n".join(problems)
                )
            assigner = _Assigner(session, catalog, assigned_by, now)
            return [assigner.run(user_id, targets, due) for user_id, targets, due in plans]

    def join(self, user_id: str, module_key: str, now: datetime) -> AssignResult:
        """Self-enrolment: no due date, and the person is their own assigner."""
        return self.assign(user_id, module_key, None, user_id, now, origin="self")

    # The learner's side

    def complete(self, user_id: str, module_key: str, now: datetime) -> Progress:
        """Mark a module done, even one never assigned or whose prerequisites are still open
        (people learn out of order); the result says what is still open."""
        _check_user(user_id)
        with self.sessions() as session, session.begin():
            catalog = _Catalog(session)
            module = catalog.module(module_key)
            mine = _assignments(session, user_id)
            row = mine.get(module.id)
            inserted = False
            if row is None:
                row, inserted = _insert(
                    session,
                    user_id=user_id,
                    module_id=module.id,
                    assigned_by=user_id,
                    origin="self",
                    due_at=None,
                    completed_at=now,
                    now=now,
                )
                mine[module.id] = row
            newly = inserted or row.completed_at is None
            if row.completed_at is None:
                row.completed_at = now
            done = _done_keys(mine, catalog)
            return Progress(
                module_key=module.key,
                title=module.title,
                completed_at=row.completed_at,
                newly_completed=newly,
                open_prerequisites=catalog.open_prerequisites(module.key, done),
                still_open=sum(1 for a in mine.values() if a.completed_at is None),
            )

    def snooze(self, user_id: str, assignment_id: int, days: int, now: datetime) -> AssignmentView:
        """Quiet the reminders about one open assignment for 1, 3 or 7 days."""
        if days not in SNOOZE_DAYS:
            choices = ", ".join(map(str, SNOOZE_DAYS))
            raise TrainingError(f"You can snooze for {choices} days, not {days}.")
        with self.sessions() as session, session.begin():
            row = session.get(Assignment, assignment_id)
            if row is None or row.user_id != user_id:
                raise TrainingError("That training assignment is not yours, so it was not snoozed.")
            catalog = _Catalog(session)
            module = catalog.by_id[row.module_id]
            if row.completed_at is not None:
                raise TrainingError(f"You already completed *{module.title}*; nothing to snooze.")
            row.snoozed_until = now + timedelta(days=days)
            done = _done_keys(_assignments(session, user_id), catalog)
            return _view(row, catalog, done, now)

    def progress(self, user_id: str, now: datetime) -> list[AssignmentView]:
        """Open work first (overdue, then soonest due, undated last), then what is done, newest
        first."""
        with self.sessions() as session:
            catalog = _Catalog(session)
            mine = _assignments(session, user_id)
            done = _done_keys(mine, catalog)
            views = [_view(row, catalog, done, now) for row in mine.values()]
        far = datetime.max.replace(tzinfo=UTC)
        open_views = sorted(
            (v for v in views if v.completed_at is None),
            key=lambda v: (not v.overdue, v.due_at is None, v.due_at or far, v.title.lower()),
        )
        finished = sorted(
            (v for v in views if v.completed_at is not None),
            key=lambda v: (v.completed_at, v.assignment_id),
            reverse=True,
        )
        return open_views + finished

    # The scheduler's and managers' side

    def open_assignments(
        self, now: datetime, assignment_id: int | None = None
    ) -> list[OpenAssignment]:
        """Every unfinished assignment that has a due date, soonest first (or just one)."""
        query = (
            select(Assignment, TrainingModule.key, TrainingModule.title)
            .join(TrainingModule, TrainingModule.id == Assignment.module_id)
            .where(Assignment.completed_at.is_(None), Assignment.due_at.is_not(None))
            .order_by(Assignment.due_at, Assignment.id)
        )
        if assignment_id is not None:
            query = query.where(Assignment.id == assignment_id)
        with self.sessions() as session:
            return [
                OpenAssignment(
                    user_id=row.user_id,
                    assignment_id=row.id,
                    module_key=key,
                    module_title=title,
                    due_at=row.due_at,
                    snoozed_until=row.snoozed_until,
                    overdue=row.due_at < now,
                    snoozed=row.snoozed_until is not None and row.snoozed_until > now,
                )
                for row, key, title in session.execute(query)
                if row.due_at is not None
            ]

    def completion_report(self, now: datetime) -> CompletionReport:
        overdue = case((Assignment.completed_at.is_(None) & (Assignment.due_at < now), 1), else_=0)
        query = (
            select(
                TrainingModule.key,
                TrainingModule.title,
                func.count(Assignment.id),
                func.count(Assignment.completed_at),
                func.coalesce(func.sum(overdue), 0),
            )
            .join(Assignment, Assignment.module_id == TrainingModule.id)
            .group_by(TrainingModule.id, TrainingModule.key, TrainingModule.title)
            .order_by(TrainingModule.title, TrainingModule.key)
        )
        with self.sessions() as session:
            modules = tuple(
                ModuleCompletion(key, title, int(assigned), int(done), int(late))
                for key, title, assigned, done, late in session.execute(query)
            )
            people = session.scalar(select(func.count(func.distinct(Assignment.user_id)))) or 0
        return CompletionReport(
            generated_at=now,
            modules=modules,
            assigned=sum(m.assigned for m in modules),
            done=sum(m.done for m in modules),
            overdue=sum(m.overdue for m in modules),
            people=int(people),
        )


def parse_assignment_csv(text: str) -> list[tuple[str, str, datetime | None]]:
    """Rows of `user,module,due` (due optional: `2026-12-01` means the end of that day UTC; a
    datetime without a zone is UTC). Every bad line is reported; nothing is returned half-read."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    rows: list[tuple[str, str, datetime | None]] = []
    problems: list[str] = []
    header: list[str] | None = None
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [c.strip().lower() for c in cells]
                missing = [c for c in ("user", "module") if c not in header]
                unknown = [c for c in header if c not in CSV_COLUMNS]
                if missing or unknown:
                    raise TrainingError(
                        f"line {line}: the first line must be the header `user,module,due` "
                        "(due is optional)"
                    )
                continue
            if len(cells) > len(header):
                problems.append(
                    f"line {line}: has {len(cells)} cells, the header has {len(header)}"
                )
                continue
            row = dict(zip(header, (c.strip() for c in cells), strict=False))
            parsed = _csv_row(row, line, problems)
            if parsed is not None:
                rows.append(parsed)
    except csv.Error as error:
        problems.append(f"line {last_line + 1}: {error}")
    if problems:
        raise TrainingError("Nothing was read; fix these lines:\n" + "\n".join(problems))
    if not rows:
        raise TrainingError("The CSV has no rows to assign under its `user,module,due` header.")
    return rows


def _csv_row(
    row: Mapping[str, str], line: int, problems: list[str]
) -> tuple[str, str, datetime | None] | None:
    before = len(problems)
    raw_user = row.get("user", "")
    mention = _MENTION.match(raw_user)
    user = mention[1] if mention else raw_user
    if not SLACK_USER_ID.match(user):
        problems.append(
            f"line {line}: user: `{raw_user}` is not a Slack user id "
            "(like U012AB3CD or <@U012AB3CD>)"
        )
    key = _normal(row.get("module", ""))
    if not key:
        problems.append(f"line {line}: module: is required")
    elif not KEY_PATTERN.match(key):
        problems.append(f"line {line}: module: `{key}` is not a module or path key")
    due: datetime | None = None
    if raw_due := row.get("due", ""):
        try:
            due = _due(raw_due)
        except ValueError:
            problems.append(
                f"line {line}: due: `{raw_due}` is not a date like 2026-12-01 "
                "or a time like 2026-12-01T17:00+01:00"
            )
    return (user, key, due) if len(problems) == before else None


def _due(text: str) -> datetime:
    if len(text) == 10:
        day = date.fromisoformat(text)
        return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class _Assigner:
    """Writes assignments for one transaction, remembering each person's rows between calls."""

    def __init__(
        self, session: Session, catalog: _Catalog, assigned_by: str | None, now: datetime
    ) -> None:
        self.session, self.catalog, self.assigned_by, self.now = session, catalog, assigned_by, now
        self.people: dict[str, dict[int, Assignment]] = {}

    def run(
        self,
        user_id: str,
        targets: Sequence[tuple[TrainingModule, str]],
        due: datetime | None,
    ) -> AssignResult:
        if user_id not in self.people:
            self.people[user_id] = _assignments(self.session, user_id)
        mine = self.people[user_id]
        outcome: dict[str, list[str]] = {"assigned": [], "already": [], "completed": []}
        seen: set[str] = set()
        for target, origin in targets:
            done = _done_keys(mine, self.catalog)
            steps = (
                []
                if target.key in done
                else prerequisites_first(_pruned(self.catalog.graph, done), target.key)
            )
            for key in [*steps, target.key]:
                if key in seen:
                    continue
                seen.add(key)
                is_target = key == target.key
                why = origin if is_target else _origin(f"prerequisite:{target.key}")
                outcome[self._ensure(mine, user_id, key, why, due, is_target)].append(key)
        return AssignResult(
            user_id=user_id,
            assigned=tuple(outcome["assigned"]),
            already_assigned=tuple(outcome["already"]),
            already_completed=tuple(outcome["completed"]),
        )

    def _ensure(
        self,
        mine: dict[int, Assignment],
        user_id: str,
        key: str,
        origin: str,
        due: datetime | None,
        is_target: bool,
    ) -> str:
        module = self.catalog.modules[key]
        row = mine.get(module.id)
        if row is None:
            row, inserted = _insert(
                self.session,
                user_id=user_id,
                module_id=module.id,
                assigned_by=self.assigned_by,
                origin=origin,
                due_at=due,
                completed_at=None,
                now=self.now,
            )
            mine[module.id] = row
            if inserted:
                return "assigned"
        if row.completed_at is not None:
            return "completed"
        # The module asked for takes the new date; a prerequisite only ever moves earlier, so it
        # is still done in time for whatever else needs it.
        if (
            due is not None
            and (is_target or row.due_at is None or due < row.due_at)
            and row.due_at != due
        ):
            row.due_at = due
        return "already"


def _insert(
    session: Session,
    *,
    user_id: str,
    module_id: int,
    assigned_by: str | None,
    origin: str,
    due_at: datetime | None,
    completed_at: datetime | None,
    now: datetime,
) -> tuple[Assignment, bool]:
    """Insert unless the row exists (a double click, a concurrent bulk run); says which."""
    table = Assignment.__table__
    statement = (
        upsert_insert(session, table)
        .values(
            stamp(
                session,
                [
                    {
                        "user_id": user_id,
                        "module_id": module_id,
                        "assigned_by": assigned_by,
                        "origin": origin,
                        "due_at": due_at,
                        "completed_at": completed_at,
                        "created_at": now,
                        "updated_at": now,
                    }
                ],
            )
        )
        .on_conflict_do_nothing(index_elements=["user_id", "module_id"])
        .returning(table.c.id)
    )
    new_id = session.execute(statement).scalar()
    row = session.scalars(
        select(Assignment).where(Assignment.user_id == user_id, Assignment.module_id == module_id)
    ).one()
    return row, new_id is not None


def _assignments(session: Session, user_id: str) -> dict[int, Assignment]:
    query = select(Assignment).where(Assignment.user_id == user_id).order_by(Assignment.id)
    return {row.module_id: row for row in session.scalars(query)}


def _done_keys(mine: Mapping[int, Assignment], catalog: _Catalog) -> set[str]:
    return {
        catalog.by_id[row.module_id].key
        for row in mine.values()
        if row.completed_at is not None and row.module_id in catalog.by_id
    }


def _pruned(graph: Mapping[str, tuple[str, ...]], done: set[str]) -> dict[str, tuple[str, ...]]:
    """The prerequisite graph with nothing behind completed modules."""
    return {key: () if key in done else prerequisites for key, prerequisites in graph.items()}


def _view(row: Assignment, catalog: _Catalog, done: set[str], now: datetime) -> AssignmentView:
    module = catalog.by_id[row.module_id]
    is_open = row.completed_at is None
    return AssignmentView(
        assignment_id=row.id,
        module_key=module.key,
        title=module.title,
        url=module.url,
        minutes=module.minutes,
        due_at=row.due_at,
        completed_at=row.completed_at,
        snoozed_until=row.snoozed_until,
        overdue=is_open and row.due_at is not None and row.due_at < now,
        blocked_by=catalog.open_prerequisites(module.key, done) if is_open else (),
        origin=row.origin,
        assigned_by=row.assigned_by,
    )


def _module_info(module: TrainingModule, catalog: _Catalog) -> ModuleSpec:
    return ModuleSpec(
        key=module.key,
        title=module.title,
        url=module.url,
        description=module.description,
        tags=tuple(module.tags or []),
        topic=module.topic,
        difficulty=module.difficulty,
        minutes=module.minutes,
        prerequisites=catalog.graph[module.key],
    )


def _haystack(module: TrainingModule) -> str:
    parts = [module.key, module.title, module.topic or "", module.description or ""]
    return " ".join([*parts, *(module.tags or [])]).lower()


def _check_user(user_id: str) -> None:
    if not user_id or len(user_id) > USER_ID_LENGTH:
        raise TrainingError(f"`{user_id}` is not a Slack user id.")


def _check_due(due: datetime | None, now: datetime) -> None:
    if due is None:
        return
    if due.tzinfo is None:
        raise TrainingError("A due date needs a time zone.")
    if due <= now:
        raise TrainingError(
            f"The due date {due.astimezone(UTC):%Y-%m-%d %H:%M} UTC is already past."
        )


def _origin(text: str) -> str:
    """Origins name a key, which can be as long as the column; cut rather than fail."""
    return text[:ORIGIN_LENGTH]


def _normal(key: str) -> str:
    return key.strip().strip("`").strip().lower()


def _did_you_mean(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" Did you mean `{close[0]}`?" if close else ""
