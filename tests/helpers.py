"""Running the real `lepton` command as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LEPTON = Path(sys.executable).parent / "lepton"


def lepton_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without Lepton's or Slack's settings, plus `extra`: what a subprocess
    sees is only what the test says."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LEPTON_"))}
    clean.pop("DATABASE_URL", None)
    return {**clean, **(extra or {})}


def run_lepton(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LEPTON), *args],
        capture_output=True,
        text=True,
        env=lepton_env(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
        input=input or "",
    )
