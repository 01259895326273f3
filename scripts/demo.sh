#!/usr/bin/env bash
# `make demo`: the sensor pipeline end to end. Starts a local broker in build/demo-kafka (unless
# BOOTSTRAP_SERVERS points elsewhere), creates the topics, runs sensor-simulator and
# sensor-pipeline (exactly_once_v2, 10 s windows), shows a live view (scripts/demo_view.py),
# then a summary, and stops everything it started, Ctrl-C included.
#
#   scripts/demo.sh [BUILD_DIR]        binaries from BUILD_DIR/bin (default build/)
#
# Environment: BOOTSTRAP_SERVERS (use that cluster, start no broker), DEMO_DURATION (seconds;
# default: until Ctrl-C on a terminal, 60 when stdout is not a terminal), DEMO_RATE (200),
# DEMO_SENSORS (8), DEMO_PARTITIONS (3), DEMO_WINDOW_SECONDS (10), DEMO_GRACE_SECONDS (2),
# DEMO_ALERT_THRESHOLD (26.5).
# Exit status: 0 when the pipeline closed cleanly and the summary's checks hold.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
py=/usr/bin/python3
view="$repo/scripts/demo_view.py"
for bin in sensor-simulator sensor-pipeline; do
  [[ -x $build/bin/$bin ]] || {
    echo "demo: $build/bin/$bin not found; run 'make build' first" >&2
    exit 2
  }
done

rate=${DEMO_RATE:-200}
sensors=${DEMO_SENSORS:-8}
partitions=${DEMO_PARTITIONS:-3}
window=${DEMO_WINDOW_SECONDS:-10}
grace=${DEMO_GRACE_SECONDS:-2}
threshold=${DEMO_ALERT_THRESHOLD:-26.5} # with the default seed: one sensor with metadata, one without
if [[ -n ${DEMO_DURATION:-} ]]; then
  duration=$DEMO_DURATION
elif [[ -t 1 ]]; then
  duration=0 # until Ctrl-C
else
  duration=60
fi

work="$build/demo"
mkdir -p "$work"
logs="$work/logs"
rm -rf "$logs" "$work/state"
mkdir -p "$logs"

started_broker=0
sim_pid=
pipe_pid=
view_pid=
interrupted=0

