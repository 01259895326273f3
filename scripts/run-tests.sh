#!/usr/bin/env bash
# Runs every test through ctest against one broker shared by the whole run (the ctest
# `kafka` fixture starts it in <build>/test-kafka and stops it). The broker is stopped even
# when tests fail or the run is interrupted; its logs stay in <build>/test-kafka/logs.
# Extra arguments go to ctest, e.g. `scripts/run-tests.sh build -L unit`.
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
shift || true
export SLUICE_KAFKA_HOME=$build/test-kafka
export SLUICE_REGISTRY_HOME=$build/test-registry

stop_broker() {
  "$repo/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  "$repo/scripts/schema-registry.sh" stop >/dev/null 2>&1 || true
}
trap 'stop_broker; exit 130' INT TERM
trap stop_broker EXIT

# Every run starts from an empty broker so results never depend on an earlier run.
stop_broker
rm -rf "$SLUICE_KAFKA_HOME/data"

cd "$build" || exit 1
# A fresh build directory has no test timings, and ctest then starts tests in declaration
# order: the few long ones (the chaos and restart tests, the Go tool build, the scaling test)
# could start last and serialise the end of the run. tests/ctest-cost-data.txt (a copy of a
# full run's Testing/Temporary/CTestCostData.txt) lets ctest start the longest first.
if [[ ! -f Testing/Temporary/CTestCostData.txt && -f $repo/tests/ctest-cost-data.txt ]]; then
  mkdir -p Testing/Temporary
  cp "$repo/tests/ctest-cost-data.txt" Testing/Temporary/CTestCostData.txt
fi
# Most tests wait on the broker, not on the CPU: one job more than there are cores.
ctest --output-on-failure --no-tests=error -j "$(($(nproc) + 1))" "$@"
rc=$?
if ((rc != 0)) && [[ -f $SLUICE_KAFKA_HOME/logs/server.log ]]; then
  echo "run-tests: tests failed; broker log kept at $SLUICE_KAFKA_HOME/logs/server.log" >&2
fi
exit $rc
