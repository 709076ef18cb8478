/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_log.c: the gateway's clocks and its log lines on stderr (plain or journal priorities). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include "aws.h"
#include "gw_log.h"

static int log_journal; /* stderr is the journal: use sd-daemon(3) priority prefixes */

void
gw_log_init(void)
{
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

int64_t
gw_now(void)
{
    return (int64_t)time(NULL);
}

int64_t
gw_now_ms(void)
{
    struct timespec ts;

    /* A failed clock_gettime leaves ts unset (as lib/aws.c's real_now_ms knows). */
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (int64_t)time(NULL) * 1000;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
gw_mono_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return (int64_t)time(NULL) * 1000;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
gw_log(int prio, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_journal)
        fprintf(stderr, "<%d>%s\n", prio, msg);
    else
        fprintf(stderr, "stsrole-gatewayd: %s\n", msg);
}

void
gw_log_clock_skew(void)
{
    static int64_t said;
    int64_t skew = stsrole_aws_clock_skew();

    if (skew == said)
        return;
    said = skew;
    gw_log(LOG_WARNING,
           "clock skew: AWS refused a signature as out of time; the local clock is %lld s %s "
           "AWS's, and requests are signed with AWS's time from now on (fix NTP)",
           (long long)(skew < 0 ? -skew : skew), skew < 0 ? "ahead of" : "behind");
}
