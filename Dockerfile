# lsinit: a FROM scratch image holding /lsinit (static musl), /usr/local/bin/litestream,
# a CA bundle and a non-root user. It is meant to be copied from (docs/docker.md):
#
#   COPY --from=localhost/lsinit:dev /lsinit /lsinit
#   COPY --from=localhost/lsinit:dev /usr/local/bin/litestream /usr/local/bin/litestream
#
# Build (scripts/container-build does this with podman, a local Debian base image and
# a local Litestream mirror):
#
#   docker build -t lsinit .                                   # Litestream 0.5.17 from GitHub, pinned SHA-256
#   docker build --build-arg LITESTREAM_VERSION=0.3.13 -t lsinit .   # Litestream 0.3.13
#   docker build --build-arg LITESTREAM_URL=https://mirror/v0.5.17/litestream-0.5.17-linux-x86_64.tar.gz \
#                -t lsinit .                                   # a mirror of a pinned release
#
# Build arguments:
#   LITESTREAM_VERSION  the Litestream release (default 0.5.17). lsinit pins the SHA-256 of the
#                       official 0.5.17 litestream binary (checked after extraction) and of the
#                       official 0.3.13 archives; other versions need LITESTREAM_SHA256
#   LITESTREAM_URL      download the release .tar.gz from here instead of GitHub
#   LITESTREAM_SHA256   the archive's SHA-256: needed with a mirror of 0.3.13 (or any version
#                       without a binary pin) whose archive is not byte-identical to the official one

ARG LITESTREAM_VERSION=0.5.17

# ---------------------------------------------------------------- toolchain
# What `make static` needs (scripts/build-static-deps.sh builds sqlite3, libyaml, mbedtls,
# libcurl and zlib from Debian *source* packages, so deb-src is enabled here).
FROM debian:bookworm-slim AS toolchain
RUN set -eux; \
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then \
        sed -i -E 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources; \
    fi; \
    if [ -f /etc/apt/sources.list ] && grep -qE '^deb[[:space:]]' /etc/apt/sources.list \
        && ! grep -qE '^deb-src[[:space:]]' /etc/apt/sources.list; then \
        src=$(sed -n 's/^deb\([[:space:]]\)/deb-src\1/p' /etc/apt/sources.list); \
        printf '%s\n' "$src" >> /etc/apt/sources.list; \
    fi; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        build-essential musl-tools dpkg-dev make patch xz-utils tcl file linux-libc-dev \
        ca-certificates

# ---------------------------------------------------------------- build
FROM toolchain AS build
WORKDIR /src
# The static libraries first, in their own layer: cached until the script changes.
COPY scripts/build-static-deps.sh scripts/build-static-deps.sh
RUN scripts/build-static-deps.sh
COPY . .
RUN make static && build/static/lsinit --version

ARG LITESTREAM_VERSION
ARG LITESTREAM_URL=
ARG LITESTREAM_SHA256=
RUN set -eu; \
    mkdir -p /out; \
    build/static/lsinit install-litestream --dir /out --version "$LITESTREAM_VERSION" \
        ${LITESTREAM_URL:+--url "$LITESTREAM_URL"} ${LITESTREAM_SHA256:+--sha256 "$LITESTREAM_SHA256"}; \
    /out/litestream version

# ---------------------------------------------------------------- rootfs
# Everything the scratch image needs besides the two binaries: the CA bundle (HTTPS to S3,
# pings, `lsinit health https://…`), /etc/passwd and /etc/group with uid/gid 65532
# "nonroot", /tmp (verification copies) and /data owned by nonroot.
FROM toolchain AS rootfs
RUN set -eux; \
    mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp /rootfs/data /rootfs/home/nonroot; \
    cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt; \
    printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
        'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > /rootfs/etc/passwd; \
    printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' > /rootfs/etc/group; \
    chmod 1777 /rootfs/tmp; \
    chown 65532:65532 /rootfs/data /rootfs/home/nonroot

# ---------------------------------------------------------------- the image
FROM scratch
ARG LITESTREAM_VERSION
COPY --from=rootfs /rootfs/ /
COPY --from=build /src/build/static/lsinit /lsinit
COPY --from=build /out/litestream /usr/local/bin/litestream
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    LSINIT_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    LSINIT_LITESTREAM_VERSION=${LITESTREAM_VERSION}
LABEL org.opencontainers.image.title="lsinit" \
      org.opencontainers.image.description="PID 1 for a single-container SQLite app under Litestream" \
      org.opencontainers.image.licenses="MIT"
USER 65532:65532
EXPOSE 9091
# /readyz on LSINIT_HEALTH_ADDR (default 0.0.0.0:9091). The start period covers a restore.
HEALTHCHECK --interval=30s --timeout=10s --start-period=2m --retries=3 CMD ["/lsinit", "health"]
ENTRYPOINT ["/lsinit"]
