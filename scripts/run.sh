#!/usr/bin/env bash
# Set everything up and run Lepton: with no Slack credentials, the local console over the
# example knowledge base; with credentials (.env or environment), the Slack app.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/lepton start "$@"
