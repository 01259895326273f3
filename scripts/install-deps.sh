#!/usr/bin/env bash
# Installs what Sluice needs to build, test and run the demo on Debian 12, and nothing twice:
# when every package is present and the Kafka jars are laid out it is a fast no-op.
# Everything comes from Debian packages, plus the Apache Kafka jars from Maven Central. The
# SCRAM-SHA-512 security tests also need librdkafka 2.12.1, built from its source in a Rust crate
# fetched through cargo (scripts/librdkafka-fixed.sh); their ctest fixture builds it, so make demo
# and make image do not wait for it. Its build packages are installed here.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

packages=(
  # toolchain
  g++ make cmake ninja-build ccache pkg-config git
  # libraries Sluice links
  librdkafka-dev librocksdb-dev libprotobuf-dev protobuf-compiler libabsl-dev
  prometheus-cpp-dev nlohmann-json3-dev libfmt-dev libcurl4-openssl-dev libsimdjson-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # the broker (JDK 17) and Maven to fetch its jars
  openjdk-17-jdk-headless maven
  # real Kafka clients not written by us, for tests and by hand
  kcat python3 python3-kafka python3-confluent-kafka
  # a real Prometheus server (and promtool) for the observability tests
  prometheus
  # curl (the registry script's readiness check) and openssl (the TLS test's certificates)
  curl openssl
  # librdkafka 2.12.1 for the SCRAM tests (scripts/librdkafka-fixed.sh): Debian's build
  # features (OpenSSL, Cyrus SASL, zlib, zstd, lz4)
  libssl-dev libsasl2-dev zlib1g-dev libzstd-dev liblz4-dev
  # formatting and linting
  clang-format clang-tidy
  # the fuzz targets (make fuzz, a short run in make test): clang with libFuzzer and the
  # sanitizer runtimes
  clang-14 libclang-rt-14-dev
)

# cargo fetches librdkafka's source; Debian's when no Rust toolchain (rustup) is installed.
command -v cargo >/dev/null || [[ -x $HOME/.cargo/bin/cargo ]] || packages+=(cargo)

# Callers needing more (scripts/install-bench-deps.sh) name them here.
read -r -a extra <<<"${SLUICE_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=()
  if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$repo/scripts/kafka.sh" install
"$repo/scripts/schema-registry.sh" install
