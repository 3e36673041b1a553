/* SPDX-License-Identifier: MIT */
/*
 * The Litestream 0.3 <-> 0.5 mapping (init/litestream.c), pinned against the
 * documented forms in /work/shared/reference/litestream.md §2.1 (restore
 * flags per version) and §4 (commands per version), plus the -exec quoting
 * checked against a reference implementation of go-shellwords v1.0.12's
 * rules (Parse with ParseEnv=false, ParseBacktick=false).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "litestream.h"

#define BIN "/usr/local/bin/litestream"
#define CFG "/proc/1/fd/3"
#define SOCK "/tmp/ls.sock"

static struct ls_version V03; /* v0.3.13 */
static struct ls_version V05; /* v0.5.16 */

static int setup_versions(void **state)
{
    (void)state;
    if (ls_version_parse("v0.3.13", &V03) != 0 || ls_version_parse("v0.5.16", &V05) != 0)
        return -1;
    return 0;
}

/* ---- versions ----------------------------------------------------------- */

static void test_version_parse(void **state)
{
    (void)state;
    struct ls_version v;
    assert_int_equal(ls_version_parse("v0.3.13", &v), 0);
    assert_int_equal(v.major, 0);
    assert_int_equal(v.minor, 3);
    assert_int_equal(v.patch, 13);
    assert_string_equal(v.text, "v0.3.13");

    assert_int_equal(ls_version_parse("0.5.16", &v), 0);
    assert_int_equal(v.minor, 5);
    assert_int_equal(v.patch, 16);
    assert_string_equal(v.text, "v0.5.16");

    assert_int_equal(ls_version_parse("v0.5.0", &v), 0);
    assert_int_equal(v.minor, 5);
    assert_int_equal(v.patch, 0);
    assert_string_equal(v.text, "v0.5.0");

    /* What `litestream version` prints, with a trailing newline or spaces. */
    assert_int_equal(ls_version_parse("  v0.3.13\n", &v), 0);
    assert_string_equal(v.text, "v0.3.13");
    assert_int_equal(ls_version_parse("1.0.0", &v), 0);
    assert_int_equal(v.major, 1);
}

static void test_version_parse_junk(void **state)
{
    (void)state;
    static const char *const junk[] = {
        "", "v", "junk", "(development build)", "v0.3", "0.5", "vv0.3.13", "v-1.2.3", "0.-5.1", "x0.3.13", "0.3.x",
    };
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
        struct ls_version v;
        memset(&v, 0x5a, sizeof(v));
        struct ls_version before = v;
        if (ls_version_parse(junk[i], &v) != -1)
            print_error("ls_version_parse('%s') accepted junk\n", junk[i]);
        assert_int_equal(ls_version_parse(junk[i], &v), -1);
        assert_memory_equal(&v, &before, sizeof(v)); /* untouched on failure */
    }
}

static struct ls_version ver(int major, int minor, int patch)
{
    char text[40];
    struct ls_version v;
    snprintf(text, sizeof(text), "%d.%d.%d", major, minor, patch);
    assert_int_equal(ls_version_parse(text, &v), 0);
    return v;
}

static void test_version_supported(void **state)
{
    (void)state;
    char err[512];
    struct ls_version v = ver(0, 5, 0);
    err[0] = '\0';
    assert_int_equal(ls_version_check_supported(&v, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "v0.5.0"));
    assert_non_null(strstr(err, "#774"));
    assert_non_null(strstr(err, "#781"));
    assert_non_null(strstr(err, "v0.5.1"));

    v = ver(0, 3, 13);
    assert_int_equal(ls_version_check_supported(&v, err, sizeof(err)), 0);
    v = ver(0, 5, 16);
    assert_int_equal(ls_version_check_supported(&v, err, sizeof(err)), 0);
    v = ver(0, 5, 1);
    assert_int_equal(ls_version_check_supported(&v, err, sizeof(err)), 0);
    v = ver(0, 3, 0);
    assert_int_equal(ls_version_check_supported(&v, err, sizeof(err)), 0);

    static const int refused[][3] = {{1, 0, 0}, {0, 2, 9}, {0, 6, 0}, {2, 5, 1}};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        v = ver(refused[i][0], refused[i][1], refused[i][2]);
        err[0] = '\0';
        assert_int_equal(ls_version_check_supported(&v, err, sizeof(err)), -1);
        assert_non_null(strstr(err, v.text));
        assert_non_null(strstr(err, "not supported"));
    }
    /* A tiny buffer is still terminated. */
    char small[8];
    v = ver(0, 5, 0);
    assert_int_equal(ls_version_check_supported(&v, small, sizeof(small)), -1);
    assert_true(strlen(small) < sizeof(small));
}

static void test_version_is_v05(void **state)
{
    (void)state;
    struct ls_version v = ver(0, 3, 13);
    assert_false(ls_version_is_v05(&v));
    v = ver(0, 4, 99);
    assert_false(ls_version_is_v05(&v));
    v = ver(0, 5, 0);
    assert_true(ls_version_is_v05(&v));
    v = ver(0, 5, 16);
    assert_true(ls_version_is_v05(&v));
    v = ver(1, 0, 0);
    assert_true(ls_version_is_v05(&v));
}

static void test_version_at_least(void **state)
{
    (void)state;
    struct ls_version v = ver(0, 5, 12);
    assert_true(ls_version_at_least(&v, 0, 5, 12));
    assert_true(ls_version_at_least(&v, 0, 5, 11));
    assert_true(ls_version_at_least(&v, 0, 5, 0));
    assert_true(ls_version_at_least(&v, 0, 3, 99));
    assert_true(ls_version_at_least(&v, 0, 0, 0));
    assert_false(ls_version_at_least(&v, 0, 5, 13));
    assert_false(ls_version_at_least(&v, 0, 6, 0));
    assert_false(ls_version_at_least(&v, 1, 0, 0));
    v = ver(1, 0, 0);
    assert_true(ls_version_at_least(&v, 0, 99, 99));
}

