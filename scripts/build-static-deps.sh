#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Builds the libraries that the static lsinit links (sqlite3, libyaml, mbedtls,
# libcurl with HTTP, HTTPS and SFTP, libssh for curl's SFTP, zlib) as static
# musl archives, from Debian *source* packages fetched with `apt-get source`
# (Debian's patches applied).
#
#   scripts/build-static-deps.sh          # what `make static` runs
#   LSINIT_DEPS_FORCE=1 scripts/...       # rebuild every library
#   LSINIT_STATIC_SSH=libssh2 scripts/... # curl's SFTP from libssh2 instead of
#       # libssh (see build_libssh below for why libssh is the default)
#   LSINIT_DEPS_SKIP_VERSIONS="zlib=1:1.2.13.dfsg-1 curl=*" scripts/...
#       # treat those PKG=VERSION (globs allowed) as neither cached nor
#       # downloadable: proves the fallback below without a broken mirror
#
# Version choice, per library: every version `apt-cache showsrc` lists,
# newest first (dpkg ordering). The newest one whose source is already in src/
# is used without touching the network; otherwise each is tried with
# `apt-get source --download-only` until one downloads (the Debian index can
# list an update whose files the mirror no longer serves: 404). One log line
# names the version used and, after a fallback, the ones that failed. A newer
# version is not fetched while an older one is cached: delete src/PKG_* to
# move up. The chosen version is part of the library's stamp.
#
# Everything lives in .deps/static/ (gitignored):
#   src/      the downloaded .dsc/.orig/.debian files (download cache)
#   build/    one extracted, patched source tree per library
#   prefix/   include/ and lib/*.a that the final link uses
#   kheaders/ a copy of the Linux UAPI headers (musl ships none), used with
#             -idirafter so musl's own headers always win
#   stamps/   one stamp per library: source package, version and build
#             options; a library whose stamp matches is not rebuilt
# prefix/.stamp is touched whenever a library was (re)built, so make relinks.
#
# Works as root on a fresh Debian 12: enables deb-src, runs apt-get update when
# the source lists are missing and installs the tools it needs.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS=$ROOT/.deps/static   # mk/static.mk uses the same path
SRC=$DEPS/src
BUILD=$DEPS/build
PREFIX=$DEPS/prefix
STAMPS=$DEPS/stamps
KHEADERS=$DEPS/kheaders
JOBS=$(nproc 2>/dev/null || echo 2)

# Bump when a change to this script must rebuild every library.
SCRIPT_REV=1

export CC=musl-gcc
export AR=ar
export RANLIB=ranlib
# Size first: every library is built like this and linked with --gc-sections.
OPT_CFLAGS="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"

