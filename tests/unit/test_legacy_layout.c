/* SPDX-License-Identifier: MIT */
/*
 * The Litestream 0.3 layout probe (init/legacy_layout.c), everything that
 * needs no SSH server: settings taken from a replica node (fields and url:,
 * as Litestream merges them), host:port splitting, the listing URL, host-key
 * lines and their SHA-256 (checked against `ssh-keygen -lf`), base64, the
 * listing parser fed in every chunking, file replicas on disk, the types that
 * are not probed, an SFTP probe to a closed port (no secret in the reason),
 * and the refusal line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include "legacy_layout.h"
#include "yaml_tree.h"

/* ---- helpers ------------------------------------------------------------------- */

static struct ynode *yaml(const char *text)
{
    char err[256] = "";
    struct ynode *n = ynode_parse(text, strlen(text), err, sizeof(err));
    if (n == NULL)
        print_error("ynode_parse: %s\n%s\n", err, text);
    assert_non_null(n);
    return n;
}

static void contains(const char *text, const char *want)
{
    if (strstr(text, want) == NULL)
        print_error("'%s' does not contain '%s'\n", text, want);
    assert_non_null(strstr(text, want));
}

static void lacks(const char *text, const char *unwanted)
{
    if (strstr(text, unwanted) != NULL)
        print_error("'%s' contains '%s'\n", text, unwanted);
    assert_null(strstr(text, unwanted));
}

static int target_of(const char *text, struct legacy_sftp_target *t, char *why, size_t why_size)
{
    struct ynode *n = yaml(text);
    int rc = legacy_sftp_target_from_replica(n, t, why, why_size);
    ynode_free(n);
    return rc;
}

static void target_fails(const char *text, const char *want)
{
    struct legacy_sftp_target t;
    char why[512] = "";
    assert_int_equal(target_of(text, &t, why, sizeof(why)), -1);
    contains(why, want);
    lacks(why, "s3cr3t");
    assert_string_equal(t.password, "");
}

static int probe_text(const char *text, char *why, size_t why_size)
{
    struct ynode *n = yaml(text);
    int rc = legacy_layout_probe(n, why, why_size);
    ynode_free(n);
    return rc;
}

/* ---- base64 ---------------------------------------------------------------------- */

static void test_base64_rfc4648(void **state)
{
    (void)state;
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        assert_int_equal(legacy_base64_encode((const unsigned char *)plain[i], strlen(plain[i]), out, sizeof(out)),
                         (long)strlen(coded[i]));
        assert_string_equal(out, coded[i]);
        unsigned char back[16];
        long n = legacy_base64_decode(coded[i], strlen(coded[i]), back, sizeof(back));
        assert_int_equal(n, (long)strlen(plain[i]));
        assert_memory_equal(back, plain[i], strlen(plain[i]));
    }
    /* Padding is optional when decoding (curl compares fingerprints without it too). */
    unsigned char back[16];
    assert_int_equal(legacy_base64_decode("Zm9vYg", 6, back, sizeof(back)), 4);
    assert_memory_equal(back, "foob", 4);
    unsigned char bytes[3] = {0xfb, 0xff, 0xbf};
    char out[8];
    assert_int_equal(legacy_base64_encode(bytes, 3, out, sizeof(out)), 4);
    assert_string_equal(out, "+/+/");
}

static void test_base64_errors(void **state)
{
    (void)state;
    unsigned char back[8];
    assert_int_equal(legacy_base64_decode("Zm9v!", 5, back, sizeof(back)), -1); /* bad character */
    assert_int_equal(legacy_base64_decode("Zm9=v", 5, back, sizeof(back)), -1); /* data after padding */
    assert_int_equal(legacy_base64_decode("Z", 1, back, sizeof(back)), -1);     /* impossible length */
    assert_int_equal(legacy_base64_decode("Zm9vYmFy", 8, back, 5), -1);         /* output too small */
    char out[4];
    assert_int_equal(legacy_base64_encode((const unsigned char *)"foo", 3, out, sizeof(out)), -1); /* no room for NUL */
}

/* ---- generation names and listings --------------------------------------------- */

