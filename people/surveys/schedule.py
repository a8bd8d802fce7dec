"""When a round opens, when each person is asked, and when the round closes.

Everyone is asked on the round's date at `send_time` in their own time zone, on a weekday and
within working hours. A date begins first at UTC+14, so a round opens (its rows are written)
from then on; its deadline is set once the audience is known: the last invitation's time plus
the response window, so nobody gets less than the full window.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from people.surveys.definitions import LAST_SEND_HOUR, SurveyDefinition

EARLIEST_OFFSET = timedelta(hours=14)
REMINDER_LEAD = timedelta(hours=2)
LATEST_OFFSET = timedelta(hours=12)
SATURDAY = 5


def zone(name: str | None) -> ZoneInfo:
    """A person's zone from Slack's `tz`; UTC when Slack has none or one we do not know."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def weekday_on_or_after(day: date) -> date:
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return day


def send_moment(tz: ZoneInfo, day: date, send_time: time, now: datetime) -> datetime:
    """The first moment, not before `now`, on a local weekday on or after `day`, between
    `send_time` and the end of working hours."""
    candidate = max(day, now.astimezone(tz).date())
    while True:
        candidate = weekday_on_or_after(candidate)
        start = datetime.combine(candidate, send_time, tz)
        end = datetime.combine(candidate, time(LAST_SEND_HOUR), tz)
        if now < end:
            return max(start, now).astimezone(UTC)
        candidate += timedelta(days=1)


def opens_at(scheduled_for: date, send_time: time) -> datetime:
    """When the first time zone reaches the round's send time."""
    day = weekday_on_or_after(scheduled_for)
    return datetime.combine(day, send_time, UTC) - EARLIEST_OFFSET


def last_invitation(scheduled_for: date, send_time: time) -> datetime:
    day = weekday_on_or_after(scheduled_for)
    return datetime.combine(day, send_time, UTC) + LATEST_OFFSET


def due_date(definition: SurveyDefinition, last: date | None, now: datetime) -> date | None:
    """The scheduled date whose round should be open now and is not yet, if any.

    Only the latest date that has begun somewhere counts, and only while its window would still
    be open: a worker that was down for a month opens this cycle's round, not twelve old ones.
    """
    if definition.schedule is None:
        return None
    today = now.astimezone(UTC).date()
    lookback = today - definition.window - timedelta(days=7)
    after = max(last, lookback) if last else lookback
    for day in reversed(definition.schedule.dates(after, today + timedelta(days=1))):
        if opens_at(day, definition.send_time) <= now:
            deadline = last_invitation(day, definition.send_time) + definition.window
            return day if now < deadline else None
    return None


def reminder_moment(
    tz: ZoneInfo, closes_at: datetime, remind_before: timedelta, send_time: time
) -> datetime | None:
    """The first working-hours moment from `remind_before` ahead of the deadline; None when
    none is left at least `REMINDER_LEAD` before it (no reminders at night instead)."""
    target = closes_at - remind_before
    moment = send_moment(tz, target.astimezone(tz).date(), send_time, target)
    return moment if moment <= closes_at - REMINDER_LEAD else None
