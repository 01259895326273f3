#!/usr/bin/env bash
# Runs a single-node Apache Kafka broker (KRaft, combined controller+broker) on 127.0.0.1
# from the jars that scripts/kafka/pom.xml pins. Used by the tests, the demo and by hand.
#
#   scripts/kafka.sh start    install jars if missing, format storage if needed, start,
#                             wait until the broker answers, print BOOTSTRAP_SERVERS=... last
#   scripts/kafka.sh stop     stop the broker (TERM, then KILL after a grace period)
#   scripts/kafka.sh status   print the state; exit 0 when running, 3 when not
#   scripts/kafka.sh install  only fetch the jars
#   scripts/kafka.sh bootstrap  print host:port of a running instance
#   scripts/kafka.sh java-tool CLASS ARGS...  run one of Kafka's Java tools on the broker classpath
#
# Environment:
#   SLUICE_KAFKA_HOME  instance directory (config, data, logs, pid, port); default
#                      build/kafka. Two instances with different homes run side by side.
#   SLUICE_KAFKA_PORT  client port; default: the instance's previous port, else the first
#                      free port from 19092 upward.
#   SLUICE_KAFKA_LIB   where the jars are laid out; default build/kafka-lib (shared by all
#                      instances of one checkout).
#   SLUICE_KAFKA_HEAP  JVM heap options; default "-Xms256m -Xmx768m".
#   SLUICE_JAVA        the java binary (JDK 17+); default Debian's OpenJDK 17.
#   SLUICE_KAFKA_SECURITY  plaintext (default) or sasl_ssl: the client listener speaks SASL_SSL
#                      (SCRAM-SHA-512 and PLAIN) with a certificate from a CA generated in the instance
#                      (openssl + keytool), ACLs enforced (StandardAuthorizer, super user
#                      admin). Chosen when an instance is first formatted; later starts, stop
#                      and status read it from the instance. See "Secured broker" below.
#   SLUICE_KAFKA_SCRAM_USERS  sasl_ssl only: users besides admin, separated by spaces or
#                      commas; default "sluice". Each is a SCRAM-SHA-512 user (created at
#                      format time) and a PLAIN user with the same password.
#   SLUICE_LIBRDKAFKA_FIXED_DIR  sasl_ssl only: where scripts/librdkafka-fixed.sh put
#                      librdkafka 2.12.1 (default build/librdkafka-2.12.1/lib). When it holds
#                      librdkafka.so.1, the <user>.properties say SCRAM-SHA-512, else PLAIN.
#
# Secured broker (SLUICE_KAFKA_SECURITY=sasl_ssl); its files are in $SLUICE_KAFKA_HOME/security:
#   ca.pem                   the CA clients trust (ssl.ca.location)
#   <user>.password          each user's random password (mode 600)
#   <user>.properties        librdkafka properties for the user: security.protocol, sasl.*
#                            (SCRAM-SHA-512 or PLAIN, see below), ssl.ca.location (what
#                            --config takes); rewritten at every start
#   admin-client.properties  the admin's Java client properties, for Kafka's tools
#                            (kafka.sh java-tool ... --command-config it)
#   broker.p12, truststore.p12  the broker's keystore (its key and certificate signed by the
#                            CA, SAN 127.0.0.1 and localhost) and truststore (the CA)
# The controller listener uses mutual TLS (the broker's certificate, principal
# User:CN=sluice-broker, a super user); the broker talks to itself (transaction markers)
# over SASL_SSL as admin (SCRAM-SHA-512).
# Why PLAIN as well: librdkafka before 2.6.1 (Debian 12 has 2.0.2) sends a wrong nonce in
# SCRAM's client-final message (librdkafka #4895); Kafka 3.8.1-3.9 tolerated it, 4.x rejects it
# as invalid credentials. With librdkafka 2.12.1 built (scripts/librdkafka-fixed.sh) the
# <user>.properties say SCRAM-SHA-512, and a librdkafka client must run with
# LD_LIBRARY_PATH=$SLUICE_LIBRDKAFKA_FIXED_DIR (the file's first line says so); without it they
# say PLAIN (the password travels inside TLS), which Debian's librdkafka can do. kcat (Debian's
# librdkafka) always uses PLAIN. start prints SSL_CA_LOCATION=... and
# SLUICE_KAFKA_SECURITY_DIR=... before the BOOTSTRAP_SERVERS=... line.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pom="$repo/scripts/kafka/pom.xml"
home=${SLUICE_KAFKA_HOME:-$repo/build/kafka}
lib=${SLUICE_KAFKA_LIB:-$repo/build/kafka-lib}
heap=${SLUICE_KAFKA_HEAP:-"-Xms256m -Xmx768m"}
start_timeout=${SLUICE_KAFKA_START_TIMEOUT:-120}
secdir=$home/security
fixed_librdkafka=${SLUICE_LIBRDKAFKA_FIXED_DIR:-$repo/build/librdkafka-2.12.1/lib}
# The broker needs JDK 17+; prefer Debian's 17 when several JDKs are installed.
if [[ -n ${SLUICE_JAVA:-} ]]; then
  java=$SLUICE_JAVA
