"""Thousands of mixed Slack requests to a real `lepton serve` process: every one answered
exactly once, no 5xx, nothing logged as a warning or error, and the server's open file
descriptors and resident memory flat after the warm-up (bench/soak.py does the work; its
--full run is the longer version)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import FD_SLACK, RSS_GROWTH_LIMIT, run
from tests.slack_app import CORPUS

REQUESTS = 3_000
WARM_UP = 500
"""At about 70 requests a second on 2 cores, the whole test (ingest and start-up included)
takes about 70 seconds."""


@pytest.mark.slow
def test_thousands_of_mixed_requests_leave_memory_and_descriptors_flat(tmp_path: Path) -> None:
    soak = run(REQUESTS, clients=4, directory=tmp_path, warm_up=WARM_UP, documents=CORPUS)
    tally = soak.tally
    assert tally.total() >= REQUESTS + WARM_UP
    assert {"find", "app_mention", "dm", "rate_up", "more_results", "reaction_added"} <= set(
        tally.sent
    ), tally.sent
    assert set(tally.statuses) == {200}, tally.bad[:5]
    assert not tally.bad, tally.bad[:5]
    assert not soak.not_once(), soak.not_once()[:5]
    assert not soak.inbox.unexpected, soak.inbox.unexpected[:5]
    assert not soak.problems, soak.problems[:5]
    assert soak.exit_code == 0
    assert soak.fd_growth <= FD_SLACK, (soak.after_warm_up, soak.at_end)
    assert soak.rss_growth < RSS_GROWTH_LIMIT, (soak.after_warm_up, soak.at_end)