static void test_generation_names(void **state)
{
    (void)state;
    assert_true(legacy_is_generation_name("0123456789abcdef", 16));
    assert_true(legacy_is_generation_name("ffffffffffffffff", 16));
    assert_false(legacy_is_generation_name("0123456789ABCDEF", 16)); /* 0.3 writes lowercase */
    assert_false(legacy_is_generation_name("0123456789abcde", 15));
    assert_false(legacy_is_generation_name("0123456789abcdef0", 17));
    assert_false(legacy_is_generation_name("0123456789abcdeg", 16));
    assert_false(legacy_is_generation_name("..", 2));
}

static const char listing_text[] = ".\n..\nREADME\n0123456789abcdef0\n0123456789abcdef\r\nabcdefabcdefabcd\n"
                                   "a-very-long-name-that-is-not-a-generation-0123456789abcdef\n"
                                   "0123456789abcdeg\nfedcba9876543210";

static void check_listing(const struct legacy_listing *l)
{
    assert_int_equal(l->generations, 3);
    assert_string_equal(l->example, "0123456789abcdef");
}

static void test_listing_any_chunking(void **state)
{
    (void)state;
    size_t len = strlen(listing_text);
    for (size_t chunk = 1; chunk <= len; chunk++) {
        struct legacy_listing l;
        memset(&l, 0, sizeof(l));
        for (size_t i = 0; i < len; i += chunk)
            legacy_listing_feed(&l, listing_text + i, len - i < chunk ? len - i : chunk);
        legacy_listing_finish(&l);
        check_listing(&l);
    }
}

static void test_listing_empty(void **state)
{
    (void)state;
    struct legacy_listing l;
    memset(&l, 0, sizeof(l));
    legacy_listing_feed(&l, ".\n..\n", 5);
    legacy_listing_finish(&l);
    assert_int_equal(l.generations, 0);
    legacy_listing_finish(&l);
    assert_int_equal(l.generations, 0);
}

/* ---- host:port --------------------------------------------------------------------- */

static void split_ok(const char *text, const char *host, long port)
{
    char h[LEGACY_FIELD], why[256] = "";
    long p = 0;
    int rc = legacy_split_host_port(text, h, sizeof(h), &p, why, sizeof(why));
    if (rc != 0)
        print_error("legacy_split_host_port(%s): %s\n", text, why);
    assert_int_equal(rc, 0);
    assert_string_equal(h, host);
    assert_int_equal(p, port);
}

static void split_fails(const char *text, const char *want)
{
    char h[LEGACY_FIELD], why[256] = "";
    long p = 0;
    assert_int_equal(legacy_split_host_port(text, h, sizeof(h), &p, why, sizeof(why)), -1);
    contains(why, want);
}

static void test_host_port(void **state)
{
    (void)state;
    split_ok("backup.example.com:2222", "backup.example.com", 2222);
    split_ok("backup.example.com", "backup.example.com", 22);
    split_ok("127.0.0.1:22", "127.0.0.1", 22);
    split_ok("[::1]:2200", "::1", 2200);
    split_ok("[fe80::1]", "fe80::1", 22);
    split_ok("::1", "::1", 22); /* Litestream appends :22 to a bare IPv6 address too */
    split_fails(":22", "no host name");
    split_fails("h:0", "invalid port");
    split_fails("h:65536", "invalid port");
    split_fails("h:ssh", "invalid port");
    split_fails("h:", "invalid port");
    split_fails("[::1", "not HOST:PORT");
    split_fails("[::1]x", "not HOST:PORT");
    split_fails("h/x:22", "not allowed");
    split_fails("u@h:22", "not allowed");
    split_fails("h h:22", "not allowed");
}

/* ---- the replica node ---------------------------------------------------------------- */

