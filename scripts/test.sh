#!/usr/bin/env bash
# Runs every check Locard has: lint, types, and the whole pytest suite against real
# PostgreSQL, a real S3 server (SeaweedFS), OpenSSL's TSA and headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
scripts/services.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
exec .venv/bin/pytest "$@"