/* ---- go-shellwords reference ------------------------------------------- */

/*
 * A transcription of go-shellwords' Parser.Parse (ParseEnv=false,
 * ParseBacktick=false), the splitter Litestream runs on -exec. go_runes:
 * iterate like Go's `for _, r := range line`, where every byte of invalid
 * UTF-8 becomes U+FFFD; otherwise iterate byte by byte. Returns the number
 * of arguments, -1 on "invalid command line string", -2 when an unquoted
 * ; & | < > stopped parsing early (the rest of the line would be dropped).
 */
#define SW_MAX_ARGS 64
#define SW_MAX_LEN 4096

struct sw_args {
    int argc;
    char argv[SW_MAX_ARGS][SW_MAX_LEN];
    size_t len[SW_MAX_ARGS];
};

/* Decodes one rune at s (n bytes left) like utf8.DecodeRuneInString. */
static size_t go_decode(const unsigned char *s, size_t n, unsigned char *enc, size_t *enc_len)
{
    unsigned char b = s[0];
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xbf;
    if (b < 0x80) {
        enc[0] = b;
        *enc_len = 1;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf)
        need = 1;
    else if (b == 0xe0) {
        need = 2;
        lo = 0xa0;
    } else if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef)
        need = 2;
    else if (b == 0xed) {
        need = 2;
        hi = 0x9f;
    } else if (b == 0xf0) {
        need = 3;
        lo = 0x90;
    } else if (b >= 0xf1 && b <= 0xf3)
        need = 3;
    else if (b == 0xf4) {
        need = 3;
        hi = 0x8f;
    }
    bool ok = need > 0 && n > need;
    if (ok && (s[1] < lo || s[1] > hi))
        ok = false;
    for (size_t i = 2; ok && i <= need; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            ok = false;
    }
    if (!ok) {
        enc[0] = 0xef; /* U+FFFD */
        enc[1] = 0xbf;
        enc[2] = 0xbd;
        *enc_len = 3;
        return 1;
    }
    memcpy(enc, s, need + 1);
    *enc_len = need + 1;
    return need + 1;
}

/* True when s is valid UTF-8 by Go's rules (no overlongs, surrogates or > U+10FFFF). */
static bool go_utf8_valid(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char enc[4];
        size_t enc_len = 0;
        size_t used = go_decode((const unsigned char *)s + i, n - i, enc, &enc_len);
        if (used != enc_len || memcmp(enc, s + i, used) != 0)
            return false;
        i += used;
    }
    return true;
}

static void sw_put(struct sw_args *a, size_t *blen, const unsigned char *bytes, size_t n)
{
    assert_true(*blen + n < SW_MAX_LEN);
    memcpy(a->argv[a->argc] + *blen, bytes, n);
    *blen += n;
}

static bool sw_push(struct sw_args *a, size_t *blen)
{
    if (a->argc >= SW_MAX_ARGS)
        return false;
    a->argv[a->argc][*blen] = '\0';
    a->len[a->argc] = *blen;
    a->argc++;
    *blen = 0;
    return true;
}

static int shellwords_parse(const char *line, bool go_runes, struct sw_args *a)
{
    enum { ARG_NO, ARG_SINGLE, ARG_QUOTED } got = ARG_NO;
    bool escaped = false, dq = false, sq = false, backq = false, dollarq = false;
    size_t blen = 0;
    size_t n = strlen(line);
    const unsigned char *s = (const unsigned char *)line;
    a->argc = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char enc[4];
        size_t enc_len = 1;
        if (go_runes) {
            i += go_decode(s + i, n - i, enc, &enc_len);
        } else {
            enc[0] = s[i++];
        }
        unsigned char r = enc_len == 1 ? enc[0] : 0x80; /* non-ASCII: never special */
        if (escaped) {
            escaped = false;
            if (backq || dollarq) {
                sw_put(a, &blen, (const unsigned char *)"\\", 1);
                sw_put(a, &blen, enc, enc_len);
                got = ARG_SINGLE;
                continue;
            }
            if (r == 't')
                enc[0] = '\t';
            if (r == 'n')
                enc[0] = '\n';
            sw_put(a, &blen, enc, enc_len);
            got = ARG_SINGLE;
            continue;
        }
        if (r == '\\') {
            if (sq)
                sw_put(a, &blen, enc, enc_len);
            else
                escaped = true;
            continue;
        }
        if (r == ' ' || r == '\t' || r == '\r' || r == '\n') {
            if (sq || dq || backq || dollarq) {
                sw_put(a, &blen, enc, enc_len);
            } else if (got != ARG_NO) {
                if (!sw_push(a, &blen))
                    return -1;
                got = ARG_NO;
            }
            continue;
        }
        switch (r) {
        case '`':
            if (!sq && !dq && !dollarq)
                backq = !backq;
            break;
        case ')':
            if (!sq && !dq && !backq) {
                if (!dollarq)
                    return -1;
                sw_put(a, &blen, enc, enc_len);
                dollarq = false;
                got = ARG_SINGLE;
                continue;
            }
            break;
        case '(':
            if (!sq && !dq && !backq) {
                char *buf = a->argv[a->argc];
                bool ends_dollar = blen >= 1 && buf[blen - 1] == '$' && !(blen >= 2 && buf[blen - 2] == '\\');
                if (!dollarq && ends_dollar) {
                    dollarq = true;
                    sw_put(a, &blen, enc, enc_len);
                    continue;
                }
                return -1;
            }
            break;
        case '"':
            if (!sq && !dollarq && !backq) {
                if (dq)
                    got = ARG_QUOTED;
                dq = !dq;
                continue;
            }
            break;
        case '\'':
            if (!dq && !dollarq && !backq) {
                if (sq)
                    got = ARG_QUOTED;
                sq = !sq;
                continue;
            }
            break;
        case ';':
        case '&':
        case '|':
        case '<':
        case '>':
            if (!(sq || dq || backq || dollarq))
                return -2;
            break;
        default: break;
        }
        got = ARG_SINGLE;
        sw_put(a, &blen, enc, enc_len);
    }
    if (got != ARG_NO && !sw_push(a, &blen))
        return -1;
    if (escaped || sq || dq || backq || dollarq)
        return -1;
    return a->argc;
}

