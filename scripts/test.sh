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
# Two workers: one test process is bound to one core by the GIL (the live server runs in
# its thread), and the suite spends much of its time waiting on servers. -n 0 runs serially.
exec .venv/bin/pytest -n "${LOCARD_TEST_WORKERS:-2}" --dist worksteal "$@"
