"""MovieLens-100k ratings, read straight out of the recbole 1.2.1 wheel.

The data set is licensed for research use only, so it never enters the repo: the wheel is
downloaded (not installed) into a cache outside the tree and the ratings file is read from the
zip in memory. recbole ships a cleaned copy with a typed header, which spares us a parser for
the original `u.data`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

RECBOLE_VERSION = "1.2.1"
WHEEL = f"recbole-{RECBOLE_VERSION}-py3-none-any.whl"
MEMBER = "recbole/dataset_example/ml-100k/ml-100k.inter"


def cache_dir() -> Path:
    """Where the wheel is kept: LEPTON_BENCH_CACHE, else ~/.cache/lepton-bench."""
    root = Path(os.environ.get("LEPTON_BENCH_CACHE", Path.home() / ".cache" / "lepton-bench"))
    return root / "recbole"


def wheel_path() -> Path:
    """The cached wheel, downloaded with pip (no dependencies, no install) on first use."""
    target = cache_dir()
    path = target / WHEEL
    if not path.exists():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                f"recbole=={RECBOLE_VERSION}",
                "-d",
                str(target),
            ],
            check=True,
        )
    return path


def parse_inter(text: str) -> list[tuple[str, int, float, float]]:
    """(user_id, item_id, rating, timestamp) rows from a recbole `.inter` file.

    Columns are found by name in the typed header (`user_id:token`, ...) rather than by position.
    """
    lines = text.splitlines()
    names = [field.split(":", 1)[0] for field in lines[0].split("\t")]
    user, item = names.index("user_id"), names.index("item_id")
    rating, stamp = names.index("rating"), names.index("timestamp")
    rows = []
    for line in lines[1:]:
        if not line.strip():
            continue
        fields = line.split("\t")
        rows.append((fields[user], int(fields[item]), float(fields[rating]), float(fields[stamp])))
    return rows


def load_ratings() -> list[tuple[str, int, float, float]]:
    """All 100,000 MovieLens-100k ratings as (user_id, item_id, rating 1-5, unix timestamp)."""
    with zipfile.ZipFile(wheel_path()) as wheel:
        raw = wheel.read(MEMBER)
    return parse_inter(raw.decode("utf-8"))
