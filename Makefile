# The two commands the README opens with, and the steps under them.
#   make demo   install what is missing, build, run the demo end to end
#   make test   install what is missing, build, run every test (one shared broker)
#   make image  build the container image with buildah and smoke-run it (slow; not in make test)
#   make bench  install what is missing, build, compare Sluice, Kafka Streams and raw librdkafka
#               on a fresh broker (bench/README.md; BENCH_RECORDS=200000 for a quick run)
BUILD_DIR ?= build
CMAKE_FLAGS ?=

.PHONY: all deps build test demo image bench format clean broker-start broker-stop

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

demo: build
	@scripts/demo.sh $(BUILD_DIR)

# The image builds Sluice itself (docker/Dockerfile); deps brings the broker for the smoke run.
image: deps
	@scripts/image.sh $(BUILD_DIR)

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
	rm -rf $(BUILD_DIR)
