"""Running the real `lepton` command as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LEPTON = Path(sys.executable).parent / "lepton"


def run_lepton(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "LEPTON_"))}
    clean.pop("DATABASE_URL", None)
    clean.update(env or {})
    return subprocess.run(
        [str(LEPTON), *args],
        capture_output=True,
        text=True,
        env=clean,
        cwd=cwd,
        timeout=timeout,
        check=False,
        input=input or "",
    )
