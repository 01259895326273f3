#!/usr/bin/env bash
# Installs what `make bench` needs on top of scripts/install-deps.sh, and nothing twice: the
# chart library (Debian's matplotlib) and the Kafka Streams peer (bench/peers/kafka-streams),
# compiled by Maven with its jars laid out in target/lib. Maven's own cache (~/.m2) keeps the
# downloaded jars; a stamp keyed on the peer's sources makes a second run a no-op.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

SLUICE_EXTRA_PACKAGES="python3-matplotlib" "$repo/scripts/install-deps.sh"

peer="$repo/bench/peers/kafka-streams"
hash=$(cat "$peer/pom.xml" $(find "$peer/src" -name '*.java' | sort) | sha256sum | cut -c1-16)
stamp="$peer/target/.built-$hash"
if [[ ! -f $stamp ]]; then
  echo "install-bench-deps: building the Kafka Streams peer (Maven)" >&2
  rm -f "$peer"/target/.built-*
  mvn -q -B -Dstyle.color=never -f "$peer/pom.xml" package -DskipTests >&2
  touch "$stamp"
fi
