# Shared by scripts/kafka.sh and scripts/schema-registry.sh (sourced): free loopback ports,
# waiting for a started JVM service, stopping one by its pid file.

# Free as the JVM sees it: its server sockets set SO_REUSEADDR, so connections of a stopped
# broker still in TIME_WAIT do not make its own port look taken (a restart keeps the port).
port_free() {
  /usr/bin/python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

free_port_from() {
  local p=$1
  while ! port_free "$p"; do p=$((p + 1)); done
  echo "$p"
}

# wait_until_ready WHAT PORT LOG TIMEOUT: polls `ready PORT` once a second; dies with the tail of
# LOG when `pid_alive` turns false or TIMEOUT seconds pass. `ready`, `pid_alive` and `die` are
# the calling script's.
wait_until_ready() {
  local what=$1 port=$2 log=$3 timeout=$4 waited=0
  until ready "$port"; do
    if ! pid_alive; then
      tail -n 40 "$log" >&2
      die "the $what exited during start-up; full log: $log"
    fi
    if ((waited >= timeout)); then
      tail -n 40 "$log" >&2
      die "the $what did not answer on 127.0.0.1:$port within ${timeout}s; log: $log"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

# stop_pid_file PIDFILE WHAT: SIGTERM, then SIGKILL after 30 s; removes the pid file.
stop_pid_file() {
  local pidfile=$1 what=$2 pid waited=0
  pid=$(cat "$pidfile")
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if ((waited >= 60)); then
      echo "$what $pid ignored SIGTERM for 30s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  rm -f "$pidfile"
}
