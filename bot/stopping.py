"""How the long-running processes stop: Ctrl-C, and the SIGTERM a platform sends before SIGKILL
when a dyno or pod goes away, both end them the same way, with what was already acknowledged or
started finished and nothing new begun.

The handlers are set explicitly: a process started as a script's background job inherits SIGINT
ignored, and Python's default for SIGTERM ends the process at once, midway through a send.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from types import FrameType

from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def interrupt_on_stop_signals() -> None:
    """Both signals raise KeyboardInterrupt, which the HTTP and Socket Mode servers handle."""
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.default_int_handler)


def shut_down_on_stop_signals(scheduler: BlockingScheduler) -> None:
    """Both signals shut the scheduler down from another thread: it lets a running pass finish,
    then its `start()` returns. Raising KeyboardInterrupt instead was lost whenever the signal
    landed inside APScheduler's own `except BaseException` (seen when it came right after start).
    """

    def stop(_signum: int, _frame: FrameType | None) -> None:
        threading.Thread(target=_shut_down, args=(scheduler,), name="lepton-stop").start()

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)


def _shut_down(scheduler: BaseScheduler) -> None:
    with contextlib.suppress(SchedulerNotRunningError):  # a second Ctrl-C while stopping
        scheduler.shutdown()
