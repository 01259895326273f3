#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang-14, ASan+UBSan, in build-fuzz/) and runs each for
# FUZZ_SECONDS (default 60), starting from its committed corpus fuzz/corpus/<target>/.
#   scripts/fuzz.sh                   every target, FUZZ_SECONDS each
#   scripts/fuzz.sh json_serde ...    only those targets
#   FUZZ_SECONDS=10 scripts/fuzz.sh   the short run `make test` does
# New inputs the fuzzer finds go to build-fuzz/corpus/<target>/ (not the committed corpus);
# a crash, leak, sanitizer report or failed FUZZ_CHECK stops that target, saves the input as
# build-fuzz/artifacts/<target>/crash-<sha1> and makes the script exit non-zero after the rest
# have run. Reproduce with: build-fuzz/bin/fuzz_<target> <that file>.
# FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (build parallelism, default nproc),
# FUZZ_SEED (libFuzzer's -seed; default random), FUZZ_CORPUS_ONLY (space-separated targets that
# only replay their corpus, -runs=0, instead of fuzzing), FUZZ_CONFIGURE_ONLY=1 (configure
# the build directory and stop).
set -uo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$repo/build-fuzz}
seconds=${FUZZ_SECONDS:-60}
seed_flag=()
[[ -n ${FUZZ_SEED:-} ]] && seed_flag=(-seed="$FUZZ_SEED")

if [[ ! -f $build/build.ninja ]] || grep -q '^SLUICE_BUILD_TESTS:BOOL=OFF' "$build/CMakeCache.txt"; then
  # No benchmarks or examples. The tests are configured but only built when asked:
  # `scripts/sanitize.sh ci` builds the core and state unit tests here, on the libraries this
  # build already instrumented with ASan+UBSan.
  # -O1 and line tables only, as libFuzzer's docs suggest: the sanitizers' reports keep their
  # file:line, and the cold build (part of make test) compiles faster than at -O2 -g.
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DSLUICE_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DSLUICE_WERROR=ON -DSLUICE_BUILD_TESTS=ON -DSLUICE_BUILD_BENCHMARKS=OFF \
    -DSLUICE_BUILD_EXAMPLES=OFF >/dev/null || exit 1
fi
[[ -n ${FUZZ_CONFIGURE_ONLY:-} ]] && exit 0
cmake --build "$build" -j "${FUZZ_JOBS:-$(nproc)}" --target fuzz_targets || exit 1

targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in "$repo"/fuzz/fuzz_*.cc; do
    name=$(basename "$f" .cc)
    targets+=("${name#fuzz_}")
  done
fi

failed=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  run_flags=(-max_total_time="$seconds" "${seed_flag[@]}")
  if [[ " ${FUZZ_CORPUS_ONLY:-} " == *" $t "* ]]; then
    run_flags=(-runs=0)
    echo "fuzz: $t replays its corpus" >&2
  else
    echo "fuzz: $t for ${seconds}s" >&2
  fi
  # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: 2 GB is a memory blow-up.
  if ! (cd "$build/artifacts/$t" &&
    "$build/bin/fuzz_$t" "${run_flags[@]}" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" \
      "$build/corpus/$t" "$repo/fuzz/corpus/$t" >"$build/artifacts/$t/log.txt" 2>&1); then
    echo "fuzz: $t FAILED; log: $build/artifacts/$t/log.txt" >&2
    tail -40 "$build/artifacts/$t/log.txt" >&2
    failed+=("$t")
  else
    grep -E '^stat::number_of_executed_units|^Done' "$build/artifacts/$t/log.txt" | tr '\n' ' ' >&2
    echo >&2
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} targets ran without a finding" >&2
