#!/usr/bin/env bash
# One command: install everything, then hum in → track out with the embedded arranger.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/humjam demo "$@"
