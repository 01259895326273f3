#!/usr/bin/env bash
# Runs a schema registry that speaks the Confluent Schema Registry REST API on 127.0.0.1:
# Apicurio Registry with its in-memory storage, serving the Confluent-compatible API under
# /apis/ccompat/v7. Maven Central publishes its Quarkus distribution (the app's "all" tar.gz);
# 3.0.x runs on Debian 12's JDK 17 (3.3 needs Java 21). Used by the schema-registry tests and by
# hand.
#
#   scripts/schema-registry.sh start    install if missing, start, wait until it answers, print
#                                       SCHEMA_REGISTRY_URL=http://127.0.0.1:<port>/apis/ccompat/v7
#   scripts/schema-registry.sh stop     stop it (TERM, then KILL after a grace period)
#   scripts/schema-registry.sh status   exit 0 when running, 3 when not
#   scripts/schema-registry.sh install  only fetch and unpack the distribution (idempotent)
#   scripts/schema-registry.sh url      print the URL of a running instance
#
# Environment:
#   SLUICE_REGISTRY_HOME  instance directory (pid, port, logs); default build/schema-registry
#   SLUICE_REGISTRY_LIB   where the distribution is unpacked; default build/schema-registry-lib
#   SLUICE_REGISTRY_PORT  HTTP port; default: the instance's previous port, else the first free
#                         port from 18081 upward
#   SLUICE_REGISTRY_HEAP  JVM heap options; default "-Xms64m -Xmx384m"
#   SLUICE_JAVA           the java binary (JDK 17+); default Debian's OpenJDK 17
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
apicurio_version=3.0.9
home=${SLUICE_REGISTRY_HOME:-$repo/build/schema-registry}
lib=${SLUICE_REGISTRY_LIB:-$repo/build/schema-registry-lib}
heap=${SLUICE_REGISTRY_HEAP:-"-Xms64m -Xmx384m"}
start_timeout=${SLUICE_REGISTRY_START_TIMEOUT:-180}
if [[ -n ${SLUICE_JAVA:-} ]]; then
  java=$SLUICE_JAVA
elif [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
  java=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
else
  java=java
fi
api=/apis/ccompat/v7

die() {
  echo "schema-registry.sh: $*" >&2
  exit 1
}

version() { echo "$apicurio_version"; }

runner_jar() { ls "$lib"/apicurio-registry-app-*-runner.jar 2>/dev/null | head -1; }

install_dist() {
  local stamp
  stamp="$lib/.installed-$(version)"
  [[ -f $stamp ]] && return 0
  command -v mvn >/dev/null || die "mvn not found; run scripts/install-deps.sh first"
  echo "schema-registry.sh: fetching Apicurio Registry $(version) from Maven Central into $lib" >&2
  rm -rf "$lib.tmp"
  mkdir -p "$lib.tmp"
  # Only the distribution: its parent POM is not on Maven Central, so no transitive resolution.
  (cd "$lib.tmp" && mvn -q -B -Dstyle.color=never dependency:copy -Dtransitive=false \
    -Dartifact="io.apicurio:apicurio-registry-app:$(version):tar.gz:all" -DoutputDirectory=.) >&2 ||
    die "mvn could not fetch Apicurio Registry (see above)"
  tar -xzf "$lib.tmp/apicurio-registry-app-$(version)-all.tar.gz" -C "$lib.tmp" ||
    die "unpacking the Apicurio Registry distribution failed"
  rm -f "$lib.tmp/apicurio-registry-app-$(version)-all.tar.gz"
  rm -rf "$lib"
  mv "$lib.tmp" "$lib"
  [[ -n $(runner_jar) ]] || die "no apicurio-registry-app-*-runner.jar in the distribution ($lib)"
  touch "$stamp"
}

pid_alive() { [[ -f $home/registry.pid ]] && kill -0 "$(cat "$home/registry.pid")" 2>/dev/null; }

# port_free, free_port_from, wait_until_ready, stop_pid_file
source "$repo/scripts/service-lib.sh"

ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1$api/subjects") == 200 ]]; }

cmd_start() {
  mkdir -p "$home/logs"
  if pid_alive; then
    local port
    port=$(cat "$home/port")
    if ready "$port"; then
      echo "schema-registry.sh: already running (pid $(cat "$home/registry.pid")) in $home" >&2
      echo "SCHEMA_REGISTRY_URL=http://127.0.0.1:$port$api"
      return 0
    fi
    die "a registry process (pid $(cat "$home/registry.pid")) runs in $home but does not answer on port $port; run '$0 stop' first"
  fi
  install_dist
  command -v curl >/dev/null || die "curl not found; run scripts/install-deps.sh first"
  # Choosing a port and binding it happen under one machine-wide lock (as kafka.sh does).
  exec 9>"${TMPDIR:-/tmp}/sluice-registry-start.lock"
  flock 9
  local port
  if [[ -n ${SLUICE_REGISTRY_PORT:-} ]]; then
    port=$SLUICE_REGISTRY_PORT
    port_free "$port" || die "SLUICE_REGISTRY_PORT=$port is already in use"
  elif [[ -f $home/port ]] && port_free "$(cat "$home/port")"; then
    port=$(cat "$home/port")
  else
    port=$(free_port_from 18081)
  fi
  echo "$port" >"$home/port"
  [[ -f $home/logs/registry.log ]] && mv "$home/logs/registry.log" "$home/logs/registry.log.1"
  # In-memory storage (H2): every start is an empty registry.
  # shellcheck disable=SC2086
  nohup "$java" $heap -XX:+UseSerialGC -Djava.awt.headless=true \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
    -Dquarkus.log.console.color=false -Dquarkus.log.level=WARN \
    -Dquarkus.http.access-log.enabled=false \
    -jar "$(runner_jar)" >"$home/logs/registry.log" 2>&1 </dev/null &
  echo $! >"$home/registry.pid"
  wait_until_ready registry "$port" "$home/logs/registry.log" "$start_timeout"
  flock -u 9
  echo "schema-registry.sh: Apicurio Registry $(version) running (pid $(cat "$home/registry.pid")), home $home" >&2
  echo "SCHEMA_REGISTRY_URL=http://127.0.0.1:$port$api"
}

cmd_stop() {
  if ! pid_alive; then
    rm -f "$home/registry.pid"
    echo "schema-registry.sh: not running ($home)" >&2
    return 0
  fi
  stop_pid_file "$home/registry.pid" "schema-registry.sh: registry"
  echo "schema-registry.sh: stopped ($home)" >&2
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  install) install_dist ;;
  status)
    if pid_alive && ready "$(cat "$home/port")"; then
      echo "running pid=$(cat "$home/registry.pid") home=$home"
      echo "SCHEMA_REGISTRY_URL=http://127.0.0.1:$(cat "$home/port")$api"
      exit 0
    fi
    echo "stopped home=$home"
    exit 3
    ;;
  url)
    pid_alive || die "not running ($home)"
    echo "http://127.0.0.1:$(cat "$home/port")$api"
    ;;
  *)
    echo "usage: $0 start|stop|status|install|url" >&2
    exit 2
    ;;
esac
