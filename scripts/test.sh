#!/usr/bin/env bash
# Set everything up and run the whole test suite (lint, then pytest on SQLite and PostgreSQL).
# Extra arguments go to pytest.
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
# pytest exits 5 when no test ran; with `set -e` that fails the run, as it should.
.venv/bin/pytest "$@"