static void test_target_from_generated_replica(void **state)
{
    (void)state;
    /* What lsinit's plan writes for LSINIT_REPLICA_URL=sftp://backup@10.0.0.5:2222/srv/app.db. */
    struct legacy_sftp_target t;
    char why[256] = "";
    assert_int_equal(target_of("type: sftp\nhost: \"10.0.0.5:2222\"\nuser: \"backup\"\npath: \"/srv/app.db\"\n"
                               "key-path: \"/run/secrets/id_ed25519\"\n",
                               &t, why, sizeof(why)),
                     0);
    assert_string_equal(t.host, "10.0.0.5");
    assert_int_equal(t.port, 2222);
    assert_string_equal(t.user, "backup");
    assert_string_equal(t.path, "/srv/app.db");
    assert_string_equal(t.key_path, "/run/secrets/id_ed25519");
    assert_string_equal(t.password, "");
    assert_string_equal(t.host_key, "");

    assert_int_equal(target_of("type: sftp\nhost: \"h\"\nuser: \"u\"\npath: \"db\"\npassword: \"s3cr3t\"\n"
                               "host-key: \"ssh-ed25519 AAAA x\"\n",
                               &t, why, sizeof(why)),
                     0);
    assert_string_equal(t.host, "h");
    assert_int_equal(t.port, 22);
    assert_string_equal(t.password, "s3cr3t");
    assert_string_equal(t.key_path, "");
    assert_string_equal(t.path, "db");
    assert_string_equal(t.host_key, "ssh-ed25519 AAAA x");
}

static void test_target_from_url(void **state)
{
    (void)state;
    struct legacy_sftp_target t;
    char why[256] = "";
    /* Go's url.Parse decodes user, password and path; so does the probe. */
    assert_int_equal(target_of("url: \"sftp://b%40ckup:p%40ss@example.com:2022/srv/my%20app.db\"\n"
                               "key-path: /k\n",
                               &t, why, sizeof(why)),
                     0);
    assert_string_equal(t.host, "example.com");
    assert_int_equal(t.port, 2022);
    assert_string_equal(t.user, "b@ckup");
    assert_string_equal(t.password, "p@ss");
    assert_string_equal(t.path, "/srv/my app.db");
    assert_string_equal(t.key_path, "/k");

    /* The fields win over the URL (Litestream: "only apply URL parts to fields not overridden"). */
    assert_int_equal(target_of("type: sftp\nurl: \"sftp://urluser:urlpass@example.com/srv/db\"\n"
                               "user: fielduser\npassword: fieldpass\n",
                               &t, why, sizeof(why)),
                     0);
    assert_string_equal(t.user, "fielduser");
    assert_string_equal(t.password, "fieldpass");
    assert_string_equal(t.host, "example.com");
    assert_int_equal(t.port, 22);
    assert_string_equal(t.path, "/srv/db");
}

static void test_target_errors(void **state)
{
    (void)state;
    target_fails("type: sftp\nuser: u\npath: /p\npassword: s3cr3t\n", "no host");
    target_fails("type: sftp\nhost: h\npath: /p\npassword: s3cr3t\n", "no user");
    target_fails("type: sftp\nhost: h\nuser: u\npath: /p\n", "neither password nor key-path");
    target_fails("type: sftp\nhost: \"h:99999\"\nuser: u\npath: /p\npassword: s3cr3t\n", "invalid port");
    target_fails("url: \"sftp://u:s3cr3t@h:99999/p\"\n", "<redacted>");
    target_fails("url: \"sftp://u:s3cr3t@h/p\"\nhost: \"h:x\"\n", "invalid port");
    target_fails("url: \"s3://bucket/p\"\nkey-path: /k\n", "not an sftp://");
    target_fails("url: \"sftp://u:s3cr3t@h/p%zz\"\n", "badly escaped path");
    struct legacy_sftp_target t;
    char why[256] = "";
    struct ynode *seq = ynode_new(YNODE_SEQ);
    assert_int_equal(legacy_sftp_target_from_replica(seq, &t, why, sizeof(why)), -1);
    contains(why, "not a map");
    assert_int_equal(legacy_layout_probe(seq, why, sizeof(why)), -1);
    contains(why, "not a map");
    ynode_free(seq);
    assert_int_equal(legacy_layout_probe(NULL, why, sizeof(why)), -1);
}

/* ---- URLs --------------------------------------------------------------------------- */

static void url_is(const char *host, long port, const char *path, const char *want)
{
    struct legacy_sftp_target t;
    memset(&t, 0, sizeof(t));
    snprintf(t.host, sizeof(t.host), "%s", host);
    t.port = port;
    snprintf(t.path, sizeof(t.path), "%s", path);
    snprintf(t.user, sizeof(t.user), "user");
    snprintf(t.password, sizeof(t.password), "s3cr3t");
    char url[LEGACY_URL_MAX];
    assert_int_equal(legacy_sftp_listing_url(&t, url, sizeof(url)), 0);
    assert_string_equal(url, want);
}

