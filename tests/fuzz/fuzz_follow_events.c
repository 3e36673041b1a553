/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the follow keeper's parsers (init/follow_events.c):
 * the input as one event line (PID 1 reads them from the keeper's pipe) and as
 * `litestream ltx` output (the replica's position). Checks the contracts, not
 * only the absence of crashes: an index is a database slot, a parsed text
 * points into the line, the oldest time is 0 or belongs to a file after
 * `after`, and a table with no txid above `after` has no oldest time.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "follow_events.h"
#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size + 1);
    if (line == NULL)
        return 0;
    memcpy(line, data, size);
    line[size] = '\0';
    char *copy = strdup(line);
    struct follow_event ev;
    if (copy != NULL && follow_event_parse(copy, &ev) == 0) {
        if (ev.index >= PLAN_MAX_DBS)
            __builtin_trap();
        if (ev.text != NULL && (ev.text < copy || ev.text > copy + size))
            __builtin_trap();
    }
    free(copy);
    uint64_t after = size > 0 ? data[0] : 0, newest = 0;
    int64_t oldest = 0;
    if (follow_parse_ltx(line, after, &newest, &oldest) == 0 && oldest != 0 && newest <= after)
        __builtin_trap();
    uint64_t txid = 0;
    (void)follow_parse_txid(line, &txid);
    free(line);
    return 0;
}