/* The reference itself, on go-shellwords' own test cases. */
static void test_shellwords_reference(void **state)
{
    (void)state;
    struct sw_args *a = malloc(sizeof(*a));
    assert_non_null(a);
    assert_int_equal(shellwords_parse("foo bar baz", false, a), 3);
    assert_string_equal(a->argv[2], "baz");
    assert_int_equal(shellwords_parse("'a b' \"c d\" e\\ f", false, a), 3);
    assert_string_equal(a->argv[0], "a b");
    assert_string_equal(a->argv[1], "c d");
    assert_string_equal(a->argv[2], "e f");
    assert_int_equal(shellwords_parse("'it'\\''s'", false, a), 1);
    assert_string_equal(a->argv[0], "it's");
    assert_int_equal(shellwords_parse("'' x", false, a), 2);
    assert_string_equal(a->argv[0], "");
    assert_int_equal(shellwords_parse("'a\\b'", false, a), 1);
    assert_string_equal(a->argv[0], "a\\b");
    assert_int_equal(shellwords_parse("migrate && app", false, a), -2);
    assert_int_equal(shellwords_parse("a;b", false, a), -2);
    assert_int_equal(shellwords_parse("'unbalanced", false, a), -1);
    assert_int_equal(shellwords_parse("(x)", false, a), -1);
    assert_int_equal(shellwords_parse("$HOME `x`", false, a), 2);
    assert_string_equal(a->argv[0], "$HOME");
    assert_int_equal(shellwords_parse("   ", false, a), 0);
    assert_int_equal(shellwords_parse("\xff", true, a), 1);
    assert_string_equal(a->argv[0], "\xef\xbf\xbd");
    assert_int_equal(shellwords_parse("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", true, a), 1);
    assert_string_equal(a->argv[0], "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_true(go_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80"));
    assert_false(go_utf8_valid("caf\xe9"));
    assert_false(go_utf8_valid("\xc0\xaf"));         /* overlong '/' */
    assert_false(go_utf8_valid("\xed\xa0\x80"));     /* surrogate */
    assert_false(go_utf8_valid("\xf4\x90\x80\x80")); /* > U+10FFFF */
    assert_false(go_utf8_valid("\xe2\x82"));         /* truncated */
    free(a);
}

/* ---- ls_shell_quote ------------------------------------------------------ */

