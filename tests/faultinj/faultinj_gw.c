/* SPDX-License-Identifier: BSD-3-Clause */
/* faultinj_gw.c: the gateway-side wrappers of the fault-injection build of stsrole-gatewayd. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "faultinj.h"

/*
 * syslog() goes to /dev/log, which a test cannot read back (and a
 * container may not have): with FAULTINJ_SYSLOG=PATH every message is
 * appended there instead, one line per call, "prio=N MESSAGE", so the
 * test can check that no secret reaches syslog.  Not a failure point:
 * syslog() reports nothing to its caller.  stdio is not wrapped, so this
 * neither counts nor fails any of the calls under test.
 */
void
__wrap_syslog(int prio, const char *fmt, ...)
{
    const char *path = getenv("FAULTINJ_SYSLOG");
    va_list ap;
    FILE *f;

    if (path == NULL || (f = fopen(path, "a")) == NULL)
        return;
    fprintf(f, "prio=%d ", prio);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fclose(f);
}
