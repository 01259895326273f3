#!/usr/bin/env bash
# Builds librdkafka 2.12.1 as a shared library into <build-dir>/librdkafka-2.12.1/lib, for the
# security tests' SCRAM-SHA-512 clients (docs/security.md "SCRAM on Debian 12").
#
#   scripts/librdkafka-fixed.sh [<build-dir>]     default build-dir: build
#
# Why: Debian 12's librdkafka 2.0.2 sends a wrong nonce in SCRAM's client-final message
# (librdkafka #4895, fixed in 2.6.1) and Kafka 4.x rejects it, so SCRAM fails against the
# local secured broker. librdkafka.so.1 keeps its ABI: Sluice's binaries, built against
# Debian's 2.0.2 headers, run unchanged on this library with LD_LIBRARY_PATH=<that lib dir>.
#
# Where the source comes from: Rust's rdkafka-sys crate bundles the whole librdkafka
# source tree (rdkafka-sys 4.10.0+2.12.1: librdkafka 2.12.1). It is fetched with cargo, the
# registry's own client, once; the crate's sha256 is pinned below and checked, and the
# verified archive is kept in ${XDG_CACHE_HOME:-~/.cache}/sluice/ for later runs and clones.
#
# The build: Debian's features (OpenSSL, Cyrus SASL, zlib, zstd, external lz4; SCRAM and
# OAUTHBEARER are built in with SSL+SASL), only the C shared library (no C++ library,
# examples or tests), -O2 without debug info, ccache when present. Idempotent: when the
# library of this exact recipe is in place, it prints the directory and does nothing else.
# Prints the lib directory last (LIBRDKAFKA_FIXED_DIR=...). Needs cargo (Rust), cmake, a C
# compiler and the -dev packages scripts/install-deps.sh installs.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$repo/build}
mkdir -p "$build"
build=$(cd "$build" && pwd)

version=2.12.1
crate=rdkafka-sys
crate_version=4.10.0+$version
crate_sha256=e234cf318915c1059d4921ef7f75616b5219b10b46e9f3a511a15eb4b56a3f77
archive_name=$crate-$crate_version.crate
cache=${XDG_CACHE_HOME:-$HOME/.cache}/sluice
prefix=$build/librdkafka-$version
lib=$prefix/lib
# The recipe's fingerprint: a changed script rebuilds.
stamp=$lib/.built-$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

die() {
  echo "librdkafka-fixed.sh: $*" >&2
  exit 1
}

if [[ -f $stamp && -e $lib/librdkafka.so.1 ]]; then
  echo "LIBRDKAFKA_FIXED_DIR=$lib"
  exit 0
fi

sha_ok() { [[ -f $1 && $(sha256sum "$1" | cut -d' ' -f1) == "$crate_sha256" ]]; }

# The verified crate archive, fetched once.
archive=$cache/$archive_name
if ! sha_ok "$archive"; then
  # rustup's cargo may be installed without being on PATH.
  cargo=$(command -v cargo || echo "$HOME/.cargo/bin/cargo")
  [[ -x $cargo ]] ||
    die "cargo not found: install Rust's cargo (rustup, or scripts/install-deps.sh), or put $archive_name (sha256 $crate_sha256) into $cache"
  echo "librdkafka-fixed.sh: fetching $crate $crate_version with cargo" >&2
  probe=$build/librdkafka-fetch
  rm -rf "$probe"
  mkdir -p "$probe/src"
  cat >"$probe/Cargo.toml" <<EOF
# Only there to make cargo fetch the crate (scripts/librdkafka-fixed.sh).
[package]
name = "sluice-librdkafka-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$crate = { version = "=$crate_version", default-features = false }
EOF
  echo 'fn main() {}' >"$probe/src/main.rs"
  (cd "$probe" && "$cargo" fetch -q --target x86_64-unknown-linux-gnu) >&2 ||
    die "cargo could not fetch $crate $crate_version (see above)"
  cargo_home=${CARGO_HOME:-$HOME/.cargo}
  fetched=$(find "$cargo_home/registry/cache" -name "$archive_name" -print -quit 2>/dev/null || true)
  [[ -n $fetched ]] || die "cargo fetched $crate but $archive_name is not under $cargo_home/registry/cache"
  sha_ok "$fetched" || die "$fetched: sha256 is not the pinned $crate_sha256"
  mkdir -p "$cache"
  cp "$fetched" "$archive.tmp"
  mv "$archive.tmp" "$archive"
  rm -rf "$probe"
fi

# Unpack (a .crate is a gzipped tar) and build only the shared C library.
work=$build/librdkafka-$version-build
rm -rf "$work"
mkdir -p "$work"
tar -xzf "$archive" -C "$work" "$crate-$crate_version/librdkafka"
src=$work/$crate-$crate_version/librdkafka
grep -q "RD_KAFKA_VERSION 0x020c01ff" "$src/src/rdkafka.h" ||
  die "$archive_name does not hold librdkafka $version"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
echo "librdkafka-fixed.sh: building librdkafka $version into $lib (a few minutes)" >&2
{
  cmake -S "$src" -B "$work/out" "${generator[@]}" "${launcher[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    -DRDKAFKA_BUILD_STATIC=OFF -DRDKAFKA_BUILD_EXAMPLES=OFF -DRDKAFKA_BUILD_TESTS=OFF \
    -DWITH_SSL=ON -DWITH_SASL=ON -DWITH_ZLIB=ON -DWITH_ZSTD=ON -DENABLE_LZ4_EXT=ON \
    -DWITH_CURL=OFF
  cmake --build "$work/out" --target rdkafka -j "${SLUICE_LIBRDKAFKA_JOBS:-2}"
} >"$work.log" 2>&1 || die "building librdkafka $version failed; see $work.log"

built=$work/out/src/librdkafka.so.1
[[ -f $built ]] || die "the build made no $built; see $work.log"
# It must really be this version and have SCRAM built in.
check=$(
  python3 - "$built" <<'PY'
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
lib.rd_kafka_version_str.restype = ctypes.c_char_p
lib.rd_kafka_conf_new.restype = ctypes.c_void_p
conf = ctypes.c_void_p(lib.rd_kafka_conf_new())
buf, size = ctypes.create_string_buffer(512), ctypes.c_size_t(512)
lib.rd_kafka_conf_get(conf, b"builtin.features", buf, ctypes.byref(size))
print(lib.rd_kafka_version_str().decode(), buf.value.decode())
PY
) || die "$built does not load; see $work.log"
read -r got features <<<"$check"
[[ $got == "$version" ]] || die "$built says it is librdkafka '$got', not $version"
[[ ,$features, == *,sasl_scram,* && ,$features, == *,ssl,* ]] ||
  die "$built lacks SCRAM or SSL (builtin.features=$features); see $work.log"

rm -rf "$lib"
mkdir -p "$lib"
cp "$built" "$lib/librdkafka.so.1"
ln -s librdkafka.so.1 "$lib/librdkafka.so"
touch "$stamp"
rm -rf "$work"
echo "LIBRDKAFKA_FIXED_DIR=$lib"