static void quote_is(char *const *argv, const char *want)
{
    char out[1024];
    size_t n = ls_shell_quote(argv, out, sizeof(out));
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void test_shell_quote_forms(void **state)
{
    (void)state;
    quote_is((char *[]){"app", NULL}, "'app'");
    quote_is((char *[]){"app", "--flag", "x", NULL}, "'app' '--flag' 'x'");
    quote_is((char *[]){"it's", NULL}, "'it'\\''s'");
    quote_is((char *[]){"''", NULL}, "''\\'''\\'''");
    quote_is((char *[]){"", NULL}, "''");
    quote_is((char *[]){"a", "", "b", NULL}, "'a' '' 'b'");
    quote_is((char *[]){"hello world", NULL}, "'hello world'");
    quote_is((char *[]){"$HOME", "${X}", NULL}, "'$HOME' '${X}'");
    quote_is((char *[]){"a;b", "c && d", "e|f", "<in", ">out", NULL}, "'a;b' 'c && d' 'e|f' '<in' '>out'");
    quote_is((char *[]){"back\\slash", "\"dq\"", "`cmd`", "$(x)", NULL}, "'back\\slash' '\"dq\"' '`cmd`' '$(x)'");
}

/* Quotes argv and parses the result back with the reference. The only
 * acceptable refusal (0) is an argument that is not valid UTF-8, which Go
 * could not pass through unchanged. */
static void check_round_trip(char *const *argv, bool go_runes)
{
    static char out[SW_MAX_ARGS * SW_MAX_LEN];
    static struct sw_args parsed;
    struct sw_args *a = &parsed;
    size_t n = ls_shell_quote(argv, out, sizeof(out));
    if (n == 0) {
        bool all_valid = true;
        for (size_t i = 0; argv[i] != NULL; i++)
            all_valid = all_valid && go_utf8_valid(argv[i]);
        assert_false(all_valid);
        return;
    }
    int argc = shellwords_parse(out, go_runes, a);
    int want = 0;
    while (argv[want] != NULL)
        want++;
    if (argc != want)
        print_error("quoted '%s' parsed into %d args, want %d\n", out, argc, want);
    assert_int_equal(argc, want);
    for (int i = 0; i < want; i++) {
        if (a->len[i] != strlen(argv[i]) || memcmp(a->argv[i], argv[i], a->len[i]) != 0)
            print_error("argument %d did not survive: quoted as %s\n", i, out);
        assert_int_equal(a->len[i], strlen(argv[i]));
        assert_memory_equal(a->argv[i], argv[i], a->len[i]);
    }
}

static void test_shell_quote_round_trip_fixed(void **state)
{
    (void)state;
    check_round_trip((char *[]){"it's", "", " ", "a b", "$VAR", "x;y", "p && q", "\\", "'", "\"", "`", "(", ")", NULL},
                     false);
    check_round_trip((char *[]){"\t\n\r", "'''", "\\'", "'\\", "end'", "'start", NULL}, false);
    check_round_trip((char *[]){"caf\xc3\xa9", "\xe2\x82\xac 5", "\xf0\x9f\x98\x80'\xf0\x9f\x98\x80", NULL}, true);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Random byte strings (no NUL) through quote → parse, byte by byte. */
static void test_shell_quote_round_trip_random_bytes(void **state)
{
    (void)state;
    static char args[6][48];
    static const char special[] = "' \\\"`$();&|<>\t\n\r*?#~=%!{}[]";
    for (int iter = 0; iter < 5000; iter++) {
        int argc = 1 + (int)(rng() % 5);
        char *argv[7];
        for (int i = 0; i < argc; i++) {
            size_t len = rng() % 40;
            for (size_t j = 0; j < len; j++) {
                /* Bias towards the characters that matter to a shell splitter. */
                if (rng() % 2 == 0)
                    args[i][j] = special[rng() % (sizeof(special) - 1)];
                else
                    args[i][j] = (char)(1 + rng() % 255);
            }
            args[i][len] = '\0';
            argv[i] = args[i];
        }
        argv[argc] = NULL;
        check_round_trip(argv, false);
    }
}

/* Appends a random valid UTF-8 character to s. */
static size_t put_random_utf8(char *s)
{
    uint32_t kind = rng() % 5;
    uint32_t cp;
    if (kind < 2) {
        static const char special[] = "' \\\"`$();&|<>\t\n";
        s[0] = special[rng() % (sizeof(special) - 1)];
        return 1;
    }
    if (kind == 2)
        cp = 1 + rng() % 0x7f;
    else if (kind == 3)
        cp = 0x80 + rng() % (0x800 - 0x80);
    else {
        do
            cp = 0x800 + rng() % (0x110000 - 0x800);
        while (cp >= 0xd800 && cp <= 0xdfff);
    }
    if (cp < 0x80) {
        s[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        s[0] = (char)(0xc0 | (cp >> 6));
        s[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        s[0] = (char)(0xe0 | (cp >> 12));
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    s[0] = (char)(0xf0 | (cp >> 18));
    s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    s[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Random valid UTF-8 through quote → parse with Go's rune iteration. */
static void test_shell_quote_round_trip_random_utf8(void **state)
{
    (void)state;
    static char args[4][128];
    for (int iter = 0; iter < 3000; iter++) {
        int argc = 1 + (int)(rng() % 4);
        char *argv[5];
        for (int i = 0; i < argc; i++) {
            size_t len = 0, chars = rng() % 20;
            for (size_t j = 0; j < chars; j++)
                len += put_random_utf8(args[i] + len);
            args[i][len] = '\0';
            argv[i] = args[i];
        }
        argv[argc] = NULL;
        check_round_trip(argv, true);
    }
}

/*
 * Go iterates the -exec string by rune: each byte of invalid UTF-8 reaches
 * the app as U+FFFD. ls_shell_quote cannot express such an argument; it
 * must refuse it (return 0) rather than let the app's argv be changed
 * silently (the README promises the argv "arrives byte for byte").
 */
static void test_shell_quote_non_utf8_not_silently_mangled(void **state)
{
    (void)state;
    char *argv[] = {(char *)"app", (char *)"caf\xe9.txt", NULL}; /* Latin-1 file name */
    assert_false(go_utf8_valid(argv[1]));
    check_round_trip(argv, true); /* refused (0), or it survives Go's rune decoding */
}

static void test_shell_quote_buffer_limits(void **state)
{
    (void)state;
    char *argv[] = {(char *)"ab", (char *)"c'd", NULL};
    const char *want = "'ab' 'c'\\''d'";
    size_t need = strlen(want) + 1;
    char out[64];
    for (size_t size = 0; size < need; size++) {
        memset(out, 'Z', sizeof(out));
        assert_int_equal(ls_shell_quote(argv, out, size), 0);
        for (size_t k = size; k < sizeof(out); k++)
            assert_int_equal(out[k], 'Z'); /* never writes past size */
    }
    assert_int_equal(ls_shell_quote(argv, out, need), strlen(want));
    assert_string_equal(out, want);
}

/* ---- subcommands -------------------------------------------------------- */

/* Builds and compares to want (NULL-terminated). */
static void argv_is(const struct ls_version *v, const char *command, char **args, int argc, const char *const *want)
{
    const char *out[LS_ARGV_MAX];
    char err[512] = "";
    int n = ls_subcommand_argv(v, BIN, CFG, SOCK, command, args, argc, out, LS_ARGV_MAX, err, sizeof(err));
    if (n < 0)
        print_error("%s on %s failed: %s\n", command, v->text, err);
    int want_n = 0;
    while (want[want_n] != NULL)
        want_n++;
    assert_int_equal(n, want_n);
    for (int i = 0; i < want_n; i++) {
        if (strcmp(out[i], want[i]) != 0)
            print_error("%s on %s: argv[%d] = '%s', want '%s'\n", command, v->text, i, out[i], want[i]);
        assert_string_equal(out[i], want[i]);
    }
    assert_null(out[n]);
}

/* Expects failure with every string of wants in the message. */
static void argv_fails(const struct ls_version *v, const char *command, char **args, int argc, const char *want1,
                       const char *want2)
{
    const char *out[LS_ARGV_MAX];
    char err[512] = "";
    int n = ls_subcommand_argv(v, BIN, CFG, SOCK, command, args, argc, out, LS_ARGV_MAX, err, sizeof(err));
    if (n >= 0)
        print_error("%s on %s was accepted\n", command, v->text);
    assert_int_equal(n, -1);
    if (strstr(err, want1) == NULL || (want2 != NULL && strstr(err, want2) == NULL))
        print_error("%s on %s: '%s' lacks '%s' / '%s'\n", command, v->text, err, want1, want2 ? want2 : "");
    assert_non_null(strstr(err, want1));
    if (want2 != NULL)
        assert_non_null(strstr(err, want2));
}

#define ARGS(...) ((char *[]){__VA_ARGS__, NULL})
#define WANT(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CONFIG_FLAGS "-config", CFG, "-no-expand-env"

static void test_databases(void **state)
{
    (void)state;
    argv_is(&V03, "databases", NULL, 0, WANT(BIN, "databases", CONFIG_FLAGS));
    argv_is(&V05, "databases", NULL, 0, WANT(BIN, "databases", CONFIG_FLAGS));
    argv_is(&V05, "databases", ARGS("-json"), 1, WANT(BIN, "databases", CONFIG_FLAGS, "-json"));
    argv_fails(&V03, "databases", ARGS("-json"), 1, "-json", "0.5");
    argv_fails(&V03, "databases", ARGS("/data/app.db"), 1, "at most 0", "/data/app.db");
}

static void test_restore_v03(void **state)
{
    (void)state;
    argv_is(&V03, "restore", ARGS("/data/app.db"), 1, WANT(BIN, "restore", CONFIG_FLAGS, "/data/app.db"));
    argv_is(&V03, "restore", ARGS("-generation", "abc123", "-index", "0000000a", "-replica", "s3", "/data/app.db"), 7,
            WANT(BIN, "restore", CONFIG_FLAGS, "-generation", "abc123", "-index", "0000000a", "-replica", "s3",
                 "/data/app.db"));
    argv_is(&V03, "restore",
            ARGS("-o", "/tmp/out.db", "-timestamp", "2024-01-01T00:00:00Z", "-parallelism", "4", "-if-db-not-exists",
                 "-if-replica-exists", "/data/app.db"),
            9,
            WANT(BIN, "restore", CONFIG_FLAGS, "-o", "/tmp/out.db", "-timestamp", "2024-01-01T00:00:00Z",
                 "-parallelism", "4", "-if-db-not-exists", "-if-replica-exists", "/data/app.db"));
    /* A replica URL is a positional too. */
    argv_is(&V03, "restore", ARGS("-o", "/tmp/x.db", "s3://bucket/app.db"), 3,
            WANT(BIN, "restore", CONFIG_FLAGS, "-o", "/tmp/x.db", "s3://bucket/app.db"));
    argv_fails(&V03, "restore", ARGS("-txid", "0000000000000001", "/data/app.db"), 3, "-txid", "0.5");
    static const char *const only05[] = {"-f", "-dry-run", "-force", "-json"};
    for (size_t i = 0; i < sizeof(only05) / sizeof(only05[0]); i++)
        argv_fails(&V03, "restore", ARGS((char *)only05[i], "/data/app.db"), 2, only05[i], "0.5");
    argv_fails(&V03, "restore", ARGS("-integrity-check", "full", "/data/app.db"), 3, "-integrity-check", "0.5");
    argv_fails(&V03, "restore", ARGS("-follow-interval", "1s", "/data/app.db"), 3, "-follow-interval", "0.5");
    /* -v is in 0.3's usage text but not defined. */
    argv_fails(&V03, "restore", ARGS("-v", "/data/app.db"), 2, "no flag -v", NULL);
}

static void test_restore_v05(void **state)
{
    (void)state;
    argv_is(
        &V05, "restore",
        ARGS("-txid", "0000000000000010", "-dry-run", "-force", "-integrity-check", "quick", "-json", "/data/app.db"),
        8,
        WANT(BIN, "restore", CONFIG_FLAGS, "-txid", "0000000000000010", "-dry-run", "-force", "-integrity-check",
             "quick", "-json", "/data/app.db"));
    argv_is(&V05, "restore", ARGS("-f", "-follow-interval", "2s", "-o", "/tmp/f.db", "/data/app.db"), 6,
            WANT(BIN, "restore", CONFIG_FLAGS, "-f", "-follow-interval", "2s", "-o", "/tmp/f.db", "/data/app.db"));
    argv_is(&V05, "restore",
            ARGS("-if-replica-exists", "-if-db-not-exists", "-timestamp", "2024-01-01T00:00:00Z", "/data/app.db"), 5,
            WANT(BIN, "restore", CONFIG_FLAGS, "-if-replica-exists", "-if-db-not-exists", "-timestamp",
                 "2024-01-01T00:00:00Z", "/data/app.db"));
    argv_fails(&V05, "restore", ARGS("-generation", "abc", "/data/app.db"), 3, "-generation", "0.3");
    argv_fails(&V05, "restore", ARGS("-index", "1", "/data/app.db"), 3, "-index", "0.3");
    argv_fails(&V05, "restore", ARGS("-replica", "s3", "/data/app.db"), 3, "-replica", "0.3");
}

static void test_flags_before_positional(void **state)
{
    (void)state;
    /* Go's flag package stops at the first positional: lsinit moves it last. */
    argv_is(&V03, "restore", ARGS("/data/app.db", "-o", "/tmp/out.db", "-if-db-not-exists"), 4,
            WANT(BIN, "restore", CONFIG_FLAGS, "-o", "/tmp/out.db", "-if-db-not-exists", "/data/app.db"));
    argv_is(&V05, "restore", ARGS("-json", "/data/app.db", "-txid", "0000000000000002"), 4,
            WANT(BIN, "restore", CONFIG_FLAGS, "-json", "-txid", "0000000000000002", "/data/app.db"));
    argv_is(&V05, "ltx", ARGS("/data/app.db", "-level", "all"), 3,
            WANT(BIN, "ltx", CONFIG_FLAGS, "-level", "all", "/data/app.db"));
    argv_is(&V05, "sync", ARGS("/data/app.db", "-wait", "-timeout", "10"), 4,
            WANT(BIN, "sync", "-socket", SOCK, "-wait", "-timeout", "10", "/data/app.db"));
}

static void test_config_flags_refused(void **state)
{
    (void)state;
    static const char *const flags[] = {"-config",         "--config", "-config=/etc/x.yml", "-no-expand-env",
                                        "--no-expand-env", "-socket",  "-socket=/x.sock"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        argv_fails(&V03, "restore", ARGS((char *)flags[i], "/etc/x.yml", "/data/app.db"), 3, flags[i], "LSINIT_CONFIG");
        argv_fails(&V05, "databases", ARGS((char *)flags[i]), 1, flags[i], "LSINIT_CONFIG");
        argv_fails(&V05, "sync", ARGS((char *)flags[i], "/data/app.db"), 2, flags[i], NULL);
    }
}

static void test_v03_only_commands(void **state)
{
    (void)state;
    argv_is(&V03, "generations", ARGS("/data/app.db"), 1, WANT(BIN, "generations", CONFIG_FLAGS, "/data/app.db"));
    argv_is(&V03, "generations", ARGS("-replica", "s3", "/data/app.db"), 3,
            WANT(BIN, "generations", CONFIG_FLAGS, "-replica", "s3", "/data/app.db"));
    argv_is(&V03, "snapshots", ARGS("/data/app.db", "-replica", "s3"), 3,
            WANT(BIN, "snapshots", CONFIG_FLAGS, "-replica", "s3", "/data/app.db"));
    argv_is(&V03, "wal", ARGS("-replica", "s3", "-generation", "abc", "/data/app.db"), 5,
            WANT(BIN, "wal", CONFIG_FLAGS, "-replica", "s3", "-generation", "abc", "/data/app.db"));
    static const char *const cmds[] = {"generations", "snapshots", "wal"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        argv_fails(&V05, cmds[i], ARGS("/data/app.db"), 1, "0.3", "ltx");
    argv_fails(&V05, "generations", ARGS("/data/app.db"), 1, "v0.5.16", NULL);
    argv_fails(&V05, "snapshots", ARGS("/data/app.db"), 1, "ltx -level 9", NULL);
    /* A flag that generations lacks on 0.3 (from the wal table). */
    argv_fails(&V03, "generations", ARGS("-generation", "x", "/data/app.db"), 3, "no flag -generation", NULL);
}

static void test_v05_only_commands(void **state)
{
    (void)state;
    argv_is(&V05, "ltx", ARGS("/data/app.db"), 1, WANT(BIN, "ltx", CONFIG_FLAGS, "/data/app.db"));
    argv_is(&V05, "ltx", ARGS("-level", "9", "-json", "/data/app.db"), 4,
            WANT(BIN, "ltx", CONFIG_FLAGS, "-level", "9", "-json", "/data/app.db"));
    argv_is(&V05, "status", NULL, 0, WANT(BIN, "status", CONFIG_FLAGS));
    argv_is(&V05, "status", ARGS("-json", "/data/app.db"), 2,
            WANT(BIN, "status", CONFIG_FLAGS, "-json", "/data/app.db"));
    /* sync talks to the control socket, not the config. */
    argv_is(&V05, "sync", ARGS("/data/app.db"), 1, WANT(BIN, "sync", "-socket", SOCK, "/data/app.db"));
    argv_is(&V05, "sync", ARGS("-wait", "-timeout", "30", "-json", "/data/app.db"), 5,
            WANT(BIN, "sync", "-socket", SOCK, "-wait", "-timeout", "30", "-json", "/data/app.db"));
    argv_is(&V05, "reset", ARGS("-dry-run", "/data/app.db"), 2,
            WANT(BIN, "reset", CONFIG_FLAGS, "-dry-run", "/data/app.db"));
    static const char *const cmds[] = {"ltx", "status", "sync", "reset"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        argv_fails(&V03, cmds[i], ARGS("/data/app.db"), 1, "0.5", "v0.3.13");
}

/* Commands and flags that appeared mid-series are refused below their 0.5.N, naming it. */
static void test_v05_minor_gates(void **state)
{
    (void)state;
    struct ls_version v;
    assert_int_equal(ls_version_parse("0.5.5", &v), 0);
    argv_fails(&v, "status", NULL, 0, "0.5.6", "v0.5.5");
    argv_fails(&v, "reset", ARGS("/data/app.db"), 1, "0.5.7", "v0.5.5");
    argv_fails(&v, "sync", ARGS("/data/app.db"), 1, "0.5.9", "v0.5.5");
    argv_fails(&v, "ltx", ARGS("-level", "all", "/data/app.db"), 3, "-level", "0.5.8");
    assert_int_equal(ls_version_parse("0.5.9", &v), 0);
    argv_is(&v, "restore", ARGS("-f", "/data/app.db"), 2, WANT(BIN, "restore", CONFIG_FLAGS, "-f", "/data/app.db"));
    argv_fails(&v, "restore", ARGS("-integrity-check", "quick", "/data/app.db"), 3, "-integrity-check", "0.5.10");
    assert_int_equal(ls_version_parse("0.5.11", &v), 0);
    argv_fails(&v, "restore", ARGS("-force", "/data/app.db"), 2, "-force", "0.5.12");
    argv_fails(&v, "databases", ARGS("-json"), 1, "-json", "0.5.12");
    argv_fails(&v, "reset", ARGS("-dry-run", "/data/app.db"), 2, "-dry-run", "0.5.12");
    assert_int_equal(ls_version_parse("0.5.12", &v), 0);
    argv_is(&v, "restore", ARGS("-force", "-json", "/data/app.db"), 3,
            WANT(BIN, "restore", CONFIG_FLAGS, "-force", "-json", "/data/app.db"));
}

static void test_version_command(void **state)
{
    (void)state;
    argv_is(&V03, "version", NULL, 0, WANT(BIN, "version"));
    argv_is(&V05, "version", NULL, 0, WANT(BIN, "version"));
    argv_fails(&V05, "version", ARGS("x"), 1, "at most 0", NULL);
}

static void test_unknown_command(void **state)
{
    (void)state;
    argv_fails(&V03, "replicate", NULL, 0, "unknown command 'replicate'", NULL);
    argv_fails(&V05, "mcp", NULL, 0, "unknown command 'mcp'", NULL);
    assert_true(ls_is_subcommand("restore"));
    assert_true(ls_is_subcommand("ltx"));
    assert_true(ls_is_subcommand("generations"));
    assert_false(ls_is_subcommand("replicate"));
    assert_false(ls_is_subcommand(""));
}

static void test_missing_db(void **state)
{
    (void)state;
    static const char *const cmds03[] = {"restore", "generations", "snapshots", "wal"};
    for (size_t i = 0; i < sizeof(cmds03) / sizeof(cmds03[0]); i++)
        argv_fails(&V03, cmds03[i], NULL, 0, "needs a database", cmds03[i]);
    static const char *const cmds05[] = {"restore", "ltx", "sync", "reset"};
    for (size_t i = 0; i < sizeof(cmds05) / sizeof(cmds05[0]); i++)
        argv_fails(&V05, cmds05[i], NULL, 0, "needs a database", cmds05[i]);
    /* Only flags: still no database. */
    argv_fails(&V03, "restore", ARGS("-o", "/tmp/x.db"), 2, "needs a database", NULL);
}

static void test_too_many_positionals(void **state)
{
    (void)state;
    argv_fails(&V03, "restore", ARGS("/data/a.db", "/data/b.db"), 2, "at most 1", "/data/b.db");
    argv_fails(&V05, "status", ARGS("/data/a.db", "/data/b.db"), 2, "at most 1", "/data/b.db");
    argv_fails(&V05, "ltx", ARGS("a.db", "-level", "1", "b.db"), 4, "at most 1", "b.db");
}

static void test_value_flag_without_value(void **state)
{
    (void)state;
    argv_fails(&V03, "restore", ARGS("/data/app.db", "-o"), 2, "-o", "needs a value");
    argv_fails(&V05, "restore", ARGS("/data/app.db", "-txid"), 2, "-txid", "needs a value");
    argv_fails(&V05, "ltx", ARGS("/data/app.db", "-level"), 2, "-level", "needs a value");
    argv_fails(&V05, "sync", ARGS("/data/app.db", "-timeout"), 2, "-timeout", "needs a value");
    argv_fails(&V03, "wal", ARGS("/data/app.db", "-generation"), 2, "-generation", "needs a value");
}

static void test_flag_equals_form(void **state)
{
    (void)state;
    argv_is(&V03, "restore", ARGS("-o=/tmp/out.db", "/data/app.db"), 2,
            WANT(BIN, "restore", CONFIG_FLAGS, "-o=/tmp/out.db", "/data/app.db"));
    argv_is(&V03, "restore", ARGS("/data/app.db", "--o=/tmp/out.db"), 2,
            WANT(BIN, "restore", CONFIG_FLAGS, "--o=/tmp/out.db", "/data/app.db"));
    /* -o=x at the end needs no following value. */
    argv_is(&V05, "restore", ARGS("/data/app.db", "-txid=0000000000000003"), 2,
            WANT(BIN, "restore", CONFIG_FLAGS, "-txid=0000000000000003", "/data/app.db"));
    argv_fails(&V03, "restore", ARGS("-txid=0000000000000003", "/data/app.db"), 2, "-txid", "0.5");
    /* A value that looks like a flag is still a value. */
    argv_is(&V03, "restore", ARGS("-o", "-weird.db", "/data/app.db"), 3,
            WANT(BIN, "restore", CONFIG_FLAGS, "-o", "-weird.db", "/data/app.db"));
}

static void test_no_config_path(void **state)
{
    (void)state;
    const char *out[LS_ARGV_MAX];
    char err[256];
    int n = ls_subcommand_argv(&V03, BIN, NULL, NULL, "restore", ARGS("/data/app.db"), 1, out, LS_ARGV_MAX, err,
                               sizeof(err));
    assert_int_equal(n, 3);
    assert_string_equal(out[2], "/data/app.db");
    assert_null(out[3]);
}

static void test_argv_capacity(void **state)
{
    (void)state;
    const char *out[8];
    char err[256] = "";
    char *args[] = {(char *)"-o", (char *)"x", (char *)"-if-db-not-exists", (char *)"/data/app.db", NULL};
    /* Not enough room: refused, not overflowed. */
    int n = ls_subcommand_argv(&V03, BIN, CFG, SOCK, "restore", args, 4, out, 8, err, sizeof(err));
    assert_int_equal(n, -1);
    assert_non_null(strstr(err, "too many"));
    const char *big[LS_ARGV_MAX];
    n = ls_subcommand_argv(&V03, BIN, CFG, SOCK, "restore", args, 4, big, 13, err, sizeof(err));
    assert_int_equal(n, 9);
    assert_null(big[9]);
}

static void test_find_positional(void **state)
{
    (void)state;
    assert_int_equal(ls_find_positional(&V03, "restore", ARGS("-o", "out.db", "app.db"), 3), 2);
    assert_int_equal(ls_find_positional(&V03, "restore", ARGS("-o=out.db", "app.db"), 2), 1);
    assert_int_equal(ls_find_positional(&V03, "restore", ARGS("app.db", "-o", "x"), 3), 0);
    assert_int_equal(ls_find_positional(&V03, "restore", ARGS("-if-db-not-exists", "app.db"), 2), 1);
    assert_int_equal(ls_find_positional(&V03, "restore", ARGS("-o", "x"), 2), -1);
    assert_int_equal(ls_find_positional(&V05, "ltx", ARGS("-level", "all", "-json", "app.db"), 4), 3);
    assert_int_equal(ls_find_positional(&V05, "sync", ARGS("-timeout", "5", "app.db"), 3), 2);
    assert_int_equal(ls_find_positional(&V05, "status", NULL, 0), -1);
}

/* argv joined with single spaces. */
static void join(const char *const *argv, size_t n, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i > 0 ? " " : "", argv[i]);
    }
}

static void test_version_gates(void **state)
{
    (void)state;
    struct ls_version v;
    char err[512];
    const struct {
        const char *text;
        int supervised;
    } cases[] = {{"v0.3.13", 0}, {"0.5.17", 0}, {"0.5.9", 0}, {"0.5.8", -1}, {"0.5.1", -1}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(ls_version_parse(cases[i].text, &v), 0);
        err[0] = '\0';
        assert_int_equal(ls_version_check_supervised(&v, err, sizeof(err)), cases[i].supervised);
        if (cases[i].supervised != 0)
            assert_non_null(strstr(err, "0.5.9"));
    }
}

static void test_argv_builders(void **state)
{
    (void)state;
    struct ls_version v05, v03;
    assert_int_equal(ls_version_parse("0.5.17", &v05), 0);
    assert_int_equal(ls_version_parse("v0.3.13", &v03), 0);
    const char *argv[LS_ARGV_MAX];
    char joined[512];
    size_t n = ls_restore_argv(&v05, "ls", "/proc/1/fd/3", "/data/a.db", NULL, "quick", argv);
    join(argv, n, joined, sizeof(joined));
    assert_string_equal(joined,
                        "ls restore -config /proc/1/fd/3 -no-expand-env -if-replica-exists -integrity-check quick "
                        "/data/a.db");
    n = ls_restore_argv(&v03, "ls", "/c", "/data/a.db", "/tmp/x/verify.db", "full", argv);
    join(argv, n, joined, sizeof(joined));
    assert_string_equal(joined, "ls restore -config /c -no-expand-env -o /tmp/x/verify.db /data/a.db");
    n = ls_replicate_argv("ls", "/c", true, NULL, argv);
    join(argv, n, joined, sizeof(joined));
    assert_string_equal(joined, "ls replicate -config /c -no-expand-env -once");
    n = ls_replicate_argv("ls", "/c", false, "'x' 'y'", argv);
    join(argv, n, joined, sizeof(joined));
    assert_string_equal(joined, "ls replicate -config /c -no-expand-env -exec 'x' 'y'");
    n = ls_follow_argv("ls", "/c", "/data/a.db", "/v/a.db", NULL, argv);
    join(argv, n, joined, sizeof(joined));
    assert_string_equal(joined, "ls restore -config /c -no-expand-env -f -o /v/a.db /data/a.db");
    n = ls_follow_argv("ls", "/c", "/data/a.db", "/v/a.db", "10000ms", argv);
    join(argv, n, joined, sizeof(joined));
    assert_string_equal(joined,
                        "ls restore -config /c -no-expand-env -f -follow-interval 10000ms -o /v/a.db /data/a.db");
    n = ls_sync_wait_argv("ls", "/tmp/s.sock", "30", "/data/a.db", argv);
    join(argv, n, joined, sizeof(joined));
    assert_string_equal(joined, "ls sync -socket /tmp/s.sock -wait -timeout 30 /data/a.db");
    assert_null(argv[n]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_gates),
        cmocka_unit_test(test_argv_builders),
        cmocka_unit_test(test_version_parse),
        cmocka_unit_test(test_v05_minor_gates),
        cmocka_unit_test(test_version_parse_junk),
        cmocka_unit_test(test_version_supported),
        cmocka_unit_test(test_version_is_v05),
        cmocka_unit_test(test_version_at_least),
        cmocka_unit_test(test_shellwords_reference),
        cmocka_unit_test(test_shell_quote_forms),
        cmocka_unit_test(test_shell_quote_round_trip_fixed),
        cmocka_unit_test(test_shell_quote_round_trip_random_bytes),
        cmocka_unit_test(test_shell_quote_round_trip_random_utf8),
        cmocka_unit_test(test_shell_quote_non_utf8_not_silently_mangled),
        cmocka_unit_test(test_shell_quote_buffer_limits),
        cmocka_unit_test(test_databases),
        cmocka_unit_test(test_restore_v03),
        cmocka_unit_test(test_restore_v05),
        cmocka_unit_test(test_flags_before_positional),
        cmocka_unit_test(test_config_flags_refused),
        cmocka_unit_test(test_v03_only_commands),
        cmocka_unit_test(test_v05_only_commands),
        cmocka_unit_test(test_version_command),
        cmocka_unit_test(test_unknown_command),
        cmocka_unit_test(test_missing_db),
        cmocka_unit_test(test_too_many_positionals),
        cmocka_unit_test(test_value_flag_without_value),
        cmocka_unit_test(test_flag_equals_form),
        cmocka_unit_test(test_no_config_path),
        cmocka_unit_test(test_argv_capacity),
        cmocka_unit_test(test_find_positional),
    };
    return cmocka_run_group_tests(tests, setup_versions, NULL);
}
