# microseg build. `make demo` and `make test` are the two commands the README promises.
SHELL := /bin/bash
.DEFAULT_GOAL := build

CONFIGURATION ?= Release
OUT := out
BPF_SRC := $(wildcard bpf/*.bpf.c)
BPF_OBJ := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.bpf.o,$(BPF_SRC))
# A second build of each object with another fingerprint, for the program-upgrade tests.
BPF_VARIANT := $(patsubst bpf/%.bpf.c,$(OUT)/bpf/%.variant.bpf.o,$(BPF_SRC))
BPF_HDR := $(wildcard bpf/include/*.h)
ARCH_INC := /usr/include/$(shell uname -m)-linux-gnu
BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -D__TARGET_ARCH_x86 -Ibpf/include -I$(ARCH_INC)
TEST_PROJECTS := $(wildcard tests/*/*.Tests.csproj)
TRX_DIR := $(OUT)/test-results
DOTNET := DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 dotnet

.PHONY: deps bpf bpf-objects build test demo bench clean

deps:
	@scripts/install-deps.sh

bpf: deps
	@$(MAKE) -s bpf-objects

# Also called by the Agent project's build, so `dotnet build` alone finds the objects.
bpf-objects: $(BPF_OBJ) $(BPF_VARIANT)

$(OUT)/bpf/%.variant.bpf.o: bpf/%.bpf.c $(BPF_HDR)
	@mkdir -p $(@D)
	clang $(BPF_CFLAGS) -DMICROSEG_TEST_VARIANT=1 -c $< -o $@.tmp
	llvm-strip -g $@.tmp
	mv $@.tmp $@

$(OUT)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDR)
	@mkdir -p $(@D)
	clang $(BPF_CFLAGS) -c $< -o $@.tmp
	llvm-strip -g $@.tmp
	mv $@.tmp $@

# One native executable (Native AOT): out/microseg, with its debug symbols in out/microseg.dbg.
# PIE=true links it as a position-independent executable (docs/operations.md).
build: bpf
	$(DOTNET) publish src/Microseg.Cli/Microseg.Cli.csproj -c $(CONFIGURATION) -o $(OUT) --nologo -v quiet $(if $(PIE),-p:PositionIndependentExecutable=$(PIE))
	@echo "built $(OUT)/microseg"

test: build
	@rm -rf $(TRX_DIR); mkdir -p $(TRX_DIR); status=0; \
	for p in $(TEST_PROJECTS); do \
	  name=$$(basename $$p .csproj); \
	  echo "== $$name"; \
	  $(DOTNET) test $$p -c $(CONFIGURATION) --nologo \
	    --logger "trx;LogFileName=$$name.trx" --logger "console;verbosity=normal" \
	    --results-directory $(TRX_DIR) || status=1; \
	done; \
	scripts/test-summary.sh $(TRX_DIR); exit $$status

demo: build
	$(OUT)/microseg lab demo

# Baseline programs the benchmarks measure ours against (never shipped).
BENCH_BPF_OBJ := $(patsubst bench/bpf/%.bpf.c,$(OUT)/bpf/bench/%.bpf.o,$(wildcard bench/bpf/*.bpf.c))

$(OUT)/bpf/bench/%.bpf.o: bench/bpf/%.bpf.c $(BPF_HDR)
	@mkdir -p $(@D)
	clang $(BPF_CFLAGS) -c $< -o $@

# The policy programs with every packet missing the per-CPU services cache: its miss cost.
BENCH_BPF_OBJ += $(OUT)/bpf/bench/policy-service-miss.bpf.o
$(OUT)/bpf/bench/policy-service-miss.bpf.o: bpf/policy.bpf.c $(BPF_HDR)
	@mkdir -p $(@D)
	clang $(BPF_CFLAGS) -DMICROSEG_NO_SERVICE_CACHE=1 -c $< -o $@

# Native baselines: a C program doing the plug path's kernel work with libbpf, and an AOT hello
# world (the start-up floor of a native .NET executable).
BENCH_NATIVE := $(OUT)/bench/plug-baseline $(OUT)/bench/noop-baseline $(OUT)/bench/hello/hello $(OUT)/bench/udp-flood

$(OUT)/bench/plug-baseline: bench/native/plug-baseline.c
	@mkdir -p $(@D)
	clang -O2 -Wall -Werror -o $@ $< -lbpf

$(OUT)/bench/noop-baseline: bench/native/noop-baseline.c
	@mkdir -p $(@D)
	clang -O2 -Wall -Werror -o $@ $< -lbpf

$(OUT)/bench/udp-flood: bench/native/udp-flood.c
	@mkdir -p $(@D)
	clang -O2 -Wall -Werror -o $@ $<

$(OUT)/bench/hello/hello: bench/hello/Program.cs bench/hello/Hello.csproj
	$(DOTNET) publish bench/hello/Hello.csproj -c $(CONFIGURATION) -o $(@D) --nologo -v quiet

bench: build $(BENCH_BPF_OBJ) $(BENCH_NATIVE)
	$(DOTNET) run --project bench/Microseg.Bench/Microseg.Bench.csproj -c $(CONFIGURATION) -- $(BENCH_ARGS)

clean:
	rm -rf $(OUT)
	find . -name bin -o -name obj -type d -prune -exec rm -rf {} + 2>/dev/null || true

# Soak of `microseg serve` (not a timed test): 200 clients create, edit and read for 30 s
# against the built binary, then check every acknowledged write and the final config; prints
# requests/s and latency percentiles (also to bench/results/soak.md).
# Vary with SOAK_ARGS="--clients 50 --seconds 10".
.PHONY: soak
soak: build
	$(DOTNET) run --project bench/soak/Microseg.Soak.csproj -c $(CONFIGURATION) -- --microseg $(OUT)/microseg $(SOAK_ARGS)

# Debian package (packaging/build-deb.sh): out/deb/microseg_$(DEB_VERSION)_$(arch).deb. The
# version lives in VERSION; DEB_VERSION=... builds another one (upgrade tests). VARIANT=1
# packages a build that embeds out/bpf/policy.variant.bpf.o as its policy object (same source,
# built with -DMICROSEG_TEST_VARIANT: another program fingerprint), published apart in
# out/variant/ with its own intermediate files so out/ and the tree's obj/ stay untouched.
DEB_VERSION ?= $(shell cat VERSION)
DEB_DIR := $(OUT)/deb
VARIANT ?=
VARIANT_DIR := $(OUT)/variant

.PHONY: deb
deb: build
ifeq ($(VARIANT),1)
	@mkdir -p $(VARIANT_DIR)/bpf
	cp $(OUT)/bpf/policy.variant.bpf.o $(VARIANT_DIR)/bpf/policy.bpf.o
	cp $(OUT)/bpf/carrier.bpf.o $(OUT)/bpf/forwarder.bpf.o $(VARIANT_DIR)/bpf/
	$(DOTNET) publish src/Microseg.Cli/Microseg.Cli.csproj -c $(CONFIGURATION) -o $(VARIANT_DIR)/app \
	  --artifacts-path $(VARIANT_DIR)/artifacts -p:BpfOutDir=$(abspath $(VARIANT_DIR)/bpf)/ --nologo -v quiet
	packaging/build-deb.sh $(VARIANT_DIR)/app $(DEB_VERSION) $(DEB_DIR)
else
	packaging/build-deb.sh $(OUT) $(DEB_VERSION) $(DEB_DIR)
endif
