#!/usr/bin/env bash
# README command 1: set everything up, then run the service on the embedded defaults
# (SeaweedFS on loopback + SQLite in ./var). With no cameras registered it records simulated ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/setup.sh
.venv/bin/archive init  # idempotent: ./archive.toml and ./var the first time, nothing after
exec .venv/bin/archive up "$@"
