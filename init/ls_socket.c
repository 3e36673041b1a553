/* SPDX-License-Identifier: MIT */
#include "ls_socket.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_fetch.h"
#include "json_text.h"

/* Litestream answers "database not open" with 409 until its first monitor tick has opened the file. */
#define LS_HTTP_CONFLICT 409

int ls_socket_sync(const char *socket_path, const char *db, bool wait, long timeout_ms, struct ls_sync_result *res)
{
    memset(res, 0, sizeof(*res));
    char db_e[PATH_MAX * 2], body[PATH_MAX * 2 + 96];
    json_escape(db, db_e, sizeof(db_e));
    /* Litestream's own timeout is whole seconds; ours (curl's) is a little longer so its answer arrives. */
    long secs = timeout_ms / 1000 > 0 ? timeout_ms / 1000 : 1;
    snprintf(body, sizeof(body), "{\"path\":\"%s\",\"wait\":%s,\"timeout\":%ld}", db_e, wait ? "true" : "false", secs);
    struct http_fetch req = {
        .url = "http://litestream/sync",
        .unix_socket = socket_path,
        .post_body = body,
        .timeout_ms = timeout_ms + 1000,
    };
    char *answer = NULL;
    res->http_status = http_fetch(&req, &answer);
    if (res->http_status == 0) {
        res->outcome = LS_SYNC_NO_ANSWER;
        snprintf(res->error, sizeof(res->error), "no answer on %s", socket_path);
    } else if (res->http_status == 200 && answer != NULL && json_field_u64(answer, "txid", &res->txid) == 0) {
        if (json_field_u64(answer, "replicated_txid", &res->replicated_txid) != 0)
            res->replicated_txid = 0;
        res->outcome = !wait || res->replicated_txid >= res->txid ? LS_SYNC_OK : LS_SYNC_FAILED;
        if (res->outcome != LS_SYNC_OK)
            snprintf(res->error, sizeof(res->error), "the replica is at txid %llu, the database at %llu",
                     (unsigned long long)res->replicated_txid, (unsigned long long)res->txid);
    } else {
        res->outcome = res->http_status == LS_HTTP_CONFLICT ? LS_SYNC_NOT_OPEN : LS_SYNC_FAILED;
        if (answer == NULL || json_field(answer, "error", res->error, sizeof(res->error)) != 0)
            snprintf(res->error, sizeof(res->error), "HTTP %ld", res->http_status);
    }
    free(answer);
    return res->outcome == LS_SYNC_OK ? 0 : -1;
}
