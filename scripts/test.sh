#!/usr/bin/env bash
# One command: install everything (test tools, CPU torch for the tiny MusicGen tests), then lint,
# type-check and run the whole test suite. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
# PostgreSQL queue tests use this URL; they skip when nothing answers there.
export HUMJAM_TEST_POSTGRES_URL="${HUMJAM_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
