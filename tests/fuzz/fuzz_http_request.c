/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the health endpoint's request parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http_request req;
    enum http_parse_result r = http_request_parse((const char *)data, size, &req);
    if (r == HTTP_OK) {
        /* The contract the server relies on. */
        if (req.head_length == 0 || req.head_length > size || req.head_length > HTTP_REQUEST_MAX)
            __builtin_trap();
        if (strlen(req.path) >= HTTP_PATH_MAX || req.path[0] != '/')
            __builtin_trap();
        if (req.minor_version != 0 && req.minor_version != 1)
            __builtin_trap();
    }
    return 0;
}
