/* SPDX-License-Identifier: MIT */
/*
 * Replica URLs as users write them in LSINIT_REPLICA_URL:
 *   s3://BUCKET/PATH   gs://BUCKET/PATH (gcs:// too)   abs://ACCOUNT@CONTAINER/PATH
 *   sftp://USER[:PASSWORD]@HOST[:PORT]/PATH            file:///ABSOLUTE/PATH
 */
#ifndef LSINIT_REPLICA_URL_H
#define LSINIT_REPLICA_URL_H

#include <stddef.h>

enum replica_type { REPLICA_FILE, REPLICA_S3, REPLICA_GCS, REPLICA_ABS, REPLICA_SFTP };

#define REPLICA_FIELD 256
#define REPLICA_PATH 1024

struct replica_url {
    enum replica_type type;
    char bucket[REPLICA_FIELD];   /* s3/gs bucket, abs container */
    char account[REPLICA_FIELD];  /* abs account name */
    char host[REPLICA_FIELD];     /* sftp host:port */
    char user[REPLICA_FIELD];     /* sftp user */
    char password[REPLICA_FIELD]; /* sftp password from the URL: a secret */
    char path[REPLICA_PATH];      /* file/sftp: absolute; buckets: no leading slash */
};

/* Parses url. On failure returns -1 and writes why into err (never the password). */
int replica_url_parse(const char *url, struct replica_url *out, char *err, size_t err_size);

/* Copies url into buf with any password replaced by "<redacted>". */
void replica_url_redact(const char *url, char *buf, size_t size);

const char *replica_type_name(enum replica_type type);

#endif
