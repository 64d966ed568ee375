# The two commands a new user needs: `make run` and `make test`.
# Everything else here is a step of those two.

BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps deps-test deps-bench build build-asan bin run demo test test-release test-asan docker-test bench fuzz format clean

all: build

deps:
	@scripts/deps.sh run

# The browser tests' npm packages (playwright-core, axe-core, otpauth), from
# tests/browser/package-lock.json; never a browser download (they drive
# Debian's chromium).
BROWSER_NODE_MODULES := tests/browser/node_modules/.package-lock.json
# The OpenID Connect tests' npm packages (openid-client, jose,
# playwright-core), from tests/oidc/package-lock.json.
OIDC_NODE_MODULES := tests/oidc/node_modules/.package-lock.json
# The webhook tests' verifier: standardwebhooks, the reference implementation
# of Standard Webhooks, from tests/webhooks/package-lock.json.
WEBHOOK_NODE_MODULES := tests/webhooks/node_modules/.package-lock.json

deps-test:
	@scripts/deps.sh run test
	@$(MAKE) --no-print-directory $(BROWSER_NODE_MODULES) $(OIDC_NODE_MODULES) \
		$(WEBHOOK_NODE_MODULES)

$(BROWSER_NODE_MODULES): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund
	@touch $@

$(OIDC_NODE_MODULES): tests/oidc/package.json tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund
	@touch $@

$(WEBHOOK_NODE_MODULES): tests/webhooks/package.json tests/webhooks/package-lock.json
	cd tests/webhooks && npm ci --no-audit --no-fund
	@touch $@

deps-bench:
	@scripts/deps.sh run bench

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOTPGATE_SANITIZE=ON

build-asan: deps-test $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

# Only what `make run` runs: the otpgate binary. A fresh build directory is
# configured without the tests (so running needs no test packages);
# `make test` turns them on in the same directory.
bin: deps
	@test -f $(BUILD)/CMakeCache.txt || \
		cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DOTPGATE_TESTS=OFF
	cmake --build $(BUILD) -j $(JOBS) --target otpgate

run: bin
	@echo "otpgate: open $${OTPGATE_PUBLIC_URL:-http://127.0.0.1:8080}/ (Ctrl-C to stop; data in $${OTPGATE_DATA_DIR:-./var})"
	$(BUILD)/otpgate serve

# otpgate (development delivery) and the demo app of examples/demo-app on
# http://127.0.0.1:3000, both stopped by Ctrl-C.
demo:
	@BUILD="$(BUILD)" examples/demo.sh

test-release: deps-test $(BUILD)/CMakeCache.txt
	cmake -S . -B $(BUILD) -DOTPGATE_TESTS=ON >/dev/null
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

# The image of docker/Dockerfile built and run by a real engine
# (tests/docker/docker_test.py): installs docker.io when missing and starts
# dockerd when none runs; one "skipped" line when no engine can run here.
docker-test:
	@scripts/deps.sh docker
	/usr/bin/python3 tests/docker/docker_test.py

# Sanitizer build first, so ctest's closing summary is the release build's;
# then the Docker image.
test: deps-test
	$(MAKE) test-asan
	$(MAKE) test-release
	$(MAKE) docker-test

bench: deps-bench build
	bench/run.sh $(BUILD)

# libFuzzer (clang) builds of tests/fuzz/fuzz_*.c, each run for FUZZ_SECONDS
# over a scratch copy of its corpus; FUZZ_TARGETS="jwt contact" picks some.
# Stops at the first finding and prints the input's path.
$(FUZZ_BUILD)/CMakeCache.txt:
	@command -v clang >/dev/null 2>&1 || { echo "make fuzz needs clang (libFuzzer): apt-get install clang" >&2; exit 1; }
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
		-DOTPGATE_FUZZ=ON -DOTPGATE_TESTS=OFF

fuzz: deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

format:
	clang-format -i src/*/*.c src/*/*.h tests/unit/*.c tests/unit/*/*.c tests/fuzz/*.c tests/fuzz/*.h bench/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
