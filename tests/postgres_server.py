"""A private, throwaway PostgreSQL cluster on loopback for the test suite.

Uses the server binaries from Debian's `postgresql` package (installed by scripts/test.sh). As
root, the cluster runs as the `postgres` system user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found; install Debian's `postgresql` package "
        "(scripts/test.sh does) or set LEPTON_TEST_POSTGRES_URL"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    data_dir: Path
    port: int
    bin_dir: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {result.stderr.strip() or result.stdout}")

    @classmethod
    def start(cls) -> PostgresServer:
        bin_dir = _bin_dir()
        root = Path(tempfile.mkdtemp(prefix="lepton-pg-"))
        data_dir = root / "data"
        data_dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            shutil.chown(data_dir, "postgres", "postgres")
        server = cls(data_dir=data_dir, port=_free_port(), bin_dir=bin_dir)
        server._run(
            "initdb",
            "-D",
            str(data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )
        server._serve()
        return server

    def _serve(self) -> None:
        root = self.data_dir.parent
        options = (
            f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off -c max_connections=200"
        )
        log = str(root / "log")
        self._run("pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", log, "-w", "start")

    def _halt(self) -> None:
        """As abrupt as a crash: clients' connections are cut, nothing is shut down cleanly."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")

    @contextmanager
    def down(self) -> Iterator[None]:
        """The server away for a while, then back on the same data and port."""
        self._halt()
        try:
            yield
        finally:
            self._serve()

    def restart(self) -> None:
        with self.down():
            pass

    def stop(self) -> None:
        try:
            self._halt()
        finally:
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)
