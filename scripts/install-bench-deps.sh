#!/usr/bin/env bash
# Installs what `make bench` needs on top of scripts/install-deps.sh, and nothing twice: the
# chart library (Debian's matplotlib) and the Kafka Streams peer (bench/peers/kafka-streams),
# compiled by Maven with its jars laid out in target/lib. Maven's own cache (~/.m2) keeps the
# downloaded jars; a stamp keyed on the peer's sources makes a second run a no-op.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(python3-matplotlib python3-confluent-kafka maven openjdk-17-jdk-headless)
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-bench-deps: installing ${missing[*]}" >&2
  sudo=()
  [[ $(id -u) != 0 ]] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

peer="$repo/bench/peers/kafka-streams"
hash=$(cat "$peer/pom.xml" $(find "$peer/src" -name '*.java' | sort) | sha256sum | cut -c1-16)
stamp="$peer/target/.built-$hash"
if [[ ! -f $stamp ]]; then
  echo "install-bench-deps: building the Kafka Streams peer (Maven)" >&2
  rm -f "$peer"/target/.built-*
  mvn -q -B -Dstyle.color=never -f "$peer/pom.xml" package -DskipTests >&2
  touch "$stamp"
fi
