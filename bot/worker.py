"""The scheduler: APScheduler with its jobs stored in Lepton's database, running the scheduled
work (surveys now, training nudges later) every LEPTON_TICK_SECONDS.

Each tick does whatever is due at that moment and every step is idempotent and guarded by
database constraints, so a missed tick, a restart or a second worker process changes nothing
but timing. APScheduler stores jobs by reference, so the job functions below find the running
services through the one module-level slot the composition root fills in.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.services import Services
from models.base import utcnow

TICK_JOB = "lepton-tick"
HOUSEKEEPING_JOB = "lepton-housekeeping"
JOB_TABLE = "apscheduler_jobs"

log = logging.getLogger(__name__)
_wired: dict[str, Services] = {}
_tick_lock = threading.Lock()


def tick() -> None:
    """One scheduled pass; a failure is logged and the next tick tries again."""
    services = _wired["services"]
    with _tick_lock:
        work = services.scheduled_work(utcnow())
    report, training = work.surveys, work.training
    nudges = training.nudges.sent if training else 0
    sent = report.invitations.sent + report.reminders.sent + report.digests.sent + nudges
    if report.opened or report.closed or sent:
        log.info(
            "tick: opened %d, closed %d rounds; sent %d invitations, %d reminders, "
            "%d survey digest parts, %d nudges",
            len(report.opened),
            len(report.closed),
            report.invitations.sent,
            report.reminders.sent,
            report.digests.sent,
            nudges,
        )


def housekeeping() -> None:
    _wired["services"].once.forget_old()


def build_scheduler(services: Services, *, blocking: bool) -> BaseScheduler:
    _wired["services"] = services
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(
        jobstores={"default": SQLAlchemyJobStore(engine=services.engine, tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )
    scheduler.add_job(
        f"{__name__}:tick",
        IntervalTrigger(seconds=services.settings.lepton_tick_seconds, timezone=UTC),
        id=TICK_JOB,
        name="surveys and nudges due now",
        replace_existing=True,
        next_run_time=utcnow(),
    )
    scheduler.add_job(
        f"{__name__}:housekeeping",
        CronTrigger(hour=3, minute=17, timezone=UTC),
        id=HOUSEKEEPING_JOB,
        name="forget old event claims",
        replace_existing=True,
    )
    return scheduler
