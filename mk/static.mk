# `make static`: build/static/lsinit, one fully static, stripped musl binary
# that links SQLite, libyaml, libcurl (HTTP and HTTPS only), Mbed TLS and zlib.
# The libraries are built from Debian source packages by
# scripts/build-static-deps.sh and cached in .deps/static/ (gitignored); a
# second `make static` only checks the versions and relinks if needed.
# Included by the Makefile (`-include mk/*.mk`), so SRCS, HDRS, VERSION and
# BASE_CFLAGS (with -Werror) come from there.

STATIC_DEPS := .deps/static
STATIC_PREFIX := $(STATIC_DEPS)/prefix
# Touched by the script only when a library was (re)built.
STATIC_DEPS_STAMP := $(STATIC_PREFIX)/.stamp
STATIC_CC := musl-gcc
STATIC_OPT := -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables
# -isystem: the libraries' headers are not held to our -Werror warnings.
# kheaders/ holds the Linux UAPI headers (musl has none); -idirafter makes
# sure musl's own headers always come first.
STATIC_CPPFLAGS := -isystem $(STATIC_PREFIX)/include -idirafter $(STATIC_DEPS)/kheaders
STATIC_LDFLAGS := -static -Wl,--gc-sections -s
# Link order matters for static archives: users before what they use.
STATIC_LIBS := $(addprefix $(STATIC_PREFIX)/lib/,libcurl.a libmbedtls.a libmbedx509.a libmbedcrypto.a libyaml.a libsqlite3.a libz.a)

.PHONY: static static-deps-check

static: build/static/lsinit
	@file -L $< | grep -q 'statically linked' || { file -L $<; echo "error: $< is not statically linked" >&2; exit 1; }
	@echo "build/static/lsinit: $$(stat -c %s $<) bytes (static, stripped)"

# Always runs the script (it checks the Debian versions and takes well under a
# second when everything is cached); it touches the stamp only on a rebuild,
# so build/static/lsinit is relinked only when a library or a source changed.
static-deps-check:
$(STATIC_DEPS_STAMP): static-deps-check
	@scripts/build-static-deps.sh

build/static/lsinit: $(SRCS) $(HDRS) VERSION $(STATIC_DEPS_STAMP) mk/static.mk
	@mkdir -p $(@D)
	$(STATIC_CC) $(BASE_CFLAGS) $(STATIC_OPT) $(STATIC_CPPFLAGS) $(SRCS) -o $@.tmp $(STATIC_LIBS) $(STATIC_LDFLAGS)
	@file $@.tmp | grep -q 'statically linked' || { file $@.tmp; echo "error: $@ is not statically linked" >&2; rm -f $@.tmp; exit 1; }
	@mv -f $@.tmp $@
