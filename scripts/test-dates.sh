#!/usr/bin/env bash
# Run the test suite with the machine's clock moved to other dates (libfaketime), to show that no test
# depends on the day it runs. Usage: scripts/test-dates.sh [DATE ...] (default: a year ahead, a leap day and
# a month end); extra pytest arguments in PYTEST_ARGS. Needs Debian's faketime (installed when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v faketime >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y faketime; else sudo apt-get install -y faketime; fi
fi
dates=("$@")
[ ${#dates[@]} -gt 0 ] || dates=("$(date -d '+1 year' +%F) 11:00:00" "2028-02-29 23:30:00" "2027-03-31 16:30:00")
status=0
for d in "${dates[@]}"; do
    echo "==== the machine's clock at $d ===="
    FAKETIME_DONT_FAKE_MONOTONIC=1 faketime "$d" \
        env SMARTBANK_TEST_DATABASES="${SMARTBANK_TEST_DATABASES:-sqlite,postgresql}" \
        SMARTBANK_TEST_PG_URL="${SMARTBANK_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}" \
        .venv/bin/pytest -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" ${PYTEST_ARGS:-} --ignore=tests/e2e tests \
        || status=1
    # Under libfaketime, Python's time.sleep (an absolute monotonic deadline) fails with EINVAL, so the browser
    # tests' server cannot wait for itself: they run with the bank's clock moved to that date instead.
    echo "==== browser tests with the bank's clock at $d ===="
    env SMARTBANK_TEST_NOW="$(date -d "$d" +%Y-%m-%dT%H:%M:%S%:z)" \
        SMARTBANK_TEST_DATABASES="${SMARTBANK_TEST_DATABASES:-sqlite,postgresql}" \
        SMARTBANK_TEST_PG_URL="${SMARTBANK_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}" \
        .venv/bin/pytest -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" ${PYTEST_ARGS:-} tests/e2e || status=1
done
exit "$status"
