#!/usr/bin/env bash
# Sanitizer builds of the tests (g++), each in a build directory of its own, run through
# scripts/run-tests.sh (one fixture broker for the run):
#   scripts/sanitize.sh asan [ctest args]   ASan+UBSan, build-asan/; default: labels unit,
#                                           driver and integration
#   scripts/sanitize.sh tsan [ctest args]   TSan, build-tsan/; default: the multi-threaded
#                                           runtime tests (see tsan_default below)
#   scripts/sanitize.sh ci                  the subset `make test` (CI) runs: see below
# Any report fails the test that triggered it (halt_on_error, -fno-sanitize-recover).
# Suppressions (scripts/sanitizers/*.supp) cover third-party libraries only, each with its
# reason. SANITIZE_TARGETS names the targets to build (asan: all but the benchmarks; tsan: the
# executables of its tests).
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kind=${1:?usage: scripts/sanitize.sh asan|tsan|ci [ctest args]}
shift
supp=$repo/scripts/sanitizers
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

if [[ $kind == ci ]]; then
  # CI's share, small enough for make test on 2 cores:
  # - ASan+UBSan: every unit test of core and state (serdes, config, stores, caches,
  #   segments, checkpoints, decorators), built by clang in the fuzz build (build-fuzz/),
  #   whose libraries make test's fuzz step has already instrumented: only the tests compile.
  # - TSan: the synchronized stores' tests (readers on several threads against a writer) over
  #   the in-memory stores, and the RocksDB scan snapshots, on g++ in build-tsan/, which
  #   compiles core and state once more. The RocksDB reader tests take minutes under TSan:
  #   make tsan runs them.
  fuzz_build=${FUZZ_BUILD_DIR:-$repo/build-fuzz}
  FUZZ_CONFIGURE_ONLY=1 "$repo/scripts/fuzz.sh" || exit 1
  cmake --build "$fuzz_build" --target tests/unit/core/all tests/unit/state/all || exit 1
  for dir in core state; do
    ctest --test-dir "$fuzz_build/tests/unit/$dir" --output-on-failure --no-tests=error \
      -j "$(($(nproc) + 1))" || exit 1
  done
  kind=tsan
  SANITIZE_TARGETS=synchronized_stores_test
  set -- -R '^(Storage/)?SynchronizedStore' -E 'Readers.*/RocksDB'
fi
case $kind in
  asan)
    # -Wno-maybe-uninitialized: under -fsanitize=address g++ 12 reports false positives inside
    # libstdc++ itself (std::function moved in <regex>'s NFA, seen in log_test.cc), which
    # -Werror turns into a failed build; GCC documents the warning as unreliable there.
    flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    compile_only=-Wno-maybe-uninitialized
    default_targets=all
    default_args=(-L 'unit|driver|integration')
    ;;
  tsan)
    flags="-fsanitize=thread"
    # Tests whose code runs on several threads at once: several stream threads, threads
    # added and removed, standby and global-table updaters, interactive queries from HTTP
    # workers while the threads write, the synchronized stores.
    default_targets="runtime_integration_test runtime_threads_test runtime_standby_test
      runtime_global_test global_state_updater_test runtime_iq_metadata_test
      synchronized_stores_test observability_unit_test"
    default_args=(-R '^(KafkaStreamsIntegration|RuntimeThreads|StandbyReplicasIntegration|KafkaStreamsGlobal|GlobalStateUpdater|InteractiveQueryMetadata|SynchronizedStore|Storage/SynchronizedStoreTest|HttpServerTest|ObservabilityServerTest)\.|^kafka_broker')
    ;;
  *) echo "sanitize: unknown kind '$kind' (asan or tsan)" >&2; exit 2 ;;
esac
build=$repo/build-$kind
# Configured on every run (a no-op when nothing changed), so a build directory made by an older
# version of this script takes its current flags. -O1: a sanitizer build compiles faster and
# runs close to -O2 speed.
cmake -S "$repo" -B "$build" -G Ninja -DSLUICE_WERROR=ON -DSLUICE_BUILD_BENCHMARKS=OFF \
  -DCMAKE_CXX_FLAGS="$flags${compile_only:+ $compile_only}" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DCMAKE_EXE_LINKER_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS="$flags" >/dev/null || exit 1
read -r -d '' -a targets <<<"${SANITIZE_TARGETS:-$default_targets}"
cmake --build "$build" --target "${targets[@]}" || exit 1

if (($# == 0)); then set -- "${default_args[@]}"; fi
exec "$repo/scripts/run-tests.sh" "$build" "$@"