# Stops a process group (the programs run in their own sessions, so a terminal's Ctrl-C does
# not reach them and they stop in order): TERM, wait up to $2 seconds, then KILL.
stop_group() {
  local pid=$1 grace_s=$2 waited=0
  [[ -n $pid ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  while kill -0 "$pid" 2>/dev/null && ((waited < grace_s * 2)); do
    sleep 0.5
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "demo: process $pid did not stop within ${grace_s}s; killing it" >&2
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
}

cleanup() {
  local rc=$?
  trap '' INT TERM
  [[ -n $view_pid ]] && kill -TERM "$view_pid" 2>/dev/null
  stop_group "$sim_pid" 10
  stop_group "$pipe_pid" 45
  if ((started_broker)); then "$repo/scripts/kafka.sh" stop >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

suffix=
if [[ -z ${BOOTSTRAP_SERVERS:-} ]]; then
  export SLUICE_KAFKA_HOME=${SLUICE_KAFKA_HOME:-$build/demo-kafka}
  if ! "$repo/scripts/kafka.sh" status >/dev/null 2>&1; then
    started_broker=1
    # Our own broker starts empty, so the summary sees this run only.
    [[ $SLUICE_KAFKA_HOME == "$build/demo-kafka" ]] && rm -rf "$SLUICE_KAFKA_HOME/data"
  else
    suffix=-$(date +%s) # a broker someone else runs: fresh topic names for this run
  fi
  echo "demo: local broker in $SLUICE_KAFKA_HOME" >&2
  line=$(setsid "$repo/scripts/kafka.sh" start | tail -n 1)
  export BOOTSTRAP_SERVERS=${line#BOOTSTRAP_SERVERS=}
else
  suffix=-$(date +%s) # somebody's cluster: never reuse or delete existing topics
fi
input=sensor-data$suffix metadata=sensor-metadata$suffix stats=sensor-stats$suffix
alerts=sensor-alerts$suffix dlq=sensor-data-dlq$suffix app=sensor-demo$suffix
echo "demo: Kafka at $BOOTSTRAP_SERVERS; topics $input, $metadata -> $stats, $alerts, $dlq" >&2

"$py" "$view" create-topics --bootstrap-servers "$BOOTSTRAP_SERVERS" --partitions "$partitions" \
  --topics "$input,$metadata,$stats,$alerts,$dlq" >&2

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
setsid "$build/bin/sensor-pipeline" --bootstrap-servers "$BOOTSTRAP_SERVERS" \
  --application-id "$app" --processing-guarantee exactly_once_v2 --state-dir "$work/state" \
  --partitions "$partitions" --window-seconds "$window" --grace-seconds "$grace" \
  --alert-threshold "$threshold" --metrics-host 127.0.0.1 --metrics-port "$port" \
  --input-topic "$input" --metadata-topic "$metadata" --stats-topic "$stats" \
  --alerts-topic "$alerts" --dlq-topic "$dlq" </dev/null >"$logs/pipeline.log" 2>&1 &
pipe_pid=$!
echo "demo: sensor-pipeline (pid $pipe_pid) on http://127.0.0.1:$port/{metrics,healthz,readyz,topology,stores/sensor-stats-store/<id>}; log $logs/pipeline.log" >&2

waited=0
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
  if ! kill -0 "$pipe_pid" 2>/dev/null; then
    tail -n 20 "$logs/pipeline.log" >&2
    echo "demo: sensor-pipeline exited during start-up; log: $logs/pipeline.log" >&2
    pipe_pid=
    exit 1
  fi
  if ((waited >= 120)); then
    echo "demo: sensor-pipeline not ready after 60 s; log: $logs/pipeline.log" >&2
    exit 1
  fi
  sleep 0.5
  waited=$((waited + 1))
done

setsid "$build/bin/sensor-simulator" --bootstrap-servers "$BOOTSTRAP_SERVERS" \
  --topic "$input" --metadata-topic "$metadata" --partitions "$partitions" \
  --sensors "$sensors" --rate "$rate" --late-fraction 0.01 --out-of-order-fraction 0.02 \
  --malformed-fraction 0.005 --metadata-fraction 0.75 </dev/null >"$logs/simulator.log" 2>&1 &
sim_pid=$!
echo "demo: sensor-simulator (pid $sim_pid): $sensors sensors, $rate records/s, 1% late, 0.5% malformed; log $logs/simulator.log" >&2
if ((duration > 0)); then
  echo "demo: running for ${duration}s (DEMO_DURATION; 60 by default when stdout is not a terminal)" >&2
else
  echo "demo: running until Ctrl-C" >&2
fi

# The view runs in the background so a signal to this script interrupts `wait` at once; the
# view itself stops on SIGINT (a terminal's Ctrl-C reaches it directly) or SIGTERM.
trap 'interrupted=1; [[ -n $view_pid ]] && kill -TERM "$view_pid" 2>/dev/null' INT TERM
"$py" "$view" view --bootstrap-servers "$BOOTSTRAP_SERVERS" --stats-topic "$stats" \
  --alerts-topic "$alerts" --dlq-topic "$dlq" --metrics-url "http://127.0.0.1:$port/metrics" \
  --duration "$duration" --pipeline-pid "$pipe_pid" --state "$work/last-metrics.json" &
view_pid=$!
while kill -0 "$view_pid" 2>/dev/null; do wait "$view_pid" || true; done
view_pid=
trap 'interrupted=1' INT TERM
((interrupted)) && echo "demo: interrupted; stopping" >&2

echo "demo: stopping the simulator, letting the pipeline catch up, stopping the pipeline" >&2
stop_group "$sim_pid" 10
sim_pid=
if kill -0 "$pipe_pid" 2>/dev/null; then
  # Also saves the last scrape, with everything processed, for the summary.
  "$py" "$view" drain --bootstrap-servers "$BOOTSTRAP_SERVERS" --duration 15 \
    --metrics-url "http://127.0.0.1:$port/metrics" --state "$work/last-metrics.json" || true
fi
pipe_rc=0
if kill -0 "$pipe_pid" 2>/dev/null; then
  kill -TERM "$pipe_pid"
  # A second signal interrupts `wait`; wait again until the pipeline has really exited.
  while :; do
    pipe_rc=0
    wait "$pipe_pid" || pipe_rc=$?
    kill -0 "$pipe_pid" 2>/dev/null || break
  done
else
  wait "$pipe_pid" 2>/dev/null || pipe_rc=$?
  echo "demo: sensor-pipeline had exited (status $pipe_rc); log: $logs/pipeline.log" >&2
  ((pipe_rc == 0)) && pipe_rc=1 # it must run until told to stop
fi
pipe_pid=
if ((pipe_rc != 0)); then tail -n 20 "$logs/pipeline.log" >&2; fi

summary_rc=0
"$py" "$view" summary --bootstrap-servers "$BOOTSTRAP_SERVERS" --stats-topic "$stats" \
  --alerts-topic "$alerts" --dlq-topic "$dlq" --state "$work/last-metrics.json" \
  --simulator-log "$logs/simulator.log" --pipeline-rc "$pipe_rc" || summary_rc=$?
echo "demo: logs in $logs"
((pipe_rc == 0 && summary_rc == 0))
