#!/usr/bin/env bash
# README command 2 (and what .ci/run calls): set up, start PostgreSQL if it is down, lint, type-check,
# run the whole test suite. Fails if any step fails or if no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ops/setup.sh
if command -v pg_ctlcluster >/dev/null && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
.venv/bin/ruff check archive tests
.venv/bin/mypy --strict archive
.venv/bin/lint-imports  # layer and adapter contracts: pyproject.toml [tool.importlinter]
set +e
# TEST_WORKERS: pytest-xdist workers (default 3; 0 = this one process). Most tests wait on real-time
# cameras, not on a core, so 3 workers suit a 2-core machine. The name has no ARCHIVE_ prefix on
# purpose: the archive's configuration refuses unknown ARCHIVE_* variables, and the CLI subprocesses
# the tests start inherit this environment. --dist worksteal: a worker that runs out of tests takes
# queued ones from a busy worker, so one worker holding several long tests does not leave the run's tail
# to a single core.
.venv/bin/python -m pytest -n "${TEST_WORKERS:-3}" --dist worksteal --durations=25 "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "ops/test.sh: pytest collected no tests: failing" >&2
  exit 1
fi
exit "$rc"
