#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (npm packages, Cassandra from
# Maven Central, the storage emulators built from source), starts the emulators, runs every test
# (unit, conformance against real servers, end to end against real Cassandra nodes that the tests
# start), stops what it started, and ends with one line: "N passed, N failed".
#
#   npm test                      everything
#   npm test -- test/commitlog    only some test files or folders
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
mkdir -p .tmp
log=.tmp/test-output.tap

step() { printf '== %s\n' "$*"; }
fail_setup() { echo "setup failed: $*" >&2; echo "0 passed, 1 failed"; exit 1; }

# npm packages: install when node_modules is missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "npm ci"
  npm ci --no-audit --no-fund >/dev/null || fail_setup "npm ci"
fi
step "build and type-check"
npm run build --silent || fail_setup "tsc build"
npx tsc -p tsconfig.json --noEmit || fail_setup "tsc type-check"
step "lint (eslint.config.js: floating promises, unused code, explicit any)"
npx eslint --max-warnings 0 . || fail_setup "eslint"
step "format (prettier, .prettierrc.json; 'npm run format' rewrites what it reports)"
npm run format:check --silent || fail_setup "prettier: files not formatted (run 'npm run format')"

# The HTML report is checked in a real headless browser (Debian's chromium).
if ! command -v chromium >/dev/null 2>&1; then
  step "chromium (for the HTML report test)"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || fail_setup "apt-get install chromium"
  else
    sudo -n true 2>/dev/null && (sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 || fail_setup "chromium is missing; install Debian's chromium package"
  fi
fi

step "Cassandra 5.0.9 and 4.1.10 with its Java 11 (cached in .cache/)"
bash scripts/cassandra-node.sh fetch >/dev/null || fail_setup "cassandra fetch"
CASSANDRA_VERSION=4.1.10 bash scripts/cassandra-node.sh fetch >/dev/null || fail_setup "cassandra 4.1.10 fetch"

step "storage emulators"
bash scripts/emulators.sh install || fail_setup "emulator install"
bash scripts/emulators.sh start || fail_setup "emulator start"
trap 'bash scripts/emulators.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(bash scripts/emulators.sh env)"
# In CI and here every backend must run: a missing emulator fails its suite instead of skipping it.
export PITR_TEST_REQUIRE=${PITR_TEST_REQUIRE:-s3,gcs,azure}

step "tests"
# Without arguments tap runs the files its config includes (test/**/*.test.ts).
# The filter is the pipe's last element and cannot fail, so PIPESTATUS[0] is tap's own status.
npx tap --reporter=tap "$@" 2>&1 | tee "$log" | { grep -E '^(not )?ok |^# (Subtest|\{)' || true; }
status=${PIPESTATUS[0]}

summary=$(grep -E '^# \{ total:' "$log" | tail -n 1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); pass=${pass:-0}
failn=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary"); failn=${failn:-0}
skip=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary"); skip=${skip:-0}
echo "full TAP output: $log"
# A run is green only when tap exited 0 and printed its summary: a crash before the summary, or a
# non-zero exit with no failing test counted, is one failure more, never a green total.
if [ -z "$summary" ]; then echo "tap printed no summary (exit status $status): counted as a failure" >&2; failn=$((failn + 1)); fi
if [ "$status" -ne 0 ] && [ "$failn" -eq 0 ]; then echo "tap exited $status with no failing test counted: counted as a failure" >&2; failn=1; fi
if [ "$skip" -gt 0 ]; then echo "$pass passed, $failn failed, $skip skipped"; else echo "$pass passed, $failn failed"; fi
[ "$failn" -eq 0 ]
