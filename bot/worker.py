"""The scheduler: APScheduler running the scheduled work (survey rounds, training nudges,
digests) every LEPTON_TICK_SECONDS, and nightly housekeeping.

Each scheduler keeps its jobs in memory: APScheduler's documentation says a job store must never
be shared between schedulers, and nothing here needs a stored job. What makes sends exactly
once is the database (a unique row per message, claimed before it is sent), so every tick does
whatever is due at that moment and a missed tick, a restart or a second worker changes nothing
but timing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.services import ScheduledWork, Services
from handlers.plumbing.once import forget_old_claims
from models.base import utcnow
from models.session import refresh_statistics

TICK_JOB = "lepton-tick"
HOUSEKEEPING_JOB = "lepton-housekeeping"

log = logging.getLogger(__name__)


def tick(services: Services, now: datetime | None = None) -> None:
    """One scheduled pass over every installed workspace, each with its own token, as of `now`
    (the clock, by default); one workspace's failure is logged and leaves the others' work
    done. Passes never overlap: the job runs with `max_instances=1`."""
    for workspace in services.active_workspaces():
        try:
            work = workspace.scheduled_work(now or utcnow())
        except Exception:
            log.exception("scheduled work for workspace %s failed", workspace.team.team_id)
            continue
        _log_work(workspace.team.team_id, work)


def _log_work(team: str, work: ScheduledWork) -> None:
    report, training = work.surveys, work.training
    nudges = training.nudges.sent if training else 0
    sent = report.invitations.sent + report.reminders.sent + report.digests.sent + nudges
    if report.opened or report.closed or sent:
        log.info(
            "tick in %s: opened %d, closed %d rounds; sent %d invitations, %d reminders, "
            "%d survey digest parts, %d nudges",
            team,
            len(report.opened),
            len(report.closed),
            report.invitations.sent,
            report.reminders.sent,
            report.digests.sent,
            nudges,
        )


def housekeeping(services: Services) -> None:
    forget_old_claims(services.all_sessions)
    refresh_statistics(services.engine)


def build_scheduler(services: Services, *, blocking: bool) -> BaseScheduler:
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )
    scheduler.add_job(
        tick,
        IntervalTrigger(seconds=services.settings.lepton_tick_seconds, timezone=UTC),
        args=[services],
        id=TICK_JOB,
        name="surveys and nudges due now",
        next_run_time=utcnow(),
    )
    scheduler.add_job(
        housekeeping,
        CronTrigger(hour=3, minute=17, timezone=UTC),
        args=[services],
        id=HOUSEKEEPING_JOB,
        name="forget old event claims, refresh planner statistics",
    )
    return scheduler
