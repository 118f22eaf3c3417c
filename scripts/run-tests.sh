#!/usr/bin/env bash
# Runs every *.test.ts with Node 24's test runner, one file at a time: the tests start real servers and floods,
# and two cores shared by several floods would make their timings meaningless.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p test-artifacts
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.test.ts' | sort)
exec node_modules/.bin/node --test --test-concurrency=1 --test-timeout=900000 "${files[@]}"