static void test_listing_url(void **state)
{
    (void)state;
    url_is("10.0.0.5", 2222, "/srv/app.db", "sftp://10.0.0.5:2222/srv/app.db/generations/");
    url_is("h", 22, "/srv/app.db/", "sftp://h:22/srv/app.db/generations/");
    url_is("h", 22, "backups/app.db", "sftp://h:22/~/backups/app.db/generations/"); /* under the login folder */
    url_is("h", 22, "", "sftp://h:22/~/generations/");
    url_is("h", 22, "/", "sftp://h:22/generations/");
    url_is("::1", 2200, "/p", "sftp://[::1]:2200/p/generations/");
    url_is("h", 22, "/my db/50%#?x", "sftp://h:22/my%20db/50%25%23%3Fx/generations/");
    url_is("h", 22, "/caf\xc3\xa9", "sftp://h:22/caf%C3%A9/generations/");

    struct legacy_sftp_target t;
    memset(&t, 0, sizeof(t));
    snprintf(t.host, sizeof(t.host), "h");
    t.port = 22;
    memset(t.path, '/', sizeof(t.path) - 1);
    memset(t.path, ' ', 400); /* 400 spaces: 1200 bytes encoded */
    char small[64];
    assert_int_equal(legacy_sftp_listing_url(&t, small, sizeof(small)), -1);
}

/* ---- host keys --------------------------------------------------------------------------- */

/* `ssh-keygen -lf` says SHA256:OD7+PKd+hgBGnwMRVVrcPp8RPxriZukSOnSL2Tx/p5g for this key. */
#define ED25519_B64 "AAAAC3NzaC1lZDI1NTE5AAAAIHo/2YV32uGbKtBo6QqGLod/zAskn2jXtKd1zPKPFpJ9"
#define ED25519_SHA "OD7+PKd+hgBGnwMRVVrcPp8RPxriZukSOnSL2Tx/p5g="
/* ... and SHA256:x1uf71MxLmktpwYlJPoOUBj8/pZC2Xy3BcwL2JVQ2sI for this one. */
#define ECDSA_B64                                                                                                      \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBIqVG6mqe3LgwDrlXdJL9UTl0zp8h0OWLIAQ9wdEhXny0/0JXSyogpgO5qsL" \
    "a+3SVYlR8Ik3+XhJaWwyfvG+qsQ="
#define ECDSA_SHA "x1uf71MxLmktpwYlJPoOUBj8/pZC2Xy3BcwL2JVQ2sI="

static void host_key_ok(const char *line, const char *type, const char *b64, const char *sha)
{
    struct legacy_host_key *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    char why[256] = "";
    int rc = legacy_host_key_parse(line, k, why, sizeof(why));
    if (rc != 0)
        print_error("legacy_host_key_parse(%s): %s\n", line, why);
    assert_int_equal(rc, 0);
    assert_string_equal(k->type, type);
    assert_string_equal(k->blob_b64, b64);
    assert_string_equal(k->sha256_b64, sha);
    free(k);
}

static void host_key_fails(const char *line, const char *want)
{
    struct legacy_host_key *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    char why[256] = "";
    assert_int_equal(legacy_host_key_parse(line, k, why, sizeof(why)), -1);
    contains(why, want);
    free(k);
}

static void test_host_key_fingerprints(void **state)
{
    (void)state;
    host_key_ok("ssh-ed25519 " ED25519_B64 " test@host", "ssh-ed25519", ED25519_B64, ED25519_SHA);
    host_key_ok("ssh-ed25519 " ED25519_B64, "ssh-ed25519", ED25519_B64, ED25519_SHA);
    host_key_ok("  ssh-ed25519\t" ED25519_B64 "\n", "ssh-ed25519", ED25519_B64, ED25519_SHA);
    /* authorized_keys options before the type are skipped. */
    host_key_ok("no-pty,from=\"10.0.0.0/8\" ssh-ed25519 " ED25519_B64 " c", "ssh-ed25519", ED25519_B64, ED25519_SHA);
    host_key_ok("ecdsa-sha2-nistp256 " ECDSA_B64, "ecdsa-sha2-nistp256", ECDSA_B64, ECDSA_SHA);
}

