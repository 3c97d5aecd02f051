/* Value functions that need no running runtime: error names and texts,
 * pid text, exit reasons, version. */
#include <stdio.h>
#include <string.h>

#include "grove_test.h"

/* Every code of the error table has its name and its sentence. */
TEST(errname_and_strerror_for_every_code)
{
    int count = 0, lowest = 0;
#define CHECK_ERR(name, val, msg)                                            \
    do {                                                                     \
        ASSERT_EQ(GROVE_##name, val);                                        \
        ASSERT_STREQ(grove_errname(val), "GROVE_" #name);                    \
        ASSERT_STREQ(grove_strerror(val), msg);                              \
        count++;                                                             \
        if (val < lowest)                                                    \
            lowest = val;                                                    \
    } while (0);
    GROVE_ERRNO_MAP(CHECK_ERR)
#undef CHECK_ERR
    /* The codes are -1 .. -count, one each: none missing, none twice. */
    ASSERT_EQ(count, -lowest);
    ASSERT_GE(count, 26);
    ASSERT_STREQ(grove_errname(0), "GROVE_OK");
    ASSERT_NOT_NULL(grove_strerror(0));
    ASSERT_STREQ(grove_errname(-999), "GROVE_E?");
    ASSERT_STREQ(grove_errname(5), "GROVE_E?");
    ASSERT_STREQ(grove_strerror(-999), "unknown error");
    ASSERT_STREQ(grove_strerror(12345), "unknown error");
}

/* Pids print as <0.SLOT.GEN> and parse back. */
TEST(pid_format_parse_round_trip)
{
    char buf[GROVE_PID_STR_MAX];
    uint64_t samples[] = {((uint64_t)1 << 32) | 1,
                          ((uint64_t)7 << 32) | 123456,
                          ((uint64_t)0xffffffffu << 32) | 0xffffffffu,
                          ((uint64_t)1 << 32),
                          ((uint64_t)2 << 32) | 5};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        grove_pid_t p = {samples[i]};
        ASSERT_TRUE(grove_pid_format(p, buf, sizeof buf) == buf);
        char want[64];
        snprintf(want, sizeof want, "<0.%u.%u>", grove_pid_slot(p),
                 grove_pid_generation(p));
        ASSERT_STREQ(buf, want);
        grove_pid_t q = GROVE_PID_NONE;
        ASSERT_OK(grove_pid_parse(buf, &q));
        ASSERT_PID_EQ(q, p);
    }
    ASSERT_STREQ(grove_pid_format(GROVE_PID_NONE, buf, sizeof buf),
                 "<none>");
    grove_pid_t p = {((uint64_t)3 << 32) | 9};
    ASSERT_EQ(grove_pid_slot(p), 9);
    ASSERT_EQ(grove_pid_generation(p), 3);
    ASSERT_TRUE(grove_pid_is_none(GROVE_PID_NONE));
    ASSERT_FALSE(grove_pid_is_none(p));
    ASSERT_TRUE(grove_pid_equal(p, p));
    ASSERT_FALSE(grove_pid_equal(p, GROVE_PID_NONE));
}

TEST(pid_parse_rejects_malformed_text)
{
    const char *bad[] = {
        "",         "<",        "<>",       "<0.1>",
        "<0.1.2",   "0.1.2>",   "<0.1.2>x", " <0.1.2>",
        "<0.-1.2>", "<0.1.-2>", "<0..2>",   "<0.1.>",
        "<0.a.2>",  "<0.1.2.3>", "<0.4294967296.1>", "<0.1.4294967296>",
        "<0.99999999999999999999.1>", "none"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        grove_pid_t q = {42};
        int rc = grove_pid_parse(bad[i], &q);
        if (rc != GROVE_EINVAL)
            GT_FAIL("grove_pid_parse(\"%s\") gave %s", bad[i],
                    grove_errname(rc));
    }
    grove_pid_t q;
    ASSERT_ERR(grove_pid_parse(NULL, &q), GROVE_EINVAL);
    ASSERT_ERR(grove_pid_parse("<0.1.2>", NULL), GROVE_EINVAL);
}

/* Reason constructors and predicates. */
TEST(reason_values)
{
    grove_reason_t n = grove_reason_normal();
    ASSERT_EQ(n.kind, GROVE_EXIT_NORMAL);
    grove_reason_t s = grove_reason_shutdown(NULL);
    ASSERT_EQ(s.kind, GROVE_EXIT_SHUTDOWN);
    ASSERT_STREQ(s.text, "");
    grove_reason_t s2 = grove_reason_shutdown("");
    ASSERT_TRUE(grove_reason_equal(&s, &s2));
    grove_reason_t sx = grove_reason_shutdown("x");
    ASSERT_EQ(sx.kind, GROVE_EXIT_SHUTDOWN);
    ASSERT_STREQ(sx.text, "x");
    ASSERT_FALSE(grove_reason_equal(&s, &sx));

    ASSERT_TRUE(grove_reason_is_shutdown_class(&n));
    ASSERT_TRUE(grove_reason_is_shutdown_class(&s));
    ASSERT_TRUE(grove_reason_is_shutdown_class(&sx));
    for (int k = GROVE_EXIT_KILL; k < GROVE_EXIT__COUNT; k++) {
        grove_reason_t r = grove_reason_of((grove_exit_kind_t)k);
        ASSERT_EQ(r.kind, k);
        ASSERT_EQ(r.code, 0);
        ASSERT_STREQ(r.text, "");
        ASSERT_FALSE(grove_reason_is_shutdown_class(&r));
    }
    grove_reason_t e = grove_reason_error(42, "bad %s %d", "thing", 7);
    ASSERT_EQ(e.kind, GROVE_EXIT_ERROR);
    ASSERT_EQ(e.code, 42);
    ASSERT_STREQ(e.text, "bad thing 7");
    ASSERT_FALSE(grove_reason_is_shutdown_class(&e));
    grove_reason_t e2 = grove_reason_error(43, "bad %s %d", "thing", 7);
    ASSERT_FALSE(grove_reason_equal(&e, &e2));
    e2 = grove_reason_error(42, "bad thing 7");
    ASSERT_TRUE(grove_reason_equal(&e, &e2));

    /* Long texts are cut to fit, terminated. */
    char longtext[400];
    memset(longtext, 'q', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    grove_reason_t l = grove_reason_error(1, "%s", longtext);
    ASSERT_EQ(strlen(l.text), GROVE_REASON_TEXT_MAX - 1);
    grove_reason_t ls = grove_reason_shutdown(longtext);
    ASSERT_EQ(strlen(ls.text), GROVE_REASON_TEXT_MAX - 1);
}

static void check_format(grove_reason_t r, const char *want)
{
    char buf[256];
    int n = grove_reason_format(&r, buf, sizeof buf);
    ASSERT_STREQ(buf, want);
    ASSERT_EQ(n, strlen(want));
}

TEST(reason_format)
{
    check_format(grove_reason_normal(), "normal");
    check_format(grove_reason_shutdown(NULL), "shutdown");
    check_format(grove_reason_shutdown("detail"), "{shutdown,detail}");
    check_format(grove_reason_of(GROVE_EXIT_KILL), "kill");
    check_format(grove_reason_of(GROVE_EXIT_KILLED), "killed");
    check_format(grove_reason_of(GROVE_EXIT_NOPROC), "noproc");
    check_format(grove_reason_of(GROVE_EXIT_TIMEOUT), "timeout");
    check_format(grove_reason_of(GROVE_EXIT_CALLING_SELF), "calling_self");
    check_format(grove_reason_error(42, "text"), "{error,42,\"text\"}");

    /* Like snprintf: the needed length, a terminated prefix. */
    grove_reason_t r = grove_reason_shutdown("detail");
    char small[6];
    memset(small, 'z', sizeof small);
    int n = grove_reason_format(&r, small, 5);
    ASSERT_EQ(n, strlen("{shutdown,detail}"));
    ASSERT_STREQ(small, "{shu");
    ASSERT_EQ(small[5], 'z');
    ASSERT_EQ(grove_reason_format(&r, NULL, 0), n);

    /* A fault names its signal and address. */
    grove_reason_t f = grove_reason_of(GROVE_EXIT_FAULT);
    f.code = 11;
    f.addr = 0;
    char buf[256];
    grove_reason_format(&f, buf, sizeof buf);
    ASSERT_EQ(strncmp(buf, "{fault,SIGSEGV,0x0", 18), 0);
}

TEST(exit_kind_names)
{
    static const char *names[GROVE_EXIT__COUNT] = {
        "normal", "shutdown", "kill",  "killed", "noproc", "timeout",
        "calling_self", "error", "fault", "assert", "badarg"};
    for (int k = 0; k < GROVE_EXIT__COUNT; k++)
        ASSERT_STREQ(grove_exit_kind_name(k), names[k]);
    ASSERT_NOT_NULL(grove_exit_kind_name(-1));
    ASSERT_NOT_NULL(grove_exit_kind_name(GROVE_EXIT__COUNT));
}

TEST(version)
{
    ASSERT_EQ(grove_version(), GROVE_VERSION_HEX);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", GROVE_VERSION_MAJOR,
             GROVE_VERSION_MINOR, GROVE_VERSION_PATCH);
    ASSERT_STREQ(grove_version_string(), want);
}
