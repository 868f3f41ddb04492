#!/usr/bin/env bash
# Set up everything archive needs on a fresh Debian 12 machine (run as root, or with sudo for apt):
# Debian packages (ffmpeg/ffprobe, GStreamer RTSP server), a virtualenv in .venv, the package itself.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/install-debian-packages.sh
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
echo "setup: ok ($(.venv/bin/python --version), archive installed in .venv)"