static void test_host_key_errors(void **state)
{
    (void)state;
    host_key_fails("", "not an authorized_keys line");
    host_key_fails(ED25519_B64, "not an authorized_keys line");
    host_key_fails("ssh-ed25519", "not an authorized_keys line");
    host_key_fails("ssh-ed25519 AAAA!!!!", "not valid base64");
    host_key_fails("ssh-ed25519 AAA", "truncated");
    host_key_fails("ssh-rsa " ED25519_B64, "not a ssh-rsa key");
    host_key_fails("ecdsa-sha2-nistp384 " ECDSA_B64, "not a ecdsa-sha2-nistp384 key");
}

static void test_known_hosts_line(void **state)
{
    (void)state;
    struct legacy_host_key *k = calloc(1, sizeof(*k));
    assert_non_null(k);
    char why[256];
    assert_int_equal(legacy_host_key_parse("ssh-ed25519 " ED25519_B64 " c", k, why, sizeof(why)), 0);
    struct legacy_sftp_target t;
    memset(&t, 0, sizeof(t));
    snprintf(t.host, sizeof(t.host), "backup.example.com");
    t.port = 22;
    char line[LEGACY_HOST_KEY_LINE];
    assert_int_equal(legacy_known_hosts_line(&t, k, line, sizeof(line)), 0);
    assert_string_equal(line, "backup.example.com ssh-ed25519 " ED25519_B64 "\n");
    t.port = 2222;
    assert_int_equal(legacy_known_hosts_line(&t, k, line, sizeof(line)), 0);
    assert_string_equal(line, "[backup.example.com]:2222 ssh-ed25519 " ED25519_B64 "\n");
    snprintf(t.host, sizeof(t.host), "::1");
    assert_int_equal(legacy_known_hosts_line(&t, k, line, sizeof(line)), 0);
    assert_string_equal(line, "[::1]:2222 ssh-ed25519 " ED25519_B64 "\n");
    assert_int_equal(legacy_known_hosts_line(&t, k, line, 20), -1);
    free(k);
}

/* ---- probes that need no server ------------------------------------------------------------ */

static void test_types_not_probed(void **state)
{
    (void)state;
    char why[512];
    assert_int_equal(probe_text("type: gs\nbucket: b\npath: p\n", why, sizeof(why)), -1);
    contains(why, "OAuth2");
    assert_int_equal(probe_text("type: gcs\nbucket: b\npath: p\n", why, sizeof(why)), -1);
    contains(why, "gs replica");
    assert_int_equal(probe_text("url: gs://b/p\n", why, sizeof(why)), -1);
    contains(why, "gs replica");
    assert_int_equal(probe_text("type: abs\naccount-name: a\nbucket: b\n", why, sizeof(why)), -1);
    contains(why, "SharedKey");
    assert_int_equal(probe_text("type: s3\nbucket: b\n", why, sizeof(why)), -1);
    contains(why, "not probed");
    assert_int_equal(probe_text("type: nats\n", why, sizeof(why)), -1);
    contains(why, "nats");
    assert_int_equal(probe_text("path: /x\n", why, sizeof(why)), -1);
    contains(why, "no type");
}

static void mkdirs(const char *root, const char *rel)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            (void)mkdir(path, 0700);
            *p = '/';
        }
    }
    assert_true(mkdir(path, 0700) == 0 || access(path, F_OK) == 0);
}

