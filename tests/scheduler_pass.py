"""One pass of Lepton's scheduler at a given moment, in a process of its own, configured from the
environment like `lepton worker`: tests kill it midway through a run on a frozen clock.

    python -m tests.scheduler_pass 2026-11-30T13:00:00+00:00
"""

from __future__ import annotations

import sys
from datetime import datetime

from bot.services import Services
from bot.settings import load_settings
from models import create_db_engine


def main() -> None:
    settings = load_settings(None)
    services = Services(settings, create_db_engine(settings.database_url))
    services.home.scheduled_work(datetime.fromisoformat(sys.argv[1]))


if __name__ == "__main__":
    main()
