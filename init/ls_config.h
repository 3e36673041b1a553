/* SPDX-License-Identifier: MIT */
/*
 * Litestream's configuration keys, by version: which keys exist where,
 * which hold secrets, and a validator that reports what Litestream itself
 * silently ignores (misspelled keys, 0.5-only keys on 0.3, `replica:` on 0.3).
 */
#ifndef LSINIT_LS_CONFIG_H
#define LSINIT_LS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "litestream.h"
#include "yaml_tree.h"

bool ls_config_is_secret_key(const char *key);

/* Returns 0, or -1 with one line in err ("<source> line N: ..."). */
int ls_config_validate(const struct ynode *root, const struct ls_version *v, const char *source, char *err,
                       size_t err_size);

/*
 * Expands $NAME and ${NAME} from envp the way Litestream does before it
 * parses its config (Go's os.ExpandEnv: unset names become empty).
 * Returns a malloc'ed string.
 */
char *ls_config_expand_env(const char *text, char *const *envp);

#endif