static void test_file_replicas(void **state)
{
    (void)state;
    char root[] = "/tmp/lsinit-legacy-XXXXXX";
    assert_non_null(mkdtemp(root));
    mkdirs(root, "legacy/generations/0123456789abcdef/snapshots");
    mkdirs(root, "legacy/generations/fedcba9876543210");
    mkdirs(root, "empty-gen/generations");
    mkdirs(root, "v05/ltx/0");
    mkdirs(root, "filegen");
    char path[1200], text[1400], why[512];
    snprintf(path, sizeof(path), "%s/filegen/generations", root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);

    snprintf(text, sizeof(text), "type: file\npath: \"%s/legacy\"\n", root);
    assert_int_equal(probe_text(text, why, sizeof(why)), 1);
    contains(why, "holds 2 Litestream 0.3 generations");
    snprintf(text, sizeof(text), "url: \"file://%s/legacy\"\n", root);
    assert_int_equal(probe_text(text, why, sizeof(why)), 1);
    contains(why, "/legacy/generations");

    static const char *const none[] = {"empty-gen", "v05", "filegen", "missing"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(text, sizeof(text), "type: file\npath: \"%s/%s\"\n", root, none[i]);
        assert_int_equal(probe_text(text, why, sizeof(why)), 0);
    }
    assert_int_equal(probe_text("type: file\n", why, sizeof(why)), -1);
    contains(why, "no path");

    char cmd[1300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

/* A loopback port nobody listens on: bound, never listened to, closed. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_sftp_cannot_tell(void **state)
{
    (void)state;
    char text[512], why[1024];
    int port = closed_port();
    snprintf(text, sizeof(text),
             "type: sftp\nhost: \"127.0.0.1:%d\"\nuser: backup\npassword: \"s3cr3t-pw\"\npath: /srv/app.db\n", port);
    assert_int_equal(probe_text(text, why, sizeof(why)), -1);
    contains(why, "cannot list sftp://127.0.0.1:");
    contains(why, "/srv/app.db/generations/");
    lacks(why, "s3cr3t-pw");

    /* A bad host-key is refused before any connection. */
    snprintf(
        text, sizeof(text),
        "type: sftp\nhost: \"127.0.0.1:%d\"\nuser: backup\npassword: \"s3cr3t-pw\"\npath: /p\nhost-key: \"ssh-rsa AAAA\"\n",
        port);
    assert_int_equal(probe_text(text, why, sizeof(why)), -1);
    contains(why, "host-key");
    lacks(why, "s3cr3t-pw");

    snprintf(text, sizeof(text), "url: \"sftp://backup:s3cr3t-pw@127.0.0.1:%d/srv/x\"\n", port);
    assert_int_equal(probe_text(text, why, sizeof(why)), -1);
    lacks(why, "s3cr3t-pw");
}

/* ---- config lookup and the refusal ------------------------------------------------------------ */

static void test_refusal_line(void **state)
{
    (void)state;
    char line[1024];
    legacy_layout_refusal(
        "/data/app.db", "sftp://h:22/srv/app.db/generations/ holds 1 Litestream 0.3 generation (e.g. 0123456789abcdef)",
        line, sizeof(line));
    contains(line, "cannot restore /data/app.db");
    contains(line, "only Litestream 0.3 backups");
    contains(line, "0123456789abcdef");
    contains(line, "LSINIT_LITESTREAM");
    contains(line, "install-litestream --version 0.3.13");
    contains(line, "new path");
    assert_null(strchr(line, '\n'));

    /* Long inputs are cut, the hint is kept, and it all fits one log line (1024 bytes with its prefix). */
    char huge[3000];
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    legacy_layout_refusal(huge, huge, line, sizeof(line));
    contains(line, "Not starting the app");
    assert_true(strlen(line) < 1024 - 40);
}

static void test_is_sftp(void **state)
{
    (void)state;
    struct ynode *n = yaml("type: sftp\nhost: h\n");
    assert_true(legacy_layout_is_sftp(n));
    ynode_free(n);
    n = yaml("url: \"sftp://u@h/p\"\n");
    assert_true(legacy_layout_is_sftp(n));
    ynode_free(n);
    n = yaml("type: s3\nurl: \"sftp://u@h/p\"\n");
    assert_false(legacy_layout_is_sftp(n));
    ynode_free(n);
    assert_false(legacy_layout_is_sftp(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_sftp),
        cmocka_unit_test(test_base64_rfc4648),
        cmocka_unit_test(test_base64_errors),
        cmocka_unit_test(test_generation_names),
        cmocka_unit_test(test_listing_any_chunking),
        cmocka_unit_test(test_listing_empty),
        cmocka_unit_test(test_host_port),
        cmocka_unit_test(test_target_from_generated_replica),
        cmocka_unit_test(test_target_from_url),
        cmocka_unit_test(test_target_errors),
        cmocka_unit_test(test_listing_url),
        cmocka_unit_test(test_host_key_fingerprints),
        cmocka_unit_test(test_host_key_errors),
        cmocka_unit_test(test_known_hosts_line),
        cmocka_unit_test(test_types_not_probed),
        cmocka_unit_test(test_file_replicas),
        cmocka_unit_test(test_sftp_cannot_tell),
        cmocka_unit_test(test_refusal_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
