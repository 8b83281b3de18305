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
    faketime "$d" \
        env SMARTBANK_TEST_DATABASES="${SMARTBANK_TEST_DATABASES:-sqlite,postgresql}" \
        SMARTBANK_TEST_PG_URL="${SMARTBANK_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}" \
        .venv/bin/pytest -p no:cacheprovider -n "${PYTEST_WORKERS:-2}" ${PYTEST_ARGS:-} tests || status=1
done
exit "$status"
