/* SPDX-License-Identifier: BSD-3-Clause */
/* gw_log.h: the gateway's clocks and log lines; below every other gateway file. */
#ifndef STSROLE_GW_LOG_H
#define STSROLE_GW_LOG_H

#include <stdint.h>

int64_t gw_now(void);    /* epoch seconds */
int64_t gw_now_ms(void); /* epoch milliseconds */
int64_t gw_mono_ms(void);
/* Reads JOURNAL_STREAM once: with it, lines carry sd-daemon(3) priority prefixes. */
void gw_log_init(void);
void gw_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Logs a warning each time the clock correction learned from AWS (lib/aws.c)
 * changes: the bastion's clock is off, and NTP needs fixing. */
void gw_log_clock_skew(void);

#endif
