/* SPDX-License-Identifier: MIT */
#include "db_check.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int db_check(const char *path, enum db_check_kind kind, bool readonly, char *why, size_t why_size)
{
    const char *name = kind == DB_CHECK_QUICK ? "quick_check" : "integrity_check";
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(why, why_size, "cannot open the restored copy: %s", db != NULL ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return -1;
    }
    char sql[32];
    snprintf(sql, sizeof(sql), "PRAGMA %s", name);
    sqlite3_stmt *st = NULL;
    int rc = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
        snprintf(why, why_size, "%s could not run: %s", name, sqlite3_errmsg(db));
        rc = -1;
    } else {
        const unsigned char *first = sqlite3_column_text(st, 0);
        if (first == NULL || strcmp((const char *)first, "ok") != 0) {
            snprintf(why, why_size, "%s: %s", name, first != NULL ? (const char *)first : "(null)");
            rc = -1;
        }
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}
