/* SPDX-License-Identifier: MIT */
/*
 * SQLite's own checks of a database file, in one place: the restore on boot
 * runs `quick_check` on a copy Litestream < 0.5.10 restored unchecked, and
 * verification runs `integrity_check` on every restored copy.
 */
#ifndef LSINIT_DB_CHECK_H
#define LSINIT_DB_CHECK_H

#include <stdbool.h>
#include <stddef.h>

enum db_check_kind { DB_CHECK_QUICK, DB_CHECK_INTEGRITY };

/*
 * Opens path (read-only when readonly) and runs the check. Returns 0 when
 * SQLite answers "ok"; otherwise -1 with why set to one line: the file could
 * not be opened, the check could not run, or its first complaint.
 */
int db_check(const char *path, enum db_check_kind kind, bool readonly, char *why, size_t why_size);

#endif
