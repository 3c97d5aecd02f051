# Grove: the front door. `make demo`, `make test`, `make bench`.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
CTEST = ctest --output-on-failure --timeout 900

.PHONY: all deps demo demo-jobs test test-release test-asan test-tsan test-valgrind test-det \
        test-ucontext test-clang checks bench pgo examples clean

all: $(BUILD)/release/.built

deps:
	@bash tools/install-deps.sh build

$(BUILD)/release/.built: deps FORCE
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/release -j $(JOBS)
	@touch $@
FORCE:

# The chat server with the observer in its tree, until Ctrl-C (or for
# DEMO_SECONDS); LOAD=1 adds simulated clients and random faults (with the
# poison commands on). More options through DEMO_ARGS, e.g.
# DEMO_ARGS="--port 7000 --observer-port 9090" (examples/chat/main.c).
demo: $(BUILD)/release/.built
	$(BUILD)/release/examples/chat/chat_server $(if $(LOAD),--load --poison) \
	    $(if $(DEMO_SECONDS),--seconds $(DEMO_SECONDS)) $(DEMO_ARGS)

# The job-processing service healing itself (examples/demo.c).
demo-jobs: $(BUILD)/release/.built
	$(BUILD)/release/examples/demo $(DEMO_ARGS)

# Every test, in every build the project promises to be clean under.
test:
	@bash tools/install-deps.sh test
	@bash tools/install-deps.sh browser || echo "no browser: the observer's browser test will be skipped"
	$(MAKE) test-release test-asan test-tsan test-ucontext test-clang test-det test-valgrind checks test-fuzz

define build_and_test
	cmake -S . -B $(BUILD)/$(1) $(2) $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/$(1) -j $(JOBS)
	cd $(BUILD)/$(1) && $(3) $(CTEST) -j 1 $(4)
endef

test-release:
	$(call build_and_test,release,-DCMAKE_BUILD_TYPE=RelWithDebInfo,,)
test-asan:
	$(call build_and_test,asan,-DCMAKE_BUILD_TYPE=Debug -DGROVE_ASAN=ON -DGROVE_FAILPOINTS=ON -DGROVE_BUILD_BENCH=OFF,,)
test-tsan:
	$(call build_and_test,tsan,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGROVE_TSAN=ON -DGROVE_BUILD_BENCH=OFF,GROVE_TEST_TIMEOUT_MULT=4,)
test-ucontext:
	$(call build_and_test,ucontext,-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGROVE_UCONTEXT=ON -DGROVE_BUILD_BENCH=OFF,,)
test-clang:
	$(call build_and_test,clang,-DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGROVE_BUILD_BENCH=OFF,,)
# Deterministic scheduling: the conformance suite under one seed, then the
# exit-signal, link, monitor, supervision, gen_server and message-exchange
# tests under several seeds (which also choose whether hand-offs happen).
test-det:
	cmake -S . -B $(BUILD)/det -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGROVE_DETERMINISTIC=ON -DGROVE_BUILD_BENCH=OFF -DGROVE_BUILD_EXAMPLES=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/det -j $(JOBS)
	# (five shutdown tests have children that wait on the wall clock, which
	# the logical clock cannot follow: they run in every other build)
	cd $(BUILD)/det && GROVE_SEED=1 $(CTEST) -j 2 -L conformance -E 'dynsup_D07_terminate_uses_the_shutdown_setting|dynsup_D12_children_stop_concurrently|dynsup_D12_shutdown_timeouts_run_concurrently|dynsup_D12_mixed_shutdown_settings|dynsup_D12_many_children_some_ignoring'
	$(BUILD)/det/tests/grove_test_conformance --seeds 5 'exit_matrix*' 'L*' 'supervisor*' 'deterministic*' 'gen_server*' 'exchange*' > $(BUILD)/det/seeds.log 2>&1 || (grep -E 'not ok|FAILED' $(BUILD)/det/seeds.log; exit 1)
	@grep -c '^ok' $(BUILD)/det/seeds.log | xargs echo "seeded runs passed:"

test-valgrind:
	cmake -S . -B $(BUILD)/valgrind -DCMAKE_BUILD_TYPE=Debug -DGROVE_VALGRIND=ON -DGROVE_BUILD_BENCH=OFF -DGROVE_BUILD_EXAMPLES=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/valgrind -j $(JOBS)
	bash tools/valgrind.sh $(BUILD)/valgrind

# libFuzzer targets (fuzz/README.md), built with clang in $(BUILD)/fuzz.
# `make fuzz` replays fuzz/regressions and fuzzes each target for
# FUZZ_SECONDS (default 300); test-fuzz, part of `make test`, does the same
# for 20 s each. FUZZ_TARGETS picks targets (default: all).
.PHONY: fuzz fuzz-build test-fuzz
fuzz-build:
	@bash tools/install-deps.sh test
	cmake -S . -B $(BUILD)/fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGROVE_FUZZ=ON -DGROVE_BUILD_TESTS=OFF -DGROVE_BUILD_BENCH=OFF -DGROVE_BUILD_EXAMPLES=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/fuzz -j $(JOBS) --target grove_fuzz
fuzz: fuzz-build
	bash fuzz/run.sh $(BUILD)/fuzz $(or $(FUZZ_SECONDS),300) $(FUZZ_TARGETS)
test-fuzz:
	@if [ -f fuzz/run.sh ]; then $(MAKE) fuzz-build && bash fuzz/run.sh $(BUILD)/fuzz $(or $(FUZZ_SECONDS),20) $(FUZZ_TARGETS); else echo "test-fuzz: no fuzz targets in this tree"; fi

checks: $(BUILD)/release/.built
	bash tools/check.sh $(BUILD)/release

bench: pgo
	@bash tools/install-deps.sh bench
	cmake -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_TESTS=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD)/bench -j $(JOBS) --target grove_bench
	bash bench/run.sh $(BUILD)/pgo $(BUILD)/bench

# The library built with profile feedback (docs/guide/pgo.md), in $(BUILD)/pgo:
# instrumented, trained by tools/pgo_train.c, then compiled again from
# the profile. Both stages use one tree, where the profile is looked for.
pgo:
	@bash tools/install-deps.sh build
	cmake -S . -B $(BUILD)/pgo -DCMAKE_BUILD_TYPE=Release -DGROVE_BUILD_TESTS=OFF -DGROVE_BUILD_EXAMPLES=OFF -DGROVE_PGO=generate $(CMAKE_FLAGS) >/dev/null
	find $(BUILD)/pgo -name '*.gcda' -delete
	cmake --build $(BUILD)/pgo -j $(JOBS) --target grove_pgo_train
	$(BUILD)/pgo/grove_pgo_train
	cmake -S . -B $(BUILD)/pgo -DGROVE_PGO=use >/dev/null
	cmake --build $(BUILD)/pgo -j $(JOBS) --target grove_static grove_shared grove_pgo_train grove_bench
	$(BUILD)/pgo/grove_pgo_train 2

# Chaos soak: the application tree under random kills and faults for
# SOAK_SECONDS (default 600), then its invariants and leak checks; the
# summary is also kept in $(BUILD)/release/soak.log.
SOAK_SECONDS ?= 600
.PHONY: soak
soak: $(BUILD)/release/.built
	bash tools/soak.sh $(BUILD)/release $(SOAK_SECONDS)

clean:
	rm -rf $(BUILD)