log() { printf '[static-deps] %s\n' "$*" >&2; }
die() { printf '[static-deps] error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- host setup

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_update_once() {
    [ "$APT_UPDATED" = 1 ] && return 0
    log "apt-get update"
    local out
    out=$(as_root apt-get update -q 2>&1) || { printf '%s\n' "$out" >&2; die "apt-get update failed"; }
    APT_UPDATED=1
}

# deb-src lines are needed for `apt-get source`. deb822 sources: every
# "Types: deb" line becomes "Types: deb deb-src"; a one-line sources.list
# without deb-src gets a deb-src twin of each deb line.
enable_deb_src() {
    local changed=0 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        if grep -qE '^Types:[[:space:]]*deb[[:space:]]*$' "$f"; then
            log "enabling deb-src in $f"
            as_root sed -i -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$f"
            changed=1
        fi
    done
    f=/etc/apt/sources.list
    if [ -f "$f" ] && grep -qE '^deb[[:space:]]' "$f" && ! grep -qE '^deb-src[[:space:]]' "$f"; then
        log "enabling deb-src in $f"
        grep -E '^deb[[:space:]]' "$f" | sed 's/^deb/deb-src/' | as_root tee -a "$f" >/dev/null
        changed=1
    fi
    if [ "$changed" = 1 ]; then
        APT_UPDATED=0
        apt_update_once
    fi
}

# command -> Debian package that provides it
ensure_tools() {
    local missing=() pair cmd pkg extra=""
    # libssh builds with CMake.
    [ "$STATIC_SSH" = libssh ] && extra=cmake:cmake
    for pair in musl-gcc:musl-tools gcc:gcc make:make ar:binutils \
                dpkg-source:dpkg-dev patch:patch xz:xz-utils tclsh:tcl \
                file:file $extra; do
        cmd=${pair%%:*} pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    # Linux UAPI headers, copied into kheaders/ for musl.
    [ -d /usr/include/linux ] || missing+=(linux-libc-dev)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_update_once
        log "apt-get install ${missing[*]}"
        local out
        out=$(as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends "${missing[@]}" 2>&1) || { printf '%s\n' "$out" >&2; die "apt-get install failed"; }
    fi
}

# ------------------------------------------------------- Debian source pkgs

# Every version of a source package that apt knows, newest first (dpkg
# ordering), one per line, duplicates removed. Prints nothing when the deb-src
# lists are missing.
source_versions() {
    local pkg=$1 v i sorted=()
    while read -r v; do
        i=${#sorted[@]}
        while [ "$i" -gt 0 ] && dpkg --compare-versions "$v" gt "${sorted[i-1]}"; do
            sorted[i]=${sorted[i-1]}
            i=$((i - 1))
        done
        sorted[i]=$v
    done < <(apt-cache showsrc --only-source "$pkg" 2>/dev/null | awk '/^Version:/ {print $2}' | sort -u)
    if [ "${#sorted[@]}" -gt 0 ]; then printf '%s\n' "${sorted[@]}"; fi
}

# LSINIT_DEPS_SKIP_VERSIONS: is PKG=VERSION one of its (glob) words?
is_skipped() {
    local want="$1=$2" pat pats=()
    read -r -a pats <<<"${LSINIT_DEPS_SKIP_VERSIONS:-}"
    for pat in "${pats[@]}"; do
        # shellcheck disable=SC2053  # $pat is a glob on purpose (zlib=*)
        [[ $want == $pat ]] && return 0
    done
    return 1
}

dsc_path() { printf '%s' "$SRC/${1}_${2#*:}.dsc"; }

# The .dsc and every file its Checksums-Sha256 lists (with the right size)
# are in src/.
dsc_complete() {
    local dsc=$1 _sum size name
    [ -f "$dsc" ] || return 1
    while read -r _sum size name; do
        [ -f "$SRC/$name" ] && [ "$(stat -c %s "$SRC/$name")" = "$size" ] || return 1
    done < <(awk '/^Checksums-Sha256:/ {on = 1; next} on && /^ / {print; next} {on = 0}' "$dsc")
}

# Downloads PKG=VERSION into a scratch directory and moves the files into
# src/ (the .dsc last) only when all of them arrived; a failed attempt leaves
# nothing behind and sets FETCH_ERR to apt's reason (e.g. "404 Not Found").
FETCH_ERR=""
download_source() {
    local pkg=$1 ver=$2 stage=$SRC/.partial-$1 dsc out f
    dsc=$(basename "$(dsc_path "$pkg" "$ver")")
    rm -rf "$stage"
    mkdir -p "$stage"
    # An .orig tarball shared with a cached version is verified, not fetched.
    for f in "$SRC/${pkg}"_*.orig*; do
        if [ -f "$f" ]; then cp -p "$f" "$stage/"; fi
    done
    # _apt cannot write into a root-only directory; download as root.
    if out=$(cd "$stage" && apt-get source -qq --download-only \
                -o APT::Sandbox::User=root "$pkg=$ver" 2>&1) && [ -f "$stage/$dsc" ]; then
        for f in "$stage"/*; do
            if [ "$f" != "$stage/$dsc" ]; then mv -f "$f" "$SRC/"; fi
        done
        mv -f "$stage/$dsc" "$SRC/"
        rm -rf "$stage"
        return 0
    fi
    rm -rf "$stage"
    FETCH_ERR=$(awk '
        /Failed to fetch/ && r == "" {
            s = $0; sub(/.*Failed to fetch [^ ]+ */, "", s); sub(/ *\[IP:.*/, "", s)
            gsub(/  +/, " ", s); r = s }
        /^E: / && e == "" { e = substr($0, 4) }
        END { print (r != "" ? r : e != "" ? e : "apt-get source failed") }' <<<"$out")
    return 1
}

# Picks VERSION[pkg]: the newest version apt lists whose source is already in
# src/ (no network), else the first one, newest first, that downloads.
declare -A VERSION
resolve_version() {
    local pkg=$1 v cands=() newer="" failed=""
    mapfile -t cands < <(source_versions "$pkg")
    if [ "${#cands[@]}" = 0 ]; then
        apt_update_once
        mapfile -t cands < <(source_versions "$pkg")
        [ "${#cands[@]}" -gt 0 ] || die "apt knows no source package '$pkg' (deb-src enabled?)"
    fi
    for v in "${cands[@]}"; do
        is_skipped "$pkg" "$v" && continue
        if dsc_complete "$(dsc_path "$pkg" "$v")"; then
            VERSION[$pkg]=$v
            log "$pkg: using $v (cached source${newer:+; newer $newer listed but not cached})"
            return 0
        fi
        newer+="${newer:+, }$v"
    done
    mkdir -p "$SRC"
    for v in "${cands[@]}"; do
        if is_skipped "$pkg" "$v"; then
            failed+="${failed:+, }$v (skipped by LSINIT_DEPS_SKIP_VERSIONS)"
        elif download_source "$pkg" "$v"; then
            VERSION[$pkg]=$v
            log "$pkg: using $v (downloaded${failed:+; fell back from $failed})"
            return 0
        else
            failed+="${failed:+, }$v ($FETCH_ERR)"
        fi
    done
    die "$pkg: no source version could be fetched (tried $failed); check the deb-src lines in /etc/apt/sources.list and /etc/apt/sources.list.d/, the network, and run 'apt-get update' (stale lists name versions the mirror no longer serves)"
}

resolve_versions() {
    local pkg
    for pkg in "$@"; do resolve_version "$pkg"; done
}

# Extracts a fresh patched tree of the chosen version (already in src/) into
# build/<pkg>. Prints the tree's path.
fetch_and_extract() {
    local pkg=$1 dsc
    dsc=$(dsc_path "$pkg" "${VERSION[$1]}")
    [ -f "$dsc" ] || die "$pkg: $dsc is missing"
    mkdir -p "$BUILD"
    rm -rf "${BUILD:?}/$pkg"
    log "$pkg: dpkg-source -x (applies Debian's patches)"
    dpkg-source -x "$dsc" "$BUILD/$pkg" >"$BUILD/$pkg.extract.log" 2>&1 \
        || { cat "$BUILD/$pkg.extract.log" >&2; die "$pkg: dpkg-source -x failed"; }
    printf '%s' "$BUILD/$pkg"
}

# A library is rebuilt when its stamp's key (version + options) changed or
# any of its outputs is missing.
REBUILT=0
is_fresh() {
    local name=$1 key=$2; shift 2
    [ -z "${LSINIT_DEPS_FORCE:-}" ] || return 1
    [ -f "$STAMPS/$name" ] && [ "$(cat "$STAMPS/$name")" = "$key" ] || return 1
    local f
    for f in "$@"; do [ -e "$f" ] || return 1; done
}
mark_done() {
    mkdir -p "$STAMPS"
    printf '%s\n' "$2" > "$STAMPS/$1"
    REBUILT=1
}

# ------------------------------------------------------------- the libraries

# SQLite: the amalgamation (sqlite3.c) is generated from Debian's patched full
# source with its own configure + `make sqlite3.c` (host gcc and tclsh), then
# compiled once with musl-gcc. Options: SQLite's recommended size/speed set
# (no threads, no memstatus, no extension loading, no deprecated APIs, no
# shared cache); WAL, JSON, integrity_check, UTF-16, triggers, views, CTEs,
# window functions, upsert, etc. stay. HAVE_* stand in for configure's
# sqlite_cfg.h (musl has all of them); HAVE_FCHOWN matters for a root PID 1:
# SQLite then gives new -wal/-journal files the database file's owner.
SQLITE_OPTS="-DSQLITE_THREADSAFE=0 -DSQLITE_DEFAULT_MEMSTATUS=0 \
-DSQLITE_OMIT_LOAD_EXTENSION -DSQLITE_OMIT_DEPRECATED -DSQLITE_OMIT_SHARED_CACHE \
-DSQLITE_LIKE_DOESNT_MATCH_BLOBS -DSQLITE_MAX_EXPR_DEPTH=0 -DSQLITE_USE_ALLOCA \
-DSQLITE_OMIT_GET_TABLE \
-DHAVE_USLEEP=1 -DHAVE_FDATASYNC=1 -DHAVE_LOCALTIME_R=1 -DHAVE_GMTIME_R=1 \
-DHAVE_STRCHRNUL=1 -DHAVE_POSIX_FALLOCATE=1 -DHAVE_ISNAN=1 -DHAVE_FCHOWN=1 \
-DHAVE_READLINK=1 -DHAVE_LSTAT=1 -DHAVE_STDINT_H=1 -DHAVE_INTTYPES_H=1"

build_sqlite3() {
    local key="sqlite3 ${VERSION[sqlite3]} $TOOLCHAIN rev$SCRIPT_REV $OPT_CFLAGS $SQLITE_OPTS"
    if is_fresh sqlite3 "$key" "$PREFIX/lib/libsqlite3.a" "$PREFIX/include/sqlite3.h"; then
        log "sqlite3 ${VERSION[sqlite3]}: up to date"; return 0
    fi
    local t0=$SECONDS dir
    dir=$(fetch_and_extract sqlite3)
    log "sqlite3: generating the amalgamation (configure + make sqlite3.c)"
    mkdir -p "$dir/amalg"
    (cd "$dir/amalg" && CC=gcc ../configure --disable-tcl --disable-readline \
        --disable-editline >configure.log 2>&1) \
        || { tail -30 "$dir/amalg/configure.log" >&2; die "sqlite3 configure failed"; }
    make -C "$dir/amalg" sqlite3.c >"$dir/amalg/make.log" 2>&1 \
        || { tail -30 "$dir/amalg/make.log" >&2; die "sqlite3: make sqlite3.c failed"; }
    log "sqlite3: compiling sqlite3.c"
    # shellcheck disable=SC2086
    (cd "$dir/amalg" && $CC $OPT_CFLAGS $SQLITE_OPTS -c sqlite3.c -o sqlite3.o &&
        rm -f libsqlite3.a && $AR rcs libsqlite3.a sqlite3.o)
    install -D -m 644 "$dir/amalg/libsqlite3.a" "$PREFIX/lib/libsqlite3.a"
    install -D -m 644 "$dir/amalg/sqlite3.h" "$PREFIX/include/sqlite3.h"
    install -D -m 644 "$dir/amalg/sqlite3ext.h" "$PREFIX/include/sqlite3ext.h"
    mark_done sqlite3 "$key"
    log "sqlite3: done in $((SECONDS - t0))s"
}

# libyaml: eight C files; compiled directly (the Debian tree has no generated
# configure, and autotools would only produce the four version macros).
build_libyaml() {
    local key="libyaml ${VERSION[libyaml]} $TOOLCHAIN rev$SCRIPT_REV $OPT_CFLAGS"
    if is_fresh libyaml "$key" "$PREFIX/lib/libyaml.a" "$PREFIX/include/yaml.h"; then
        log "libyaml ${VERSION[libyaml]}: up to date"; return 0
    fi
    local t0=$SECONDS dir major minor patch f objs=()
    dir=$(fetch_and_extract libyaml)
    major=$(sed -n 's/^m4_define(\[YAML_MAJOR\], *\([0-9]*\)).*/\1/p' "$dir/configure.ac")
    minor=$(sed -n 's/^m4_define(\[YAML_MINOR\], *\([0-9]*\)).*/\1/p' "$dir/configure.ac")
    patch=$(sed -n 's/^m4_define(\[YAML_PATCH\], *\([0-9]*\)).*/\1/p' "$dir/configure.ac")
    if [ -z "$major" ] || [ -z "$minor" ] || [ -z "$patch" ]; then
        die "libyaml: version not found in configure.ac"
    fi
    log "libyaml: compiling $major.$minor.$patch"
    for f in "$dir"/src/*.c; do
        # shellcheck disable=SC2086
        $CC $OPT_CFLAGS -DYAML_DECLARE_STATIC \
            -DYAML_VERSION_MAJOR="$major" -DYAML_VERSION_MINOR="$minor" \
            -DYAML_VERSION_PATCH="$patch" -DYAML_VERSION_STRING="\"$major.$minor.$patch\"" \
            -I"$dir/include" -c "$f" -o "${f%.c}.o"
        objs+=("${f%.c}.o")
    done
    rm -f "$dir/libyaml.a"
    $AR rcs "$dir/libyaml.a" "${objs[@]}"
    install -D -m 644 "$dir/libyaml.a" "$PREFIX/lib/libyaml.a"
    install -D -m 644 "$dir/include/yaml.h" "$PREFIX/include/yaml.h"
    mark_done libyaml "$key"
    log "libyaml: done in $((SECONDS - t0))s"
}

# Mbed TLS 2.28 (Apache-2.0): upstream's plain Makefile (Debian uses cmake for
# the same sources). Features a TLS *client* for curl never uses are switched
# off in config.h, which is installed so curl and lsinit see the same config:
# no server/DTLS/PSK/static-ECDH/plain-RSA/DHE key exchange, no TLS 1.0/1.1,
# no legacy ciphers (DES, ARC4, Camellia, Blowfish, XTEA, CCM), no rare
# curves, no PSA/self-test/debug/writers. Kept: TLS 1.2 with ECDHE-ECDSA and
# ECDHE-RSA, AES-GCM/CBC, ChaCha20-Poly1305, P-256/384/521 and X25519, SHA-1/
# 2, MD5 (curl's Digest auth), PK writing (curl's CURLOPT_PINNEDPUBLICKEY).
# Mbed TLS 2.28 has no production TLS 1.3: a TLS-1.3-only server fails.
MBEDTLS_UNSET="MBEDTLS_SSL_SRV_C MBEDTLS_SSL_PROTO_DTLS MBEDTLS_SSL_DTLS_ANTI_REPLAY \
MBEDTLS_SSL_DTLS_HELLO_VERIFY MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE \
MBEDTLS_SSL_DTLS_BADMAC_LIMIT MBEDTLS_SSL_COOKIE_C MBEDTLS_SSL_CACHE_C \
MBEDTLS_SSL_TICKET_C MBEDTLS_SSL_PROTO_TLS1 MBEDTLS_SSL_PROTO_TLS1_1 \
MBEDTLS_SSL_CBC_RECORD_SPLITTING MBEDTLS_SSL_TRUNCATED_HMAC \
MBEDTLS_SSL_CONTEXT_SERIALIZATION \
MBEDTLS_NET_C MBEDTLS_TIMING_C MBEDTLS_PADLOCK_C MBEDTLS_GENPRIME \
MBEDTLS_SELF_TEST MBEDTLS_DEBUG_C MBEDTLS_ERROR_C MBEDTLS_VERSION_FEATURES \
MBEDTLS_PSA_CRYPTO_C MBEDTLS_PSA_CRYPTO_STORAGE_C MBEDTLS_PSA_ITS_FILE_C \
MBEDTLS_PKCS12_C MBEDTLS_PKCS5_C MBEDTLS_PEM_WRITE_C \
MBEDTLS_X509_CREATE_C MBEDTLS_X509_CRT_WRITE_C MBEDTLS_X509_CSR_WRITE_C \
MBEDTLS_X509_CSR_PARSE_C MBEDTLS_CERTS_C \
MBEDTLS_CAMELLIA_C MBEDTLS_DES_C MBEDTLS_BLOWFISH_C MBEDTLS_XTEA_C \
MBEDTLS_ARC4_C MBEDTLS_RIPEMD160_C \
MBEDTLS_CCM_C MBEDTLS_CIPHER_MODE_CFB MBEDTLS_CIPHER_MODE_OFB MBEDTLS_CIPHER_MODE_XTS \
MBEDTLS_KEY_EXCHANGE_PSK_ENABLED MBEDTLS_KEY_EXCHANGE_DHE_PSK_ENABLED \
MBEDTLS_KEY_EXCHANGE_ECDHE_PSK_ENABLED MBEDTLS_KEY_EXCHANGE_RSA_PSK_ENABLED \
MBEDTLS_KEY_EXCHANGE_DHE_RSA_ENABLED MBEDTLS_KEY_EXCHANGE_RSA_ENABLED \
MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA_ENABLED MBEDTLS_KEY_EXCHANGE_ECDH_RSA_ENABLED \
MBEDTLS_DHM_C MBEDTLS_ECP_DP_SECP192R1_ENABLED MBEDTLS_ECP_DP_SECP224R1_ENABLED \
MBEDTLS_ECP_DP_SECP192K1_ENABLED MBEDTLS_ECP_DP_SECP224K1_ENABLED \
MBEDTLS_ECP_DP_SECP256K1_ENABLED MBEDTLS_ECP_DP_BP256R1_ENABLED \
MBEDTLS_ECP_DP_BP384R1_ENABLED MBEDTLS_ECP_DP_BP512R1_ENABLED \
MBEDTLS_ECP_DP_CURVE448_ENABLED"

build_mbedtls() {
    local key="mbedtls ${VERSION[mbedtls]} $TOOLCHAIN rev$SCRIPT_REV $OPT_CFLAGS $MBEDTLS_UNSET"
    if is_fresh mbedtls "$key" "$PREFIX/lib/libmbedtls.a" "$PREFIX/lib/libmbedx509.a" \
            "$PREFIX/lib/libmbedcrypto.a" "$PREFIX/include/mbedtls/config.h"; then
        log "mbedtls ${VERSION[mbedtls]}: up to date"; return 0
    fi
    local t0=$SECONDS dir opt
    dir=$(fetch_and_extract mbedtls)
    log "mbedtls: trimming config.h"
    for opt in $MBEDTLS_UNSET; do
        grep -qE "^#define $opt( |$)" "$dir/include/mbedtls/config.h" \
            || die "mbedtls: $opt is not enabled in config.h (renamed?)"
        sed -i -E "s|^#define $opt( .*)?$|//#define $opt\\1|" "$dir/include/mbedtls/config.h"
    done
    # config.h's own consistency checks run at compile time (check_config.h).
    log "mbedtls: compiling"
    make -C "$dir/library" -j"$JOBS" CC="$CC" AR="$AR" \
        CFLAGS="$OPT_CFLAGS" static >"$dir/make.log" 2>&1 || { tail -30 "$dir/make.log" >&2; die "mbedtls build failed"; }
    rm -rf "$PREFIX/include/mbedtls" "$PREFIX/include/psa"
    mkdir -p "$PREFIX/include" "$PREFIX/lib"
    cp -R "$dir/include/mbedtls" "$dir/include/psa" "$PREFIX/include/"
    install -m 644 "$dir"/library/libmbed{tls,x509,crypto}.a "$PREFIX/lib/"
    mark_done mbedtls "$key"
    log "mbedtls: done in $((SECONDS - t0))s"
}

# SFTP for libcurl: lsinit lists <replica path>/generations/ on an sftp
# replica to find Litestream 0.3 backups that Litestream 0.5 cannot see
# (init/legacy_layout.c). One SSH library, on the Mbed TLS above, picked by
# LSINIT_STATIC_SSH:
#
#   libssh (default; LGPL-2.1): brings its own Ed25519, Curve25519,
#     ChaCha20-Poly1305 and bcrypt_pbkdf, so it logs in with ed25519, ecdsa
#     and RSA (rsa-sha2-256/512) keys and reads OpenSSH-format private keys;
#     0.10.6 has the Terrapin (CVE-2023-48795) strict-kex fix. LGPL: whoever
#     ships the static binary must let users relink it against a modified
#     libssh (e.g. by offering lsinit's object files).
#   libssh2 (BSD-3): its Mbed TLS backend has no Ed25519 at all (neither host
#     nor user keys), and 1.10 signs with ssh-rsa (SHA-1) only, which OpenSSH
#     8.8+ refuses: it logs in to a stock OpenSSH 9 with an ecdsa key only,
#     and fails against a server that has only an ed25519 host key.
#     bookworm's 1.10.0-3+deb12u1 (the Terrapin fix) also answers 404 here, so
#     the fallback takes 1.10.0-3.
#
# Either library's objects are added to libcurl.a, so mk/static.mk's link line
# (libcurl.a before the Mbed TLS archives) needs no change.
STATIC_SSH=${LSINIT_STATIC_SSH:-libssh}
case "$STATIC_SSH" in
    libssh) CURL_SSH="--without-libssh2 --with-libssh=$PREFIX" ;;
    libssh2) CURL_SSH="--with-libssh2=$PREFIX --without-libssh" ;;
    *) die "LSINIT_STATIC_SSH=$STATIC_SSH: use libssh or libssh2" ;;
esac

# libssh 0.10, client only: no server, GSSAPI, zlib, pcap, DSA, examples.
# No threads: libssh's pthread glue needs an Mbed TLS built with
# MBEDTLS_THREADING_C (ssh_init fails otherwise), and lsinit uses one SSH
# session in one thread; the noop glue is what libssh then uses.
LIBSSH_CMAKE="-DCMAKE_BUILD_TYPE=None -DBUILD_SHARED_LIBS=OFF -DBUILD_STATIC_LIB=ON \
-DWITH_MBEDTLS=ON -DWITH_GCRYPT=OFF -DWITH_SERVER=OFF -DWITH_GSSAPI=OFF -DWITH_ZLIB=OFF \
-DWITH_PCAP=OFF -DWITH_EXAMPLES=OFF -DWITH_NACL=OFF -DWITH_SYMBOL_VERSIONING=OFF \
-DWITH_DEBUG_CALLTRACE=OFF -DUNIT_TESTING=OFF -DCLIENT_TESTING=OFF \
-DCMAKE_DISABLE_FIND_PACKAGE_Threads=ON -DCMAKE_DISABLE_FIND_PACKAGE_Argp=ON \
-DCMAKE_DISABLE_FIND_PACKAGE_ABIMap=ON -DCMAKE_DISABLE_FIND_PACKAGE_GSSAPI=ON \
-DCMAKE_DISABLE_FIND_PACKAGE_NaCl=ON -DCMAKE_DISABLE_FIND_PACKAGE_OpenSSL=ON \
-DCMAKE_DISABLE_FIND_PACKAGE_GCrypt=ON -DCMAKE_DISABLE_FIND_PACKAGE_ZLIB=ON"

build_libssh() {
    # Compiled against mbedtls' config.h: rebuilt with mbedtls.
    local key
    key="libssh ${VERSION[libssh]} $TOOLCHAIN rev$SCRIPT_REV $OPT_CFLAGS $LIBSSH_CMAKE
internal globals renamed lsinit_libssh_*
with: $(cat "$STAMPS/mbedtls")"
    if is_fresh libssh "$key" "$PREFIX/lib/libssh.a" "$PREFIX/include/libssh/libssh.h"; then
        log "libssh ${VERSION[libssh]}: up to date"; return 0
    fi
    local t0=$SECONDS dir
    dir=$(fetch_and_extract libssh)
    log "libssh: cmake"
    mkdir -p "$dir/obj"
    # shellcheck disable=SC2086
    (cd "$dir/obj" && cmake .. -DCMAKE_C_COMPILER="$CC" -DCMAKE_C_FLAGS="$OPT_CFLAGS" \
        -DCMAKE_INSTALL_PREFIX="$PREFIX" -DMBEDTLS_ROOT_DIR="$PREFIX" $LIBSSH_CMAKE \
        >cmake.log 2>&1) || { tail -40 "$dir/obj/cmake.log" >&2; die "libssh cmake failed"; }
    grep -q '^#define HAVE_LIBMBEDCRYPTO 1' "$dir/obj/config.h" \
        || die "libssh: cmake did not pick Mbed TLS (see $dir/obj/cmake.log)"
    log "libssh: compiling"
    make -C "$dir/obj" -j"$JOBS" ssh-static >"$dir/make.log" 2>&1 \
        || { tail -30 "$dir/make.log" >&2; die "libssh build failed"; }
    # libssh's internal names carry no prefix (sha256_final, md5_init,
    # bcrypt_pbkdf, ...), and lsinit has a sha256_final of its own: every
    # global libssh defines outside its API (ssh_*, sftp_*, _ssh_*) is renamed
    # lsinit_libssh_*, in its definition and in every use.
    nm -g --defined-only "$dir/obj/src/libssh.a" \
        | awk 'NF == 3 && $3 !~ /^(ssh_|sftp_|_ssh_)/ {print $3, "lsinit_libssh_" $3}' \
        | sort -u >"$dir/obj/renamed-symbols"
    objcopy --redefine-syms="$dir/obj/renamed-symbols" "$dir/obj/src/libssh.a" \
        || die "libssh: objcopy --redefine-syms failed"
    rm -rf "$PREFIX/include/libssh"
    mkdir -p "$PREFIX/include/libssh"
    install -m 644 "$dir"/include/libssh/{libssh,sftp,callbacks,legacy}.h "$dir/obj/include/libssh/libssh_version.h" \
        "$PREFIX/include/libssh/"
    install -m 644 "$dir/obj/src/libssh.a" "$PREFIX/lib/libssh.a"
    mark_done libssh "$key"
    log "libssh: done in $((SECONDS - t0))s"
}

# libssh2 1.10 with its Mbed TLS backend (see above for its limits).
LIBSSH2_CONFIGURE="--disable-shared --enable-static --disable-examples-build --disable-debug \
--with-crypto=mbedtls --without-libz"

build_libssh2() {
    local key
    key="libssh2 ${VERSION[libssh2]} $TOOLCHAIN rev$SCRIPT_REV $OPT_CFLAGS $LIBSSH2_CONFIGURE
with: $(cat "$STAMPS/mbedtls")"
    if is_fresh libssh2 "$key" "$PREFIX/lib/libssh2.a" "$PREFIX/include/libssh2.h"; then
        log "libssh2 ${VERSION[libssh2]}: up to date"; return 0
    fi
    local t0=$SECONDS dir
    dir=$(fetch_and_extract libssh2)
    log "libssh2: configure"
    # shellcheck disable=SC2086
    (cd "$dir" && ./configure --prefix="$PREFIX" $LIBSSH2_CONFIGURE \
        --with-libmbedcrypto-prefix="$PREFIX" CC="$CC" CFLAGS="$OPT_CFLAGS" \
        CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib" >configure.out 2>&1) \
        || { tail -40 "$dir/configure.out" >&2; die "libssh2 configure failed (see $dir/config.log)"; }
    log "libssh2: compiling"
    make -C "$dir/src" -j"$JOBS" >"$dir/make.log" 2>&1 \
        || { tail -30 "$dir/make.log" >&2; die "libssh2 build failed"; }
    install -D -m 644 "$dir/src/.libs/libssh2.a" "$PREFIX/lib/libssh2.a"
    install -m 644 "$dir"/include/libssh2{,_sftp,_publickey}.h "$PREFIX/include/"
    mark_done libssh2 "$key"
    log "libssh2: done in $((SECONDS - t0))s"
}

# libcurl: HTTP and HTTPS (plus proxies and unix sockets) and SFTP (SCP comes
# with it), nothing else. The CA bundle default is Debian's; override per
# handle with CURLOPT_CAINFO.
CURL_CONFIGURE="--disable-shared --enable-static --without-pic \
--disable-dependency-tracking --disable-silent-rules \
--with-mbedtls --without-openssl --without-gnutls --without-wolfssl \
--without-nss --without-bearssl --without-rustls \
--with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs \
--without-ca-fallback \
--enable-http --disable-ftp --disable-file --disable-ldap --disable-ldaps \
--disable-rtsp --disable-dict --disable-telnet --disable-tftp --disable-pop3 \
--disable-imap --disable-smb --disable-smtp --disable-gopher --disable-mqtt \
--disable-manual --disable-libcurl-option --disable-sspi \
--disable-ntlm --disable-ntlm-wb --disable-tls-srp \
--disable-doh --disable-alt-svc \
--disable-hsts --disable-cookies --disable-mime --disable-netrc \
--disable-progress-meter --disable-dnsshuffle --disable-get-easy-options \
--disable-headers-api \
--enable-threaded-resolver --enable-ipv6 --enable-proxy --enable-unix-sockets \
--without-zlib --without-brotli --without-zstd --without-libpsl \
--without-libidn2 --without-nghttp2 --without-ngtcp2 --without-nghttp3 \
--without-quiche --without-msh3 $CURL_SSH \
--without-wolfssh --without-librtmp --without-gssapi --without-libgsasl \
--without-hyper"

build_curl() {
    # curl is compiled against mbedtls' config.h: rebuild it with mbedtls.
    local key
    key="curl ${VERSION[curl]} $TOOLCHAIN rev$SCRIPT_REV $OPT_CFLAGS $CURL_CONFIGURE
with: $(cat "$STAMPS/mbedtls")
with: $(cat "$STAMPS/$STATIC_SSH")"
    if is_fresh curl "$key" "$PREFIX/lib/libcurl.a" "$PREFIX/include/curl/curl.h"; then
        log "curl ${VERSION[curl]}: up to date"; return 0
    fi
    local t0=$SECONDS dir p
    dir=$(fetch_and_extract curl)
    # debian/rules pops the last two patches (gnutls, nss flavours) to build
    # the OpenSSL flavour; do the same so the tree is plain libcurl.
    for p in 99_nss.patch 90_gnutls.patch; do
        if [ -f "$dir/debian/patches/$p" ]; then
            patch -s -R -p1 -d "$dir" < "$dir/debian/patches/$p" \
                || die "curl: could not pop debian/patches/$p"
        fi
    done
    log "curl: configure"
    # shellcheck disable=SC2086
    (cd "$dir" && ./configure --prefix="$PREFIX" $CURL_CONFIGURE \
        --with-mbedtls="$PREFIX" \
        CC="$CC" CFLAGS="$OPT_CFLAGS" CPPFLAGS="-I$PREFIX/include" \
        LDFLAGS="-L$PREFIX/lib -static" >configure.log 2>&1) \
        || { tail -40 "$dir/configure.log" >&2; die "curl configure failed (see $dir/config.log)"; }
    log "curl: compiling libcurl"
    (make -C "$dir/lib" -j"$JOBS" >"$dir/make.log" 2>&1 &&
        make -C "$dir/lib" install >>"$dir/make.log" 2>&1 &&
        make -C "$dir/include" install >>"$dir/make.log" 2>&1) \
        || { tail -30 "$dir/make.log" >&2; die "curl build failed"; }
    rm -f "$PREFIX/lib/libcurl.la"
    grep -q "^#define USE_$(tr a-z A-Z <<<"$STATIC_SSH") 1" "$dir/lib/curl_config.h" \
        || die "curl: configure did not enable $STATIC_SSH (see $dir/config.log)"
    # The SSH library's objects join libcurl.a (an ar MRI script keeps members
    # whose names repeat), so the final link line stays as it is.
    printf 'OPEN %s\nADDLIB %s\nSAVE\nEND\n' "$PREFIX/lib/libcurl.a" "$PREFIX/lib/${STATIC_SSH}.a" \
        | $AR -M >>"$dir/make.log" 2>&1 || die "curl: could not add ${STATIC_SSH}.a to libcurl.a"
    $RANLIB "$PREFIX/lib/libcurl.a"
    mark_done curl "$key"
    log "curl: done in $((SECONDS - t0))s"
}

# zlib: only inflate is used (install-litestream unpacks the release .tar.gz);
# libcurl stays --without-zlib. zlib's own configure (--static) with musl-gcc,
# then just libz.a; the installed zconf.h is the one configure adjusted.
# (configure writes its own configure.log; our capture goes to configure.out.)
build_zlib() {
    local key="zlib ${VERSION[zlib]} $TOOLCHAIN rev$SCRIPT_REV $OPT_CFLAGS"
    if is_fresh zlib "$key" "$PREFIX/lib/libz.a" "$PREFIX/include/zlib.h" "$PREFIX/include/zconf.h"; then
        log "zlib ${VERSION[zlib]}: up to date"; return 0
    fi
    local t0=$SECONDS dir
    dir=$(fetch_and_extract zlib)
    log "zlib: configure --static"
    (cd "$dir" && CC="$CC" AR="$AR" RANLIB="$RANLIB" CFLAGS="$OPT_CFLAGS" \
        ./configure --static --prefix="$PREFIX" >configure.out 2>&1) \
        || { tail -30 "$dir/configure.out" >&2; die "zlib configure failed (see $dir/configure.log)"; }
    log "zlib: compiling libz.a"
    make -C "$dir" -j"$JOBS" libz.a >"$dir/make.log" 2>&1 \
        || { tail -30 "$dir/make.log" >&2; die "zlib build failed"; }
    install -D -m 644 "$dir/libz.a" "$PREFIX/lib/libz.a"
    install -D -m 644 "$dir/zlib.h" "$PREFIX/include/zlib.h"
    install -D -m 644 "$dir/zconf.h" "$PREFIX/include/zconf.h"
    mark_done zlib "$key"
    log "zlib: done in $((SECONDS - t0))s"
}

# Linux UAPI headers (linux/, asm/, asm-generic/) for code that needs them;
# musl ships none. Used with -idirafter so musl's headers always win.
build_kheaders() {
    local multiarch key
    multiarch=$(gcc -print-multiarch)
    key="kheaders $(dpkg-query -W -f='${Version}' linux-libc-dev 2>/dev/null || echo unknown) $multiarch"
    if is_fresh kheaders "$key" "$KHEADERS/linux/version.h"; then
        log "kheaders: up to date"; return 0
    fi
    rm -rf "$KHEADERS"
    mkdir -p "$KHEADERS"
    cp -R /usr/include/linux /usr/include/asm-generic "$KHEADERS/"
    cp -R "/usr/include/$multiarch/asm" "$KHEADERS/asm"
    mark_done kheaders "$key"
    log "kheaders: copied linux-libc-dev headers"
}

# Part of every library's stamp: a new compiler or musl rebuilds everything.
TOOLCHAIN=""
main() {
    local t0=$SECONDS
    enable_deb_src
    ensure_tools
    TOOLCHAIN="gcc-$(gcc -dumpfullversion) musl-$(dpkg-query -W -f='${Version}' musl-dev 2>/dev/null || echo unknown)"
    resolve_versions sqlite3 libyaml mbedtls "$STATIC_SSH" curl zlib
    mkdir -p "$PREFIX/lib" "$PREFIX/include"
    build_kheaders
    build_sqlite3
    build_libyaml
    build_mbedtls
    "build_$STATIC_SSH"
    build_curl
    build_zlib
    if [ "$REBUILT" = 1 ] || [ ! -f "$PREFIX/.stamp" ]; then
        touch "$PREFIX/.stamp"
    fi
    log "all libraries ready in $PREFIX ($((SECONDS - t0))s)"
}

main "$@"
