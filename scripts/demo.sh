#!/usr/bin/env bash
# `make demo`: runs the demo end to end against a local broker (started here and stopped on
# exit, Ctrl-C included) or against BOOTSTRAP_SERVERS when that points elsewhere.
# Today the demo is eos-relay (examples/eos_relay): sensor readings relayed exactly once
# through Kafka transactions and checked with a read_committed reader.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
shift || true

started_broker=0
cleanup() {
  if ((started_broker)); then "$repo/scripts/kafka.sh" stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [[ -z ${BOOTSTRAP_SERVERS:-} ]]; then
  export SLUICE_KAFKA_HOME=${SLUICE_KAFKA_HOME:-$build/demo-kafka}
  if ! "$repo/scripts/kafka.sh" status >/dev/null 2>&1; then started_broker=1; fi
  line=$("$repo/scripts/kafka.sh" start | tail -n 1)
  export BOOTSTRAP_SERVERS=${line#BOOTSTRAP_SERVERS=}
fi
echo "demo: using Kafka at $BOOTSTRAP_SERVERS"
"$build/bin/eos-relay" --bootstrap-servers "$BOOTSTRAP_SERVERS" "$@"
