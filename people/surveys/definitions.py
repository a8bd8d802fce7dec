"""What a pulse survey is: its questions, audience, schedule and privacy settings, read from a
YAML or TOML file and checked before anything is stored, so a typo never reaches anyone's DMs.

A file holds `surveys: [...]`; each entry is a `SurveyDefinition`. Durations are written as
`3d`, `36h` or `90m`. The schedule uses APScheduler's cron fields for the round's *date*
(`{day_of_week: mon, week: "*/2"}` is every other Monday); the time of day is `send_time`, which
each person receives in their own time zone.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass

from indexer.ingest.plain_yaml import load_plain_yaml

LIKERT_LABELS = ("Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree")
MIN_ANONYMITY_THRESHOLD = 3
LAST_SEND_HOUR = 18
_DURATION = re.compile(r"^\s*(\d+)\s*([dhm])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SurveyConfigError(ValueError):
    """Every problem found in a survey file, one per line, naming where it is."""


def _duration(value: Any) -> Any:
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return timedelta(**{_UNITS[match[2]]: int(match[1])})
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


@dataclass(frozen=True, config=_STRICT)
class Question:
    id: Key
    text: Annotated[str, Field(min_length=1, max_length=300)]
    kind: Literal["likert", "enps", "choice"] = "likert"
    labels: tuple[Annotated[str, Field(min_length=1, max_length=75)], ...] = ()

    @model_validator(mode="after")
    def _labels_fit_kind(self) -> Question:
        if self.kind == "likert" and self.labels and len(self.labels) != 5:
            raise ValueError("a likert question has exactly 5 labels, lowest first")
        if self.kind == "choice" and not 2 <= len(self.labels) <= 10:
            raise ValueError("a choice question lists 2 to 10 options in `labels`")
        if self.kind == "enps" and self.labels:
            raise ValueError("an enps question is always 0-10 and takes no labels")
        return self

    def choices(self) -> tuple[tuple[int, str], ...]:
        """The values a person can pick, with what each button says."""
        if self.kind == "enps":
            return tuple((n, str(n)) for n in range(11))
        if self.kind == "choice":
            return tuple(enumerate(self.labels))
        return tuple(zip(range(1, 6), self.labels or LIKERT_LABELS, strict=True))

    def label(self, value: int) -> str:
        return dict(self.choices()).get(value, str(value))


@dataclass(frozen=True, config=_STRICT)
class Schedule:
    """The dates rounds open on, as APScheduler cron fields (at least one must be set)."""

    day_of_week: str | None = None
    week: str | None = None
    day: str | None = None
    month: str | None = None

    @model_validator(mode="after")
    def _valid_cron(self) -> Schedule:
        if not any((self.day_of_week, self.week, self.day, self.month)):
            raise ValueError("set at least one of day_of_week, week, day, month")
        self.trigger()
        return self

    def trigger(self) -> CronTrigger:
        return CronTrigger(
            year="*",
            month=self.month,
            day=self.day,
            week=self.week,
            day_of_week=self.day_of_week,
            hour=0,
            minute=0,
            timezone="UTC",
        )

    def dates(self, after: date, until: date) -> list[date]:
        """Scheduled dates d with after < d <= until."""
        trigger, found = self.trigger(), []
        previous = datetime.combine(after, time(), tzinfo=trigger.timezone)
        while (fire := trigger.get_next_fire_time(None, previous + timedelta(days=1))) and (
            fire.date() <= until
        ):
            found.append(fire.date())
            previous = fire
        return found


@dataclass(frozen=True, config=_STRICT)
class SurveyDefinition:
    key: Key
    title: Annotated[str, Field(min_length=1, max_length=150)]
    questions: Annotated[tuple[Question, ...], Field(min_length=1, max_length=10)]
    comment: Annotated[str | None, Field(max_length=300)] = None
    channels: tuple[str, ...] = ()
    schedule: Schedule | None = None
    send_time: time = time(10, 0)
    window: Duration = timedelta(days=3)
    remind_before: Duration | None = timedelta(days=1)
    digest_channels: tuple[str, ...] = ()
    anonymity_threshold: Annotated[int, Field(ge=MIN_ANONYMITY_THRESHOLD, le=1000)] = 5
    segment_by_channel: bool = False
    workspaces: tuple[Annotated[str, Field(pattern=r"^[TE][A-Z0-9]{2,31}$")], ...] = ()
    """Team ids of the workspaces this survey runs in; none named means every workspace."""

    def runs_in(self, team_id: str) -> bool:
        return not self.workspaces or team_id in self.workspaces

    @field_validator("send_time")
    @classmethod
    def _working_hours(cls, value: time) -> time:
        if not time(6) <= value < time(LAST_SEND_HOUR - 1):
            raise ValueError(f"pick a time between 06:00 and {LAST_SEND_HOUR - 1}:00")
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: timedelta) -> timedelta:
        if not timedelta(hours=1) <= value <= timedelta(days=28):
            raise ValueError("a response window is between 1h and 28d")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SurveyDefinition:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids must be unique within a survey")
        if self.remind_before is not None and self.remind_before >= self.window:
            raise ValueError("remind_before must be shorter than the response window")
        if self.segment_by_channel and len(self.channels) < 2:
            raise ValueError("segment_by_channel needs at least two audience channels")
        return self

    @property
    def audience(self) -> str:
        return ", ".join(self.channels) if self.channels else "everyone in the workspace"

    def question(self, question_id: str) -> Question | None:
        return next((q for q in self.questions if q.id == question_id), None)

    def to_json(self) -> dict[str, Any]:
        return _DEFINITION.dump_python(self, mode="json")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SurveyDefinition:
        return _DEFINITION.validate_python(dict(data))


_DEFINITION = TypeAdapter(SurveyDefinition)
_FILE = TypeAdapter(dict[Literal["surveys"], list[SurveyDefinition]])


def parse_surveys(data: Any, source: str = "survey file") -> list[SurveyDefinition]:
    try:
        surveys = _FILE.validate_python(data if data is not None else {}).get("surveys", [])
    except ValidationError as error:
        raise SurveyConfigError("\n".join(_describe(source, e) for e in error.errors())) from None
    keys = [s.key for s in surveys]
    if duplicated := sorted({k for k in keys if keys.count(k) > 1}):
        raise SurveyConfigError(f"{source}: survey key {duplicated[0]!r} is used twice")
    return surveys


def load_surveys(path: Path) -> list[SurveyDefinition]:
    """Read a .yml/.yaml or .toml survey file; every problem is reported, nothing is half-read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SurveyConfigError(f"{path}: cannot read it ({error.strerror})") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else load_plain_yaml(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as error:
        raise SurveyConfigError(f"{path}: not valid {path.suffix.lstrip('.')}: {error}") from None
    return parse_surveys(data, str(path))


def _describe(source: str, error: Mapping[str, Any]) -> str:
    where = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]
    ).lstrip(".")
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{source}: {where}: {message}" if where else f"{source}: {message}"
