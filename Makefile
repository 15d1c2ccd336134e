# Thin driver around CMake. `make` builds build/objmaild and build/objmail;
# `make test` also builds build-asan/ (ASan + UBSan) and runs every test there.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all build asan deps run test unit integration clean install fuzz

all: build

build:
	@test -f $(BUILD)/CMakeCache.txt || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

asan:
	@test -f $(ASAN_BUILD)/CMakeCache.txt || cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOM_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(JOBS)

deps:
	scripts/install-deps

run: 
	scripts/install-deps --build-only
	$(MAKE) build
	scripts/run-dev

test: deps
	$(MAKE) build
	$(MAKE) asan
	scripts/run-tests $(ASAN_BUILD)

unit: asan
	cd $(ASAN_BUILD) && ctest --output-on-failure

integration: asan
	OBJMAIL_BUILD=$(ASAN_BUILD) /usr/bin/python3 -m pytest -q tests/integration

# libFuzzer: every tests/fuzz/fuzz_<name>.c for SECS seconds on its corpus
# (new finds go to $(FUZZ_BUILD)/corpus-<name>, crashes to $(FUZZ_BUILD)/).
FUZZ_BUILD ?= build-fuzz
SECS       ?= 60
fuzz:
	scripts/install-deps --fuzz
	@test -f $(FUZZ_BUILD)/CMakeCache.txt || CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOM_SANITIZE=ON -DOM_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(patsubst tests/fuzz/%.c,lib%,$(wildcard tests/fuzz/fuzz_*.c))
	scripts/run-fuzz $(FUZZ_BUILD) $(SECS)

install: build
	scripts/install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
