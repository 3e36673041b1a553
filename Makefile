# lsinit — see README.md. `make` builds build/lsinit against the system
# libraries; `make static` builds the static musl binary; `make test` installs
# what is missing and runs every test.
#
# Layout of build/:
#   build/obj/<source>.o (+ .d)        one object per source, -MMD -MP dependency files
#   build/libutil.a                    the init/lib objects
#   build/lsinit                       init/*.o + build/libutil.a
#   build/unit/test_X                  tests/unit/test_X.c + what it tests (UNIT_DEPS_test_X) + libutil.a
#   build/asan/...                     the same, built with ASan+UBSan
#   build/fuzz/...                     the libFuzzer targets
#   build/static/lsinit                mk/static.mk (musl, one compiler call over $(SRCS))

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CC ?= cc
WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -DLSINIT_VERSION='"$(VERSION)"' $(WARN) -Iinit -Iinit/lib
CFLAGS ?= -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDLIBS_DEV := -lsqlite3 -lyaml -lcurl -lz
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
ASAN_CFLAGS := -O1 -g $(SANITIZE)
DEPFLAGS := -MMD -MP

# ---- sources ------------------------------------------------------------------
# init/lib/ holds the leaf modules that know nothing of lsinit (log, parse,
# spawn, sha256, yaml_tree, http_fetch, ...). The rule that keeps them leaves: a
# file in init/lib includes system headers and init/lib headers only, never a
# header from init/. `make check-lib` greps for it (lint runs it). -Iinit/lib
# beside -Iinit lets every file write #include "log.h" wherever log.h lives.
LIBUTIL_SRCS := $(sort $(wildcard init/lib/*.c))
APP_SRCS := $(sort $(wildcard init/*.c))
# Every source of lsinit: mk/static.mk and lint compile these.
SRCS := $(APP_SRCS) $(LIBUTIL_SRCS)
HDRS := $(wildcard init/*.h init/lib/*.h)

obj = $(patsubst %.c,build/obj/%.o,$(1))
asan_obj = $(patsubst %.c,build/asan/obj/%.o,$(1))

APP_OBJS := $(call obj,$(APP_SRCS))
LIBUTIL_OBJS := $(call obj,$(LIBUTIL_SRCS))
ASAN_APP_OBJS := $(call asan_obj,$(APP_SRCS))
ASAN_LIBUTIL_OBJS := $(call asan_obj,$(LIBUTIL_SRCS))

.PHONY: all static test unit unit-asan integration deps demo bench lint check-lib format format-check clean asan soak fuzz fuzz-config

all: build/lsinit

# Objects depend on VERSION (LSINIT_VERSION is on every command line) and,
# through the .d files, on every header they include.
build/obj/%.o: %.c VERSION
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

build/asan/obj/%.o: %.c VERSION
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(ASAN_CFLAGS) $(DEPFLAGS) -c $< -o $@

build/libutil.a: $(LIBUTIL_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

build/asan/libutil.a: $(ASAN_LIBUTIL_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

build/lsinit: $(APP_OBJS) build/libutil.a
	$(CC) $(CFLAGS) $(APP_OBJS) build/libutil.a -o $@ $(LDLIBS_DEV)

asan: build/asan/lsinit
build/asan/lsinit: $(ASAN_APP_OBJS) build/asan/libutil.a
	$(CC) $(ASAN_CFLAGS) $(ASAN_APP_OBJS) build/asan/libutil.a -o $@ $(LDLIBS_DEV)

# ---- unit tests ------------------------------------------------------------------
# Each tests/unit/test_X.c links the init/ modules below (names without .c)
# and build/libutil.a, nothing else: a test of an init/lib module needs no line.
# A new test of an init/ module adds one; a module that starts calling another
# adds it to the tests that link it (the link fails and names the symbol).
UNIT_DEPS_test_install := cmd_install litestream settings
UNIT_DEPS_test_legacy_layout := legacy_layout replica_url
UNIT_DEPS_test_loop := loop
UNIT_DEPS_test_litestream := litestream
UNIT_DEPS_test_ls_config := ls_config settings litestream
UNIT_DEPS_test_follow_publish := follow_publish
UNIT_DEPS_test_follow_events := follow_events
UNIT_DEPS_test_plan := plan ls_config settings litestream replica_url
UNIT_DEPS_test_replica_url := replica_url
UNIT_DEPS_test_replicate := replicate
UNIT_DEPS_test_settings := settings
UNIT_DEPS_test_shim_protocol := shim ls_socket metrics_client signals

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,build/unit/%,$(UNIT_SRCS))
UNIT_ASAN_BINS := $(patsubst tests/unit/%.c,build/asan/unit/%,$(UNIT_SRCS))
unit_objs = $(patsubst %,build/obj/init/%.o,$(UNIT_DEPS_$(1)))
unit_asan_objs = $(patsubst %,build/asan/obj/init/%.o,$(UNIT_DEPS_$(1)))

.SECONDEXPANSION:
build/unit/%: build/obj/tests/unit/%.o $$(call unit_objs,$$*) build/libutil.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< $(call unit_objs,$*) build/libutil.a -o $@ $(LDLIBS_DEV) -lcmocka

build/asan/unit/%: build/asan/obj/tests/unit/%.o $$(call unit_asan_objs,$$*) build/asan/libutil.a
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) $< $(call unit_asan_objs,$*) build/asan/libutil.a -o $@ $(LDLIBS_DEV) -lcmocka

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

unit-asan: $(UNIT_ASAN_BINS)
	@set -e; for t in $(UNIT_ASAN_BINS); do echo "== $$t"; $$t; done

# ---- the rest ----------------------------------------------------------------------
deps:
	@scripts/install-deps

integration: build/lsinit
	/usr/bin/python3 -m pytest -q tests/integration

# The README's test command (tests/run installs what is missing first).
test:
	@tests/run

demo:
	@scripts/demo

bench: deps build/lsinit static
	@bench/run

# ---- fuzzers (libFuzzer; clang compiles every source with coverage) ---------------
# fuzz_http_request: the health endpoint's request parser. `make fuzz` runs it
# FUZZ_SECONDS (tests/run, CI); scripts/soak runs 10 million inputs.
# fuzz_config: the configuration path (tests/fuzz/fuzz_config.c); the
# _skip_known build steps over the contract violations already known
# (FUZZ_CONFIG_SKIP_KNOWN). `make fuzz-config` runs the strict one
# FUZZ_SECONDS; scripts/soak runs it 600 s.
FUZZ_SECONDS ?= 20
FUZZ_CC := clang
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -DLSINIT_VERSION='"fuzz"' -Iinit -Iinit/lib
FUZZ_CONFIG_SRCS := $(filter-out init/main.c,$(SRCS))

build/fuzz/fuzz_http_request: tests/fuzz/fuzz_http_request.c init/lib/http_request.c init/lib/http_request.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< init/lib/http_request.c -o $@

build/fuzz/fuzz_config: tests/fuzz/fuzz_config.c $(FUZZ_CONFIG_SRCS) $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_CONFIG_SRCS) -o $@ $(LDLIBS_DEV)

build/fuzz/fuzz_config_skip_known: tests/fuzz/fuzz_config.c $(FUZZ_CONFIG_SRCS) $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFUZZ_CONFIG_SKIP_KNOWN $< $(FUZZ_CONFIG_SRCS) -o $@ $(LDLIBS_DEV)

# The fuzzer's own exit status is make's (docs/reliability.md M1): its output
# goes to a log first, and only then are the last lines shown.
fuzz: build/fuzz/fuzz_http_request
	@rm -rf build/fuzz/corpus && mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_http_request -max_total_time=$(FUZZ_SECONDS) -max_len=4200 -print_final_stats=1 \
	  build/fuzz/corpus tests/fuzz/corpus/http_request > build/fuzz/fuzz_http_request.log 2>&1; rc=$$?; \
	  tail -12 build/fuzz/fuzz_http_request.log; exit $$rc

fuzz-config: build/fuzz/fuzz_config
	@rm -rf build/fuzz/corpus-config build/fuzz/config-artifacts && mkdir -p build/fuzz/corpus-config build/fuzz/config-artifacts
	cd build/fuzz && ./fuzz_config -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=config-artifacts/ \
	  corpus-config ../../tests/fuzz/corpus/config > fuzz_config.log 2>&1; rc=$$?; \
	  grep -E '^fuzz_config:|^stat::|SUMMARY|Test unit' fuzz_config.log | tail -20; exit $$rc

# fuzz_follow_events: the follow keeper's event lines and `litestream ltx` tables
# (init/follow_events.c). `make fuzz-follow-events` runs it FUZZ_SECONDS.
.PHONY: fuzz-follow-events
build/fuzz/fuzz_follow_events: tests/fuzz/fuzz_follow_events.c init/follow_events.c init/follow_events.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< init/follow_events.c -o $@

fuzz-follow-events: build/fuzz/fuzz_follow_events
	@rm -rf build/fuzz/corpus-follow-events && mkdir -p build/fuzz/corpus-follow-events
	build/fuzz/fuzz_follow_events -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	  build/fuzz/corpus-follow-events tests/fuzz/corpus/follow_events > build/fuzz/fuzz_follow_events.log 2>&1; \
	  rc=$$?; tail -8 build/fuzz/fuzz_follow_events.log; exit $$rc

# fuzz_go_buildinfo: the Go build info reader (init/lib/go_buildinfo.c) on whole
# files (a memfd), then its -ldflags helpers. `make fuzz-go-buildinfo` runs it FUZZ_SECONDS.
.PHONY: fuzz-go-buildinfo
build/fuzz/fuzz_go_buildinfo: tests/fuzz/fuzz_go_buildinfo.c init/lib/go_buildinfo.c init/lib/go_buildinfo.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< init/lib/go_buildinfo.c -o $@

fuzz-go-buildinfo: build/fuzz/fuzz_go_buildinfo
	@rm -rf build/fuzz/corpus-go-buildinfo && mkdir -p build/fuzz/corpus-go-buildinfo
	build/fuzz/fuzz_go_buildinfo -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -print_final_stats=1 \
	  -artifact_prefix=build/fuzz/go-buildinfo- \
	  build/fuzz/corpus-go-buildinfo tests/fuzz/corpus/go_buildinfo > build/fuzz/fuzz_go_buildinfo.log 2>&1; rc=$$?; \
	  tail -12 build/fuzz/fuzz_go_buildinfo.log; exit $$rc

.PHONY: check-manifests helm-check image container-test

# The long reliability suites (stop soak of 100 cycles, 20 Litestream kills, 30 s outages,
# 10 million fuzz runs); their short versions run in tests/run.
soak: build/lsinit
	@scripts/soak

# The top-level image and the examples, built with podman (local stand-ins for
# registries: scripts/container-build), and the container tests.
image:
	@scripts/container-build

container-test:
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/container

# Deployment files (k8s/, helm/, fly/): yamllint, Kubernetes schemas, Helm values
# schema, helm lint/template (the real Helm), fly.toml. Installs what it needs.
check-manifests:
	@scripts/check-manifests

# The real Helm (v4, .deps/bin/helm from scripts/install-deps): helm lint
# --strict and helm template with the defaults and every ci/*-values.yaml, each
# rendering validated like k8s/, and the documented bad values refused. Also
# part of check-manifests.
helm-check:
	@scripts/check-manifests helm

# init/lib includes nothing from init/ (see the sources section above).
check-lib:
	@bad=$$(for f in init/lib/*.[ch]; do \
	  grep -o '^#include "[^"]*"' "$$f" | sed 's/^#include "\(.*\)"/\1/' | \
	  while read -r h; do [ -e "init/lib/$$h" ] || echo "$$f includes \"$$h\", which is not in init/lib"; done; \
	done); \
	if [ -n "$$bad" ]; then echo "$$bad" >&2; echo "error: init/lib must not include headers from init/" >&2; exit 1; fi

# C: cppcheck, clang-tidy, clang-format (format-check); shell: shellcheck; Python: ruff (ruff.toml).
SHELL_SCRIPTS := .ci/run tests/run scripts/install-deps scripts/build-static-deps.sh scripts/check-manifests \
	scripts/container-build scripts/demo scripts/soak bench/healthapp.sh docker/sqlite-worker/worker.sh
C_FORMATTED := $(wildcard init/*.[ch] init/lib/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c)
RUFF ?= $(firstword $(wildcard .deps/bin/ruff) ruff)

lint: check-lib format-check
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	  --suppress=missingIncludeSystem -D_GNU_SOURCE -Iinit -Iinit/lib init
	clang-tidy --quiet $(SRCS) -- $(BASE_CFLAGS)
	shellcheck -S warning $(SHELL_SCRIPTS)
	$(RUFF) check --quiet tests bench bench/run scripts

# .clang-format writes down the tree's style; `make format` applies it.
format-check:
	clang-format --dry-run --Werror $(C_FORMATTED)

format:
	clang-format -i $(C_FORMATTED)

clean:
	rm -rf build

# Objects are kept (a unit test's own object is otherwise an intermediate file make deletes).
.SECONDARY:

-include $(patsubst %.o,%.d,$(APP_OBJS) $(LIBUTIL_OBJS) $(call obj,$(UNIT_SRCS)))
-include $(patsubst %.o,%.d,$(ASAN_APP_OBJS) $(ASAN_LIBUTIL_OBJS) $(call asan_obj,$(UNIT_SRCS)))
-include mk/*.mk
