# The two commands the README opens with, and the steps under them.
#   make demo   install what is missing, build, run the demo end to end
#   make test   install what is missing, build, run every test (one shared broker)
#   make image  build the container image with buildah and smoke-run it (slow; not in make test)
#   make bench  install what is missing, build, compare Sluice, Kafka Streams and raw librdkafka
#               on a fresh broker (bench/README.md; BENCH_RECORDS=200000 for a quick run)
#   make fuzz   the libFuzzer targets (fuzz/, clang, ASan+UBSan, build-fuzz/), FUZZ_SECONDS each
#   make asan   the unit, driver and integration tests under ASan+UBSan (build-asan/)
#   make tsan   the multi-threaded runtime tests under TSan (build-tsan/)
#   make differential  random inputs through Kafka Streams' TopologyTestDriver and Sluice's,
#               compared record by record (tests/differential/README.md; make test runs 3 of each)
#   make sanitize-ci  the subset of both that make test runs (core and state unit tests under
#               ASan+UBSan in build-fuzz/, the synchronized stores under TSan)
#   (docs/testing.md: what each runs and what make test runs of them)
BUILD_DIR ?= build
CMAKE_FLAGS ?=
# The short fuzz run of make test: seconds per target and a fixed seed (the same code fuzzes
# the same inputs, so a red run is reproducible). Then the sanitizer subset (docs/testing.md).
TEST_FUZZ_SECONDS ?= 5
# Cases of each kind make test runs of the differential test against Kafka Streams (seeds 1..N;
# tests/differential/README.md).
TEST_DIFFERENTIAL_SEEDS ?= 3

.PHONY: all deps build test demo image bench format clean broker-start broker-stop fuzz asan tsan sanitize-ci differential

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@if [ ! -f $(BUILD_DIR)/build.ninja ]; then \
	  cmake -S . -B $(BUILD_DIR) -G Ninja -DSLUICE_WERROR=ON $(CMAKE_FLAGS); \
	fi
	@cmake --build $(BUILD_DIR)

test: build
	@scripts/run-tests.sh $(BUILD_DIR)
	@cmake --build $(BUILD_DIR) --target sluice_differential
	@/usr/bin/python3 tests/differential/run.py --build-dir $(BUILD_DIR) --seeds $(TEST_DIFFERENTIAL_SEEDS)
	@FUZZ_SECONDS=$(TEST_FUZZ_SECONDS) FUZZ_SEED=1 scripts/fuzz.sh
	@scripts/sanitize.sh ci

fuzz: deps
	@scripts/fuzz.sh

asan: deps
	@scripts/sanitize.sh asan

tsan: deps
	@scripts/sanitize.sh tsan

# The sanitizer subset make test runs (docs/testing.md).
sanitize-ci: deps
	@scripts/sanitize.sh ci

demo: build
	@scripts/demo.sh $(BUILD_DIR)

# The image builds Sluice itself (docker/Dockerfile); deps brings the broker for the smoke run.
image: deps
	@scripts/image.sh $(BUILD_DIR)

differential: build
	@cmake --build $(BUILD_DIR) --target sluice_differential
	@/usr/bin/python3 tests/differential/run.py --build-dir $(BUILD_DIR)

bench: build
	@scripts/install-bench-deps.sh
	@/usr/bin/python3 bench/harness/bench.py --build-dir $(BUILD_DIR)

format:
	@git ls-files '*.h' '*.cc' | xargs clang-format -i

broker-start:
	@scripts/kafka.sh start

broker-stop:
	@scripts/kafka.sh stop

clean:
	@scripts/kafka.sh stop || true
	@SLUICE_KAFKA_HOME=$(BUILD_DIR)/test-kafka scripts/kafka.sh stop || true
	rm -rf $(BUILD_DIR) build-fuzz build-asan build-tsan
