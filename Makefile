# lsinit — see README.md. `make` builds build/lsinit against the system
# libraries; `make static` builds the static musl binary; `make test` installs
# what is missing and runs every test.

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CC ?= cc
WARN := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -DLSINIT_VERSION='"$(VERSION)"' $(WARN) -Iinit -Iinit/lib
CFLAGS ?= -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
LDLIBS_DEV := -lsqlite3 -lyaml -lcurl -lz
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

SRCS := $(sort $(wildcard init/*.c init/lib/*.c))
LIB_SRCS := $(filter-out init/main.c,$(SRCS))
HDRS := $(wildcard init/*.h init/lib/*.h)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,build/unit/%,$(UNIT_SRCS))
UNIT_ASAN_BINS := $(patsubst tests/unit/%.c,build/asan/unit/%,$(UNIT_SRCS))

.PHONY: all static test unit unit-asan integration deps demo bench lint clean asan soak fuzz

all: build/lsinit

build/lsinit: $(SRCS) $(HDRS) VERSION
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(SRCS) -o $@ $(LDLIBS_DEV)

asan: build/asan/lsinit
build/asan/lsinit: $(SRCS) $(HDRS) VERSION
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SANITIZE) $(SRCS) -o $@ $(LDLIBS_DEV)

build/unit/%: tests/unit/%.c $(LIB_SRCS) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $< $(LIB_SRCS) -o $@ $(LDLIBS_DEV) -lcmocka

build/asan/unit/%: tests/unit/%.c $(LIB_SRCS) $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) -O1 -g $(SANITIZE) $< $(LIB_SRCS) -o $@ $(LDLIBS_DEV) -lcmocka

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

unit-asan: $(UNIT_ASAN_BINS)
	@set -e; for t in $(UNIT_ASAN_BINS); do echo "== $$t"; $$t; done

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

# libFuzzer on the health endpoint's request parser: FUZZ_SECONDS in CI, longer by hand.
FUZZ_SECONDS ?= 20
build/fuzz/fuzz_http_request: tests/fuzz/fuzz_http_request.c init/lib/http_request.c init/lib/http_request.h
	@mkdir -p $(@D)
	clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinit/lib $< init/lib/http_request.c -o $@

fuzz: build/fuzz/fuzz_http_request
	@rm -rf build/fuzz/corpus && mkdir -p build/fuzz/corpus
	build/fuzz/fuzz_http_request -max_total_time=$(FUZZ_SECONDS) -max_len=4200 -print_final_stats=1 \
	  build/fuzz/corpus tests/fuzz/corpus/http_request > build/fuzz/fuzz_http_request.log 2>&1; rc=$$?; \
	  tail -12 build/fuzz/fuzz_http_request.log; exit $$rc

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

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
	  --suppress=missingIncludeSystem -D_GNU_SOURCE -Iinit -Iinit/lib init
	clang-tidy --quiet $(SRCS) -- $(BASE_CFLAGS)

clean:
	rm -rf build

-include mk/*.mk
