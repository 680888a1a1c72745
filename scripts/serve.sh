#!/usr/bin/env bash
# Install Locard and run it on its embedded defaults: SQLite, local write-once store, built-in TSA.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export LOCARD_DATA_DIR="${LOCARD_DATA_DIR:-$PWD/locard-data}"
if [ ! -f "$LOCARD_DATA_DIR/keys/vault.json" ]; then
  .venv/bin/locard init
fi
exec .venv/bin/locard serve "$@"