elif [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
  java=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
else
  java=java
fi

kafka_version() { sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom"; }

die() {
  echo "kafka.sh: $*" >&2
  exit 1
}

install_jars() {
  local version stamp
  version=$(kafka_version)
  stamp="$lib/.installed-$version-$(sha256sum "$pom" | cut -c1-16)"
  [[ -f $stamp ]] && return 0
  command -v mvn >/dev/null || die "mvn not found; run scripts/install-deps.sh first"
  echo "kafka.sh: fetching Apache Kafka $version jars from Maven Central into $lib" >&2
  rm -rf "$lib.tmp"
  mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$lib.tmp" >&2 || die "mvn could not fetch the Kafka jars (see above)"
  rm -rf "$lib"
  mv "$lib.tmp" "$lib"
  touch "$stamp"
}

java_tool() {
  install_jars
  "$java" -cp "$lib/*" -Dorg.slf4j.simpleLogger.defaultLogLevel=warn "$@"
}

pid_alive() {
  [[ -f $home/broker.pid ]] && kill -0 "$(cat "$home/broker.pid")" 2>/dev/null
}

# port_free, free_port_from, wait_until_ready, stop_pid_file
source "$repo/scripts/service-lib.sh"

# The instance's security mode: what it was formatted with, else SLUICE_KAFKA_SECURITY.
security_mode() {
  if [[ -f $home/security.mode ]]; then
    cat "$home/security.mode"
  else
    echo "${SLUICE_KAFKA_SECURITY:-plaintext}"
  fi
}

# kcat's -X options to reach the client listener (the admin's credentials when secured).
kcat_security_args() {
  [[ $(security_mode) == sasl_ssl ]] || return 0
  printf '%s\n' -X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN \
    -X sasl.username=admin -X "sasl.password=$(cat "$secdir/admin.password")" \
    -X "ssl.ca.location=$secdir/ca.pem"
}

# The broker answers a metadata request and lists itself.
ready() { broker_ready "$@"; }
broker_ready() {
  local out args
  mapfile -t args < <(kcat_security_args)
  out=$(timeout 10 kcat -b "127.0.0.1:$1" "${args[@]}" -L -m 3 2>/dev/null) || return 1
  grep -q "1 brokers" <<<"$out"
}

scram_users() { tr ', ' '\n\n' <<<"${SLUICE_KAFKA_SCRAM_USERS:-sluice}" | sed '/^$/d' | sort -u; }

# A CA, the broker's key and certificate signed by it (in a PKCS#12 keystore) and a truststore
# with the CA; random passwords for the stores, admin and every SCRAM user. Once per instance.
generate_security() {
  [[ -f $secdir/broker.p12 ]] && return 0
  command -v openssl >/dev/null || die "openssl not found"
  command -v keytool >/dev/null || die "keytool not found (Debian: openjdk-17-jdk-headless)"
  rm -rf "$secdir"
  mkdir -p "$secdir"
  chmod 700 "$secdir"
  local store_pw user
  for user in $(scram_users); do
    [[ $user =~ ^[A-Za-z0-9._-]+$ ]] ||
      die "SLUICE_KAFKA_SCRAM_USERS: '$user': letters, digits, '.', '_' and '-' only"
  done
  (
    umask 077
    for user in store admin $(scram_users); do openssl rand -hex 16 >"$secdir/$user.password"; done
  )
  store_pw=$(cat "$secdir/store.password")
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=sluice-test-ca" \
      -keyout "$secdir/ca.key" -out "$secdir/ca.pem"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=sluice-broker" \
      -keyout "$secdir/broker.key" -out "$secdir/broker.csr"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
      >"$secdir/broker.ext"
    openssl x509 -req -in "$secdir/broker.csr" -CA "$secdir/ca.pem" -CAkey "$secdir/ca.key" \
      -CAcreateserial -days 3650 -extfile "$secdir/broker.ext" -out "$secdir/broker.pem"
    openssl pkcs12 -export -in "$secdir/broker.pem" -inkey "$secdir/broker.key" \
      -certfile "$secdir/ca.pem" -name broker -passout "pass:$store_pw" -out "$secdir/broker.p12"
    keytool -importcert -noprompt -alias ca -file "$secdir/ca.pem" -storetype PKCS12 \
      -keystore "$secdir/truststore.p12" -storepass "$store_pw"
  } >>"$home/logs/security.log" 2>&1 || die "generating certificates failed; see $home/logs/security.log"
  rm -f "$secdir/broker.csr" "$secdir/broker.ext" "$secdir/ca.srl"
  chmod 600 "$secdir"/*.key "$secdir"/*.p12
}

# Per-user librdkafka properties and the admin's Java client properties: SCRAM-SHA-512 when a
# librdkafka that can do it against Kafka 4.x is built, else PLAIN (see the top).
write_client_properties() {
  local user mechanism=PLAIN note="# PLAIN: SCRAM-SHA-512 needs librdkafka >= 2.6.1 (scripts/librdkafka-fixed.sh)"
  if [[ -e $fixed_librdkafka/librdkafka.so.1 ]]; then
    mechanism=SCRAM-SHA-512
    note="# SCRAM-SHA-512 needs librdkafka >= 2.6.1: run clients with LD_LIBRARY_PATH=$fixed_librdkafka"
  fi
  (
    umask 077
    for user in admin $(scram_users); do
      cat >"$secdir/$user.properties" <<EOF
$note
security.protocol=SASL_SSL
sasl.mechanism=$mechanism
sasl.username=$user
sasl.password=$(cat "$secdir/$user.password")
ssl.ca.location=$secdir/ca.pem
EOF
    done
    cat >"$secdir/admin-client.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat "$secdir/admin.password")";
ssl.truststore.location=$secdir/truststore.p12
ssl.truststore.type=PKCS12
ssl.truststore.password=$(cat "$secdir/store.password")
EOF
  )
}

# The listeners, SASL and TLS settings and the authorizer of a sasl_ssl instance.
security_config() {
  local port=$1 cport=$2 store_pw plain_users="" user
  store_pw=$(cat "$secdir/store.password")
  for user in admin $(scram_users); do
    plain_users+=" user_$user=\"$(cat "$secdir/$user.password")\""
  done
  cat <<EOF
listeners=SASL_SSL://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=SASL_SSL://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="$(cat "$secdir/admin.password")";
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
ssl.keystore.type=PKCS12
ssl.keystore.location=$secdir/broker.p12
ssl.keystore.password=$store_pw
ssl.key.password=$store_pw
ssl.truststore.type=PKCS12
ssl.truststore.location=$secdir/truststore.p12
ssl.truststore.password=$store_pw
listener.name.controller.ssl.client.auth=required
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin;User:CN=sluice-broker
allow.everyone.if.no.acl.found=false
EOF
}

write_config() {
  local port=$1 cport=$2 listeners
  if [[ $(security_mode) == sasl_ssl ]]; then
    listeners=$(security_config "$port" "$cport")
  else
    listeners="listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  fi
  (
    umask 077
    cat >"$home/server.properties" <<EOF
# Generated by scripts/kafka.sh: a single-node KRaft broker for tests and the demo.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
$listeners
log.dirs=$home/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
# Crash tests leave transactions open; let the coordinator abort them soon after they time out.
transaction.abort.timed.out.transaction.cleanup.interval.ms=5000
log.retention.check.interval.ms=30000
EOF
  )
}

cmd_start() {
  mkdir -p "$home/logs" "$home/data"
  if pid_alive; then
    local port
    port=$(cat "$home/port")
    if broker_ready "$port"; then
      echo "kafka.sh: already running (pid $(cat "$home/broker.pid")) in $home" >&2
      echo "BOOTSTRAP_SERVERS=127.0.0.1:$port"
      return 0
    fi
    die "a broker process (pid $(cat "$home/broker.pid")) runs in $home but does not answer on port $port; run '$0 stop' first"
  fi
  install_jars
  command -v kcat >/dev/null || die "kcat not found; run scripts/install-deps.sh first"
  local mode
  mode=$(security_mode)
  case $mode in
    plaintext) ;;
    sasl_ssl)
      [[ -f $home/data/meta.properties && ! -f $home/security.mode ]] &&
        die "$home holds a plaintext instance; use another SLUICE_KAFKA_HOME for sasl_ssl"
      generate_security
      write_client_properties
      ;;
    *) die "SLUICE_KAFKA_SECURITY=$mode: expected plaintext or sasl_ssl" ;;
  esac

  # Instances starting at the same moment would otherwise pick the same free port: choosing a
  # port and binding it happen under one machine-wide lock.
  exec 9>"${TMPDIR:-/tmp}/sluice-kafka-start.lock"
  flock 9

  local port cport
  if [[ -n ${SLUICE_KAFKA_PORT:-} ]]; then
    port=$SLUICE_KAFKA_PORT
    port_free "$port" || die "SLUICE_KAFKA_PORT=$port is already in use"
  elif [[ -f $home/port ]] && port_free "$(cat "$home/port")"; then
    port=$(cat "$home/port")
  else
    port=$(free_port_from 19092)
  fi
  if [[ -f $home/controller.port ]] && port_free "$(cat "$home/controller.port")" &&
    [[ $(cat "$home/controller.port") != "$port" ]]; then
    cport=$(cat "$home/controller.port")
  else
    cport=$(free_port_from $((port + 1000)))
  fi
  echo "$port" >"$home/port"
  echo "$cport" >"$home/controller.port"
  write_config "$port" "$cport"

  if [[ ! -f $home/data/meta.properties ]]; then
    local cluster_id
    local scram=() user
    if [[ $mode == sasl_ssl ]]; then
      for user in admin $(scram_users); do
        scram+=(--add-scram "SCRAM-SHA-512=[name=$user,password=$(cat "$secdir/$user.password")]")
      done
    fi
    cluster_id=$(java_tool kafka.tools.StorageTool random-uuid)
    java_tool kafka.tools.StorageTool format -t "$cluster_id" -c "$home/server.properties" \
      "${scram[@]}" >>"$home/logs/format.log" 2>&1 ||
      die "formatting storage failed; see $home/logs/format.log"
    [[ $mode == plaintext ]] || echo "$mode" >"$home/security.mode"
  fi

  # A fresh log per start; the previous one is kept beside it for post-mortems.
  [[ -f $home/logs/server.log ]] && mv "$home/logs/server.log" "$home/logs/server.log.1"
  # shellcheck disable=SC2086
  nohup "$java" $heap -XX:+UseG1GC -Djava.awt.headless=true \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dorg.slf4j.simpleLogger.log.kafka.log=warn \
    -Dorg.slf4j.simpleLogger.log.org.apache.kafka.storage=warn \
    -cp "$lib/*" kafka.Kafka "$home/server.properties" \
    >"$home/logs/server.log" 2>&1 </dev/null &
  echo $! >"$home/broker.pid"

  wait_until_ready broker "$port" "$home/logs/server.log" "$start_timeout"
  flock -u 9
  echo "kafka.sh: Apache Kafka $(kafka_version) running (pid $(cat "$home/broker.pid")), home $home" >&2
  if [[ $mode == sasl_ssl ]]; then
    echo "SSL_CA_LOCATION=$secdir/ca.pem"
    echo "SLUICE_KAFKA_SECURITY_DIR=$secdir"
  fi
  echo "BOOTSTRAP_SERVERS=127.0.0.1:$port"
}

cmd_stop() {
  if ! pid_alive; then
    rm -f "$home/broker.pid"
    echo "kafka.sh: not running ($home)" >&2
    return 0
  fi
  stop_pid_file "$home/broker.pid" "kafka.sh: broker"
  echo "kafka.sh: stopped ($home); logs kept in $home/logs" >&2
}

cmd_status() {
  if pid_alive && broker_ready "$(cat "$home/port")"; then
    echo "running pid=$(cat "$home/broker.pid") home=$home"
    echo "BOOTSTRAP_SERVERS=127.0.0.1:$(cat "$home/port")"
    return 0
  elif pid_alive; then
    echo "starting-or-unresponsive pid=$(cat "$home/broker.pid") home=$home"
    return 3
  fi
  echo "stopped home=$home"
  return 3
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  install) install_jars ;;
  bootstrap)
    pid_alive || die "not running ($home)"
    echo "127.0.0.1:$(cat "$home/port")"
    ;;
  java-tool)
    shift
    java_tool "$@"
    ;;
  *)
    echo "usage: $0 start|stop|status|install|bootstrap|java-tool CLASS ARGS..." >&2
    exit 2
    ;;
esac
