#!/usr/bin/env bash
# Set everything up and run the whole test suite: lint, the import contracts, then every test
# (SQLite, and PostgreSQL where SQL behaves differently) in parallel workers. Extra arguments go
# to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

if [ -z "${LEPTON_TEST_POSTGRES_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "test: installing PostgreSQL from Debian's packages (the suite starts its own server)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

.venv/bin/ruff check .
.venv/bin/lint-imports
# Most tests wait on sockets, subprocesses and Slack's stand-in rather than the CPU, so more
# workers than cores pay off. Tests sharing a module-scoped fixture stay on one worker
# (tests/conftest.py), so an app boots once; the rest go to whichever worker is free.
# pytest exits 5 when no test ran; with `set -e` that fails the run, as it should.
.venv/bin/pytest -n "${LEPTON_TEST_WORKERS:-4}" --dist loadgroup "$@"
