/* SPDX-License-Identifier: MIT */
/*
 * Is a replica a Litestream 0.3 backup that Litestream 0.5 cannot see?
 *
 * Litestream 0.3 keeps a replica as <path>/generations/<16 hex digits>/...;
 * 0.5 keeps <path>/ltx/<level>/... . Litestream 0.5 reads the 0.3 layout only
 * through its file and s3 clients (0.5.7+, fixed in 0.5.11/0.5.12). Its sftp,
 * gs and abs clients see a replica that holds only 0.3 backups as EMPTY:
 * `litestream restore -if-replica-exists` says "no matching backups found"
 * and exits 0, the app would start on an empty database, and 0.5's first sync
 * would make that empty database the newest state of the backup. lsinit asks
 * this module, after 0.5 reported "no backup" for such a replica, whether the
 * replica path holds a 0.3 layout, and refuses to start the app if it does.
 *
 * What is probed:
 *   sftp  a directory listing of <path>/generations/ over SFTP (libcurl),
 *         with the replica's own credentials (password and/or key-path);
 *         host-key is verified when the replica has one, otherwise any host
 *         key is accepted, as Litestream itself does.
 *   file  the same listing on the local file system (cheap; 0.5 reads 0.3
 *         file replicas itself, so lsinit has no need to call it).
 *   s3    not probed (-1): 0.5.11+ restores 0.3 backups from S3 itself, and
 *         probing would need SigV4 signing.
 *   gs    not probed (-1): listing a GCS bucket needs an OAuth2 access token
 *         (a service-account JWT signed with RS256, exchanged at Google's
 *         token endpoint, or the metadata server), which lsinit does not have.
 *   abs   not probed (-1): listing an Azure container needs SharedKey request
 *         signing (HMAC-SHA256 over a canonicalised request) or a SAS token.
 *
 * Blocking: an SFTP probe connects, logs in and lists one folder, bounded by
 * LEGACY_PROBE_TIMEOUT_MS. Call it from a forked child.
 * Secrets: passwords and keys are never written into why, a URL or a log.
 */
#ifndef LSINIT_LEGACY_LAYOUT_H
#define LSINIT_LEGACY_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>

#include "yaml_tree.h"

#define LEGACY_PROBE_TIMEOUT_MS 30000L
#define LEGACY_CONNECT_TIMEOUT_MS 15000L

/*
 * replica: one replica map of a Litestream config (type, url, host "HOST[:PORT]",
 * user, password, key-path, host-key, path), as lsinit passes it to Litestream.
 * Returns 1 when the replica path holds a 0.3 layout (a generations/ folder with
 * at least one generation: 16 lowercase hex digits, as Litestream 0.3 names
 * them), 0 when it does not (no such folder, or none in it), -1 when it cannot
 * tell. why (always written) says what was found: on 1 e.g.
 * "sftp://host:22/backups/app.db/generations/ holds 2 Litestream 0.3 generations (e.g. 0123456789abcdef)",
 * on -1 the reason. why never holds a secret.
 */
int legacy_layout_probe(const struct ynode *replica, char *why, size_t why_size);

/* True for an sftp replica (type: sftp, or no type and an sftp:// url): the one lsinit must probe under 0.5. */
bool legacy_layout_is_sftp(const struct ynode *replica);

/*
 * The one ERROR line lsinit logs when it refuses to start: db_path's replica
 * holds only Litestream 0.3 backups (found: legacy_layout_probe's why for 1)
 * and how to migrate.
 */
void legacy_layout_refusal(const char *db_path, const char *found, char *out, size_t size);

/* ---- the pieces, exposed for tests/unit/test_legacy_layout.c ---------------- */

#define LEGACY_FIELD 256
#define LEGACY_PATH 1024
#define LEGACY_HOST_KEY_LINE 8192
#define LEGACY_KEY_BLOB_MAX 4096 /* an RSA-16384 public key blob is about 2 KiB */
#define LEGACY_URL_MAX 4096

/* What an SFTP probe needs, gathered from the replica node (fields win over url:, as in Litestream). */
struct legacy_sftp_target {
    char host[LEGACY_FIELD]; /* name or address; an IPv6 address without brackets */
    long port;               /* 22 when the replica names none */
    char user[LEGACY_FIELD];
    char password[LEGACY_FIELD]; /* a secret: never printed */
    char key_path[LEGACY_PATH];
    char path[LEGACY_PATH];              /* as Litestream uses it: absolute, or relative to the login folder */
    char host_key[LEGACY_HOST_KEY_LINE]; /* an authorized_keys line, or "" */
};

int legacy_sftp_target_from_replica(const struct ynode *replica, struct legacy_sftp_target *out, char *why,
                                    size_t why_size);

/*
 * "HOST[:PORT]", "[V6]:PORT", "[V6]", or a bare IPv6 address → host and port
 * (22 by default): hostport_split, plus an SFTP host's rules (a name, none of
 * the characters that would change a URL or a known_hosts line, port 1..65535).
 */
int legacy_split_host_port(const char *text, char *host, size_t host_size, long *port, char *why, size_t why_size);

/*
 * sftp://HOST:PORT/<path>/generations/ with the path percent-encoded; a relative
 * path is placed under the login folder (/~/). No user name or password in it.
 */
int legacy_sftp_listing_url(const struct legacy_sftp_target *t, char *out, size_t size);

/* A host-key line parsed: its type, the key blob, and the blob's SHA-256 in base64. */
struct legacy_host_key {
    char type[64];
    unsigned char blob[LEGACY_KEY_BLOB_MAX];
    size_t blob_len;
    char blob_b64[(LEGACY_KEY_BLOB_MAX + 2) / 3 * 4 + 1];
    char sha256_b64[45]; /* padded; what CURLOPT_SSH_HOST_PUBLIC_KEY_SHA256 takes */
};

/* Parses an authorized_keys-style line ("[options] TYPE BASE64 [comment]"), as Litestream's host-key. */
int legacy_host_key_parse(const char *line, struct legacy_host_key *out, char *why, size_t why_size);

/* The known_hosts line for t's host and port: "HOST TYPE BASE64" or "[HOST]:PORT TYPE BASE64". */
int legacy_known_hosts_line(const struct legacy_sftp_target *t, const struct legacy_host_key *k, char *out,
                            size_t size);

/* Standard base64 (RFC 4648, padded). Encode returns the length or -1; decode returns the length or -1. */
long legacy_base64_encode(const unsigned char *in, size_t len, char *out, size_t size);
long legacy_base64_decode(const char *in, size_t len, unsigned char *out, size_t size);

/* Litestream 0.3's generation names: exactly 16 lowercase hex digits. */
bool legacy_is_generation_name(const char *name, size_t len);

/* A directory listing (one name a line, as CURLOPT_DIRLISTONLY gives it), fed in any chunks. */
struct legacy_listing {
    char line[32]; /* the line so far; longer names cannot be generations */
    size_t len;
    bool overlong;
    size_t generations; /* names that are generation names */
    char example[17];   /* the first of them */
};

void legacy_listing_feed(struct legacy_listing *l, const char *data, size_t len);
void legacy_listing_finish(struct legacy_listing *l);

#endif
